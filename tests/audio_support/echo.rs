//! A small room for echo-cancellation tests and benches: the echo of a far end, `delay_ms`
//! later at -10 dB, a reflection 5 ms after it at -22 dB, plus about -60 dBFS of seeded
//! noise. (Included by path from `benches/aec.rs` too, so the bench measures the same room.)

/// The echo of `far` (at `rate`) through the room, as the mic hears it.
pub fn echo_of(far: &[f32], rate: usize, delay_ms: usize, seed: u64) -> Vec<f32> {
    let d = rate * delay_ms / 1000;
    let r = d + rate / 200;
    let mut seed = seed;
    (0..far.len())
        .map(|i| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let noise = ((seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.0035;
            let a = i.checked_sub(d).map_or(0.0, |j| far[j] * 0.3);
            let b = i.checked_sub(r).map_or(0.0, |j| far[j] * -0.08);
            a + b + noise
        })
        .collect()
}
