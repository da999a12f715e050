//! The session's modes and its resilience to the server's faults, through the C ABI: a
//! stalled server is noticed, frames split across reads are reassembled, server pings are
//! answered; the beta protocol, half duplex, user cancel, runtime updates and push-to-talk
//! behave, raw events are forwarded only when asked, and every client event the plugin
//! sent is checked against the official SDK.

mod support;

use realtime_voice::ffi::*;
use rv_mock_server::{Fault, MockConfig, MockServer, ResponseSpec};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};
use support::{ready, validate_with_sdk, voice, Rv, T};

#[test]
fn a_stalled_server_is_noticed_within_seconds() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut rv = ready(
        &server,
        r#""keepalive_ms":300,"reconnect":{"max_attempts":3,"initial_backoff_ms":20,"max_backoff_ms":50}"#,
    );
    let t = Instant::now();
    server.inject(Fault::Stall(Duration::from_secs(5)));
    let r = rv.wait_state(T, "reconnecting");
    let noticed = t.elapsed();
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .contains("no data from the server"),
        "{r}"
    );
    assert!(
        noticed < Duration::from_millis(2500),
        "noticed after {noticed:?}"
    );
}

/// A stream that hands tungstenite's frames to the socket a few bytes at a time, with pauses:
/// the client sees frames split across many reads (and many `WouldBlock`s).
struct Dribble(TcpStream);
impl Read for Dribble {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}
impl Write for Dribble {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(7);
        self.0.write_all(&buf[..n])?;
        self.0.flush()?;
        std::thread::sleep(Duration::from_millis(1));
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[test]
fn frames_split_across_reads_are_reassembled() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/v1/realtime", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(Dribble(tcp)).unwrap();
        let pcm = vec![0x11u8; 4800 * 2]; // 100 ms of 24 kHz PCM16
        use base64::Engine;
        let delta = base64::engine::general_purpose::STANDARD.encode(&pcm);
        for ev in [
            serde_json::json!({"type":"session.created","event_id":"e1","session":{"type":"realtime","id":"sess_1"}}),
            serde_json::json!({"type":"session.updated","event_id":"e2","session":{"type":"realtime"}}),
            serde_json::json!({"type":"response.created","event_id":"e3","response":{"id":"resp_1","object":"realtime.response","status":"in_progress","output":[]}}),
            serde_json::json!({"type":"response.output_audio.delta","event_id":"e4","response_id":"resp_1","item_id":"item_1","output_index":0,"content_index":0,"delta":delta}),
        ] {
            ws.send(tungstenite::Message::text(ev.to_string())).unwrap();
        }
        // Keep the socket open until the client has read everything.
        std::thread::sleep(Duration::from_millis(1500));
    });
    let mut rv = Rv::for_server(&url, "");
    rv.connect();
    let ready = rv.wait_type(T, "session_ready");
    assert_eq!(ready["session_id"], "sess_1");
    let deadline = Instant::now() + T;
    while rv.stats().audio_bytes_received < 9600 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        rv.stats().audio_bytes_received,
        9600,
        "the 10 kB frame arrived whole"
    );
    assert_eq!(rv.stats().malformed_events, 0);
    server.join().unwrap();
}

#[test]
fn beta_protocol_speaks_the_preview_shape() {
    let server = MockServer::start(
        MockConfig::default()
            .allow_beta(true)
            .respond(ResponseSpec::synthetic_audio(400, "Beta hello.")),
    )
    .unwrap();
    let mut rv = ready(&server, r#""protocol":"beta""#);
    let headers = &server.handshake_headers()[0];
    assert!(headers
        .iter()
        .any(|(k, v)| k == "openai-beta" && v == "realtime=v1"));
    let update = &server.received_of_type("session.update")[0]["session"];
    assert!(
        update.get("modalities").is_some() && update.get("output_modalities").is_none(),
        "{update}"
    );
    assert_eq!(update["input_audio_format"], "pcm16");
    assert_eq!(rv.send_text("hi"), RV_OK);
    let fin = rv.wait_event(T, |e| {
        e["type"] == "assistant_transcript" && e["final"] == true
    });
    assert_eq!(fin["text"], "Beta hello.");
    rv.wait_type(T, "response_done");
    assert_eq!(
        rv.stats().audio_bytes_received,
        400 * 48,
        "beta audio deltas are played too"
    );
    assert!(
        !server.sent_of_type("response.audio.delta").is_empty(),
        "the server used the beta names"
    );
    assert!(
        server.sent_of_type("error").is_empty(),
        "{:?}",
        server.sent_of_type("error")
    );
}

#[test]
fn half_duplex_gates_the_mic_while_the_model_speaks() {
    let server = MockServer::start(
        MockConfig::default().respond(ResponseSpec::synthetic_audio(1500, "Talking.")),
    )
    .unwrap();
    let mut rv = ready(
        &server,
        r#""half_duplex":true,"half_duplex_tail_ms":200,"prebuffer_ms":0"#,
    );
    assert_eq!(rv.send_text("speak"), RV_OK);
    rv.wait_type(T, "response_started");
    // Play the answer in real time while the mic pushes steadily.
    let mut out = vec![0f32; 960 * 2];
    let before = server.received_audio().len();
    let mic = vec![0.01f32; 480 * 2];
    let start = Instant::now();
    let mut played = 0;
    while start.elapsed() < Duration::from_millis(1000) {
        rv.push(&mic, 2, 48_000);
        played += rv.pull(&mut out, 2, 48_000).max(0);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(played > 30_000, "the model was playing ({played} frames)");
    std::thread::sleep(Duration::from_millis(100));
    let during = server.received_audio().len() - before;
    assert!(
        during < 24_000 / 10,
        "mic audio sent while the model spoke: {during} samples"
    );
    // After the answer and the tail, the mic opens again.
    while rv.pull(&mut out, 2, 48_000) > 0 {}
    std::thread::sleep(Duration::from_millis(400));
    let before = server.received_audio().len();
    for _ in 0..30 {
        rv.push(&mic, 2, 48_000);
        rv.pull(&mut out, 2, 48_000);
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        server.received_audio().len() - before > 5000,
        "the mic is open again"
    );
}

#[test]
fn user_cancel_stops_playback_truncates_and_cancels() {
    let server = MockServer::start(
        MockConfig::default()
            .respond(ResponseSpec::synthetic_audio(5000, "Long."))
            .audio_pacing(1.0),
    )
    .unwrap();
    let mut rv = ready(&server, r#""prebuffer_ms":40"#);
    assert_eq!(rv.send_text("talk"), RV_OK);
    rv.wait_type(T, "response_started");
    let mut out = vec![0f32; 1024 * 2];
    let mut played = 0i64;
    let deadline = Instant::now() + T;
    while played < 24_000 && Instant::now() < deadline {
        played += rv.pull(&mut out, 2, 48_000).max(0) as i64;
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(rv_cancel_response(rv.handle), RV_OK);
    let cut = rv.wait_type(T, "audio_interrupted");
    let heard = played * 1000 / 48_000;
    assert!(
        (cut["played_ms"].as_i64().unwrap() - heard).abs() <= 22,
        "{cut} vs {heard} ms"
    );
    assert!(server.wait_for(T, |r| r.iter().any(|e| e["type"] == "response.cancel")));
    assert!(server.wait_for(T, |r| r
        .iter()
        .any(|e| e["type"] == "conversation.item.truncate")));
    let done = rv.wait_type(T, "response_done");
    assert_eq!(done["status"], "cancelled");
    assert!(rv.pull(&mut out, 2, 48_000) <= 150, "a 3 ms fade-out");
    assert_eq!(rv.pull(&mut out, 2, 48_000), 0, "flushed");
    assert!(
        server.sent_of_type("error").is_empty(),
        "{:?}",
        server.sent_of_type("error")
    );
}

#[test]
fn runtime_updates_and_push_to_talk_are_sent_and_sdk_valid() {
    let server =
        MockServer::start(MockConfig::default().respond(ResponseSpec::synthetic_audio(300, "Ok.")))
            .unwrap();
    let mut rv = ready(
        &server,
        r#""session":{"audio":{"input":{"turn_detection":null}}}"#,
    );
    assert_eq!(
        rv.update_session(r#"{"instructions":"Now be verbose."}"#),
        RV_OK
    );
    assert!(server.wait_for(T, |r| r
        .iter()
        .filter(|e| e["type"] == "session.update")
        .count()
        == 2));
    let second = &server.received_of_type("session.update")[1]["session"];
    assert_eq!(second["instructions"], "Now be verbose.");
    for c in support::stereo(&voice(48_000, 0.5, 0.3)).chunks(960) {
        rv.push(c, 2, 48_000);
    }
    assert_eq!(rv_clear_audio(rv.handle), RV_OK);
    for c in support::stereo(&voice(48_000, 0.5, 0.3)).chunks(960) {
        rv.push(c, 2, 48_000);
    }
    assert_eq!(rv_commit_audio(rv.handle), RV_OK);
    assert_eq!(
        unsafe {
            rv_create_response(
                rv.handle,
                c"{\"instructions\":\"Answer briefly.\"}".as_ptr(),
            )
        },
        RV_OK
    );
    rv.wait_type(T, "response_done");
    let kinds: Vec<String> = server
        .received()
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_string())
        .collect();
    for k in [
        "input_audio_buffer.clear",
        "input_audio_buffer.commit",
        "response.create",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} not sent: {kinds:?}");
    }
    assert!(
        server.sent_of_type("error").is_empty(),
        "{:?}",
        server.sent_of_type("error")
    );

    // Everything the plugin sent, checked by the official SDK's models (strict keys).
    validate_with_sdk("client", &server.received(), "session_client_events.jsonl");
}

#[test]
fn server_pings_are_answered() {
    let server =
        MockServer::start(MockConfig::default().ping_interval(Some(Duration::from_millis(100))))
            .unwrap();
    let rv = ready(&server, "");
    std::thread::sleep(Duration::from_millis(800));
    assert!(server.pong_count() >= 4, "pongs: {}", server.pong_count());
    assert_eq!(rv.state(), RV_STATE_READY);
}

#[test]
fn raw_server_events_are_forwarded_when_asked() {
    let server =
        MockServer::start(MockConfig::default().respond(ResponseSpec::synthetic_audio(200, "Hi.")))
            .unwrap();
    let mut rv = ready(&server, r#""forward_server_events":true"#);
    assert_eq!(rv.send_text("hi"), RV_OK);
    rv.wait_type(T, "response_done");
    let forwarded: Vec<String> = rv
        .events_of("server_event")
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap_or("").to_string())
        .collect();
    for t in [
        "session.created",
        "session.updated",
        "response.created",
        "response.done",
    ] {
        assert!(
            forwarded.iter().any(|f| f == t),
            "{t} not forwarded: {forwarded:?}"
        );
    }
    assert!(
        !forwarded.iter().any(|f| f == "response.output_audio.delta"),
        "audio deltas are played, not forwarded"
    );
    // Without the option, nothing is forwarded.
    let mut quiet = ready(&server, "");
    assert_eq!(quiet.send_text("hi"), RV_OK);
    quiet.wait_type(T, "response_done");
    assert!(quiet.events_of("server_event").is_empty());
}
