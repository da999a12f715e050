//! The session's worker thread: dials, runs the WebSocket, reconnects, and turns server
//! events into playback, tool calls and host events.
//!
//! One thread owns the socket. After the handshake (done with blocking I/O and a
//! timeout, because a TLS handshake interrupted by a read timeout fails), the socket is
//! switched to non-blocking. The loop then waits on the command queue with a short
//! timeout ([`TICK`]): a mic chunk wakes it at once and is on the wire within
//! microseconds, and server data is read at most one tick after it arrives. Partial
//! frames stay in tungstenite's buffer across `WouldBlock` (and `TimedOut`, which some
//! platforms report instead) until the rest arrives.

use super::events::{self, SessionState};
use super::tools::ResultOutcome;
use super::{Command, Shared};
use crate::audio::playback::PlaybackProducer;
use crate::config::{parse_ws_url, Protocol, SessionConfig};
use crate::protocol::client::{self, ProtocolFlavor, VadSettings};
use crate::protocol::server::{self, ServerEvent};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use serde_json::Value;
use std::collections::VecDeque;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::{HeaderName, HeaderValue};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// Longest wait of the loop between socket reads and playback pumps.
pub const TICK: Duration = Duration::from_millis(2);
/// Largest server message accepted (a bigger one is a protocol fault: reconnect).
const MAX_MESSAGE_BYTES: usize = 16 << 20;
/// Outbound bytes buffered at most while the server does not read.
const MAX_WRITE_BUFFER_BYTES: usize = 8 << 20;
/// Commands handled per loop turn before the socket is read again.
const COMMANDS_PER_TURN: usize = 64;
/// Server messages handled per loop turn before commands are looked at again.
const MESSAGES_PER_TURN: usize = 256;
/// The server rejects a commit of less than this much new audio.
const MIN_COMMIT_MS: u64 = 100;
/// User-Agent sent in the upgrade request.
const USER_AGENT: &str = concat!("realtime-voice-unity/", env!("CARGO_PKG_VERSION"));

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Why dialling failed.
enum OpenError {
    /// Retrying cannot help (bad credentials, bad TLS trust configuration).
    Fatal { code: &'static str, message: String },
    /// A network problem or a server error: back off and retry.
    Retry(String),
}

/// How a connection ended.
enum ConnEnd {
    /// The host closed the session.
    Closed,
    /// Retrying cannot help; the error was already reported.
    Fatal(String),
    /// Lost: reconnect.
    Dropped(String),
}

/// Per-connection protocol state.
struct Conn {
    session_id: String,
    ready: bool,
    vad: VadSettings,
    response_active: bool,
    response_requested: bool,
    pending_response: Option<Option<Value>>,
    uncommitted_samples: u64,
    speech_stopped_at: Option<Instant>,
    interrupted_items: VecDeque<String>,
    audio_items: Vec<String>,
    last_rx: Instant,
    last_ping: Instant,
}

impl Conn {
    fn new(vad: VadSettings) -> Conn {
        Conn {
            session_id: String::new(),
            ready: false,
            vad,
            response_active: false,
            response_requested: false,
            pending_response: None,
            uncommitted_samples: 0,
            speech_stopped_at: None,
            interrupted_items: VecDeque::new(),
            audio_items: Vec::new(),
            last_rx: Instant::now(),
            last_ping: Instant::now(),
        }
    }

    fn mark_interrupted(&mut self, item_id: &str) {
        if self.interrupted_items.len() >= 32 {
            self.interrupted_items.pop_front();
        }
        self.interrupted_items.push_back(item_id.to_string());
    }

    fn is_interrupted(&self, item_id: &str) -> bool {
        self.interrupted_items.iter().any(|i| i == item_id)
    }
}

struct Worker {
    shared: Arc<Shared>,
    config: SessionConfig,
    flavor: ProtocolFlavor,
    producer: PlaybackProducer,
    cmd_rx: Receiver<Command>,
    rng: u64,
    last_playback_active: Option<Instant>,
    ever_ready: bool,
}

/// Runs the session until it is closed or fails. Called on the worker thread.
pub fn run(
    shared: Arc<Shared>,
    config: SessionConfig,
    producer: PlaybackProducer,
    cmd_rx: Receiver<Command>,
) {
    let seed = Instant::now().elapsed().as_nanos() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let flavor = match config.protocol {
        Protocol::Ga => ProtocolFlavor::Ga,
        Protocol::Beta => ProtocolFlavor::Beta,
    };
    let mut worker = Worker {
        shared,
        config,
        flavor,
        producer,
        cmd_rx,
        rng: seed | 1,
        last_playback_active: None,
        ever_ready: false,
    };
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
            let reason = match self.open() {
                Ok(mut ws) => {
                    self.shared.tools.lock().reset();
                    let (end, was_ready) = self.serve(&mut ws);
                    if was_ready {
                        attempt = 0;
                    }
                    match end {
                        ConnEnd::Closed => {
                            self.shared.set_state(SessionState::Closed, None, None);
                            return;
                        }
                        ConnEnd::Fatal(reason) => {
                            self.shared
                                .set_state(SessionState::Failed, None, Some(&reason));
                            return;
                        }
                        ConnEnd::Dropped(reason) => reason,
                    }
                }
                Err(OpenError::Fatal { code, message }) => {
                    self.shared.error(code, &message, true);
                    self.shared
                        .set_state(SessionState::Failed, None, Some(&message));
                    return;
                }
                Err(OpenError::Retry(_)) if self.closing() => {
                    self.shared.set_state(SessionState::Closed, None, None);
                    return;
                }
                Err(OpenError::Retry(message)) => {
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
        while Instant::now() < deadline {
            if self.closing() {
                return false;
            }
            match self.cmd_rx.recv_timeout(TICK.max(Duration::from_millis(5))) {
                Ok(Command::Close) => return false,
                // Mic audio, commits and responses are meaningless to the next server
                // session; session updates are already merged into the shared config.
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return false,
            }
            self.pump_playback();
        }
        true
    }

    fn open(&mut self) -> Result<Socket, OpenError> {
        let url = self.config.connect_url();
        let parts = parse_ws_url(&url).map_err(|e| OpenError::Fatal {
            code: "invalid_url",
            message: e.to_string(),
        })?;
        let timeout = Duration::from_millis(u64::from(self.config.connect_timeout_ms));
        let deadline = Instant::now() + timeout;
        let addrs: Vec<_> = (parts.host.as_str(), parts.port)
            .to_socket_addrs()
            .map_err(|e| OpenError::Retry(format!("cannot resolve {}: {e}", parts.host)))?
            .collect();
        let mut last_err = None;
        let mut tcp = None;
        for addr in addrs {
            if self.closing() {
                return Err(OpenError::Retry("closed while dialling".into()));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                break;
            }
            match TcpStream::connect_timeout(&addr, remaining) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let tcp = tcp.ok_or_else(|| {
            OpenError::Retry(format!(
                "cannot connect to {}:{}: {}",
                parts.host,
                parts.port,
                last_err
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "timed out".into())
            ))
        })?;
        if self.closing() {
            return Err(OpenError::Retry("closed while dialling".into()));
        }
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(50));
        let _ = tcp.set_nodelay(true);
        // Blocking I/O with a timeout for the whole handshake (TLS included).
        tcp.set_read_timeout(Some(remaining))
            .and_then(|_| tcp.set_write_timeout(Some(remaining)))
            .map_err(|e| OpenError::Retry(format!("socket setup failed: {e}")))?;
        let stream = if parts.tls {
            let mut builder = native_tls::TlsConnector::builder();
            if let Some(pem) = &self.config.ca_certificate_pem {
                let cert = native_tls::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                    OpenError::Fatal {
                        code: "tls_error",
                        message: format!("ca_certificate_pem is not a usable certificate: {e}"),
                    }
                })?;
                builder.add_root_certificate(cert);
            }
            let connector = builder.build().map_err(|e| OpenError::Fatal {
                code: "tls_error",
                message: format!("TLS setup failed: {e}"),
            })?;
            match connector.connect(&parts.host, tcp) {
                Ok(s) => MaybeTlsStream::NativeTls(s),
                Err(native_tls::HandshakeError::Failure(e)) => {
                    let msg = e.to_string();
                    // A certificate the platform does not trust will not become trusted by retrying.
                    if msg.contains("certificate") || msg.contains("verify") {
                        return Err(OpenError::Fatal {
                            code: "tls_error",
                            message: format!(
                                "TLS certificate verification failed for {}: {msg}",
                                parts.host
                            ),
                        });
                    }
                    return Err(OpenError::Retry(format!(
                        "TLS handshake with {} failed: {msg}",
                        parts.host
                    )));
                }
                Err(native_tls::HandshakeError::WouldBlock(_)) => {
                    return Err(OpenError::Retry(format!(
                        "TLS handshake with {} timed out",
                        parts.host
                    )));
                }
            }
        } else {
            MaybeTlsStream::Plain(tcp)
        };
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| OpenError::Fatal {
                code: "invalid_url",
                message: format!("invalid url: {e}"),
            })?;
        {
            let headers = request.headers_mut();
            let bad_header = |name: &str| OpenError::Fatal {
                code: "invalid_config",
                message: format!("header `{name}` has a value that cannot be sent"),
            };
            if let Some(secret) = self
                .config
                .api_key
                .as_ref()
                .or(self.config.client_secret.as_ref())
            {
                let v = HeaderValue::from_str(&format!("Bearer {secret}"))
                    .map_err(|_| bad_header("Authorization"))?;
                headers.insert(tungstenite::http::header::AUTHORIZATION, v);
            }
            for (k, v) in &self.config.headers {
                let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad_header(k))?;
                let value = HeaderValue::from_str(v).map_err(|_| bad_header(k))?;
                headers.insert(name, value);
            }
            headers.insert(
                tungstenite::http::header::USER_AGENT,
                HeaderValue::from_static(USER_AGENT),
            );
            if self.flavor == ProtocolFlavor::Beta {
                headers.insert("OpenAI-Beta", HeaderValue::from_static("realtime=v1"));
            }
        }
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES))
            .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES);
        match tungstenite::client::client_with_config(request, stream, Some(ws_config)) {
            Ok((ws, _response)) => {
                let tcp = match ws.get_ref() {
                    MaybeTlsStream::Plain(s) => s,
                    MaybeTlsStream::NativeTls(s) => s.get_ref(),
                    _ => {
                        return Err(OpenError::Fatal {
                            code: "internal",
                            message: "unexpected stream type".into(),
                        })
                    }
                };
                // Only now, after TLS and the upgrade: no timeouts, non-blocking reads.
                tcp.set_read_timeout(None)
                    .and_then(|_| tcp.set_write_timeout(None))
                    .and_then(|_| tcp.set_nonblocking(true))
                    .map_err(|e| OpenError::Retry(format!("socket setup failed: {e}")))?;
                Ok(ws)
            }
            Err(HandshakeError::Failure(tungstenite::Error::Http(response))) => {
                let status = response.status().as_u16();
                let detail = response
                    .body()
                    .as_deref()
                    .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                    .and_then(|v| {
                        v.pointer("/error/message")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .map(|m| format!(": {}", super::truncate_for_message(&m)))
                    .unwrap_or_default();
                if status == 401 || status == 403 {
                    Err(OpenError::Fatal {
                        code: "authentication_failed",
                        message: format!(
                            "the server rejected the credentials (HTTP {status}){detail}; check api_key / client_secret"
                        ),
                    })
                } else {
                    Err(OpenError::Retry(format!(
                        "the server refused the connection (HTTP {status}){detail}"
                    )))
                }
            }
            Err(HandshakeError::Failure(e)) => {
                Err(OpenError::Retry(format!("WebSocket handshake failed: {e}")))
            }
            Err(HandshakeError::Interrupted(_)) => {
                Err(OpenError::Retry("WebSocket handshake timed out".into()))
            }
        }
    }

    /// Runs one connection. Returns how it ended and whether it reached `ready`.
    fn serve(&mut self, ws: &mut Socket) -> (ConnEnd, bool) {
        self.shared.set_state(SessionState::Connected, None, None);
        let session = self.full_session();
        let mut conn = Conn::new(client::vad_settings(&session));
        let end = self.serve_loop(ws, &mut conn, session);
        if let ConnEnd::Closed = end {
            Self::close_gracefully(ws);
        }
        (end, conn.ready)
    }

    /// Defaults merged with the user's session object (and every runtime update).
    fn full_session(&self) -> Value {
        let mut session = client::default_session(self.flavor, self.config.input_sample_rate);
        client::merge_json(&mut session, &self.shared.user_session.lock());
        session
    }

    fn serve_loop(&mut self, ws: &mut Socket, conn: &mut Conn, session: Value) -> ConnEnd {
        if let Err(end) = Self::send(ws, client::session_update(self.flavor, &session)) {
            return end;
        }
        let keepalive = Duration::from_millis(u64::from(self.config.keepalive_ms));
        loop {
            if self.closing() {
                return ConnEnd::Closed;
            }
            // 1. Commands: wait at most one tick; a mic chunk wakes us at once.
            let mut handled = 0;
            let mut next = match self.cmd_rx.recv_timeout(TICK) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return ConnEnd::Closed,
            };
            while let Some(cmd) = next.take() {
                if let Some(end) = self.handle_command(ws, conn, cmd) {
                    return end;
                }
                handled += 1;
                if handled < COMMANDS_PER_TURN {
                    next = self.cmd_rx.try_recv().ok();
                }
            }
            if handled > 0 {
                if let Err(end) = Self::flush(ws) {
                    return end;
                }
            }
            // 2. Server messages, until the socket would block.
            for _ in 0..MESSAGES_PER_TURN {
                match ws.read() {
                    Ok(msg) => {
                        conn.last_rx = Instant::now();
                        if let Some(end) = self.handle_message(ws, conn, msg) {
                            return end;
                        }
                    }
                    Err(tungstenite::Error::Io(e)) if is_would_block(&e) => break,
                    Err(tungstenite::Error::ConnectionClosed)
                    | Err(tungstenite::Error::AlreadyClosed) => {
                        return ConnEnd::Dropped("the server closed the connection".into());
                    }
                    Err(tungstenite::Error::Capacity(e)) => {
                        self.shared.error(
                            "oversized_frame",
                            &format!("the server sent an oversized message ({e})"),
                            false,
                        );
                        return ConnEnd::Dropped(format!(
                            "oversized message from the server ({e})"
                        ));
                    }
                    Err(e) => return ConnEnd::Dropped(format!("connection lost: {e}")),
                }
            }
            // 3. Playback, half duplex, stats.
            self.pump_playback();
            // 4. Keepalive: our pings, and a dead-connection check.
            if conn.last_rx.elapsed() > keepalive * 3 {
                return ConnEnd::Dropped(format!(
                    "no data from the server for {} ms",
                    conn.last_rx.elapsed().as_millis()
                ));
            }
            if conn.last_ping.elapsed() >= keepalive {
                conn.last_ping = Instant::now();
                if let Err(end) = Self::write(ws, Message::Ping(Vec::new().into())) {
                    return end;
                }
            }
            if let Err(end) = Self::flush(ws) {
                return end;
            }
        }
    }

    fn close_gracefully(ws: &mut Socket) {
        let _ = ws.close(None);
        let deadline = Instant::now() + Duration::from_millis(300);
        while Instant::now() < deadline {
            match ws.read() {
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if is_would_block(&e) => {
                    let _ = ws.flush();
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(_) => break,
            }
        }
    }

    fn write(ws: &mut Socket, msg: Message) -> Result<(), ConnEnd> {
        match ws.write(msg) {
            Ok(()) => Ok(()),
            // Queued in tungstenite's buffer; flushed later.
            Err(tungstenite::Error::Io(e)) if is_would_block(&e) => Ok(()),
            Err(tungstenite::Error::WriteBufferFull(_)) => Err(ConnEnd::Dropped(
                "the server stopped reading (outbound buffer full)".into(),
            )),
            Err(e) => Err(ConnEnd::Dropped(format!("send failed: {e}"))),
        }
    }

    fn send(ws: &mut Socket, text: String) -> Result<(), ConnEnd> {
        Self::write(ws, Message::text(text))
    }

    fn flush(ws: &mut Socket) -> Result<(), ConnEnd> {
        match ws.flush() {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if is_would_block(&e) => Ok(()),
            Err(e) => Err(ConnEnd::Dropped(format!("send failed: {e}"))),
        }
    }

    fn pump_playback(&mut self) {
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
        if self.config.half_duplex {
            let now = Instant::now();
            if self.producer.is_active() {
                self.last_playback_active = Some(now);
            }
            let tail = Duration::from_millis(u64::from(self.config.half_duplex_tail_ms));
            let gated = self
                .last_playback_active
                .is_some_and(|t| now.duration_since(t) <= tail);
            self.shared.mic_gated.store(gated, Ordering::Relaxed);
        }
    }

    fn request_response(
        &mut self,
        ws: &mut Socket,
        conn: &mut Conn,
        params: Option<Value>,
    ) -> Result<(), ConnEnd> {
        if conn.response_active || conn.response_requested {
            // The server rejects a second response while one runs: send it after response.done.
            conn.pending_response = Some(params);
            return Ok(());
        }
        conn.response_requested = true;
        Self::send(
            ws,
            client::response_create_for(self.flavor, params.as_ref()),
        )
    }

    /// Stops local playback and truncates the playing item to what was heard.
    fn interrupt_playback(&mut self, ws: &mut Socket, conn: &mut Conn) -> Result<(), ConnEnd> {
        if !self.producer.is_active() {
            return Ok(());
        }
        if let Some(cut) = self.producer.interrupt() {
            conn.mark_interrupted(&cut.item_id);
            Self::send(
                ws,
                client::conversation_item_truncate(&cut.item_id, 0, u64::from(cut.played_ms)),
            )?;
            self.shared
                .events
                .push(events::audio_interrupted_event(&cut.item_id, cut.played_ms));
        }
        Ok(())
    }

    fn handle_command(
        &mut self,
        ws: &mut Socket,
        conn: &mut Conn,
        cmd: Command,
    ) -> Option<ConnEnd> {
        let result = match cmd {
            Command::Audio(chunk) => {
                conn.uncommitted_samples += chunk.samples as u64;
                self.shared
                    .stats
                    .audio_bytes_sent
                    .fetch_add(chunk.samples as u64 * 2, Ordering::Relaxed);
                Self::send(ws, client::input_audio_append(&chunk.base64))
            }
            Command::Commit => {
                let ms = conn.uncommitted_samples * 1000 / u64::from(self.config.input_sample_rate);
                if ms < MIN_COMMIT_MS {
                    self.shared.log(
                        "warning",
                        &format!("commit skipped: only {ms} ms of new audio since the last commit (the server needs at least {MIN_COMMIT_MS} ms)"),
                    );
                    Ok(())
                } else {
                    conn.uncommitted_samples = 0;
                    Self::send(ws, client::input_audio_commit())
                }
            }
            Command::Clear => {
                conn.uncommitted_samples = 0;
                Self::send(ws, client::input_audio_clear())
            }
            Command::CreateResponse(params) => self.request_response(ws, conn, params),
            Command::CancelResponse => {
                let r = self.interrupt_playback(ws, conn);
                if r.is_ok() && (conn.response_active || conn.response_requested) {
                    Self::send(ws, client::response_cancel(None))
                } else {
                    r
                }
            }
            Command::SendText(text) => Self::send(ws, client::user_text_message(&text))
                .and_then(|_| self.request_response(ws, conn, None)),
            Command::ToolResult { call_id, output } => {
                let outcome = self.shared.tools.lock().on_result(&call_id);
                match outcome {
                    Ok(o) => Self::send(ws, client::function_call_output(&call_id, &output))
                        .and_then(|_| {
                            if o == ResultOutcome::RespondNow {
                                self.request_response(ws, conn, None)
                            } else {
                                Ok(())
                            }
                        }),
                    Err(_) => {
                        self.shared.log(
                            "warning",
                            "a tool result for a call that is no longer open was dropped",
                        );
                        Ok(())
                    }
                }
            }
            Command::UpdateSession(mut partial) => {
                conn.vad = client::vad_settings(&self.full_session());
                if self.flavor == ProtocolFlavor::Ga {
                    if let Some(obj) = partial.as_object_mut() {
                        obj.entry("type").or_insert_with(|| Value::from("realtime"));
                    }
                }
                Self::send(ws, client::session_update(self.flavor, &partial))
            }
            Command::Close => return Some(ConnEnd::Closed),
        };
        result.err()
    }

    fn handle_message(
        &mut self,
        ws: &mut Socket,
        conn: &mut Conn,
        msg: Message,
    ) -> Option<ConnEnd> {
        match msg {
            Message::Text(text) => self.handle_server_text(ws, conn, text.as_str()),
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
                None
            }
            Message::Close(frame) => {
                let why = frame
                    .map(|f| {
                        format!(
                            "the server closed the connection ({} {})",
                            u16::from(f.code),
                            f.reason
                        )
                    })
                    .unwrap_or_else(|| "the server closed the connection".into());
                Some(ConnEnd::Dropped(why))
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
        }
    }

    fn handle_server_text(
        &mut self,
        ws: &mut Socket,
        conn: &mut Conn,
        text: &str,
    ) -> Option<ConnEnd> {
        let event = match server::parse_server_event(text) {
            Ok(e) => e,
            Err(e) => {
                self.shared
                    .stats
                    .malformed_events
                    .fetch_add(1, Ordering::Relaxed);
                self.shared
                    .error("malformed_server_event", &e.to_string(), false);
                return None;
            }
        };
        if self.config.forward_server_events && !matches!(event, ServerEvent::AudioDelta { .. }) {
            if let Ok(v) = serde_json::from_str::<Value>(text) {
                self.shared.events.push(events::server_event_event(v));
            }
        }
        self.handle_event(ws, conn, event).err()
    }

    fn handle_event(
        &mut self,
        ws: &mut Socket,
        conn: &mut Conn,
        event: ServerEvent,
    ) -> Result<(), ConnEnd> {
        let sh = Arc::clone(&self.shared);
        match event {
            ServerEvent::SessionCreated { session_id, .. } => {
                conn.session_id = session_id.unwrap_or_default()
            }
            ServerEvent::SessionUpdated { .. } if !conn.ready => {
                conn.ready = true;
                if self.ever_ready {
                    sh.stats.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                self.ever_ready = true;
                sh.set_state(SessionState::Ready, None, None);
                sh.events
                    .push(events::session_ready_event(&conn.session_id));
            }
            ServerEvent::Error(err) => {
                let fatal = err.is_fatal();
                let message = err.message;
                let code = err.code.unwrap_or_else(|| err.error_type.clone());
                if code == "session_expired" {
                    // The server's maximum session length: like a drop, reconnect.
                    sh.error(&code, &message, false);
                    return Err(ConnEnd::Dropped(format!("session expired: {message}")));
                }
                if fatal {
                    sh.error(&code, &message, true);
                    return Err(ConnEnd::Fatal(format!("{code}: {message}")));
                }
                if code == "conversation_already_has_active_response" {
                    conn.response_active = true;
                } else if conn.response_requested && !conn.response_active {
                    conn.response_requested = false;
                }
                sh.error(&code, &message, false);
            }
            ServerEvent::SpeechStarted {
                item_id,
                audio_start_ms,
            } => {
                sh.events
                    .push(events::speech_started_event(&item_id, audio_start_ms));
                conn.uncommitted_samples = 0;
                if self.config.barge_in {
                    self.interrupt_playback(ws, conn)?;
                }
            }
            ServerEvent::SpeechStopped {
                item_id,
                audio_end_ms,
            } => {
                conn.speech_stopped_at = Some(Instant::now());
                sh.events
                    .push(events::speech_stopped_event(&item_id, audio_end_ms));
            }
            ServerEvent::InputCommitted { .. } | ServerEvent::InputCleared => {
                conn.uncommitted_samples = 0
            }
            ServerEvent::InputTranscriptionDelta { item_id, delta } => {
                sh.events
                    .push(events::user_transcript_event(&item_id, &delta, false));
            }
            ServerEvent::InputTranscriptionCompleted {
                item_id,
                transcript,
            } => {
                sh.events
                    .push(events::user_transcript_event(&item_id, &transcript, true));
            }
            ServerEvent::InputTranscriptionFailed { message, .. } => {
                sh.error("transcription_failed", &message, false);
            }
            ServerEvent::ResponseCreated { response_id } => {
                conn.response_active = true;
                conn.response_requested = false;
                sh.stats.responses.fetch_add(1, Ordering::Relaxed);
                sh.events.push(events::response_started_event(&response_id));
            }
            ServerEvent::AudioDelta { item_id, delta, .. } => {
                if conn.is_interrupted(&item_id) {
                    return Ok(());
                }
                if !conn.audio_items.contains(&item_id) && conn.audio_items.len() < 64 {
                    conn.audio_items.push(item_id.clone());
                }
                match self.producer.push_base64(&item_id, &delta) {
                    Ok(samples) => {
                        sh.stats
                            .audio_bytes_received
                            .fetch_add(samples as u64 * 2, Ordering::Relaxed);
                        if let Some(t) = conn.speech_stopped_at.take() {
                            let ms = t.elapsed().as_millis().min(i32::MAX as u128) as i32;
                            sh.stats
                                .last_response_latency_ms
                                .store(ms, Ordering::Relaxed);
                        }
                        self.producer.pump();
                    }
                    Err(e) => {
                        sh.stats.malformed_events.fetch_add(1, Ordering::Relaxed);
                        sh.error(
                            "malformed_audio",
                            &format!("an audio delta was rejected: {e}"),
                            false,
                        );
                    }
                }
            }
            ServerEvent::AudioDone { item_id, .. } => self.producer.end_item(&item_id),
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
                sh.events.push(events::assistant_transcript_event(
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
                sh.events.push(events::assistant_transcript_event(
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
                self.deliver_tool_call(&response_id, &call_id, &name, &arguments);
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
                    );
                } else if let Some(id) = item.id.as_deref() {
                    self.producer.end_item(id);
                }
            }
            ServerEvent::ResponseDone {
                response_id,
                status,
                usage,
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
                    );
                }
                // A cancelled or failed response may never send its audio.done: release
                // the prebuffer of every item it played so the tail is heard.
                for id in conn.audio_items.drain(..) {
                    self.producer.end_item(&id);
                }
                conn.response_active = false;
                conn.response_requested = false;
                sh.events.push(events::response_done_event(
                    &response_id,
                    &status,
                    usage.as_ref(),
                ));
                let follow_up = sh.tools.lock().on_response_done(&response_id);
                if follow_up {
                    self.request_response(ws, conn, None)?;
                } else if let Some(params) = conn.pending_response.take() {
                    self.request_response(ws, conn, params)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn deliver_tool_call(&mut self, response_id: &str, call_id: &str, name: &str, arguments: &str) {
        let json = self
            .shared
            .tools
            .lock()
            .on_call(response_id, call_id, name, arguments);
        if let Some(json) = json {
            self.shared.stats.tool_calls.fetch_add(1, Ordering::Relaxed);
            if !self.shared.tool_calls.push(json) {
                self.shared.error(
                    "tool_queue_full",
                    "a tool call was dropped: the host is not polling tool calls",
                    false,
                );
            }
        }
    }
}
