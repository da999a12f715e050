//! Conformance of the protocol module against the official SDK (`openai==3.54.0`).
//!
//! Every client event the plugin can send is written to a JSON Lines file and checked by
//! `tools/validate_events.py`: pydantic in strict mode plus a walk that rejects any key the
//! SDK's model does not declare (the SDK accepts extras; the API does not). GA events are
//! checked against `openai.types.realtime`; beta-flavor events are never checked against
//! the GA models (they are a different schema) but against the preview models the same SDK
//! still ships (`openai.types.beta.realtime`). Hand-written server samples
//! (`tests/fixtures/`) are validated the same way and must parse with `parse_server_event`.
//!
//! Needs `python3` with the SDK: `pip install -r tools/requirements.txt`. Without it these
//! tests fail and say so; they never skip silently.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use realtime_voice::protocol::client::{
    self, conversation_item_delete, conversation_item_truncate, default_session,
    function_call_output, input_audio_append, input_audio_clear, input_audio_commit, merge_json,
    response_cancel, response_create, response_create_for, session_update, user_text_message,
    ProtocolFlavor,
};
use realtime_voice::protocol::server::{parse_server_event, ServerEvent};
use serde_json::{json, Value};

const INSTALL_HINT: &str = "pip install -r tools/requirements.txt";

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Writes `events` (one per line) to a fresh file under the target's test temp dir.
fn write_jsonl(name: &str, events: &[String]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let mut body = String::new();
    for event in events {
        assert!(!event.contains('\n'), "an event must be one line: {event}");
        body.push_str(event);
        body.push('\n');
    }
    std::fs::write(&path, body).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

/// The validator's verdict on one file.
struct Verdict {
    exit_code: i32,
    stdout: String,
    passed: usize,
    failed: usize,
}

/// Runs `python3 tools/validate_events.py --kind KIND FILE` (with extra interpreter flags
/// first). Panics, naming the fix, when the tool cannot run at all.
fn run_validator_with(python_flags: &[&str], kind: &str, file: &Path) -> (i32, String, String) {
    let output = Command::new("python3")
        .args(python_flags)
        .arg(repo_path("tools/validate_events.py"))
        .arg("--kind")
        .arg(kind)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}); the SDK conformance check needs Python 3 and `{INSTALL_HINT}`")
        });
    let code = output.status.code().unwrap_or(-1);
    (
        code,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn validate(kind: &str, file: &Path) -> Verdict {
    let (exit_code, stdout, stderr) = run_validator_with(&[], kind, file);
    assert!(
        exit_code == 0 || exit_code == 1,
        "the validator could not run (exit {exit_code}): {stderr}\nInstall the SDK: `{INSTALL_HINT}`"
    );
    let summary = stdout
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>();
    let (passed, failed) = match summary.as_slice() {
        [p, "passed,", f, "failed"] => (
            p.parse().expect("passed count"),
            f.parse().expect("failed count"),
        ),
        _ => panic!("no summary line in validator output:\n{stdout}\n{stderr}"),
    };
    Verdict {
        exit_code,
        stdout,
        passed,
        failed,
    }
}

/// Validates `events`; `context` says what the lines are, for the failure message.
fn assert_all_pass(kind: &str, name: &str, events: &[String], context: &str) {
    let file = write_jsonl(name, events);
    let verdict = validate(kind, &file);
    assert_eq!(
        (verdict.exit_code, verdict.passed, verdict.failed),
        (0, events.len(), 0),
        "events in {} do not conform ({kind}; {context}):\n{}",
        file.display(),
        verdict.stdout
    );
}

/// `session.update` for each of [`sessions`], and a note naming them by line.
fn session_updates(flavor: ProtocolFlavor) -> (Vec<String>, String) {
    let sessions = sessions(flavor);
    let labels: Vec<&str> = sessions.iter().map(|(label, _)| *label).collect();
    let events = sessions
        .iter()
        .map(|(_, session)| session_update(flavor, session))
        .collect();
    (
        events,
        format!("lines 1..={} are the sessions {labels:?}", labels.len()),
    )
}

fn tools() -> Value {
    json!([
        {"type": "function", "name": "move_cube",
         "description": "Move the cube by a distance in meters.",
         "parameters": {"type": "object",
                        "properties": {"dx": {"type": "number"}, "dy": {"type": "number"},
                                       "dz": {"type": "number"}},
                        "required": ["dx", "dy", "dz"]}},
        {"type": "function", "name": "get_color", "description": "The cube's color.",
         "parameters": {"type": "object", "properties": {}}}
    ])
}

/// The sessions a user can end up with: the defaults and the overrides of `docs/config.md`.
fn sessions(flavor: ProtocolFlavor) -> Vec<(&'static str, Value)> {
    let defaults = default_session(flavor, client::OPENAI_PCM_RATE);
    let with = |overlay: Value| {
        let mut session = defaults.clone();
        merge_json(&mut session, &overlay);
        session
    };
    vec![
        ("defaults", defaults.clone()),
        (
            "tools",
            with(json!({"tools": tools(), "tool_choice": "auto",
                        "instructions": "You control a cube. Be brief."})),
        ),
        (
            "transcription",
            with(json!({"audio": {"input": {"transcription":
                {"model": "gpt-4o-mini-transcribe", "language": "en", "prompt": "cube"}}}})),
        ),
        (
            "push-to-talk",
            with(json!({"audio": {"input": {"turn_detection": null}}})),
        ),
        (
            "semantic_vad",
            with(json!({"audio": {"input": {"turn_detection":
                {"type": "semantic_vad", "eagerness": "high", "create_response": true,
                 "interrupt_response": false}}}})),
        ),
        (
            "user overrides",
            with(json!({
                "instructions": "Speak like a pirate.",
                "max_output_tokens": 512,
                "audio": {"input": {"noise_reduction": {"type": "near_field"},
                                    "turn_detection": {"silence_duration_ms": 800,
                                                       "threshold": 0.6}},
                          "output": {"voice": "marin", "speed": 1.1}},
                "tools": tools(),
                "tool_choice": "required"
            })),
        ),
        (
            "text only, G.711 in",
            with(json!({"output_modalities": ["text"],
                        "audio": {"input": {"format": {"type": "audio/pcmu"}}}})),
        ),
    ]
}

/// The events of a session's life that do not depend on the flavor.
fn common_events() -> Vec<String> {
    let pcm: Vec<u8> = (0..960i16).flat_map(|i| (i * 31).to_le_bytes()).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pcm);
    vec![
        input_audio_append(&b64),
        input_audio_commit(),
        input_audio_clear(),
        response_cancel(None),
        response_cancel(Some("resp_CX1")),
        conversation_item_truncate("item_CX2", 0, 1840),
        conversation_item_delete("item_CX2"),
        function_call_output("call_CX3", r#"{"ok":true,"position":[1,0,0]}"#),
        function_call_output("call_CX4", r#"{"error":"cube is locked"}"#),
        user_text_message("Move the cube one meter up, please."),
    ]
}

#[test]
fn every_ga_client_event_conforms_to_the_sdk() {
    let (mut events, context) = session_updates(ProtocolFlavor::Ga);
    // A partial update (rv_update_session once ready): the builder adds the required type.
    events.push(session_update(
        ProtocolFlavor::Ga,
        &json!({"instructions": "Now be verbose.", "tools": []}),
    ));
    events.extend(common_events());
    events.push(response_create(None));
    events.push(response_create(Some(&json!({
        "instructions": "Greet the player.",
        "output_modalities": ["text"],
        "tool_choice": "none",
        "max_output_tokens": 200,
        "metadata": {"source": "unity"},
        "audio": {"output": {"voice": "alloy", "format": {"type": "audio/pcm", "rate": 24000}}},
        "conversation": "none",
        "input": [{"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": "Hi"}]}]
    }))));
    events.push(response_create_for(
        ProtocolFlavor::Ga,
        Some(&json!({"instructions": "Short."})),
    ));
    assert_all_pass("client", "ga_client_events.jsonl", &events, &context);
}

#[test]
fn beta_client_events_conform_to_the_preview_schema() {
    let (mut events, context) = session_updates(ProtocolFlavor::Beta);
    events.extend(common_events());
    events.push(response_create_for(ProtocolFlavor::Beta, None));
    events.push(response_create_for(
        ProtocolFlavor::Beta,
        Some(
            &json!({"instructions": "Greet the player.", "output_modalities": ["audio"],
                     "max_output_tokens": 200,
                     "audio": {"output": {"voice": "ash", "format": {"type": "audio/pcm"}}}}),
        ),
    ));
    assert_all_pass("beta-client", "beta_client_events.jsonl", &events, &context);

    // And they are not GA events: the GA schema must reject the beta session shape.
    let beta_session = session_update(ProtocolFlavor::Beta, &sessions(ProtocolFlavor::Beta)[0].1);
    let file = write_jsonl("beta_session_as_ga.jsonl", &[beta_session]);
    let verdict = validate("client", &file);
    assert_eq!(
        (verdict.exit_code, verdict.failed),
        (1, 1),
        "{}",
        verdict.stdout
    );
}

/// The GA event type a sample's variant reports, or `None` when the session does not
/// handle that type (it must then be `Other`).
fn handled_as(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "session.created" => "session.created",
        "session.updated" => "session.updated",
        "error" => "error",
        "rate_limits.updated" => "rate_limits.updated",
        "input_audio_buffer.speech_started" => "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped" => "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed" => "input_audio_buffer.committed",
        "input_audio_buffer.cleared" => "input_audio_buffer.cleared",
        "input_audio_buffer.timeout_triggered" => "input_audio_buffer.timeout_triggered",
        "conversation.item.added" | "conversation.item.created" => "conversation.item.added",
        "conversation.item.done" => "conversation.item.done",
        "conversation.item.truncated" => "conversation.item.truncated",
        "conversation.item.deleted" => "conversation.item.deleted",
        "conversation.item.retrieved" => "conversation.item.retrieved",
        "conversation.item.input_audio_transcription.delta" => {
            "conversation.item.input_audio_transcription.delta"
        }
        "conversation.item.input_audio_transcription.completed" => {
            "conversation.item.input_audio_transcription.completed"
        }
        "conversation.item.input_audio_transcription.failed" => {
            "conversation.item.input_audio_transcription.failed"
        }
        "response.created" => "response.created",
        "response.output_item.added" => "response.output_item.added",
        "response.output_item.done" => "response.output_item.done",
        "response.output_audio.delta" | "response.audio.delta" => "response.output_audio.delta",
        "response.output_audio.done" | "response.audio.done" => "response.output_audio.done",
        "response.output_audio_transcript.delta" | "response.audio_transcript.delta" => {
            "response.output_audio_transcript.delta"
        }
        "response.output_audio_transcript.done" | "response.audio_transcript.done" => {
            "response.output_audio_transcript.done"
        }
        "response.output_text.delta" | "response.text.delta" => "response.output_text.delta",
        "response.output_text.done" | "response.text.done" => "response.output_text.done",
        "response.function_call_arguments.delta" => "response.function_call_arguments.delta",
        "response.function_call_arguments.done" => "response.function_call_arguments.done",
        "response.done" => "response.done",
        _ => return None,
    })
}

/// Validates a fixture with the SDK, then parses every line and checks the variant.
fn check_server_fixture(kind: &str, fixture: &str) -> Vec<ServerEvent> {
    let path = repo_path(fixture);
    let text = std::fs::read_to_string(&path).expect("fixture readable");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 10, "{fixture} looks empty");
    let verdict = validate(kind, &path);
    assert_eq!(
        (verdict.exit_code, verdict.passed, verdict.failed),
        (0, lines.len(), 0),
        "{fixture} does not conform ({kind}):\n{}",
        verdict.stdout
    );
    lines
        .iter()
        .map(|line| {
            let raw: Value = serde_json::from_str(line).expect("fixture lines are JSON");
            let event_type = raw["type"].as_str().expect("fixture lines have a type");
            let event = parse_server_event(line)
                .unwrap_or_else(|e| panic!("{fixture}: {event_type} does not parse: {e}"));
            match handled_as(event_type) {
                Some(name) => assert_eq!(event.name(), name, "{fixture}: {event_type}"),
                None => assert_eq!(
                    event,
                    ServerEvent::Other {
                        event_type: event_type.to_owned()
                    }
                ),
            }
            event
        })
        .collect()
}

#[test]
fn ga_server_samples_conform_and_parse() {
    let events = check_server_fixture("server", "tests/fixtures/server_events_ga.jsonl");
    // The samples cover every type the session handles.
    let handled: Vec<&str> = events
        .iter()
        .filter(|e| !matches!(e, ServerEvent::Other { .. }))
        .map(ServerEvent::name)
        .collect();
    for needed in [
        "session.created",
        "error",
        "input_audio_buffer.speech_started",
        "conversation.item.added",
        "response.output_audio.delta",
        "response.output_audio_transcript.done",
        "response.function_call_arguments.done",
        "response.done",
    ] {
        assert!(handled.contains(&needed), "no sample for {needed}");
    }
    let calls: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::ResponseDone { function_calls, .. } => Some(function_calls),
            _ => None,
        })
        .flatten()
        .map(|c| c.call_id.as_str())
        .collect();
    assert_eq!(calls, ["call_001"]);
    let fatal: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Error(error) => Some(error.is_fatal()),
            _ => None,
        })
        .collect();
    assert_eq!(fatal, [false, true]);
}

#[test]
fn ga_server_samples_cover_every_server_event_type_of_the_sdk() {
    let output = Command::new("python3")
        .arg(repo_path("tools/validate_events.py"))
        .args(["--list-types", "--kind", "server"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); `{INSTALL_HINT}`"));
    assert!(
        output.status.success(),
        "the validator could not list types: {}\n`{INSTALL_HINT}`",
        String::from_utf8_lossy(&output.stderr)
    );
    let sdk_types = String::from_utf8_lossy(&output.stdout).into_owned();
    let sdk_types: Vec<&str> = sdk_types.lines().collect();
    assert!(
        sdk_types.len() >= 40,
        "suspiciously few types: {sdk_types:?}"
    );
    let fixture = std::fs::read_to_string(repo_path("tests/fixtures/server_events_ga.jsonl"))
        .expect("fixture readable");
    let sampled: Vec<String> = fixture
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["type"].as_str().map(str::to_owned))
        .collect();
    let missing: Vec<&&str> = sdk_types
        .iter()
        .filter(|t| !sampled.iter().any(|s| s == *t))
        .collect();
    assert!(
        missing.is_empty(),
        "no sample for {missing:?} (a new SDK release?)"
    );
}

#[test]
fn beta_server_samples_conform_and_parse_as_the_same_events() {
    let events = check_server_fixture("beta-server", "tests/fixtures/server_events_beta.jsonl");
    assert!(events
        .iter()
        .any(|e| matches!(e, ServerEvent::AudioDelta { delta, .. } if delta == "AAABAA==")));
    assert!(events.iter().any(|e| matches!(
        e,
        ServerEvent::SessionCreated { session_id: Some(id), .. } if id == "sess_001"
    )));
}

#[test]
fn the_validator_rejects_what_the_api_rejects() {
    let mut bad = vec![
        // Unknown top-level key.
        r#"{"type":"input_audio_buffer.commit","event_id":"e1","force":true}"#.to_owned(),
        // The beta `modalities` inside a GA session.
        r#"{"type":"session.update","session":{"type":"realtime","modalities":["text","audio"]}}"#
            .to_owned(),
        // Tools nested under "function" (the Chat Completions shape).
        r#"{"type":"session.update","session":{"type":"realtime","tools":[{"type":"function","function":{"name":"f"}}]}}"#
            .to_owned(),
        // A number given as a string.
        r#"{"type":"session.update","session":{"type":"realtime","audio":{"input":{"turn_detection":{"type":"server_vad","threshold":"0.5"}}}}}"#
            .to_owned(),
        // session.type is required.
        r#"{"type":"session.update","session":{"instructions":"hi"}}"#.to_owned(),
        // `temperature` is not a GA response parameter.
        r#"{"type":"response.create","response":{"temperature":0.8}}"#.to_owned(),
        // Required field missing.
        r#"{"type":"conversation.item.truncate","item_id":"i","content_index":0}"#.to_owned(),
        // Not an event type.
        r#"{"type":"response.audio.delta","response_id":"r","item_id":"i","delta":""}"#.to_owned(),
        // Not JSON.
        r#"{"type":"input_audio_buffer.commit""#.to_owned(),
    ];
    // 16000 Hz PCM is for other servers: the SDK's schema only has the literal 24000.
    bad.push(session_update(
        ProtocolFlavor::Ga,
        &default_session(ProtocolFlavor::Ga, 16_000),
    ));
    let file = write_jsonl("known_bad_client_events.jsonl", &bad);
    let verdict = validate("client", &file);
    assert_eq!(
        (verdict.exit_code, verdict.passed, verdict.failed),
        (1, 0, bad.len()),
        "{}",
        verdict.stdout
    );
    for line in 1..=bad.len() {
        assert!(
            verdict.stdout.contains(&format!("FAIL line {line} ")),
            "line {line} not reported:\n{}",
            verdict.stdout
        );
    }
    assert!(verdict.stdout.contains("unknown key"), "{}", verdict.stdout);
    assert!(
        verdict.stdout.contains("Input should be 24000"),
        "{}",
        verdict.stdout
    );

    // Server kind: an undeclared key in a server sample fails too.
    let server_bad =
        [r#"{"type":"input_audio_buffer.cleared","event_id":"e","extra":1}"#.to_owned()];
    let file = write_jsonl("known_bad_server_events.jsonl", &server_bad);
    let verdict = validate("server", &file);
    assert_eq!(
        (verdict.exit_code, verdict.failed),
        (1, 1),
        "{}",
        verdict.stdout
    );
}

#[test]
fn a_missing_sdk_is_a_failure_that_names_the_fix() {
    let file = write_jsonl("missing_sdk.jsonl", &[input_audio_commit()]);
    // `-S` hides site-packages, so the SDK cannot be imported.
    let (exit_code, stdout, stderr) = run_validator_with(&["-S"], "client", &file);
    assert_eq!(exit_code, 2, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains(INSTALL_HINT), "{stderr}");
    assert!(!stdout.contains("passed"), "{stdout}");
}
