//! What a test can configure: the server's behaviour, its scripted responses, and faults.

use std::time::Duration;

use serde_json::Value;

/// How the mock server behaves. Every field has a default close to the real API;
/// set fields directly or with the builder-style methods.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Serve `wss://` with the committed test certificate instead of `ws://`.
    pub tls: bool,
    /// Port to bind on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// Expected credential (`Authorization: Bearer KEY` or `api-key: KEY`).
    /// `None` accepts any or no credential.
    pub api_key: Option<String>,
    /// Refuse every upgrade with this HTTP status (401, 403, 429, 500, ...) and a JSON body.
    pub reject_with: Option<u16>,
    /// With `reject_with`, refuse only this many upgrades, then accept (`None` = refuse all).
    pub reject_count: Option<usize>,
    /// Accept the upgrade, then send an `invalid_api_key` error event and close.
    pub auth_error_after_upgrade: bool,
    /// Accept `OpenAI-Beta: realtime=v1` instead of answering `beta_api_shape_disabled`.
    pub allow_beta: bool,
    /// Accept any `audio/pcm` rate (8000..=96000) in `session.update`; the real API takes 24000 only.
    pub accept_any_pcm_rate: bool,
    /// Responses played in order; when the queue is empty, `default_response` plays.
    pub script: Script,
    /// What plays when the script is exhausted.
    pub default_response: ResponseSpec,
    /// How much faster than real time model audio is sent (4.0 = 100 ms chunks every 25 ms).
    /// 0 or a non-finite value sends everything at once.
    pub audio_pacing: f32,
    /// Duration of model audio per `response.output_audio.delta`.
    pub audio_chunk: Duration,
    /// Delay between `response.created` and the first output (model "thinking" time).
    pub first_output_delay: Duration,
    /// VAD threshold in dBFS; `None` derives it from the session's `server_vad.threshold`
    /// (0.5 -> -40 dBFS, `dBFS = -60 + 40 * threshold`).
    pub vad_threshold_dbfs: Option<f32>,
    /// Continuous frames above the threshold before `speech_started`.
    pub vad_speech_onset: Duration,
    /// Server WebSocket pings every this often (`None` = never). The real API pings about every 20 s.
    pub ping_interval: Option<Duration>,
    /// End each session after this long with a `session_expired` error and a close.
    pub max_session_duration: Option<Duration>,
    /// Send `rate_limits.updated` after each `response.done`, as the real API does.
    pub send_rate_limits: bool,
    /// Add `id`, `object` and `expires_at` to the session object, as the real API does.
    /// They are not fields of the SDK model (strict validation rejects them), so off by default.
    pub session_identity_fields: bool,
    /// Default `model` when the URL has no `?model=`.
    pub default_model: String,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            tls: false,
            port: 0,
            api_key: None,
            reject_with: None,
            reject_count: None,
            auth_error_after_upgrade: false,
            allow_beta: false,
            accept_any_pcm_rate: false,
            script: Script::default(),
            default_response: ResponseSpec::default_audio(),
            audio_pacing: 4.0,
            audio_chunk: Duration::from_millis(100),
            first_output_delay: Duration::ZERO,
            vad_threshold_dbfs: None,
            vad_speech_onset: Duration::from_millis(60),
            ping_interval: Some(Duration::from_secs(20)),
            max_session_duration: None,
            send_rate_limits: true,
            session_identity_fields: false,
            default_model: "gpt-realtime".to_string(),
        }
    }
}

impl MockConfig {
    /// Serve `wss://` with the test certificate.
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on;
        self
    }
    /// Require this credential.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }
    /// Refuse upgrades with this HTTP status.
    pub fn reject_with(mut self, status: u16) -> Self {
        self.reject_with = Some(status);
        self
    }
    /// Upgrade, then fail authentication with an error event.
    pub fn auth_error_after_upgrade(mut self, on: bool) -> Self {
        self.auth_error_after_upgrade = on;
        self
    }
    /// Accept the beta header.
    pub fn allow_beta(mut self, on: bool) -> Self {
        self.allow_beta = on;
        self
    }
    /// Accept any PCM rate.
    pub fn accept_any_pcm_rate(mut self, on: bool) -> Self {
        self.accept_any_pcm_rate = on;
        self
    }
    /// Queue a scripted response.
    pub fn respond(mut self, spec: ResponseSpec) -> Self {
        self.script.responses.push(spec);
        self
    }
    /// Queue a scripted user transcript (used when input transcription is on).
    pub fn user_transcript(mut self, text: impl Into<String>) -> Self {
        self.script.user_transcripts.push(text.into());
        self
    }
    /// Set the audio pacing factor (see [`MockConfig::audio_pacing`]).
    pub fn audio_pacing(mut self, factor: f32) -> Self {
        self.audio_pacing = factor;
        self
    }
    /// Set the server ping interval.
    pub fn ping_interval(mut self, every: Option<Duration>) -> Self {
        self.ping_interval = every;
        self
    }
    /// Set the maximum session duration.
    pub fn max_session_duration(mut self, limit: Option<Duration>) -> Self {
        self.max_session_duration = limit;
        self
    }
}

/// The scripted part of a conversation, shared by all connections in order.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Responses to play, one per `response.create` (or VAD turn), in order.
    pub responses: Vec<ResponseSpec>,
    /// Transcripts of the user's audio turns, in order (when input transcription is configured).
    pub user_transcripts: Vec<String>,
}

/// One model response.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseSpec {
    /// Spoken answer: PCM16 mono at 24 kHz and its transcript.
    Audio {
        /// Model audio, 24 kHz mono.
        pcm24k: Vec<i16>,
        /// What the audio says.
        transcript: String,
    },
    /// One or more function calls in one response: `(name, arguments as a JSON string)`.
    /// The arguments are sent verbatim, so they may be invalid JSON on purpose.
    ToolCalls(Vec<(String, String)>),
    /// A spoken answer followed by function calls in the same response.
    AudioThenToolCalls {
        /// Model audio, 24 kHz mono.
        pcm24k: Vec<i16>,
        /// What the audio says.
        transcript: String,
        /// `(name, arguments JSON string)` per call.
        calls: Vec<(String, String)>,
    },
    /// A response that fails (`response.done` with status `failed`).
    Failed {
        /// Error code in `status_details.error.code`.
        code: String,
        /// Error message.
        message: String,
    },
}

impl ResponseSpec {
    /// The built-in answer: about 1.5 s of a synthetic voice-like signal saying
    /// "Sure, moving the cube.".
    pub fn default_audio() -> Self {
        ResponseSpec::Audio {
            pcm24k: crate::audio::synthetic_voice(24_000, 1_500),
            transcript: "Sure, moving the cube.".to_string(),
        }
    }
    /// A spoken answer of `duration_ms` synthetic voice with the given transcript.
    pub fn synthetic_audio(duration_ms: u32, transcript: impl Into<String>) -> Self {
        ResponseSpec::Audio {
            pcm24k: crate::audio::synthetic_voice(24_000, duration_ms),
            transcript: transcript.into(),
        }
    }
    /// A single function call.
    pub fn tool_call(name: impl Into<String>, arguments: impl Into<String>) -> Self {
        ResponseSpec::ToolCalls(vec![(name.into(), arguments.into())])
    }
}

/// A fault to inject into live connections (or the next one, when none is live).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Shut the TCP connection down without a close frame.
    DropConnection,
    /// Send this text frame verbatim (not JSON, or not a known event).
    Garbage(String),
    /// Send one text frame of this many bytes (e.g. 20 MiB, over a client's 16 MiB frame cap).
    OversizedFrame(usize),
    /// Stop sending and reading for this long.
    Stall(Duration),
    /// Send this event as-is (recorded in `sent()`).
    SendEvent(Value),
    /// Send a close frame with this code and reason, then close.
    Close {
        /// WebSocket close code.
        code: u16,
        /// Close reason text.
        reason: String,
    },
}
