//! One client connection: TLS and WebSocket handshakes, then the read/send loop that
//! drives a [`Session`], applies injected faults, pings and enforces the session limit.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use native_tls::TlsAcceptor;
use serde_json::Value;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Error as WsError, Message, WebSocket};

use crate::config::Fault;
use crate::handshake::{admit, error_response, header_list, Admission};
use crate::recorder::ServerShared;
use crate::session::{Outgoing, Session, Shape};

/// How long a read waits before the loop checks timers, faults and shutdown.
const POLL: Duration = Duration::from_millis(5);
/// Give up on a TLS or HTTP handshake that takes longer than this.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(5);
/// Largest client frame or message accepted (the API's limit is 15 MiB per event).
const MAX_CLIENT_MESSAGE: usize = 16 << 20;
/// Unsent data allowed to pile up for a client that does not read.
const MAX_WRITE_BACKLOG: usize = 64 << 20;

/// A plain or TLS socket.
pub enum Stream {
    /// `ws://`
    Plain(TcpStream),
    /// `wss://`
    Tls(Box<native_tls::TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

fn tls_accept(tcp: TcpStream, acceptor: &TlsAcceptor, shared: &ServerShared) -> Option<Stream> {
    let deadline = Instant::now() + HANDSHAKE_LIMIT;
    let mut attempt = acceptor.accept(tcp);
    loop {
        match attempt {
            Ok(s) => return Some(Stream::Tls(Box::new(s))),
            Err(native_tls::HandshakeError::WouldBlock(mid)) => {
                if shared.stopping() || Instant::now() > deadline {
                    return None;
                }
                attempt = mid.handshake();
            }
            Err(native_tls::HandshakeError::Failure(_)) => return None,
        }
    }
}

/// Serve one accepted TCP connection until it ends or the server stops.
pub fn serve(
    tcp: TcpStream,
    shared: Arc<ServerShared>,
    tls: Option<Arc<TlsAcceptor>>,
    index: usize,
) {
    let _ = tcp.set_nodelay(true);
    if tcp.set_read_timeout(Some(POLL)).is_err()
        || tcp
            .set_write_timeout(Some(Duration::from_millis(200)))
            .is_err()
    {
        return;
    }
    let stream = match tls {
        Some(acceptor) => match tls_accept(tcp, &acceptor, &shared) {
            Some(s) => s,
            None => return,
        },
        None => Stream::Plain(tcp),
    };
    let admission = RefCell::new(None);
    // The error type is tungstenite's `ErrorResponse`, fixed by its `Callback` trait.
    #[allow(clippy::result_large_err)]
    let callback = |req: &tungstenite::handshake::server::Request, resp| {
        shared.log.lock().headers.push(header_list(req));
        let decision = admit(req, &shared);
        let result = match &decision {
            Admission::Accept { .. } => Ok(resp),
            Admission::Reject { status, body } => Err(error_response(*status, body.clone())),
        };
        *admission.borrow_mut() = Some(decision);
        result
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_CLIENT_MESSAGE))
        .max_frame_size(Some(MAX_CLIENT_MESSAGE))
        .max_write_buffer_size(MAX_WRITE_BACKLOG)
        .write_buffer_size(0);
    let deadline = Instant::now() + HANDSHAKE_LIMIT;
    let mut attempt = tungstenite::accept_hdr_with_config(stream, callback, Some(config));
    let ws = loop {
        match attempt {
            Ok(ws) => break ws,
            Err(HandshakeError::Interrupted(mid)) => {
                if shared.stopping() || Instant::now() > deadline {
                    return;
                }
                attempt = mid.handshake();
            }
            Err(HandshakeError::Failure(_)) => return,
        }
    };
    let Some(Admission::Accept { model, beta }) = admission.into_inner() else {
        return;
    };
    shared.connections.fetch_add(1, Ordering::SeqCst);
    shared.log.lock().models.push(model.clone());
    let (fault_tx, fault_rx) = channel();
    shared.live.lock().push((index, fault_tx.clone()));
    for fault in shared.pending_faults.lock().drain(..) {
        let _ = fault_tx.send(fault);
    }
    let mut conn = Connection {
        session: Session::new(
            shared.clone(),
            &model,
            index as u64,
            if beta { Shape::Beta } else { Shape::Ga },
        ),
        ws,
        shared: shared.clone(),
        faults: fault_rx,
        closing: None,
        started: Instant::now(),
        last_ping: Instant::now(),
        expired: false,
    };
    if beta && !shared.config.allow_beta {
        conn.session.fail(
            "beta_api_shape_disabled",
            "The OpenAI-Beta: realtime=v1 header selects the beta API shape, which is disabled on this GA endpoint. Remove the header and use the GA session shape.",
            1008,
        );
    } else if shared.config.auth_error_after_upgrade {
        conn.session.fail(
            "invalid_api_key",
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            1008,
        );
    } else {
        conn.session.start();
    }
    conn.run();
    shared.live.lock().retain(|(i, _)| *i != index);
}

struct Connection {
    session: Session,
    ws: WebSocket<Stream>,
    shared: Arc<ServerShared>,
    faults: Receiver<Fault>,
    closing: Option<Instant>,
    started: Instant,
    last_ping: Instant,
    expired: bool,
}

/// What the loop does after a step.
enum Flow {
    Continue,
    End,
}

impl Connection {
    fn run(&mut self) {
        loop {
            if self.shared.stopping() {
                let _ = self.ws.close(Some(CloseFrame {
                    code: CloseCode::Away,
                    reason: "server shutting down".into(),
                }));
                let _ = self.ws.flush();
                return;
            }
            if let Flow::End = self.flush_session() {
                return;
            }
            if self.closing.is_none() {
                while let Ok(fault) = self.faults.try_recv() {
                    if let Flow::End = self.apply(fault) {
                        return;
                    }
                }
                self.timers();
            }
            if let Some(deadline) = self.closing {
                if Instant::now() > deadline {
                    return;
                }
            }
            match self.ws.read() {
                Ok(Message::Text(text)) => {
                    if self.closing.is_none() {
                        let parsed = serde_json::from_str::<Value>(text.as_str()).ok();
                        self.shared.record_received(text.as_str(), parsed.as_ref());
                        match parsed {
                            Some(event) => self.session.handle_event(&event, Instant::now()),
                            None => self.session.handle_text(text.as_str(), Instant::now()),
                        }
                    }
                }
                Ok(Message::Binary(_)) => {
                    if self.closing.is_none() {
                        self.session.error(
                            "invalid_request_error",
                            "Binary frames are not supported; send JSON text events.",
                            None,
                            None,
                        );
                    }
                }
                Ok(Message::Pong(_)) => {
                    self.shared.pongs.fetch_add(1, Ordering::SeqCst);
                }
                Ok(_) => {}
                Err(WsError::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
            if self.closing.is_none() {
                self.session.poll(Instant::now());
            }
        }
    }

    fn timers(&mut self) {
        let now = Instant::now();
        if let Some(every) = self.shared.config.ping_interval {
            if now.duration_since(self.last_ping) >= every {
                self.last_ping = now;
                let _ = self
                    .ws
                    .write(Message::Ping(tungstenite::Bytes::from_static(b"rv-mock")));
            }
        }
        if let Some(limit) = self.shared.config.max_session_duration {
            if !self.expired && now.duration_since(self.started) >= limit {
                self.expired = true;
                let minutes = limit.as_secs() / 60;
                self.session.fail(
                    "session_expired",
                    &format!("Your session hit the maximum duration of {minutes} minutes."),
                    1000,
                );
            }
        }
    }

    /// Send what the session produced; start closing if it asked to.
    fn flush_session(&mut self) -> Flow {
        for out in self.session.take_output() {
            match out {
                Outgoing::Event(event) => {
                    self.shared.record_sent(&event);
                    if let Flow::End = self.write(Message::text(event.to_string())) {
                        return Flow::End;
                    }
                }
                Outgoing::Close { code, reason } => self.start_close(code, &reason),
            }
        }
        match self.ws.flush() {
            Ok(()) => Flow::Continue,
            Err(WsError::Io(e))
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                Flow::Continue
            }
            Err(_) => Flow::End,
        }
    }

    fn write(&mut self, message: Message) -> Flow {
        match self.ws.write(message) {
            Ok(()) => Flow::Continue,
            Err(WsError::Io(e))
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                Flow::Continue
            }
            Err(_) => Flow::End,
        }
    }

    fn start_close(&mut self, code: u16, reason: &str) {
        if self.closing.is_some() {
            return;
        }
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_string().into(),
        };
        let _ = self.ws.close(Some(frame));
        let _ = self.ws.flush();
        self.closing = Some(Instant::now() + Duration::from_secs(1));
    }

    fn apply(&mut self, fault: Fault) -> Flow {
        match fault {
            Fault::DropConnection => {
                let _ = self.ws.get_ref().tcp().shutdown(Shutdown::Both);
                return Flow::End;
            }
            Fault::Garbage(text) => return self.write(Message::text(text)),
            Fault::OversizedFrame(bytes) => {
                let head = "{\"type\":\"oversized.padding\",\"padding\":\"";
                let text = if bytes > head.len() + 2 {
                    format!("{head}{}\"}}", "A".repeat(bytes - head.len() - 2))
                } else {
                    "A".repeat(bytes)
                };
                return self.write(Message::text(text));
            }
            Fault::Stall(duration) => {
                let began = Instant::now();
                while began.elapsed() < duration && !self.shared.stopping() {
                    thread::sleep(POLL.min(duration.saturating_sub(began.elapsed())));
                }
                // Response steps that fell due meanwhile go out in one burst afterwards,
                // as a real server's backlog would.
            }
            Fault::SendEvent(event) => {
                self.shared.record_sent(&event);
                return self.write(Message::text(event.to_string()));
            }
            Fault::Close { code, reason } => self.start_close(code, &reason),
        }
        Flow::Continue
    }
}
