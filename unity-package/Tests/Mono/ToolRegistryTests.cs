#if RV_MONO_TESTS
using System;
using System.Collections.Generic;

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
            Assert.Equal(4, n, "marked methods registered (instance and static)");
            var move = Declaration(r, "move_cube");
            Assert.Equal("function", (string)move["type"], "GA flat shape: type");
            Assert.Equal("Move the cube.", (string)move["description"], "description");
            Assert.True(!move.ContainsKey("function"), "not nested under 'function'");
            var p = (Dictionary<string, object>)move["parameters"];
            var props = (Dictionary<string, object>)p["properties"];
            Assert.Equal("number", (string)((Dictionary<string, object>)props["dx"])["type"], "float -> number");
            Assert.Equal("dx,dy,dz", string.Join(",", ((List<object>)p["required"]).ConvertAll(x => (string)x)), "required");

            var turn = Declaration(r, "turn_towards");
            Assert.True(turn != null, "snake_case default name");
            var tp = (Dictionary<string, object>)turn["parameters"];
            var tprops = (Dictionary<string, object>)tp["properties"];
            var dir = (Dictionary<string, object>)tprops["direction"];
            Assert.Equal("string", (string)dir["type"], "enum -> string");
            Assert.Equal(4, ((List<object>)dir["enum"]).Count, "enum values listed");
            Assert.Equal("where to", (string)dir["description"], "parameter description");
            Assert.Equal("integer", (string)((Dictionary<string, object>)tprops["steps"])["type"], "int -> integer");
            Assert.Equal("boolean", (string)((Dictionary<string, object>)tprops["fast"])["type"], "bool -> boolean");
            Assert.Equal("string", (string)((Dictionary<string, object>)tprops["note"])["type"], "string -> string");
            Assert.Equal("direction", string.Join(",", ((List<object>)tp["required"]).ConvertAll(x => (string)x)), "defaults make parameters optional");

            // The whole declaration list must be valid JSON the native side can merge.
            var reparsed = Json.Parse(Json.Serialize(r.Declarations())) as List<object>;
            Assert.Equal(4, reparsed.Count, "declarations serialize");
        }

        [Test]
        public static void ArgumentsAreBoundByName()
        {
            var tools = new SampleTools();
            var r = new ToolRegistry();
            r.RegisterMethods(tools);
            Exception err;
            string outMove = r.Invoke("move_cube", "{\"dz\":3,\"dx\":1.5,\"dy\":-2}", out err);
            Assert.True(err == null, "no error");
            Assert.Equal("{\"ok\":true}", outMove, "string output passes through");
            Assert.Equal("move 1.5 -2 3", tools.Calls[0], "bound by name, not position");

            string outTurn = r.Invoke("turn_towards", "{\"direction\":\"right\"}", out err);
            Assert.Equal("turn Right 1 False -", tools.Calls[1], "defaults applied, enum case-insensitive");
            Assert.Equal("{\"turned\":\"Right\",\"steps\":1}", outTurn, "object output serialized");

            r.Invoke("turn_towards", "{\"direction\":\"Up\",\"steps\":3,\"fast\":true,\"note\":\"hi\"}", out err);
            Assert.Equal("turn Up 3 True hi", tools.Calls[2], "all arguments");

            Assert.Equal("21", r.Invoke("half", "{\"value\":42}", out err), "static tool, number output");
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
                Assert.True(message != null && message.Contains(c[2]), c[0] + " " + c[1] + " -> " + output);
                Assert.True(err != null, "error reported for " + c[0]);
            }
            Assert.Equal(0, tools.Calls.Count, "no handler ran with bad arguments");
            r.Invoke("explode", "{}", out err);
            Assert.True(err is InvalidOperationException, "the handler's own exception, unwrapped: " + err.GetType().Name);
        }

        [Test]
        public static void ExplicitSchemaRegistrationAndValidation()
        {
            var r = new ToolRegistry();
            string received = null;
            r.Register("echo", "Echo.", "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"}}}", args => { received = args; return "done"; });
            Exception err;
            Assert.Equal("done", r.Invoke("echo", "{\"s\":\"x\"}", out err), "handler output");
            Assert.Equal("{\"s\":\"x\"}", received, "handler gets the arguments JSON");
            Assert.Throws<JsonException>(() => r.Register("bad", "", "{not json", a => a), "invalid schema JSON");
            Assert.Throws<ArgumentException>(() => r.Register("bad", "", "[1]", a => a), "schema must be an object");
            Assert.Throws<ArgumentException>(() => r.Register("has space", "", null, a => a), "invalid name");
            Assert.Throws<ArgumentException>(() => r.Register(new string('a', 65), "", null, a => a), "name too long");
            int v = r.Version;
            r.Register("echo", "Echo again.", null, a => a);
            Assert.Equal(1, r.Count, "re-registering replaces");
            Assert.True(r.Version > v, "version bumps on change");
            Assert.True(r.Unregister("echo") && !r.Unregister("echo"), "unregister once");
        }

        [Test]
        public static void SnakeCase()
        {
            Assert.Equal("move_cube", ToolRegistry.ToSnakeCase("MoveCube"), "pascal");
            Assert.Equal("get_http_status", ToolRegistry.ToSnakeCase("GetHTTPStatus"), "acronym");
            Assert.Equal("open_door2", ToolRegistry.ToSnakeCase("openDoor2"), "camel");
            Assert.Equal("already_snake", ToolRegistry.ToSnakeCase("already_snake"), "unchanged");
        }
    }
}
#endif
