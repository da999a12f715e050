//! A faithful local stand-in for OpenAI's Realtime API (GA protocol over WebSocket),
//! serving `ws://` or `wss://` on 127.0.0.1 for tests and demos.
//!
//! Every event it sends has the shape of the official SDK's models (`openai` 3.54.0,
//! `openai.types.realtime.RealtimeServerEvent`) with no extra keys; every client event is
//! checked strictly against the SDK's client schema, and mistakes are answered with the
//! real API's `error` events. Audio input drives an energy speech detector (server VAD),
//! responses are scripted ([`ResponseSpec`]), and faults can be injected ([`Fault`]).
//!
//! ```no_run
//! use rv_mock_server::{MockConfig, MockServer, ResponseSpec};
//! let server = MockServer::start(MockConfig::default().respond(ResponseSpec::tool_call(
//!     "move_cube", r#"{"dx":1,"dy":0,"dz":0}"#))).unwrap();
//! println!("{}", server.url());
//! ```
#![deny(missing_docs)]

pub mod audio;
pub mod config;
mod connection;
mod handshake;
mod ids;
mod recorder;
mod response;
pub mod schema;
mod session;
mod tls;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;

pub use config::{Fault, MockConfig, ResponseSpec, Script};
pub use schema::{EventSchema, SchemaViolation};
pub use tls::test_ca_certificate_pem;

use recorder::ServerShared;

/// A running mock server. Stops on [`MockServer::shutdown`] or drop.
pub struct MockServer {
    shared: Arc<ServerShared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl MockServer {
    /// Bind 127.0.0.1 (`config.port`, 0 = any) and serve in background threads.
    pub fn start(config: MockConfig) -> io::Result<MockServer> {
        let tls = if config.tls {
            Some(Arc::new(tls::acceptor()?))
        } else {
            None
        };
        let listener = TcpListener::bind(("127.0.0.1", config.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(ServerShared::new(config));
        let workers: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let shared = shared.clone();
            let workers = workers.clone();
            thread::Builder::new()
                .name("rv-mock-accept".into())
                .spawn(move || accept_loop(listener, shared, tls, workers))?
        };
        Ok(MockServer {
            shared,
            addr,
            acceptor: Some(acceptor),
            workers,
        })
    }

    /// `ws://127.0.0.1:PORT/v1/realtime` (or `wss://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.shared.config.tls { "wss" } else { "ws" };
        format!("{scheme}://127.0.0.1:{}/v1/realtime", self.addr.port())
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every client event received, all connections, in order (non-JSON text as a JSON string;
    /// past 64 MiB of events, appended audio is elided from the record).
    pub fn received(&self) -> Vec<Value> {
        self.shared.log.lock().received.clone()
    }

    /// Received events of one `type`.
    pub fn received_of_type(&self, kind: &str) -> Vec<Value> {
        of_type(&self.shared.log.lock().received, kind)
    }

    /// Every server event sent (faults' garbage and oversized frames excluded).
    pub fn sent(&self) -> Vec<Value> {
        self.shared.log.lock().sent.clone()
    }

    /// Sent events of one `type`.
    pub fn sent_of_type(&self, kind: &str) -> Vec<Value> {
        of_type(&self.shared.log.lock().sent, kind)
    }

    /// Write every event sent so far to `path`, one JSON object per line (for
    /// `tests/validate_sdk.py` or `tools/validate_events.py`).
    pub fn write_sent_jsonl(&self, path: &std::path::Path) -> io::Result<()> {
        use std::io::Write as _;
        let mut out = io::BufWriter::new(std::fs::File::create(path)?);
        for event in self.shared.log.lock().sent.iter() {
            writeln!(out, "{event}")?;
        }
        out.flush()
    }

    /// All decoded `input_audio_buffer.append` audio (at the declared input rate), up to 100 M samples.
    pub fn received_audio(&self) -> Vec<i16> {
        self.shared.log.lock().audio.clone()
    }

    /// WebSocket upgrades accepted so far.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Connections currently open.
    pub fn live_connections(&self) -> usize {
        self.shared.live.lock().len()
    }

    /// Headers of every upgrade request, refused ones included, in order (names lower-cased).
    pub fn handshake_headers(&self) -> Vec<Vec<(String, String)>> {
        self.shared.log.lock().headers.clone()
    }

    /// The `model` query value of each accepted connection.
    pub fn models(&self) -> Vec<String> {
        self.shared.log.lock().models.clone()
    }

    /// Pongs received in answer to the server's pings.
    pub fn pong_count(&self) -> usize {
        self.shared.pongs.load(Ordering::SeqCst)
    }

    /// Queue another scripted response (after those already queued).
    pub fn push_response(&self, spec: ResponseSpec) {
        self.shared.responses.lock().push_back(spec);
    }

    /// Queue another scripted user transcript.
    pub fn push_user_transcript(&self, text: impl Into<String>) {
        self.shared.user_transcripts.lock().push_back(text.into());
    }

    /// Refuse (or stop refusing, with `None`) later upgrades with this HTTP status.
    pub fn set_reject_with(&self, status: Option<u16>) {
        *self.shared.reject_with.lock() = status;
    }

    /// Apply a fault to every live connection; with none live, to the next one
    /// (right after its `session.created`).
    pub fn inject(&self, fault: Fault) {
        let live = self.shared.live.lock();
        if live.is_empty() {
            self.shared.pending_faults.lock().push(fault);
            return;
        }
        for (_, tx) in live.iter() {
            let _ = tx.send(fault.clone());
        }
    }

    /// Wait until `pred(received())` holds or `timeout` passes; returns whether it held.
    pub fn wait_for<F: Fn(&[Value]) -> bool>(&self, timeout: Duration, pred: F) -> bool {
        self.wait_on(timeout, |s| pred(&s.log.lock().received))
    }

    /// Like [`MockServer::wait_for`], over the events sent.
    pub fn wait_for_sent<F: Fn(&[Value]) -> bool>(&self, timeout: Duration, pred: F) -> bool {
        self.wait_on(timeout, |s| pred(&s.log.lock().sent))
    }

    /// Wait until at least `count` upgrades have been accepted; returns whether they were.
    pub fn wait_for_connections(&self, count: usize, timeout: Duration) -> bool {
        self.wait_on(timeout, |s| s.connections.load(Ordering::SeqCst) >= count)
    }

    /// Forget the events and audio recorded so far (handshake headers and counters stay).
    pub fn clear_recorded(&self) {
        let mut log = self.shared.log.lock();
        log.received.clear();
        log.received_bytes = 0;
        log.sent.clear();
        log.sent_audio_bytes = 0;
        log.audio.clear();
    }

    fn wait_on(&self, timeout: Duration, check: impl Fn(&ServerShared) -> bool) -> bool {
        let began = Instant::now();
        loop {
            if check(&self.shared) {
                return true;
            }
            if began.elapsed() >= timeout {
                return false;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stop accepting, close every connection and join all threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        if let Some(handle) = self.acceptor.take() {
            let _ = handle.join();
        }
        let handles: Vec<JoinHandle<()>> = self.workers.lock().drain(..).collect();
        for h in handles {
            let _ = h.join();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn of_type(events: &[Value], kind: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e.get("type").and_then(Value::as_str) == Some(kind))
        .cloned()
        .collect()
}

fn accept_loop(
    listener: TcpListener,
    shared: Arc<ServerShared>,
    tls: Option<Arc<native_tls::TlsAcceptor>>,
    workers: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    let mut index = 0usize;
    while !shared.stopping() {
        match listener.accept() {
            Ok((tcp, _)) => {
                if tcp.set_nonblocking(false).is_err() {
                    continue;
                }
                index += 1;
                let shared = shared.clone();
                let tls = tls.clone();
                let spawned = thread::Builder::new()
                    .name(format!("rv-mock-conn-{index}"))
                    .spawn(move || connection::serve(tcp, shared, tls, index));
                if let Ok(handle) = spawned {
                    let mut list = workers.lock();
                    list.retain(|h| !h.is_finished());
                    list.push(handle);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5))
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}
