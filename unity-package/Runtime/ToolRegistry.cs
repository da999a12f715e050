// Tools the model may call: their declarations (GA flat shape) and their C# handlers.
// Pure C#: reflection builds schemas from method signatures and binds JSON arguments by name.
// Handlers are synchronous (arguments JSON -> output) or asynchronous (-> Task of the output);
// RealtimeSession starts them and submits what they produce.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

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
            public Func<string, string> Handler; // arguments JSON -> output (null for an asynchronous tool)
            public Func<string, Task<string>> AsyncHandler; // arguments JSON -> a task of the output
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
            Put(new Tool { Name = name, Description = description ?? string.Empty, Parameters = ParseSchema(parametersJsonSchema), Handler = handler });
        }

        /// <summary>
        /// Registers (or replaces) an asynchronous tool: the handler gets the arguments JSON and returns a
        /// task of the output string. <see cref="RealtimeSession"/> starts it on the polling thread and
        /// submits its output from the Poll that sees it complete (an exception, a cancellation or
        /// <see cref="RealtimeSession.ToolTimeout"/> becomes an {"error": "..."} output).
        /// </summary>
        public void Register(string name, string description, string parametersJsonSchema, Func<string, Task<string>> handler)
        {
            ValidateName(name);
            if (handler == null) throw new ArgumentNullException("handler");
            Put(new Tool { Name = name, Description = description ?? string.Empty, Parameters = ParseSchema(parametersJsonSchema), AsyncHandler = handler });
        }

        private static object ParseSchema(string parametersJsonSchema)
        {
            if (string.IsNullOrEmpty(parametersJsonSchema)) return EmptySchema();
            object schema = Json.Parse(parametersJsonSchema);
            if (!(schema is Dictionary<string, object>))
                throw new ArgumentException("the parameters schema must be a JSON object", "parametersJsonSchema");
            return schema;
        }

        private void Put(Tool tool)
        {
            int i = IndexOf(tool.Name);
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
            Func<string, object> invoke = argumentsJson =>
            {
                var args = Json.Parse(string.IsNullOrEmpty(argumentsJson) ? "{}" : argumentsJson) as Dictionary<string, object>;
                if (args == null) throw new ArgumentException("arguments must be a JSON object");
                var values = new object[parameters.Length];
                for (int i = 0; i < parameters.Length; i++) values[i] = Bind(parameters[i], args);
                try
                {
                    return method.Invoke(instance, values);
                }
                catch (TargetInvocationException e)
                {
                    // Surface the handler's own exception, not the reflection wrapper.
                    if (e.InnerException != null) throw new ToolHandlerException(e.InnerException);
                    throw;
                }
            };
            ValidateName(name);
            var tool = new Tool { Name = name, Description = description ?? string.Empty, Parameters = schema };
            if (typeof(Task).IsAssignableFrom(method.ReturnType))
            {
                // Task: {"ok":true} once it completes; Task<T>: its result, as a synchronous method's.
                Type resultType = TaskResultType(method.ReturnType);
                PropertyInfo resultProperty = resultType == null ? null : method.ReturnType.GetProperty("Result");
                tool.AsyncHandler = argumentsJson =>
                {
                    var task = (Task)invoke(argumentsJson);
                    if (task == null) throw new InvalidOperationException("tool method " + method.Name + " returned a null Task");
                    return task.ContinueWith(t =>
                    {
                        t.GetAwaiter().GetResult(); // rethrows the method's own exception (or the cancellation)
                        return resultProperty == null ? OutputFor(null, typeof(void)) : OutputFor(resultProperty.GetValue(t, null), resultType);
                    }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                };
            }
            else
            {
                tool.Handler = argumentsJson => OutputFor(invoke(argumentsJson), method.ReturnType);
            }
            Put(tool);
        }

        /// <summary>T for Task&lt;T&gt; (or a type derived from it), null for a plain Task.</summary>
        private static Type TaskResultType(Type taskType)
        {
            for (var t = taskType; t != null && t != typeof(Task); t = t.BaseType)
                if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Task<>)) return t.GetGenericArguments()[0];
            return null;
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

        /// <summary>True when <paramref name="name"/> is registered with an asynchronous handler.</summary>
        public bool IsAsync(string name)
        {
            int i = IndexOf(name);
            return i >= 0 && _tools[i].AsyncHandler != null;
        }

        /// <summary>
        /// Runs the tool <paramref name="name"/> with <paramref name="argumentsJson"/>. Never throws and
        /// never blocks: an unknown tool, invalid arguments or a handler exception become
        /// {"error": "..."} and <paramref name="error"/> is set. An asynchronous tool's output is
        /// returned when its task completed before returning; one still running is an error here
        /// (use <see cref="Start"/> and <see cref="Complete"/>, as <see cref="RealtimeSession"/> does).
        /// </summary>
        public string Invoke(string name, string argumentsJson, out Exception error)
        {
            string output;
            Task<string> running = Start(name, argumentsJson, out output, out error);
            if (running == null) return output;
            if (running.IsCompleted) return Complete(running, out error);
            error = new InvalidOperationException("tool '" + name + "' is asynchronous and still running");
            return ErrorOutput(error.Message);
        }

        /// <summary>
        /// Starts the tool <paramref name="name"/> and never throws. A synchronous tool, or an
        /// asynchronous one that failed before returning its task, is finished at once: the result is
        /// null and <paramref name="output"/> / <paramref name="error"/> are set as by <see cref="Invoke"/>.
        /// Otherwise the handler's task is returned (it may already be complete); pass it to
        /// <see cref="Complete"/> once it is.
        /// </summary>
        public Task<string> Start(string name, string argumentsJson, out string output, out Exception error)
        {
            output = null;
            error = null;
            int i = IndexOf(name);
            if (i < 0)
            {
                error = new InvalidOperationException("unknown tool '" + name + "'");
                output = ErrorOutput(error.Message);
                return null;
            }
            var tool = _tools[i];
            try
            {
                if (tool.AsyncHandler == null)
                {
                    output = tool.Handler(argumentsJson) ?? "";
                    return null;
                }
                var task = tool.AsyncHandler(argumentsJson);
                if (task == null) throw new InvalidOperationException("tool '" + name + "' returned a null Task");
                return task;
            }
            catch (Exception e)
            {
                error = Unwrap(e);
                output = ErrorOutput(error.Message);
                return null;
            }
        }

        /// <summary>
        /// The output of a completed handler task: its result, or {"error": "..."} when it faulted or
        /// was cancelled (<paramref name="error"/> set). Never throws.
        /// </summary>
        public static string Complete(Task<string> task, out Exception error)
        {
            error = null;
            if (task == null)
            {
                error = new ArgumentNullException("task");
                return ErrorOutput(error.Message);
            }
            if (!task.IsCompleted)
            {
                error = new InvalidOperationException("the tool's task has not completed");
                return ErrorOutput(error.Message);
            }
            if (task.IsCanceled)
            {
                error = new TaskCanceledException(task);
                return ErrorOutput("the tool's task was cancelled");
            }
            if (task.IsFaulted)
            {
                error = Unwrap(task.Exception);
                return ErrorOutput(error.Message);
            }
            return task.Result ?? "";
        }

        /// <summary>The handler's own exception, out of the reflection and task wrappers.</summary>
        private static Exception Unwrap(Exception e)
        {
            while (true)
            {
                var aggregate = e as AggregateException;
                if (aggregate != null && aggregate.InnerExceptions.Count == 1)
                {
                    e = aggregate.InnerExceptions[0];
                    continue;
                }
                if (e is ToolHandlerException && e.InnerException != null)
                {
                    e = e.InnerException;
                    continue;
                }
                return e;
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
