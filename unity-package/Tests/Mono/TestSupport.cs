// A tiny test runner for Mono (no NUnit): runs every public static method marked [Test] in
// this assembly, prints one line per test and "N passed, N failed" last; exit code 1 on failure.
// Usage: mono RealtimeVoice.Tests.exe [name-filter]
#if RV_MONO_TESTS
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Reflection;

namespace RealtimeVoice.Tests
{
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class TestAttribute : Attribute
    {
        /// <summary>Needs the local Realtime server (RV_TEST_SERVER_URL); skipped (and counted) without it.</summary>
        public bool Live { get; set; }

        /// <summary>Lower runs first (live tests share one scripted server: the first response is the tool call).</summary>
        public int Order { get; set; }
    }

    public sealed class AssertionException : Exception
    {
        public AssertionException(string message) : base(message) { }
    }

    public static class Assert
    {
        public static void True(bool condition, string message)
        {
            if (!condition) throw new AssertionException(message);
        }

        public static void Equal<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
                throw new AssertionException(what + ": expected <" + expected + "> but got <" + actual + ">");
        }

        public static TException Throws<TException>(Action action, string what) where TException : Exception
        {
            try
            {
                action();
            }
            catch (TException e)
            {
                return e;
            }
            catch (Exception e)
            {
                throw new AssertionException(what + ": expected " + typeof(TException).Name + " but got " + e.GetType().Name + ": " + e.Message);
            }
            throw new AssertionException(what + ": expected " + typeof(TException).Name + " but nothing was thrown");
        }

        /// <summary>Calls <paramref name="step"/> (e.g. session.Poll) until <paramref name="done"/> or the timeout.</summary>
        public static void Eventually(Func<bool> done, Action step, int timeoutMs, string what)
        {
            Eventually(done, step, timeoutMs, () => what);
        }

        /// <summary>As above; <paramref name="what"/> is evaluated on failure (to report what was seen).</summary>
        public static void Eventually(Func<bool> done, Action step, int timeoutMs, Func<string> what)
        {
            var sw = Stopwatch.StartNew();
            while (sw.ElapsedMilliseconds < timeoutMs)
            {
                if (step != null) step();
                if (done()) return;
                System.Threading.Thread.Sleep(10);
            }
            if (done()) return;
            throw new AssertionException(what() + ": not reached within " + timeoutMs + " ms");
        }
    }

    public static class TestRunner
    {
        public static string ServerUrl { get { return Environment.GetEnvironmentVariable("RV_TEST_SERVER_URL"); } }

        public static int Main(string[] args)
        {
            string filter = args.Length > 0 ? args[0] : null;
            var tests = typeof(TestRunner).Assembly.GetTypes()
                .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static))
                .Where(m => m.GetCustomAttributes(typeof(TestAttribute), false).Length > 0)
                .Where(m => filter == null || (m.DeclaringType.Name + "." + m.Name).Contains(filter))
                .OrderBy(m => ((TestAttribute)m.GetCustomAttributes(typeof(TestAttribute), false)[0]).Order)
                .ThenBy(m => m.DeclaringType.Name).ThenBy(m => m.Name)
                .ToList();
            int passed = 0, failed = 0, skipped = 0;
            bool haveServer = !string.IsNullOrEmpty(ServerUrl);
            foreach (var test in tests)
            {
                string name = test.DeclaringType.Name + "." + test.Name;
                var attr = (TestAttribute)test.GetCustomAttributes(typeof(TestAttribute), false)[0];
                if (attr.Live && !haveServer)
                {
                    skipped++;
                    Console.WriteLine("SKIP " + name + " (RV_TEST_SERVER_URL not set)");
                    continue;
                }
                var sw = Stopwatch.StartNew();
                try
                {
                    test.Invoke(null, null);
                    passed++;
                    Console.WriteLine("PASS " + name + " (" + sw.ElapsedMilliseconds + " ms)");
                }
                catch (TargetInvocationException e)
                {
                    failed++;
                    var inner = e.InnerException ?? e;
                    Console.WriteLine("FAIL " + name + ": " + inner.GetType().Name + ": " + inner.Message);
                    if (!(inner is AssertionException)) Console.WriteLine(inner.StackTrace);
                }
            }
            if (skipped > 0) Console.WriteLine(skipped + " skipped");
            // Skipped live tests count as failures when the runner was told a server is required.
            if (skipped > 0 && Environment.GetEnvironmentVariable("RV_REQUIRE_SERVER") == "1") failed += skipped;
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed == 0 && tests.Count > 0 ? 0 : 1;
        }
    }
}
#endif
