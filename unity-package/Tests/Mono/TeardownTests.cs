// Teardown never blocks a Unity thread: Dispose, Disconnect, OnDisable, OnDestroy and the
// finalizer's release return in well under a frame (5 ms here) while the native worker is stuck
// in a handshake with a server that never answers, or is backing off between reconnects. The
// native session still goes away (the library finishes closing on its own thread).
#if RV_MONO_TESTS
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using NUnit.Framework;
using RealtimeVoice.Native;
using Component = RealtimeVoice.RealtimeVoice;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class TeardownTests
    {
        private const double BoundMs = 5.0;

        /// <summary>A loopback server that accepts connections and never answers (or hangs up at once).</summary>
        private sealed class SilentServer : IDisposable
        {
            private readonly TcpListener _listener = new TcpListener(IPAddress.Loopback, 0);
            private readonly List<TcpClient> _held = new List<TcpClient>();
            private readonly Thread _thread;
            private readonly bool _hangUp;
            private volatile bool _stop;

            public SilentServer(bool hangUp)
            {
                _hangUp = hangUp;
                _listener.Start();
                _thread = new Thread(Run) { IsBackground = true };
                _thread.Start();
            }

            public string Url { get { return "ws://127.0.0.1:" + ((IPEndPoint)_listener.LocalEndpoint).Port + "/v1/realtime"; } }
            public int Accepted;

            private void Run()
            {
                while (!_stop)
                {
                    try
                    {
                        var c = _listener.AcceptTcpClient();
                        Interlocked.Increment(ref Accepted);
                        if (_hangUp) c.Close();
                        else lock (_held) _held.Add(c); // read nothing, write nothing
                    }
                    catch (SocketException) { return; }
                    catch (ObjectDisposedException) { return; }
                }
            }

            public void Dispose()
            {
                _stop = true;
                _listener.Stop();
                lock (_held) foreach (var c in _held) c.Close();
            }
        }

        private static string Config(string url)
        {
            return new RealtimeConfig { Url = url, OutputSampleRate = 48000 }.ToJson();
        }

        private static double Ms(Stopwatch sw) { return sw.Elapsed.TotalMilliseconds; }

        private static void AssertDestroyed(ulong handle)
        {
            Assert.AreEqual(RvStatus.InvalidHandle, NativeMethods.rv_session_state(handle), "the native handle is invalid at once");
        }

        /// <summary>A session whose worker is inside the handshake with a server that never answers.</summary>
        private static RealtimeSession Hanging(SilentServer server)
        {
            var s = new RealtimeSession(Config(server.Url));
            s.Connect();
            Wait.Until(() => server.Accepted > 0, null, 5000, "the worker dialled the silent server");
            Thread.Sleep(50); // now it waits for the handshake answer
            return s;
        }

        private static double Median(List<double> xs)
        {
            xs.Sort();
            return xs[xs.Count / 2];
        }

        [Test]
        public static void DisposeReturnsAtOnceWhileTheServerHangs()
        {
            using (var server = new SilentServer(false))
            {
                Hanging(server).Dispose(); // warm-up: JIT of the teardown path
                var times = new List<double>();
                for (int i = 0; i < 5; i++)
                {
                    var s = Hanging(server);
                    ulong h = s.Handle;
                    var sw = Stopwatch.StartNew();
                    s.Dispose();
                    times.Add(Ms(sw));
                    AssertDestroyed(h);
                }
                Console.WriteLine("teardown: Dispose while the server hangs: median " + Median(times).ToString("0.000") +
                                  " ms, max " + times[times.Count - 1].ToString("0.000") + " ms");
                Assert.LessOrEqual(Median(times), BoundMs, "Dispose, ms");
            }
        }

        [Test]
        public static void DisposeReturnsAtOnceWhileTheWorkerReconnects()
        {
            using (var server = new SilentServer(true))
            {
                var times = new List<double>();
                for (int i = 0; i < 5; i++)
                {
                    var s = new RealtimeSession(Config(server.Url));
                    s.Connect();
                    Wait.Until(() => s.State == RealtimeState.Reconnecting || server.Accepted > 2 * i + 1, null, 10000,
                               () => "the worker is backing off (state " + s.State + ")");
                    ulong h = s.Handle;
                    var sw = Stopwatch.StartNew();
                    s.Dispose();
                    times.Add(Ms(sw));
                    AssertDestroyed(h);
                }
                Console.WriteLine("teardown: Dispose mid-reconnect: median " + Median(times).ToString("0.000") + " ms");
                Assert.LessOrEqual(Median(times), BoundMs, "Dispose mid-reconnect, ms");
            }
        }

        [Test]
        public static void ComponentTeardownReturnsAtOnceWhileTheServerHangs()
        {
            using (var server = new SilentServer(false))
            {
                var disconnect = new List<double>();
                var disable = new List<double>();
                var destroy = new List<double>();
                for (int i = 0; i < 6; i++)
                {
                    var go = new UnityEngine.GameObject("voice");
                    var v = ComponentDeviceTests.Voice(go);
                    v.Url = server.Url;
                    Func<ulong> connect = () =>
                    {
                        int before = server.Accepted;
                        v.Connect();
                        Wait.Until(() => server.Accepted > before, null, 5000, "dialled");
                        Thread.Sleep(20);
                        return v.Session.Handle;
                    };
                    ulong h = connect();
                    var sw = Stopwatch.StartNew();
                    v.Disconnect();
                    if (i > 0) disconnect.Add(Ms(sw)); // the first round warms the JIT up
                    AssertDestroyed(h);

                    h = connect();
                    sw = Stopwatch.StartNew();
                    v.enabled = false; // OnDisable
                    if (i > 0) disable.Add(Ms(sw));
                    AssertDestroyed(h);

                    v.enabled = true;
                    h = connect();
                    sw = Stopwatch.StartNew();
                    UnityEngine.Object.Destroy(go); // OnDisable + OnDestroy
                    if (i > 0) destroy.Add(Ms(sw));
                    AssertDestroyed(h);
                }
                Console.WriteLine("teardown: component while the server hangs: Disconnect " + Median(disconnect).ToString("0.000") +
                                  " ms, OnDisable " + Median(disable).ToString("0.000") + " ms, OnDestroy " + Median(destroy).ToString("0.000") + " ms (medians of 5)");
                Assert.LessOrEqual(Median(disconnect), BoundMs, "Disconnect, ms");
                Assert.LessOrEqual(Median(disable), BoundMs, "OnDisable, ms");
                Assert.LessOrEqual(Median(destroy), BoundMs, "OnDestroy, ms");
            }
        }

        [Test]
        public static void FinalizerReleaseReturnsAtOnceWhileTheServerHangs()
        {
            using (var server = new SilentServer(false))
            {
                ulong h = 0;
                // Created and dropped on a thread that ends (Mono scans stacks conservatively).
                var t = new Thread(() => { h = Hanging(server).Handle; });
                t.Start();
                t.Join();
                long releasesBefore = SessionHandle.Releases;
                for (int i = 0; i < 200 && SessionHandle.Releases == releasesBefore; i++)
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    Thread.Sleep(5);
                }
                Assert.Greater(SessionHandle.Releases, releasesBefore, "the finalizer released the handle");
                double ms = SessionHandle.LastReleaseMs;
                Console.WriteLine("teardown: finalizer release while the server hangs: " + ms.ToString("0.000") + " ms");
                Assert.LessOrEqual(ms, BoundMs, "finalizer release, ms");
                AssertDestroyed(h);
            }
        }
    }
}
#endif
