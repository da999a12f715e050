#![no_main]
//! cargo-fuzz target `config` (see fuzz/targets_common.rs).

#[path = "../targets_common.rs"]
mod targets_common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| targets_common::config(data));
