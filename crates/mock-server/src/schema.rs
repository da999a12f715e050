//! Strict checks of events against the official SDK's schema (openai==3.54.0,
//! `openai.types.realtime`), exported as JSON Schema. Unlike the SDK models, keys the
//! schema does not name are errors, as they are for the real API.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

static SCHEMA_TEXT: &str = include_str!("../schema/realtime_event_schemas.json");

/// Why an event does not fit the schema, in the real API's error vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// `unknown_parameter`, `missing_required_parameter`, `invalid_type` or `invalid_value`.
    pub code: &'static str,
    /// Dotted path of the offending parameter, e.g. `session.modalities`.
    pub param: String,
    /// Human-readable message in the API's style.
    pub message: String,
    /// The violation is a mismatched `type` discriminator (used to rank `anyOf` branches).
    discriminator: bool,
}

/// One direction's event union: its definitions and which definition each `type` uses.
pub struct EventSchema {
    defs: Map<String, Value>,
    by_type: HashMap<String, String>,
}

fn load(direction: &str) -> Option<EventSchema> {
    let root: Value = serde_json::from_str(SCHEMA_TEXT).ok()?;
    let union = root.get(direction)?;
    let defs = union.get("$defs")?.as_object()?.clone();
    let mut by_type = HashMap::new();
    for branch in union.get("anyOf")?.as_array()? {
        let name = branch.get("$ref")?.as_str()?.strip_prefix("#/$defs/")?;
        let tag = defs
            .get(name)?
            .pointer("/properties/type/const")?
            .as_str()?;
        by_type.insert(tag.to_string(), name.to_string());
    }
    Some(EventSchema { defs, by_type })
}

impl EventSchema {
    /// Client events (`RealtimeClientEvent`); `None` only if the embedded schema is damaged.
    pub fn client() -> Option<&'static EventSchema> {
        static CLIENT: OnceLock<Option<EventSchema>> = OnceLock::new();
        CLIENT.get_or_init(|| load("client_events")).as_ref()
    }

    /// Server events (`RealtimeServerEvent`).
    pub fn server() -> Option<&'static EventSchema> {
        static SERVER: OnceLock<Option<EventSchema>> = OnceLock::new();
        SERVER.get_or_init(|| load("server_events")).as_ref()
    }

    /// Whether `event_type` is one of this union's event types.
    pub fn knows(&self, event_type: &str) -> bool {
        self.by_type.contains_key(event_type)
    }

    /// Check one event strictly: its `type` must be known, required keys present,
    /// types and constants right, and no key outside the schema.
    pub fn validate(&self, event: &Value) -> Result<(), SchemaViolation> {
        let Some(tag) = event.get("type").and_then(Value::as_str) else {
            return Err(violation(
                "missing_required_parameter",
                "type",
                "Missing required parameter: 'type'.".to_string(),
            ));
        };
        let Some(def) = self.by_type.get(tag).and_then(|name| self.defs.get(name)) else {
            return Err(violation(
                "invalid_value",
                "type",
                format!(
                    "Invalid value: '{tag}'. Supported values are: {}.",
                    self.type_list()
                ),
            ));
        };
        self.check(def, event, "")
    }

    fn type_list(&self) -> String {
        let mut names: Vec<&String> = self.by_type.keys().collect();
        names.sort();
        names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn check(&self, schema: &Value, value: &Value, path: &str) -> Result<(), SchemaViolation> {
        if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
            let name = target.strip_prefix("#/$defs/").unwrap_or(target);
            return match self.defs.get(name) {
                Some(def) => self.check(def, value, path),
                None => Ok(()),
            };
        }
        if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
            return self.check_any_of(branches, value, path);
        }
        if let Some(expected) = schema.get("type").and_then(Value::as_str) {
            if !has_type(value, expected) {
                return Err(violation(
                    "invalid_type",
                    path,
                    format!(
                        "Invalid type for '{}': expected {}, but got {} instead.",
                        display(path),
                        type_phrase(expected),
                        value_phrase(value)
                    ),
                ));
            }
        }
        if let Some(constant) = schema.get("const") {
            if !same_value(constant, value) {
                let mut v = violation(
                    "invalid_value",
                    path,
                    format!(
                        "Invalid value: {}. Supported values are: {}.",
                        short(value),
                        short(constant)
                    ),
                );
                v.discriminator = path.is_empty() || path.ends_with("type");
                return Err(v);
            }
        }
        if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
            if !choices.iter().any(|c| same_value(c, value)) {
                let list: Vec<String> = choices.iter().map(short).collect();
                return Err(violation(
                    "invalid_value",
                    path,
                    format!(
                        "Invalid value: {}. Supported values are: {}.",
                        short(value),
                        list.join(", ")
                    ),
                ));
            }
        }
        match value {
            Value::Object(map) => self.check_object(schema, map, path),
            Value::Array(items) => match schema.get("items") {
                Some(item_schema) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item_schema, item, &format!("{path}[{i}]"))?;
                    }
                    Ok(())
                }
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn check_object(
        &self,
        schema: &Value,
        map: &Map<String, Value>,
        path: &str,
    ) -> Result<(), SchemaViolation> {
        let properties = schema.get("properties").and_then(Value::as_object);
        let extra_schema = schema.get("additionalProperties").filter(|v| v.is_object());
        // Check the discriminator first so a wrong `anyOf` branch fails as such.
        if let (Some(props), Some(tag)) = (properties, map.get("type")) {
            if let Some(type_schema) = props.get("type") {
                self.check(type_schema, tag, &join(path, "type"))
                    .map_err(|mut v| {
                        v.discriminator = true;
                        v
                    })?;
            }
        }
        if let Some(props) = properties {
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for key in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(key) {
                        let p = join(path, key);
                        let mut v = violation(
                            "missing_required_parameter",
                            &p,
                            format!("Missing required parameter: '{}'.", display(&p)),
                        );
                        v.discriminator = key == "type";
                        return Err(v);
                    }
                }
            }
            for (key, item) in map {
                let p = join(path, key);
                match props.get(key).or(extra_schema) {
                    Some(s) => self.check(s, item, &p)?,
                    None => {
                        return Err(violation(
                            "unknown_parameter",
                            &p,
                            format!("Unknown parameter: '{}'.", display(&p)),
                        ))
                    }
                }
            }
        } else if let Some(s) = extra_schema {
            for (key, item) in map {
                self.check(s, item, &join(path, key))?;
            }
        }
        Ok(())
    }

    fn check_any_of(
        &self,
        branches: &[Value],
        value: &Value,
        path: &str,
    ) -> Result<(), SchemaViolation> {
        let mut best: Option<SchemaViolation> = None;
        for branch in branches {
            match self.check(branch, value, path) {
                Ok(()) => return Ok(()),
                Err(v) => {
                    let better = match &best {
                        None => true,
                        Some(b) => rank(&v) > rank(b),
                    };
                    if better {
                        best = Some(v);
                    }
                }
            }
        }
        Err(best.unwrap_or_else(|| violation("invalid_value", path, "Invalid value.".to_string())))
    }
}

/// Prefer branches that matched the discriminator, then the deepest error.
fn rank(v: &SchemaViolation) -> (bool, usize) {
    (
        !v.discriminator,
        v.param.matches(['.', '[']).count() + usize::from(!v.param.is_empty()),
    )
}

fn violation(code: &'static str, param: &str, message: String) -> SchemaViolation {
    SchemaViolation {
        code,
        param: param.to_string(),
        message,
        discriminator: false,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() {
        "event"
    } else {
        path
    }
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "string" => value.is_string(),
        "integer" => match value {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn type_phrase(t: &str) -> &'static str {
    match t {
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a decimal",
        "boolean" => "a boolean",
        "array" => "an array",
        "object" => "an object",
        "null" => "null",
        _ => "a value",
    }
}

fn value_phrase(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", s.chars().take(64).collect::<String>()),
        other => {
            let text = other.to_string();
            text.chars().take(64).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_the_reference_session_update() {
        let schema = EventSchema::client().expect("schema");
        let event = json!({"type": "session.update", "session": {
            "type": "realtime", "output_modalities": ["audio"], "instructions": "x",
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000},
                "turn_detection": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                    "silence_duration_ms": 500, "create_response": true, "interrupt_response": true},
                "transcription": {"model": "gpt-4o-mini-transcribe"}},
              "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}},
            "tools": [{"type": "function", "name": "move_cube", "description": "d",
                "parameters": {"type": "object", "properties": {"dx": {"type": "number"}}}}],
            "tool_choice": "auto"}});
        assert_eq!(schema.validate(&event), Ok(()));
    }

    #[test]
    fn rejects_beta_fields_and_unknown_keys_with_their_path() {
        let schema = EventSchema::client().expect("schema");
        let beta = json!({"type": "session.update", "session": {"type": "realtime", "modalities": ["text", "audio"]}});
        let v = schema.validate(&beta).unwrap_err();
        assert_eq!(
            (v.code, v.param.as_str()),
            ("unknown_parameter", "session.modalities")
        );
        let nested = json!({"type": "session.update", "session": {"type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_ms": 3}}}}});
        let v = schema.validate(&nested).unwrap_err();
        assert_eq!(v.param, "session.audio.input.turn_detection.silence_ms");
        let rate = json!({"type": "session.update", "session": {"type": "realtime",
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}}});
        let v = schema.validate(&rate).unwrap_err();
        assert_eq!(
            (v.code, v.param.as_str()),
            ("invalid_value", "session.audio.input.format.rate")
        );
        let missing = json!({"type": "session.update", "session": {"instructions": "x"}});
        assert_eq!(
            schema.validate(&missing).unwrap_err().code,
            "missing_required_parameter"
        );
        let unknown = json!({"type": "session.explode"});
        assert_eq!(schema.validate(&unknown).unwrap_err().param, "type");
    }
}
