// The Unity component: microphone capture, playback in OnAudioFilterRead, polling on the main
// thread, UnityEvents, and a clean native shutdown on disable, destroy and domain reload.
using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using UnityEngine;
using UnityEngine.Events;

namespace RealtimeVoice
{
    /// <summary>A transcript piece: text (a delta, or the whole when final), isFinal.</summary>
    [Serializable] public class RealtimeTranscriptEvent : UnityEvent<string, bool> { }

    /// <summary>The session state changed.</summary>
    [Serializable] public class RealtimeStateEvent : UnityEvent<RealtimeState> { }

    /// <summary>An error: code, message, fatal.</summary>
    [Serializable] public class RealtimeErrorEvent : UnityEvent<string, string, bool> { }

    /// <summary>A tool call was answered: tool name, output sent to the model.</summary>
    [Serializable] public class RealtimeToolEvent : UnityEvent<string, string> { }

    /// <summary>
    /// Talks to a Realtime model: add it to a GameObject with an AudioSource, register tools,
    /// press Play. The model's voice plays through this GameObject's AudioSource.
    /// </summary>
    [DisallowMultipleComponent]
    [RequireComponent(typeof(AudioSource))]
    [AddComponentMenu("Audio/Realtime Voice")]
    public sealed class RealtimeVoice : MonoBehaviour
    {
        [Header("Connection")]
        [Tooltip("WebSocket URL. Empty: wss://api.openai.com/v1/realtime.")]
        [SerializeField] private string url = "";
        [SerializeField] private string model = "gpt-realtime";
        [Tooltip("Editor only: the API key is read from this environment variable. Builds never read it; " +
                 "they use ClientSecretProvider (an ephemeral token from your backend).")]
        [SerializeField] private string apiKeyEnvironmentVariable = "OPENAI_API_KEY";
        [SerializeField] private bool connectOnStart = true;

        [Header("Conversation")]
        [TextArea(2, 8)]
        [SerializeField] private string instructions = "You are a helpful game character. Keep answers short.";
        [Tooltip("alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin, cedar")]
        [SerializeField] private string voice = "alloy";
        [Tooltip("Server voice activity detection. Off: push-to-talk (commit on release).")]
        [SerializeField] private bool serverVad = true;
        [Tooltip("Stop the model's audio when the user starts speaking over it.")]
        [SerializeField] private bool bargeIn = true;
        [Tooltip("Mute the mic while the model speaks (speakers without headphones).")]
        [SerializeField] private bool halfDuplex = false;
        [Tooltip("Remove the model's own voice from the mic, so speakers work without muting the mic and the user can still interrupt by voice.")]
        [SerializeField] private bool echoCancellation = true;
        [Tooltip("Optional JSON merged into the session object (any Realtime session field).")]
        [TextArea(1, 6)]
        [SerializeField] private string sessionOverridesJson = "";

        [Header("Microphone")]
        [SerializeField] private bool captureMicrophone = true;
        [Tooltip("Device name; empty: the default microphone.")]
        [SerializeField] private string microphoneDevice = "";
        [Tooltip("Only send audio while talking (key held, or BeginTalking/EndTalking). Turns server VAD off.")]
        [SerializeField] private bool pushToTalk = false;
        [SerializeField] private KeyCode pushToTalkKey = KeyCode.Space;

        [Header("Diagnostics")]
        [SerializeField] private bool logEvents = false;

        /// <summary>Assistant transcript (delta or final text).</summary>
        [Header("Events")]
        public RealtimeTranscriptEvent onAssistantTranscript = new RealtimeTranscriptEvent();
        /// <summary>User transcript (delta or final text).</summary>
        public RealtimeTranscriptEvent onUserTranscript = new RealtimeTranscriptEvent();
        /// <summary>State changes.</summary>
        public RealtimeStateEvent onStateChanged = new RealtimeStateEvent();
        /// <summary>Errors from the plugin or the server.</summary>
        public RealtimeErrorEvent onError = new RealtimeErrorEvent();
        /// <summary>Tool calls answered.</summary>
        public RealtimeToolEvent onToolCalled = new RealtimeToolEvent();

        /// <summary>EditorPrefs key of the editor-only API key (Window > Realtime Voice > API Key).</summary>
        public const string EditorApiKeyPref = "RealtimeVoice.ApiKey";

        /// <summary>
        /// An API key set from code (never serialized, so never saved into scenes or builds).
        /// For shipped games use <see cref="ClientSecretProvider"/> instead.
        /// </summary>
        [NonSerialized] public string ApiKey;

        /// <summary>
        /// Returns an ephemeral client secret (ek_...) that your game's backend minted with
        /// POST /v1/realtime/client_secrets. Called before every connect.
        /// </summary>
        [NonSerialized] public Func<Task<string>> ClientSecretProvider;

        /// <summary>
        /// Callback form of <see cref="ClientSecretProvider"/> for coroutine code: <paramref name="fetch"/>
        /// receives a function to call with the token (ek_...) once your backend returned it, or with
        /// null when it failed. Example: <c>voice.SetClientSecretCallback(done => StartCoroutine(FetchToken(done)));</c>
        /// </summary>
        public void SetClientSecretCallback(Action<Action<string>> fetch)
        {
            if (fetch == null)
            {
                ClientSecretProvider = null;
                return;
            }
            ClientSecretProvider = () =>
            {
                var tcs = new TaskCompletionSource<string>();
                fetch(token => tcs.TrySetResult(token));
                return tcs.Task;
            };
        }

        /// <summary>Raised after a session is created, before it connects (advanced configuration).</summary>
        public event Action<RealtimeSession> SessionCreated;

        private readonly List<Action<ToolRegistry>> _registrations = new List<Action<ToolRegistry>>();
        private volatile RealtimeSession _session; // read by the audio thread
        private volatile int _outputSampleRate;      // cached: AudioSettings may not be read on the audio thread
        private AudioSource _audioSource;
        private int _connectGeneration;
        private bool _alive;
        private bool _started;

        // Microphone state (main thread only).
        private AudioClip _micClip;
        private string _micDeviceInUse;
        private MicRingReader _micReader;
        private float[] _micChunk;
        private int _micChannels;
        private int _micRate;
        private bool _talking;
        private bool _pttKeyUsable = true;
        private bool _waitingForMicPermission;
        private const int MicClipSeconds = 2; // the ring must outlast the longest frame hitch

        // Turns are the client's to end when VAD is off: audio flows only between BeginTalking and EndTalking.
        private bool ManualTurns { get { return pushToTalk || !serverVad; } }

        /// <summary>The live session, or null.</summary>
        public RealtimeSession Session { get { return _session; } }

        /// <summary>The session's state (Idle when there is none).</summary>
        public RealtimeState State { get { var s = _session; return s == null ? RealtimeState.Idle : s.State; } }

        /// <summary>True while push-to-talk is held.</summary>
        public bool IsTalking { get { return _talking; } }

        /// <summary>Push-to-talk on or off (takes effect at the next connect for turn detection).</summary>
        public bool PushToTalk { get { return pushToTalk; } set { pushToTalk = value; } }

        /// <summary>Editor only: the environment variable the API key is read from.</summary>
        public string ApiKeyEnvironmentVariable { get { return apiKeyEnvironmentVariable; } set { apiKeyEnvironmentVariable = value; } }

        /// <summary>Instructions for the next connect (use UpdateSession for a live change).</summary>
        public string Instructions { get { return instructions; } set { instructions = value; } }

        /// <summary>Model for the next connect.</summary>
        public string Model { get { return model; } set { model = value; } }

        /// <summary>Voice for the next connect.</summary>
        public string Voice { get { return voice; } set { voice = value; } }

        /// <summary>URL for the next connect (empty: OpenAI).</summary>
        public string Url { get { return url; } set { url = value; } }

        // ---- tools ----

        /// <summary>Registers a tool with an explicit JSON schema (kept for every session this component opens).</summary>
        /// <exception cref="ArgumentException">Invalid name or schema (checked at once, not at connect).</exception>
        public void RegisterTool(string name, string description, string parametersJsonSchema, Func<string, string> handler)
        {
            AddRegistration(tools => tools.Register(name, description, parametersJsonSchema, handler));
        }

        /// <summary>Registers the [RealtimeTool] methods of <paramref name="target"/>.</summary>
        /// <exception cref="NotSupportedException">A tool parameter has a type the schema cannot describe.</exception>
        public void RegisterTools(object target)
        {
            AddRegistration(tools => tools.RegisterMethods(target));
        }

        private void AddRegistration(Action<ToolRegistry> registration)
        {
            registration(new ToolRegistry()); // validate now, so a mistake is reported where it was made
            _registrations.Add(registration);
            var s = _session;
            if (s != null) registration(s.Tools); // sent to the live session at its next Poll
        }

        // ---- Unity messages ----

        private void Awake()
        {
            _audioSource = GetComponent<AudioSource>();
            _outputSampleRate = AudioSettings.outputSampleRate;
        }

        private void OnEnable()
        {
            _alive = true;
            AudioSettings.OnAudioConfigurationChanged += OnAudioConfigurationChanged;
#if UNITY_EDITOR
            UnityEditor.AssemblyReloadEvents.beforeAssemblyReload += OnBeforeAssemblyReload;
#endif
            StartPlaybackSource();
            // Re-enabled after Start: resume the conversation with a new session.
            if (_started && connectOnStart) Connect();
        }

        private void Start()
        {
            _started = true;
            if (connectOnStart) Connect();
        }

        private void OnDisable()
        {
            _alive = false;
            AudioSettings.OnAudioConfigurationChanged -= OnAudioConfigurationChanged;
#if UNITY_EDITOR
            UnityEditor.AssemblyReloadEvents.beforeAssemblyReload -= OnBeforeAssemblyReload;
#endif
            Disconnect();
        }

        private void OnDestroy()
        {
            _alive = false;
            Disconnect();
        }

#if UNITY_EDITOR
        private void OnBeforeAssemblyReload()
        {
            // Managed objects vanish on a domain reload but the native library and its threads
            // stay loaded: destroy every session now, not in a finalizer that may never run.
            Disconnect();
            RealtimeSession.DestroyAll();
        }
#endif

        private void Update()
        {
            var s = _session;
            if (s == null) return;
            HandlePushToTalkKey();
            PumpMicrophone(s);
            s.Poll();
        }

        // Audio thread: no Unity API here, no allocation; the session fills silence when it has nothing.
        private void OnAudioFilterRead(float[] data, int channels)
        {
            var s = _session;
            if (s == null || channels <= 0)
            {
                Array.Clear(data, 0, data.Length);
                return;
            }
            s.PullPlayback(data, data.Length / channels, channels, _outputSampleRate);
        }

        private void OnAudioConfigurationChanged(bool deviceWasChanged)
        {
            _outputSampleRate = AudioSettings.outputSampleRate;
            // A configuration change stops and rebuilds the audio system's sources: restart ours at the new rate.
            if (_alive) StartPlaybackSource();
        }

        // ---- connection ----

        /// <summary>Creates a session from the inspector settings and connects (closing any previous one).</summary>
        public async void Connect()
        {
            try
            {
                await ConnectAsync();
            }
            catch (Exception e)
            {
                ReportError("connect_failed", e.Message, true);
            }
        }

        /// <summary>Like <see cref="Connect"/>, awaitable; throws if the session cannot be created.</summary>
        public async Task ConnectAsync()
        {
            Disconnect();
            int generation = ++_connectGeneration;
            string clientSecret = null;
            if (ClientSecretProvider != null)
            {
                clientSecret = await ClientSecretProvider();
                // Disabled, destroyed or reconnected while the token was being fetched.
                if (generation != _connectGeneration || !_alive) return;
                if (string.IsNullOrEmpty(clientSecret)) throw new InvalidOperationException("ClientSecretProvider returned no token");
            }
            var session = new RealtimeSession(BuildConfig(clientSecret).ToJson());
            try
            {
                foreach (var r in _registrations) r(session.Tools);
                Wire(session);
                if (SessionCreated != null) SessionCreated(session);
                session.Connect();
            }
            catch
            {
                session.Dispose();
                throw;
            }
            _session = session;
            if (captureMicrophone) StartMicrophone();
        }

        /// <summary>Stops the microphone and destroys the session (safe to call any time).</summary>
        public void Disconnect()
        {
            _connectGeneration++;
            StopMicrophone();
            var s = _session;
            _session = null; // the audio thread stops using it before it is destroyed
            if (s != null) s.Dispose();
            _talking = false;
        }

        /// <summary>The config the next connect will use (credentials resolved as documented).</summary>
        public RealtimeConfig BuildConfig(string clientSecret)
        {
            var cfg = new RealtimeConfig
            {
                Url = string.IsNullOrEmpty(url) ? null : url,
                Model = string.IsNullOrEmpty(model) ? null : model,
                Instructions = instructions,
                Voice = voice,
                ServerVad = !ManualTurns,
                BargeIn = bargeIn,
                HalfDuplex = halfDuplex,
                EchoCancellation = echoCancellation,
                OutputSampleRate = _outputSampleRate > 0 ? _outputSampleRate : (int?)null,
                ClientSecret = clientSecret,
            };
            if (string.IsNullOrEmpty(clientSecret))
            {
                string key = ApiKey;
#if UNITY_EDITOR
                if (string.IsNullOrEmpty(key)) key = UnityEditor.EditorPrefs.GetString(EditorApiKeyPref, "");
                if (string.IsNullOrEmpty(key) && !string.IsNullOrEmpty(apiKeyEnvironmentVariable))
                    key = Environment.GetEnvironmentVariable(apiKeyEnvironmentVariable);
#endif
                cfg.ApiKey = key;
            }
            if (!string.IsNullOrEmpty(sessionOverridesJson) && sessionOverridesJson.Trim().Length > 0)
                cfg.SessionOverrides = Json.ParseObject(sessionOverridesJson);
            return cfg;
        }

        private void Wire(RealtimeSession s)
        {
            s.StateChanged += state => onStateChanged.Invoke(state);
            s.AssistantTranscript += (text, final) => onAssistantTranscript.Invoke(text, final);
            s.UserTranscript += (text, final) => onUserTranscript.Invoke(text, final);
            s.Error += (code, message, fatal) => ReportError(code, message, fatal);
            s.ToolCalled += call =>
            {
                if (call.Exception != null)
                    Debug.LogWarning("[RealtimeVoice] tool " + call.Name + " failed: " + call.Exception.Message);
                onToolCalled.Invoke(call.Name, call.Output);
            };
            s.ListenerException += e => Debug.LogException(e);
            s.Log += (level, message) => { if (logEvents) Debug.Log("[RealtimeVoice] " + level + ": " + message); };
            if (logEvents) s.EventReceived += json => Debug.Log("[RealtimeVoice] " + json);
        }

        private void ReportError(string code, string message, bool fatal)
        {
            if (fatal) Debug.LogError("[RealtimeVoice] " + code + ": " + message);
            else Debug.LogWarning("[RealtimeVoice] " + code + ": " + message);
            onError.Invoke(code, message, fatal);
        }

        // ---- conversation API ----

        /// <summary>Sends a typed user message; the model answers.</summary>
        public void SendText(string text)
        {
            var s = _session;
            if (s != null) Guard(() => s.SendText(text));
        }

        /// <summary>Merges a partial session object into the live session (e.g. new instructions).</summary>
        public void UpdateSession(string sessionJson)
        {
            var s = _session;
            if (s != null) Guard(() => s.UpdateSession(sessionJson));
        }

        /// <summary>Stops the model talking now (barge-in by button).</summary>
        public void Interrupt()
        {
            var s = _session;
            if (s != null) Guard(() => s.CancelResponse());
        }

        /// <summary>Push-to-talk pressed: interrupts the model and starts a fresh user turn.</summary>
        public void BeginTalking()
        {
            var s = _session;
            if (s == null || _talking) return;
            _talking = true;
            if (!ManualTurns) return;
            Guard(() => s.CancelResponse());
            Guard(() => s.ClearAudio());
        }

        /// <summary>Push-to-talk released: sends what was said and asks for the answer.</summary>
        public void EndTalking()
        {
            var s = _session;
            if (s == null || !_talking) return;
            PumpMicrophone(s); // the last few milliseconds belong to this turn
            _talking = false;
            if (!ManualTurns) return;
            Guard(() => s.CommitAudio());
            Guard(() => s.CreateResponse());
        }

        private void Guard(Action action)
        {
            try
            {
                action();
            }
            catch (RealtimeException e)
            {
                ReportError("call_failed", e.Message, false);
            }
            catch (ObjectDisposedException)
            {
                // Disconnected meanwhile: nothing to do.
            }
        }

        private void HandlePushToTalkKey()
        {
            if (!pushToTalk || pushToTalkKey == KeyCode.None || !_pttKeyUsable) return;
            try
            {
                if (Input.GetKeyDown(pushToTalkKey)) BeginTalking();
                if (Input.GetKeyUp(pushToTalkKey)) EndTalking();
            }
            catch (InvalidOperationException)
            {
                // Projects using only the new Input System: call BeginTalking/EndTalking yourself.
                _pttKeyUsable = false;
                Debug.LogWarning("[RealtimeVoice] legacy Input is disabled; call BeginTalking()/EndTalking() from your input code.");
            }
        }

        // ---- playback ----

        private void StartPlaybackSource()
        {
            if (_audioSource == null) _audioSource = GetComponent<AudioSource>();
            if (_audioSource == null) return;
            int rate = _outputSampleRate > 0 ? _outputSampleRate : 48000;
            // OnAudioFilterRead replaces what the source plays: a looping silent clip keeps it running.
            _audioSource.Stop();
            _audioSource.clip = AudioClip.Create("RealtimeVoice.Playback", rate, 1, rate, false);
            _audioSource.loop = true;
            _audioSource.playOnAwake = false;
            _audioSource.Play();
        }

        // ---- microphone ----

        private void StartMicrophone()
        {
            StopMicrophone();
#if UNITY_ANDROID && !UNITY_EDITOR
            if (!UnityEngine.Android.Permission.HasUserAuthorizedPermission(UnityEngine.Android.Permission.Microphone))
            {
                UnityEngine.Android.Permission.RequestUserPermission(UnityEngine.Android.Permission.Microphone);
                _waitingForMicPermission = true; // retried from Update
                return;
            }
#endif
            _waitingForMicPermission = false;
            if (Microphone.devices.Length == 0)
            {
                Debug.LogWarning("[RealtimeVoice] no microphone found; text only.");
                return;
            }
            string device = string.IsNullOrEmpty(microphoneDevice) ? null : microphoneDevice;
            int minRate, maxRate;
            Microphone.GetDeviceCaps(device, out minRate, out maxRate);
            int rate = (minRate == 0 && maxRate == 0) ? 48000 : Mathf.Clamp(48000, minRate, maxRate);
            _micClip = Microphone.Start(device, true, MicClipSeconds, rate);
            if (_micClip == null)
            {
                ReportError("microphone_failed", "Microphone.Start returned no clip", false);
                return;
            }
            _micDeviceInUse = device;
            _micChannels = Math.Max(1, _micClip.channels);
            _micRate = _micClip.frequency;
            int chunkFrames = Math.Max(1, _micRate / 100); // 10 ms reads: low latency, one reusable buffer
            _micReader = new MicRingReader(_micClip.samples, chunkFrames);
            _micChunk = new float[chunkFrames * _micChannels];
        }

        private void StopMicrophone()
        {
            if (_micClip != null) Microphone.End(_micDeviceInUse);
            _micClip = null;
            _micReader = null;
        }

        private void PumpMicrophone(RealtimeSession s)
        {
            if (_waitingForMicPermission)
            {
#if UNITY_ANDROID && !UNITY_EDITOR
                if (UnityEngine.Android.Permission.HasUserAuthorizedPermission(UnityEngine.Android.Permission.Microphone))
                    StartMicrophone();
#endif
                return;
            }
            if (_micClip == null || _micReader == null) return;
            int writePos = Microphone.GetPosition(_micDeviceInUse);
            if (Time.unscaledDeltaTime > MicClipSeconds * 0.9f)
            {
                // A hitch (loading, breakpoint) as long as the ring: the writer may have lapped the
                // reader, so what lies behind it is a mix of old and new audio. Skip to the present.
                _micReader.Reset(writePos);
                return;
            }
            bool send = !ManualTurns || _talking;
            int start;
            while (_micReader.TryNextChunk(writePos, out start))
            {
                if (send)
                {
                    // GetData wraps past the clip's end, so a chunk straddling the loop point reads whole.
                    _micClip.GetData(_micChunk, start);
                    int rc = s.TryPushMic(_micChunk, _micReader.ChunkFrames, _micChannels, _micRate);
                    if (rc == Native.RvStatus.InvalidHandle) return;
                }
                _micReader.Advance(); // audio outside a push-to-talk turn is skipped, never sent late
            }
        }

        /// <summary>The session's counters (zeroes when there is no session).</summary>
        public Native.RvStats GetStats()
        {
            var s = _session;
            if (s == null) return default(Native.RvStats);
            try
            {
                return s.GetStats();
            }
            catch (RealtimeException)
            {
                return default(Native.RvStats);
            }
            catch (ObjectDisposedException)
            {
                return default(Native.RvStats);
            }
        }
    }
}
