//! Client events: the JSON the plugin sends to the Realtime server.
//!
//! Every builder returns the event serialized as a `String`, ready for a WebSocket text
//! frame, with a fresh `event_id` (the server echoes it in `error.event_id` when that
//! event fails). The session configuration is always held in the GA shape (the shape of
//! `docs/config.md`); [`session_update`] translates it to the older preview ("beta")
//! shape at send time when the deployment needs it.
//!
//! Conformance: every GA event built here is checked against the official SDK's models
//! (`openai==3.54.0`, plus a strict walk that rejects undeclared keys) by
//! `tests/protocol_conformance.rs` through `tools/validate_events.py`. Beta events are not
//! validated against the GA SDK (it has no models for them); their shape is pinned by unit
//! tests against the preview schema described in `protocol.md`.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

/// The only sample rate OpenAI's `audio/pcm` format takes (the schema's literal), and the
/// rate at which the plugin always asks for model audio.
pub const OPENAI_PCM_RATE: u32 = 24_000;

/// Sample rate of G.711 (`audio/pcmu`, `audio/pcma`).
pub const G711_RATE: u32 = 8_000;

/// Which schema the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtocolFlavor {
    /// The GA Realtime API (`/v1/realtime`, no `OpenAI-Beta` header). The default.
    #[default]
    Ga,
    /// The older preview schema (`OpenAI-Beta: realtime=v1`): `modalities`,
    /// `input_audio_format: "pcm16"`, session audio settings at the top level.
    Beta,
}

impl ProtocolFlavor {
    /// The flavor named by the config's `protocol` field (`"ga"` or `"beta"`, exact,
    /// lowercase); `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ga" => Some(Self::Ga),
            "beta" => Some(Self::Beta),
            _ => None,
        }
    }

    /// The config name of this flavor (`"ga"` or `"beta"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Ga => "ga",
            Self::Beta => "beta",
        }
    }
}

/// A fresh client `event_id`: `"evt_"`, a per-process random tag, `_`, a counter.
///
/// Unique within the process (the counter) and unlikely to collide across processes (the
/// tag), which is all the server needs to point an `error` back at the event that failed.
/// `event_id` is optional on every client event in the SDK's schema.
pub fn next_event_id() -> String {
    EventId::next().to_string()
}

/// A fresh event id, formatted without allocating (see [`next_event_id`]).
struct EventId {
    tag: u32,
    n: u64,
}

impl EventId {
    fn next() -> EventId {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        static TAG: OnceLock<u32> = OnceLock::new();
        // RandomState is seeded from the OS per process: randomness without another crate.
        let tag = *TAG.get_or_init(|| RandomState::new().build_hasher().finish() as u32);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        EventId { tag, n }
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "evt_{:08x}_{}", self.tag, self.n)
    }
}

/// The session the plugin asks for before the user's overrides are merged in (GA shape).
///
/// `type: "realtime"`, audio-only output (the transcript comes with it), `audio/pcm` in at
/// `input_rate` and out at 24000 Hz, voice `alloy`, and server VAD that both creates and
/// interrupts responses (threshold 0.5, 300 ms prefix padding, 500 ms silence).
///
/// `input_rate` is the rate of the PCM16 the plugin will send, and the declared format must
/// match the bytes: OpenAI takes 24000 only (the SDK's schema has the literal 24000, and the
/// conformance test covers that case); 16000 is declared as such for other servers that
/// accept it. The session is GA-shaped for both flavors: [`session_update`] translates it
/// for beta servers, so `flavor` does not change the result today.
pub fn default_session(flavor: ProtocolFlavor, input_rate: u32) -> Value {
    let _ = flavor; // one canonical shape; translation happens at send time
    json!({
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": input_rate},
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "create_response": true,
                    "interrupt_response": true
                }
            },
            "output": {
                "format": {"type": "audio/pcm", "rate": OPENAI_PCM_RATE},
                "voice": "alloy"
            }
        }
    })
}

/// Deep-merges `overlay` into `base`.
///
/// Objects merge key by key, recursively; anything else in the overlay (arrays, scalars,
/// `null`) replaces what was there. A `null` is kept as `null`, not removed: that is how a
/// session field is switched off (`"turn_detection": null` means push-to-talk). An overlay
/// that is not an object replaces `base` whole.
///
/// One exception, because the API's objects are tagged unions: when both objects have a
/// `type` and the types differ, the overlay replaces the object instead of merging into it.
/// Otherwise `{"turn_detection": {"type": "semantic_vad"}}` over the default server VAD
/// would keep `threshold` (which `semantic_vad` does not have, and the API rejects), and
/// `{"format": {"type": "audio/pcmu"}}` would keep a PCM `rate`.
pub fn merge_json(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(base_map), Value::Object(overlay_map))
            if !changes_variant(base_map, overlay_map) =>
        {
            for (key, overlay_value) in overlay_map {
                match base_map.get_mut(key) {
                    Some(base_value) if base_value.is_object() && overlay_value.is_object() => {
                        merge_json(base_value, overlay_value)
                    }
                    _ => {
                        base_map.insert(key.clone(), overlay_value.clone());
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

/// Whether `overlay` switches a tagged object to another variant (both have a `type`, and
/// they differ).
fn changes_variant(base: &Map<String, Value>, overlay: &Map<String, Value>) -> bool {
    match (base.get("type"), overlay.get("type")) {
        (Some(old), Some(new)) => old != new,
        _ => false,
    }
}

/// `session.update` carrying `session` (GA-shaped: the defaults merged with the user's
/// overrides, or a partial update).
///
/// GA: the session goes out as given, with `type: "realtime"` added when it is missing (the
/// schema requires it, and partial updates from `rv_update_session` usually omit it). Beta:
/// the session is translated by [`beta_session`]. A `session` that is not an object is sent
/// as given (the server reports the error, pointing at this event's id).
pub fn session_update(flavor: ProtocolFlavor, session: &Value) -> String {
    let session = match flavor {
        ProtocolFlavor::Ga => {
            let mut session = session.clone();
            if let Value::Object(map) = &mut session {
                map.entry("type")
                    .or_insert_with(|| Value::String("realtime".into()));
            }
            session
        }
        ProtocolFlavor::Beta => beta_session(session).0,
    };
    event("session.update", [("session", session)])
}

/// Keys of a GA session that the preview schema has no equivalent for; [`beta_session`]
/// drops them (a beta server rejects unknown parameters) and reports them.
const GA_ONLY_SESSION_KEYS: &[&str] = &[
    "type",
    "include",
    "parallel_tool_calls",
    "prompt",
    "reasoning",
    "truncation",
];

/// Translates a GA-shaped session into the preview ("beta") shape.
///
/// `output_modalities` becomes `modalities` (`["audio"]` -> `["audio","text"]`, the only
/// audio form the preview takes); `audio.input.format` -> `input_audio_format`
/// (`audio/pcm` -> `"pcm16"`, `audio/pcmu` -> `"g711_ulaw"`, `audio/pcma` -> `"g711_alaw"`);
/// `audio.input.turn_detection` -> `turn_detection`; `audio.input.transcription` ->
/// `input_audio_transcription`; `audio.input.noise_reduction` ->
/// `input_audio_noise_reduction`; `audio.output.format` -> `output_audio_format`;
/// `audio.output.voice` -> `voice`; `audio.output.speed` -> `speed`; `max_output_tokens` ->
/// `max_response_output_tokens`. `null`s are carried over (they switch things off in both
/// schemas). Keys the preview shares (`instructions`, `tools`, `tool_choice`,
/// `temperature`, `model`, `tracing`, ...) pass through, as do keys already in the beta
/// shape. Returns the translated session and the GA-only keys that were dropped (`type`
/// included), so the caller can log them. A non-object is returned unchanged.
pub fn beta_session(session: &Value) -> (Value, Vec<String>) {
    let Value::Object(ga) = session else {
        return (session.clone(), Vec::new());
    };
    let mut beta = Map::new();
    let mut dropped = Vec::new();
    let mut direct = Vec::new();
    for (key, value) in ga {
        match key.as_str() {
            "output_modalities" => {
                beta.insert("modalities".into(), beta_modalities(value));
            }
            "max_output_tokens" => {
                beta.insert("max_response_output_tokens".into(), value.clone());
            }
            "audio" => translate_beta_audio(value, &mut beta, &mut dropped),
            k if GA_ONLY_SESSION_KEYS.contains(&k) => dropped.push(key.clone()),
            _ => direct.push((key, value)),
        }
    }
    // Keys given directly (shared, or already beta-shaped) win over translated ones,
    // whatever their order in the map.
    for (key, value) in direct {
        beta.insert(key.clone(), value.clone());
    }
    (Value::Object(beta), dropped)
}

/// Moves the GA `audio` block's settings to the preview's top-level keys.
fn translate_beta_audio(audio: &Value, beta: &mut Map<String, Value>, dropped: &mut Vec<String>) {
    let Value::Object(audio) = audio else {
        dropped.push("audio".into());
        return;
    };
    for (direction, block) in audio {
        let Value::Object(block) = block else {
            dropped.push(format!("audio.{direction}"));
            continue;
        };
        for (key, value) in block {
            let beta_key = match (direction.as_str(), key.as_str()) {
                ("input", "format") => "input_audio_format",
                ("input", "turn_detection") => "turn_detection",
                ("input", "transcription") => "input_audio_transcription",
                ("input", "noise_reduction") => "input_audio_noise_reduction",
                ("output", "format") => "output_audio_format",
                ("output", "voice") => "voice",
                ("output", "speed") => "speed",
                _ => {
                    dropped.push(format!("audio.{direction}.{key}"));
                    continue;
                }
            };
            let beta_value = if key == "format" {
                beta_audio_format(value)
            } else {
                value.clone()
            };
            beta.entry(beta_key).or_insert(beta_value);
        }
    }
}

/// GA `{"type": "audio/pcm", ...}` -> beta `"pcm16"` (and the G.711 pair); anything else
/// (a beta string already, `null`, an unknown type) is carried over unchanged.
fn beta_audio_format(format: &Value) -> Value {
    match format.get("type").and_then(Value::as_str) {
        Some("audio/pcm") => Value::String("pcm16".into()),
        Some("audio/pcmu") => Value::String("g711_ulaw".into()),
        Some("audio/pcma") => Value::String("g711_alaw".into()),
        _ => format.clone(),
    }
}

/// GA `output_modalities` -> beta `modalities`: audio always comes with text in the preview.
fn beta_modalities(output_modalities: &Value) -> Value {
    let Some(list) = output_modalities.as_array() else {
        return output_modalities.clone();
    };
    if list.iter().any(|m| m == "audio") {
        json!(["audio", "text"])
    } else {
        Value::Array(list.clone())
    }
}

/// What `input_audio_buffer.append` puts before the event id.
const APPEND_HEAD: &str = "{\"type\":\"input_audio_buffer.append\",\"event_id\":\"";
/// Between the event id and the audio.
const APPEND_MID: &str = "\",\"audio\":\"";
/// After the audio.
const APPEND_TAIL: &str = "\"}";
/// Longest id [`next_event_id`] makes: `evt_`, 8 hex digits, `_`, a u64.
const EVENT_ID_MAX: usize = 4 + 8 + 1 + 20;

/// Bytes [`input_audio_append_owned`] adds around the base64 (at most): a `String` with this
/// much spare capacity becomes the event without reallocating.
pub const INPUT_AUDIO_APPEND_OVERHEAD: usize =
    APPEND_HEAD.len() + EVENT_ID_MAX + APPEND_MID.len() + APPEND_TAIL.len();

/// `pcm` as base64 in a `String` with [`INPUT_AUDIO_APPEND_OVERHEAD`] bytes of spare room, so
/// [`input_audio_append_owned`] builds the event in it without reallocating.
pub fn base64_with_append_room(pcm: &[u8]) -> String {
    use base64::Engine;
    let mut b64 = String::with_capacity(
        base64::encoded_len(pcm.len(), true).unwrap_or(0) + INPUT_AUDIO_APPEND_OVERHEAD,
    );
    base64::engine::general_purpose::STANDARD.encode_string(pcm, &mut b64);
    b64
}

/// Whether serde_json writes `s` as it is between the quotes: no `"`, `\\` or control
/// character (base64 never has one). No early exit, so the loop vectorises.
fn needs_no_escaping(s: &str) -> bool {
    s.bytes()
        .fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'))
}

/// `input_audio_buffer.append` with base64 PCM16 (`b64`) in the session's input format.
///
/// Built without an intermediate `Value` tree: this is the hot event (one per 20-40 ms).
pub fn input_audio_append(b64: &str) -> String {
    let id = next_event_id();
    // `id` is ASCII hex with no characters JSON needs escaped; base64 neither (it is copied
    // as it is); anything else is escaped as serde_json does (it cannot fail on a &str).
    let escaped;
    let audio = if needs_no_escaping(b64) {
        b64
    } else {
        escaped = serde_json::to_string(b64).unwrap_or_else(|_| "\"\"".into());
        &escaped[1..escaped.len() - 1]
    };
    let mut out = String::with_capacity(audio.len() + INPUT_AUDIO_APPEND_OVERHEAD);
    out.push_str(APPEND_HEAD);
    out.push_str(&id);
    out.push_str(APPEND_MID);
    out.push_str(audio);
    out.push_str(APPEND_TAIL);
    out
}

/// [`input_audio_append`] built in `b64`'s own buffer: the base64 moves up to make room for
/// the event's head, no other allocation when `b64` has [`INPUT_AUDIO_APPEND_OVERHEAD`]
/// bytes of spare capacity. The same bytes as [`input_audio_append`] (the event id aside).
pub fn input_audio_append_owned(b64: String) -> String {
    if !needs_no_escaping(&b64) {
        return input_audio_append(&b64);
    }
    let mut head = HeadBuf::default();
    // Writing into a fixed buffer that holds the longest head cannot fail.
    let _ = std::fmt::Write::write_fmt(
        &mut head,
        format_args!("{APPEND_HEAD}{}{APPEND_MID}", EventId::next()),
    );
    let mut out = b64;
    out.reserve(head.len + APPEND_TAIL.len());
    out.insert_str(0, head.as_str());
    out.push_str(APPEND_TAIL);
    out
}

/// The head of an append event, on the stack.
struct HeadBuf {
    buf: [u8; APPEND_HEAD.len() + EVENT_ID_MAX + APPEND_MID.len()],
    len: usize,
}

impl Default for HeadBuf {
    fn default() -> Self {
        Self {
            buf: [0; APPEND_HEAD.len() + EVENT_ID_MAX + APPEND_MID.len()],
            len: 0,
        }
    }
}

impl HeadBuf {
    fn as_str(&self) -> &str {
        // Only whole `&str`s are written (`write_str`), so the bytes are UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for HeadBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `input_audio_buffer.commit`: turns the buffered input into a user item (push-to-talk;
/// with server VAD the server commits by itself).
pub fn input_audio_commit() -> String {
    event("input_audio_buffer.commit", [])
}

/// `input_audio_buffer.clear`: drops the uncommitted input audio.
pub fn input_audio_clear() -> String {
    event("input_audio_buffer.clear", [])
}

/// `response.create`, with the optional `response` parameters passed through verbatim
/// (GA shape; `None` or `null` sends no `response` key, i.e. the session's settings).
pub fn response_create(response: Option<&Value>) -> String {
    match response {
        Some(params) if !params.is_null() => {
            event("response.create", [("response", params.clone())])
        }
        _ => event("response.create", []),
    }
}

/// `response.create` for `flavor`: GA as [`response_create`]; beta translates GA-shaped
/// parameters (`output_modalities` -> `modalities`, `audio.output.voice` -> `voice`,
/// `audio.output.format` -> `output_audio_format`, `max_output_tokens` ->
/// `max_response_output_tokens`) and leaves beta-shaped ones alone, dropping the same
/// GA-only keys as [`beta_session`].
pub fn response_create_for(flavor: ProtocolFlavor, response: Option<&Value>) -> String {
    match (flavor, response) {
        (ProtocolFlavor::Beta, Some(params)) if params.is_object() => {
            event("response.create", [("response", beta_session(params).0)])
        }
        _ => response_create(response),
    }
}

/// `response.cancel`, for one response when `response_id` is given (the default
/// conversation's in-progress response otherwise).
pub fn response_cancel(response_id: Option<&str>) -> String {
    match response_id {
        Some(id) => event(
            "response.cancel",
            [("response_id", Value::String(id.into()))],
        ),
        None => event("response.cancel", []),
    }
}

/// `conversation.item.truncate`: cut the assistant item's audio at `audio_end_ms` (what the
/// user actually heard), so the server drops the unheard audio and its transcript.
pub fn conversation_item_truncate(item_id: &str, content_index: u32, audio_end_ms: u64) -> String {
    event(
        "conversation.item.truncate",
        [
            ("item_id", Value::String(item_id.into())),
            ("content_index", Value::from(content_index)),
            ("audio_end_ms", Value::from(audio_end_ms)),
        ],
    )
}

/// `conversation.item.create` with any item, passed through verbatim.
pub fn conversation_item_create(item: &Value) -> String {
    event("conversation.item.create", [("item", item.clone())])
}

/// `conversation.item.delete` for `item_id`.
pub fn conversation_item_delete(item_id: &str) -> String {
    event(
        "conversation.item.delete",
        [("item_id", Value::String(item_id.into()))],
    )
}

/// Largest image `rv_send_image` accepts, in bytes (4 MiB: as base64 in one client event
/// it stays well inside the outbound buffer the worker allows).
pub const MAX_IMAGE_BYTES: usize = 4 << 20;

/// The image mime types the Realtime API takes in an `input_image` content part.
pub const IMAGE_MIME_TYPES: [&str; 2] = ["image/png", "image/jpeg"];

/// Why image bytes cannot be sent as `mime_type`, or `None` when they can: the mime type
/// is supported, the size is within 1..=[`MAX_IMAGE_BYTES`], and the bytes start with
/// that format's signature (PNG's 8-byte magic, JPEG's SOI marker `FF D8 FF`).
pub fn image_problem(data: &[u8], mime_type: &str) -> Option<String> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF];
    let magic = match mime_type {
        "image/png" => PNG,
        "image/jpeg" => JPEG,
        other => {
            return Some(format!(
                "unsupported image mime type \"{}\" (supported: {})",
                crate::session::truncate_for_message(other),
                IMAGE_MIME_TYPES.join(", ")
            ))
        }
    };
    if data.is_empty() {
        return Some("the image is empty".into());
    }
    if data.len() > MAX_IMAGE_BYTES {
        return Some(format!(
            "the image is {} bytes; at most {MAX_IMAGE_BYTES} are accepted",
            data.len()
        ));
    }
    if !data.starts_with(magic) {
        return Some(format!(
            "the bytes are not a {mime_type} image (wrong signature)"
        ));
    }
    None
}

/// An image's bytes (base64) as the data URL an `input_image` part carries.
pub fn image_data_url(mime_type: &str, image_base64: &str) -> String {
    format!("data:{mime_type};base64,{image_base64}")
}

/// A user message `item_id` holding an image (a data URL, see [`image_data_url`]) and,
/// first, an optional text part. Sent without `response.create`: the model sees it on its
/// next response.
pub fn user_image_message(item_id: &str, image_url: &str, text: Option<&str>) -> String {
    let mut content = Vec::new();
    if let Some(t) = text {
        content.push(json!({"type": "input_text", "text": t}));
    }
    content.push(json!({"type": "input_image", "image_url": image_url}));
    conversation_item_create(
        &json!({"id": item_id, "type": "message", "role": "user", "content": content}),
    )
}

/// A tool's result: `conversation.item.create` with a `function_call_output` item. The
/// model only reacts once a `response.create` follows (one per response, after all of its
/// calls are answered).
pub fn function_call_output(call_id: &str, output: &str) -> String {
    conversation_item_create(&json!({
        "type": "function_call_output",
        "call_id": call_id,
        "output": output
    }))
}

/// A typed user message: `conversation.item.create` with a user `message` item holding
/// one `input_text` part. Follow it with `response.create`.
pub fn user_text_message(text: &str) -> String {
    conversation_item_create(&json!({
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": text}]
    }))
}

/// Serializes an event: `type`, a fresh `event_id`, then `fields`.
fn event<const N: usize>(event_type: &str, fields: [(&str, Value); N]) -> String {
    let mut map = Map::new();
    map.insert("type".into(), Value::String(event_type.into()));
    map.insert("event_id".into(), Value::String(next_event_id()));
    for (key, value) in fields {
        map.insert(key.into(), value);
    }
    Value::Object(map).to_string()
}

/// The input audio format a session declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputAudioFormat {
    /// 16-bit little-endian mono PCM at this rate (`audio/pcm`, beta `pcm16`).
    Pcm16 {
        /// Samples per second.
        rate: u32,
    },
    /// G.711 mu-law at 8 kHz (`audio/pcmu`, beta `g711_ulaw`).
    G711Ulaw,
    /// G.711 A-law at 8 kHz (`audio/pcma`, beta `g711_alaw`).
    G711Alaw,
    /// A format this plugin does not know (its type name, or the JSON when it has none).
    Other(String),
}

/// The input audio format declared by `session`: `audio.input.format` (GA), else the
/// top-level `input_audio_format` (beta). When none is declared, or `audio/pcm` has no
/// usable `rate`, the API's default applies: PCM16 at 24000 Hz.
pub fn input_format_of(session: &Value) -> InputAudioFormat {
    let ga = session
        .get("audio")
        .and_then(|a| a.get("input"))
        .and_then(|i| i.get("format"));
    let format = ga.or_else(|| session.get("input_audio_format"));
    let pcm_rate = |f: &Value| {
        f.get("rate")
            .and_then(Value::as_u64)
            .and_then(|r| u32::try_from(r).ok())
            .filter(|r| *r > 0)
            .unwrap_or(OPENAI_PCM_RATE)
    };
    match format {
        None | Some(Value::Null) => InputAudioFormat::Pcm16 {
            rate: OPENAI_PCM_RATE,
        },
        Some(Value::String(name)) => match name.as_str() {
            "pcm16" => InputAudioFormat::Pcm16 {
                rate: OPENAI_PCM_RATE,
            },
            "g711_ulaw" => InputAudioFormat::G711Ulaw,
            "g711_alaw" => InputAudioFormat::G711Alaw,
            other => InputAudioFormat::Other(other.into()),
        },
        Some(f) => match f.get("type").and_then(Value::as_str) {
            Some("audio/pcm") | None if f.is_object() => {
                InputAudioFormat::Pcm16 { rate: pcm_rate(f) }
            }
            Some("audio/pcmu") => InputAudioFormat::G711Ulaw,
            Some("audio/pcma") => InputAudioFormat::G711Alaw,
            Some(other) => InputAudioFormat::Other(other.into()),
            None => InputAudioFormat::Other(f.to_string()),
        },
    }
}

/// The input sample rate `session` declares (see [`input_format_of`]): the PCM rate, or
/// 8000 for G.711 and 24000 for a format the plugin does not know.
pub fn input_rate_of(session: &Value) -> u32 {
    match input_format_of(session) {
        InputAudioFormat::Pcm16 { rate } => rate,
        InputAudioFormat::G711Ulaw | InputAudioFormat::G711Alaw => G711_RATE,
        InputAudioFormat::Other(_) => OPENAI_PCM_RATE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(event: &str) -> Value {
        serde_json::from_str(event).expect("builders emit valid JSON")
    }

    #[test]
    fn event_ids_are_unique_and_prefixed() {
        let ids: Vec<String> = (0..1000).map(|_| next_event_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        assert!(ids.iter().all(|id| id.starts_with("evt_")));
        let a = parse(&input_audio_commit());
        let b = parse(&input_audio_commit());
        assert_ne!(a["event_id"], b["event_id"]);
    }

    #[test]
    fn default_session_has_the_ga_shape() {
        let s = default_session(ProtocolFlavor::Ga, 24_000);
        assert_eq!(s["type"], "realtime");
        assert_eq!(s["output_modalities"], json!(["audio"]));
        assert_eq!(
            s["audio"]["input"]["format"],
            json!({"type": "audio/pcm", "rate": 24000})
        );
        assert_eq!(s["audio"]["output"]["format"]["rate"], 24000);
        assert_eq!(s["audio"]["output"]["voice"], "alloy");
        let td = &s["audio"]["input"]["turn_detection"];
        assert_eq!(td["type"], "server_vad");
        assert_eq!(td["threshold"], 0.5);
        assert_eq!(td["prefix_padding_ms"], 300);
        assert_eq!(td["silence_duration_ms"], 500);
        assert_eq!(td["create_response"], true);
        assert_eq!(td["interrupt_response"], true);
        // The declared input rate follows the bytes; output stays at OpenAI's rate.
        let s16 = default_session(ProtocolFlavor::Ga, 16_000);
        assert_eq!(s16["audio"]["input"]["format"]["rate"], 16000);
        assert_eq!(s16["audio"]["output"]["format"]["rate"], 24000);
        assert_eq!(input_rate_of(&s16), 16_000);
    }

    #[test]
    fn merge_objects_recurse_and_scalars_arrays_null_replace() {
        let mut base = json!({
            "a": {"x": 1, "y": {"deep": true, "keep": 1}},
            "list": [1, 2, 3],
            "s": "old",
            "td": {"type": "server_vad"}
        });
        merge_json(
            &mut base,
            &json!({
                "a": {"y": {"deep": false}, "z": 2},
                "list": [9],
                "s": 5,
                "td": null,
                "new": {"k": "v"}
            }),
        );
        assert_eq!(
            base,
            json!({
                "a": {"x": 1, "y": {"deep": false, "keep": 1}, "z": 2},
                "list": [9],
                "s": 5,
                "td": null,
                "new": {"k": "v"}
            })
        );
        // An object overlay over a scalar replaces it; a scalar overlay replaces an object.
        let mut scalar = json!({"a": 1});
        merge_json(&mut scalar, &json!({"a": {"b": 2}}));
        assert_eq!(scalar, json!({"a": {"b": 2}}));
        let mut whole = json!({"a": 1});
        merge_json(&mut whole, &json!([1]));
        assert_eq!(whole, json!([1]));
    }

    #[test]
    fn merge_replaces_a_tagged_object_that_changes_type() {
        let mut s = default_session(ProtocolFlavor::Ga, 24_000);
        merge_json(
            &mut s,
            &json!({"audio": {"input": {
                "turn_detection": {"type": "semantic_vad", "eagerness": "low"},
                "format": {"type": "audio/pcmu"}
            }}}),
        );
        assert_eq!(
            s["audio"]["input"]["turn_detection"],
            json!({"type": "semantic_vad", "eagerness": "low"})
        );
        assert_eq!(s["audio"]["input"]["format"], json!({"type": "audio/pcmu"}));
        // Same type: a normal deep merge.
        merge_json(
            &mut s,
            &json!({"audio": {"input": {"turn_detection": {"type": "semantic_vad", "create_response": false}}}}),
        );
        assert_eq!(
            s["audio"]["input"]["turn_detection"],
            json!({"type": "semantic_vad", "eagerness": "low", "create_response": false})
        );
        // No type in the overlay: a deep merge into whatever variant is there.
        merge_json(
            &mut s,
            &json!({"audio": {"input": {"turn_detection": {"interrupt_response": false}}}}),
        );
        assert_eq!(s["audio"]["input"]["turn_detection"]["eagerness"], "low");
        assert_eq!(
            s["audio"]["input"]["turn_detection"]["interrupt_response"],
            false
        );
    }

    #[test]
    fn merged_user_voice_and_push_to_talk() {
        let mut s = default_session(ProtocolFlavor::Ga, 24_000);
        merge_json(
            &mut s,
            &json!({"audio": {"output": {"voice": "marin"}, "input": {"turn_detection": null}}}),
        );
        assert_eq!(s["audio"]["output"]["voice"], "marin");
        assert_eq!(s["audio"]["output"]["format"]["rate"], 24000);
        assert!(s["audio"]["input"]["turn_detection"].is_null());
        assert_eq!(s["audio"]["input"]["format"]["type"], "audio/pcm");
    }

    #[test]
    fn input_format_and_rate() {
        assert_eq!(input_rate_of(&json!({})), 24_000);
        assert_eq!(
            input_rate_of(&json!({"audio": {"input": {"format": {"type": "audio/pcm"}}}})),
            24_000
        );
        let pcmu = json!({"audio": {"input": {"format": {"type": "audio/pcmu"}}}});
        assert_eq!(input_format_of(&pcmu), InputAudioFormat::G711Ulaw);
        assert_eq!(input_rate_of(&pcmu), 8_000);
        assert_eq!(
            input_rate_of(&json!({"input_audio_format": "pcm16"})),
            24_000
        );
        assert_eq!(
            input_format_of(&json!({"input_audio_format": "g711_alaw"})),
            InputAudioFormat::G711Alaw
        );
        assert_eq!(
            input_format_of(&json!({"audio": {"input": {"format": {"type": "opus"}}}})),
            InputAudioFormat::Other("opus".into())
        );
        // A rate that does not fit, or is not a number, falls back to the API's default.
        let huge =
            json!({"audio": {"input": {"format": {"type": "audio/pcm", "rate": 1u64 << 40}}}});
        assert_eq!(input_rate_of(&huge), 24_000);
        let text = json!({"audio": {"input": {"format": {"type": "audio/pcm", "rate": "16000"}}}});
        assert_eq!(input_rate_of(&text), 24_000);
    }

    #[test]
    fn ga_session_update_adds_the_required_type() {
        let e = parse(&session_update(
            ProtocolFlavor::Ga,
            &json!({"instructions": "hi"}),
        ));
        assert_eq!(e["type"], "session.update");
        assert_eq!(
            e["session"],
            json!({"type": "realtime", "instructions": "hi"})
        );
        let full = default_session(ProtocolFlavor::Ga, 24_000);
        let e = parse(&session_update(ProtocolFlavor::Ga, &full));
        assert_eq!(e["session"], full);
    }

    #[test]
    fn beta_session_update_has_the_preview_shape() {
        let mut s = default_session(ProtocolFlavor::Beta, 24_000);
        merge_json(
            &mut s,
            &json!({
                "instructions": "Be brief.",
                "tools": [{"type": "function", "name": "move_cube", "parameters": {}}],
                "tool_choice": "auto",
                "temperature": 0.7,
                "max_output_tokens": 200,
                "truncation": "auto",
                "audio": {"input": {"transcription": {"model": "whisper-1"}}}
            }),
        );
        let e = parse(&session_update(ProtocolFlavor::Beta, &s));
        let session = e["session"].as_object().expect("session object");
        assert_eq!(e["type"], "session.update");
        assert_eq!(session["modalities"], json!(["audio", "text"]));
        assert_eq!(session["input_audio_format"], "pcm16");
        assert_eq!(session["output_audio_format"], "pcm16");
        assert_eq!(session["voice"], "alloy");
        assert_eq!(session["turn_detection"]["type"], "server_vad");
        assert_eq!(session["input_audio_transcription"]["model"], "whisper-1");
        assert_eq!(session["instructions"], "Be brief.");
        assert_eq!(session["tools"][0]["name"], "move_cube");
        assert_eq!(session["tool_choice"], "auto");
        assert_eq!(session["temperature"], 0.7);
        assert_eq!(session["max_response_output_tokens"], 200);
        for ga_only in [
            "type",
            "audio",
            "output_modalities",
            "max_output_tokens",
            "truncation",
        ] {
            assert!(
                !session.contains_key(ga_only),
                "{ga_only} must not reach a beta server"
            );
        }
        let (_, dropped) = beta_session(&s);
        assert!(dropped.contains(&"type".to_string()));
        assert!(dropped.contains(&"truncation".to_string()));
    }

    #[test]
    fn beta_translation_keeps_nulls_and_beta_keys() {
        let ptt = json!({"audio": {"input": {"turn_detection": null, "transcription": null}},
                         "output_modalities": ["text"], "voice": "ash"});
        let (beta, _) = beta_session(&ptt);
        assert_eq!(
            beta,
            json!({"turn_detection": null, "input_audio_transcription": null,
                   "modalities": ["text"], "voice": "ash"})
        );
        // A direct beta key wins over the translated GA one.
        let both = json!({"voice": "ash", "audio": {"output": {"voice": "alloy"}}});
        assert_eq!(beta_session(&both).0["voice"], "ash");
        // Also when the direct key sorts before the GA one it would be translated from.
        let both = json!({"modalities": ["text"], "output_modalities": ["audio"],
                          "max_response_output_tokens": 5, "max_output_tokens": 9});
        let (beta, _) = beta_session(&both);
        assert_eq!(beta["modalities"], json!(["text"]));
        assert_eq!(beta["max_response_output_tokens"], 5);
        let pcma = json!({"audio": {"output": {"format": {"type": "audio/pcma"}}}});
        assert_eq!(beta_session(&pcma).0["output_audio_format"], "g711_alaw");
        assert_eq!(beta_session(&json!(3)).0, json!(3));
    }

    #[test]
    fn audio_append_escapes_and_carries_the_payload() {
        let e = parse(&input_audio_append("AAEC/w=="));
        assert_eq!(e["type"], "input_audio_buffer.append");
        assert_eq!(e["audio"], "AAEC/w==");
        assert!(e["event_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("evt_")));
        // Not base64, but it must still be well-formed JSON carrying the exact string.
        let nasty = "a\"b\\c\n\u{0}é";
        assert_eq!(parse(&input_audio_append(nasty))["audio"], nasty);
        assert_eq!(e.as_object().map(|m| m.len()), Some(3));
    }

    /// The wire form of an append before it was built by hand: `audio` from serde_json.
    fn serde_append(id: &str, b64: &str) -> String {
        format!(
            "{{\"type\":\"input_audio_buffer.append\",\"event_id\":\"{id}\",\"audio\":{}}}",
            serde_json::to_string(b64).unwrap()
        )
    }

    fn event_id_of(event: &str) -> String {
        parse(event)["event_id"].as_str().unwrap().to_owned()
    }

    #[test]
    fn audio_append_is_byte_identical_to_the_serde_json_form() {
        use base64::Engine;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..200 {
            // Random PCM of random length (odd lengths give padded base64).
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 33) as usize % 4000;
            let pcm: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 56) as u8
                })
                .collect();
            let b64 = base64::engine::general_purpose::STANDARD.encode(&pcm);
            let borrowed = input_audio_append(&b64);
            assert_eq!(
                borrowed,
                serde_append(&event_id_of(&borrowed), &b64),
                "round {round}"
            );
            let mut owned_in = String::with_capacity(b64.len() + INPUT_AUDIO_APPEND_OVERHEAD);
            owned_in.push_str(&b64);
            let owned = input_audio_append_owned(owned_in);
            assert_eq!(
                owned,
                serde_append(&event_id_of(&owned), &b64),
                "round {round}"
            );
        }
        // Not base64: escaped as serde_json does, by both (what it leaves as it is too).
        for nasty in ["a\"b\\c\n\u{0}é", "\u{1f}", "é~\u{7f}<>&'/ ", ""] {
            let e = input_audio_append(nasty);
            assert_eq!(e, serde_append(&event_id_of(&e), nasty));
            let e = input_audio_append_owned(nasty.to_owned());
            assert_eq!(e, serde_append(&event_id_of(&e), nasty));
        }
    }

    #[test]
    fn owned_audio_append_builds_the_event_in_the_chunks_buffer() {
        let mut b64 = String::with_capacity(1280 + INPUT_AUDIO_APPEND_OVERHEAD);
        b64.push_str(&"AbC+/9==".repeat(160));
        let before = b64.as_ptr();
        let event = input_audio_append_owned(b64);
        assert_eq!(event.as_ptr(), before, "no new buffer");
        assert_eq!(parse(&event)["audio"].as_str().map(str::len), Some(1280));
        // The longest id fits the reserved room.
        assert!(INPUT_AUDIO_APPEND_OVERHEAD >= event.len() - 1280);
        assert_eq!(
            format!(
                "{}",
                EventId {
                    tag: u32::MAX,
                    n: u64::MAX
                }
            )
            .len(),
            EVENT_ID_MAX
        );
    }

    #[test]
    fn simple_events() {
        assert_eq!(
            parse(&input_audio_commit())["type"],
            "input_audio_buffer.commit"
        );
        assert_eq!(
            parse(&input_audio_clear())["type"],
            "input_audio_buffer.clear"
        );
        let c = parse(&response_cancel(None));
        assert_eq!(c["type"], "response.cancel");
        assert!(c.get("response_id").is_none());
        assert_eq!(
            parse(&response_cancel(Some("resp_1")))["response_id"],
            "resp_1"
        );
        let t = parse(&conversation_item_truncate("item_9", 0, 1840));
        assert_eq!(t["type"], "conversation.item.truncate");
        assert_eq!(t["item_id"], "item_9");
        assert_eq!(t["content_index"], 0);
        assert_eq!(t["audio_end_ms"], 1840);
        let d = parse(&conversation_item_delete("item_9"));
        assert_eq!(
            (d["type"].as_str(), d["item_id"].as_str()),
            (Some("conversation.item.delete"), Some("item_9"))
        );
    }

    #[test]
    fn images_are_checked_against_their_mime_type() {
        let png = b"\x89PNG\r\n\x1a\n rest".to_vec();
        let jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10];
        assert_eq!(image_problem(&png, "image/png"), None);
        assert_eq!(image_problem(&jpeg, "image/jpeg"), None);
        assert!(image_problem(&png, "image/jpeg")
            .unwrap()
            .contains("not a image/jpeg"));
        assert!(image_problem(&jpeg, "image/png")
            .unwrap()
            .contains("signature"));
        assert!(image_problem(&png, "image/gif")
            .unwrap()
            .contains("unsupported"));
        assert!(image_problem(&[], "image/png").unwrap().contains("empty"));
        let mut big = png.clone();
        big.resize(MAX_IMAGE_BYTES + 1, 0);
        assert!(image_problem(&big, "image/png")
            .unwrap()
            .contains("at most"));
        big.truncate(MAX_IMAGE_BYTES);
        assert_eq!(
            image_problem(&big, "image/png"),
            None,
            "the limit itself is accepted"
        );
    }

    #[test]
    fn an_image_message_puts_the_text_first_and_the_image_as_a_data_url() {
        let m = parse(&user_image_message(
            "rv_item_1",
            &image_data_url("image/png", "iVBORw0KGgo="),
            Some("what is this?"),
        ));
        assert_eq!(m["type"], "conversation.item.create");
        assert_eq!(m["item"]["id"], "rv_item_1");
        let content = m["item"]["content"].as_array().unwrap();
        assert_eq!(content[0]["type"], "input_text");
        assert_eq!(content[0]["text"], "what is this?");
        assert_eq!(content[1]["type"], "input_image");
        assert_eq!(
            content[1]["image_url"],
            "data:image/png;base64,iVBORw0KGgo="
        );
        let alone = parse(&user_image_message(
            "i",
            &image_data_url("image/jpeg", "/9j/"),
            None,
        ));
        assert_eq!(alone["item"]["content"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn response_create_passes_params_through() {
        let bare = parse(&response_create(None));
        assert_eq!(bare["type"], "response.create");
        assert!(bare.get("response").is_none());
        assert!(parse(&response_create(Some(&Value::Null)))
            .get("response")
            .is_none());
        let params = json!({"instructions": "Say hi", "output_modalities": ["text"]});
        assert_eq!(parse(&response_create(Some(&params)))["response"], params);
        let beta = parse(&response_create_for(ProtocolFlavor::Beta, Some(&params)));
        assert_eq!(
            beta["response"],
            json!({"instructions": "Say hi", "modalities": ["text"]})
        );
        let ga = parse(&response_create_for(ProtocolFlavor::Ga, Some(&params)));
        assert_eq!(ga["response"], params);
    }

    #[test]
    fn tool_output_and_user_text_items() {
        let o = parse(&function_call_output("call_1", "{\"ok\":true}"));
        assert_eq!(o["type"], "conversation.item.create");
        assert_eq!(
            o["item"],
            json!({"type": "function_call_output", "call_id": "call_1", "output": "{\"ok\":true}"})
        );
        let u = parse(&user_text_message("Move the cube \"up\""));
        assert_eq!(
            u["item"],
            json!({"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": "Move the cube \"up\""}]})
        );
    }

    #[test]
    fn flavor_names() {
        assert_eq!(ProtocolFlavor::from_name("ga"), Some(ProtocolFlavor::Ga));
        assert_eq!(
            ProtocolFlavor::from_name("beta"),
            Some(ProtocolFlavor::Beta)
        );
        assert_eq!(ProtocolFlavor::from_name("GA"), None);
        assert_eq!(ProtocolFlavor::Beta.name(), "beta");
        assert_eq!(ProtocolFlavor::default(), ProtocolFlavor::Ga);
    }
}
