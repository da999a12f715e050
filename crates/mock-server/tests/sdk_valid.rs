//! Every kind of event the mock sends in a scripted session must validate against the
//! official SDK's models (python3 + openai==3.54.0), with no keys outside them, and
//! against the embedded JSON Schema checked strictly in Rust.

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use rv_mock_server::{EventSchema, MockConfig, MockServer, ResponseSpec};
use serde_json::{json, Value};
use support::*;

const T: Duration = Duration::from_secs(5);

/// Drive a session that makes the server send every kind of event it knows.
fn scripted_session(server: &MockServer) {
    let mut c = connect(&server.url());
    c.ready(ga_session(true));
    // Voice turn with transcription and an audio answer.
    c.append_audio(&utterance(800), 24_000, 50);
    c.until("response.done", T);
    // Barge-in: a long answer interrupted by speech.
    c.send(json!({"type": "response.create"}));
    c.until("response.output_audio.delta", T);
    c.append_audio(&utterance(600), 24_000, 20);
    c.until("response.done", T);
    c.until("response.done", T); // the answer to the barge-in turn
                                 // Tool calls, their outputs, a follow-up.
    c.send(
        json!({"type": "session.update", "session": {"type": "realtime",
        "audio": {"input": {"turn_detection": null}}}}),
    );
    c.until("session.updated", T);
    c.send(json!({"type": "response.create"}));
    let calls = c.until("response.done", T);
    for done in calls
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.done")
    {
        c.send(
            json!({"type": "conversation.item.create", "item": {"type": "function_call_output",
            "call_id": done["call_id"], "output": "{\"ok\":true}"}}),
        );
        c.until("conversation.item.done", T);
    }
    c.send(json!({"type": "response.create"}));
    let answer = c.until("response.done", T);
    let item_id = answer.last().unwrap()["response"]["output"][0]["id"].clone();
    c.send(json!({"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": 200}));
    c.until("conversation.item.truncated", T);
    c.send(json!({"type": "conversation.item.retrieve", "item_id": item_id}));
    c.until("conversation.item.retrieved", T);
    c.send(json!({"type": "conversation.item.delete", "item_id": item_id}));
    c.until("conversation.item.deleted", T);
    // Text in, text out; a failed response; errors; clear.
    c.send(
        json!({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "hi"}]}}),
    );
    c.until("conversation.item.done", T);
    c.send(json!({"type": "response.create", "response": {"output_modalities": ["text"]}}));
    c.until("response.done", T);
    c.send(json!({"type": "response.create"}));
    c.until("response.done", T);
    c.send(
        json!({"type": "session.update", "session": {"type": "realtime", "modalities": ["audio"]}}),
    );
    c.until("error", T);
    c.send(json!({"type": "input_audio_buffer.clear"}));
    c.until("input_audio_buffer.cleared", T);
    c.send(json!({"type": "input_audio_buffer.commit"}));
    c.until("error", T);
    // Changing the kind of a nested setting replaces it: no server_vad key may survive.
    c.send(
        json!({"type": "session.update", "session": {"type": "realtime", "audio": {"input": {
        "turn_detection": {"type": "semantic_vad", "eagerness": "high"},
        "format": {"type": "audio/pcmu"}}}}}),
    );
    let updated = c.until("session.updated", T).pop().unwrap();
    assert_eq!(
        updated["session"]["audio"]["input"]["turn_detection"],
        json!({"type": "semantic_vad", "eagerness": "high"})
    );
    assert_eq!(
        updated["session"]["audio"]["input"]["format"],
        json!({"type": "audio/pcmu"})
    );
}

fn config() -> MockConfig {
    MockConfig::default()
        .user_transcript("Move the cube.")
        .respond(ResponseSpec::synthetic_audio(400, "Okay."))
        .respond(ResponseSpec::synthetic_audio(
            10_000,
            "A long answer that gets cut off.",
        ))
        .respond(ResponseSpec::synthetic_audio(300, "Yes?"))
        .respond(ResponseSpec::AudioThenToolCalls {
            pcm24k: rv_mock_server::audio::synthetic_voice(24_000, 300),
            transcript: "Moving it.".into(),
            calls: vec![
                ("move_cube".into(), r#"{"dx":1}"#.into()),
                ("move_cube".into(), "{not json".into()),
            ],
        })
        .respond(ResponseSpec::synthetic_audio(500, "Done."))
        .respond(ResponseSpec::synthetic_audio(200, "Hello in text."))
        .respond(ResponseSpec::Failed {
            code: "server_error".into(),
            message: "The model failed.".into(),
        })
        .audio_pacing(20.0)
}

const EXPECTED: &[&str] = &[
    "session.created",
    "session.updated",
    "error",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "input_audio_buffer.cleared",
    "conversation.item.added",
    "conversation.item.done",
    "conversation.item.truncated",
    "conversation.item.deleted",
    "conversation.item.retrieved",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
    "response.created",
    "response.done",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_audio.delta",
    "response.output_audio.done",
    "response.output_audio_transcript.delta",
    "response.output_audio_transcript.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "rate_limits.updated",
];

fn sent_by_scripted_session() -> (MockServer, Vec<Value>) {
    let server = MockServer::start(config()).unwrap();
    scripted_session(&server);
    let sent = server.sent();
    let kinds: BTreeSet<&str> = sent.iter().filter_map(|e| e["type"].as_str()).collect();
    for kind in EXPECTED {
        assert!(kinds.contains(kind), "the scripted session sent no {kind}");
    }
    let statuses: BTreeSet<&str> = sent
        .iter()
        .filter(|e| e["type"] == "response.done")
        .filter_map(|e| e["response"]["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["cancelled", "completed", "failed"])
    );
    (server, sent)
}

#[test]
fn every_sent_event_fits_the_embedded_schema_strictly() {
    let schema = EventSchema::server().expect("embedded schema");
    for event in sent_by_scripted_session().1 {
        if let Err(v) = schema.validate(&event) {
            panic!("{}: {} ({})\n{event}", event["type"], v.message, v.param);
        }
    }
}

#[test]
fn every_sent_event_validates_against_the_python_sdk() {
    let (server, sent) = sent_by_scripted_session();
    let dir = std::env::temp_dir().join(format!("rv-mock-sdk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sent.jsonl");
    server.write_sent_jsonl(&path).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/validate_sdk.py");
    let output = match Command::new("python3").arg(script).arg(&path).output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run python3 ({e}): install Python 3 and `pip install openai==3.54.0` to run this check"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(3) {
        panic!("python3 lacks the SDK: `pip install openai==3.54.0` ({stdout})");
    }
    assert!(
        output.status.success(),
        "SDK validation failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("checked {} events, 0 invalid", sent.len())),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
