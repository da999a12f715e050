//! Audio the server hears and says: input decoding, an energy speech detector, and a
//! synthetic voice-like signal for model answers. Pure DSP, no I/O.

/// Input encodings the Realtime API declares in `audio.input.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// `audio/pcm`: 16-bit little-endian mono at `rate`.
    Pcm16 {
        /// Sample rate in Hz.
        rate: u32,
    },
    /// `audio/pcmu`: G.711 mu-law at 8 kHz.
    Mulaw,
    /// `audio/pcma`: G.711 A-law at 8 kHz.
    Alaw,
}

impl InputFormat {
    /// Samples per second.
    pub fn rate(self) -> u32 {
        match self {
            InputFormat::Pcm16 { rate } => rate,
            InputFormat::Mulaw | InputFormat::Alaw => 8_000,
        }
    }

    /// Decode bytes to PCM16 samples; `carry` holds an odd trailing byte between calls.
    pub fn decode(self, bytes: &[u8], carry: &mut Option<u8>, out: &mut Vec<i16>) {
        match self {
            InputFormat::Pcm16 { .. } => {
                let mut rest = bytes;
                if let (Some(low), Some((&high, tail))) = (*carry, bytes.split_first()) {
                    out.push(i16::from_le_bytes([low, high]));
                    *carry = None;
                    rest = tail;
                }
                let pairs = rest.chunks_exact(2);
                if let [odd] = pairs.remainder() {
                    *carry = Some(*odd);
                }
                out.extend(pairs.map(|p| i16::from_le_bytes([p[0], p[1]])));
            }
            InputFormat::Mulaw => out.extend(bytes.iter().map(|&b| mulaw_to_linear(b))),
            InputFormat::Alaw => out.extend(bytes.iter().map(|&b| alaw_to_linear(b))),
        }
    }
}

fn mulaw_to_linear(byte: u8) -> i16 {
    let u = !byte;
    let exponent = (u >> 4) & 0x07;
    let mantissa = i32::from(u & 0x0f);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    (if u & 0x80 != 0 { -magnitude } else { magnitude }) as i16
}

fn alaw_to_linear(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let exponent = (a >> 4) & 0x07;
    let mantissa = i32::from(a & 0x0f);
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    (if a & 0x80 != 0 { magnitude } else { -magnitude }) as i16
}

/// A voice-like test signal: harmonics of a gliding fundamental under a syllable
/// envelope (about 4 syllables per second), peaking near -10 dBFS.
pub fn synthetic_voice(rate: u32, duration_ms: u32) -> Vec<i16> {
    let rate = rate.max(1);
    let total = (u64::from(rate) * u64::from(duration_ms) / 1000) as usize;
    let sr = f64::from(rate);
    let mut phase = 0.0f64;
    let mut out = Vec::with_capacity(total);
    for n in 0..total {
        let t = n as f64 / sr;
        // Intonation: a slow rise and fall of the fundamental between about 110 and 190 Hz.
        let f0 = 150.0 + 40.0 * (std::f64::consts::TAU * 0.7 * t).sin();
        phase += std::f64::consts::TAU * f0 / sr;
        if phase > std::f64::consts::TAU * 1000.0 {
            phase -= std::f64::consts::TAU * 1000.0;
        }
        let mut sample = 0.0;
        for k in 1..=12u32 {
            let freq = f0 * f64::from(k);
            if freq >= sr / 2.0 {
                break;
            }
            // Crude formants near 600 and 1700 Hz shape the harmonic amplitudes.
            let formant = 1.0 / (1.0 + ((freq - 600.0) / 300.0).powi(2))
                + 0.6 / (1.0 + ((freq - 1700.0) / 400.0).powi(2));
            sample += formant / f64::from(k).sqrt() * (phase * f64::from(k)).sin();
        }
        // Syllables: 250 ms each, a raised-sine envelope with a short gap between them.
        let syllable = (t * 4.0).fract();
        let envelope = if syllable < 0.85 {
            (std::f64::consts::PI * syllable / 0.85).sin().powi(2)
        } else {
            0.0
        };
        // Fade in and out over 10 ms so the signal starts and ends at silence.
        let edge = (t.min((total - n) as f64 / sr) / 0.01).min(1.0);
        out.push((sample * envelope * edge * 0.32 * 32767.0 / 1.6).clamp(-32768.0, 32767.0) as i16);
    }
    out
}

/// What the speech detector noticed in a block of audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    /// Speech began at this sample position (stream-absolute, at the input rate).
    SpeechStarted {
        /// Position of the first loud frame.
        onset_sample: u64,
    },
    /// Speech ended; the silence that ended it lasts until this sample position.
    SpeechStopped {
        /// Position where the required silence was complete.
        end_sample: u64,
    },
}

/// Energy speech detector: RMS over 20 ms frames against a dBFS threshold; speech after
/// `onset_frames` loud frames in a row, end after `silence_frames` quiet frames in a row.
#[derive(Debug, Clone)]
pub struct Vad {
    frame_len: usize,
    threshold_dbfs: f32,
    onset_frames: u32,
    silence_frames: u32,
    energy: f64,
    filled: usize,
    position: u64,
    loud_run: u32,
    quiet_run: u32,
    in_speech: bool,
}

impl Vad {
    /// A detector for `rate` Hz audio.
    pub fn new(rate: u32, threshold_dbfs: f32, onset_ms: u32, silence_ms: u32, start: u64) -> Vad {
        let frame_len = (rate as usize / 50).max(1);
        Vad {
            frame_len,
            threshold_dbfs,
            onset_frames: onset_ms.div_ceil(20).max(1),
            silence_frames: silence_ms.div_ceil(20).max(1),
            energy: 0.0,
            filled: 0,
            position: start,
            loud_run: 0,
            quiet_run: 0,
            in_speech: false,
        }
    }

    /// Whether the detector is inside a speech segment.
    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// Feed samples; returns the transitions they caused, in order.
    pub fn process(&mut self, samples: &[i16], events: &mut Vec<VadEvent>) {
        for &s in samples {
            let x = f64::from(s) / 32768.0;
            self.energy += x * x;
            self.filled += 1;
            self.position += 1;
            if self.filled == self.frame_len {
                let rms = (self.energy / self.frame_len as f64).sqrt();
                let dbfs = if rms > 0.0 {
                    20.0 * rms.log10()
                } else {
                    -120.0
                };
                self.energy = 0.0;
                self.filled = 0;
                self.frame(dbfs as f32 >= self.threshold_dbfs, events);
            }
        }
    }

    fn frame(&mut self, loud: bool, events: &mut Vec<VadEvent>) {
        if loud {
            self.loud_run += 1;
            self.quiet_run = 0;
        } else {
            self.quiet_run += 1;
            self.loud_run = 0;
        }
        if !self.in_speech && self.loud_run >= self.onset_frames {
            self.in_speech = true;
            let run = u64::from(self.loud_run) * self.frame_len as u64;
            events.push(VadEvent::SpeechStarted {
                onset_sample: self.position.saturating_sub(run),
            });
        } else if self.in_speech && self.quiet_run >= self.silence_frames {
            self.in_speech = false;
            events.push(VadEvent::SpeechStopped {
                end_sample: self.position,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms_dbfs(x: &[i16]) -> f64 {
        let e: f64 = x
            .iter()
            .map(|&s| (f64::from(s) / 32768.0).powi(2))
            .sum::<f64>()
            / x.len() as f64;
        10.0 * e.log10()
    }

    #[test]
    fn synthetic_voice_has_the_requested_length_and_a_speech_level() {
        let v = synthetic_voice(24_000, 1_500);
        assert_eq!(v.len(), 36_000);
        let level = rms_dbfs(&v);
        assert!((-30.0..-8.0).contains(&level), "level {level} dBFS");
        assert_eq!(v[0], 0);
    }

    #[test]
    fn vad_finds_speech_between_silences() {
        let rate = 24_000;
        let mut audio = vec![0i16; 12_000];
        audio.extend(synthetic_voice(rate, 1_000));
        audio.extend(vec![0i16; 24_000]);
        let mut vad = Vad::new(rate, -40.0, 60, 500, 0);
        let mut events = Vec::new();
        vad.process(&audio, &mut events);
        assert_eq!(events.len(), 2, "{events:?}");
        let VadEvent::SpeechStarted { onset_sample } = events[0] else {
            panic!("{events:?}")
        };
        let VadEvent::SpeechStopped { end_sample } = events[1] else {
            panic!("{events:?}")
        };
        assert!(
            (12_000..14_400).contains(&onset_sample),
            "onset {onset_sample}"
        );
        // End = end of speech (36 000) + 500 ms of silence, within a syllable gap's slack.
        assert!((44_000..50_000).contains(&end_sample), "end {end_sample}");
    }

    #[test]
    fn g711_decoders_cover_the_full_scale() {
        assert_eq!(mulaw_to_linear(0xff), 0);
        assert_eq!(mulaw_to_linear(0x00), -32124);
        assert_eq!(mulaw_to_linear(0x80), 32124);
        assert_eq!(alaw_to_linear(0xd5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
    }

    #[test]
    fn pcm16_decoding_carries_an_odd_byte() {
        let mut carry = None;
        let mut out = Vec::new();
        let f = InputFormat::Pcm16 { rate: 24_000 };
        f.decode(&[0x01, 0x02, 0x03], &mut carry, &mut out);
        f.decode(&[0x04], &mut carry, &mut out);
        assert_eq!(out, vec![0x0201, 0x0403]);
        assert_eq!(carry, None);
    }
}
