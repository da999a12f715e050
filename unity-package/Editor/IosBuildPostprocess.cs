// iOS: Unity 2019.4-2021 generate Xcode projects with bitcode on, and the Rust static library
// carries none, so Xcode refuses to link it. Turn bitcode off in every target of the generated
// project (the app, UnityFramework since 2019.3, and the project itself).
#if UNITY_IOS
using System.Collections.Generic;
using System.IO;
using UnityEditor;
using UnityEditor.Callbacks;
using UnityEditor.iOS.Xcode;

namespace RealtimeVoice.EditorTools
{
    /// <summary>Sets ENABLE_BITCODE=NO in the Xcode project of an iOS build.</summary>
    public static class IosBuildPostprocess
    {
        /// <summary>Runs after Unity wrote the Xcode project.</summary>
        [PostProcessBuild(100)]
        public static void OnPostprocessBuild(BuildTarget target, string pathToBuiltProject)
        {
            if (target != BuildTarget.iOS) return;
            DisableBitcode(PBXProject.GetPBXProjectPath(pathToBuiltProject));
        }

        /// <summary>Sets ENABLE_BITCODE=NO on every target of the project at <paramref name="pbxprojPath"/>; returns the target GUIDs.</summary>
        public static List<string> DisableBitcode(string pbxprojPath)
        {
            var project = new PBXProject();
            project.ReadFromFile(pbxprojPath);
            var targets = new List<string>();
#if UNITY_2019_3_OR_NEWER
            targets.Add(project.GetUnityMainTargetGuid());
            targets.Add(project.GetUnityFrameworkTargetGuid());
            targets.Add(project.ProjectGuid());
#else
            targets.Add(project.TargetGuidByName(PBXProject.GetUnityTargetName()));
#endif
            foreach (var guid in targets)
                if (!string.IsNullOrEmpty(guid)) project.SetBuildProperty(guid, "ENABLE_BITCODE", "NO");
            project.WriteToFile(pbxprojPath);
            return targets;
        }
    }
}
#endif
