// Small public types shared by the session wrapper and the MonoBehaviour.
using System;
using System.Runtime.CompilerServices;
using RealtimeVoice.Native;

// The Mono test runner (Tests/run-mono-tests.sh) feeds recorded events and tool calls to the
// dispatcher directly.
[assembly: InternalsVisibleTo("RealtimeVoice.Tests")]
[assembly: InternalsVisibleTo("RealtimeVoice.MonoTests")]

namespace RealtimeVoice
{
    /// <summary>Session state: the header's RvState values and docs (a test diffs them).</summary>
    public enum RealtimeState
    {
        /// <summary>Created, not connected.</summary>
        Idle = 0,
        /// <summary>Dialling / handshaking.</summary>
        Connecting = 1,
        /// <summary>WebSocket open, session not configured yet.</summary>
        Connected = 2,
        /// <summary>Configured, talking.</summary>
        Ready = 3,
        /// <summary>Connection lost, backing off.</summary>
        Reconnecting = 4,
        /// <summary>Closed by the host.</summary>
        Closed = 5,
        /// <summary>Gave up (authentication failure, attempts exhausted).</summary>
        Failed = 6,
    }

    /// <summary>A native call failed: <see cref="Code"/> is the status, the message is rv_last_error's text.</summary>
    public class RealtimeException : Exception
    {
        /// <summary>The native status code (0 = RV_OK, 1 = RV_EMPTY, negative: an RV_ERR_* of the header); the message starts with its name.</summary>
        public int Code { get; }

        /// <summary>Creates the exception.</summary>
        public RealtimeException(int code, string message)
            : base(string.IsNullOrEmpty(message) ? RvStatus.Name(code) : RvStatus.Name(code) + ": " + message)
        {
            Code = code;
        }
    }

    /// <summary>
    /// Marks a public method as a tool the model may call. The JSON schema is generated from the
    /// parameters (float/double/int/long/bool/string/enum; a default value makes it optional) and
    /// arguments are bound by name from the call's JSON. The method may return Task or Task&lt;T&gt;:
    /// it is then asynchronous (see RealtimeSession.ToolTimeout), and its result is the output.
    /// </summary>
    [AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
    public sealed class RealtimeToolAttribute : Attribute
    {
        /// <summary>What the tool does, for the model.</summary>
        public string Description { get; }

        /// <summary>The tool's name; default: the method name in snake_case (MoveCube -> move_cube).</summary>
        public string Name { get; set; }

        /// <summary>Marks the method with a description for the model.</summary>
        public RealtimeToolAttribute(string description)
        {
            Description = description;
        }
    }

    /// <summary>Describes one parameter of a <see cref="RealtimeToolAttribute"/> method for the model.</summary>
    [AttributeUsage(AttributeTargets.Parameter, AllowMultiple = false)]
    public sealed class RealtimeToolParamAttribute : Attribute
    {
        /// <summary>The parameter's description in the schema.</summary>
        public string Description { get; }

        /// <summary>Describes the parameter.</summary>
        public RealtimeToolParamAttribute(string description)
        {
            Description = description;
        }
    }

    /// <summary>One tool call as delivered by rv_poll_tool_call, and what was answered.</summary>
    public sealed class RealtimeToolCall
    {
        /// <summary>The call id to answer.</summary>
        public string CallId { get; internal set; }
        /// <summary>The tool's name.</summary>
        public string Name { get; internal set; }
        /// <summary>The parsed arguments, or null when the model sent invalid JSON.</summary>
        public System.Collections.Generic.Dictionary<string, object> Arguments { get; internal set; }
        /// <summary>The arguments exactly as the model sent them.</summary>
        public string ArgumentsRaw { get; internal set; }
        /// <summary>The output submitted for the model (null until answered).</summary>
        public string Output { get; internal set; }
        /// <summary>The handler's exception when it threw (its message went to the model as an error).</summary>
        public Exception Exception { get; internal set; }
        /// <summary>The call's JSON as polled.</summary>
        public string Json { get; internal set; }
        /// <summary>True when an asynchronous handler ran past RealtimeSession.ToolTimeout and the model got an error output instead.</summary>
        public bool TimedOut { get; internal set; }
    }
}
