//! The conversation functions beyond text, through the C ABI against the local server:
//! `rv_send_event` sends any client event verbatim, `rv_send_image` a user message with an
//! image the official SDK's client-event model accepts, `rv_delete_item` a deletion the
//! server carries out; every bad input is a clear `RV_ERR_INVALID_ARGUMENT` with nothing
//! sent and the session unchanged.

mod support;

use realtime_voice::ffi::*;
use rv_mock_server::{MockConfig, MockServer};
use serde_json::json;
use std::ffi::CString;
use std::time::Duration;
use support::*;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
];

fn send_event(h: RvSession, json: &str) -> i32 {
    let c = CString::new(json).unwrap();
    unsafe { rv_send_event(h, c.as_ptr()) }
}

fn send_image(h: RvSession, data: &[u8], mime: &str, text: Option<&str>) -> i32 {
    let mime = CString::new(mime).unwrap();
    let text = text.map(|t| CString::new(t).unwrap());
    unsafe {
        rv_send_image(
            h,
            data.as_ptr(),
            data.len() as i32,
            mime.as_ptr(),
            text.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()),
        )
    }
}

/// Asserts `rc` is an argument error whose message says `why`, and that the server
/// received nothing new.
fn rejected(rc: i32, why: &str, server: &MockServer, before: usize) {
    assert_eq!(rc, RV_ERR_INVALID_ARGUMENT, "{why}");
    let msg = last_error();
    assert!(msg.contains(why), "{msg:?} should say {why:?}");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(server.received().len(), before, "nothing was sent");
}

#[test]
fn send_event_sends_any_typed_object_verbatim_and_rejects_the_rest() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let rv = ready(&server, "");
    let event = json!({"type": "conversation.item.create", "event_id": "evt_host_1",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "from the host"}]}});
    assert_eq!(
        send_event(rv.handle, &event.to_string()),
        RV_OK,
        "{}",
        last_error()
    );
    assert!(server.wait_for(T, |r| r.iter().any(|e| e["event_id"] == "evt_host_1")));
    let got = server.received_of_type("conversation.item.create");
    assert_eq!(got.last().unwrap(), &event, "sent as is");
    assert!(
        server.received_of_type("response.create").is_empty(),
        "no response"
    );
    let before = server.received().len();
    for (bad, why) in [
        ("[1, 2]", "a JSON object with a string \"type\""),
        (r#"{"item": {}}"#, "a JSON object with a string \"type\""),
        (r#"{"type": 5}"#, "a JSON object with a string \"type\""),
        (r#"{"type": ""}"#, "a JSON object with a string \"type\""),
        ("{not json", "not valid JSON"),
    ] {
        rejected(send_event(rv.handle, bad), why, &server, before);
    }
    rejected(
        unsafe { rv_send_event(rv.handle, std::ptr::null()) },
        "NULL",
        &server,
        before,
    );
    assert_eq!(rv.state(), RV_STATE_READY, "the session is unchanged");
    validate_with_sdk(
        "client",
        &server.received(),
        "send_event_client_events.jsonl",
    );
}

#[test]
fn send_image_adds_a_user_message_the_sdk_accepts_without_a_response() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let mut rv = ready(&server, r#""forward_server_events":true"#);
    assert_eq!(
        send_image(rv.handle, PNG, "image/png", Some("What do you see?")),
        RV_OK,
        "{}",
        last_error()
    );
    assert_eq!(send_image(rv.handle, JPEG, "image/jpeg", None), RV_OK);
    assert!(server.wait_for(T, |r| r
        .iter()
        .filter(|e| e["type"] == "conversation.item.create")
        .count()
        == 2));
    let items = server.received_of_type("conversation.item.create");
    let with_text = &items[0]["item"];
    assert_eq!(with_text["role"], "user");
    assert_eq!(with_text["content"][0]["type"], "input_text");
    assert_eq!(with_text["content"][0]["text"], "What do you see?");
    assert_eq!(with_text["content"][1]["type"], "input_image");
    use base64::Engine;
    let url = with_text["content"][1]["image_url"].as_str().unwrap();
    let b64 = url
        .strip_prefix("data:image/png;base64,")
        .expect("a data URL");
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
        PNG,
        "the bytes as given"
    );
    let alone = &items[1]["item"]["content"];
    assert_eq!(alone.as_array().unwrap().len(), 1);
    assert!(alone[0]["image_url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/jpeg;base64,"));
    assert!(server.received_of_type("response.create").is_empty());
    // The server took both items.
    rv.wait_event(T, |e| {
        e["type"] == "server_event" && e["event"]["type"] == "conversation.item.added"
    });
    assert!(server.sent_of_type("error").is_empty());
    validate_with_sdk(
        "client",
        &server.received(),
        "send_image_client_events.jsonl",
    );

    let before = server.received().len();
    rejected(
        send_image(rv.handle, JPEG, "image/png", None),
        "not a image/png",
        &server,
        before,
    );
    rejected(
        send_image(rv.handle, PNG, "image/jpeg", None),
        "not a image/jpeg",
        &server,
        before,
    );
    rejected(
        send_image(rv.handle, PNG, "image/gif", None),
        "unsupported image mime type",
        &server,
        before,
    );
    rejected(
        send_image(rv.handle, &PNG[..0], "image/png", None),
        "1 to 4194304 bytes",
        &server,
        before,
    );
    let mut big = PNG.to_vec();
    big.resize((4 << 20) + 1, 0);
    rejected(
        send_image(rv.handle, &big, "image/png", None),
        "1 to 4194304 bytes",
        &server,
        before,
    );
    let mime = CString::new("image/png").unwrap();
    rejected(
        unsafe {
            rv_send_image(
                rv.handle,
                std::ptr::null(),
                10,
                mime.as_ptr(),
                std::ptr::null(),
            )
        },
        "data is NULL",
        &server,
        before,
    );
    // At the limit itself: accepted.
    big.truncate(4 << 20);
    assert_eq!(send_image(rv.handle, &big, "image/png", None), RV_OK);
    assert!(server.wait_for(T, |r| r.len() > before));
    assert_eq!(rv.state(), RV_STATE_READY);
}

#[test]
fn delete_item_removes_an_item_on_the_server() {
    let server = MockServer::start(MockConfig::default()).unwrap();
    let rv = ready(&server, "");
    assert_eq!(send_image(rv.handle, PNG, "image/png", None), RV_OK);
    assert!(server.wait_for_sent(T, |s| s
        .iter()
        .any(|e| e["type"] == "conversation.item.added")));
    let added = server.sent_of_type("conversation.item.added");
    let id = added.last().unwrap()["item"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = CString::new(id.clone()).unwrap();
    assert_eq!(unsafe { rv_delete_item(rv.handle, c.as_ptr()) }, RV_OK);
    assert!(server.wait_for_sent(T, |s| s
        .iter()
        .any(|e| e["type"] == "conversation.item.deleted" && e["item_id"] == id.as_str())));
    let before = server.received().len();
    let empty = CString::new("").unwrap();
    rejected(
        unsafe { rv_delete_item(rv.handle, empty.as_ptr()) },
        "item_id is empty",
        &server,
        before,
    );
    rejected(
        unsafe { rv_delete_item(rv.handle, std::ptr::null()) },
        "NULL",
        &server,
        before,
    );
    validate_with_sdk(
        "client",
        &server.received(),
        "delete_item_client_events.jsonl",
    );
    // Stale handles are errors, never crashes.
    assert_eq!(
        unsafe { rv_delete_item(0, c.as_ptr()) },
        RV_ERR_INVALID_HANDLE
    );
}
