//! Streaming mono sample-rate conversion over rubato, for both audio paths.
//!
//! # Which rubato resampler, and why
//!
//! Both paths use rubato's asynchronous **sinc** resampler ([`rubato::Async::new_sinc`]), not
//! the fixed-ratio FFT one ([`rubato::Fft`]):
//!
//! - **Delay is set by the filter, not by the block.** The FFT resampler's delay is half its
//!   FFT block, and the block must be a multiple of `rate / gcd(in, out)` on each side (147
//!   input frames for 44.1 kHz -> 24 kHz; 441 for 44.1 kHz -> 16 kHz), so a short block means a
//!   low anti-alias cutoff. The sinc resampler's delay is half the sinc length *in input
//!   samples*, which we choose per input rate to hit the delay budget
//!   ([`TARGET_DELAY_MS`]) whatever the rate pair.
//! - **Any pair of rates in 8-192 kHz** works with the same code, including odd device rates
//!   whose gcd with 24 kHz is tiny (the FFT block would be seconds long).
//! - **Cost stays low for the common rational ratios.** When `out / gcd(in, out)` is small
//!   (48k->24k: 1, 44.1k->24k: 80, 24k->44.1k: 147, 24k->48k: 2) every output instant falls
//!   exactly on one of the precomputed sub-sample sinc phases, so we use
//!   [`SincInterpolationType::Nearest`] with that oversampling factor: one dot product per
//!   output sample and *no* interpolation error between sinc phases. Other ratios fall back to
//!   cubic interpolation between 256 phases.
//!
//! The filter: a Blackman-Harris windowed sinc (about 92 dB sidelobes) whose cutoff sits at
//! [`CUTOFF_RELATIVE`] of the lower Nyquist frequency, so the passband (up to 0.9 x the lower
//! Nyquist) stays flat to better than 80 dB of error and an input tone above the output
//! Nyquist is attenuated by more than 60 dB. Figures: `docs/audio-figures.md`.
//!
//! The group delay each resampler reports is measured when it is built (see
//! `SincEngine::measure_delay`), not taken from rubato's nominal `output_delay`, which is
//! off by 1-3 output frames for these designs.
//!
//! # Streaming
//!
//! rubato works in fixed input chunks; [`StreamResampler`] stages input until a chunk is full
//! (a chunk is ~2 ms of input), so the output is a pure function of the concatenated input,
//! whatever the push sizes: chunk boundaries cannot create gaps or clicks, and the output
//! sample count tracks `input x ratio` without drift. Nothing allocates after construction.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Indexing, Resampler, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

use super::{check_rate, AudioError};

/// Group delay of the sinc filter for pairs whose lower rate is 24 kHz, in ms (scaled by
/// `24 kHz / lower rate` for other pairs; see [`SincDesign::for_rates`]). Measured
/// (`tests/audio_design_sweep.rs`): 2.75 ms gives > 110 dB passband SNR for every pair,
/// 2.5 ms ~96 dB, 2.25 ms ~77 dB (below the 80 dB target), 1.5 ms ~43 dB.
pub const TARGET_DELAY_MS: f64 = 2.75;

/// Cutoff of the anti-alias/anti-image filter, relative to the lower of the two Nyquist
/// frequencies. The transition band must fit between the passband edge (0.9) and Nyquist
/// (1.0). Measured at 2.75 ms (`tests/audio_design_sweep.rs`): 0.95 gives 79 dB passband,
/// 0.955 gives 98 dB, 0.96 gives 112 dB passband and 110 dB stopband at 1.02 x Nyquist.
pub const CUTOFF_RELATIVE: f32 = 0.96;

/// Input frames per rubato call: about 2 ms, so staging adds little latency.
const CHUNK_MS: u32 = 2;

/// Largest sub-sample phase count for the exact ("nearest phase") mode.
const MAX_EXACT_OVERSAMPLING: usize = 480;

/// Phase count of the cubic-interpolated fallback for awkward ratios.
const FALLBACK_OVERSAMPLING: usize = 256;

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The parameters chosen for one rate pair (exposed so tests and docs can report them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SincDesign {
    /// Sinc length in input samples (a multiple of 8).
    pub sinc_len: usize,
    /// Cutoff relative to the *input* Nyquist frequency, as rubato wants it.
    pub f_cutoff: f32,
    /// Sub-sample phases precomputed.
    pub oversampling: usize,
    /// True when every output instant falls exactly on a precomputed phase.
    pub exact_phases: bool,
    /// Window of the sinc.
    pub window: WindowFunction,
}

impl SincDesign {
    /// The design used for `in_rate -> out_rate`. `delay_ms_at_24k` is the filter delay for
    /// pairs whose lower rate is 24 kHz; it scales by `24 kHz / lower rate` for other pairs,
    /// because the transition band (0.9 to 1.0 x the lower Nyquist) narrows in Hz with the
    /// lower rate and the filter must lengthen in time to keep the same quality.
    pub fn for_rates(in_rate: u32, out_rate: u32, delay_ms_at_24k: f64) -> SincDesign {
        let lower = in_rate.min(out_rate) as f64;
        let delay_s = delay_ms_at_24k / 1000.0 * 24_000.0 / lower;
        // Half the sinc length is the delay, in input samples.
        let half = (delay_s * in_rate as f64).round() as usize;
        let sinc_len = (2 * half).clamp(32, 4096).next_multiple_of(8);
        // rubato scales an explicit cutoff by the ratio when downsampling, so the value is
        // given relative to the lower Nyquist in both directions.
        let f_cutoff = CUTOFF_RELATIVE;
        let phases = (out_rate / gcd(in_rate, out_rate)) as usize;
        let exact_phases = phases <= MAX_EXACT_OVERSAMPLING;
        SincDesign {
            sinc_len,
            f_cutoff,
            oversampling: if exact_phases {
                phases
            } else {
                FALLBACK_OVERSAMPLING
            },
            exact_phases,
            window: WindowFunction::BlackmanHarris,
        }
    }
}

/// A mono streaming resampler: push any number of samples, get every output sample once.
pub struct StreamResampler {
    in_rate: u32,
    out_rate: u32,
    engine: Option<SincEngine>,
}

struct SincEngine {
    resampler: Async<f32>,
    chunk: usize,
    /// Input waiting for a full chunk (capacity `chunk`, never grows).
    staging: Vec<f32>,
    /// Output of one rubato call (capacity `output_frames_max`, never grows).
    out_buf: Vec<f32>,
    delay_out_frames: f64,
    design: SincDesign,
}

impl StreamResampler {
    /// A resampler from `in_rate` to `out_rate` (both in 8-192 kHz). Equal rates pass through.
    pub fn new(in_rate: u32, out_rate: u32) -> Result<Self, AudioError> {
        Self::with_delay(in_rate, out_rate, TARGET_DELAY_MS)
    }

    /// As [`StreamResampler::new`], with an explicit filter delay target in ms (0.5-50).
    pub fn with_delay(in_rate: u32, out_rate: u32, delay_ms: f64) -> Result<Self, AudioError> {
        check_rate("input sample rate", in_rate)?;
        check_rate("output sample rate", out_rate)?;
        if !(0.5..=50.0).contains(&delay_ms) {
            return Err(AudioError::InvalidArgument(format!(
                "resampler delay {delay_ms} ms is outside 0.5-50 ms"
            )));
        }
        if in_rate == out_rate {
            return Ok(Self {
                in_rate,
                out_rate,
                engine: None,
            });
        }
        Self::with_design(
            in_rate,
            out_rate,
            SincDesign::for_rates(in_rate, out_rate, delay_ms),
        )
    }

    /// A resampler with an explicit filter design (for measurements; prefer
    /// [`StreamResampler::new`]).
    pub fn with_design(
        in_rate: u32,
        out_rate: u32,
        design: SincDesign,
    ) -> Result<Self, AudioError> {
        check_rate("input sample rate", in_rate)?;
        check_rate("output sample rate", out_rate)?;
        if design.sinc_len < 8
            || design.oversampling == 0
            || !(0.1..=1.0).contains(&design.f_cutoff)
        {
            return Err(AudioError::InvalidArgument(format!(
                "bad sinc design {design:?}"
            )));
        }
        let ratio = out_rate as f64 / in_rate as f64;
        let params = SincInterpolationParameters::new(design.sinc_len, design.window)
            .f_cutoff(design.f_cutoff)
            .oversampling_factor(design.oversampling)
            .interpolation(if design.exact_phases {
                SincInterpolationType::Nearest
            } else {
                SincInterpolationType::Cubic
            });
        let chunk = ((in_rate * CHUNK_MS / 1000) as usize).max(16);
        let resampler = Async::<f32>::new_sinc(ratio, 1.0, &params, chunk, 1, FixedAsync::Input)
            .map_err(|e| AudioError::Internal(format!("resampler construction failed: {e}")))?;
        let out_buf = vec![0.0; resampler.output_frames_max() + 1];
        let mut engine = SincEngine {
            resampler,
            chunk,
            staging: Vec::with_capacity(chunk),
            out_buf,
            // Nominal: half the sinc, in input samples. Replaced by the measured value below.
            delay_out_frames: design.sinc_len as f64 / 2.0 * ratio,
            design,
        };
        if let Some(measured) = engine.measure_delay(ratio) {
            engine.delay_out_frames = measured;
        }
        Ok(Self {
            in_rate,
            out_rate,
            engine: Some(engine),
        })
    }

    /// Input rate in Hz.
    pub fn in_rate(&self) -> u32 {
        self.in_rate
    }

    /// Output rate in Hz.
    pub fn out_rate(&self) -> u32 {
        self.out_rate
    }

    /// The filter design in use, or `None` for a pass-through (equal rates).
    pub fn design(&self) -> Option<SincDesign> {
        self.engine.as_ref().map(|e| e.design)
    }

    /// Group delay of the filter, in output frames (an input event at input time `t` appears
    /// at output frame `t * ratio + delay`). Staging adds latency up to one chunk on top of
    /// this but does not move samples.
    pub fn delay_output_frames(&self) -> f64 {
        self.engine.as_ref().map_or(0.0, |e| e.delay_out_frames)
    }

    /// Group delay of the filter in ms.
    pub fn delay_ms(&self) -> f64 {
        self.delay_output_frames() * 1000.0 / self.out_rate as f64
    }

    /// Worst-case extra latency from staging input into rubato chunks, in ms.
    pub fn staging_latency_ms(&self) -> f64 {
        self.engine
            .as_ref()
            .map_or(0.0, |e| e.chunk as f64 * 1000.0 / self.in_rate as f64)
    }

    /// Input samples staged but not yet resampled.
    pub fn staged(&self) -> usize {
        self.engine.as_ref().map_or(0, |e| e.staging.len())
    }

    /// An upper bound of the output produced by `input_len` more input samples.
    pub fn max_output_for(&self, input_len: usize) -> usize {
        match &self.engine {
            None => input_len,
            Some(e) => {
                let ratio = self.out_rate as f64 / self.in_rate as f64;
                ((input_len + e.chunk) as f64 * ratio).ceil() as usize + e.out_buf.len()
            }
        }
    }

    /// Resample `input`, handing every finished output block to `out` (in order). Never
    /// allocates.
    pub fn process(&mut self, mut input: &[f32], out: &mut dyn FnMut(&[f32])) {
        let Some(e) = self.engine.as_mut() else {
            if !input.is_empty() {
                out(input);
            }
            return;
        };
        while !input.is_empty() {
            if e.staging.is_empty() && input.len() >= e.chunk {
                // Whole chunk available in the caller's slice: no copy.
                let (head, rest) = input.split_at(e.chunk);
                e.run(head, None, out);
                input = rest;
                continue;
            }
            let take = (e.chunk - e.staging.len()).min(input.len());
            e.staging.extend_from_slice(&input[..take]);
            input = &input[take..];
            if e.staging.len() == e.chunk {
                let staged = std::mem::take(&mut e.staging);
                e.run(&staged, None, out);
                e.staging = staged;
                e.staging.clear();
            }
        }
    }

    /// Input samples of silence that carry every sample given so far to the output (the
    /// filter's half length plus a full staging chunk); 0 for a pass-through.
    pub fn flush_input_len(&self) -> usize {
        self.engine
            .as_ref()
            .map_or(0, |e| e.design.sinc_len / 2 + e.chunk + 2)
    }

    /// Push enough silence through the filter that every input sample given so far has
    /// reached the output (the tail of a clip). Returns the number of output frames emitted.
    /// The stream continues seamlessly afterwards (the silence is part of it).
    pub fn flush_tail(&mut self, out: &mut dyn FnMut(&[f32])) -> usize {
        let Some(e) = self.engine.as_mut() else {
            return 0;
        };
        let mut emitted = 0;
        let mut counting = |block: &[f32]| {
            emitted += block.len();
            out(block)
        };
        // Half a sinc of silence pushes the last real sample past the filter centre.
        let mut zeros_needed = e.design.sinc_len / 2 + 1;
        let staged = std::mem::take(&mut e.staging);
        let fill = staged.len();
        e.run(&staged, Some(fill), &mut counting);
        e.staging = staged;
        e.staging.clear();
        zeros_needed = zeros_needed.saturating_sub(e.chunk - fill);
        while zeros_needed > 0 {
            e.run(&[], Some(0), &mut counting);
            zeros_needed = zeros_needed.saturating_sub(e.chunk);
        }
        emitted
    }

    /// Forget all history and staged input (a fresh stream).
    pub fn reset(&mut self) {
        if let Some(e) = self.engine.as_mut() {
            e.resampler.reset();
            e.staging.clear();
        }
    }
}

impl SincEngine {
    /// The exact group delay, in output frames: a linear-phase filter with unit DC gain
    /// turns a ramp into the same ramp delayed by its group delay, so one steady-state output
    /// sample tells the delay (to ~1e-4 frame; rubato's nominal `output_delay` is off by 1-3
    /// frames because of its start index and phase rounding). Resets the resampler after.
    fn measure_delay(&mut self, ratio: f64) -> Option<f64> {
        let len = 4 * (self.design.sinc_len + self.chunk);
        let slope = 1.0 / len as f64;
        let ramp: Vec<f32> = (0..len).map(|n| (n as f64 * slope) as f32).collect();
        let mut out = Vec::with_capacity((len as f64 * ratio) as usize + self.out_buf.len());
        for block in ramp.chunks_exact(self.chunk) {
            self.run(block, None, &mut |b| out.extend_from_slice(b));
        }
        self.resampler.reset();
        let mid = out.len() / 2;
        let probe = out.get(mid..mid + 4)?;
        let sum: f64 = probe
            .iter()
            .enumerate()
            .map(|(k, &y)| (mid + k) as f64 - y as f64 / slope * ratio)
            .sum();
        let delay = sum / probe.len() as f64;
        delay.is_finite().then_some(delay)
    }

    fn run(&mut self, input: &[f32], partial: Option<usize>, out: &mut dyn FnMut(&[f32])) {
        let frames_in = input.len();
        // A chunk is always `self.chunk` frames; a partial one is zero-padded by rubato, but
        // the adapter must still describe a real slice.
        let adapter_in = match InterleavedSlice::new(input, 1, frames_in) {
            Ok(a) => a,
            Err(_) => return,
        };
        let out_len = self.out_buf.len();
        let Ok(mut adapter_out) = InterleavedSlice::new_mut(&mut self.out_buf, 1, out_len) else {
            return;
        };
        let indexing = Indexing {
            input_offset: 0,
            output_offset: 0,
            partial_len: partial,
            active_channels_mask: None,
        };
        let idx = if partial.is_some() {
            Some(&indexing)
        } else {
            None
        };
        // The buffers are sized from rubato's own maxima, so this cannot fail; if it ever
        // did, dropping one 2 ms chunk is better than a panic on the caller's thread.
        if let Ok((_, produced)) =
            self.resampler
                .process_into_buffer(&adapter_in, &mut adapter_out, idx)
        {
            if produced > 0 {
                out(&self.out_buf[..produced]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32
            })
            .collect()
    }

    fn run_all(r: &mut StreamResampler, input: &[f32], sizes: &[usize]) -> Vec<f32> {
        let mut out = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        while pos < input.len() {
            let n = sizes[k % sizes.len()].min(input.len() - pos);
            r.process(&input[pos..pos + n], &mut |b| out.extend_from_slice(b));
            pos += n;
            k += 1;
        }
        out
    }

    #[test]
    fn passthrough_when_rates_equal() {
        let mut r = StreamResampler::new(24_000, 24_000).unwrap();
        let x = sine(24_000, 440.0, 1000);
        assert_eq!(run_all(&mut r, &x, &[7]), x);
        assert_eq!(r.delay_ms(), 0.0);
    }

    #[test]
    fn rejects_bad_rates() {
        assert!(StreamResampler::new(0, 24_000).is_err());
        assert!(StreamResampler::new(48_000, 500_000).is_err());
        assert!(StreamResampler::with_delay(48_000, 24_000, f64::NAN).is_err());
    }

    #[test]
    fn chunking_does_not_change_output() {
        let x = sine(48_000, 1000.0, 20_000);
        let mut a = StreamResampler::new(48_000, 24_000).unwrap();
        let mut b = StreamResampler::new(48_000, 24_000).unwrap();
        let one = run_all(&mut a, &x, &[20_000]);
        let many = run_all(&mut b, &x, &[1, 3, 480, 17, 1000]);
        assert_eq!(one, many);
    }

    #[test]
    fn flush_tail_emits_everything() {
        let mut r = StreamResampler::new(24_000, 48_000).unwrap();
        let x = sine(24_000, 1000.0, 2400);
        let mut out = run_all(&mut r, &x, &[100]);
        r.flush_tail(&mut |b| out.extend_from_slice(b));
        let needed = (2400.0 * 2.0 + r.delay_output_frames()) as usize;
        assert!(out.len() >= needed, "{} < {}", out.len(), needed);
    }

    #[test]
    fn delay_within_budget() {
        for (i, o) in [
            (48_000, 24_000),
            (44_100, 24_000),
            (24_000, 48_000),
            (24_000, 44_100),
            (48_000, 16_000),
        ] {
            let r = StreamResampler::new(i, o).unwrap();
            assert!(r.delay_ms() <= 4.5, "{i}->{o}: {} ms", r.delay_ms());
        }
    }
}
