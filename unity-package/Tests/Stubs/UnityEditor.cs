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
