#if RV_MONO_TESTS || UNITY_INCLUDE_TESTS
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    [TestFixture]
    public static class JsonTests
    {
        [Test]
        public static void ParsesEveryValueKind()
        {
            var o = Json.ParseObject("{\"s\":\"x\",\"n\":-1.5e2,\"i\":42,\"t\":true,\"f\":false,\"z\":null,\"a\":[1,\"two\",[]],\"o\":{}}");
            Assert.AreEqual("x", (string)o["s"], "string");
            Assert.AreEqual(-150.0, (double)o["n"], "exponent number");
            Assert.AreEqual(42.0, (double)o["i"], "integer parses as double");
            Assert.AreEqual(true, (bool)o["t"], "true");
            Assert.AreEqual(false, (bool)o["f"], "false");
            Assert.IsTrue(o.ContainsKey("z") && o["z"] == null, "null kept as a null value");
            var a = (List<object>)o["a"];
            Assert.AreEqual(3, a.Count, "array length");
            Assert.AreEqual("two", (string)a[1], "array item");
            Assert.AreEqual(0, ((List<object>)a[2]).Count, "empty array");
            Assert.AreEqual(0, ((Dictionary<string, object>)o["o"]).Count, "empty object");
        }

        [Test]
        public static void DecodesEscapesAndSurrogatePairs()
        {
            var s = (string)Json.Parse("\"a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f\\u00e9\\ud83d\\ude00\"");
            Assert.AreEqual("a\"b\\c/d\n\t\r\b\f\u00e9\U0001F600", s, "escapes");
            Assert.AreEqual("h\u00e9llo \U0001F600", (string)Json.Parse("\"h\u00e9llo \U0001F600\""), "raw UTF-16 passes through");
        }

        [Test]
        public static void RejectsInvalidJson()
        {
            string[] bad =
            {
                "", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "{a:1}", "[1 2]", "tru", "nul", "01", "1.", ".5", "-", "1e",
                "\"unterminated", "\"bad \\x escape\"", "\"\\u12G4\"", "\"tab\tinside\"", "{} x", "[\"a\",]", "1e999",
            };
            foreach (var text in bad)
                Assert.Catch<JsonException>(() => Json.Parse(text), "invalid input " + text);
            object v;
            Assert.IsTrue(!Json.TryParse("{", out v) && v == null, "TryParse reports failure");
            Assert.IsTrue(Json.TryParse(" [ ] ", out v) && v is List<object>, "TryParse succeeds with whitespace");
        }

        [Test]
        public static void RejectsDeepNestingWithoutStackOverflow()
        {
            string deep = new string('[', 100000) + new string(']', 100000);
            Assert.Catch<JsonException>(() => Json.Parse(deep), "deep nesting");
            string ok = new string('[', 50) + new string(']', 50);
            Assert.IsTrue(Json.Parse(ok) is List<object>, "moderate nesting parses");
        }

        [Test]
        public static void SerializesWithCorrectEscaping()
        {
            string s = Json.Serialize("q\"b\\n\nc\u0001\u001f\u2028é😀");
            Assert.AreEqual("\"q\\\"b\\\\n\\nc\\u0001\\u001f\\u2028é😀\"", s, "escaped string");
            Assert.AreEqual("q\"b\\n\nc\u0001\u001f\u2028é😀", (string)Json.Parse(s), "round trip");
        }

        [Test]
        public static void SerializesNumbersInvariantlyAndRoundTrips()
        {
            var saved = Thread.CurrentThread.CurrentCulture;
            try
            {
                // A comma decimal separator must not leak into JSON.
                Thread.CurrentThread.CurrentCulture = new CultureInfo("de-DE");
                var value = new Dictionary<string, object>
                {
                    { "d", 0.1 }, { "f", 0.1f }, { "big", 1e300 }, { "neg", -2.5 }, { "i", 7 }, { "l", 1L << 53 },
                    { "nan", double.NaN }, { "inf", float.PositiveInfinity }, { "b", true }, { "n", null },
                    { "list", new List<object> { 1, "x", false } }, { "arr", new[] { 1.5, 2.0 } },
                };
                string json = Json.Serialize(value);
                Assert.IsTrue(json.Contains("\"d\":0.1,") && json.Contains("\"neg\":-2.5,"), "invariant decimals: " + json);
                var back = Json.ParseObject(json);
                Assert.AreEqual(0.1, (double)back["d"], "double round trip");
                Assert.AreEqual(0.1, (double)back["f"], "float written as its shortest form");
                Assert.AreEqual(1e300, (double)back["big"], "large double");
                Assert.AreEqual(-2.5, (double)back["neg"], "negative");
                Assert.AreEqual(9007199254740992.0, (double)back["l"], "long");
                Assert.IsTrue(back["nan"] == null && back["inf"] == null, "non-finite numbers become null");
                Assert.AreEqual(3, ((List<object>)back["list"]).Count, "list");
                Assert.AreEqual(2.0, (double)((List<object>)back["arr"])[1], "array");
                Assert.AreEqual(1.5, (double)Json.Parse("1.5"), "parse with a comma culture active");
            }
            finally
            {
                Thread.CurrentThread.CurrentCulture = saved;
            }
        }

        [Test]
        public static void RawJsonIsWrittenVerbatimAndValidated()
        {
            var doc = new Dictionary<string, object> { { "schema", new JsonRaw("{\"type\":\"object\"}") } };
            Assert.AreEqual("{\"schema\":{\"type\":\"object\"}}", Json.Serialize(doc), "raw embedded");
            Assert.Catch<JsonException>(() => new JsonRaw("{oops"), "invalid raw JSON");
        }

        [Test]
        public static void UnsupportedValuesAndCyclesAreErrors()
        {
            Assert.Catch<JsonException>(() => Json.Serialize(new object()), "plain object");
            var cyclic = new List<object>();
            cyclic.Add(cyclic);
            Assert.Catch<JsonException>(() => Json.Serialize(cyclic), "cycle");
            var badKeys = new Dictionary<int, object> { { 1, 2 } };
            Assert.Catch<JsonException>(() => Json.Serialize(badKeys), "non-string keys");
        }

        [Test]
        public static void TypedAccessorsFallBack()
        {
            var o = Json.ParseObject("{\"s\":\"x\",\"n\":3,\"b\":true,\"o\":{\"k\":1}}");
            Assert.AreEqual("x", Json.GetString(o, "s"), "string");
            Assert.AreEqual("fb", Json.GetString(o, "n", "fb"), "mistyped string falls back");
            Assert.AreEqual(3.0, Json.GetNumber(o, "n"), "number");
            Assert.AreEqual(-1.0, Json.GetNumber(o, "missing", -1), "missing number falls back");
            Assert.AreEqual(true, Json.GetBool(o, "b"), "bool");
            Assert.AreEqual(1.0, Json.GetNumber(Json.GetObject(o, "o"), "k"), "nested object");
            Assert.IsTrue(Json.GetObject(o, "s") == null, "mistyped object is null");
        }

        [Test]
        public static void RandomDocumentsRoundTrip()
        {
            var rng = new Random(12345);
            for (int i = 0; i < 300; i++)
            {
                object doc = RandomValue(rng, 0);
                string a = Json.Serialize(doc);
                string b = Json.Serialize(Json.Parse(a));
                Assert.AreEqual(a, b, "serialize(parse(serialize(x))) is stable");
            }
        }

        private static object RandomValue(Random rng, int depth)
        {
            int kind = rng.Next(depth > 4 ? 5 : 7);
            switch (kind)
            {
                case 0: return null;
                case 1: return rng.Next(2) == 0;
                case 2: return (rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-5, 15));
                case 3: return RandomString(rng);
                case 4: return (double)rng.Next(-1000, 1000);
                case 5:
                    var list = new List<object>();
                    for (int i = rng.Next(4); i > 0; i--) list.Add(RandomValue(rng, depth + 1));
                    return list;
                default:
                    var obj = new Dictionary<string, object>();
                    for (int i = rng.Next(4); i > 0; i--) obj[RandomString(rng)] = RandomValue(rng, depth + 1);
                    return obj;
            }
        }

        private static string RandomString(Random rng)
        {
            var chars = new char[rng.Next(8)];
            string alphabet = "ab\"\\/\n\t\u0000\u001f é\u2028\u20ac";
            for (int i = 0; i < chars.Length; i++) chars[i] = alphabet[rng.Next(alphabet.Length)];
            return new string(chars);
        }
    }
}
#endif
