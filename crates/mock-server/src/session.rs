//! The Realtime session as a state machine: client events in, server events out.
//! No sockets here; the connection thread feeds it text and the clock.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::prelude::{Engine, BASE64_STANDARD};
use serde_json::{json, Map, Value};

use crate::audio::{InputFormat, Vad, VadEvent};
use crate::ids::IdGen;
use crate::recorder::ServerShared;
use crate::response::{plan, Modality, Scheduled, Step};
use crate::schema::EventSchema;

/// What the connection must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// Send this event.
    Event(Value),
    /// Send a close frame and end the connection.
    Close {
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
}

/// A conversation item and what the server knows about it.
struct Item {
    id: String,
    value: Value,
    /// Assistant audio sent for this item, in 24 kHz samples.
    audio_samples: usize,
}

struct OpenMessage {
    item_id: String,
    output_index: usize,
    modality: Modality,
    text: String,
}

struct ActiveResponse {
    id: String,
    started: Instant,
    steps: VecDeque<Scheduled>,
    output: Vec<Value>,
    open: Option<OpenMessage>,
    modality: Modality,
    voice: Value,
    output_format: Value,
    audio_samples: usize,
    text: String,
    /// `response.metadata` as the client asked, echoed in `response.created`/`.done`.
    metadata: Value,
    /// `conversation: "none"`: the output stays out of the conversation.
    out_of_band: bool,
}

/// Turn detection settings read from the session.
#[derive(Debug, Clone, PartialEq)]
struct TurnDetection {
    threshold_dbfs: f32,
    prefix_padding_ms: u64,
    silence_ms: u32,
    create_response: bool,
    interrupt_response: bool,
}

struct Input {
    format: InputFormat,
    carry: Option<u8>,
    /// Milliseconds of audio before the current format took effect.
    base_ms: u64,
    /// Samples appended in the current format.
    position: u64,
    /// Start of the uncommitted buffer (sample position).
    buffer_start: u64,
    vad: Option<Vad>,
    turn: Option<TurnDetection>,
    speech_item: Option<String>,
    committed_ms: u64,
    scratch: Vec<i16>,
}

impl Input {
    fn ms(&self, sample: u64) -> u64 {
        self.base_ms + sample * 1000 / u64::from(self.format.rate().max(1))
    }
}

/// One connection's session state.
pub struct Session {
    shared: Arc<ServerShared>,
    shape: Shape,
    ids: IdGen,
    session: Value,
    conversation_id: String,
    items: Vec<Item>,
    input: Input,
    active: Option<ActiveResponse>,
    voice_locked: bool,
    out: Vec<Outgoing>,
}

fn default_session(model: &str) -> Value {
    json!({
        "type": "realtime",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "Your knowledge cutoff is 2023-10. You are a helpful, witty, and friendly AI. Talk quickly.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": null,
        "truncation": "auto",
        "prompt": null,
        "include": null,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": null,
                "noise_reduction": null,
                "turn_detection": {
                    "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                    "silence_duration_ms": 500, "idle_timeout_ms": null,
                    "create_response": true, "interrupt_response": true
                }
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin", "speed": 1.0}
        }
    })
}

/// Which protocol shape the connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The GA shape (the default; the only one the real GA endpoint accepts).
    Ga,
    /// The older preview shape (`OpenAI-Beta: realtime=v1`), served only with `allow_beta`.
    Beta,
}

/// Session settings whose place differs between the shapes.
#[derive(Debug, Clone, Copy)]
enum Setting {
    TurnDetection,
    Transcription,
    Voice,
    Modalities,
    InputFormat,
    OutputFormat,
}

impl Shape {
    fn pointer(self, setting: Setting) -> &'static str {
        match (self, setting) {
            (Shape::Ga, Setting::TurnDetection) => "/audio/input/turn_detection",
            (Shape::Ga, Setting::Transcription) => "/audio/input/transcription",
            (Shape::Ga, Setting::Voice) => "/audio/output/voice",
            (Shape::Ga, Setting::Modalities) => "/output_modalities",
            (Shape::Ga, Setting::InputFormat) => "/audio/input/format",
            (Shape::Ga, Setting::OutputFormat) => "/audio/output/format",
            (Shape::Beta, Setting::TurnDetection) => "/turn_detection",
            (Shape::Beta, Setting::Transcription) => "/input_audio_transcription",
            (Shape::Beta, Setting::Voice) => "/voice",
            (Shape::Beta, Setting::Modalities) => "/modalities",
            (Shape::Beta, Setting::InputFormat) => "/input_audio_format",
            (Shape::Beta, Setting::OutputFormat) => "/output_audio_format",
        }
    }

    fn get(self, session: &Value, setting: Setting) -> Option<&Value> {
        session.pointer(self.pointer(setting))
    }

    /// The event name this shape uses for a GA event name (`None`: the shape has no such event).
    fn event_name(self, ga: &str) -> Option<&str> {
        if self == Shape::Ga {
            return Some(ga);
        }
        Some(match ga {
            "response.output_audio.delta" => "response.audio.delta",
            "response.output_audio.done" => "response.audio.done",
            "response.output_audio_transcript.delta" => "response.audio_transcript.delta",
            "response.output_audio_transcript.done" => "response.audio_transcript.done",
            "response.output_text.delta" => "response.text.delta",
            "response.output_text.done" => "response.text.done",
            "conversation.item.added" => "conversation.item.created",
            "conversation.item.done" => return None,
            other => other,
        })
    }
}

fn default_beta_session(model: &str, id: &str) -> Value {
    json!({
        "id": id, "object": "realtime.session", "model": model,
        "modalities": ["text", "audio"],
        "instructions": "Your knowledge cutoff is 2023-10. You are a helpful, witty, and friendly AI. Talk quickly.",
        "voice": "alloy", "input_audio_format": "pcm16", "output_audio_format": "pcm16",
        "input_audio_transcription": null,
        "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                           "silence_duration_ms": 500, "create_response": true, "interrupt_response": true},
        "tools": [], "tool_choice": "auto", "temperature": 0.8, "max_response_output_tokens": "inf"
    })
}

/// Merge `patch` into `target`: objects recursively, everything else replaced. An object
/// whose `type` changes (e.g. `server_vad` -> `semantic_vad`) is replaced whole, so no
/// field of the old kind survives into the new one.
fn merge(target: &mut Value, patch: &Value) {
    let kind_changes =
        matches!((target.get("type"), patch.get("type")), (Some(a), Some(b)) if a != b);
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) if !kind_changes => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn input_format(shape: Shape, session: &Value, any_rate: bool) -> InputFormat {
    let format = shape.get(session, Setting::InputFormat);
    let kind = format.and_then(|f| f.as_str().or_else(|| f.get("type").and_then(Value::as_str)));
    match kind {
        Some("audio/pcmu") | Some("g711_ulaw") => InputFormat::Mulaw,
        Some("audio/pcma") | Some("g711_alaw") => InputFormat::Alaw,
        _ => {
            let rate = format
                .and_then(|f| f.get("rate"))
                .and_then(Value::as_u64)
                .unwrap_or(24_000);
            let rate = if any_rate {
                rate.clamp(8_000, 96_000) as u32
            } else {
                24_000
            };
            InputFormat::Pcm16 { rate }
        }
    }
}

fn turn_detection(
    shape: Shape,
    session: &Value,
    forced_dbfs: Option<f32>,
) -> Option<TurnDetection> {
    let td = shape.get(session, Setting::TurnDetection)?;
    let kind = td.get("type")?.as_str()?;
    let flag = |key: &str| td.get(key).and_then(Value::as_bool).unwrap_or(true);
    let threshold = td
        .get("threshold")
        .and_then(Value::as_f64)
        .unwrap_or(0.5)
        .clamp(0.0, 1.0);
    let silence_ms = match kind {
        "semantic_vad" => match td.get("eagerness").and_then(Value::as_str) {
            Some("low") => 800,
            Some("high") => 300,
            _ => 500,
        },
        _ => td
            .get("silence_duration_ms")
            .and_then(Value::as_u64)
            .unwrap_or(500)
            .min(60_000) as u32,
    };
    Some(TurnDetection {
        threshold_dbfs: forced_dbfs.unwrap_or(-60.0 + 40.0 * threshold as f32),
        prefix_padding_ms: td
            .get("prefix_padding_ms")
            .and_then(Value::as_u64)
            .unwrap_or(300)
            .min(60_000),
        silence_ms,
        create_response: flag("create_response"),
        interrupt_response: flag("interrupt_response"),
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Session {
    /// A new session for `model`; `salt` varies the ids between connections.
    pub fn new(shared: Arc<ServerShared>, model: &str, salt: u64, shape: Shape) -> Session {
        let mut ids = IdGen::new(salt);
        let session = match shape {
            Shape::Ga => default_session(model),
            Shape::Beta => default_beta_session(model, &ids.make("sess")),
        };
        let format = input_format(shape, &session, false);
        let conversation_id = ids.make("conv");
        let mut s = Session {
            ids,
            conversation_id,
            items: Vec::new(),
            input: Input {
                format,
                carry: None,
                base_ms: 0,
                position: 0,
                buffer_start: 0,
                vad: None,
                turn: None,
                speech_item: None,
                committed_ms: 0,
                scratch: Vec::new(),
            },
            active: None,
            voice_locked: false,
            out: Vec::new(),
            session,
            shared,
            shape,
        };
        s.configure_input(true);
        if s.shared.config.session_identity_fields && shape == Shape::Ga {
            let id = s.ids.make("sess");
            if let Value::Object(m) = &mut s.session {
                m.insert("object".into(), json!("realtime.session"));
                m.insert("id".into(), json!(id));
                m.insert("expires_at".into(), json!(unix_now() + 3600));
            }
        }
        s
    }

    /// Events produced so far, drained.
    pub fn take_output(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.out)
    }

    /// A new output item: recorded, then announced as `response.output_item.added` and
    /// `conversation.item.added`.
    fn add_output_item(
        &mut self,
        item_id: &str,
        item: &Value,
        response_id: &str,
        output_index: usize,
        previous: &Value,
    ) {
        self.emit(
            "response.output_item.added",
            json!({"response_id": response_id, "output_index": output_index, "item": item}),
        );
        if self.active.as_ref().is_some_and(|a| a.out_of_band) {
            // An out-of-band response's items never join the conversation.
            return;
        }
        self.items.push(Item {
            id: item_id.to_string(),
            value: item.clone(),
            audio_samples: 0,
        });
        self.emit(
            "conversation.item.added",
            json!({"previous_item_id": previous, "item": item}),
        );
    }

    fn emit(&mut self, kind: &str, mut fields: Value) {
        let Some(kind) = self.shape.event_name(kind) else {
            return;
        };
        let event_id = self.ids.make("event");
        if let Value::Object(m) = &mut fields {
            let mut ordered = Map::new();
            ordered.insert("type".into(), json!(kind));
            ordered.insert("event_id".into(), json!(event_id));
            ordered.append(m);
            fields = Value::Object(ordered);
        }
        self.out.push(Outgoing::Event(fields));
    }

    /// Queue an `error` event in the API's shape.
    pub fn error(
        &mut self,
        code: &str,
        message: &str,
        param: Option<&str>,
        client_event_id: Option<&str>,
    ) {
        let kind = if code == "server_error" {
            "server_error"
        } else {
            "invalid_request_error"
        };
        self.emit(
            "error",
            json!({"error": {"type": kind, "code": code, "message": message,
                             "param": param, "event_id": client_event_id}}),
        );
    }

    /// The first event of every session.
    pub fn start(&mut self) {
        let session = self.session.clone();
        self.emit("session.created", json!({ "session": session }));
    }

    /// A fatal error: error event, then close.
    pub fn fail(&mut self, code: &str, message: &str, close_code: u16) {
        self.error(code, message, None, None);
        self.out.push(Outgoing::Close {
            code: close_code,
            reason: message.chars().take(120).collect(),
        });
    }

    /// Handle one text frame from the client.
    pub fn handle_text(&mut self, text: &str, now: Instant) {
        let Ok(event) = serde_json::from_str::<Value>(text) else {
            self.error(
                "invalid_json",
                "We could not parse the JSON body of your request. Please send valid JSON.",
                None,
                None,
            );
            return;
        };
        self.handle_event(&event, now);
    }

    /// Handle one parsed client event.
    pub fn handle_event(&mut self, event: &Value, now: Instant) {
        let client_id = event
            .get("event_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let cid = client_id.as_deref();
        // The beta shape is served leniently; the GA shape is checked like the real API does.
        if let Some(schema) = EventSchema::client().filter(|_| self.shape == Shape::Ga) {
            let checked = self.relax_rate(event);
            if let Err(v) = schema.validate(checked.as_ref().unwrap_or(event)) {
                self.error(v.code, &v.message, Some(&v.param), cid);
                return;
            }
        }
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match kind {
            "session.update" => self.session_update(event, cid),
            "input_audio_buffer.append" => self.append(event, cid, now),
            "input_audio_buffer.commit" => self.commit_manual(cid, now),
            "input_audio_buffer.clear" => {
                self.input.buffer_start = self.input.position;
                self.input.speech_item = None;
                self.configure_input(true);
                self.emit("input_audio_buffer.cleared", json!({}));
            }
            "conversation.item.create" => self.item_create(event, cid),
            "conversation.item.truncate" => self.item_truncate(event, cid),
            "conversation.item.delete" => self.item_delete(event, cid),
            "conversation.item.retrieve" => self.item_retrieve(event, cid),
            "response.create" => self.response_create(event, cid, now),
            "response.cancel" => self.response_cancel(event, cid),
            "output_audio_buffer.clear" => self.error(
                "invalid_request_error",
                "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
                Some("type"),
                cid,
            ),
            other => self.error(
                "invalid_value",
                &format!("Invalid value: '{other}'."),
                Some("type"),
                cid,
            ),
        }
    }

    /// With `accept_any_pcm_rate`, validate a non-24 kHz input rate as if it were 24 kHz.
    fn relax_rate(&self, event: &Value) -> Option<Value> {
        if !self.shared.config.accept_any_pcm_rate {
            return None;
        }
        let rate = event
            .pointer("/session/audio/input/format/rate")?
            .as_u64()?;
        if !(8_000..=96_000).contains(&rate) {
            return None;
        }
        let mut relaxed = event.clone();
        if let Some(r) = relaxed.pointer_mut("/session/audio/input/format/rate") {
            *r = json!(24000);
        }
        Some(relaxed)
    }

    fn session_update(&mut self, event: &Value, cid: Option<&str>) {
        let Some(patch) = event.get("session") else {
            return;
        };
        if !patch.is_object() {
            self.error(
                "invalid_type",
                "Invalid type for 'session': expected an object.",
                Some("session"),
                cid,
            );
            return;
        }
        if self.shape == Shape::Ga && patch.get("type").and_then(Value::as_str) != Some("realtime")
        {
            self.error(
                "invalid_value",
                "Cannot change the session type of an existing session.",
                Some("session.type"),
                cid,
            );
            return;
        }
        if self.voice_locked {
            let old = self.shape.get(&self.session, Setting::Voice);
            if let Some(new) = self.shape.get(patch, Setting::Voice) {
                if Some(new) != old {
                    self.error(
                        "cannot_update_voice",
                        "Cannot update a conversation's voice if assistant audio is present.",
                        Some("session.audio.output.voice"),
                        cid,
                    );
                    return;
                }
            }
        }
        let old_format = self.input.format;
        let old_turn = self.input.turn.clone();
        merge(&mut self.session, patch);
        let format_changed = input_format(
            self.shape,
            &self.session,
            self.shared.config.accept_any_pcm_rate,
        ) != old_format;
        let turn_changed = turn_detection(
            self.shape,
            &self.session,
            self.shared.config.vad_threshold_dbfs,
        ) != old_turn;
        if format_changed || turn_changed {
            self.configure_input(format_changed);
        }
        let session = self.session.clone();
        self.emit("session.updated", json!({ "session": session }));
    }

    /// Re-read format and turn detection; a new format starts a new sample clock.
    fn configure_input(&mut self, reset: bool) {
        let format = input_format(
            self.shape,
            &self.session,
            self.shared.config.accept_any_pcm_rate,
        );
        if reset || format != self.input.format {
            let ms = self.input.ms(self.input.position);
            self.input.base_ms = ms;
            self.input.position = 0;
            self.input.buffer_start = 0;
            self.input.carry = None;
        }
        self.input.format = format;
        self.input.turn = turn_detection(
            self.shape,
            &self.session,
            self.shared.config.vad_threshold_dbfs,
        );
        let onset_ms = self.shared.config.vad_speech_onset.as_millis().min(10_000) as u32;
        self.input.vad = self.input.turn.as_ref().map(|t| {
            Vad::new(
                format.rate(),
                t.threshold_dbfs,
                onset_ms,
                t.silence_ms,
                self.input.position,
            )
        });
        self.input.speech_item = None;
    }

    fn append(&mut self, event: &Value, cid: Option<&str>, now: Instant) {
        let audio = event
            .get("audio")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Ok(bytes) = BASE64_STANDARD.decode(audio) else {
            self.error(
                "invalid_value",
                "Invalid 'audio'. Expected base64-encoded audio bytes.",
                Some("audio"),
                cid,
            );
            return;
        };
        let mut samples = std::mem::take(&mut self.input.scratch);
        samples.clear();
        self.input
            .format
            .decode(&bytes, &mut self.input.carry, &mut samples);
        self.shared.record_audio(&samples);
        let mut vad_events = Vec::new();
        if let Some(vad) = self.input.vad.as_mut() {
            vad.process(&samples, &mut vad_events);
        }
        self.input.position += samples.len() as u64;
        self.input.scratch = samples;
        for e in vad_events {
            match e {
                VadEvent::SpeechStarted { onset_sample } => self.speech_started(onset_sample),
                VadEvent::SpeechStopped { end_sample } => self.speech_stopped(end_sample, now),
            }
        }
    }

    fn speech_started(&mut self, onset: u64) {
        let Some(turn) = self.input.turn.clone() else {
            return;
        };
        let item_id = self.ids.make("item");
        let prefix = turn.prefix_padding_ms * u64::from(self.input.format.rate()) / 1000;
        let start = onset.saturating_sub(prefix).max(self.input.buffer_start);
        self.input.buffer_start = start;
        let audio_start_ms = self.input.ms(start);
        self.input.speech_item = Some(item_id.clone());
        self.emit(
            "input_audio_buffer.speech_started",
            json!({"audio_start_ms": audio_start_ms, "item_id": item_id}),
        );
        if turn.interrupt_response && self.active.is_some() {
            self.cancel_active("turn_detected");
        }
    }

    fn speech_stopped(&mut self, end: u64, now: Instant) {
        let Some(turn) = self.input.turn.clone() else {
            return;
        };
        let item_id = self
            .input
            .speech_item
            .take()
            .unwrap_or_else(|| self.ids.make("item"));
        let audio_end_ms = self.input.ms(end);
        self.emit(
            "input_audio_buffer.speech_stopped",
            json!({"audio_end_ms": audio_end_ms, "item_id": item_id}),
        );
        self.commit(item_id, end);
        if turn.create_response && self.active.is_none() {
            self.start_response(None, now);
        }
    }

    fn commit_manual(&mut self, cid: Option<&str>, _now: Instant) {
        let buffered = self.input.position.saturating_sub(self.input.buffer_start);
        let ms = buffered as f64 * 1000.0 / f64::from(self.input.format.rate().max(1));
        if ms < 100.0 {
            self.error(
                "input_audio_buffer_commit_empty",
                &format!("Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has {ms:.2}ms of audio."),
                None,
                cid,
            );
            return;
        }
        let item_id = self
            .input
            .speech_item
            .take()
            .unwrap_or_else(|| self.ids.make("item"));
        let end = self.input.position;
        self.commit(item_id, end);
        // A manual commit ends any speech segment in progress.
        self.configure_input(false);
    }

    fn last_item_id(&self) -> Value {
        self.items.last().map_or(Value::Null, |i| json!(i.id))
    }

    fn commit(&mut self, item_id: String, end: u64) {
        let previous = self.last_item_id();
        self.input.committed_ms += self
            .input
            .ms(end)
            .saturating_sub(self.input.ms(self.input.buffer_start));
        self.input.buffer_start = end;
        self.emit(
            "input_audio_buffer.committed",
            json!({"item_id": item_id, "previous_item_id": previous}),
        );
        let mut item = json!({"id": item_id, "object": "realtime.item", "type": "message",
            "status": "completed", "role": "user",
            "content": [{"type": "input_audio", "transcript": null}]});
        self.emit(
            "conversation.item.added",
            json!({"previous_item_id": previous, "item": item}),
        );
        self.emit(
            "conversation.item.done",
            json!({"previous_item_id": previous, "item": item}),
        );
        if self
            .shape
            .get(&self.session, Setting::Transcription)
            .is_some_and(|t| !t.is_null())
        {
            let transcript = self
                .shared
                .next_user_transcript()
                .unwrap_or_else(|| "Please move the cube.".to_string());
            self.emit(
                "conversation.item.input_audio_transcription.delta",
                json!({"item_id": item_id, "content_index": 0, "delta": transcript}),
            );
            let words = transcript.split_whitespace().count() as u64;
            self.emit(
                "conversation.item.input_audio_transcription.completed",
                json!({"item_id": item_id, "content_index": 0, "transcript": transcript,
                       "usage": {"type": "tokens", "input_tokens": 20, "output_tokens": words * 2,
                                 "total_tokens": 20 + words * 2,
                                 "input_token_details": {"text_tokens": 0, "audio_tokens": 20}}}),
            );
            item["content"][0]["transcript"] = json!(transcript);
        }
        self.items.push(Item {
            id: item_id,
            value: item,
            audio_samples: 0,
        });
    }

    fn find_item(&self, id: &str) -> Option<usize> {
        self.items.iter().position(|i| i.id == id)
    }

    fn item_create(&mut self, event: &Value, cid: Option<&str>) {
        let Some(given) = event.get("item") else {
            return;
        };
        let mut item = given.clone();
        let id = match given.get("id").and_then(Value::as_str) {
            Some(id) if self.find_item(id).is_some() => {
                self.error(
                    "invalid_value",
                    &format!("Item with id '{id}' already exists."),
                    Some("item.id"),
                    cid,
                );
                return;
            }
            Some(id) => id.to_string(),
            None => self.ids.make("item"),
        };
        let insert_at = match event.get("previous_item_id").and_then(Value::as_str) {
            Some("root") => 0,
            Some(prev) => match self.find_item(prev) {
                Some(i) => i + 1,
                None => {
                    self.error(
                        "invalid_value",
                        &format!("Previous item with id '{prev}' not found."),
                        Some("previous_item_id"),
                        cid,
                    );
                    return;
                }
            },
            None => self.items.len(),
        };
        if given.get("type").and_then(Value::as_str) == Some("function_call_output") {
            let call_id = given
                .get("call_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let known = self.items.iter().any(|i| {
                i.value.get("type").and_then(Value::as_str) == Some("function_call")
                    && i.value.get("call_id").and_then(Value::as_str) == Some(call_id)
            });
            if !known {
                self.error(
                    "invalid_value",
                    &format!(
                        "No tool call found for function call output with call_id '{call_id}'."
                    ),
                    Some("item.call_id"),
                    cid,
                );
                return;
            }
        }
        if let Value::Object(m) = &mut item {
            m.insert("id".into(), json!(id));
            m.insert("object".into(), json!("realtime.item"));
            m.insert("status".into(), json!("completed"));
        }
        let previous = if insert_at == 0 {
            Value::Null
        } else {
            json!(self.items[insert_at - 1].id)
        };
        self.emit(
            "conversation.item.added",
            json!({"previous_item_id": previous, "item": item}),
        );
        self.emit(
            "conversation.item.done",
            json!({"previous_item_id": previous, "item": item}),
        );
        self.items.insert(
            insert_at,
            Item {
                id,
                value: item,
                audio_samples: 0,
            },
        );
    }

    fn item_truncate(&mut self, event: &Value, cid: Option<&str>) {
        let item_id = event
            .get("item_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let content_index = event
            .get("content_index")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let audio_end_ms = event
            .get("audio_end_ms")
            .and_then(Value::as_i64)
            .unwrap_or(-1);
        let Some(index) = self.find_item(item_id) else {
            self.error(
                "invalid_value",
                &format!("Item with item_id '{item_id}' not found."),
                Some("item_id"),
                cid,
            );
            return;
        };
        let item = &self.items[index];
        let is_assistant_audio = item.value.get("role").and_then(Value::as_str)
            == Some("assistant")
            && item.audio_samples > 0;
        if !is_assistant_audio {
            self.error(
                "invalid_value",
                "Only assistant messages with audio can be truncated.",
                Some("item_id"),
                cid,
            );
            return;
        }
        if content_index != 0 {
            self.error(
                "invalid_value",
                "Invalid content_index: the item has one content part.",
                Some("content_index"),
                cid,
            );
            return;
        }
        let sent_ms = (item.audio_samples as u64 * 1000 / 24_000) as i64;
        if audio_end_ms < 0 || audio_end_ms > sent_ms {
            self.error(
                "invalid_value",
                &format!("Audio content of {sent_ms}ms is already shorter than {audio_end_ms}ms"),
                Some("audio_end_ms"),
                cid,
            );
            return;
        }
        let kept = audio_end_ms as usize * 24;
        let item = &mut self.items[index];
        // The server drops the unheard transcript along with the audio.
        if let Some(t) = item
            .value
            .pointer("/content/0/transcript")
            .and_then(Value::as_str)
        {
            let words: Vec<&str> = t.split_inclusive(' ').collect();
            let keep = words.len() * kept / item.audio_samples.max(1);
            let heard = words[..keep.min(words.len())].concat();
            item.value["content"][0]["transcript"] = json!(heard.trim_end());
        }
        item.audio_samples = kept.min(item.audio_samples);
        self.emit(
            "conversation.item.truncated",
            json!({"item_id": item_id, "content_index": content_index, "audio_end_ms": audio_end_ms}),
        );
    }

    fn item_delete(&mut self, event: &Value, cid: Option<&str>) {
        let item_id = event
            .get("item_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match self.find_item(item_id) {
            Some(i) => {
                self.items.remove(i);
                self.emit("conversation.item.deleted", json!({"item_id": item_id}));
            }
            None => self.error(
                "invalid_value",
                &format!("Item with item_id '{item_id}' not found."),
                Some("item_id"),
                cid,
            ),
        }
    }

    fn item_retrieve(&mut self, event: &Value, cid: Option<&str>) {
        let item_id = event
            .get("item_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match self.find_item(item_id) {
            Some(i) => {
                let item = self.items[i].value.clone();
                self.emit("conversation.item.retrieved", json!({"item": item}));
            }
            None => self.error(
                "invalid_value",
                &format!("Item with item_id '{item_id}' not found."),
                Some("item_id"),
                cid,
            ),
        }
    }

    fn response_create(&mut self, event: &Value, cid: Option<&str>, now: Instant) {
        if let Some(active) = &self.active {
            let message = format!(
                "Conversation already has an active response in progress: {}. Wait until the response is finished before creating a new one.",
                active.id
            );
            self.error(
                "conversation_already_has_active_response",
                &message,
                None,
                cid,
            );
            return;
        }
        self.start_response(event.get("response").filter(|r| r.is_object()), now);
    }

    fn response_cancel(&mut self, event: &Value, cid: Option<&str>) {
        let wanted = event.get("response_id").and_then(Value::as_str);
        let matches = match (&self.active, wanted) {
            (Some(a), Some(w)) => a.id == w,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !matches {
            self.error(
                "response_cancel_not_active",
                "Cancellation failed: no active response found.",
                None,
                cid,
            );
            return;
        }
        self.cancel_active("client_cancelled");
    }

    fn start_response(&mut self, params: Option<&Value>, now: Instant) {
        let modalities = params
            .and_then(|p| p.get("output_modalities"))
            .or_else(|| self.shape.get(&self.session, Setting::Modalities))
            .cloned()
            .unwrap_or(json!(["audio"]));
        let modality = if modalities
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x == "audio"))
        {
            Modality::Audio
        } else {
            Modality::Text
        };
        let voice = params
            .and_then(|p| p.pointer("/audio/output/voice"))
            .or_else(|| self.shape.get(&self.session, Setting::Voice))
            .cloned()
            .unwrap_or(json!("marin"));
        let output_format = self
            .shape
            .get(&self.session, Setting::OutputFormat)
            .filter(|f| f.is_object())
            .cloned()
            .unwrap_or(json!({"type": "audio/pcm", "rate": 24000}));
        let spec = self.shared.next_response();
        let active = ActiveResponse {
            id: self.ids.make("resp"),
            started: now,
            steps: plan(&spec, modality, &self.shared.config),
            output: Vec::new(),
            open: None,
            modality,
            voice,
            output_format,
            audio_samples: 0,
            text: String::new(),
            metadata: params
                .and_then(|p| p.get("metadata"))
                .filter(|m| m.is_object())
                .cloned()
                .unwrap_or(Value::Null),
            out_of_band: params
                .and_then(|p| p.get("conversation"))
                .and_then(Value::as_str)
                == Some("none"),
        };
        let response = self.response_object(&active, "in_progress", Value::Null, false);
        self.active = Some(active);
        self.emit("response.created", json!({ "response": response }));
        self.poll(now);
    }

    fn response_object(
        &self,
        r: &ActiveResponse,
        status: &str,
        details: Value,
        with_usage: bool,
    ) -> Value {
        let modalities = match r.modality {
            Modality::Audio => json!(["audio"]),
            Modality::Text => json!(["text"]),
        };
        let usage = if with_usage {
            self.usage(r)
        } else {
            Value::Null
        };
        json!({"object": "realtime.response", "id": r.id, "status": status, "status_details": details,
               "output": r.output,
               "conversation_id": if r.out_of_band { Value::Null } else { json!(self.conversation_id) },
               "output_modalities": modalities, "max_output_tokens": "inf",
               "audio": {"output": {"format": r.output_format, "voice": r.voice}},
               "usage": usage, "metadata": r.metadata})
    }

    fn usage(&self, r: &ActiveResponse) -> Value {
        let instructions = self
            .session
            .get("instructions")
            .and_then(Value::as_str)
            .map_or(0, str::len) as u64;
        let text_in = instructions / 4 + 10 * self.items.len() as u64;
        let audio_in = self.input.committed_ms / 100;
        let text_out = (r.text.split_whitespace().count() as u64 * 4).div_ceil(3);
        let audio_out = r.audio_samples as u64 * 1000 / 24_000 / 50;
        json!({"total_tokens": text_in + audio_in + text_out + audio_out,
               "input_tokens": text_in + audio_in, "output_tokens": text_out + audio_out,
               "input_token_details": {"text_tokens": text_in, "audio_tokens": audio_in, "image_tokens": 0,
                   "cached_tokens": 0, "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0}},
               "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out}})
    }

    /// Emit every response step that is due at `now`.
    pub fn poll(&mut self, now: Instant) {
        loop {
            let Some(active) = self.active.as_mut() else {
                return;
            };
            let due = active
                .steps
                .front()
                .is_some_and(|s| active.started.checked_add(s.at).is_some_and(|at| at <= now));
            if !due {
                return;
            }
            let Some(step) = active.steps.pop_front() else {
                return;
            };
            self.run_step(step.step);
        }
    }

    fn run_step(&mut self, step: Step) {
        let Some(active) = self.active.as_ref() else {
            return;
        };
        let response_id = active.id.clone();
        match step {
            Step::OpenMessage => self.open_message(response_id),
            Step::Chunk { audio, text } => self.chunk(response_id, audio, text),
            Step::CloseMessage => self.close_message(response_id, "completed"),
            Step::FunctionCall { name, arguments } => self.function_call(response_id, name, arguments),
            Step::Finish => self.finish("completed", Value::Null),
            Step::Fail { code, message } => self.finish(
                "failed",
                json!({"type": "failed", "error": {"type": "server_error", "code": code, "message": message}}),
            ),
        }
    }

    fn open_message(&mut self, response_id: String) {
        let item_id = self.ids.make("item");
        let previous = self.last_item_id();
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let output_index = active.output.len();
        let modality = active.modality;
        active.open = Some(OpenMessage {
            item_id: item_id.clone(),
            output_index,
            modality,
            text: String::new(),
        });
        let item = json!({"id": item_id, "object": "realtime.item", "type": "message",
                          "status": "in_progress", "role": "assistant", "content": []});
        self.add_output_item(&item_id, &item, &response_id, output_index, &previous);
        let part = match modality {
            Modality::Audio => json!({"type": "audio", "transcript": ""}),
            Modality::Text => json!({"type": "text", "text": ""}),
        };
        self.emit(
            "response.content_part.added",
            json!({"response_id": response_id, "item_id": item_id, "output_index": output_index,
                   "content_index": 0, "part": part}),
        );
    }

    fn chunk(&mut self, response_id: String, audio: Option<(String, usize)>, text: String) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let Some(open) = active.open.as_mut() else {
            return;
        };
        let item_id = open.item_id.clone();
        let output_index = open.output_index;
        let modality = open.modality;
        open.text.push_str(&text);
        active.text.push_str(&text);
        let samples = audio.as_ref().map_or(0, |a| a.1);
        active.audio_samples += samples;
        if let Some(item) = self.items.iter_mut().find(|i| i.id == item_id) {
            item.audio_samples += samples;
        }
        let address = json!({"response_id": response_id, "item_id": item_id,
                             "output_index": output_index, "content_index": 0});
        if let Some((delta, _)) = audio {
            self.voice_locked = true;
            let mut e = address.clone();
            e["delta"] = json!(delta);
            self.emit("response.output_audio.delta", e);
        }
        if !text.is_empty() {
            let mut e = address;
            e["delta"] = json!(text);
            let kind = match modality {
                Modality::Audio => "response.output_audio_transcript.delta",
                Modality::Text => "response.output_text.delta",
            };
            self.emit(kind, e);
        }
    }

    fn close_message(&mut self, response_id: String, status: &str) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let Some(open) = active.open.take() else {
            return;
        };
        let address = json!({"response_id": response_id, "item_id": open.item_id,
                             "output_index": open.output_index, "content_index": 0});
        let (part, content) = match open.modality {
            Modality::Audio => {
                self.emit("response.output_audio.done", address.clone());
                let mut e = address.clone();
                e["transcript"] = json!(open.text);
                self.emit("response.output_audio_transcript.done", e);
                (
                    json!({"type": "audio", "transcript": open.text}),
                    json!({"type": self.content_type("output_audio"), "transcript": open.text}),
                )
            }
            Modality::Text => {
                let mut e = address.clone();
                e["text"] = json!(open.text);
                self.emit("response.output_text.done", e);
                (
                    json!({"type": "text", "text": open.text}),
                    json!({"type": self.content_type("output_text"), "text": open.text}),
                )
            }
        };
        let mut e = address;
        e["part"] = part;
        self.emit("response.content_part.done", e);
        let item = json!({"id": open.item_id, "object": "realtime.item", "type": "message",
                          "status": status, "role": "assistant", "content": [content]});
        self.item_done(response_id, open.output_index, item);
    }

    /// Assistant content types: GA `output_audio`/`output_text`, beta `audio`/`text`.
    fn content_type(&self, ga: &'static str) -> &'static str {
        match (self.shape, ga) {
            (Shape::Beta, "output_audio") => "audio",
            (Shape::Beta, "output_text") => "text",
            _ => ga,
        }
    }

    fn item_done(&mut self, response_id: String, output_index: usize, item: Value) {
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut previous = Value::Null;
        if let Some(i) = self.find_item(&id) {
            if i > 0 {
                previous = json!(self.items[i - 1].id);
            }
            self.items[i].value = item.clone();
        }
        self.emit(
            "response.output_item.done",
            json!({"response_id": response_id, "output_index": output_index, "item": item}),
        );
        if !self.active.as_ref().is_some_and(|a| a.out_of_band) {
            self.emit(
                "conversation.item.done",
                json!({"previous_item_id": previous, "item": item}),
            );
        }
        if let Some(active) = self.active.as_mut() {
            active.output.push(item);
        }
    }

    fn function_call(&mut self, response_id: String, name: String, arguments: String) {
        let item_id = self.ids.make("item");
        let call_id = self.ids.make("call");
        let call_id = call_id[..call_id.len().min(21)].to_string();
        let previous = self.last_item_id();
        let Some(active) = self.active.as_ref() else {
            return;
        };
        let output_index = active.output.len();
        let mut item = json!({"id": item_id, "object": "realtime.item", "type": "function_call",
                              "status": "in_progress", "name": name, "call_id": call_id, "arguments": ""});
        self.add_output_item(&item_id, &item, &response_id, output_index, &previous);
        let chars: Vec<char> = arguments.chars().collect();
        for piece in chars.chunks(24) {
            let delta: String = piece.iter().collect();
            self.emit(
                "response.function_call_arguments.delta",
                json!({"response_id": response_id, "item_id": item_id, "output_index": output_index,
                       "call_id": call_id, "delta": delta}),
            );
        }
        self.emit(
            "response.function_call_arguments.done",
            json!({"response_id": response_id, "item_id": item_id, "output_index": output_index,
                   "call_id": call_id, "name": name, "arguments": arguments}),
        );
        item["status"] = json!("completed");
        item["arguments"] = json!(arguments);
        self.item_done(response_id, output_index, item);
    }

    fn finish(&mut self, status: &str, details: Value) {
        let Some(active) = self.active.take() else {
            return;
        };
        let details = if details.is_null() && status == "completed" {
            Value::Null
        } else {
            details
        };
        let response = self.response_object(&active, status, details, true);
        self.emit("response.done", json!({ "response": response }));
        if self.shared.config.send_rate_limits {
            self.emit(
                "rate_limits.updated",
                json!({"rate_limits": [
                    {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
                    {"name": "tokens", "limit": 40000, "remaining": 38500, "reset_seconds": 2.25}]}),
            );
        }
    }

    /// Cancel the active response: close open parts as incomplete, then `response.done` cancelled.
    pub fn cancel_active(&mut self, reason: &str) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        active.steps.clear();
        let response_id = active.id.clone();
        self.close_message(response_id, "incomplete");
        self.finish("cancelled", json!({"type": "cancelled", "reason": reason}));
    }
}
