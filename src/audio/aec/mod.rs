//! Acoustic echo cancellation for the capture path: removes from the mic what the speakers
//! played (the model's own voice), so server VAD does not take it for the user and the user
//! can still interrupt the model by voice with speakers on.
//!
//! Runs on mono f32 at the wire rate (24 kHz; 16-48 kHz work), after the mic is resampled:
//! half the work of 48 kHz, the far-end reference is produced at that rate anyway by
//! [`super::reference::FarEndAligner`], and the server never hears anything above 12 kHz.
//!
//! Stages, per block of 128 samples (everything allocated in [`EchoCanceller::new`]; no
//! allocation, lock or I/O per call):
//! 1. [`delay::DelayEstimator`] finds the bulk delay (0-400 ms) by envelope correlation; the
//!    far-end read offset follows it (only while the filters are failing: a filter that
//!    cancels well knows the delay better), leaving a 32 ms margin before the direct path.
//! 2. [`filter`]: two partitioned-block frequency-domain adaptive filters over the next
//!    96 ms: a refined one whose step follows a Kalman-style estimate of its own
//!    misadjustment against the error power (fast while it knows little, nearly still in
//!    double talk, with no detector to get wrong), which makes the output; and a coarse
//!    NLMS one, which follows a changed echo path first and then teaches the refined one.
//! 3. [`suppressor::ResidualSuppressor`] removes the residual echo per frequency bin where
//!    it dominates, sparing the bins where the user's voice does. Until the linear filter
//!    is trusted (20 dB on echo alone), and again when it fails (its error louder than the
//!    mic: the echo path changed), the echo is bounded by the far end's recent peak power
//!    instead, so the server's VAD never hears the model even in the first second.
//!
//! Figures (synthetic room, end to end against the local server, cost): `docs/aec-figures.md`.
//!
//! The output lags the input by two blocks ([`EchoCanceller::latency_samples`], 10.7 ms at
//! 24 kHz): one to gather a block, one for the suppressor's overlap-add.

pub mod delay;
pub mod fft;
pub mod filter;
pub mod suppressor;

use delay::DelayEstimator;
use fft::{Fft, Spectrum, ZERO};
use filter::{FarSpectra, PartitionedFilter};
use suppressor::{ResidualHints, ResidualSuppressor};

/// Samples per block.
pub const BLOCK: usize = 128;
/// FFT size: two blocks (overlap-save).
pub const FFT: usize = 2 * BLOCK;
/// Bins of a real FFT of `FFT` points.
pub const BINS: usize = BLOCK + 1;

/// Span of the adaptive filters from the far-end offset, in ms (the onset margin, then the
/// room's tail).
const TAIL_MS: usize = 96;
/// Largest bulk delay searched, in ms.
const MAX_DELAY_MS: usize = 400;
/// Blocks of margin kept before the estimated echo onset (32 ms at 24 kHz): envelope
/// estimates run up to ~20 ms late in reverberant rooms, and a direct path before the
/// filter start cannot be cancelled at all.
const ONSET_MARGIN_BLOCKS: usize = 6;
/// Coarse filter NLMS step.
const COARSE_STEP: f32 = 0.5;
/// Partitions of each filter constrained per block (in turn).
const CONSTRAIN_PER_BLOCK: usize = 4;
/// Refined filter: growth of its misadjustment estimate per block, relative to the learnt
/// path gain, while it cancels at least as well as the coarse filter (tracks slow drift)...
const LEAK_CONVERGED: f32 = 1e-4;
/// ... and while the coarse filter does better in a bin (the echo path changed).
const LEAK_DIVERGED: f32 = 0.05;
/// Blocks of echo alone cancelled by 20 dB before the linear filter is trusted.
const TRUST_BLOCKS: u32 = 30;
/// Blocks of failing cancellation (see `process_block`) before it is not any more.
const DISTRUST_BLOCKS: u32 = 10;
/// Per-block decay of the far end's peak-power hold (-20 dB in ~300 ms at 24 kHz).
const FAR_BOUND_DECAY: f32 = 0.95;
/// Per far-active block, how much of the far-end bound remains once the filter is trusted
/// (fades over ~0.3 s).
const BOUND_FADE: f32 = 0.98;
/// Smoothing of the residual echo ratio when a block shows less residual than expected...
const RESIDUAL_FALL: f32 = 0.3;
/// ... and when it shows more (slowly: it may be the user's voice, quiet under the echo).
const RESIDUAL_RISE: f32 = 0.01;
/// Far-end block RMS under which the far end counts as silent.
const FAR_ACTIVE_RMS: f32 = 1e-3;

/// Figures of the canceller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AecStats {
    /// Estimated echo delay (bulk delay to the echo's direct path), ms; -1 until estimated.
    pub delay_ms: i32,
    /// Echo return loss enhancement, dB: mic over output power, smoothed over blocks where
    /// the far end plays.
    pub erle_db: f32,
    /// Whether the linear filter has converged (cancelled 20 dB of echo alone, and has not
    /// fallen under 6 dB since).
    pub converged: bool,
}

/// The echo canceller. Feed it mic and far end in step ([`EchoCanceller::process`]).
pub struct EchoCanceller {
    sample_rate: u32,
    fft: Fft,
    // Block FIFOs for arbitrary call sizes.
    in_near: [f32; BLOCK],
    in_far: [f32; BLOCK],
    in_len: usize,
    out_block: [f32; BLOCK],
    out_pos: usize,
    primed: usize,
    // Far end.
    far_hist: Vec<f32>,
    far_pos: usize,
    offset_blocks: usize,
    frame: [f32; FFT],
    spec: Spectrum,
    far: FarSpectra,
    // Delay.
    delay: DelayEstimator,
    // Linear stage.
    refined: PartitionedFilter,
    coarse: PartitionedFilter,
    /// The refined filter's uncertainty per partition and bin (Kalman state variance).
    misadjustment: Vec<f32>,
    path_gain: [f32; BINS],
    y_refined: [f32; BLOCK],
    y_coarse: [f32; BLOCK],
    e_refined: [f32; BLOCK],
    e_coarse: [f32; BLOCK],
    e_spec_refined: Spectrum,
    e_spec_coarse: Spectrum,
    gain: Spectrum,
    /// Smoothed error power spectra of both filters (which is ahead, per bin).
    err_spec_refined: [f32; BINS],
    err_spec_coarse: [f32; BINS],
    err_refined: f32,
    err_coarse: f32,
    // Residual stage.
    suppressor: ResidualSuppressor,
    bypass: [f32; BLOCK],
    hints: ResidualHints,
    // Figures.
    mic_pow: f32,
    out_pow: f32,
    linear_mic_pow: f32,
    residual_ratio: f32,
    linear_err_pow: f32,
    erle_db: f32,
    trusted: bool,
    unconverged: f32,
    ever_trusted: bool,
    trust_blocks: u32,
    delay_known: bool,
    suppression: bool,
}

fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

impl EchoCanceller {
    /// A canceller for mono audio at `sample_rate` (clamped to 8-48 kHz).
    pub fn new(sample_rate: u32) -> EchoCanceller {
        let rate = sample_rate.clamp(8_000, 48_000) as usize;
        let partitions = (TAIL_MS * rate / 1000).div_ceil(BLOCK).max(4);
        let max_delay_blocks = MAX_DELAY_MS * rate / 1000 / BLOCK + 1;
        let far_hist_len = (max_delay_blocks + partitions + 4) * BLOCK;
        EchoCanceller {
            sample_rate: rate as u32,
            fft: Fft::new(),
            in_near: [0.0; BLOCK],
            in_far: [0.0; BLOCK],
            in_len: 0,
            out_block: [0.0; BLOCK],
            out_pos: 0,
            primed: 0,
            far_hist: vec![0.0; far_hist_len],
            far_pos: 0,
            offset_blocks: 0,
            frame: [0.0; FFT],
            spec: [ZERO; BINS],
            far: FarSpectra::new(partitions),
            delay: DelayEstimator::new(max_delay_blocks),
            refined: PartitionedFilter::new(partitions),
            coarse: PartitionedFilter::new(partitions),
            misadjustment: vec![1.0; partitions * BINS],
            path_gain: [0.0; BINS],
            y_refined: [0.0; BLOCK],
            y_coarse: [0.0; BLOCK],
            e_refined: [0.0; BLOCK],
            e_coarse: [0.0; BLOCK],
            e_spec_refined: [ZERO; BINS],
            e_spec_coarse: [ZERO; BINS],
            gain: [ZERO; BINS],
            err_spec_refined: [0.0; BINS],
            err_spec_coarse: [0.0; BINS],
            err_refined: 0.0,
            err_coarse: 0.0,
            suppressor: ResidualSuppressor::new(),
            bypass: [0.0; BLOCK],
            hints: ResidualHints {
                far_bound: [0.0; BINS],
                unconverged: 1.0,
                residual_ratio: 1.0,
            },
            mic_pow: 0.0,
            out_pow: 0.0,
            linear_mic_pow: 0.0,
            residual_ratio: 1.0,
            linear_err_pow: 0.0,
            erle_db: 0.0,
            trusted: false,
            unconverged: 1.0,
            ever_trusted: false,
            trust_blocks: 0,
            delay_known: false,
            suppression: true,
        }
    }

    /// The delay the canceller adds to the mic path, in samples: two blocks.
    pub fn latency_samples(&self) -> usize {
        2 * BLOCK
    }

    /// Turns the residual echo suppressor on (the default) or off (the linear filter's
    /// output passes as it is, still two blocks late): for measuring the stages apart.
    pub fn set_residual_suppression(&mut self, on: bool) {
        self.suppression = on;
    }

    /// Current figures.
    pub fn stats(&self) -> AecStats {
        let delay_ms = match self.delay.lag() {
            Some(lag) => (lag * BLOCK * 1000 / self.sample_rate as usize) as i32,
            None => -1,
        };
        AecStats {
            delay_ms,
            erle_db: self.erle_db,
            converged: self.converged(),
        }
    }

    fn converged(&self) -> bool {
        self.trusted
    }

    /// Cancels the echo of `far_end` (what was played, in step with the mic to within the
    /// delay the canceller estimates) from `mic`, writing `out`. Processes
    /// `min(mic, far_end, out)` samples (any count; the rest of `out` is zeroed); the output
    /// lags the input by [`EchoCanceller::latency_samples`], the start is silence. Never
    /// allocates.
    pub fn process(&mut self, far_end: &[f32], mic: &[f32], out: &mut [f32]) {
        let n = mic.len().min(far_end.len()).min(out.len());
        for i in 0..n {
            // One sample out per sample in: the output block being drained was produced
            // from the block before the one being gathered, so the lag is exact.
            out[i] = if self.primed >= 2 {
                self.out_block[self.out_pos]
            } else {
                0.0
            };
            self.out_pos += 1;
            // Non-finite input would poison the filters for good: it counts as silence.
            let m = mic[i];
            let f = far_end[i];
            self.in_near[self.in_len] = if m.is_finite() { m } else { 0.0 };
            self.in_far[self.in_len] = if f.is_finite() { f } else { 0.0 };
            self.in_len += 1;
            if self.in_len == BLOCK {
                self.in_len = 0;
                self.out_pos = 0;
                self.process_block();
                self.primed = (self.primed + 1).min(2);
            }
        }
        out[n..].fill(0.0);
    }

    /// The far end `delay` blocks back from the newest block, as a 2-block frame.
    fn far_frame(&mut self, delay: usize) {
        let len = self.far_hist.len();
        let end = (self.far_pos + len - delay * BLOCK % len) % len;
        for (i, t) in self.frame.iter_mut().enumerate() {
            *t = self.far_hist[(end + len - FFT + i) % len];
        }
    }

    /// The echo path changed: the far end bounds the echo again until the filter has
    /// re-converged, and the refined filter is told it knows little (so it steps fast).
    fn distrust(&mut self) {
        self.trusted = false;
        self.trust_blocks = 0;
        self.misadjustment.iter_mut().for_each(|h| *h = h.max(1.0));
    }

    fn move_offset(&mut self, lag: usize) {
        // The filters cover the onset margin plus a tail with room to spare: a direct path
        // landing anywhere in the first few partitions is fine where it is, and not moving
        // keeps what the filters learnt in place (estimates jitter by a block or two).
        let current = self.offset_blocks;
        if self.delay_known && lag > current && lag <= current + ONSET_MARGIN_BLOCKS + 2 {
            return;
        }
        self.delay_known = true;
        let offset = lag.saturating_sub(ONSET_MARGIN_BLOCKS);
        if offset == self.offset_blocks {
            return;
        }
        self.distrust();
        let k = offset as isize - self.offset_blocks as isize;
        // Either the room's delay changed (the filter is right as it is at the new offset)
        // or the estimate moved (the taps must move with it). The refined filter bets on
        // the first, the coarse one on the second; whichever cancels better wins below.
        self.coarse.copy_from(&self.refined);
        self.coarse.shift(k);
        self.offset_blocks = offset;
        for p in 0..self.far.partitions() {
            self.far_frame(self.offset_blocks + p);
            let frame = self.frame;
            self.fft.forward(&frame, &mut self.spec);
            self.far.set(p, &self.spec);
        }
    }

    fn process_block(&mut self) {
        // 1. Far end into history; delay estimation.
        let len = self.far_hist.len();
        for &v in &self.in_far {
            self.far_hist[self.far_pos] = v;
            self.far_pos = (self.far_pos + 1) % len;
        }
        let far_rms = rms(&self.in_far);
        let near_rms = rms(&self.in_near);
        // 2. Newest far spectrum at the offset.
        self.far_frame(self.offset_blocks);
        let frame = self.frame;
        self.fft.forward(&frame, &mut self.spec);
        self.far.push(&self.spec);
        self.far.update_power();

        // 3. Both filters' estimates and errors.
        self.refined
            .estimate(&self.far, &mut self.fft, &mut self.y_refined);
        self.coarse
            .estimate(&self.far, &mut self.fft, &mut self.y_coarse);
        let (mut e2r, mut e2c, mut d2) = (0.0, 0.0, 0.0);
        for i in 0..BLOCK {
            let d = self.in_near[i];
            self.e_refined[i] = d - self.y_refined[i];
            self.e_coarse[i] = d - self.y_coarse[i];
            e2r += self.e_refined[i] * self.e_refined[i];
            e2c += self.e_coarse[i] * self.e_coarse[i];
            d2 += d * d;
        }
        let e_refined = self.e_refined;
        let e_coarse = self.e_coarse;
        self.fft
            .forward_zero_padded(&e_refined, &mut self.e_spec_refined);
        self.fft
            .forward_zero_padded(&e_coarse, &mut self.e_spec_coarse);

        // The delay estimator learns only from blocks that look like echo alone: once the
        // filter has converged, a mic much louder than its echo estimate is the user
        // talking (a changed echo path leaves the estimate's level as it was).
        let y2: f32 = self.y_refined.iter().map(|v| v * v).sum();
        let near_talking = self.ever_trusted && d2 > 2.0 * y2 + 1e-6;
        // 4. Adaptation, only where the far end excites the filter.
        let partitions = self.far.partitions() as f32;
        let mean_power = self.far.power.iter().sum::<f32>() / BINS as f32;
        let gate = 1e-2 * mean_power + partitions * FFT as f32 * 1e-7;
        let far_active = far_rms > FAR_ACTIVE_RMS || mean_power > partitions * 1e-4;
        if far_active {
            self.refined.path_gain(&mut self.path_gain);
            // Kalman-style step: each partition's uncertainty against the error power
            // (which holds near end and noise as well as residual echo). Loops run
            // partition by partition over contiguous bins.
            let mut denom = [0f32; BINS];
            let mut leak = [0f32; BINS];
            for k in 0..BINS {
                let er2 = self.e_spec_refined[k].norm_sqr();
                let ec2 = self.e_spec_coarse[k].norm_sqr();
                self.err_spec_refined[k] += 0.2 * (er2 - self.err_spec_refined[k]);
                self.err_spec_coarse[k] += 0.2 * (ec2 - self.err_spec_coarse[k]);
                denom[k] = partitions * er2 + gate;
                // The coarse filter clearly ahead in this bin: the echo path changed, the
                // refined filter must move fast. (Not block by block: in double talk the
                // two errors take turns being smaller by chance.) Bins the far end leaves
                // silent learn nothing.
                leak[k] = if self.far.power[k] < gate {
                    0.0
                } else if self.err_spec_coarse[k] < 0.5 * self.err_spec_refined[k] {
                    LEAK_DIVERGED
                } else {
                    LEAK_CONVERGED
                };
            }
            let np = self.far.partitions();
            for p in 0..np {
                let h = &self.misadjustment[p * BINS..(p + 1) * BINS];
                for ((d, h), x) in denom.iter_mut().zip(h).zip(self.far.part(p)) {
                    *d += h * x.norm_sqr();
                }
            }
            for k in 0..BINS {
                self.gain[k] = if leak[k] == 0.0 {
                    ZERO
                } else {
                    self.e_spec_refined[k] / denom[k]
                };
            }
            for p in 0..np {
                let h = &mut self.misadjustment[p * BINS..(p + 1) * BINS];
                let x = self.far.part(p);
                let w = self.refined.partition(p);
                for k in 0..BINS {
                    if leak[k] == 0.0 {
                        continue;
                    }
                    // What this block taught partition p shrinks its uncertainty; the
                    // room may drift, so it grows back with what the partition holds.
                    let shrunk = h[k] * (1.0 - h[k] * x[k].norm_sqr() / denom[k]);
                    let grow = leak[k] * (w[k].norm_sqr() + self.path_gain[k] / partitions);
                    h[k] = (shrunk + grow).clamp(1e-6, 2.0);
                }
            }
            self.refined.adapt_scaled(
                &self.far,
                &self.gain,
                &self.misadjustment,
                &mut self.fft,
                CONSTRAIN_PER_BLOCK,
            );
            for k in 0..BINS {
                let x2 = self.far.power[k];
                self.gain[k] = if x2 < gate {
                    ZERO
                } else {
                    self.e_spec_coarse[k] * (COARSE_STEP / (x2 + gate))
                };
            }
            self.coarse
                .adapt(&self.far, &self.gain, &mut self.fft, CONSTRAIN_PER_BLOCK);
        }

        // 5. Arbitration: a coarse filter far worse than the refined one has diverged (it
        // adapts through double talk unguarded) and restarts from it; one far better has
        // found a changed echo path first, and the refined filter jumps to it.
        self.err_refined = 0.8 * self.err_refined + 0.2 * e2r;
        self.err_coarse = 0.8 * self.err_coarse + 0.2 * e2c;
        if far_active {
            if self.err_coarse > 4.0 * self.err_refined {
                self.coarse.copy_from(&self.refined);
                self.err_coarse = self.err_refined;
            } else if self.err_coarse < 0.25 * self.err_refined {
                self.refined.copy_from(&self.coarse);
                self.err_refined = self.err_coarse;
            }
        }
        if near_talking {
            self.delay.push_far_only(far_rms);
        } else {
            self.delay.push(near_rms, far_rms);
        }
        // The estimate moves the filters only while they are not doing their job: a
        // trusted filter cancelling well knows the delay better than envelopes do (and in
        // double talk the envelopes mislead).
        let failing = !self.trusted || self.linear_mic_pow < 10.0 * self.linear_err_pow;
        if failing {
            if let Some(lag) = self.delay.lag() {
                self.move_offset(lag);
            }
        }
        // The refined filter makes the output: the coarse one adapts through double talk
        // and may cancel part of the user's voice for a while, so it only ever teaches.
        let error = self.e_refined;
        let echo_est = self.y_refined;

        // The residual the suppressor must expect, measured on blocks that are surely echo
        // alone: the mic no louder than the echo estimate (with the user talking as loud as
        // the echo, the mic is twice as loud).
        // Falls fast, rises slowly: a quiet stretch of the user's voice under the echo
        // passes that test, and must not teach the suppressor to expect a louder residual.
        if far_active && d2 < 1.3 * y2 && d2 > 0.0 {
            let r = (e2r / d2).min(1.0);
            let a = if r < self.residual_ratio {
                RESIDUAL_FALL
            } else {
                RESIDUAL_RISE
            };
            self.residual_ratio += a * (r - self.residual_ratio);
        }

        // Whether the linear filter is to be trusted: it has cancelled 20 dB on echo alone,
        // and has not since made the mic louder (its estimate is in the wrong place: in
        // double talk it still removes the echo, so the error stays under the mic), nor
        // fallen under 6 dB while the coarse filter did better (in double talk the coarse
        // filter, adapting unguarded, does worse).
        if far_active && !near_talking {
            self.linear_mic_pow = 0.9 * self.linear_mic_pow + 0.1 * d2;
            self.linear_err_pow = 0.9 * self.linear_err_pow + 0.1 * e2r;
            if !self.trusted {
                if self.linear_mic_pow > 100.0 * self.linear_err_pow {
                    self.trust_blocks += 1;
                    if self.trust_blocks >= TRUST_BLOCKS {
                        self.trusted = true;
                        self.ever_trusted = true;
                        self.trust_blocks = 0;
                    }
                } else {
                    self.trust_blocks = 0;
                }
            } else if self.linear_err_pow > self.linear_mic_pow
                || (self.linear_mic_pow < 4.0 * self.linear_err_pow
                    && self.err_coarse < 0.5 * self.err_refined)
            {
                self.trust_blocks += 1;
                if self.trust_blocks >= DISTRUST_BLOCKS {
                    self.distrust();
                }
            } else {
                self.trust_blocks = 0;
            }
        }

        // 6. Residual echo. While the linear filter is not to be trusted, the far end's
        // recent peak power per bin bounds the echo instead.
        for (bound, x) in self.hints.far_bound.iter_mut().zip(self.far.part(0)) {
            *bound = x.norm_sqr().max(*bound * FAR_BOUND_DECAY);
        }
        // Once trusted, the bound fades out over about half a second rather than at once:
        // a filter just past the threshold still has bad moments.
        if !self.trusted {
            self.unconverged = 1.0;
        } else if far_active {
            self.unconverged *= BOUND_FADE;
        }
        self.hints.unconverged = if self.suppression {
            self.unconverged
        } else {
            0.0
        };
        self.hints.residual_ratio = self.residual_ratio;
        let mut out = [0f32; BLOCK];
        self.suppressor
            .process(&mut self.fft, &error, &echo_est, &self.hints, &mut out);
        if !self.suppression {
            // Same latency as with the suppressor: the previous block.
            out = self.bypass;
            self.bypass = error;
        }
        self.out_block = out;

        // 7. Figures, over blocks where the far end plays.
        if far_active {
            let o2: f32 = out.iter().map(|v| v * v).sum();
            self.mic_pow = 0.95 * self.mic_pow + 0.05 * d2;
            self.out_pow = 0.95 * self.out_pow + 0.05 * o2;
            if self.out_pow > 0.0 && self.mic_pow > 0.0 {
                self.erle_db = 10.0 * (self.mic_pow / self.out_pow.max(1e-12)).log10();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise in [-1, 1).
    fn noise(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    #[test]
    fn hostile_input_never_makes_the_output_non_finite() {
        let mut aec = EchoCanceller::new(24_000);
        let mut seed = 7u64;
        let mut out = vec![0f32; 240];
        for call in 0..600 {
            let far: Vec<f32> = (0..240)
                .map(|i| match (call / 50) % 6 {
                    0 => noise(&mut seed),
                    1 => f32::NAN,
                    2 => {
                        if i % 2 == 0 {
                            1.0
                        } else {
                            -1.0
                        }
                    }
                    3 => 0.0,
                    4 => 1e6 * noise(&mut seed),
                    _ => f32::INFINITY,
                })
                .collect();
            let mic: Vec<f32> = (0..240)
                .map(|i| match (call / 30) % 5 {
                    0 => 0.3 * far[i].clamp(-1.0, 1.0),
                    1 => f32::NEG_INFINITY,
                    2 => 1e6,
                    3 => noise(&mut seed),
                    _ => 0.0,
                })
                .collect();
            aec.process(&far, &mic, &mut out);
            assert!(
                out.iter().all(|v| v.is_finite()),
                "call {call}: non-finite output"
            );
        }
        // And it still works afterwards: silence in, silence out.
        let zeros = vec![0f32; 240];
        for _ in 0..200 {
            aec.process(&zeros, &zeros, &mut out);
        }
        assert!(out.iter().all(|v| v.abs() < 1e-3), "{:?}", &out[..8]);
    }

    #[test]
    fn any_call_size_gives_the_same_output() {
        let mut seed = 3u64;
        let far: Vec<f32> = (0..24_000).map(|_| 0.5 * noise(&mut seed)).collect();
        let mic: Vec<f32> = (0..24_000)
            .map(|i| if i >= 960 { 0.3 * far[i - 960] } else { 0.0 })
            .collect();
        let run = |sizes: &[usize]| {
            let mut aec = EchoCanceller::new(24_000);
            let mut out = vec![0f32; mic.len()];
            let (mut pos, mut k) = (0, 0);
            while pos < mic.len() {
                let n = sizes[k % sizes.len()].min(mic.len() - pos);
                aec.process(
                    &far[pos..pos + n],
                    &mic[pos..pos + n],
                    &mut out[pos..pos + n],
                );
                pos += n;
                k += 1;
            }
            out
        };
        let a = run(&[240]);
        let b = run(&[1, 127, 500, 3, 1000]);
        assert_eq!(a, b);
    }

    #[test]
    fn cancels_at_the_other_wire_rates_too() {
        for rate in [16_000usize, 48_000] {
            let mut seed = 11u64;
            let n = rate * 4;
            let far: Vec<f32> = (0..n).map(|_| 0.3 * noise(&mut seed)).collect();
            let d = rate / 20; // 50 ms
            let mic: Vec<f32> = (0..n)
                .map(|i| if i >= d { 0.3 * far[i - d] } else { 0.0 })
                .collect();
            let mut aec = EchoCanceller::new(rate as u32);
            let mut out = vec![0f32; n];
            let call = rate / 100;
            for ((f, m), o) in far
                .chunks(call)
                .zip(mic.chunks(call))
                .zip(out.chunks_mut(call))
            {
                aec.process(f, m, o);
            }
            let lat = aec.latency_samples();
            let tail = 3 * rate..n - lat;
            let p_mic: f32 = mic[tail.clone()].iter().map(|v| v * v).sum();
            let p_out: f32 = out[tail.start + lat..tail.end + lat]
                .iter()
                .map(|v| v * v)
                .sum();
            let erle = 10.0 * (p_mic / p_out.max(1e-12)).log10();
            assert!(erle > 25.0, "{rate} Hz: ERLE {erle:.1} dB over 3-4 s");
            let stats = aec.stats();
            assert!((40..=60).contains(&stats.delay_ms), "{rate} Hz: {stats:?}");
        }
    }
}
