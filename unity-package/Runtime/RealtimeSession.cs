// The pure C# wrapper over one native session (no UnityEngine: runs under plain Mono/.NET).
//
// Threading: Poll, the control calls and tool handlers belong to one thread (Unity's main
// thread); an asynchronous handler is started there and may complete on any thread, and its
// output is submitted from the next Poll (RealtimeSession.AsyncTools.cs). PushMic may run on
// any one thread. PullPlayback runs on the audio thread and is safe against a concurrent
// Dispose: the native side validates handles, and a disposed wrapper fills silence itself.
using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using RealtimeVoice.Native;

namespace RealtimeVoice
{
    /// <summary>One conversation with a Realtime server through the native plugin.</summary>
    public sealed partial class RealtimeSession : IDisposable
    {
        private readonly SessionHandle _handle;
        private readonly ToolRegistry _tools = new ToolRegistry();
        private readonly List<object> _configTools = new List<object>(); // tools declared in the config JSON
        private int _sentToolsVersion;
        private byte[] _buffer = new byte[16 * 1024];
        private RealtimeState _lastState = RealtimeState.Idle;

        /// <summary>Creates the native session (parses and validates the config; no network).</summary>
        /// <exception cref="RealtimeException">The config was rejected (Code = RV_ERR_INVALID_CONFIG).</exception>
        public RealtimeSession(string configJson)
        {
            if (configJson == null) throw new ArgumentNullException("configJson");
            ulong handle;
            int rc = NativeMethods.rv_session_create(NativeMethods.Utf8(configJson), out handle);
            if (rc != RvStatus.Ok) throw new RealtimeException(rc, NativeMethods.LastError());
            if (handle == 0) throw new RealtimeException(RvStatus.Internal, "rv_session_create returned handle 0");
            _handle = new SessionHandle(handle);
            RememberConfigTools(configJson);
        }

        /// <summary>The native library's version (rv_version).</summary>
        public static string NativeVersion { get { return NativeMethods.Version(); } }

        /// <summary>
        /// Destroys every session still alive in this process (for domain reloads, where managed
        /// objects vanish but the native library and its worker threads stay). Returns how many.
        /// </summary>
        public static int DestroyAll()
        {
            ulong[] handles = SessionHandle.TakeAllLive();
            // Their later release destroys a dead handle: harmless, handles are never reused.
            foreach (var h in handles) SessionHandle.DestroyNative(h);
            return handles.Length;
        }

        /// <summary>Sessions this process created and has not destroyed yet.</summary>
        public static int LiveCount
        {
            get { return SessionHandle.LiveCount; }
        }

        /// <summary>The native handle (0 once disposed).</summary>
        public ulong Handle { get { return _handle.Value; } }

        /// <summary>True once <see cref="Dispose"/> ran.</summary>
        public bool IsDisposed { get { return Handle == 0; } }

        /// <summary>The registered tools.</summary>
        public ToolRegistry Tools { get { return _tools; } }

        /// <summary>The current state, read from the native session (Closed once disposed).</summary>
        public RealtimeState State
        {
            get
            {
                ulong h = Handle;
                if (h == 0) return RealtimeState.Closed;
                int s = NativeMethods.rv_session_state(h);
                if (s < 0 || s > (int)RealtimeState.Failed) return RealtimeState.Closed;
                return (RealtimeState)s;
            }
        }

        // ---- events (raised from Poll, on the polling thread) ----

        /// <summary>Every event's JSON, before the typed events.</summary>
        public event Action<string> EventReceived;
        /// <summary>Every event, parsed.</summary>
        public event Action<RealtimeEvent> Event;
        /// <summary>The state changed.</summary>
        public event Action<RealtimeState> StateChanged;
        /// <summary>Assistant transcript: a delta, or the whole text when final.</summary>
        public event Action<string, bool> AssistantTranscript;
        /// <summary>User transcript: a delta, or the whole text when final.</summary>
        public event Action<string, bool> UserTranscript;
        /// <summary>An error: code, message, fatal.</summary>
        public event Action<string, string, bool> Error;
        /// <summary>The session is configured and audio flows (session id).</summary>
        public event Action<string> SessionReady;
        /// <summary>Server VAD heard the user start speaking.</summary>
        public event Action SpeechStarted;
        /// <summary>Server VAD heard the user stop speaking.</summary>
        public event Action SpeechStopped;
        /// <summary>A response started (response id).</summary>
        public event Action<string> ResponseStarted;
        /// <summary>A response finished (response id, status).</summary>
        public event Action<string, string> ResponseDone;
        /// <summary>Playback was cut by barge-in (item id, milliseconds the user heard).</summary>
        public event Action<string, int> AudioInterrupted;
        /// <summary>A log line from the plugin (level, message).</summary>
        public event Action<string, string> Log;
        /// <summary>A tool call was answered (by a registered handler, an error output, or the timeout of an asynchronous one).</summary>
        public event Action<RealtimeToolCall> ToolCalled;
        /// <summary>
        /// A call to a tool with no registered handler. Subscribers answer it with
        /// <see cref="SubmitToolResult"/>; with no subscriber it is answered with an error.
        /// </summary>
        public event Action<RealtimeToolCall> UnhandledToolCall;
        /// <summary>A subscriber of one of these events threw; Poll carries on with the next item.</summary>
        public event Action<Exception> ListenerException;

        // ---- tools ----

        /// <summary>
        /// Registers a tool: <paramref name="parametersJsonSchema"/> is a JSON Schema object, the handler
        /// maps the arguments JSON to the output string. Registered before Connect, it goes into the
        /// first session.update; later, it is sent at the next Poll.
        /// </summary>
        public void RegisterTool(string name, string description, string parametersJsonSchema, Func<string, string> handler)
        {
            _tools.Register(name, description, parametersJsonSchema, handler);
        }

        /// <summary>Registers the [RealtimeTool] methods of <paramref name="target"/> (or static ones of a Type).</summary>
        public void RegisterTools(object target)
        {
            _tools.RegisterMethods(target);
        }

        /// <summary>Removes a tool (the declaration update is sent at the next Poll).</summary>
        public bool UnregisterTool(string name)
        {
            return _tools.Unregister(name);
        }

        /// <summary>Sends the tool declarations now if they changed (Connect and Poll do this for you).</summary>
        public void FlushTools()
        {
            if (_tools.Version == _sentToolsVersion) return;
            UpdateSession(ToolsUpdateJson());
            _sentToolsVersion = _tools.Version;
        }

        /// <summary>The partial session object FlushTools sends: tools from the config, then registered ones.</summary>
        internal string ToolsUpdateJson()
        {
            var all = new List<object>(_configTools);
            all.AddRange(_tools.Declarations());
            return Json.Serialize(new Dictionary<string, object> { { "tools", all }, { "tool_choice", "auto" } });
        }

        /// <summary>Answers a tool call yourself (for calls raised by <see cref="UnhandledToolCall"/>).</summary>
        public void SubmitToolResult(string callId, string output)
        {
            if (callId == null) throw new ArgumentNullException("callId");
            Check(NativeMethods.rv_submit_tool_result(RequireHandle(), NativeMethods.Utf8(callId), NativeMethods.Utf8(output ?? "")));
        }

        // ---- lifecycle ----

        /// <summary>Starts connecting (returns at once; progress arrives as events).</summary>
        public void Connect()
        {
            FlushTools();
            Check(NativeMethods.rv_session_connect(RequireHandle()));
        }

        /// <summary>Closes the connection gracefully (idempotent; a no-op once disposed).</summary>
        public void Close()
        {
            ulong h = Handle;
            if (h == 0) return;
            int rc = NativeMethods.rv_session_close(h);
            if (rc != RvStatus.Ok && rc != RvStatus.InvalidHandle) throw new RealtimeException(rc, NativeMethods.LastError());
        }

        /// <summary>
        /// Destroys the native session. Idempotent, and returns at once: the native close (which
        /// may wait for a server that does not answer) finishes on the library's own thread. A session
        /// nobody disposes is destroyed the same way by the handle's finalizer.
        /// </summary>
        public void Dispose()
        {
            _handle.Dispose();
        }

        // ---- audio ----

        /// <summary>Pushes interleaved mic samples (any rate, any channel count). Never blocks on the network.</summary>
        /// <exception cref="ArgumentException">The buffer is shorter than frames * channels.</exception>
        /// <exception cref="RealtimeException">The native side rejected the arguments or the handle.</exception>
        public void PushMic(float[] interleaved, int frames, int channels, int sampleRate)
        {
            int rc = TryPushMic(interleaved, frames, channels, sampleRate);
            // A full queue or a session not yet ready is not the caller's bug: the audio is dropped
            // and counted in the stats.
            if (rc < 0 && rc != RvStatus.QueueFull && rc != RvStatus.InvalidState)
                throw new RealtimeException(rc, NativeMethods.LastError());
        }

        /// <summary>Like <see cref="PushMic"/> but returns the native status instead of throwing.</summary>
        public int TryPushMic(float[] interleaved, int frames, int channels, int sampleRate)
        {
            if (interleaved == null) throw new ArgumentNullException("interleaved");
            if (frames < 0 || channels <= 0 || (long)frames * channels > interleaved.Length)
                throw new ArgumentException("frames * channels exceeds the buffer");
            ulong h = Handle;
            if (h == 0) return RvStatus.InvalidHandle;
            if (frames == 0) return RvStatus.Ok;
            return NativeMethods.rv_push_mic(h, interleaved, frames, channels, sampleRate);
        }

        /// <summary>
        /// Feeds the game's final output mix (what the speakers play: music, effects, every session's
        /// voice, after panning and mixer effects) to every session's echo canceller, process-wide.
        /// Made for the audio thread (OnAudioFilterRead on the AudioListener; see
        /// <see cref="RealtimeOutputMixTap"/>): no allocation, no lock, never throws; a bad buffer is
        /// ignored. While it is fed (within the last 200 ms) sessions cancel this mix instead of their
        /// own playback.
        /// </summary>
        public static void PushOutputMix(float[] interleaved, int frames, int channels, int sampleRate)
        {
            if (interleaved == null || frames <= 0 || channels <= 0 || sampleRate <= 0) return;
            if ((long)frames * channels > interleaved.Length) return;
            NativeMethods.rv_push_output_mix(interleaved, frames, channels, sampleRate);
        }

        /// <summary>
        /// Fills frames * channels interleaved samples of model audio at <paramref name="sampleRate"/>
        /// (silence where there is none) and returns how many frames carried model audio. Safe on the
        /// audio thread: no allocation, no lock, never throws for a disposed session or bad sizes.
        /// </summary>
        public int PullPlayback(float[] interleaved, int frames, int channels, int sampleRate)
        {
            if (interleaved == null) return 0;
            ulong h = Handle;
            if (h == 0 || frames <= 0 || channels <= 0 || (long)frames * channels > interleaved.Length || sampleRate <= 0)
            {
                long n = Math.Min(interleaved.Length, Math.Max(0L, (long)frames * Math.Max(channels, 0)));
                Array.Clear(interleaved, 0, (int)n);
                return 0;
            }
            int rc = NativeMethods.rv_pull_playback(h, interleaved, frames, channels, sampleRate);
            if (rc < 0)
            {
                Array.Clear(interleaved, 0, frames * channels);
                return 0;
            }
            return rc;
        }

        // ---- conversation control ----

        /// <summary>Sends a user text message and asks for a response.</summary>
        public void SendText(string text)
        {
            if (text == null) throw new ArgumentNullException("text");
            Check(NativeMethods.rv_send_text(RequireHandle(), NativeMethods.Utf8(text)));
        }

        /// <summary>Merges a partial "session" object into the configuration (sent at once when ready).</summary>
        public void UpdateSession(string sessionJson)
        {
            if (sessionJson == null) throw new ArgumentNullException("sessionJson");
            Check(NativeMethods.rv_update_session(RequireHandle(), NativeMethods.Utf8(sessionJson)));
        }

        /// <summary>Commits the input audio buffer (push-to-talk release).</summary>
        public void CommitAudio()
        {
            Check(NativeMethods.rv_commit_audio(RequireHandle()));
        }

        /// <summary>Clears the uncommitted input audio (push-to-talk press).</summary>
        public void ClearAudio()
        {
            Check(NativeMethods.rv_clear_audio(RequireHandle()));
        }

        /// <summary>Asks for a response; <paramref name="responseJson"/> is an optional "response" object.</summary>
        public void CreateResponse(string responseJson = null)
        {
            Check(NativeMethods.rv_create_response(RequireHandle(), NativeMethods.Utf8(responseJson)));
        }

        /// <summary>Barge-in: cancels the response, flushes playback, truncates what was not heard.</summary>
        public void CancelResponse()
        {
            Check(NativeMethods.rv_cancel_response(RequireHandle()));
        }

        /// <summary>The session's counters.</summary>
        public RealtimeStats GetStats()
        {
            RvStats stats;
            Check(NativeMethods.rv_get_stats(RequireHandle(), out stats));
            return new RealtimeStats(stats);
        }

        // ---- polling ----

        /// <summary>
        /// Drains queued events and tool calls: raises the events, answers the asynchronous tool
        /// calls that completed or timed out, runs new tool handlers and submits their results.
        /// Returns how many items it handled. Never throws for a disposed session,
        /// a throwing handler or a throwing subscriber.
        /// </summary>
        public int Poll()
        {
            return Poll(int.MaxValue);
        }

        /// <summary>Like <see cref="Poll()"/> but handles at most <paramref name="maxItems"/> items.</summary>
        public int Poll(int maxItems)
        {
            if (Handle == 0) return 0;
            try
            {
                FlushTools();
            }
            catch (RealtimeException e)
            {
                RaiseError("tools_update_failed", e.Message, false);
            }
            catch (ObjectDisposedException)
            {
                return 0;
            }
            int handled = 0;
            string json;
            while (handled < maxItems && TryPoll(false, out json))
            {
                handled++;
                DispatchEvent(json);
            }
            handled += FinishToolTasks(maxItems - handled);
            while (handled < maxItems && TryPoll(true, out json))
            {
                handled++;
                DispatchToolCall(json);
            }
            return handled;
        }

        private bool TryPoll(bool toolCall, out string json)
        {
            json = null;
            for (int attempt = 0; attempt < 3; attempt++)
            {
                ulong h = Handle;
                if (h == 0) return false;
                int len;
                int rc = toolCall
                    ? NativeMethods.rv_poll_tool_call(h, _buffer, _buffer.Length, out len)
                    : NativeMethods.rv_poll_event(h, _buffer, _buffer.Length, out len);
                if (rc == RvStatus.Ok)
                {
                    json = Encoding.UTF8.GetString(_buffer, 0, Math.Max(0, Math.Min(len, _buffer.Length)));
                    return true;
                }
                if (rc == RvStatus.BufferTooSmall && len >= _buffer.Length && len < int.MaxValue - 1)
                {
                    _buffer = new byte[Math.Max(len + 1, _buffer.Length * 2)]; // the item stays queued: retry
                    continue;
                }
                return false; // RV_EMPTY, or the session is gone
            }
            return false;
        }

        internal void DispatchEvent(string json)
        {
            SafeRaise(EventReceived, json);
            RealtimeEvent ev;
            try
            {
                ev = new RealtimeEvent(json);
            }
            catch (JsonException e)
            {
                RaiseError("malformed_event", e.Message, false);
                return;
            }
            if (Event != null)
            {
                try { Event(ev); } catch (Exception e) { RaiseListenerException(e); }
            }
            try
            {
                switch (ev.Kind)
                {
                    case RealtimeEventKind.State:
                        var s = ev.State;
                        if (s.HasValue && s.Value != _lastState)
                        {
                            _lastState = s.Value;
                            if (StateChanged != null) StateChanged(s.Value);
                        }
                        break;
                    case RealtimeEventKind.SessionReady:
                        if (SessionReady != null) SessionReady(ev.SessionId);
                        break;
                    case RealtimeEventKind.SpeechStarted:
                        if (SpeechStarted != null) SpeechStarted();
                        break;
                    case RealtimeEventKind.SpeechStopped:
                        if (SpeechStopped != null) SpeechStopped();
                        break;
                    case RealtimeEventKind.UserTranscript:
                        if (UserTranscript != null) UserTranscript(ev.Text ?? "", ev.Final);
                        break;
                    case RealtimeEventKind.AssistantTranscript:
                        if (AssistantTranscript != null) AssistantTranscript(ev.Text ?? "", ev.Final);
                        break;
                    case RealtimeEventKind.ResponseStarted:
                        try { if (ResponseStarted != null) ResponseStarted(ev.ResponseId); }
                        finally { RaiseResponseChanged(ev); } // RealtimeSession.Conversation.cs
                        break;
                    case RealtimeEventKind.ResponseDone:
                        try { if (ResponseDone != null) ResponseDone(ev.ResponseId, ev.Status); }
                        finally { RaiseResponseChanged(ev); }
                        break;
                    case RealtimeEventKind.AudioInterrupted:
                        if (AudioInterrupted != null) AudioInterrupted(ev.ItemId, ev.PlayedMs);
                        break;
                    case RealtimeEventKind.Error:
                        if (Error != null) Error(ev.Code ?? "", ev.Message ?? "", ev.Fatal);
                        break;
                    case RealtimeEventKind.Log:
                        if (Log != null) Log(ev.Level ?? "info", ev.Message ?? "");
                        break;
                    default:
                        DispatchConversationEvent(ev); // RealtimeSession.Conversation.cs
                        break;
                }
            }
            catch (Exception e)
            {
                RaiseListenerException(e);
            }
        }

        internal void DispatchToolCall(string json)
        {
            var call = new RealtimeToolCall { Json = json };
            Dictionary<string, object> obj;
            try
            {
                obj = Json.ParseObject(json);
            }
            catch (JsonException e)
            {
                RaiseError("malformed_tool_call", e.Message, false);
                return; // no call_id to answer
            }
            call.CallId = Json.GetString(obj, "call_id");
            call.Name = Json.GetString(obj, "name", "");
            call.Arguments = Json.GetObject(obj, "arguments");
            call.ArgumentsRaw = Json.GetString(obj, "arguments_raw");
            if (call.CallId == null)
            {
                RaiseError("malformed_tool_call", "tool call without call_id", false);
                return;
            }
            string argumentsJson = call.ArgumentsRaw;
            if (call.Arguments != null && string.IsNullOrEmpty(argumentsJson)) argumentsJson = Json.Serialize(call.Arguments);

            if (!_tools.Contains(call.Name) && UnhandledToolCall != null)
            {
                try { UnhandledToolCall(call); } catch (Exception e) { RaiseListenerException(e); }
                return; // the subscriber answers with SubmitToolResult
            }

            string output;
            if (call.Arguments == null && _tools.Contains(call.Name))
            {
                output = ToolRegistry.ErrorOutput("arguments are not valid JSON: " + (call.ArgumentsRaw ?? ""));
            }
            else
            {
                Exception error;
                Task<string> running = _tools.Start(call.Name, argumentsJson, out output, out error);
                if (running != null)
                {
                    if (!running.IsCompleted)
                    {
                        TrackToolTask(call, running); // answered from the Poll that sees it complete
                        return;
                    }
                    output = ToolRegistry.Complete(running, out error);
                }
                call.Exception = error;
            }
            AnswerToolCall(call, output);
        }

        /// <summary>Submits <paramref name="output"/> for <paramref name="call"/> and raises ToolCalled.</summary>
        private void AnswerToolCall(RealtimeToolCall call, string output)
        {
            call.Output = output;
            try
            {
                SubmitToolResult(call.CallId, output);
            }
            catch (RealtimeException e)
            {
                RaiseError("tool_result_failed", e.Message, false);
            }
            catch (ObjectDisposedException)
            {
                // A handler or subscriber disposed the session: nobody is left to answer.
            }
            if (ToolCalled != null)
            {
                try { ToolCalled(call); } catch (Exception e) { RaiseListenerException(e); }
            }
        }

        private void RaiseError(string code, string message, bool fatal)
        {
            if (Error == null) return;
            try { Error(code, message, fatal); } catch (Exception e) { RaiseListenerException(e); }
        }

        private void SafeRaise(Action<string> handler, string arg)
        {
            if (handler == null) return;
            try { handler(arg); } catch (Exception e) { RaiseListenerException(e); }
        }

        private void RaiseListenerException(Exception e)
        {
            var h = ListenerException;
            if (h == null)
            {
                Console.Error.WriteLine("RealtimeSession: an event subscriber threw: " + e);
                return;
            }
            try { h(e); } catch { /* a throwing exception listener has nowhere left to report */ }
        }

        private ulong RequireHandle()
        {
            ulong h = Handle;
            if (h == 0) throw new ObjectDisposedException("RealtimeSession");
            return h;
        }

        private static void Check(int rc)
        {
            if (rc < 0) throw new RealtimeException(rc, NativeMethods.LastError());
        }

        private void RememberConfigTools(string configJson)
        {
            // Tools declared in the config's "session" must survive our tools updates, which
            // replace the whole array.
            try
            {
                var session = Json.GetObject(Json.ParseObject(configJson), "session");
                object tools;
                if (session != null && session.TryGetValue("tools", out tools) && tools is List<object>)
                    _configTools.AddRange((List<object>)tools);
            }
            catch (JsonException)
            {
                // The native side accepted it, so this cannot happen; nothing to keep if it does.
            }
        }
    }
}
