//! Acoustic echo cancellation for the capture path: removes from the mic what the speakers
//! played (the model's own voice), so server VAD does not take it for the user and the user
//! can still interrupt the model by voice with speakers on.
//!
//! **Status (issue 7, open):** the delay estimator and the linear filter work (a delayed
//! echo is cancelled by more than 25 dB once found), but in the synthetic room of
//! `tests/aec_room.rs` (50 ms room tail, double talk, a +50 ms delay jump) the canceller does
//! not meet the targets yet (figures in `docs/aec-figures.md`), so it is not wired into the
//! session; `half_duplex` remains the fallback on speakers.
//!
//! Runs on mono f32 at the wire rate (24 kHz; 16 kHz works too), after the mic is resampled:
//! less work than at 48 kHz, and the far-end reference is produced at the same rate by
//! [`super::reference::FarEndAligner`].
//!
//! Design (pure DSP, everything allocated in [`EchoCanceller::new`]):
//! - **Bulk delay estimation**: the device and the room delay the echo by 20-300 ms. Every
//!   ~100 ms the canceller cross-correlates block-energy envelopes of mic and far end over
//!   0-400 ms of lag and, with hysteresis, moves the far-end read offset so the echo's
//!   direct path lands at the start of the adaptive filter. A moved offset keeps the filter:
//!   when the room's delay changed, the filter is right again at once.
//! - **Linear filter**: a partitioned-block frequency-domain adaptive filter (overlap-save,
//!   as Speex MDF / WebRTC AEC3's linear stage): block N = 128 samples, FFT 2N (realfft),
//!   partitions covering 170 ms of room tail at 24 kHz, NLMS step normalised per bin,
//!   gradient constraint applied to a few partitions per block in turn.
//! - **Double talk**: two filters. The background one always adapts; the foreground one,
//!   which makes the output, is a copy taken only when the background cancels better. When
//!   the user talks over the model the background may wander, the output does not; a
//!   background much worse than the foreground is reset from it.
//! - **Residual echo**: a gentle time-domain suppressor attenuates the output (down to
//!   -12 dB) only while the far end is active and the output is no louder than the expected
//!   residual echo; the user's voice, louder than that, passes untouched.

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// Samples per block.
pub const BLOCK: usize = 128;
const FFT: usize = 2 * BLOCK;
const BINS: usize = BLOCK + 1;
/// Room tail the adaptive filter covers, in ms.
const TAIL_MS: usize = 90;
/// Largest bulk delay searched, in ms.
const MAX_DELAY_MS: usize = 400;
/// Envelope history used by the delay estimator, in ms.
const ENVELOPE_MS: usize = 1500;
/// NLMS step (normalised by the far end's power per bin and the partition count).
const MU: f32 = 1.0;
/// Partitions whose gradient is constrained per block (in turn): all of them would be
/// exact overlap-save, a few keep the cost down at a small cost in convergence.
const CONSTRAIN_PER_BLOCK: usize = 64;
/// Blocks of margin kept before the estimated echo onset (room for early reflections and
/// estimator jitter).
const ONSET_MARGIN_BLOCKS: usize = 3;

/// Figures of the canceller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AecStats {
    /// Estimated echo delay (bulk delay + main path), ms; -1 until estimated.
    pub delay_ms: i32,
    /// Echo return loss enhancement, dB, smoothed over far-end-active blocks.
    pub erle_db: f32,
    /// Whether the canceller has converged (ERLE held above 10 dB).
    pub converged: bool,
}

/// The echo canceller. Feed it mic and far end in step ([`EchoCanceller::process`]).
pub struct EchoCanceller {
    sample_rate: u32,
    partitions: usize,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    scratch_f: Vec<Complex<f32>>,
    scratch_i: Vec<Complex<f32>>,
    time: Vec<f32>,
    spec: Vec<Complex<f32>>,
    // Far-end history (time domain) and partition spectra (newest first, ring by index).
    far_hist: Vec<f32>,
    far_pos: usize,
    x_parts: Vec<Vec<Complex<f32>>>,
    x_head: usize,
    power: Vec<f32>,
    w_bg: Vec<Vec<Complex<f32>>>,
    w_fg: Vec<Vec<Complex<f32>>>,
    constrain_next: usize,
    // Block FIFOs for arbitrary call sizes.
    in_near: Vec<f32>,
    in_far: Vec<f32>,
    out_fifo: Vec<f32>,
    out_read: usize,
    // Delay estimation.
    offset_blocks: usize,
    env_near: Vec<f32>,
    env_far: Vec<f32>,
    env_pos: usize,
    env_filled: usize,
    blocks_since_estimate: usize,
    candidate: Option<(usize, u32)>,
    // Figures.
    err_bg: f32,
    err_fg: f32,
    near_pow: f32,
    out_pow: f32,
    far_pow: f32,
    erle_db: f32,
    converged_blocks: u32,
    residual_ratio: f32,
    gain: f32,
    estimated: bool,
    y_fg: Vec<f32>,
    /// Slowly decaying peak of the far end's mean bin power (regularises the step).
    long_power: f32,
}

fn energy(x: &[f32]) -> f32 {
    x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32
}

impl EchoCanceller {
    /// A canceller for mono audio at `sample_rate` (8-48 kHz).
    pub fn new(sample_rate: u32) -> EchoCanceller {
        let rate = sample_rate.clamp(8_000, 48_000) as usize;
        let partitions = (TAIL_MS * rate / 1000).div_ceil(BLOCK).max(4);
        let max_delay_blocks = MAX_DELAY_MS * rate / 1000 / BLOCK + 1;
        let env_len = ENVELOPE_MS * rate / 1000 / BLOCK;
        let far_hist_len = (max_delay_blocks + partitions + 4) * BLOCK;
        let mut planner = RealFftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(FFT);
        let inv = planner.plan_fft_inverse(FFT);
        let zero = Complex::new(0.0, 0.0);
        EchoCanceller {
            sample_rate,
            partitions,
            scratch_f: fwd.make_scratch_vec(),
            scratch_i: inv.make_scratch_vec(),
            fwd,
            inv,
            time: vec![0.0; FFT],
            spec: vec![zero; BINS],
            far_hist: vec![0.0; far_hist_len],
            far_pos: 0,
            x_parts: vec![vec![zero; BINS]; partitions],
            x_head: 0,
            power: vec![1e-6; BINS],
            w_bg: vec![vec![zero; BINS]; partitions],
            w_fg: vec![vec![zero; BINS]; partitions],
            constrain_next: 0,
            in_near: Vec::with_capacity(BLOCK),
            in_far: Vec::with_capacity(BLOCK),
            out_fifo: Vec::with_capacity(BLOCK * 64),
            out_read: 0,
            offset_blocks: 0,
            env_near: vec![0.0; env_len],
            env_far: vec![0.0; env_len + max_delay_blocks],
            env_pos: 0,
            env_filled: 0,
            blocks_since_estimate: 0,
            candidate: None,
            err_bg: 0.0,
            err_fg: 0.0,
            near_pow: 0.0,
            out_pow: 0.0,
            far_pow: 0.0,
            erle_db: 0.0,
            converged_blocks: 0,
            residual_ratio: 1.0,
            gain: 1.0,
            estimated: false,
            y_fg: vec![0.0; BLOCK],
            long_power: 0.0,
        }
    }

    /// The delay added to the mic path: one block.
    pub fn latency_samples(&self) -> usize {
        BLOCK
    }

    /// Current figures.
    pub fn stats(&self) -> AecStats {
        let delay_ms = if self.estimated {
            ((self.offset_blocks + ONSET_MARGIN_BLOCKS) * BLOCK * 1000 / self.sample_rate as usize)
                as i32
        } else {
            -1
        };
        AecStats {
            delay_ms,
            erle_db: self.erle_db,
            converged: self.converged_blocks > 20,
        }
    }

    /// Cancels the echo of `far_end` (what was played, in step with the mic to within the
    /// delay the canceller estimates) from `mic`, writing `out` (same length as `mic`; the
    /// output lags the input by one block, the start is silence). `far_end` must be as long
    /// as `mic`. Buffers are preallocated: no allocation is intended per call (not yet
    /// proven by a counting-allocator test).
    pub fn process(&mut self, far_end: &[f32], mic: &[f32], out: &mut [f32]) {
        let n = mic.len().min(far_end.len()).min(out.len());
        for i in 0..n {
            // One output sample per input sample, from the processed blocks: exactly one
            // block of delay.
            out[i] = if self.out_read < self.out_fifo.len() {
                let v = self.out_fifo[self.out_read];
                self.out_read += 1;
                v
            } else {
                0.0
            };
            self.in_near.push(mic[i]);
            self.in_far.push(far_end[i]);
            if self.in_near.len() == BLOCK {
                self.process_block();
                self.in_near.clear();
                self.in_far.clear();
            }
        }
        if self.out_read == self.out_fifo.len() {
            self.out_fifo.clear();
            self.out_read = 0;
        } else if self.out_read > BLOCK * 32 {
            self.out_fifo.drain(..self.out_read);
            self.out_read = 0;
        }
        out[n..].fill(0.0);
    }

    fn fft_forward(&mut self) {
        let _ = self
            .fwd
            .process_with_scratch(&mut self.time, &mut self.spec, &mut self.scratch_f);
    }

    fn fft_inverse(&mut self) {
        self.spec[0].im = 0.0;
        self.spec[BLOCK].im = 0.0;
        let _ = self
            .inv
            .process_with_scratch(&mut self.spec, &mut self.time, &mut self.scratch_i);
        let scale = 1.0 / FFT as f32;
        for v in self.time.iter_mut() {
            *v *= scale;
        }
    }

    /// The far end `delay` blocks back from the newest block, as a 2N window (previous block
    /// then that block) into `self.time`.
    fn far_window(&mut self, delay: usize) {
        let len = self.far_hist.len();
        let end = (self.far_pos + len - delay * BLOCK) % len;
        for (i, t) in self.time.iter_mut().enumerate() {
            *t = self.far_hist[(end + len - FFT + i) % len];
        }
    }

    fn recompute_partitions(&mut self) {
        for p in 0..self.partitions {
            self.far_window(self.offset_blocks + p);
            self.fft_forward();
            let idx = (self.x_head + p) % self.partitions;
            self.x_parts[idx].copy_from_slice(&self.spec);
        }
        let inv_p = 1.0 / self.partitions as f32;
        for k in 0..BINS {
            self.power[k] = self.x_parts.iter().map(|x| x[k].norm_sqr()).sum::<f32>() * inv_p;
        }
    }

    /// Filter output y (time domain, last N of the IFFT) for filter `w`, into `self.time`.
    fn filter(&mut self, foreground: bool) {
        for s in self.spec.iter_mut() {
            *s = Complex::new(0.0, 0.0);
        }
        let w = if foreground { &self.w_fg } else { &self.w_bg };
        for (p, wp) in w.iter().enumerate() {
            let x = &self.x_parts[(self.x_head + p) % self.partitions];
            for k in 0..BINS {
                self.spec[k] += wp[k] * x[k];
            }
        }
        self.fft_inverse();
    }

    fn process_block(&mut self) {
        // 1. Far end into history; envelopes for the delay estimator.
        let len = self.far_hist.len();
        for &v in &self.in_far {
            self.far_hist[self.far_pos] = v;
            self.far_pos = (self.far_pos + 1) % len;
        }
        let e_far = energy(&self.in_far).sqrt();
        let e_near = energy(&self.in_near).sqrt();
        let env_len = self.env_near.len();
        let far_len = self.env_far.len();
        self.env_near[self.env_pos % env_len] = e_near;
        self.env_far[self.env_pos % far_len] = e_far;
        self.env_pos += 1;
        self.env_filled = (self.env_filled + 1).min(env_len);
        self.blocks_since_estimate += 1;
        if self.blocks_since_estimate * BLOCK * 1000 >= 100 * self.sample_rate as usize {
            self.blocks_since_estimate = 0;
            self.estimate_delay();
        }

        // 2. Newest far partition at the current offset.
        self.x_head = (self.x_head + self.partitions - 1) % self.partitions;
        self.far_window(self.offset_blocks);
        self.fft_forward();
        let head = self.x_head;
        // Per-bin far-end power over the filter's span (what NLMS normalises by): the
        // newest partition replaces the oldest.
        self.x_parts[head].copy_from_slice(&self.spec);
        // Recomputed exactly each block (a running sum drifts, and a drifted-to-zero bin
        // would take a huge step).
        let inv_p = 1.0 / self.partitions as f32;
        self.power.iter_mut().for_each(|p| *p = 0.0);
        for x in &self.x_parts {
            for (p, v) in self.power.iter_mut().zip(x) {
                *p += v.norm_sqr() * inv_p;
            }
        }
        let mean: f32 = self.power.iter().sum::<f32>() / BINS as f32;
        self.long_power = if mean > self.long_power {
            mean
        } else {
            0.999 * self.long_power + 0.001 * mean
        };

        // 3. Foreground output.
        self.filter(true);
        for i in 0..BLOCK {
            self.y_fg[i] = self.time[BLOCK + i];
        }
        let mut e_fg_pow = 0.0;
        let mut out_block = [0f32; BLOCK];
        for ((o, &d), &y) in out_block.iter_mut().zip(&self.in_near).zip(&self.y_fg) {
            *o = d - y;
            e_fg_pow += *o * *o;
        }
        e_fg_pow /= BLOCK as f32;

        // 4. Background error, NLMS update (gradient constrained on a few partitions).
        self.filter(false);
        let mut e_bg_pow = 0.0;
        for i in 0..BLOCK {
            let e = self.in_near[i] - self.time[BLOCK + i];
            e_bg_pow += e * e;
            self.time[i] = 0.0;
            self.time[BLOCK + i] = e;
        }
        e_bg_pow /= BLOCK as f32;
        self.fft_forward(); // E
        let far_active = e_far > 1e-3;
        // Double talk: once converged, an output far louder than the residual echo expected
        // from the echo estimate is the user talking. Adapting on it would tune the filter
        // to the user's voice: freeze the background filter meanwhile.
        let echo_est = energy(&self.y_fg);
        let near_talking =
            self.converged_blocks > 20 && e_fg_pow > 8.0 * self.residual_ratio * echo_est + 1e-7;
        if far_active && !near_talking {
            let total_power: f32 = self.power.iter().sum::<f32>() / BINS as f32;
            let mu = MU / self.partitions as f32;
            let _ = &mu;
            let floor = total_power * 0.01 + 1e-7;
            let e_spec: [Complex<f32>; BINS] = std::array::from_fn(|k| self.spec[k]);
            let constrain_count = CONSTRAIN_PER_BLOCK.min(self.partitions);
            for p in 0..self.partitions {
                let x = &self.x_parts[(self.x_head + p) % self.partitions];
                let w = &mut self.w_bg[p];
                for k in 0..BINS {
                    let step = mu / (self.power[k] + floor);
                    w[k] += x[k].conj() * e_spec[k] * step;
                }
            }
            for _ in 0..constrain_count {
                let p = self.constrain_next;
                self.constrain_next = (self.constrain_next + 1) % self.partitions;
                self.spec.copy_from_slice(&self.w_bg[p]);
                self.fft_inverse();
                for t in self.time[BLOCK..].iter_mut() {
                    *t = 0.0;
                }
                self.fft_forward();
                // fft_inverse scaled by 1/FFT already: forward brings it back to scale.
                self.w_bg[p].copy_from_slice(&self.spec);
            }
        }

        // 5. Foreground/background arbitration (double-talk safety).
        self.err_bg = 0.9 * self.err_bg + 0.1 * e_bg_pow;
        self.err_fg = 0.9 * self.err_fg + 0.1 * e_fg_pow;
        if far_active {
            if self.err_bg < 0.5 * self.err_fg {
                for (f, b) in self.w_fg.iter_mut().zip(self.w_bg.iter()) {
                    f.copy_from_slice(b);
                }
                self.err_fg = self.err_bg;
            } else if self.err_bg > 8.0 * self.err_fg + 1e-9 {
                for (b, f) in self.w_bg.iter_mut().zip(self.w_fg.iter()) {
                    b.copy_from_slice(f);
                }
                self.err_bg = self.err_fg;
            }
        }

        // 6. Figures and the residual-echo suppressor.
        let near_pow = energy(&self.in_near);
        if far_active {
            self.near_pow = 0.95 * self.near_pow + 0.05 * near_pow;
            self.out_pow = 0.95 * self.out_pow + 0.05 * e_fg_pow;
            self.far_pow = 0.95 * self.far_pow + 0.05 * echo_est;
            if self.out_pow > 0.0 && self.near_pow > 0.0 {
                self.erle_db = 10.0 * (self.near_pow / self.out_pow.max(1e-12)).log10();
            }
            if self.erle_db > 10.0 {
                self.converged_blocks = self.converged_blocks.saturating_add(1);
            } else {
                self.converged_blocks = self.converged_blocks.saturating_sub(2);
            }
            // Residual/echo ratio, learnt while the output is echo-only (no louder than
            // the echo estimate suggests).
            if echo_est > 1e-8 && e_fg_pow < echo_est {
                let r = (e_fg_pow / echo_est).clamp(1e-4, 1.0);
                self.residual_ratio = 0.95 * self.residual_ratio + 0.05 * r;
            }
        }
        let expected_residual = self.residual_ratio * echo_est * 2.0;
        let target = if far_active && e_fg_pow <= expected_residual && self.converged_blocks > 20 {
            0.25 // -12 dB on echo-only blocks
        } else {
            1.0
        };
        // Smooth gain changes (fast release so the user's voice is never clipped).
        self.gain = if target > self.gain {
            target
        } else {
            0.7 * self.gain + 0.3 * target
        };
        for v in out_block.iter_mut() {
            *v *= self.gain;
        }
        self.out_fifo.extend_from_slice(&out_block);
    }

    fn estimate_delay(&mut self) {
        let blocks = self.env_filled;
        let max_lag = (MAX_DELAY_MS * self.sample_rate as usize / 1000 / BLOCK)
            .min(self.env_far.len() - blocks);
        if blocks < 60 {
            return;
        }
        let env_len = self.env_near.len();
        let far_len = self.env_far.len();
        let newest = self.env_pos - 1;
        // Mean-removed envelopes over the window.
        let mean_near = (0..blocks)
            .map(|i| self.env_near[(newest - i) % env_len])
            .sum::<f32>()
            / blocks as f32;
        let var_near: f32 = (0..blocks)
            .map(|i| (self.env_near[(newest - i) % env_len] - mean_near).powi(2))
            .sum();
        if var_near < 1e-9 {
            return;
        }
        let mut best = (0usize, 0f32);
        for lag in 0..=max_lag {
            if newest < lag + blocks {
                break;
            }
            let mut mean_far = 0.0;
            for i in 0..blocks {
                mean_far += self.env_far[(newest - lag - i) % far_len];
            }
            mean_far /= blocks as f32;
            let mut cov = 0.0;
            let mut var_far = 0.0;
            for i in 0..blocks {
                let a = self.env_near[(newest - i) % env_len] - mean_near;
                let b = self.env_far[(newest - lag - i) % far_len] - mean_far;
                cov += a * b;
                var_far += b * b;
            }
            if var_far < 1e-9 {
                continue;
            }
            let c = cov / (var_near * var_far).sqrt();
            if c > best.1 {
                best = (lag, c);
            }
        }
        if best.1 < 0.35 {
            return;
        }
        let offset = best.0.saturating_sub(ONSET_MARGIN_BLOCKS);
        // Jitter of a block or so is absorbed by the onset margin: move only for real.
        if offset == self.offset_blocks
            || (self.estimated && offset.abs_diff(self.offset_blocks) < 2)
        {
            self.candidate = None;
            self.estimated = true;
            return;
        }
        // Hysteresis: the same new offset twice in a row (or a first estimate) moves it.
        let agreed = match self.candidate {
            Some((c, n)) if c == offset => n + 1,
            _ => 1,
        };
        if agreed >= 2 || !self.estimated {
            let k = offset as isize - self.offset_blocks as isize;
            if !self.estimated {
                // The filter learnt so far saw the far end with no offset: move its taps
                // along, so what it learnt stays in place.
                shift_partitions(&mut self.w_bg, k);
                shift_partitions(&mut self.w_fg, k);
            } else {
                // Either the room's delay changed (the filter is right as it is at the new
                // offset) or the estimate moved (the filter must move with it). Try both:
                // the foreground takes the moved filter, the background the unmoved one, and
                // the arbitration keeps whichever cancels better.
                for (b, f) in self.w_bg.iter_mut().zip(self.w_fg.iter()) {
                    b.copy_from_slice(f);
                }
                shift_partitions(&mut self.w_fg, k);
                self.err_bg = self.err_fg;
            }
            self.offset_blocks = offset;
            self.candidate = None;
            self.estimated = true;
            self.recompute_partitions();
        } else {
            self.candidate = Some((offset, agreed));
        }
    }
}

/// Moves filter taps `k` partitions earlier (the far-end offset grew by `k` blocks) or later
/// (`k` < 0); partitions shifted in are zero.
fn shift_partitions(w: &mut [Vec<Complex<f32>>], k: isize) {
    let n = w.len();
    let zero = Complex::new(0.0, 0.0);
    if k > 0 {
        let k = (k as usize).min(n);
        w.rotate_left(k);
        for p in w[n - k..].iter_mut() {
            p.iter_mut().for_each(|c| *c = zero);
        }
    } else if k < 0 {
        let k = (k.unsigned_abs()).min(n);
        w.rotate_right(k);
        for p in w[..k].iter_mut() {
            p.iter_mut().for_each(|c| *c = zero);
        }
    }
}
