//! The conversation rules of one connection, without I/O: host commands and server text
//! go in; client events to send, host events, tool calls and playback actions come out.
//! No socket, no thread, no clock of its own (the caller passes `now`), so every rule is
//! unit-tested without a server.
//!
//! The rules:
//! - one response at a time: a `response.create` asked for while one is requested or
//!   running waits for `response.done` (the server rejects a second one);
//! - barge-in: when the user starts speaking (or the host cancels), local playback stops
//!   and the playing assistant item is truncated to what was heard; its late audio deltas
//!   are dropped;
//! - tool calls are delivered once each, and exactly one `response.create` follows when
//!   every call of a finished response has its result;
//! - a commit of less than [`MIN_COMMIT_MS`] of new audio is skipped (the server would
//!   reject it);
//! - server errors are fatal only when retrying cannot help; `session_expired` reconnects;
//! - history: the conversation is kept in a [`History`] that outlives the connection; on
//!   a connection that lands on a new server session, host commands wait until every kept
//!   item has been re-created on it (in order, under its old id), so no new audio, text or
//!   response goes ahead of the past; then `history_restored` tells the host;
//! - responses carry their `metadata` into `response_started`/`response_done`, and every
//!   response event names its `response_id`, so out-of-band responses can be told apart.

use super::events;
use super::history::History;
use super::tools::{ResultOutcome, ToolTracker};
use super::{Command, Stats};
use crate::audio::playback::{Interrupted, PlaybackProducer};
use crate::protocol::client::{self, ProtocolFlavor};
use crate::protocol::server::{self, ServerEvent};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The server rejects a commit of less than this much new audio.
pub const MIN_COMMIT_MS: u64 = 100;
/// Assistant items whose late audio is dropped after a barge-in, remembered at most.
const REMEMBERED_INTERRUPTIONS: usize = 32;
/// Assistant items of the running response whose playback is released at its end, at most.
const TRACKED_AUDIO_ITEMS: usize = 64;
/// Host commands held while the history is re-created, at most (10 s of 20 ms mic chunks).
const MAX_HELD_COMMANDS: usize = 500;
/// Model audio arrives as 24 kHz PCM16: bytes per millisecond.
const MODEL_AUDIO_BYTES_PER_MS: u64 = 48;

/// The playback side the conversation drives (the real one is [`PlaybackProducer`]).
pub trait Player {
    /// Whether any model audio is still held or unplayed.
    fn is_active(&self) -> bool;
    /// Stops playback at once; says which item was cut where, if one was playing.
    fn interrupt(&mut self) -> Option<Interrupted>;
    /// Queues a base64 PCM16 delta of `item_id`; returns the samples decoded.
    fn push_base64(&mut self, item_id: &str, delta: &str) -> Result<usize, String>;
    /// The item's audio is complete: release its prebuffer.
    fn end_item(&mut self, item_id: &str);
}

impl Player for PlaybackProducer {
    fn is_active(&self) -> bool {
        PlaybackProducer::is_active(self)
    }

    fn interrupt(&mut self) -> Option<Interrupted> {
        PlaybackProducer::interrupt(self)
    }

    fn push_base64(&mut self, item_id: &str, delta: &str) -> Result<usize, String> {
        let samples =
            PlaybackProducer::push_base64(self, item_id, delta).map_err(|e| e.to_string())?;
        // Into the ring now: the audio thread can pull it on its next callback.
        self.pump();
        Ok(samples)
    }

    fn end_item(&mut self, item_id: &str) {
        PlaybackProducer::end_item(self, item_id)
    }
}

/// What the conversation asks its loop to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this client event (JSON text) to the server.
    Send(String),
    /// Queue this host event (JSON text; carries no secret).
    Event(String),
    /// Queue an `error` host event (the loop redacts the message).
    Error {
        /// Machine-readable code.
        code: String,
        /// Human-readable message.
        message: String,
        /// Whether the session ends.
        fatal: bool,
    },
    /// Queue a `log` host event (the loop redacts the message).
    Log {
        /// `info` or `warning`.
        level: &'static str,
        /// The message.
        message: String,
    },
    /// Queue this tool call (JSON text) for the host.
    ToolCall(String),
    /// The session is configured: the state becomes `ready`.
    Ready,
}

/// How a connection ends, as the conversation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The host closed the session.
    Closed,
    /// Retrying cannot help (already reported as a fatal `error`).
    Fatal(String),
    /// Reconnect.
    Dropped(String),
}

/// Fixed settings of the conversation, from the session config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// GA or beta event names and shapes.
    pub flavor: ProtocolFlavor,
    /// Cut the assistant off when the user starts speaking.
    pub barge_in: bool,
    /// Sample rate of the mic chunks (to measure a commit).
    pub input_sample_rate: u32,
    /// Forward every server event but audio deltas as `server_event`.
    pub forward_server_events: bool,
}

/// What the conversation reaches besides its own state.
pub struct Env<'a, P: Player> {
    /// Playback.
    pub player: &'a mut P,
    /// Open tool calls (shared with the FFI, which checks call ids).
    pub tools: &'a mut ToolTracker,
    /// Counters.
    pub stats: &'a Stats,
    /// The time now.
    pub now: Instant,
}

/// The state of one connection's conversation.
pub struct Conversation {
    settings: Settings,
    /// This connection follows an earlier one that was ready (counts a reconnect).
    resumed: bool,
    session_id: String,
    ready: bool,
    response_active: bool,
    response_requested: bool,
    /// Responses asked for while one ran, sent one per `response.done`, in order.
    pending_responses: VecDeque<Option<Value>>,
    uncommitted_samples: u64,
    speech_stopped_at: Option<Instant>,
    interrupted_items: VecDeque<String>,
    /// Assistant items of the running response with audio, and the bytes of PCM received.
    audio_items: Vec<(String, u64)>,
    /// The conversation so far (it outlives the connection).
    history: History,
    /// Host commands waiting for the history to be re-created (`None`: not waiting).
    held: Option<VecDeque<Command>>,
    /// Some held commands were dropped (warned once).
    held_overflow: bool,
    out: Vec<Output>,
}

/// Requests kept at most while one response runs (the host cannot grow memory).
const MAX_PENDING_RESPONSES: usize = 16;

impl Conversation {
    /// A new connection's conversation. `resumed`: an earlier connection was ready.
    /// `history`: what earlier connections kept (re-created if this one lands on a new
    /// server session).
    pub fn new(settings: Settings, resumed: bool, history: History) -> Conversation {
        let held = (!history.is_empty()).then(VecDeque::new);
        Conversation {
            settings,
            resumed,
            session_id: String::new(),
            ready: false,
            response_active: false,
            response_requested: false,
            pending_responses: VecDeque::new(),
            uncommitted_samples: 0,
            speech_stopped_at: None,
            interrupted_items: VecDeque::new(),
            audio_items: Vec::new(),
            history,
            held,
            held_overflow: false,
            out: Vec::new(),
        }
    }

    /// The conversation so far, for the next connection.
    pub fn into_history(self) -> History {
        self.history
    }

    /// The conversation so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The first client event of a connection: the whole session configuration.
    pub fn start(&mut self, session: &Value) {
        self.send(client::session_update(self.settings.flavor, session));
    }

    /// Whether `session.updated` arrived on this connection.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// The server's session id (empty until `session.created`).
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Takes what the conversation asked for since the last call, in order.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Output> {
        self.out.drain(..)
    }

    fn send(&mut self, text: String) {
        self.out.push(Output::Send(text));
    }

    fn event(&mut self, json: String) {
        self.out.push(Output::Event(json));
    }

    fn error(&mut self, code: &str, message: &str, fatal: bool) {
        self.out.push(Output::Error {
            code: code.to_string(),
            message: message.to_string(),
            fatal,
        });
    }

    fn log(&mut self, level: &'static str, message: String) {
        self.out.push(Output::Log { level, message });
    }

    /// A host command.
    pub fn on_command<P: Player>(&mut self, cmd: Command, env: &mut Env<'_, P>) -> Result<(), End> {
        if let Some(held) = self.held.as_mut() {
            if !matches!(cmd, Command::Close) {
                // The past goes first: this waits until the history is re-created.
                if held.len() < MAX_HELD_COMMANDS {
                    held.push_back(cmd);
                } else if !self.held_overflow {
                    self.held_overflow = true;
                    self.log(
                        "warning",
                        format!("commands were dropped while the conversation was restored: {MAX_HELD_COMMANDS} were already waiting"),
                    );
                }
                return Ok(());
            }
        }
        match cmd {
            Command::Audio(chunk) => {
                self.uncommitted_samples += chunk.samples as u64;
                env.stats
                    .audio_bytes_sent
                    .fetch_add(chunk.samples as u64 * 2, Ordering::Relaxed);
                self.send(client::input_audio_append_owned(chunk.base64));
            }
            Command::Commit => {
                let ms = self.uncommitted_samples * 1000
                    / u64::from(self.settings.input_sample_rate.max(1));
                if ms < MIN_COMMIT_MS {
                    self.log(
                        "warning",
                        format!("commit skipped: only {ms} ms of new audio since the last commit (the server needs at least {MIN_COMMIT_MS} ms)"),
                    );
                } else {
                    self.uncommitted_samples = 0;
                    self.send(client::input_audio_commit());
                }
            }
            Command::Clear => {
                self.uncommitted_samples = 0;
                self.send(client::input_audio_clear());
            }
            Command::CreateResponse(params) => self.request_response(params),
            Command::CancelResponse => {
                self.interrupt_playback(env);
                if self.response_active || self.response_requested {
                    self.send(client::response_cancel(None));
                }
            }
            Command::SendText(text) => {
                self.send(client::user_text_message(&text));
                self.request_response(None);
            }
            Command::ToolResult { call_id, output } => match env.tools.on_result(&call_id) {
                Ok(outcome) => {
                    self.send(client::function_call_output(&call_id, &output));
                    if outcome == ResultOutcome::RespondNow {
                        self.request_response(None);
                    }
                }
                Err(_) => self.log(
                    "warning",
                    "a tool result for a call that is no longer open was dropped".into(),
                ),
            },
            Command::SendEvent(event) => self.send(event.to_string()),
            Command::SendImage {
                mime_type,
                base64,
                text,
            } => {
                // An id of our own, so the history keeps this image as sent.
                let id = self.history.next_own_id();
                let url = client::image_data_url(&mime_type, &base64);
                self.history.on_image_sent(&id, text.as_deref(), &url);
                self.send(client::user_image_message(&id, &url, text.as_deref()));
            }
            Command::DeleteItem(item_id) => {
                self.history.forget(&item_id);
                self.send(client::conversation_item_delete(&item_id));
            }
            Command::UpdateSession(mut partial) => {
                if self.settings.flavor == ProtocolFlavor::Ga {
                    if let Some(obj) = partial.as_object_mut() {
                        obj.entry("type").or_insert_with(|| Value::from("realtime"));
                    }
                }
                self.send(client::session_update(self.settings.flavor, &partial));
            }
            Command::Close => return Err(End::Closed),
        }
        Ok(())
    }

    /// A text frame from the server.
    pub fn on_server_text<P: Player>(
        &mut self,
        text: &str,
        env: &mut Env<'_, P>,
    ) -> Result<(), End> {
        let event = match server::parse_server_event(text) {
            Ok(e) => e,
            Err(e) => {
                env.stats.malformed_events.fetch_add(1, Ordering::Relaxed);
                self.error("malformed_server_event", &e.to_string(), false);
                return Ok(());
            }
        };
        if self.settings.forward_server_events && !matches!(event, ServerEvent::AudioDelta { .. }) {
            if let Ok(v) = serde_json::from_str::<Value>(text) {
                self.event(events::server_event(v));
            }
        }
        self.on_server_event(event, env)
    }

    /// A parsed server event.
    pub fn on_server_event<P: Player>(
        &mut self,
        event: ServerEvent,
        env: &mut Env<'_, P>,
    ) -> Result<(), End> {
        match event {
            ServerEvent::SessionCreated { session_id, .. } => {
                self.session_id = session_id.unwrap_or_default();
                if self.history.on_session(&self.session_id) {
                    self.restore_history();
                }
                if let Some(held) = self.held.take() {
                    for cmd in held {
                        self.on_command(cmd, env)?;
                    }
                }
            }
            ServerEvent::SessionUpdated { .. } if !self.ready => {
                self.ready = true;
                if self.resumed {
                    env.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                self.out.push(Output::Ready);
                let ready = events::session_ready_event(&self.session_id);
                self.event(ready);
            }
            ServerEvent::Error(err) => {
                let fatal = err.is_fatal();
                let message = err.message;
                let code = err.code.unwrap_or_else(|| err.error_type.clone());
                if code == "session_expired" {
                    // The server's maximum session length: like a drop, reconnect.
                    self.error(&code, &message, false);
                    return Err(End::Dropped(format!("session expired: {message}")));
                }
                if fatal {
                    self.error(&code, &message, true);
                    return Err(End::Fatal(format!("{code}: {message}")));
                }
                if code == "conversation_already_has_active_response" {
                    self.response_active = true;
                } else if self.response_requested && !self.response_active {
                    // The request that failed will never see response.created.
                    self.response_requested = false;
                }
                self.error(&code, &message, false);
            }
            ServerEvent::SpeechStarted {
                item_id,
                audio_start_ms,
            } => {
                self.event(events::speech_started_event(&item_id, audio_start_ms));
                self.uncommitted_samples = 0;
                if self.settings.barge_in {
                    self.interrupt_playback(env);
                }
            }
            ServerEvent::SpeechStopped {
                item_id,
                audio_end_ms,
            } => {
                self.speech_stopped_at = Some(env.now);
                self.event(events::speech_stopped_event(&item_id, audio_end_ms));
            }
            ServerEvent::InputCommitted { .. } | ServerEvent::InputCleared => {
                self.uncommitted_samples = 0
            }
            ServerEvent::InputTimeoutTriggered { item_id, .. } => {
                let id = (!item_id.is_empty()).then_some(item_id.as_str());
                self.event(events::input_timeout_event(id));
            }
            ServerEvent::RateLimitsUpdated { rate_limits } => {
                self.event(events::rate_limits_event(&rate_limits));
            }
            ServerEvent::ItemAdded { item, .. } => {
                self.history.on_item(&item);
                self.item_event(&item, "added");
            }
            ServerEvent::ItemDone { item } => {
                self.history.on_item(&item);
                self.item_event(&item, "done");
            }
            // The host asked for it (`conversation.item.retrieve` through `rv_send_event`):
            // the server's whole view, kept for a restore; the host reads it forwarded raw.
            ServerEvent::ItemRetrieved { item } => self.history.on_item_retrieved(&item),
            ServerEvent::ItemTruncated { item_id, .. } => self.event(
                events::conversation_item_event(&item_id, None, None, None, "truncated"),
            ),
            ServerEvent::ItemDeleted { item_id } => {
                self.history.forget(&item_id);
                self.event(events::conversation_item_event(
                    &item_id, None, None, None, "deleted",
                ))
            }
            ServerEvent::InputTranscriptionDelta { item_id, delta } => {
                self.event(events::user_transcript_event(&item_id, &delta, false));
            }
            ServerEvent::InputTranscriptionCompleted {
                item_id,
                transcript,
            } => {
                self.history.on_user_transcript(&item_id, &transcript);
                self.event(events::user_transcript_event(&item_id, &transcript, true));
            }
            ServerEvent::InputTranscriptionFailed { message, .. } => {
                self.error("transcription_failed", &message, false);
            }
            ServerEvent::ResponseCreated {
                response_id,
                metadata,
                ..
            } => {
                self.response_active = true;
                self.response_requested = false;
                env.stats.responses.fetch_add(1, Ordering::Relaxed);
                self.event(events::response_started_event(
                    &response_id,
                    metadata.as_ref(),
                ));
            }
            ServerEvent::AudioDelta { item_id, delta, .. } => {
                self.on_audio_delta(&item_id, &delta, env)
            }
            ServerEvent::AudioDone { item_id, .. } => env.player.end_item(&item_id),
            ServerEvent::AudioTranscriptDelta {
                response_id,
                item_id,
                delta,
                ..
            }
            | ServerEvent::TextDelta {
                response_id,
                item_id,
                delta,
                ..
            } => {
                self.history.on_assistant_delta(&item_id, &delta);
                self.event(events::assistant_transcript_event(
                    &response_id,
                    &item_id,
                    &delta,
                    false,
                ));
            }
            ServerEvent::AudioTranscriptDone {
                response_id,
                item_id,
                transcript,
                ..
            }
            | ServerEvent::TextDone {
                response_id,
                item_id,
                text: transcript,
                ..
            } => {
                self.history.on_assistant_text(&item_id, &transcript);
                self.event(events::assistant_transcript_event(
                    &response_id,
                    &item_id,
                    &transcript,
                    true,
                ));
            }
            ServerEvent::FunctionCallArgumentsDone {
                response_id,
                call_id,
                name: Some(name),
                arguments,
                ..
            } => {
                // Without a name (older servers), the call is delivered at output_item.done.
                self.deliver_tool_call(&response_id, &call_id, &name, &arguments, env);
            }
            ServerEvent::OutputItemDone {
                response_id,
                item,
                function_call,
                ..
            } => {
                if let Some(call) = function_call {
                    self.deliver_tool_call(
                        &response_id,
                        &call.call_id,
                        &call.name,
                        &call.arguments,
                        env,
                    );
                } else if let Some(id) = item.id.as_deref() {
                    env.player.end_item(id);
                }
            }
            ServerEvent::ResponseDone {
                response_id,
                status,
                usage,
                metadata,
                function_calls,
                ..
            } => {
                let status = status.unwrap_or_else(|| "completed".into());
                for call in &function_calls {
                    self.deliver_tool_call(
                        &response_id,
                        &call.call_id,
                        &call.name,
                        &call.arguments,
                        env,
                    );
                }
                // A cancelled or failed response may never send its audio.done: release
                // the prebuffer of every item it played so the tail is heard.
                for (id, _) in self.audio_items.drain(..) {
                    env.player.end_item(&id);
                }
                self.response_active = false;
                self.response_requested = false;
                self.event(events::response_done_event(
                    &response_id,
                    &status,
                    usage.as_ref(),
                    metadata.as_ref(),
                ));
                if env.tools.on_response_done(&response_id) {
                    self.request_response(None);
                } else if let Some(params) = self.pending_responses.pop_front() {
                    self.request_response(params);
                }
            }
            ServerEvent::Other { event_type }
                if event_type == "response.mcp_call.failed"
                    || event_type == "mcp_list_tools.failed" =>
            {
                // A server-side tool failed: the model answers without it; say why.
                self.log(
                    "warning",
                    format!("a server-side MCP tool failed ({event_type}); the model goes on without it"),
                );
            }
            _ => {}
        }
        Ok(())
    }

    fn item_event(&mut self, item: &server::ItemInfo, status: &str) {
        if let Some(id) = item.id.as_deref() {
            self.event(events::conversation_item_event(
                id,
                item.role.as_deref(),
                item.item_type.as_deref(),
                item.text().as_deref(),
                status,
            ));
        }
    }

    /// Re-creates every kept item on this (new) server session, in order, under its old id.
    fn restore_history(&mut self) {
        let items = self.history.restore_items(self.settings.flavor);
        for item in &items {
            self.send(client::conversation_item_create(item));
        }
        self.event(events::history_restored_event(items.len()));
    }

    fn on_audio_delta<P: Player>(&mut self, item_id: &str, delta: &str, env: &mut Env<'_, P>) {
        if self.interrupted_items.iter().any(|i| i == item_id) {
            return; // the user cut this item off: its late audio is not played
        }
        match env.player.push_base64(item_id, delta) {
            Ok(samples) => {
                let bytes = samples as u64 * 2;
                match self.audio_items.iter().position(|(i, _)| i == item_id) {
                    Some(at) => self.audio_items[at].1 += bytes,
                    None if self.audio_items.len() < TRACKED_AUDIO_ITEMS => {
                        self.audio_items.push((item_id.to_string(), bytes))
                    }
                    None => {}
                }
                env.stats
                    .audio_bytes_received
                    .fetch_add(samples as u64 * 2, Ordering::Relaxed);
                if let Some(t) = self.speech_stopped_at.take() {
                    let ms = env
                        .now
                        .saturating_duration_since(t)
                        .as_millis()
                        .min(i32::MAX as u128);
                    env.stats
                        .last_response_latency_ms
                        .store(ms as i32, Ordering::Relaxed);
                }
            }
            Err(e) => {
                env.stats.malformed_events.fetch_add(1, Ordering::Relaxed);
                self.error(
                    "malformed_audio",
                    &format!("an audio delta was rejected: {e}"),
                    false,
                );
            }
        }
    }

    fn request_response(&mut self, params: Option<Value>) {
        if self.response_active || self.response_requested {
            // The server rejects a second response while one runs: send it after response.done.
            if self.pending_responses.len() >= MAX_PENDING_RESPONSES {
                self.log(
                    "warning",
                    format!("a response request was dropped: {MAX_PENDING_RESPONSES} are already waiting"),
                );
                return;
            }
            // Two plain requests in a row ask for the same thing: one is enough.
            if params.is_none() && self.pending_responses.back() == Some(&None) {
                return;
            }
            self.pending_responses.push_back(params);
            return;
        }
        self.response_requested = true;
        self.send(client::response_create_for(
            self.settings.flavor,
            params.as_ref(),
        ));
    }

    /// Stops local playback and truncates the playing item to what was heard.
    fn interrupt_playback<P: Player>(&mut self, env: &mut Env<'_, P>) {
        if !env.player.is_active() {
            return;
        }
        if let Some(cut) = env.player.interrupt() {
            if self.interrupted_items.len() >= REMEMBERED_INTERRUPTIONS {
                self.interrupted_items.pop_front();
            }
            self.interrupted_items.push_back(cut.item_id.clone());
            let received_ms = self
                .audio_items
                .iter()
                .find(|(i, _)| *i == cut.item_id)
                .map_or(0, |(_, bytes)| bytes / MODEL_AUDIO_BYTES_PER_MS);
            self.history
                .on_cut(&cut.item_id, u64::from(cut.played_ms), received_ms);
            self.send(client::conversation_item_truncate(
                &cut.item_id,
                0,
                u64::from(cut.played_ms),
            ));
            self.event(events::audio_interrupted_event(&cut.item_id, cut.played_ms));
        }
    }

    fn deliver_tool_call<P: Player>(
        &mut self,
        response_id: &str,
        call_id: &str,
        name: &str,
        arguments: &str,
        env: &mut Env<'_, P>,
    ) {
        if let Some(json) = env.tools.on_call(response_id, call_id, name, arguments) {
            env.stats.tool_calls.fetch_add(1, Ordering::Relaxed);
            self.out.push(Output::ToolCall(json));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::capture::CaptureChunk;
    use crate::session::history::History;
    use serde_json::json;
    use std::time::Duration;

    /// Playback as the conversation sees it: what was queued, ended and cut.
    #[derive(Default)]
    struct FakePlayer {
        /// (item, delta) pushed, in order.
        pushed: Vec<(String, String)>,
        ended: Vec<String>,
        /// The item playing and how much of it was heard, when active.
        playing: Option<(String, u32)>,
        interrupts: usize,
    }

    impl Player for FakePlayer {
        fn is_active(&self) -> bool {
            self.playing.is_some()
        }
        fn interrupt(&mut self) -> Option<Interrupted> {
            self.interrupts += 1;
            self.playing
                .take()
                .map(|(item_id, played_ms)| Interrupted { item_id, played_ms })
        }
        fn push_base64(&mut self, item_id: &str, delta: &str) -> Result<usize, String> {
            if delta == "!bad" {
                return Err("not base64".into());
            }
            self.pushed.push((item_id.into(), delta.into()));
            self.playing.get_or_insert((item_id.into(), 0));
            Ok(delta.len())
        }
        fn end_item(&mut self, item_id: &str) {
            self.ended.push(item_id.into());
        }
    }

    /// A conversation with its surroundings, driven by text and commands.
    struct Rig {
        conv: Conversation,
        player: FakePlayer,
        tools: ToolTracker,
        stats: Stats,
        now: Instant,
        /// Everything the conversation asked for so far.
        out: Vec<Output>,
    }

    fn settings() -> Settings {
        Settings {
            flavor: ProtocolFlavor::Ga,
            barge_in: true,
            input_sample_rate: 24_000,
            forward_server_events: false,
        }
    }

    impl Rig {
        fn new() -> Rig {
            Rig::with(settings(), false)
        }

        fn with(settings: Settings, resumed: bool) -> Rig {
            Rig::with_history(settings, resumed, History::new(100))
        }

        fn with_history(settings: Settings, resumed: bool, history: History) -> Rig {
            Rig {
                conv: Conversation::new(settings, resumed, history),
                player: FakePlayer::default(),
                tools: ToolTracker::default(),
                stats: Stats::default(),
                now: Instant::now(),
                out: Vec::new(),
            }
        }

        fn server(&mut self, event: Value) -> Result<(), End> {
            let mut env = Env {
                player: &mut self.player,
                tools: &mut self.tools,
                stats: &self.stats,
                now: self.now,
            };
            let r = self.conv.on_server_text(&event.to_string(), &mut env);
            self.out.extend(self.conv.drain());
            r
        }

        fn host(&mut self, cmd: Command) -> Result<(), End> {
            let mut env = Env {
                player: &mut self.player,
                tools: &mut self.tools,
                stats: &self.stats,
                now: self.now,
            };
            let r = self.conv.on_command(cmd, &mut env);
            self.out.extend(self.conv.drain());
            r
        }

        /// Client events sent (parsed), and forgets them.
        fn sent(&mut self) -> Vec<Value> {
            let sent = self
                .out
                .iter()
                .filter_map(|o| match o {
                    Output::Send(t) => Some(serde_json::from_str(t).unwrap()),
                    _ => None,
                })
                .collect();
            self.out.retain(|o| !matches!(o, Output::Send(_)));
            sent
        }

        fn sent_types(&mut self) -> Vec<String> {
            self.sent()
                .iter()
                .map(|v| v["type"].as_str().unwrap().to_string())
                .collect()
        }

        /// Host events (parsed) so far.
        fn events(&self) -> Vec<Value> {
            self.out
                .iter()
                .filter_map(|o| match o {
                    Output::Event(t) => Some(serde_json::from_str(t).unwrap()),
                    _ => None,
                })
                .collect()
        }

        fn errors(&self) -> Vec<(String, bool)> {
            self.out
                .iter()
                .filter_map(|o| match o {
                    Output::Error { code, fatal, .. } => Some((code.clone(), *fatal)),
                    _ => None,
                })
                .collect()
        }

        fn tool_calls(&self) -> Vec<Value> {
            self.out
                .iter()
                .filter_map(|o| match o {
                    Output::ToolCall(t) => Some(serde_json::from_str(t).unwrap()),
                    _ => None,
                })
                .collect()
        }

        fn created(&mut self, id: &str) {
            self.server(json!({"type": "response.created", "response": {"id": id}}))
                .unwrap();
        }

        fn done(&mut self, id: &str) {
            self.server(json!({"type": "response.done", "response": {"id": id, "status": "completed", "output": []}}))
                .unwrap();
        }

        fn audio(&mut self, item: &str, delta: &str) {
            self.server(
                json!({"type": "response.output_audio.delta", "response_id": "r1", "item_id": item,
                "output_index": 0, "content_index": 0, "delta": delta}),
            )
            .unwrap();
        }
    }

    fn chunk(samples: usize) -> Command {
        Command::Audio(CaptureChunk {
            base64: "AAAA".into(),
            samples,
        })
    }

    #[test]
    fn the_first_event_is_the_whole_session_and_ready_follows_session_updated_once() {
        let mut rig = Rig::new();
        rig.conv
            .start(&json!({"type": "realtime", "instructions": "be brief"}));
        rig.out.extend(rig.conv.drain());
        let sent = rig.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["type"], "session.update");
        assert_eq!(sent[0]["session"]["instructions"], "be brief");
        rig.server(json!({"type": "session.created", "session": {"id": "sess_1"}}))
            .unwrap();
        assert!(!rig.conv.is_ready());
        rig.server(json!({"type": "session.updated", "session": {}}))
            .unwrap();
        rig.server(json!({"type": "session.updated", "session": {}}))
            .unwrap();
        assert!(rig.conv.is_ready());
        assert_eq!(rig.out.iter().filter(|o| **o == Output::Ready).count(), 1);
        let ready: Vec<Value> = rig
            .events()
            .into_iter()
            .filter(|e| e["type"] == "session_ready")
            .collect();
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0]["session_id"], "sess_1");
        assert_eq!(rig.stats.reconnects.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_resumed_connection_counts_a_reconnect_when_ready() {
        let mut rig = Rig::with(settings(), true);
        rig.server(json!({"type": "session.updated", "session": {}}))
            .unwrap();
        assert_eq!(rig.stats.reconnects.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_second_response_request_waits_for_the_first_to_finish() {
        let mut rig = Rig::new();
        rig.host(Command::CreateResponse(None)).unwrap();
        assert_eq!(rig.sent_types(), ["response.create"]);
        // Requested but not created yet: still one at a time.
        rig.host(Command::CreateResponse(Some(
            json!({"instructions": "second"}),
        )))
        .unwrap();
        rig.created("r1");
        rig.host(Command::CreateResponse(Some(
            json!({"instructions": "third"}),
        )))
        .unwrap();
        assert!(rig.sent().is_empty(), "nothing while r1 runs");
        rig.done("r1");
        let sent = rig.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["response"]["instructions"], "second");
        rig.created("r2");
        rig.done("r2");
        let sent = rig.sent();
        assert_eq!(
            sent[0]["response"]["instructions"], "third",
            "queued in order, not overwritten"
        );
        rig.created("r3");
        rig.done("r3");
        assert!(rig.sent().is_empty());
    }

    #[test]
    fn a_rejected_request_frees_the_slot_and_an_active_response_error_holds_it() {
        let mut rig = Rig::new();
        rig.host(Command::CreateResponse(None)).unwrap();
        rig.sent();
        rig.server(json!({"type": "error", "error": {"type": "invalid_request_error", "code": "invalid_value", "message": "bad"}}))
            .unwrap();
        assert_eq!(rig.errors(), [("invalid_value".to_string(), false)]);
        rig.host(Command::CreateResponse(None)).unwrap();
        assert_eq!(
            rig.sent_types(),
            ["response.create"],
            "the failed request no longer blocks"
        );
        rig.server(json!({"type": "error", "error": {"type": "invalid_request_error", "code": "conversation_already_has_active_response", "message": "busy"}}))
            .unwrap();
        rig.host(Command::CreateResponse(None)).unwrap();
        assert!(rig.sent().is_empty(), "a response runs: the request waits");
    }

    #[test]
    fn text_is_sent_as_a_user_message_then_one_response() {
        let mut rig = Rig::new();
        rig.host(Command::SendText("hello".into())).unwrap();
        let sent = rig.sent();
        assert_eq!(sent[0]["type"], "conversation.item.create");
        assert_eq!(sent[0]["item"]["content"][0]["text"], "hello");
        assert_eq!(sent[1]["type"], "response.create");
        rig.created("r1");
        // Two texts during a response: both items now, one response after.
        rig.host(Command::SendText("a".into())).unwrap();
        rig.host(Command::SendText("b".into())).unwrap();
        assert_eq!(
            rig.sent_types(),
            ["conversation.item.create", "conversation.item.create"]
        );
        rig.done("r1");
        assert_eq!(rig.sent_types(), ["response.create"]);
    }

    #[test]
    fn barge_in_cuts_playback_truncates_the_item_and_drops_its_late_audio() {
        let mut rig = Rig::new();
        rig.created("r1");
        rig.audio("item_a", "AAAA");
        rig.player.playing = Some(("item_a".into(), 1234));
        rig.server(json!({"type": "input_audio_buffer.speech_started", "item_id": "user_1", "audio_start_ms": 500}))
            .unwrap();
        let sent = rig.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["type"], "conversation.item.truncate");
        assert_eq!(sent[0]["item_id"], "item_a");
        assert_eq!(sent[0]["audio_end_ms"], 1234);
        let ev = rig.events();
        assert!(ev.iter().any(|e| e["type"] == "speech_started"));
        assert!(ev.iter().any(|e| e["type"] == "audio_interrupted"
            && e["item_id"] == "item_a"
            && e["played_ms"] == 1234));
        // The server keeps streaming the cut item: not played.
        rig.audio("item_a", "BBBB");
        assert_eq!(rig.player.pushed.len(), 1);
        // Audio of another item plays.
        rig.audio("item_b", "CCCC");
        assert_eq!(rig.player.pushed.len(), 2);
    }

    #[test]
    fn without_barge_in_or_with_nothing_playing_speech_cuts_nothing() {
        let mut rig = Rig::with(
            Settings {
                barge_in: false,
                ..settings()
            },
            false,
        );
        rig.player.playing = Some(("item_a".into(), 10));
        rig.server(json!({"type": "input_audio_buffer.speech_started", "item_id": "u", "audio_start_ms": 0}))
            .unwrap();
        assert_eq!(rig.player.interrupts, 0);
        let mut rig = Rig::new();
        rig.server(json!({"type": "input_audio_buffer.speech_started", "item_id": "u", "audio_start_ms": 0}))
            .unwrap();
        assert!(rig.sent().is_empty(), "no truncate without playback");
    }

    #[test]
    fn host_cancel_truncates_and_cancels_only_a_live_response() {
        let mut rig = Rig::new();
        rig.host(Command::CancelResponse).unwrap();
        assert!(rig.sent().is_empty(), "nothing to cancel");
        rig.created("r1");
        rig.player.playing = Some(("item_a".into(), 300));
        rig.host(Command::CancelResponse).unwrap();
        assert_eq!(
            rig.sent_types(),
            ["conversation.item.truncate", "response.cancel"]
        );
    }

    #[test]
    fn tool_calls_are_delivered_once_and_followed_by_exactly_one_response() {
        let mut rig = Rig::new();
        rig.created("r1");
        for (call, args) in [("c1", r#"{"dx":1}"#), ("c2", "{}")] {
            let item = json!({"id": format!("fc_{call}"), "type": "function_call", "call_id": call, "name": "move", "arguments": args, "status": "completed"});
            rig.server(json!({"type": "response.function_call_arguments.done", "response_id": "r1", "item_id": format!("fc_{call}"),
                "output_index": 0, "call_id": call, "name": "move", "arguments": args}))
                .unwrap();
            // The same call again in output_item.done: not delivered twice.
            rig.server(json!({"type": "response.output_item.done", "response_id": "r1", "output_index": 0, "item": item}))
                .unwrap();
        }
        let calls = rig.tool_calls();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0]["call_id"], "c1");
        assert_eq!(calls[0]["arguments"]["dx"], 1);
        rig.host(Command::ToolResult {
            call_id: "c1".into(),
            output: "ok".into(),
        })
        .unwrap();
        assert_eq!(
            rig.sent_types(),
            ["conversation.item.create"],
            "output now, no response yet"
        );
        rig.done("r1");
        assert!(rig.sent().is_empty(), "c2 is still open");
        rig.host(Command::ToolResult {
            call_id: "c2".into(),
            output: "ok".into(),
        })
        .unwrap();
        let sent = rig.sent();
        assert_eq!(sent[0]["item"]["type"], "function_call_output");
        assert_eq!(sent[0]["item"]["call_id"], "c2");
        assert_eq!(sent[1]["type"], "response.create");
        assert_eq!(sent.len(), 2, "exactly one response.create");
        // A repeated result is dropped with a warning, nothing sent.
        rig.host(Command::ToolResult {
            call_id: "c2".into(),
            output: "again".into(),
        })
        .unwrap();
        assert!(rig.sent().is_empty());
        assert!(rig.out.iter().any(|o| matches!(
            o,
            Output::Log {
                level: "warning",
                ..
            }
        )));
    }

    #[test]
    fn results_before_response_done_follow_up_at_done() {
        let mut rig = Rig::new();
        rig.created("r1");
        rig.server(json!({"type": "response.function_call_arguments.done", "response_id": "r1", "item_id": "fc",
            "output_index": 0, "call_id": "c1", "name": "f", "arguments": "{}"}))
            .unwrap();
        rig.host(Command::ToolResult {
            call_id: "c1".into(),
            output: "1".into(),
        })
        .unwrap();
        assert_eq!(rig.sent_types(), ["conversation.item.create"]);
        rig.done("r1");
        assert_eq!(rig.sent_types(), ["response.create"]);
    }

    #[test]
    fn a_commit_needs_100_ms_of_new_audio() {
        let mut rig = Rig::new();
        rig.host(chunk(1200)).unwrap(); // 50 ms at 24 kHz
        rig.host(Command::Commit).unwrap();
        assert_eq!(rig.sent_types(), ["input_audio_buffer.append"]);
        assert!(rig
            .out
            .iter()
            .any(|o| matches!(o, Output::Log { message, .. } if message.contains("100 ms"))));
        rig.host(chunk(1200)).unwrap(); // 100 ms in all
        rig.host(Command::Commit).unwrap();
        assert_eq!(
            rig.sent_types(),
            ["input_audio_buffer.append", "input_audio_buffer.commit"]
        );
        // Committed: the count starts again.
        rig.host(Command::Commit).unwrap();
        assert!(rig.sent().is_empty());
        // The server's VAD commits (or the user starts speaking): the count starts again too.
        rig.host(chunk(4800)).unwrap();
        rig.server(json!({"type": "input_audio_buffer.committed", "item_id": "u1"}))
            .unwrap();
        rig.sent();
        rig.host(Command::Commit).unwrap();
        assert!(rig.sent().is_empty());
        assert_eq!(
            rig.stats.audio_bytes_sent.load(Ordering::Relaxed),
            (1200 + 1200 + 4800) * 2
        );
    }

    #[test]
    fn fatal_errors_end_the_session_and_expiry_reconnects() {
        let mut rig = Rig::new();
        let end = rig.server(json!({"type": "error", "error": {"type": "invalid_request_error", "code": "invalid_api_key", "message": "no"}}));
        assert!(
            matches!(end, Err(End::Fatal(ref m)) if m.contains("invalid_api_key")),
            "{end:?}"
        );
        assert_eq!(rig.errors(), [("invalid_api_key".to_string(), true)]);
        let mut rig = Rig::new();
        let end = rig.server(json!({"type": "error", "error": {"type": "invalid_request_error", "code": "session_expired", "message": "60 minutes"}}));
        assert!(matches!(end, Err(End::Dropped(_))), "{end:?}");
        assert_eq!(rig.errors(), [("session_expired".to_string(), false)]);
        let mut rig = Rig::new();
        assert_eq!(rig.host(Command::Close), Err(End::Closed));
    }

    #[test]
    fn malformed_frames_are_counted_and_reported_never_fatal() {
        let mut rig = Rig::new();
        let mut env = Env {
            player: &mut rig.player,
            tools: &mut rig.tools,
            stats: &rig.stats,
            now: rig.now,
        };
        assert!(rig.conv.on_server_text("{not json", &mut env).is_ok());
        rig.out.extend(rig.conv.drain());
        rig.audio("item", "!bad");
        assert_eq!(rig.stats.malformed_events.load(Ordering::Relaxed), 2);
        let codes: Vec<String> = rig.errors().into_iter().map(|e| e.0).collect();
        assert_eq!(codes, ["malformed_server_event", "malformed_audio"]);
    }

    #[test]
    fn response_done_releases_every_item_it_played_and_latency_is_measured() {
        let mut rig = Rig::new();
        rig.server(json!({"type": "input_audio_buffer.speech_stopped", "item_id": "u", "audio_end_ms": 900}))
            .unwrap();
        rig.created("r1");
        rig.now += Duration::from_millis(420);
        rig.audio("a", "AAAA");
        rig.audio("b", "AAAA");
        assert_eq!(
            rig.stats.last_response_latency_ms.load(Ordering::Relaxed),
            420
        );
        rig.done("r1");
        assert_eq!(rig.player.ended, ["a", "b"]);
        let done: Vec<Value> = rig
            .events()
            .into_iter()
            .filter(|e| e["type"] == "response_done")
            .collect();
        assert_eq!(done[0]["status"], "completed");
    }

    #[test]
    fn transcripts_become_host_events() {
        let mut rig = Rig::new();
        rig.server(json!({"type": "conversation.item.input_audio_transcription.completed", "item_id": "u1", "content_index": 0, "transcript": "hi there"}))
            .unwrap();
        rig.server(json!({"type": "response.output_audio_transcript.delta", "response_id": "r1", "item_id": "a1", "output_index": 0, "content_index": 0, "delta": "Hel"}))
            .unwrap();
        let ev = rig.events();
        assert_eq!(ev[0]["type"], "user_transcript");
        assert_eq!(ev[0]["text"], "hi there");
        assert_eq!(ev[0]["final"], true);
        assert_eq!(ev[1]["type"], "assistant_transcript");
        assert_eq!(ev[1]["delta"], "Hel");
    }

    #[test]
    fn server_events_are_forwarded_only_when_asked_and_never_audio() {
        let mut rig = Rig::with(
            Settings {
                forward_server_events: true,
                ..settings()
            },
            false,
        );
        rig.created("r1");
        rig.audio("a", "AAAA");
        let fwd: Vec<Value> = rig
            .events()
            .into_iter()
            .filter(|e| e["type"] == "server_event")
            .collect();
        assert_eq!(fwd.len(), 1);
        assert_eq!(fwd[0]["event"]["type"], "response.created");
        let mut quiet = Rig::new();
        quiet.created("r1");
        assert!(quiet.events().iter().all(|e| e["type"] != "server_event"));
    }

    #[test]
    fn host_events_images_and_deletions_go_out_as_asked_without_a_response() {
        let mut rig = Rig::new();
        rig.host(Command::SendEvent(
            json!({"type": "output_audio_buffer.clear", "event_id": "mine"}),
        ))
        .unwrap();
        rig.host(Command::SendImage {
            mime_type: "image/png".into(),
            base64: "iVBORw0KGgo=".into(),
            text: Some("look".into()),
        })
        .unwrap();
        rig.host(Command::DeleteItem("item_7".into())).unwrap();
        let sent = rig.sent();
        assert_eq!(
            sent[0],
            json!({"type": "output_audio_buffer.clear", "event_id": "mine"}),
            "verbatim"
        );
        assert_eq!(sent[1]["item"]["content"][1]["type"], "input_image");
        assert_eq!(sent[2]["type"], "conversation.item.delete");
        assert_eq!(sent[2]["item_id"], "item_7");
        assert_eq!(sent.len(), 3, "no response.create");
    }

    #[test]
    fn items_timeouts_and_rate_limits_become_host_events() {
        let mut rig = Rig::new();
        let item = json!({"id": "item_1", "type": "message", "role": "user", "status": "completed", "content": []});
        rig.server(
            json!({"type": "conversation.item.added", "previous_item_id": null, "item": item}),
        )
        .unwrap();
        rig.server(json!({"type": "conversation.item.done", "item": item}))
            .unwrap();
        rig.server(json!({"type": "conversation.item.truncated", "item_id": "item_2", "content_index": 0, "audio_end_ms": 900}))
            .unwrap();
        rig.server(json!({"type": "conversation.item.deleted", "item_id": "item_1"}))
            .unwrap();
        rig.server(json!({"type": "input_audio_buffer.timeout_triggered", "item_id": "item_3", "audio_start_ms": 0, "audio_end_ms": 5000}))
            .unwrap();
        let limits =
            json!([{"name": "requests", "limit": 100, "remaining": 99, "reset_seconds": 1.5}]);
        rig.server(json!({"type": "rate_limits.updated", "rate_limits": limits}))
            .unwrap();
        let ev = rig.events();
        let items: Vec<(&str, &str)> = ev
            .iter()
            .filter(|e| e["type"] == "conversation_item")
            .map(|e| {
                (
                    e["item_id"].as_str().unwrap(),
                    e["status"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            items,
            [
                ("item_1", "added"),
                ("item_1", "done"),
                ("item_2", "truncated"),
                ("item_1", "deleted")
            ]
        );
        assert_eq!(ev[0]["role"], "user");
        assert_eq!(ev[0]["kind"], "message");
        let timeout = ev.iter().find(|e| e["type"] == "input_timeout").unwrap();
        assert_eq!(timeout["item_id"], "item_3");
        let rl = ev.iter().find(|e| e["type"] == "rate_limits").unwrap();
        assert_eq!(rl["limits"], limits);
    }

    #[test]
    fn beta_session_updates_carry_no_type_and_ga_ones_do() {
        let mut ga = Rig::new();
        ga.host(Command::UpdateSession(json!({"instructions": "x"})))
            .unwrap();
        assert_eq!(ga.sent()[0]["session"]["type"], "realtime");
        let mut beta = Rig::with(
            Settings {
                flavor: ProtocolFlavor::Beta,
                ..settings()
            },
            false,
        );
        beta.host(Command::UpdateSession(json!({"instructions": "x"})))
            .unwrap();
        assert!(beta.sent()[0]["session"].get("type").is_none());
    }

    /// The first connection's talk: a spoken turn, an answer, a tool call and its output,
    /// a typed turn. Returns the history it kept.
    fn first_connection_history() -> History {
        let mut rig = Rig::new();
        rig.server(json!({"type": "session.created", "session": {"id": "sess_1"}}))
            .unwrap();
        let items = [
            json!({"id": "u1", "type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": null}]}),
            json!({"id": "a1", "type": "message", "role": "assistant", "content": []}),
            json!({"id": "fc1", "type": "function_call", "call_id": "c1", "name": "move", "arguments": "{\"dx\":1}"}),
            json!({"id": "fo1", "type": "function_call_output", "call_id": "c1", "output": "moved"}),
            json!({"id": "u2", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "thanks"}]}),
        ];
        rig.server(json!({"type": "conversation.item.added", "item": items[0]}))
            .unwrap();
        rig.server(json!({"type": "conversation.item.input_audio_transcription.completed", "item_id": "u1", "content_index": 0, "transcript": "move the cube"}))
            .unwrap();
        rig.server(json!({"type": "conversation.item.added", "item": items[1]}))
            .unwrap();
        rig.server(json!({"type": "response.output_audio_transcript.delta", "response_id": "r1", "item_id": "a1", "output_index": 0, "content_index": 0, "delta": "Moving it."}))
            .unwrap();
        for item in &items[2..] {
            rig.server(json!({"type": "conversation.item.added", "item": item}))
                .unwrap();
        }
        assert_eq!(rig.conv.history().len(), 5);
        rig.conv.into_history()
    }

    #[test]
    fn a_new_server_session_gets_the_history_in_order_before_any_new_audio() {
        let mut rig = Rig::with_history(settings(), true, first_connection_history());
        rig.conv.start(&json!({"type": "realtime"}));
        rig.out.extend(rig.conv.drain());
        assert_eq!(rig.sent_types(), ["session.update"]);
        // The host talks and types before the new session exists: nothing goes yet.
        rig.host(chunk(2400)).unwrap();
        rig.host(Command::SendText("and now?".into())).unwrap();
        assert!(rig.sent().is_empty(), "held until the history is back");
        rig.server(json!({"type": "session.created", "session": {"id": "sess_2"}}))
            .unwrap();
        let sent = rig.sent();
        let types: Vec<&str> = sent.iter().map(|v| v["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            [
                "conversation.item.create",
                "conversation.item.create",
                "conversation.item.create",
                "conversation.item.create",
                "conversation.item.create",
                "input_audio_buffer.append",
                "conversation.item.create",
                "response.create"
            ]
        );
        let ids: Vec<&str> = sent[..5]
            .iter()
            .map(|v| v["item"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["u1", "a1", "fc1", "fo1", "u2"], "in order, old ids");
        assert_eq!(
            sent[0]["item"]["content"][0],
            json!({"type": "input_text", "text": "move the cube"}),
            "speech as its transcript"
        );
        assert_eq!(
            sent[1]["item"]["content"][0],
            json!({"type": "output_text", "text": "Moving it."})
        );
        assert_eq!(sent[2]["item"]["call_id"], "c1");
        assert_eq!(sent[3]["item"]["output"], "moved");
        assert_eq!(sent[6]["item"]["content"][0]["text"], "and now?");
        let restored: Vec<Value> = rig
            .events()
            .into_iter()
            .filter(|e| e["type"] == "history_restored")
            .collect();
        assert_eq!(restored, [json!({"type": "history_restored", "items": 5})]);
        // The server's echo of the restored items does not duplicate them.
        rig.server(json!({"type": "conversation.item.added", "item": {"id": "u2", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "thanks"}]}}))
            .unwrap();
        assert_eq!(rig.conv.history().len(), 5);
    }

    #[test]
    fn the_same_server_session_again_or_no_history_restores_nothing() {
        let mut rig = Rig::with_history(settings(), true, first_connection_history());
        rig.host(chunk(2400)).unwrap();
        rig.server(json!({"type": "session.created", "session": {"id": "sess_1"}}))
            .unwrap();
        assert_eq!(rig.sent_types(), ["input_audio_buffer.append"]);
        assert!(rig.events().iter().all(|e| e["type"] != "history_restored"));
        // restore_history off: the worker keeps nothing, so nothing waits or is re-created.
        let mut off = Rig::with_history(settings(), true, History::new(0));
        off.host(chunk(2400)).unwrap();
        assert_eq!(off.sent_types(), ["input_audio_buffer.append"]);
        off.server(json!({"type": "session.created", "session": {"id": "sess_9"}}))
            .unwrap();
        assert!(off.sent().is_empty());
        assert!(off.events().iter().all(|e| e["type"] != "history_restored"));
    }

    #[test]
    fn a_close_while_the_history_waits_ends_at_once() {
        let mut rig = Rig::with_history(settings(), true, first_connection_history());
        rig.host(chunk(2400)).unwrap();
        assert_eq!(rig.host(Command::Close), Err(End::Closed));
    }

    #[test]
    fn held_commands_are_bounded() {
        let mut rig = Rig::with_history(settings(), true, first_connection_history());
        for _ in 0..MAX_HELD_COMMANDS + 10 {
            rig.host(chunk(480)).unwrap();
        }
        let warnings = rig
            .out
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    Output::Log {
                        level: "warning",
                        ..
                    }
                )
            })
            .count();
        assert_eq!(warnings, 1, "warned once");
        rig.server(json!({"type": "session.created", "session": {"id": "sess_2"}}))
            .unwrap();
        let appends = rig
            .sent_types()
            .into_iter()
            .filter(|t| t == "input_audio_buffer.append")
            .count();
        assert_eq!(appends, MAX_HELD_COMMANDS);
    }

    #[test]
    fn an_interrupted_answer_is_kept_only_as_far_as_it_was_heard() {
        let mut rig = Rig::new();
        rig.server(json!({"type": "session.created", "session": {"id": "sess_1"}}))
            .unwrap();
        rig.created("r1");
        rig.server(json!({"type": "conversation.item.added", "item": {"id": "a1", "type": "message", "role": "assistant", "content": []}}))
            .unwrap();
        rig.server(json!({"type": "response.output_audio_transcript.delta", "response_id": "r1", "item_id": "a1", "output_index": 0, "content_index": 0, "delta": "one two three four"}))
            .unwrap();
        // 2400 samples (the fake decodes one per character): 100 ms received, 50 heard.
        rig.audio("a1", &"A".repeat(2400));
        rig.player.playing = Some(("a1".into(), 50));
        rig.server(json!({"type": "input_audio_buffer.speech_started", "item_id": "u2", "audio_start_ms": 0}))
            .unwrap();
        // The rest of the transcript and the server's final view change nothing.
        rig.server(json!({"type": "response.output_audio_transcript.done", "response_id": "r1", "item_id": "a1", "output_index": 0, "content_index": 0, "transcript": "one two three four five six"}))
            .unwrap();
        rig.server(json!({"type": "conversation.item.done", "item": {"id": "a1", "type": "message", "role": "assistant", "status": "incomplete", "content": [{"type": "output_audio", "transcript": "one two three four five six"}]}}))
            .unwrap();
        let items = rig.conv.history().restore_items(ProtocolFlavor::Ga);
        assert_eq!(items[0]["content"][0]["text"], "one two");
    }

    #[test]
    fn a_retrieved_item_completes_the_history_quietly_and_is_re_created_so() {
        let mut rig = Rig::new();
        rig.server(json!({"type": "session.created", "session": {"id": "sess_1"}}))
            .unwrap();
        rig.server(json!({"type": "conversation.item.added", "item": {"id": "u1", "type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": null}]}}))
            .unwrap();
        rig.server(json!({"type": "conversation.item.added", "item": {"id": "a1", "type": "message", "role": "assistant", "content": []}}))
            .unwrap();
        rig.server(json!({"type": "response.output_audio_transcript.delta", "response_id": "r1", "item_id": "a1", "output_index": 0, "content_index": 0, "delta": "Hel"}))
            .unwrap();
        let before = rig.events().len();
        rig.sent();
        rig.server(json!({"type": "conversation.item.retrieved", "event_id": "e1", "item": {"id": "u1", "object": "realtime.item", "type": "message", "status": "completed", "role": "user", "content": [{"type": "input_audio", "transcript": "hi there"}]}}))
            .unwrap();
        rig.server(json!({"type": "conversation.item.retrieved", "event_id": "e2", "item": {"id": "a1", "object": "realtime.item", "type": "message", "status": "completed", "role": "assistant", "content": [{"type": "output_audio", "transcript": "Hello!"}]}}))
            .unwrap();
        rig.server(json!({"type": "conversation.item.retrieved", "event_id": "e3", "item": {"id": "gone", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "?"}]}}))
            .unwrap();
        assert!(rig.sent().is_empty(), "nothing goes out");
        assert_eq!(
            rig.events().len(),
            before,
            "no host event (forwarded raw when asked)"
        );
        // The next server session is given the whole turns, in their order.
        rig.server(json!({"type": "session.created", "session": {"id": "sess_2"}}))
            .unwrap();
        let restored: Vec<Value> = rig
            .sent()
            .into_iter()
            .filter(|e| e["type"] == "conversation.item.create")
            .map(|e| e["item"].clone())
            .collect();
        assert_eq!(restored.len(), 2);
        assert_eq!(restored[0]["id"], "u1");
        assert_eq!(restored[0]["content"][0]["text"], "hi there");
        assert_eq!(restored[1]["id"], "a1");
        assert_eq!(restored[1]["content"][0]["text"], "Hello!");
    }

    #[test]
    fn deleted_items_leave_the_history_and_images_stay_as_sent() {
        let mut rig = Rig::new();
        rig.host(Command::SendImage {
            mime_type: "image/jpeg".into(),
            base64: "/9j/AAAA".into(),
            text: Some("this".into()),
        })
        .unwrap();
        let sent = rig.sent();
        let id = sent[0]["item"]["id"].as_str().unwrap().to_string();
        // The server echoes the image without its bytes.
        rig.server(json!({"type": "conversation.item.added", "item": {"id": id, "type": "message", "role": "user", "content": [{"type": "input_text", "text": "this"}, {"type": "input_image"}]}}))
            .unwrap();
        for (item_id, text) in [("u1", "a"), ("u2", "b")] {
            rig.server(json!({"type": "conversation.item.added", "item": {"id": item_id, "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}))
                .unwrap();
        }
        let items = rig.conv.history().restore_items(ProtocolFlavor::Ga);
        assert_eq!(
            items[0]["content"][1]["image_url"],
            "data:image/jpeg;base64,/9j/AAAA"
        );
        rig.host(Command::DeleteItem("u1".into())).unwrap();
        rig.server(json!({"type": "conversation.item.deleted", "item_id": id}))
            .unwrap();
        let ids: Vec<&str> = rig.conv.history().turns().map(|(id, _)| id).collect();
        assert_eq!(ids, ["u2"]);
    }

    #[test]
    fn out_of_band_requests_queue_and_their_metadata_tells_the_events_apart() {
        let mut rig = Rig::new();
        let oob = |tag: &str| {
            Command::CreateResponse(Some(
                json!({"conversation": "none", "metadata": {"topic": tag},
                "output_modalities": ["text"], "instructions": "classify"}),
            ))
        };
        rig.host(oob("a")).unwrap();
        rig.host(oob("b")).unwrap();
        let sent = rig.sent();
        assert_eq!(sent.len(), 1, "the second waits");
        assert_eq!(sent[0]["response"]["metadata"]["topic"], "a");
        assert_eq!(sent[0]["response"]["conversation"], "none");
        rig.server(json!({"type": "response.created", "response": {"id": "r_a", "conversation_id": null, "metadata": {"topic": "a"}}}))
            .unwrap();
        rig.server(json!({"type": "response.output_text.delta", "response_id": "r_a", "item_id": "x", "output_index": 0, "content_index": 0, "delta": "yes"}))
            .unwrap();
        rig.server(json!({"type": "response.done", "response": {"id": "r_a", "status": "completed", "output": [], "metadata": {"topic": "a"}}}))
            .unwrap();
        let sent = rig.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0]["response"]["metadata"]["topic"], "b",
            "queued, not overwritten"
        );
        let ev = rig.events();
        let started = ev.iter().find(|e| e["type"] == "response_started").unwrap();
        assert_eq!(started["metadata"], json!({"topic": "a"}));
        let delta = ev
            .iter()
            .find(|e| e["type"] == "assistant_transcript")
            .unwrap();
        assert_eq!(delta["response_id"], "r_a");
        let done = ev.iter().find(|e| e["type"] == "response_done").unwrap();
        assert_eq!(done["response_id"], "r_a");
        assert_eq!(done["metadata"], json!({"topic": "a"}));
        // A response without metadata has none in its events.
        rig.created("r2");
        rig.done("r2");
        let plain: Vec<Value> = rig
            .events()
            .into_iter()
            .filter(|e| e["response_id"] == "r2")
            .collect();
        assert_eq!(plain.len(), 2);
        assert!(plain.iter().all(|e| e.get("metadata").is_none()));
        // The out-of-band item never joined the conversation, so history has none of it.
        assert!(rig.conv.history().is_empty());
    }

    #[test]
    fn conversation_items_carry_their_text() {
        let mut rig = Rig::new();
        rig.server(json!({"type": "conversation.item.done", "item": {"id": "a1", "type": "message", "role": "assistant",
            "content": [{"type": "output_audio", "transcript": "Hello there"}]}}))
            .unwrap();
        rig.server(json!({"type": "conversation.item.added", "item": {"id": "u1", "type": "message", "role": "user",
            "content": [{"type": "input_audio", "transcript": null}]}}))
            .unwrap();
        let ev = rig.events();
        assert_eq!(ev[0]["text"], "Hello there");
        assert!(ev[1].get("text").is_none(), "no words yet: no text");
    }

    #[test]
    fn failed_mcp_tools_are_warned_about() {
        let mut rig = Rig::new();
        rig.server(json!({"type": "mcp_list_tools.failed", "event_id": "e", "item_id": "m1"}))
            .unwrap();
        rig.server(json!({"type": "response.mcp_call.failed", "event_id": "e", "item_id": "m2", "output_index": 0}))
            .unwrap();
        rig.server(json!({"type": "response.mcp_call.completed", "event_id": "e", "item_id": "m2", "output_index": 0}))
            .unwrap();
        let warnings: Vec<&String> = rig
            .out
            .iter()
            .filter_map(|o| match o {
                Output::Log {
                    level: "warning",
                    message,
                } => Some(message),
                _ => None,
            })
            .collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[1].contains("response.mcp_call.failed"));
    }

    /// One valid sample of every server event of the SDK's union (the fixture the
    /// conformance test checks against the SDK's models).
    const SDK_SERVER_SAMPLES: &str = include_str!("../../tests/fixtures/server_events_ga.jsonl");

    #[test]
    fn every_server_event_of_the_sdk_is_parsed_and_forwarded_when_asked() {
        let mut rig = Rig::with(
            Settings {
                forward_server_events: true,
                ..settings()
            },
            false,
        );
        let mut types = Vec::new();
        for line in SDK_SERVER_SAMPLES.lines().filter(|l| !l.trim().is_empty()) {
            let sample: Value = serde_json::from_str(line).unwrap();
            let kind = sample["type"].as_str().unwrap().to_string();
            let parsed = server::parse_server_event(line)
                .unwrap_or_else(|e| panic!("{kind} does not parse: {e}"));
            assert_eq!(
                matches!(parsed, ServerEvent::Other { .. }),
                !KNOWN.contains(&kind.as_str()),
                "{kind}: acted on exactly when the conversation knows it"
            );
            // Fatal errors end the connection; the audit goes on with the next sample.
            let _ = rig.server(sample.clone());
            if kind != "response.output_audio.delta" {
                let forwarded = rig
                    .events()
                    .into_iter()
                    .filter(|e| e["type"] == "server_event" && e["event"]["type"] == kind.as_str())
                    .count();
                assert!(forwarded >= 1, "{kind} was not forwarded");
            }
            types.push(kind);
        }
        types.sort();
        types.dedup();
        assert!(types.len() >= 46, "{} types sampled", types.len());
        assert_eq!(rig.stats.malformed_events.load(Ordering::Relaxed), 0);
        assert!(rig
            .errors()
            .iter()
            .all(|(code, _)| code != "malformed_server_event" && code != "malformed_audio"));
    }

    /// The server events the conversation acts on (everything else is `Other`).
    const KNOWN: &[&str] = &[
        "session.created",
        "session.updated",
        "error",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "input_audio_buffer.timeout_triggered",
        "conversation.item.added",
        "conversation.item.created",
        "conversation.item.done",
        "conversation.item.retrieved",
        "conversation.item.truncated",
        "conversation.item.deleted",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
        "response.created",
        "response.output_item.added",
        "response.output_item.done",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.done",
        "response.output_text.delta",
        "response.output_text.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.done",
        "rate_limits.updated",
    ];
}
