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
        public void Repaint() { }
    }

    [System.AttributeUsage(System.AttributeTargets.Method)]
    public sealed class MenuItem : System.Attribute { public MenuItem(string itemName) { } }

    public static class EditorGUILayout
    {
        public static void HelpBox(string message, MessageType type) { }
        public static string PasswordField(string label, string password) { return password; }
        public static void LabelField(string label, string value) { }
        public static void LabelField(string label, UnityEngine.GUIStyle style) { }
        public static void Space() { }
        public static int Popup(string label, int selected, string[] options) { return selected; }
        public static bool Toggle(string label, bool value) { return value; }
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
#if RV_MONO_TESTS
namespace UnityEditor
{
    public enum BuildTarget { StandaloneOSX = 2, StandaloneWindows = 5, iOS = 9, Android = 13, StandaloneWindows64 = 19, StandaloneLinux64 = 24 }

    [System.Flags]
    public enum AndroidArchitecture { None = 0, ARMv7 = 1, ARM64 = 2, X86_64 = 8 }

    public enum iOSSdkVersion { DeviceSDK = 988, SimulatorSDK = 989 }

    public static class PlayerSettings
    {
        public static class Android
        {
            public static bool forceInternetPermission = true;
            public static AndroidArchitecture targetArchitectures = AndroidArchitecture.ARM64 | AndroidArchitecture.ARMv7;
        }

        public static class iOS
        {
            public static string microphoneUsageDescription = "Talk to the characters.";
            public static iOSSdkVersion sdkVersion = iOSSdkVersion.DeviceSDK;
        }
    }

    /// <summary>Tests register the plugins the "project" has.</summary>
    public class PluginImporter
    {
        public static readonly System.Collections.Generic.List<PluginImporter> All = new System.Collections.Generic.List<PluginImporter>();
        public string assetPath { get; set; }
        public readonly System.Collections.Generic.HashSet<BuildTarget> Compatible = new System.Collections.Generic.HashSet<BuildTarget>();
        public string AndroidCpu = "";
        public System.Func<string, bool> IncludeInBuild;
        public static PluginImporter[] GetAllImporters() { return All.ToArray(); }
        public bool GetCompatibleWithPlatform(BuildTarget t) { return Compatible.Contains(t); }
        public string GetPlatformData(BuildTarget t, string key) { return t == BuildTarget.Android && key == "CPU" ? AndroidCpu : ""; }
        public void SetIncludeInBuildDelegate(System.Func<string, bool> d) { IncludeInBuild = d; }
    }

    public class Editor : UnityEngine.ScriptableObject
    {
        public UnityEngine.Object target { get; set; }
        public virtual void OnInspectorGUI() { }
        public bool DrawDefaultInspector() { return false; }
    }

    [System.AttributeUsage(System.AttributeTargets.Class)]
    public sealed class CustomEditor : System.Attribute { public CustomEditor(System.Type t) { } }

    public static class Undo { public static void RecordObject(UnityEngine.Object o, string name) { } }
    public static class EditorUtility { public static void SetDirty(UnityEngine.Object o) { } }
    public static class EditorStyles { public static UnityEngine.GUIStyle boldLabel = new UnityEngine.GUIStyle(); }

}

namespace UnityEditor.Build
{
    public interface IOrderedCallback { int callbackOrder { get; } }
    public interface IPreprocessBuildWithReport : IOrderedCallback { void OnPreprocessBuild(Reporting.BuildReport report); }
    public interface IUnityLinkerProcessor : IOrderedCallback
    {
        string GenerateAdditionalLinkXmlFile(Reporting.BuildReport report, UnityLinker.UnityLinkerBuildPipelineData data);
    }
    public class BuildFailedException : System.Exception { public BuildFailedException(string message) : base(message) { } }
}

namespace UnityEditor.Build.Reporting
{
    public struct BuildSummary { public BuildTarget platform { get; set; } }
    public class BuildReport { public BuildSummary summary { get; set; } }
}

namespace UnityEditor.UnityLinker
{
    public class UnityLinkerBuildPipelineData
    {
        public UnityLinkerBuildPipelineData(BuildTarget target, string inputDirectory) { this.target = target; this.inputDirectory = inputDirectory; }
        public BuildTarget target { get; private set; }
        public string inputDirectory { get; private set; }
    }
}

namespace UnityEditor.Compilation
{
    public enum AssembliesType { Editor, Player, PlayerWithoutTestAssemblies }
    public class Assembly { public string name { get; set; } }
    public static class CompilationPipeline
    {
        public static string[] PlayerAssemblyNames = new string[0];
        public static Assembly[] GetAssemblies(AssembliesType t)
        {
            return System.Array.ConvertAll(PlayerAssemblyNames, n => new Assembly { name = n });
        }
    }
}

namespace UnityEditor.Callbacks
{
    [System.AttributeUsage(System.AttributeTargets.Method)]
    public sealed class PostProcessBuildAttribute : System.Attribute { public PostProcessBuildAttribute(int order) { } }
}

namespace UnityEditor.iOS.Xcode
{
    /// <summary>Just enough of Unity's PBXProject: targets of a Unity 2019.3+ project and their build properties.</summary>
    public class PBXProject
    {
        public readonly System.Collections.Generic.Dictionary<string, System.Collections.Generic.Dictionary<string, string>> Properties =
            new System.Collections.Generic.Dictionary<string, System.Collections.Generic.Dictionary<string, string>>();
        public static string GetPBXProjectPath(string buildPath) { return System.IO.Path.Combine(buildPath, "Unity-iPhone.xcodeproj/project.pbxproj"); }
        public static string GetUnityTargetName() { return "Unity-iPhone"; }
        public string GetUnityMainTargetGuid() { return "MAIN"; }
        public string GetUnityFrameworkTargetGuid() { return "FRAMEWORK"; }
        public string ProjectGuid() { return "PROJECT"; }
        public string TargetGuidByName(string name) { return "MAIN"; }
        public void SetBuildProperty(string guid, string name, string value)
        {
            System.Collections.Generic.Dictionary<string, string> p;
            if (!Properties.TryGetValue(guid, out p)) Properties[guid] = p = new System.Collections.Generic.Dictionary<string, string>();
            p[name] = value;
        }
        // The stub's file format: one "guid name=value" line per property.
        public void ReadFromFile(string path)
        {
            foreach (var line in System.IO.File.ReadAllLines(path))
            {
                var parts = line.Split(new[] { ' ', '=' }, 3);
                if (parts.Length == 3) SetBuildProperty(parts[0], parts[1], parts[2]);
            }
        }
        public void WriteToFile(string path)
        {
            var lines = new System.Collections.Generic.List<string>();
            foreach (var t in Properties) foreach (var p in t.Value) lines.Add(t.Key + " " + p.Key + "=" + p.Value);
            System.IO.File.WriteAllLines(path, lines.ToArray());
        }
    }
}
#endif
