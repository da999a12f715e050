// Poll's dispatch logic fed with event and tool-call JSON directly (an offline native session
// stands behind it, so submitting a result for an unknown call id fails natively, as it would
// for a call from a dropped connection).
#if RV_MONO_TESTS || UNITY_INCLUDE_TESTS
using System;
using System.Collections.Generic;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class DispatchTests
    {
        [Test]
        public static void EventsAreTypedAndRaisedInOrder()
        {
            using (var s = new RealtimeSession(NativeSessionTests.OfflineConfig))
            {
                var log = new List<string>();
                s.EventReceived += json => log.Add("raw");
                s.Event += ev => log.Add("kind:" + ev.Kind);
                s.StateChanged += st => log.Add("state:" + st);
                s.SessionReady += id => log.Add("ready:" + id);
                s.SpeechStarted += () => log.Add("speech_started");
                s.UserTranscript += (t, f) => log.Add("user:" + t + ":" + f);
                s.AssistantTranscript += (t, f) => log.Add("assistant:" + t + ":" + f);
                s.ResponseDone += (id, status) => log.Add("done:" + id + ":" + status);
                s.AudioInterrupted += (id, ms) => log.Add("interrupted:" + id + ":" + ms);
                s.Error += (c, m, f) => log.Add("error:" + c + ":" + m + ":" + f);
                s.Log += (l, m) => log.Add("log:" + l + ":" + m);
                s.DispatchEvent("{\"type\":\"state\",\"state\":\"connecting\"}");
                s.DispatchEvent("{\"type\":\"state\",\"state\":\"connecting\"}"); // no change: no StateChanged
                s.DispatchEvent("{\"type\":\"session_ready\",\"session_id\":\"sess_1\"}");
                s.DispatchEvent("{\"type\":\"speech_started\",\"item_id\":\"i1\",\"audio_start_ms\":120}");
                s.DispatchEvent("{\"type\":\"user_transcript\",\"item_id\":\"i1\",\"text\":\"héllo\",\"final\":true}");
                s.DispatchEvent("{\"type\":\"assistant_transcript\",\"response_id\":\"r1\",\"item_id\":\"i2\",\"delta\":\"Hi\",\"final\":false}");
                s.DispatchEvent("{\"type\":\"assistant_transcript\",\"response_id\":\"r1\",\"item_id\":\"i2\",\"text\":\"Hi there\",\"final\":true}");
                s.DispatchEvent("{\"type\":\"audio_interrupted\",\"item_id\":\"i2\",\"played_ms\":840}");
                s.DispatchEvent("{\"type\":\"response_done\",\"response_id\":\"r1\",\"status\":\"cancelled\"}");
                s.DispatchEvent("{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"slow down\",\"fatal\":false}");
                s.DispatchEvent("{\"type\":\"log\",\"level\":\"warn\",\"message\":\"m\"}");
                s.DispatchEvent("{\"type\":\"some_future_event\",\"x\":1}");
                string got = string.Join(" ", log.ToArray());
                string want =
                    "raw kind:State state:Connecting raw kind:State raw kind:SessionReady ready:sess_1 " +
                    "raw kind:SpeechStarted speech_started raw kind:UserTranscript user:héllo:True " +
                    "raw kind:AssistantTranscript assistant:Hi:False raw kind:AssistantTranscript assistant:Hi there:True " +
                    "raw kind:AudioInterrupted interrupted:i2:840 raw kind:ResponseDone done:r1:cancelled " +
                    "raw kind:Error error:rate_limited:slow down:False raw kind:Log log:warn:m raw kind:Unknown";
                Assert.AreEqual(want, got, "dispatch order and typing");
            }
        }

        [Test]
        public static void ThrowingSubscribersAndMalformedEventsNeverEscape()
        {
            using (var s = new RealtimeSession(NativeSessionTests.OfflineConfig))
            {
                var caught = new List<Exception>();
                var errors = new List<string>();
                int states = 0;
                s.ListenerException += e => caught.Add(e);
                s.Error += (c, m, f) => errors.Add(c);
                s.StateChanged += st => { states++; throw new InvalidOperationException("subscriber bug"); };
                s.DispatchEvent("{\"type\":\"state\",\"state\":\"ready\"}");
                s.DispatchEvent("{\"type\":\"state\",\"state\":\"closed\"}");
                s.DispatchEvent("not json at all");
                s.DispatchEvent("[1,2]");
                Assert.AreEqual(2, states, "both state changes delivered despite the throwing subscriber");
                Assert.AreEqual(2, caught.Count, "each subscriber exception reported");
                Assert.AreEqual("malformed_event,malformed_event", string.Join(",", errors.ToArray()), "malformed events reported");
            }
        }

        [Test]
        public static void ToolCallsAreDispatchedAndFailuresBecomeErrorOutputs()
        {
            using (var s = new RealtimeSession(NativeSessionTests.OfflineConfig))
            {
                var cube = new Cube();
                s.RegisterTools(cube);
                s.RegisterTool("explode", "Fails.", null, (Func<string, string>)(args => { throw new InvalidOperationException("kaboom"); }));
                var calls = new List<RealtimeToolCall>();
                var errors = new List<string>();
                s.ToolCalled += c => calls.Add(c);
                s.Error += (c, m, f) => errors.Add(c);

                s.DispatchToolCall("{\"call_id\":\"c1\",\"name\":\"move_cube\",\"arguments\":{\"dx\":2,\"dy\":0,\"dz\":-1},\"arguments_raw\":\"{\\\"dx\\\":2,\\\"dy\\\":0,\\\"dz\\\":-1}\"}");
                s.DispatchToolCall("{\"call_id\":\"c2\",\"name\":\"explode\",\"arguments\":{},\"arguments_raw\":\"{}\"}");
                s.DispatchToolCall("{\"call_id\":\"c3\",\"name\":\"move_cube\",\"arguments\":null,\"arguments_raw\":\"{dx: 1\"}");
                s.DispatchToolCall("{\"call_id\":\"c4\",\"name\":\"fly\",\"arguments\":{},\"arguments_raw\":\"{}\"}");
                s.DispatchToolCall("{\"name\":\"move_cube\"}");

                Assert.AreEqual(4, calls.Count, "four answered calls (the one without call_id cannot be answered)");
                Assert.AreEqual(2.0, cube.X, "handler ran with bound arguments");
                Assert.AreEqual(-1.0, cube.Z, "dz bound");
                Assert.AreEqual("{\"ok\":true}", calls[0].Output, "handler output");
                Assert.AreEqual("kaboom", Json.GetString(Json.ParseObject(calls[1].Output), "error"), "exception -> error output");
                Assert.IsTrue(calls[1].Exception is InvalidOperationException, "exception kept for logging");
                Assert.IsTrue(Json.GetString(Json.ParseObject(calls[2].Output), "error").Contains("not valid JSON"), "invalid arguments");
                Assert.AreEqual(1, cube.Moves, "the handler did not run for invalid arguments");
                Assert.IsTrue(Json.GetString(Json.ParseObject(calls[3].Output), "error").Contains("unknown tool"), "unknown tool");
                // The offline native session has no open calls: each submit fails natively and is reported, not thrown.
                Assert.AreEqual(4, errors.FindAll(e => e == "tool_result_failed").Count, "submit failures reported");
                Assert.AreEqual(1, errors.FindAll(e => e == "malformed_tool_call").Count, "call without call_id reported");
            }
        }

        [Test]
        public static void UnhandledToolCallsGoToTheSubscriber()
        {
            using (var s = new RealtimeSession("{\"url\":\"ws://127.0.0.1:9/v1/realtime\",\"session\":{\"tools\":[{\"type\":\"function\",\"name\":\"config_tool\",\"description\":\"d\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}]}}"))
            {
                RealtimeToolCall seen = null;
                s.UnhandledToolCall += c => seen = c;
                s.DispatchToolCall("{\"call_id\":\"c9\",\"name\":\"config_tool\",\"arguments\":{\"a\":1},\"arguments_raw\":\"{\\\"a\\\":1}\"}");
                Assert.IsTrue(seen != null && seen.Name == "config_tool" && seen.CallId == "c9", "raised for the caller to answer");
                Assert.AreEqual(1.0, Json.GetNumber(seen.Arguments, "a"), "parsed arguments");
                Assert.IsTrue(seen.Output == null, "not answered automatically");
                s.RegisterTool("mine", "d", null, a => "x");
                var update = Json.ParseObject(s.ToolsUpdateJson());
                var tools = (List<object>)update["tools"];
                Assert.AreEqual(2, tools.Count, "config tools are kept beside registered ones");
                Assert.AreEqual("config_tool", Json.GetString((Dictionary<string, object>)tools[0], "name"), "config tool first");
                Assert.AreEqual("mine", Json.GetString((Dictionary<string, object>)tools[1], "name"), "registered tool");
                Assert.AreEqual("auto", Json.GetString(update, "tool_choice"), "tool_choice auto");
                s.FlushTools(); // accepted by the native session
            }
        }

        [Test]
        public static void DisposingFromAHandlerDuringPollIsSafe()
        {
            var s = new RealtimeSession(NativeSessionTests.OfflineConfig);
            s.RegisterTool("quit", "Ends the session.", null, args => { s.Dispose(); return "bye"; });
            int answered = 0;
            s.ToolCalled += c => answered++;
            s.DispatchToolCall("{\"call_id\":\"c1\",\"name\":\"quit\",\"arguments\":{},\"arguments_raw\":\"{}\"}");
            Assert.IsTrue(s.IsDisposed, "the handler disposed the session");
            Assert.AreEqual(1, answered, "the call is still reported");
            Assert.AreEqual(0, s.Poll(), "polling a disposed session is a no-op");
        }
    }
}
#endif
