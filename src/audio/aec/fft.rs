//! The one FFT size the canceller uses (2 blocks), with its scratch space preallocated so a
//! transform never allocates.

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::sync::Arc;

use super::{BINS, BLOCK, FFT};

/// A complex spectrum of one 2-block frame.
pub type Spectrum = [Complex<f32>; BINS];

/// The zero spectrum.
pub const ZERO: Complex<f32> = Complex::new(0.0, 0.0);

/// Forward and inverse real FFTs of `FFT` points.
pub struct Fft {
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    scratch_f: Vec<Complex<f32>>,
    scratch_i: Vec<Complex<f32>>,
    time: [f32; FFT],
    spec: Spectrum,
}

impl Fft {
    /// Plans the transforms (allocates; done once).
    pub fn new() -> Fft {
        let mut planner = RealFftPlanner::<f32>::new();
        let fwd = planner.plan_fft_forward(FFT);
        let inv = planner.plan_fft_inverse(FFT);
        Fft {
            scratch_f: fwd.make_scratch_vec(),
            scratch_i: inv.make_scratch_vec(),
            fwd,
            inv,
            time: [0.0; FFT],
            spec: [ZERO; BINS],
        }
    }

    /// Spectrum of `time` (unnormalised).
    pub fn forward(&mut self, time: &[f32; FFT], out: &mut Spectrum) {
        self.time.copy_from_slice(time);
        // Lengths are fixed by the types: the transform cannot fail.
        let _ = self
            .fwd
            .process_with_scratch(&mut self.time, out, &mut self.scratch_f);
    }

    /// Spectrum of a frame that is zero in its first half and `block` in its second (the
    /// overlap-save error frame).
    pub fn forward_zero_padded(&mut self, block: &[f32; BLOCK], out: &mut Spectrum) {
        self.time[..BLOCK].fill(0.0);
        self.time[BLOCK..].copy_from_slice(block);
        let _ = self
            .fwd
            .process_with_scratch(&mut self.time, out, &mut self.scratch_f);
    }

    /// Time signal of `spec`, scaled by 1/FFT so that `inverse(forward(x)) == x`.
    pub fn inverse(&mut self, spec: &Spectrum, out: &mut [f32; FFT]) {
        self.spec.copy_from_slice(spec);
        // A real signal's DC and Nyquist bins are real.
        self.spec[0].im = 0.0;
        self.spec[BINS - 1].im = 0.0;
        let _ = self
            .inv
            .process_with_scratch(&mut self.spec, out, &mut self.scratch_i);
        let scale = 1.0 / FFT as f32;
        out.iter_mut().for_each(|v| *v *= scale);
    }

    /// Makes a filter partition's spectrum that of a causal block-long impulse response (the
    /// overlap-save gradient constraint: zero the second half in time).
    pub fn constrain(&mut self, w: &mut [Complex<f32>]) {
        self.spec.copy_from_slice(w);
        self.spec[0].im = 0.0;
        self.spec[BINS - 1].im = 0.0;
        let _ = self
            .inv
            .process_with_scratch(&mut self.spec, &mut self.time, &mut self.scratch_i);
        let scale = 1.0 / FFT as f32;
        for v in self.time[..BLOCK].iter_mut() {
            *v *= scale;
        }
        self.time[BLOCK..].fill(0.0);
        let _ = self
            .fwd
            .process_with_scratch(&mut self.time, w, &mut self.scratch_f);
    }
}

impl Default for Fft {
    fn default() -> Self {
        Fft::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_undoes_forward_and_constrain_keeps_a_causal_response() {
        let mut fft = Fft::new();
        let mut x = [0f32; FFT];
        for (i, v) in x.iter_mut().enumerate() {
            *v = ((i * 37 % 101) as f32 - 50.0) / 50.0;
        }
        let mut spec = [ZERO; BINS];
        fft.forward(&x, &mut spec);
        let mut back = [0f32; FFT];
        fft.inverse(&spec, &mut back);
        for (a, b) in x.iter().zip(&back) {
            assert!((a - b).abs() < 1e-5);
        }
        // A response confined to the first half is left as it is; one in the second half
        // is removed.
        let mut h = [0f32; FFT];
        h[3] = 0.5;
        h[BLOCK + 7] = 0.25;
        fft.forward(&h, &mut spec);
        fft.constrain(&mut spec);
        fft.inverse(&spec, &mut back);
        assert!((back[3] - 0.5).abs() < 1e-5);
        assert!(back[BLOCK + 7].abs() < 1e-5);
    }
}
