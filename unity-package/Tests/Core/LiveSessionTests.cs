// RealtimeSession against the local Realtime server (rv-mock-server), through the real
// native library: connect, stream mic audio, server VAD, a move_cube tool call answered by a
// C# handler, model audio pulled for playback, typed events.
// RV_TEST_SERVER_URL: the server's ws:// URL. RV_TEST_TOOL_SERVER_URL: a server of its own for
// ConversationEndToEnd; with RV_TEST_SCRIPTED_TOOL=1 its first response is the scripted
// move_cube call {"dx":1,"dy":0,"dz":0}.
#if RV_MONO_TESTS || UNITY_INCLUDE_TESTS
using System;
using System.Collections.Generic;
using System.Diagnostics;
using RealtimeVoice.Native;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    public sealed class Cube
    {
        public double X, Y, Z;
        public int Moves;

        [RealtimeTool("Move the cube by a distance in meters.", Name = "move_cube")]
        public string MoveCube(float dx, float dy, float dz)
        {
            X += dx;
            Y += dy;
            Z += dz;
            Moves++;
            return "{\"ok\":true}";
        }
    }

    [TestFixture]
    public static class LiveSessionTests
    {
        internal static bool ScriptedTool { get { return Environment.GetEnvironmentVariable("RV_TEST_SCRIPTED_TOOL") == "1"; } }

        /// <summary>What the scripted server transcribes the first user turn as.</summary>
        internal const string ScriptedUserTranscript = "Move the cube one meter to the right.";

        internal static string Config(int outputRate, bool forwardServerEvents = false, bool transcribeInput = false, string url = null)
        {
            return new RealtimeConfig
            {
                SessionOverrides = transcribeInput
                    ? (Dictionary<string, object>)Json.Parse("{\"audio\":{\"input\":{\"transcription\":{\"model\":\"gpt-4o-mini-transcribe\"}}}}")
                    : null,
                ForwardServerEvents = forwardServerEvents ? true : (bool?)null,
                Url = url ?? TestSupport.ServerUrl,
                Instructions = "You control a cube.",
                Voice = "alloy",
                OutputSampleRate = outputRate,
                OutputChannels = 2,
                ServerVad = true,
            }.ToJson();
        }

        internal static string Seen(string what, List<RealtimeState> states, List<string> errors)
        {
            return what + " (states " + string.Join(",", states.ConvertAll(x => x.ToString()).ToArray()) +
                   (errors == null ? "" : "; errors " + string.Join("; ", errors.ToArray())) + ")";
        }

        /// <summary>Voice-like test signal: a few harmonics, syllable-rate envelope, about -12 dBFS.</summary>
        internal static void Speech(float[] buf, int frames, int channels, int rate, long startFrame, bool silent)
        {
            for (int f = 0; f < frames; f++)
            {
                double t = (startFrame + f) / (double)rate;
                double env = 0.6 + 0.4 * Math.Sin(2 * Math.PI * 4 * t);
                double v = silent ? 0 : env * (0.2 * Math.Sin(2 * Math.PI * 180 * t) + 0.1 * Math.Sin(2 * Math.PI * 360 * t) +
                                               0.05 * Math.Sin(2 * Math.PI * 720 * t));
                for (int c = 0; c < channels; c++) buf[f * channels + c] = (float)v;
            }
        }

        [Test, Category("Live")] // on its own server: its first response is the scripted tool call
        public static void ConversationEndToEnd()
        {
            TestSupport.RequireServer();
            var cube = new Cube();
            var kinds = new HashSet<RealtimeEventKind>();
            var states = new List<RealtimeState>();
            var assistantFinal = new List<string>();
            var toolCalls = new List<RealtimeToolCall>();
            var errors = new List<string>();
            int rawEvents = 0;
            const int rate = 48000, outChannels = 2;
            var sessionUpdates = new List<Dictionary<string, object>>();
            var userFinal = new List<string>();
            using (var s = new RealtimeSession(Config(rate, forwardServerEvents: true, transcribeInput: true, url: TestSupport.ToolServerUrl)))
            {
                s.RegisterTools(cube); // before Connect: goes into the first session.update
                s.Event += ev =>
                {
                    if (ev.Kind != RealtimeEventKind.ServerEvent) return;
                    var raw = Json.GetObject(ev.Data, "event");
                    if (Json.GetString(raw, "type") == "session.updated") sessionUpdates.Add(Json.GetObject(raw, "session"));
                };
                s.EventReceived += json => rawEvents++;
                s.Event += ev => kinds.Add(ev.Kind);
                s.StateChanged += st => states.Add(st);
                s.AssistantTranscript += (text, final) => { if (final) assistantFinal.Add(text); };
                s.ToolCalled += call => toolCalls.Add(call);
                s.UserTranscript += (text, final) => { if (final) userFinal.Add(text); };
                s.Error += (code, message, fatal) => errors.Add(code + ": " + message);
                s.Connect();
                Wait.Until(() => states.Contains(RealtimeState.Ready), () => s.Poll(), 20000, () => Seen("Ready", states, errors) + " native state " + s.State);
                Assert.AreEqual(RealtimeState.Ready, s.State, "native state");

                // Stream 1.2 s of speech then 1 s of silence from a 48 kHz mono mic in 20 ms pushes,
                // pulling playback as an audio device would, until the responses are done.
                var mic = new float[960];
                var output = new float[480 * outChannels];
                long micFrames = 0;
                long modelFrames = 0;
                double peak = 0;
                int responsesDone = 0;
                s.ResponseDone += (id, status) => responsesDone++;
                int wanted = ScriptedTool ? 2 : 1; // tool call response, then the spoken answer
                var sw = Stopwatch.StartNew();
                while (sw.ElapsedMilliseconds < 40000)
                {
                    if (micFrames < rate * 22 / 10)
                    {
                        Speech(mic, 960, 1, rate, micFrames, micFrames >= rate * 12 / 10);
                        s.PushMic(mic, 960, 1, rate);
                        micFrames += 960;
                    }
                    s.Poll();
                    for (int k = 0; k < 2; k++)
                    {
                        int got = s.PullPlayback(output, 480, outChannels, rate);
                        Assert.IsTrue(got >= 0 && got <= 480, "pull returns frames with model audio: " + got);
                        modelFrames += got;
                        foreach (var x in output) peak = Math.Max(peak, Math.Abs(x));
                    }
                    if (responsesDone >= wanted && s.GetStats().PlaybackBufferedMs == 0 && modelFrames > 0) break;
                    System.Threading.Thread.Sleep(10);
                }
                var stats = s.GetStats();
                Console.WriteLine("  mic_frames_in={0} audio_bytes_sent={1} audio_bytes_received={2} model_frames_played={3} " +
                                  "peak={4:F3} responses={5} tool_calls={6} last_response_latency_ms={7} underruns={8} events={9}",
                                  stats.MicFramesIn, stats.AudioBytesSent, stats.AudioBytesReceived, modelFrames, peak,
                                  stats.Responses, stats.ToolCalls, stats.LastResponseLatencyMs, stats.PlaybackUnderruns, rawEvents);
                Assert.IsTrue(errors.Count == 0, "no errors: " + string.Join("; ", errors.ToArray()));
                Assert.IsTrue(stats.MicFramesIn >= (ulong)rate, "mic frames counted: " + stats.MicFramesIn);
                Assert.IsTrue(stats.AudioBytesSent > 0, "audio sent: " + stats.AudioBytesSent);
                Assert.IsTrue(stats.AudioBytesReceived > 0, "model audio received: " + stats.AudioBytesReceived);
                Assert.IsTrue(responsesDone >= wanted, "responses done: " + responsesDone);
                // The default answer is ~1.5 s of model audio at 24 kHz -> ~72000 frames at 48 kHz.
                Assert.IsTrue(modelFrames > rate, "model audio played: " + modelFrames + " frames");
                Assert.IsTrue(peak > 0.01, "audible model audio, peak " + peak);
                Assert.IsTrue(assistantFinal.Contains("Sure, moving the cube."), "final transcript: " + string.Join("|", assistantFinal.ToArray()));
                foreach (var k in new[] { RealtimeEventKind.State, RealtimeEventKind.SessionReady, RealtimeEventKind.SpeechStarted,
                                          RealtimeEventKind.SpeechStopped, RealtimeEventKind.ResponseStarted,
                                          RealtimeEventKind.AssistantTranscript, RealtimeEventKind.ResponseDone })
                    Assert.IsTrue(kinds.Contains(k), "typed event seen: " + k);
                Assert.IsTrue(rawEvents >= kinds.Count, "raw JSON raised for every event");
                // The server confirmed the tools in its first session.updated, in the GA flat shape.
                Assert.IsTrue(sessionUpdates.Count >= 1, "session.updated forwarded");
                object toolsObj;
                Assert.IsTrue(sessionUpdates[0].TryGetValue("tools", out toolsObj) && toolsObj is List<object>, "tools in the first session.updated");
                var tool = (Dictionary<string, object>)((List<object>)toolsObj)[0];
                Assert.AreEqual("move_cube", Json.GetString(tool, "name"), "declared tool");
                Assert.AreEqual("function", Json.GetString(tool, "type"), "flat function tool");
                Assert.AreEqual("auto", Json.GetString(sessionUpdates[0], "tool_choice"), "tool_choice");
                if (ScriptedTool)
                {
                    Assert.IsTrue(userFinal.Contains(ScriptedUserTranscript), "user transcript: " + string.Join("|", userFinal.ToArray()));
                    Assert.IsTrue(kinds.Contains(RealtimeEventKind.UserTranscript), "typed event seen: UserTranscript");
                    Assert.AreEqual(1, toolCalls.Count, "one tool call dispatched");
                    Assert.AreEqual("move_cube", toolCalls[0].Name, "tool name");
                    Assert.AreEqual("{\"ok\":true}", toolCalls[0].Output, "handler output submitted");
                    Assert.IsTrue(toolCalls[0].Exception == null, "handler did not throw");
                    Assert.AreEqual(1, cube.Moves, "handler ran once");
                    Assert.AreEqual(1.0, cube.X, "dx applied from the model's arguments");
                    Assert.IsTrue(stats.ToolCalls >= 1, "native counted the call");
                }
                s.Close();
                Wait.Until(() => s.State == RealtimeState.Closed, () => s.Poll(), 3000, "Closed after Close");
            }
        }

        [Test, Category("Live")]
        public static void SecureWebSocketWithATrustedTestCa()
        {
            TestSupport.RequireServer();
            string url = Environment.GetEnvironmentVariable("RV_TEST_TLS_URL");
            string caPath = Environment.GetEnvironmentVariable("RV_TEST_CA_PEM");
            Assert.IsTrue(!string.IsNullOrEmpty(url) && url.StartsWith("wss://"), "wss server given: " + url);
            string pem = System.IO.File.ReadAllText(caPath);

            // Verification stays on: without the test CA the handshake must fail.
            var untrusted = new List<RealtimeState>();
            var errors = new List<string>();
            using (var s = new RealtimeSession(new RealtimeConfig
                   {
                       Url = url,
                       ReconnectMaxAttempts = 0,
                   }.ToJson()))
            {
                s.StateChanged += st => untrusted.Add(st);
                s.Error += (c, m, f) => errors.Add(c + ": " + m);
                s.Connect();
                Wait.Until(() => untrusted.Contains(RealtimeState.Failed), () => s.Poll(), 20000,
                                  "untrusted certificate fails (states " + string.Join(",", untrusted.ConvertAll(x => x.ToString()).ToArray()) + ")");
                Assert.IsTrue(!untrusted.Contains(RealtimeState.Ready), "never ready without trust");
                Assert.IsTrue(errors.Count > 0, "an error explains why");
            }

            var states = new List<RealtimeState>();
            long frames = 0;
            using (var s = new RealtimeSession(new RealtimeConfig { Url = url, CaCertificatePem = pem, OutputSampleRate = 48000 }.ToJson()))
            {
                var log = new List<string>();
                s.StateChanged += st => states.Add(st);
                s.EventReceived += json => log.Add(json);
                s.Connect();
                try
                {
                    Wait.Until(() => states.Contains(RealtimeState.Ready), () => s.Poll(), 20000, "Ready over wss://");
                }
                catch (AssertionException e)
                {
                    throw new AssertionException(e.Message + " (events: " + string.Join(" ", log.ToArray()) + ")");
                }
                s.SendText("Hello over TLS");
                var buf = new float[960];
                Wait.Until(() => frames > 0, () => { s.Poll(); frames += s.PullPlayback(buf, 480, 2, 48000); }, 20000,
                                  "model audio over wss://");
            }
        }

        [Test, Category("Live")]
        public static void PushToTalkTurn()
        {
            TestSupport.RequireServer();
            // Server VAD off (turn_detection null): the client commits the turn and asks for the answer.
            var states = new List<RealtimeState>();
            var errors = new List<string>();
            int speechStarted = 0, done = 0;
            using (var s = new RealtimeSession(new RealtimeConfig { Url = TestSupport.ServerUrl, ServerVad = false, OutputSampleRate = 48000 }.ToJson()))
            {
                s.StateChanged += st => states.Add(st);
                s.Error += (c, m, f) => errors.Add(c + ": " + m);
                s.SpeechStarted += () => speechStarted++;
                s.ResponseDone += (id, st) => done++;
                s.Connect();
                Wait.Until(() => states.Contains(RealtimeState.Ready), () => s.Poll(), 20000, () => Seen("Ready", states, errors) + " native state " + s.State);
                var mic = new float[480];
                for (long f = 0; f < 48000; f += 480)
                {
                    Speech(mic, 480, 1, 48000, f, false);
                    s.PushMic(mic, 480, 1, 48000);
                }
                s.CommitAudio();
                s.CreateResponse();
                var buf = new float[960];
                long frames = 0;
                Wait.Until(() => done >= 1 && frames > 24000, () => { s.Poll(); frames += s.PullPlayback(buf, 480, 2, 48000); },
                                  20000, "answer after commit");
                Assert.AreEqual(0, speechStarted, "no server VAD in push-to-talk");
                Assert.IsTrue(errors.Count == 0, "no errors (turn_detection null accepted): " + string.Join("; ", errors.ToArray()));
            }
        }

        [Test, Category("Live")]
        public static void TextTurnAndCancel()
        {
            TestSupport.RequireServer();
            var finals = new List<string>();
            var states = new List<RealtimeState>();
            var errors = new List<string>();
            int started = 0;
            using (var s = new RealtimeSession(Config(44100)))
            {
                s.StateChanged += st => states.Add(st);
                s.Error += (c, m, f) => errors.Add(c + ": " + m);
                s.AssistantTranscript += (t, f) => { if (f) finals.Add(t); };
                s.ResponseStarted += id => started++;
                s.Connect();
                Wait.Until(() => states.Contains(RealtimeState.Ready), () => s.Poll(), 20000, () => Seen("Ready", states, errors) + " native state " + s.State);
                s.SendText("Move the cube to the left, s'il vous plaît ✓");
                var buf = new float[441 * 2];
                long frames = 0;
                Wait.Until(() => frames > 0, () => { s.Poll(); frames += s.PullPlayback(buf, 441, 2, 44100); }, 20000,
                                  "model audio at 44.1 kHz");
                // The worker queues response.created before it writes the first audio, but a Poll
                // can run between the two: the event is then read on the next Poll, not lost.
                Wait.Until(() => started >= 1, () => s.Poll(), 2000, "response started");
                s.CancelResponse(); // barge-in by button: playback is flushed at once
                long after = 0;
                for (int i = 0; i < 20; i++)
                {
                    s.Poll();
                    after += s.PullPlayback(buf, 441, 2, 44100);
                }
                Assert.IsTrue(after < 441 * 20, "playback stops after cancel (" + after + " frames)");
            }
        }
    }
}
#endif
