//! Audio-path speed: `cargo bench --bench audio`.
//!
//! - `playback/pull_1024_stereo`: one audio callback on the audio thread (target < 5 us);
//! - `capture/push_10ms_48k_stereo`: one mic push on the caller's thread (target < 50 us);
//! - `throughput/*`: one second of audio through a whole path; real-time multiple = 1 s /
//!   the time shown (target > 500x per core);
//! - `resample/*`: the resampler alone, per rate pair, one second of mono.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use realtime_voice::audio::capture::CapturePipeline;
use realtime_voice::audio::playback::{playback_pipeline, PlaybackConfig};
use realtime_voice::audio::resample::StreamResampler;

fn tone(rate: u32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin())
        .collect()
}

fn pcm_tone(n: usize) -> Vec<i16> {
    tone(24_000, n)
        .iter()
        .map(|&v| (v * 32767.0) as i16)
        .collect()
}

fn bench_pull(c: &mut Criterion) {
    let mut g = c.benchmark_group("playback");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for rate in [48_000u32, 44_100] {
        g.throughput(Throughput::Elements(1024));
        g.bench_function(format!("pull_1024_stereo_{rate}"), |b| {
            let (mut p, mut cons) = playback_pipeline(PlaybackConfig {
                output_rate: rate,
                ..Default::default()
            })
            .unwrap();
            let chunk = pcm_tone(24_000);
            let mut out = vec![0.0f32; 2048];
            // Time only the pull; keep the ring topped up outside the timed region.
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    if p.stats().held_samples < 12_000 {
                        p.push_pcm16("bench", &chunk);
                    }
                    p.pump();
                    let t = Instant::now();
                    black_box(cons.pull(black_box(&mut out), 2, rate));
                    total += t.elapsed();
                }
                total
            });
        });
    }
    g.finish();
}

fn bench_push(c: &mut Criterion) {
    let mut g = c.benchmark_group("capture");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for rate in [48_000u32, 44_100] {
        let frames = rate as usize / 100;
        let stereo: Vec<f32> = tone(rate, frames).iter().flat_map(|&v| [v, v]).collect();
        g.throughput(Throughput::Elements(frames as u64));
        g.bench_function(format!("push_10ms_{rate}_stereo"), |b| {
            let mut cap = CapturePipeline::new(24_000, 20).unwrap();
            let mut bytes = 0usize;
            b.iter(|| {
                cap.push(black_box(&stereo), 2, rate, &mut |chunk| {
                    bytes += chunk.base64.len()
                })
                .unwrap();
            });
            black_box(bytes);
        });
    }
    g.finish();
}

fn bench_throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("throughput");
    g.measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    // Capture: one second of 48 kHz stereo, pushed in 10 ms blocks, to base64 chunks.
    let stereo: Vec<f32> = tone(48_000, 48_000).iter().flat_map(|&v| [v, v]).collect();
    g.throughput(Throughput::Elements(48_000));
    g.bench_function("capture_1s_48k_stereo_to_24k_base64", |b| {
        let mut cap = CapturePipeline::new(24_000, 20).unwrap();
        b.iter(|| {
            let mut n = 0;
            for block in stereo.chunks(960) {
                cap.push(block, 2, 48_000, &mut |chunk| n += chunk.samples)
                    .unwrap();
            }
            black_box(n)
        });
    });
    // Playback: one second of 24 kHz PCM16 (base64 deltas of 100 ms) to 48 kHz stereo pulls.
    let pcm = pcm_tone(24_000);
    let deltas: Vec<String> = pcm
        .chunks(2400)
        .map(|d| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .encode(d.iter().flat_map(|s| s.to_le_bytes()).collect::<Vec<u8>>())
        })
        .collect();
    g.throughput(Throughput::Elements(48_000));
    g.bench_function("playback_1s_24k_base64_to_48k_stereo", |b| {
        let (mut p, mut cons) = playback_pipeline(PlaybackConfig::default()).unwrap();
        let mut out = vec![0.0f32; 2048];
        b.iter(|| {
            let mut n = 0;
            for d in &deltas {
                p.push_base64("bench", d).unwrap();
                while n < 48_000 && p.stats().buffered_ms > 0 {
                    p.pump();
                    let got = cons.pull(&mut out, 2, 48_000);
                    n += got;
                    if got == 0 {
                        break;
                    }
                }
            }
            p.end_item("bench");
            while p.is_active() {
                p.pump();
                n += cons.pull(&mut out, 2, 48_000);
            }
            black_box(n)
        });
    });
    g.finish();

    let mut g = c.benchmark_group("resample");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    for (i, o) in [
        (48_000u32, 24_000u32),
        (44_100, 24_000),
        (48_000, 16_000),
        (24_000, 48_000),
        (24_000, 44_100),
    ] {
        let x = tone(i, i as usize);
        g.throughput(Throughput::Elements(i as u64));
        g.bench_function(format!("{i}_to_{o}_1s_mono"), |b| {
            let mut r = StreamResampler::new(i, o).unwrap();
            b.iter(|| {
                let mut n = 0;
                r.process(black_box(&x), &mut |blk| n += blk.len());
                black_box(n)
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench_pull, bench_push, bench_throughput);
criterion_main!(benches);
