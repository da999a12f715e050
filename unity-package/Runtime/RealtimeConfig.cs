// Builds the config JSON of rv_session_create (docs/config.md) from typed settings.
// Fields left null are omitted so the plugin's defaults apply.
using System.Collections.Generic;

namespace RealtimeVoice
{
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
        /// <summary>Server VAD on (true, default) or push-to-talk (false: turn_detection null).</summary>
        public bool? ServerVad;
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
        /// <summary>Any other "session" fields, merged last (e.g. parsed from an inspector JSON field).</summary>
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
            if (!string.IsNullOrEmpty(Voice) || ServerVad.HasValue)
            {
                var audio = new Dictionary<string, object>();
                if (!string.IsNullOrEmpty(Voice))
                    audio["output"] = new Dictionary<string, object> { { "voice", Voice } };
                if (ServerVad.HasValue)
                {
                    // null turn detection = push-to-talk: the client commits and asks for responses.
                    object turn = ServerVad.Value
                        ? new Dictionary<string, object> { { "type", "server_vad" } }
                        : null;
                    audio["input"] = new Dictionary<string, object> { { "turn_detection", turn } };
                }
                session["audio"] = audio;
            }
            if (SessionOverrides != null) MergeInto(session, SessionOverrides);
            if (session.Count > 0) cfg["session"] = session;
            if (Extra != null) MergeInto(cfg, Extra);
            return Json.Serialize(cfg);
        }

        /// <summary>Deep-merges <paramref name="patch"/> into <paramref name="target"/> (objects merge, other values replace).</summary>
        public static void MergeInto(Dictionary<string, object> target, Dictionary<string, object> patch)
        {
            foreach (var kv in patch)
            {
                object existing;
                var patchObj = kv.Value as Dictionary<string, object>;
                if (patchObj != null && target.TryGetValue(kv.Key, out existing) && existing is Dictionary<string, object>)
                {
                    MergeInto((Dictionary<string, object>)existing, patchObj);
                }
                else
                {
                    target[kv.Key] = kv.Value;
                }
            }
        }

        private static void Put(Dictionary<string, object> d, string key, string value)
        {
            if (!string.IsNullOrEmpty(value)) d[key] = value;
        }
    }
}
