//! The bodies of the fuzz targets, shared by cargo-fuzz (`fuzz/fuzz_targets/*.rs`, nightly)
//! and the bounded randomized test on stable (`tests/fuzz_smoke.rs`), so both exercise
//! exactly the same code. Each body must never panic, whatever the bytes.

use realtime_voice::audio::pcm::decode_base64_pcm16;
use realtime_voice::audio::playback::{playback_pipeline, PlaybackConfig};
use realtime_voice::config::SessionConfig;
use realtime_voice::ffi::{rv_session_create, rv_session_destroy, RV_OK};
use realtime_voice::protocol::server::parse_server_event;
use std::ffi::CString;

/// The config parser, directly and through the C ABI.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = SessionConfig::from_json(text) {
            // Whatever was accepted must be self-consistent.
            let _ = c.connect_url();
            assert!(c.output_channels >= 1 && c.input_sample_rate >= 8000);
        }
    }
    if let Ok(c) = CString::new(data.to_vec()) {
        let mut handle = 0u64;
        let rc = unsafe { rv_session_create(c.as_ptr(), &mut handle) };
        if rc == RV_OK {
            assert_ne!(handle, 0);
            assert_eq!(rv_session_destroy(handle), RV_OK);
        } else {
            assert_eq!(handle, 0);
        }
    }
}

/// The server-event parser: any text parses or fails cleanly; a failure message stays short.
pub fn server_event(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = parse_server_event(&text) {
        assert!(
            e.to_string().len() < 1024,
            "error messages quote little of the input"
        );
    }
}

/// The audio-delta decoder and the playback path behind it: decode, hold, pump, pull.
pub fn audio_delta(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut scratch = Vec::new();
    let mut out = Vec::new();
    match decode_base64_pcm16(&text, &mut scratch, &mut out) {
        Ok(n) => assert_eq!(n, out.len()),
        Err(_) => assert!(out.is_empty(), "a rejected delta leaves nothing behind"),
    }
    let rate = [48_000, 44_100, 16_000, 8_000][data.first().map_or(0, |b| (*b % 4) as usize)];
    let Ok((mut producer, mut consumer)) = playback_pipeline(PlaybackConfig {
        output_rate: rate,
        prebuffer_ms: 0,
        max_hold_seconds: 2,
    }) else {
        return;
    };
    let accepted = producer.push_base64("item_fuzz", &text).is_ok();
    producer.end_item("item_fuzz");
    let mut buf = vec![0f32; 512 * 2];
    let mut played = 0;
    for _ in 0..8 {
        producer.pump();
        played += consumer.pull(&mut buf, 2, rate);
        assert!(buf.iter().all(|s| s.is_finite() && s.abs() <= 1.5));
    }
    if !accepted {
        assert_eq!(played, 0, "nothing plays from a rejected delta");
    }
}
