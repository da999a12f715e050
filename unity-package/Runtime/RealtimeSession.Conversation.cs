// The conversation beyond text and audio: images, any client event, item deletion, and the
// events about the conversation's items, the server VAD's idle timeout, the rate limits, the
// history restored after a reconnect and the responses' metadata (docs/c-abi.md, docs/events.md).
using System;
using System.Collections.Generic;
using RealtimeVoice.Native;

namespace RealtimeVoice
{
    /// <summary>One entry of a rate_limits event (the server's rate_limits array, verbatim).</summary>
    public sealed class RealtimeRateLimit
    {
        /// <summary>"requests" or "tokens".</summary>
        public string Name { get; internal set; }
        /// <summary>The maximum allowed (0 when the server did not say).</summary>
        public double Limit { get; internal set; }
        /// <summary>What remains before the limit is reached.</summary>
        public double Remaining { get; internal set; }
        /// <summary>Seconds until the limit resets.</summary>
        public double ResetSeconds { get; internal set; }
    }

    /// <summary>
    /// A response that started (response_started) or finished (response_done), with the metadata the
    /// request gave it: what tells an out-of-band response (CreateResponse with
    /// {"conversation":"none","metadata":{...}}) from the conversation's own.
    /// </summary>
    public sealed class RealtimeResponse
    {
        private static readonly IDictionary<string, string> NoMetadata =
            new System.Collections.ObjectModel.ReadOnlyDictionary<string, string>(new Dictionary<string, string>());

        /// <summary>The response id.</summary>
        public string ResponseId { get; internal set; }
        /// <summary>False when it started, true when it finished.</summary>
        public bool Done { get; internal set; }
        /// <summary>How it finished (completed, cancelled, incomplete, failed); null when it started.</summary>
        public string Status { get; internal set; }
        /// <summary>
        /// The response's metadata, key to value (read-only; empty when it had none). The API's metadata
        /// values are strings; any other value is given as its JSON.
        /// </summary>
        public IDictionary<string, string> Metadata { get; internal set; }
        /// <summary>The metadata object as JSON, or null when the response had none.</summary>
        public string MetadataJson { get; internal set; }
        /// <summary>The event's JSON as polled.</summary>
        public string Json { get; internal set; }

        /// <summary>Reads a response_started or response_done event (null for any other kind).</summary>
        public static RealtimeResponse From(RealtimeEvent ev)
        {
            if (ev == null) throw new ArgumentNullException("ev");
            bool done = ev.Kind == RealtimeEventKind.ResponseDone;
            if (!done && ev.Kind != RealtimeEventKind.ResponseStarted) return null;
            var response = new RealtimeResponse
            {
                ResponseId = ev.ResponseId,
                Done = done,
                Status = done ? ev.Status : null,
                Metadata = NoMetadata,
                Json = ev.Json,
            };
            object raw;
            var metadata = ev.Data.TryGetValue("metadata", out raw) ? raw as Dictionary<string, object> : null;
            if (metadata != null)
            {
                var entries = new Dictionary<string, string>(metadata.Count);
                foreach (var kv in metadata)
                {
                    var text = kv.Value as string;
                    entries[kv.Key] = text ?? global::RealtimeVoice.Json.Serialize(kv.Value);
                }
                response.Metadata = new System.Collections.ObjectModel.ReadOnlyDictionary<string, string>(entries);
                response.MetadataJson = global::RealtimeVoice.Json.Serialize(metadata);
            }
            return response;
        }
    }

    public sealed partial class RealtimeSession
    {
        /// <summary>The largest image <see cref="SendImage"/> takes (4 MiB, the native limit).</summary>
        public const int MaxImageBytes = 4 * 1024 * 1024;

        /// <summary>
        /// An item the conversation gained or lost: the conversation_item event's JSON
        /// ({item_id, role, kind, status: added | done | truncated | deleted}).
        /// </summary>
        public event Action<string> ItemChanged;
        /// <summary>Server VAD's idle timeout fired (the item id, or null when the server gave none).</summary>
        public event Action<string> InputTimeout;
        /// <summary>The server's rate limits changed (rate_limits event).</summary>
        public event Action<IList<RealtimeRateLimit>> RateLimitsUpdated;
        /// <summary>
        /// After a reconnect that landed on a new server session, this many items of the conversation
        /// were re-created on it (history_restored), before any audio or command sent since.
        /// </summary>
        public event Action<int> HistoryRestored;
        /// <summary>
        /// A response started or finished, with its metadata (raised after <see cref="ResponseStarted"/>
        /// or <see cref="ResponseDone"/>, even when their subscriber threw).
        /// </summary>
        public event Action<RealtimeResponse> ResponseChanged;

        /// <summary>
        /// Adds a user message with an image (and, when <paramref name="text"/> is not null, a text part
        /// before it). <paramref name="mimeType"/> is "image/png" or "image/jpeg" and the bytes must be
        /// that format; 1 byte to <see cref="MaxImageBytes"/>. No response is asked for: the model sees
        /// the image in its next response (call <see cref="CreateResponse"/> to have one now).
        /// </summary>
        /// <exception cref="RealtimeException">Refused (RV_ERR_INVALID_ARGUMENT: wrong format, size or mime
        /// type; nothing sent), or the session is not connected (RV_ERR_INVALID_STATE).</exception>
        public void SendImage(byte[] bytes, string mimeType, string text = null)
        {
            if (bytes == null) throw new ArgumentNullException("bytes");
            if (mimeType == null) throw new ArgumentNullException("mimeType");
            Check(NativeMethods.rv_send_image(RequireHandle(), bytes, bytes.Length, NativeMethods.Utf8(mimeType), NativeMethods.Utf8(text)));
        }

        /// <summary>
        /// Sends any client event, verbatim, in order with everything else the session sends: the
        /// escape hatch for what the API has and this wrapper does not.
        /// </summary>
        /// <exception cref="RealtimeException">Not a JSON object with a non-empty string "type"
        /// (RV_ERR_INVALID_ARGUMENT, nothing sent), or the session is not connected.</exception>
        public void SendEvent(string clientEventJson)
        {
            if (clientEventJson == null) throw new ArgumentNullException("clientEventJson");
            Check(NativeMethods.rv_send_event(RequireHandle(), NativeMethods.Utf8(clientEventJson)));
        }

        /// <summary>Removes an item from the conversation (conversation.item.delete).</summary>
        /// <exception cref="RealtimeException">An empty id (RV_ERR_INVALID_ARGUMENT), or the session is not connected.</exception>
        public void DeleteItem(string itemId)
        {
            if (itemId == null) throw new ArgumentNullException("itemId");
            Check(NativeMethods.rv_delete_item(RequireHandle(), NativeMethods.Utf8(itemId)));
        }

        /// <summary>Raises the typed events of the kinds this file owns (called from DispatchEvent).</summary>
        private void DispatchConversationEvent(RealtimeEvent ev)
        {
            switch (ev.Kind)
            {
                case RealtimeEventKind.ConversationItem:
                    if (ItemChanged != null) ItemChanged(ev.Json);
                    break;
                case RealtimeEventKind.InputTimeout:
                    if (InputTimeout != null) InputTimeout(ev.ItemId);
                    break;
                case RealtimeEventKind.RateLimits:
                    if (RateLimitsUpdated != null) RateLimitsUpdated(RateLimitsOf(ev));
                    break;
                case RealtimeEventKind.HistoryRestored:
                    if (HistoryRestored != null) HistoryRestored(ev.ItemCount);
                    break;
            }
        }

        /// <summary>Raises ResponseChanged for a response event (called from DispatchEvent); never throws.</summary>
        private void RaiseResponseChanged(RealtimeEvent ev)
        {
            var handler = ResponseChanged;
            if (handler == null) return;
            try { handler(RealtimeResponse.From(ev)); } catch (Exception e) { RaiseListenerException(e); }
        }

        private static IList<RealtimeRateLimit> RateLimitsOf(RealtimeEvent ev)
        {
            var limits = new List<RealtimeRateLimit>();
            object raw;
            if (!ev.Data.TryGetValue("limits", out raw) || !(raw is List<object>)) return limits.AsReadOnly();
            foreach (var entry in (List<object>)raw)
            {
                var o = entry as Dictionary<string, object>;
                if (o == null) continue;
                limits.Add(new RealtimeRateLimit
                {
                    Name = Json.GetString(o, "name", ""),
                    Limit = Json.GetNumber(o, "limit"),
                    Remaining = Json.GetNumber(o, "remaining"),
                    ResetSeconds = Json.GetNumber(o, "reset_seconds"),
                });
            }
            return limits.AsReadOnly();
        }
    }
}
