//! Residual echo suppression: what the linear filter leaves (its misadjustment, the room tail
//! beyond it, the loudspeaker's distortion) is removed per frequency bin where it dominates;
//! the bins where the user's voice dominates pass at their natural level, and the room's
//! noise is kept where a bin is gated (comfort noise), so the server never hears the room
//! fall silent whenever the model talks.
//!
//! STFT with a square-root Hann window and 50 % overlap (perfect reconstruction: with no
//! far end the output is the input, one block later). The residual echo per bin is the
//! larger of two estimates of the linear stage's own performance: the residual its Kalman
//! state variance predicts, and the residual-to-echo ratio measured per bin on blocks of
//! echo alone times this block's echo estimate. Once the linear filter is trusted, that
//! estimate is subtracted (a bin keeps the share of its power that is not residual echo),
//! at a tenth of it in a block that is not echo alone and whose error does not follow the
//! echo estimate (both estimates overstate the residual under the user's voice);
//! before, it is less sure, and a bin whose error is under four times the estimate is gated
//! instead, the rest still passing at their natural level, so the user is heard from the
//! first second of the model's first reply. In the first syllables, and whenever the
//! canceller says the filter cannot be relied on at all, a conservative bound from the far
//! end's recent peak power per bin is added.

use super::fft::{Fft, Spectrum, ZERO};
use super::{BINS, BLOCK, FFT};

/// Deepest attenuation per bin (-40 dB); comfort noise fills what it removes.
const MIN_GAIN: f32 = 0.01;
/// The residual echo is taken at this factor of its estimate (measured: 2 cut the user by
/// a further 0.6 dB and cost 1.5 dB of near-end SNR in double talk for no echo gained).
const OVERESTIMATE: f32 = 1.0;
/// The noise floor learns only from bins where the estimated residual echo is under this
/// share of the error: an error that is mostly echo would otherwise be taken for the
/// room, and the comfort noise would play the echo back at random phase.
const FLOOR_ECHO_SHARE: f32 = 0.3;
/// In a block that is not echo alone (the mic over 1.3x the echo estimate: the user talking
/// over the echo, or room noise or loudspeaker distortion the estimate lacks) whose error does
/// not follow the echo estimate (a changed path's does), once the filter is trusted, the
/// residual echo is taken at this share of its estimate: both estimates are made for echo
/// alone, and they overstate what the linear stage leaves under a voice (measured in the
/// benchmark's twelve rooms 10 s into the reply, before the ratio's rule in the canceller, the
/// sum of the estimate over the true residual: 3.8-21.3 dB, mean 11, where on echo alone the
/// residual ratio alone is within -2.2..+6.3 dB); at a full share the user lost 1-8 dB of SNR
/// to bins taken for echo. On echo alone, the overstatement is what cancels the echo to
/// 34-57 dB, and it stays.
const DOUBLE_TALK_RESIDUAL_SHARE: f32 = 0.1;
/// Bounds of the measured residual-to-echo ratio: at most this (an estimate still far too
/// small early on)...
const MAX_LEAK: f32 = 4.0;
/// ... and at least this (never assume more than ~40 dB of linear cancellation).
const MIN_LEAK: f32 = 1e-4;
/// Smoothing of the measured ratio when a block shows less residual than expected...
const LEAK_FALL: f32 = 0.2;
/// ... and when it shows more (slowly: it may be the user's voice, quiet under the echo).
const LEAK_RISE: f32 = 0.02;
/// Where the bound holds before the filter has ever been trusted, the echo's power is
/// assumed at most this times the far end's recent peak (+3 dB: laptop couplings measure
/// up to +3-6 dB, the mic louder than the reference; measured: 300 ppm of clock drift,
/// which the filter never converges on, left 29 | 32 dB of ERLE at -3 dB and 40 | 42 dB
/// here)...
const UNCONVERGED_PATH_GAIN: f32 = 2.0;
/// ... and after the filter failed (a changed path), at least this (+9 dB over a unit
/// path, whose echo power in the suppressor's windowed frames is half the far end's
/// peak-hold: after a change the error holds the new echo and the old estimate, up to
/// twice the path's amplitude; measured in the benchmark's laptop rooms, whose coupling is
/// 0-6 dB over a unit path, a unit path's bound, the rule before, left the echo 5-15 dB
/// over it for 0.7-1.6 s after the path change: recovery t1 0.7 -> 0.4 s, h1 1.6 -> 0.5,
/// h2 0.7 -> 0.1, t6 1.5 -> 0.8, nothing else moved), ...
const FAILED_PATH_GAIN: f32 = 4.0;
/// ... or the path the filter held before it failed, this many times over ((1 + sqrt 2)^2:
/// the new path 3 dB louder, the old estimate in antiphase with it; measured in a
/// synthetic room 6 dB over a unit path whose path moves by 50 ms and grows by 3 dB: the
/// echo at -38 dB while the filter re-converges, -17 dB with the floor alone).
const FAILED_PATH_HEADROOM: f32 = 5.8;
/// The bound's path gain once the filter has been trusted and before any failure, while the
/// bound fades out (`ResidualHints::unconverged`): a unit path (the trusted filter has
/// shown what the path is; the rule since the bound was first faded, and the benchmark's
/// noise and steady figures moved by up to 1.4 dB with `FAILED_PATH_GAIN` here instead).
const UNIT_PATH_GAIN: f32 = 0.5;

/// The bound's path gain per bin after a failure, from the power gain per bin of the
/// filter that held the path (`path`, the sum over partitions of |W_p(k)|^2: 1 for a unit
/// path): `FAILED_PATH_HEADROOM` over it in the suppressor's scale (half the far end's
/// rectangular-frame power), never under `FAILED_PATH_GAIN`. A non-finite gain (a filter
/// absurd input overflowed) gets the floor.
pub fn failed_path_gain(path: &[f32; BINS], out: &mut [f32; BINS]) {
    for (o, g) in out.iter_mut().zip(path) {
        let g = if g.is_finite() { *g } else { 0.0 };
        *o = (FAILED_PATH_HEADROOM * 0.5 * g).max(FAILED_PATH_GAIN);
    }
}

/// While the linear filter is not trusted, a bin whose error is under this many times the
/// residual estimate is gated, not subtracted from: the estimate is less sure then
/// (measured: the ratio within -3.5..+2.4 dB of the true residual 1-3 s into the reply),
/// and the gate also spares the bins where the user is louder than that.
const UNTRUSTED_GATE_RATIO: f32 = 4.0;
/// Noise floor tracking (minimum statistics): the floor is the least smoothed error power
/// over the last two windows of this many blocks (~0.5 s each at 24 kHz: a word's gaps
/// show the floor, and a louder room is followed within a second)...
const NOISE_WINDOW_BLOCKS: u32 = 96;
/// ... with this smoothing of the power first ...
const NOISE_SMOOTHING: f32 = 0.3;
/// ... and this correction of the minimum's bias (the least of many noisy values is below
/// their mean; measured in the benchmark's rooms, once the floor no longer learns from the
/// echo: 3 left the comfort noise 3-7 dB under the room, 7 leaves it 1-6 dB under).
const NOISE_BIAS: f32 = 7.0;
/// Blocks before the floor learns anything (the smoothed power rises from zero first).
const NOISE_WARMUP_BLOCKS: u32 = 8;

/// What the canceller tells the suppressor about the echo, each block.
pub struct ResidualHints {
    /// The far end's recent peak power per bin (2-block rectangular frames).
    pub far_bound: [f32; BINS],
    /// How much of the far-end bound holds (0-1): 1 while the filter cannot be relied on.
    pub unconverged: f32,
    /// Per bin: the filter has never been trusted and the far end has barely excited this
    /// bin yet, so what the filter learnt says nothing of it: the bound holds there in full
    /// even where `unconverged` has let go.
    pub unlearnt: [bool; BINS],
    /// Per bin, the echo power the far-end bound assumes once the filter has been trusted,
    /// over the far end's peak power (suppressor scale): a unit path until the filter first
    /// fails, then [`failed_path_gain`] of the path that failed.
    pub failed_path_gain: [f32; BINS],
    /// The residual echo power the linear stage's state variance predicts, per bin.
    pub linear_residual: [f32; BINS],
    /// This block is (almost surely) echo alone: the mic under 1.3x the echo estimate (else,
    /// once the filter is trusted and unless `error_follows_echo`, the residual estimate is
    /// taken at `DOUBLE_TALK_RESIDUAL_SHARE`).
    pub echo_alone: bool,
    /// The linear error follows the echo estimate (correlates with it): it is echo the
    /// filter gets wrong (a changed path), not a voice.
    pub error_follows_echo: bool,
    /// The residual ratio may be measured on this block: echo alone, and (once the filter
    /// is trusted) a linear error far under the mic (a voice 15 dB under the block can still
    /// be in it) or one that follows the echo estimate.
    pub residual_measurable: bool,
    /// The error may show the room's noise floor: the linear filter is not leaving most of
    /// the mic in it while the far end plays (double talk, or an echo it does not cancel).
    pub floor_visible: bool,
    /// The far end has been silent for longer than the room rings: the error is the room
    /// (and the user), with no echo tail left in it. Only then may the noise floor rise.
    pub far_quiet: bool,
    /// The linear filter is trusted: its residual estimate is subtracted, not gated on.
    pub trusted: bool,
    /// The linear filter has been trusted at some time: a bound that holds now is after a
    /// failure.
    pub ever_trusted: bool,
}

impl ResidualHints {
    /// Hints that know nothing yet.
    pub fn new() -> ResidualHints {
        ResidualHints {
            far_bound: [0.0; BINS],
            unconverged: 1.0,
            unlearnt: [true; BINS],
            failed_path_gain: [UNIT_PATH_GAIN; BINS],
            linear_residual: [0.0; BINS],
            echo_alone: false,
            error_follows_echo: false,
            residual_measurable: false,
            floor_visible: true,
            far_quiet: true,
            trusted: false,
            ever_trusted: false,
        }
    }
}

impl Default for ResidualHints {
    fn default() -> Self {
        ResidualHints::new()
    }
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
    /// Measured residual-to-echo power ratio per bin.
    leak: [f32; BINS],
    /// The room's noise floor per bin (in the error, STFT scale).
    noise: [f32; BINS],
    /// Smoothed error power, and its minimum over this window and the last one.
    smoothed: [f32; BINS],
    min_now: [f32; BINS],
    min_last: [f32; BINS],
    window_blocks: u32,
    /// Comfort-noise generator state.
    seed: u32,
    /// Blocks processed (saturating): the floor waits for the smoothing to settle.
    blocks_seen: u32,
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
            leak: [1.0; BINS],
            noise: [0.0; BINS],
            smoothed: [0.0; BINS],
            min_now: [f32::MAX; BINS],
            min_last: [f32::MAX; BINS],
            window_blocks: 0,
            seed: 0x9E37_79B9,
            blocks_seen: 0,
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

    /// Uniform in [-1, 1) (xorshift: cheap, deterministic, no allocation).
    fn uniform(&mut self) -> f32 {
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed = x;
        (x >> 8) as f32 / (1u32 << 23) as f32 - 1.0
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

        for k in 0..BINS {
            let e2 = self.e_spec[k].norm_sqr();
            let y2 = self.y_spec[k].norm_sqr();
            // The echo's largest power over the far end's peak in this bin: before the first
            // trust anything up to +6 dB over a unit path; after a failure, what the path
            // that failed held (the filter's taps) with room for it to have grown, and at
            // least +9 dB over a unit path.
            let path_gain = if hints.ever_trusted {
                hints.failed_path_gain[k]
            } else {
                UNCONVERGED_PATH_GAIN
            };
            // A bin the far end has barely excited is bounded in full (the rest of the
            // bound that `unconverged` lets go of).
            let bound = if hints.unlearnt[k] {
                path_gain
            } else {
                hints.unconverged * path_gain
            };
            let before = OVERESTIMATE * (self.leak[k] * y2).max(hints.linear_residual[k])
                + bound * hints.far_bound[k];
            // The room's noise floor: the quietest the error has been lately, where the
            // echo does not dominate it.
            self.smoothed[k] += NOISE_SMOOTHING * (e2 - self.smoothed[k]);
            let warm = self.blocks_seen >= NOISE_WARMUP_BLOCKS;
            // While the echo plays or rings, the floor may only fall (a floor learnt from
            // the residual echo's quietest moments is still the echo: measured, comfort
            // noise 15-30 dB over a -80 dBFS room's floor). Nor is a first floor learnt
            // then: with music playing from the start there is no quiet moment, the first
            // floor would be the residual echo, and the residual ratio, measured over that
            // floor, would then take the residual for the room (measured: music 20-26 dB
            // under its echo where it was 43-59 once the floor waits for a quiet moment).
            let known = self.min_last[k] != f32::MAX;
            if warm
                && hints.floor_visible
                && before < FLOOR_ECHO_SHARE * e2
                && (hints.far_quiet || (known && self.smoothed[k] < self.min_last[k]))
            {
                self.min_now[k] = self.min_now[k].min(self.smoothed[k]);
            }
            // (Nothing known before the first window has passed.)
            let least = self.min_now[k].min(self.min_last[k]);
            self.noise[k] = if self.min_last[k] == f32::MAX {
                0.0
            } else {
                NOISE_BIAS * least
            };
            if hints.residual_measurable && y2 > 4.0 * self.noise[k] && y2 > 0.0 {
                let r = ((e2 - self.noise[k]).max(0.0) / y2).clamp(MIN_LEAK, MAX_LEAK);
                let a = if r < self.leak[k] {
                    LEAK_FALL
                } else {
                    LEAK_RISE
                };
                self.leak[k] += a * (r - self.leak[k]);
            }
            let mut linear = (self.leak[k] * y2).max(hints.linear_residual[k]);
            if hints.trusted && !hints.echo_alone && !hints.error_follows_echo {
                linear *= DOUBLE_TALK_RESIDUAL_SHARE;
            }
            let residual = OVERESTIMATE * linear + bound * hints.far_bound[k];
            let target = if residual <= 0.0 || e2 <= 0.0 {
                1.0
            } else if !hints.trusted && e2 < UNTRUSTED_GATE_RATIO * linear {
                MIN_GAIN
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
            // What the gain removes of the room's noise comes back as comfort noise of the
            // same level (random phase): the server hears the room, not a hole.
            let fill = ((1.0 - g * g) * self.noise[k].min(e2)).max(0.0);
            let scale = (1.5 * fill).sqrt();
            let (re, im) = (self.uniform(), self.uniform());
            self.e_spec[k] =
                self.e_spec[k] * g + realfft::num_complex::Complex::new(re, im) * scale;
        }
        self.blocks_seen = self.blocks_seen.saturating_add(1);
        self.window_blocks += 1;
        if self.window_blocks == NOISE_WINDOW_BLOCKS {
            self.window_blocks = 0;
            // A bin the echo covered for a whole window keeps the floor it had.
            for k in 0..BINS {
                if self.min_now[k] != f32::MAX {
                    self.min_last[k] = self.min_now[k];
                }
            }
            self.min_now = [f32::MAX; BINS];
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic white noise at `rms`.
    fn noise_block(seed: &mut u64, rms: f32) -> [f32; BLOCK] {
        let mut b = [0f32; BLOCK];
        for v in b.iter_mut() {
            *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let u = ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
            *v = u * rms * 3f32.sqrt();
        }
        b
    }

    /// The mean of a per-bin figure away from the band edges.
    fn inner_mean(per_bin: &[f32; BINS]) -> f32 {
        per_bin[4..BINS - 4].iter().sum::<f32>() / (BINS - 8) as f32
    }

    fn mean_floor(s: &ResidualSuppressor) -> f32 {
        inner_mean(&s.noise)
    }

    /// Runs `blocks` blocks of white error at `rms` with no echo estimate.
    fn run(s: &mut ResidualSuppressor, hints: &ResidualHints, blocks: usize, rms: f32) {
        let (mut fft, mut out, mut seed) = (Fft::new(), [0f32; BLOCK], 5u64);
        for _ in 0..blocks {
            let e = noise_block(&mut seed, rms);
            s.process(&mut fft, &e, &[0.0; BLOCK], hints, &mut out);
        }
    }

    /// A suppressor whose residual ratio has been measured at one on 200 blocks of echo
    /// alone (white noise at 1e-2, the error equal to the echo estimate), with its hints
    /// (trust off, bound gone, far end playing) and the noise seed to go on with.
    fn measured_at_one(seed: u64) -> (ResidualSuppressor, ResidualHints, u64) {
        let mut s = ResidualSuppressor::new();
        let mut hints = ResidualHints::new();
        hints.unconverged = 0.0;
        hints.far_quiet = false;
        hints.echo_alone = true;
        hints.residual_measurable = true;
        let mut seed = seed;
        feed(&mut s, &hints, &mut seed, 200, 1.0);
        (s, hints, seed)
    }

    /// Runs `blocks` blocks of white echo estimate at 1e-2 with the error `ratio` times it
    /// in power.
    fn feed(
        s: &mut ResidualSuppressor,
        hints: &ResidualHints,
        seed: &mut u64,
        blocks: usize,
        ratio: f32,
    ) {
        let (mut fft, mut out) = (Fft::new(), [0f32; BLOCK]);
        for _ in 0..blocks {
            let y = noise_block(seed, 1e-2);
            let e = y.map(|v| v * ratio.sqrt());
            s.process(&mut fft, &e, &y, hints, &mut out);
        }
    }

    /// The mean gain once the error is `ratio` times the echo estimate in every bin for a few
    /// blocks (after the residual ratio has been measured at one on echo alone), in blocks
    /// that count as echo alone or not (`echo_alone`; the ratio is not measured on them).
    fn gain_in(trusted: bool, echo_alone: bool, ratio: f32) -> f32 {
        let (mut s, mut hints, mut seed) = measured_at_one(9);
        hints.echo_alone = echo_alone;
        hints.residual_measurable = false;
        hints.trusted = trusted;
        // A few blocks: the frame spans two, and the gain falls over a few.
        feed(&mut s, &hints, &mut seed, 6, ratio);
        inner_mean(&s.gain)
    }

    /// The same in blocks that are not echo alone (the user talking over the echo).
    fn gain_at(trusted: bool, ratio: f32) -> f32 {
        gain_in(trusted, false, ratio)
    }

    #[test]
    fn an_untrusted_filter_gates_near_its_estimate_and_a_trusted_one_subtracts() {
        // Error twice the residual estimate: gated before trust (the estimate is less
        // sure), half of it kept after on echo alone (the half that is not residual echo).
        let untrusted = gain_at(false, 2.0);
        let trusted = gain_in(true, true, 2.0);
        assert!(untrusted < 0.3, "{untrusted}");
        assert!((trusted - 0.5).abs() < 0.1, "{trusted}");
        // A bin far louder than the estimate (the user) passes either way.
        assert!(gain_at(false, 20.0) > 0.9);
        assert!(gain_at(true, 20.0) > 0.9);
    }

    #[test]
    fn under_the_users_voice_a_trusted_filter_takes_a_tenth_of_its_residual_estimate() {
        // The same error, twice the estimate, in a block that is not echo alone: the
        // estimates overstate the residual there, and a tenth of it is subtracted (0.95 of
        // the power kept, where echo alone keeps 0.5).
        let talking = gain_in(true, false, 2.0);
        assert!((talking - 0.95).abs() < 0.03, "{talking}");
        // An error under a tenth of the estimate is still the echo: suppressed.
        let quiet = gain_in(true, false, 0.05);
        assert!(quiet < 0.1, "{quiet}");
    }

    #[test]
    fn the_residual_ratio_is_learnt_only_where_it_is_measurable() {
        // Echo alone with the ratio at one, then blocks twice as loud as the estimate (a
        // user quiet under the echo) that the canceller does not let the ratio learn from:
        // the ratio stays; with them measurable it rises.
        let leak_after = |measurable: bool| {
            let (mut s, mut hints, mut seed) = measured_at_one(13);
            hints.residual_measurable = measurable;
            feed(&mut s, &hints, &mut seed, 100, 2.0);
            inner_mean(&s.leak)
        };
        let kept = leak_after(false);
        let learnt = leak_after(true);
        assert!((kept - 1.0).abs() < 0.1, "{kept}");
        assert!(learnt > 1.4, "{learnt}");
    }

    #[test]
    fn the_bound_assumes_a_unit_path_once_trusted_and_a_louder_one_before_and_after_a_failure() {
        // An error at the far end's peak power, all of it unexplained by the linear stage:
        // before any trust the echo may be 6 dB over a unit path (gated); once the filter
        // has been trusted, a unit path, 3 dB under the far end in this scale (half the
        // error kept); after a failure, 9 dB over a unit path (gated).
        let gain_with = |ever_trusted: bool, failed: bool| {
            let mut s = ResidualSuppressor::new();
            let mut hints = ResidualHints::new();
            hints.far_quiet = false;
            hints.unconverged = 1.0;
            hints.trusted = true; // (the linear stage removed nothing: only the bound can act)
            hints.ever_trusted = ever_trusted;
            if failed {
                failed_path_gain(&[0.0; BINS], &mut hints.failed_path_gain);
            }
            let (mut fft, mut out, mut seed) = (Fft::new(), [0f32; BLOCK], 3u64);
            // The bound: the error's mean power per bin (white noise at 1e-2 through the
            // square-root Hann frame: 128 x 1e-4), as the far end's peak.
            hints.far_bound = [128.0 * 1e-4; BINS];
            for _ in 0..6 {
                let e = noise_block(&mut seed, 1e-2);
                s.process(&mut fft, &e, &[0.0; BLOCK], &hints, &mut out);
            }
            inner_mean(&s.gain)
        };
        let before_trust = gain_with(false, false);
        let trusted_once = gain_with(true, false);
        let after_failure = gain_with(true, true);
        // (Measured: 0.09, 0.47 and 0.03.)
        assert!(before_trust < 0.15, "{before_trust}");
        assert!(trusted_once > 0.2 && trusted_once < 0.8, "{trusted_once}");
        assert!(after_failure < 0.15, "{after_failure}");
    }

    #[test]
    fn a_bin_the_far_end_has_not_excited_keeps_the_bound_once_it_lets_go_of_the_others() {
        // The bound has let go (`unconverged` 0) of a filter never trusted, and the error is
        // at the far end's peak power, all of it unexplained: the unlearnt half of the bins
        // is still gated by the bound, the learnt half passes.
        let mut s = ResidualSuppressor::new();
        let mut hints = ResidualHints::new();
        hints.far_quiet = false;
        hints.unconverged = 0.0;
        hints.trusted = true; // (the linear stage removed nothing: only the bound can act)
        hints.far_bound = [128.0 * 1e-4; BINS];
        for (k, u) in hints.unlearnt.iter_mut().enumerate() {
            *u = k < BINS / 2;
        }
        let (mut fft, mut out, mut seed) = (Fft::new(), [0f32; BLOCK], 7u64);
        for _ in 0..6 {
            let e = noise_block(&mut seed, 1e-2);
            s.process(&mut fft, &e, &[0.0; BLOCK], &hints, &mut out);
        }
        let mean = |g: &[f32]| g.iter().sum::<f32>() / g.len() as f32;
        let unlearnt = mean(&s.gain[4..BINS / 2]);
        let learnt = mean(&s.gain[BINS / 2..BINS - 4]);
        assert!(unlearnt < 0.15, "{unlearnt}");
        assert!(learnt > 0.9, "{learnt}");
    }

    #[test]
    fn no_first_floor_is_learnt_while_the_far_end_plays() {
        // Music from the first block: the error is the residual echo, never the room.
        let mut s = ResidualSuppressor::new();
        let mut hints = ResidualHints::new();
        hints.unconverged = 0.0;
        hints.far_quiet = false;
        run(&mut s, &hints, 400, 1e-3);
        assert_eq!(mean_floor(&s), 0.0);
        // The first quiet moment shows the room: then the floor is learnt, the same as a
        // suppressor that only ever heard the room.
        hints.far_quiet = true;
        run(&mut s, &hints, 400, 1e-4);
        let mut fresh = ResidualSuppressor::new();
        run(&mut fresh, &hints, 400, 1e-4);
        let (room, alone) = (mean_floor(&s), mean_floor(&fresh));
        assert!(
            room > 0.5 * alone && room < 2.0 * alone,
            "{room} vs {alone}"
        );
    }

    #[test]
    fn the_floor_rises_only_once_the_far_end_is_quiet() {
        let mut s = ResidualSuppressor::new();
        let mut hints = ResidualHints::new();
        hints.unconverged = 0.0;
        // A quiet room is learnt.
        run(&mut s, &hints, 400, 1e-4);
        let quiet = mean_floor(&s);
        assert!(quiet > 0.0);
        // While the far end plays (or its echo rings), an error 20 dB louder that the
        // residual estimate missed is not taken for the room...
        hints.far_quiet = false;
        run(&mut s, &hints, 400, 1e-3);
        let during = mean_floor(&s);
        assert!(during < 1.5 * quiet, "{during} vs {quiet}");
        // ... a quieter room is, at once...
        run(&mut s, &hints, 400, 3e-5);
        let lower = mean_floor(&s);
        assert!(lower < 0.3 * quiet, "{lower} vs {quiet}");
        // ... and once the far end has been quiet, a louder room is too.
        hints.far_quiet = true;
        run(&mut s, &hints, 400, 1e-3);
        let louder = mean_floor(&s);
        assert!(louder > 30.0 * quiet, "{louder} vs {quiet}");
    }
}
