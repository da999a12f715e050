// The component's camera frames (through the UnityEngine stub's Camera, RenderTexture,
// Texture2D and JPEG encoder, to the local server) and its typed inspector options.
#if RV_MONO_TESTS
using System;
using System.Collections.Generic;
using System.Reflection;
using UnityEngine;
using Component = RealtimeVoice.RealtimeVoice;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class CameraAndOptionsTests
    {
        private static void SetField(object target, string name, object value)
        {
            var f = target.GetType().GetField(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
            if (f == null) throw new AssertionException("no field " + name);
            f.SetValue(target, value);
        }

        private static Dictionary<string, object> Input(Component v)
        {
            var session = Json.GetObject(Json.ParseObject(v.BuildConfig(null).ToJson()), "session");
            return Json.GetObject(Json.GetObject(session, "audio"), "input");
        }

        /// <summary>The size a JPEG's SOF0 header gives (what the stub's encoder writes, as a real one does).</summary>
        private static void JpegSize(byte[] jpeg, out int width, out int height)
        {
            for (int i = 2; i + 8 < jpeg.Length; i++)
            {
                if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0)
                {
                    height = (jpeg[i + 5] << 8) | jpeg[i + 6];
                    width = (jpeg[i + 7] << 8) | jpeg[i + 8];
                    return;
                }
            }
            throw new AssertionException("no SOF0 marker");
        }

        [Test]
        public static void FrameSizesKeepTheAspectWithTheLongerSideAtMaxSide()
        {
            var go = new GameObject("camera");
            var cam = go.AddComponent<Camera>();
            try
            {
                int w, h;
                cam.SetScreenSize(1920, 1080);
                Component.FrameSize(cam, 512, out w, out h);
                Assert.AreEqual("512x288", w + "x" + h, "landscape");
                cam.SetScreenSize(1080, 2400);
                Component.FrameSize(cam, 640, out w, out h);
                Assert.AreEqual("288x640", w + "x" + h, "portrait");
                cam.SetScreenSize(300, 200);
                Component.FrameSize(cam, 1024, out w, out h);
                Assert.AreEqual("1024x683", w + "x" + h, "smaller than maxSide: scaled up to it");
                cam.SetScreenSize(10000, 1);
                Component.FrameSize(cam, 64, out w, out h);
                Assert.AreEqual("64x1", w + "x" + h, "never 0 pixels");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test]
        public static void CameraFrameArgumentsAreCheckedAndNothingRendersWithoutASession()
        {
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>();
            var cam = go.AddComponent<Camera>();
            try
            {
                Assert.Throws<ArgumentNullException>(() => v.SendCameraFrame(null, 512));
                Assert.Throws<ArgumentOutOfRangeException>(() => v.SendCameraFrame(cam, 8));
                Assert.Throws<ArgumentOutOfRangeException>(() => v.SendCameraFrame(cam, 5000));
                Assert.Throws<ArgumentOutOfRangeException>(() => v.SendCameraFrame(cam, 512, null, 0));
                Assert.AreEqual(0, v.SendCameraFrame(cam, 512), "no session: nothing sent");
                Assert.AreEqual(0, cam.RenderedInto.Count, "and nothing rendered");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test, Category("Live")]
        public static void ACameraFrameIsRenderedScaledEncodedAndSent()
        {
            TestSupport.RequireServer();
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>();
            var camObject = new GameObject("Main Camera");
            var cam = camObject.AddComponent<Camera>();
            var states = new List<RealtimeState>();
            var errors = new List<string>();
            var items = new List<RealtimeEvent>();
            try
            {
                SetField(v, "captureMicrophone", false);
                v.Url = TestSupport.ServerUrl;
                v.onStateChanged.AddListener(st => states.Add(st));
                v.onError.AddListener((c, m, f) => errors.Add(c + ": " + m));
                v.SessionCreated += session => session.ItemChanged += json => items.Add(new RealtimeEvent(json));
                v.InvokeMessage("Start");
                v.InvokeMessage("Update");
                Assert.IsTrue(v.Session != null, "session created: " + string.Join(" | ", Debug.Messages.ToArray()));
                Wait.Until(() => states.Contains(RealtimeState.Ready), () => v.InvokeMessage("Update"), 20000,
                           () => LiveSessionTests.Seen("Ready", states, errors));

                var previousTarget = RenderTexture.GetTemporary(1280, 720, 24);
                cam.targetTexture = previousTarget; // a camera that renders into a 16:9 texture of its own
                int temporaries = RenderTexture.TemporariesInUse;
                int encodedBefore = ImageConversion.Encoded.Count;
                int bytes = v.SendCameraFrame(cam, 320, "What do you see?");
                Assert.IsTrue(bytes > 0, "a JPEG was sent");
                Assert.AreEqual(1, cam.RenderedInto.Count, "rendered once");
                var rt = cam.RenderedInto[0];
                Assert.IsNotNull(rt, "into a render texture, not the screen");
                Assert.AreEqual("320x180", rt.width + "x" + rt.height, "the longer side is maxSide, the aspect kept");
                var tex = ImageConversion.Encoded[encodedBefore];
                Assert.IsTrue(ReferenceEquals(rt, tex.ReadFrom), "ReadPixels read the camera's render texture");
                Assert.AreEqual(320f, tex.ReadRect.width);
                Assert.AreEqual(180f, tex.ReadRect.height);
                Assert.IsTrue(tex.Applied, "texture applied before encoding");
                Assert.IsTrue(tex.IsDestroyedForTests, "the texture is destroyed");
                Assert.AreEqual(temporaries, RenderTexture.TemporariesInUse, "the render texture is released");
                Assert.IsTrue(ReferenceEquals(previousTarget, cam.targetTexture), "the camera's target restored");
                Assert.IsNull(RenderTexture.active, "the active render texture restored");

                // The JPEG the encoder made went out as an image message: the server added it.
                Wait.Until(() => items.Exists(i => i.Role == "user" && i.ItemKind == "message" && i.Status == "added"), () => v.InvokeMessage("Update"), 10000,
                           () => "the frame's message on the server (items: " + string.Join(" ", items.ConvertAll(i => i.Json).ToArray()) + ")");
                int w, h;
                var jpeg = tex.EncodeToJPG(75);
                JpegSize(jpeg, out w, out h);
                Assert.AreEqual("320x180", w + "x" + h, "the JPEG has the scaled size");
                Assert.AreEqual(jpeg.Length, bytes, "the encoder's bytes were sent");
                RenderTexture.ReleaseTemporary(previousTarget);
                Assert.IsTrue(errors.Count == 0, "no errors: " + string.Join("; ", errors.ToArray()));
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
                UnityEngine.Object.Destroy(camObject);
            }
        }

        [Test]
        public static void InspectorOptionsMakeTheSessionJson()
        {
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>();
            try
            {
                SetField(v, "connectOnStart", false);
                var input = Input(v);
                Assert.AreEqual("{\"type\":\"server_vad\",\"threshold\":0.5,\"prefix_padding_ms\":300,\"silence_duration_ms\":500}",
                                Json.Serialize(input["turn_detection"]), "defaults: server VAD with the API's defaults");
                Assert.IsTrue(input.ContainsKey("noise_reduction") && input["noise_reduction"] == null, "noise reduction off");
                Assert.IsFalse(input.ContainsKey("transcription"), "no transcription by default");

                SetField(v, "vadThreshold", 0.65f);
                SetField(v, "vadSilenceDurationMs", 900);
                SetField(v, "vadPrefixPaddingMs", 100);
                Assert.AreEqual("{\"type\":\"server_vad\",\"threshold\":0.65,\"prefix_padding_ms\":100,\"silence_duration_ms\":900}",
                                Json.Serialize(Input(v)["turn_detection"]), "the slider's float without its binary tail");

                v.TurnDetection = RealtimeTurnDetection.SemanticVad;
                foreach (RealtimeVadEagerness e in Enum.GetValues(typeof(RealtimeVadEagerness)))
                {
                    v.SemanticVadEagerness = e;
                    Assert.AreEqual("{\"type\":\"semantic_vad\",\"eagerness\":\"" + e.ToString().ToLowerInvariant() + "\"}",
                                    Json.Serialize(Input(v)["turn_detection"]), e.ToString());
                }

                v.TurnDetection = RealtimeTurnDetection.PushToTalk;
                Assert.IsTrue(Input(v)["turn_detection"] == null, "push-to-talk: turn_detection null");
                v.TurnDetection = RealtimeTurnDetection.ServerVad;
                SetField(v, "serverVad", false); // a scene saved before the enum existed
                Assert.IsTrue(Input(v)["turn_detection"] == null, "the old serverVad off still means push-to-talk");
                v.InvokeMessage("OnValidate"); // Unity loads the scene: the inspector shows what it does
                Assert.AreEqual(RealtimeTurnDetection.PushToTalk, v.TurnDetection, "migrated to the enum");
                Assert.IsTrue(Input(v)["turn_detection"] == null, "still push-to-talk");
                v.TurnDetection = RealtimeTurnDetection.ServerVad; // and the user can turn VAD back on
                Assert.AreEqual("server_vad", Json.GetString(Json.GetObject(Input(v), "turn_detection"), "type"), "the old box no longer overrides");
                v.PushToTalk = true;
                Assert.IsTrue(Input(v)["turn_detection"] == null, "push-to-talk key mode: turn_detection null");
                v.PushToTalk = false;

                v.NoiseReduction = RealtimeNoiseReduction.NearField;
                Assert.AreEqual("{\"type\":\"near_field\"}", Json.Serialize(Input(v)["noise_reduction"]));
                v.NoiseReduction = RealtimeNoiseReduction.FarField;
                Assert.AreEqual("{\"type\":\"far_field\"}", Json.Serialize(Input(v)["noise_reduction"]));

                v.TranscriptionModel = "gpt-4o-transcribe";
                v.TranscriptionLanguage = " ja ";
                Assert.AreEqual("{\"model\":\"gpt-4o-transcribe\",\"language\":\"ja\"}", Json.Serialize(Input(v)["transcription"]));

                // Session JSON from the inspector wins.
                SetField(v, "sessionOverridesJson", "{\"audio\":{\"input\":{\"turn_detection\":{\"type\":\"semantic_vad\"},\"noise_reduction\":null}}}");
                input = Input(v);
                Assert.AreEqual("{\"type\":\"semantic_vad\"}", Json.Serialize(input["turn_detection"]), "replaced: another type");
                Assert.IsTrue(input["noise_reduction"] == null, "switched off by the override");
                Assert.AreEqual("gpt-4o-transcribe", Json.GetString(Json.GetObject(input, "transcription"), "model"), "untouched");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test]
        public static void TheToolTimeoutReachesTheSession()
        {
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>();
            try
            {
                SetField(v, "connectOnStart", false);
                v.Url = "ws://127.0.0.1:9/v1/realtime";
                v.ToolTimeoutSeconds = 2.5f;
                RealtimeSession created = null;
                v.SessionCreated += s => created = s;
                v.ConnectAsync().Wait(5000);
                Assert.IsNotNull(created, "session created");
                Assert.AreEqual(TimeSpan.FromSeconds(2.5), created.ToolTimeout);
                v.Disconnect();
                v.ToolTimeoutSeconds = 0;
                v.ConnectAsync().Wait(5000);
                Assert.AreEqual(System.Threading.Timeout.InfiniteTimeSpan, created.ToolTimeout, "0: no limit");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }
    }
}
#endif
