//! Proof that the real-time audio work does not touch the heap: a counting global allocator
//! counts heap operations made by this thread while only the code under test runs.
//! - `PlaybackConsumer::pull` (the audio thread's call) never allocates or frees, across
//!   every path (prebuffer wait, direct copy, mono/stereo/5.1 fan-out, underrun, barge-in
//!   flush, device-rate change with interpolation).
//! - The echo canceller runs on the mic thread every 10 ms: after warm-up
//!   `EchoCanceller::process` never allocates (speech-like far end and its echo, 10 ms
//!   calls), and the whole mic path with cancellation only makes and drops the base64
//!   `String` of each chunk sent.

#[path = "audio_support/echo.rs"]
mod echo;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use realtime_voice::audio::aec::EchoCanceller;
use realtime_voice::audio::capture::CapturePipeline;
use realtime_voice::audio::mic_path::MicPath;
use realtime_voice::audio::playback::{playback_pipeline, PlaybackConfig};

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static HEAP_OPS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = HEAP_OPS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        System.alloc_zeroed(layout)
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Run `f` with this thread's heap operations counted; returns how many happened.
fn count_heap_ops(f: impl FnOnce()) -> u64 {
    HEAP_OPS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    HEAP_OPS.with(|n| n.get())
}

fn tone(n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| ((i as f64 * 0.13).sin() * 8000.0) as i16)
        .collect()
}

#[test]
fn the_counter_works() {
    // A test that could fail: the allocator really counts this thread's allocations.
    let n = count_heap_ops(|| {
        let v: Vec<u8> = Vec::with_capacity(100);
        std::hint::black_box(v);
    });
    assert!(n >= 1);
}

#[test]
fn pull_never_allocates() {
    let (mut p, mut c) = playback_pipeline(PlaybackConfig::default()).unwrap();
    // The echo canceller's reference tap is on (its copy path and, never drained here,
    // its ring-full path run inside the count too).
    let tap = c.reference_tap(300);
    let mut buf = vec![0.0f32; 6 * 4096];
    let mut total_ops = 0;
    let mut carried = 0;
    let mut pull = |c: &mut realtime_voice::audio::playback::PlaybackConsumer,
                    frames: usize,
                    channels: usize,
                    rate: u32| {
        let out = &mut buf[..frames * channels];
        let mut got = 0;
        total_ops += count_heap_ops(|| got = c.pull(out, channels, rate));
        carried += got;
        got
    };

    // Silence before anything, prebuffer wait, odd sizes, zero channels.
    pull(&mut c, 512, 2, 48_000);
    pull(&mut c, 0, 2, 48_000);
    pull(&mut c, 7, 0, 48_000);
    p.push_pcm16("a", &tone(24 * 40));
    pull(&mut c, 256, 2, 48_000);
    // Playing: mono, stereo, 5.1, small and large callbacks.
    p.push_pcm16("a", &tone(24_000 * 2));
    for (i, &(frames, channels)) in [(1024, 2), (1, 1), (4096, 6), (333, 2), (2048, 1)]
        .iter()
        .cycle()
        .take(40)
        .enumerate()
    {
        p.pump();
        pull(&mut c, frames, channels, 48_000);
        if i == 20 {
            // Device rate change: interpolated stretch, then the new rate.
            for _ in 0..30 {
                p.pump();
                pull(&mut c, 441, 2, 44_100);
            }
        }
    }
    // Barge-in, then an underrun mid-item.
    p.interrupt();
    pull(&mut c, 1024, 2, 44_100);
    p.push_pcm16("b", &tone(24 * 120));
    for _ in 0..20 {
        p.pump();
        pull(&mut c, 1024, 2, 44_100);
    }
    p.end_item("b");
    for _ in 0..5 {
        p.pump();
        pull(&mut c, 1024, 2, 44_100);
    }
    let stats = p.stats();
    assert!(
        carried > 48_000,
        "the consumer really played audio ({carried} frames)"
    );
    assert!(stats.underruns >= 1, "the underrun path ran");
    assert!(
        stats.rate_changes >= 2,
        "the rate-change paths ran (there and back)"
    );
    assert!(
        tap.dropped() > 0,
        "the reference ring filled up and dropped"
    );
    assert_eq!(total_ops, 0, "pull touched the heap {total_ops} times");
}

/// Speech-like far end: harmonics of a gliding voice under a syllable envelope, with pauses.
fn speech_like(rate: usize, seconds: usize) -> Vec<f32> {
    (0..rate * seconds)
        .map(|i| {
            let t = i as f64 / rate as f64;
            let env = ((t * 3.7).fract() * std::f64::consts::PI).sin().powi(2)
                * if (t * 0.5).fract() < 0.8 { 1.0 } else { 0.0 };
            let f0 = 130.0 + 40.0 * (t * 2.1).sin();
            let v: f64 = (1..10)
                .map(|k| (t * f0 * k as f64 * std::f64::consts::TAU).sin() / k as f64)
                .sum();
            (v * env * 0.25) as f32
        })
        .collect()
}

#[test]
fn process_does_not_allocate_after_warm_up() {
    for rate in [24_000usize, 16_000] {
        let far = speech_like(rate, 10);
        let mic = echo::echo_of(&far, rate, 50, 3);
        let call = rate / 100;
        let mut aec = EchoCanceller::new(rate as u32);
        let mut out = vec![0f32; call];
        let warm_up = 4 * rate;
        for (f, m) in far[..warm_up].chunks(call).zip(mic[..warm_up].chunks(call)) {
            aec.process(f, m, &mut out);
        }
        let mut ops = 0;
        let mut cancelled = 0f64;
        for (f, m) in far[warm_up..].chunks(call).zip(mic[warm_up..].chunks(call)) {
            ops += count_heap_ops(|| aec.process(f, m, &mut out));
            cancelled += out.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
        }
        // The canceller really worked on the echo in the counted stretch.
        let echo: f64 = mic[warm_up..].iter().map(|&v| f64::from(v).powi(2)).sum();
        assert!(cancelled < echo, "{rate} Hz: no echo was removed");
        assert!(aec.stats().delay_ms >= 0, "{rate} Hz: {:?}", aec.stats());
        assert_eq!(
            ops, 0,
            "{rate} Hz: EchoCanceller::process touched the heap {ops} times in 6 s of 10 ms calls"
        );
    }
}

#[test]
fn the_mic_path_with_cancellation_allocates_only_the_chunks_it_sends() {
    let (mut producer, mut consumer) = playback_pipeline(PlaybackConfig {
        output_rate: 48_000,
        prebuffer_ms: 0,
        max_hold_seconds: 30,
    })
    .unwrap();
    let tap = consumer.reference_tap(1000);
    let mut path =
        MicPath::with_echo_cancellation(CapturePipeline::new(24_000, 20).unwrap(), tap, 500);
    let reply: Vec<i16> = speech_like(24_000, 10)
        .iter()
        .map(|&s| (s * 32767.0) as i16)
        .collect();
    producer.push_pcm16("item", &reply);
    producer.end_item("item");
    // The device takes 1024-frame callbacks, the mic pushes 10 ms; both at 48 kHz stereo,
    // the mic hearing the device's output 50 ms later at -10 dB.
    let mut device = vec![0f32; 2048];
    let mut played: Vec<f32> = vec![0.0; 2400];
    played.reserve(48_000 * 10);
    let mut mic = vec![0f32; 960];
    let (mut pulled, mut pushed) = (0usize, 0usize);
    let (mut ops, mut chunks) = (0u64, 0u64);
    while pushed < 48_000 * 8 {
        if pulled <= pushed + 480 {
            producer.pump();
            consumer.pull(&mut device, 2, 48_000);
            played.extend(device.iter().step_by(2));
            pulled += 1024;
            continue;
        }
        for (i, frame) in mic.chunks_exact_mut(2).enumerate() {
            let v = played[pushed + i] * 0.316;
            frame.fill(v);
        }
        let warm = pushed >= 48_000 * 3;
        let mut sent = 0u64;
        let n = count_heap_ops(|| {
            path.push(&mic, 2, 48_000, &mut |chunk| {
                sent += 1;
                drop(chunk);
            })
            .unwrap()
        });
        if warm {
            ops += n;
            chunks += sent;
        }
        pushed += 480;
    }
    assert!(chunks > 200, "chunks were sent ({chunks})");
    assert!(path.echo_stats().unwrap().delay_ms >= 0);
    assert_eq!(
        ops,
        2 * chunks,
        "one base64 String made and dropped per chunk sent, nothing else ({chunks} chunks)"
    );
}
