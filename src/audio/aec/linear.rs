//! The linear stage: two partitioned-block frequency-domain filters over the same far-end
//! spectra, one that makes the output and one that watches for a changed echo path.
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
/// Smallest observation noise, relative to the error power: the Kalman step never takes
/// the whole error as echo (a full step on one block of speech overshoots).
const MIN_OBSERVATION_FRACTION: f32 = 0.25;
/// Smoothing of the error powers that say which filter is ahead, per bin.
const ERROR_SMOOTHING: f32 = 0.2;

/// What one block of the linear stage produced.
pub struct LinearOutput {
    /// The refined filter's echo estimate (time domain).
    pub echo: [f32; BLOCK],
    /// Mic minus that estimate: what goes on to the suppressor.
    pub error: [f32; BLOCK],
    /// Block energies: mic, refined error, coarse error, echo estimate.
    pub mic_energy: f32,
    /// Refined error energy.
    pub error_energy: f32,
    /// Coarse error energy.
    pub coarse_error_energy: f32,
    /// Echo estimate energy.
    pub echo_energy: f32,
}

/// The two filters and the Kalman state.
pub struct LinearStage {
    refined: PartitionedFilter,
    coarse: PartitionedFilter,
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
            state_var: prior_var.clone(),
            prior_var,
            y_refined: [0.0; BLOCK],
            y_coarse: [0.0; BLOCK],
            e_spec: [ZERO; BINS],
            e_spec_coarse: [ZERO; BINS],
            gain: [ZERO; BINS],
            denom: [0.0; BINS],
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

    /// The refined filter (the echo path as learnt).
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
    }

    /// The far-end offset moved by `k` partitions: the coarse filter bets the taps move
    /// with it (the estimate moved), the refined one that the room did (the taps stay);
    /// whichever cancels better wins in [`LinearStage::process`].
    pub fn offset_moved(&mut self, k: isize) {
        self.coarse.copy_from(&self.refined);
        self.coarse.shift(k);
        self.forget();
    }

    /// One block: `near` is the mic block, `far` the far-end spectra (newest first) with
    /// power up to date; `adapt` is false where the far end is silent (nothing to learn).
    pub fn process(
        &mut self,
        far: &FarSpectra,
        near: &[f32; BLOCK],
        adapt: bool,
        fft: &mut Fft,
    ) -> LinearOutput {
        self.refined.estimate(far, fft, &mut self.y_refined);
        self.coarse.estimate(far, fft, &mut self.y_coarse);
        let mut out = LinearOutput {
            echo: self.y_refined,
            error: [0.0; BLOCK],
            mic_energy: 0.0,
            error_energy: 0.0,
            coarse_error_energy: 0.0,
            echo_energy: 0.0,
        };
        let mut e_coarse = [0f32; BLOCK];
        for i in 0..BLOCK {
            let d = near[i];
            out.error[i] = d - self.y_refined[i];
            e_coarse[i] = d - self.y_coarse[i];
            out.mic_energy += d * d;
            out.error_energy += out.error[i] * out.error[i];
            out.coarse_error_energy += e_coarse[i] * e_coarse[i];
            out.echo_energy += self.y_refined[i] * self.y_refined[i];
        }
        fft.forward_zero_padded(&out.error, &mut self.e_spec);
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

        if adapt {
            self.adapt(far, fft);
        }

        // Arbitration: a coarse filter far worse than the refined one has diverged (it
        // adapts through double talk unguarded) and restarts from it; one far better has
        // found a changed echo path first, and the refined filter jumps to it.
        self.err_refined = 0.8 * self.err_refined + 0.2 * out.error_energy;
        self.err_coarse = 0.8 * self.err_coarse + 0.2 * out.coarse_error_energy;
        if adapt {
            if self.err_coarse > 4.0 * self.err_refined {
                self.coarse.copy_from(&self.refined);
                self.err_coarse = self.err_refined;
                self.err_spec_coarse = self.err_spec_refined;
            } else if self.err_coarse < 0.25 * self.err_refined {
                self.refined.copy_from(&self.coarse);
                self.err_refined = self.err_coarse;
                self.err_spec_refined = self.err_spec_coarse;
                self.forget();
            }
        }
        out
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
        for k in 0..BINS {
            self.gain[k] = if far.power[k] < gate {
                ZERO
            } else {
                self.e_spec[k] / self.denom[k]
            };
        }
        // Kalman update per partition: the step is the partition's variance (in the gain's
        // scale, applied by adapt_scaled); the variance shrinks by what this block taught it
        // and grows back by the process noise.
        for p in 0..np {
            let v = &mut self.state_var[p * BINS..(p + 1) * BINS];
            let prior = &self.prior_var[p * BINS..(p + 1) * BINS];
            let x = far.part(p);
            let w = self.refined.partition(p);
            for k in 0..BINS {
                if far.power[k] < gate {
                    continue;
                }
                let taught = v[k] * x[k].norm_sqr() / self.denom[k];
                let shrunk = v[k] * (1.0 - taught).max(0.0);
                let q = if self.changed[k] {
                    PROCESS_NOISE_CHANGED
                } else {
                    PROCESS_NOISE
                };
                let grow = q * (w[k].norm_sqr() + 1e-3 * prior[k]);
                v[k] = (shrunk + grow).clamp(1e-9, 4.0 * prior[k].max(PRIOR_VAR));
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
