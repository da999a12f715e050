// The Unity component: polling on the main thread, UnityEvents, the microphone
// (MicrophoneCapture), the model's voice on an AudioSource it owns (RealtimeVoiceOutput), and a
// native shutdown that never blocks, on disable, destroy and domain reload.
using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using UnityEngine;
using UnityEngine.Audio;
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

    /// <summary>An id: the session id (ready), the response id (response started) or the item id (input timeout; null when the server gave none).</summary>
    [Serializable] public class RealtimeIdEvent : UnityEvent<string> { }

    /// <summary>A response finished: response id, status (completed, cancelled, ...).</summary>
    [Serializable] public class RealtimeResponseDoneEvent : UnityEvent<string, string> { }

    /// <summary>The model was interrupted: item id, milliseconds of its audio the user heard.</summary>
    [Serializable] public class RealtimeInterruptedEvent : UnityEvent<string, int> { }

    /// <summary>The microphone's status changed.</summary>
    [Serializable] public class RealtimeMicrophoneEvent : UnityEvent<MicrophoneStatus> { }

    /// <summary>An item the conversation gained or lost: the conversation_item event's JSON.</summary>
    [Serializable] public class RealtimeItemChangedEvent : UnityEvent<string> { }

    /// <summary>The server's rate limits changed.</summary>
    [Serializable] public class RealtimeRateLimitsEvent : UnityEvent<IList<RealtimeRateLimit>> { }

    /// <summary>The conversation was re-created on a new server session: how many items.</summary>
    [Serializable] public class RealtimeHistoryRestoredEvent : UnityEvent<int> { }

    /// <summary>A response started or finished, with its metadata.</summary>
    [Serializable] public class RealtimeResponseEvent : UnityEvent<RealtimeResponse> { }

    /// <summary>
    /// Talks to a Realtime model: add it to a GameObject, register tools, press Play. The model's
    /// voice plays on an AudioSource this component creates on a child GameObject
    /// (<see cref="OutputSource"/>); an AudioSource of your own on this GameObject is left alone.
    /// </summary>
    [DisallowMultipleComponent]
    [AddComponentMenu("Audio/Realtime Voice")]
    public sealed partial class RealtimeVoice : MonoBehaviour
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
        // Scenes saved before turnDetection existed: false still means push-to-talk.
        [HideInInspector]
        [SerializeField] private bool serverVad = true;
        [Tooltip("Who ends the user's turn: the server's voice activity detection, its semantic turn detection, " +
                 "or push-to-talk (turn_detection null: BeginTalking/EndTalking or the key commit each turn).")]
        [SerializeField] private RealtimeTurnDetection turnDetection = RealtimeTurnDetection.ServerVad;
        [Tooltip("Server VAD: the speech probability that starts a turn (higher: needs louder speech).")]
        [Range(0f, 1f)]
        [SerializeField] private float vadThreshold = 0.5f;
        [Tooltip("Server VAD: the silence, in ms, that ends the user's turn.")]
        [SerializeField] private int vadSilenceDurationMs = 500;
        [Tooltip("Server VAD: audio kept from before speech was detected, in ms.")]
        [SerializeField] private int vadPrefixPaddingMs = 300;
        [Tooltip("Semantic VAD: how soon the model answers (low lets the user take their time).")]
        [SerializeField] private RealtimeVadEagerness semanticVadEagerness = RealtimeVadEagerness.Auto;
        [Tooltip("The server's noise reduction of the microphone audio: near field for headsets, far field for laptop or room microphones.")]
        [SerializeField] private RealtimeNoiseReduction noiseReduction = RealtimeNoiseReduction.Off;
        [Tooltip("Transcribe what the user says with this model (e.g. gpt-4o-mini-transcribe, gpt-4o-transcribe, whisper-1). Empty: no user transcripts.")]
        [SerializeField] private string transcriptionModel = "";
        [Tooltip("The user's language for the transcription, ISO-639-1 (e.g. en). Empty: detected.")]
        [SerializeField] private string transcriptionLanguage = "";
        [Tooltip("Seconds an asynchronous tool may take before the model is told it failed.")]
        [SerializeField] private float toolTimeoutSeconds = 30f;
        [Tooltip("Stop the model's audio when the user starts speaking over it.")]
        [SerializeField] private bool bargeIn = true;
        [Tooltip("Mute the mic while the model speaks (speakers without headphones).")]
        [SerializeField] private bool halfDuplex = false;
        [Tooltip("Remove the model's own voice from the mic, so speakers work without muting the mic and the user can still interrupt by voice.")]
        [SerializeField] private bool echoCancellation = true;
        [Tooltip("Optional JSON merged into the session object (any Realtime session field); it wins over the options above.")]
        [TextArea(1, 6)]
        [SerializeField] private string sessionOverridesJson = "";

        [Header("Microphone")]
        [SerializeField] private bool captureMicrophone = true;
        [Tooltip("Device name; empty: the default microphone.")]
        [SerializeField] private string microphoneDevice = "";
        [Tooltip("Only send audio while talking (key held, or BeginTalking/EndTalking). Turns server VAD off.")]
        [SerializeField] private bool pushToTalk = false;
        [SerializeField] private KeyCode pushToTalkKey = KeyCode.Space;
#if ENABLE_INPUT_SYSTEM && RV_INPUT_SYSTEM
        [Tooltip("Push-to-talk from the Input System: pressed starts a turn, released ends it (used instead of the key).")]
        [SerializeField] private UnityEngine.InputSystem.InputActionReference pushToTalkAction;
#endif
        [Tooltip("Capture but send nothing (the user's mute button).")]
        [SerializeField] private bool muteMicrophone = false;

        [Header("Output")]
        [Tooltip("Mixer group of the voice's AudioSource (none: the master).")]
        [SerializeField] private AudioMixerGroup outputMixerGroup;
        [Tooltip("0: 2D voice; 1: 3D from this GameObject's position.")]
        [Range(0f, 1f)]
        [SerializeField] private float spatialBlend = 0f;
        [Tooltip("Route the voice through the project's spatializer plugin (Oculus/Meta, Steam Audio, Resonance).")]
        [SerializeField] private bool spatialize = false;
        [Range(0f, 1f)]
        [SerializeField] private float outputVolume = 1f;

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
        /// <summary>The session is configured and audio flows (session id).</summary>
        public RealtimeIdEvent onReady = new RealtimeIdEvent();
        /// <summary>Server VAD heard the user start speaking.</summary>
        public UnityEvent onSpeechStarted = new UnityEvent();
        /// <summary>Server VAD heard the user stop speaking.</summary>
        public UnityEvent onSpeechStopped = new UnityEvent();
        /// <summary>The model started a response (response id).</summary>
        public RealtimeIdEvent onResponseStarted = new RealtimeIdEvent();
        /// <summary>A response finished (response id, status).</summary>
        public RealtimeResponseDoneEvent onResponseDone = new RealtimeResponseDoneEvent();
        /// <summary>The model's audio was cut by barge-in (item id, ms the user heard).</summary>
        public RealtimeInterruptedEvent onInterrupted = new RealtimeInterruptedEvent();
        /// <summary>The microphone's status changed (stalled, recovered, permission denied, ...).</summary>
        public RealtimeMicrophoneEvent onMicrophoneStatusChanged = new RealtimeMicrophoneEvent();
        /// <summary>An item the conversation gained or lost (the conversation_item event's JSON).</summary>
        public RealtimeItemChangedEvent onItemChanged = new RealtimeItemChangedEvent();
        /// <summary>Server VAD's idle timeout fired (item id, or null when the server gave none).</summary>
        public RealtimeIdEvent onInputTimeout = new RealtimeIdEvent();
        /// <summary>The server's rate limits changed.</summary>
        public RealtimeRateLimitsEvent onRateLimitsUpdated = new RealtimeRateLimitsEvent();
        /// <summary>After a reconnect, the conversation so far was re-created on the new server session (items).</summary>
        public RealtimeHistoryRestoredEvent onHistoryRestored = new RealtimeHistoryRestoredEvent();
        /// <summary>A response started or finished, with its metadata (tells out-of-band responses apart).</summary>
        public RealtimeResponseEvent onResponseChanged = new RealtimeResponseEvent();

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
        private readonly MicrophoneCapture _mic = new MicrophoneCapture();
        private RealtimeSession _session;
        private int _outputSampleRate;
        private GameObject _outputObject;     // the child the voice plays from
        private AudioSource _outputSource;
        private RealtimeVoiceOutput _output;
        private AudioClip _outputClip;        // made by this component, destroyed with it
        private int _connectGeneration;
        private bool _alive;
        private bool _started;
        private bool _connectPending;         // connect at the next Update (after every script's Start)
        private bool _destroyed;
        private bool _talking;
        private bool _pttKeyUsable = true;
        private MicrophoneCapture.ChunkSink _micSink; // the session's TryPushMic, made once per session

        // Turns are the client's to end when VAD is off: audio flows only between BeginTalking and EndTalking.
        private bool ManualTurns { get { return pushToTalk || !serverVad || turnDetection == RealtimeTurnDetection.PushToTalk; } }

        /// <summary>The AudioSource the voice plays on (a child this component created and owns).</summary>
        public AudioSource OutputSource { get { EnsureOutput(); return _outputSource; } }

        /// <summary>The filter on <see cref="OutputSource"/> that plays the model's audio.</summary>
        public RealtimeVoiceOutput Output { get { EnsureOutput(); return _output; } }

        /// <summary>The microphone capture (status, level, device).</summary>
        public MicrophoneCapture MicrophoneInput { get { return _mic; } }

        /// <summary>Where the microphone is (see <see cref="onMicrophoneStatusChanged"/>).</summary>
        public MicrophoneStatus MicrophoneStatus { get { return _mic.Status; } }

        /// <summary>The microphone device (empty: the default); setting it switches at once.</summary>
        public string MicrophoneDevice
        {
            get { return microphoneDevice; }
            set
            {
                microphoneDevice = value ?? "";
                _mic.SetDevice(microphoneDevice, Now);
            }
        }

        /// <summary>Mute: the microphone keeps running, nothing is sent.</summary>
        public bool MicrophoneMuted
        {
            get { return muteMicrophone; }
            set { muteMicrophone = value; _mic.Muted = value; }
        }

        /// <summary>RMS of the microphone's last 10 ms (0..1).</summary>
        public float InputLevel { get { return _mic.Level; } }

        /// <summary>Peak of the voice's last audio buffer (0..1).</summary>
        public float OutputLevel { get { return _output == null ? 0f : _output.Level; } }

        /// <summary>How the microphone permission is asked (the platform's by default).</summary>
        public IMicrophonePermission MicrophonePermission { get { return _mic.Permission; } set { _mic.Permission = value; } }

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

        /// <summary>Turn detection for the next connect (PushToTalk: the client ends each turn).</summary>
        public RealtimeTurnDetection TurnDetection { get { return turnDetection; } set { turnDetection = value; } }

        /// <summary>Semantic VAD's eagerness for the next connect.</summary>
        public RealtimeVadEagerness SemanticVadEagerness { get { return semanticVadEagerness; } set { semanticVadEagerness = value; } }

        /// <summary>Input noise reduction for the next connect.</summary>
        public RealtimeNoiseReduction NoiseReduction { get { return noiseReduction; } set { noiseReduction = value; } }

        /// <summary>User transcription model for the next connect (empty: none).</summary>
        public string TranscriptionModel { get { return transcriptionModel; } set { transcriptionModel = value ?? ""; } }

        /// <summary>User transcription language for the next connect (empty: detected).</summary>
        public string TranscriptionLanguage { get { return transcriptionLanguage; } set { transcriptionLanguage = value ?? ""; } }

        /// <summary>Seconds an asynchronous tool may run (0 or less: no limit); applies to the next session.</summary>
        public float ToolTimeoutSeconds { get { return toolTimeoutSeconds; } set { toolTimeoutSeconds = value; } }

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

        /// <summary>
        /// Registers an asynchronous tool (see <see cref="RealtimeSession.ToolTimeout"/>): its task may
        /// finish on any thread; the output is sent from the next Update.
        /// </summary>
        /// <exception cref="ArgumentException">Invalid name or schema (checked at once, not at connect).</exception>
        public void RegisterTool(string name, string description, string parametersJsonSchema, Func<string, Task<string>> handler)
        {
            AddRegistration(tools => tools.Register(name, description, parametersJsonSchema, handler));
        }

        // The inspector shows turnDetection only: a scene saved with the former serverVad box off
        // becomes push-to-talk there too (Unity calls OnValidate when it loads or edits the component).
        private void OnValidate()
        {
            MigrateLegacySettings();
        }

        private void MigrateLegacySettings()
        {
            if (serverVad) return;
            turnDetection = RealtimeTurnDetection.PushToTalk;
            serverVad = true;
        }

        /// <summary>Registers the [RealtimeTool] methods of <paramref name="target"/> (they may return Task or Task&lt;T&gt;).</summary>
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

        private static double Now { get { return Time.realtimeSinceStartup; } }

        private void Awake()
        {
            MigrateLegacySettings();
            _outputSampleRate = AudioSettings.outputSampleRate;
            _mic.Muted = muteMicrophone;
            _mic.Problem += (code, message) => ReportError(code, message, false);
            _mic.StatusChanged += status =>
            {
                if (logEvents) Debug.Log("[RealtimeVoice] microphone " + status);
                onMicrophoneStatusChanged.Invoke(status);
            };
        }

        private void OnEnable()
        {
            _alive = true;
            AudioSettings.OnAudioConfigurationChanged += OnAudioConfigurationChanged;
#if UNITY_EDITOR
            UnityEditor.AssemblyReloadEvents.beforeAssemblyReload += OnBeforeAssemblyReload;
#endif
            EnablePushToTalkAction(true);
            StartPlayback();
            // The canceller hears what the speakers play, not only this voice.
            if (echoCancellation) RealtimeOutputMixTap.Attach();
            // Re-enabled after Start: resume the conversation with a new session.
            if (_started && connectOnStart) _connectPending = true;
        }

        private void Start()
        {
            _started = true;
            // At the first Update, not now: a ClientSecretProvider set in another script's Start
            // is then in place, and nothing connects twice.
            if (connectOnStart) _connectPending = true;
        }

        private void OnDisable()
        {
            _alive = false;
            AudioSettings.OnAudioConfigurationChanged -= OnAudioConfigurationChanged;
#if UNITY_EDITOR
            UnityEditor.AssemblyReloadEvents.beforeAssemblyReload -= OnBeforeAssemblyReload;
#endif
            EnablePushToTalkAction(false);
            Disconnect();
            if (_outputSource != null) _outputSource.Stop();
        }

        private void OnDestroy()
        {
            _alive = false;
            _destroyed = true;
            _connectPending = false;
            Disconnect();
            DestroyOutput();
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
            if (_connectPending)
            {
                _connectPending = false;
                Connect();
            }
            var s = _session;
            if (s == null) return;
            HandlePushToTalkKey();
            PumpMicrophone(s);
            s.Poll();
        }

        // Headset off (Quest), app switched away (mobile): the mic ends; on resume it starts
        // afresh (nothing said before the pause is sent) and playback plays again.
        private void OnApplicationPause(bool paused)
        {
            _mic.SetPaused(paused, Now);
            if (!paused && _alive) StartPlayback();
        }

        private void OnApplicationFocus(bool focused)
        {
            if (!focused) return;
            _mic.OnFocus(Now); // the user may have answered the permission prompt or changed the setting
            if (_alive && _outputSource != null && !_outputSource.isPlaying) StartPlayback();
        }

        private void OnAudioConfigurationChanged(bool deviceWasChanged)
        {
            _outputSampleRate = AudioSettings.outputSampleRate;
            if (!_alive) return;
            // A configuration change stops and rebuilds the audio system's sources (and may drop
            // the filter): restart ours at the new rate, and the microphone, whose device may be gone.
            StartPlayback();
            _mic.Restart(Now);
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
            _connectPending = false;
            if (!_alive)
            {
                // Disabled or destroyed: a session now would run with nobody polling it. Connect
                // when enabled again instead (once, whatever asked for it).
                if (this != null) _connectPending = true;
                Debug.LogWarning("[RealtimeVoice] Connect on a disabled component: connecting when it is enabled.");
                return;
            }
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
            if (generation != _connectGeneration || !_alive) return;
            var session = new RealtimeSession(BuildConfig(clientSecret).ToJson());
            try
            {
                session.ToolTimeout = toolTimeoutSeconds > 0 ? TimeSpan.FromSeconds(toolTimeoutSeconds) : System.Threading.Timeout.InfiniteTimeSpan;
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
            if (generation != _connectGeneration || !_alive)
            {
                session.Dispose(); // a SessionCreated handler disabled the component or connected again
                return;
            }
            _session = session;
            EnsureOutput();
            _output.Session = session;
            _micSink = session.TryPushMic;
            if (captureMicrophone) _mic.Start(microphoneDevice, Now);
        }

        /// <summary>
        /// Stops the microphone and destroys the session (safe to call any time). Returns at once:
        /// the native close finishes on a background thread.
        /// </summary>
        public void Disconnect()
        {
            _connectGeneration++;
            _mic.Stop();
            var s = _session;
            _session = null;
            _micSink = null;
            if (_output != null) _output.Session = null; // the audio thread stops using it before it is destroyed
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
                TurnDetection = ManualTurns ? RealtimeTurnDetection.PushToTalk : turnDetection,
                NoiseReduction = noiseReduction,
                TranscriptionModel = string.IsNullOrEmpty(transcriptionModel) ? null : transcriptionModel.Trim(),
                TranscriptionLanguage = string.IsNullOrEmpty(transcriptionLanguage) ? null : transcriptionLanguage.Trim(),
                BargeIn = bargeIn,
                HalfDuplex = halfDuplex,
                EchoCancellation = echoCancellation,
                OutputSampleRate = _outputSampleRate > 0 ? _outputSampleRate : (int?)null,
                ClientSecret = clientSecret,
            };
            if (cfg.TurnDetection == RealtimeTurnDetection.ServerVad)
            {
                cfg.VadThreshold = Math.Round(vadThreshold, 3); // the slider's float, without its binary tail
                cfg.VadSilenceDurationMs = vadSilenceDurationMs;
                cfg.VadPrefixPaddingMs = vadPrefixPaddingMs;
            }
            else if (cfg.TurnDetection == RealtimeTurnDetection.SemanticVad)
            {
                cfg.VadEagerness = semanticVadEagerness;
            }
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
            s.SessionReady += id => onReady.Invoke(id);
            s.SpeechStarted += () => onSpeechStarted.Invoke();
            s.SpeechStopped += () => onSpeechStopped.Invoke();
            s.ResponseStarted += id => onResponseStarted.Invoke(id);
            s.ResponseDone += (id, status) => onResponseDone.Invoke(id, status);
            s.AudioInterrupted += (item, playedMs) => onInterrupted.Invoke(item, playedMs);
            s.AssistantTranscript += (text, final) => onAssistantTranscript.Invoke(text, final);
            s.UserTranscript += (text, final) => onUserTranscript.Invoke(text, final);
            s.ItemChanged += json => onItemChanged.Invoke(json);
            s.InputTimeout += item => onInputTimeout.Invoke(item);
            s.RateLimitsUpdated += limits => onRateLimitsUpdated.Invoke(limits);
            s.HistoryRestored += items => onHistoryRestored.Invoke(items);
            s.ResponseChanged += response => onResponseChanged.Invoke(response);
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

        private void EnablePushToTalkAction(bool enable)
        {
#if ENABLE_INPUT_SYSTEM && RV_INPUT_SYSTEM
            var action = pushToTalkAction != null ? pushToTalkAction.action : null;
            if (action == null) return;
            if (enable)
            {
                action.started += OnPushToTalkStarted;
                action.canceled += OnPushToTalkCanceled;
                action.Enable();
            }
            else
            {
                action.started -= OnPushToTalkStarted;
                action.canceled -= OnPushToTalkCanceled;
            }
#endif
        }

#if ENABLE_INPUT_SYSTEM && RV_INPUT_SYSTEM
        private void OnPushToTalkStarted(UnityEngine.InputSystem.InputAction.CallbackContext context)
        {
            if (pushToTalk) BeginTalking();
        }

        private void OnPushToTalkCanceled(UnityEngine.InputSystem.InputAction.CallbackContext context)
        {
            if (pushToTalk) EndTalking();
        }

        private bool HasPushToTalkAction { get { return pushToTalkAction != null && pushToTalkAction.action != null; } }
#else
        private bool HasPushToTalkAction { get { return false; } }
#endif

        private void HandlePushToTalkKey()
        {
            if (!pushToTalk || pushToTalkKey == KeyCode.None || !_pttKeyUsable || HasPushToTalkAction) return;
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

        private void EnsureOutput()
        {
            if (_output != null || _destroyed) return;
            // A child of our own: the user's AudioSource (clip, PlayOneShot, settings) stays theirs.
            _outputObject = new GameObject("Realtime Voice Output");
            _outputObject.hideFlags = HideFlags.DontSave; // created at runtime, never saved into the scene
            _outputObject.transform.SetParent(transform, false);
            _outputSource = _outputObject.AddComponent<AudioSource>();
            _outputSource.playOnAwake = false;
            _output = _outputObject.AddComponent<RealtimeVoiceOutput>();
            _output.SampleRate = _outputSampleRate;
        }

        private void StartPlayback()
        {
            EnsureOutput();
            if (_output == null) return;
            int rate = _outputSampleRate > 0 ? _outputSampleRate : 48000;
            _output.SampleRate = rate;
            // OnAudioFilterRead replaces what the source plays: a looping silent clip keeps it running.
            _outputSource.Stop();
            if (_outputClip == null || _outputClip.frequency != rate)
            {
                if (_outputClip != null) Destroy(_outputClip);
                _outputClip = AudioClip.Create("RealtimeVoice.Playback", rate, 1, rate, false);
            }
            _outputSource.clip = _outputClip;
            _outputSource.loop = true;
            _outputSource.playOnAwake = false;
            _outputSource.outputAudioMixerGroup = outputMixerGroup;
            _outputSource.spatialBlend = spatialBlend;
            _outputSource.spatialize = spatialize;
            // Filters run before the spatializer: the voice stays 3D with spatializer plugins.
            _outputSource.spatializePostEffects = true;
            _outputSource.volume = outputVolume;
            // Where a configuration change dropped the filter, disabling and enabling re-attaches it.
            _output.enabled = false;
            _output.enabled = true;
            _outputSource.Play();
        }

        private void DestroyOutput()
        {
            if (_output != null) _output.Session = null;
            if (_outputClip != null) Destroy(_outputClip);
            if (_outputObject != null) Destroy(_outputObject);
            _outputClip = null;
            _outputObject = null;
            _outputSource = null;
            _output = null;
        }

        // ---- microphone ----

        private void PumpMicrophone(RealtimeSession s)
        {
            bool send = !ManualTurns || _talking;
            _mic.Muted = muteMicrophone;
            _mic.Pump(_micSink, send, Now);
        }

        /// <summary>The session's counters (zeroes when there is no session).</summary>
        public RealtimeStats GetStats()
        {
            var s = _session;
            if (s == null) return default(RealtimeStats);
            try
            {
                return s.GetStats();
            }
            catch (RealtimeException)
            {
                return default(RealtimeStats);
            }
            catch (ObjectDisposedException)
            {
                return default(RealtimeStats);
            }
        }
    }
}
