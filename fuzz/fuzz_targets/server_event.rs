#![no_main]
//! cargo-fuzz target `server_event` (see fuzz/targets_common.rs).

#[path = "../targets_common.rs"]
mod targets_common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets_common::server_event(data));
