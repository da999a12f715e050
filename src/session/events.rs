//! The event vocabulary of `docs/events.md` and the bounded queues the host polls.
//!
//! Events are JSON objects with a `type`. Queues are bounded: under a hostile or runaway
//! server, what does not fit is dropped and counted, never an unbounded growth. An item
//! too large for the caller's buffer stays queued (`peek` slot) until a big enough
//! buffer comes.

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};

/// Session states, numbered as `RvState` in the C ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum SessionState {
    /// Created, not connected.
    Idle = 0,
    /// Dialling / handshaking.
    Connecting = 1,
    /// WebSocket open, session not configured yet.
    Connected = 2,
    /// `session.updated` received: talking.
    Ready = 3,
    /// Connection lost; backing off before the next attempt.
    Reconnecting = 4,
    /// Closed by the host.
    Closed = 5,
    /// Gave up (authentication failure, attempts exhausted).
    Failed = 6,
}

impl SessionState {
    /// The name used in `state` events.
    pub fn name(self) -> &'static str {
        match self {
            SessionState::Idle => "idle",
            SessionState::Connecting => "connecting",
            SessionState::Connected => "connected",
            SessionState::Ready => "ready",
            SessionState::Reconnecting => "reconnecting",
            SessionState::Closed => "closed",
            SessionState::Failed => "failed",
        }
    }

    /// From the C ABI number.
    pub fn from_i32(v: i32) -> SessionState {
        match v {
            1 => SessionState::Connecting,
            2 => SessionState::Connected,
            3 => SessionState::Ready,
            4 => SessionState::Reconnecting,
            5 => SessionState::Closed,
            6 => SessionState::Failed,
            _ => SessionState::Idle,
        }
    }
}

/// A bounded queue of JSON strings with a one-item "too big for your buffer" slot.
pub struct JsonQueue {
    tx: Sender<String>,
    rx: Receiver<String>,
    held: Mutex<Option<String>>,
    dropped: AtomicU64,
}

/// What `JsonQueue::poll_into` did.
#[derive(Debug, PartialEq, Eq)]
pub enum PollOutcome {
    /// One item written; its length without NUL.
    Written(usize),
    /// Nothing queued.
    Empty,
    /// The next item needs this many bytes plus a NUL; it stays queued.
    TooSmall(usize),
}

impl JsonQueue {
    /// A queue holding at most `capacity` items.
    pub fn new(capacity: usize) -> JsonQueue {
        let (tx, rx) = bounded(capacity.max(1));
        JsonQueue {
            tx,
            rx,
            held: Mutex::new(None),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues an item; when full, drops it and counts it. Returns whether it was queued.
    pub fn push(&self, item: String) -> bool {
        match self.tx.try_send(item) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Items dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.rx.len() + usize::from(self.held.lock().is_some())
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the next item without a buffer (Rust callers and tests).
    pub fn pop(&self) -> Option<String> {
        let mut held = self.held.lock();
        held.take().or_else(|| self.rx.try_recv().ok())
    }

    /// Writes the next item NUL-terminated into `buf`, or says how big it is.
    pub fn poll_into(&self, buf: &mut [u8]) -> PollOutcome {
        let mut held = self.held.lock();
        let item = match held.take().or_else(|| self.rx.try_recv().ok()) {
            Some(i) => i,
            None => return PollOutcome::Empty,
        };
        let n = item.len();
        if n + 1 > buf.len() {
            *held = Some(item);
            return PollOutcome::TooSmall(n);
        }
        buf[..n].copy_from_slice(item.as_bytes());
        buf[n] = 0;
        PollOutcome::Written(n)
    }
}

/// `state` {state, attempt?, reason?}
pub fn state_event(state: SessionState, attempt: Option<u32>, reason: Option<&str>) -> String {
    let mut v = json!({"type": "state", "state": state.name()});
    if let Some(a) = attempt {
        v["attempt"] = json!(a);
    }
    if let Some(r) = reason {
        v["reason"] = json!(r);
    }
    v.to_string()
}

/// `error` {code, message, fatal}. The caller redacts `message` first.
pub fn error_event(code: &str, message: &str, fatal: bool) -> String {
    json!({"type": "error", "code": code, "message": message, "fatal": fatal}).to_string()
}

/// `log` {level, message}
pub fn log_event(level: &str, message: &str) -> String {
    json!({"type": "log", "level": level, "message": message}).to_string()
}

/// `session_ready` {session_id}
pub fn session_ready_event(session_id: &str) -> String {
    json!({"type": "session_ready", "session_id": session_id}).to_string()
}

/// `speech_started` {item_id, audio_start_ms}
pub fn speech_started_event(item_id: &str, audio_start_ms: u64) -> String {
    json!({"type": "speech_started", "item_id": item_id, "audio_start_ms": audio_start_ms})
        .to_string()
}

/// `speech_stopped` {item_id, audio_end_ms}
pub fn speech_stopped_event(item_id: &str, audio_end_ms: u64) -> String {
    json!({"type": "speech_stopped", "item_id": item_id, "audio_end_ms": audio_end_ms}).to_string()
}

/// `user_transcript` {item_id, text, final}
pub fn user_transcript_event(item_id: &str, text: &str, is_final: bool) -> String {
    json!({"type": "user_transcript", "item_id": item_id, "text": text, "final": is_final})
        .to_string()
}

/// `assistant_transcript` {response_id, item_id, delta | text, final}
pub fn assistant_transcript_event(
    response_id: &str,
    item_id: &str,
    text: &str,
    is_final: bool,
) -> String {
    let key = if is_final { "text" } else { "delta" };
    let mut v = json!({"type": "assistant_transcript", "response_id": response_id, "item_id": item_id, "final": is_final});
    v[key] = json!(text);
    v.to_string()
}

/// `response_started` {response_id}
pub fn response_started_event(response_id: &str, metadata: Option<&Value>) -> String {
    let mut v = json!({"type": "response_started", "response_id": response_id});
    if let Some(m) = metadata {
        v["metadata"] = m.clone();
    }
    v.to_string()
}

/// `response_done` {response_id, status, usage?, metadata?}
pub fn response_done_event(
    response_id: &str,
    status: &str,
    usage: Option<&Value>,
    metadata: Option<&Value>,
) -> String {
    let mut v = json!({"type": "response_done", "response_id": response_id, "status": status});
    if let Some(u) = usage {
        v["usage"] = u.clone();
    }
    if let Some(m) = metadata {
        v["metadata"] = m.clone();
    }
    v.to_string()
}

/// `history_restored` {items}: after a reconnect, this many items of the conversation were
/// re-created on the new server session.
pub fn history_restored_event(items: usize) -> String {
    json!({"type": "history_restored", "items": items}).to_string()
}

/// `audio_interrupted` {item_id, played_ms}
pub fn audio_interrupted_event(item_id: &str, played_ms: u32) -> String {
    json!({"type": "audio_interrupted", "item_id": item_id, "played_ms": played_ms}).to_string()
}

/// `conversation_item` {item_id, role, kind, text?, status}: an item the conversation gained
/// (`added`, `done`) or lost (`truncated`, `deleted`). `role` is null for items without one;
/// `text` is there when the item has words (text or transcript parts).
pub fn conversation_item_event(
    item_id: &str,
    role: Option<&str>,
    kind: Option<&str>,
    text: Option<&str>,
    status: &str,
) -> String {
    let mut v = json!({"type": "conversation_item", "item_id": item_id, "role": role, "kind": kind, "status": status});
    if let Some(t) = text {
        v["text"] = json!(t);
    }
    v.to_string()
}

/// `input_timeout` {item_id?}: server VAD's idle timeout fired.
pub fn input_timeout_event(item_id: Option<&str>) -> String {
    let mut v = json!({"type": "input_timeout"});
    if let Some(id) = item_id {
        v["item_id"] = json!(id);
    }
    v.to_string()
}

/// `rate_limits` {limits}: the server's `rate_limits` array, verbatim.
pub fn rate_limits_event(limits: &Value) -> String {
    json!({"type": "rate_limits", "limits": limits}).to_string()
}

/// `server_event` {event}
pub fn server_event(event: Value) -> String {
    json!({"type": "server_event", "event": event}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_small_keeps_the_item() {
        let q = JsonQueue::new(4);
        q.push("{\"a\":1}".into());
        q.push("{\"b\":2}".into());
        let mut small = [0u8; 4];
        assert_eq!(q.poll_into(&mut small), PollOutcome::TooSmall(7));
        assert_eq!(q.poll_into(&mut small), PollOutcome::TooSmall(7));
        let mut big = [0u8; 8];
        assert_eq!(q.poll_into(&mut big), PollOutcome::Written(7));
        assert_eq!(&big, b"{\"a\":1}\0");
        assert_eq!(q.pop().as_deref(), Some("{\"b\":2}"));
        assert_eq!(q.poll_into(&mut big), PollOutcome::Empty);
    }

    #[test]
    fn full_queue_drops_and_counts() {
        let q = JsonQueue::new(2);
        assert!(q.push("1".into()) && q.push("2".into()));
        assert!(!q.push("3".into()));
        assert_eq!(q.dropped(), 1);
        assert_eq!(q.len(), 2);
    }

    #[test]
    fn event_shapes() {
        let v: Value =
            serde_json::from_str(&assistant_transcript_event("r", "i", "hi", false)).unwrap();
        assert_eq!(v["delta"], "hi");
        assert!(v.get("text").is_none());
        let v: Value =
            serde_json::from_str(&state_event(SessionState::Reconnecting, Some(2), None)).unwrap();
        assert_eq!(
            (v["state"].as_str(), v["attempt"].as_u64()),
            (Some("reconnecting"), Some(2))
        );
        assert_eq!(SessionState::from_i32(3), SessionState::Ready);
    }
}
