// The public, read-only view of a session's counters (the native RvStats, copied).
namespace RealtimeVoice
{
    /// <summary>
    /// A session's counters at one moment (<see cref="RealtimeSession.GetStats"/>). One property per
    /// field of the native RvStats, same name and type (a test checks none is missing).
    /// </summary>
    public struct RealtimeStats
    {
        private readonly Native.RvStats _raw;

        internal RealtimeStats(Native.RvStats raw)
        {
            _raw = raw;
        }

        /// <summary>Mic frames pushed by the host.</summary>
        public ulong MicFramesIn { get { return _raw.MicFramesIn; } }
        /// <summary>PCM16 bytes appended to the server.</summary>
        public ulong AudioBytesSent { get { return _raw.AudioBytesSent; } }
        /// <summary>Frames handed to the audio device by <c>rv_pull_playback</c>.</summary>
        public ulong PlaybackFramesOut { get { return _raw.PlaybackFramesOut; } }
        /// <summary>Pulls that ran dry while model audio was still expected.</summary>
        public ulong PlaybackUnderruns { get { return _raw.PlaybackUnderruns; } }
        /// <summary>Events and tool calls dropped because their queue was full.</summary>
        public ulong EventsDropped { get { return _raw.EventsDropped; } }
        /// <summary>Model audio buffered now, in ms.</summary>
        public uint PlaybackBufferedMs { get { return _raw.PlaybackBufferedMs; } }
        /// <summary>Successful reconnects.</summary>
        public uint Reconnects { get { return _raw.Reconnects; } }
        /// <summary>End of user speech to first model audio of the last response, ms (-1: none yet).</summary>
        public int LastResponseLatencyMs { get { return _raw.LastResponseLatencyMs; } }
        /// <summary>Current <c>RvState</c>.</summary>
        public int State { get { return _raw.State; } }
        /// <summary>PCM16 bytes of model audio received.</summary>
        public ulong AudioBytesReceived { get { return _raw.AudioBytesReceived; } }
        /// <summary>Server events that could not be parsed.</summary>
        public ulong MalformedEvents { get { return _raw.MalformedEvents; } }
        /// <summary>Model audio samples beyond the hold cap (should stay 0).</summary>
        public ulong PlaybackOverflowSamples { get { return _raw.PlaybackOverflowSamples; } }
        /// <summary>Responses started.</summary>
        public ulong Responses { get { return _raw.Responses; } }
        /// <summary>Tool calls delivered.</summary>
        public ulong ToolCalls { get { return _raw.ToolCalls; } }
        /// <summary>Echo canceller: estimated echo delay in ms (-1: unknown or off).</summary>
        public int EchoDelayMs { get { return _raw.EchoDelayMs; } }
        /// <summary>Echo canceller: echo return loss enhancement in dB.</summary>
        public float EchoErleDb { get { return _raw.EchoErleDb; } }
        /// <summary>Echo canceller: 1 when converged.</summary>
        public int EchoConverged { get { return _raw.EchoConverged; } }
        /// <summary>Reserved, 0.</summary>
        public int Reserved0 { get { return _raw.Reserved0; } }
        /// <summary>Times the session's worker thread woke up (socket ready, command, timer); an idle
        /// ready session wakes for its keepalive only.</summary>
        public ulong WorkerWakeups { get { return _raw.WorkerWakeups; } }
        /// <summary>Mic chunks dropped because the outbound queue was full (the network did not keep up).</summary>
        public ulong MicChunksDropped { get { return _raw.MicChunksDropped; } }
        /// <summary>Echo canceller: the far end it is given: 0 none (cancellation off), 1 the session's
        /// own playback, 2 the game's output mix (<c>rv_push_output_mix</c>, fed within 200 ms).</summary>
        public int EchoReference { get { return _raw.EchoReference; } }
        /// <summary>Reserved, 0.</summary>
        public int Reserved1 { get { return _raw.Reserved1; } }
        /// <summary>Level (0..1, smoothed per 10 ms) of the mic audio the server is sent: after echo
        /// cancellation, what the server hears. For a UI meter.</summary>
        public float MicLevel { get { return _raw.MicLevel; } }
        /// <summary>Level (0..1) of the model audio the device is playing now (<c>RvMouth.level</c>).</summary>
        public float OutputLevel { get { return _raw.OutputLevel; } }

        /// <summary>The session state the counters were read in.</summary>
        public RealtimeState SessionState { get { return (RealtimeState)_raw.State; } }
    }
}
