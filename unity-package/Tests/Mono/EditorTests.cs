// The editor-only code through the UnityEditor stub: build validation, the generated link.xml,
// the iOS bitcode post-process, the device/simulator library filter, the debug window's rows.
#if RV_MONO_TESTS
using System;
using System.Collections.Generic;
using System.IO;
using System.Xml;
using NUnit.Framework;
using RealtimeVoice.EditorTools;
using UnityEditor;
using UnityEditor.Build;
using UnityEditor.Build.Reporting;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class EditorTests
    {
        private static PluginImporter Plugin(string path, BuildTarget target, string androidCpu = "")
        {
            var p = new PluginImporter { assetPath = path, AndroidCpu = androidCpu };
            p.Compatible.Add(target);
            PluginImporter.All.Add(p);
            return p;
        }

        [SetUp]
        public static void Reset()
        {
            PluginImporter.All.Clear();
            PlayerSettings.Android.forceInternetPermission = true;
            PlayerSettings.Android.targetArchitectures = AndroidArchitecture.ARM64 | AndroidArchitecture.ARMv7;
            PlayerSettings.iOS.microphoneUsageDescription = "Talk to the characters.";
        }

        [Test]
        public static void BuildFailsWithoutANativeLibraryForTheTarget()
        {
            Plugin("Packages/com.realtimevoice.unity/Runtime/Plugins/Windows/x86_64/realtime_voice.dll", BuildTarget.StandaloneWindows64);
            Assert.IsEmpty(BuildValidation.Validate(BuildTarget.StandaloneWindows64));
            var linux = BuildValidation.Validate(BuildTarget.StandaloneLinux64);
            Assert.AreEqual(1, linux.Count);
            StringAssert.Contains("no native library for StandaloneLinux64", linux[0]);
            var report = new BuildReport { summary = new BuildSummary { platform = BuildTarget.StandaloneLinux64 } };
            var e = Assert.Throws<BuildFailedException>(() => new BuildValidation().OnPreprocessBuild(report));
            StringAssert.Contains("Realtime Voice", e.Message);
        }

        [Test]
        public static void AndroidNeedsInternetAndEveryAbi()
        {
            Plugin("P/Android/arm64-v8a/librealtime_voice.so", BuildTarget.Android, "ARM64");
            Plugin("P/Android/armeabi-v7a/librealtime_voice.so", BuildTarget.Android, "ARMv7");
            Assert.IsEmpty(BuildValidation.Validate(BuildTarget.Android));
            PlayerSettings.Android.forceInternetPermission = false;
            var noNet = BuildValidation.Validate(BuildTarget.Android);
            Assert.AreEqual(1, noNet.Count);
            StringAssert.Contains("Internet Access to Require", noNet[0]);
            PlayerSettings.Android.forceInternetPermission = true;
            PluginImporter.All.RemoveAt(0);
            var noArm64 = BuildValidation.Validate(BuildTarget.Android);
            Assert.AreEqual(1, noArm64.Count);
            StringAssert.Contains("ARM64", noArm64[0]);
            PlayerSettings.Android.targetArchitectures = AndroidArchitecture.ARMv7;
            Assert.IsEmpty(BuildValidation.Validate(BuildTarget.Android), "ARM64 not targeted: not needed");
        }

        [Test]
        public static void IosNeedsAMicrophoneUsageDescription()
        {
            Plugin("P/iOS/librealtime_voice.a", BuildTarget.iOS);
            Assert.IsEmpty(BuildValidation.Validate(BuildTarget.iOS));
            PlayerSettings.iOS.microphoneUsageDescription = "  ";
            var problems = BuildValidation.Validate(BuildTarget.iOS);
            Assert.AreEqual(1, problems.Count);
            StringAssert.Contains("Microphone Usage Description", problems[0]);
        }

        [Test]
        public static void LinkXmlKeepsEveryToolMethodAndTheRuntime()
        {
            var assemblies = new[] { typeof(Cube).Assembly, typeof(Samples.MoveCubeBootstrap).Assembly, typeof(RealtimeSession).Assembly };
            string xml = LinkXmlGenerator.Build(assemblies, null);
            var doc = new XmlDocument();
            doc.LoadXml(xml); // well-formed
            Assert.IsNotNull(doc.SelectSingleNode("/linker/assembly[@fullname='RealtimeVoice.Runtime'][@preserve='all']"), xml);
            Assert.IsNotNull(doc.SelectSingleNode("/linker/assembly[@fullname='RealtimeVoice.Tests']/type[@fullname='RealtimeVoice.Tests.Cube']/method[@name='MoveCube']"), xml);
            Assert.IsNotNull(doc.SelectSingleNode("/linker/assembly[@fullname='RealtimeVoice.Samples']/type[@fullname='RealtimeVoice.Samples.MoveCubeBootstrap']/method[@name='MoveCube']"), xml);
            Assert.IsNull(doc.SelectSingleNode("//type[@fullname='RealtimeVoice.Tests.EditorTests']"), "only types with tools");
            string playerOnly = LinkXmlGenerator.Build(assemblies, new[] { "RealtimeVoice.Samples" });
            StringAssert.DoesNotContain("RealtimeVoice.Tests", playerOnly, "assemblies outside the player are left out");
            StringAssert.Contains("RealtimeVoice.Samples", playerOnly);

            string dir = Path.Combine(Path.GetTempPath(), "rv-linker-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            try
            {
                UnityEditor.Compilation.CompilationPipeline.PlayerAssemblyNames = new[] { "RealtimeVoice.Tests" };
                string path = new LinkXmlGenerator().GenerateAdditionalLinkXmlFile(new BuildReport(),
                    new UnityEditor.UnityLinker.UnityLinkerBuildPipelineData(BuildTarget.Android, dir));
                Assert.IsTrue(path.StartsWith(dir) && File.Exists(path), "written where the linker reads it");
                StringAssert.Contains("RealtimeVoice.Tests.Cube", File.ReadAllText(path));
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        [Test]
        public static void IosPostProcessTurnsBitcodeOffInEveryTarget()
        {
            string dir = Path.Combine(Path.GetTempPath(), "rv-xcode-" + Guid.NewGuid().ToString("N"));
            string pbx = PBXProjectPath(dir);
            Directory.CreateDirectory(Path.GetDirectoryName(pbx));
            File.WriteAllText(pbx, "MAIN ENABLE_BITCODE=YES\nFRAMEWORK ENABLE_BITCODE=YES\nMAIN OTHER=1\n");
            try
            {
                IosBuildPostprocess.OnPostprocessBuild(BuildTarget.Android, dir);
                StringAssert.Contains("MAIN ENABLE_BITCODE=YES", File.ReadAllText(pbx), "other targets untouched");
                IosBuildPostprocess.OnPostprocessBuild(BuildTarget.iOS, dir);
                var lines = new List<string>(File.ReadAllLines(pbx));
                CollectionAssert.Contains(lines, "MAIN ENABLE_BITCODE=NO");
                CollectionAssert.Contains(lines, "FRAMEWORK ENABLE_BITCODE=NO");
                CollectionAssert.Contains(lines, "PROJECT ENABLE_BITCODE=NO");
                CollectionAssert.Contains(lines, "MAIN OTHER=1");
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }

        private static string PBXProjectPath(string dir)
        {
            return UnityEditor.iOS.Xcode.PBXProject.GetPBXProjectPath(dir);
        }

        [Test]
        public static void OnlyTheLibraryOfTheTargetSdkGoesIntoTheXcodeProject()
        {
            const string device = "Packages/com.realtimevoice.unity/Runtime/Plugins/iOS/librealtime_voice.a";
            const string simulator = "Packages/com.realtimevoice.unity/Runtime/Plugins/iOS/Simulator/librealtime_voice.a";
            Assert.IsTrue(IosSdkPluginFilter.Include(device, false));
            Assert.IsFalse(IosSdkPluginFilter.Include(device, true));
            Assert.IsTrue(IosSdkPluginFilter.Include(simulator, true));
            Assert.IsFalse(IosSdkPluginFilter.Include(simulator, false));
            var d = Plugin(device, BuildTarget.iOS);
            var s = Plugin(simulator, BuildTarget.iOS);
            IosSdkPluginFilter.Install(); // what the [InitializeOnLoad] constructor runs
            Assert.IsNotNull(d.IncludeInBuild, "filter installed on the device library");
            PlayerSettings.iOS.sdkVersion = iOSSdkVersion.SimulatorSDK;
            Assert.IsTrue(s.IncludeInBuild(simulator) && !d.IncludeInBuild(device), "simulator build");
            PlayerSettings.iOS.sdkVersion = iOSSdkVersion.DeviceSDK;
            Assert.IsTrue(!s.IncludeInBuild(simulator) && d.IncludeInBuild(device), "device build");
        }

        [Test]
        public static void PrefabFieldsAreTheComponentsSerializedFields()
        {
            string prefab = HeaderMirrorTests.RepoFile("unity-package/Runtime/Prefabs/RealtimeVoice.prefab");
            string meta = HeaderMirrorTests.RepoFile("unity-package/Runtime/RealtimeVoice.cs.meta");
            string guid = System.Text.RegularExpressions.Regex.Match(meta, @"guid: ([0-9a-f]{32})").Groups[1].Value;
            StringAssert.Contains("m_Script: {fileID: 11500000, guid: " + guid + ", type: 3}", prefab, "the prefab's script is the component");
            string behaviour = prefab.Substring(prefab.IndexOf("MonoBehaviour:"));
            var serialized = new HashSet<string>();
            foreach (var f in typeof(RealtimeVoice).GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic))
                if (f.IsDefined(typeof(UnityEngine.SerializeField), false)) serialized.Add(f.Name);
            var inPrefab = new HashSet<string>();
            foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(behaviour, @"^  ([a-z][A-Za-z0-9]*):", System.Text.RegularExpressions.RegexOptions.Multiline))
                inPrefab.Add(m.Groups[1].Value);
            serialized.Remove("pushToTalkAction"); // only with the Input System; Unity fills missing fields with defaults
            CollectionAssert.AreEquivalent(serialized, inPrefab, "every serialized field in the prefab, and only those");
        }

        [Test]
        public static void DebugWindowShowsStateLevelsBufferAndEcho()
        {
            var go = new UnityEngine.GameObject("voice");
            var v = go.AddComponent<RealtimeVoice>();
            try
            {
                var rows = new Dictionary<string, string>();
                foreach (var r in RealtimeVoiceDebugWindow.Rows(v)) rows[r.Key] = r.Value;
                foreach (var key in new[] { "State", "Microphone", "Mic level", "Output level", "Buffered", "Underruns", "Last latency", "Echo delay", "Echo ERLE", "Sent to server", "Voice playing", "Mouth" })
                    Assert.IsTrue(rows.ContainsKey(key), key);
                Assert.AreEqual("Idle", rows["State"]);
                Assert.AreEqual("Sil (1.00), played 0 ms", rows["Mouth"]);
                Assert.AreEqual("...................." + " 0.00", rows["Voice playing"]);
                Assert.AreEqual("||||||||||.......... 0.50", RealtimeVoiceDebugWindow.Meter(0.5f));
                Assert.AreEqual("0 ms", rows["Buffered"]);
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }
    }
}
#endif
