//! Dialling the Realtime server: DNS, TCP, TLS, the WebSocket upgrade, and what the
//! HTTP status of a refused upgrade means (fatal: bad credentials or TLS trust; anything
//! else: back off and retry).
//!
//! Everything after DNS is non-blocking: the TCP connect, the TLS handshake and the
//! upgrade each step as far as the socket allows, then wait on the session's [`Poll`]
//! until the socket is ready, the deadline passes, or the host wakes the worker to close
//! (so a destroyed session never waits out a server that does not answer). Name
//! resolution is the one blocking step (the platform resolver cannot be interrupted; an
//! IP address or `localhost` resolves at once).

use crate::config::{parse_ws_url, ProtocolFlavor, SessionConfig};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use serde_json::Value;
use std::io;
use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::{HeaderName, HeaderValue};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::WebSocket;

/// Largest server message accepted (a bigger one is a protocol fault: reconnect).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
/// Outbound bytes buffered at most while the server does not read.
pub const MAX_WRITE_BUFFER_BYTES: usize = 8 << 20;
/// Bytes asked of the socket per read. tungstenite zeroes this much of its read buffer
/// before every read, including the read that only finds `WouldBlock` at the end of each
/// wake-up: at its 128 KiB default that zeroing was a seventh of a streaming worker's CPU.
/// A bigger message is still read whole, in several reads.
pub const READ_BUFFER_BYTES: usize = 16 << 10;
/// User-Agent sent in the upgrade request.
const USER_AGENT: &str = concat!("realtime-voice-unity/", env!("CARGO_PKG_VERSION"));

/// The socket's token in the session's [`Poll`].
pub const SOCKET: Token = Token(0);
/// The host's wake-ups (commands, close) in the session's [`Poll`].
pub const WAKE: Token = Token(1);

/// An upgraded connection to the server.
pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Why dialling failed.
#[derive(Debug)]
pub enum DialError {
    /// Retrying cannot help (bad credentials, bad TLS trust configuration, bad URL).
    Fatal {
        /// The `error` event's code.
        code: &'static str,
        /// What went wrong (no secret in it).
        message: String,
    },
    /// A network problem or a server error: back off and retry.
    Retry(String),
}

/// The session's readiness: its [`Poll`] (the socket and the host's waker are registered
/// on it), and the count of times the worker woke up.
pub struct Readiness {
    /// The poll the worker sleeps on.
    pub poll: Poll,
    /// Scratch for [`Poll::poll`].
    pub events: Events,
}

/// After a poll: counts the wake-up in `wakeups`; a poll that failed sleeps `failed_sleep`.
fn woke(result: io::Result<()>, failed_sleep: Duration, wakeups: &AtomicU64) {
    match result {
        Ok(()) => {}
        // EINTR: a signal; the caller looks at everything again anyway.
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
        // The poll itself failing leaves nothing to wait on: do not spin.
        Err(_) => std::thread::sleep(failed_sleep),
    }
    wakeups.fetch_add(1, Ordering::Relaxed);
}

impl Readiness {
    /// Sleeps until the socket or the waker is ready, or `timeout` passes; counts the
    /// wake-up in `wakeups`.
    pub fn wait(&mut self, timeout: Option<Duration>, wakeups: &AtomicU64) {
        let result = self.poll.poll(&mut self.events, timeout);
        woke(
            result,
            timeout.unwrap_or(Duration::from_millis(10)),
            wakeups,
        );
    }

    /// Sleeps like [`Readiness::wait`], with `bell`'s flag up (senders ring only then),
    /// unless `has_work` (looked at once the flag is up) says a command is queued.
    pub fn park(
        &mut self,
        bell: &super::doorbell::Doorbell,
        timeout: Duration,
        wakeups: &AtomicU64,
        has_work: impl FnOnce() -> bool,
    ) {
        let result = bell.park(&mut self.poll, &mut self.events, timeout, has_work);
        woke(
            result.map(|_| ()),
            timeout.min(Duration::from_millis(10)),
            wakeups,
        );
    }

    /// One wait of the dial: `Err` when the host is closing or the deadline passed.
    fn dial_wait(
        &mut self,
        deadline: Instant,
        closing: &AtomicBool,
        wakeups: &AtomicU64,
        what: &str,
    ) -> Result<(), DialError> {
        if closing.load(Ordering::Acquire) {
            return Err(DialError::Retry("closed while dialling".into()));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(DialError::Retry(format!("{what} timed out")));
        }
        self.wait(Some(left), wakeups);
        if closing.load(Ordering::Acquire) {
            return Err(DialError::Retry("closed while dialling".into()));
        }
        Ok(())
    }
}

/// Connects a non-blocking TCP socket to `addr`, registered on `ready` as [`SOCKET`].
fn connect_tcp(
    addr: std::net::SocketAddr,
    ready: &mut Readiness,
    deadline: Instant,
    closing: &AtomicBool,
    wakeups: &AtomicU64,
) -> Result<TcpStream, io::Error> {
    let mut tcp = TcpStream::connect(addr)?;
    ready
        .poll
        .registry()
        .register(&mut tcp, SOCKET, Interest::READABLE | Interest::WRITABLE)?;
    loop {
        if let Err(e) = ready.dial_wait(deadline, closing, wakeups, "connect") {
            let _ = ready.poll.registry().deregister(&mut tcp);
            let msg = match e {
                DialError::Retry(m) => m,
                DialError::Fatal { message, .. } => message,
            };
            return Err(io::Error::new(io::ErrorKind::TimedOut, msg));
        }
        // Writable means connected or failed: the pending error says which.
        if let Some(e) = tcp.take_error()? {
            let _ = ready.poll.registry().deregister(&mut tcp);
            return Err(e);
        }
        match tcp.peer_addr() {
            Ok(_) => return Ok(tcp),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => continue,
            Err(e) => {
                let _ = ready.poll.registry().deregister(&mut tcp);
                return Err(e);
            }
        }
    }
}

/// Dials `config`'s URL on `ready` (the socket is registered on it as [`SOCKET`]); gives
/// up (as a retry) as soon as `closing` is set and the worker is woken.
pub fn dial(
    config: &SessionConfig,
    closing: &AtomicBool,
    ready: &mut Readiness,
    wakeups: &AtomicU64,
) -> Result<Socket, DialError> {
    let url = config.connect_url();
    let parts = parse_ws_url(&url).map_err(|e| DialError::Fatal {
        code: "invalid_url",
        message: e.to_string(),
    })?;
    let timeout = Duration::from_millis(u64::from(config.connect_timeout_ms));
    let deadline = Instant::now() + timeout;
    let addrs: Vec<_> = (parts.host.as_str(), parts.port)
        .to_socket_addrs()
        .map_err(|e| DialError::Retry(format!("cannot resolve {}: {e}", parts.host)))?
        .collect();
    let mut last_err = None;
    let mut tcp = None;
    for addr in addrs {
        if closing.load(Ordering::Acquire) {
            return Err(DialError::Retry("closed while dialling".into()));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        match connect_tcp(addr, ready, deadline, closing, wakeups) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let tcp = tcp.ok_or_else(|| {
        DialError::Retry(format!(
            "cannot connect to {}:{}: {}",
            parts.host,
            parts.port,
            last_err
                .map(|e| e.to_string())
                .unwrap_or_else(|| "timed out".into())
        ))
    })?;
    if closing.load(Ordering::Acquire) {
        return Err(DialError::Retry("closed while dialling".into()));
    }
    let _ = tcp.set_nodelay(true);
    let stream = if parts.tls {
        let mut builder = native_tls::TlsConnector::builder();
        if let Some(pem) = &config.ca_certificate_pem {
            let cert = native_tls::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                DialError::Fatal {
                    code: "tls_error",
                    message: format!("ca_certificate_pem is not a usable certificate: {e}"),
                }
            })?;
            builder.add_root_certificate(cert);
        }
        let connector = builder.build().map_err(|e| DialError::Fatal {
            code: "tls_error",
            message: format!("TLS setup failed: {e}"),
        })?;
        let mut step = connector.connect(&parts.host, tcp);
        loop {
            match step {
                Ok(s) => break MaybeTlsStream::NativeTls(s),
                Err(native_tls::HandshakeError::WouldBlock(mid)) => {
                    let what = format!("TLS handshake with {}", parts.host);
                    ready.dial_wait(deadline, closing, wakeups, &what)?;
                    step = mid.handshake();
                }
                Err(native_tls::HandshakeError::Failure(e)) => {
                    let msg = e.to_string();
                    // A certificate the platform does not trust will not become trusted by retrying.
                    if msg.contains("certificate") || msg.contains("verify") {
                        return Err(DialError::Fatal {
                            code: "tls_error",
                            message: format!(
                                "TLS certificate verification failed for {}: {msg}",
                                parts.host
                            ),
                        });
                    }
                    return Err(DialError::Retry(format!(
                        "TLS handshake with {} failed: {msg}",
                        parts.host
                    )));
                }
            }
        }
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| DialError::Fatal {
            code: "invalid_url",
            message: format!("invalid url: {e}"),
        })?;
    {
        let headers = request.headers_mut();
        let bad_header = |name: &str| DialError::Fatal {
            code: "invalid_config",
            message: format!("header `{name}` has a value that cannot be sent"),
        };
        if let Some(secret) = config.api_key.as_ref().or(config.client_secret.as_ref()) {
            let v = HeaderValue::from_str(&format!("Bearer {secret}"))
                .map_err(|_| bad_header("Authorization"))?;
            headers.insert(tungstenite::http::header::AUTHORIZATION, v);
        }
        for (k, v) in &config.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad_header(k))?;
            let value = HeaderValue::from_str(v).map_err(|_| bad_header(k))?;
            headers.insert(name, value);
        }
        headers.insert(
            tungstenite::http::header::USER_AGENT,
            HeaderValue::from_static(USER_AGENT),
        );
        if config.protocol == ProtocolFlavor::Beta {
            headers.insert("OpenAI-Beta", HeaderValue::from_static("realtime=v1"));
        }
    }
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES))
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES);
    let mut step = tungstenite::client::client_with_config(request, stream, Some(ws_config));
    loop {
        match step {
            Err(HandshakeError::Interrupted(mid)) => {
                ready.dial_wait(deadline, closing, wakeups, "WebSocket handshake")?;
                step = mid.handshake();
            }
            done => return upgraded(done),
        }
    }
}

/// What the end of the upgrade means.
fn upgraded(
    done: Result<
        (Socket, tungstenite::handshake::client::Response),
        HandshakeError<tungstenite::handshake::client::ClientHandshake<MaybeTlsStream<TcpStream>>>,
    >,
) -> Result<Socket, DialError> {
    match done {
        Ok((ws, _response)) => Ok(ws),
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
                .map(|m| format!(": {}", crate::session::truncate_for_message(&m)))
                .unwrap_or_default();
            if status == 401 || status == 403 {
                Err(DialError::Fatal {
                    code: "authentication_failed",
                    message: format!(
                        "the server rejected the credentials (HTTP {status}){detail}; check api_key / client_secret"
                    ),
                })
            } else {
                Err(DialError::Retry(format!(
                    "the server refused the connection (HTTP {status}){detail}"
                )))
            }
        }
        Err(HandshakeError::Failure(e)) => {
            Err(DialError::Retry(format!("WebSocket handshake failed: {e}")))
        }
        Err(HandshakeError::Interrupted(_)) => {
            Err(DialError::Retry("WebSocket handshake timed out".into()))
        }
    }
}
