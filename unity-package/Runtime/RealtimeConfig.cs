// Builds the config JSON of rv_session_create (docs/config.md) from typed settings.
// Fields left null are omitted so the plugin's defaults apply.
using System;
using System.Collections.Generic;
using System.Globalization;

namespace RealtimeVoice
{
    /// <summary>Who ends the user's turn (session.audio.input.turn_detection).</summary>
    public enum RealtimeTurnDetection
    {
        /// <summary>The server's voice activity detection ("server_vad": threshold, silence, prefix padding).</summary>
        ServerVad,
        /// <summary>The server's semantic turn detection ("semantic_vad": ends turns by what was said, with an eagerness).</summary>
        SemanticVad,
        /// <summary>No turn detection (turn_detection null): the client commits each turn and asks for the response.</summary>
        PushToTalk,
    }

    /// <summary>How soon semantic VAD ends a turn ("eagerness").</summary>
    public enum RealtimeVadEagerness
    {
        /// <summary>"auto": the server's choice (medium today).</summary>
        Auto,
        /// <summary>"low": lets the user take their time.</summary>
        Low,
        /// <summary>"medium".</summary>
        Medium,
        /// <summary>"high": answers as soon as it can.</summary>
        High,
    }

    /// <summary>The server's input noise reduction (session.audio.input.noise_reduction).</summary>
    public enum RealtimeNoiseReduction
    {
        /// <summary>None (noise_reduction null).</summary>
        Off,
        /// <summary>"near_field": a headset or a phone held close.</summary>
        NearField,
        /// <summary>"far_field": a laptop or a room microphone.</summary>
        FarField,
    }

    /// <summary>Typed settings for <see cref="RealtimeSession"/>; <see cref="ToJson"/> makes the config JSON.</summary>
    public sealed class RealtimeConfig
    {
        /// <summary>WebSocket URL (default wss://api.openai.com/v1/realtime).</summary>
        public string Url;
        /// <summary>Model, e.g. gpt-realtime.</summary>
        public string Model;
        /// <summary>Standard API key: for the editor and servers only, never ship it in a build.</summary>
        public string ApiKey;
        /// <summary>Ephemeral client secret (ek_...) minted by your backend with POST /v1/realtime/client_secrets.</summary>
        public string ClientSecret;
        /// <summary>Extra upgrade headers (e.g. Azure's api-key).</summary>
        public Dictionary<string, object> Headers;
        /// <summary>System instructions.</summary>
        public string Instructions;
        /// <summary>Voice (alloy, ash, ballad, coral, echo, sage, shimmer, verse, marin, cedar).</summary>
        public string Voice;
        /// <summary>Server VAD on (true, default) or push-to-talk (false: turn_detection null). <see cref="TurnDetection"/> wins when set.</summary>
        public bool? ServerVad;
        /// <summary>Turn detection (null: as <see cref="ServerVad"/> says, else the plugin's default server VAD).</summary>
        public RealtimeTurnDetection? TurnDetection;
        /// <summary>Server VAD: the speech probability that starts a turn, 0..1 (API default 0.5).</summary>
        public double? VadThreshold;
        /// <summary>Server VAD: the silence that ends a turn, in ms (API default 500).</summary>
        public int? VadSilenceDurationMs;
        /// <summary>Server VAD: the audio kept before speech started, in ms (API default 300).</summary>
        public int? VadPrefixPaddingMs;
        /// <summary>Semantic VAD: how soon it ends a turn (null: the API's default, auto).</summary>
        public RealtimeVadEagerness? VadEagerness;
        /// <summary>Input noise reduction (null: not sent, the API's default is off).</summary>
        public RealtimeNoiseReduction? NoiseReduction;
        /// <summary>Transcribe the user's audio with this model (e.g. gpt-4o-mini-transcribe; null or empty: no user transcripts).</summary>
        public string TranscriptionModel;
        /// <summary>The user's language for the transcription, ISO-639-1 (e.g. "en"; null: detected). Used only with <see cref="TranscriptionModel"/>.</summary>
        public string TranscriptionLanguage;
        /// <summary>Rate of the PCM16 sent (24000 default).</summary>
        public int? InputSampleRate;
        /// <summary>Unity's output rate (AudioSettings.outputSampleRate).</summary>
        public int? OutputSampleRate;
        /// <summary>Channels of the audio callback.</summary>
        public int? OutputChannels;
        /// <summary>Audio held before a response starts playing.</summary>
        public int? PrebufferMs;
        /// <summary>Stop playback and truncate when the user talks over the model.</summary>
        public bool? BargeIn;
        /// <summary>Gate the mic while the model speaks (speakers without echo cancellation).</summary>
        public bool? HalfDuplex;
        /// <summary>Cancel the model's own voice from the mic (speakers, full duplex: the user can
        /// still interrupt by voice). Native default when unset: on unless HalfDuplex is.</summary>
        public bool? EchoCancellation;
        /// <summary>"ga" (default) or "beta" (older deployments that need the preview schema).</summary>
        public string Protocol;
        /// <summary>Reconnect attempts in a row before the session fails (0: never reconnect).</summary>
        public int? ReconnectMaxAttempts;
        /// <summary>Also deliver every raw server event as a server_event event (debugging).</summary>
        public bool? ForwardServerEvents;
        /// <summary>Extra trusted root (PEM) for wss:// test servers.</summary>
        public string CaCertificatePem;
        /// <summary>
        /// Any other "session" fields, merged last over what the typed fields made (e.g. parsed from an
        /// inspector JSON field), so they win: see <see cref="MergeInto"/> for the rule.
        /// </summary>
        public Dictionary<string, object> SessionOverrides;
        /// <summary>Any other top-level config fields.</summary>
        public Dictionary<string, object> Extra;

        /// <summary>The config JSON.</summary>
        public string ToJson()
        {
            var cfg = new Dictionary<string, object>();
            Put(cfg, "url", Url);
            Put(cfg, "model", Model);
            Put(cfg, "api_key", ApiKey);
            Put(cfg, "client_secret", ClientSecret);
            if (Headers != null && Headers.Count > 0) cfg["headers"] = Headers;
            if (InputSampleRate.HasValue) cfg["input_sample_rate"] = InputSampleRate.Value;
            if (OutputSampleRate.HasValue) cfg["output_sample_rate"] = OutputSampleRate.Value;
            if (OutputChannels.HasValue) cfg["output_channels"] = OutputChannels.Value;
            if (PrebufferMs.HasValue) cfg["prebuffer_ms"] = PrebufferMs.Value;
            if (BargeIn.HasValue) cfg["barge_in"] = BargeIn.Value;
            if (HalfDuplex.HasValue) cfg["half_duplex"] = HalfDuplex.Value;
            if (EchoCancellation.HasValue) cfg["echo_cancellation"] = EchoCancellation.Value;
            Put(cfg, "ca_certificate_pem", CaCertificatePem);
            Put(cfg, "protocol", Protocol);
            if (ForwardServerEvents.HasValue) cfg["forward_server_events"] = ForwardServerEvents.Value;
            if (ReconnectMaxAttempts.HasValue)
                cfg["reconnect"] = new Dictionary<string, object> { { "max_attempts", ReconnectMaxAttempts.Value } };

            var session = new Dictionary<string, object>();
            Put(session, "instructions", Instructions);
            var audio = new Dictionary<string, object>();
            if (!string.IsNullOrEmpty(Voice))
                audio["output"] = new Dictionary<string, object> { { "voice", Voice } };
            var input = InputJson();
            if (input.Count > 0) audio["input"] = input;
            if (audio.Count > 0) session["audio"] = audio;
            if (SessionOverrides != null) MergeInto(session, SessionOverrides);
            if (session.Count > 0) cfg["session"] = session;
            if (Extra != null) MergeInto(cfg, Extra);
            return Json.Serialize(cfg);
        }

        /// <summary>session.audio.input from the typed fields (empty when none is set).</summary>
        private Dictionary<string, object> InputJson()
        {
            var input = new Dictionary<string, object>();
            if (TurnDetection.HasValue || ServerVad.HasValue)
            {
                var mode = TurnDetection.HasValue
                    ? TurnDetection.Value
                    : ServerVad.Value ? RealtimeTurnDetection.ServerVad : RealtimeTurnDetection.PushToTalk;
                input["turn_detection"] = TurnDetectionJson(mode); // null = push-to-talk
            }
            if (NoiseReduction.HasValue)
            {
                switch (NoiseReduction.Value)
                {
                    case RealtimeNoiseReduction.NearField:
                        input["noise_reduction"] = new Dictionary<string, object> { { "type", "near_field" } };
                        break;
                    case RealtimeNoiseReduction.FarField:
                        input["noise_reduction"] = new Dictionary<string, object> { { "type", "far_field" } };
                        break;
                    default:
                        input["noise_reduction"] = null;
                        break;
                }
            }
            if (!string.IsNullOrEmpty(TranscriptionModel))
            {
                var transcription = new Dictionary<string, object> { { "model", TranscriptionModel } };
                Put(transcription, "language", TranscriptionLanguage);
                input["transcription"] = transcription;
            }
            return input;
        }

        private Dictionary<string, object> TurnDetectionJson(RealtimeTurnDetection mode)
        {
            switch (mode)
            {
                case RealtimeTurnDetection.PushToTalk:
                    return null; // the client commits and asks for responses
                case RealtimeTurnDetection.SemanticVad:
                {
                    var semantic = new Dictionary<string, object> { { "type", "semantic_vad" } };
                    if (VadEagerness.HasValue) semantic["eagerness"] = VadEagerness.Value.ToString().ToLowerInvariant();
                    return semantic;
                }
                default:
                {
                    var vad = new Dictionary<string, object> { { "type", "server_vad" } };
                    if (VadThreshold.HasValue)
                    {
                        double t = VadThreshold.Value;
                        if (!(t >= 0 && t <= 1)) throw new ArgumentOutOfRangeException("VadThreshold", t.ToString(CultureInfo.InvariantCulture), "the VAD threshold is 0 to 1");
                        vad["threshold"] = t;
                    }
                    if (VadPrefixPaddingMs.HasValue)
                    {
                        if (VadPrefixPaddingMs.Value < 0) throw new ArgumentOutOfRangeException("VadPrefixPaddingMs", VadPrefixPaddingMs.Value, "a duration is 0 ms or more");
                        vad["prefix_padding_ms"] = VadPrefixPaddingMs.Value;
                    }
                    if (VadSilenceDurationMs.HasValue)
                    {
                        if (VadSilenceDurationMs.Value < 0) throw new ArgumentOutOfRangeException("VadSilenceDurationMs", VadSilenceDurationMs.Value, "a duration is 0 ms or more");
                        vad["silence_duration_ms"] = VadSilenceDurationMs.Value;
                    }
                    return vad;
                }
            }
        }

        /// <summary>
        /// Deep-merges <paramref name="patch"/> into <paramref name="target"/>, the rule the native
        /// session applies too: objects merge key by key, other values (arrays, scalars, null)
        /// replace; but an object whose "type" differs from the one it lands on replaces it whole
        /// (the API's tagged unions: {"turn_detection": {"type": "semantic_vad"}} over server VAD
        /// must not keep server VAD's threshold).
        /// </summary>
        public static void MergeInto(Dictionary<string, object> target, Dictionary<string, object> patch)
        {
            foreach (var kv in patch)
            {
                object existing;
                var patchObj = kv.Value as Dictionary<string, object>;
                if (patchObj != null && target.TryGetValue(kv.Key, out existing) && existing is Dictionary<string, object> &&
                    !ChangesVariant((Dictionary<string, object>)existing, patchObj))
                {
                    MergeInto((Dictionary<string, object>)existing, patchObj);
                }
                else
                {
                    target[kv.Key] = kv.Value;
                }
            }
        }

        private static bool ChangesVariant(Dictionary<string, object> existing, Dictionary<string, object> patch)
        {
            string a = Json.GetString(existing, "type"), b = Json.GetString(patch, "type");
            return a != null && b != null && a != b;
        }

        private static void Put(Dictionary<string, object> d, string key, string value)
        {
            if (!string.IsNullOrEmpty(value)) d[key] = value;
        }
    }
}
