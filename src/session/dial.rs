//! Dialling the Realtime server: DNS, TCP, TLS, the WebSocket upgrade, and what the
//! HTTP status of a refused upgrade means (fatal: bad credentials or TLS trust; anything
//! else: back off and retry).
//!
//! The handshake runs with blocking I/O and a timeout for the whole of it (a TLS
//! handshake interrupted by a read timeout fails on some platforms); the host's
//! `rv_session_destroy` never waits for it. Once upgraded, the socket is non-blocking.

use crate::config::{parse_ws_url, ProtocolFlavor, SessionConfig};
use serde_json::Value;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
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
/// User-Agent sent in the upgrade request.
const USER_AGENT: &str = concat!("realtime-voice-unity/", env!("CARGO_PKG_VERSION"));

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

/// Dials `config`'s URL; gives up early (as a retry) when `closing` is set between steps.
pub fn dial(config: &SessionConfig, closing: &AtomicBool) -> Result<Socket, DialError> {
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
        match TcpStream::connect_timeout(&addr, remaining) {
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
    let remaining = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(50));
    let _ = tcp.set_nodelay(true);
    // Blocking I/O with a timeout for the whole handshake (TLS included).
    tcp.set_read_timeout(Some(remaining))
        .and_then(|_| tcp.set_write_timeout(Some(remaining)))
        .map_err(|e| DialError::Retry(format!("socket setup failed: {e}")))?;
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
        match connector.connect(&parts.host, tcp) {
            Ok(s) => MaybeTlsStream::NativeTls(s),
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
            Err(native_tls::HandshakeError::WouldBlock(_)) => {
                return Err(DialError::Retry(format!(
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
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES);
    match tungstenite::client::client_with_config(request, stream, Some(ws_config)) {
        Ok((ws, _response)) => {
            let tcp = match ws.get_ref() {
                MaybeTlsStream::Plain(s) => s,
                MaybeTlsStream::NativeTls(s) => s.get_ref(),
                _ => {
                    return Err(DialError::Fatal {
                        code: "internal",
                        message: "unexpected stream type".into(),
                    })
                }
            };
            // Only now, after TLS and the upgrade: no timeouts, non-blocking reads.
            tcp.set_read_timeout(None)
                .and_then(|_| tcp.set_write_timeout(None))
                .and_then(|_| tcp.set_nonblocking(true))
                .map_err(|e| DialError::Retry(format!("socket setup failed: {e}")))?;
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
