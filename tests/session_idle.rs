//! An idle ready session sleeps: its worker wakes for the keepalive only (plus the
//! handshake and set-up), not on a fixed poll, and a command still reaches the wire at
//! once because queuing it wakes the worker.

mod support;

use realtime_voice::ffi::*;
use rv_mock_server::{MockConfig, MockServer};
use std::time::{Duration, Instant};
use support::*;

#[test]
fn an_idle_ready_session_barely_wakes_and_a_command_still_goes_out_at_once() {
    let server = MockServer::start(MockConfig::default().ping_interval(None)).unwrap();
    let rv = ready(&server, r#""keepalive_ms":1000"#);
    std::thread::sleep(Duration::from_millis(200)); // the set-up's last events
    let before = rv.stats().worker_wakeups;
    assert!(before > 0, "wake-ups are counted");
    let idle = Duration::from_millis(2500);
    std::thread::sleep(idle);
    let woke = rv.stats().worker_wakeups - before;
    // Two or three keepalive pings and their pongs; a 2 ms poll would be over 1000.
    assert!(woke <= 12, "{woke} wake-ups in {idle:?} of idleness");
    // A text message is on the wire long before any timer would have fired.
    let t = Instant::now();
    assert_eq!(rv.send_text("hello"), RV_OK);
    assert!(server.wait_for(T, |r| r
        .iter()
        .any(|e| e["type"] == "conversation.item.create")));
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "the command waited for a timer: {:?}",
        t.elapsed()
    );
}
