// SendImage, SendEvent and DeleteItem through the real library (refusals offline; what the
// local server receives when connected), and the typed events of conversation items, the
// server VAD's idle timeout, the rate limits, the history restored after a reconnect (live: a
// server whose sessions expire) and the responses' metadata (live: an out-of-band response).
#if RV_MONO_TESTS || UNITY_INCLUDE_TESTS
using System;
using System.Collections.Generic;
using RealtimeVoice.Native;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class ConversationTests
    {
        /// <summary>A real 1x1 PNG.</summary>
        internal static readonly byte[] Png = Convert.FromBase64String(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==");

        private static int CodeOf(TestDelegate call)
        {
            var e = Assert.Throws<RealtimeException>(call);
            return e.Code;
        }

        [Test]
        public static void BadImagesEventsAndItemIdsAreRefusedWithInvalidArgument()
        {
            using (var s = new RealtimeSession(NativeSessionTests.OfflineConfig))
            {
                Assert.AreEqual(RvStatus.InvalidArgument, CodeOf(() => s.SendImage(Png, "image/jpeg")), "PNG bytes named JPEG");
                Assert.AreEqual(RvStatus.InvalidArgument, CodeOf(() => s.SendImage(Png, "image/gif")), "unsupported mime type");
                Assert.AreEqual(RvStatus.InvalidArgument, CodeOf(() => s.SendImage(new byte[0], "image/png")), "empty image");
                var huge = new byte[RealtimeSession.MaxImageBytes + 1];
                Array.Copy(Png, huge, Png.Length);
                Assert.AreEqual(RvStatus.InvalidArgument, CodeOf(() => s.SendImage(huge, "image/png")), "over 4 MiB");
                var e = Assert.Throws<RealtimeException>(() => s.SendImage(Png, "image/gif"));
                StringAssert.Contains("image/gif", e.Message, "the message says what was wrong");
                Assert.Throws<ArgumentNullException>(() => s.SendImage(null, "image/png"));
                Assert.Throws<ArgumentNullException>(() => s.SendImage(Png, null));

                foreach (var bad in new[] { "[1]", "{}", "{\"type\":\"\"}", "{\"type\":3}", "not json" })
                    Assert.AreEqual(RvStatus.InvalidArgument, CodeOf(() => s.SendEvent(bad)), "client event " + bad);
                Assert.Throws<ArgumentNullException>(() => s.SendEvent(null));
                Assert.AreEqual(RvStatus.InvalidArgument, CodeOf(() => s.DeleteItem("")), "empty item id");

                // Well-formed, but there is no connection to send them on.
                Assert.AreEqual(RvStatus.InvalidState, CodeOf(() => s.SendImage(Png, "image/png", "what is this?")), "not connected");
                Assert.AreEqual(RvStatus.InvalidState, CodeOf(() => s.SendEvent("{\"type\":\"response.create\"}")), "not connected");
                Assert.AreEqual(RvStatus.InvalidState, CodeOf(() => s.DeleteItem("item_1")), "not connected");
                s.Dispose();
                Assert.Throws<ObjectDisposedException>(() => s.SendImage(Png, "image/png"));
                Assert.Throws<ObjectDisposedException>(() => s.SendEvent("{\"type\":\"response.create\"}"));
                Assert.Throws<ObjectDisposedException>(() => s.DeleteItem("item_1"));
            }
        }

        [Test]
        public static void ItemTimeoutAndRateLimitEventsAreTyped()
        {
            using (var s = new RealtimeSession(NativeSessionTests.OfflineConfig))
            {
                var items = new List<string>();
                var kinds = new List<RealtimeEventKind>();
                var timeouts = new List<string>();
                IList<RealtimeRateLimit> limits = null;
                s.ItemChanged += json => items.Add(json);
                s.Event += ev => kinds.Add(ev.Kind);
                s.InputTimeout += id => timeouts.Add(id ?? "(none)");
                s.RateLimitsUpdated += l => limits = l;
                const string added = "{\"type\":\"conversation_item\",\"item_id\":\"item_7\",\"role\":\"user\",\"kind\":\"message\",\"status\":\"added\"}";
                s.DispatchEvent(added);
                s.DispatchEvent("{\"type\":\"input_timeout\",\"item_id\":\"item_8\"}");
                s.DispatchEvent("{\"type\":\"input_timeout\"}");
                s.DispatchEvent("{\"type\":\"rate_limits\",\"limits\":[{\"name\":\"requests\",\"limit\":1000,\"remaining\":999,\"reset_seconds\":0.06}," +
                                "{\"name\":\"tokens\",\"limit\":50000,\"remaining\":49000,\"reset_seconds\":1.2}]}");
                Assert.AreEqual(new[] { added }, items.ToArray(), "ItemChanged gets the event's JSON");
                var item = new RealtimeEvent(added);
                Assert.AreEqual("user", item.Role);
                Assert.AreEqual("message", item.ItemKind);
                Assert.AreEqual("added", item.Status);
                Assert.AreEqual("item_7", item.ItemId);
                Assert.AreEqual(new[] { RealtimeEventKind.ConversationItem, RealtimeEventKind.InputTimeout, RealtimeEventKind.InputTimeout, RealtimeEventKind.RateLimits },
                                kinds.ToArray());
                Assert.AreEqual("item_8,(none)", string.Join(",", timeouts.ToArray()));
                Assert.AreEqual(2, limits.Count);
                Assert.AreEqual("requests", limits[0].Name);
                Assert.AreEqual(999.0, limits[0].Remaining);
                Assert.AreEqual(50000.0, limits[1].Limit);
                Assert.AreEqual(1.2, limits[1].ResetSeconds, 1e-9);
            }
        }

        [Test]
        public static void HistoryRestoredAndResponseMetadataAreTyped()
        {
            using (var s = new RealtimeSession(NativeSessionTests.OfflineConfig))
            {
                var restored = new List<int>();
                var kinds = new List<RealtimeEventKind>();
                var responses = new List<RealtimeResponse>();
                var listenerErrors = new List<Exception>();
                s.HistoryRestored += n => restored.Add(n);
                s.Event += ev => kinds.Add(ev.Kind);
                s.ResponseChanged += r => responses.Add(r);
                s.ListenerException += e => listenerErrors.Add(e);
                s.DispatchEvent("{\"type\":\"history_restored\",\"items\":3}");
                Assert.AreEqual(new[] { 3 }, restored.ToArray());
                Assert.AreEqual(RealtimeEventKind.HistoryRestored, kinds[0]);
                Assert.AreEqual(3, new RealtimeEvent("{\"type\":\"history_restored\",\"items\":3}").ItemCount);

                // The one that throws does not keep ResponseChanged from its subscribers.
                s.ResponseStarted += id => { throw new InvalidOperationException("subscriber bug"); };
                const string started = "{\"type\":\"response_started\",\"response_id\":\"r_a\",\"metadata\":{\"topic\":\"mood\",\"n\":2}}";
                s.DispatchEvent(started);
                s.DispatchEvent("{\"type\":\"response_done\",\"response_id\":\"r_a\",\"status\":\"completed\",\"usage\":{},\"metadata\":{\"topic\":\"mood\",\"n\":2}}");
                s.DispatchEvent("{\"type\":\"response_done\",\"response_id\":\"r_2\",\"status\":\"cancelled\"}");
                Assert.AreEqual(1, listenerErrors.Count, "the throwing subscriber is reported");
                Assert.AreEqual(3, responses.Count);
                var a = responses[0];
                Assert.AreEqual("r_a", a.ResponseId);
                Assert.IsFalse(a.Done);
                Assert.IsNull(a.Status, "no status while it runs");
                Assert.AreEqual("mood", a.Metadata["topic"]);
                Assert.AreEqual("2", a.Metadata["n"], "a value that is no string is given as its JSON");
                Assert.AreEqual(2, a.Metadata.Count);
                Assert.AreEqual("mood", Json.GetString(Json.ParseObject(a.MetadataJson), "topic"));
                Assert.AreEqual(started, a.Json);
                Assert.Throws<NotSupportedException>(() => a.Metadata["x"] = "y", "read-only");
                Assert.IsTrue(responses[1].Done);
                Assert.AreEqual("completed", responses[1].Status);
                Assert.AreEqual("mood", responses[1].Metadata["topic"]);
                var plain = responses[2];
                Assert.AreEqual("cancelled", plain.Status);
                Assert.AreEqual(0, plain.Metadata.Count, "no metadata: empty, not null");
                Assert.IsNull(plain.MetadataJson);
                Assert.IsNull(RealtimeResponse.From(new RealtimeEvent("{\"type\":\"history_restored\",\"items\":1}")));
            }
        }

        [Test, Category("Live")]
        public static void AReconnectToANewServerSessionRaisesHistoryRestoredWithTheItemsKept()
        {
            TestSupport.RequireExpiringServer();
            var states = new List<RealtimeState>();
            var errors = new List<string>();
            var added = new List<string>();       // our items, as the server added them
            var restored = new List<int>();
            var readyAfterRestore = new List<string>();
            int addedWhenRestored = -1;
            string firstSession = null;
            var config = new RealtimeConfig
            {
                Url = TestSupport.ExpiringServerUrl,
                ReconnectMaxAttempts = 5,
            }.ToJson();
            using (var s = new RealtimeSession(config))
            {
                s.StateChanged += st => states.Add(st);
                s.Error += (c, m, f) => { if (c != "session_expired") errors.Add(c + ": " + m); };
                s.SessionReady += id =>
                {
                    if (firstSession == null) firstSession = id;
                    else if (restored.Count > 0) readyAfterRestore.Add(id);
                };
                s.ItemChanged += json =>
                {
                    var ev = new RealtimeEvent(json);
                    if (ev.Status == "added" && ev.ItemId.StartsWith("mine_") && !added.Contains(ev.ItemId)) added.Add(ev.ItemId);
                };
                s.HistoryRestored += n =>
                {
                    if (restored.Count == 0) addedWhenRestored = added.Count;
                    restored.Add(n);
                };
                s.Connect();
                Wait.Until(() => states.Contains(RealtimeState.Ready), () => s.Poll(), 20000, () => LiveSessionTests.Seen("Ready", states, errors));
                for (int i = 1; i <= 3; i++)
                    s.SendEvent("{\"type\":\"conversation.item.create\",\"item\":{\"id\":\"mine_" + i + "\",\"type\":\"message\",\"role\":\"user\"," +
                                "\"content\":[{\"type\":\"input_text\",\"text\":\"note " + i + "\"}]}}");
                Wait.Until(() => added.Count == 3, () => s.Poll(), 10000, "the three items on the server");
                // The session expires; the next one is given the three items, then is ready.
                Wait.Until(() => restored.Count >= 1 && readyAfterRestore.Count >= 1, () => s.Poll(), 20000,
                           () => LiveSessionTests.Seen("history restored on a new session", states, errors) + " restored " + restored.Count);
                Assert.AreEqual(3, addedWhenRestored, "restored after the three were kept");
                Assert.AreEqual(3, restored[0], "the items the history kept");
                Assert.AreNotEqual(firstSession, readyAfterRestore[0], "a new server session");
                Assert.IsTrue(states.Contains(RealtimeState.Reconnecting), "it went through a reconnect");
                Assert.IsTrue(errors.Count == 0, "no other errors: " + string.Join("; ", errors.ToArray()));
            }
        }

        [Test, Category("Live")]
        public static void AnOutOfBandResponsesMetadataReachesTheTypedEvent()
        {
            TestSupport.RequireServer();
            var states = new List<RealtimeState>();
            var errors = new List<string>();
            var responses = new List<RealtimeResponse>();
            using (var s = new RealtimeSession(new RealtimeConfig { Url = TestSupport.ServerUrl }.ToJson()))
            {
                s.StateChanged += st => states.Add(st);
                s.Error += (c, m, f) => errors.Add(c + ": " + m);
                s.ResponseChanged += r => responses.Add(r);
                s.Connect();
                Wait.Until(() => states.Contains(RealtimeState.Ready), () => s.Poll(), 20000, () => LiveSessionTests.Seen("Ready", states, errors));
                s.CreateResponse("{\"conversation\":\"none\",\"metadata\":{\"topic\":\"mood\"},\"output_modalities\":[\"text\"],\"instructions\":\"Classify the mood.\"}");
                Wait.Until(() => responses.Exists(r => r.Done), () => s.Poll(), 15000, () => LiveSessionTests.Seen("the out-of-band response done", states, errors));
                var start = responses.Find(r => !r.Done);
                var done = responses.Find(r => r.Done);
                Assert.IsNotNull(start, "started before done");
                Assert.AreEqual(start.ResponseId, done.ResponseId);
                Assert.AreEqual("mood", start.Metadata["topic"]);
                Assert.AreEqual("mood", done.Metadata["topic"]);
                Assert.AreEqual("completed", done.Status);
                Assert.IsTrue(errors.Count == 0, "no errors: " + string.Join("; ", errors.ToArray()));
            }
        }

        [Test, Category("Live")]
        public static void ImagesEventsAndDeletionReachTheServer()
        {
            TestSupport.RequireServer();
            var states = new List<RealtimeState>();
            var errors = new List<string>();
            var serverItems = new List<Dictionary<string, object>>(); // conversation.item.added, as the server announced them
            var deleted = new List<string>();
            var changes = new List<RealtimeEvent>();
            using (var s = new RealtimeSession(new RealtimeConfig { Url = TestSupport.ServerUrl, ForwardServerEvents = true }.ToJson()))
            {
                s.StateChanged += st => states.Add(st);
                s.Error += (c, m, f) => errors.Add(c + ": " + m);
                s.ItemChanged += json => changes.Add(new RealtimeEvent(json));
                s.Event += ev =>
                {
                    if (ev.Kind != RealtimeEventKind.ServerEvent) return;
                    var raw = Json.GetObject(ev.Data, "event");
                    string type = Json.GetString(raw, "type");
                    if (type == "conversation.item.added") serverItems.Add(Json.GetObject(raw, "item"));
                    if (type == "conversation.item.deleted") deleted.Add(Json.GetString(raw, "item_id"));
                };
                s.Connect();
                Wait.Until(() => states.Contains(RealtimeState.Ready), () => s.Poll(), 20000, () => LiveSessionTests.Seen("Ready", states, errors));

                s.SendImage(Png, "image/png", "What is in this picture?");
                Wait.Until(() => serverItems.Count >= 1, () => s.Poll(), 10000, "the image message on the server");
                var item = serverItems[0];
                Assert.AreEqual("message", Json.GetString(item, "type"));
                Assert.AreEqual("user", Json.GetString(item, "role"));
                var content = (List<object>)item["content"];
                Assert.AreEqual(2, content.Count, "a text part, then the image");
                var textPart = (Dictionary<string, object>)content[0];
                var imagePart = (Dictionary<string, object>)content[1];
                Assert.AreEqual("input_text", Json.GetString(textPart, "type"));
                Assert.AreEqual("What is in this picture?", Json.GetString(textPart, "text"));
                Assert.AreEqual("input_image", Json.GetString(imagePart, "type"));
                string url = Json.GetString(imagePart, "image_url");
                const string prefix = "data:image/png;base64,";
                Assert.IsTrue(url != null && url.StartsWith(prefix), "a data URL: " + url);
                CollectionAssert.AreEqual(Png, Convert.FromBase64String(url.Substring(prefix.Length)), "the bytes as sent");
                string imageId = Json.GetString(item, "id");
                Wait.Until(() => changes.Exists(c => c.ItemId == imageId), () => s.Poll(), 5000, "ItemChanged for the image message");
                var change = changes.Find(c => c.ItemId == imageId);
                Assert.AreEqual("user", change.Role);
                Assert.AreEqual("message", change.ItemKind);

                // Refused while connected too: nothing reaches the server.
                Assert.AreEqual(RvStatus.InvalidArgument, CodeOf(() => s.SendImage(Png, "image/jpeg")));
                Assert.AreEqual(RvStatus.InvalidArgument, CodeOf(() => s.SendEvent("{\"item\":{}}")));

                // Any client event, verbatim.
                s.SendEvent("{\"type\":\"conversation.item.create\",\"item\":{\"id\":\"item_from_event\",\"type\":\"message\",\"role\":\"user\"," +
                            "\"content\":[{\"type\":\"input_text\",\"text\":\"typed by hand\"}]}}");
                Wait.Until(() => serverItems.Count >= 2, () => s.Poll(), 10000, "the hand-made item on the server");
                Assert.AreEqual("item_from_event", Json.GetString(serverItems[1], "id"), "sent as given");
                Assert.AreEqual(2, serverItems.Count, "the refused calls sent nothing");

                s.DeleteItem(imageId);
                Wait.Until(() => deleted.Contains(imageId) && changes.Exists(c => c.ItemId == imageId && c.Status == "deleted"), () => s.Poll(), 10000,
                           "the image item deleted");
                Assert.IsTrue(errors.Count == 0, "no errors: " + string.Join("; ", errors.ToArray()));
            }
        }
    }
}
#endif
