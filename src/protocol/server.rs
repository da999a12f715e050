//! Server events: what the plugin accepts from the Realtime server.
//!
//! [`parse_server_event`] turns one WebSocket text frame into a [`ServerEvent`]. Both
//! schemas are accepted whatever the configured flavor: the GA names
//! (`response.output_audio.delta`, `response.output_audio_transcript.*`,
//! `response.output_text.*`, `conversation.item.added`) and the preview ("beta") ones
//! (`response.audio.delta`, `response.audio_transcript.*`, `response.text.*`,
//! `conversation.item.created`), which older servers and Azure deployments still send.
//!
//! Strictness: a frame that is not a JSON object, has no string `type`, or is a type this
//! module handles but lacks a field the session needs (or has it with the wrong JSON type)
//! is a [`ParseError`]. Every other well-formed event, including types added to the API
//! later, is [`ServerEvent::Other`]: the session must keep running when the server grows.
//! Nothing here panics on any input, and no error message quotes more than a few hundred
//! bytes of the frame (audio deltas can be megabytes).
//!
//! Indices (`output_index`, `content_index`) are read as 0 when absent: the session only
//! uses them to address truncation, some servers omit them, and losing a whole audio delta
//! over a missing index would be worse. When present they must be non-negative integers.

use std::fmt;

use serde_json::{Map, Value};

/// Most bytes of the frame (or of a string from it) that a [`ParseError`] message quotes.
const MAX_QUOTE: usize = 120;

/// What kind of problem made a frame unparseable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// Not JSON at all, or truncated JSON.
    InvalidJson,
    /// Valid JSON, but not an object.
    NotAnObject,
    /// No `type`, or a `type` that is not a string.
    MissingType,
    /// A field the session needs is absent (or `null`).
    MissingField,
    /// A field has the wrong JSON type (a string where a number belongs, a negative index...).
    WrongFieldType,
}

/// Why a server frame could not be turned into a [`ServerEvent`]. Its message is short
/// (input quoted at most [`MAX_QUOTE`] bytes) and safe to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    kind: ParseErrorKind,
    message: String,
}

impl ParseError {
    fn new(kind: ParseErrorKind, message: String) -> Self {
        Self { kind, message }
    }

    /// What went wrong, as a category.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// What went wrong, in words (bounded length).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid server event: {}", self.message)
    }
}

impl std::error::Error for ParseError {}

/// `s` cut to at most [`MAX_QUOTE`] bytes on a character boundary, with `...` and the full
/// length when it was cut.
fn quote(s: &str) -> String {
    if s.len() <= MAX_QUOTE {
        return format!("{s:?}");
    }
    let mut end = MAX_QUOTE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}... ({} bytes)", &s[..end], s.len())
}

/// An `error` event's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerError {
    /// `error.type`, e.g. `invalid_request_error`.
    pub error_type: String,
    /// `error.code`, e.g. `invalid_api_key`, when the server gives one.
    pub code: Option<String>,
    /// Human-readable description.
    pub message: String,
    /// The parameter at fault, when the server names one.
    pub param: Option<String>,
    /// The `event_id` of the client event that failed, when the server names it.
    pub event_id: Option<String>,
}

impl ServerError {
    /// Whether the session cannot go on (and must not reconnect in a loop): a fatal `code`
    /// (see [`is_fatal_error_code`]) or an authentication/permission error type.
    pub fn is_fatal(&self) -> bool {
        self.code.as_deref().is_some_and(is_fatal_error_code)
            || matches!(
                self.error_type.as_str(),
                "authentication_error" | "permission_error" | "permission_denied_error"
            )
    }
}

/// Whether an `error.code` ends the session for good: credentials rejected, account or
/// quota problems, the session's time is up, the endpoint refuses the schema spoken, or the
/// model does not exist. Reconnecting with the same configuration cannot help with any of
/// these. Everything else (a bad parameter, a commit of an empty buffer, a response already
/// active...) is reported and the session continues.
pub fn is_fatal_error_code(code: &str) -> bool {
    matches!(
        code,
        "invalid_api_key"
            | "invalid_authentication"
            | "authentication_error"
            | "authentication_failed"
            | "unauthorized"
            | "permission_denied"
            | "insufficient_permissions"
            | "account_deactivated"
            | "organization_deactivated"
            | "insufficient_quota"
            | "billing_hard_limit_reached"
            | "session_expired"
            | "client_secret_expired"
            | "beta_api_shape_disabled"
            | "beta_api_disabled"
            | "model_not_found"
            | "invalid_model"
    )
}

/// What the session needs to know about a conversation item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInfo {
    /// `item.id` (optional in the schema; real servers always send it).
    pub id: Option<String>,
    /// `item.type`: `message`, `function_call`, `function_call_output`, ...
    pub item_type: Option<String>,
    /// `item.role` for messages: `user`, `assistant`, `system`.
    pub role: Option<String>,
    /// `item.status`: `in_progress`, `completed`, `incomplete`.
    pub status: Option<String>,
}

/// A function call the model made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionCall {
    /// The id to answer with `function_call_output`.
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments as the model wrote them: a JSON string that may be invalid.
    pub arguments: String,
    /// The conversation item carrying the call, when known.
    pub item_id: Option<String>,
}

/// One parsed server event. Variants cover what the session acts on; every other valid
/// event is [`ServerEvent::Other`].
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// `session.created`: the first event, with the server's defaults.
    SessionCreated {
        /// `session.id` (real servers send it; the SDK's schema does not declare it).
        session_id: Option<String>,
        /// The whole `session` object.
        session: Value,
    },
    /// `session.updated`: the effective configuration after a `session.update`.
    SessionUpdated {
        /// The whole `session` object.
        session: Value,
    },
    /// `error`.
    Error(ServerError),
    /// `input_audio_buffer.speech_started` (server VAD heard the user start).
    SpeechStarted {
        /// The user item that will hold this speech.
        item_id: String,
        /// Milliseconds into the session's input audio.
        audio_start_ms: u64,
    },
    /// `input_audio_buffer.speech_stopped`.
    SpeechStopped {
        /// The user item holding the speech.
        item_id: String,
        /// Milliseconds into the session's input audio.
        audio_end_ms: u64,
    },
    /// `input_audio_buffer.committed`: the input became a user item.
    InputCommitted {
        /// The new user item.
        item_id: String,
        /// The item it follows, if any.
        previous_item_id: Option<String>,
    },
    /// `input_audio_buffer.cleared`.
    InputCleared,
    /// `input_audio_buffer.timeout_triggered` (server VAD idle timeout).
    InputTimeoutTriggered {
        /// The (empty) user item created for the timeout.
        item_id: String,
        /// Start of the idle span, in input-audio milliseconds.
        audio_start_ms: u64,
        /// End of the idle span, in input-audio milliseconds.
        audio_end_ms: u64,
    },
    /// `conversation.item.added` (GA) or `conversation.item.created` (beta).
    ItemAdded {
        /// The item.
        item: ItemInfo,
        /// The item it follows, if any.
        previous_item_id: Option<String>,
    },
    /// `conversation.item.done`: the item's content is final.
    ItemDone {
        /// The item.
        item: ItemInfo,
    },
    /// `conversation.item.truncated`: the server cut an assistant item's audio.
    ItemTruncated {
        /// The truncated item.
        item_id: String,
        /// The content part cut.
        content_index: u32,
        /// Where it was cut, in milliseconds of that item's audio.
        audio_end_ms: u64,
    },
    /// `conversation.item.deleted`.
    ItemDeleted {
        /// The deleted item.
        item_id: String,
    },
    /// `conversation.item.input_audio_transcription.delta`.
    InputTranscriptionDelta {
        /// The user item transcribed.
        item_id: String,
        /// The new text (empty if the server sent none).
        delta: String,
    },
    /// `conversation.item.input_audio_transcription.completed`.
    InputTranscriptionCompleted {
        /// The user item transcribed.
        item_id: String,
        /// The whole transcript.
        transcript: String,
    },
    /// `conversation.item.input_audio_transcription.failed`.
    InputTranscriptionFailed {
        /// The user item.
        item_id: String,
        /// `error.code`, if any.
        code: Option<String>,
        /// `error.message` (empty if the server sent none).
        message: String,
    },
    /// `response.created`.
    ResponseCreated {
        /// The new response.
        response_id: String,
    },
    /// `response.output_item.added`.
    OutputItemAdded {
        /// The response.
        response_id: String,
        /// Position in the response's output.
        output_index: u32,
        /// The item.
        item: ItemInfo,
        /// Present when the item is a function call.
        function_call: Option<FunctionCall>,
    },
    /// `response.output_item.done`.
    OutputItemDone {
        /// The response.
        response_id: String,
        /// Position in the response's output.
        output_index: u32,
        /// The item.
        item: ItemInfo,
        /// Present when the item is a function call (arguments complete).
        function_call: Option<FunctionCall>,
    },
    /// `response.output_audio.delta` (GA) or `response.audio.delta` (beta).
    AudioDelta {
        /// The response.
        response_id: String,
        /// The assistant item the audio belongs to (the one to truncate).
        item_id: String,
        /// Position in the response's output.
        output_index: u32,
        /// The content part (for truncation).
        content_index: u32,
        /// Base64 PCM16 in the session's output format.
        delta: String,
    },
    /// `response.output_audio.done` (GA) or `response.audio.done` (beta).
    AudioDone {
        /// The response.
        response_id: String,
        /// The assistant item.
        item_id: String,
        /// The content part.
        content_index: u32,
    },
    /// `response.output_audio_transcript.delta` (GA) or `response.audio_transcript.delta`.
    AudioTranscriptDelta {
        /// The response.
        response_id: String,
        /// The assistant item.
        item_id: String,
        /// The content part.
        content_index: u32,
        /// The new text.
        delta: String,
    },
    /// `response.output_audio_transcript.done` (GA) or `response.audio_transcript.done`.
    AudioTranscriptDone {
        /// The response.
        response_id: String,
        /// The assistant item.
        item_id: String,
        /// The content part.
        content_index: u32,
        /// The whole transcript.
        transcript: String,
    },
    /// `response.output_text.delta` (GA) or `response.text.delta` (beta).
    TextDelta {
        /// The response.
        response_id: String,
        /// The assistant item.
        item_id: String,
        /// The content part.
        content_index: u32,
        /// The new text.
        delta: String,
    },
    /// `response.output_text.done` (GA) or `response.text.done` (beta).
    TextDone {
        /// The response.
        response_id: String,
        /// The assistant item.
        item_id: String,
        /// The content part.
        content_index: u32,
        /// The whole text.
        text: String,
    },
    /// `response.function_call_arguments.delta`.
    FunctionCallArgumentsDelta {
        /// The response.
        response_id: String,
        /// The function-call item.
        item_id: String,
        /// The call.
        call_id: String,
        /// More of the arguments string.
        delta: String,
    },
    /// `response.function_call_arguments.done`: the call is complete.
    FunctionCallArgumentsDone {
        /// The response.
        response_id: String,
        /// The call (`item_id` is always known here).
        call: FunctionCall,
    },
    /// `response.done`.
    ResponseDone {
        /// The response.
        response_id: String,
        /// `completed`, `cancelled`, `incomplete`, `failed` (absent on some servers).
        status: Option<String>,
        /// `status_details` (reason, error), verbatim.
        status_details: Option<Value>,
        /// `usage` (token counts), verbatim.
        usage: Option<Value>,
        /// The function calls in `output`, in order.
        function_calls: Vec<FunctionCall>,
    },
    /// `rate_limits.updated`.
    RateLimitsUpdated {
        /// The `rate_limits` array, verbatim.
        rate_limits: Value,
    },
    /// Any other well-formed event (content parts, WebRTC-only, MCP, future types...).
    Other {
        /// Its `type`.
        event_type: String,
    },
}

impl ServerEvent {
    /// A short name for logs: the GA event type this variant stands for (the actual type
    /// for [`ServerEvent::Other`]).
    pub fn name(&self) -> &str {
        match self {
            Self::SessionCreated { .. } => "session.created",
            Self::SessionUpdated { .. } => "session.updated",
            Self::Error(_) => "error",
            Self::SpeechStarted { .. } => "input_audio_buffer.speech_started",
            Self::SpeechStopped { .. } => "input_audio_buffer.speech_stopped",
            Self::InputCommitted { .. } => "input_audio_buffer.committed",
            Self::InputCleared => "input_audio_buffer.cleared",
            Self::InputTimeoutTriggered { .. } => "input_audio_buffer.timeout_triggered",
            Self::ItemAdded { .. } => "conversation.item.added",
            Self::ItemDone { .. } => "conversation.item.done",
            Self::ItemTruncated { .. } => "conversation.item.truncated",
            Self::ItemDeleted { .. } => "conversation.item.deleted",
            Self::InputTranscriptionDelta { .. } => {
                "conversation.item.input_audio_transcription.delta"
            }
            Self::InputTranscriptionCompleted { .. } => {
                "conversation.item.input_audio_transcription.completed"
            }
            Self::InputTranscriptionFailed { .. } => {
                "conversation.item.input_audio_transcription.failed"
            }
            Self::ResponseCreated { .. } => "response.created",
            Self::OutputItemAdded { .. } => "response.output_item.added",
            Self::OutputItemDone { .. } => "response.output_item.done",
            Self::AudioDelta { .. } => "response.output_audio.delta",
            Self::AudioDone { .. } => "response.output_audio.done",
            Self::AudioTranscriptDelta { .. } => "response.output_audio_transcript.delta",
            Self::AudioTranscriptDone { .. } => "response.output_audio_transcript.done",
            Self::TextDelta { .. } => "response.output_text.delta",
            Self::TextDone { .. } => "response.output_text.done",
            Self::FunctionCallArgumentsDelta { .. } => "response.function_call_arguments.delta",
            Self::FunctionCallArgumentsDone { .. } => "response.function_call_arguments.done",
            Self::ResponseDone { .. } => "response.done",
            Self::RateLimitsUpdated { .. } => "rate_limits.updated",
            Self::Other { event_type } => event_type,
        }
    }
}

/// Parses one server frame. See the module docs for what is accepted and what is an error.
pub fn parse_server_event(text: &str) -> Result<ServerEvent, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        // serde_json's message names a line and column, never the input itself.
        ParseError::new(
            ParseErrorKind::InvalidJson,
            format!("not valid JSON ({e}); frame starts {}", quote(text)),
        )
    })?;
    let Value::Object(mut map) = value else {
        return Err(ParseError::new(
            ParseErrorKind::NotAnObject,
            format!("not a JSON object; frame starts {}", quote(text)),
        ));
    };
    let event_type = match map.remove("type") {
        Some(Value::String(t)) => t,
        Some(other) => {
            return Err(ParseError::new(
                ParseErrorKind::MissingType,
                format!("`type` is {}, not a string", json_kind(&other)),
            ))
        }
        None => {
            return Err(ParseError::new(
                ParseErrorKind::MissingType,
                format!("no `type`; frame starts {}", quote(text)),
            ))
        }
    };
    let mut fields = Fields {
        event_type: &event_type,
        path: String::new(),
        map,
    };
    parse_fields(&event_type, &mut fields)
}

/// Dispatch on the type, GA and beta names together.
fn parse_fields(event_type: &str, f: &mut Fields<'_>) -> Result<ServerEvent, ParseError> {
    Ok(match event_type {
        "session.created" => {
            let session = f.take_object_value("session")?;
            let session_id = session.get("id").and_then(Value::as_str).map(str::to_owned);
            ServerEvent::SessionCreated {
                session_id,
                session,
            }
        }
        "session.updated" => ServerEvent::SessionUpdated {
            session: f.take_object_value("session")?,
        },
        "error" => ServerEvent::Error(parse_error_payload(f)?),
        "input_audio_buffer.speech_started" => ServerEvent::SpeechStarted {
            item_id: f.string("item_id")?,
            audio_start_ms: f.u64("audio_start_ms")?,
        },
        "input_audio_buffer.speech_stopped" => ServerEvent::SpeechStopped {
            item_id: f.string("item_id")?,
            audio_end_ms: f.u64("audio_end_ms")?,
        },
        "input_audio_buffer.committed" => ServerEvent::InputCommitted {
            item_id: f.string("item_id")?,
            previous_item_id: f.opt_string("previous_item_id")?,
        },
        "input_audio_buffer.cleared" => ServerEvent::InputCleared,
        "input_audio_buffer.timeout_triggered" => ServerEvent::InputTimeoutTriggered {
            item_id: f.string("item_id")?,
            audio_start_ms: f.u64("audio_start_ms")?,
            audio_end_ms: f.u64("audio_end_ms")?,
        },
        "conversation.item.added" | "conversation.item.created" => {
            let previous_item_id = f.opt_string("previous_item_id")?;
            ServerEvent::ItemAdded {
                item: parse_item_info(&mut f.object("item")?)?,
                previous_item_id,
            }
        }
        "conversation.item.done" => ServerEvent::ItemDone {
            item: parse_item_info(&mut f.object("item")?)?,
        },
        "conversation.item.truncated" => ServerEvent::ItemTruncated {
            item_id: f.string("item_id")?,
            content_index: f.index("content_index")?,
            audio_end_ms: f.u64("audio_end_ms")?,
        },
        "conversation.item.deleted" => ServerEvent::ItemDeleted {
            item_id: f.string("item_id")?,
        },
        "conversation.item.input_audio_transcription.delta" => {
            ServerEvent::InputTranscriptionDelta {
                item_id: f.string("item_id")?,
                delta: f.opt_string("delta")?.unwrap_or_default(),
            }
        }
        "conversation.item.input_audio_transcription.completed" => {
            ServerEvent::InputTranscriptionCompleted {
                item_id: f.string("item_id")?,
                transcript: f.string("transcript")?,
            }
        }
        "conversation.item.input_audio_transcription.failed" => {
            let item_id = f.string("item_id")?;
            let mut error = f.object("error")?;
            ServerEvent::InputTranscriptionFailed {
                item_id,
                code: error.lenient_string("code"),
                message: error.lenient_string("message").unwrap_or_default(),
            }
        }
        "response.created" => ServerEvent::ResponseCreated {
            response_id: f.object("response")?.string("id")?,
        },
        "response.output_item.added" | "response.output_item.done" => {
            let response_id = f.string("response_id")?;
            let output_index = f.index("output_index")?;
            let mut item_fields = f.object("item")?;
            let item = parse_item_info(&mut item_fields)?;
            let function_call = parse_function_call(&mut item_fields, &item)?;
            if event_type.ends_with("added") {
                ServerEvent::OutputItemAdded {
                    response_id,
                    output_index,
                    item,
                    function_call,
                }
            } else {
                ServerEvent::OutputItemDone {
                    response_id,
                    output_index,
                    item,
                    function_call,
                }
            }
        }
        "response.output_audio.delta" | "response.audio.delta" => ServerEvent::AudioDelta {
            response_id: f.string("response_id")?,
            item_id: f.string("item_id")?,
            output_index: f.index("output_index")?,
            content_index: f.index("content_index")?,
            delta: f.string("delta")?,
        },
        "response.output_audio.done" | "response.audio.done" => ServerEvent::AudioDone {
            response_id: f.string("response_id")?,
            item_id: f.string("item_id")?,
            content_index: f.index("content_index")?,
        },
        "response.output_audio_transcript.delta" | "response.audio_transcript.delta" => {
            ServerEvent::AudioTranscriptDelta {
                response_id: f.string("response_id")?,
                item_id: f.string("item_id")?,
                content_index: f.index("content_index")?,
                delta: f.string("delta")?,
            }
        }
        "response.output_audio_transcript.done" | "response.audio_transcript.done" => {
            ServerEvent::AudioTranscriptDone {
                response_id: f.string("response_id")?,
                item_id: f.string("item_id")?,
                content_index: f.index("content_index")?,
                transcript: f.string("transcript")?,
            }
        }
        "response.output_text.delta" | "response.text.delta" => ServerEvent::TextDelta {
            response_id: f.string("response_id")?,
            item_id: f.string("item_id")?,
            content_index: f.index("content_index")?,
            delta: f.string("delta")?,
        },
        "response.output_text.done" | "response.text.done" => ServerEvent::TextDone {
            response_id: f.string("response_id")?,
            item_id: f.string("item_id")?,
            content_index: f.index("content_index")?,
            text: f.string("text")?,
        },
        "response.function_call_arguments.delta" => ServerEvent::FunctionCallArgumentsDelta {
            response_id: f.string("response_id")?,
            item_id: f.string("item_id")?,
            call_id: f.string("call_id")?,
            delta: f.string("delta")?,
        },
        "response.function_call_arguments.done" => ServerEvent::FunctionCallArgumentsDone {
            response_id: f.string("response_id")?,
            call: FunctionCall {
                call_id: f.string("call_id")?,
                name: f.string("name")?,
                arguments: f.string("arguments")?,
                item_id: Some(f.string("item_id")?),
            },
        },
        "response.done" => parse_response_done(f)?,
        "rate_limits.updated" => ServerEvent::RateLimitsUpdated {
            rate_limits: f.take_array_value("rate_limits")?,
        },
        _ => ServerEvent::Other {
            event_type: event_type.to_owned(),
        },
    })
}

fn parse_error_payload(f: &mut Fields<'_>) -> Result<ServerError, ParseError> {
    let mut error = f.object("error")?;
    Ok(ServerError {
        // An error must never be lost to a quirk of its own shape: only `message` and
        // `type` are required, the rest is read leniently.
        error_type: error.string("type")?,
        message: error.string("message")?,
        code: error.lenient_string("code"),
        param: error.lenient_string("param"),
        event_id: error.lenient_string("event_id"),
    })
}

fn parse_response_done(f: &mut Fields<'_>) -> Result<ServerEvent, ParseError> {
    let mut response = f.object("response")?;
    let response_id = response.string("id")?;
    let status = response.opt_string("status")?;
    let status_details = response.take_opt("status_details");
    let usage = response.take_opt("usage");
    let mut function_calls = Vec::new();
    if let Some(output) = response.take_opt("output") {
        let Value::Array(items) = output else {
            return Err(response.wrong_type("output", "an array", &output));
        };
        for (index, item) in items.into_iter().enumerate() {
            let Value::Object(item_map) = item else {
                return Err(response.wrong_type(&format!("output[{index}]"), "an object", &item));
            };
            let mut item_fields = Fields {
                event_type: response.event_type,
                path: format!("response.output[{index}]"),
                map: item_map,
            };
            let info = parse_item_info(&mut item_fields)?;
            if let Some(call) = parse_function_call(&mut item_fields, &info)? {
                function_calls.push(call);
            }
        }
    }
    Ok(ServerEvent::ResponseDone {
        response_id,
        status,
        status_details,
        usage,
        function_calls,
    })
}

/// The function call an item carries, if it is a `function_call` item (`info` was read
/// from the same item first). Such an item must have `call_id` (optional in the schema,
/// but a call that cannot be answered is useless), `name` and `arguments`.
fn parse_function_call(
    item: &mut Fields<'_>,
    info: &ItemInfo,
) -> Result<Option<FunctionCall>, ParseError> {
    if info.item_type.as_deref() != Some("function_call") {
        return Ok(None);
    }
    Ok(Some(FunctionCall {
        call_id: item.string("call_id")?,
        name: item.string("name")?,
        arguments: item.string("arguments")?,
        item_id: info.id.clone(),
    }))
}

fn parse_item_info(item: &mut Fields<'_>) -> Result<ItemInfo, ParseError> {
    Ok(ItemInfo {
        id: item.opt_string("id")?,
        item_type: item.opt_string("type")?,
        role: item.opt_string("role")?,
        status: item.opt_string("status")?,
    })
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Typed access to one JSON object of an event, producing errors that name the event
/// type and the field's path. Values are moved out (`take`), not copied: audio deltas are
/// large.
struct Fields<'a> {
    event_type: &'a str,
    /// Path of this object inside the event (empty for the event itself).
    path: String,
    map: Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn where_(&self, key: &str) -> String {
        let event_type = quote(self.event_type);
        if self.path.is_empty() {
            format!("{event_type}: `{key}`")
        } else {
            format!("{event_type}: `{}.{key}`", self.path)
        }
    }

    fn missing(&self, key: &str) -> ParseError {
        ParseError::new(
            ParseErrorKind::MissingField,
            format!("{} is required but missing", self.where_(key)),
        )
    }

    fn wrong_type(&self, key: &str, expected: &str, got: &Value) -> ParseError {
        let got = match got {
            Value::Number(n) => format!("the number {}", quote(&n.to_string())),
            other => json_kind(other).to_owned(),
        };
        ParseError::new(
            ParseErrorKind::WrongFieldType,
            format!("{} must be {expected}, got {got}", self.where_(key)),
        )
    }

    /// Removes and returns `key` when present and not `null`.
    fn take_opt(&mut self, key: &str) -> Option<Value> {
        match self.map.remove(key) {
            Some(Value::Null) | None => None,
            some => some,
        }
    }

    fn string(&mut self, key: &str) -> Result<String, ParseError> {
        match self.take_opt(key) {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(self.wrong_type(key, "a string", &other)),
            None => Err(self.missing(key)),
        }
    }

    fn opt_string(&mut self, key: &str) -> Result<Option<String>, ParseError> {
        match self.take_opt(key) {
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(key, "a string", &other)),
            None => Ok(None),
        }
    }

    /// A string field that never fails: numbers and booleans are written out, anything
    /// else is `None`. For error payloads, which must not be lost over a quirk.
    fn lenient_string(&mut self, key: &str) -> Option<String> {
        match self.take_opt(key)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    fn u64(&mut self, key: &str) -> Result<u64, ParseError> {
        match self.take_opt(key) {
            Some(v) => v
                .as_u64()
                .ok_or_else(|| self.wrong_type(key, "a non-negative integer", &v)),
            None => Err(self.missing(key)),
        }
    }

    /// An `output_index`/`content_index`: 0 when absent (see the module docs).
    fn index(&mut self, key: &str) -> Result<u32, ParseError> {
        match self.take_opt(key) {
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| self.wrong_type(key, "an index (0..2^32)", &v)),
            None => Ok(0),
        }
    }

    fn take_object_value(&mut self, key: &str) -> Result<Value, ParseError> {
        match self.take_opt(key) {
            Some(v @ Value::Object(_)) => Ok(v),
            Some(other) => Err(self.wrong_type(key, "an object", &other)),
            None => Err(self.missing(key)),
        }
    }

    fn take_array_value(&mut self, key: &str) -> Result<Value, ParseError> {
        match self.take_opt(key) {
            Some(v @ Value::Array(_)) => Ok(v),
            Some(other) => Err(self.wrong_type(key, "an array", &other)),
            None => Err(self.missing(key)),
        }
    }

    /// A required nested object, with typed access of its own.
    fn object(&mut self, key: &str) -> Result<Fields<'a>, ParseError> {
        match self.take_opt(key) {
            Some(Value::Object(map)) => Ok(Fields {
                event_type: self.event_type,
                path: if self.path.is_empty() {
                    key.to_owned()
                } else {
                    format!("{}.{key}", self.path)
                },
                map,
            }),
            Some(other) => Err(self.wrong_type(key, "an object", &other)),
            None => Err(self.missing(key)),
        }
    }
}
