//! The linear stage: partitioned-block frequency-domain filters over the same far-end
//! spectra: one that learns the echo path, one that watches for a changed path, and, once
//! the canceller trusts the filter, a guarded copy that makes the output.
//!
//! - The **refined** filter is a frequency-domain Kalman filter (the state-space model of
//!   the echo path, one state per partition and bin): each partition keeps the variance of
//!   its own error (`state_var`), and the step is that variance against the error the block
//!   shows. While the filter knows little the step is a full one (it converges in the first
//!   second of speech even with a 300+ ms tail), once it knows the path the step is small,
//!   and when the user talks over the echo the observation noise (estimated as the error
//!   power the filter's own uncertainty does not explain) holds it still: no double-talk
//!   detector to get wrong. The state variance starts from a prior that decays along the
//!   partitions the way a room's response does, so the long tail does not add the noise of
//!   a long filter. The variance also says how much echo the filter leaves
//!   ([`LinearStage::residual_power`]): the residual suppressor's estimate.
//! - The **coarse** filter is plain NLMS with a fixed step: it adapts through anything, so
//!   after an echo path change (a moving 3D voice, a moved laptop) it finds the new path
//!   first, and the refined filter takes its taps.
//! - The **output** filter (once the canceller trusts the filter; before, the refined
//!   filter makes the output itself): the refined filter's taps as of the last block they
//!   cancelled significantly better (the two-path model of Speex MDF's foreground filter),
//!   never taken at the onset of a user's voice. In double talk the refined filter still
//!   adapts on the voice (its state variance stays at 0.3-4x the learnt path's power), and
//!   a filter damaged so makes the echo come back; the output filter keeps the path it
//!   learnt, and the refined one starts again from it when it does significantly worse.
//!
//! Everything is allocated in [`LinearStage::new`].

use super::fft::{Fft, Spectrum, ZERO};
use super::filter::{FarSpectra, PartitionedFilter};
use super::{BINS, BLOCK};

/// Coarse filter NLMS step.
const COARSE_STEP: f32 = 0.4;
/// Partitions of each filter constrained per block (in turn).
const CONSTRAIN_PER_BLOCK: usize = 2;
/// The prior state variance at the filter's start (the onset margin and the direct path),
/// relative to a unit far-to-mic path.
const PRIOR_VAR: f32 = 0.5;
/// Per-partition decay of the prior beyond the direct path, in power: a room whose energy
/// falls 60 dB in 0.5 s (~0.6 dB per 5.3 ms block at 24 kHz) is the prior's shape.
const PRIOR_DECAY_DB_PER_MS: f32 = 0.12;
/// Process noise: per block, the state variance grows by this fraction of what the
/// partition holds (echo paths drift: clocks, people, a turning head; and the growth in
/// proportion to the learnt taps steers the steps to where the echo is, which converges
/// a long filter far faster than a uniform step)...
const PROCESS_NOISE: f32 = 0.015;
/// ... and by this fraction while the coarse filter shows the path changed in that bin.
const PROCESS_NOISE_CHANGED: f32 = 0.05;
/// Bounds of the state variance (the largest: 4x the prior at the filter's start).
const MIN_STATE_VAR: f32 = 1e-9;
/// See [`MIN_STATE_VAR`].
const MAX_STATE_VAR: f32 = 4.0 * PRIOR_VAR;
/// Smallest observation noise, relative to the error power: the Kalman step never takes
/// the whole error as echo (a full step on one block of speech overshoots).
const MIN_OBSERVATION_FRACTION: f32 = 0.25;
/// Per-block smoothing of the block error energies that say which filter is ahead.
const ENERGY_SMOOTHING: f32 = 0.8;

/// One step of the smoothing of a block energy; a sum a block of absurd levels overflowed
/// starts over (an infinite sum would stay infinite for good).
fn smoothed(previous: f32, energy: f32) -> f32 {
    let s = ENERGY_SMOOTHING * previous + (1.0 - ENERGY_SMOOTHING) * energy;
    if s.is_finite() {
        s
    } else {
        0.0
    }
}

/// Smoothing of the error powers that say which filter is ahead, per bin.
const ERROR_SMOOTHING: f32 = 0.2;
/// The output filter takes the refined one's taps when the refined error is lower by more
/// than the two estimates' difference explains: over one block, over ~2 blocks
/// (`SIGNIFICANT_FAST`, smoothing `DIFF_SMOOTHING_FAST`) or over ~6
/// (`SIGNIFICANT_SLOW`, `DIFF_SMOOTHING_SLOW`); the refined filter falls back to the output
/// filter when it is worse by `BACKTRACK` times as much.
const SIGNIFICANT_FAST: f32 = 0.5;
/// See [`SIGNIFICANT_FAST`].
const SIGNIFICANT_SLOW: f32 = 0.25;
/// See [`SIGNIFICANT_FAST`].
const BACKTRACK: f32 = 4.0;
/// See [`SIGNIFICANT_FAST`].
const DIFF_SMOOTHING_FAST: f32 = 0.6;
/// See [`SIGNIFICANT_FAST`].
const DIFF_SMOOTHING_SLOW: f32 = 0.85;
/// A block whose output error, against the echo estimate, is this far over its quiet level
/// (15 dB) is the onset of something new in the mic: the user's voice, or a changed path.
const ONSET_JUMP: f32 = 30.0;
/// Per block, how far the quiet level may rise (~4 dB a second at 24 kHz: a room that
/// changes slowly is not an onset).
const QUIET_RISE: f32 = 1.005;
/// The refined filter's smoothed error under this share of the output filter's is a lead
/// no voice gives it (measured: 55-70 % in double talk): the path changed.
const STRONG_LEAD: f32 = 0.25;

/// What one block of the linear stage produced.
pub struct LinearOutput {
    /// The echo estimate of the filter that makes the output (time domain).
    pub echo: [f32; BLOCK],
    /// Mic minus that estimate: what goes on to the suppressor.
    pub error: [f32; BLOCK],
    /// Mic energy of the block.
    pub mic_energy: f32,
    /// Energy of `error`.
    pub error_energy: f32,
    /// The coarse filter's error energy.
    pub coarse_error_energy: f32,
    /// The refined filter's error energy (the same as `error_energy` while not guarded).
    pub refined_error_energy: f32,
    /// Energy of `echo`.
    pub echo_energy: f32,
}

/// What [`OutputChoice::judge`] decided for a block.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Nothing is significant: the output filter stays as it is.
    Keep,
    /// The refined filter cancels significantly better: the output takes its taps.
    TakeRefined,
    /// The refined filter cancels significantly worse (it adapted on the user's voice):
    /// it starts again from the output filter's taps.
    BackToOutput,
}

/// The output filter's guard (the two-path model of Speex MDF's foreground and background
/// filters): the refined filter adapts on every block with far end, the user's voice
/// included, and each step it takes on the user moves it off the echo path, while the output
/// filter moves only when the refined one's error is lower by more than chance can explain.
/// The difference of the two errors is the difference of the two echo estimates crossed
/// with the error, so its variance is about the error's energy times the estimates'
/// difference: with the user talking the error is loud and no difference is significant;
/// on echo alone a better filter shows within a block or two.
#[derive(Default)]
struct OutputChoice {
    gain_fast: f32,
    gain_slow: f32,
    var_fast: f32,
    var_slow: f32,
}

impl OutputChoice {
    /// One block's error energies with the output and the refined filter, and the energy of
    /// the difference of their echo estimates.
    fn judge(&mut self, output_error: f32, refined_error: f32, estimates_apart: f32) -> Verdict {
        let gain = output_error - refined_error;
        let var = output_error * estimates_apart;
        let (a, b) = (DIFF_SMOOTHING_FAST, DIFF_SMOOTHING_SLOW);
        self.gain_fast = a * self.gain_fast + (1.0 - a) * gain;
        self.gain_slow = b * self.gain_slow + (1.0 - b) * gain;
        self.var_fast = a * a * self.var_fast + (1.0 - a) * (1.0 - a) * var;
        self.var_slow = b * b * self.var_slow + (1.0 - b) * (1.0 - b) * var;
        let signed_sq = |x: f32| x * x.abs();
        let verdict = if signed_sq(gain) > var
            || signed_sq(self.gain_fast) > SIGNIFICANT_FAST * self.var_fast
            || signed_sq(self.gain_slow) > SIGNIFICANT_SLOW * self.var_slow
        {
            Verdict::TakeRefined
        } else if -signed_sq(gain) > BACKTRACK * var
            || -signed_sq(self.gain_fast) > BACKTRACK * self.var_fast
            || -signed_sq(self.gain_slow) > BACKTRACK * self.var_slow
        {
            Verdict::BackToOutput
        } else {
            Verdict::Keep
        };
        let finite = self.gain_fast.is_finite()
            && self.gain_slow.is_finite()
            && self.var_fast.is_finite()
            && self.var_slow.is_finite();
        if verdict != Verdict::Keep || !finite {
            // The two filters are the same again (or a block of absurd levels overflowed
            // the sums, which would never compare again): the evidence starts over.
            *self = OutputChoice::default();
        }
        verdict
    }
}

/// The filters and the Kalman state.
pub struct LinearStage {
    refined: PartitionedFilter,
    coarse: PartitionedFilter,
    /// The filter that makes the output: the refined filter's taps as of the last block
    /// they measurably cancelled better (see [`OutputChoice`]).
    output: PartitionedFilter,
    choice: OutputChoice,
    y_output: [f32; BLOCK],
    /// Whether the output comes from `output` (else from the refined filter itself).
    guarded: bool,
    /// The output error's lowest recent ratio to the echo estimate (see `ONSET_JUMP`).
    quiet_ratio: f32,
    /// Smoothed output error energy.
    err_output: f32,
    /// Kalman state variance per partition and bin (partition-major).
    state_var: Vec<f32>,
    /// The prior the variance returns to when the path is lost.
    prior_var: Vec<f32>,
    y_refined: [f32; BLOCK],
    y_coarse: [f32; BLOCK],
    e_spec: Spectrum,
    e_spec_coarse: Spectrum,
    gain: Spectrum,
    denom: [f32; BINS],
    /// 1 / `denom` where the far end excites the bin, else 0.
    inv_denom: [f32; BINS],
    /// The process noise per bin this block (0 where the far end is silent).
    noise_share: [f32; BINS],
    /// The refined error power each bin shows that the filter's uncertainty does not
    /// explain: near end and noise (observation noise).
    observation: [f32; BINS],
    /// Smoothed error power spectra of both filters (which one is ahead, per bin).
    err_spec_refined: [f32; BINS],
    err_spec_coarse: [f32; BINS],
    /// The path changed in this bin (the coarse filter is clearly ahead).
    changed: [bool; BINS],
    err_refined: f32,
    err_coarse: f32,
    /// Expected residual echo power per bin from the state variance (zero-padded error
    /// spectrum scale).
    residual: [f32; BINS],
}

impl LinearStage {
    /// Filters of `partitions` blocks at `sample_rate`; the prior's decay starts after
    /// `onset_partitions` (where the direct path is expected).
    pub fn new(partitions: usize, onset_partitions: usize, sample_rate: u32) -> LinearStage {
        let block_ms = BLOCK as f32 * 1000.0 / sample_rate as f32;
        let decay = 10f32.powf(-PRIOR_DECAY_DB_PER_MS * block_ms / 10.0);
        let mut prior_var = vec![0.0; partitions * BINS];
        for p in 0..partitions {
            let v = PRIOR_VAR * decay.powi(p.saturating_sub(onset_partitions) as i32);
            prior_var[p * BINS..(p + 1) * BINS].fill(v);
        }
        LinearStage {
            refined: PartitionedFilter::new(partitions),
            coarse: PartitionedFilter::new(partitions),
            output: PartitionedFilter::new(partitions),
            choice: OutputChoice::default(),
            y_output: [0.0; BLOCK],
            guarded: false,
            quiet_ratio: 1.0,
            err_output: 0.0,
            state_var: prior_var.clone(),
            prior_var,
            y_refined: [0.0; BLOCK],
            y_coarse: [0.0; BLOCK],
            e_spec: [ZERO; BINS],
            e_spec_coarse: [ZERO; BINS],
            gain: [ZERO; BINS],
            denom: [0.0; BINS],
            inv_denom: [0.0; BINS],
            noise_share: [0.0; BINS],
            observation: [0.0; BINS],
            err_spec_refined: [0.0; BINS],
            err_spec_coarse: [0.0; BINS],
            changed: [false; BINS],
            err_refined: 0.0,
            err_coarse: 0.0,
            residual: [0.0; BINS],
        }
    }

    /// The expected residual echo power per bin (what the refined filter's uncertainty
    /// leaves in its error, at the scale of a zero-padded block spectrum).
    pub fn residual_power(&self) -> &[f32; BINS] {
        &self.residual
    }

    /// The filter that makes the output (the echo path as learnt): the guarded output
    /// filter while guarded, else the refined filter.
    pub fn output_filter(&self) -> &PartitionedFilter {
        if self.guarded {
            &self.output
        } else {
            &self.refined
        }
    }

    /// The refined (Kalman) filter.
    pub fn refined(&self) -> &PartitionedFilter {
        &self.refined
    }

    /// The echo path is unknown again (the far-end offset moved far, or the canceller was
    /// told the path changed): the state variance returns to at least the prior, so the
    /// refined filter steps fast.
    pub fn forget(&mut self) {
        for (v, p) in self.state_var.iter_mut().zip(&self.prior_var) {
            *v = v.max(*p);
        }
        // Nothing is quiet about a path unknown again (no onset until it is).
        self.quiet_ratio = 1.0;
    }

    /// The far-end offset moved by `k` partitions: the coarse filter bets the taps move
    /// with it (the estimate moved), the refined one that the room did (the taps stay);
    /// whichever cancels better wins in [`LinearStage::process`].
    pub fn offset_moved(&mut self, k: isize) {
        self.coarse.copy_from(&self.refined);
        self.coarse.shift(k);
        self.forget();
        // The output filter is copied afresh when the guard engages again.
        self.guarded = false;
    }

    /// One block: `near` is the mic block, `far` the far-end spectra (newest first) with
    /// power up to date; `adapt` is false where the far end is silent (nothing to learn);
    /// `guard`: the output comes from the guarded output filter (once the filter is
    /// trusted) instead of the refined filter itself.
    pub fn process(
        &mut self,
        far: &FarSpectra,
        near: &[f32; BLOCK],
        adapt: bool,
        guard: bool,
        fft: &mut Fft,
    ) -> LinearOutput {
        if guard && !self.guarded {
            self.output.copy_from(&self.refined);
            self.choice = OutputChoice::default();
        }
        self.guarded = guard;
        self.refined.estimate(far, fft, &mut self.y_refined);
        self.coarse.estimate(far, fft, &mut self.y_coarse);
        if self.guarded {
            self.output.estimate(far, fft, &mut self.y_output);
        } else {
            self.y_output = self.y_refined;
        }
        let mut out = LinearOutput {
            echo: self.y_output,
            error: [0.0; BLOCK],
            mic_energy: 0.0,
            error_energy: 0.0,
            coarse_error_energy: 0.0,
            refined_error_energy: 0.0,
            echo_energy: 0.0,
        };
        let mut e_refined = [0f32; BLOCK];
        let mut e_coarse = [0f32; BLOCK];
        let (mut refined_energy, mut estimates_apart) = (0f32, 0f32);
        for i in 0..BLOCK {
            let d = near[i];
            out.error[i] = d - self.y_output[i];
            e_refined[i] = d - self.y_refined[i];
            e_coarse[i] = d - self.y_coarse[i];
            out.mic_energy += d * d;
            out.error_energy += out.error[i] * out.error[i];
            refined_energy += e_refined[i] * e_refined[i];
            out.coarse_error_energy += e_coarse[i] * e_coarse[i];
            out.echo_energy += self.y_output[i] * self.y_output[i];
            let apart = self.y_output[i] - self.y_refined[i];
            estimates_apart += apart * apart;
        }
        fft.forward_zero_padded(&e_refined, &mut self.e_spec);
        fft.forward_zero_padded(&e_coarse, &mut self.e_spec_coarse);

        // The residual the state variance predicts, before this block's update (it is the
        // error this block's estimate leaves).
        self.residual = [0.0; BINS];
        let np = far.partitions();
        for p in 0..np {
            let v = &self.state_var[p * BINS..(p + 1) * BINS];
            for ((r, v), x) in self.residual.iter_mut().zip(v).zip(far.part(p)) {
                *r += v * x.norm_sqr();
            }
        }
        self.residual.iter_mut().for_each(|r| *r *= 0.5);

        out.refined_error_energy = refined_energy;
        self.err_refined = smoothed(self.err_refined, refined_energy);
        self.err_coarse = smoothed(self.err_coarse, out.coarse_error_energy);
        self.err_output = smoothed(self.err_output, out.error_energy);
        if adapt {
            self.adapt(far, fft);
            // Arbitration: a coarse filter far worse than the refined one has diverged (it
            // adapts through double talk unguarded) and restarts from it; one far better has
            // found a changed echo path first, and the refined filter jumps to it.
            if self.err_coarse > 4.0 * self.err_refined {
                self.coarse.copy_from(&self.refined);
                self.err_coarse = self.err_refined;
                self.err_spec_coarse = self.err_spec_refined;
            } else if self.err_coarse < 0.25 * self.err_refined {
                self.refined.copy_from(&self.coarse);
                // The output filter too: the coarse filter's lead is evidence enough.
                if self.guarded {
                    self.output.copy_from(&self.coarse);
                    self.choice = OutputChoice::default();
                    self.err_output = self.err_coarse;
                }
                self.err_refined = self.err_coarse;
                self.err_spec_refined = self.err_spec_coarse;
                self.forget();
            }
            // The output filter takes the refined filter's taps after this block's step (judged
            // on the taps before it: measured, taking the taps judged instead cost 10 dB of
            // ERLE in a synthetic room with a band-limited far end, 43.0 -> 33.1 dB, and was
            // even in the benchmark).
            if self.guard_output(&out, refined_energy, estimates_apart) == Verdict::BackToOutput {
                // The refined filter starts again from the output filter: so does its error.
                self.err_refined = self.err_output;
            }
        }
        out
    }

    /// While guarded, the output filter takes the refined filter's taps only when they
    /// cancel significantly better ([`OutputChoice`]), and not at all in a block whose
    /// output error jumps far over its quiet level (`ONSET_JUMP`: the user starts talking,
    /// and the refined filter, adapting on the voice, cancels a part of it that the next
    /// blocks do not repeat), unless the coarse filter leads or the refined one leads by
    /// far (`STRONG_LEAD`: after a path change). Measured: without the onset rule, the
    /// refined filter's a-priori error in double talk was 30-45 % lower than the output's
    /// while the echo it left was 5-20 dB above it, and the significance test passed.
    fn guard_output(
        &mut self,
        out: &LinearOutput,
        refined_energy: f32,
        estimates_apart: f32,
    ) -> Verdict {
        let ratio = (out.error_energy / out.echo_energy.max(1e-12)).min(1.0);
        let onset = ratio > ONSET_JUMP * self.quiet_ratio;
        self.quiet_ratio = if ratio < self.quiet_ratio {
            ratio
        } else {
            (self.quiet_ratio * QUIET_RISE).min(1.0)
        };
        if !self.guarded {
            return Verdict::Keep;
        }
        let mut verdict = self
            .choice
            .judge(out.error_energy, refined_energy, estimates_apart);
        if verdict == Verdict::TakeRefined
            && onset
            && !self.coarse_ahead()
            && self.err_refined >= STRONG_LEAD * self.err_output
        {
            verdict = Verdict::Keep;
        }
        match verdict {
            Verdict::TakeRefined => self.output.copy_from(&self.refined),
            Verdict::BackToOutput => self.refined.copy_from(&self.output),
            Verdict::Keep => {}
        }
        verdict
    }

    /// Whether the coarse filter is clearly ahead overall (the path changed).
    pub fn coarse_ahead(&self) -> bool {
        self.err_coarse < 0.5 * self.err_refined
    }

    fn adapt(&mut self, far: &FarSpectra, fft: &mut Fft) {
        let np = far.partitions();
        let mean_power = far.power.iter().sum::<f32>() / BINS as f32;
        // Bins the far end leaves (nearly) silent learn nothing: their step would be noise.
        let gate = 1e-3 * mean_power + np as f32 * (BLOCK * BLOCK) as f32 * 1e-9;
        for k in 0..BINS {
            let er2 = self.e_spec[k].norm_sqr();
            let ec2 = self.e_spec_coarse[k].norm_sqr();
            self.err_spec_refined[k] += ERROR_SMOOTHING * (er2 - self.err_spec_refined[k]);
            self.err_spec_coarse[k] += ERROR_SMOOTHING * (ec2 - self.err_spec_coarse[k]);
            // Observation noise: the error the uncertainty does not explain (the user, the
            // room), from this block or the recent ones, whichever is larger (a word's onset
            // must stop adaptation at once).
            let err = er2.max(self.err_spec_refined[k]);
            let unexplained = (err - self.residual[k]).max(MIN_OBSERVATION_FRACTION * err);
            self.observation[k] = unexplained;
            self.denom[k] = 2.0 * self.residual[k] + 2.0 * unexplained + gate;
            self.changed[k] = self.err_spec_coarse[k] < 0.5 * self.err_spec_refined[k];
        }
        // Per bin: the Kalman gain's scale (zero where the far end is silent: those bins
        // learn nothing and their variance stays as it is) and the process noise.
        for k in 0..BINS {
            let active = far.power[k] >= gate;
            self.inv_denom[k] = if active { 1.0 / self.denom[k] } else { 0.0 };
            self.gain[k] = if active {
                self.e_spec[k] * self.inv_denom[k]
            } else {
                ZERO
            };
            self.noise_share[k] = match (active, self.changed[k]) {
                (false, _) => 0.0,
                (true, false) => PROCESS_NOISE,
                (true, true) => PROCESS_NOISE_CHANGED,
            };
        }
        // Kalman update per partition: the step is the partition's variance (in the gain's
        // scale, applied by adapt_scaled); the variance shrinks by what this block taught it
        // and grows back by the process noise. (Branch-free, so it vectorises: it is the
        // canceller's hottest loop.)
        for p in 0..np {
            let v = &mut self.state_var[p * BINS..(p + 1) * BINS];
            let prior = &self.prior_var[p * BINS..(p + 1) * BINS];
            let x = far.part(p);
            let w = self.refined.partition(p);
            for (((((v, x), w), prior), inv), q) in v
                .iter_mut()
                .zip(x)
                .zip(w)
                .zip(prior)
                .zip(&self.inv_denom)
                .zip(&self.noise_share)
            {
                let taught = *v * x.norm_sqr() * inv;
                let shrunk = *v * (1.0 - taught).max(0.0);
                let grow = q * (w.norm_sqr() + 1e-3 * prior);
                *v = (shrunk + grow).clamp(MIN_STATE_VAR, MAX_STATE_VAR);
            }
        }
        self.refined
            .adapt_scaled(far, &self.gain, &self.state_var, fft, CONSTRAIN_PER_BLOCK);
        for k in 0..BINS {
            let x2 = far.power[k];
            self.gain[k] = if x2 < gate {
                ZERO
            } else {
                self.e_spec_coarse[k] * (COARSE_STEP / (x2 + gate))
            };
        }
        self.coarse.adapt(far, &self.gain, fft, CONSTRAIN_PER_BLOCK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::aec::tests::noise;
    use crate::audio::aec::FFT;

    #[test]
    fn the_output_filter_moves_only_on_significant_evidence() {
        // Echo alone, the refined filter better: the gain is about the estimates'
        // difference, and the error is small.
        let mut choice = OutputChoice::default();
        assert_eq!(choice.judge(3.0e-4, 1.8e-4, 1.2e-4), Verdict::TakeRefined);
        // The user talking: a loud error, a lower refined error by a share of it that the
        // estimates' difference does not make significant.
        let mut choice = OutputChoice::default();
        assert_eq!(choice.judge(0.9, 0.8, 0.05), Verdict::Keep);
        // The refined filter far worse: it starts again from the output filter.
        let mut choice = OutputChoice::default();
        assert_eq!(choice.judge(1.0e-4, 3.5e-4, 1.0e-4), Verdict::BackToOutput);
        // Sums overflowed by absurd levels start over instead of never comparing again.
        let mut choice = OutputChoice::default();
        choice.judge(f32::MAX, 0.0, f32::MAX);
        choice.judge(f32::INFINITY, f32::INFINITY, 1.0);
        assert_eq!(choice.judge(3.0e-4, 1.8e-4, 1.2e-4), Verdict::TakeRefined);
    }

    /// A linear stage and the signals it is run on: the mic is `echo` plus `user`.
    struct Scene {
        stage: LinearStage,
        far_spectra: FarSpectra,
        fft: Fft,
        far: Vec<f32>,
        echo: Vec<f32>,
        user: Vec<f32>,
    }

    impl Scene {
        /// Runs `blocks` through the stage; returns how much of the echo the output and the
        /// refined filter removed over those blocks (echo power over what each left, dB).
        fn run(&mut self, blocks: std::ops::Range<usize>, guard: bool) -> (f32, f32) {
            let (mut echo_e, mut out_left, mut refined_left) = (0f32, 0f32, 0f32);
            for b in blocks {
                let mut frame = [0f32; FFT];
                frame.copy_from_slice(&self.far[b * BLOCK - BLOCK..b * BLOCK + BLOCK]);
                let mut spec = [ZERO; BINS];
                self.fft.forward(&frame, &mut spec);
                self.far_spectra.push(&spec);
                self.far_spectra.update_power();
                let echo = &self.echo[b * BLOCK..(b + 1) * BLOCK];
                let user = &self.user[b * BLOCK..(b + 1) * BLOCK];
                let mut near = [0f32; BLOCK];
                for ((n, e), u) in near.iter_mut().zip(echo).zip(user) {
                    *n = e + u;
                }
                let out = self
                    .stage
                    .process(&self.far_spectra, &near, true, guard, &mut self.fft);
                for i in 0..BLOCK {
                    echo_e += echo[i] * echo[i];
                    let o = out.error[i] - user[i];
                    out_left += o * o;
                    let r = near[i] - self.stage.y_refined[i] - user[i];
                    refined_left += r * r;
                }
            }
            let db = |left: f32| 10.0 * (echo_e / left.max(1e-20)).log10();
            (db(out_left), db(refined_left))
        }
    }

    #[test]
    fn a_user_talking_over_a_learnt_echo_does_not_move_the_output_filter() {
        // A learnt echo path (40 ms of decaying response after a 20 ms delay, a coloured far
        // end), then a user as loud as the echo whose voice is correlated from block to block
        // the way speech is (low-passed noise and a modulated 150 Hz harmonic series): the
        // refined filter adapts on it, the guarded output filter keeps the path it learnt.
        // Measured: the output filter removes 72.0 dB of the echo, the refined one 13.9;
        // without the onset rule the output took the refined taps (12.9 dB).
        let rate = 24_000usize;
        let n = rate * 8;
        let mut seed = 17u64;
        let mut lp_far = 0f32;
        let far: Vec<f32> = (0..n)
            .map(|_| {
                lp_far = 0.9 * lp_far + 0.3 * noise(&mut seed);
                lp_far
            })
            .collect();
        let delay = rate / 50;
        let taps: Vec<f32> = (0..rate / 25)
            .map(|i| 0.4 * noise(&mut seed) * (-(i as f32) / 200.0).exp())
            .collect();
        let mut echo = vec![0f32; n];
        for (i, e) in echo.iter_mut().enumerate().skip(delay) {
            let end = (i - delay + 1).min(taps.len());
            *e = (0..end).map(|j| taps[j] * far[i - delay - j]).sum();
        }
        let echo_rms = (echo[rate..].iter().map(|v| v * v).sum::<f32>() / (n - rate) as f32).sqrt();
        let mut user = vec![0f32; n];
        let mut lp = 0f32;
        for (i, u) in user.iter_mut().enumerate().skip(5 * rate) {
            lp = 0.95 * lp + 0.05 * noise(&mut seed);
            let t = i as f32 / rate as f32;
            let voiced: f32 = (1..8)
                .map(|h| (2.0 * std::f32::consts::PI * 150.0 * h as f32 * t).sin() / h as f32)
                .sum();
            *u = lp + 0.05 * voiced * (0.5 + 0.5 * (2.0 * std::f32::consts::PI * 3.0 * t).sin());
        }
        let user_rms =
            (user[5 * rate..].iter().map(|v| v * v).sum::<f32>() / (3 * rate) as f32).sqrt();
        for u in user.iter_mut() {
            *u *= echo_rms / user_rms;
        }
        let partitions = 24;
        let mut scene = Scene {
            stage: LinearStage::new(partitions, 6, rate as u32),
            far_spectra: FarSpectra::new(partitions),
            fft: Fft::new(),
            far,
            echo,
            user,
        };
        let blocks = n / BLOCK - 1;
        let learnt = 3 * rate / BLOCK;
        let talk = 5 * rate / BLOCK;
        scene.run(1..learnt, false);
        let (before, _) = scene.run(learnt..talk, true);
        assert!(before > 30.0, "the path was not learnt: {before:.1} dB");
        let (output_db, refined_db) = scene.run(talk..blocks, true);
        assert!(
            output_db > 25.0 && output_db > refined_db + 6.0,
            "in double talk: output {output_db:.1} dB, refined {refined_db:.1} dB (before {before:.1})"
        );
    }
}
