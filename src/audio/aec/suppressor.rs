//! Residual echo suppression: what the linear filter leaves (its misadjustment, the room tail
//! beyond it, the loudspeaker's distortion) is removed per frequency bin where it dominates,
//! and the bins where the user's voice dominates pass untouched.
//!
//! STFT with a square-root Hann window and 50 % overlap (perfect reconstruction: with no
//! far end the output is the input, one block later). The residual echo per bin is the
//! linear echo estimate's power times the residual ratio the canceller measured on blocks of
//! echo alone (twice over, as margin); before the linear filter is trusted, a conservative
//! bound from the far end's recent peak power per bin stands in.
//!
//! (Speex MDF's regression estimate of that ratio was tried first: in double talk the
//! user's voice fluctuates with the echo by chance and the estimate climbed to 0.1-1,
//! suppressing the user; the measured ratio, falling fast and rising slowly, does not.)

use super::fft::{Fft, Spectrum, ZERO};
use super::{BINS, BLOCK, FFT};

/// Deepest attenuation per bin (-30 dB).
const MIN_GAIN: f32 = 0.03;
/// The residual echo is overestimated by this factor (suppression errs on the echo side
/// only where the echo dominates anyway).
const OVERESTIMATE: f32 = 2.0;
/// Smallest residual ratio assumed (never more than ~33 dB of linear cancellation).
const MIN_LEAK: f32 = 0.0005;
/// Before convergence: the echo's power is assumed at most this times the far end's
/// (+3 dB: loud speakers, and reverberation adding up).
const UNCONVERGED_PATH_GAIN: f32 = 2.0;

/// What the canceller tells the suppressor about the echo, each block.
pub struct ResidualHints {
    /// The far end's recent peak power per bin (2-block rectangular frames).
    pub far_bound: [f32; BINS],
    /// How much the linear filter is still to be distrusted (0-1).
    pub unconverged: f32,
    /// Residual over echo power, measured on recent blocks of echo alone.
    pub residual_ratio: f32,
}

/// The suppressor: one block in, one block out (one block later).
pub struct ResidualSuppressor {
    window: [f32; FFT],
    prev_e: [f32; BLOCK],
    prev_y: [f32; BLOCK],
    overlap: [f32; BLOCK],
    frame: [f32; FFT],
    e_spec: Spectrum,
    y_spec: Spectrum,
    gain: [f32; BINS],
}

impl ResidualSuppressor {
    /// A suppressor with nothing learnt.
    pub fn new() -> ResidualSuppressor {
        let mut window = [0f32; FFT];
        for (i, w) in window.iter_mut().enumerate() {
            // Periodic Hann, square-rooted: analysis x synthesis sums to one at 50 % overlap.
            let hann = 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / FFT as f32).cos();
            *w = hann.sqrt();
        }
        ResidualSuppressor {
            window,
            prev_e: [0.0; BLOCK],
            prev_y: [0.0; BLOCK],
            overlap: [0.0; BLOCK],
            frame: [0.0; FFT],
            e_spec: [ZERO; BINS],
            y_spec: [ZERO; BINS],
            gain: [1.0; BINS],
        }
    }

    fn analyse(&mut self, fft: &mut Fft, first: bool, block: &[f32; BLOCK]) {
        let prev = if first { &self.prev_e } else { &self.prev_y };
        for i in 0..BLOCK {
            self.frame[i] = prev[i] * self.window[i];
            self.frame[BLOCK + i] = block[i] * self.window[BLOCK + i];
        }
        let frame = self.frame;
        if first {
            fft.forward(&frame, &mut self.e_spec);
            self.prev_e = *block;
        } else {
            fft.forward(&frame, &mut self.y_spec);
            self.prev_y = *block;
        }
    }

    /// Suppresses the residual echo in `error` (the linear filter's output) given `echo`
    /// (the linear echo estimate for the same block) and what the canceller knows
    /// (`hints`). Writes the previous block's output.
    pub fn process(
        &mut self,
        fft: &mut Fft,
        error: &[f32; BLOCK],
        echo: &[f32; BLOCK],
        hints: &ResidualHints,
        out: &mut [f32; BLOCK],
    ) {
        self.analyse(fft, true, error);
        self.analyse(fft, false, echo);

        let pre = hints.unconverged * UNCONVERGED_PATH_GAIN * 0.5;
        let leak = hints.residual_ratio.clamp(MIN_LEAK, 1.0);
        // An untrusted filter's estimate may be wrong by as much as the estimate itself.
        let leak = leak + hints.unconverged * (1.0 - leak);
        for (k, bound) in hints.far_bound.iter().enumerate() {
            let e2 = self.e_spec[k].norm_sqr();
            let residual = OVERESTIMATE * leak * self.y_spec[k].norm_sqr() + pre * bound;
            let target = if residual <= 0.0 || e2 <= 0.0 {
                1.0
            } else {
                ((e2 - residual) / e2).clamp(MIN_GAIN, 1.0)
            };
            // Rise at once (the user's voice starts unclipped), fall over a few blocks.
            let g = if target >= self.gain[k] {
                target
            } else {
                0.5 * self.gain[k] + 0.5 * target
            };
            self.gain[k] = g;
            self.e_spec[k] *= g;
        }
        fft.inverse(&self.e_spec, &mut self.frame);
        let (head, tail) = self.frame.split_at(BLOCK);
        let (w_head, w_tail) = self.window.split_at(BLOCK);
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.overlap[i] + head[i] * w_head[i];
            self.overlap[i] = tail[i] * w_tail[i];
        }
    }
}

impl Default for ResidualSuppressor {
    fn default() -> Self {
        ResidualSuppressor::new()
    }
}
