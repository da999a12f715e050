// The RealtimeVoice MonoBehaviour and the MoveCube sample, driven through the UnityEngine stub.
#if RV_MONO_TESTS
using System;
using System.Collections.Generic;
using System.Reflection;
using RealtimeVoice.Native;
using RealtimeVoice.Samples;
using UnityEngine;
using Component = RealtimeVoice.RealtimeVoice;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class ComponentTests
    {
        private static void SetField(object target, string name, object value)
        {
            var f = target.GetType().GetField(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
            if (f == null) throw new AssertionException("no field " + name);
            f.SetValue(target, value);
        }

        [Test]
        public static void TheListenersMixFeedsTheEchoCancellersUntouched()
        {
            var listener = new GameObject("Main Camera");
            listener.AddComponent<AudioListener>();
            var npc = new GameObject("NPC");
            npc.AddComponent<Component>(); // echo cancellation is on by default: the tap goes on the listener
            try
            {
                var tap = listener.GetComponent<RealtimeOutputMixTap>();
                Assert.IsTrue(tap != null, "RealtimeVoice put the mix tap on the AudioListener");
                Assert.IsTrue(ReferenceEquals(tap, RealtimeOutputMixTap.Attach()), "one tap, found again");
                var filter = typeof(RealtimeOutputMixTap).GetMethod("OnAudioFilterRead", BindingFlags.Instance | BindingFlags.NonPublic);
                var mix = new float[1024 * 2];
                for (int i = 0; i < mix.Length; i++) mix[i] = 0.25f * (float)Math.Sin(i * 0.01);
                var played = (float[])mix.Clone();
                using (var session = new RealtimeSession("{\"url\":\"ws://127.0.0.1:9/\",\"echo_cancellation\":true}"))
                {
                    var mic = new float[480];
                    for (int k = 0; k < 10; k++)
                    {
                        filter.Invoke(tap, new object[] { mix, 2 });
                        session.PushMic(mic, 480, 1, 48000);
                    }
                    Assert.AreEqual(2, session.GetStats().EchoReference, "the session cancels the listener's mix");
                }
                CollectionAssert.AreEqual(played, mix, "the mix plays as it was");
                Assert.AreEqual(10L, tap.BuffersPushed);
                // Bad buffers are ignored on the audio thread, never thrown.
                RealtimeSession.PushOutputMix(null, 10, 2, 48000);
                RealtimeSession.PushOutputMix(new float[4], 10, 2, 48000);
                RealtimeSession.PushOutputMix(new float[4], 2, 2, 0);
            }
            finally
            {
                UnityEngine.Object.Destroy(npc);
                UnityEngine.Object.Destroy(listener);
            }
        }

        [Test]
        public static void ApiKeyIsNeverSerialized()
        {
            var f = typeof(Component).GetField("ApiKey");
            Assert.IsTrue(f != null && f.IsDefined(typeof(NonSerializedAttribute), false), "ApiKey is [NonSerialized]");
            var provider = typeof(Component).GetField("ClientSecretProvider");
            Assert.IsTrue(provider.IsDefined(typeof(NonSerializedAttribute), false), "token provider is [NonSerialized]");
            foreach (var field in typeof(Component).GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public))
            {
                bool serialized = field.IsPublic ? !field.IsDefined(typeof(NonSerializedAttribute), false)
                                                 : field.IsDefined(typeof(SerializeField), false);
                if (serialized && field.FieldType == typeof(string))
                    Assert.IsTrue(!field.Name.ToLowerInvariant().Contains("key") || field.Name == "apiKeyEnvironmentVariable",
                                "no serialized key field: " + field.Name);
            }
        }

        [Test]
        public static void ConfigFromInspectorSettings()
        {
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>();
            try
            {
                SetField(v, "connectOnStart", false);
                SetField(v, "sessionOverridesJson", "{\"audio\":{\"input\":{\"transcription\":{\"model\":\"gpt-4o-mini-transcribe\"}}}}");
                v.ApiKey = "sk-from-code";
                var cfg = Json.ParseObject(v.BuildConfig(null).ToJson());
                Assert.AreEqual("sk-from-code", Json.GetString(cfg, "api_key"), "key set from code");
                Assert.AreEqual(48000.0, Json.GetNumber(cfg, "output_sample_rate"), "output rate from AudioSettings");
                var session = Json.GetObject(cfg, "session");
                var input = Json.GetObject(Json.GetObject(session, "audio"), "input");
                Assert.AreEqual("server_vad", Json.GetString(Json.GetObject(input, "turn_detection"), "type"), "VAD on");
                Assert.IsTrue(Json.GetObject(input, "transcription") != null, "overrides merged beside the VAD setting");
                Assert.AreEqual("alloy", Json.GetString(Json.GetObject(Json.GetObject(session, "audio"), "output"), "voice"), "voice");
                Assert.IsTrue(cfg.ContainsKey("echo_cancellation") && Json.GetBool(cfg, "echo_cancellation"), "echo cancellation on by default");
                Assert.IsTrue(cfg.ContainsKey("half_duplex") && !Json.GetBool(cfg, "half_duplex", true), "full duplex by default");
                SetField(v, "echoCancellation", false);
                var noAec = Json.ParseObject(v.BuildConfig(null).ToJson());
                Assert.IsTrue(noAec.ContainsKey("echo_cancellation") && !Json.GetBool(noAec, "echo_cancellation", true), "echo cancellation off from the inspector");
                SetField(v, "echoCancellation", true);

                var withToken = Json.ParseObject(v.BuildConfig("ek_123").ToJson());
                Assert.AreEqual("ek_123", Json.GetString(withToken, "client_secret"), "ephemeral token used");
                Assert.IsTrue(Json.GetString(withToken, "api_key") == null, "no key sent along with a token");

                v.PushToTalk = true;
                var ptt = Json.ParseObject(v.BuildConfig(null).ToJson());
                var pttInput = Json.GetObject(Json.GetObject(Json.GetObject(ptt, "session"), "audio"), "input");
                Assert.IsTrue(pttInput.ContainsKey("turn_detection") && pttInput["turn_detection"] == null, "push-to-talk: turn_detection null");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test]
        public static void ToolRegistrationIsValidatedWhereItIsMade()
        {
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>();
            try
            {
                Assert.Catch<ArgumentException>(() => v.RegisterTool("bad name", "d", null, a => a), "invalid name");
                Assert.Catch<JsonException>(() => v.RegisterTool("ok", "d", "{broken", a => a), "invalid schema");
                Assert.Catch<NotSupportedException>(() => v.RegisterTools(new BadTools()), "unsupported parameter type");
                v.RegisterTools(new Cube()); // valid: kept for the next session
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        public sealed class BadTools
        {
            [RealtimeTool("Takes a vector.")]
            public void Aim(Vector3 direction) { }
        }

        [Test]
        public static void TokenCallbackFeedsTheProvider()
        {
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>();
            try
            {
                Action<string> pending = null;
                v.SetClientSecretCallback(done => pending = done);
                var task = v.ClientSecretProvider();
                Assert.IsTrue(!task.IsCompleted && pending != null, "waits for the callback");
                pending("ek_test");
                Assert.IsTrue(task.IsCompleted && task.Result == "ek_test", "token delivered");
                v.SetClientSecretCallback(null);
                Assert.IsTrue(v.ClientSecretProvider == null, "cleared");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test]
        public static void EditorGuardDestroysSessionsCreatedOutsideTheComponent()
        {
            // Runs the [InitializeOnLoad] static constructor, as the editor does after each reload.
            System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(global::RealtimeVoice.EditorTools.DomainReloadGuard).TypeHandle);
            var a = new RealtimeSession(NativeSessionTests.OfflineConfig);
            ulong ha = a.Handle;
            UnityEditor.EditorApplication.SimulatePlayModeChange(UnityEditor.PlayModeStateChange.ExitingPlayMode);
            Assert.AreEqual(RvStatus.InvalidHandle, NativeMethods.rv_session_state(ha), "destroyed when Play mode ends");
            var b = new RealtimeSession(NativeSessionTests.OfflineConfig);
            ulong hb = b.Handle;
            UnityEditor.AssemblyReloadEvents.SimulateBeforeReload();
            Assert.AreEqual(RvStatus.InvalidHandle, NativeMethods.rv_session_state(hb), "destroyed before a domain reload");
            a.Dispose();
            b.Dispose();
        }

        [Test]
        public static void SubscriptionsAreReleasedOnDisable()
        {
            int audioBefore = AudioSettings.HandlerCount;
            int reloadBefore = UnityEditor.AssemblyReloadEvents.BeforeHandlerCount;
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>();
            Assert.AreEqual(audioBefore + 1, AudioSettings.HandlerCount, "OnAudioConfigurationChanged subscribed");
            Assert.AreEqual(reloadBefore + 1, UnityEditor.AssemblyReloadEvents.BeforeHandlerCount, "beforeAssemblyReload subscribed");
            Assert.IsTrue(v.OutputSource.isPlaying, "the playback source runs");
            AudioSettings.SimulateConfigurationChange(44100);
            try
            {
                Assert.AreEqual(44100.0, Json.GetNumber(Json.ParseObject(v.BuildConfig(null).ToJson()), "output_sample_rate"),
                             "the cached output rate follows a device change");
                Assert.AreEqual(44100, v.OutputSource.clip.frequency, "the playback source restarted at the new rate");
                Assert.IsTrue(v.OutputSource.isPlaying, "and plays");
            }
            finally
            {
                AudioSettings.SimulateConfigurationChange(48000);
            }
            v.enabled = false;
            Assert.AreEqual(audioBefore, AudioSettings.HandlerCount, "unsubscribed on disable");
            Assert.AreEqual(reloadBefore, UnityEditor.AssemblyReloadEvents.BeforeHandlerCount, "unsubscribed on disable");
            UnityEngine.Object.Destroy(go);
        }

        [Test]
        public static void AudioCallbackIsSilentWithoutASession()
        {
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>();
            var data = new float[512];
            var output = v.Output;
            for (int i = 0; i < data.Length; i++) data[i] = 1f;
            output.InvokeMessage("OnAudioFilterRead", data, 2);
            foreach (var x in data) Assert.IsTrue(x == 0f, "silence");
            UnityEngine.Object.Destroy(go);
            for (int i = 0; i < data.Length; i++) data[i] = 1f;
            output.InvokeMessage("OnAudioFilterRead", data, 2); // Unity may call it after OnDestroy
            foreach (var x in data) Assert.IsTrue(x == 0f, "silence after destroy");
        }

        [Test]
        public static void SampleRegistersMoveCubeAndMovesTheCube()
        {
            var go = new GameObject("bootstrap");
            var sample = go.AddComponent<MoveCubeBootstrap>();
            try
            {
                Assert.IsTrue(sample.Voice != null && sample.Cube != null, "sample built the cube and the voice component");
                var registry = new ToolRegistry();
                registry.RegisterMethods(sample);
                var decl = (Dictionary<string, object>)registry.Declarations()[0];
                Assert.AreEqual("move_cube", (string)decl["name"], "tool name");
                Exception err;
                string output = registry.Invoke("move_cube", "{\"dx\":1,\"dy\":2,\"dz\":-0.5}", out err);
                Assert.IsTrue(err == null, "no error");
                Assert.AreEqual("{\"ok\":true,\"position\":[1,2,-0.5]}", output, "output reports the position");
                Assert.AreEqual(2f, sample.Cube.position.y, "cube moved");
                registry.Invoke("move_cube", "{\"dx\":100,\"dy\":0,\"dz\":0}", out err);
                Assert.IsTrue(sample.Cube.position.x <= 6.0001f, "steps are clamped: " + sample.Cube.position.x);
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test, Category("Live")]
        public static void ComponentCapturesMicPlaysModelAudioAndShutsDown()
        {
            TestSupport.RequireServer();
            AudioSettings.outputSampleRate = 48000;
            Microphone.SimulatedChannels = 2; // a stereo mic exercises the downmix path
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>();
            var cube = new Cube();
            var states = new List<RealtimeState>();
            var transcripts = new List<string>();
            try
            {
                v.Url = TestSupport.ServerUrl;
                v.RegisterTools(cube);
                v.onStateChanged.AddListener(s => states.Add(s));
                v.onAssistantTranscript.AddListener((t, f) => { if (f) transcripts.Add(t); });
                v.InvokeMessage("Start"); // connectOnStart: at the first Update
                v.InvokeMessage("Update");
                Assert.IsTrue(v.Session != null, "session created: " + string.Join(" | ", Debug.Messages.ToArray()));
                Wait.Until(() => states.Contains(RealtimeState.Ready), () => v.InvokeMessage("Update"), 20000,
                                  () => LiveSessionTests.Seen("Ready", states, null) + " native state " + v.State + " log: " + string.Join(" | ", Debug.Messages.ToArray()));

                // The simulated mic records 10 ms at a time (48 kHz stereo), as a device would; the
                // component reads the looping clip from Update and streams it.
                const int rate = 48000;
                var chunk = new float[480 * 2];
                var mono = new float[480];
                var output = new float[1024 * 2];
                long fed = 0, modelFrames = 0;
                var sw = System.Diagnostics.Stopwatch.StartNew();
                while (sw.ElapsedMilliseconds < 40000 && (transcripts.Count == 0 || modelFrames < rate))
                {
                    for (int k = 0; k < 3 && fed < rate * 25 / 10; k++)
                    {
                        LiveSessionTests.Speech(mono, 480, 1, rate, fed, fed >= rate * 12 / 10);
                        for (int i = 0; i < 480; i++) chunk[2 * i] = chunk[2 * i + 1] = mono[i];
                        Microphone.Feed(chunk);
                        fed += 480;
                    }
                    v.InvokeMessage("Update");
                    v.Output.InvokeMessage("OnAudioFilterRead", output, 2);
                    for (int i = 0; i < output.Length; i += 2)
                        if (output[i] != 0f) modelFrames++;
                    System.Threading.Thread.Sleep(10);
                }
                var stats = v.GetStats();
                // Everything fed was pushed except the last partial 10 ms chunk: no gaps, no repeats.
                Assert.IsTrue((long)stats.MicFramesIn >= fed - 480 && (long)stats.MicFramesIn <= fed,
                            "mic frames pushed " + stats.MicFramesIn + " of " + fed);
                Assert.IsTrue(modelFrames >= rate, "model audio came out of OnAudioFilterRead: " + modelFrames);
                Assert.IsTrue(transcripts.Count >= 1, "assistant transcript raised as a UnityEvent");

                // A device change re-reads the output rate; playback continues at the new rate.
                AudioSettings.SimulateConfigurationChange(44100);
                v.Output.InvokeMessage("OnAudioFilterRead", output, 2);

                // Domain reload: the component and every native session are destroyed.
                ulong handle = v.Session.Handle;
                UnityEditor.AssemblyReloadEvents.SimulateBeforeReload();
                Assert.IsTrue(v.Session == null, "session released before the reload");
                Assert.AreEqual(RvStatus.InvalidHandle, NativeMethods.rv_session_state(handle), "native session destroyed");
                Assert.IsTrue(!Microphone.IsRecording(null), "microphone stopped");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
                AudioSettings.outputSampleRate = 48000;
                Microphone.SimulatedChannels = 1;
            }
        }

        [Test, Category("Live")]
        public static void PushToTalkKeySendsOnlyWhileHeld()
        {
            TestSupport.RequireServer();
            AudioSettings.outputSampleRate = 48000;
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>();
            var states = new List<RealtimeState>();
            var finals = new List<string>();
            try
            {
                v.Url = TestSupport.ServerUrl;
                v.PushToTalk = true; // the inspector default key is Space
                v.onStateChanged.AddListener(s => states.Add(s));
                v.onAssistantTranscript.AddListener((t, f) => { if (f) finals.Add(t); });
                v.InvokeMessage("Start");
                Wait.Until(() => states.Contains(RealtimeState.Ready), () => v.InvokeMessage("Update"), 20000,
                                  () => LiveSessionTests.Seen("Ready", states, null) + " native state " + v.State + " log: " + string.Join(" | ", Debug.Messages.ToArray()));
                var chunk = new float[480];
                Action feed = () =>
                {
                    for (int k = 0; k < 10; k++)
                    {
                        LiveSessionTests.Speech(chunk, 480, 1, 48000, k * 480, false);
                        Microphone.Feed(chunk);
                    }
                    v.InvokeMessage("Update");
                };
                feed(); // 100 ms before the key: read and skipped
                Assert.AreEqual(0UL, v.GetStats().MicFramesIn, "nothing sent before the key is pressed");
                Input.Down.Add(KeyCode.Space);
                v.InvokeMessage("Update");
                Input.Down.Clear();
                Assert.IsTrue(v.IsTalking, "key down starts talking");
                for (int i = 0; i < 8; i++) feed(); // 800 ms held
                Input.Up.Add(KeyCode.Space);
                v.InvokeMessage("Update");
                Input.Up.Clear();
                Assert.IsTrue(!v.IsTalking, "key up ends the turn");
                Assert.AreEqual(8UL * 4800, v.GetStats().MicFramesIn, "exactly the held audio was sent");
                var output = new float[960];
                Wait.Until(() => finals.Count >= 1, () => { v.InvokeMessage("Update"); v.Output.InvokeMessage("OnAudioFilterRead", output, 2); },
                                  20000, "the model answers the committed turn");
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
                Input.Down.Clear();
                Input.Up.Clear();
            }
        }

        [Test, Category("Live")]
        public static void ConversationEventsReachTheInspectorsUnityEvents()
        {
            TestSupport.RequireServer();
            var go = new GameObject("voice");
            var v = go.AddComponent<Component>();
            var states = new List<RealtimeState>();
            var errors = new List<string>();
            var responses = new List<RealtimeResponse>();
            var items = new List<RealtimeEvent>();
            var timeouts = new List<string>();
            var restored = new List<int>();
            IList<RealtimeRateLimit> limits = null;
            try
            {
                v.Url = TestSupport.ServerUrl;
                v.onStateChanged.AddListener(s => states.Add(s));
                v.onError.AddListener((c, m, f) => errors.Add(c + ": " + m));
                v.onResponseChanged.AddListener(r => responses.Add(r));
                v.onItemChanged.AddListener(json => items.Add(new RealtimeEvent(json)));
                v.onInputTimeout.AddListener(id => timeouts.Add(id ?? "(none)"));
                v.onRateLimitsUpdated.AddListener(l => limits = l);
                v.onHistoryRestored.AddListener(n => restored.Add(n));
                v.InvokeMessage("Start");
                Wait.Until(() => states.Contains(RealtimeState.Ready), () => v.InvokeMessage("Update"), 20000,
                           () => LiveSessionTests.Seen("Ready", states, errors) + " log: " + string.Join(" | ", Debug.Messages.ToArray()));

                // Live: an item the server adds, and an out-of-band response with its metadata.
                v.SendEvent("{\"type\":\"conversation.item.create\",\"item\":{\"id\":\"inspector_item\",\"type\":\"message\",\"role\":\"user\"," +
                            "\"content\":[{\"type\":\"input_text\",\"text\":\"hello\"}]}}");
                v.Session.CreateResponse("{\"conversation\":\"none\",\"metadata\":{\"topic\":\"inspector\"},\"output_modalities\":[\"text\"]}");
                Wait.Until(() => responses.Exists(r => r.Done) && items.Exists(e => e.ItemId == "inspector_item") && limits != null,
                           () => v.InvokeMessage("Update"), 15000,
                           () => LiveSessionTests.Seen("the item and the response", states, errors) + " responses " + responses.Count + " items " + items.Count);
                var done = responses.Find(r => r.Done);
                Assert.AreEqual("inspector", done.Metadata["topic"], "metadata through onResponseChanged");
                Assert.IsTrue(responses.Exists(r => !r.Done && r.ResponseId == done.ResponseId), "its start too");
                Assert.AreEqual("user", items.Find(e => e.ItemId == "inspector_item").Role);

                // The local server's rate limits after each response.done.
                Assert.AreEqual(2, limits.Count);
                Assert.AreEqual("requests", limits[0].Name);
                Assert.AreEqual(4999.0, limits[0].Remaining);

                // It sends no idle timeout, and no restore without a reconnect: those go through the
                // session's dispatcher, the one Poll feeds.
                v.Session.DispatchEvent("{\"type\":\"input_timeout\",\"item_id\":\"item_9\"}");
                v.Session.DispatchEvent("{\"type\":\"history_restored\",\"items\":4}");
                Assert.AreEqual(new[] { "item_9" }, timeouts.ToArray());
                Assert.AreEqual(new[] { 4 }, restored.ToArray());
                Assert.IsTrue(errors.Count == 0, "no errors: " + string.Join("; ", errors.ToArray()));
            }
            finally
            {
                UnityEngine.Object.Destroy(go);
            }
        }

        [Test, Category("Live")]
        public static void EphemeralTokenFromTheProviderAuthenticates()
        {
            TestSupport.RequireServer();
            string url = Environment.GetEnvironmentVariable("RV_TEST_KEYED_URL");
            Assert.IsTrue(!string.IsNullOrEmpty(url), "keyed server given");
            foreach (var token in new[] { "ek_wrong_token", "ek_mono_test_token" })
            {
                var go = new GameObject("voice");
                var v = go.AddComponent<Component>();
                var states = new List<RealtimeState>();
                var errors = new List<string>();
                try
                {
                    v.Url = url;
                    v.ApiKey = "sk-must-not-be-used"; // a token takes precedence over any key
                    v.ClientSecretProvider = () => System.Threading.Tasks.Task.FromResult(token);
                    v.onStateChanged.AddListener(s => states.Add(s));
                    v.onError.AddListener((c, m, f) => errors.Add(c));
                    v.InvokeMessage("Start");
                    bool good = token == "ek_mono_test_token";
                    var want = good ? RealtimeState.Ready : RealtimeState.Failed;
                    Wait.Until(() => states.Contains(want), () => v.InvokeMessage("Update"), 20000,
                                      () => token + " -> " + want + " (states " + string.Join(",", states.ConvertAll(x => x.ToString()).ToArray()) +
                                            "; native state " + v.State + "; session " + (v.Session == null ? "none" : v.Session.Handle.ToString()) +
                                            "; log " + string.Join(" | ", Debug.Messages.ToArray()) + ")");
                    if (!good) Assert.IsTrue(errors.Count > 0, "the auth failure is reported");
                }
                finally
                {
                    UnityEngine.Object.Destroy(go);
                }
            }
        }
    }
}
#endif
