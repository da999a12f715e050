// Asynchronous tool handlers: started by Poll on the polling thread, completed on other threads,
// answered from a later Poll; the timeout and exceptions become error outputs. Offline (the
// dispatcher fed directly) for the rules, and against the local server, whose first response
// calls two tools at once, for the wiring: the slow asynchronous call is answered after the
// other one, and the follow-up response comes once both are.
#if RV_MONO_TESTS || UNITY_INCLUDE_TESTS
using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    public sealed class AsyncTools
    {
        public int Pings;

        [RealtimeTool("Counts to n, later.")]
        public async Task<int> CountLater(int n)
        {
            await Task.Delay(20).ConfigureAwait(false);
            return n;
        }

        [RealtimeTool("Pings, later.")]
        public Task Ping()
        {
            return Task.Run(() => { Interlocked.Increment(ref Pings); });
        }

        [RealtimeTool("Fails, later.")]
        public async Task<string> FailLater()
        {
            await Task.Delay(10).ConfigureAwait(false);
            throw new InvalidOperationException("backend down");
        }
    }

    [TestFixture]
    public static class AsyncToolTests
    {
        private static string Call(string id, string name, string args = "{}")
        {
            return "{\"call_id\":\"" + id + "\",\"name\":\"" + name + "\",\"arguments\":" + args + ",\"arguments_raw\":" + Json.Quote(args) + "}";
        }

        private static string ErrorOf(RealtimeToolCall call)
        {
            return Json.GetString(Json.ParseObject(call.Output), "error");
        }

        [Test]
        public static void AHandlerFinishingOnAnotherThreadIsAnsweredFromALaterPollOnThePollingThread()
        {
            using (var s = new RealtimeSession(NativeSessionTests.OfflineConfig))
            {
                int pollingThread = Thread.CurrentThread.ManagedThreadId;
                var slow = new TaskCompletionSource<string>();
                int startedOn = -1, calledOn = -1;
                s.RegisterTool("slow", "Answers later.", null, args => { startedOn = Thread.CurrentThread.ManagedThreadId; return slow.Task; });
                s.RegisterTool("fast", "Answers now.", null, args => "{\"fast\":true}");
                var answered = new List<RealtimeToolCall>();
                s.ToolCalled += c => { answered.Add(c); calledOn = Thread.CurrentThread.ManagedThreadId; };

                // Two calls of one response: the slow one first.
                s.DispatchToolCall(Call("c1", "slow", "{\"q\":\"cube\"}"));
                s.DispatchToolCall(Call("c2", "fast"));
                Assert.AreEqual(pollingThread, startedOn, "the handler starts on the polling thread");
                Assert.AreEqual(1, answered.Count, "the synchronous call is answered at once");
                Assert.AreEqual("fast", answered[0].Name);
                Assert.AreEqual(1, s.RunningToolCalls, "the slow call is running");
                Assert.AreEqual(0, s.Poll(), "nothing to answer while it runs");

                int completedOn = -1;
                var finisher = new Thread(() => { completedOn = Thread.CurrentThread.ManagedThreadId; slow.SetResult("{\"found\":3}"); });
                finisher.Start();
                finisher.Join();
                Assert.AreNotEqual(pollingThread, completedOn, "the task completed on another thread");
                Assert.AreEqual(1, answered.Count, "nothing is raised off the polling thread");

                Assert.AreEqual(1, s.Poll(), "the Poll after completion answers it (one item)");
                Assert.AreEqual(2, answered.Count, "answered");
                Assert.AreEqual("slow", answered[1].Name, "after the response's other call");
                Assert.AreEqual("{\"found\":3}", answered[1].Output, "the task's result is the output");
                Assert.IsTrue(answered[1].Exception == null && !answered[1].TimedOut, "no error");
                Assert.AreEqual(pollingThread, calledOn, "ToolCalled raised on the polling thread");
                Assert.AreEqual(0, s.RunningToolCalls, "nothing left running");
            }
        }

        [Test]
        public static void AHandlerPastTheTimeoutIsAnsweredWithAnErrorAndItsLateResultDropped()
        {
            using (var s = new RealtimeSession(NativeSessionTests.OfflineConfig))
            {
                Assert.AreEqual(TimeSpan.FromSeconds(30), s.ToolTimeout, "documented default");
                Assert.Throws<ArgumentOutOfRangeException>(() => s.ToolTimeout = TimeSpan.Zero);
                Assert.Throws<ArgumentOutOfRangeException>(() => s.ToolTimeout = TimeSpan.FromSeconds(-1));
                s.ToolTimeout = Timeout.InfiniteTimeSpan; // allowed: wait forever
                s.ToolTimeout = TimeSpan.FromMilliseconds(150);
                var never = new TaskCompletionSource<string>();
                s.RegisterTool("hang", "Never answers in time.", null, args => never.Task);
                var answered = new List<RealtimeToolCall>();
                s.ToolCalled += c => answered.Add(c);
                var sw = System.Diagnostics.Stopwatch.StartNew();
                s.DispatchToolCall(Call("c1", "hang"));
                Wait.Until(() => answered.Count == 1, () => s.Poll(), 5000, "answered by the timeout");
                long elapsed = sw.ElapsedMilliseconds;
                Assert.IsTrue(elapsed >= 150, "not before the timeout: " + elapsed + " ms");
                Assert.IsTrue(answered[0].TimedOut, "marked as timed out");
                Assert.IsTrue(answered[0].Exception is TimeoutException, "a TimeoutException for logging");
                StringAssert.Contains("'hang' did not answer within 0.15 s", ErrorOf(answered[0]), "error output for the model");
                Assert.AreEqual(0, s.RunningToolCalls);

                never.SetResult("too late");
                for (int i = 0; i < 5; i++) s.Poll();
                Assert.AreEqual(1, answered.Count, "the late result is not submitted");
            }
        }

        [Test]
        public static void ExceptionsAndCancellationsBecomeErrorOutputsNeverExceptionsOutOfPoll()
        {
            using (var s = new RealtimeSession(NativeSessionTests.OfflineConfig))
            {
                s.RegisterTool("throws_at_once", "d", null, (Func<string, Task<string>>)(args => { throw new ArgumentException("bad input"); }));
                s.RegisterTool("faults_later", "d", null, async args =>
                {
                    await Task.Delay(10).ConfigureAwait(false);
                    throw new InvalidOperationException("lookup failed");
                });
                s.RegisterTool("cancelled", "d", null, args => Task.Run<string>(() =>
                {
                    using (var cts = new CancellationTokenSource())
                    {
                        cts.Cancel();
                        cts.Token.ThrowIfCancellationRequested();
                        return "unreachable";
                    }
                }));
                s.RegisterTool("null_task", "d", null, args => (Task<string>)null);
                var answered = new Dictionary<string, RealtimeToolCall>();
                s.ToolCalled += c => answered[c.Name] = c;
                var listener = new List<Exception>();
                s.ListenerException += e => listener.Add(e);
                s.DispatchToolCall(Call("c1", "throws_at_once"));
                s.DispatchToolCall(Call("c2", "faults_later"));
                s.DispatchToolCall(Call("c3", "cancelled"));
                s.DispatchToolCall(Call("c4", "null_task"));
                Wait.Until(() => answered.Count == 4, () => s.Poll(), 5000, () => "answered: " + string.Join(",", new List<string>(answered.Keys).ToArray()));
                Assert.AreEqual("bad input", ErrorOf(answered["throws_at_once"]));
                Assert.IsTrue(answered["throws_at_once"].Exception is ArgumentException);
                Assert.AreEqual("lookup failed", ErrorOf(answered["faults_later"]), "the handler's own exception, unwrapped");
                Assert.IsTrue(answered["faults_later"].Exception is InvalidOperationException);
                StringAssert.Contains("cancel", ErrorOf(answered["cancelled"]));
                StringAssert.Contains("null Task", ErrorOf(answered["null_task"]));
                Assert.AreEqual(0, listener.Count, "nothing escaped");
            }
        }

        [Test]
        public static void ASessionDisposedWhileAHandlerRunsDropsItsAnswer()
        {
            var s = new RealtimeSession(NativeSessionTests.OfflineConfig);
            var gate = new TaskCompletionSource<string>();
            int answered = 0;
            s.RegisterTool("slow", "d", null, args => gate.Task);
            s.ToolCalled += c => answered++;
            s.DispatchToolCall(Call("c1", "slow"));
            Assert.AreEqual(1, s.RunningToolCalls);
            s.Dispose();
            var finisher = new Thread(() => gate.SetException(new InvalidOperationException("late failure")));
            finisher.Start();
            finisher.Join();
            Assert.AreEqual(0, s.Poll(), "a disposed session answers nothing");
            Assert.AreEqual(0, answered, "and raises nothing");
        }

        [Test]
        public static void PollAnswersAtMostMaxItems()
        {
            using (var s = new RealtimeSession(NativeSessionTests.OfflineConfig))
            {
                var gates = new List<TaskCompletionSource<string>>();
                var answered = new List<string>();
                s.RegisterTool("slow", "d", null, args => { var g = new TaskCompletionSource<string>(); gates.Add(g); return g.Task; });
                s.ToolCalled += c => answered.Add(c.CallId);
                for (int i = 0; i < 3; i++) s.DispatchToolCall(Call("c" + i, "slow"));
                foreach (var g in gates) g.SetResult("ok");
                Assert.AreEqual(2, s.Poll(2), "two of the three");
                Assert.AreEqual("c0,c1", string.Join(",", answered.ToArray()), "in the order they were started");
                Assert.AreEqual(1, s.Poll(), "the last one");
                Assert.AreEqual(0, s.RunningToolCalls);
            }
        }

        [Test]
        public static void ToolMethodsReturningTaskOrTaskOfTAreAsynchronous()
        {
            var tools = new AsyncTools();
            var r = new ToolRegistry();
            Assert.AreEqual(3, r.RegisterMethods(tools));
            Assert.IsTrue(r.IsAsync("count_later") && r.IsAsync("ping") && r.IsAsync("fail_later"), "all three are asynchronous");
            var schema = (Dictionary<string, object>)((Dictionary<string, object>)r.Declarations()[0])["parameters"];
            Assert.AreEqual("integer", Json.GetString(Json.GetObject(Json.GetObject(schema, "properties"), "n"), "type"), "schema from the parameters");

            string output;
            Exception error;
            var count = r.Start("count_later", "{\"n\":7}", out output, out error);
            Assert.IsTrue(count != null && output == null && error == null, "started, not finished");
            Assert.IsTrue(count.Wait(5000));
            Assert.AreEqual("7", ToolRegistry.Complete(count, out error), "Task<int>: the result as JSON");
            Assert.IsNull(error);

            var ping = r.Start("ping", "{}", out output, out error);
            Assert.IsTrue(ping.Wait(5000));
            Assert.AreEqual("{\"ok\":true}", ToolRegistry.Complete(ping, out error), "Task: ok once complete");
            Assert.AreEqual(1, tools.Pings, "the method ran once");

            var fail = r.Start("fail_later", "{}", out output, out error);
            try { fail.Wait(5000); } catch (AggregateException) { }
            Assert.AreEqual("{\"error\":\"backend down\"}", ToolRegistry.Complete(fail, out error));
            Assert.IsTrue(error is InvalidOperationException, "the method's own exception");

            // Binding errors are found before the method runs, as for synchronous methods.
            Assert.IsNull(r.Start("count_later", "{\"n\":1.5}", out output, out error), "finished at once");
            StringAssert.Contains("must be an integer", output);

            // Invoke never blocks: a task still running is an error there.
            var gate = new TaskCompletionSource<string>();
            r.Register("gated", "d", null, a => gate.Task);
            StringAssert.Contains("still running", r.Invoke("gated", "{}", out error));
            gate.SetResult("done");
            Assert.AreEqual("done", r.Invoke("gated", "{}", out error), "a completed task's result");
        }

        [Test, Category("Live")] // on its own server: its first response calls slow_lookup and move_cube at once
        public static void AnAsyncCallFinishingAfterTheResponsesOtherCallGetsOneFollowUp()
        {
            TestSupport.RequireServer();
            string url = Environment.GetEnvironmentVariable("RV_TEST_ASYNC_TOOL_SERVER_URL");
            if (string.IsNullOrEmpty(url)) Assert.Fail("RV_TEST_ASYNC_TOOL_SERVER_URL not set (run-mono-tests.sh starts that server)");
            var cube = new Cube();
            var states = new List<RealtimeState>();
            var errors = new List<string>();
            var answered = new List<RealtimeToolCall>();
            var created = new List<string>();
            var outputs = new List<string>();
            var finals = new List<string>();
            int pollingThread = Thread.CurrentThread.ManagedThreadId;
            int completedOn = -1, raisedOn = -1;
            using (var s = new RealtimeSession(new RealtimeConfig { Url = url, ForwardServerEvents = true, OutputSampleRate = 48000 }.ToJson()))
            {
                s.RegisterTools(cube);
                s.RegisterTool("slow_lookup", "Looks something up slowly.", null, args => Task.Run(async () =>
                {
                    await Task.Delay(400).ConfigureAwait(false);
                    completedOn = Thread.CurrentThread.ManagedThreadId;
                    return "{\"found\":\"a red cube\"}";
                }));
                s.StateChanged += st => states.Add(st);
                s.Error += (c, m, f) => errors.Add(c + ": " + m);
                s.ToolCalled += c => { answered.Add(c); raisedOn = Thread.CurrentThread.ManagedThreadId; };
                s.AssistantTranscript += (t, f) => { if (f) finals.Add(t); };
                s.Event += ev =>
                {
                    if (ev.Kind != RealtimeEventKind.ServerEvent) return;
                    var raw = Json.GetObject(ev.Data, "event");
                    string type = Json.GetString(raw, "type");
                    if (type == "response.created") created.Add(Json.GetString(Json.GetObject(raw, "response"), "id"));
                    var item = Json.GetObject(raw, "item");
                    if (type == "conversation.item.added" && Json.GetString(item, "type") == "function_call_output")
                        outputs.Add(Json.GetString(item, "call_id") + "=" + Json.GetString(item, "output"));
                };
                s.Connect();
                Wait.Until(() => states.Contains(RealtimeState.Ready), () => s.Poll(), 20000, () => LiveSessionTests.Seen("Ready", states, errors));
                s.SendText("Find the cube and move it.");
                var buf = new float[960];
                Wait.Until(() => finals.Count >= 1 && answered.Count == 2, () => { s.Poll(); s.PullPlayback(buf, 480, 2, 48000); }, 20000,
                           () => "follow-up answered (answered " + answered.Count + ", responses " + created.Count + ", errors " + string.Join("; ", errors.ToArray()) + ")");
                // Let anything extra arrive before counting.
                for (int i = 0; i < 30; i++) { s.Poll(); s.PullPlayback(buf, 480, 2, 48000); Thread.Sleep(10); }
                Assert.IsTrue(errors.Count == 0, "no errors: " + string.Join("; ", errors.ToArray()));
                Assert.AreEqual("move_cube,slow_lookup", answered[0].Name + "," + answered[1].Name, "the slow call answered after the other");
                Assert.AreEqual(1.0, cube.X, "move_cube ran");
                Assert.AreEqual("{\"found\":\"a red cube\"}", answered[1].Output);
                Assert.AreNotEqual(pollingThread, completedOn, "slow_lookup finished on another thread");
                Assert.AreEqual(pollingThread, raisedOn, "answered on the polling thread");
                Assert.AreEqual(2, outputs.Count, "two function_call_output items: " + string.Join(" ", outputs.ToArray()));
                Assert.IsTrue(outputs[1].EndsWith("={\"found\":\"a red cube\"}"), "the async output reached the server: " + outputs[1]);
                Assert.AreEqual(2, created.Count, "the calls' response and exactly one follow-up");
                Assert.IsTrue(finals.Contains("Sure, moving the cube."), "the follow-up was spoken: " + string.Join("|", finals.ToArray()));
            }
        }
    }
}
#endif
