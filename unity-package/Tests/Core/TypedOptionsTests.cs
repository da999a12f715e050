// The typed session options (turn detection, noise reduction, user transcription): the session
// JSON each value makes, the rule by which session JSON given by the user overrides them, and
// the local server (which checks client events against the official SDK's models) accepting
// what they make.
#if RV_MONO_TESTS || UNITY_INCLUDE_TESTS
using System;
using System.Collections.Generic;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class TypedOptionsTests
    {
        private static Dictionary<string, object> Input(RealtimeConfig cfg)
        {
            var session = Json.GetObject(Json.ParseObject(cfg.ToJson()), "session");
            return Json.GetObject(Json.GetObject(session, "audio"), "input");
        }

        private static string TurnJson(RealtimeConfig cfg)
        {
            return Json.Serialize(Input(cfg)["turn_detection"]);
        }

        [Test]
        public static void TurnDetectionValues()
        {
            Assert.AreEqual("{\"type\":\"server_vad\"}", TurnJson(new RealtimeConfig { TurnDetection = RealtimeTurnDetection.ServerVad }),
                            "server VAD alone: the plugin's defaults fill the rest");
            Assert.AreEqual("{\"type\":\"server_vad\",\"threshold\":0.7,\"prefix_padding_ms\":200,\"silence_duration_ms\":800}",
                            TurnJson(new RealtimeConfig
                            {
                                TurnDetection = RealtimeTurnDetection.ServerVad,
                                VadThreshold = 0.7,
                                VadSilenceDurationMs = 800,
                                VadPrefixPaddingMs = 200,
                                VadEagerness = RealtimeVadEagerness.High, // semantic VAD's: not sent for server VAD
                            }));
            Assert.AreEqual("{\"type\":\"semantic_vad\"}", TurnJson(new RealtimeConfig { TurnDetection = RealtimeTurnDetection.SemanticVad, VadThreshold = 0.9 }),
                            "semantic VAD has no threshold");
            var eagerness = new Dictionary<RealtimeVadEagerness, string>
            {
                { RealtimeVadEagerness.Auto, "auto" }, { RealtimeVadEagerness.Low, "low" },
                { RealtimeVadEagerness.Medium, "medium" }, { RealtimeVadEagerness.High, "high" },
            };
            Assert.AreEqual(Enum.GetValues(typeof(RealtimeVadEagerness)).Length, eagerness.Count, "every value covered");
            foreach (var kv in eagerness)
                Assert.AreEqual("{\"type\":\"semantic_vad\",\"eagerness\":\"" + kv.Value + "\"}",
                                TurnJson(new RealtimeConfig { TurnDetection = RealtimeTurnDetection.SemanticVad, VadEagerness = kv.Key }), kv.Key.ToString());
            var ptt = Input(new RealtimeConfig { TurnDetection = RealtimeTurnDetection.PushToTalk, ServerVad = true });
            Assert.IsTrue(ptt.ContainsKey("turn_detection") && ptt["turn_detection"] == null, "push-to-talk: turn_detection null (and it wins over ServerVad)");
            Assert.IsTrue(Input(new RealtimeConfig { ServerVad = false })["turn_detection"] == null, "ServerVad false still means push-to-talk");
            Assert.IsTrue(Json.GetObject(Json.ParseObject(new RealtimeConfig().ToJson()), "session") == null, "nothing set: nothing sent");

            Assert.Throws<ArgumentOutOfRangeException>(() => new RealtimeConfig { TurnDetection = RealtimeTurnDetection.ServerVad, VadThreshold = 1.5 }.ToJson());
            Assert.Throws<ArgumentOutOfRangeException>(() => new RealtimeConfig { TurnDetection = RealtimeTurnDetection.ServerVad, VadThreshold = double.NaN }.ToJson());
            Assert.Throws<ArgumentOutOfRangeException>(() => new RealtimeConfig { TurnDetection = RealtimeTurnDetection.ServerVad, VadSilenceDurationMs = -1 }.ToJson());
            Assert.Throws<ArgumentOutOfRangeException>(() => new RealtimeConfig { TurnDetection = RealtimeTurnDetection.ServerVad, VadPrefixPaddingMs = -1 }.ToJson());
        }

        [Test]
        public static void NoiseReductionAndTranscriptionValues()
        {
            var noise = new Dictionary<RealtimeNoiseReduction, string>
            {
                { RealtimeNoiseReduction.Off, "null" },
                { RealtimeNoiseReduction.NearField, "{\"type\":\"near_field\"}" },
                { RealtimeNoiseReduction.FarField, "{\"type\":\"far_field\"}" },
            };
            Assert.AreEqual(Enum.GetValues(typeof(RealtimeNoiseReduction)).Length, noise.Count, "every value covered");
            foreach (var kv in noise)
            {
                var input = Input(new RealtimeConfig { NoiseReduction = kv.Key });
                Assert.IsTrue(input.ContainsKey("noise_reduction"), kv.Key + " is sent");
                Assert.AreEqual(kv.Value, Json.Serialize(input["noise_reduction"]), kv.Key.ToString());
            }
            Assert.IsNull(Input(new RealtimeConfig { Voice = "alloy" }), "unset: no input object at all");

            Assert.AreEqual("{\"model\":\"gpt-4o-mini-transcribe\"}",
                            Json.Serialize(Input(new RealtimeConfig { TranscriptionModel = "gpt-4o-mini-transcribe" })["transcription"]));
            Assert.AreEqual("{\"model\":\"whisper-1\",\"language\":\"fr\"}",
                            Json.Serialize(Input(new RealtimeConfig { TranscriptionModel = "whisper-1", TranscriptionLanguage = "fr" })["transcription"]));
            Assert.IsNull(Input(new RealtimeConfig { TranscriptionLanguage = "fr" }), "a language without a model: no transcription");
        }

        [Test]
        public static void SessionJsonFromTheUserOverridesTheTypedOptions()
        {
            var cfg = new RealtimeConfig
            {
                TurnDetection = RealtimeTurnDetection.ServerVad,
                VadThreshold = 0.6,
                VadSilenceDurationMs = 700,
                NoiseReduction = RealtimeNoiseReduction.NearField,
                TranscriptionModel = "gpt-4o-mini-transcribe",
                TranscriptionLanguage = "en",
            };
            // Same type: fields merge (the threshold stays, the silence is the user's).
            cfg.SessionOverrides = Json.ParseObject("{\"audio\":{\"input\":{\"turn_detection\":{\"silence_duration_ms\":300,\"idle_timeout_ms\":6000}," +
                                                    "\"transcription\":{\"language\":\"de\"}}}}");
            var input = Input(cfg);
            Assert.AreEqual("{\"type\":\"server_vad\",\"threshold\":0.6,\"silence_duration_ms\":300,\"idle_timeout_ms\":6000}", Json.Serialize(input["turn_detection"]));
            Assert.AreEqual("{\"model\":\"gpt-4o-mini-transcribe\",\"language\":\"de\"}", Json.Serialize(input["transcription"]));
            Assert.AreEqual("{\"type\":\"near_field\"}", Json.Serialize(input["noise_reduction"]), "untouched by the override");

            // Another type: the override replaces the object (semantic VAD has no threshold).
            cfg.SessionOverrides = Json.ParseObject("{\"audio\":{\"input\":{\"turn_detection\":{\"type\":\"semantic_vad\"},\"noise_reduction\":{\"type\":\"far_field\"}}}}");
            input = Input(cfg);
            Assert.AreEqual("{\"type\":\"semantic_vad\"}", Json.Serialize(input["turn_detection"]));
            Assert.AreEqual("{\"type\":\"far_field\"}", Json.Serialize(input["noise_reduction"]));

            // null switches off.
            cfg.SessionOverrides = Json.ParseObject("{\"audio\":{\"input\":{\"turn_detection\":null,\"noise_reduction\":null,\"transcription\":null}}}");
            input = Input(cfg);
            Assert.IsTrue(input["turn_detection"] == null && input["noise_reduction"] == null && input["transcription"] == null, "all off");
        }

        [Test, Category("Live")]
        public static void TheServerAcceptsWhatTheOptionsMake()
        {
            TestSupport.RequireServer();
            var configs = new[]
            {
                new RealtimeConfig { TurnDetection = RealtimeTurnDetection.SemanticVad, VadEagerness = RealtimeVadEagerness.Low,
                                     NoiseReduction = RealtimeNoiseReduction.FarField, TranscriptionModel = "gpt-4o-mini-transcribe", TranscriptionLanguage = "en" },
                new RealtimeConfig { TurnDetection = RealtimeTurnDetection.ServerVad, VadThreshold = 0.65, VadSilenceDurationMs = 650, VadPrefixPaddingMs = 250,
                                     NoiseReduction = RealtimeNoiseReduction.NearField },
                new RealtimeConfig { TurnDetection = RealtimeTurnDetection.PushToTalk, NoiseReduction = RealtimeNoiseReduction.Off },
            };
            foreach (var cfg in configs)
            {
                cfg.Url = TestSupport.ServerUrl;
                cfg.ForwardServerEvents = true;
                var want = Input(cfg);
                var states = new List<RealtimeState>();
                var errors = new List<string>();
                Dictionary<string, object> applied = null;
                using (var s = new RealtimeSession(cfg.ToJson()))
                {
                    s.StateChanged += st => states.Add(st);
                    s.Error += (c, m, f) => errors.Add(c + ": " + m);
                    s.Event += ev =>
                    {
                        if (ev.Kind != RealtimeEventKind.ServerEvent) return;
                        var raw = Json.GetObject(ev.Data, "event");
                        if (Json.GetString(raw, "type") == "session.updated" && applied == null) applied = Json.GetObject(raw, "session");
                    };
                    s.Connect();
                    Wait.Until(() => states.Contains(RealtimeState.Ready) && applied != null, () => s.Poll(), 20000,
                               () => LiveSessionTests.Seen("Ready", states, errors));
                    for (int i = 0; i < 10; i++) { s.Poll(); System.Threading.Thread.Sleep(10); }
                    Assert.IsTrue(errors.Count == 0, "accepted: " + string.Join("; ", errors.ToArray()));
                    var got = Json.GetObject(Json.GetObject(applied, "audio"), "input");
                    foreach (var kv in want)
                    {
                        var wantObj = kv.Value as Dictionary<string, object>;
                        if (wantObj == null)
                        {
                            Assert.IsTrue(got.ContainsKey(kv.Key) && got[kv.Key] == null, kv.Key + " off on the server");
                            continue;
                        }
                        var gotObj = Json.GetObject(got, kv.Key);
                        Assert.IsNotNull(gotObj, kv.Key + " applied");
                        foreach (var field in wantObj)
                            Assert.AreEqual(Json.Serialize(field.Value), Json.Serialize(gotObj[field.Key]), kv.Key + "." + field.Key + " applied");
                    }
                }
            }
        }
    }
}
#endif
