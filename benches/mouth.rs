//! Mouth speed: `cargo bench --bench mouth`.
//!
//! - `mouth/analyze_10ms`: the analysis of one 10 ms hop of 24 kHz speech (level, LPC
//!   formants, vowel weights), on the worker thread where model audio enters playback;
//! - `mouth/rv_get_mouth`: one read through the C ABI (handle lookup, sequence-lock read),
//!   what a Unity script pays every frame.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use realtime_voice::audio::mouth::{MouthAnalyzer, HOP_SAMPLES};
use realtime_voice::ffi::{rv_get_mouth, rv_session_create, rv_session_destroy, RvMouth, RV_OK};

/// A voiced, vowel-like signal: a 120 Hz pulse train through resonators at 700 and 1200 Hz.
fn vowel(n: usize) -> Vec<f32> {
    let res = |f: f32, bw: f32| {
        let r = (-std::f32::consts::PI * bw / 24_000.0).exp();
        (
            2.0 * r * (2.0 * std::f32::consts::PI * f / 24_000.0).cos(),
            -r * r,
        )
    };
    let ((c1, d1), (c2, d2)) = (res(700.0, 80.0), res(1_200.0, 100.0));
    let (mut a1, mut a2, mut b1, mut b2) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    (0..n)
        .map(|i| {
            let x = if i % 200 == 0 { 0.3 } else { 0.0 };
            let a = x + c1 * a1 + d1 * a2;
            a2 = a1;
            a1 = a;
            let b = a + c2 * b1 + d2 * b2;
            b2 = b1;
            b1 = b;
            0.05 * b
        })
        .collect()
}

fn bench_analysis(c: &mut Criterion) {
    let mut g = c.benchmark_group("mouth");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let speech = vowel(24_000);
    g.throughput(Throughput::Elements(HOP_SAMPLES as u64));
    g.bench_function("analyze_10ms", |b| {
        let mut a = MouthAnalyzer::new();
        let mut hops = speech.chunks_exact(HOP_SAMPLES).cycle();
        b.iter(|| {
            let mut level = 0.0;
            a.push(black_box(hops.next().unwrap()), &mut |_, s| level = s.level);
            black_box(level)
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("rv_get_mouth", |b| {
        let cfg = c"{\"url\":\"ws://127.0.0.1:9/\"}";
        let mut h = 0u64;
        assert_eq!(unsafe { rv_session_create(cfg.as_ptr(), &mut h) }, RV_OK);
        let mut m = RvMouth::default();
        b.iter(|| unsafe { rv_get_mouth(black_box(h), &mut m) });
        rv_session_destroy(h);
    });
    g.finish();
}

criterion_group!(benches, bench_analysis);
criterion_main!(benches);
