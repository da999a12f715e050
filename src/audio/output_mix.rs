//! The game's final output mix as the echo canceller's far end.
//!
//! What the speakers play is more than the model's voice: music, effects, other characters
//! (other sessions), all after 3D panning and the mixer's effects. Unity hands that final mix
//! to `OnAudioFilterRead` on the AudioListener; the C# there calls `rv_push_output_mix`,
//! which lands in [`GLOBAL`]'s [`OutputMix::push`]: a process-wide broadcast ring that every session's mic path reads
//! with its own [`MixReader`] (several sessions each cancel the whole mix, and so each
//! other's voices).
//!
//! The ring is static (no allocation, ever) and lock-free: one writer at a time (a second
//! concurrent writer is refused, never waited for), any number of readers, each with its own
//! position. Samples are stored as atomics so a reader racing the writer reads stale or new
//! values, never undefined ones; a reader that fell more than the ring behind detects it and
//! skips what was overwritten.
//!
//! Channels are downmixed to mono on the way in: one microphone hears every speaker through
//! its own path, and for the common content (a voice panned between two speakers, a centred
//! mix) the sum is one signal through one combined path, which a single filter models. A
//! wide stereo mix through speakers far apart is the exception (its side signal is not in
//! the downmix: the best single filter leaves 14 dB at a desk, 3 dB at a TV): the figures
//! and the decision are in `docs/aec-stereo.md`.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::capture::MAX_CHANNELS;
use super::{MAX_SAMPLE_RATE, MIN_SAMPLE_RATE};

/// Ring capacity in mono samples (a power of two): 1.4 s at 48 kHz, far more than a mic
/// push interval.
pub const CAPACITY: usize = 1 << 16;

/// A broadcast ring of mono samples: one writer at a time, any number of [`MixReader`]s.
pub struct OutputMix {
    samples: [AtomicU32; CAPACITY],
    /// Mono samples written since the ring was made.
    written: AtomicU64,
    /// The rate of the samples written last.
    rate: AtomicU32,
    /// A writer is inside [`OutputMix::push`].
    writing: AtomicBool,
}

/// The process's output mix: what `rv_push_output_mix` feeds and every session reads.
pub static GLOBAL: OutputMix = OutputMix::new();

/// Why a push was refused (nothing was written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// `channels` outside 1..=[`MAX_CHANNELS`].
    Channels,
    /// `sample_rate` outside the accepted device rates.
    SampleRate,
    /// The sample count is not a whole number of frames.
    Length,
    /// Another thread is pushing at this moment (only one listener feeds the mix).
    Busy,
}

impl OutputMix {
    /// An empty ring (a `const fn`: the ring lives in a static, never on the heap).
    pub const fn new() -> OutputMix {
        OutputMix {
            samples: [const { AtomicU32::new(0) }; CAPACITY],
            written: AtomicU64::new(0),
            rate: AtomicU32::new(0),
            writing: AtomicBool::new(false),
        }
    }

    /// Appends `interleaved` (whole frames of `channels`) at `sample_rate`, downmixed to
    /// mono; returns the frames taken. Never allocates, locks or blocks. Non-finite samples
    /// count as silence.
    pub fn push(
        &self,
        interleaved: &[f32],
        channels: usize,
        sample_rate: u32,
    ) -> Result<usize, PushError> {
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(PushError::Channels);
        }
        if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(PushError::SampleRate);
        }
        if interleaved.len() % channels != 0 {
            return Err(PushError::Length);
        }
        if self
            .writing
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(PushError::Busy);
        }
        self.rate.store(sample_rate, Ordering::Relaxed);
        let start = self.written.load(Ordering::Relaxed);
        let scale = 1.0 / channels as f32;
        let mut n = 0u64;
        for frame in interleaved.chunks_exact(channels) {
            let sum: f32 = frame
                .iter()
                .map(|v| if v.is_finite() { *v } else { 0.0 })
                .sum();
            let i = ((start + n) as usize) & (CAPACITY - 1);
            self.samples[i].store((sum * scale).to_bits(), Ordering::Relaxed);
            n += 1;
        }
        self.written.store(start + n, Ordering::Release);
        self.writing.store(false, Ordering::Release);
        Ok(n as usize)
    }

    /// Mono samples written since the ring was made.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// A reader starting at what is written from now on.
    pub fn reader(&'static self) -> MixReader {
        MixReader {
            mix: self,
            read: self.written(),
            skipped: 0,
        }
    }
}

impl Default for OutputMix {
    fn default() -> Self {
        OutputMix::new()
    }
}

/// One session's view of the mix: where it has read to.
pub struct MixReader {
    mix: &'static OutputMix,
    read: u64,
    skipped: u64,
}

impl MixReader {
    /// The rate of the mix (0 before anything was pushed).
    pub fn rate(&self) -> u32 {
        self.mix.rate.load(Ordering::Relaxed)
    }

    /// Appends every sample written since the last call to `out`; returns how many.
    /// Samples the writer overwrote before they were read are skipped (counted).
    pub fn drain_into(&mut self, out: &mut Vec<f32>) -> usize {
        let end = self.mix.written();
        let mut from = self.read;
        if end - from > CAPACITY as u64 {
            self.skipped += end - CAPACITY as u64 - from;
            from = end - CAPACITY as u64;
        }
        let start_len = out.len();
        for pos in from..end {
            let bits = self.mix.samples[(pos as usize) & (CAPACITY - 1)].load(Ordering::Relaxed);
            out.push(f32::from_bits(bits));
        }
        // The writer may have lapped us while we copied: what it overwrote is not ours.
        let now = self.mix.written();
        if now > from + CAPACITY as u64 {
            let lost = ((now - CAPACITY as u64 - from) as usize).min(out.len() - start_len);
            out.drain(start_len..start_len + lost);
            self.skipped += lost as u64;
        }
        self.read = end;
        out.len() - start_len
    }

    /// Forgets what was written so far (the next drain starts from now).
    pub fn skip_to_now(&mut self) {
        self.read = self.mix.written();
    }

    /// Samples skipped because the reader fell more than the ring behind.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_each_get_the_whole_downmixed_mix() {
        static MIX: OutputMix = OutputMix::new();
        let mut a = MIX.reader();
        let mut b = MIX.reader();
        let stereo: Vec<f32> = (0..480)
            .flat_map(|i| [i as f32, -(i as f32) + 1.0])
            .collect();
        assert_eq!(MIX.push(&stereo, 2, 48_000), Ok(480));
        let (mut ra, mut rb) = (Vec::new(), Vec::new());
        assert_eq!(a.drain_into(&mut ra), 480);
        assert_eq!(b.drain_into(&mut rb), 480);
        assert_eq!(ra, rb);
        assert!(ra.iter().all(|&v| (v - 0.5).abs() < 1e-6));
        assert_eq!(a.rate(), 48_000);
        assert_eq!(a.drain_into(&mut ra), 0);
    }

    #[test]
    fn bad_arguments_change_nothing() {
        static MIX: OutputMix = OutputMix::new();
        let before = MIX.written();
        assert_eq!(MIX.push(&[0.0; 10], 0, 48_000), Err(PushError::Channels));
        assert_eq!(MIX.push(&[0.0; 10], 33, 48_000), Err(PushError::Channels));
        assert_eq!(MIX.push(&[0.0; 10], 2, 1_000), Err(PushError::SampleRate));
        assert_eq!(MIX.push(&[0.0; 9], 2, 48_000), Err(PushError::Length));
        assert_eq!(MIX.written(), before);
        // NaN and infinity are silence, not poison.
        let mut r = MIX.reader();
        MIX.push(&[f32::NAN, f32::INFINITY, 0.25], 1, 48_000)
            .unwrap();
        let mut got = Vec::new();
        r.drain_into(&mut got);
        assert_eq!(got, vec![0.0, 0.0, 0.25]);
    }

    #[test]
    fn a_reader_that_fell_behind_skips_what_was_overwritten() {
        static MIX: OutputMix = OutputMix::new();
        let mut r = MIX.reader();
        let block: Vec<f32> = (0..4096).map(|i| i as f32).collect();
        for _ in 0..(CAPACITY / 4096 + 3) {
            MIX.push(&block, 1, 48_000).unwrap();
        }
        let mut got = Vec::new();
        let n = r.drain_into(&mut got);
        assert_eq!(n, CAPACITY);
        assert_eq!(r.skipped(), 3 * 4096);
        // What it got is the newest ring's worth, in order.
        assert_eq!(got[0], 0.0);
        assert_eq!(got[4095], 4095.0);
    }
}
