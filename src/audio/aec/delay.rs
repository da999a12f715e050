//! Bulk echo delay estimation: where, 0-400 ms back in the far end, the mic's echo comes
//! from.
//!
//! Block-energy envelopes of mic and far end are cross-correlated at every lag (one lag a
//! block) with exponentially forgetting sums, so the estimate follows a changed delay within
//! a few hundred milliseconds instead of waiting for a whole analysis window to refill. The
//! normalised correlation is immune to the echo's gain; near-end speech lowers the
//! correlation at every lag alike and is mostly skipped anyway (only blocks with far end
//! in the searched span count). A new delay is reported only after it has won several
//! evaluations in a row.

/// Forgetting factor per block of the correlation sums (memory ~0.27 s at 24 kHz,
/// 128-sample blocks): short enough to follow a changed delay in well under a second.
const FORGET: f32 = 0.98;
/// Blocks between evaluations.
const EVALUATE_EVERY: usize = 4;
/// Consecutive evaluations a new lag must win before it is reported (the canceller itself
/// decides whether a new estimate may move its filters).
const AGREE: u32 = 3;
/// Correlation a lag needs to count as the echo's.
const MIN_CORRELATION: f32 = 0.4;
/// A lag before the best one is the echo's start when it correlates at least this fraction
/// as well.
const EARLIEST_FRACTION: f32 = 0.9;
/// Far-end block RMS under which the far end counts as silent.
const FAR_ACTIVE_RMS: f32 = 1e-3;

/// The estimator. Feed it one envelope pair per block; it answers with the echo's lag in
/// blocks when that is known or changes.
pub struct DelayEstimator {
    max_lag: usize,
    /// Far-end envelope history, and its forgetting sums, by block (ring).
    far_env: Vec<f32>,
    far_active: Vec<bool>,
    pos: usize,
    /// Per-lag sums of near x far, and the near sums, over the blocks that counted.
    cross: Vec<f32>,
    near_sum: f32,
    near_sq: f32,
    weight: f32,
    /// Per-lag far sums over the same counted blocks (the near sums skip far-silent
    /// blocks, so the far sums must be kept per lag rather than read from a history).
    lag_far_sum: Vec<f32>,
    lag_far_sq: Vec<f32>,
    blocks: usize,
    counted: usize,
    reported: Option<usize>,
    candidate: Option<(usize, u32)>,
    /// Correlation of the reported lag when it was reported.
    confidence: f32,
}

impl DelayEstimator {
    /// An estimator searching lags 0..=`max_lag` blocks.
    pub fn new(max_lag: usize) -> DelayEstimator {
        let n = max_lag + 1;
        DelayEstimator {
            max_lag,
            far_env: vec![0.0; n],
            far_active: vec![false; n],
            pos: 0,
            cross: vec![0.0; n],
            near_sum: 0.0,
            near_sq: 0.0,
            weight: 0.0,
            lag_far_sum: vec![0.0; n],
            lag_far_sq: vec![0.0; n],
            blocks: 0,
            counted: 0,
            reported: None,
            candidate: None,
            confidence: 0.0,
        }
    }

    /// The lag (blocks) last reported, if any.
    pub fn lag(&self) -> Option<usize> {
        self.reported
    }

    /// How well the envelopes correlated at the best lag when the reported lag was
    /// reported (0-1; 0 before any).
    pub fn confidence(&self) -> f32 {
        self.confidence
    }

    /// Takes the RMS of one block of far end whose mic block must not count (the user is
    /// talking over the echo): the far-end history moves on, the correlations do not.
    pub fn push_far_only(&mut self, far_rms: f32) {
        let n = self.max_lag + 1;
        self.pos = (self.pos + 1) % n;
        self.far_active[self.pos] = far_rms > FAR_ACTIVE_RMS;
        self.far_env[self.pos] = far_rms;
        self.blocks += 1;
    }

    /// Takes the RMS of one block of mic and far end; returns `Some(lag)` when the echo's
    /// lag is first found or has moved.
    pub fn push(&mut self, near_rms: f32, far_rms: f32) -> Option<usize> {
        let n = self.max_lag + 1;
        self.pos = (self.pos + 1) % n;
        self.far_active[self.pos] = far_rms > FAR_ACTIVE_RMS;
        self.far_env[self.pos] = far_rms;
        self.blocks += 1;
        // Count this block only if some far end in the searched span could be in the mic.
        if !self.far_active.iter().any(|&a| a) {
            return None;
        }
        self.counted += 1;
        self.weight = FORGET * self.weight + 1.0;
        self.near_sum = FORGET * self.near_sum + near_rms;
        self.near_sq = FORGET * self.near_sq + near_rms * near_rms;
        for lag in 0..n {
            let f = self.far_env[(self.pos + n - lag) % n];
            self.cross[lag] = FORGET * self.cross[lag] + near_rms * f;
            self.lag_far_sum[lag] = FORGET * self.lag_far_sum[lag] + f;
            self.lag_far_sq[lag] = FORGET * self.lag_far_sq[lag] + f * f;
        }
        if self.counted < 40 || self.blocks % EVALUATE_EVERY != 0 {
            return None;
        }
        self.evaluate()
    }

    fn evaluate(&mut self) -> Option<usize> {
        let w = self.weight;
        let near_mean = self.near_sum / w;
        let near_var = self.near_sq / w - near_mean * near_mean;
        if near_var <= 1e-12 {
            return None;
        }
        let mut best = (0usize, f32::MIN);
        for lag in 0..=self.max_lag {
            let far_mean = self.lag_far_sum[lag] / w;
            let far_var = self.lag_far_sq[lag] / w - far_mean * far_mean;
            if far_var <= 1e-12 {
                continue;
            }
            let c = (self.cross[lag] / w - near_mean * far_mean) / (near_var * far_var).sqrt();
            if c > best.1 {
                best = (lag, c);
            }
        }
        if best.1 < MIN_CORRELATION {
            return None;
        }
        // Reverberation spreads the mic's envelope later than the direct path, so the
        // correlation peak runs late in a big room: the echo starts at the earliest lag
        // that correlates nearly as well as the best one.
        let mut lag = best.0;
        for l in 0..best.0 {
            let far_mean = self.lag_far_sum[l] / w;
            let far_var = self.lag_far_sq[l] / w - far_mean * far_mean;
            if far_var <= 1e-12 {
                continue;
            }
            let c = (self.cross[l] / w - near_mean * far_mean) / (near_var * far_var).sqrt();
            if c >= EARLIEST_FRACTION * best.1 {
                lag = l;
                break;
            }
        }
        match self.reported {
            // Within a block of the reported lag: jitter, not a move.
            Some(r) if r.abs_diff(lag) <= 1 => {
                self.candidate = None;
                None
            }
            _ => {
                let agreed = match self.candidate {
                    Some((c, k)) if c.abs_diff(lag) <= 1 => k + 1,
                    _ => 1,
                };
                if agreed >= AGREE {
                    self.confidence = best.1;
                    self.reported = Some(lag);
                    self.candidate = None;
                    Some(lag)
                } else {
                    self.candidate = Some((lag, agreed));
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bursty envelope (speech-like on/off pattern), deterministic.
    fn envelope(n: usize) -> Vec<f32> {
        let mut s = 12345u32;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let r = (s >> 16) as f32 / 65536.0;
                if r > 0.4 {
                    0.05 + 0.2 * r
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn finds_the_lag_and_follows_a_jump() {
        let far = envelope(600);
        let mut est = DelayEstimator::new(75);
        let mut found = Vec::new();
        for t in 0..600 {
            let lag = if t < 300 { 15 } else { 24 };
            let near = if t >= lag { 0.3 * far[t - lag] } else { 0.0 };
            if let Some(l) = est.push(near + 1e-4, far[t]) {
                found.push((t, l));
            }
        }
        assert_eq!(found.first().map(|f| f.1), Some(15), "{found:?}");
        let (t, l) = *found.last().unwrap();
        assert_eq!(l, 24, "{found:?}");
        // Followed within ~0.5 s (94 blocks at 24 kHz).
        assert!(t < 300 + 94, "moved at block {t}: {found:?}");
    }

    #[test]
    fn silence_or_an_unrelated_mic_reports_nothing() {
        let far = envelope(400);
        let near = envelope(401);
        let mut est = DelayEstimator::new(75);
        for &f in &far {
            assert_eq!(est.push(0.0, f), None);
        }
        let mut est = DelayEstimator::new(75);
        let mut reported = 0;
        for (t, &f) in far.iter().enumerate() {
            // A different (shifted by a non-lag) sequence: weakly correlated at best.
            if est.push(near[(t * 7 + 3) % 401], f).is_some() {
                reported += 1;
            }
        }
        assert!(
            reported <= 1,
            "reported {reported} lags for an unrelated mic"
        );
    }
}
