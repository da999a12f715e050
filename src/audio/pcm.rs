//! PCM16 <-> f32 conversion and the base64 framing the Realtime API uses.
//!
//! One scale both ways (32768): decoding then re-encoding is exact, and the f32 path has no
//! gain error (a 32767-vs-32768 mismatch alone would cap the round-trip SNR at ~90 dB).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::AudioError;

/// Scale between float samples in [-1, 1] and PCM16.
const SCALE: f32 = 32768.0;

/// Float sample -> PCM16, rounding to nearest (halves away from zero); NaN becomes 0 and
/// values clamp to the range.
#[inline]
pub fn f32_to_i16(x: f32) -> i16 {
    if x.is_nan() {
        return 0;
    }
    // Clamping before rounding gives the same value (the range ends are integers; +1.0 becomes
    // 32767) and keeps |y| below 2^23, where `y - trunc(y)` is exact, so the rounding needs
    // no `roundf` call (x86-64 without SSE4.1 has no rounding instruction) and vectorises.
    let y = (x * SCALE).clamp(-32768.0, 32767.0);
    let t = y as i32;
    let frac = y - t as f32;
    (t + i32::from(frac >= 0.5) - i32::from(frac <= -0.5)) as i16
}

/// PCM16 -> float sample in [-1, 1).
#[inline]
pub fn i16_to_f32(x: i16) -> f32 {
    x as f32 / SCALE
}

/// NaN/Inf -> 0, then clamp to [-1, 1].
#[inline]
pub fn scrub(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

/// Append little-endian PCM16 bytes of `samples` to `bytes`.
pub fn i16_to_le_bytes(samples: &[i16], bytes: &mut Vec<u8>) {
    bytes.reserve(samples.len() * 2);
    for s in samples {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
}

/// Base64 (standard alphabet, padded) of little-endian PCM16.
pub fn encode_base64_pcm16(samples: &[i16]) -> String {
    let mut bytes = Vec::with_capacity(samples.len() * 2);
    i16_to_le_bytes(samples, &mut bytes);
    STANDARD.encode(&bytes)
}

/// Decode base64 little-endian PCM16 into `out` (appended). Bad base64 or an odd byte count
/// is an error and leaves `out` unchanged. Returns the number of samples appended.
pub fn decode_base64_pcm16(
    b64: &str,
    scratch: &mut Vec<u8>,
    out: &mut Vec<i16>,
) -> Result<usize, AudioError> {
    scratch.clear();
    STANDARD.decode_vec(b64.trim(), scratch).map_err(|e| {
        AudioError::InvalidAudioData(format!("audio delta is not valid base64: {e}"))
    })?;
    if scratch.len() % 2 != 0 {
        return Err(AudioError::InvalidAudioData(format!(
            "audio delta has an odd number of bytes ({}); PCM16 needs 2 per sample",
            scratch.len()
        )));
    }
    out.extend(
        scratch
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]])),
    );
    Ok(scratch.len() / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_exact() {
        for v in [-32768i16, -1, 0, 1, 12345, 32767] {
            assert_eq!(f32_to_i16(i16_to_f32(v)), v);
        }
        assert_eq!(f32_to_i16(1.0), 32767);
        assert_eq!(f32_to_i16(-1.0), -32768);
        assert_eq!(f32_to_i16(f32::NAN), 0);
        assert_eq!(f32_to_i16(f32::INFINITY), 32767);
    }

    #[test]
    fn f32_to_i16_rounds_as_round_does() {
        // The reference: round half away from zero, then clamp.
        let reference = |x: f32| (x * SCALE).round().clamp(-32768.0, 32767.0) as i16;
        let mut xs = vec![
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            0.0,
            -0.0,
        ];
        // Every half-step of the PCM16 grid past both ends, and its float neighbours.
        for k in -65_600i32..=65_600 {
            let y = k as f32 * 0.5;
            // The float neighbours by their bits (`next_up` is newer than the crate's MSRV).
            let bits = y.to_bits();
            xs.push(y / SCALE);
            xs.push(f32::from_bits(bits + 1) / SCALE);
            if bits & 0x7fff_ffff != 0 {
                xs.push(f32::from_bits(bits - 1) / SCALE);
            }
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            xs.push(f32::from_bits(state as u32 & 0xbfff_ffff)); // |x| < 2
        }
        for x in xs {
            assert_eq!(f32_to_i16(x), reference(x), "{x:e}");
        }
        assert_eq!(f32_to_i16(f32::NAN), 0);
    }

    #[test]
    fn scrub_handles_non_finite() {
        assert_eq!(scrub(f32::NAN), 0.0);
        assert_eq!(scrub(f32::NEG_INFINITY), 0.0);
        assert_eq!(scrub(2.0), 1.0);
        assert_eq!(scrub(-0.5), -0.5);
    }

    #[test]
    fn base64_round_trip_and_errors() {
        let pcm = [1i16, -2, 300, -32768];
        let b64 = encode_base64_pcm16(&pcm);
        let (mut scratch, mut out) = (Vec::new(), Vec::new());
        assert_eq!(decode_base64_pcm16(&b64, &mut scratch, &mut out), Ok(4));
        assert_eq!(out, pcm);
        // 3 bytes: odd.
        assert!(decode_base64_pcm16("AAAA", &mut scratch, &mut out).is_err());
        assert!(decode_base64_pcm16("!!not base64", &mut scratch, &mut out).is_err());
        assert_eq!(out.len(), 4, "errors leave the output untouched");
    }
}
