//! Where destroyed sessions are freed: one process-wide thread, never the caller of
//! `rv_session_destroy` (which must return at once) and never the audio thread.
//!
//! `rv_session_destroy` unregisters the handle, signals the worker to close and hands
//! the session here. An audio or mic callback that looked the handle up just before may
//! still hold a clone for the length of that one call; the reaper waits for such clones
//! to go (the handle is gone from the registry, so no new clone can appear) and then
//! drops the last reference itself. The worker thread holds only the shared state and
//! finishes closing on its own, freeing what it owns when it ends.

use super::Session;
use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How often the reaper looks again at a session that a callback still holds.
const RECHECK: Duration = Duration::from_millis(1);

static REAPER: OnceLock<Option<Sender<Arc<Session>>>> = OnceLock::new();

/// Hands a session (already unregistered and closing) to the reaper; returns at once.
/// Memory stays bounded: the queue holds only destroyed sessions, each freed within a
/// callback's length of being handed over.
pub fn release(session: Arc<Session>) {
    let sender = REAPER.get_or_init(|| {
        let (tx, rx) = unbounded();
        std::thread::Builder::new()
            .name("realtime-voice-reaper".into())
            .spawn(move || reap(rx))
            .ok()
            .map(|_| tx)
    });
    if let Some(tx) = sender {
        match tx.send(session) {
            Ok(()) => {}
            Err(back) => free_here(back.into_inner()),
        }
    } else {
        free_here(session);
    }
}

/// Without a reaper thread (the OS refused one), the caller frees: it is a script
/// thread, never the audio thread.
fn free_here(session: Arc<Session>) {
    drop(session);
}

fn reap(rx: Receiver<Arc<Session>>) {
    let mut held: Vec<Arc<Session>> = Vec::new();
    loop {
        // Sleeps until a session arrives; polls only while a callback still holds one.
        let next = if held.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(RECHECK)
        };
        match next {
            Ok(s) => held.push(s),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        held.retain(|s| Arc::strong_count(s) > 1);
    }
}
