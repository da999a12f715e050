//! A small blocking Realtime client for the mock server's tests.
#![allow(dead_code)]

use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::prelude::{Engine, BASE64_STANDARD};
use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Connector, Message, WebSocket};

pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// How a connection attempt ended.
#[derive(Debug)]
pub enum ConnectError {
    /// The server answered the upgrade with an HTTP error.
    Http(u16, String),
    /// Anything else (TLS, I/O, protocol).
    Other(String),
}

pub struct Client {
    pub ws: Socket,
    /// Every event received, in order.
    pub events: Vec<Value>,
    /// Close frame received, if any: (code, reason).
    pub closed: Option<(u16, String)>,
}

pub fn connect_with(
    url: &str,
    headers: &[(&str, &str)],
    tls: Option<native_tls::TlsConnector>,
) -> Result<Client, ConnectError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| ConnectError::Other(e.to_string()))?;
    for (name, value) in headers {
        let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("header name");
        request
            .headers_mut()
            .insert(name, value.parse().expect("header value"));
    }
    let host = request.uri().host().unwrap_or("127.0.0.1").to_string();
    let port = request.uri().port_u16().unwrap_or(80);
    let tcp = TcpStream::connect((host.as_str(), port))
        .map_err(|e| ConnectError::Other(e.to_string()))?;
    let connector = match tls {
        Some(c) => Connector::NativeTls(c),
        None => Connector::Plain,
    };
    match tungstenite::client_tls_with_config(request, tcp, None, Some(connector)) {
        Ok((ws, _response)) => {
            let tcp = match ws.get_ref() {
                MaybeTlsStream::Plain(s) => s,
                MaybeTlsStream::NativeTls(s) => s.get_ref(),
                _ => unreachable!("no other TLS backend is enabled"),
            };
            tcp.set_read_timeout(Some(Duration::from_millis(20)))
                .expect("timeout");
            Ok(Client {
                ws,
                events: Vec::new(),
                closed: None,
            })
        }
        Err(HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err(ConnectError::Http(response.status().as_u16(), body))
        }
        Err(e) => Err(ConnectError::Other(e.to_string())),
    }
}

pub fn connect(url: &str) -> Client {
    connect_with(url, &[], None).expect("connect")
}

impl Client {
    pub fn send(&mut self, event: Value) {
        self.ws
            .send(Message::text(event.to_string()))
            .expect("send");
    }

    pub fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text.to_string())).expect("send");
    }

    /// Next event, or None on timeout / close.
    pub fn recv(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    let v: Value =
                        serde_json::from_str(t.as_str()).unwrap_or(Value::String(t.to_string()));
                    self.events.push(v.clone());
                    return Some(v);
                }
                Ok(Message::Close(frame)) => {
                    self.closed = Some(
                        frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((1005, String::new())),
                    );
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return None,
            }
        }
        None
    }

    /// Events until one of type `kind` (inclusive); panics with the events seen on timeout.
    pub fn until(&mut self, kind: &str, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Some(e) = self.recv(deadline.saturating_duration_since(Instant::now())) {
                let done = e["type"] == kind;
                seen.push(e);
                if done {
                    return seen;
                }
            } else if self.closed.is_some() {
                break;
            }
        }
        let types: Vec<&Value> = seen.iter().map(|e| &e["type"]).collect();
        panic!(
            "no {kind} within {timeout:?}; got {types:?}, closed {:?}",
            self.closed
        );
    }

    /// Read whatever arrives within `window`.
    pub fn drain(&mut self, window: Duration) -> Vec<Value> {
        let deadline = Instant::now() + window;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Some(e) = self.recv(deadline.saturating_duration_since(Instant::now())) {
                seen.push(e);
            } else if self.closed.is_some() {
                break;
            }
        }
        seen
    }

    /// Connect-time ritual: session.created, then a GA session.update and its session.updated.
    pub fn ready(&mut self, session: Value) -> Value {
        let created = self.until("session.created", Duration::from_secs(5));
        assert_eq!(created.len(), 1, "session.created must come first");
        self.send(json!({"type": "session.update", "session": session}));
        self.until("session.updated", Duration::from_secs(5))
            .pop()
            .expect("session.updated")
    }

    /// Append PCM16 in `chunk_ms` pieces at `rate`.
    pub fn append_audio(&mut self, samples: &[i16], rate: u32, chunk_ms: u32) {
        let per = (rate * chunk_ms / 1000) as usize;
        for chunk in samples.chunks(per.max(1)) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|s| s.to_le_bytes()).collect();
            self.send(json!({"type": "input_audio_buffer.append", "audio": BASE64_STANDARD.encode(bytes)}));
        }
    }
}

/// The reference GA session from protocol.md, optionally without turn detection.
pub fn ga_session(server_vad: bool) -> Value {
    let turn = if server_vad {
        json!({"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
               "silence_duration_ms": 500, "create_response": true, "interrupt_response": true})
    } else {
        Value::Null
    };
    json!({"type": "realtime", "output_modalities": ["audio"],
        "instructions": "You control a cube. Be brief.",
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}, "turn_detection": turn,
                             "transcription": {"model": "gpt-4o-mini-transcribe"}},
                  "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}},
        "tools": [{"type": "function", "name": "move_cube", "description": "Move the cube.",
                   "parameters": {"type": "object", "properties": {"dx": {"type": "number"}},
                                  "required": ["dx"]}}],
        "tool_choice": "auto"})
}

/// Silence, a spoken-like segment, then silence: 24 kHz.
pub fn utterance(speech_ms: u32) -> Vec<i16> {
    let mut audio = vec![0i16; 24_000 * 300 / 1000];
    audio.extend(rv_mock_server::audio::synthetic_voice(24_000, speech_ms));
    audio.extend(vec![0i16; 24_000 * 800 / 1000]);
    audio
}

/// Total decoded samples in a list of events' `response.output_audio.delta`s.
pub fn audio_samples(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_audio.delta")
        .map(|e| {
            BASE64_STANDARD
                .decode(e["delta"].as_str().unwrap_or_default())
                .map_or(0, |b| b.len() / 2)
        })
        .sum()
}

pub fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?").to_string())
        .collect()
}
