// The conversation beyond text and audio: images, any client event, item deletion, and the
// events about the conversation's items, the server VAD's idle timeout and the rate limits
// (docs/c-abi.md, docs/events.md).
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
            }
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
