// Tools the model may call: their declarations (GA flat shape) and their C# handlers.
// Pure C#: reflection builds schemas from method signatures and binds JSON arguments by name.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using System.Text;

namespace RealtimeVoice
{
    /// <summary>A set of named tools with handlers; produces the session's "tools" array and runs calls.</summary>
    public sealed class ToolRegistry
    {
        private sealed class Tool
        {
            public string Name;
            public string Description;
            public object Parameters; // parsed JSON schema (Dictionary) for serialization
            public Func<string, string> Handler; // arguments JSON -> output
        }

        private readonly List<Tool> _tools = new List<Tool>();

        /// <summary>Number of registered tools.</summary>
        public int Count { get { return _tools.Count; } }

        /// <summary>Incremented on every change, so owners can tell when to resend the declarations.</summary>
        public int Version { get; private set; }

        /// <summary>True when a tool with this name is registered.</summary>
        public bool Contains(string name)
        {
            return IndexOf(name) >= 0;
        }

        /// <summary>
        /// Registers (or replaces) a tool. <paramref name="parametersJsonSchema"/> is a JSON Schema object
        /// (null means no parameters); the handler gets the arguments JSON and returns the output string.
        /// </summary>
        public void Register(string name, string description, string parametersJsonSchema, Func<string, string> handler)
        {
            ValidateName(name);
            if (handler == null) throw new ArgumentNullException("handler");
            object schema;
            if (string.IsNullOrEmpty(parametersJsonSchema))
            {
                schema = EmptySchema();
            }
            else
            {
                schema = Json.Parse(parametersJsonSchema);
                if (!(schema is Dictionary<string, object>))
                    throw new ArgumentException("the parameters schema must be a JSON object", "parametersJsonSchema");
            }
            var tool = new Tool { Name = name, Description = description ?? string.Empty, Parameters = schema, Handler = handler };
            int i = IndexOf(name);
            if (i >= 0) _tools[i] = tool;
            else _tools.Add(tool);
            Version++;
        }

        /// <summary>
        /// Registers every method of <paramref name="target"/> marked [RealtimeTool]: public instance and
        /// static methods of an object, or public static methods when <paramref name="target"/> is a Type.
        /// Returns how many tools were registered.
        /// </summary>
        public int RegisterMethods(object target)
        {
            if (target == null) throw new ArgumentNullException("target");
            var type = target as Type;
            object instance = type == null ? target : null;
            if (type == null) type = target.GetType();
            var flags = BindingFlags.Public | BindingFlags.Static | (instance != null ? BindingFlags.Instance : 0);
            int count = 0;
            foreach (var method in type.GetMethods(flags))
            {
                var attr = (RealtimeToolAttribute)Attribute.GetCustomAttribute(method, typeof(RealtimeToolAttribute), true);
                if (attr == null) continue;
                RegisterMethod(attr.Name ?? ToSnakeCase(method.Name), attr.Description, method, method.IsStatic ? null : instance);
                count++;
            }
            return count;
        }

        /// <summary>Registers one method as a tool (schema from its parameters, arguments bound by name).</summary>
        public void RegisterMethod(string name, string description, MethodInfo method, object instance)
        {
            if (method == null) throw new ArgumentNullException("method");
            if (!method.IsStatic && instance == null) throw new ArgumentException("an instance method needs a target", "instance");
            var parameters = method.GetParameters();
            var properties = new Dictionary<string, object>();
            var required = new List<object>();
            foreach (var p in parameters)
            {
                properties[p.Name] = SchemaFor(p);
                if (!p.IsOptional && !IsNullable(p.ParameterType)) required.Add(p.Name);
            }
            var schema = new Dictionary<string, object>
            {
                { "type", "object" },
                { "properties", properties },
                { "required", required },
            };
            Func<string, string> handler = argumentsJson =>
            {
                var args = Json.Parse(string.IsNullOrEmpty(argumentsJson) ? "{}" : argumentsJson) as Dictionary<string, object>;
                if (args == null) throw new ArgumentException("arguments must be a JSON object");
                var values = new object[parameters.Length];
                for (int i = 0; i < parameters.Length; i++) values[i] = Bind(parameters[i], args);
                object result;
                try
                {
                    result = method.Invoke(instance, values);
                }
                catch (TargetInvocationException e)
                {
                    // Surface the handler's own exception, not the reflection wrapper.
                    if (e.InnerException != null) throw new ToolHandlerException(e.InnerException);
                    throw;
                }
                return OutputFor(result, method.ReturnType);
            };
            ValidateName(name);
            var tool = new Tool { Name = name, Description = description ?? string.Empty, Parameters = schema, Handler = handler };
            int idx = IndexOf(name);
            if (idx >= 0) _tools[idx] = tool;
            else _tools.Add(tool);
            Version++;
        }

        /// <summary>Removes a tool; returns false when it was not registered.</summary>
        public bool Unregister(string name)
        {
            int i = IndexOf(name);
            if (i < 0) return false;
            _tools.RemoveAt(i);
            Version++;
            return true;
        }

        /// <summary>The declarations, GA flat shape: [{"type":"function","name","description","parameters"}, ...].</summary>
        public List<object> Declarations()
        {
            var list = new List<object>(_tools.Count);
            foreach (var t in _tools)
            {
                list.Add(new Dictionary<string, object>
                {
                    { "type", "function" },
                    { "name", t.Name },
                    { "description", t.Description },
                    { "parameters", t.Parameters },
                });
            }
            return list;
        }

        /// <summary>
        /// Runs the tool <paramref name="name"/> with <paramref name="argumentsJson"/>. Never throws:
        /// an unknown tool, invalid arguments or a handler exception become {"error": "..."} and
        /// <paramref name="error"/> is set.
        /// </summary>
        public string Invoke(string name, string argumentsJson, out Exception error)
        {
            error = null;
            int i = IndexOf(name);
            if (i < 0)
            {
                error = new InvalidOperationException("unknown tool '" + name + "'");
                return ErrorOutput(error.Message);
            }
            try
            {
                return _tools[i].Handler(argumentsJson) ?? "";
            }
            catch (ToolHandlerException e)
            {
                error = e.InnerException;
                return ErrorOutput(e.InnerException.Message);
            }
            catch (Exception e)
            {
                error = e;
                return ErrorOutput(e.Message);
            }
        }

        /// <summary>{"error": message} as JSON.</summary>
        public static string ErrorOutput(string message)
        {
            return "{\"error\":" + Json.Quote(message ?? "error") + "}";
        }

        /// <summary>MoveCube -> move_cube, getHTTPStatus -> get_http_status.</summary>
        public static string ToSnakeCase(string name)
        {
            var sb = new StringBuilder(name.Length + 4);
            for (int i = 0; i < name.Length; i++)
            {
                char c = name[i];
                if (char.IsUpper(c))
                {
                    bool prevLowerOrDigit = i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]));
                    bool acronymEnd = i > 0 && char.IsUpper(name[i - 1]) && i + 1 < name.Length && char.IsLower(name[i + 1]);
                    if (sb.Length > 0 && sb[sb.Length - 1] != '_' && (prevLowerOrDigit || acronymEnd)) sb.Append('_');
                    sb.Append(char.ToLowerInvariant(c));
                }
                else
                {
                    sb.Append(c);
                }
            }
            return sb.ToString();
        }

        private int IndexOf(string name)
        {
            for (int i = 0; i < _tools.Count; i++)
                if (string.Equals(_tools[i].Name, name, StringComparison.Ordinal)) return i;
            return -1;
        }

        private static void ValidateName(string name)
        {
            // The API's rule for function names: ^[a-zA-Z0-9_-]{1,64}$.
            if (string.IsNullOrEmpty(name) || name.Length > 64)
                throw new ArgumentException("tool names are 1 to 64 characters", "name");
            foreach (char c in name)
            {
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
                if (!ok) throw new ArgumentException("tool name '" + name + "' may only use letters, digits, '_' and '-'", "name");
            }
        }

        private static Dictionary<string, object> EmptySchema()
        {
            return new Dictionary<string, object>
            {
                { "type", "object" },
                { "properties", new Dictionary<string, object>() },
            };
        }

        private static bool IsNullable(Type t)
        {
            return Nullable.GetUnderlyingType(t) != null;
        }

        private static Dictionary<string, object> SchemaFor(ParameterInfo p)
        {
            var t = Nullable.GetUnderlyingType(p.ParameterType) ?? p.ParameterType;
            var schema = new Dictionary<string, object>();
            if (t == typeof(float) || t == typeof(double) || t == typeof(decimal)) schema["type"] = "number";
            else if (t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte) ||
                     t == typeof(uint) || t == typeof(ushort) || t == typeof(sbyte)) schema["type"] = "integer";
            else if (t == typeof(bool)) schema["type"] = "boolean";
            else if (t == typeof(string)) schema["type"] = "string";
            else if (t.IsEnum)
            {
                schema["type"] = "string";
                var names = new List<object>();
                foreach (var n in Enum.GetNames(t)) names.Add(n);
                schema["enum"] = names;
            }
            else
            {
                throw new NotSupportedException("tool parameter '" + p.Name + "' has unsupported type " + t.Name +
                                                " (use float, double, int, long, bool, string or an enum)");
            }
            var desc = (RealtimeToolParamAttribute)Attribute.GetCustomAttribute(p, typeof(RealtimeToolParamAttribute));
            if (desc != null && !string.IsNullOrEmpty(desc.Description)) schema["description"] = desc.Description;
            return schema;
        }

        private static object Bind(ParameterInfo p, Dictionary<string, object> args)
        {
            object v;
            if (!args.TryGetValue(p.Name, out v) || v == null)
            {
                if (p.IsOptional) return p.DefaultValue is DBNull ? null : p.DefaultValue;
                if (IsNullable(p.ParameterType) || !p.ParameterType.IsValueType && v == null && args.ContainsKey(p.Name)) return null;
                throw new ArgumentException("missing required argument '" + p.Name + "'");
            }
            var t = Nullable.GetUnderlyingType(p.ParameterType) ?? p.ParameterType;
            try
            {
                if (t == typeof(string))
                {
                    if (v is string) return v;
                }
                else if (t == typeof(bool))
                {
                    if (v is bool) return v;
                }
                else if (t.IsEnum)
                {
                    var s = v as string;
                    if (s != null)
                    {
                        foreach (var n in Enum.GetNames(t))
                            if (string.Equals(n, s, StringComparison.OrdinalIgnoreCase)) return Enum.Parse(t, n);
                        throw new ArgumentException("argument '" + p.Name + "' must be one of: " + string.Join(", ", Enum.GetNames(t)));
                    }
                }
                else if (v is double)
                {
                    double d = (double)v;
                    if (t == typeof(double)) return d;
                    if (t == typeof(float)) return (float)d;
                    if (t == typeof(decimal)) return (decimal)d;
                    if (Math.Floor(d) != d)
                        throw new ArgumentException("argument '" + p.Name + "' must be an integer");
                    return Convert.ChangeType(d, t, CultureInfo.InvariantCulture); // throws OverflowException when out of range
                }
            }
            catch (OverflowException)
            {
                throw new ArgumentException("argument '" + p.Name + "' is out of range");
            }
            throw new ArgumentException("argument '" + p.Name + "' must be " + JsonTypeName(t));
        }

        private static string JsonTypeName(Type t)
        {
            if (t == typeof(string) || t.IsEnum) return "a string";
            if (t == typeof(bool)) return "a boolean";
            return "a number";
        }

        private static string OutputFor(object result, Type returnType)
        {
            if (returnType == typeof(void)) return "{\"ok\":true}";
            if (result == null) return "null";
            var s = result as string;
            if (s != null) return s;
            try
            {
                return Json.Serialize(result);
            }
            catch (JsonException)
            {
                return Json.Quote(result.ToString());
            }
        }

        /// <summary>Carries a handler's own exception through the reflection call.</summary>
        private sealed class ToolHandlerException : Exception
        {
            public ToolHandlerException(Exception inner) : base(inner.Message, inner) { }
        }
    }
}
