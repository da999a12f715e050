// RealtimeLipSync through the UnityEngine stub: presets, name matching, the blendshape mix,
// smoothing and gain, the jaw-bone mode, and GetMouth on a real native session.
#if RV_MONO_TESTS
using System;
using UnityEngine;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class LipSyncTests
    {
        private static RealtimeMouth Vowel(MouthShape shape, float weight, float level)
        {
            var m = new RealtimeMouth { Level = level, Sil = 1f - weight };
            switch (shape)
            {
                case MouthShape.Aa: m.Aa = weight; break;
                case MouthShape.Ih: m.Ih = weight; break;
                case MouthShape.Ou: m.Ou = weight; break;
                case MouthShape.Ee: m.Ee = weight; break;
                case MouthShape.Oh: m.Oh = weight; break;
            }
            return m;
        }

        private static SkinnedMeshRenderer Face(GameObject go, params string[] shapes)
        {
            var mesh = new Mesh();
            foreach (var s in shapes) mesh.AddBlendShapeForTests(s);
            var face = go.AddComponent<SkinnedMeshRenderer>();
            face.sharedMesh = mesh;
            return face;
        }

        private static RealtimeLipSync LipSync(GameObject go, SkinnedMeshRenderer face, LipSyncPreset preset)
        {
            var lip = go.AddComponent<RealtimeLipSync>();
            lip.Face = face;
            lip.Preset = preset;
            lip.Smoothing = 0f;
            return lip;
        }

        [Test]
        public static void PresetsNameTheRigsBlendShapes()
        {
            CollectionAssert.AreEqual(new[] { "aa", "ih", "ou", "ee", "oh" },
                RealtimeLipSync.PresetBindings(LipSyncPreset.Vrm).ConvertAll(b => b.blendShape));
            CollectionAssert.AreEqual(new[] { "jawOpen", "mouthFunnel", "mouthPucker", "mouthStretch_L", "mouthStretch_R", "mouthClose" },
                RealtimeLipSync.PresetBindings(LipSyncPreset.ARKit).ConvertAll(b => b.blendShape));
            CollectionAssert.AreEqual(new[] { "viseme_sil", "viseme_aa", "viseme_I", "viseme_U", "viseme_E", "viseme_O" },
                RealtimeLipSync.PresetBindings(LipSyncPreset.Oculus).ConvertAll(b => b.blendShape));
            Assert.IsEmpty(RealtimeLipSync.PresetBindings(LipSyncPreset.Custom));
            // Every binding of every preset is driven by something within 0..1.
            foreach (LipSyncPreset p in Enum.GetValues(typeof(LipSyncPreset)))
                foreach (var b in RealtimeLipSync.PresetBindings(p))
                    foreach (var c in new[] { b.sil, b.aa, b.ih, b.ou, b.ee, b.oh })
                        Assert.That(c, Is.InRange(0f, 1f), p + " " + b.blendShape);
        }

        [Test]
        public static void NamesMatchExactlyThenCaseInsensitivelyThenAsASuffix()
        {
            var mesh = new Mesh();
            foreach (var s in new[] { "Face.viseme_aa", "AA", "aa", "Fcl_MTH_ou", "brow_up", "xee" }) mesh.AddBlendShapeForTests(s);
            Assert.AreEqual(2, RealtimeLipSync.FindBlendShape(mesh, "aa"), "exact first");
            Assert.AreEqual(0, RealtimeLipSync.FindBlendShape(mesh, "viseme_AA"), "exporter prefix, any case");
            Assert.AreEqual(3, RealtimeLipSync.FindBlendShape(mesh, "ou"), "underscore prefix");
            Assert.AreEqual(-1, RealtimeLipSync.FindBlendShape(mesh, "ee"), "a prefix without separator is another name");
            Assert.AreEqual(-1, RealtimeLipSync.FindBlendShape(mesh, "oh"));
            Assert.AreEqual(-1, RealtimeLipSync.FindBlendShape(mesh, ""));
            Assert.AreEqual(-1, RealtimeLipSync.FindBlendShape(null, "aa"));
        }

        [Test]
        public static void VrmVowelsDriveTheirOwnShapeOpenedByTheLevel()
        {
            var go = new GameObject("Avatar");
            try
            {
                var face = Face(go, "blink", "aa", "ih", "ou", "ee", "oh");
                var lip = LipSync(go, face, LipSyncPreset.Vrm);
                var shapes = new[] { MouthShape.Aa, MouthShape.Ih, MouthShape.Ou, MouthShape.Ee, MouthShape.Oh };
                for (int v = 0; v < shapes.Length; v++)
                {
                    lip.Apply(Vowel(shapes[v], 0.9f, 1f), 0.016f);
                    for (int s = 0; s < shapes.Length; s++)
                        Assert.AreEqual(s == v ? 90f : 0f, face.GetBlendShapeWeight(s + 1), 1e-3, shapes[v] + " -> " + shapes[s]);
                    Assert.AreEqual(0f, face.GetBlendShapeWeight(0), "blink untouched");
                }
                // Quiet: levelToOpen 1.5 opens 0.2 * 1.5 = 30 % of the shape.
                lip.Apply(Vowel(MouthShape.Aa, 1f, 0.2f), 0.016f);
                Assert.AreEqual(30f, face.GetBlendShapeWeight(1), 1e-3);
                // Gain, clamped to 100.
                lip.Gain = 2f;
                lip.Apply(Vowel(MouthShape.Aa, 0.4f, 1f), 0.016f);
                Assert.AreEqual(80f, face.GetBlendShapeWeight(1), 1e-3);
                lip.Apply(Vowel(MouthShape.Aa, 1f, 1f), 0.016f);
                Assert.AreEqual(100f, face.GetBlendShapeWeight(1), 1e-3);
                // Silence closes everything.
                lip.Apply(RealtimeMouth.Silent, 0.016f);
                for (int s = 1; s <= 5; s++) Assert.AreEqual(0f, face.GetBlendShapeWeight(s));
            }
            finally { UnityEngine.Object.Destroy(go); }
        }

        [Test]
        public static void OculusSilenceAndArkitMixes()
        {
            var go = new GameObject("Avatar");
            try
            {
                var face = Face(go, "viseme_sil", "viseme_aa", "viseme_I", "viseme_U", "viseme_E", "viseme_O");
                var lip = LipSync(go, face, LipSyncPreset.Oculus);
                lip.Apply(RealtimeMouth.Silent, 0.016f);
                Assert.AreEqual(100f, face.GetBlendShapeWeight(0), 1e-3, "viseme_sil in silence");
                lip.Apply(Vowel(MouthShape.Ou, 0.8f, 1f), 0.016f);
                Assert.AreEqual(20f, face.GetBlendShapeWeight(0), 1e-3);
                Assert.AreEqual(80f, face.GetBlendShapeWeight(3), 1e-3, "viseme_U");

                var go2 = new GameObject("ARKit");
                try
                {
                    var names = new[] { "jawOpen", "mouthFunnel", "mouthPucker", "mouthStretch_L", "mouthStretch_R", "mouthClose" };
                    var face2 = Face(go2, names);
                    var ar = LipSync(go2, face2, LipSyncPreset.ARKit);
                    for (int i = 0; i < names.Length; i++) Assert.AreEqual(i, ar.BlendShapeIndex(i), names[i]);
                    ar.Apply(Vowel(MouthShape.Aa, 1f, 1f), 0.016f);
                    float jawA = face2.GetBlendShapeWeight(0);
                    Assert.Greater(jawA, 50f, "a opens the jaw");
                    Assert.AreEqual(0f, face2.GetBlendShapeWeight(2), "a does not pucker");
                    ar.Apply(Vowel(MouthShape.Ou, 1f, 1f), 0.016f);
                    Assert.Greater(face2.GetBlendShapeWeight(2), 50f, "u puckers");
                    Assert.Less(face2.GetBlendShapeWeight(0), jawA, "u opens the jaw less than a");
                    ar.Apply(Vowel(MouthShape.Ih, 1f, 1f), 0.016f);
                    Assert.Greater(face2.GetBlendShapeWeight(3), 30f, "i stretches");
                    Assert.AreEqual(face2.GetBlendShapeWeight(3), face2.GetBlendShapeWeight(4), "both sides alike");
                    ar.Apply(RealtimeMouth.Silent, 0.016f);
                    foreach (var i in new[] { 0, 1, 2, 3, 4, 5 }) Assert.AreEqual(0f, face2.GetBlendShapeWeight(i), names[i] + " at rest");
                }
                finally { UnityEngine.Object.Destroy(go2); }
            }
            finally { UnityEngine.Object.Destroy(go); }
        }

        [Test]
        public static void SmoothingFollowsItsTimeConstantAndMissingShapesAreSkipped()
        {
            var go = new GameObject("Avatar");
            try
            {
                var face = Face(go, "aa"); // only one of the five VRM shapes exists
                var lip = LipSync(go, face, LipSyncPreset.Vrm);
                Assert.AreEqual(-1, lip.BlendShapeIndex(1), "ih is missing");
                lip.Smoothing = 0.05f;
                lip.Apply(Vowel(MouthShape.Aa, 1f, 1f), 0.05f); // one time constant: 1 - 1/e
                Assert.AreEqual(100f * (1f - (float)Math.Exp(-1)), face.GetBlendShapeWeight(0), 0.01);
                for (int i = 0; i < 20; i++) lip.Apply(Vowel(MouthShape.Aa, 1f, 1f), 0.05f);
                Assert.AreEqual(100f, face.GetBlendShapeWeight(0), 0.01);
                lip.enabled = false; // closes at once
                Assert.AreEqual(0f, face.GetBlendShapeWeight(0));
            }
            finally { UnityEngine.Object.Destroy(go); }
        }

        [Test]
        public static void CustomBindingsAreKeptAndApplied()
        {
            var go = new GameObject("Avatar");
            try
            {
                var face = Face(go, "MouthOpen", "Smile");
                var lip = LipSync(go, face, LipSyncPreset.Custom); // keeps the VRM bindings of Awake to edit
                Assert.AreEqual(5, lip.Bindings.Count);
                lip.Bindings.Clear();
                lip.Bindings.Add(new RealtimeLipSync.Binding("MouthOpen", 0, 1, 0.2f, 0.3f, 0.5f, 0.7f));
                lip.Bindings.Add(new RealtimeLipSync.Binding("Smile", 0, 0, 1, 0, 0.5f, 0));
                lip.Apply(Vowel(MouthShape.Ee, 1f, 1f), 0.016f);
                Assert.AreEqual(50f, face.GetBlendShapeWeight(0), 1e-3);
                Assert.AreEqual(50f, face.GetBlendShapeWeight(1), 1e-3);
                Assert.AreEqual(2, lip.Bindings.Count, "Custom never replaces the bindings");
            }
            finally { UnityEngine.Object.Destroy(go); }
        }

        [Test]
        public static void JawBoneModeRotatesFromTheRestPose()
        {
            var go = new GameObject("Head");
            try
            {
                var jaw = new GameObject("Jaw").transform;
                jaw.localRotation = Quaternion.AngleAxis(10f, new Vector3(0, 1, 0));
                var rest = jaw.localRotation;
                var lip = go.AddComponent<RealtimeLipSync>();
                lip.Mode = LipSyncMode.JawBone;
                lip.Jaw = jaw;
                lip.JawOpenDegrees = 20f;
                lip.Smoothing = 0f;
                lip.Apply(Vowel(MouthShape.Aa, 1f, 1f), 0.016f);
                Assert.AreEqual(1f, lip.JawOpen, 1e-4);
                Assert.AreEqual(20f, Quaternion.Angle(rest, jaw.localRotation), 0.05);
                lip.Apply(Vowel(MouthShape.Ih, 1f, 1f), 0.016f);
                Assert.AreEqual(0.3f, lip.JawOpen, 1e-4, "i opens the jaw less");
                Assert.AreEqual(6f, Quaternion.Angle(rest, jaw.localRotation), 0.05);
                lip.Apply(RealtimeMouth.Silent, 0.016f);
                Assert.AreEqual(0f, Quaternion.Angle(rest, jaw.localRotation), 0.05, "closed = rest pose");
                UnityEngine.Object.Destroy(jaw.gameObject);
            }
            finally { UnityEngine.Object.Destroy(go); }
        }

        [Test]
        public static void TheLipSyncSampleBuildsATalkingHeadInJawBoneMode()
        {
            var go = new GameObject("Sample");
            try
            {
                var sample = go.AddComponent<Samples.LipSyncBootstrap>();
                Assert.IsTrue(sample.Voice != null && sample.LipSync != null && sample.Jaw != null);
                Assert.AreEqual(LipSyncMode.JawBone, sample.LipSync.Mode);
                Assert.IsTrue(ReferenceEquals(sample.Voice, sample.LipSync.Voice));
                var rest = sample.Jaw.localRotation;
                sample.LipSync.Smoothing = 0f;
                sample.LipSync.Apply(Vowel(MouthShape.Aa, 1f, 1f), 0.016f);
                Assert.AreEqual(25f, Quaternion.Angle(rest, sample.Jaw.localRotation), 0.05, "the jaw opens");
                sample.LipSync.InvokeMessage("Update"); // no session yet: a closed mouth
                Assert.AreEqual(0f, Quaternion.Angle(rest, sample.Jaw.localRotation), 0.05);
            }
            finally { UnityEngine.Object.Destroy(go); }
        }

        [Test]
        public static void GetMouthOnANativeSessionIsAClosedMouthAndFalseOnceDisposed()
        {
            var session = new RealtimeSession("{\"url\":\"ws://127.0.0.1:9/\"}");
            RealtimeMouth m;
            Assert.IsTrue(session.GetMouth(out m));
            Assert.AreEqual(0f, m.Level);
            Assert.AreEqual(1f, m.Sil);
            Assert.AreEqual(0L, m.PlayedMs);
            Assert.AreEqual(MouthShape.Sil, m.Strongest);
            var stats = session.GetStats();
            Assert.AreEqual(0f, stats.OutputLevel);
            Assert.AreEqual(0f, stats.MicLevel);
            session.Dispose();
            Assert.IsFalse(session.GetMouth(out m));
            Assert.AreEqual(1f, m.Sil);
        }
    }
}
#endif
