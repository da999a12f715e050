//! Identifiers shaped like the real API's (`event_`, `item_`, `resp_`, `call_` + 21 base62).

use std::time::{SystemTime, UNIX_EPOCH};

/// A small xorshift generator: ids only need to look real and not collide in a test run.
#[derive(Debug, Clone)]
pub struct IdGen {
    state: u64,
}

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl IdGen {
    /// Seeded from the clock and a per-server salt.
    pub fn new(salt: u64) -> IdGen {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed);
        IdGen {
            state: (nanos ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1,
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// `prefix` + `_` + 21 base62 characters.
    pub fn make(&mut self, prefix: &str) -> String {
        let mut id = String::with_capacity(prefix.len() + 22);
        id.push_str(prefix);
        id.push('_');
        for _ in 0..21 {
            id.push(ALPHABET[(self.next() % 62) as usize] as char);
        }
        id
    }
}
