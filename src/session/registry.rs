//! Session handles: `u64`s, never pointers. 0 is never valid and a handle is never
//! reused, so a stale handle from C# (after `OnDestroy`, or a domain reload) is an
//! error, never a use-after-free.

use super::Session;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

static SESSIONS: LazyLock<RwLock<HashMap<u64, Arc<Session>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));
static NEXT_HANDLE: AtomicU64 = AtomicU64::new(1);

/// Registers a session and returns its new handle (never 0, never reused).
pub fn insert(session: Arc<Session>) -> u64 {
    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    SESSIONS.write().insert(handle, session);
    handle
}

/// Looks a handle up (may wait briefly for a concurrent create/destroy).
pub fn get(handle: u64) -> Option<Arc<Session>> {
    SESSIONS.read().get(&handle).cloned()
}

/// Looks a handle up without ever blocking, for the audio thread. `Err(())` means the
/// table was being changed at that instant (a create or destroy elsewhere); the caller
/// plays silence for this one callback rather than wait.
#[allow(clippy::result_unit_err)]
pub fn get_nonblocking(handle: u64) -> Result<Option<Arc<Session>>, ()> {
    // Writers hold the lock for a hash-map insert or remove only: a few spins cover it.
    for _ in 0..64 {
        if let Some(map) = SESSIONS.try_read() {
            return Ok(map.get(&handle).cloned());
        }
        std::hint::spin_loop();
    }
    Err(())
}

/// Unregisters a handle, returning its session.
pub fn remove(handle: u64) -> Option<Arc<Session>> {
    SESSIONS.write().remove(&handle)
}
