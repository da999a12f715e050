// The native session handle as a SafeHandle: released exactly once, by Dispose or by the
// runtime's critical finalizer, and never on the caller's thread. rv_session_destroy joins the
// session's worker (up to ~2 s while it is mid-reconnect or the server does not answer), which
// a Unity script must never wait for: the release hands the handle to one background closer
// thread and returns at once.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;

namespace RealtimeVoice.Native
{
    /// <summary>Owns one RvSession handle (a uint64, kept in <see cref="Value"/> so 32-bit players hold it whole).</summary>
    internal sealed class SessionHandle : SafeHandle
    {
        private static readonly object s_liveLock = new object();
        private static readonly HashSet<ulong> s_live = new HashSet<ulong>();
        private long _value; // ulong stored as long for Interlocked.Read (atomic on 32-bit ARM too)

        /// <summary>Takes ownership of <paramref name="value"/> (never 0).</summary>
        public SessionHandle(ulong value) : base(IntPtr.Zero, true)
        {
            _value = (long)value;
            SetHandle(new IntPtr(1)); // "valid" marker: the real value does not fit an IntPtr on 32-bit
            lock (s_liveLock) s_live.Add(value);
        }

        private static long s_releases;
        private static long s_lastReleaseTicks;

        /// <summary>How many handles were released (Dispose or finalizer).</summary>
        public static long Releases { get { return Interlocked.Read(ref s_releases); } }

        /// <summary>How long the last release took on its thread, in ms (a teardown must stay under a frame).</summary>
        public static double LastReleaseMs
        {
            get { return Interlocked.Read(ref s_lastReleaseTicks) * 1000.0 / System.Diagnostics.Stopwatch.Frequency; }
        }

        /// <summary>Handles not released yet.</summary>
        public static int LiveCount { get { lock (s_liveLock) return s_live.Count; } }

        /// <summary>
        /// Forgets every unreleased handle and returns them, for a caller that destroys them now
        /// (their later release then destroys a dead handle: harmless, handles are never reused).
        /// </summary>
        public static ulong[] TakeAllLive()
        {
            lock (s_liveLock)
            {
                var all = new ulong[s_live.Count];
                s_live.CopyTo(all);
                s_live.Clear();
                return all;
            }
        }

        /// <summary>The native handle, 0 once released.</summary>
        public ulong Value { get { return (ulong)Interlocked.Read(ref _value); } }

        /// <inheritdoc />
        public override bool IsInvalid { get { return Value == 0; } }

        /// <summary>Runs on Dispose or on the finalizer thread: queues the native destroy, never waits.</summary>
        protected override bool ReleaseHandle()
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            ulong h = (ulong)Interlocked.Exchange(ref _value, 0);
            if (h == 0) return true;
            bool live;
            lock (s_liveLock) live = s_live.Remove(h);
            if (live) NativeCloser.Destroy(h);
            Interlocked.Exchange(ref s_lastReleaseTicks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
            Interlocked.Increment(ref s_releases);
            return true;
        }
    }

    /// <summary>
    /// Destroys native sessions on background threads (a few, so one slow close does not hold
    /// up the next), in the order they were released. <see cref="Drain"/> destroys what is still
    /// queued on the calling thread (before a domain reload, when no managed thread can be
    /// trusted to finish).
    /// </summary>
    internal static class NativeCloser
    {
        private const int MaxWorkers = 4;
        private static readonly object s_lock = new object();
        private static readonly Queue<ulong> s_pending = new Queue<ulong>();
        private static int s_workers;
        private static int s_idle;
        private static int s_inFlight;

        /// <summary>Sessions released but not destroyed yet.</summary>
        public static int Pending { get { lock (s_lock) return s_pending.Count + s_inFlight; } }

        /// <summary>Queues <paramref name="handle"/> for rv_session_destroy; returns at once.</summary>
        public static void Destroy(ulong handle)
        {
            lock (s_lock)
            {
                s_pending.Enqueue(handle);
                if (s_idle == 0 && s_workers < MaxWorkers)
                {
                    s_workers++;
                    new Thread(Run) { IsBackground = true, Name = "RealtimeVoice closer" }.Start();
                }
                Monitor.Pulse(s_lock);
            }
        }

        /// <summary>Destroys every queued session on this thread (blocking); returns how many.</summary>
        public static int Drain()
        {
            int n = 0;
            ulong h;
            while (TryTake(out h, false))
            {
                DestroyNow(h);
                lock (s_lock) s_inFlight--;
                n++;
            }
            return n;
        }

        private static bool TryTake(out ulong handle, bool wait)
        {
            lock (s_lock)
            {
                while (wait && s_pending.Count == 0)
                {
                    s_idle++;
                    Monitor.Wait(s_lock);
                    s_idle--;
                }
                if (s_pending.Count == 0)
                {
                    handle = 0;
                    return false;
                }
                handle = s_pending.Dequeue();
                s_inFlight++;
                return true;
            }
        }

        private static void Run()
        {
            while (true)
            {
                ulong h;
                TryTake(out h, true);
                DestroyNow(h);
                lock (s_lock) s_inFlight--;
            }
        }

        private static void DestroyNow(ulong h)
        {
            try
            {
                NativeMethods.rv_session_destroy(h);
            }
            catch (DllNotFoundException)
            {
                // The library went away first (process teardown): nothing left to free.
            }
            catch (EntryPointNotFoundException)
            {
            }
        }
    }
}
