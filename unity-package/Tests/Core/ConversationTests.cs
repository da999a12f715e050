// SendImage, SendEvent and DeleteItem through the real library (refusals offline; what the
// local server receives when connected), and the typed events of conversation items, the
// server VAD's idle timeout and the rate limits.
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
