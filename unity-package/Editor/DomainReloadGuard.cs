// Native sessions outlive managed objects: the native library stays loaded across domain
// reloads, with its worker threads and sockets. Destroy every session, including ones that
// user code created without the component, before a reload and when Play mode ends.
using UnityEditor;

namespace RealtimeVoice.EditorTools
{
    /// <summary>Editor hook: no native session survives a domain reload or the end of Play mode.</summary>
    [InitializeOnLoad]
    public static class DomainReloadGuard
    {
        static DomainReloadGuard()
        {
            AssemblyReloadEvents.beforeAssemblyReload += () => DestroyAllSessions();
            EditorApplication.playModeStateChanged += state =>
            {
                if (state == PlayModeStateChange.ExitingPlayMode) DestroyAllSessions();
            };
        }

        /// <summary>Destroys every live native session; returns how many there were.</summary>
        public static int DestroyAllSessions()
        {
            return RealtimeSession.DestroyAll();
        }
    }
}
