// P/Invoke declarations for the C ABI in include/realtime_voice.h (docs/c-abi.md).
//
// Marshalling rules, chosen so the behaviour is the same on every Mono/IL2CPP version:
// - strings going in are passed as NUL-terminated UTF-8 byte[] built by Utf8(); Mono's and
//   Unity 2019's default string marshalling is not UTF-8 on every platform;
// - strings coming out are written by the library into a byte[] we own, decoded with
//   Encoding.UTF8 using the returned length;
// - audio is a float[] owned by the caller (blittable: pinned, never copied or allocated).
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace RealtimeVoice.Native
{
    /// <summary>Status codes returned by every rv_* function (RV_OK, RV_ERR_* in the header).</summary>
    internal static class RvStatus
    {
        /// <summary>Success.</summary>
        public const int Ok = 0;
        /// <summary>Nothing to poll.</summary>
        public const int Empty = 1;
        /// <summary>A pointer, length or value is invalid.</summary>
        public const int InvalidArgument = -1;
        /// <summary>The handle is 0, unknown, or destroyed.</summary>
        public const int InvalidHandle = -2;
        /// <summary>The buffer is too small; <c>*out_len</c> holds the needed length (without the NUL).</summary>
        public const int BufferTooSmall = -3;
        /// <summary>The config JSON is invalid (the last error says which field and why).</summary>
        public const int InvalidConfig = -4;
        /// <summary>The call does not fit the session's state (e.g. not connected).</summary>
        public const int InvalidState = -5;
        /// <summary>A bounded queue is full.</summary>
        public const int QueueFull = -6;
        /// <summary>An internal error (a caught panic, a thread that could not start).</summary>
        public const int Internal = -7;

        /// <summary>The constant's name for a status code (for messages).</summary>
        public static string Name(int code)
        {
            switch (code)
            {
                case Ok: return "RV_OK";
                case Empty: return "RV_EMPTY";
                case InvalidArgument: return "RV_ERR_INVALID_ARGUMENT";
                case InvalidHandle: return "RV_ERR_INVALID_HANDLE";
                case BufferTooSmall: return "RV_ERR_BUFFER_TOO_SMALL";
                case InvalidConfig: return "RV_ERR_INVALID_CONFIG";
                case InvalidState: return "RV_ERR_INVALID_STATE";
                case QueueFull: return "RV_ERR_QUEUE_FULL";
                case Internal: return "RV_ERR_INTERNAL";
                default: return "RV_STATUS(" + code + ")";
            }
        }
    }

    /// <summary>
    /// Counters of a session: the header's RvStats, field for field (append-only: the order is
    /// the ABI). Each field's doc is the header's, and a test diffs both; the public view is
    /// <see cref="RealtimeStats"/>.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct RvStats
    {
        /// <summary>Mic frames pushed by the host.</summary>
        public ulong MicFramesIn;
        /// <summary>PCM16 bytes appended to the server.</summary>
        public ulong AudioBytesSent;
        /// <summary>Frames handed to the audio device by <c>rv_pull_playback</c>.</summary>
        public ulong PlaybackFramesOut;
        /// <summary>Pulls that ran dry while model audio was still expected.</summary>
        public ulong PlaybackUnderruns;
        /// <summary>Events and tool calls dropped because their queue was full.</summary>
        public ulong EventsDropped;
        /// <summary>Model audio buffered now, in ms.</summary>
        public uint PlaybackBufferedMs;
        /// <summary>Successful reconnects.</summary>
        public uint Reconnects;
        /// <summary>End of user speech to first model audio of the last response, ms (-1: none yet).</summary>
        public int LastResponseLatencyMs;
        /// <summary>Current <c>RvState</c>.</summary>
        public int State;
        /// <summary>PCM16 bytes of model audio received.</summary>
        public ulong AudioBytesReceived;
        /// <summary>Server events that could not be parsed.</summary>
        public ulong MalformedEvents;
        /// <summary>Model audio samples beyond the hold cap (should stay 0).</summary>
        public ulong PlaybackOverflowSamples;
        /// <summary>Responses started.</summary>
        public ulong Responses;
        /// <summary>Tool calls delivered.</summary>
        public ulong ToolCalls;
        /// <summary>Echo canceller: estimated echo delay in ms (-1: unknown or off).</summary>
        public int EchoDelayMs;
        /// <summary>Echo canceller: echo return loss enhancement in dB.</summary>
        public float EchoErleDb;
        /// <summary>Echo canceller: 1 when converged.</summary>
        public int EchoConverged;
        /// <summary>Reserved, 0.</summary>
        public int Reserved0;
        /// <summary>Times the session's worker thread woke up (socket ready, command, timer); an idle
        /// ready session wakes for its keepalive only.</summary>
        public ulong WorkerWakeups;
        /// <summary>Mic chunks dropped because the outbound queue was full (the network did not keep up).</summary>
        public ulong MicChunksDropped;
        /// <summary>Echo canceller: the far end it is given: 0 none (cancellation off), 1 the session's
        /// own playback, 2 the game's output mix (<c>rv_push_output_mix</c>, fed within 200 ms).</summary>
        public int EchoReference;
        /// <summary>Reserved, 0.</summary>
        public int Reserved1;
        /// <summary>Level (0..1, smoothed per 10 ms) of the mic audio the server is sent: after echo
        /// cancellation, what the server hears. For a UI meter.</summary>
        public float MicLevel;
        /// <summary>Level (0..1) of the model audio the device is playing now (<c>RvMouth.level</c>).</summary>
        public float OutputLevel;
    }

    /// <summary>The C ABI, one declaration per function, signatures exactly as in the header.</summary>
    internal static class NativeMethods
    {
#if UNITY_IOS && !UNITY_EDITOR
        /// <summary>iOS links the static library into the player: symbols live in the process.</summary>
        public const string Library = "__Internal";
#else
        /// <summary>realtime_voice.dll / librealtime_voice.so / librealtime_voice.dylib.</summary>
        public const string Library = "realtime_voice";
#endif

        /// <summary>const char* rv_version(void): a static string owned by the library.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr rv_version();

        /// <summary>int32_t rv_last_error(char* buf, int32_t cap, int32_t* out_len).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_last_error([Out] byte[] buf, int cap, out int outLen);

        /// <summary>int32_t rv_session_create(const char* config_json, RvSession* out).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_session_create(byte[] configJson, out ulong session);

        /// <summary>int32_t rv_session_connect(RvSession s).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_session_connect(ulong session);

        /// <summary>int32_t rv_session_close(RvSession s).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_session_close(ulong session);

        /// <summary>int32_t rv_session_destroy(RvSession s).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_session_destroy(ulong session);

        /// <summary>int32_t rv_session_state(RvSession s): &gt;= 0 is an RvState.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_session_state(ulong session);

        /// <summary>int32_t rv_push_mic(RvSession s, const float* samples, int32_t frames, int32_t channels, int32_t sample_rate).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_push_mic(ulong session, [In] float[] samples, int frames, int channels, int sampleRate);

        /// <summary>int32_t rv_send_event(RvSession s, const char* client_event_json).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_send_event(ulong session, byte[] clientEventJsonUtf8);

        /// <summary>int32_t rv_send_image(RvSession s, const uint8_t* data, int32_t len, const char* mime_type, const char* text).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_send_image(ulong session, [In] byte[] data, int len, byte[] mimeTypeUtf8, byte[] textUtf8);

        /// <summary>int32_t rv_delete_item(RvSession s, const char* item_id).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_delete_item(ulong session, byte[] itemIdUtf8);

        /// <summary>int32_t rv_push_output_mix(const float* samples, int32_t frames, int32_t channels, int32_t sample_rate).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_push_output_mix([In] float[] samples, int frames, int channels, int sampleRate);

        /// <summary>int32_t rv_pull_playback(RvSession s, float* out, int32_t frames, int32_t channels, int32_t sample_rate).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_pull_playback(ulong session, [In, Out] float[] output, int frames, int channels, int sampleRate);

        /// <summary>int32_t rv_poll_event(RvSession s, char* buf, int32_t cap, int32_t* out_len).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_poll_event(ulong session, [Out] byte[] buf, int cap, out int outLen);

        /// <summary>int32_t rv_poll_tool_call(RvSession s, char* buf, int32_t cap, int32_t* out_len).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_poll_tool_call(ulong session, [Out] byte[] buf, int cap, out int outLen);

        /// <summary>int32_t rv_submit_tool_result(RvSession s, const char* call_id, const char* output).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_submit_tool_result(ulong session, byte[] callId, byte[] output);

        /// <summary>int32_t rv_send_text(RvSession s, const char* text).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_send_text(ulong session, byte[] text);

        /// <summary>int32_t rv_update_session(RvSession s, const char* session_json).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_update_session(ulong session, byte[] sessionJson);

        /// <summary>int32_t rv_commit_audio(RvSession s).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_commit_audio(ulong session);

        /// <summary>int32_t rv_clear_audio(RvSession s).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_clear_audio(ulong session);

        /// <summary>int32_t rv_create_response(RvSession s, const char* response_json): null passes NULL.</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_create_response(ulong session, byte[] responseJson);

        /// <summary>int32_t rv_cancel_response(RvSession s).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_cancel_response(ulong session);

        /// <summary>int32_t rv_get_stats(RvSession s, RvStats* out).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_get_stats(ulong session, out RvStats stats);

        /// <summary>int32_t rv_get_mouth(RvSession s, RvMouth* out).</summary>
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        public static extern int rv_get_mouth(ulong session, out RealtimeMouth mouth);

        // ---- helpers ----

        /// <summary>NUL-terminated UTF-8 bytes of <paramref name="s"/>; null stays null (a NULL pointer).</summary>
        public static byte[] Utf8(string s)
        {
            if (s == null) return null;
            int n = Encoding.UTF8.GetByteCount(s);
            var bytes = new byte[n + 1]; // last byte stays 0: the terminator
            Encoding.UTF8.GetBytes(s, 0, s.Length, bytes, 0);
            return bytes;
        }

        /// <summary>Decodes a NUL-terminated UTF-8 string at <paramref name="ptr"/> (null for IntPtr.Zero).</summary>
        public static string PtrToUtf8(IntPtr ptr)
        {
            if (ptr == IntPtr.Zero) return null;
            int len = 0;
            while (Marshal.ReadByte(ptr, len) != 0) len++;
            var bytes = new byte[len];
            Marshal.Copy(ptr, bytes, 0, len);
            return Encoding.UTF8.GetString(bytes);
        }

        /// <summary>The library's version string (rv_version).</summary>
        public static string Version()
        {
            return PtrToUtf8(rv_version());
        }

        /// <summary>This thread's last error message (empty when there is none).</summary>
        public static string LastError()
        {
            var buf = new byte[512];
            for (int attempt = 0; attempt < 4; attempt++)
            {
                int len;
                int rc = rv_last_error(buf, buf.Length, out len);
                if (rc == RvStatus.Ok) return Encoding.UTF8.GetString(buf, 0, Math.Max(0, Math.Min(len, buf.Length)));
                if (rc == RvStatus.BufferTooSmall && len >= buf.Length && len < (1 << 24))
                {
                    buf = new byte[len + 1];
                    continue;
                }
                return string.Empty;
            }
            return string.Empty;
        }
    }
}
