// One event from rv_poll_event (docs/events.md), with typed accessors.
using System.Collections.Generic;

namespace RealtimeVoice
{
    /// <summary>The event types of docs/events.md (Unknown for types added later).</summary>
    public enum RealtimeEventKind
    {
        /// <summary>A type this version of the scripts does not know.</summary>
        Unknown,
        /// <summary>state {state, attempt?, reason?}</summary>
        State,
        /// <summary>session_ready {session_id}</summary>
        SessionReady,
        /// <summary>speech_started {item_id, audio_start_ms}</summary>
        SpeechStarted,
        /// <summary>speech_stopped {item_id, audio_end_ms}</summary>
        SpeechStopped,
        /// <summary>user_transcript {item_id, text, final}</summary>
        UserTranscript,
        /// <summary>assistant_transcript {response_id, item_id, delta | text, final}</summary>
        AssistantTranscript,
        /// <summary>response_started {response_id, metadata?}</summary>
        ResponseStarted,
        /// <summary>response_done {response_id, status, usage?, metadata?}</summary>
        ResponseDone,
        /// <summary>audio_interrupted {item_id, played_ms}</summary>
        AudioInterrupted,
        /// <summary>error {code, message, fatal}</summary>
        Error,
        /// <summary>log {level, message}</summary>
        Log,
        /// <summary>server_event {event}</summary>
        ServerEvent,
        /// <summary>conversation_item {item_id, role, kind, status}</summary>
        ConversationItem,
        /// <summary>input_timeout {item_id?}</summary>
        InputTimeout,
        /// <summary>rate_limits {limits}</summary>
        RateLimits,
        /// <summary>history_restored {items}</summary>
        HistoryRestored,
    }

    /// <summary>A parsed event. <see cref="Data"/> holds every field; the properties read the common ones.</summary>
    public sealed class RealtimeEvent
    {
        /// <summary>The event as JSON, exactly as polled.</summary>
        public string Json { get; }
        /// <summary>The "type" field.</summary>
        public string Type { get; }
        /// <summary>The type as an enum.</summary>
        public RealtimeEventKind Kind { get; }
        /// <summary>All fields.</summary>
        public Dictionary<string, object> Data { get; }

        /// <summary>Parses an event; throws <see cref="JsonException"/> if it is not a JSON object.</summary>
        public RealtimeEvent(string json)
        {
            Json = json;
            Data = global::RealtimeVoice.Json.ParseObject(json);
            Type = global::RealtimeVoice.Json.GetString(Data, "type", "");
            Kind = KindOf(Type);
        }

        /// <summary>item_id (speech, transcripts, interruptions).</summary>
        public string ItemId { get { return Str("item_id"); } }
        /// <summary>response_id.</summary>
        public string ResponseId { get { return Str("response_id"); } }
        /// <summary>session_id (session_ready).</summary>
        public string SessionId { get { return Str("session_id"); } }
        /// <summary>The transcript piece: "delta" when present, else "text".</summary>
        public string Text { get { return Str("delta") ?? Str("text"); } }
        /// <summary>True for a transcript's final (whole) text, or a fatal error.</summary>
        public bool Final { get { return global::RealtimeVoice.Json.GetBool(Data, "final"); } }
        /// <summary>error code (error events).</summary>
        public string Code { get { return Str("code"); } }
        /// <summary>error or log message.</summary>
        public string Message { get { return Str("message"); } }
        /// <summary>True when the error ends the session.</summary>
        public bool Fatal { get { return global::RealtimeVoice.Json.GetBool(Data, "fatal"); } }
        /// <summary>response status (response_done): completed, cancelled, incomplete, failed; item status (conversation_item): added, done, truncated, deleted.</summary>
        public string Status { get { return Str("status"); } }
        /// <summary>role (conversation_item): user, assistant, system, or null.</summary>
        public string Role { get { return Str("role"); } }
        /// <summary>The item's kind (conversation_item): message, function_call, function_call_output, ...</summary>
        public string ItemKind { get { return Str("kind"); } }
        /// <summary>log level.</summary>
        public string Level { get { return Str("level"); } }
        /// <summary>reason (state events).</summary>
        public string Reason { get { return Str("reason"); } }
        /// <summary>attempt number (reconnecting state), 0 when absent.</summary>
        public int Attempt { get { return (int)global::RealtimeVoice.Json.GetNumber(Data, "attempt"); } }
        /// <summary>played_ms (audio_interrupted).</summary>
        public int PlayedMs { get { return (int)global::RealtimeVoice.Json.GetNumber(Data, "played_ms"); } }
        /// <summary>audio_start_ms (speech_started).</summary>
        public int AudioStartMs { get { return (int)global::RealtimeVoice.Json.GetNumber(Data, "audio_start_ms"); } }
        /// <summary>audio_end_ms (speech_stopped).</summary>
        public int AudioEndMs { get { return (int)global::RealtimeVoice.Json.GetNumber(Data, "audio_end_ms"); } }
        /// <summary>items (history_restored): how many items were re-created on the new server session, 0 when absent.</summary>
        public int ItemCount { get { return (int)global::RealtimeVoice.Json.GetNumber(Data, "items"); } }

        /// <summary>The state of a "state" event (a name or the RvState integer), or null.</summary>
        public RealtimeState? State
        {
            get
            {
                object v;
                if (!Data.TryGetValue("state", out v)) return null;
                if (v is double)
                {
                    int i = (int)(double)v;
                    if (i >= 0 && i <= (int)RealtimeState.Failed) return (RealtimeState)i;
                    return null;
                }
                var s = v as string;
                if (s == null) return null;
                switch (s.ToLowerInvariant())
                {
                    case "idle": return RealtimeState.Idle;
                    case "connecting": return RealtimeState.Connecting;
                    case "connected": return RealtimeState.Connected;
                    case "ready": return RealtimeState.Ready;
                    case "reconnecting": return RealtimeState.Reconnecting;
                    case "closed": return RealtimeState.Closed;
                    case "failed": return RealtimeState.Failed;
                    default: return null;
                }
            }
        }

        private string Str(string key)
        {
            object v;
            if (!Data.TryGetValue(key, out v) || v == null) return null;
            var s = v as string;
            if (s != null) return s;
            // Codes may be numeric on some servers; render other scalars as JSON.
            return global::RealtimeVoice.Json.Serialize(v);
        }

        /// <summary>Maps a "type" string to its kind.</summary>
        public static RealtimeEventKind KindOf(string type)
        {
            switch (type)
            {
                case "state": return RealtimeEventKind.State;
                case "session_ready": return RealtimeEventKind.SessionReady;
                case "speech_started": return RealtimeEventKind.SpeechStarted;
                case "speech_stopped": return RealtimeEventKind.SpeechStopped;
                case "user_transcript": return RealtimeEventKind.UserTranscript;
                case "assistant_transcript": return RealtimeEventKind.AssistantTranscript;
                case "response_started": return RealtimeEventKind.ResponseStarted;
                case "response_done": return RealtimeEventKind.ResponseDone;
                case "audio_interrupted": return RealtimeEventKind.AudioInterrupted;
                case "error": return RealtimeEventKind.Error;
                case "log": return RealtimeEventKind.Log;
                case "server_event": return RealtimeEventKind.ServerEvent;
                case "conversation_item": return RealtimeEventKind.ConversationItem;
                case "input_timeout": return RealtimeEventKind.InputTimeout;
                case "rate_limits": return RealtimeEventKind.RateLimits;
                case "history_restored": return RealtimeEventKind.HistoryRestored;
                default: return RealtimeEventKind.Unknown;
            }
        }
    }
}
