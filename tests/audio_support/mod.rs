//! Shared signal generators and measurements for the audio tests.
#![allow(dead_code)]

use std::f64::consts::PI;

/// The rate pairs the issue names: mic 48k/44.1k -> 24k, 48k -> 16k; model 24k -> 48k/44.1k.
pub const PAIRS: [(u32, u32); 5] = [
    (48_000, 24_000),
    (44_100, 24_000),
    (48_000, 16_000),
    (24_000, 48_000),
    (24_000, 44_100),
];

/// A sum of sines: (frequency Hz, amplitude, phase rad).
pub struct Tones(pub Vec<(f64, f64, f64)>);

impl Tones {
    /// `n` tones spread from 97 Hz to `top_hz`, equal amplitudes summing to `peak`.
    pub fn spread(n: usize, top_hz: f64, peak: f64) -> Tones {
        let lo: f64 = 97.0;
        Tones(
            (0..n)
                .map(|k| {
                    let f = lo * (top_hz / lo).powf(k as f64 / (n - 1) as f64);
                    (f, peak / n as f64, 0.7 * k as f64 + 0.3)
                })
                .collect(),
        )
    }

    /// The analytic value at time `t` seconds.
    pub fn at(&self, t: f64) -> f64 {
        self.0
            .iter()
            .map(|&(f, a, p)| a * (2.0 * PI * f * t + p).sin())
            .sum()
    }

    /// `n` samples at `rate`.
    pub fn render(&self, rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| self.at(i as f64 / rate as f64) as f32)
            .collect()
    }
}

/// A linear sweep from f0 to f1 over `secs`, amplitude `a`.
pub fn sweep_at(t: f64, f0: f64, f1: f64, secs: f64, a: f64) -> f64 {
    let k = (f1 - f0) / secs;
    a * (2.0 * PI * (f0 * t + 0.5 * k * t * t)).sin()
}

/// SNR in dB of `out` (at `out_rate`) against `reference(t)` delayed by `delay` output frames,
/// over output frames `from..to`.
pub fn snr_db(
    out: &[f32],
    out_rate: u32,
    delay: f64,
    from: usize,
    to: usize,
    reference: &dyn Fn(f64) -> f64,
) -> f64 {
    let (mut sig, mut err) = (0.0f64, 0.0f64);
    for (n, &y) in out.iter().enumerate().take(to).skip(from) {
        let r = reference((n as f64 - delay) / out_rate as f64);
        sig += r * r;
        err += (y as f64 - r) * (y as f64 - r);
    }
    10.0 * (sig / err.max(1e-300)).log10()
}

/// Find the delay (output frames, fractional) near `guess` that maximises the SNR, by
/// golden-section search over +-3 frames; returns (delay, snr).
pub fn best_delay(
    out: &[f32],
    out_rate: u32,
    guess: f64,
    from: usize,
    to: usize,
    reference: &dyn Fn(f64) -> f64,
) -> (f64, f64) {
    // Coarse grid first (the error is not unimodal over several frames), then refine.
    let mut best = (guess, f64::MIN);
    let mut d = guess - 3.0;
    while d <= guess + 3.0 {
        let s = snr_db(out, out_rate, d, from, to, reference);
        if s > best.1 {
            best = (d, s);
        }
        d += 0.05;
    }
    let (mut a, mut b) = (best.0 - 0.05, best.0 + 0.05);
    let g = 0.618_033_988_75;
    for _ in 0..40 {
        let c = b - g * (b - a);
        let e = a + g * (b - a);
        if snr_db(out, out_rate, c, from, to, reference)
            > snr_db(out, out_rate, e, from, to, reference)
        {
            b = e;
        } else {
            a = c;
        }
    }
    let d = 0.5 * (a + b);
    (d, snr_db(out, out_rate, d, from, to, reference))
}

/// Frequency estimate of a (mostly) single tone by zero-crossing interpolation.
pub fn estimate_frequency(x: &[f32], rate: u32) -> f64 {
    let mut crossings = Vec::new();
    for i in 1..x.len() {
        let (a, b) = (x[i - 1] as f64, x[i] as f64);
        if a <= 0.0 && b > 0.0 {
            crossings.push(i as f64 - 1.0 + a / (a - b));
        }
    }
    if crossings.len() < 2 {
        return 0.0;
    }
    let span = crossings[crossings.len() - 1] - crossings[0];
    (crossings.len() - 1) as f64 * rate as f64 / span
}

/// RMS level in dB full scale (sine of amplitude 1 = -3 dB).
pub fn rms_db(x: &[f32]) -> f64 {
    let p: f64 = x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len().max(1) as f64;
    10.0 * p.max(1e-300).log10()
}

/// A tiny deterministic PRNG (xorshift64*) for random chunkings.
pub struct Rng(pub u64);
impl Rng {
    /// Next value in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}
