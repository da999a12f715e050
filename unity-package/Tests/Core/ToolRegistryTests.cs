#if RV_MONO_TESTS || UNITY_INCLUDE_TESTS
using System;
using System.Collections.Generic;
using NUnit.Framework;

namespace RealtimeVoice.Tests
{
    public enum Direction { Left, Right, Up, Down }

    public sealed class SampleTools
    {
        public readonly List<string> Calls = new List<string>();

        [RealtimeTool("Move the cube.", Name = "move_cube")]
        public string Move(float dx, float dy, float dz)
        {
            Calls.Add("move " + dx + " " + dy + " " + dz);
            return "{\"ok\":true}";
        }

        [RealtimeTool("Turn.")]
        public object TurnTowards([RealtimeToolParam("where to")] Direction direction, int steps = 1, bool fast = false, string note = null)
        {
            Calls.Add("turn " + direction + " " + steps + " " + fast + " " + (note ?? "-"));
            return new Dictionary<string, object> { { "turned", direction }, { "steps", steps } };
        }

        [RealtimeTool("Always fails.")]
        public void Explode()
        {
            throw new InvalidOperationException("boom");
        }

        [RealtimeTool("Static tool.")]
        public static double Half(double value)
        {
            return value / 2;
        }

        public void NotATool() { }
    }

    [TestFixture]
    public static class ToolRegistryTests
    {
        private static Dictionary<string, object> Declaration(ToolRegistry r, string name)
        {
            foreach (Dictionary<string, object> d in r.Declarations())
                if ((string)d["name"] == name) return d;
            return null;
        }

        [Test]
        public static void SchemaIsGeneratedFromParameters()
        {
            var r = new ToolRegistry();
            int n = r.RegisterMethods(new SampleTools());
            Assert.AreEqual(4, n, "marked methods registered (instance and static)");
            var move = Declaration(r, "move_cube");
            Assert.AreEqual("function", (string)move["type"], "GA flat shape: type");
            Assert.AreEqual("Move the cube.", (string)move["description"], "description");
            Assert.IsTrue(!move.ContainsKey("function"), "not nested under 'function'");
            var p = (Dictionary<string, object>)move["parameters"];
            var props = (Dictionary<string, object>)p["properties"];
            Assert.AreEqual("number", (string)((Dictionary<string, object>)props["dx"])["type"], "float -> number");
            Assert.AreEqual("dx,dy,dz", string.Join(",", ((List<object>)p["required"]).ConvertAll(x => (string)x)), "required");

            var turn = Declaration(r, "turn_towards");
            Assert.IsTrue(turn != null, "snake_case default name");
            var tp = (Dictionary<string, object>)turn["parameters"];
            var tprops = (Dictionary<string, object>)tp["properties"];
            var dir = (Dictionary<string, object>)tprops["direction"];
            Assert.AreEqual("string", (string)dir["type"], "enum -> string");
            Assert.AreEqual(4, ((List<object>)dir["enum"]).Count, "enum values listed");
            Assert.AreEqual("where to", (string)dir["description"], "parameter description");
            Assert.AreEqual("integer", (string)((Dictionary<string, object>)tprops["steps"])["type"], "int -> integer");
            Assert.AreEqual("boolean", (string)((Dictionary<string, object>)tprops["fast"])["type"], "bool -> boolean");
            Assert.AreEqual("string", (string)((Dictionary<string, object>)tprops["note"])["type"], "string -> string");
            Assert.AreEqual("direction", string.Join(",", ((List<object>)tp["required"]).ConvertAll(x => (string)x)), "defaults make parameters optional");

            // The whole declaration list must be valid JSON the native side can merge.
            var reparsed = Json.Parse(Json.Serialize(r.Declarations())) as List<object>;
            Assert.AreEqual(4, reparsed.Count, "declarations serialize");
        }

        [Test]
        public static void ArgumentsAreBoundByName()
        {
            var tools = new SampleTools();
            var r = new ToolRegistry();
            r.RegisterMethods(tools);
            Exception err;
            string outMove = r.Invoke("move_cube", "{\"dz\":3,\"dx\":1.5,\"dy\":-2}", out err);
            Assert.IsTrue(err == null, "no error");
            Assert.AreEqual("{\"ok\":true}", outMove, "string output passes through");
            Assert.AreEqual("move 1.5 -2 3", tools.Calls[0], "bound by name, not position");

            string outTurn = r.Invoke("turn_towards", "{\"direction\":\"right\"}", out err);
            Assert.AreEqual("turn Right 1 False -", tools.Calls[1], "defaults applied, enum case-insensitive");
            Assert.AreEqual("{\"turned\":\"Right\",\"steps\":1}", outTurn, "object output serialized");

            r.Invoke("turn_towards", "{\"direction\":\"Up\",\"steps\":3,\"fast\":true,\"note\":\"hi\"}", out err);
            Assert.AreEqual("turn Up 3 True hi", tools.Calls[2], "all arguments");

            Assert.AreEqual("21", r.Invoke("half", "{\"value\":42}", out err), "static tool, number output");
        }

        [Test]
        public static void BadCallsBecomeErrorOutputsNotExceptions()
        {
            var tools = new SampleTools();
            var r = new ToolRegistry();
            r.RegisterMethods(tools);
            Exception err;
            var cases = new[]
            {
                new[] { "move_cube", "{\"dx\":1,\"dy\":2}", "missing required argument 'dz'" },
                new[] { "move_cube", "{\"dx\":\"far\",\"dy\":2,\"dz\":0}", "argument 'dx' must be a number" },
                new[] { "turn_towards", "{\"direction\":\"sideways\"}", "must be one of" },
                new[] { "turn_towards", "{\"direction\":\"Up\",\"steps\":1.5}", "must be an integer" },
                new[] { "turn_towards", "{\"direction\":\"Up\",\"steps\":1e12}", "out of range" },
                new[] { "turn_towards", "[1,2]", "must be a JSON object" },
                new[] { "explode", "{}", "boom" },
                new[] { "no_such_tool", "{}", "unknown tool 'no_such_tool'" },
            };
            foreach (var c in cases)
            {
                string output = r.Invoke(c[0], c[1], out err);
                var parsed = Json.ParseObject(output);
                string message = Json.GetString(parsed, "error");
                Assert.IsTrue(message != null && message.Contains(c[2]), c[0] + " " + c[1] + " -> " + output);
                Assert.IsTrue(err != null, "error reported for " + c[0]);
            }
            Assert.AreEqual(0, tools.Calls.Count, "no handler ran with bad arguments");
            r.Invoke("explode", "{}", out err);
            Assert.IsTrue(err is InvalidOperationException, "the handler's own exception, unwrapped: " + err.GetType().Name);
        }

        [Test]
        public static void ExplicitSchemaRegistrationAndValidation()
        {
            var r = new ToolRegistry();
            string received = null;
            r.Register("echo", "Echo.", "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"}}}", args => { received = args; return "done"; });
            Exception err;
            Assert.AreEqual("done", r.Invoke("echo", "{\"s\":\"x\"}", out err), "handler output");
            Assert.AreEqual("{\"s\":\"x\"}", received, "handler gets the arguments JSON");
            Assert.Catch<JsonException>(() => r.Register("bad", "", "{not json", a => a), "invalid schema JSON");
            Assert.Catch<ArgumentException>(() => r.Register("bad", "", "[1]", a => a), "schema must be an object");
            Assert.Catch<ArgumentException>(() => r.Register("has space", "", null, a => a), "invalid name");
            Assert.Catch<ArgumentException>(() => r.Register(new string('a', 65), "", null, a => a), "name too long");
            int v = r.Version;
            r.Register("echo", "Echo again.", null, a => a);
            Assert.AreEqual(1, r.Count, "re-registering replaces");
            Assert.IsTrue(r.Version > v, "version bumps on change");
            Assert.IsTrue(r.Unregister("echo") && !r.Unregister("echo"), "unregister once");
        }

        [Test]
        public static void SnakeCase()
        {
            Assert.AreEqual("move_cube", ToolRegistry.ToSnakeCase("MoveCube"), "pascal");
            Assert.AreEqual("get_http_status", ToolRegistry.ToSnakeCase("GetHTTPStatus"), "acronym");
            Assert.AreEqual("open_door2", ToolRegistry.ToSnakeCase("openDoor2"), "camel");
            Assert.AreEqual("already_snake", ToolRegistry.ToSnakeCase("already_snake"), "unchanged");
        }
    }
}
#endif
