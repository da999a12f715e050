//! Through the C ABI against the local server: after the server drops the connection, the
//! new server session is given the conversation so far (typed turn, tool call and output,
//! spoken answer, image), in order and before any new mic audio, and the host hears
//! `history_restored`; out-of-band responses asked for back to back are queued, each
//! answered with its own `metadata`. Client events are checked by the official SDK's
//! models, the server's by its server-event models.

mod support;

use realtime_voice::ffi::*;
use rv_mock_server::{Fault, MockConfig, MockServer, ResponseSpec};
use serde_json::{json, Value};
use std::ffi::CString;
use std::time::{Duration, Instant};
use support::*;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";

fn create_response(h: RvSession, json: &str) -> i32 {
    let c = CString::new(json).unwrap();
    unsafe { rv_create_response(h, c.as_ptr()) }
}

#[test]
fn a_dropped_connection_lands_on_a_new_session_that_gets_the_conversation_first() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    server.push_response(ResponseSpec::tool_call("move_cube", r#"{"dx":1}"#));
    server.push_response(ResponseSpec::synthetic_audio(300, "Moved it to the left."));
    let mut rv = ready(
        &server,
        r#""echo_cancellation":false,"reconnect":{"max_attempts":3,"initial_backoff_ms":50,"max_backoff_ms":100}"#,
    );
    // A typed turn, a tool call answered, a spoken reply.
    assert_eq!(rv.send_text("Please move the cube."), RV_OK);
    let deadline = Instant::now() + T;
    let call = loop {
        if let Some(c) = rv.poll_tool_calls().into_iter().next() {
            break c;
        }
        assert!(Instant::now() < deadline, "no tool call");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(rv.submit(call["call_id"].as_str().unwrap(), "moved"), RV_OK);
    let reply = rv.wait_event(T, |e| {
        e["type"] == "assistant_transcript" && e["final"] == true
    });
    rv.wait_event(T, |e| {
        e["type"] == "response_done" && e["response_id"] == reply["response_id"]
    });
    let data = PNG;
    let mime = CString::new("image/png").unwrap();
    let text = CString::new("this one").unwrap();
    let rc = unsafe {
        rv_send_image(
            rv.handle,
            data.as_ptr(),
            data.len() as i32,
            mime.as_ptr(),
            text.as_ptr(),
        )
    };
    assert_eq!(rc, RV_OK, "{}", last_error());
    assert!(server.wait_for(T, |r| r
        .iter()
        .filter(|e| e["type"] == "conversation.item.create")
        .any(|e| e["item"]["content"][1]["type"] == "input_image")));
    // What the first server session holds, in order.
    let first: Vec<Value> = server
        .sent_of_type("conversation.item.done")
        .into_iter()
        .map(|e| e["item"].clone())
        .collect();
    let first_ids: Vec<String> = first
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(first.len(), 5, "{first:#?}");

    server.inject(Fault::DropConnection);
    rv.wait_state(T, "reconnecting");
    rv.events.clear();
    // The host keeps talking through the reconnect.
    let mic = voice(48_000, 0.02, 0.3);
    let deadline = Instant::now() + T;
    let restored = loop {
        rv.push(&mic, 1, 48_000);
        if let Some(e) = rv
            .poll()
            .into_iter()
            .find(|e| e["type"] == "history_restored")
        {
            break e;
        }
        assert!(Instant::now() < deadline, "no history_restored");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(restored["items"], 5);
    rv.wait_type(T, "session_ready");
    // Keep pushing until the new session hears the mic.
    let deadline = Instant::now() + T;
    loop {
        rv.push(&mic, 1, 48_000);
        let received = server.received();
        let second = received
            .iter()
            .rposition(|e| e["type"] == "session.update")
            .unwrap();
        if received[second..]
            .iter()
            .any(|e| e["type"] == "input_audio_buffer.append")
        {
            break;
        }
        assert!(Instant::now() < deadline, "no audio after the reconnect");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(server.connection_count(), 2);
    let received = server.received();
    let second = received
        .iter()
        .rposition(|e| e["type"] == "session.update")
        .unwrap();
    let after: Vec<&Value> = received[second + 1..].iter().collect();
    let creates: Vec<&Value> = after
        .iter()
        .copied()
        .filter(|e| e["type"] == "conversation.item.create")
        .collect();
    let first_append = after
        .iter()
        .position(|e| e["type"] == "input_audio_buffer.append")
        .unwrap();
    let last_create = after
        .iter()
        .rposition(|e| e["type"] == "conversation.item.create")
        .unwrap();
    assert!(last_create < first_append, "the past goes before new audio");
    let restored_ids: Vec<&str> = creates
        .iter()
        .map(|e| e["item"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(restored_ids, first_ids, "in order, under their ids");
    let items: Vec<&Value> = creates.iter().map(|e| &e["item"]).collect();
    assert_eq!(
        items[0]["content"][0],
        json!({"type": "input_text", "text": "Please move the cube."})
    );
    assert_eq!(items[1]["type"], "function_call");
    assert_eq!(items[1]["name"], "move_cube");
    assert_eq!(items[1]["arguments"], r#"{"dx":1}"#);
    assert_eq!(items[2]["type"], "function_call_output");
    assert_eq!(items[2]["output"], "moved");
    assert_eq!(
        items[3]["content"][0],
        json!({"type": "output_text", "text": "Moved it to the left."})
    );
    assert_eq!(items[4]["content"][0]["text"], "this one");
    assert!(items[4]["content"][1]["image_url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,iVBORw0KGgo"));
    // The new server session accepted every item.
    assert!(
        server.sent_of_type("error").is_empty(),
        "{:#?}",
        server.sent_of_type("error")
    );
    let added_after: usize = server
        .sent_of_type("conversation.item.added")
        .iter()
        .filter(|e| restored_ids.contains(&e["item"]["id"].as_str().unwrap_or("")))
        .count();
    assert_eq!(added_after, 10, "each item added on both sessions");
    validate_with_sdk("client", &received, "history_restore_client_events.jsonl");
}

#[test]
fn out_of_band_responses_back_to_back_are_queued_and_each_keeps_its_metadata() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    server.push_response(ResponseSpec::synthetic_audio(200, "positive"));
    server.push_response(ResponseSpec::synthetic_audio(200, "negative"));
    let mut rv = ready(&server, r#""echo_cancellation":false"#);
    for topic in ["mood", "intent"] {
        let params = json!({"conversation": "none", "metadata": {"topic": topic},
            "output_modalities": ["text"], "instructions": "Classify the last turn."});
        assert_eq!(
            create_response(rv.handle, &params.to_string()),
            RV_OK,
            "{}",
            last_error()
        );
    }
    let first = rv.wait_type(T, "response_done");
    let second = rv.wait_event(T, |e| {
        e["type"] == "response_done" && e["response_id"] != first["response_id"]
    });
    let done = [first, second];
    let topics: Vec<&Value> = done.iter().map(|d| &d["metadata"]["topic"]).collect();
    assert_eq!(topics, [&json!("mood"), &json!("intent")], "in order");
    assert_ne!(done[0]["response_id"], done[1]["response_id"]);
    // Every event of a response names it, so the host can tell the two apart.
    for d in &done {
        let id = &d["response_id"];
        let started = rv.events_of("response_started");
        let s = started.iter().find(|e| &e["response_id"] == id).unwrap();
        assert_eq!(s["metadata"], d["metadata"]);
        let texts: Vec<Value> = rv
            .events_of("assistant_transcript")
            .into_iter()
            .filter(|e| &e["response_id"] == id && e["final"] == true)
            .collect();
        assert_eq!(texts.len(), 1);
    }
    // The server never saw two responses at once: the second was sent after the first's end.
    assert!(server.sent_of_type("error").is_empty());
    let creates = server.received_of_type("response.create");
    assert_eq!(creates.len(), 2);
    assert_eq!(creates[1]["response"]["metadata"]["topic"], "intent");
    // Out-of-band output never joins the conversation.
    assert!(server.sent_of_type("conversation.item.added").is_empty());
    validate_with_sdk(
        "client",
        &server.received(),
        "out_of_band_client_events.jsonl",
    );
    validate_with_sdk("server", &server.sent(), "out_of_band_server_events.jsonl");
}
