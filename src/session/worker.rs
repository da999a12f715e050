//! The session's worker thread: the I/O around the [`Conversation`]. It dials
//! ([`dial`]), runs the WebSocket, reconnects with backoff, feeds playback, and carries
//! out what the conversation asks for (client events to send, host events, tool calls).
//!
//! One thread owns the socket and sleeps on the session's `mio` poll until the socket is
//! readable or writable, the host queued a command (a send wakes the poll when the worker
//! sleeps; see [`super::doorbell`]), or a timer is due: playback pacing while model audio is held, the half-duplex tail, the
//! keepalive ping and dead-connection check, the reconnect backoff. An idle ready
//! session wakes for its keepalive only. Readiness is edge-triggered, so every wake-up
//! reads until `WouldBlock` (or sets a zero timeout when it stopped early); partial
//! frames stay in tungstenite's buffer across `WouldBlock` until the rest arrives.

use super::conversation::{Conversation, End, Env, Output, Settings};
use super::dial::{self, DialError, Readiness, Socket};
use super::doorbell::Doorbell;
use super::events::SessionState;
use super::history::History;
use super::{Command, SessionShared};
use crate::audio::playback::PlaybackProducer;
use crate::config::SessionConfig;
use crate::protocol::client;
use crossbeam_channel::{Receiver, TryRecvError};
use serde_json::Value;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::Message;

/// How often held model audio is moved into the playback ring while it plays (the ring
/// holds the prebuffer plus 60 ms, so this keeps it well ahead of the device).
pub const PUMP_INTERVAL: Duration = Duration::from_millis(10);
/// Commands handled per loop turn before the socket is read again.
const COMMANDS_PER_TURN: usize = 64;
/// Server messages handled per loop turn before commands are looked at again.
const MESSAGES_PER_TURN: usize = 256;
/// How long a graceful close waits for the server's close frame.
const CLOSE_GRACE: Duration = Duration::from_millis(300);

struct Worker {
    shared: Arc<SessionShared>,
    config: SessionConfig,
    producer: PlaybackProducer,
    cmd_rx: Receiver<Command>,
    ready: Readiness,
    /// Raised while the worker sleeps between commands, so that senders ring only then.
    bell: Arc<Doorbell>,
    rng: u64,
    last_playback_active: Option<Instant>,
    ever_ready: bool,
    /// The conversation so far, handed from connection to connection.
    history: History,
}

/// Runs the session until it is closed or fails. Called on the worker thread.
pub fn run(
    shared: Arc<SessionShared>,
    config: SessionConfig,
    producer: PlaybackProducer,
    cmd_rx: Receiver<Command>,
    poll: mio::Poll,
    bell: Arc<Doorbell>,
) {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let mut worker = Worker {
        shared,
        config,
        producer,
        cmd_rx,
        ready: Readiness {
            poll,
            events: mio::Events::with_capacity(16),
        },
        bell,
        rng: seed | 1,
        last_playback_active: None,
        history: History::new(0),
        ever_ready: false,
    };
    // Nothing is kept when nothing would be restored.
    let kept = if worker.config.restore_history {
        worker.config.history_max_items as usize
    } else {
        0
    };
    worker.history = History::new(kept);
    worker.run();
}

fn is_would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

impl Worker {
    fn closing(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire)
    }

    fn run(&mut self) {
        let mut attempt: u32 = 0;
        loop {
            if self.closing() {
                self.shared.set_state(SessionState::Closed, None, None);
                return;
            }
            let dialled = dial::dial(
                &self.config,
                &self.shared.closing,
                &mut self.ready,
                &self.shared.stats.worker_wakeups,
            );
            let reason = match dialled {
                Ok(mut ws) => {
                    self.shared.tools.lock().reset();
                    let (end, was_ready) = self.serve(&mut ws);
                    self.deregister(&mut ws);
                    if was_ready {
                        attempt = 0;
                    }
                    match end {
                        End::Closed => {
                            self.shared.set_state(SessionState::Closed, None, None);
                            return;
                        }
                        End::Fatal(reason) => {
                            self.shared
                                .set_state(SessionState::Failed, None, Some(&reason));
                            return;
                        }
                        End::Dropped(reason) => reason,
                    }
                }
                Err(DialError::Fatal { code, message }) => {
                    self.shared.error(code, &message, true);
                    self.shared
                        .set_state(SessionState::Failed, None, Some(&message));
                    return;
                }
                Err(DialError::Retry(_)) if self.closing() => {
                    self.shared.set_state(SessionState::Closed, None, None);
                    return;
                }
                Err(DialError::Retry(message)) => {
                    self.shared.error("connect_failed", &message, false);
                    message
                }
            };
            attempt += 1;
            if attempt > self.config.reconnect.max_attempts {
                let msg = format!(
                    "gave up after {} reconnect attempt(s); last problem: {reason}",
                    self.config.reconnect.max_attempts
                );
                self.shared.error("reconnect_failed", &msg, true);
                self.shared
                    .set_state(SessionState::Failed, None, Some(&msg));
                return;
            }
            self.shared
                .set_state(SessionState::Reconnecting, Some(attempt), Some(&reason));
            let delay = self.backoff(attempt);
            if !self.wait_offline(delay) {
                self.shared.set_state(SessionState::Closed, None, None);
                return;
            }
            self.shared.set_state(SessionState::Connecting, None, None);
        }
    }

    /// Exponential backoff with "equal jitter": half fixed, half random.
    fn backoff(&mut self, attempt: u32) -> Duration {
        let r = &self.config.reconnect;
        let exp = u64::from(r.initial_backoff_ms).saturating_mul(1u64 << (attempt - 1).min(20));
        let capped = exp.min(u64::from(r.max_backoff_ms));
        // xorshift64: no crate needed for jitter.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let half = capped / 2;
        Duration::from_millis(half + self.rng % (half + 1))
    }

    /// Waits while disconnected: keeps playback fed, drops stale commands. Returns false
    /// when the host closed the session meanwhile.
    fn wait_offline(&mut self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        loop {
            if self.closing() {
                return false;
            }
            loop {
                match self.cmd_rx.try_recv() {
                    Ok(Command::Close) | Err(TryRecvError::Disconnected) => return false,
                    // Mic audio, commits and responses are meaningless to the next server
                    // session; session updates are already merged into the shared config.
                    Ok(_) => {}
                    Err(TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            let pump = self.pump_playback();
            let until = pump.map_or(deadline, |p| p.min(deadline));
            self.ready.wait(
                Some(until.saturating_duration_since(now)),
                &self.shared.stats.worker_wakeups,
            );
        }
    }

    /// Takes the socket off the poll before it is dropped.
    fn deregister(&mut self, ws: &mut Socket) {
        let registry = self.ready.poll.registry();
        let _ = match ws.get_mut() {
            MaybeTlsStream::Plain(s) => registry.deregister(s),
            MaybeTlsStream::NativeTls(s) => registry.deregister(s.get_mut()),
            _ => Ok(()),
        };
    }

    /// Defaults merged with the user's session object (and every runtime update).
    fn full_session(&self) -> Value {
        let mut session =
            client::default_session(self.config.protocol, self.config.input_sample_rate);
        client::merge_json(&mut session, &self.shared.user_session.lock());
        session
    }

    fn settings(&self) -> Settings {
        Settings {
            flavor: self.config.protocol,
            barge_in: self.config.barge_in,
            input_sample_rate: self.config.input_sample_rate,
            forward_server_events: self.config.forward_server_events,
        }
    }

    /// Runs one connection. Returns how it ended and whether it reached `ready`.
    fn serve(&mut self, ws: &mut Socket) -> (End, bool) {
        self.shared.set_state(SessionState::Connected, None, None);
        let history = std::mem::replace(&mut self.history, History::new(0));
        let mut conv = Conversation::new(self.settings(), self.ever_ready, history);
        conv.start(&self.full_session());
        let end = self.serve_loop(ws, &mut conv);
        if let End::Closed = end {
            self.close_gracefully(ws);
        }
        let ready = conv.is_ready();
        self.history = conv.into_history();
        (end, ready)
    }

    /// Carries out what the conversation asked for, in order.
    fn apply(&mut self, ws: &mut Socket, conv: &mut Conversation) -> Result<(), End> {
        let mut result = Ok(());
        for out in conv.drain() {
            match out {
                Output::Send(text) => {
                    if result.is_ok() {
                        result = write(ws, Message::text(text));
                    }
                }
                Output::Event(json) => {
                    self.shared.events.push(json);
                }
                Output::Error {
                    code,
                    message,
                    fatal,
                } => self.shared.error(&code, &message, fatal),
                Output::Log { level, message } => self.shared.log(level, &message),
                Output::ToolCall(json) => {
                    if !self.shared.tool_calls.push(json) {
                        self.shared.error(
                            "tool_queue_full",
                            "a tool call was dropped: the host is not polling tool calls",
                            false,
                        );
                    }
                }
                Output::Ready => {
                    self.ever_ready = true;
                    self.shared.set_state(SessionState::Ready, None, None);
                }
            }
        }
        result
    }

    fn on_command(
        &mut self,
        ws: &mut Socket,
        conv: &mut Conversation,
        cmd: Command,
    ) -> Result<(), End> {
        let decided = {
            let mut tools = self.shared.tools.lock();
            let mut env = Env {
                player: &mut self.producer,
                tools: &mut tools,
                stats: &self.shared.stats,
                now: Instant::now(),
            };
            conv.on_command(cmd, &mut env)
        };
        self.apply(ws, conv)?;
        decided
    }

    fn on_message(
        &mut self,
        ws: &mut Socket,
        conv: &mut Conversation,
        msg: Message,
    ) -> Result<(), End> {
        match msg {
            Message::Text(text) => {
                let decided = {
                    let mut tools = self.shared.tools.lock();
                    let mut env = Env {
                        player: &mut self.producer,
                        tools: &mut tools,
                        stats: &self.shared.stats,
                        now: Instant::now(),
                    };
                    conv.on_server_text(text.as_str(), &mut env)
                };
                self.apply(ws, conv)?;
                decided
            }
            Message::Binary(_) => {
                self.shared
                    .stats
                    .malformed_events
                    .fetch_add(1, Ordering::Relaxed);
                self.shared.error(
                    "malformed_server_event",
                    "the server sent a binary frame; ignored",
                    false,
                );
                Ok(())
            }
            Message::Close(frame) => Err(End::Dropped(
                frame
                    .map(|f| {
                        format!(
                            "the server closed the connection ({} {})",
                            u16::from(f.code),
                            f.reason
                        )
                    })
                    .unwrap_or_else(|| "the server closed the connection".into()),
            )),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(()),
        }
    }

    fn serve_loop(&mut self, ws: &mut Socket, conv: &mut Conversation) -> End {
        if let Err(end) = self.apply(ws, conv) {
            return end;
        }
        let keepalive = Duration::from_millis(u64::from(self.config.keepalive_ms));
        let mut last_rx = Instant::now();
        let mut last_ping = Instant::now();
        loop {
            if self.closing() {
                return End::Closed;
            }
            // 1. Commands (each send woke us).
            let mut more = false;
            for handled in 0.. {
                if handled == COMMANDS_PER_TURN {
                    more = true; // the rest next turn, after the socket had its turn
                    break;
                }
                match self.cmd_rx.try_recv() {
                    Ok(cmd) => {
                        if let Err(end) = self.on_command(ws, conv, cmd) {
                            return end;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return End::Closed,
                }
            }
            if let Err(end) = flush(ws) {
                return end;
            }
            // 2. Server messages, until the socket would block (edge-triggered readiness).
            let mut drained = false;
            for _ in 0..MESSAGES_PER_TURN {
                match ws.read() {
                    Ok(msg) => {
                        last_rx = Instant::now();
                        if let Err(end) = self.on_message(ws, conv, msg) {
                            return end;
                        }
                    }
                    Err(e) => {
                        if let Some(end) = self.read_failed(e) {
                            return end;
                        }
                        drained = true;
                        break;
                    }
                }
            }
            more |= !drained;
            // 3. Playback, half duplex, stats.
            let pump_at = self.pump_playback();
            // 4. Keepalive: our pings, and a dead-connection check.
            let now = Instant::now();
            let dead_at = last_rx + keepalive * 3;
            if now > dead_at {
                return End::Dropped(format!(
                    "no data from the server for {} ms",
                    now.duration_since(last_rx).as_millis()
                ));
            }
            if now >= last_ping + keepalive {
                last_ping = now;
                if let Err(end) = write(ws, Message::Ping(Vec::new().into())) {
                    return end;
                }
            }
            if let Err(end) = flush(ws) {
                return end;
            }
            // 5. Sleep until something happens or the next timer is due.
            let mut due = (last_ping + keepalive).min(dead_at + Duration::from_millis(1));
            if let Some(p) = pump_at {
                due = due.min(p);
            }
            let timeout = if more {
                Duration::ZERO
            } else {
                due.saturating_duration_since(Instant::now())
            };
            // Senders ring only while the flag is up; a command queued before it went up
            // is seen here and the worker does not sleep on it.
            let cmd_rx = &self.cmd_rx;
            self.ready.park(
                &self.bell,
                timeout,
                &self.shared.stats.worker_wakeups,
                || !cmd_rx.is_empty(),
            );
        }
    }

    /// What a failed read means: `None` to wait for more data, else how the connection
    /// ends (an oversized frame is also reported).
    fn read_failed(&self, e: tungstenite::Error) -> Option<End> {
        match e {
            tungstenite::Error::Io(e) if is_would_block(&e) => None,
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                Some(End::Dropped("the server closed the connection".into()))
            }
            tungstenite::Error::Capacity(e) => {
                self.shared.error(
                    "oversized_frame",
                    &format!("the server sent an oversized message ({e})"),
                    false,
                );
                Some(End::Dropped(format!(
                    "oversized message from the server ({e})"
                )))
            }
            e => Some(End::Dropped(format!("connection lost: {e}"))),
        }
    }

    /// Sends a close frame and waits (at most [`CLOSE_GRACE`]) for the server's answer.
    fn close_gracefully(&mut self, ws: &mut Socket) {
        let _ = ws.close(None);
        let deadline = Instant::now() + CLOSE_GRACE;
        loop {
            let _ = ws.flush();
            match ws.read() {
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e)) if is_would_block(&e) => {}
                Err(_) => return,
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            self.ready
                .wait(Some(left), &self.shared.stats.worker_wakeups);
        }
    }

    /// Moves held model audio into the ring and mirrors the playback figures; returns
    /// when it next needs to run (playback pacing, or the end of the half-duplex tail).
    fn pump_playback(&mut self) -> Option<Instant> {
        self.producer.pump();
        let st = self.producer.stats();
        let stats = &self.shared.stats;
        stats
            .playback_frames_out
            .store(st.frames_out, Ordering::Relaxed);
        stats
            .playback_underruns
            .store(st.underruns, Ordering::Relaxed);
        stats
            .playback_buffered_ms
            .store(st.buffered_ms, Ordering::Relaxed);
        stats
            .playback_overflow_samples
            .store(st.overflow_samples, Ordering::Relaxed);
        let now = Instant::now();
        let active = self.producer.is_active();
        let mut next = active.then(|| now + PUMP_INTERVAL);
        if self.config.half_duplex {
            if active {
                self.last_playback_active = Some(now);
            }
            let tail = Duration::from_millis(u64::from(self.config.half_duplex_tail_ms));
            let gate_ends = self.last_playback_active.map(|t| t + tail);
            let gated = gate_ends.is_some_and(|end| now <= end);
            self.shared.mic_gated.store(gated, Ordering::Relaxed);
            if gated {
                let end = gate_ends.unwrap_or(now) + Duration::from_millis(1);
                next = Some(next.map_or(end, |n| n.min(end)));
            }
        }
        next
    }
}

fn write(ws: &mut Socket, msg: Message) -> Result<(), End> {
    match ws.write(msg) {
        Ok(()) => Ok(()),
        // Queued in tungstenite's buffer; flushed later.
        Err(tungstenite::Error::Io(e)) if is_would_block(&e) => Ok(()),
        Err(tungstenite::Error::WriteBufferFull(_)) => Err(End::Dropped(
            "the server stopped reading (outbound buffer full)".into(),
        )),
        Err(e) => Err(End::Dropped(format!("send failed: {e}"))),
    }
}

fn flush(ws: &mut Socket) -> Result<(), End> {
    match ws.flush() {
        Ok(()) => Ok(()),
        Err(tungstenite::Error::Io(e)) if is_would_block(&e) => Ok(()),
        Err(e) => Err(End::Dropped(format!("send failed: {e}"))),
    }
}
