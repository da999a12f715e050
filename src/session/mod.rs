//! A realtime session: the object behind a handle. The host's threads touch it through
//! cheap, non-blocking calls (mic push, playback pull, polls, commands); the session's
//! own worker thread ([`worker`]) owns the socket, the protocol state and the playback
//! producer.

pub mod conversation;
pub mod dial;
pub mod doorbell;
pub mod echo_recording;
pub mod events;
pub mod history;
pub mod reaper;
pub mod registry;
pub mod tools;
pub mod worker;

use crate::audio::capture::{CaptureChunk, CapturePipeline};
use crate::audio::mic_path::MicPath;
use crate::audio::mouth::{MouthCell, MouthShape};
use crate::audio::playback::{
    playback_pipeline, PlaybackConfig, PlaybackConsumer, PlaybackProducer,
};
use crate::audio::reference::ReferenceSource;
use crate::config::SessionConfig;
use crate::protocol::client;
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use events::{JsonQueue, SessionState};
use parking_lot::Mutex;
use serde_json::Value;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use tools::ToolTracker;

/// Capacity of the command queue from the host to the worker: about 20 s of 20 ms mic
/// chunks, so a stalled network cannot grow memory without bound.
const COMMAND_QUEUE_CAPACITY: usize = 1024;
/// Tool calls waiting for the host at most.
const TOOL_QUEUE_CAPACITY: usize = 1024;
/// Far end the echo canceller's reference tap holds (at the highest device rate) between
/// two mic pushes.
const REFERENCE_TAP_MS: u32 = 1000;
/// Far end at most held for a mic that lags the device (see `FarEndAligner`).
const FAR_END_MAX_LAG_MS: u32 = 500;
/// Worker threads alive at most in the process (connected sessions plus destroyed ones
/// still closing): a script that creates and destroys sessions in a loop against a server
/// that never answers cannot pile threads up without bound.
pub const MAX_LIVE_WORKERS: usize = 256;

/// Worker threads alive now.
static LIVE_WORKERS: AtomicUsize = AtomicUsize::new(0);

/// Worker threads alive now (connected sessions plus destroyed ones still closing).
pub fn live_workers() -> usize {
    LIVE_WORKERS.load(Ordering::Acquire)
}

/// Counts a worker thread while it lives.
struct WorkerSlot;

impl WorkerSlot {
    fn take() -> Option<WorkerSlot> {
        LIVE_WORKERS
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_LIVE_WORKERS).then_some(n + 1)
            })
            .ok()
            .map(|_| WorkerSlot)
    }
}

impl Drop for WorkerSlot {
    fn drop(&mut self) {
        LIVE_WORKERS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why a session call failed; the FFI maps each to a status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// A bad argument (message says which).
    InvalidArgument(String),
    /// The call does not fit the session's state.
    InvalidState(String),
    /// A bounded queue is full.
    QueueFull(String),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::InvalidArgument(m)
            | SessionError::InvalidState(m)
            | SessionError::QueueFull(m) => f.write_str(m),
        }
    }
}

/// A request from the host's threads to the worker.
#[derive(Debug)]
pub enum Command {
    /// A chunk of mic audio, ready to append.
    Audio(CaptureChunk),
    /// `input_audio_buffer.commit` (push-to-talk).
    Commit,
    /// `input_audio_buffer.clear`.
    Clear,
    /// `response.create`, with optional response parameters.
    CreateResponse(Option<Value>),
    /// User barge-in: cancel, flush, truncate.
    CancelResponse,
    /// A user text message, then `response.create`.
    SendText(String),
    /// A tool's result.
    ToolResult {
        /// The call answered.
        call_id: String,
        /// Output string for the model.
        output: String,
    },
    /// Any client event, sent verbatim (an object with a string `type`).
    SendEvent(Value),
    /// A user message with an image (and optional text before it); no `response.create`.
    SendImage {
        /// `image/png` or `image/jpeg`.
        mime_type: String,
        /// The image bytes, base64.
        base64: String,
        /// Text part sent before the image.
        text: Option<String>,
    },
    /// `conversation.item.delete`.
    DeleteItem(String),
    /// A partial session object to send as `session.update` when ready.
    UpdateSession(Value),
    /// Close gracefully.
    Close,
}

/// The host's side of the command queue: a command queued while the worker sleeps wakes
/// it (the worker otherwise sleeps until its socket or a timer needs it); one queued while
/// it is awake costs no system call, the worker looks at the queue before it sleeps again.
pub struct CommandSender {
    tx: Sender<Command>,
    /// Shared with the worker, which keeps it alive: a wake-up queued just before the
    /// session is freed must not vanish with the waker's descriptor.
    bell: Arc<doorbell::Doorbell>,
}

impl CommandSender {
    /// Queues `cmd` (never blocks) and wakes the worker if it sleeps.
    pub fn try_send(&self, cmd: Command) -> Result<(), TrySendError<Command>> {
        self.tx.try_send(cmd)?;
        self.bell.ring();
        Ok(())
    }

    /// Wakes the worker wherever it sleeps (to see `closing`, also while dialling or
    /// backing off, where it does not look at the queue).
    pub fn wake(&self) {
        self.bell.wake();
    }
}

/// Counters read by `rv_get_stats`.
#[derive(Default)]
pub struct Stats {
    /// Mic frames pushed by the host.
    pub mic_frames_in: AtomicU64,
    /// PCM bytes appended to the server.
    pub audio_bytes_sent: AtomicU64,
    /// PCM bytes of model audio received.
    pub audio_bytes_received: AtomicU64,
    /// Server events that could not be parsed.
    pub malformed_events: AtomicU64,
    /// Reconnects that succeeded.
    pub reconnects: AtomicU32,
    /// End of user speech to first model audio of the last response, ms (-1: none yet).
    pub last_response_latency_ms: AtomicI32,
    /// Responses started.
    pub responses: AtomicU64,
    /// Tool calls delivered to the host.
    pub tool_calls: AtomicU64,
    /// Mic chunks dropped because the command queue was full.
    pub mic_chunks_dropped: AtomicU64,
    /// Playback: frames handed to the device (mirrored from the producer's stats).
    pub playback_frames_out: AtomicU64,
    /// Playback underruns.
    pub playback_underruns: AtomicU64,
    /// Playback: ms buffered now.
    pub playback_buffered_ms: AtomicU32,
    /// Model audio beyond the hold cap (samples).
    pub playback_overflow_samples: AtomicU64,
    /// Echo canceller: estimated echo delay, ms (-1: unknown, or cancellation off).
    pub echo_delay_ms: AtomicI32,
    /// Echo canceller: ERLE in dB, as `f32::to_bits` (0.0 while off).
    pub echo_erle_db_bits: AtomicU32,
    /// Echo canceller: converged.
    pub echo_converged: AtomicBool,
    /// Times the worker thread woke up (socket ready, command, timer).
    pub worker_wakeups: AtomicU64,
    /// Echo canceller: the far end in use (0 off, 1 own playback, 2 output mix).
    pub echo_reference: AtomicI32,
    /// Level (0..1) of the mic audio the server is sent, as `f32::to_bits`.
    pub mic_level_bits: AtomicU32,
}

/// State shared by the host-facing session and its worker.
pub struct SessionShared {
    /// `SessionState` as i32.
    pub state: AtomicI32,
    /// Events for `rv_poll_event`.
    pub events: JsonQueue,
    /// Tool calls for `rv_poll_tool_call`.
    pub tool_calls: JsonQueue,
    /// Open tool calls (FFI checks call ids against it; the worker updates it).
    pub tools: Mutex<ToolTracker>,
    /// The user's session object with every runtime update merged in.
    pub user_session: Mutex<Value>,
    /// Counters.
    pub stats: Stats,
    /// Half duplex: the mic is gated (model speaking or in the tail after it).
    pub mic_gated: AtomicBool,
    /// Set by close/destroy: the worker winds down.
    pub closing: AtomicBool,
    /// Secrets to redact from every message that leaves the plugin.
    pub secrets: Vec<String>,
}

impl SessionShared {
    /// Current state.
    pub fn state(&self) -> SessionState {
        SessionState::from_i32(self.state.load(Ordering::Acquire))
    }

    /// Sets the state and emits a `state` event when it changed (or always, with an attempt).
    pub fn set_state(&self, state: SessionState, attempt: Option<u32>, reason: Option<&str>) {
        let old = self.state.swap(state as i32, Ordering::AcqRel);
        if old != state as i32 || attempt.is_some() {
            let reason = reason.map(|r| crate::config::redact(r, &self.secrets));
            self.events
                .push(events::state_event(state, attempt, reason.as_deref()));
        }
    }

    /// Emits an `error` event, redacted.
    pub fn error(&self, code: &str, message: &str, fatal: bool) {
        let message = crate::config::redact(message, &self.secrets);
        self.events.push(events::error_event(code, &message, fatal));
    }

    /// Emits a `log` event, redacted.
    pub fn log(&self, level: &str, message: &str) {
        let message = crate::config::redact(message, &self.secrets);
        self.events.push(events::log_event(level, &message));
    }
}

/// A session, as held by the handle registry.
pub struct Session {
    config: SessionConfig,
    shared: Arc<SessionShared>,
    /// The mic path (capture, and the echo canceller when on): only the threads that
    /// push the mic or commit/clear the input take it, never the audio thread.
    capture: Mutex<MicPath>,
    /// The audio thread's side; `try_lock` only (never waits).
    consumer: Mutex<PlaybackConsumer>,
    /// The mouth shape of what the audio thread handed out last (lock-free reads).
    mouth: Arc<MouthCell>,
    /// Moved into the worker on connect.
    producer: Mutex<Option<PlaybackProducer>>,
    cmd_tx: CommandSender,
    cmd_rx: Receiver<Command>,
    /// The poll the worker sleeps on (its waker is in `cmd_tx`'s doorbell); moved into the
    /// worker on connect.
    poll: Mutex<Option<mio::Poll>>,
    /// The worker thread, once connected; detached (never joined) when the session goes.
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Session {
    /// Builds a session from a validated config (no network).
    pub fn new(config: SessionConfig) -> Result<Session, SessionError> {
        let capture = CapturePipeline::new(config.input_sample_rate, config.chunk_ms)
            .map_err(|e| SessionError::InvalidArgument(e.to_string()))?;
        let (producer, mut consumer) = playback_pipeline(PlaybackConfig {
            output_rate: config.output_sample_rate,
            prebuffer_ms: config.prebuffer_ms,
            max_hold_seconds: config.max_playback_hold_s,
        })
        .map_err(|e| SessionError::InvalidArgument(e.to_string()))?;
        let wire_rate = capture.wire_rate();
        let capture = if config.echo_cancellation {
            let tap = consumer.reference_tap(REFERENCE_TAP_MS);
            let mut path = MicPath::with_echo_cancellation(capture, tap, FAR_END_MAX_LAG_MS);
            if let Some(dir) = config.echo_recording_dir.as_deref() {
                let recorder = echo_recording::EchoRecorder::start(Path::new(dir), wire_rate)
                    .map_err(|e| {
                        SessionError::InvalidArgument(format!(
                            "echo_recording_dir {dir:?}: could not create the recording: {e}"
                        ))
                    })?;
                path.set_observer(Box::new(move |mic, far, out| {
                    recorder.record(mic, far, out)
                }));
            }
            path
        } else {
            MicPath::new(capture)
        };
        let (tx, cmd_rx) = bounded(COMMAND_QUEUE_CAPACITY);
        let no_poll = |e: std::io::Error| {
            SessionError::InvalidState(format!("could not create the session's poll: {e}"))
        };
        let poll = mio::Poll::new().map_err(no_poll)?;
        let waker = mio::Waker::new(poll.registry(), dial::WAKE).map_err(no_poll)?;
        let bell = Arc::new(doorbell::Doorbell::new(waker));
        let cmd_tx = CommandSender { tx, bell };
        let shared = Arc::new(SessionShared {
            state: AtomicI32::new(SessionState::Idle as i32),
            events: JsonQueue::new(config.event_queue_capacity as usize),
            tool_calls: JsonQueue::new(TOOL_QUEUE_CAPACITY),
            tools: Mutex::new(ToolTracker::default()),
            user_session: Mutex::new(config.session.clone()),
            stats: Stats {
                last_response_latency_ms: AtomicI32::new(-1),
                echo_delay_ms: AtomicI32::new(-1),
                ..Stats::default()
            },
            mic_gated: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            secrets: config.secrets(),
        });
        Ok(Session {
            config,
            shared,
            capture: Mutex::new(capture),
            mouth: consumer.mouth_cell(),
            consumer: Mutex::new(consumer),
            producer: Mutex::new(Some(producer)),
            cmd_tx,
            cmd_rx,
            poll: Mutex::new(Some(poll)),
            worker: Mutex::new(None),
        })
    }

    /// The shared state (events, stats, ...).
    pub fn shared(&self) -> &Arc<SessionShared> {
        &self.shared
    }

    /// Starts the worker thread; returns at once. Progress arrives as `state` events.
    pub fn connect(&self) -> Result<(), SessionError> {
        let mut worker = self.worker.lock();
        if worker.is_some() {
            return Err(SessionError::InvalidState(
                "the session was already connected once; create a new session to reconnect by hand"
                    .into(),
            ));
        }
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(SessionError::InvalidState("the session is closed".into()));
        }
        let slot = WorkerSlot::take().ok_or_else(|| {
            SessionError::InvalidState(format!(
                "too many sessions are connected or still closing ({MAX_LIVE_WORKERS}); destroy some first"
            ))
        })?;
        let producer =
            self.producer.lock().take().ok_or_else(|| {
                SessionError::InvalidState("playback producer already taken".into())
            })?;
        let poll = self.poll.lock().take().ok_or_else(|| {
            SessionError::InvalidState("the session's poll was already taken".into())
        })?;
        let shared = Arc::clone(&self.shared);
        let config = self.config.clone();
        let cmd_rx = self.cmd_rx.clone();
        let bell = Arc::clone(&self.cmd_tx.bell);
        self.shared.set_state(SessionState::Connecting, None, None);
        let handle = std::thread::Builder::new()
            .name("realtime-voice-worker".into())
            .spawn(move || {
                let _slot = slot; // released when the worker ends, whatever way
                let _bell = Arc::clone(&bell); // open while the worker can still sleep on its poll
                let shared_for_panic = Arc::clone(&shared);
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                    worker::run(shared, config, producer, cmd_rx, poll, bell)
                }));
                if result.is_err() {
                    shared_for_panic.error(
                        "internal",
                        "the session worker stopped on an internal error",
                        true,
                    );
                    shared_for_panic.set_state(SessionState::Failed, None, Some("internal error"));
                }
            })
            .map_err(|e| {
                SessionError::InvalidState(format!("could not start the worker thread: {e}"))
            })?;
        *worker = Some(handle);
        Ok(())
    }

    /// Graceful close; idempotent.
    pub fn close(&self) {
        if self.shared.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = self.cmd_tx.try_send(Command::Close);
        // Also when the queue is full: the worker checks `closing` on every wake-up.
        self.cmd_tx.wake();
        if self.worker.lock().is_none() {
            self.shared.set_state(SessionState::Closed, None, None);
        }
    }

    /// Closes without waiting: the worker (mid-dial, mid-backoff or connected) sees the
    /// signal, finishes closing and ends on its own thread, freeing what it owns. It holds
    /// only the shared state, never the session, so nothing here waits for it.
    pub fn shutdown(&self) {
        self.close();
        // Dropping the handle detaches the thread.
        drop(self.worker.lock().take());
    }

    /// Current state.
    pub fn state(&self) -> SessionState {
        self.shared.state()
    }

    /// Mic audio from the host (caller's thread): downmix, resample, cancel the echo (when
    /// on), chunk, queue.
    pub fn push_mic(
        &self,
        interleaved: &[f32],
        channels: usize,
        sample_rate: u32,
    ) -> Result<(), SessionError> {
        let frames = interleaved.len() / channels.max(1);
        self.shared
            .stats
            .mic_frames_in
            .fetch_add(frames as u64, Ordering::Relaxed);
        let live = matches!(self.state(), SessionState::Connected | SessionState::Ready);
        let gated = self.shared.mic_gated.load(Ordering::Relaxed);
        let mut full = false;
        let mut capture = self.capture.lock();
        capture
            .push(interleaved, channels, sample_rate, &mut |chunk| {
                // Before the socket is up (or while gated) the audio is stale by the time it
                // could be sent: the resampler keeps running, the chunk is dropped.
                if !live || gated {
                    return;
                }
                match self.cmd_tx.try_send(Command::Audio(chunk)) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                        full = true;
                        self.shared
                            .stats
                            .mic_chunks_dropped
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .map_err(|e| SessionError::InvalidArgument(e.to_string()))?;
        self.shared
            .stats
            .mic_level_bits
            .store(capture.capture().level().to_bits(), Ordering::Relaxed);
        if let Some(echo) = capture.echo_stats() {
            let st = &self.shared.stats;
            st.echo_delay_ms.store(echo.delay_ms, Ordering::Relaxed);
            st.echo_erle_db_bits
                .store(echo.erle_db.to_bits(), Ordering::Relaxed);
            st.echo_converged.store(echo.converged, Ordering::Relaxed);
        }
        let reference = match capture.echo_reference() {
            None => 0,
            Some(ReferenceSource::Playback) => 1,
            Some(ReferenceSource::OutputMix) => 2,
        };
        self.shared
            .stats
            .echo_reference
            .store(reference, Ordering::Relaxed);
        drop(capture);
        if full {
            return Err(SessionError::QueueFull(
                "the network is not keeping up: mic audio was dropped (the outbound queue is full)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Playback for the audio thread: never blocks (silence if the consumer is busy).
    pub fn pull_playback(&self, out: &mut [f32], channels: usize, sample_rate: u32) -> usize {
        match self.consumer.try_lock() {
            Some(mut c) => c.pull(out, channels, sample_rate),
            None => {
                out.fill(0.0);
                0
            }
        }
    }

    /// The mouth shape of the model audio the device is playing, and the ms of the current
    /// response's audio played. Lock-free; safe from any thread.
    pub fn mouth(&self) -> (MouthShape, i64) {
        self.mouth.read()
    }

    fn send(&self, cmd: Command) -> Result<(), SessionError> {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(SessionError::InvalidState("the session is closed".into()));
        }
        if self.worker.lock().is_none() {
            return Err(SessionError::InvalidState(
                "the session is not connected (call rv_session_connect first)".into(),
            ));
        }
        self.cmd_tx.try_send(cmd).map_err(|_| {
            SessionError::QueueFull(
                "the session's command queue is full (the network is not keeping up)".into(),
            )
        })
    }

    /// Push-to-talk commit: the partial mic chunk is sent first, then the commit.
    pub fn commit_audio(&self) -> Result<(), SessionError> {
        {
            let mut capture = self.capture.lock();
            let tx = &self.cmd_tx;
            capture.flush(&mut |chunk| {
                let _ = tx.try_send(Command::Audio(chunk));
            });
        }
        self.send(Command::Commit)
    }

    /// `input_audio_buffer.clear` (and the partial mic chunk is dropped).
    pub fn clear_audio(&self) -> Result<(), SessionError> {
        self.capture.lock().clear();
        self.send(Command::Clear)
    }

    /// `response.create` (queued while a response is in progress).
    pub fn create_response(&self, params: Option<Value>) -> Result<(), SessionError> {
        if let Some(p) = &params {
            if !p.is_object() {
                return Err(SessionError::InvalidArgument(
                    "response_json must be a JSON object".into(),
                ));
            }
        }
        self.send(Command::CreateResponse(params))
    }

    /// User barge-in.
    pub fn cancel_response(&self) -> Result<(), SessionError> {
        self.send(Command::CancelResponse)
    }

    /// A user text message, then `response.create`.
    pub fn send_text(&self, text: &str) -> Result<(), SessionError> {
        if text.is_empty() {
            return Err(SessionError::InvalidArgument("text is empty".into()));
        }
        self.send(Command::SendText(text.to_string()))
    }

    /// Any client event, verbatim: it must be a JSON object with a non-empty string `type`
    /// (else nothing is sent).
    pub fn send_event(&self, event: Value) -> Result<(), SessionError> {
        let typed = event
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.is_empty());
        if !event.is_object() || !typed {
            return Err(SessionError::InvalidArgument(
                "client_event_json must be a JSON object with a string \"type\"".into(),
            ));
        }
        self.send(Command::SendEvent(event))
    }

    /// A user message with an image: checked against its mime type (see
    /// [`client::image_problem`]), with `text` as a part before it; no `response.create`.
    pub fn send_image(
        &self,
        data: &[u8],
        mime_type: &str,
        text: Option<&str>,
    ) -> Result<(), SessionError> {
        if let Some(problem) = client::image_problem(data, mime_type) {
            return Err(SessionError::InvalidArgument(problem));
        }
        use base64::Engine;
        self.send(Command::SendImage {
            mime_type: mime_type.to_string(),
            base64: base64::engine::general_purpose::STANDARD.encode(data),
            text: text.map(str::to_string),
        })
    }

    /// `conversation.item.delete` for `item_id`.
    pub fn delete_item(&self, item_id: &str) -> Result<(), SessionError> {
        if item_id.is_empty() {
            return Err(SessionError::InvalidArgument("item_id is empty".into()));
        }
        self.send(Command::DeleteItem(item_id.to_string()))
    }

    /// A tool's result for `call_id`.
    pub fn submit_tool_result(&self, call_id: &str, output: &str) -> Result<(), SessionError> {
        if !self.shared.tools.lock().is_open(call_id) {
            return Err(SessionError::InvalidArgument(format!(
                "no open tool call with call_id \"{}\" (already answered, or from a previous connection)",
                truncate_for_message(call_id)
            )));
        }
        self.send(Command::ToolResult {
            call_id: call_id.to_string(),
            output: output.to_string(),
        })
    }

    /// Merges a partial session object into the configuration every (re)connect sends;
    /// once the session has a worker, it is also sent as `session.update`.
    pub fn update_session(&self, partial: Value) -> Result<(), SessionError> {
        if !partial.is_object() {
            return Err(SessionError::InvalidArgument(
                "session_json must be a JSON object".into(),
            ));
        }
        client::merge_json(&mut self.shared.user_session.lock(), &partial);
        if self.worker.lock().is_some() && !self.shared.closing.load(Ordering::Acquire) {
            self.cmd_tx
                .try_send(Command::UpdateSession(partial))
                .map_err(|_| {
                    SessionError::QueueFull("the session's command queue is full".into())
                })?;
        }
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Shortens user-supplied text quoted in an error message.
pub fn truncate_for_message(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(extra: &str) -> Session {
        let json = format!(r#"{{"url":"ws://127.0.0.1:9/v1/realtime"{extra}}}"#);
        Session::new(SessionConfig::from_json(&json).unwrap()).unwrap()
    }

    #[test]
    fn the_mic_path_cancels_echo_exactly_when_the_config_says() {
        assert!(session("").capture.lock().cancels_echo(), "on by default");
        assert!(!session(r#","half_duplex":true"#)
            .capture
            .lock()
            .cancels_echo());
        assert!(!session(r#","echo_cancellation":false"#)
            .capture
            .lock()
            .cancels_echo());
        assert!(session(r#","half_duplex":true,"echo_cancellation":true"#)
            .capture
            .lock()
            .cancels_echo());
    }

    #[test]
    fn echo_figures_start_unknown_and_follow_the_canceller() {
        let s = session(r#","prebuffer_ms":0"#);
        let st = &s.shared.stats;
        assert_eq!(st.echo_delay_ms.load(Ordering::Relaxed), -1);
        // The model speaks (a voice-like buzz) and the mic hears it 40 ms later at -10 dB;
        // mic pushes before connect still run the canceller (the chunks are dropped).
        let mut producer = s.producer.lock().take().unwrap();
        let voice: Vec<i16> = (0..24_000 * 4)
            .map(|i| {
                let t = i as f64 / 24_000.0;
                let env = ((t * 4.0).fract() * std::f64::consts::PI).sin();
                let v: f64 = (1..6)
                    .map(|k| (t * 160.0 * k as f64 * std::f64::consts::TAU).sin() / k as f64)
                    .sum();
                (v * env * 8000.0) as i16
            })
            .collect();
        producer.push_pcm16("item", &voice);
        let mut played = vec![0f32; 1920];
        let mut device = vec![0f32; 960];
        let mut mic = vec![0f32; 960];
        for step in 0..300 {
            producer.pump();
            s.pull_playback(&mut device, 2, 48_000);
            played.extend(device.iter().step_by(2));
            for (i, frame) in mic.chunks_exact_mut(2).enumerate() {
                frame.fill(played[step * 480 + i] * 0.316);
            }
            s.push_mic(&mic, 2, 48_000).unwrap();
        }
        let figures = s.capture.lock().echo_stats().unwrap();
        assert!(
            figures.delay_ms >= 0,
            "the canceller found the echo: {figures:?}"
        );
        assert_eq!(st.echo_delay_ms.load(Ordering::Relaxed), figures.delay_ms);
        assert_eq!(
            f32::from_bits(st.echo_erle_db_bits.load(Ordering::Relaxed)),
            figures.erle_db
        );
        assert_eq!(st.echo_converged.load(Ordering::Relaxed), figures.converged);
        // Off: the figures never move from -1 / 0 / false.
        let off = session(r#","echo_cancellation":false"#);
        off.push_mic(&mic, 2, 48_000).unwrap();
        let st = &off.shared.stats;
        assert_eq!(st.echo_delay_ms.load(Ordering::Relaxed), -1);
        assert_eq!(st.echo_erle_db_bits.load(Ordering::Relaxed), 0);
        assert!(!st.echo_converged.load(Ordering::Relaxed));
    }
}
