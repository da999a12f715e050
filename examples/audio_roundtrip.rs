//! Run a WAV file through both audio paths, as the plugin would, and write the results:
//! the capture path (any rate/channels -> PCM16 base64 chunks at 24 kHz) and the playback
//! path (those chunks as model audio -> the device rate, pulled in 1024-frame callbacks).
//!
//! `cargo run --release --example audio_roundtrip -- in.wav wire.wav out.wav [device_rate]`

use std::process::ExitCode;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use realtime_voice::audio::capture::{CapturePipeline, DEFAULT_CHUNK_MS};
use realtime_voice::audio::playback::{playback_pipeline, PlaybackConfig};
use realtime_voice::audio::wav::{read_wav, write_wav_pcm16};
use realtime_voice::audio::{AudioError, MODEL_AUDIO_RATE};

fn run(args: &[String]) -> Result<(), AudioError> {
    let [input, wire_path, out_path, rest @ ..] = args else {
        return Err(AudioError::InvalidArgument(
            "usage: audio_roundtrip in.wav wire.wav out.wav [device_rate]".into(),
        ));
    };
    let device_rate: u32 = match rest.first() {
        Some(r) => r
            .parse()
            .map_err(|_| AudioError::InvalidArgument(format!("bad device rate {r}")))?,
        None => 48_000,
    };
    let wav = read_wav(input)?;
    println!(
        "{input}: {} frames, {} ch, {} Hz",
        wav.frames(),
        wav.channels,
        wav.sample_rate
    );

    // Capture: push in 10 ms blocks, like Unity's Update() would.
    let mut capture = CapturePipeline::new(MODEL_AUDIO_RATE, DEFAULT_CHUNK_MS)?;
    let mut chunks = Vec::new();
    let block = (wav.sample_rate as usize / 100).max(1) * wav.channels as usize;
    for part in wav.samples.chunks(block) {
        capture.push(part, wav.channels as usize, wav.sample_rate, &mut |c| {
            chunks.push(c.base64)
        })?;
    }
    capture.flush(&mut |c| chunks.push(c.base64));
    let wire: Vec<f32> = chunks
        .iter()
        .flat_map(|c| STANDARD.decode(c).unwrap_or_default())
        .collect::<Vec<u8>>()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
        .collect();
    write_wav_pcm16(wire_path, &wire, 1, MODEL_AUDIO_RATE)?;
    println!(
        "{wire_path}: {} chunks, {} samples at 24 kHz, capture filter delay {:.2} ms",
        chunks.len(),
        wire.len(),
        capture.algorithmic_delay_ms()
    );

    // Playback: the chunks as model deltas, pulled as a stereo device would.
    let (mut producer, mut consumer) = playback_pipeline(PlaybackConfig {
        output_rate: device_rate,
        ..Default::default()
    })?;
    for c in &chunks {
        producer.push_base64("item", c)?;
    }
    producer.end_item("item");
    let mut out = Vec::new();
    let mut buf = vec![0.0f32; 2048];
    while producer.is_active() {
        producer.pump();
        let n = consumer.pull(&mut buf, 2, device_rate);
        out.extend_from_slice(&buf[..2 * n]);
    }
    write_wav_pcm16(out_path, &out, 2, device_rate)?;
    println!(
        "{out_path}: {} frames at {device_rate} Hz, playback filter delay {:.2} ms, stats {:?}",
        out.len() / 2,
        producer.algorithmic_delay_ms(),
        producer.stats()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
