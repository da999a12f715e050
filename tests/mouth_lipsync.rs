//! The mouth through the C ABI: sustained vowels (a, i, u, e, o) synthesized by four
//! espeak-ng voices are the model's reply from the local Realtime server; the test pulls
//! `rv_pull_playback` in device-sized callbacks (1024 stereo frames at 48 kHz) and reads
//! `rv_get_mouth` after every pull, as a Unity script does each frame.
//!
//! It checks that the strongest vowel weight names the vowel being played for at least
//! 80 % of the reads in the middle of each vowel (pooled over the voices; the confusion
//! matrix is printed), that silence reads level < 0.05 and sil >= 0.8, that the level
//! rises within one callback of the pull that first returns a vowel, that the weights
//! always sum to 1, and that `played_ms` counts the reply's audio.
//!
//! The espeak-ng clips are cached in the system temp dir (they never change).

mod support;

use realtime_voice::audio::resample::StreamResampler;
use realtime_voice::audio::wav::read_wav;
use realtime_voice::ffi::*;
use rv_mock_server::{MockConfig, MockServer, ResponseSpec};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{ready, T};

/// Two men's and two women's voices of five-vowel languages (espeak's English vowels are
/// English phonemes: its "a" is the vowel of "cat").
const VOICES: [&str; 4] = ["es", "de", "es+f3", "it+f2"];
const VOWELS: [&str; 5] = ["a", "i", "u", "e", "o"];
const VRM: [&str; 5] = ["aa", "ih", "ou", "ee", "oh"];
const RATE: usize = 48_000;
const CALLBACK: usize = 1024;
/// Silence before each vowel in the reply, ms (and after the last).
const GAP_MS: usize = 350;
/// Longest stretch of a vowel used, ms (espeak's sustained part).
const VOWEL_MS: usize = 700;

/// One espeak-ng vowel at 24 kHz: leading and trailing silence trimmed, at most
/// `VOWEL_MS` long, with a 15 ms fade-out (a cut would click), peak normalised to 0.5.
fn espeak_vowel(voice: &str, vowel: &str) -> Vec<f32> {
    let dir = std::env::temp_dir().join("rv-mouth-espeak");
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join(format!("{}_{vowel}.wav", voice.replace('+', "_")));
    if !path.exists() {
        // Tests run in parallel: each writes its own file, the first rename wins.
        let tmp = dir.join(format!(
            "{}.{}.{:?}.tmp.wav",
            voice.replace('+', "_"),
            std::process::id(),
            std::thread::current().id()
        ));
        let status = Command::new("espeak-ng")
            .args(["-v", voice, "-s", "60", "-w"])
            .arg(&tmp)
            .arg(format!("[[{vowel}:]]"))
            .status()
            .expect("espeak-ng is installed (tools/install-deps.sh)");
        assert!(status.success(), "espeak-ng {voice} {vowel}");
        if std::fs::rename(&tmp, &path).is_err() {
            assert!(path.exists(), "{} written", path.display());
        }
    }
    let wav = read_wav(&path).unwrap();
    let mono = wav.to_mono();
    let mut resampler = StreamResampler::new(wav.sample_rate, 24_000).unwrap();
    let mut x = Vec::new();
    resampler.process(&mono, &mut |b| x.extend_from_slice(b));
    let pad = vec![0.0; resampler.flush_input_len()];
    resampler.process(&pad, &mut |b| x.extend_from_slice(b));
    let loud = |i: usize| x[i].abs() > 0.01;
    let first = (0..x.len()).find(|&i| loud(i)).unwrap();
    let last = (0..x.len()).rev().find(|&i| loud(i)).unwrap();
    let end = (last + 1).min(first + VOWEL_MS * 24);
    let mut v = x[first..end].to_vec();
    let fade = 15 * 24;
    let n = v.len();
    for (k, s) in v[n - fade..].iter_mut().enumerate() {
        *s *= 1.0 - (k + 1) as f32 / fade as f32;
    }
    let peak = v.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    v.iter_mut().for_each(|s| *s *= 0.5 / peak);
    v
}

struct Read {
    /// Played frames (model audio, 48 kHz) handed out when the mouth was read.
    played: usize,
    mouth: RvMouth,
}

/// Stretches of the played stream above -40 dBFS per 10 ms, merging gaps under 150 ms.
fn voiced_segments(played: &[f32]) -> Vec<(usize, usize)> {
    let hop = RATE / 100;
    let mut segs: Vec<(usize, usize)> = Vec::new();
    for (k, f) in played.chunks(hop).enumerate() {
        let e = f.iter().map(|s| s * s).sum::<f32>() / f.len() as f32;
        if e < 1e-4 {
            continue;
        }
        let (a, b) = (k * hop, k * hop + f.len());
        match segs.last_mut() {
            Some(last) if a - last.1 < RATE * 150 / 1000 => last.1 = b,
            _ => segs.push((a, b)),
        }
    }
    segs
}

#[test]
fn the_mouth_follows_espeak_vowels_through_the_c_abi() {
    // The reply: for each voice, each vowel after a gap; then a last gap.
    let mut reply = Vec::new();
    let mut labels = Vec::new(); // (voice, vowel) per vowel, in order
    for (vi, voice) in VOICES.iter().enumerate() {
        for (wi, vowel) in VOWELS.iter().enumerate() {
            reply.extend(std::iter::repeat(0.0f32).take(GAP_MS * 24));
            reply.extend(espeak_vowel(voice, vowel));
            labels.push((vi, wi));
        }
    }
    reply.extend(std::iter::repeat(0.0f32).take(GAP_MS * 24));
    let reply_ms = reply.len() as i64 / 24;
    let pcm: Vec<i16> = reply
        .iter()
        .map(|&s| (s * 32767.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect();

    let server = MockServer::start(MockConfig::default().respond(ResponseSpec::Audio {
        pcm24k: pcm,
        transcript: "a i u e o".into(),
    }))
    .unwrap();
    let mut rv = ready(&server, r#""prebuffer_ms":400"#);
    assert_eq!(rv.send_text("say the vowels"), RV_OK);
    rv.wait_type(T, "response_started");

    // Pull at twice real time (the worker refills the ring every 10 ms; the 400 ms
    // prebuffer keeps it ahead) until the whole reply was handed out.
    let mut played: Vec<f32> = Vec::new();
    let mut pulls_end: Vec<usize> = Vec::new();
    let mut reads: Vec<Read> = Vec::new();
    let mut out = vec![0f32; CALLBACK * 2];
    let mut mouth = RvMouth::default();
    let started = Instant::now();
    let period = Duration::from_micros((CALLBACK as u64 * 1_000_000 / RATE as u64) / 2);
    let mut next = Instant::now();
    let mut idle_after_audio = 0;
    while started.elapsed() < Duration::from_secs(60) {
        let n = rv.pull(&mut out, 2, RATE as i32);
        assert!(n >= 0, "pull failed: {n}");
        if n > 0 {
            played.extend(out.chunks_exact(2).take(n as usize).map(|f| f[0]));
            idle_after_audio = 0;
        } else if !played.is_empty() {
            idle_after_audio += 1;
        }
        pulls_end.push(played.len());
        assert_eq!(unsafe { rv_get_mouth(rv.handle, &mut mouth) }, RV_OK);
        reads.push(Read {
            played: played.len(),
            mouth,
        });
        // The reply plus its tail was played, and nothing came for 0.3 s.
        if played.len() >= reply.len() * 2 && idle_after_audio > 30 {
            break;
        }
        next += period;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    assert!(
        played.len() >= reply.len() * 2,
        "the reply was played: {} of {} frames",
        played.len(),
        reply.len() * 2
    );

    // Weights sum to 1, always.
    for r in &reads {
        let m = r.mouth;
        let sum = m.sil + m.aa + m.ih + m.ou + m.ee + m.oh;
        assert!((sum - 1.0).abs() < 1e-3, "weights sum to {sum}: {m:?}");
        assert!((0.0..=1.0).contains(&m.level), "{m:?}");
    }

    let segs = voiced_segments(&played);
    assert_eq!(segs.len(), labels.len(), "vowels found in what was played");

    // Confusion over the middle 60 % of each vowel, pooled over voices.
    let mut confusion = [[0usize; 5]; 5];
    let mut per_voice = [[0usize; 2]; VOICES.len()];
    let mut min_per_vowel = [(0usize, 0usize); 5];
    for (&(a, b), &(voice, vowel)) in segs.iter().zip(&labels) {
        let len = b - a;
        let (lo, hi) = (a + len / 5, b - len / 5);
        for r in reads.iter().filter(|r| (lo..hi).contains(&r.played)) {
            let m = r.mouth;
            let w = [m.aa, m.ih, m.ou, m.ee, m.oh];
            let best = (0..5).max_by(|&x, &y| w[x].total_cmp(&w[y])).unwrap();
            confusion[vowel][best] += 1;
            per_voice[voice][0] += usize::from(best == vowel);
            per_voice[voice][1] += 1;
            min_per_vowel[vowel].0 += usize::from(best == vowel);
            min_per_vowel[vowel].1 += 1;
        }
    }
    println!("confusion (rows: vowel played, columns: strongest weight), reads in the middle of each vowel:");
    println!("        {}", VRM.map(|v| format!("{v:>5}")).join(""));
    for (i, row) in confusion.iter().enumerate() {
        let total: usize = row.iter().sum();
        println!(
            "  {:>4}  {}   {:5.1} %",
            VRM[i],
            row.map(|c| format!("{c:>5}")).join(""),
            100.0 * row[i] as f64 / total.max(1) as f64
        );
    }
    for (v, [right, total]) in per_voice.iter().enumerate() {
        println!(
            "  voice {:>6}: {right}/{total} ({:.1} %)",
            VOICES[v],
            100.0 * *right as f64 / (*total).max(1) as f64
        );
    }
    let right: usize = (0..5).map(|i| confusion[i][i]).sum();
    let total: usize = confusion.iter().flatten().sum();
    println!(
        "  pooled accuracy {right}/{total} ({:.1} %)",
        100.0 * right as f64 / total as f64
    );
    for (i, (r, t)) in min_per_vowel.iter().enumerate() {
        assert!(*t >= 10, "enough reads in the middle of {}: {t}", VRM[i]);
        assert!(
            *r * 10 >= *t * 8,
            "vowel {}: the strongest weight was right for {r}/{t} reads (< 80 %)",
            VRM[i]
        );
    }

    // Silence: the middle of each gap (after the release settles) is a closed mouth.
    let mut gap_reads = 0;
    let mut worst_level = 0.0f32;
    let mut worst_sil = 1.0f32;
    for w in segs.windows(2) {
        let (lo, hi) = (w[0].1 + RATE * 150 / 1000, w[1].0 - RATE * 30 / 1000);
        for r in reads.iter().filter(|r| (lo..hi).contains(&r.played)) {
            gap_reads += 1;
            worst_level = worst_level.max(r.mouth.level);
            worst_sil = worst_sil.min(r.mouth.sil);
        }
    }
    println!(
        "  silence: {gap_reads} reads, highest level {worst_level:.4}, lowest sil {worst_sil:.3}"
    );
    assert!(gap_reads > 50, "reads in silence: {gap_reads}");
    assert!(worst_level < 0.05, "level in silence {worst_level}");
    assert!(worst_sil >= 0.8, "sil in silence {worst_sil}");

    // Onset: the read after the pull that first returns a vowel's audio, or after the
    // next one, shows the level up.
    let mut lags = Vec::new();
    for &(a, _) in &segs {
        // The first loud sample: the pull whose handed-out span contains it.
        let onset = (a..a + RATE / 100)
            .find(|&i| played[i].abs() > 0.01)
            .unwrap_or(a);
        let k = pulls_end.iter().position(|&e| e > onset).unwrap();
        let lag = (0..=1).find(|d| reads.get(k + d).is_some_and(|r| r.mouth.level >= 0.1));
        assert!(
            lag.is_some(),
            "the level rose within one callback of the vowel's first pull (levels {:?})",
            reads[k..(k + 3).min(reads.len())]
                .iter()
                .map(|r| r.mouth.level)
                .collect::<Vec<_>>()
        );
        lags.push(lag.unwrap());
    }
    println!(
        "  onset: level >= 0.1 after the first pull for {}/{} vowels, after the next for the rest",
        lags.iter().filter(|&&l| l == 0).count(),
        lags.len()
    );

    // played_ms counts the reply's audio, never goes back within it, and ends at its length.
    let mut last = 0;
    for r in &reads {
        assert!(r.mouth.played_ms >= last, "played_ms went back");
        last = r.mouth.played_ms;
    }
    println!("  played_ms at the end {last}, reply {reply_ms} ms");
    assert!(
        (last - reply_ms).abs() <= 20,
        "played_ms {last} vs {reply_ms}"
    );
}

/// A barge-in (rv_cancel_response) closes the mouth and starts played_ms again.
#[test]
fn a_cancel_closes_the_mouth_and_resets_played_ms() {
    let vowel = espeak_vowel("es", "a");
    let mut reply = Vec::new();
    for _ in 0..6 {
        reply.extend_from_slice(&vowel);
    }
    let pcm: Vec<i16> = reply.iter().map(|&s| (s * 32767.0) as i16).collect();
    let server = MockServer::start(MockConfig::default().respond(ResponseSpec::Audio {
        pcm24k: pcm,
        transcript: "aaaa".into(),
    }))
    .unwrap();
    let mut rv = ready(&server, r#""prebuffer_ms":100"#);
    assert_eq!(rv.send_text("say a"), RV_OK);
    rv.wait_type(T, "response_started");
    let mut out = vec![0f32; CALLBACK * 2];
    let mut mouth = RvMouth::default();
    let t0 = Instant::now();
    // Play until the mouth is open and some audio was counted.
    loop {
        rv.pull(&mut out, 2, RATE as i32);
        unsafe { rv_get_mouth(rv.handle, &mut mouth) };
        if mouth.level > 0.3 && mouth.played_ms > 300 {
            break;
        }
        assert!(t0.elapsed() < T, "the mouth never opened: {mouth:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(mouth.aa > mouth.sil, "{mouth:?}");
    assert_eq!(rv_cancel_response(rv.handle), RV_OK);
    // The flush reaches the audio thread at the next pulls.
    let t1 = Instant::now();
    loop {
        rv.pull(&mut out, 2, RATE as i32);
        unsafe { rv_get_mouth(rv.handle, &mut mouth) };
        if mouth.played_ms == 0 {
            break;
        }
        assert!(t1.elapsed() < T, "played_ms never reset: {mouth:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..5 {
        rv.pull(&mut out, 2, RATE as i32);
    }
    unsafe { rv_get_mouth(rv.handle, &mut mouth) };
    assert_eq!(mouth.level, 0.0, "{mouth:?}");
    assert_eq!(mouth.sil, 1.0, "{mouth:?}");
    assert_eq!(mouth.played_ms, 0);
    // Bad arguments.
    assert_eq!(
        unsafe { rv_get_mouth(rv.handle, std::ptr::null_mut()) },
        RV_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        unsafe { rv_get_mouth(0, &mut mouth) },
        RV_ERR_INVALID_HANDLE
    );
}
