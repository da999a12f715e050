//! What the server saw and did, shared by all connection threads and read by tests.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;

use parking_lot::Mutex;
use serde_json::Value;

use crate::config::{Fault, MockConfig, ResponseSpec};

/// Audio kept for `received_audio()`: 100 M samples (200 MiB of PCM16).
pub const MAX_RECORDED_SAMPLES: usize = 100 * 1024 * 1024;
/// Text of received (and of sent) events kept in full; beyond it, audio payloads are elided.
pub const MAX_RECORDED_EVENT_BYTES: usize = 64 * 1024 * 1024;

/// State shared between the server handle and its threads.
pub struct ServerShared {
    /// The configuration the server started with.
    pub config: MockConfig,
    /// Set to stop every thread.
    pub shutdown: AtomicBool,
    /// Upgrades accepted so far.
    pub connections: AtomicUsize,
    /// Handshakes refused so far (for `reject_count`).
    pub rejections: AtomicUsize,
    /// Pongs received, all connections.
    pub pongs: AtomicUsize,
    /// HTTP status to refuse upgrades with (runtime-changeable copy of `reject_with`).
    pub reject_with: Mutex<Option<u16>>,
    /// Recorded traffic.
    pub log: Mutex<Log>,
    /// Scripted responses not yet played.
    pub responses: Mutex<VecDeque<ResponseSpec>>,
    /// Scripted user transcripts not yet used.
    pub user_transcripts: Mutex<VecDeque<String>>,
    /// Fault senders of live connections.
    pub live: Mutex<Vec<(usize, Sender<Fault>)>>,
    /// Faults waiting for the next connection.
    pub pending_faults: Mutex<Vec<Fault>>,
}

/// Recorded traffic, bounded.
#[derive(Default)]
pub struct Log {
    /// Client events in arrival order (non-JSON text as a JSON string).
    pub received: Vec<Value>,
    /// Bytes of event text recorded in `received`.
    pub received_bytes: usize,
    /// Server events in send order.
    pub sent: Vec<Value>,
    /// Bytes of audio deltas recorded in `sent`.
    pub sent_audio_bytes: usize,
    /// Decoded appended audio, all connections.
    pub audio: Vec<i16>,
    /// Handshake headers per attempt, names lower-cased.
    pub headers: Vec<Vec<(String, String)>>,
    /// The `model` query parameter per accepted connection.
    pub models: Vec<String>,
}

impl ServerShared {
    /// Fresh shared state for `config`.
    pub fn new(config: MockConfig) -> ServerShared {
        ServerShared {
            reject_with: Mutex::new(config.reject_with),
            responses: Mutex::new(config.script.responses.iter().cloned().collect()),
            user_transcripts: Mutex::new(config.script.user_transcripts.iter().cloned().collect()),
            config,
            shutdown: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            rejections: AtomicUsize::new(0),
            pongs: AtomicUsize::new(0),
            log: Mutex::new(Log::default()),
            live: Mutex::new(Vec::new()),
            pending_faults: Mutex::new(Vec::new()),
        }
    }

    /// Whether the server is stopping.
    pub fn stopping(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }

    /// Record one client text frame.
    pub fn record_received(&self, text: &str, parsed: Option<&Value>) {
        let mut log = self.log.lock();
        log.received_bytes += text.len();
        let over = log.received_bytes > MAX_RECORDED_EVENT_BYTES;
        let value = match parsed {
            Some(v)
                if over
                    && v.get("type").and_then(Value::as_str)
                        == Some("input_audio_buffer.append") =>
            {
                let mut elided = v.clone();
                let len = v.get("audio").and_then(Value::as_str).map_or(0, str::len);
                elided["audio"] = Value::String(format!("<elided {len} base64 bytes>"));
                elided
            }
            Some(v) => v.clone(),
            None => Value::String(text.to_string()),
        };
        log.received.push(value);
    }

    /// Record decoded input audio (bounded).
    pub fn record_audio(&self, samples: &[i16]) {
        let mut log = self.log.lock();
        let room = MAX_RECORDED_SAMPLES.saturating_sub(log.audio.len());
        let take = samples.len().min(room);
        log.audio.extend_from_slice(&samples[..take]);
    }

    /// Record one server event; past the cap, audio deltas are kept without their audio.
    pub fn record_sent(&self, event: &Value) {
        let mut log = self.log.lock();
        let audio = match event.get("type").and_then(Value::as_str) {
            Some("response.output_audio.delta") => event
                .get("delta")
                .and_then(Value::as_str)
                .map_or(0, str::len),
            _ => 0,
        };
        log.sent_audio_bytes += audio;
        if audio > 0 && log.sent_audio_bytes > MAX_RECORDED_EVENT_BYTES {
            let mut elided = event.clone();
            elided["delta"] = Value::String(format!("<elided {audio} base64 bytes>"));
            log.sent.push(elided);
        } else {
            log.sent.push(event.clone());
        }
    }

    /// The next scripted response, or the default one.
    pub fn next_response(&self) -> ResponseSpec {
        self.responses
            .lock()
            .pop_front()
            .unwrap_or_else(|| self.config.default_response.clone())
    }

    /// The next scripted user transcript, if any.
    pub fn next_user_transcript(&self) -> Option<String> {
        self.user_transcripts.lock().pop_front()
    }
}
