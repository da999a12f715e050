//! Pure DSP for the two audio paths: no I/O, no threads, no FFI.
//!
//! - [`capture`]: the microphone path. Interleaved float at any device rate and channel
//!   count -> mono -> scrubbed/clamped -> resampled to the wire rate -> PCM16 chunks, base64.
//! - [`playback`]: the model's voice. Base64 PCM16 @ 24 kHz -> f32 -> resampled to the
//!   device rate -> lock-free SPSC ring -> `pull` on the audio thread (never allocates,
//!   locks or blocks).
//! - [`mic_path`]: the capture path as the session runs it, with the echo canceller
//!   ([`aec`], fed by [`reference`]) between capture's two stages when it is on.
//! - [`output_mix`]: the game's final output mix, pushed from the audio thread into a
//!   process-wide lock-free ring that every session's canceller reads as its far end.
//! - [`mouth`]: loudness and vowel weights of the model's speech for a character's mouth.
//! - [`resample`]: the streaming rubato wrapper both paths share (design notes there).
//! - [`wav`]: a tiny WAV reader/writer for examples and tests.
//!
//! Measured figures (quality, delay, speed) are in `docs/audio-figures.md`.

pub mod aec;
pub mod capture;
pub mod mic_path;
pub mod mouth;
pub mod output_mix;
pub mod pcm;
pub mod playback;
pub mod reference;
pub mod resample;
pub mod wav;

use std::fmt;

/// Lowest device or wire sample rate accepted, in Hz.
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// Highest device or wire sample rate accepted, in Hz.
pub const MAX_SAMPLE_RATE: u32 = 192_000;
/// The rate of the model's PCM16 audio (`audio/pcm`), in Hz.
pub const MODEL_AUDIO_RATE: u32 = 24_000;

/// What went wrong in the audio paths. Messages are written for a Unity developer.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioError {
    /// An argument is out of range (sample rate, channel count, sizes, ...).
    InvalidArgument(String),
    /// Audio data from the server could not be decoded (bad base64, odd byte count).
    InvalidAudioData(String),
    /// A WAV file could not be read.
    InvalidWav(String),
    /// An internal component refused a valid request (should not happen).
    Internal(String),
}

impl fmt::Display for AudioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AudioError::InvalidArgument(m) => write!(f, "invalid audio argument: {m}"),
            AudioError::InvalidAudioData(m) => write!(f, "invalid audio data: {m}"),
            AudioError::InvalidWav(m) => write!(f, "invalid WAV file: {m}"),
            AudioError::Internal(m) => write!(f, "internal audio error: {m}"),
        }
    }
}

impl std::error::Error for AudioError {}

/// Check that `rate` is within [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`].
pub(crate) fn check_rate(what: &str, rate: u32) -> Result<(), AudioError> {
    if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::InvalidArgument(format!(
            "{what} {rate} Hz is outside {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz \
             (Unity's AudioSettings.outputSampleRate / the mic clip's frequency)"
        )))
    }
}
