//! The offline canceller example `aec_wav` on files it could meet: an echo-only mic (stereo,
//! against a mono reference) comes out far quieter; a near end alone at 48 kHz with a silent
//! reference comes out untouched and aligned sample for sample; bad input is one error line.

#[path = "audio_support/echo.rs"]
mod echo;

use realtime_voice::audio::resample::StreamResampler;
use realtime_voice::audio::wav::{read_wav, write_wav_pcm16};
use std::path::PathBuf;
use std::process::Command;

const RATE: usize = 24_000;

fn aec_wav() -> Command {
    // target/<profile>/deps/aec_wav_example-<hash> -> target/<profile>/examples/aec_wav
    let exe = std::env::current_exe().unwrap();
    let bin: PathBuf = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("aec_wav");
    assert!(
        bin.exists(),
        "the aec_wav example was not built at {} (run `cargo build --example aec_wav` first)",
        bin.display()
    );
    Command::new(bin)
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn speech() -> Vec<f32> {
    read_wav(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/assistant_reply_24k.wav"
    ))
    .unwrap()
    .to_mono()
}

fn power(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len().max(1) as f64
}

fn db(p: f64) -> f64 {
    10.0 * p.max(1e-20).log10()
}

#[test]
fn echo_only_mic_comes_out_quieter_with_a_figures_csv() {
    // Two passes of the fixture: the canceller converges on the first.
    let far: Vec<f32> = speech().repeat(2);
    let mic = echo::echo_of(&far, RATE, 60, 5);
    let stereo: Vec<f32> = mic.iter().flat_map(|&s| [s, s]).collect();
    let (mic_path, ref_path, out_path, csv_path) = (
        tmp("aecwav_mic.wav"),
        tmp("aecwav_ref.wav"),
        tmp("aecwav_out.wav"),
        tmp("aecwav_blocks.csv"),
    );
    write_wav_pcm16(&mic_path, &stereo, 2, RATE as u32).unwrap();
    write_wav_pcm16(&ref_path, &far, 1, RATE as u32).unwrap();
    let output = aec_wav()
        .args(["--mic", mic_path.to_str().unwrap()])
        .args(["--ref", ref_path.to_str().unwrap()])
        .args(["--out", out_path.to_str().unwrap()])
        .args(["--csv", csv_path.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("us per 10 ms call"), "{stdout}");

    let out = read_wav(&out_path).unwrap();
    assert_eq!((out.sample_rate, out.channels), (RATE as u32, 1));
    assert_eq!(out.frames(), mic.len());
    let out = out.samples;
    // Second pass, where the far end plays (the echo over the noise).
    let half = far.len() / 2;
    let mut reduction = Vec::new();
    for w in (half..far.len()).step_by(RATE / 5) {
        let end = (w + RATE / 5).min(far.len());
        if db(power(&far[w..end])) > -40.0 {
            reduction.push(db(power(&mic[w..end])) - db(power(&out[w..end])));
        }
    }
    assert!(reduction.len() > 5, "too few active windows");
    let mean = reduction.iter().sum::<f64>() / reduction.len() as f64;
    assert!(mean >= 20.0, "echo reduced by only {mean:.1} dB");

    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("time_s,mic_dbfs,ref_dbfs,out_dbfs,delay_ms,erle_db,converged")
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), mic.len().div_ceil(RATE / 100));
    assert!(rows.iter().all(|r| r.len() == 7));
    assert!((rows[1][0] - 0.01).abs() < 1e-9);
    let tail = &rows[rows.len() * 3 / 4..];
    assert!(tail.iter().any(|r| r[6] == 1.0), "never converged");
    // The delay estimate finds the room's 60 ms (to a block of 5.3 ms, less the margin
    // the canceller keeps before the direct path).
    let last = rows.last().unwrap();
    assert!((0.0..=70.0).contains(&last[4]), "delay {}", last[4]);
}

#[test]
fn near_end_alone_passes_aligned_at_the_mic_rate() {
    // The near end at 48 kHz, reference silent: the output is the mic, sample for sample
    // (latency and both resamplers' delays compensated).
    let near24: Vec<f32> = speech().iter().map(|&s| s * 0.5).collect();
    let mut up = StreamResampler::new(24_000, 48_000).unwrap();
    let mut near = Vec::new();
    up.process(&near24, &mut |b| near.extend_from_slice(b));
    let (mic_path, ref_path, out_path) = (
        tmp("aecwav_near_mic.wav"),
        tmp("aecwav_near_ref.wav"),
        tmp("aecwav_near_out.wav"),
    );
    write_wav_pcm16(&mic_path, &near, 1, 48_000).unwrap();
    write_wav_pcm16(&ref_path, &vec![0.0; 24_000], 1, 24_000).unwrap();
    let output = aec_wav()
        .args(["--mic", mic_path.to_str().unwrap()])
        .args(["--ref", ref_path.to_str().unwrap()])
        .args(["--out", out_path.to_str().unwrap()])
        .arg("--vad")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The server's VAD hears the near end within 150 ms of its first loud 20 ms frame.
    let first_loud = near
        .chunks(960)
        .position(|c| db(power(c)) >= -40.0)
        .expect("a loud frame") as f64
        * 0.02;
    let started: Vec<f64> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("vad: speech_started at "))
        .map(|t| t.trim_end_matches(" s").parse().unwrap())
        .collect();
    assert!(!started.is_empty(), "no speech_started in:\n{stdout}");
    assert!(
        started[0] >= first_loud - 0.03 && started[0] <= first_loud + 0.15,
        "speech_started at {} s, first loud frame at {first_loud} s",
        started[0]
    );
    let out = read_wav(&out_path).unwrap();
    assert_eq!((out.sample_rate, out.frames()), (48_000, near.len()));
    let out = out.samples;
    let xcorr = |lag: isize| -> f64 {
        let mut s = 0.0;
        for (i, &o) in out.iter().enumerate() {
            let j = i as isize - lag;
            if j >= 0 && (j as usize) < near.len() {
                s += f64::from(o) * f64::from(near[j as usize]);
            }
        }
        s
    };
    let best = (-20..=20)
        .max_by(|&a, &b| xcorr(a).total_cmp(&xcorr(b)))
        .unwrap();
    assert_eq!(best, 0, "output is {best} samples off the mic");
    // Residual after the best scalar gain: the near end passes (>= 20 dB SNR, PCM16 and
    // two resamplings included).
    let skip = 4_800; // the resamplers' start-up
    let (o, n) = (&out[skip..], &near[skip..]);
    let g = o
        .iter()
        .zip(n)
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum::<f64>()
        / n.iter().map(|&b| f64::from(b) * f64::from(b)).sum::<f64>();
    let err: Vec<f32> = o.iter().zip(n).map(|(&a, &b)| a - (g as f32) * b).collect();
    let snr = db(power(n) * g * g) - db(power(&err));
    assert!(snr >= 20.0, "near end SNR {snr:.1} dB (gain {g:.3})");
    assert!((0.8..=1.1).contains(&g), "near end gain {g:.3}");
}

#[test]
fn bad_input_is_one_error_line() {
    let out = tmp("aecwav_never.wav");
    let garbage = tmp("aecwav_garbage.wav");
    std::fs::write(&garbage, b"not a wav file at all").unwrap();
    let ok_ref = tmp("aecwav_ok_ref.wav");
    write_wav_pcm16(&ok_ref, &[0.0; 240], 1, 24_000).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "--mic",
                "/nonexistent/mic.wav",
                "--ref",
                ok_ref.to_str().unwrap(),
            ],
            "error: the mic WAV /nonexistent/mic.wav",
        ),
        (
            vec![
                "--mic",
                ok_ref.to_str().unwrap(),
                "--ref",
                garbage.to_str().unwrap(),
            ],
            "error: the reference WAV",
        ),
        (
            vec![
                "--mic",
                ok_ref.to_str().unwrap(),
                "--ref",
                ok_ref.to_str().unwrap(),
                "--rate",
                "96000",
            ],
            "error: --rate 96000",
        ),
        (
            vec!["--ref", ok_ref.to_str().unwrap()],
            "error: --mic is required",
        ),
        (vec!["--bogus"], "error: unknown argument `--bogus`"),
    ];
    for (args, want) in cases {
        let output = aec_wav()
            .args(&args)
            .args(["--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with(want), "{args:?}: {stderr}");
    }
    assert!(!out.exists(), "no output is written on error");
}
