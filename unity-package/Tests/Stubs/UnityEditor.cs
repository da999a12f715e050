// A minimal stand-in for UnityEditor.dll: what the package's editor-only paths use.
#if RV_MONO_TESTS
using System;

namespace UnityEditor
{
    public static class AssemblyReloadEvents
    {
        public delegate void AssemblyReloadCallback();
        public static event AssemblyReloadCallback beforeAssemblyReload;
        public static event AssemblyReloadCallback afterAssemblyReload;

        /// <summary>Test hook: what the editor does right before a domain reload.</summary>
        public static void SimulateBeforeReload()
        {
            var h = beforeAssemblyReload;
            if (h != null) h();
        }

        public static int BeforeHandlerCount
        {
            get { var h = beforeAssemblyReload; return h == null ? 0 : h.GetInvocationList().Length; }
        }

        internal static void Unused() { if (afterAssemblyReload != null) afterAssemblyReload(); }
    }
}
#endif
#if RV_MONO_TESTS
namespace UnityEditor
{
    public static class EditorPrefs
    {
        private static readonly System.Collections.Generic.Dictionary<string, string> s_values =
            new System.Collections.Generic.Dictionary<string, string>();
        public static string GetString(string key, string defaultValue)
        {
            string v;
            return s_values.TryGetValue(key, out v) ? v : defaultValue;
        }
        public static void SetString(string key, string value) { s_values[key] = value; }
        public static void DeleteKey(string key) { s_values.Remove(key); }
    }

    public enum MessageType { None, Info, Warning, Error }

    public class EditorWindow : UnityEngine.ScriptableObject
    {
        public static T GetWindow<T>(bool utility, string title) where T : EditorWindow, new() { return new T(); }
        public void Close() { }
    }

    [System.AttributeUsage(System.AttributeTargets.Method)]
    public sealed class MenuItem : System.Attribute { public MenuItem(string itemName) { } }

    public static class EditorGUILayout
    {
        public static void HelpBox(string message, MessageType type) { }
        public static string PasswordField(string label, string password) { return password; }
    }
}
#endif
#if RV_MONO_TESTS
namespace UnityEditor
{
    [System.AttributeUsage(System.AttributeTargets.Class)]
    public sealed class InitializeOnLoadAttribute : System.Attribute { }

    public enum PlayModeStateChange { EnteredEditMode, ExitingEditMode, EnteredPlayMode, ExitingPlayMode }

    public static class EditorApplication
    {
        public static event System.Action<PlayModeStateChange> playModeStateChanged;

        /// <summary>Test hook: what the editor does when Play mode changes.</summary>
        public static void SimulatePlayModeChange(PlayModeStateChange state)
        {
            var h = playModeStateChanged;
            if (h != null) h(state);
        }
    }
}
#endif
