// RealtimeSession through P/Invoke against the real native library, without a server.
#if RV_MONO_TESTS || UNITY_INCLUDE_TESTS
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using RealtimeVoice.Native;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class NativeSessionTests
    {
        // Loopback ws:// needs no credential and opens no connection until Connect.
        internal const string OfflineConfig = "{\"url\":\"ws://127.0.0.1:9/v1/realtime\"}";

        [Test]
        public static void VersionIsASemver()
        {
            string v = RealtimeSession.NativeVersion;
            Assert.IsTrue(v != null && Regex.IsMatch(v, @"^\d+\.\d+\.\d+"), "rv_version: " + v);
        }

        [Test]
        public static void StatsStructMatchesTheHeaderLayout()
        {
            // 10 x u64, 4 x u32/i32 after the first five, then i32 f32 i32 i32: 112 bytes, no padding.
            // Append-only: later fields make it larger, never move these (HeaderMirrorTests diffs every field).
            Assert.IsTrue(Marshal.SizeOf(typeof(RvStats)) >= 112, "sizeof(RvStats)");
            Assert.AreEqual(40, (int)Marshal.OffsetOf(typeof(RvStats), "PlaybackBufferedMs"), "offset of playback_buffered_ms");
            Assert.AreEqual(56, (int)Marshal.OffsetOf(typeof(RvStats), "AudioBytesReceived"), "offset of audio_bytes_received");
            Assert.AreEqual(96, (int)Marshal.OffsetOf(typeof(RvStats), "EchoDelayMs"), "offset of echo_delay_ms");
        }

        [Test]
        public static void InvalidConfigThrowsWithCodeAndMessageButNoSecret()
        {
            var e = Assert.Catch<RealtimeException>(
                () => new RealtimeSession("{\"url\":\"ws://127.0.0.1:9/v1/realtime\",\"api_key\":\"sk-test-SECRET-42\",\"modle\":\"x\"}"),
                "unknown key");
            Assert.AreEqual(RvStatus.InvalidConfig, e.Code, "status code");
            Assert.IsTrue(e.Message.Contains("modle"), "the message names the bad key: " + e.Message);
            Assert.IsTrue(!e.Message.Contains("SECRET-42"), "the message never quotes the key: " + e.Message);

            var notJson = Assert.Catch<RealtimeException>(() => new RealtimeSession("{not json"), "not JSON");
            Assert.IsTrue(notJson.Code == RvStatus.InvalidConfig || notJson.Code == RvStatus.InvalidArgument, "code " + notJson.Code);

            var remotePlain = Assert.Catch<RealtimeException>(
                () => new RealtimeSession("{\"url\":\"ws://example.com/v1/realtime\",\"api_key\":\"sk-x\"}"), "plain ws to a remote host");
            Assert.AreEqual(RvStatus.InvalidConfig, remotePlain.Code, "ws:// only to loopback");
        }

        [Test]
        public static void EchoCancellationKeyIsAcceptedNativelyAndTypeChecked()
        {
            foreach (var on in new[] { true, false })
            {
                var json = new RealtimeConfig { Url = "ws://127.0.0.1:9/v1/realtime", EchoCancellation = on }.ToJson();
                Assert.IsTrue(json.Contains("\"echo_cancellation\":" + (on ? "true" : "false")), "serialized: " + json);
                using (var s = new RealtimeSession(json))
                    Assert.AreEqual(RealtimeState.Idle, s.State, "created with echo_cancellation " + on);
            }
            var unset = new RealtimeConfig { Url = "ws://127.0.0.1:9/v1/realtime" }.ToJson();
            Assert.IsTrue(!unset.Contains("echo_cancellation"), "left to the native default when unset: " + unset);
            var wrongType = Assert.Catch<RealtimeException>(
                () => new RealtimeSession("{\"url\":\"ws://127.0.0.1:9/v1/realtime\",\"echo_cancellation\":\"yes\"}"),
                "a string is not a bool");
            Assert.AreEqual(RvStatus.InvalidConfig, wrongType.Code, "status code");
            Assert.IsTrue(wrongType.Message.Contains("echo_cancellation"), "the message names the key: " + wrongType.Message);
        }

        [Test]
        public static void Utf8StringsCrossTheBoundary()
        {
            // Non-ASCII instructions must arrive as UTF-8 (Mono's default marshalling may not be).
            string config = "{\"url\":\"ws://127.0.0.1:9/v1/realtime\",\"session\":{\"instructions\":\"Parle français, 日本語も 😀\"}}";
            using (var s = new RealtimeSession(config))
            {
                Assert.AreEqual(RealtimeState.Idle, s.State, "new session is idle");
                s.UpdateSession("{\"instructions\":\"Ünïcödé ✓\"}");
                var e = Assert.Catch<RealtimeException>(() => s.UpdateSession("{\"instructions\":"), "invalid session JSON");
                Assert.IsTrue(e.Code < 0, "negative status");
            }
        }

        [Test]
        public static void DisposeIsIdempotentAndMakesEveryCallSafe()
        {
            var s = new RealtimeSession(OfflineConfig);
            ulong handle = s.Handle;
            Assert.IsTrue(handle != 0, "handle assigned");
            s.Dispose();
            s.Dispose();
            Assert.IsTrue(s.IsDisposed, "disposed");
            Assert.AreEqual(RealtimeState.Closed, s.State, "state after dispose");
            // The handle is invalid at once; the library finishes closing on its own thread.
            Assert.AreEqual(RvStatus.InvalidHandle, NativeMethods.rv_session_state(handle), "destroyed handle is invalid natively");
            Assert.AreEqual(0, s.Poll(), "poll after dispose");
            s.Close(); // no-op
            var buf = new float[960];
            for (int i = 0; i < buf.Length; i++) buf[i] = 1f;
            Assert.AreEqual(0, s.PullPlayback(buf, 480, 2, 48000), "pull after dispose");
            foreach (var x in buf) Assert.IsTrue(x == 0f, "silence after dispose");
            Assert.Catch<ObjectDisposedException>(() => s.SendText("hi"), "SendText after dispose");
            Assert.AreEqual(RvStatus.InvalidHandle, s.TryPushMic(buf, 480, 2, 48000), "push after dispose");
        }

        [Test]
        public static void PullPlaybackNeverThrowsOnBadSizes()
        {
            using (var s = new RealtimeSession(OfflineConfig))
            {
                var buf = new float[100];
                for (int i = 0; i < buf.Length; i++) buf[i] = 0.5f;
                Assert.AreEqual(0, s.PullPlayback(buf, 480, 2, 48000), "frames beyond the buffer");
                foreach (var x in buf) Assert.IsTrue(x == 0f, "cleared instead of overrun");
                Assert.AreEqual(0, s.PullPlayback(buf, 10, 0, 48000), "zero channels");
                Assert.AreEqual(0, s.PullPlayback(null, 10, 2, 48000), "null buffer");
                for (int i = 0; i < buf.Length; i++) buf[i] = 0.5f;
                int frames = s.PullPlayback(buf, 50, 2, 48000);
                Assert.AreEqual(0, frames, "no model audio before connecting");
                foreach (var x in buf) Assert.IsTrue(x == 0f, "the native side fills silence");
                Assert.Catch<ArgumentException>(() => s.PushMic(buf, 200, 1, 48000), "push beyond the buffer");
            }
        }

        [Test]
        public static void AudioCallbackPathDoesNotAllocate()
        {
            using (var s = new RealtimeSession(OfflineConfig))
            {
                var data = new float[1024 * 2];
                var mic = new float[480];
                for (int i = 0; i < 100; i++) s.PullPlayback(data, 1024, 2, 48000); // warm up (JIT, wrappers)
                var disposed = new RealtimeSession(OfflineConfig);
                disposed.Dispose();
                disposed.PullPlayback(data, 1024, 2, 48000);
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 10000; i++)
                {
                    s.PullPlayback(data, 1024, 2, 48000);
                    disposed.PullPlayback(data, 1024, 2, 48000); // the after-OnDestroy case
                }
                long pulled = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.AreEqual(0L, pulled, "bytes allocated by 20000 PullPlayback calls");
                s.TryPushMic(mic, 480, 1, 48000);
                before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 1000; i++) s.TryPushMic(mic, 480, 1, 48000);
                Assert.AreEqual(0L, GC.GetAllocatedBytesForCurrentThread() - before, "bytes allocated by 1000 TryPushMic calls");
            }
        }

        [Test]
        public static void HandlesAreUniqueAndNeverReused()
        {
            var seen = new HashSet<ulong>();
            for (int i = 0; i < 5; i++)
            {
                using (var s = new RealtimeSession(OfflineConfig))
                {
                    Assert.IsTrue(seen.Add(s.Handle), "handle " + s.Handle + " is new");
                }
            }
        }

        [Test]
        public static void FinalizerDestroysAForgottenSession()
        {
            ulong handle = CreateAndForget();
            Assert.IsTrue(NativeMethods.rv_session_state(handle) >= 0, "alive before collection");
            for (int i = 0; i < 200 && NativeMethods.rv_session_state(handle) >= 0; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                System.Threading.Thread.Sleep(10); // the finalizer thread runs on its own schedule
            }
            Assert.AreEqual(RvStatus.InvalidHandle, NativeMethods.rv_session_state(handle), "destroyed by the finalizer");
        }

        private static ulong CreateAndForget()
        {
            // Created on a thread that then ends: Mono scans stacks conservatively, and a stale
            // slot on this thread's stack could keep the object alive.
            ulong handle = 0;
            var t = new System.Threading.Thread(() => { handle = new RealtimeSession(OfflineConfig).Handle; });
            t.Start();
            t.Join();
            return handle;
        }

        [Test]
        public static void DestroyAllDestroysLiveSessions()
        {
            var a = new RealtimeSession(OfflineConfig);
            var b = new RealtimeSession(OfflineConfig);
            ulong ha = a.Handle, hb = b.Handle;
            int n = RealtimeSession.DestroyAll();
            Assert.IsTrue(n >= 2, "destroyed " + n);
            Assert.AreEqual(RvStatus.InvalidHandle, NativeMethods.rv_session_state(ha), "a destroyed");
            Assert.AreEqual(RvStatus.InvalidHandle, NativeMethods.rv_session_state(hb), "b destroyed");
            Assert.AreEqual(RealtimeState.Closed, a.State, "wrapper sees Closed");
            a.Dispose(); // destroying an already destroyed handle is harmless
            b.Dispose();
        }

        [Test]
        public static void ToolsRegisteredBeforeConnectAreAcceptedByTheNativeSession()
        {
            using (var s = new RealtimeSession(OfflineConfig))
            {
                s.RegisterTools(new SampleTools());
                s.RegisterTool("echo", "Echo.", "{\"type\":\"object\",\"properties\":{}}", a => a);
                s.FlushTools(); // rv_update_session({"tools":[...],"tool_choice":"auto"})
                Assert.AreEqual(5, s.Tools.Count, "five tools");
                Assert.AreEqual(0, s.Poll(), "nothing queued before connect");
            }
        }

        [Test]
        public static void LastErrorIsReadableAfterAFailure()
        {
            ulong h;
            int rc = NativeMethods.rv_session_create(NativeMethods.Utf8("{\"bogus\":1}"), out h);
            Assert.AreEqual(RvStatus.InvalidConfig, rc, "rejected");
            string message = NativeMethods.LastError();
            Assert.IsTrue(message.Contains("bogus"), "rv_last_error names the key: " + message);
            int len;
            var small = new byte[4];
            rc = NativeMethods.rv_last_error(small, small.Length, out len);
            Assert.AreEqual(RvStatus.BufferTooSmall, rc, "small buffer");
            Assert.IsTrue(len > 4, "needed length reported: " + len);
        }
    }
}
#endif
