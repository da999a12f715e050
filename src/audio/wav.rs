//! A tiny WAV reader (PCM16 and float32, any channel count) and PCM16 writer, for examples
//! and tests. Malformed files give [`AudioError::InvalidWav`], never a panic.

use std::path::Path;

use super::pcm::{f32_to_i16, i16_to_f32};
use super::AudioError;

const FORMAT_PCM: u16 = 1;
const FORMAT_FLOAT: u16 = 3;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// Decoded audio: interleaved float samples in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct WavAudio {
    /// Frames per second.
    pub sample_rate: u32,
    /// Channels per frame.
    pub channels: u16,
    /// Interleaved samples (`frames() * channels`).
    pub samples: Vec<f32>,
}

impl WavAudio {
    /// Number of frames.
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1) as usize
    }

    /// The average of the channels, one value per frame.
    pub fn to_mono(&self) -> Vec<f32> {
        let ch = self.channels.max(1) as usize;
        self.samples
            .chunks_exact(ch)
            .map(|f| f.iter().sum::<f32>() / ch as f32)
            .collect()
    }
}

fn bad(msg: impl Into<String>) -> AudioError {
    AudioError::InvalidWav(msg.into())
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, AudioError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| bad("truncated header"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, AudioError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| bad("truncated header"))
}

/// Parse a WAV file held in memory.
pub fn parse_wav(bytes: &[u8]) -> Result<WavAudio, AudioError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE file"));
    }
    let mut pos = 12;
    let mut fmt: Option<(u16, u16, u32, u16)> = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32_at(bytes, pos + 4)? as usize;
        let body_start = pos + 8;
        let body_end = body_start.saturating_add(len);
        if id == b"fmt " {
            let body = bytes
                .get(body_start..body_end)
                .ok_or_else(|| bad("truncated fmt chunk"))?;
            if body.len() < 16 {
                return Err(bad("fmt chunk too short"));
            }
            let mut format = u16_at(body, 0)?;
            let channels = u16_at(body, 2)?;
            let rate = u32_at(body, 4)?;
            let bits = u16_at(body, 14)?;
            if format == FORMAT_EXTENSIBLE {
                // The sub-format GUID starts with the plain format tag.
                format = u16_at(body, 24).map_err(|_| bad("truncated extensible fmt"))?;
            }
            fmt = Some((format, channels, rate, bits));
        } else if id == b"data" {
            let (format, channels, rate, bits) =
                fmt.ok_or_else(|| bad("data chunk before fmt chunk"))?;
            if channels == 0 || rate == 0 {
                return Err(bad("zero channels or sample rate"));
            }
            // Some writers leave the data length at 0 or too large when streaming.
            let data = &bytes[body_start.min(bytes.len())..body_end.min(bytes.len())];
            let samples = match (format, bits) {
                (FORMAT_PCM, 16) => data
                    .chunks_exact(2)
                    .map(|b| i16_to_f32(i16::from_le_bytes([b[0], b[1]])))
                    .collect::<Vec<_>>(),
                (FORMAT_FLOAT, 32) => data
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                _ => {
                    return Err(bad(format!(
                        "unsupported encoding (format {format}, {bits} bits); use PCM16 or float32"
                    )))
                }
            };
            let whole = samples.len() - samples.len() % channels as usize;
            let mut samples = samples;
            samples.truncate(whole);
            return Ok(WavAudio {
                sample_rate: rate,
                channels,
                samples,
            });
        }
        // Chunks are padded to even length.
        pos = body_end.saturating_add(len & 1);
    }
    Err(bad("no data chunk"))
}

/// Read a WAV file from disk.
pub fn read_wav(path: impl AsRef<Path>) -> Result<WavAudio, AudioError> {
    let path = path.as_ref();
    let bytes =
        std::fs::read(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    parse_wav(&bytes)
}

/// Encode interleaved float samples as a PCM16 WAV file in memory.
pub fn encode_wav_pcm16(samples: &[f32], channels: u16, sample_rate: u32) -> Vec<u8> {
    let channels = channels.max(1);
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&FORMAT_PCM.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * channels as u32 * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for &s in samples {
        out.extend_from_slice(&f32_to_i16(s).to_le_bytes());
    }
    out
}

/// Write interleaved float samples to a PCM16 WAV file.
pub fn write_wav_pcm16(
    path: impl AsRef<Path>,
    samples: &[f32],
    channels: u16,
    sample_rate: u32,
) -> Result<(), AudioError> {
    let path = path.as_ref();
    std::fs::write(path, encode_wav_pcm16(samples, channels, sample_rate))
        .map_err(|e| bad(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm16_round_trip() {
        let x: Vec<f32> = (0..100).map(|i| (i as f32 - 50.0) / 64.0).collect();
        let w = parse_wav(&encode_wav_pcm16(&x, 2, 44_100)).unwrap();
        assert_eq!(w.sample_rate, 44_100);
        assert_eq!(w.channels, 2);
        assert_eq!(w.frames(), 50);
        for (a, b) in x.iter().zip(&w.samples) {
            assert!((a - b).abs() < 1.0 / 32768.0);
        }
    }

    #[test]
    fn float32_file_reads() {
        let mut bytes = encode_wav_pcm16(&[0.0; 4], 1, 8_000);
        // Patch to float32: format 3, 32 bits, block align 4, data of 2 floats.
        bytes[20..22].copy_from_slice(&3u16.to_le_bytes());
        bytes[34..36].copy_from_slice(&32u16.to_le_bytes());
        bytes.truncate(44);
        bytes[40..44].copy_from_slice(&8u32.to_le_bytes());
        bytes.extend_from_slice(&0.5f32.to_le_bytes());
        bytes.extend_from_slice(&(-0.25f32).to_le_bytes());
        let w = parse_wav(&bytes).unwrap();
        assert_eq!(w.samples, vec![0.5, -0.25]);
    }

    #[test]
    fn extensible_float_with_extra_chunks_reads() {
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF\0\0\0\0WAVE");
        b.extend_from_slice(b"LIST");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(b"abc\0"); // odd chunk + pad byte
        b.extend_from_slice(b"fmt ");
        b.extend_from_slice(&40u32.to_le_bytes());
        b.extend_from_slice(&FORMAT_EXTENSIBLE.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&48_000u32.to_le_bytes());
        b.extend_from_slice(&(48_000u32 * 8).to_le_bytes());
        b.extend_from_slice(&8u16.to_le_bytes());
        b.extend_from_slice(&32u16.to_le_bytes());
        b.extend_from_slice(&22u16.to_le_bytes());
        b.extend_from_slice(&32u16.to_le_bytes());
        b.extend_from_slice(&3u32.to_le_bytes()); // channel mask
        b.extend_from_slice(&FORMAT_FLOAT.to_le_bytes());
        b.extend_from_slice(&[0u8; 14]); // rest of the GUID
        b.extend_from_slice(b"data");
        b.extend_from_slice(&16u32.to_le_bytes());
        for v in [0.5f32, -0.5, 0.25, 0.75] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let w = parse_wav(&b).unwrap();
        assert_eq!((w.sample_rate, w.channels, w.frames()), (48_000, 2, 2));
        assert_eq!(w.to_mono(), vec![0.0, 0.5]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let good = encode_wav_pcm16(&[0.1; 10], 1, 16_000);
        for cut in 0..good.len() {
            let _ = parse_wav(&good[..cut]);
        }
        assert!(parse_wav(b"RIFF\0\0\0\0WAVE").is_err());
        assert!(parse_wav(b"hello").is_err());
        let mut bad_bits = good.clone();
        bad_bits[34..36].copy_from_slice(&8u16.to_le_bytes());
        assert!(parse_wav(&bad_bits).is_err());
        let mut huge = good;
        huge[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_wav(&huge).is_err());
    }
}
