// Fails a player build early, with the fix in the message, when it would ship a game that
// cannot talk: no native library for the target, no internet permission on Android, no
// microphone usage description on iOS (iOS kills the app when it asks for the mic without one).
using System.Collections.Generic;
using System.IO;
using UnityEditor;
using UnityEditor.Build;
using UnityEditor.Build.Reporting;

namespace RealtimeVoice.EditorTools
{
    /// <summary>The checks a build runs before anything is compiled.</summary>
    public sealed class BuildValidation : IPreprocessBuildWithReport
    {
        /// <summary>File names of the native library, any platform.</summary>
        public static readonly string[] LibraryNames =
            { "realtime_voice.dll", "librealtime_voice.so", "librealtime_voice.dylib", "librealtime_voice.a" };

        /// <inheritdoc />
        public int callbackOrder { get { return 0; } }

        /// <inheritdoc />
        public void OnPreprocessBuild(BuildReport report)
        {
            var problems = Validate(report.summary.platform);
            if (problems.Count > 0)
                throw new BuildFailedException("Realtime Voice: " + string.Join(" ", problems.ToArray()));
        }

        /// <summary>What is wrong for a build of <paramref name="target"/> (empty: nothing).</summary>
        public static List<string> Validate(BuildTarget target)
        {
            var problems = new List<string>();
            var plugins = new List<PluginImporter>();
            foreach (var importer in PluginImporter.GetAllImporters())
            {
                if (System.Array.IndexOf(LibraryNames, Path.GetFileName(importer.assetPath)) < 0) continue;
                if (importer.GetCompatibleWithPlatform(target)) plugins.Add(importer);
            }
            if (plugins.Count == 0)
                problems.Add("no native library for " + target + ": build it for this platform (see the package README) " +
                             "or install a release that includes it.");

            if (target == BuildTarget.Android)
            {
                CheckAndroidAbis(plugins, problems);
                if (!PlayerSettings.Android.forceInternetPermission && !ManifestRequestsInternet())
                    problems.Add("the app needs the INTERNET permission: set Player Settings > Android > Other Settings > " +
                                 "Internet Access to Require.");
            }
            if (target == BuildTarget.iOS && string.IsNullOrEmpty((PlayerSettings.iOS.microphoneUsageDescription ?? "").Trim()))
                problems.Add("iOS needs a microphone usage description: set Player Settings > iOS > Other Settings > " +
                             "Microphone Usage Description (iOS ends the app when it asks for the mic without one).");
            return problems;
        }

        private static void CheckAndroidAbis(List<PluginImporter> plugins, List<string> problems)
        {
            var cpus = new List<string>();
            foreach (var p in plugins) cpus.Add(p.GetPlatformData(BuildTarget.Android, "CPU"));
            var archs = PlayerSettings.Android.targetArchitectures;
            if ((archs & AndroidArchitecture.ARM64) != 0 && !cpus.Contains("ARM64"))
                problems.Add("no native library for Android ARM64 (Plugins/Android/arm64-v8a).");
            if ((archs & AndroidArchitecture.ARMv7) != 0 && !cpus.Contains("ARMv7"))
                problems.Add("no native library for Android ARMv7 (Plugins/Android/armeabi-v7a).");
        }

        private static bool ManifestRequestsInternet()
        {
            const string manifest = "Assets/Plugins/Android/AndroidManifest.xml";
            return File.Exists(manifest) && File.ReadAllText(manifest).Contains("android.permission.INTERNET");
        }
    }
}
