//! Far-end alignment for echo cancellation.
//!
//! The playback consumer taps what it hands to the audio device ([`ReferenceTap`]: mono, at
//! the device rate, in the device's time). The mic arrives on another thread, at the wire
//! rate after resampling. [`FarEndAligner`] turns the first into a stream at the wire rate
//! consumed in step with the second: for every `n` mic samples it gives the `n` far-end
//! samples that were played over the same stretch of time, give or take the device's
//! buffering (which the echo canceller's own delay estimator measures). When the mic runs
//! ahead of the device the missing far end is silence; when it lags, the oldest far end
//! beyond `max_lag_ms` is dropped, so the two never drift apart without bound.
//!
//! While the game feeds its final output mix ([`super::output_mix`], pushed within the last
//! [`MIX_LIVE_MS`] of mic time), the mix is the far end instead of the session's own
//! playback: it is what the speakers really play (music, effects, every session's voice).

use std::collections::VecDeque;

use super::output_mix::{MixReader, OutputMix, GLOBAL};
use super::playback::ReferenceTap;
use super::resample::StreamResampler;

/// The output mix counts as fed while it advanced within this much mic time.
pub const MIX_LIVE_MS: u32 = 200;

/// Which signal the echo canceller is given as the far end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceSource {
    /// What the session's own playback handed the device.
    Playback,
    /// The game's final output mix (`rv_push_output_mix`).
    OutputMix,
}

/// The far-end reference at the wire rate, in step with the mic.
pub struct FarEndAligner {
    tap: ReferenceTap,
    mix: MixReader,
    raw_mix: Vec<f32>,
    /// Mic samples asked for since the mix last advanced (`None`: it never did).
    mix_idle: Option<usize>,
    source: ReferenceSource,
    wire_rate: u32,
    device_rate: u32,
    resampler: Option<StreamResampler>,
    raw: Vec<f32>,
    fifo: VecDeque<f32>,
    out: Vec<f32>,
    max_fifo: usize,
    dropped: u64,
}

impl FarEndAligner {
    /// An aligner producing far-end audio at `wire_rate`, holding at most `max_lag_ms` of
    /// far end that the mic has not caught up with.
    pub fn new(tap: ReferenceTap, wire_rate: u32, max_lag_ms: u32) -> FarEndAligner {
        FarEndAligner::with_mix(tap, &GLOBAL, wire_rate, max_lag_ms)
    }

    /// The same, reading the output mix from `mix` (the process's [`GLOBAL`] one but in
    /// tests).
    pub fn with_mix(
        tap: ReferenceTap,
        mix: &'static OutputMix,
        wire_rate: u32,
        max_lag_ms: u32,
    ) -> FarEndAligner {
        let max_fifo = (u64::from(wire_rate) * u64::from(max_lag_ms.max(10)) / 1000) as usize;
        FarEndAligner {
            tap,
            mix: mix.reader(),
            raw_mix: Vec::with_capacity(8192),
            mix_idle: None,
            source: ReferenceSource::Playback,
            wire_rate,
            device_rate: 0,
            resampler: None,
            raw: Vec::with_capacity(8192),
            fifo: VecDeque::with_capacity(max_fifo * 2),
            out: Vec::with_capacity(4096),
            max_fifo,
            dropped: 0,
        }
    }

    /// Takes in what the device played since the last call and returns the far end for
    /// the next `n` mic samples (at the wire rate).
    pub fn next(&mut self, n: usize) -> &[f32] {
        self.raw.clear();
        self.tap.drain_into(&mut self.raw);
        self.raw_mix.clear();
        if self.mix.drain_into(&mut self.raw_mix) > 0 {
            self.mix_idle = Some(0);
        } else if let Some(idle) = self.mix_idle.as_mut() {
            *idle += n;
        }
        let live_limit = (self.wire_rate * MIX_LIVE_MS / 1000) as usize;
        let source = match self.mix_idle {
            Some(idle) if idle < live_limit => ReferenceSource::OutputMix,
            _ => ReferenceSource::Playback,
        };
        if source != self.source {
            // Another signal (its own rate and timing): start its stream afresh; the
            // canceller's delay estimator finds the new alignment.
            self.source = source;
            self.fifo.clear();
            self.device_rate = 0;
        }
        let rate = match source {
            ReferenceSource::Playback => self.tap.device_rate(),
            ReferenceSource::OutputMix => {
                std::mem::swap(&mut self.raw, &mut self.raw_mix);
                self.mix.rate()
            }
        };
        if rate != self.device_rate {
            // A new device rate: a new resampler (a few ms of reference are lost, and the
            // echo canceller re-converges on its own).
            self.device_rate = rate;
            self.resampler = if rate == self.wire_rate {
                None
            } else {
                StreamResampler::new(rate, self.wire_rate).ok()
            };
        }
        match self.resampler.as_mut() {
            Some(r) => {
                let fifo = &mut self.fifo;
                r.process(&self.raw, &mut |b| fifo.extend(b.iter().copied()));
            }
            None => self.fifo.extend(self.raw.iter().copied()),
        }
        if self.fifo.len() > self.max_fifo + n {
            let excess = self.fifo.len() - self.max_fifo - n;
            self.fifo.drain(..excess);
            self.dropped += excess as u64;
        }
        self.out.clear();
        let take = n.min(self.fifo.len());
        self.out.extend(self.fifo.drain(..take));
        self.out.resize(n, 0.0);
        &self.out
    }

    /// Forgets the far end played so far (the tap's backlog and what waits here), so the
    /// far end handed out next is what the device plays from now on. For when the mic
    /// stream starts (or restarts after a pause): a backlog left from before would put the
    /// reference behind the echo for good, where no canceller can use it.
    pub fn resync(&mut self) {
        self.raw.clear();
        self.tap.drain_into(&mut self.raw);
        self.raw.clear();
        self.mix.skip_to_now();
        self.fifo.clear();
    }

    /// The signal used as the far end now.
    pub fn source(&self) -> ReferenceSource {
        self.source
    }

    /// Reference frames the tap dropped so far because nobody drained it in time (the mic
    /// stopped for longer than the tap holds): after such a gap, [`Self::resync`].
    pub fn reference_dropped(&self) -> u64 {
        self.tap.dropped()
    }

    /// Far-end samples waiting for the mic to catch up.
    pub fn lag_samples(&self) -> usize {
        self.fifo.len()
    }

    /// Far-end samples dropped because the mic lagged by more than `max_lag_ms`.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::playback::{playback_pipeline, PlaybackConfig};

    fn tone(rate: u32, hz: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                ((2.0 * std::f64::consts::PI * hz * i as f64 / rate as f64).sin() * 16000.0) as i16
            })
            .collect()
    }

    #[test]
    fn the_far_end_is_what_was_played_at_the_wire_rate_in_step_with_the_mic() {
        let (mut producer, mut consumer) = playback_pipeline(PlaybackConfig {
            output_rate: 48_000,
            prebuffer_ms: 0,
            max_hold_seconds: 10,
        })
        .unwrap();
        let tap = consumer.reference_tap(500);
        let mut aligner = FarEndAligner::new(tap, 24_000, 200);
        producer.push_pcm16("item", &tone(24_000, 1000.0, 24_000)); // 1 s of 1 kHz
        producer.end_item("item");
        let mut out = vec![0f32; 480 * 2];
        let mut far = Vec::new();
        // 10 ms device callbacks and 10 ms mic pushes, interleaved, for 1.2 s.
        for _ in 0..120 {
            producer.pump();
            consumer.pull(&mut out, 2, 48_000);
            far.extend_from_slice(aligner.next(240));
        }
        assert_eq!(far.len(), 120 * 240, "one far-end sample per mic sample");
        // The middle of the played tone comes back as a 1 kHz tone at 24 kHz.
        let mid = &far[6000..18000];
        let crossings = mid
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        let hz = crossings as f64 / 2.0 / (mid.len() as f64 / 24_000.0);
        assert!((hz - 1000.0).abs() < 5.0, "{hz} Hz");
        let peak = mid.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!((0.45..0.52).contains(&peak), "level kept: {peak}");
        // After the item, silence again; the aligner holds no backlog.
        assert!(far[far.len() - 2400..].iter().all(|s| s.abs() < 1e-3));
        assert!(aligner.lag_samples() < 480);
    }

    #[test]
    fn the_output_mix_is_the_far_end_while_it_is_fed_and_playback_again_after() {
        use crate::audio::output_mix::OutputMix;
        static MIX: OutputMix = OutputMix::new();
        let (mut producer, mut consumer) = playback_pipeline(PlaybackConfig {
            output_rate: 48_000,
            prebuffer_ms: 0,
            max_hold_seconds: 10,
        })
        .unwrap();
        let tap = consumer.reference_tap(500);
        let mut aligner = FarEndAligner::with_mix(tap, &MIX, 24_000, 200);
        // The session plays a 1 kHz tone; the game's mix (stereo, 48 kHz) is a 500 Hz one.
        producer.push_pcm16("item", &tone(24_000, 1000.0, 48_000));
        producer.end_item("item");
        let mix_tone: Vec<f32> = tone(48_000, 500.0, 48_000 * 2)
            .iter()
            .flat_map(|&s| [f32::from(s) / 32768.0; 2])
            .collect();
        let mut out = vec![0f32; 480 * 2];
        let hz = |x: &[f32]| {
            let c = x
                .windows(2)
                .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
                .count();
            c as f64 / 2.0 / (x.len() as f64 / 24_000.0)
        };
        let mut far = Vec::new();
        for step in 0..150 {
            producer.pump();
            consumer.pull(&mut out, 2, 48_000);
            // The mix is fed for the first second only.
            if step < 100 {
                MIX.push(&mix_tone[step * 960..(step + 1) * 960], 2, 48_000)
                    .unwrap();
            }
            far.extend_from_slice(aligner.next(240));
            if step == 50 {
                assert_eq!(aligner.source(), ReferenceSource::OutputMix);
            }
        }
        assert!(
            (hz(&far[6000..18000]) - 500.0).abs() < 5.0,
            "the mix, not the playback"
        );
        // 200 ms of mic time after the mix stopped, the playback is the far end again.
        assert_eq!(aligner.source(), ReferenceSource::Playback);
        assert!((hz(&far[far.len() - 4800..]) - 1000.0).abs() < 10.0);
    }

    #[test]
    fn resync_forgets_the_backlog_so_the_next_far_end_is_what_plays_now() {
        let (mut producer, mut consumer) = playback_pipeline(PlaybackConfig {
            output_rate: 24_000,
            prebuffer_ms: 0,
            max_hold_seconds: 10,
        })
        .unwrap();
        let tap = consumer.reference_tap(200);
        let mut aligner = FarEndAligner::new(tap, 24_000, 500);
        let mut out = vec![0f32; 240];
        // 2 s of silence played before the mic starts: more than the tap holds (200 ms at
        // the highest device rate is 1.6 s at 24 kHz).
        for _ in 0..200 {
            consumer.pull(&mut out, 1, 24_000);
        }
        assert!(aligner.reference_dropped() > 0, "the tap overflowed");
        aligner.resync();
        assert_eq!(aligner.lag_samples(), 0);
        // Now a tone plays, one 10 ms block per 10 ms mic block: the far end is the tone
        // from the first block on (without the resync it would be 200 ms of old silence).
        producer.push_pcm16("item", &tone(24_000, 1000.0, 4800));
        producer.pump();
        consumer.pull(&mut out, 1, 24_000);
        let far = aligner.next(240).to_vec();
        assert_eq!(far, out, "the far end is exactly what the device just got");
        assert!(far.iter().any(|s| s.abs() > 0.1));
    }

    #[test]
    fn a_lagging_mic_drops_the_oldest_far_end_and_a_leading_mic_gets_silence() {
        let (mut producer, mut consumer) = playback_pipeline(PlaybackConfig {
            output_rate: 24_000,
            prebuffer_ms: 0,
            max_hold_seconds: 10,
        })
        .unwrap();
        let tap = consumer.reference_tap(2000);
        let mut aligner = FarEndAligner::new(tap, 24_000, 100);
        producer.push_pcm16("item", &tone(24_000, 500.0, 24_000));
        let mut out = vec![0f32; 240];
        for _ in 0..50 {
            producer.pump();
            consumer.pull(&mut out, 1, 24_000); // 0.5 s played, nobody asked
        }
        let got = aligner.next(240).to_vec();
        assert_eq!(got.len(), 240);
        assert!(aligner.lag_samples() <= 2400, "backlog bounded to 100 ms");
        assert!(aligner.dropped() >= 12_000 - 2400 - 240);
        // The mic asks for more than was played: the rest is silence.
        let _ = aligner.next(2400);
        let ahead = aligner.next(4800);
        assert!(ahead[ahead.len() - 100..].iter().all(|&s| s == 0.0));
    }
}
