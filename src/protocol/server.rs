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
/// (at most 120 bytes of the input are quoted) and safe to log.
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemInfo {
    /// `item.id` (optional in the schema; real servers always send it).
    pub id: Option<String>,
    /// `item.type`: `message`, `function_call`, `function_call_output`, ...
    pub item_type: Option<String>,
    /// `item.role` for messages: `user`, `assistant`, `system`.
    pub role: Option<String>,
    /// `item.status`: `in_progress`, `completed`, `incomplete`.
    pub status: Option<String>,
    /// `item.content` of messages, in order (empty for other items).
    pub content: Vec<ContentPart>,
    /// `call_id` of `function_call` and `function_call_output` items.
    pub call_id: Option<String>,
    /// `name` of `function_call` items.
    pub name: Option<String>,
    /// `arguments` of `function_call` items (a JSON string the model wrote).
    pub arguments: Option<String>,
    /// `output` of `function_call_output` items.
    pub output: Option<String>,
}

impl ItemInfo {
    /// The item's words: its text and transcript parts joined, `None` when it has none
    /// (an item still in progress, audio not transcribed, a tool call).
    pub fn text(&self) -> Option<String> {
        let parts: Vec<&str> = self
            .content
            .iter()
            .filter_map(|p| p.text.as_deref())
            .filter(|t| !t.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// One content part of a message item, read leniently: a part of a shape the plugin does
/// not know is kept with what could be read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentPart {
    /// `type`: `input_text`, `input_audio`, `input_image`, `output_text`, `output_audio`
    /// (beta: `text`, `audio`).
    pub part_type: Option<String>,
    /// `text`, or `transcript` for audio parts.
    pub text: Option<String>,
    /// `image_url` of `input_image` parts (a data URL).
    pub image_url: Option<String>,
    /// `detail` of `input_image` parts.
    pub detail: Option<String>,
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

/// A call's arguments parsed, when they are a JSON object (what a tool's `parameters`
/// schema describes); `Value::Null` when the model wrote invalid JSON or something other
/// than an object. The raw text is kept beside it either way.
pub fn arguments_object(raw: &str) -> Value {
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::Null,
    }
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
    /// `conversation.item.retrieved`: the server's whole view of an item, answering a
    /// `conversation.item.retrieve` the host sent.
    ItemRetrieved {
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
        /// `response.metadata` the client gave it (out-of-band responses), verbatim.
        metadata: Option<Value>,
        /// `response.conversation_id`: `None` for a response outside the conversation.
        conversation_id: Option<String>,
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
    /// `response.function_call_arguments.done`: the call's arguments are complete.
    FunctionCallArgumentsDone {
        /// The response.
        response_id: String,
        /// The function-call item.
        item_id: String,
        /// The call.
        call_id: String,
        /// The tool's name (GA sends it; the beta schema does not, in which case it is in the
        /// item of `response.output_item.added`/`.done` and in `response.done`).
        name: Option<String>,
        /// The arguments as the model wrote them: a JSON string that may be invalid.
        arguments: String,
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
        /// `metadata` the client gave the response, verbatim.
        metadata: Option<Value>,
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
            Self::ItemRetrieved { .. } => "conversation.item.retrieved",
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
        "conversation.item.retrieved" => ServerEvent::ItemRetrieved {
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
        "response.created" => {
            let mut response = f.object("response")?;
            ServerEvent::ResponseCreated {
                response_id: response.string("id")?,
                metadata: response.take_opt("metadata"),
                conversation_id: response.lenient_string("conversation_id"),
            }
        }
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
            item_id: f.string("item_id")?,
            call_id: f.string("call_id")?,
            name: f.opt_string("name")?,
            arguments: f.string("arguments")?,
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
    let metadata = response.take_opt("metadata");
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
        metadata,
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
    // Copied, not taken: a function call's fields are read again by parse_function_call.
    let peek = |key: &str| item.map.get(key).and_then(Value::as_str).map(str::to_owned);
    let (call_id, name, arguments, output) = (
        peek("call_id"),
        peek("name"),
        peek("arguments"),
        peek("output"),
    );
    let content = match item.map.get("content") {
        Some(Value::Array(parts)) => parts.iter().filter_map(parse_content_part).collect(),
        _ => Vec::new(),
    };
    Ok(ItemInfo {
        id: item.opt_string("id")?,
        item_type: item.opt_string("type")?,
        role: item.opt_string("role")?,
        status: item.opt_string("status")?,
        content,
        call_id,
        name,
        arguments,
        output,
    })
}

fn parse_content_part(part: &Value) -> Option<ContentPart> {
    let part = part.as_object()?;
    let string = |key: &str| part.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(ContentPart {
        part_type: string("type"),
        text: string("text").or_else(|| string("transcript")),
        image_url: string("image_url"),
        detail: string("detail"),
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
    fn locate(&self, key: &str) -> String {
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
            format!("{} is required but missing", self.locate(key)),
        )
    }

    fn wrong_type(&self, key: &str, expected: &str, got: &Value) -> ParseError {
        let got = match got {
            Value::Number(n) => format!("the number {}", quote(&n.to_string())),
            other => json_kind(other).to_owned(),
        };
        ParseError::new(
            ParseErrorKind::WrongFieldType,
            format!("{} must be {expected}, got {got}", self.locate(key)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> ServerEvent {
        parse_server_event(text).unwrap_or_else(|e| panic!("{text} should parse: {e}"))
    }

    fn parse_err(text: &str) -> ParseError {
        match parse_server_event(text) {
            Ok(event) => panic!("{text} should not parse, got {event:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn garbage_and_truncated_json_are_errors() {
        for text in [
            "",
            "   ",
            "nope",
            "{",
            "{\"type\":",
            "{\"type\":\"error\"",
            "\u{0}\u{1}",
        ] {
            assert_eq!(
                parse_err(text).kind(),
                ParseErrorKind::InvalidJson,
                "{text:?}"
            );
        }
        let full = r#"{"type":"response.output_audio.delta","response_id":"r","item_id":"i","delta":"AAAA"}"#;
        for cut in 0..full.len() - 1 {
            assert!(
                parse_server_event(&full[..cut]).is_err(),
                "prefix {cut} must fail"
            );
        }
        for text in ["[]", "3", "\"session.created\"", "null", "true"] {
            assert_eq!(
                parse_err(text).kind(),
                ParseErrorKind::NotAnObject,
                "{text}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let depth = 100_000;
        let deep = format!(
            "{{\"type\":\"session.updated\",\"session\":{}{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        assert_eq!(parse_err(&deep).kind(), ParseErrorKind::InvalidJson);
    }

    #[test]
    fn type_must_be_a_string() {
        assert_eq!(parse_err("{}").kind(), ParseErrorKind::MissingType);
        assert_eq!(
            parse_err(r#"{"item_id":"x"}"#).kind(),
            ParseErrorKind::MissingType
        );
        let e = parse_err(r#"{"type":42}"#);
        assert_eq!(e.kind(), ParseErrorKind::MissingType);
        assert!(e.message().contains("a number"), "{e}");
        assert_eq!(
            parse_err(r#"{"type":null}"#).kind(),
            ParseErrorKind::MissingType
        );
    }

    #[test]
    fn unknown_types_are_other() {
        assert_eq!(
            parse_ok(r#"{"type":"response.content_part.added","whatever":[1,2]}"#),
            ServerEvent::Other {
                event_type: "response.content_part.added".into()
            }
        );
        let future = parse_ok(r#"{"type":"something.new.in.2027"}"#);
        assert_eq!(future.name(), "something.new.in.2027");
    }

    #[test]
    fn missing_and_wrongly_typed_fields_are_errors_naming_the_field() {
        let e = parse_err(r#"{"type":"input_audio_buffer.speech_started","item_id":"i"}"#);
        assert_eq!(e.kind(), ParseErrorKind::MissingField);
        assert!(e.message().contains("audio_start_ms"), "{e}");
        let e = parse_err(
            r#"{"type":"input_audio_buffer.speech_started","item_id":"i","audio_start_ms":"100"}"#,
        );
        assert_eq!(e.kind(), ParseErrorKind::WrongFieldType);
        assert!(e.message().contains("audio_start_ms") && e.message().contains("a string"));
        let negative =
            r#"{"type":"input_audio_buffer.speech_stopped","item_id":"i","audio_end_ms":-5}"#;
        assert_eq!(parse_err(negative).kind(), ParseErrorKind::WrongFieldType);
        let fractional =
            r#"{"type":"input_audio_buffer.speech_stopped","item_id":"i","audio_end_ms":1.5}"#;
        assert_eq!(parse_err(fractional).kind(), ParseErrorKind::WrongFieldType);
        let delta_number =
            r#"{"type":"response.output_audio.delta","response_id":"r","item_id":"i","delta":5}"#;
        assert_eq!(
            parse_err(delta_number).kind(),
            ParseErrorKind::WrongFieldType
        );
        let null_delta = r#"{"type":"response.output_audio.delta","response_id":"r","item_id":"i","delta":null}"#;
        assert_eq!(parse_err(null_delta).kind(), ParseErrorKind::MissingField);
        let big_index = r#"{"type":"response.output_audio.delta","response_id":"r","item_id":"i","content_index":4294967296,"delta":""}"#;
        assert_eq!(parse_err(big_index).kind(), ParseErrorKind::WrongFieldType);
        let session_string = r#"{"type":"session.created","session":"sess_1"}"#;
        assert_eq!(
            parse_err(session_string).kind(),
            ParseErrorKind::WrongFieldType
        );
        let no_response_id = r#"{"type":"response.done","response":{"status":"completed"}}"#;
        let e = parse_err(no_response_id);
        assert!(e.message().contains("response.id"), "{e}");
        let output_object = r#"{"type":"response.done","response":{"id":"r","output":{}}}"#;
        assert_eq!(
            parse_err(output_object).kind(),
            ParseErrorKind::WrongFieldType
        );
        let call_without_id = r#"{"type":"response.done","response":{"id":"r","output":[{"type":"function_call","name":"f","arguments":"{}"}]}}"#;
        let e = parse_err(call_without_id);
        assert!(e.message().contains("response.output[0].call_id"), "{e}");
        let error_without_message = r#"{"type":"error","error":{"type":"server_error"}}"#;
        assert_eq!(
            parse_err(error_without_message).kind(),
            ParseErrorKind::MissingField
        );
    }

    #[test]
    fn huge_inputs_give_short_messages() {
        let megabytes = "A".repeat(4 << 20);
        let cases = [
            format!("{{\"type\":\"response.output_audio.delta\",\"delta\":\"{megabytes}\""),
            format!("[\"{megabytes}\"]"),
            format!("{{\"item\":\"{megabytes}\"}}"),
            format!("{{\"type\":\"input_audio_buffer.speech_started\",\"item_id\":\"i\",\"audio_start_ms\":{}}}", "9".repeat(1 << 20)),
            format!("{{\"type\":\"{megabytes}é\",\"x\":1"),
        ];
        for text in &cases {
            let e = parse_server_event(text).expect_err("must fail");
            assert!(
                e.to_string().len() < 1000,
                "message of {} bytes",
                e.to_string().len()
            );
        }
        // A huge event type that parses is kept (it is the caller's to log carefully), and a
        // huge valid delta comes through intact.
        let ok = format!(
            "{{\"type\":\"response.output_audio.delta\",\"response_id\":\"r\",\"item_id\":\"i\",\"delta\":\"{megabytes}\"}}"
        );
        match parse_ok(&ok) {
            ServerEvent::AudioDelta { delta, .. } => assert_eq!(delta.len(), megabytes.len()),
            other => panic!("{other:?}"),
        }
        // Quoting never splits a multi-byte character.
        let multibyte = "é".repeat(200);
        let e = parse_err(&format!("[\"{multibyte}"));
        assert!(e.message().contains("bytes)"), "{e}");
    }

    #[test]
    fn ga_and_beta_audio_names_are_the_same_event() {
        for name in ["response.output_audio.delta", "response.audio.delta"] {
            let text = format!(
                r#"{{"type":"{name}","response_id":"r1","item_id":"i1","output_index":1,"content_index":2,"delta":"AAEC"}}"#
            );
            assert_eq!(
                parse_ok(&text),
                ServerEvent::AudioDelta {
                    response_id: "r1".into(),
                    item_id: "i1".into(),
                    output_index: 1,
                    content_index: 2,
                    delta: "AAEC".into()
                }
            );
        }
        for name in ["response.output_audio.done", "response.audio.done"] {
            let text = format!(r#"{{"type":"{name}","response_id":"r","item_id":"i"}}"#);
            assert!(matches!(
                parse_ok(&text),
                ServerEvent::AudioDone {
                    content_index: 0,
                    ..
                }
            ));
        }
        for (name, done) in [
            ("response.output_audio_transcript.delta", false),
            ("response.audio_transcript.delta", false),
            ("response.output_audio_transcript.done", true),
            ("response.audio_transcript.done", true),
        ] {
            let text = format!(
                r#"{{"type":"{name}","response_id":"r","item_id":"i","content_index":0,"delta":"Hi","transcript":"Hi."}}"#
            );
            match (parse_ok(&text), done) {
                (ServerEvent::AudioTranscriptDelta { delta, .. }, false) => assert_eq!(delta, "Hi"),
                (ServerEvent::AudioTranscriptDone { transcript, .. }, true) => {
                    assert_eq!(transcript, "Hi.")
                }
                (other, _) => panic!("{name}: {other:?}"),
            }
        }
        for (name, done) in [
            ("response.output_text.delta", false),
            ("response.text.delta", false),
            ("response.output_text.done", true),
            ("response.text.done", true),
        ] {
            let text = format!(
                r#"{{"type":"{name}","response_id":"r","item_id":"i","delta":"He","text":"Hello"}}"#
            );
            match (parse_ok(&text), done) {
                (ServerEvent::TextDelta { delta, .. }, false) => assert_eq!(delta, "He"),
                (ServerEvent::TextDone { text, .. }, true) => assert_eq!(text, "Hello"),
                (other, _) => panic!("{name}: {other:?}"),
            }
        }
        for name in ["conversation.item.added", "conversation.item.created"] {
            let text = format!(
                r#"{{"type":"{name}","previous_item_id":"p","item":{{"id":"i","type":"message","role":"user","content":[]}}}}"#
            );
            assert_eq!(
                parse_ok(&text),
                ServerEvent::ItemAdded {
                    item: ItemInfo {
                        id: Some("i".into()),
                        item_type: Some("message".into()),
                        role: Some("user".into()),
                        status: None,
                        ..ItemInfo::default()
                    },
                    previous_item_id: Some("p".into())
                }
            );
        }
    }

    #[test]
    fn items_carry_their_words_and_tool_fields_and_responses_their_metadata() {
        let text = r#"{"type":"conversation.item.done","item":{"id":"u1","type":"message","role":"user",
            "content":[{"type":"input_text","text":"look"},{"type":"input_image","image_url":"data:image/png;base64,AA","detail":"low"},
                       {"type":"input_audio","transcript":"at this"},{"type":"input_audio","transcript":null}, 7]}}"#;
        let ServerEvent::ItemDone { item } = parse_ok(text) else {
            panic!("not item.done")
        };
        assert_eq!(item.text().as_deref(), Some("look at this"));
        assert_eq!(item.content.len(), 4, "a part that is no object is skipped");
        assert_eq!(
            item.content[1].image_url.as_deref(),
            Some("data:image/png;base64,AA")
        );
        assert_eq!(item.content[1].detail.as_deref(), Some("low"));
        let text = r#"{"type":"conversation.item.added","item":{"id":"o1","type":"function_call_output","call_id":"c1","output":"ok"}}"#;
        let ServerEvent::ItemAdded { item, .. } = parse_ok(text) else {
            panic!("not item.added")
        };
        assert_eq!(
            (item.call_id.as_deref(), item.output.as_deref(), item.text()),
            (Some("c1"), Some("ok"), None)
        );
        let text = r#"{"type":"response.output_item.done","response_id":"r","output_index":0,
            "item":{"id":"f1","type":"function_call","call_id":"c1","name":"move","arguments":"{}"}}"#;
        let ServerEvent::OutputItemDone {
            item,
            function_call: Some(call),
            ..
        } = parse_ok(text)
        else {
            panic!("not a call")
        };
        assert_eq!(item.name.as_deref(), Some("move"));
        assert_eq!(call.call_id, "c1", "the call is still read whole");
        let text = r#"{"type":"response.created","response":{"id":"r1","conversation_id":null,"metadata":{"topic":"mood"}}}"#;
        assert_eq!(
            parse_ok(text),
            ServerEvent::ResponseCreated {
                response_id: "r1".into(),
                metadata: Some(serde_json::json!({"topic": "mood"})),
                conversation_id: None
            }
        );
    }

    #[test]
    fn a_retrieved_item_is_read_like_any_item_and_needs_one() {
        let text = r#"{"type":"conversation.item.retrieved","event_id":"e","item":{"id":"u1","object":"realtime.item",
            "type":"message","status":"completed","role":"user","content":[{"type":"input_audio","transcript":"hello","audio":"AAAA"}]}}"#;
        let event = parse_ok(text);
        assert_eq!(event.name(), "conversation.item.retrieved");
        let ServerEvent::ItemRetrieved { item } = event else {
            panic!("not item.retrieved")
        };
        assert_eq!(item.id.as_deref(), Some("u1"));
        assert_eq!(item.text().as_deref(), Some("hello"));
        let e = parse_err(r#"{"type":"conversation.item.retrieved","event_id":"e"}"#);
        assert_eq!(e.kind(), ParseErrorKind::MissingField);
    }

    #[test]
    fn error_events_and_fatality() {
        let text = r#"{"type":"error","event_id":"e","error":{"type":"invalid_request_error","code":"invalid_api_key","message":"bad key","param":null,"event_id":"evt_1"}}"#;
        let ServerEvent::Error(error) = parse_ok(text) else {
            panic!("not an error event")
        };
        assert_eq!(
            error,
            ServerError {
                error_type: "invalid_request_error".into(),
                code: Some("invalid_api_key".into()),
                message: "bad key".into(),
                param: None,
                event_id: Some("evt_1".into())
            }
        );
        assert!(error.is_fatal());
        // Quirky optional fields never lose the error.
        let quirky = r#"{"type":"error","error":{"type":"server_error","code":500,"message":"oops","param":{"x":1}}}"#;
        let ServerEvent::Error(error) = parse_ok(quirky) else {
            panic!("not an error event")
        };
        assert_eq!(error.code.as_deref(), Some("500"));
        assert_eq!(error.param, None);
        assert!(!error.is_fatal());
        let auth_type = ServerError {
            error_type: "authentication_error".into(),
            code: None,
            message: String::new(),
            param: None,
            event_id: None,
        };
        assert!(auth_type.is_fatal());
        for code in [
            "invalid_api_key",
            "session_expired",
            "beta_api_shape_disabled",
        ] {
            assert!(is_fatal_error_code(code), "{code}");
        }
        for code in [
            "input_audio_buffer_commit_empty",
            "conversation_already_has_active_response",
            "unknown_parameter",
            "",
        ] {
            assert!(!is_fatal_error_code(code), "{code}");
        }
    }

    #[test]
    fn response_done_collects_function_calls_in_order() {
        let text = r#"{"type":"response.done","response":{"id":"resp_1","status":"completed",
            "status_details":null,"usage":{"total_tokens":5},"metadata":{"topic":"mood"},
            "output":[
              {"id":"m1","type":"message","role":"assistant","content":[]},
              {"id":"c1","type":"function_call","call_id":"call_a","name":"move_cube","arguments":"{\"dx\":1}"},
              {"id":"c2","type":"function_call","call_id":"call_b","name":"spin","arguments":"not json"}
            ]}}"#;
        let ServerEvent::ResponseDone {
            response_id,
            status,
            status_details,
            usage,
            metadata,
            function_calls,
        } = parse_ok(text)
        else {
            panic!("not response.done")
        };
        assert_eq!(metadata, Some(serde_json::json!({"topic": "mood"})));
        assert_eq!(response_id, "resp_1");
        assert_eq!(status.as_deref(), Some("completed"));
        assert_eq!(status_details, None);
        assert_eq!(usage, Some(serde_json::json!({"total_tokens": 5})));
        let calls: Vec<(&str, &str, &str, Option<&str>)> = function_calls
            .iter()
            .map(|c| {
                (
                    c.call_id.as_str(),
                    c.name.as_str(),
                    c.arguments.as_str(),
                    c.item_id.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            calls,
            vec![
                ("call_a", "move_cube", "{\"dx\":1}", Some("c1")),
                ("call_b", "spin", "not json", Some("c2"))
            ]
        );
        let cancelled = r#"{"type":"response.done","response":{"id":"r2","status":"cancelled","status_details":{"type":"cancelled","reason":"turn_detected"}}}"#;
        match parse_ok(cancelled) {
            ServerEvent::ResponseDone {
                status,
                status_details,
                function_calls,
                ..
            } => {
                assert_eq!(status.as_deref(), Some("cancelled"));
                assert_eq!(
                    status_details
                        .and_then(|d| d["reason"].as_str().map(String::from))
                        .as_deref(),
                    Some("turn_detected")
                );
                assert!(function_calls.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parsed_arguments_are_objects_or_null() {
        assert_eq!(
            arguments_object(r#"{"dx": 1.5, "tag": "a"}"#),
            serde_json::json!({"dx": 1.5, "tag": "a"})
        );
        assert_eq!(arguments_object("{}"), serde_json::json!({}));
        for bad in ["", "{\"dx\": ", "[1]", "3", "null", "not json"] {
            assert_eq!(arguments_object(bad), Value::Null, "{bad:?}");
        }
    }

    #[test]
    fn output_items_carry_function_calls() {
        let added = r#"{"type":"response.output_item.added","response_id":"r","output_index":1,
            "item":{"id":"c1","type":"function_call","status":"in_progress","call_id":"call_1","name":"move_cube","arguments":""}}"#;
        match parse_ok(added) {
            ServerEvent::OutputItemAdded {
                response_id,
                output_index,
                item,
                function_call: Some(call),
            } => {
                assert_eq!((response_id.as_str(), output_index), ("r", 1));
                assert_eq!(item.id.as_deref(), Some("c1"));
                assert_eq!(item.status.as_deref(), Some("in_progress"));
                assert_eq!(call.call_id, "call_1");
                assert_eq!(call.item_id.as_deref(), Some("c1"));
            }
            other => panic!("{other:?}"),
        }
        let message = r#"{"type":"response.output_item.done","response_id":"r","output_index":0,
            "item":{"id":"m1","type":"message","role":"assistant","content":[]}}"#;
        assert!(matches!(
            parse_ok(message),
            ServerEvent::OutputItemDone {
                function_call: None,
                ..
            }
        ));
        let done_beta = r#"{"type":"response.function_call_arguments.done","response_id":"r","item_id":"c1","output_index":1,"call_id":"call_1","arguments":"{}"}"#;
        assert!(matches!(
            parse_ok(done_beta),
            ServerEvent::FunctionCallArgumentsDone { name: None, .. }
        ));
    }

    /// Deterministic xorshift, so a failure reproduces.
    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn mutated_samples_never_panic() {
        let samples: Vec<&str> = concat!(
            include_str!("../../tests/fixtures/server_events_ga.jsonl"),
            include_str!("../../tests/fixtures/server_events_beta.jsonl")
        )
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
        // Every sample parses as is.
        for sample in &samples {
            assert!(parse_server_event(sample).is_ok(), "{sample}");
        }
        let replacements: [&[u8]; 12] = [
            b"null",
            b"-1",
            b"1.5",
            b"\"\"",
            b"[]",
            b"{}",
            b"true",
            b"\"x\"",
            b"18446744073709551616",
            b"\x00",
            b"\xff",
            b"\\",
        ];
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut errors = 0usize;
        for round in 0..20_000 {
            let sample = samples[round % samples.len()].as_bytes();
            let mut bytes = sample.to_vec();
            for _ in 0..=rng.below(3) {
                let at = rng.below(bytes.len());
                match rng.below(4) {
                    0 => bytes.truncate(at),
                    1 => {
                        let end = (at + 1 + rng.below(12)).min(bytes.len());
                        let with = replacements[rng.below(replacements.len())];
                        bytes.splice(at..end, with.iter().copied());
                    }
                    2 => {
                        if at < bytes.len() {
                            bytes[at] = rng.next() as u8;
                        }
                    }
                    _ => {
                        let end = (at + rng.below(40)).min(bytes.len());
                        bytes.drain(at..end);
                    }
                }
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Err(e) = parse_server_event(&text) {
                errors += 1;
                assert!(e.to_string().len() < 1000);
            }
        }
        // The mutations must actually exercise the error paths.
        assert!(
            errors > 5_000,
            "only {errors} of 20000 mutations failed to parse"
        );
    }

    #[test]
    fn session_created_id_is_optional() {
        let with_id = r#"{"type":"session.created","session":{"id":"sess_1","type":"realtime"}}"#;
        match parse_ok(with_id) {
            ServerEvent::SessionCreated {
                session_id,
                session,
            } => {
                assert_eq!(session_id.as_deref(), Some("sess_1"));
                assert_eq!(session["type"], "realtime");
            }
            other => panic!("{other:?}"),
        }
        let without = r#"{"type":"session.created","session":{"type":"realtime"}}"#;
        assert!(matches!(
            parse_ok(without),
            ServerEvent::SessionCreated {
                session_id: None,
                ..
            }
        ));
    }
}
