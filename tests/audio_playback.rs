//! Behaviour of the playback path: prebuffer, holding, caps, barge-in, played-ms accounting,
//! device-rate changes, bad input.

mod audio_support;

use audio_support::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use realtime_voice::audio::capture::CapturePipeline;
use realtime_voice::audio::playback::{
    playback_pipeline, PlaybackConfig, PlaybackConsumer, PlaybackProducer,
};

fn sine_pcm(freq: f64, samples: usize, amp: f64) -> Vec<i16> {
    (0..samples)
        .map(|i| {
            (amp * 32767.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / 24_000.0).sin()) as i16
        })
        .collect()
}

fn pipeline(rate: u32) -> (PlaybackProducer, PlaybackConsumer) {
    playback_pipeline(PlaybackConfig {
        output_rate: rate,
        ..Default::default()
    })
    .unwrap()
}

/// Pump and pull `frames`-sized stereo callbacks `calls` times; returns the mono signal
/// (left channel) and the total frames that carried model audio.
fn play(
    p: &mut PlaybackProducer,
    c: &mut PlaybackConsumer,
    calls: usize,
    frames: usize,
    rate: u32,
) -> (Vec<f32>, usize) {
    let mut buf = vec![0.0f32; frames * 2];
    let mut out = Vec::new();
    let mut carried = 0;
    for _ in 0..calls {
        p.pump();
        carried += c.pull(&mut buf, 2, rate);
        out.extend(buf.chunks_exact(2).map(|f| f[0]));
    }
    (out, carried)
}

#[test]
fn prebuffer_holds_until_80_ms_then_plays() {
    let (mut p, mut c) = pipeline(48_000);
    p.push_pcm16("a", &sine_pcm(440.0, 24 * 40, 0.5)); // 40 ms
    let (_, carried) = play(&mut p, &mut c, 5, 256, 48_000);
    assert_eq!(carried, 0, "below the prebuffer nothing plays");
    p.push_pcm16("a", &sine_pcm(440.0, 24 * 60, 0.5)); // 100 ms total
    let (_, carried) = play(&mut p, &mut c, 1, 256, 48_000);
    assert_eq!(carried, 256, "prebuffer met: a full callback of audio");
}

#[test]
fn sixty_second_burst_is_held_not_dropped() {
    let (mut p, mut c) = pipeline(48_000);
    let pcm = sine_pcm(440.0, 24_000 * 60, 0.5);
    for delta in pcm.chunks(2400) {
        let b64 = STANDARD.encode(
            delta
                .iter()
                .flat_map(|s| s.to_le_bytes())
                .collect::<Vec<u8>>(),
        );
        assert_eq!(p.push_base64("long", &b64).unwrap(), delta.len());
    }
    p.end_item("long");
    let stats = p.stats();
    assert_eq!(stats.overflow_samples, 0);
    assert!(
        stats.buffered_ms >= 59_900,
        "held: {} ms",
        stats.buffered_ms
    );
    let mut carried = 0;
    let mut buf = vec![0.0f32; 2048];
    while p.is_active() {
        p.pump();
        carried += c.pull(&mut buf, 2, 48_000);
    }
    let expected = 48_000 * 60;
    assert!(
        carried >= expected && carried <= expected + 48 * 10,
        "played {carried} frames for {expected} of audio"
    );
    assert_eq!(p.stats().underruns, 0);
    assert_eq!(p.stats().frames_out, carried as u64);
}

#[test]
fn hold_cap_drops_and_counts_the_excess() {
    let (mut p, _c) = playback_pipeline(PlaybackConfig {
        output_rate: 48_000,
        prebuffer_ms: 80,
        max_hold_seconds: 1,
    })
    .unwrap();
    let pcm = sine_pcm(440.0, 24_000 * 3, 0.5);
    let mut accepted = 0;
    for delta in pcm.chunks(4800) {
        accepted += p
            .push_base64(
                "x",
                &STANDARD.encode(
                    delta
                        .iter()
                        .flat_map(|s| s.to_le_bytes())
                        .collect::<Vec<u8>>(),
                ),
            )
            .unwrap();
    }
    let stats = p.stats();
    assert!(stats.overflow_samples > 0);
    assert_eq!(accepted as u64 + stats.overflow_samples, pcm.len() as u64);
    assert!(stats.held_samples <= 24_000);
}

#[test]
fn interrupt_flushes_at_the_next_pull_and_keeps_later_audio() {
    let (mut p, mut c) = pipeline(48_000);
    p.push_pcm16("a", &sine_pcm(440.0, 24_000 * 2, 0.5));
    let (_, carried) = play(&mut p, &mut c, 10, 480, 48_000);
    assert_eq!(carried, 4800);
    let cut = p.interrupt().expect("an item was playing");
    assert_eq!(cut.item_id, "a");
    let mut buf = vec![1.0f32; 960];
    let fade = 48 * realtime_voice::audio::playback::FADE_OUT_MS;
    assert_eq!(
        c.pull(&mut buf, 2, 48_000),
        fade,
        "only a short fade-out at the next pull"
    );
    assert!(buf[2 * fade..].iter().all(|&v| v == 0.0), "then silence");
    let last = buf[2 * fade - 2].abs();
    assert!(
        last < 0.5 / fade as f32 + 1e-6,
        "the fade ends near zero ({last})"
    );
    assert_eq!(c.pull(&mut buf, 2, 48_000), 0, "silence afterwards");
    assert!(buf.iter().all(|&v| v == 0.0));
    assert!(!p.is_active());
    assert_eq!(p.interrupt(), None, "nothing left to interrupt");
    // A new response after the barge-in plays normally.
    p.push_pcm16("b", &sine_pcm(440.0, 2400, 0.5));
    p.end_item("b");
    let (_, carried) = play(&mut p, &mut c, 20, 480, 48_000);
    assert!(carried >= 4800, "{carried}");
    assert_eq!(p.stats().flushes, 2);
}

#[test]
fn played_ms_counts_samples_handed_to_the_device() {
    for (rate, callback) in [(48_000u32, 1024usize), (44_100, 512), (24_000, 256)] {
        let (mut p, mut c) = pipeline(rate);
        p.push_pcm16("first", &sine_pcm(440.0, 24 * 300, 0.5));
        p.end_item("first");
        p.push_pcm16("second", &sine_pcm(440.0, 24_000 * 3, 0.5));
        let mut carried = 0;
        let mut buf = vec![0.0f32; callback * 2];
        for _ in 0..(rate as usize / callback) {
            // ~1 s
            p.pump();
            carried += c.pull(&mut buf, 2, rate);
        }
        let (id, ms) = p.playing_item().unwrap();
        let cut = p.interrupt().unwrap();
        assert_eq!(cut.item_id, "second");
        assert_eq!((id, ms), ("second".to_owned(), cut.played_ms));
        // Device time minus the first item (300 ms + its padding) and the filter delay.
        let heard_ms = carried as f64 * 1000.0 / rate as f64;
        let delay_ms = p.algorithmic_delay_ms();
        let pad_ms = (heard_ms - delay_ms) - 300.0 - cut.played_ms as f64;
        // The padding after the first item is the filter flush: a few ms, never more
        // than the filter length plus a staging chunk.
        assert!(
            (0.0..=2.0 * delay_ms + 3.0).contains(&pad_ms),
            "{rate}: heard {heard_ms:.1} ms, played_ms {} (pad {pad_ms:.2})",
            cut.played_ms
        );
    }
}

#[test]
fn played_ms_is_exact_for_a_single_item() {
    let (mut p, mut c) = pipeline(48_000);
    p.push_pcm16("only", &sine_pcm(440.0, 24_000 * 2, 0.5));
    let (_, carried) = play(&mut p, &mut c, 37, 480, 48_000);
    let cut = p.interrupt().unwrap();
    let expected = carried as f64 / 48.0 - p.algorithmic_delay_ms();
    assert!(
        (cut.played_ms as f64 - expected).abs() <= 0.51,
        "played_ms {} vs {expected:.2} from samples pulled (rounded to whole ms)",
        cut.played_ms
    );
}

#[test]
fn device_rate_change_is_at_the_right_pitch_within_100_ms() {
    for (from, to) in [
        (48_000u32, 44_100u32),
        (44_100, 48_000),
        (48_000, 16_000),
        (24_000, 96_000),
    ] {
        let (mut p, mut c) = pipeline(from);
        p.push_pcm16("a", &sine_pcm(1000.0, 24_000 * 3, 0.5));
        let (before, _) = play(&mut p, &mut c, from as usize / 512 / 2, 512, from);
        let f_before = estimate_frequency(&before[from as usize / 10..], from);
        assert!((f_before - 1000.0).abs() < 2.0, "before: {f_before}");
        let (after, carried) = play(&mut p, &mut c, to as usize / 256 / 2, 256, to);
        assert_eq!(carried, after.len(), "no gap after the change");
        let first_100ms = &after[..to as usize / 10];
        let f_early = estimate_frequency(first_100ms, to);
        let f_late = estimate_frequency(&after[to as usize / 10..], to);
        println!("{from} -> {to}: {f_before:.2} Hz before, {f_early:.2} Hz in the first 100 ms, {f_late:.2} Hz after");
        assert!(
            (f_early - 1000.0).abs() < 10.0,
            "{from}->{to} first 100 ms: {f_early}"
        );
        assert!(
            (f_late - 1000.0).abs() < 2.0,
            "{from}->{to} after: {f_late}"
        );
        assert_eq!(p.stats().output_rate, to);
        assert_eq!(p.stats().rate_changes, 1);
        assert_eq!(p.stats().underruns, 0);
    }
}

#[test]
fn bad_base64_and_odd_bytes_are_rejected_without_harm() {
    let (mut p, mut c) = pipeline(48_000);
    assert!(p.push_base64("a", "@@@ not base64").is_err());
    assert!(p.push_base64("a", &STANDARD.encode([1u8, 2, 3])).is_err());
    assert!(!p.is_active());
    assert_eq!(p.stats().buffered_ms, 0);
    let good = STANDARD.encode([0x10u8, 0x00].repeat(4800));
    assert_eq!(p.push_base64("a", &good).unwrap(), 4800);
    p.end_item("a");
    let (_, carried) = play(&mut p, &mut c, 10, 960, 48_000);
    assert!(carried >= 9600);
    assert_eq!(p.push_base64("a", "").unwrap(), 0, "empty delta is fine");
}

#[test]
fn underrun_is_counted_only_inside_an_item() {
    let (mut p, mut c) = pipeline(48_000);
    p.push_pcm16("a", &sine_pcm(440.0, 24 * 200, 0.5));
    play(&mut p, &mut c, 30, 480, 48_000); // 300 ms of callbacks for 200 ms of audio
    assert_eq!(p.stats().underruns, 1, "ran dry mid-item");
    p.push_pcm16("a", &sine_pcm(440.0, 24 * 100, 0.5));
    p.end_item("a");
    play(&mut p, &mut c, 50, 480, 48_000);
    assert_eq!(
        p.stats().underruns,
        1,
        "the end of an item is not an underrun"
    );
    assert!(!p.is_active());
}

#[test]
fn nan_microphone_input_is_scrubbed() {
    let mut cap = CapturePipeline::new(24_000, 20).unwrap();
    let mut x: Vec<f32> = (0..4800).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
    for i in (0..x.len()).step_by(7) {
        x[i] = f32::NAN;
    }
    x[100] = f32::INFINITY;
    x[200] = -1e30;
    let mut out = Vec::new();
    cap.to_wire(&x, 1, 48_000, &mut out).unwrap();
    assert!(!out.is_empty());
    assert!(out.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
}

#[test]
fn producer_and_consumer_on_two_threads_lose_nothing() {
    let pcm = sine_pcm(440.0, 24_000 * 2, 0.5);
    let reference = {
        let (mut p, mut c) = pipeline(48_000);
        p.push_pcm16("a", &pcm);
        p.end_item("a");
        let mut y = Vec::new();
        let mut buf = vec![0.0f32; 512];
        while p.is_active() {
            p.pump();
            let n = c.pull(&mut buf, 1, 48_000);
            y.extend_from_slice(&buf[..n]);
        }
        y
    };
    let (mut p, mut c) = pipeline(48_000);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done2 = done.clone();
    let consumer = std::thread::spawn(move || {
        let mut y = Vec::new();
        let mut buf = vec![0.0f32; 512];
        loop {
            let n = c.pull(&mut buf, 1, 48_000);
            y.extend_from_slice(&buf[..n]);
            if n == 0 {
                if done2.load(std::sync::atomic::Ordering::Acquire) {
                    break;
                }
                std::thread::yield_now();
            }
        }
        y
    });
    for delta in pcm.chunks(1200) {
        p.push_pcm16("a", delta);
    }
    p.end_item("a");
    while p.is_active() {
        p.pump();
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let y = consumer.join().unwrap();
    assert_eq!(y.len(), reference.len());
    assert!(
        y == reference,
        "threaded playback differs from the reference"
    );
}

#[test]
fn played_ms_stays_accurate_across_a_rate_change() {
    let (mut p, mut c) = pipeline(48_000);
    p.push_pcm16("a", &sine_pcm(1000.0, 24_000 * 3, 0.5));
    let delay_ms = p.algorithmic_delay_ms();
    let (_, before) = play(&mut p, &mut c, 40, 480, 48_000);
    let (_, after) = play(&mut p, &mut c, 50, 441, 44_100);
    let device_ms = before as f64 / 48.0 + after as f64 / 44.1;
    let cut = p.interrupt().unwrap();
    let expected = device_ms - delay_ms;
    assert!(
        (cut.played_ms as f64 - expected).abs() <= 1.5,
        "played_ms {} vs {expected:.2} of device time",
        cut.played_ms
    );
}

#[test]
fn random_operations_never_panic_and_always_fill_the_buffer() {
    for seed in 1..=3u64 {
        let mut rng = Rng(seed * 0x9E37_79B9);
        let rates = [
            8_000u32, 16_000, 22_050, 24_000, 44_100, 48_000, 96_000, 192_000, 0, 7,
        ];
        let (mut p, mut c) = playback_pipeline(PlaybackConfig {
            output_rate: 48_000,
            prebuffer_ms: rng.below(200) as u32,
            max_hold_seconds: 1 + rng.below(3) as u32,
        })
        .unwrap();
        let mut buf = vec![9.0f32; 8 * 2048];
        let mut rate = 48_000;
        let items = ["a", "b", "c"];
        for _ in 0..1500 {
            match rng.below(10) {
                0 | 1 => {
                    let n = rng.below(5000);
                    p.push_pcm16(items[rng.below(3)], &sine_pcm(440.0, n, 0.5));
                }
                2 => {
                    let junk: String = (0..rng.below(40))
                        .map(|_| char::from(b"AB=/+!x\n"[rng.below(8)]))
                        .collect();
                    let _ = p.push_base64(items[rng.below(3)], &junk);
                }
                3 => p.end_item(items[rng.below(3)]),
                4 => {
                    if let Some(cut) = p.interrupt() {
                        assert!(items.contains(&cut.item_id.as_str()));
                    }
                }
                5 => rate = rates[rng.below(rates.len())],
                _ => {
                    p.pump();
                    let channels = rng.below(9);
                    let len = rng.below(buf.len());
                    buf[..len].fill(9.0);
                    let got = c.pull(&mut buf[..len], channels, rate);
                    let frames = len.checked_div(channels).unwrap_or(0);
                    assert!(got <= frames);
                    assert!(buf[..len].iter().all(|v| v.is_finite() && v.abs() <= 1.0));
                }
            }
            let _ = p.stats();
            let _ = p.playing_item();
        }
    }
}
