//! The delay/quality trade-off of the sinc design, as measured to choose
//! `TARGET_DELAY_MS` and `CUTOFF_RELATIVE` (see `src/audio/resample.rs`).
//!
//! Slow in debug builds; run with
//! `cargo test --release --test audio_design_sweep -- --ignored --nocapture`.

mod audio_support;

use audio_support::*;
use realtime_voice::audio::resample::{
    SincDesign, StreamResampler, CUTOFF_RELATIVE, TARGET_DELAY_MS,
};

/// (worst passband SNR over the pairs, worst attenuation at 1.02 x output Nyquist).
fn measure(delay_ms: f64, cutoff: f32) -> (f64, f64) {
    let mut worst_snr = f64::MAX;
    let mut worst_stop = f64::MAX;
    for (i, o) in PAIRS {
        let mut design = SincDesign::for_rates(i, o, delay_ms);
        design.f_cutoff = cutoff;
        let mut r = StreamResampler::with_design(i, o, design).unwrap();
        let tones = Tones::spread(9, 0.9 * i.min(o) as f64 / 2.0, 0.9);
        let x = tones.render(i, i as usize / 4);
        let mut y = Vec::new();
        r.process(&x, &mut |b| y.extend_from_slice(b));
        let n = y.len();
        let (_, snr) = best_delay(&y, o, r.delay_output_frames(), 1000, n - 500, &|t| {
            tones.at(t)
        });
        worst_snr = worst_snr.min(snr);
        if o < i {
            let mut r = StreamResampler::with_design(i, o, design).unwrap();
            let t = Tones(vec![(1.02 * o as f64 / 2.0, 0.5, 0.0)]);
            let x = t.render(i, i as usize / 8);
            let mut y = Vec::new();
            r.process(&x, &mut |b| y.extend_from_slice(b));
            worst_stop = worst_stop.min(rms_db(&x[1000..]) - rms_db(&y[1000..]));
        }
    }
    (worst_snr, worst_stop)
}

#[test]
#[ignore]
fn delay_quality_trade_off() {
    println!("\n| delay @24k pairs (ms) | cutoff | worst passband SNR (dB) | worst stopband @1.02x (dB) |");
    println!("|---|---|---|---|");
    for delay in [1.5, 2.0, 2.25, 2.5, 2.75, 3.0] {
        for cutoff in [0.95f32, 0.955, 0.96] {
            let (snr, stop) = measure(delay, cutoff);
            println!("| {delay} | {cutoff} | {snr:.1} | {stop:.1} |");
        }
    }
    let (snr, stop) = measure(TARGET_DELAY_MS, CUTOFF_RELATIVE);
    assert!(
        snr >= 80.0 && stop >= 60.0,
        "chosen design: {snr:.1} / {stop:.1}"
    );
    let (short_snr, _) = measure(1.5, CUTOFF_RELATIVE);
    assert!(
        short_snr < 80.0,
        "a much shorter filter would do: {short_snr:.1}"
    );
}
