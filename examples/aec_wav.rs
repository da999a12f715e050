//! `cargo run --release --example aec_wav -- --mic mic.wav --ref ref.wav --out out.wav
//! [--csv blocks.csv] [--rate 24000] [--linear-only]`
//!
//! Runs the echo canceller offline on two WAV files: `--mic` (what the microphone heard) and
//! `--ref` (what the speakers played, the far end). Either file may have any rate and channel
//! count: channels are averaged, and both are resampled to the canceller's rate (`--rate`,
//! 8-48 kHz, default the wire rate 24 kHz) with the plugin's own resampler. The canceller runs
//! in 10 ms calls, as the session's mic thread runs it.
//!
//! `--out` gets the canceller's output at the mic file's rate and length, mono PCM16, aligned
//! sample for sample with the mic: the canceller's latency and both resamplers' group delays
//! are taken out, so `out[n]` is what became of `mic[n]`. A reference shorter than the mic is
//! padded with silence.
//!
//! `--csv` gets one line per 10 ms call: `time_s` (start of the call in the mic's time),
//! `mic_dbfs`, `ref_dbfs`, `out_dbfs` (RMS over that call's 10 ms at the canceller rate,
//! relative to a full-scale square wave, floored at -120), and the canceller's figures after
//! the call (`delay_ms`, `erle_db`, `converged` as 0/1).
//!
//! `--linear-only` turns the residual suppressor off (the linear filter's output alone).
//!
//! `--vad` runs the local Realtime server's speech detector (the mock server's energy VAD
//! with its `server_vad` defaults: -40 dBFS, 60 ms onset, 500 ms silence; `--vad-dbfs` sets
//! the threshold) over the output as PCM16 at the canceller rate, what the server would
//! hear, and prints each `vad: speech_started at T s` / `vad: speech_stopped at T s` (T in
//! the mic's time), so a run shows whether the server would take the echo for the user and
//! how soon it hears the user interrupt.
//!
//! On stdout, a summary: duration, wall time per 10 ms call (median, mean and worst), last
//! figures.
//! Bad input gives one `error: ...` line on stderr and exit status 1.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use realtime_voice::audio::aec::{AecStats, EchoCanceller};
use realtime_voice::audio::pcm::f32_to_i16;
use realtime_voice::audio::resample::StreamResampler;
use realtime_voice::audio::wav::{read_wav, write_wav_pcm16};
use realtime_voice::audio::MODEL_AUDIO_RATE;
use rv_mock_server::audio::{Vad, VadEvent};

/// The canceller rates accepted (the canceller clamps to this range; refusing beats clamping).
const RATES: std::ops::RangeInclusive<u32> = 8_000..=48_000;
/// The length of one call, as the session's mic thread makes them.
const CALL_MS: u32 = 10;
/// Silence level reported for an all-zero block.
const FLOOR_DBFS: f64 = -120.0;
/// The local server's `server_vad` defaults (threshold 0.5 is -40 dBFS there).
const VAD_DBFS: f32 = -40.0;
const VAD_ONSET_MS: u32 = 60;
const VAD_SILENCE_MS: u32 = 500;

const USAGE: &str = "usage: aec_wav --mic MIC.wav --ref REF.wav --out OUT.wav [--csv BLOCKS.csv] [--rate HZ] [--linear-only] [--vad] [--vad-dbfs DBFS]";

struct Args {
    mic: String,
    reference: String,
    out: String,
    csv: Option<String>,
    rate: u32,
    linear_only: bool,
    vad: Option<f32>,
}

fn parse_args() -> Result<Args, String> {
    let mut mic = None;
    let mut reference = None;
    let mut out = None;
    let mut csv = None;
    let mut rate = MODEL_AUDIO_RATE;
    let mut linear_only = false;
    let mut vad = false;
    let mut vad_dbfs = VAD_DBFS;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--mic" => mic = Some(value("--mic")?),
            "--ref" => reference = Some(value("--ref")?),
            "--out" => out = Some(value("--out")?),
            "--csv" => csv = Some(value("--csv")?),
            "--rate" => {
                let v = value("--rate")?;
                rate = v
                    .parse()
                    .ok()
                    .filter(|r| RATES.contains(r))
                    .ok_or_else(|| {
                        format!(
                            "--rate {v}: the canceller runs at {}-{} Hz",
                            RATES.start(),
                            RATES.end()
                        )
                    })?;
            }
            "--linear-only" => linear_only = true,
            "--vad" => vad = true,
            "--vad-dbfs" => {
                let v = value("--vad-dbfs")?;
                vad_dbfs = v
                    .parse()
                    .ok()
                    .filter(|d: &f32| (-100.0..=0.0).contains(d))
                    .ok_or_else(|| format!("--vad-dbfs {v}: a level in -100..0 dBFS"))?;
                vad = true;
            }
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}` ({USAGE})")),
        }
    }
    let need =
        |v: Option<String>, name: &str| v.ok_or_else(|| format!("{name} is required ({USAGE})"));
    Ok(Args {
        mic: need(mic, "--mic")?,
        reference: need(reference, "--ref")?,
        out: need(out, "--out")?,
        csv,
        rate,
        linear_only,
        vad: vad.then_some(vad_dbfs),
    })
}

/// The whole of `x` (at `from` Hz) at `to` Hz: `ceil(len * to / from)` samples, with the
/// resampler's group delay plus `extra_delay` (output frames, e.g. what an earlier stage left)
/// taken out to the nearest sample. Also returns the delay left in (under half a sample).
fn resample_whole(
    x: &[f32],
    from: u32,
    to: u32,
    extra_delay: f64,
) -> Result<(Vec<f32>, f64), String> {
    let mut r = StreamResampler::new(from, to).map_err(|e| e.to_string())?;
    let want = (x.len() as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
    let mut out = Vec::with_capacity(want + r.max_output_for(0));
    r.process(x, &mut |b| out.extend_from_slice(b));
    r.flush_tail(&mut |b| out.extend_from_slice(b));
    let delay = r.delay_output_frames() + extra_delay;
    let skip = delay.round().max(0.0);
    let mut out = out.split_off((skip as usize).min(out.len()));
    out.resize(want, 0.0);
    Ok((out, delay - skip))
}

/// A WAV file read as mono.
struct Loaded {
    /// The samples at the canceller rate.
    samples: Vec<f32>,
    /// The file's own rate and frame count.
    rate: u32,
    frames: usize,
    /// Delay left in `samples` by resampling (canceller-rate frames, under half a sample).
    residual_delay: f64,
}

fn load(path: &str, what: &str, rate: u32) -> Result<Loaded, String> {
    let wav = read_wav(path).map_err(|e| format!("the {what} WAV {path}: {e}"))?;
    if wav.frames() == 0 {
        return Err(format!("the {what} WAV {path} holds no audio"));
    }
    let (samples, residual_delay) = resample_whole(&wav.to_mono(), wav.sample_rate, rate, 0.0)
        .map_err(|e| format!("the {what} WAV {path}: {e}"))?;
    Ok(Loaded {
        samples,
        rate: wav.sample_rate,
        frames: wav.frames(),
        residual_delay,
    })
}

fn dbfs(x: &[f32]) -> f64 {
    let p = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len().max(1) as f64;
    if p > 0.0 {
        (10.0 * p.log10()).max(FLOOR_DBFS)
    } else {
        FLOOR_DBFS
    }
}

struct Run {
    /// Output at the canceller rate, aligned with the mic.
    out: Vec<f32>,
    /// Figures after each call.
    stats: Vec<AecStats>,
    /// Wall time of each call, seconds.
    call_s: Vec<f64>,
    latency: usize,
}

fn cancel(mic: &[f32], far: &[f32], rate: u32, linear_only: bool) -> Run {
    let mut aec = EchoCanceller::new(rate);
    aec.set_residual_suppression(!linear_only);
    let latency = aec.latency_samples();
    let call = (rate * CALL_MS / 1000) as usize;
    // Latency's worth of silence after the end carries the last mic samples out.
    let total = mic.len() + latency;
    let padded = |x: &[f32]| {
        let mut v = x.to_vec();
        v.resize(total, 0.0);
        v
    };
    let (mic_p, far_p) = (padded(mic), padded(far));
    let mut out = vec![0f32; total];
    let mut stats = Vec::with_capacity(total / call + 1);
    let mut call_s = Vec::with_capacity(total / call + 1);
    for start in (0..total).step_by(call) {
        let end = (start + call).min(total);
        let t = Instant::now();
        aec.process(&far_p[start..end], &mic_p[start..end], &mut out[start..end]);
        call_s.push(t.elapsed().as_secs_f64());
        stats.push(aec.stats());
    }
    let mut out = out.split_off(latency);
    out.truncate(mic.len());
    Run {
        out,
        stats,
        call_s,
        latency,
    }
}

fn write_csv(path: &str, rate: u32, mic: &[f32], far: &[f32], run: &Run) -> Result<(), String> {
    let call = (rate * CALL_MS / 1000) as usize;
    let mut s = String::from("time_s,mic_dbfs,ref_dbfs,out_dbfs,delay_ms,erle_db,converged\n");
    for (k, st) in run.stats.iter().enumerate() {
        let start = k * call;
        if start >= mic.len() {
            break;
        }
        let end = (start + call).min(mic.len());
        let _ = writeln!(
            s,
            "{:.3},{:.2},{:.2},{:.2},{},{:.2},{}",
            start as f64 / f64::from(rate),
            dbfs(&mic[start..end]),
            dbfs(&far[start..end]),
            dbfs(&run.out[start..end]),
            st.delay_ms,
            st.erle_db,
            u8::from(st.converged)
        );
    }
    std::fs::write(path, s).map_err(|e| format!("cannot write {path}: {e}"))
}

/// The server's view of the output: its speech detector's transitions, in seconds.
fn print_vad(out: &[f32], rate: u32, threshold_dbfs: f32) {
    let pcm: Vec<i16> = out.iter().map(|&s| f32_to_i16(s)).collect();
    let mut vad = Vad::new(rate, threshold_dbfs, VAD_ONSET_MS, VAD_SILENCE_MS, 0);
    let mut events = Vec::new();
    vad.process(&pcm, &mut events);
    for e in events {
        match e {
            VadEvent::SpeechStarted { onset_sample } => println!(
                "vad: speech_started at {:.3} s",
                onset_sample as f64 / f64::from(rate)
            ),
            VadEvent::SpeechStopped { end_sample } => println!(
                "vad: speech_stopped at {:.3} s",
                end_sample as f64 / f64::from(rate)
            ),
        }
    }
}

fn run(a: &Args) -> Result<(), String> {
    let loaded = load(&a.mic, "mic", a.rate)?;
    let mic = loaded.samples;
    let mut far = load(&a.reference, "reference", a.rate)?.samples;
    far.resize(mic.len(), 0.0);

    let run = cancel(&mic, &far, a.rate, a.linear_only);

    let out = if loaded.rate == a.rate {
        run.out.clone()
    } else {
        // Back at the mic's rate, the fraction of a sample the way in left taken out too.
        let left = loaded.residual_delay * f64::from(loaded.rate) / f64::from(a.rate);
        let (mut o, _) = resample_whole(&run.out, a.rate, loaded.rate, left)?;
        o.resize(loaded.frames, 0.0);
        o
    };
    write_wav_pcm16(&a.out, &out, 1, loaded.rate).map_err(|e| e.to_string())?;
    if let Some(csv) = &a.csv {
        write_csv(csv, a.rate, &mic, &far, &run)?;
    }
    if let Some(threshold) = a.vad {
        print_vad(&run.out, a.rate, threshold);
    }

    // The median resists the preemptions of a shared machine; the mean and worst are shown.
    let mut sorted = run.call_s.clone();
    sorted.sort_by(f64::total_cmp);
    let calls = sorted.len().max(1);
    let median_us = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0) * 1e6;
    let mean_us = sorted.iter().sum::<f64>() / calls as f64 * 1e6;
    let worst_us = sorted.last().copied().unwrap_or(0.0) * 1e6;
    let last = run.stats.last().copied().unwrap_or(AecStats {
        delay_ms: -1,
        erle_db: 0.0,
        converged: false,
    });
    println!(
        "aec_wav: {:.2} s at {} Hz in {} calls of {CALL_MS} ms; {median_us:.1} us per 10 ms call (median; mean {mean_us:.1} us, worst {worst_us:.0} us); latency {} samples compensated",
        mic.len() as f64 / f64::from(a.rate),
        a.rate,
        run.call_s.len(),
        run.latency
    );
    println!(
        "aec_wav: last figures: delay {} ms, erle {:.1} dB, {}; mic {:.1} dBFS, out {:.1} dBFS",
        last.delay_ms,
        last.erle_db,
        if last.converged {
            "converged"
        } else {
            "not converged"
        },
        dbfs(&mic),
        dbfs(&run.out)
    );
    Ok(())
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|a| run(&a));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
