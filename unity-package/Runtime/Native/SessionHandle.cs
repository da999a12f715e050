// The native session handle as a SafeHandle: released exactly once, by Dispose or by the
// runtime's critical finalizer. rv_session_destroy returns at once (the native worker finishes
// closing on its own thread), so a release never blocks a Unity thread; TeardownTests measures it
// while the server does not answer.
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

        /// <summary>Runs on Dispose or on the finalizer thread: destroys the native session (returns at once).</summary>
        protected override bool ReleaseHandle()
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            ulong h = (ulong)Interlocked.Exchange(ref _value, 0);
            if (h == 0) return true;
            bool live;
            lock (s_liveLock) live = s_live.Remove(h);
            if (live) DestroyNative(h);
            Interlocked.Exchange(ref s_lastReleaseTicks, System.Diagnostics.Stopwatch.GetTimestamp() - start);
            Interlocked.Increment(ref s_releases);
            return true;
        }

        /// <summary>rv_session_destroy, tolerating a library already gone (process teardown).</summary>
        internal static void DestroyNative(ulong h)
        {
            try
            {
                NativeMethods.rv_session_destroy(h);
            }
            catch (DllNotFoundException)
            {
                // The library went away first: nothing left to free.
            }
            catch (EntryPointNotFoundException)
            {
            }
        }
    }
}
