//! Echo-cancellation speed: `cargo bench --bench aec`.
//!
//! - `aec/process_10ms_24k`: `EchoCanceller::process` on 10 ms at the wire rate, in steady
//!   state (far end = the speech fixture, mic = its echo 60 ms later at -10 dB with a
//!   reflection and -60 dBFS noise; 3 s of warm-up before timing);
//! - `mic_path/push_10ms_48k_stereo_{aec_off,aec_on}`: one `rv_push_mic`'s worth of work
//!   (the session's mic path: downmix, resample, [align the far end, cancel], PCM16, base64)
//!   on 10 ms of 48 kHz stereo, while a device plays the fixture (pulled outside the timing).

#[path = "../tests/audio_support/echo.rs"]
mod echo;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use realtime_voice::audio::aec::EchoCanceller;
use realtime_voice::audio::capture::CapturePipeline;
use realtime_voice::audio::mic_path::MicPath;
use realtime_voice::audio::playback::{playback_pipeline, PlaybackConfig};
use realtime_voice::audio::wav::read_wav;

const WIRE: usize = 24_000;
const CALL: usize = WIRE / 100;

fn reply() -> Vec<f32> {
    let path = format!(
        "{}/fixtures/assistant_reply_24k.wav",
        env!("CARGO_MANIFEST_DIR")
    );
    read_wav(path).expect("the speech fixture").to_mono()
}

fn bench_process(c: &mut Criterion) {
    let mut g = c.benchmark_group("aec");
    g.measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(CALL as u64));
    g.bench_function("process_10ms_24k", |b| {
        let far: Vec<f32> = reply().repeat(4);
        let mic = echo::echo_of(&far, WIRE, 60, 11);
        let mut aec = EchoCanceller::new(WIRE as u32);
        let mut out = vec![0f32; CALL];
        let calls = far.len() / CALL;
        let mut k = 0usize;
        for _ in 0..300 {
            aec.process(&far[k * CALL..][..CALL], &mic[k * CALL..][..CALL], &mut out);
            k += 1;
        }
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                let at = (k % calls) * CALL;
                aec.process(
                    black_box(&far[at..at + CALL]),
                    black_box(&mic[at..at + CALL]),
                    black_box(&mut out),
                );
                k += 1;
            }
            t.elapsed()
        });
    });
    g.finish();
}

fn bench_mic_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("mic_path");
    g.measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(480));
    let pcm: Vec<i16> = reply().iter().map(|&s| (s * 32767.0) as i16).collect();
    for aec_on in [false, true] {
        let name = if aec_on { "aec_on" } else { "aec_off" };
        g.bench_function(format!("push_10ms_48k_stereo_{name}"), |b| {
            let (mut producer, mut consumer) = playback_pipeline(PlaybackConfig {
                output_rate: 48_000,
                prebuffer_ms: 0,
                max_hold_seconds: 30,
            })
            .unwrap();
            let capture = CapturePipeline::new(WIRE as u32, 20).unwrap();
            let mut path = if aec_on {
                MicPath::with_echo_cancellation(capture, consumer.reference_tap(1000), 500)
            } else {
                MicPath::new(capture)
            };
            // The device plays 10 ms per mic push (outside the timing); the mic hears it
            // 60 ms later at -10 dB. `history` keeps the last 100 ms the device played.
            let mut device = vec![0f32; 960];
            let mut history = vec![0f32; 4800];
            let mut mic = vec![0f32; 960];
            let mut sent = 0usize;
            let mut step = |path: &mut MicPath, timed: bool| -> Duration {
                if producer.stats().held_samples < 24_000 {
                    producer.push_pcm16("reply", &pcm);
                }
                producer.pump();
                consumer.pull(&mut device, 2, 48_000);
                history.drain(..480);
                history.extend(device.iter().step_by(2));
                for (i, frame) in mic.chunks_exact_mut(2).enumerate() {
                    frame.fill(history[history.len() - 480 - 2880 + i] * 0.316);
                }
                let t = Instant::now();
                path.push(black_box(&mic), 2, 48_000, &mut |chunk| {
                    sent += chunk.samples;
                })
                .unwrap();
                if timed {
                    t.elapsed()
                } else {
                    Duration::ZERO
                }
            };
            for _ in 0..300 {
                step(&mut path, false);
            }
            b.iter_custom(|iters| (0..iters).map(|_| step(&mut path, true)).sum());
        });
    }
    g.finish();
}

criterion_group!(benches, bench_process, bench_mic_path);
criterion_main!(benches);
