//! The committed C header must be exactly what cbindgen generates from `src/ffi.rs`
//! (build.rs writes the generated one to `$OUT_DIR`; under CI it leaves `include/` alone).

#[test]
fn header_is_current() {
    let generated = std::fs::read_to_string(env!("RV_GENERATED_HEADER")).expect("generated header");
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/include/realtime_voice.h"
    ))
    .expect("include/realtime_voice.h is committed");
    assert!(
        !generated.is_empty(),
        "cbindgen failed to generate the header (see build warnings)"
    );
    assert!(
        generated == committed,
        "include/realtime_voice.h is stale: run `cargo build` outside CI and commit the header"
    );
}

#[test]
fn header_has_every_design_function() {
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/include/realtime_voice.h"
    ))
    .unwrap();
    for f in [
        "rv_version",
        "rv_last_error",
        "rv_session_create",
        "rv_session_connect",
        "rv_session_close",
        "rv_session_destroy",
        "rv_session_state",
        "rv_push_mic",
        "rv_pull_playback",
        "rv_poll_event",
        "rv_poll_tool_call",
        "rv_submit_tool_result",
        "rv_send_text",
        "rv_update_session",
        "rv_commit_audio",
        "rv_clear_audio",
        "rv_create_response",
        "rv_cancel_response",
        "rv_get_stats",
        "rv_push_output_mix",
        "rv_send_event",
        "rv_send_image",
        "rv_delete_item",
        "rv_get_mouth",
    ] {
        let declared =
            committed.contains(&format!(" {f}(")) || committed.contains(&format!("*{f}("));
        assert!(declared, "{f} missing from the header");
    }
    for c in [
        "RV_OK 0",
        "RV_EMPTY 1",
        "RV_ERR_INVALID_ARGUMENT -1",
        "RV_ERR_INVALID_HANDLE -2",
        "RV_ERR_BUFFER_TOO_SMALL -3",
        "RV_ERR_INVALID_CONFIG -4",
        "RV_ERR_INVALID_STATE -5",
        "RV_ERR_QUEUE_FULL -6",
        "RV_ERR_INTERNAL -7",
    ] {
        assert!(committed.contains(&format!("#define {c}")), "{c} missing");
    }
}
