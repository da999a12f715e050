//! Cost of the protocol work on the session worker's hot paths: building one
//! `input_audio_buffer.append` per mic chunk (from a borrowed base64, and in the base64's own
//! buffer as the mic path does), and parsing one `response.output_audio.delta`
//! per chunk of model audio.

use std::hint::black_box;

use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use realtime_voice::protocol::client::{
    base64_with_append_room, input_audio_append, input_audio_append_owned,
};
use realtime_voice::protocol::server::parse_server_event;

/// PCM16 bytes of `ms` milliseconds at 24 kHz mono.
fn pcm(ms: usize) -> Vec<u8> {
    (0..24 * ms)
        .flat_map(|i| (((i * 7919) % 65536) as i16).to_le_bytes())
        .collect()
}

fn audio_delta_event(ms: usize) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(pcm(ms));
    format!(
        r#"{{"type":"response.output_audio.delta","event_id":"event_1","response_id":"resp_1","item_id":"item_1","output_index":0,"content_index":0,"delta":"{b64}"}}"#
    )
}

fn bench_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("client_append");
    let chunk = pcm(40);
    group.throughput(Throughput::Bytes(chunk.len() as u64));
    group.bench_function("encode_then_append_40ms", |b| {
        b.iter(|| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(black_box(&chunk));
            input_audio_append(&b64)
        })
    });
    // The mic path: the capture encodes into a buffer with room for the event, the worker
    // builds the event in it.
    group.bench_function("encode_then_append_owned_40ms", |b| {
        b.iter(|| input_audio_append_owned(base64_with_append_room(black_box(&chunk))))
    });
    group.finish();
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("server_parse");
    for ms in [40usize, 1000] {
        let event = audio_delta_event(ms);
        group.throughput(Throughput::Bytes(event.len() as u64));
        group.bench_function(format!("audio_delta_{ms}ms"), |b| {
            b.iter(|| parse_server_event(black_box(&event)))
        });
    }
    let done = include_str!("../tests/fixtures/server_events_ga.jsonl")
        .lines()
        .find(|l| l.contains("\"type\":\"response.done\""))
        .unwrap_or_default();
    group.throughput(Throughput::Bytes(done.len() as u64));
    group.bench_function("response_done", |b| {
        b.iter(|| parse_server_event(black_box(done)))
    });
    group.finish();
}

criterion_group!(benches, bench_append, bench_parse);
criterion_main!(benches);
