// Helpers shared by the NUnit tests: the local Realtime servers the runner started, and
// polling until a condition holds. The same files run under Debian's NUnit (Mono, against the
// UnityEngine stub: Tests/run-mono-tests.sh) and in Unity's Test Runner (NUnit 3).
#if RV_MONO_TESTS || UNITY_INCLUDE_TESTS
using System;
using System.Diagnostics;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    public static class TestSupport
    {
        /// <summary>The local server's ws:// URL (RV_TEST_SERVER_URL), or null.</summary>
        public static string ServerUrl { get { return Environment.GetEnvironmentVariable("RV_TEST_SERVER_URL"); } }

        /// <summary>A server no other test talks to (RV_TEST_TOOL_SERVER_URL), else <see cref="ServerUrl"/>.</summary>
        public static string ToolServerUrl
        {
            get
            {
                var url = Environment.GetEnvironmentVariable("RV_TEST_TOOL_SERVER_URL");
                return string.IsNullOrEmpty(url) ? ServerUrl : url;
            }
        }

        /// <summary>
        /// A server whose every session expires a few seconds after it began (RV_TEST_EXPIRING_SERVER_URL,
        /// `--max-session-secs`): the plugin reconnects to a new server session. Null without one.
        /// </summary>
        public static string ExpiringServerUrl
        {
            get
            {
                var url = Environment.GetEnvironmentVariable("RV_TEST_EXPIRING_SERVER_URL");
                return string.IsNullOrEmpty(url) ? null : url;
            }
        }

        /// <summary>As <see cref="RequireServer"/>, for <see cref="ExpiringServerUrl"/>.</summary>
        public static void RequireExpiringServer()
        {
            RequireServer();
            if (ExpiringServerUrl != null) return;
            if (Environment.GetEnvironmentVariable("RV_REQUIRE_SERVER") == "1")
                Assert.Fail("RV_TEST_EXPIRING_SERVER_URL not set but RV_REQUIRE_SERVER=1");
            Assert.Ignore("RV_TEST_EXPIRING_SERVER_URL not set");
        }

        /// <summary>
        /// Live tests call this first: without a server they are ignored, unless the runner said a
        /// server is required (RV_REQUIRE_SERVER=1, as in CI), where a missing server fails them.
        /// </summary>
        public static void RequireServer()
        {
            if (!string.IsNullOrEmpty(ServerUrl)) return;
            if (Environment.GetEnvironmentVariable("RV_REQUIRE_SERVER") == "1")
                Assert.Fail("RV_TEST_SERVER_URL not set but RV_REQUIRE_SERVER=1");
            Assert.Ignore("RV_TEST_SERVER_URL not set");
        }
    }

    public static class Wait
    {
        /// <summary>Calls <paramref name="step"/> (e.g. session.Poll) until <paramref name="done"/> or the timeout.</summary>
        public static void Until(Func<bool> done, Action step, int timeoutMs, string what)
        {
            Until(done, step, timeoutMs, () => what);
        }

        /// <summary>As above; <paramref name="what"/> is evaluated on failure (to report what was seen).</summary>
        public static void Until(Func<bool> done, Action step, int timeoutMs, Func<string> what)
        {
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < timeoutMs)
            {
                if (step != null) step();
                if (done()) return;
                System.Threading.Thread.Sleep(10);
            }
            if (done()) return;
            Assert.Fail(what() + ": not reached within " + timeoutMs + " ms");
        }
    }
}
#endif
