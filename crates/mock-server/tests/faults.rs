//! Injected faults, pings and the session time limit, as a client sees them.

mod support;

use std::time::{Duration, Instant};

use rv_mock_server::{Fault, MockConfig, MockServer};
use serde_json::json;
use support::*;

const T: Duration = Duration::from_secs(5);

#[test]
fn drop_garbage_and_arbitrary_events_reach_the_client() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut c = connect(&server.url());
    c.until("session.created", T);
    server.inject(Fault::Garbage("}{ not json".into()));
    assert_eq!(c.recv(T), Some(json!("}{ not json")));
    let custom =
        json!({"type": "rate_limits.updated", "event_id": "event_custom", "rate_limits": []});
    server.inject(Fault::SendEvent(custom.clone()));
    assert_eq!(c.recv(T), Some(custom.clone()));
    assert!(server.sent().contains(&custom));
    server.inject(Fault::DropConnection);
    let deadline = Instant::now() + T;
    let outcome = loop {
        match c.ws.read() {
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    break None;
                }
            }
            Err(e) => break Some(e),
            Ok(tungstenite::Message::Close(_)) => {
                panic!("a dropped connection sends no close frame")
            }
            Ok(_) => {}
        }
    };
    assert!(
        matches!(
            outcome,
            Some(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake
            )) | Some(tungstenite::Error::Io(_))
        ),
        "{outcome:?}"
    );
    let deadline = Instant::now() + T;
    while server.live_connections() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(server.live_connections(), 0);
    server.clear_recorded();
    assert!(server.sent().is_empty());
    let mut again = connect(&server.url());
    assert!(server.wait_for_connections(2, T));
    again.until("session.created", T);
    assert_eq!(server.sent_of_type("session.created").len(), 1);
}

#[test]
fn oversized_frame_breaks_a_client_with_the_default_16_mib_frame_cap() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut c = connect(&server.url());
    c.until("session.created", T);
    server.inject(Fault::OversizedFrame(20 << 20));
    let deadline = Instant::now() + T;
    let mut error = None;
    while Instant::now() < deadline {
        match c.ws.read() {
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                continue
            }
            Err(e) => {
                error = Some(e);
                break;
            }
            Ok(m) => panic!("unexpected message of {} bytes", m.len()),
        }
    }
    assert!(
        matches!(error, Some(tungstenite::Error::Capacity(_))),
        "{error:?}"
    );
}

#[test]
fn close_with_a_code_and_pending_faults_hit_the_next_connection() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    server.inject(Fault::Close {
        code: 1011,
        reason: "internal hiccup".into(),
    });
    let mut c = connect(&server.url());
    c.until("session.created", T);
    c.drain(Duration::from_millis(300));
    assert_eq!(c.closed, Some((1011, "internal hiccup".to_string())));
}

#[test]
fn a_stall_holds_back_answers_for_its_duration() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut c = connect(&server.url());
    c.ready(ga_session(false));
    server.inject(Fault::Stall(Duration::from_millis(400)));
    std::thread::sleep(Duration::from_millis(50));
    let sent_at = Instant::now();
    c.send(json!({"type": "input_audio_buffer.clear"}));
    c.until("input_audio_buffer.cleared", T);
    assert!(
        sent_at.elapsed() >= Duration::from_millis(300),
        "answered after {:?}",
        sent_at.elapsed()
    );
}

#[test]
fn pings_are_answered_and_the_session_expires_with_an_error_first() {
    let server = MockServer::start(
        MockConfig::default()
            .ping_interval(Some(Duration::from_millis(50)))
            .max_session_duration(Some(Duration::from_millis(400))),
    )
    .unwrap();
    let mut c = connect(&server.url());
    c.until("session.created", T);
    let err = c.until("error", T).pop().unwrap();
    assert_eq!(err["error"]["code"], "session_expired");
    c.drain(Duration::from_millis(300));
    assert_eq!(c.closed.as_ref().map(|c| c.0), Some(1000));
    assert!(server.pong_count() >= 2, "pongs {}", server.pong_count());
}

#[test]
fn shutdown_is_prompt_with_clients_connected() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut a = connect(&server.url());
    a.until("session.created", T);
    // A connection that never finishes its HTTP request.
    let _idle = std::net::TcpStream::connect(server.addr()).unwrap();
    let began = Instant::now();
    server.shutdown();
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        began.elapsed()
    );
    a.drain(Duration::from_millis(200));
    assert_eq!(a.closed.as_ref().map(|c| c.0), Some(1001));
}
