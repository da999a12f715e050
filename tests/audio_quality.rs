//! Resampling quality of both audio paths against analytic signals.
//!
//! Run with `cargo test --release --test audio_quality -- --nocapture` to see the figures.
//! Every SNR is measured at the output rate against the analytic signal, delayed by the
//! resampler's delay (found to a fraction of a frame by search around the reported value,
//! which is also checked), over the steady-state part of the output.

mod audio_support;

use audio_support::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use realtime_voice::audio::capture::CapturePipeline;
use realtime_voice::audio::playback::{playback_pipeline, PlaybackConfig};
use realtime_voice::audio::resample::StreamResampler;

fn resample_all(i: u32, o: u32, x: &[f32]) -> (Vec<f32>, f64) {
    let mut r = StreamResampler::new(i, o).unwrap();
    let mut y = Vec::new();
    r.process(x, &mut |b| y.extend_from_slice(b));
    (y, r.delay_output_frames())
}

/// Linear interpolation, implemented here only to compare against.
fn linear_resample(i: u32, o: u32, x: &[f32]) -> Vec<f32> {
    let step = i as f64 / o as f64;
    let n = ((x.len() - 1) as f64 / step) as usize;
    (0..n)
        .map(|k| {
            let p = k as f64 * step;
            let j = p as usize;
            let f = (p - j as f64) as f32;
            x[j] + (x[(j + 1).min(x.len() - 1)] - x[j]) * f
        })
        .collect()
}

/// Steady-state window: skip the filter's start-up and the last few ms.
fn window(len: usize, out_rate: u32) -> (usize, usize) {
    let margin = out_rate as usize / 50; // 20 ms
    (margin, len - margin)
}

#[test]
fn multitone_snr_f32_path_at_least_80_db() {
    println!("\n| pair | delay reported (frames) | delay measured | delay ms | SNR multitone (dB) | SNR sweep (dB) | linear interp SNR (dB) |");
    println!("|---|---|---|---|---|---|---|");
    for (i, o) in PAIRS {
        let nyq = i.min(o) as f64 / 2.0;
        let tones = Tones::spread(9, 0.9 * nyq, 0.9);
        let x = tones.render(i, i as usize / 2);
        let (y, reported) = resample_all(i, o, &x);
        let (from, to) = window(y.len(), o);
        let (measured, snr) = best_delay(&y, o, reported, from, to, &|t| tones.at(t));
        assert!(
            (measured - reported).abs() <= 0.05,
            "{i}->{o}: reported delay {reported} vs measured {measured}"
        );
        assert!(snr >= 80.0, "{i}->{o}: multitone SNR {snr:.1} dB < 80");

        let secs = 0.5;
        let top = 0.9 * nyq;
        let sweep = |t: f64| {
            if (0.0..secs).contains(&t) {
                sweep_at(t, 100.0, top, secs, 0.5)
            } else {
                0.0
            }
        };
        let xs: Vec<f32> = (0..(secs * i as f64) as usize)
            .map(|n| sweep(n as f64 / i as f64) as f32)
            .collect();
        let (ys, _) = resample_all(i, o, &xs);
        let (from_s, to_s) = window(ys.len(), o);
        let snr_sweep = snr_db(&ys, o, measured, from_s, to_s, &sweep);
        assert!(
            snr_sweep >= 80.0,
            "{i}->{o}: sweep SNR {snr_sweep:.1} dB < 80"
        );

        let yl = linear_resample(i, o, &x);
        let (from_l, to_l) = window(yl.len(), o);
        let (_, snr_lin) = best_delay(&yl, o, 0.0, from_l, to_l, &|t| tones.at(t));
        let lin = if i % o == 0 {
            // Integer decimation picks input samples exactly: perfect on passband tones,
            // but nothing stops aliasing. Report that instead.
            let f = 1.1 * o as f64 / 2.0;
            let t = Tones(vec![(f, 0.5, 0.0)]);
            let xt = t.render(i, i as usize / 4);
            let yt = linear_resample(i, o, &xt);
            let att = rms_db(&xt) - rms_db(&yt);
            assert!(
                att < 10.0,
                "linear decimation cannot stop aliasing ({att:.1} dB)"
            );
            format!("{snr_lin:.0} (exact samples) but a 1.1x-Nyquist tone aliases, attenuated {att:.1} dB")
        } else {
            assert!(
                snr_lin < snr - 20.0,
                "linear interpolation should be far worse ({snr_lin:.1} vs {snr:.1})"
            );
            format!("{snr_lin:.1}")
        };
        println!(
            "| {i} -> {o} | {reported:.2} | {measured:.2} | {:.2} | {snr:.1} | {snr_sweep:.1} | {lin} |",
            measured * 1000.0 / o as f64
        );
    }
}

#[test]
fn odd_rates_use_interpolated_phases_and_still_pass_80_db() {
    println!("\n| odd pair (interpolated sinc phases) | delay ms | SNR multitone (dB) |");
    println!("|---|---|---|");
    for (i, o) in [
        (47_999u32, 24_000u32),
        (24_000, 47_999),
        (96_000, 24_000),
        (11_025, 24_000),
    ] {
        let nyq = i.min(o) as f64 / 2.0;
        let tones = Tones::spread(9, 0.9 * nyq, 0.9);
        let x = tones.render(i, i as usize / 2);
        let (y, reported) = resample_all(i, o, &x);
        let (from, to) = window(y.len(), o);
        let (measured, snr) = best_delay(&y, o, reported, from, to, &|t| tones.at(t));
        println!(
            "| {i} -> {o} | {:.2} | {snr:.1} |",
            measured * 1000.0 / o as f64
        );
        assert!(
            (measured - reported).abs() <= 0.05,
            "{i}->{o}: delay {reported} vs {measured}"
        );
        assert!(snr >= 80.0, "{i}->{o}: SNR {snr:.1} dB");
    }
}

#[test]
fn tones_above_output_nyquist_are_attenuated_60_db() {
    println!("\n| pair | tone (x output Nyquist) | attenuation (dB) |");
    println!("|---|---|---|");
    for (i, o) in PAIRS.into_iter().filter(|(i, o)| o < i) {
        for rel in [1.02, 1.1, 1.5, 1.9] {
            let f = rel * o as f64 / 2.0;
            if f >= 0.98 * i as f64 / 2.0 {
                continue;
            }
            let t = Tones(vec![(f, 0.5, 0.0)]);
            let x = t.render(i, i as usize / 4);
            let (y, _) = resample_all(i, o, &x);
            let (from, to) = window(y.len(), o);
            let att = rms_db(&x[from..]) - rms_db(&y[from..to]);
            println!("| {i} -> {o} | {rel} ({f:.0} Hz) | {att:.1} |");
            assert!(
                att >= 60.0,
                "{i}->{o} tone {f} Hz attenuated only {att:.1} dB"
            );
        }
    }
}

/// Decode concatenated capture chunks to floats.
fn decode_chunks(chunks: &[String]) -> Vec<f32> {
    chunks
        .iter()
        .flat_map(|c| {
            STANDARD
                .decode(c)
                .unwrap()
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// SNR of the analytic signal itself quantized to PCM16 (the best any PCM16 output can do).
fn pcm16_limit(rate: u32, n: usize, f: &dyn Fn(f64) -> f64) -> f64 {
    let q: Vec<f32> = (0..n)
        .map(|k| ((f(k as f64 / rate as f64) * 32768.0).round() / 32768.0) as f32)
        .collect();
    snr_db(&q, rate, 0.0, 0, n, f)
}

#[test]
fn pcm16_paths_within_3_db_of_quantization_limit() {
    println!("\n| path | SNR (dB) | PCM16 limit (dB) |");
    println!("|---|---|---|");
    // -6 dBFS sine.
    let tone = Tones(vec![(997.0, 0.5, 0.1)]);
    for (i, wire) in [(48_000u32, 24_000u32), (44_100, 24_000), (48_000, 16_000)] {
        let mut cap = CapturePipeline::new(wire, 20).unwrap();
        let x = tone.render(i, i as usize);
        let stereo: Vec<f32> = x.iter().flat_map(|&v| [v, v]).collect();
        let mut chunks = Vec::new();
        cap.push(&stereo, 2, i, &mut |c| chunks.push(c.base64))
            .unwrap();
        let y = decode_chunks(&chunks);
        let (from, to) = window(y.len(), wire);
        let guess = cap.algorithmic_delay_ms() * wire as f64 / 1000.0;
        let (_, snr) = best_delay(&y, wire, guess, from, to, &|t| tone.at(t));
        let limit = pcm16_limit(wire, to - from, &|t| tone.at(t));
        println!("| capture {i} stereo -> PCM16 {wire} | {snr:.1} | {limit:.1} |");
        assert!(
            snr >= limit - 3.0,
            "capture {i}->{wire}: {snr:.1} vs limit {limit:.1}"
        );
    }
    for out_rate in [48_000u32, 44_100] {
        let (mut p, mut c) = playback_pipeline(PlaybackConfig {
            output_rate: out_rate,
            ..Default::default()
        })
        .unwrap();
        let pcm: Vec<i16> = tone
            .render(24_000, 24_000)
            .iter()
            .map(|&v| (v * 32768.0).round() as i16)
            .collect();
        let b64 = STANDARD.encode(
            pcm.iter()
                .flat_map(|s| s.to_le_bytes())
                .collect::<Vec<u8>>(),
        );
        p.push_base64("item", &b64).unwrap();
        p.end_item("item");
        let mut y = Vec::new();
        let mut buf = vec![0.0f32; 1024];
        for _ in 0..200 {
            p.pump();
            let n = c.pull(&mut buf, 1, out_rate);
            y.extend_from_slice(&buf[..n]);
        }
        let (from, to) = (
            out_rate as usize / 50,
            out_rate as usize - out_rate as usize / 50,
        );
        let guess = p.algorithmic_delay_ms() * out_rate as f64 / 1000.0;
        let (_, snr) = best_delay(&y, out_rate, guess, from, to, &|t| tone.at(t));
        // The input itself is PCM16: its quantization noise is the floor.
        let limit = pcm16_limit(24_000, 24_000, &|t| tone.at(t));
        println!("| playback PCM16 24000 -> {out_rate} f32 | {snr:.1} | {limit:.1} |");
        assert!(
            snr >= limit - 3.0,
            "playback ->{out_rate}: {snr:.1} vs limit {limit:.1}"
        );
    }
}

#[test]
fn capture_output_is_independent_of_push_sizes() {
    let tone = Tones::spread(5, 10_000.0, 0.8);
    for rate in [48_000u32, 44_100] {
        let x = tone.render(rate, rate as usize / 2);
        let stereo: Vec<f32> = x.iter().flat_map(|&v| [v, -v * 0.5]).collect();
        let run = |sizes: &mut dyn FnMut() -> usize| {
            let mut cap = CapturePipeline::new(24_000, 20).unwrap();
            let mut chunks = Vec::new();
            let mut pos = 0;
            while pos < x.len() {
                let n = sizes().clamp(1, x.len() - pos);
                cap.push(&stereo[2 * pos..2 * (pos + n)], 2, rate, &mut |c| {
                    chunks.push(c.base64)
                })
                .unwrap();
                pos += n;
            }
            cap.flush(&mut |c| chunks.push(c.base64));
            decode_chunks(&chunks)
        };
        let one_shot = run(&mut || usize::MAX);
        for seed in 1..=4u64 {
            let mut rng = Rng(seed * 7919);
            let chunked = run(&mut || match rng.below(3) {
                0 => 1 + rng.below(4),
                1 => 1 + rng.below(600),
                _ => 1 + rng.below(9000),
            });
            assert_eq!(one_shot.len(), chunked.len());
            assert!(
                one_shot == chunked,
                "capture output depends on push sizes (rate {rate}, seed {seed})"
            );
        }
    }
}

#[test]
fn playback_output_is_independent_of_push_and_pull_sizes() {
    let tone = Tones::spread(5, 10_000.0, 0.8);
    let pcm: Vec<i16> = tone
        .render(24_000, 12_000)
        .iter()
        .map(|&v| (v * 32768.0).round() as i16)
        .collect();
    let run = |push: &mut dyn FnMut() -> usize, pull: &mut dyn FnMut() -> usize| {
        let (mut p, mut c) = playback_pipeline(PlaybackConfig::default()).unwrap();
        let mut pos = 0;
        let mut y = Vec::new();
        let mut buf = vec![0.0f32; 2 * 4096];
        while pos < pcm.len() {
            let n = push().clamp(1, pcm.len() - pos);
            p.push_pcm16("a", &pcm[pos..pos + n]);
            pos += n;
        }
        p.end_item("a");
        for _ in 0..10_000 {
            p.pump();
            let frames = pull().clamp(1, 4096);
            let got = c.pull(&mut buf[..2 * frames], 2, 48_000);
            for f in 0..got {
                assert_eq!(buf[2 * f], buf[2 * f + 1], "mono copied to both channels");
                y.push(buf[2 * f]);
            }
            if !p.is_active() {
                break;
            }
        }
        y
    };
    let reference = run(&mut || usize::MAX, &mut || 1024);
    assert!(
        reference.len() >= 24_000,
        "all audio played: {}",
        reference.len()
    );
    for seed in 1..=4u64 {
        let mut rng = Rng(seed * 104_729);
        let mut rng2 = Rng(seed * 31);
        let y = run(&mut || 1 + rng.below(2000), &mut || 1 + rng2.below(1500));
        assert!(
            y == reference,
            "playback output depends on chunking (seed {seed})"
        );
    }
}

#[test]
fn sample_count_tracks_duration_without_drift_one_minute() {
    count_drift(60);
}

/// One hour of 44.1 kHz: `cargo test --release --test audio_quality -- --ignored`.
#[test]
#[ignore]
fn sample_count_tracks_duration_without_drift_one_hour() {
    count_drift(3600);
}

fn count_drift(secs: usize) {
    for rate in [44_100u32, 48_000] {
        let mut cap = CapturePipeline::new(24_000, 20).unwrap();
        let block = vec![0.25f32; rate as usize / 100 * 2]; // 10 ms stereo
        let mut out = 0usize;
        for _ in 0..secs * 100 {
            cap.push(&block, 2, rate, &mut |c| out += c.samples)
                .unwrap();
        }
        cap.flush(&mut |c| out += c.samples);
        let expected = secs * 24_000;
        // The flush adds the filter tail (delay) plus staging: a few ms, not growing.
        let extra = out as i64 - expected as i64;
        println!("{secs} s at {rate}: {out} samples, expected {expected}, difference {extra}");
        assert!((0..=240).contains(&extra), "{rate}: drift {extra} samples");
    }
}
