//! A client drives scripted sessions through the mock: voice turns, tool calls, and the
//! API's errors for misuse.

mod support;

use std::time::Duration;

use rv_mock_server::{MockConfig, MockServer, ResponseSpec};
use serde_json::{json, Value};
use support::*;

const T: Duration = Duration::from_secs(5);

#[test]
fn voice_turn_detects_speech_and_answers_with_the_full_audio() {
    let server =
        MockServer::start(MockConfig::default().user_transcript("Move the cube left.")).unwrap();
    let mut c = connect(&server.url());
    let updated = c.ready(ga_session(true));
    assert_eq!(updated["session"]["audio"]["output"]["voice"], "alloy");
    assert_eq!(
        updated["session"]["instructions"],
        "You control a cube. Be brief."
    );

    let input = utterance(1_000);
    c.append_audio(&input, 24_000, 40);
    let started = c
        .until("input_audio_buffer.speech_started", T)
        .pop()
        .unwrap();
    let start_ms = started["audio_start_ms"].as_u64().unwrap();
    // Speech begins at 300 ms; prefix padding (300 ms) reaches back to the buffer start.
    assert!(start_ms <= 300, "audio_start_ms {start_ms}");
    let turn = c.until("response.done", T);
    let stopped = turn
        .iter()
        .find(|e| e["type"] == "input_audio_buffer.speech_stopped")
        .expect("speech_stopped");
    let end_ms = stopped["audio_end_ms"].as_u64().unwrap();
    assert!((1_700..=2_000).contains(&end_ms), "audio_end_ms {end_ms}");
    assert_eq!(stopped["item_id"], started["item_id"]);
    let committed = turn
        .iter()
        .find(|e| e["type"] == "input_audio_buffer.committed")
        .expect("committed");
    assert_eq!(committed["item_id"], started["item_id"]);
    let transcript = turn
        .iter()
        .find(|e| e["type"] == "conversation.item.input_audio_transcription.completed")
        .expect("transcription");
    assert_eq!(transcript["transcript"], "Move the cube left.");

    // The default answer: 1.5 s at 24 kHz and its transcript.
    assert_eq!(audio_samples(&turn), 36_000);
    let said: String = turn
        .iter()
        .filter(|e| e["type"] == "response.output_audio_transcript.delta")
        .map(|e| e["delta"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(said, "Sure, moving the cube.");
    let done = turn.last().unwrap();
    assert_eq!(done["response"]["status"], "completed");
    assert_eq!(
        done["response"]["output"][0]["content"][0]["transcript"],
        "Sure, moving the cube."
    );
    assert!(
        done["response"]["usage"]["output_token_details"]["audio_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let order = types(&turn);
    let pos = |k: &str| {
        order
            .iter()
            .position(|t| t == k)
            .unwrap_or_else(|| panic!("{k} missing in {order:?}"))
    };
    assert!(pos("response.created") < pos("response.output_item.added"));
    assert!(pos("response.output_item.added") < pos("response.content_part.added"));
    assert!(pos("response.content_part.added") < pos("response.output_audio.delta"));
    assert!(pos("response.output_audio.done") < pos("response.content_part.done"));
    assert!(pos("response.output_item.done") < pos("response.done"));
    assert_eq!(server.received_audio().len(), input.len());
}

#[test]
fn tool_calls_then_the_next_scripted_answer_after_the_output() {
    let calls = vec![
        (
            "move_cube".to_string(),
            r#"{"dx":1,"dy":0,"dz":-0.5}"#.to_string(),
        ),
        (
            "move_cube".to_string(),
            r#"{"dx":0,"dy":2,"dz":0}"#.to_string(),
        ),
    ];
    let server = MockServer::start(
        MockConfig::default()
            .respond(ResponseSpec::ToolCalls(calls.clone()))
            .respond(ResponseSpec::synthetic_audio(500, "Done.")),
    )
    .unwrap();
    let mut c = connect(&server.url());
    c.ready(ga_session(false));
    c.send(
        json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "Move the cube."}]}}),
    );
    let added = c.until("conversation.item.done", T);
    assert_eq!(added[0]["type"], "conversation.item.added");
    c.send(json!({"type": "response.create"}));
    let response = c.until("response.done", T);
    let dones: Vec<&Value> = response
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.done")
        .collect();
    assert_eq!(dones.len(), 2);
    for (done, (name, args)) in dones.iter().zip(&calls) {
        assert_eq!(done["name"], name.as_str());
        assert_eq!(done["arguments"], args.as_str());
        let deltas: String = response
            .iter()
            .filter(|e| {
                e["type"] == "response.function_call_arguments.delta"
                    && e["call_id"] == done["call_id"]
            })
            .map(|e| e["delta"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(&deltas, args);
    }
    assert_eq!(audio_samples(&response), 0);
    let output = response.last().unwrap()["response"]["output"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(output.len(), 2);
    assert!(output
        .iter()
        .all(|item| item["type"] == "function_call" && item["status"] == "completed"));
    for done in &dones {
        c.send(
            json!({"type": "conversation.item.create", "item": {"type": "function_call_output",
            "call_id": done["call_id"], "output": "{\"ok\":true}"}}),
        );
        c.until("conversation.item.done", T);
    }
    c.send(json!({"type": "response.create"}));
    let answer = c.until("response.done", T);
    assert_eq!(audio_samples(&answer), 12_000);
    // An output for a call that never happened is refused.
    c.send(
        json!({"type": "conversation.item.create", "item": {"type": "function_call_output",
        "call_id": "call_nope", "output": "x"}}),
    );
    let err = c.until("error", T).pop().unwrap();
    assert_eq!(err["error"]["param"], "item.call_id");
}

#[test]
fn session_update_is_checked_strictly_like_the_real_api() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut c = connect(&server.url());
    c.until("session.created", T);
    c.send(json!({"type": "session.update", "event_id": "evt_1",
        "session": {"type": "realtime", "modalities": ["text", "audio"]}}));
    let err = c.until("error", T).pop().unwrap();
    assert_eq!(err["error"]["type"], "invalid_request_error");
    assert_eq!(err["error"]["code"], "unknown_parameter");
    assert_eq!(err["error"]["param"], "session.modalities");
    assert_eq!(err["error"]["event_id"], "evt_1");
    c.send(json!({"type": "session.update", "session": {"type": "realtime", "voice": "alloy"}}));
    assert_eq!(
        c.until("error", T).pop().unwrap()["error"]["param"],
        "session.voice"
    );
    c.send(
        json!({"type": "session.update", "session": {"type": "realtime",
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}}}),
    );
    assert_eq!(
        c.until("error", T).pop().unwrap()["error"]["param"],
        "session.audio.input.format.rate"
    );
    c.send(json!({"type": "session.update", "session": {"instructions": "no type"}}));
    assert_eq!(
        c.until("error", T).pop().unwrap()["error"]["code"],
        "missing_required_parameter"
    );
    // Nothing was applied; a valid update still works and merges.
    c.send(
        json!({"type": "session.update", "session": {"type": "realtime", "instructions": "hi"}}),
    );
    let updated = c.until("session.updated", T).pop().unwrap();
    assert_eq!(updated["session"]["instructions"], "hi");
    assert_eq!(updated["session"]["output_modalities"], json!(["audio"]));
}

#[test]
fn a_16k_rate_is_accepted_only_when_configured_and_decoded_at_that_rate() {
    let server = MockServer::start(MockConfig::default().accept_any_pcm_rate(true)).unwrap();
    let mut c = connect(&server.url());
    let mut session = ga_session(false);
    session["audio"]["input"]["format"]["rate"] = json!(16000);
    c.ready(session);
    c.append_audio(&vec![1000i16; 1_600], 16_000, 50); // 100 ms at 16 kHz
    c.send(json!({"type": "input_audio_buffer.commit"}));
    let events = c.until("input_audio_buffer.committed", T);
    assert!(!events.iter().any(|e| e["type"] == "error"), "{events:?}");
    assert_eq!(server.received_audio().len(), 1_600);
}

#[test]
fn manual_commit_needs_100_ms_and_response_create_needs_no_active_response() {
    let server = MockServer::start(MockConfig::default().audio_pacing(1.0)).unwrap();
    let mut c = connect(&server.url());
    c.ready(ga_session(false));
    c.append_audio(&vec![500i16; 24_00 - 1], 24_000, 20); // just under 100 ms
    c.send(json!({"type": "input_audio_buffer.commit"}));
    let err = c.until("error", T).pop().unwrap();
    assert_eq!(err["error"]["code"], "input_audio_buffer_commit_empty");
    c.append_audio(&[500i16; 10], 24_000, 20);
    c.send(json!({"type": "input_audio_buffer.commit"}));
    let committed = c.until("input_audio_buffer.committed", T);
    assert!(!committed.iter().any(|e| e["type"] == "error"));
    // Without turn detection, no response starts by itself.
    assert!(!c
        .drain(Duration::from_millis(150))
        .iter()
        .any(|e| e["type"] == "response.created"));

    c.send(json!({"type": "response.create"}));
    let created = c.until("response.created", T).pop().unwrap();
    c.send(json!({"type": "response.create", "event_id": "evt_again"}));
    let err = c.until("error", T).pop().unwrap();
    assert_eq!(
        err["error"]["code"],
        "conversation_already_has_active_response"
    );
    assert_eq!(err["error"]["event_id"], "evt_again");
    c.send(json!({"type": "response.cancel"}));
    let done = c.until("response.done", T).pop().unwrap();
    assert_eq!(done["response"]["id"], created["response"]["id"]);
    assert_eq!(done["response"]["status"], "cancelled");
    assert_eq!(
        done["response"]["status_details"]["reason"],
        "client_cancelled"
    );
    c.send(json!({"type": "response.cancel"}));
    assert_eq!(
        c.until("error", T).pop().unwrap()["error"]["code"],
        "response_cancel_not_active"
    );
}

#[test]
fn truncate_accepts_what_was_sent_and_refuses_more() {
    let server = MockServer::start(
        MockConfig::default().respond(ResponseSpec::synthetic_audio(1_000, "one two three four")),
    )
    .unwrap();
    let mut c = connect(&server.url());
    c.ready(ga_session(false));
    c.send(json!({"type": "response.create"}));
    let response = c.until("response.done", T);
    let item_id = response.last().unwrap()["response"]["output"][0]["id"].clone();
    c.send(json!({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 1500}));
    let err = c.until("error", T).pop().unwrap();
    assert_eq!(err["error"]["param"], "audio_end_ms");
    c.send(json!({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 500}));
    let truncated = c.until("conversation.item.truncated", T).pop().unwrap();
    assert_eq!(truncated["audio_end_ms"], 500);
    c.send(json!({"type": "conversation.item.retrieve", "item_id": item_id}));
    let item = c.until("conversation.item.retrieved", T).pop().unwrap();
    assert_eq!(item["item"]["content"][0]["transcript"], "one two");
    c.send(json!({"type": "conversation.item.truncate", "item_id": "item_missing", "content_index": 0, "audio_end_ms": 0}));
    assert_eq!(
        c.until("error", T).pop().unwrap()["error"]["param"],
        "item_id"
    );
}

#[test]
fn user_speech_interrupts_an_active_response() {
    let server = MockServer::start(
        MockConfig::default()
            .audio_pacing(1.0)
            .respond(ResponseSpec::synthetic_audio(5_000, "a long answer")),
    )
    .unwrap();
    let mut c = connect(&server.url());
    c.ready(ga_session(true));
    c.send(json!({"type": "response.create"}));
    c.until("response.output_audio.delta", T);
    c.append_audio(&utterance(600)[..24_000], 24_000, 20);
    let events = c.until("response.done", T);
    let done = events.last().unwrap();
    assert_eq!(done["response"]["status"], "cancelled");
    assert_eq!(
        done["response"]["status_details"]["reason"],
        "turn_detected"
    );
    assert_eq!(done["response"]["output"][0]["status"], "incomplete");
    let order = types(&events);
    let started = order
        .iter()
        .position(|t| t == "input_audio_buffer.speech_started")
        .expect("speech_started");
    let cancelled_part = order
        .iter()
        .position(|t| t == "response.content_part.done")
        .expect("part closed");
    assert!(started < cancelled_part, "{order:?}");
    assert!(audio_samples(&events) < 5 * 24_000);
}

#[test]
fn text_items_trigger_no_vad_and_text_modality_answers_in_text() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut c = connect(&server.url());
    let mut session = ga_session(true);
    session["output_modalities"] = json!(["text"]);
    c.ready(session);
    c.send(
        json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "hello"}]}}),
    );
    let events = c.until("conversation.item.done", T);
    assert_eq!(events[0]["item"]["content"][0]["text"], "hello");
    assert!(c.drain(Duration::from_millis(100)).is_empty());
    c.send(json!({"type": "response.create"}));
    let response = c.until("response.done", T);
    assert_eq!(audio_samples(&response), 0);
    let text = response
        .iter()
        .find(|e| e["type"] == "response.output_text.done")
        .expect("text done");
    assert_eq!(text["text"], "Sure, moving the cube.");
}

#[test]
fn malformed_input_gets_errors_and_the_session_continues() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut c = connect(&server.url());
    c.ready(ga_session(false));
    c.send_text("not json");
    assert_eq!(
        c.until("error", T).pop().unwrap()["error"]["code"],
        "invalid_json"
    );
    c.send(json!({"type": "input_audio_buffer.append", "audio": "@@@"}));
    assert_eq!(
        c.until("error", T).pop().unwrap()["error"]["param"],
        "audio"
    );
    c.send(json!({"type": "no.such.event"}));
    assert_eq!(c.until("error", T).pop().unwrap()["error"]["param"], "type");
    c.send(json!({"type": "output_audio_buffer.clear"}));
    c.until("error", T);
    c.send(json!({"type": "input_audio_buffer.clear"}));
    c.until("input_audio_buffer.cleared", T);
    assert_eq!(server.received().len(), 6);
    assert!(server.wait_for(T, |r| r
        .first()
        .is_some_and(|e| e["type"] == "session.update")));
    assert!(!server.wait_for(Duration::from_millis(20), |r| r.len() > 6));
    assert!(server.wait_for_sent(T, |s| s
        .iter()
        .any(|e| e["type"] == "input_audio_buffer.cleared")));
    assert_eq!(
        server.received_of_type("input_audio_buffer.append").len(),
        1
    );
}

#[test]
fn identity_fields_are_added_only_when_asked() {
    let plain = MockServer::start(MockConfig::default()).unwrap();
    let created = connect(&plain.url())
        .until("session.created", T)
        .pop()
        .unwrap();
    assert!(created["session"].get("id").is_none());
    let real = MockServer::start(MockConfig {
        session_identity_fields: true,
        ..MockConfig::default()
    })
    .unwrap();
    let created = connect(&real.url())
        .until("session.created", T)
        .pop()
        .unwrap();
    assert!(created["session"]["id"]
        .as_str()
        .unwrap()
        .starts_with("sess_"));
    assert_eq!(created["session"]["object"], "realtime.session");
}

#[test]
fn an_out_of_band_response_echoes_its_metadata_and_stays_out_of_the_conversation() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut c = connect(&server.url());
    c.ready(ga_session(false));
    c.send(
        json!({"type": "response.create", "response": {"conversation": "none",
        "metadata": {"topic": "mood"}, "output_modalities": ["text"]}}),
    );
    let events = c.until("response.done", T);
    let created = events
        .iter()
        .find(|e| e["type"] == "response.created")
        .unwrap();
    assert_eq!(created["response"]["metadata"], json!({"topic": "mood"}));
    assert_eq!(created["response"]["conversation_id"], Value::Null);
    let done = events.last().unwrap();
    assert_eq!(done["response"]["metadata"], json!({"topic": "mood"}));
    assert_eq!(done["response"]["output"].as_array().unwrap().len(), 1);
    assert!(
        !types(&events)
            .iter()
            .any(|t| t.starts_with("conversation.item")),
        "{:?}",
        types(&events)
    );
    // An in-conversation response has no metadata and its items join the conversation.
    c.send(json!({"type": "response.create", "response": {"output_modalities": ["text"]}}));
    let events = c.until("response.done", T);
    assert_eq!(events.last().unwrap()["response"]["metadata"], Value::Null);
    assert!(types(&events)
        .iter()
        .any(|t| t == "conversation.item.added"));
}
