//! Turning a scripted [`ResponseSpec`] into a timed plan of response steps.

use std::collections::VecDeque;
use std::time::Duration;

use base64::prelude::{Engine, BASE64_STANDARD};

use crate::config::{MockConfig, ResponseSpec};

/// What a message item carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modality {
    /// `output_audio` with a transcript.
    Audio,
    /// `output_text`.
    Text,
}

/// One step of a response; the session turns each into server events.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Open an assistant message (output_item.added, conversation.item.added, content_part.added).
    OpenMessage,
    /// A slice of the message: audio (base64, sample count) and/or transcript text.
    Chunk {
        /// Base64 PCM16 and its sample count.
        audio: Option<(String, usize)>,
        /// Transcript (or text) delta.
        text: String,
    },
    /// Close the open message as completed.
    CloseMessage,
    /// One complete function call item.
    FunctionCall {
        /// Tool name.
        name: String,
        /// Arguments, verbatim.
        arguments: String,
    },
    /// `response.done` with status completed.
    Finish,
    /// `response.done` with status failed.
    Fail {
        /// Error code.
        code: String,
        /// Error message.
        message: String,
    },
}

/// A step and when it is due, relative to `response.created`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// Offset from the response's start.
    pub at: Duration,
    /// What to do.
    pub step: Step,
}

/// Plan a response: audio in `config.audio_chunk` slices paced at `config.audio_pacing`,
/// transcript words spread over the slices in proportion.
pub fn plan(spec: &ResponseSpec, modality: Modality, config: &MockConfig) -> VecDeque<Scheduled> {
    let mut steps = VecDeque::new();
    let start = config.first_output_delay;
    let mut push = |at: Duration, step: Step| steps.push_back(Scheduled { at, step });
    let (audio, transcript, calls): (&[i16], &str, &[(String, String)]) = match spec {
        ResponseSpec::Audio { pcm24k, transcript } => (pcm24k, transcript, &[]),
        ResponseSpec::ToolCalls(calls) => (&[], "", calls),
        ResponseSpec::AudioThenToolCalls {
            pcm24k,
            transcript,
            calls,
        } => (pcm24k, transcript, calls),
        ResponseSpec::Failed { code, message } => {
            push(
                start,
                Step::Fail {
                    code: code.clone(),
                    message: message.clone(),
                },
            );
            return steps;
        }
    };
    let mut end = start;
    let has_message = !audio.is_empty() || !transcript.is_empty();
    if has_message {
        push(start, Step::OpenMessage);
        let chunk_samples = ((config.audio_chunk.as_secs_f64() * 24_000.0) as usize).max(240);
        let chunks: Vec<&[i16]> = if modality == Modality::Audio {
            audio.chunks(chunk_samples).collect()
        } else {
            Vec::new()
        };
        let words: Vec<&str> = transcript.split_inclusive(' ').collect();
        let slots = chunks.len().max(1);
        let interval = if config.audio_pacing.is_finite() && config.audio_pacing > 0.0 {
            let secs = config.audio_chunk.as_secs_f64() / f64::from(config.audio_pacing);
            Duration::try_from_secs_f64(secs.min(3600.0)).unwrap_or(Duration::ZERO)
        } else {
            Duration::ZERO
        };
        let mut words_sent = 0;
        for slot in 0..slots {
            let words_due = (slot + 1) * words.len() / slots;
            let text: String = words[words_sent..words_due].concat();
            words_sent = words_due;
            let audio = chunks.get(slot).map(|c| {
                let bytes: Vec<u8> = c.iter().flat_map(|s| s.to_le_bytes()).collect();
                (BASE64_STANDARD.encode(bytes), c.len())
            });
            end = start
                .saturating_add(interval.saturating_mul(u32::try_from(slot).unwrap_or(u32::MAX)));
            push(end, Step::Chunk { audio, text });
        }
        push(end, Step::CloseMessage);
    }
    for (name, arguments) in calls {
        push(
            end,
            Step::FunctionCall {
                name: name.clone(),
                arguments: arguments.clone(),
            },
        );
    }
    push(end, Step::Finish);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_plan_covers_every_sample_and_word_at_the_paced_times() {
        let config = MockConfig::default();
        let spec = ResponseSpec::synthetic_audio(1_000, "one two three");
        let steps = plan(&spec, Modality::Audio, &config);
        let mut samples = 0;
        let mut text = String::new();
        let mut last = Duration::ZERO;
        for s in &steps {
            if let Step::Chunk { audio, text: t } = &s.step {
                samples += audio.as_ref().map_or(0, |a| a.1);
                text.push_str(t);
                last = s.at;
            }
        }
        assert_eq!(samples, 24_000);
        assert_eq!(text, "one two three");
        // Ten 100 ms chunks at 4x: the last one 9 * 25 ms after the first.
        assert_eq!(last, Duration::from_millis(225));
        assert_eq!(steps.back().map(|s| &s.step), Some(&Step::Finish));
    }

    #[test]
    fn tool_call_plan_has_no_message() {
        let steps = plan(
            &ResponseSpec::tool_call("f", "{}"),
            Modality::Audio,
            &MockConfig::default(),
        );
        assert_eq!(steps.len(), 2);
        assert!(matches!(steps[0].step, Step::FunctionCall { .. }));
    }
}
