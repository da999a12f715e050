//! The microphone path as the session runs it: the capture pipeline, with the echo
//! canceller between its two stages when echo cancellation is on.
//!
//! ```text
//! push(interleaved, channels, rate)
//!   -> CapturePipeline::to_wire          (mono f32 at the wire rate)
//!   -> [FarEndAligner::next(n)           (what the speakers played, in step with the mic)
//!       EchoCanceller::process(far, mic)] (only with echo cancellation; two blocks of delay)
//!   -> CapturePipeline::push_wire        (PCM16 chunks, base64)
//! ```
//!
//! All of it runs on the thread that pushes the mic (never on the audio thread, whose
//! `pull` only copies into the reference tap). Scratch buffers grow to the largest push
//! once and are reused: no allocation per push in steady state beyond the chunk's base64.

use super::aec::{AecStats, EchoCanceller, BLOCK};
use super::capture::{CaptureChunk, CapturePipeline};
use super::playback::ReferenceTap;
use super::reference::{FarEndAligner, ReferenceSource};
use super::AudioError;

/// Capture, optionally echo-cancelled.
pub struct MicPath {
    capture: CapturePipeline,
    echo: Option<EchoStage>,
    /// Sees every block the canceller processes: (mic, far end, output), at the wire rate.
    observer: Option<BlockObserver>,
    /// Mono at the wire rate, before the canceller (scratch, reused).
    wire: Vec<f32>,
}

/// Called with each block the canceller processed: the mic and the far end it was given (in
/// step), and the canceller's output (which lags them by its latency).
pub type BlockObserver = Box<dyn FnMut(&[f32], &[f32], &[f32]) + Send>;

/// The far end and the canceller, fed in step with the mic.
struct EchoStage {
    aligner: FarEndAligner,
    canceller: EchoCanceller,
    /// The canceller's output (scratch, reused).
    cleaned: Vec<f32>,
    /// The mic stream has started (the far-end backlog from before it was dropped).
    started: bool,
    /// The tap's drop count at the last push: a rise means the mic paused for longer than
    /// the tap holds, and the far end must be resynchronised.
    tap_dropped: u64,
    /// Leading output samples still to drop: the canceller's start-up silence (its latency), so
    /// every mic sample maps to exactly one sample sent (delayed by that latency), as without it.
    skip: usize,
    /// Samples the canceller holds of the block it is gathering (it processes every
    /// [`BLOCK`] samples, counted from its first).
    fed_in_block: usize,
}

/// Scratch reserved up front: 100 ms at the wire rate covers Unity's mic pushes (one frame
/// of the game's loop); a larger push grows the buffers once.
fn scratch_len(capture: &CapturePipeline) -> usize {
    capture.wire_rate() as usize / 10
}

impl MicPath {
    /// The plain capture path (no echo cancellation).
    pub fn new(capture: CapturePipeline) -> MicPath {
        MicPath {
            wire: Vec::with_capacity(scratch_len(&capture)),
            capture,
            echo: None,
            observer: None,
        }
    }

    /// The capture path with an echo canceller at the wire rate, fed by `tap` (what the
    /// playback consumer hands the device) through a [`FarEndAligner`] that holds at most
    /// `max_lag_ms` of far end the mic has not caught up with.
    pub fn with_echo_cancellation(
        capture: CapturePipeline,
        tap: ReferenceTap,
        max_lag_ms: u32,
    ) -> MicPath {
        let rate = capture.wire_rate();
        let canceller = EchoCanceller::new(rate);
        MicPath {
            echo: Some(EchoStage {
                aligner: FarEndAligner::new(tap, rate, max_lag_ms),
                skip: canceller.latency_samples(),
                canceller,
                cleaned: Vec::with_capacity(scratch_len(&capture)),
                started: false,
                tap_dropped: 0,
                fed_in_block: 0,
            }),
            wire: Vec::with_capacity(scratch_len(&capture)),
            capture,
            observer: None,
        }
    }

    /// Hands every block the canceller processes to `observer` (a recording, say); nothing
    /// happens without echo cancellation.
    pub fn set_observer(&mut self, observer: BlockObserver) {
        self.observer = Some(observer);
    }

    /// Push interleaved mic samples (`channels` per frame) captured at `sample_rate`;
    /// every completed chunk goes to `sink` (see [`CapturePipeline::push`]).
    pub fn push(
        &mut self,
        interleaved: &[f32],
        channels: usize,
        sample_rate: u32,
        sink: &mut dyn FnMut(CaptureChunk),
    ) -> Result<(), AudioError> {
        self.wire.clear();
        self.capture
            .to_wire(interleaved, channels, sample_rate, &mut self.wire)?;
        self.cancel_and_send(sink);
        Ok(())
    }

    /// Emit everything captured so far (see [`CapturePipeline::flush`]); with echo
    /// cancellation, what the canceller still holds (its latency) is pushed out too (by as
    /// much silence), so a push-to-talk commit carries every sample the user said.
    pub fn flush(&mut self, sink: &mut dyn FnMut(CaptureChunk)) {
        self.wire.clear();
        self.capture.flush_to_wire(&mut self.wire);
        if let Some(echo) = self.echo.as_ref() {
            let len = self.wire.len() + echo.canceller.latency_samples();
            self.wire.resize(len, 0.0);
        }
        self.cancel_and_send(sink);
        self.capture.emit_partial(sink);
    }

    /// Drop the partial chunk and the resampler's history (after `input_audio_buffer.clear`).
    /// The canceller keeps its filter (the room did not change); what it holds (its
    /// latency, 10.7 ms at 24 kHz) goes out with the next push.
    pub fn clear(&mut self) {
        self.capture.clear();
    }

    /// The canceller's figures, `None` when echo cancellation is off.
    pub fn echo_stats(&self) -> Option<AecStats> {
        self.echo.as_ref().map(|e| e.canceller.stats())
    }

    /// The far end the canceller is given, `None` when echo cancellation is off.
    pub fn echo_reference(&self) -> Option<ReferenceSource> {
        self.echo.as_ref().map(|e| e.aligner.source())
    }

    /// Whether echo cancellation is on.
    pub fn cancels_echo(&self) -> bool {
        self.echo.is_some()
    }

    /// The capture pipeline (rates, counters).
    pub fn capture(&self) -> &CapturePipeline {
        &self.capture
    }

    fn cancel_and_send(&mut self, sink: &mut dyn FnMut(CaptureChunk)) {
        let Some(echo) = self.echo.as_mut() else {
            self.capture.push_wire(&self.wire, sink);
            return;
        };
        let dropped = echo.aligner.reference_dropped();
        if !echo.started || dropped != echo.tap_dropped {
            // The mic starts now (or after a pause longer than the tap holds): what was
            // played before is no echo of anything the mic will hear.
            echo.aligner.resync();
            echo.started = true;
            echo.tap_dropped = dropped;
        }
        let n = self.wire.len();
        echo.cleaned.clear();
        echo.cleaned.resize(n, 0.0);
        let far = echo.aligner.next(n);
        // The canceller in pieces that end just before each sample completing one of its
        // blocks: a piece's output comes from blocks already processed (the output lags by two
        // blocks), so it goes to the chunker before the next block's work, and a chunk it
        // completes is on its way to the socket while the canceller works on. The output is
        // the same as in one call.
        let mut start = 0;
        while start < n {
            let to_block_end = BLOCK - echo.fed_in_block;
            // The piece starting at a completing sample takes it and runs to just before the
            // next one.
            let len = if to_block_end == 1 {
                BLOCK
            } else {
                to_block_end - 1
            }
            .min(n - start);
            let end = start + len;
            echo.canceller.process(
                &far[start..end],
                &self.wire[start..end],
                &mut echo.cleaned[start..end],
            );
            echo.fed_in_block = (echo.fed_in_block + len) % BLOCK;
            let skip = echo.skip.min(len);
            echo.skip -= skip;
            self.capture
                .push_wire(&echo.cleaned[start + skip..end], sink);
            start = end;
        }
        if let Some(observe) = self.observer.as_mut() {
            observe(&self.wire, far, &echo.cleaned);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::playback::PlaybackProducer;
    use crate::audio::playback::{playback_pipeline, PlaybackConfig, PlaybackConsumer};
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    fn pipeline() -> (PlaybackProducer, PlaybackConsumer) {
        playback_pipeline(PlaybackConfig {
            output_rate: 48_000,
            prebuffer_ms: 0,
            max_hold_seconds: 30,
        })
        .unwrap()
    }

    fn decode(chunks: &[CaptureChunk]) -> Vec<f32> {
        chunks
            .iter()
            .flat_map(|c| {
                STANDARD
                    .decode(&c.base64)
                    .unwrap()
                    .chunks_exact(2)
                    .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
    }

    /// A voice-like far end at 24 kHz: harmonics under a syllable envelope.
    fn speech_like(n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f64 / 24_000.0;
                let env = ((t * 4.0).fract() * std::f64::consts::PI).sin().powi(2);
                let f0 = 140.0 + 30.0 * (t * 3.0).sin();
                let v: f64 = (1..8)
                    .map(|k| (t * f0 * k as f64 * std::f64::consts::TAU).sin() / k as f64)
                    .sum();
                (v * env * 9000.0) as i16
            })
            .collect()
    }

    #[test]
    fn without_echo_cancellation_it_is_the_capture_pipeline() {
        let mic: Vec<f32> = (0..9600).map(|i| ((i as f32) * 0.05).sin() * 0.3).collect();
        let mut plain = CapturePipeline::new(24_000, 20).unwrap();
        let mut path = MicPath::new(CapturePipeline::new(24_000, 20).unwrap());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for c in mic.chunks(480) {
            plain.push(c, 1, 48_000, &mut |x| a.push(x)).unwrap();
            path.push(c, 1, 48_000, &mut |x| b.push(x)).unwrap();
        }
        plain.flush(&mut |x| a.push(x));
        path.flush(&mut |x| b.push(x));
        assert_eq!(a, b);
        assert!(path.echo_stats().is_none() && !path.cancels_echo());
    }

    #[test]
    fn with_echo_cancellation_the_echo_of_the_playback_is_removed() {
        let (mut producer, mut consumer) = pipeline();
        let tap = consumer.reference_tap(1000);
        let mut path =
            MicPath::with_echo_cancellation(CapturePipeline::new(24_000, 20).unwrap(), tap, 500);
        assert_eq!(path.echo_stats().unwrap().delay_ms, -1);
        producer.push_pcm16("item", &speech_like(24_000 * 8));
        producer.end_item("item");
        // Device and mic both in 10 ms steps at 48 kHz; the mic hears the device's output
        // 40 ms later at -6 dB.
        let delay = 48 * 40;
        let mut played: Vec<f32> = vec![0.0; delay];
        let mut out = vec![0f32; 960];
        let mut chunks = Vec::new();
        let mut mic_in = Vec::new();
        for step in 0..800 {
            producer.pump();
            consumer.pull(&mut out, 2, 48_000);
            played.extend(out.iter().step_by(2));
            let mic: Vec<f32> = played[step * 480..step * 480 + 480]
                .iter()
                .map(|s| s * 0.5)
                .collect();
            mic_in.extend_from_slice(&mic);
            path.push(&mic, 1, 48_000, &mut |c| chunks.push(c)).unwrap();
        }
        let sent = decode(&chunks);
        // Over the last 3 s of the reply, the echo sent is far below the echo heard.
        let (heard, left) = (
            rms(&mic_in[mic_in.len() - 144_000..]),
            rms(&sent[sent.len() - 72_000..]),
        );
        let erle = 20.0 * (heard / left.max(1e-9)).log10();
        assert!(erle > 10.0, "echo reduced by only {erle:.1} dB");
        let stats = path.echo_stats().unwrap();
        assert!(stats.delay_ms >= 0, "{stats:?}");
    }

    #[test]
    fn flush_pushes_the_cancellers_last_block_out() {
        let (_producer, mut consumer) = pipeline();
        let tap = consumer.reference_tap(1000);
        let mut path =
            MicPath::with_echo_cancellation(CapturePipeline::new(24_000, 20).unwrap(), tap, 500);
        let mut plain = CapturePipeline::new(24_000, 20).unwrap();
        let mic = vec![0.25f32; 4800];
        let (mut a, mut b) = (Vec::new(), Vec::new());
        path.push(&mic, 1, 24_000, &mut |c| a.push(c)).unwrap();
        plain.push(&mic, 1, 24_000, &mut |c| b.push(c)).unwrap();
        path.flush(&mut |c| a.push(c));
        plain.flush(&mut |c| b.push(c));
        let (a, b) = (decode(&a), decode(&b));
        assert_eq!(a.len(), b.len(), "as many samples as without the canceller");
        // With no far end the canceller passes the mic through, its latency late (the
        // start-up silence is not sent): the samples are the mic's.
        let off = a.iter().filter(|s| (*s - 0.25).abs() > 0.01).count();
        assert_eq!(off, 0, "{off} samples differ from the mic's");
    }

    #[test]
    fn bad_arguments_are_errors_not_panics() {
        let (_producer, mut consumer) = pipeline();
        let tap = consumer.reference_tap(100);
        let mut path =
            MicPath::with_echo_cancellation(CapturePipeline::new(16_000, 20).unwrap(), tap, 500);
        let mut sink = |_c: CaptureChunk| {};
        assert!(path.push(&[0.0; 3], 2, 48_000, &mut sink).is_err());
        assert!(path.push(&[0.0; 4], 0, 48_000, &mut sink).is_err());
        assert!(path.push(&[0.0; 4], 1, 1, &mut sink).is_err());
        assert!(path.push(&[f32::NAN; 4], 1, 48_000, &mut sink).is_ok());
        path.clear();
    }
}
