//! The linear echo path model: a partitioned-block frequency-domain adaptive filter
//! (overlap-save, as Speex MDF and WebRTC AEC3's linear stage), in two flavours sharing the
//! far-end spectra:
//! - the **refined** filter, whose step per bin follows a Kalman-style estimate of its own
//!   misadjustment (large while it knows little, small once converged, and small whenever
//!   the error holds more than echo, i.e. in double talk): fast convergence without
//!   diverging when the user talks over the model;
//! - the **coarse** filter, plain NLMS with a fixed step, which reacts fast to a changed
//!   echo path and tells the refined filter when it has fallen behind.

use realfft::num_complex::Complex;

use super::fft::{Fft, Spectrum, ZERO};
use super::{BINS, BLOCK, FFT};

/// The far end's last `partitions` block spectra (2-block frames, newest first) and their
/// summed power per bin.
pub struct FarSpectra {
    parts: Vec<Complex<f32>>,
    partitions: usize,
    head: usize,
    /// Sum over partitions of |X_p(k)|^2.
    pub power: [f32; BINS],
}

impl FarSpectra {
    /// Room for `partitions` spectra.
    pub fn new(partitions: usize) -> FarSpectra {
        FarSpectra {
            parts: vec![ZERO; partitions * BINS],
            partitions,
            head: 0,
            power: [0.0; BINS],
        }
    }

    /// Number of partitions.
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// Spectrum `p` blocks old.
    pub fn part(&self, p: usize) -> &[Complex<f32>] {
        let i = (self.head + p) % self.partitions;
        &self.parts[i * BINS..(i + 1) * BINS]
    }

    /// Makes `spec` the newest spectrum (the oldest drops out).
    pub fn push(&mut self, spec: &Spectrum) {
        self.head = (self.head + self.partitions - 1) % self.partitions;
        let i = self.head;
        self.parts[i * BINS..(i + 1) * BINS].copy_from_slice(spec);
    }

    /// Sets spectrum `p` blocks old (used when the far-end offset moves and the window is
    /// recomputed from history).
    pub fn set(&mut self, p: usize, spec: &Spectrum) {
        let i = (self.head + p) % self.partitions;
        self.parts[i * BINS..(i + 1) * BINS].copy_from_slice(spec);
    }

    /// Recomputes `power` exactly (a running sum would drift, and a bin drifted to zero
    /// would take a huge step).
    pub fn update_power(&mut self) {
        self.power = [0.0; BINS];
        for chunk in self.parts.chunks_exact(BINS) {
            for (p, x) in self.power.iter_mut().zip(chunk) {
                *p += x.norm_sqr();
            }
        }
    }
}

/// One partitioned filter: `partitions` spectra of block-long impulse responses.
pub struct PartitionedFilter {
    w: Vec<Complex<f32>>,
    partitions: usize,
    constrain_next: usize,
    acc: Spectrum,
    frame: [f32; FFT],
}

impl PartitionedFilter {
    /// A zero filter of `partitions` partitions.
    pub fn new(partitions: usize) -> PartitionedFilter {
        PartitionedFilter {
            w: vec![ZERO; partitions * BINS],
            partitions,
            constrain_next: 0,
            acc: [ZERO; BINS],
            frame: [0.0; FFT],
        }
    }

    /// The filter's echo estimate for the newest block into `y`.
    pub fn estimate(&mut self, x: &FarSpectra, fft: &mut Fft, y: &mut [f32; BLOCK]) {
        self.acc = [ZERO; BINS];
        for p in 0..self.partitions {
            let xp = x.part(p);
            let wp = &self.w[p * BINS..(p + 1) * BINS];
            for ((a, w), x) in self.acc.iter_mut().zip(wp).zip(xp) {
                *a += w * x;
            }
        }
        fft.inverse(&self.acc, &mut self.frame);
        y.copy_from_slice(&self.frame[BLOCK..]);
    }

    /// Adds `gain(k) * conj(X_p(k))` to every partition, then constrains `constrain`
    /// partitions (in turn) to causal block-long responses.
    pub fn adapt(&mut self, x: &FarSpectra, gain: &Spectrum, fft: &mut Fft, constrain: usize) {
        for p in 0..self.partitions {
            let xp = x.part(p);
            let wp = &mut self.w[p * BINS..(p + 1) * BINS];
            for ((w, x), g) in wp.iter_mut().zip(xp).zip(gain) {
                *w += g * x.conj();
            }
        }
        for _ in 0..constrain.min(self.partitions) {
            let p = self.constrain_next;
            self.constrain_next = (self.constrain_next + 1) % self.partitions;
            fft.constrain(&mut self.w[p * BINS..(p + 1) * BINS]);
        }
    }

    /// Adds `gain(k) * scale_p(k) * conj(X_p(k))` to every partition (`scale`: partitions x
    /// bins), then constrains `constrain` partitions (in turn).
    pub fn adapt_scaled(
        &mut self,
        x: &FarSpectra,
        gain: &Spectrum,
        scale: &[f32],
        fft: &mut Fft,
        constrain: usize,
    ) {
        for p in 0..self.partitions {
            let xp = x.part(p);
            let sp = &scale[p * BINS..(p + 1) * BINS];
            let wp = &mut self.w[p * BINS..(p + 1) * BINS];
            for (((w, x), g), s) in wp.iter_mut().zip(xp).zip(gain).zip(sp) {
                *w += g * *s * x.conj();
            }
        }
        for _ in 0..constrain.min(self.partitions) {
            let p = self.constrain_next;
            self.constrain_next = (self.constrain_next + 1) % self.partitions;
            fft.constrain(&mut self.w[p * BINS..(p + 1) * BINS]);
        }
    }

    /// Partition `p`'s spectrum.
    pub fn partition(&self, p: usize) -> &[Complex<f32>] {
        &self.w[p * BINS..(p + 1) * BINS]
    }

    /// Sum over partitions of |W_p(k)|^2: the echo path's power gain per bin.
    pub fn path_gain(&self, out: &mut [f32; BINS]) {
        *out = [0.0; BINS];
        for chunk in self.w.chunks_exact(BINS) {
            for (o, w) in out.iter_mut().zip(chunk) {
                *o += w.norm_sqr();
            }
        }
    }

    /// The partition holding the most energy (the echo's direct path and first
    /// reflections, in a converged filter).
    pub fn strongest_partition(&self) -> usize {
        let mut best = (0, 0.0f32);
        for (p, chunk) in self.w.chunks_exact(BINS).enumerate() {
            let e: f32 = chunk.iter().map(|w| w.norm_sqr()).sum();
            if e > best.1 {
                best = (p, e);
            }
        }
        best.0
    }

    /// Copies another filter of the same size.
    pub fn copy_from(&mut self, other: &PartitionedFilter) {
        self.w.copy_from_slice(&other.w);
    }

    /// Moves the taps `k` partitions earlier (`k` > 0: the far-end offset grew by `k`
    /// blocks, so what the filter learnt sits `k` partitions nearer the start) or later
    /// (`k` < 0); partitions shifted in are zero.
    pub fn shift(&mut self, k: isize) {
        let n = self.partitions;
        if k > 0 {
            let k = (k as usize).min(n);
            self.w.rotate_left(k * BINS);
            self.w[(n - k) * BINS..].fill(ZERO);
        } else if k < 0 {
            let k = k.unsigned_abs().min(n);
            self.w.rotate_right(k * BINS);
            self.w[..k * BINS].fill(ZERO);
        }
    }
}
