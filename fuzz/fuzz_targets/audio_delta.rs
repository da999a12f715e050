#![no_main]
//! cargo-fuzz target `audio_delta` (see fuzz/targets_common.rs).

#[path = "../targets_common.rs"]
mod targets_common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets_common::audio_delta(data));
