//! Capture path: Unity's microphone samples -> `input_audio_buffer.append` payloads.
//!
//! ```text
//! push(interleaved f32, channels, rate)
//!   -> scrub (NaN/Inf -> 0, clamp to [-1, 1]) and downmix (average of the channels)
//!   -> StreamResampler (rate -> wire rate, state kept across pushes; rebuilt if the rate changes)
//!   -> [mono f32 at the wire rate: `push_wire`, where an echo canceller can be inserted]
//!   -> PCM16 (round to nearest) -> chunks of `chunk_ms` -> base64 (standard, padded)
//! ```
//!
//! All of it runs on the caller's thread and is cheap: a 10 ms push of 48 kHz stereo costs
//! a few microseconds (see `benches/audio.rs`); the only allocation per chunk is the base64
//! `String` handed to the sink (with spare room for the `input_audio_buffer.append` event
//! the session builds around it in place). The resampler uses rubato's sinc resampler with the design
//! in [`super::resample`] (why: see there).

use super::mouth::LevelMeter;
use super::pcm::{f32_to_i16, scrub};
use super::resample::StreamResampler;
use super::{check_rate, AudioError};
use crate::protocol::client::base64_with_append_room;
#[cfg(test)]
use crate::protocol::client::INPUT_AUDIO_APPEND_OVERHEAD;
#[cfg(test)]
use base64::{engine::general_purpose::STANDARD, Engine};

/// A sensible `chunk_ms` for `input_audio_buffer.append` (20-40 ms is typical).
pub const DEFAULT_CHUNK_MS: u32 = 20;
/// Most channels accepted in one push.
pub const MAX_CHANNELS: usize = 32;
/// Accepted chunk lengths, in ms.
pub const CHUNK_MS_RANGE: std::ops::RangeInclusive<u32> = 5..=1000;

/// One `input_audio_buffer.append` payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureChunk {
    /// Base64 (standard alphabet, padded) of little-endian PCM16 mono at the wire rate.
    pub base64: String,
    /// Samples in the chunk, at the wire rate.
    pub samples: usize,
}

/// The microphone path, owned by whoever calls `rv_push_mic` (behind the session's mutex).
pub struct CapturePipeline {
    wire_rate: u32,
    chunk_samples: usize,
    resampler: Option<StreamResampler>,
    /// Downmixed input (scratch, reused).
    mono: Vec<f32>,
    /// Resampled mono at the wire rate (scratch, reused).
    wire: Vec<f32>,
    /// The chunk being filled.
    pending: Vec<i16>,
    /// Little-endian bytes of a chunk (scratch, reused).
    bytes: Vec<u8>,
    frames_in: u64,
    samples_out: u64,
    /// Loudness of what goes on the wire (after any processing stage), for UI meters.
    level: LevelMeter,
}

impl CapturePipeline {
    /// A pipeline producing PCM16 at `wire_rate` (24000 for OpenAI's `audio/pcm`; 16000 for
    /// servers that take it) in chunks of `chunk_ms` (5-1000; 20-40 is typical).
    pub fn new(wire_rate: u32, chunk_ms: u32) -> Result<Self, AudioError> {
        check_rate("wire sample rate", wire_rate)?;
        if !CHUNK_MS_RANGE.contains(&chunk_ms) {
            return Err(AudioError::InvalidArgument(format!(
                "capture chunk of {chunk_ms} ms is outside {}-{} ms",
                CHUNK_MS_RANGE.start(),
                CHUNK_MS_RANGE.end()
            )));
        }
        let chunk_samples = (wire_rate as u64 * chunk_ms as u64 / 1000).max(1) as usize;
        Ok(Self {
            wire_rate,
            chunk_samples,
            resampler: None,
            mono: Vec::new(),
            wire: Vec::new(),
            pending: Vec::with_capacity(chunk_samples),
            bytes: Vec::with_capacity(chunk_samples * 2),
            frames_in: 0,
            samples_out: 0,
            level: LevelMeter::new(wire_rate),
        })
    }

    /// Push interleaved float samples (`channels` per frame) captured at `sample_rate`;
    /// every completed chunk goes to `sink`. The rate may change between pushes (the
    /// resampler is rebuilt after emitting the old one's tail).
    pub fn push(
        &mut self,
        interleaved: &[f32],
        channels: usize,
        sample_rate: u32,
        sink: &mut dyn FnMut(CaptureChunk),
    ) -> Result<(), AudioError> {
        let mut wire = std::mem::take(&mut self.wire);
        wire.clear();
        let result = self.to_wire(interleaved, channels, sample_rate, &mut wire);
        if result.is_ok() {
            self.push_wire(&wire, sink);
        }
        self.wire = wire;
        result
    }

    /// First stage only: scrub, downmix and resample to mono f32 at the wire rate,
    /// appended to `out`. (Feed the result, possibly processed, to [`Self::push_wire`].)
    pub fn to_wire(
        &mut self,
        interleaved: &[f32],
        channels: usize,
        sample_rate: u32,
        out: &mut Vec<f32>,
    ) -> Result<(), AudioError> {
        if !(1..=MAX_CHANNELS).contains(&channels) {
            return Err(AudioError::InvalidArgument(format!(
                "microphone channel count {channels} is outside 1-{MAX_CHANNELS}"
            )));
        }
        check_rate("microphone sample rate", sample_rate)?;
        if interleaved.len() % channels != 0 {
            return Err(AudioError::InvalidArgument(format!(
                "{} samples is not a whole number of {channels}-channel frames",
                interleaved.len()
            )));
        }
        if self.resampler.as_ref().map(|r| r.in_rate()) != Some(sample_rate) {
            let new = StreamResampler::new(sample_rate, self.wire_rate)?;
            if let Some(mut old) = self.resampler.take() {
                old.flush_tail(&mut |b| out.extend_from_slice(b));
            }
            self.resampler = Some(new);
        }
        self.mono.clear();
        if channels == 1 {
            self.mono.extend(interleaved.iter().map(|&x| scrub(x)));
        } else if channels == 2 {
            // The common case on its own: the generic fold does not vectorise.
            self.mono.extend(
                interleaved
                    .chunks_exact(2)
                    .map(|f| (scrub(f[0]) + scrub(f[1])) * 0.5),
            );
        } else {
            let inv = 1.0 / channels as f32;
            self.mono.extend(
                interleaved
                    .chunks_exact(channels)
                    .map(|f| f.iter().map(|&x| scrub(x)).sum::<f32>() * inv),
            );
        }
        self.frames_in += self.mono.len() as u64;
        if let Some(r) = self.resampler.as_mut() {
            r.process(&self.mono, &mut |b| out.extend_from_slice(b));
        }
        Ok(())
    }

    /// Second stage: mono f32 at the wire rate -> PCM16 chunks to `sink`. Values are
    /// scrubbed and clamped again, so a processing stage in between cannot break the wire.
    pub fn push_wire(&mut self, mono_wire: &[f32], sink: &mut dyn FnMut(CaptureChunk)) {
        self.level.push(mono_wire);
        let mut rest = mono_wire;
        while !rest.is_empty() {
            // A slice at a time up to the chunk's end (the conversion vectorises).
            let room = self.chunk_samples.saturating_sub(self.pending.len()).max(1);
            let (now, later) = rest.split_at(room.min(rest.len()));
            self.pending
                .extend(now.iter().map(|&x| f32_to_i16(scrub(x))));
            rest = later;
            if self.pending.len() >= self.chunk_samples {
                self.emit(sink);
            }
        }
    }

    fn emit(&mut self, sink: &mut dyn FnMut(CaptureChunk)) {
        if self.pending.is_empty() {
            return;
        }
        self.bytes.clear();
        for s in &self.pending {
            self.bytes.extend_from_slice(&s.to_le_bytes());
        }
        let samples = self.pending.len();
        self.samples_out += samples as u64;
        self.pending.clear();
        // Room for the event around the base64: the worker builds the append in this buffer.
        let base64 = base64_with_append_room(&self.bytes);
        sink(CaptureChunk { base64, samples });
    }

    /// Emit everything captured so far (the resampler's last few ms, then the partial
    /// chunk), e.g. before a manual `input_audio_buffer.commit`. The filter tail is flushed
    /// with a few ms of silence, which is harmless at the end of an utterance.
    pub fn flush(&mut self, sink: &mut dyn FnMut(CaptureChunk)) {
        let mut wire = std::mem::take(&mut self.wire);
        wire.clear();
        self.flush_to_wire(&mut wire);
        self.push_wire(&wire, sink);
        self.wire = wire;
        self.emit_partial(sink);
    }

    /// First stage of [`Self::flush`]: the resampler's last few ms (its filter flushed
    /// with silence), appended to `out` as mono f32 at the wire rate.
    pub fn flush_to_wire(&mut self, out: &mut Vec<f32>) {
        if let Some(r) = self.resampler.as_mut() {
            r.flush_tail(&mut |b| out.extend_from_slice(b));
        }
    }

    /// Last stage of [`Self::flush`]: the partial chunk, if any, goes to `sink` now.
    pub fn emit_partial(&mut self, sink: &mut dyn FnMut(CaptureChunk)) {
        self.emit(sink);
    }

    /// Drop the partial chunk and the resampler's history (after `input_audio_buffer.clear`).
    pub fn clear(&mut self) {
        self.pending.clear();
        if let Some(r) = self.resampler.as_mut() {
            r.reset();
        }
    }

    /// Loudness (0..1, smoothed per 10 ms) of the audio sent to the server.
    pub fn level(&self) -> f32 {
        self.level.level()
    }

    /// The PCM16 rate on the wire, in Hz.
    pub fn wire_rate(&self) -> u32 {
        self.wire_rate
    }

    /// Samples per full chunk.
    pub fn chunk_samples(&self) -> usize {
        self.chunk_samples
    }

    /// Input frames accepted since creation.
    pub fn frames_in(&self) -> u64 {
        self.frames_in
    }

    /// Wire samples emitted in chunks since creation.
    pub fn samples_out(&self) -> u64 {
        self.samples_out
    }

    /// Filter delay of the resampler for the current input rate, in ms (0 before the first
    /// push or when the input is already at the wire rate). Chunking adds up to `chunk_ms`
    /// and resampler staging up to 2 ms of latency on top; neither shifts samples.
    pub fn algorithmic_delay_ms(&self) -> f64 {
        self.resampler.as_ref().map_or(0.0, |r| r.delay_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(p: &mut CapturePipeline, x: &[f32], ch: usize, rate: u32) -> Vec<CaptureChunk> {
        let mut v = Vec::new();
        p.push(x, ch, rate, &mut |c| v.push(c)).unwrap();
        v
    }

    #[test]
    fn chunks_have_the_configured_size() {
        let mut p = CapturePipeline::new(24_000, 20).unwrap();
        let x = vec![0.1f32; 48_000 * 2];
        let chunks = collect(&mut p, &x, 2, 48_000);
        assert!(chunks.len() >= 45);
        assert!(chunks.iter().all(|c| c.samples == 480));
        assert!(chunks.iter().all(|c| c.base64.len() == 1280));
        // Room for the append event around it: the worker builds it in this buffer.
        assert!(chunks
            .iter()
            .all(|c| c.base64.capacity() >= 1280 + INPUT_AUDIO_APPEND_OVERHEAD));
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(CapturePipeline::new(24_000, 0).is_err());
        assert!(CapturePipeline::new(1_000, 20).is_err());
        let mut p = CapturePipeline::new(24_000, 20).unwrap();
        let mut sink = |_c: CaptureChunk| {};
        assert!(p.push(&[0.0; 3], 2, 48_000, &mut sink).is_err());
        assert!(p.push(&[0.0; 4], 0, 48_000, &mut sink).is_err());
        assert!(p.push(&[0.0; 4], 2, 4_000, &mut sink).is_err());
    }

    #[test]
    fn nan_and_inf_become_silence_and_values_clamp() {
        let mut p = CapturePipeline::new(24_000, 20).unwrap();
        let mut chunks = Vec::new();
        let x = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0].repeat(480);
        p.push(&x, 2, 24_000, &mut |c| chunks.push(c)).unwrap();
        let bytes = STANDARD.decode(&chunks[0].base64).unwrap();
        assert!(bytes.iter().all(|&b| b == 0));
        let mut chunks = Vec::new();
        p.push(&[5.0; 960], 1, 24_000, &mut |c| chunks.push(c))
            .unwrap();
        let bytes = STANDARD.decode(&chunks[0].base64).unwrap();
        assert_eq!(i16::from_le_bytes([bytes[0], bytes[1]]), 32767);
    }

    #[test]
    fn flush_emits_partial_chunk_and_clear_drops_it() {
        let mut p = CapturePipeline::new(24_000, 20).unwrap();
        let mut chunks = Vec::new();
        p.push(&[0.2; 100], 1, 24_000, &mut |c| chunks.push(c))
            .unwrap();
        assert!(chunks.is_empty());
        p.flush(&mut |c| chunks.push(c));
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].samples, 100);
        p.push(&[0.2; 100], 1, 24_000, &mut |c| chunks.push(c))
            .unwrap();
        p.clear();
        p.flush(&mut |c| chunks.push(c));
        assert_eq!(chunks.len(), 1);
    }

    #[test]
    fn downmix_averages_the_channels() {
        let mut p = CapturePipeline::new(24_000, 20).unwrap();
        let mut out = Vec::new();
        // At the wire rate the resampler passes through: the values are exact.
        p.to_wire(&[0.5, -0.5, 0.3, 0.3, 1.0, 0.0], 2, 24_000, &mut out)
            .unwrap();
        assert_eq!(out, vec![0.0, 0.3, 0.5]);
        out.clear();
        p.to_wire(&[0.3, 0.6, 0.9, 3.0, f32::NAN, 0.0], 3, 24_000, &mut out)
            .unwrap();
        assert!((out[0] - 0.6).abs() < 1e-6);
        assert!((out[1] - 1.0 / 3.0).abs() < 1e-6, "clamped then averaged");
    }

    #[test]
    fn pipeline_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<CapturePipeline>();
    }

    #[test]
    fn odd_pushes_never_panic() {
        let mut p = CapturePipeline::new(16_000, 5).unwrap();
        let mut n = 0usize;
        let weird = [f32::NAN, f32::MAX, f32::MIN, -0.0, 1e-40, f32::INFINITY];
        for (k, ch) in [1usize, 2, 3, 6, 8, 32, 33].into_iter().enumerate() {
            for rate in [8_000u32, 11_025, 16_000, 22_050, 96_000, 192_000, 192_001] {
                let x: Vec<f32> = (0..ch * (k * 37 + 1))
                    .map(|i| weird[i % weird.len()])
                    .collect();
                let _ = p.push(&x, ch, rate, &mut |c| n += c.samples);
            }
        }
        p.flush(&mut |c| n += c.samples);
        p.clear();
        assert!(n > 0);
    }

    #[test]
    fn rate_change_between_pushes() {
        let mut p = CapturePipeline::new(24_000, 20).unwrap();
        let mut n = 0;
        for rate in [48_000u32, 44_100, 16_000, 192_000, 8_000] {
            let x = vec![0.1f32; rate as usize / 10];
            p.push(&x, 1, rate, &mut |c| n += c.samples).unwrap();
        }
        // 0.5 s of input -> ~12000 wire samples, minus what is still in the pipe.
        assert!((11_000..=12_100).contains(&n), "{n}");
    }
}
