//! The realtime session through the C ABI against the local Realtime server.

mod support;

use realtime_voice::ffi::*;
use rv_mock_server::{Fault, MockConfig, MockServer, ResponseSpec};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{ready, voice, Devices, Rv, T};

#[test]
fn handshake_and_first_session_update_are_ga() {
    let server = MockServer::start(MockConfig::default().api_key("sk-test-handshake-key")).unwrap();
    let mut rv = Rv::for_server(
        &server.url(),
        r#""api_key":"sk-test-handshake-key","session":{"instructions":"Be brief.","audio":{"output":{"voice":"marin"}}}"#,
    );
    assert_eq!(
        rv.update_session(r#"{"tools":[{"type":"function","name":"move_cube","description":"Move it","parameters":{"type":"object","properties":{"dx":{"type":"number"}}}}]}"#),
        RV_OK
    );
    rv.connect();
    let states: Vec<String> = {
        rv.wait_type(T, "session_ready");
        rv.events_of("state")
            .iter()
            .map(|e| e["state"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(states, ["connecting", "connected", "ready"]);
    assert_eq!(rv.state(), RV_STATE_READY);

    let headers = &server.handshake_headers()[0];
    let get = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(
        get("authorization").as_deref(),
        Some("Bearer sk-test-handshake-key")
    );
    assert!(
        get("openai-beta").is_none(),
        "GA must not send the beta header"
    );
    assert!(get("user-agent")
        .unwrap()
        .starts_with("realtime-voice-unity/"));
    assert_eq!(server.models(), ["gpt-realtime"]);

    let update = &server.received_of_type("session.update")[0]["session"];
    assert_eq!(update["type"], "realtime");
    assert_eq!(update["output_modalities"], json!(["audio"]));
    assert_eq!(
        update["audio"]["input"]["format"],
        json!({"type": "audio/pcm", "rate": 24000})
    );
    assert_eq!(
        update["audio"]["input"]["turn_detection"]["type"],
        "server_vad"
    );
    assert_eq!(
        update["audio"]["output"]["format"],
        json!({"type": "audio/pcm", "rate": 24000})
    );
    assert_eq!(
        update["audio"]["output"]["voice"], "marin",
        "the user's session is merged over the defaults"
    );
    assert_eq!(update["instructions"], "Be brief.");
    assert_eq!(update["tools"][0]["name"], "move_cube");
    assert!(
        server.sent_of_type("error").is_empty(),
        "the server accepted everything: {:?}",
        server.sent_of_type("error")
    );
}

#[test]
fn mic_audio_arrives_at_the_wire_rate_with_its_content() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let rv = ready(
        &server,
        r#""session":{"audio":{"input":{"turn_detection":null}}}"#,
    );
    // 2 s of a 440 Hz sine at 48 kHz stereo, in uneven pushes.
    let tone: Vec<f32> = (0..96_000)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 48_000.0).sin())
        .collect();
    let st = support::stereo(&tone);
    let mut pos = 0;
    for (i, n) in [1usize, 479, 480, 960, 17, 4800].iter().cycle().enumerate() {
        if pos >= tone.len() || i > 10_000 {
            break;
        }
        let end = (pos + n).min(tone.len());
        assert_eq!(rv.push(&st[pos * 2..end * 2], 2, 48_000), RV_OK);
        pos = end;
    }
    assert_eq!(rv_commit_audio(rv.handle), RV_OK);
    assert!(server.wait_for(T, |r| r
        .iter()
        .any(|e| e["type"] == "input_audio_buffer.commit")));
    let audio = server.received_audio();
    // 2 s at 24 kHz; the commit flushes the resampler's tail (its delay, <= 5 ms) too.
    assert!(
        (48_000..=48_120).contains(&audio.len()),
        "got {} samples",
        audio.len()
    );
    // The content: count zero crossings in the steady middle second -> 440 Hz.
    let mid = &audio[12_000..36_000];
    let crossings = mid.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    let freq = crossings as f64 / 2.0;
    assert!((freq - 440.0).abs() < 3.0, "estimated {freq} Hz");
    let peak = mid.iter().map(|s| s.unsigned_abs()).max().unwrap();
    assert!(
        (15_500..=17_000).contains(&peak),
        "0.5 FS sine -> peak {peak}"
    );
}

#[test]
fn a_spoken_turn_gets_a_played_response_with_transcripts() {
    let server = MockServer::start(
        MockConfig::default()
            .respond(ResponseSpec::synthetic_audio(
                1500,
                "Sure, moving the cube.",
            ))
            .user_transcript("Please move the cube."),
    )
    .unwrap();
    let mut rv = ready(
        &server,
        r#""session":{"audio":{"input":{"transcription":{"model":"gpt-4o-mini-transcribe"}}}}"#,
    );
    let dev = Devices::start(rv.handle, voice(48_000, 1.0, 0.4), 1.0);
    rv.wait_type(T, "speech_started");
    rv.wait_type(T, "speech_stopped");
    let done = rv.wait_type(T, "response_done");
    assert_eq!(done["status"], "completed");
    let user = rv.wait_event(T, |e| e["type"] == "user_transcript" && e["final"] == true);
    assert_eq!(user["text"], "Please move the cube.");
    let fin = rv.wait_event(T, |e| {
        e["type"] == "assistant_transcript" && e["final"] == true
    });
    assert_eq!(fin["text"], "Sure, moving the cube.");
    let deltas: String = rv
        .events_of("assistant_transcript")
        .iter()
        .filter_map(|e| e["delta"].as_str().map(str::to_string))
        .collect();
    assert_eq!(deltas, "Sure, moving the cube.");
    // Wait for the 1.5 s of audio to be played out.
    let deadline = Instant::now() + T;
    while dev.model_frames.load(std::sync::atomic::Ordering::Relaxed) < 70_000
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let played = dev.model_frames.load(std::sync::atomic::Ordering::Relaxed);
    dev.stop();
    assert!(
        (70_000..=73_000).contains(&played),
        "1.5 s at 48 kHz = 72000 frames, played {played}"
    );
    let stats = rv.stats();
    assert_eq!(stats.audio_bytes_received, 1500 * 24 * 2);
    assert!(stats.last_response_latency_ms >= 0, "latency measured");
    assert_eq!(stats.responses, 1);
}

fn tool_round(calls: Vec<(&str, &str)>) {
    let n = calls.len();
    let server = MockServer::start(
        MockConfig::default()
            .respond(ResponseSpec::ToolCalls(
                calls
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            ))
            .respond(ResponseSpec::synthetic_audio(300, "Done.")),
    )
    .unwrap();
    let mut rv = ready(&server, "");
    assert_eq!(rv.send_text("Move the cube left."), RV_OK);
    let mut got = Vec::new();
    let deadline = Instant::now() + T;
    while got.len() < n && Instant::now() < deadline {
        got.extend(rv.poll_tool_calls());
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(got.len(), n, "each call delivered once");
    rv.wait_type(T, "response_done");
    std::thread::sleep(Duration::from_millis(100));
    assert!(rv.poll_tool_calls().is_empty(), "no duplicate deliveries");
    for (i, call) in got.iter().enumerate() {
        assert_eq!(call["name"], calls[i].0);
        assert_eq!(call["arguments_raw"], calls[i].1);
        let parsed = serde_json::from_str::<Value>(calls[i].1).unwrap_or(Value::Null);
        assert_eq!(call["arguments"], parsed);
        // Before the last answer, no response.create follows.
        assert_eq!(server.received_of_type("response.create").len(), 1);
        assert_eq!(
            rv.submit(call["call_id"].as_str().unwrap(), r#"{"ok":true}"#),
            RV_OK
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        rv.submit(got[0]["call_id"].as_str().unwrap(), "{}"),
        RV_ERR_INVALID_ARGUMENT,
        "answered twice"
    );
    rv.wait_event(T, |e| e["type"] == "response_done" && rv_count(e));
    let outputs = server.received_of_type("conversation.item.create");
    assert_eq!(outputs.len(), 1 + n, "user text + one output per call");
    assert_eq!(
        server.received_of_type("response.create").len(),
        2,
        "exactly one follow-up response.create"
    );
    assert!(
        server.sent_of_type("error").is_empty(),
        "{:?}",
        server.sent_of_type("error")
    );
}

fn rv_count(_: &Value) -> bool {
    true
}

#[test]
fn one_tool_call() {
    tool_round(vec![("move_cube", r#"{"dx":-1,"dy":0,"dz":0}"#)]);
}

#[test]
fn two_tool_calls_in_one_response_and_invalid_arguments() {
    tool_round(vec![
        ("move_cube", r#"{"dx":1,"dy":0,"dz":0}"#),
        ("move_cube", r#"{"dx": oops"#),
    ]);
}

#[test]
fn barge_in_truncates_to_what_was_heard() {
    let server = MockServer::start(
        MockConfig::default()
            .respond(ResponseSpec::synthetic_audio(6000, "A long answer."))
            .audio_pacing(20.0),
    )
    .unwrap();
    let mut rv = ready(&server, r#""prebuffer_ms":40"#);
    assert_eq!(rv.send_text("Talk for a while."), RV_OK);
    rv.wait_type(T, "response_started");
    // Play ~1 s as an audio device would, then the user speaks.
    let mut out = vec![0f32; 2048];
    let mut played = 0i64;
    let deadline = Instant::now() + T;
    while played < 48_000 && Instant::now() < deadline {
        let n = rv.pull(&mut out, 2, 48_000);
        assert!(n >= 0);
        played += n as i64;
        std::thread::sleep(Duration::from_millis(2));
    }
    let speech = voice(48_000, 0.6, 0.5);
    for c in support::stereo(&speech).chunks(960) {
        rv.push(c, 2, 48_000);
        // Keep the device running while speaking: the user hears the model until the cut.
        let n = rv.pull(&mut out, 2, 48_000);
        played += n.max(0) as i64;
        std::thread::sleep(Duration::from_millis(10));
    }
    let cut = rv.wait_type(T, "audio_interrupted");
    assert!(server.wait_for(T, |r| r
        .iter()
        .any(|e| e["type"] == "conversation.item.truncate")));
    let truncate = &server.received_of_type("conversation.item.truncate")[0];
    let heard_ms = played * 1000 / 48_000;
    let sent_ms = truncate["audio_end_ms"].as_i64().unwrap();
    assert_eq!(cut["played_ms"].as_i64().unwrap(), sent_ms);
    // Within one audio callback (1024 frames = 21.3 ms).
    assert!(
        (sent_ms - heard_ms).abs() <= 22,
        "truncated at {sent_ms} ms, heard {heard_ms} ms"
    );
    // The flush takes effect at the next pull: a 3 ms fade-out (no click), then silence.
    let n = rv.pull(&mut out, 2, 48_000);
    assert!(n <= 150, "the next pull only fades out ({n} frames)");
    assert_eq!(rv.pull(&mut out, 2, 48_000), 0, "playback flushed");
    assert!(out.iter().all(|&s| s == 0.0));
    assert!(
        server.received_of_type("response.cancel").is_empty(),
        "server VAD cancels by itself"
    );
}

#[test]
fn speech_with_nothing_playing_sends_no_truncate() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut rv = ready(
        &server,
        r#""session":{"audio":{"input":{"turn_detection":{"type":"server_vad","create_response":false}}}}"#,
    );
    for c in support::stereo(&voice(48_000, 0.8, 0.5)).chunks(960) {
        rv.push(c, 2, 48_000);
    }
    for c in support::stereo(&vec![0.0; 48_000]).chunks(960) {
        rv.push(c, 2, 48_000);
    }
    rv.wait_type(T, "speech_started");
    rv.wait_type(T, "speech_stopped");
    std::thread::sleep(Duration::from_millis(100));
    assert!(server
        .received_of_type("conversation.item.truncate")
        .is_empty());
    assert!(rv.events_of("audio_interrupted").is_empty());
}

#[test]
fn reconnects_after_a_drop_and_resends_the_session() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut rv = ready(
        &server,
        r#""reconnect":{"max_attempts":3,"initial_backoff_ms":50,"max_backoff_ms":200},"session":{"instructions":"Keep me."}"#,
    );
    server.inject(Fault::DropConnection);
    let r = rv.wait_state(T, "reconnecting");
    assert_eq!(r["attempt"], 1);
    assert!(r["reason"].as_str().unwrap().len() > 3);
    rv.events.clear();
    rv.wait_type(T, "session_ready");
    assert_eq!(server.connection_count(), 2);
    let updates = server.received_of_type("session.update");
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[1]["session"]["instructions"], "Keep me.");
    assert_eq!(rv.stats().reconnects, 1);
    assert_eq!(rv.state(), RV_STATE_READY);
}

#[test]
fn session_expiry_reconnects() {
    let server = MockServer::start(
        MockConfig::default().max_session_duration(Some(Duration::from_millis(400))),
    )
    .unwrap();
    let mut rv = ready(
        &server,
        r#""reconnect":{"max_attempts":3,"initial_backoff_ms":20,"max_backoff_ms":50}"#,
    );
    rv.wait_state(T, "reconnecting");
    rv.events.clear();
    rv.wait_type(T, "session_ready");
    assert!(server.connection_count() >= 2);
}

#[test]
fn http_401_is_fatal_at_once() {
    let server = MockServer::start(MockConfig::default().api_key("sk-right-key-0000")).unwrap();
    let mut rv = Rv::for_server(
        &server.url(),
        r#""api_key":"sk-wrong-key-1234","reconnect":{"initial_backoff_ms":10}"#,
    );
    rv.connect();
    let err = rv.wait_event(T, |e| e["type"] == "error" && e["fatal"] == true);
    assert_eq!(err["code"], "authentication_failed");
    rv.wait_state(T, "failed");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.connection_count(), 0, "no upgrade accepted");
    let all = serde_json::to_string(&rv.events).unwrap();
    assert!(
        !all.contains("sk-wrong-key-1234") && !all.contains("wrong-key"),
        "{all}"
    );
    assert_eq!(rv.state(), RV_STATE_FAILED);
}

#[test]
fn auth_error_event_after_upgrade_is_fatal_without_retry() {
    let server = MockServer::start(MockConfig::default().auth_error_after_upgrade(true)).unwrap();
    let mut rv = Rv::for_server(
        &server.url(),
        r#""api_key":"sk-bad-key-5678","reconnect":{"initial_backoff_ms":10}"#,
    );
    rv.connect();
    let err = rv.wait_event(T, |e| e["type"] == "error" && e["fatal"] == true);
    assert_eq!(err["code"], "invalid_api_key");
    rv.wait_state(T, "failed");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.connection_count(), 1, "no retry storm");
    let all = serde_json::to_string(&rv.events).unwrap();
    assert!(!all.contains("sk-bad-key-5678"), "{all}");
}

#[test]
fn server_errors_and_garbage_are_reported_not_fatal() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut rv = ready(&server, "");
    server.inject(Fault::SendEvent(json!({"type":"error","event_id":"event_1","error":{"type":"invalid_request_error","code":"some_param_error","message":"Something was off.","param":null,"event_id":null}})));
    let e = rv.wait_event(T, |e| {
        e["type"] == "error" && e["code"] == "some_param_error"
    });
    assert_eq!(e["fatal"], false);
    server.inject(Fault::Garbage("this is not json {".into()));
    server.inject(Fault::Garbage(r#"{"no_type": 1}"#.into()));
    server.inject(Fault::Garbage(r#"{"type":"response.output_audio.delta","delta":"!!!notbase64","response_id":"r","item_id":"i","output_index":0,"content_index":0,"event_id":"e"}"#.into()));
    let deadline = Instant::now() + T;
    while rv.stats().malformed_events < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(rv.stats().malformed_events, 3);
    rv.poll();
    assert!(rv.events_of("error").iter().all(|e| e["fatal"] == false));
    assert_eq!(rv.state(), RV_STATE_READY, "still talking");
    assert_eq!(rv.send_text("still there?"), RV_OK);
    rv.wait_type(T, "response_done");
}

#[test]
fn oversized_frame_reconnects_with_bounded_memory() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut rv = ready(
        &server,
        r#""reconnect":{"max_attempts":2,"initial_backoff_ms":20,"max_backoff_ms":50}"#,
    );
    server.inject(Fault::OversizedFrame(20 << 20));
    rv.wait_state(T, "reconnecting");
    let errors = rv.events_of("error");
    assert!(
        errors
            .iter()
            .any(|e| e["code"] == "oversized_frame" && e["fatal"] == false),
        "{errors:?}"
    );
    rv.events.clear();
    rv.wait_type(T, "session_ready");
    assert_eq!(rv.state(), RV_STATE_READY);
}

#[test]
fn wss_with_the_test_certificate() {
    let server = MockServer::start(
        MockConfig::default()
            .tls(true)
            .api_key("sk-tls-test-key-42"),
    )
    .unwrap();
    assert!(server.url().starts_with("wss://"));
    let ca = serde_json::to_string(rv_mock_server::test_ca_certificate_pem()).unwrap();
    let mut rv = Rv::for_server(
        &server.url(),
        &format!(r#""api_key":"sk-tls-test-key-42","ca_certificate_pem":{ca}"#),
    );
    rv.connect();
    rv.wait_type(T, "session_ready");
    assert_eq!(rv.send_text("hello over TLS"), RV_OK);
    rv.wait_type(T, "response_done");
}

#[test]
fn wss_without_trust_fails_verification() {
    let server = MockServer::start(MockConfig::default().tls(true)).unwrap();
    let mut rv = Rv::for_server(&server.url(), r#""reconnect":{"max_attempts":0}"#);
    rv.connect();
    let e = rv.wait_event(T, |e| e["type"] == "error" && e["fatal"] == true);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("certificate"),
        "{e}"
    );
    rv.wait_state(T, "failed");
}

#[test]
fn response_create_waits_for_the_active_response() {
    let server = MockServer::start(
        MockConfig::default()
            .respond(ResponseSpec::synthetic_audio(800, "One."))
            .respond(ResponseSpec::synthetic_audio(300, "Two.")),
    )
    .unwrap();
    let mut rv = ready(&server, "");
    assert_eq!(rv.send_text("first"), RV_OK);
    assert_eq!(
        unsafe { rv_create_response(rv.handle, std::ptr::null()) },
        RV_OK
    );
    let deadline = Instant::now() + T;
    while rv.events_of("response_done").len() < 2 && Instant::now() < deadline {
        rv.poll();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(rv.events_of("response_done").len(), 2);
    let errs = server.sent_of_type("error");
    assert!(
        errs.is_empty(),
        "no conversation_already_has_active_response: {errs:?}"
    );
}

#[test]
fn commit_with_too_little_audio_is_skipped_with_a_log() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut rv = ready(
        &server,
        r#""session":{"audio":{"input":{"turn_detection":null}}}"#,
    );
    rv.push(&vec![0.1f32; 2 * 2400], 2, 48_000); // 50 ms
    assert_eq!(rv_commit_audio(rv.handle), RV_OK);
    let log = rv.wait_type(T, "log");
    assert!(log["message"].as_str().unwrap().contains("100 ms"), "{log}");
    assert!(server
        .received_of_type("input_audio_buffer.commit")
        .is_empty());
    assert!(server.sent_of_type("error").is_empty());
}

#[test]
fn destroy_is_prompt_and_handles_go_stale() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let rv = ready(&server, "");
    let h = rv.handle;
    let t = Instant::now();
    drop(rv);
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(rv_session_state(h), RV_ERR_INVALID_HANDLE);
    let mut out = [1.0f32; 64];
    assert_eq!(
        unsafe { rv_pull_playback(h, out.as_mut_ptr(), 32, 2, 48_000) },
        RV_ERR_INVALID_HANDLE
    );
    assert!(out.iter().all(|&s| s == 0.0));
}

#[test]
fn eight_sessions_under_load_destroyed_while_running() {
    let server = MockServer::start(MockConfig::default().audio_pacing(8.0)).unwrap();
    let mut sessions = Vec::new();
    for _ in 0..8 {
        let rv = ready(&server, "");
        let dev = Devices::start(rv.handle, voice(48_000, 0.8, 0.4), 4.0);
        sessions.push((rv, dev));
    }
    std::thread::sleep(Duration::from_millis(1500));
    // Destroy while the mic and audio threads are still calling in.
    let mut devs = Vec::new();
    for (rv, dev) in sessions {
        let h = rv.handle;
        let t = Instant::now();
        drop(rv);
        assert!(t.elapsed() < Duration::from_secs(2));
        assert_eq!(rv_session_state(h), RV_ERR_INVALID_HANDLE);
        devs.push(dev);
    }
    // The device threads kept calling with stale handles meanwhile: no crash, silence.
    std::thread::sleep(Duration::from_millis(100));
    for d in devs {
        d.stop();
    }
}
