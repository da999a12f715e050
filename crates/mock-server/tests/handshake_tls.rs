//! The upgrade: credentials, refusals, the beta header, recorded headers, and wss:// with
//! the committed test CA.

mod support;

use std::time::Duration;

use rv_mock_server::{test_ca_certificate_pem, MockConfig, MockServer};
use serde_json::Value;
use support::*;

const T: Duration = Duration::from_secs(5);

fn trusting_connector() -> native_tls::TlsConnector {
    let ca =
        native_tls::Certificate::from_pem(test_ca_certificate_pem().as_bytes()).expect("CA pem");
    native_tls::TlsConnector::builder()
        .add_root_certificate(ca)
        .build()
        .expect("connector")
}

#[test]
fn wrong_or_missing_key_is_refused_with_401_and_a_json_error() {
    let server = MockServer::start(MockConfig::default().api_key("sk-test-123")).unwrap();
    let url = format!("{}?model=gpt-realtime-mini", server.url());
    match connect_with(&url, &[], None) {
        Err(ConnectError::Http(401, body)) => {
            let v: Value = serde_json::from_str(&body).expect("json body");
            assert_eq!(v["error"]["type"], "invalid_request_error");
        }
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
    match connect_with(&url, &[("authorization", "Bearer sk-wrong-9999")], None) {
        Err(ConnectError::Http(401, body)) => {
            assert!(body.contains("invalid_api_key"), "{body}");
            assert!(
                !body.contains("sk-wrong-9999"),
                "the key must be masked: {body}"
            );
        }
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
    assert_eq!(server.connection_count(), 0);
    let mut c =
        connect_with(&url, &[("authorization", "Bearer sk-test-123")], None).expect("bearer");
    let created = c.until("session.created", T).pop().unwrap();
    assert_eq!(created["session"]["model"], "gpt-realtime-mini");
    let mut azure =
        connect_with(&url, &[("api-key", "sk-test-123")], None).expect("api-key header");
    azure.until("session.created", T);
    assert_eq!(server.connection_count(), 2);
    let headers = server.handshake_headers();
    assert_eq!(headers.len(), 4);
    assert!(headers[3]
        .iter()
        .any(|(n, v)| n == "api-key" && v == "sk-test-123"));
    assert_eq!(server.models(), vec!["gpt-realtime-mini".to_string(); 2]);
}

#[test]
fn configured_rejections_answer_with_their_status_then_recover() {
    let mut config = MockConfig::default().reject_with(429);
    config.reject_count = Some(1);
    let server = MockServer::start(config).unwrap();
    match connect_with(&server.url(), &[], None) {
        Err(ConnectError::Http(429, body)) => {
            assert!(body.contains("rate_limit_exceeded"), "{body}")
        }
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
    connect(&server.url()).until("session.created", T);
    server.set_reject_with(Some(500));
    server.set_reject_with(None);
    connect(&server.url()).until("session.created", T);
    assert_eq!(server.connection_count(), 2);
}

#[test]
fn the_beta_header_is_answered_with_an_error_and_a_close() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut c =
        connect_with(&server.url(), &[("openai-beta", "realtime=v1")], None).expect("upgrade");
    let events = c.until("error", T);
    assert_eq!(events.len(), 1, "no session.created before the error");
    assert_eq!(events[0]["error"]["code"], "beta_api_shape_disabled");
    c.drain(Duration::from_millis(300));
    assert!(c.closed.is_some(), "the server closes after the error");
}

#[test]
fn allowed_beta_clients_get_the_beta_shape_and_event_names() {
    let server = MockServer::start(MockConfig::default().allow_beta(true)).unwrap();
    let mut c =
        connect_with(&server.url(), &[("openai-beta", "realtime=v1")], None).expect("upgrade");
    let created = c.until("session.created", T).pop().unwrap();
    assert_eq!(created["session"]["input_audio_format"], "pcm16");
    c.send(serde_json::json!({"type": "session.update", "session": {"modalities": ["text", "audio"],
        "voice": "verse", "turn_detection": null, "input_audio_transcription": {"model": "whisper-1"}}}));
    let updated = c.until("session.updated", T).pop().unwrap();
    assert_eq!(updated["session"]["voice"], "verse");
    c.send(serde_json::json!({"type": "response.create"}));
    let response = c.until("response.done", T);
    let kinds = types(&response);
    assert!(
        kinds.contains(&"response.audio.delta".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"response.audio_transcript.done".to_string()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"conversation.item.created".to_string()),
        "{kinds:?}"
    );
    assert!(
        !kinds.iter().any(|k| k.starts_with("response.output_audio")
            || k.starts_with("response.output_text")
            || k == "conversation.item.done"),
        "{kinds:?}"
    );
    assert_eq!(
        response.last().unwrap()["response"]["output"][0]["content"][0]["type"],
        "audio"
    );
    assert_eq!(
        response.last().unwrap()["response"]["audio"]["output"]["voice"],
        "verse"
    );
}

#[test]
fn auth_error_after_upgrade_sends_invalid_api_key_then_closes() {
    let server = MockServer::start(MockConfig::default().auth_error_after_upgrade(true)).unwrap();
    let mut c = connect(&server.url());
    let err = c.until("error", T).pop().unwrap();
    assert_eq!(err["error"]["code"], "invalid_api_key");
    c.drain(Duration::from_millis(300));
    assert_eq!(c.closed.as_ref().map(|c| c.0), Some(1008));
}

#[test]
fn wss_works_with_the_test_ca_and_fails_without_it() {
    let server = MockServer::start(MockConfig::default().tls(true)).unwrap();
    assert!(server.url().starts_with("wss://127.0.0.1:"));
    let mut c = connect_with(&server.url(), &[], Some(trusting_connector())).expect("TLS connect");
    c.ready(ga_session(false));
    c.send(serde_json::json!({"type": "response.create"}));
    let response = c.until("response.done", T);
    assert_eq!(audio_samples(&response), 36_000);

    let untrusting = native_tls::TlsConnector::new().expect("default connector");
    match connect_with(&server.url(), &[], Some(untrusting)) {
        Err(ConnectError::Other(_)) => {}
        other => panic!(
            "verification must fail without the CA, got {:?}",
            other.map(|_| ())
        ),
    }
    let localhost = server.url().replace("127.0.0.1", "localhost");
    let mut c = connect_with(&localhost, &[], Some(trusting_connector())).expect("localhost name");
    c.until("session.created", T);
}
