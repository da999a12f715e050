//! The README's main job, end to end: `talk` against the embedded local server.

use realtime_voice::audio::wav;
use std::path::PathBuf;
use std::process::Command;

fn talk() -> Command {
    // target/<profile>/deps/talk_example-<hash> -> target/<profile>/examples/talk
    let exe = std::env::current_exe().unwrap();
    let bin: PathBuf = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("talk");
    assert!(bin.exists(), "the talk example was not built at {} (run `cargo test --all-targets`, or `cargo build --example talk` first)", bin.display());
    let mut c = Command::new(bin);
    c.env_remove("OPENAI_API_KEY");
    c
}

#[test]
fn talk_runs_a_whole_session_on_the_embedded_server() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("talk_reply.wav");
    let _ = std::fs::remove_file(&out);
    let output = talk()
        .args(["--out", out.to_str().unwrap(), "--timeout", "60"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "talk failed:\n{stdout}\n{stderr}");
    for want in [
        "local Realtime server at ws://127.0.0.1:",
        "[state] connecting",
        "[state] ready",
        "[vad] you started speaking",
        "you: Please move the cube one meter to the left.",
        "tool: move_cube({\"dx\":-1,\"dy\":0,\"dz\":0}) -> the cube is now at (-1.00, 0.00, 0.00)",
        "\nassistant: Sure. I moved the cube one meter to the left.\n",
        "[latency] ",
        "0 underruns",
        "cube at (-1.00, 0.00, 0.00)",
    ] {
        assert!(stdout.contains(want), "missing `{want}` in:\n{stdout}");
    }
    assert_eq!(
        stdout.matches("assistant: ").count(),
        1,
        "the caption is printed once:\n{stdout}"
    );

    // The reply WAV is the model's audio at 48 kHz stereo: as long as the fixture the
    // server spoke (trailing silence trimmed), and the same sound (envelopes correlate).
    let reply = wav::read_wav(&out).expect("reply WAV written");
    assert_eq!((reply.sample_rate, reply.channels), (48_000, 2));
    let spoken = wav::read_wav(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/assistant_reply_24k.wav"
    ))
    .unwrap();
    let reply_s = reply.frames() as f64 / 48_000.0;
    let spoken_s = spoken.frames() as f64 / 24_000.0;
    assert!(
        reply_s > spoken_s - 0.6 && reply_s <= spoken_s + 0.2,
        "reply {reply_s:.2} s vs spoken {spoken_s:.2} s"
    );
    let env = |x: &[f32], per: usize| -> Vec<f64> {
        x.chunks(per)
            .map(|c| {
                (c.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / c.len() as f64)
                    .sqrt()
            })
            .collect()
    };
    let a = env(&reply.to_mono(), 960); // 20 ms
    let b = env(&spoken.to_mono(), 480);
    let n = a.len().min(b.len());
    // Best correlation over a small lag range (prebuffer and resampler delay).
    let corr = |lag: usize| {
        let (x, y) = (&a[lag..n], &b[..n - lag]);
        let (mx, my) = (
            x.iter().sum::<f64>() / x.len() as f64,
            y.iter().sum::<f64>() / y.len() as f64,
        );
        let cov: f64 = x.iter().zip(y).map(|(p, q)| (p - mx) * (q - my)).sum();
        let vx: f64 = x.iter().map(|p| (p - mx).powi(2)).sum();
        let vy: f64 = y.iter().map(|q| (q - my).powi(2)).sum();
        cov / (vx * vy).sqrt()
    };
    let best = (0..10).map(corr).fold(f64::MIN, f64::max);
    assert!(best > 0.95, "reply envelope correlation {best:.3}");
}

#[test]
fn talk_errors_are_one_clear_line() {
    let output = talk()
        .args(["--mic", "/nonexistent/mic.wav"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot read the mic WAV /nonexistent/mic.wav"),
        "{stderr}"
    );

    let output = talk()
        .args(["--url", "ws://127.0.0.1:9/v1/realtime", "--timeout", "30"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot connect to 127.0.0.1:9"), "{stderr}");

    let output = talk().args(["--bogus"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown argument `--bogus`"));
}
