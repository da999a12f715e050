//! The mouth of the voice: loudness and vowel weights of the model's 24 kHz speech, per
//! 10 ms hop. Pure DSP: no I/O, no threads; allocation only in the constructors.
//!
//! # Method
//!
//! Per hop of [`HOP_SAMPLES`] (10 ms at 24 kHz):
//!
//! - **Level**: RMS of the hop in dBFS, mapped linearly from [`LEVEL_FLOOR_DBFS`] (0) to
//!   [`LEVEL_CEIL_DBFS`] (1), smoothed with a fast attack and a slower release
//!   ([`LevelMeter`]): a jaw opens with the first syllable and closes without chattering.
//! - **Vowel**: the classic LPC formant method. The speech is decimated to 12 kHz, a 30 ms
//!   Hamming window is pre-emphasised, and an order-12 all-pole model (autocorrelation,
//!   Levinson-Durbin) gives the vocal-tract envelope. Its first two peaks are the formants
//!   F1 (jaw opening) and F2 (tongue front/back, lip rounding), the two coordinates that
//!   separate the five vowels for any speaker. Each vowel is a prototype in log-frequency
//!   (log F1, log F2) space, where the differences between men, women and children are
//!   mostly a shift; the weights are a Gaussian of the distance to each prototype,
//!   normalised. Log distances and broad widths make the classifier speaker-independent
//!   without calibration (uLipSync instead calibrates MFCC profiles per voice).
//! - **Silence and unvoiced sounds**: a hop is "voiced" by the product of a loudness gate
//!   and a voicing gate (the normalised lag-1 autocorrelation of the 12 kHz window: vowels
//!   are dominated by low frequencies and sit near 1, fricatives such as /s/ and /f/ near 0
//!   or below). `sil` takes what is not voiced, so silence and hiss give a closed mouth.
//! - The vowel weights are smoothed over about two hops, and `sil + aa + ih + ou + ee + oh`
//!   is exactly 1 after the final normalisation.
//!
//! The timeline (which hop the device is playing) is the playback path's job; this module
//! only turns samples into shapes, and publishes a shape lock-free ([`MouthCell`]).

use std::sync::atomic::{fence, AtomicI64, AtomicU32, Ordering};

/// Model audio per analysis hop: 10 ms at 24 kHz.
pub const HOP_SAMPLES: usize = 240;
/// Hop length, in ms.
pub const HOP_MS: u32 = 10;
/// dBFS RMS that maps to level 0 (and below which nothing is voiced).
pub const LEVEL_FLOOR_DBFS: f32 = -50.0;
/// dBFS RMS that maps to level 1 (loud speech).
pub const LEVEL_CEIL_DBFS: f32 = -12.0;
/// Level smoothing per hop while rising (fast: the mouth opens with the sound).
const LEVEL_ATTACK: f32 = 0.7;
/// Level smoothing per hop while falling (about 35 ms time constant).
const LEVEL_RELEASE: f32 = 0.25;
/// Vowel-weight smoothing per hop.
const VOWEL_SMOOTHING: f32 = 0.5;

/// Analysis rate after decimation by 2 (formants live below 4 kHz).
const ANALYSIS_RATE: f32 = 12_000.0;
/// Analysis window: 30 ms at 12 kHz.
const WINDOW: usize = 360;
/// Decimated samples per hop.
const HOP_DECIMATED: usize = HOP_SAMPLES / 2;
/// LPC order at 12 kHz (2 + rate/1 kHz: two poles per formant plus spectral tilt).
const LPC_ORDER: usize = 12;
/// Envelope grid: from 150 Hz in 25 Hz steps to 3.5 kHz.
const ENV_START_HZ: f32 = 150.0;
const ENV_STEP_HZ: f32 = 25.0;
const ENV_BINS: usize = 135;
/// F1 search range, Hz.
const F1_RANGE: (f32, f32) = (200.0, 1_100.0);
/// F2 lies at least this far above F1, Hz, and below `F2_MAX`.
const F2_MIN_GAP: f32 = 150.0;
const F2_MAX: f32 = 3_200.0;
/// Voicing gate on the lag-1 autocorrelation: 0 at or below the first, 1 at the second.
const VOICING_GATE: (f32, f32) = (0.35, 0.75);
/// Loudness gate, dBFS: 0 at `LEVEL_FLOOR_DBFS`, 1 this far above it.
const LOUDNESS_GATE_DB: f32 = 10.0;

/// A vowel prototype: typical adult (F1, F2) in Hz, the geometric middle of male and
/// female values of the five-vowel systems (Japanese, Spanish, Italian).
struct Prototype {
    f1: f32,
    f2: f32,
}

/// In the order aa, ih, ou, ee, oh.
const PROTOTYPES: [Prototype; 5] = [
    Prototype {
        f1: 780.0,
        f2: 1_300.0,
    },
    Prototype {
        f1: 300.0,
        f2: 2_350.0,
    },
    Prototype {
        f1: 330.0,
        f2: 950.0,
    },
    Prototype {
        f1: 480.0,
        f2: 1_950.0,
    },
    Prototype {
        f1: 520.0,
        f2: 900.0,
    },
];
/// Gaussian widths in natural-log units (about +-25 % in F1, +-22 % in F2).
const SIGMA_LOG_F1: f32 = 0.22;
const SIGMA_LOG_F2: f32 = 0.20;

/// A mouth shape: loudness and the weights of silence and the five VRM vowels.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MouthShape {
    /// Loudness now, 0..1.
    pub level: f32,
    /// Weight of a closed or neutral mouth (silence, unvoiced sounds).
    pub sil: f32,
    /// Weight of "a".
    pub aa: f32,
    /// Weight of "i".
    pub ih: f32,
    /// Weight of "u".
    pub ou: f32,
    /// Weight of "e".
    pub ee: f32,
    /// Weight of "o".
    pub oh: f32,
}

impl MouthShape {
    /// A closed mouth: level 0, `sil` 1.
    pub const SILENT: MouthShape = MouthShape {
        level: 0.0,
        sil: 1.0,
        aa: 0.0,
        ih: 0.0,
        ou: 0.0,
        ee: 0.0,
        oh: 0.0,
    };

    /// The five vowel weights, in the order aa, ih, ou, ee, oh.
    pub fn vowels(&self) -> [f32; 5] {
        [self.aa, self.ih, self.ou, self.ee, self.oh]
    }
}

/// Maps one hop's mean square to a 0..1 target level.
fn level_target(mean_square: f32) -> f32 {
    let db = 10.0 * mean_square.max(1e-12).log10();
    ((db - LEVEL_FLOOR_DBFS) / (LEVEL_CEIL_DBFS - LEVEL_FLOOR_DBFS)).clamp(0.0, 1.0)
}

/// A 0..1 loudness meter of a stream at any rate: RMS per 10 ms, fast attack, slower
/// release. Used for the mouth and for the mic level shown to the UI.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    hop: usize,
    filled: usize,
    sum_sq: f32,
    level: f32,
}

impl LevelMeter {
    /// A meter for a stream at `sample_rate` Hz.
    pub fn new(sample_rate: u32) -> Self {
        Self {
            hop: (sample_rate as usize / 100).max(1),
            filled: 0,
            sum_sq: 0.0,
            level: 0.0,
        }
    }

    /// Feeds samples; the level moves once per completed 10 ms.
    pub fn push(&mut self, samples: &[f32]) {
        for &s in samples {
            let s = if s.is_finite() { s } else { 0.0 };
            self.sum_sq += s * s;
            self.filled += 1;
            if self.filled == self.hop {
                self.step(self.sum_sq / self.hop as f32);
                self.filled = 0;
                self.sum_sq = 0.0;
            }
        }
    }

    /// Moves the level towards one hop's mean square; returns the new level.
    fn step(&mut self, mean_square: f32) -> f32 {
        let target = level_target(mean_square);
        let k = if target > self.level {
            LEVEL_ATTACK
        } else {
            LEVEL_RELEASE
        };
        self.level += k * (target - self.level);
        if self.level < 1e-4 {
            self.level = 0.0;
        }
        self.level
    }

    /// The current level, 0..1.
    pub fn level(&self) -> f32 {
        self.level
    }

    /// Back to silence.
    pub fn reset(&mut self) {
        self.filled = 0;
        self.sum_sq = 0.0;
        self.level = 0.0;
    }
}

/// Streaming mouth analysis of 24 kHz mono speech. Allocates only in [`MouthAnalyzer::new`].
pub struct MouthAnalyzer {
    /// 24 kHz samples of the hop being filled.
    hop: [f32; HOP_SAMPLES],
    hop_filled: usize,
    /// Decimator state: the last two 24 kHz inputs.
    dec_prev: [f32; 2],
    /// The last `WINDOW` decimated samples (oldest first).
    window: Vec<f32>,
    hamming: Vec<f32>,
    /// Envelope basis: cos/sin of `k * w` for each grid bin and lag `k` (`ENV_BINS x (P+1)`).
    env_cos: Vec<f32>,
    env_sin: Vec<f32>,
    scratch: Vec<f32>,
    envelope: Vec<f32>,
    meter: LevelMeter,
    vowels: [f32; 5],
}

impl Default for MouthAnalyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl MouthAnalyzer {
    /// A new analyzer at silence.
    pub fn new() -> Self {
        let hamming = (0..WINDOW)
            .map(|n| {
                0.54 - 0.46 * (2.0 * std::f32::consts::PI * n as f32 / (WINDOW - 1) as f32).cos()
            })
            .collect();
        let mut env_cos = Vec::with_capacity(ENV_BINS * (LPC_ORDER + 1));
        let mut env_sin = Vec::with_capacity(ENV_BINS * (LPC_ORDER + 1));
        for b in 0..ENV_BINS {
            let w = 2.0 * std::f32::consts::PI * bin_hz(b) / ANALYSIS_RATE;
            for k in 0..=LPC_ORDER {
                env_cos.push((w * k as f32).cos());
                env_sin.push((w * k as f32).sin());
            }
        }
        Self {
            hop: [0.0; HOP_SAMPLES],
            hop_filled: 0,
            dec_prev: [0.0; 2],
            window: vec![0.0; WINDOW],
            hamming,
            env_cos,
            env_sin,
            scratch: vec![0.0; WINDOW],
            envelope: vec![0.0; ENV_BINS],
            meter: LevelMeter::new(24_000),
            vowels: [0.0; 5],
        }
    }

    /// Back to silence (after a flush: the next audio is unrelated to the last).
    pub fn reset(&mut self) {
        self.hop_filled = 0;
        self.dec_prev = [0.0; 2];
        self.window.fill(0.0);
        self.meter.reset();
        self.vowels = [0.0; 5];
    }

    /// Samples into the hop being filled so far (0..`HOP_SAMPLES`).
    pub fn pending(&self) -> usize {
        self.hop_filled
    }

    /// Feeds 24 kHz samples; calls `on_hop(end, shape)` for every hop completed, `end`
    /// being the index in `samples` one past the hop's last sample.
    pub fn push(&mut self, samples: &[f32], on_hop: &mut dyn FnMut(usize, MouthShape)) {
        let mut i = 0;
        while i < samples.len() {
            let n = (HOP_SAMPLES - self.hop_filled).min(samples.len() - i);
            for (d, &s) in self.hop[self.hop_filled..self.hop_filled + n]
                .iter_mut()
                .zip(&samples[i..i + n])
            {
                *d = if s.is_finite() {
                    s.clamp(-1.0, 1.0)
                } else {
                    0.0
                };
            }
            self.hop_filled += n;
            i += n;
            if self.hop_filled == HOP_SAMPLES {
                self.hop_filled = 0;
                let shape = self.analyze_hop();
                on_hop(i, shape);
            }
        }
    }

    /// One full hop is in `self.hop`: slide the window, measure, classify.
    fn analyze_hop(&mut self) -> MouthShape {
        let mean_square = self.hop.iter().map(|s| s * s).sum::<f32>() / HOP_SAMPLES as f32;
        let level = self.meter.step(mean_square);
        // Decimate by 2 with a [1 2 1]/4 low-pass (enough below 4 kHz for formants).
        self.window.copy_within(HOP_DECIMATED.., 0);
        let base = WINDOW - HOP_DECIMATED;
        for j in 0..HOP_DECIMATED {
            let a = self.hop[2 * j];
            let b = self.hop[2 * j + 1];
            self.window[base + j] = 0.25 * self.dec_prev[1] + 0.5 * a + 0.25 * b;
            self.dec_prev = [a, b];
        }

        let db = 10.0 * mean_square.max(1e-12).log10();
        let loud = ((db - LEVEL_FLOOR_DBFS) / LOUDNESS_GATE_DB).clamp(0.0, 1.0);
        let mut voiced = 0.0;
        let mut target = [0.0f32; 5];
        if loud > 0.0 {
            let (voicing, formants) = self.formants();
            voiced = loud * voicing;
            if let Some((f1, f2)) = formants {
                target = vowel_weights(f1, f2);
            } else {
                voiced = 0.0;
            }
        }
        for (v, t) in self.vowels.iter_mut().zip(target) {
            *v += VOWEL_SMOOTHING * (t * voiced - *v);
        }
        let vowel_sum: f32 = self.vowels.iter().sum();
        let sil = (1.0 - vowel_sum).max(0.0);
        let total = sil + vowel_sum;
        let [aa, ih, ou, ee, oh] = self.vowels.map(|v| v / total);
        MouthShape {
            level,
            sil: sil / total,
            aa,
            ih,
            ou,
            ee,
            oh,
        }
    }

    /// Voicing (0..1) and the first two formants of the current window, if found.
    fn formants(&mut self) -> (f32, Option<(f32, f32)>) {
        // Voicing from the raw window: r1 / r0.
        let w = &self.window;
        let r0: f32 = w.iter().map(|x| x * x).sum();
        if r0 <= 1e-9 {
            return (0.0, None);
        }
        let r1: f32 = w.windows(2).map(|p| p[0] * p[1]).sum();
        let rho = r1 / r0;
        let voicing = ((rho - VOICING_GATE.0) / (VOICING_GATE.1 - VOICING_GATE.0)).clamp(0.0, 1.0);
        if voicing == 0.0 {
            return (0.0, None);
        }

        // Pre-emphasis and Hamming window.
        let x = &mut self.scratch;
        x[0] = w[0] * self.hamming[0];
        for n in 1..WINDOW {
            x[n] = (w[n] - 0.97 * w[n - 1]) * self.hamming[n];
        }
        let mut r = [0.0f32; LPC_ORDER + 1];
        for (k, rk) in r.iter_mut().enumerate() {
            *rk = x[k..].iter().zip(x.iter()).map(|(a, b)| a * b).sum();
        }
        if r[0] <= 1e-12 {
            return (voicing, None);
        }
        r[0] *= 1.0 + 1e-4; // white-noise correction: keeps the recursion stable
        let Some(a) = levinson(&r) else {
            return (voicing, None);
        };

        // Envelope 1 / |A(e^jw)|^2 on the grid (log power).
        for b in 0..ENV_BINS {
            let c = &self.env_cos[b * (LPC_ORDER + 1)..(b + 1) * (LPC_ORDER + 1)];
            let s = &self.env_sin[b * (LPC_ORDER + 1)..(b + 1) * (LPC_ORDER + 1)];
            let (mut re, mut im) = (0.0f32, 0.0f32);
            for k in 0..=LPC_ORDER {
                re += a[k] * c[k];
                im -= a[k] * s[k];
            }
            self.envelope[b] = -(re * re + im * im).max(1e-12).ln();
        }
        (voicing, pick_formants(&self.envelope))
    }
}

/// Centre frequency of envelope bin `b`, Hz.
fn bin_hz(b: usize) -> f32 {
    ENV_START_HZ + ENV_STEP_HZ * b as f32
}

/// Levinson-Durbin: prediction polynomial `a` (a[0] = 1) from autocorrelation `r`.
fn levinson(r: &[f32; LPC_ORDER + 1]) -> Option<[f32; LPC_ORDER + 1]> {
    let mut a = [0.0f32; LPC_ORDER + 1];
    let mut prev = [0.0f32; LPC_ORDER + 1];
    a[0] = 1.0;
    let mut err = r[0];
    for i in 1..=LPC_ORDER {
        let mut acc = r[i];
        for j in 1..i {
            acc += a[j] * r[i - j];
        }
        let k = -acc / err;
        if !k.is_finite() || k.abs() >= 1.0 {
            return None;
        }
        prev[..i].copy_from_slice(&a[..i]);
        for j in 1..i {
            a[j] = prev[j] + k * prev[i - j];
        }
        a[i] = k;
        err *= 1.0 - k * k;
        if err <= 0.0 {
            return None;
        }
    }
    Some(a)
}

/// F1 and F2 from a log-power envelope: local maxima (parabolic refinement), the first in
/// the F1 range, the next one above it. When F1 and F2 merge into one peak (back vowels,
/// where they are close), the shoulder's strongest bend above F1 stands in for F2.
fn pick_formants(env: &[f32]) -> Option<(f32, f32)> {
    let peak_hz = |b: usize| -> f32 {
        let (l, c, r) = (env[b - 1], env[b], env[b + 1]);
        let den = l - 2.0 * c + r;
        let off = if den.abs() > 1e-9 {
            (0.5 * (l - r) / den).clamp(-0.5, 0.5)
        } else {
            0.0
        };
        bin_hz(b) + off * ENV_STEP_HZ
    };
    let mut f1 = None;
    let mut f2 = None;
    for b in 1..env.len() - 1 {
        if env[b] > env[b - 1] && env[b] >= env[b + 1] {
            let hz = peak_hz(b);
            match f1 {
                None if (F1_RANGE.0..=F1_RANGE.1).contains(&hz) => f1 = Some(hz),
                Some(f) if hz >= f + F2_MIN_GAP && hz <= F2_MAX => {
                    f2 = Some(hz);
                    break;
                }
                _ => {}
            }
        }
    }
    let f1 = f1?;
    if let Some(f2) = f2 {
        return Some((f1, f2));
    }
    // Merged peaks: the most negative second difference (a hidden peak) above F1.
    let start = ((f1 + F2_MIN_GAP - ENV_START_HZ) / ENV_STEP_HZ).ceil() as usize;
    let end = (((F2_MAX - ENV_START_HZ) / ENV_STEP_HZ) as usize).min(env.len() - 1);
    (start.max(1)..end)
        .map(|b| (b, env[b - 1] - 2.0 * env[b] + env[b + 1]))
        .min_by(|x, y| x.1.total_cmp(&y.1))
        .map(|(b, _)| (f1, bin_hz(b)))
}

/// Vowel weights (aa, ih, ou, ee, oh), summing to 1, from F1 and F2.
fn vowel_weights(f1: f32, f2: f32) -> [f32; 5] {
    let (l1, l2) = (f1.ln(), f2.ln());
    let mut w = [0.0f32; 5];
    for (wi, p) in w.iter_mut().zip(&PROTOTYPES) {
        let d1 = (l1 - p.f1.ln()) / SIGMA_LOG_F1;
        let d2 = (l2 - p.f2.ln()) / SIGMA_LOG_F2;
        *wi = (-0.5 * (d1 * d1 + d2 * d2)).exp();
    }
    let sum: f32 = w.iter().sum();
    if sum > 1e-20 {
        w.map(|x| x / sum)
    } else {
        // Far from every vowel: the nearest one.
        let mut best = 0;
        let mut best_d = f32::MAX;
        for (i, p) in PROTOTYPES.iter().enumerate() {
            let d = ((l1 - p.f1.ln()) / SIGMA_LOG_F1).powi(2)
                + ((l2 - p.f2.ln()) / SIGMA_LOG_F2).powi(2);
            if d < best_d {
                best_d = d;
                best = i;
            }
        }
        let mut one = [0.0; 5];
        one[best] = 1.0;
        one
    }
}

/// One published mouth shape, readable from any thread without locks: a sequence lock
/// over atomics. One writer (the playback consumer, on the audio thread); any number of
/// readers, each of which retries while a write is in progress.
#[derive(Debug)]
pub struct MouthCell {
    seq: AtomicU32,
    fields: [AtomicU32; 7],
    played_ms: AtomicI64,
}

impl Default for MouthCell {
    fn default() -> Self {
        let cell = MouthCell {
            seq: AtomicU32::new(0),
            fields: Default::default(),
            played_ms: AtomicI64::new(0),
        };
        cell.publish(&MouthShape::SILENT, 0);
        cell
    }
}

/// Reader retries before settling for the last read (a writer would have to stall inside
/// its few stores that long).
const READ_RETRIES: usize = 64;

impl MouthCell {
    /// Stores a shape. Call from one thread at a time (the session's audio-thread consumer).
    pub fn publish(&self, shape: &MouthShape, played_ms: i64) {
        self.seq.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::Release);
        let values = [
            shape.level,
            shape.sil,
            shape.aa,
            shape.ih,
            shape.ou,
            shape.ee,
            shape.oh,
        ];
        for (f, v) in self.fields.iter().zip(values) {
            f.store(v.to_bits(), Ordering::Relaxed);
        }
        self.played_ms.store(played_ms, Ordering::Relaxed);
        self.seq.fetch_add(1, Ordering::Release);
    }

    /// The last shape published and the ms played with it. Never blocks.
    pub fn read(&self) -> (MouthShape, i64) {
        let mut out = (MouthShape::SILENT, 0);
        for _ in 0..READ_RETRIES {
            let before = self.seq.load(Ordering::Acquire);
            let v: [f32; 7] =
                std::array::from_fn(|i| f32::from_bits(self.fields[i].load(Ordering::Relaxed)));
            let played = self.played_ms.load(Ordering::Relaxed);
            fence(Ordering::Acquire);
            let after = self.seq.load(Ordering::Relaxed);
            out = (
                MouthShape {
                    level: v[0],
                    sil: v[1],
                    aa: v[2],
                    ih: v[3],
                    ou: v[4],
                    ee: v[5],
                    oh: v[6],
                },
                played,
            );
            if before == after && before % 2 == 0 {
                break;
            }
            std::hint::spin_loop();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A crude vowel: a 120 Hz pulse train through a cascade of resonators at f1, f2 and a
    /// third formant (a cascade of two alone has a spectral bump between them that no
    /// voice has).
    fn synth_vowel(f1: f32, f2: f32, ms: usize, gain: f32) -> Vec<f32> {
        let n = 24 * ms;
        let mut out = Vec::with_capacity(n);
        let res = |f: f32, bw: f32| {
            let r = (-std::f32::consts::PI * bw / 24_000.0).exp();
            let c = 2.0 * r * (2.0 * std::f32::consts::PI * f / 24_000.0).cos();
            (c, -r * r)
        };
        let (c1, d1) = res(f1, 80.0);
        let (c2, d2) = res(f2, 100.0);
        let (c3, d3) = res((f2 + 600.0).max(2_700.0), 150.0);
        let (mut y1, mut y1p, mut y2, mut y2p) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        let (mut y3, mut y3p) = (0.0f32, 0.0f32);
        for i in 0..n {
            let x = if i % 200 == 0 { 1.0 } else { 0.0 };
            let a = x + c1 * y1 + d1 * y1p;
            y1p = y1;
            y1 = a;
            let b = a + c2 * y2 + d2 * y2p;
            y2p = y2;
            y2 = b;
            let c = b + c3 * y3 + d3 * y3p;
            y3p = y3;
            y3 = c;
            out.push(c);
        }
        let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        out.iter().map(|v| v / peak * gain).collect()
    }

    fn shapes(x: &[f32]) -> Vec<MouthShape> {
        let mut a = MouthAnalyzer::new();
        let mut v = Vec::new();
        a.push(x, &mut |_, s| v.push(s));
        v
    }

    #[test]
    fn silence_is_a_closed_mouth() {
        for s in shapes(&vec![0.0; 24_000]) {
            assert_eq!(s.level, 0.0);
            assert!((s.sil - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn weights_sum_to_one_and_vowels_are_found() {
        let cases = [
            (750.0, 1_250.0, 0),
            (280.0, 2_300.0, 1),
            (320.0, 900.0, 2),
            (470.0, 1_900.0, 3),
            (530.0, 880.0, 4),
        ];
        for (f1, f2, want) in cases {
            let x = synth_vowel(f1, f2, 400, 0.5);
            let s = shapes(&x);
            for m in &s {
                let sum = m.sil + m.vowels().iter().sum::<f32>();
                assert!((sum - 1.0).abs() < 1e-4, "sum {sum}");
            }
            let mid = &s[10..35];
            let right = mid
                .iter()
                .filter(|m| {
                    let v = m.vowels();
                    let best = (0..5).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
                    best == want && v[want] > m.sil
                })
                .count();
            assert!(
                right >= mid.len() * 8 / 10,
                "vowel {want}: {right}/{}",
                mid.len()
            );
            assert!(mid.iter().all(|m| m.level > 0.5));
        }
    }

    #[test]
    fn hiss_is_not_a_vowel() {
        let mut seed = 1u32;
        let noise: Vec<f32> = (0..24_000)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let w = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                w * 0.3
            })
            .collect();
        // White noise differenced: energy at high frequencies, as in /s/.
        let hiss: Vec<f32> = noise.windows(2).map(|p| p[1] - p[0]).collect();
        let s = shapes(&hiss);
        assert!(s[5..].iter().all(|m| m.sil > 0.9), "{:?}", s[10]);
    }

    #[test]
    fn cell_round_trips() {
        let cell = MouthCell::default();
        assert_eq!(cell.read(), (MouthShape::SILENT, 0));
        let s = MouthShape {
            level: 0.5,
            sil: 0.1,
            aa: 0.9,
            ..Default::default()
        };
        cell.publish(&s, 42);
        assert_eq!(cell.read(), (s, 42));
    }

    #[test]
    fn meter_attacks_fast_and_releases_slower() {
        let mut m = LevelMeter::new(48_000);
        m.push(&vec![0.3; 480]);
        let up = m.level();
        assert!(up > 0.5, "{up}");
        m.push(&vec![0.0; 480]);
        assert!(m.level() < up && m.level() > 0.5 * up);
        m.push(&vec![0.0; 480 * 20]);
        assert!(m.level() < 0.01);
    }
}
