//! The session configuration JSON of `rv_session_create` (`docs/config.md`): parsed,
//! validated and completed with defaults.
//!
//! Unknown keys are errors (a typo must not pass silently), every error names the field,
//! and no error ever quotes a credential.

use serde_json::{Map, Value};
use std::fmt;
use std::net::IpAddr;

/// Default endpoint: OpenAI's GA Realtime API over WebSocket.
pub const DEFAULT_URL: &str = "wss://api.openai.com/v1/realtime";
/// Default model, appended to the URL as `?model=` unless the URL names one.
pub const DEFAULT_MODEL: &str = "gpt-realtime";

pub use crate::protocol::client::ProtocolFlavor;

/// Reconnect policy after a dropped connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectConfig {
    /// How many reconnect attempts in a row before the session fails (0 = never reconnect).
    pub max_attempts: u32,
    /// First backoff; doubled after each failed attempt, with jitter.
    pub initial_backoff_ms: u32,
    /// Upper bound of the backoff.
    pub max_backoff_ms: u32,
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        ReconnectConfig {
            max_attempts: 5,
            initial_backoff_ms: 500,
            max_backoff_ms: 8000,
        }
    }
}

/// A validated session configuration.
#[derive(Clone, PartialEq)]
pub struct SessionConfig {
    /// WebSocket URL (`wss://`, or `ws://` to loopback only), without the model query.
    pub url: String,
    /// Model name, sent as the `model` query parameter unless `url` names one.
    pub model: String,
    /// Standard API key (server-side or editor use). Never logged.
    pub api_key: Option<String>,
    /// Ephemeral client secret (`ek_...`) minted by the app's backend. Never logged.
    pub client_secret: Option<String>,
    /// Extra HTTP headers for the upgrade request (e.g. Azure's `api-key`). Values never logged.
    pub headers: Vec<(String, String)>,
    /// Rate of the PCM16 the plugin sends (24000 default; 16000 for servers that take it).
    pub input_sample_rate: u32,
    /// Unity's output rate for playback (C# may change it per pull).
    pub output_sample_rate: u32,
    /// Channels Unity's audio callback expects.
    pub output_channels: u32,
    /// User's `session` object, merged over the plugin's defaults in the first `session.update`.
    pub session: Value,
    /// Audio held before a response starts playing.
    pub prebuffer_ms: u32,
    /// Stop playback and truncate when the user starts speaking over the model.
    pub barge_in: bool,
    /// Gate the mic while the model speaks (plus `half_duplex_tail_ms`).
    pub half_duplex: bool,
    /// How long the mic stays gated after the model's audio ended, in half-duplex mode.
    pub half_duplex_tail_ms: u32,
    /// Cancel the echo of the model's voice from the mic (speakers on, full duplex).
    /// Extension key `echo_cancellation`; when absent it is on unless `half_duplex` is.
    pub echo_cancellation: bool,
    /// Extension key `echo_recording_dir`: a folder where the session records the mic, the
    /// canceller's far end and its output as WAV files (see `docs/echo-cancellation.md`);
    /// `None` (the default) records nothing. Only with echo cancellation on.
    pub echo_recording_dir: Option<String>,
    /// Reconnect policy.
    pub reconnect: ReconnectConfig,
    /// GA (default) or beta schema.
    pub protocol: ProtocolFlavor,
    /// Extra trusted root certificate (PEM) for `wss://`, e.g. a local test server's.
    /// Verification stays on; this only adds a trust anchor.
    pub ca_certificate_pem: Option<String>,
    /// Size of each `input_audio_buffer.append` chunk in ms (10-100, default 20).
    pub chunk_ms: u32,
    /// Forward every server event as a `server_event` event.
    pub forward_server_events: bool,
    /// Capacity of the event queue; events beyond it are dropped and counted.
    pub event_queue_capacity: u32,
    /// Interval of our WebSocket pings; the connection is declared dead after three
    /// intervals without any inbound frame.
    pub keepalive_ms: u32,
    /// Timeout of the TCP connect + TLS + WebSocket handshake.
    pub connect_timeout_ms: u32,
    /// Hold cap for model audio that arrives faster than real time, in seconds.
    pub max_playback_hold_s: u32,
    /// Re-create the conversation on the new server session after a reconnect.
    pub restore_history: bool,
    /// Conversation items the history keeps at most (oldest forgotten first; 0 keeps none).
    pub history_max_items: u32,
}

impl fmt::Debug for SessionConfig {
    // Hand-written so a `{:?}` can never print a credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("input_sample_rate", &self.input_sample_rate)
            .field("output_sample_rate", &self.output_sample_rate)
            .field("output_channels", &self.output_channels)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

/// A configuration error: which field, and why. Never contains a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid config: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// Items the history keeps by default: a long talk (a hundred turns) restored whole, a few
/// hundred kilobytes of text.
pub const DEFAULT_HISTORY_MAX_ITEMS: u32 = 200;
/// The largest `history_max_items` accepted (restoring more than this many items would
/// keep a reconnect busy for seconds).
pub const MAX_HISTORY_MAX_ITEMS: u32 = 2000;

const KNOWN_KEYS: &[&str] = &[
    "url",
    "model",
    "api_key",
    "client_secret",
    "headers",
    "input_sample_rate",
    "output_sample_rate",
    "output_channels",
    "session",
    "prebuffer_ms",
    "barge_in",
    "half_duplex",
    "half_duplex_tail_ms",
    "echo_cancellation",
    "echo_recording_dir",
    "reconnect",
    "protocol",
    "ca_certificate_pem",
    "chunk_ms",
    "forward_server_events",
    "event_queue_capacity",
    "keepalive_ms",
    "connect_timeout_ms",
    "max_playback_hold_s",
    "restore_history",
    "history_max_items",
];

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            url: DEFAULT_URL.to_string(),
            model: DEFAULT_MODEL.to_string(),
            api_key: None,
            client_secret: None,
            headers: Vec::new(),
            input_sample_rate: 24_000,
            output_sample_rate: 48_000,
            output_channels: 2,
            session: Value::Object(Map::new()),
            prebuffer_ms: 80,
            barge_in: true,
            half_duplex: false,
            half_duplex_tail_ms: 300,
            echo_cancellation: true,
            echo_recording_dir: None,
            reconnect: ReconnectConfig::default(),
            protocol: ProtocolFlavor::Ga,
            ca_certificate_pem: None,
            chunk_ms: 20,
            forward_server_events: false,
            event_queue_capacity: 4096,
            keepalive_ms: 5000,
            connect_timeout_ms: 10_000,
            max_playback_hold_s: 120,
            restore_history: true,
            history_max_items: DEFAULT_HISTORY_MAX_ITEMS,
        }
    }
}

fn get_u32(
    obj: &Map<String, Value>,
    key: &str,
    min: u32,
    max: u32,
) -> Result<Option<u32>, ConfigError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n >= u64::from(min) && n <= u64::from(max) => Ok(Some(n as u32)),
            Some(n) => err(format!(
                "`{key}` is {n}; it must be between {min} and {max}"
            )),
            None => err(format!(
                "`{key}` must be a whole number between {min} and {max}"
            )),
        },
    }
}

fn get_bool(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, ConfigError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => err(format!("`{key}` must be true or false")),
    }
}

fn get_string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, ConfigError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // Deliberately does not echo the value: it may be a credential.
        Some(_) => err(format!("`{key}` must be a string")),
    }
}

/// Is `host` (as written in a URL: bracketed IPv6 allowed) a loopback address?
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// The parts of a `ws://` / `wss://` URL the session needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts {
    /// `true` for `wss://`.
    pub tls: bool,
    /// Host as written (IPv6 without brackets).
    pub host: String,
    /// Port (explicit, or 443 / 80).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path_and_query: String,
}

/// Splits a WebSocket URL; rejects other schemes, user-info and empty hosts.
pub fn parse_ws_url(url: &str) -> Result<UrlParts, ConfigError> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("wss://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("ws://") {
        (false, r)
    } else {
        return err("`url` must start with wss:// (or ws:// to a loopback address)");
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    if authority.contains('@') {
        return err(
            "`url` must not carry credentials; use `api_key`, `client_secret` or `headers`",
        );
    }
    let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
        let end = stripped
            .find(']')
            .ok_or_else(|| ConfigError("`url` has an unterminated IPv6 address".into()))?;
        let host = &stripped[..end];
        let after = &stripped[end + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return err("`url` has junk after its IPv6 address"),
        };
        (host.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return err("`url` has no valid host");
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| ConfigError("`url` has an invalid port".into()))?,
        None if tls => 443,
        None => 80,
    };
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return err("`url` path must not contain spaces or control characters");
    }
    Ok(UrlParts {
        tls,
        host,
        port,
        path_and_query: path,
    })
}

impl SessionConfig {
    /// Parses and validates the config JSON; every field is optional.
    pub fn from_json(text: &str) -> Result<SessionConfig, ConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            // serde_json's message carries only line/column, never the text itself.
            ConfigError(format!("not valid JSON ({e})"))
        })?;
        let obj = match value {
            Value::Object(o) => o,
            _ => return err("the config must be a JSON object"),
        };
        for key in obj.keys() {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                return err(format!(
                    "unknown key `{key}` (known keys: {})",
                    KNOWN_KEYS.join(", ")
                ));
            }
        }
        let mut c = SessionConfig::default();
        if let Some(url) = get_string(&obj, "url")? {
            c.url = url;
        }
        if let Some(model) = get_string(&obj, "model")? {
            if model.is_empty()
                || !model
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || "-_.:".contains(ch))
            {
                return err("`model` must be a non-empty model name (letters, digits, - _ . :)");
            }
            c.model = model;
        }
        c.api_key = get_string(&obj, "api_key")?.filter(|s| !s.is_empty());
        c.client_secret = get_string(&obj, "client_secret")?.filter(|s| !s.is_empty());
        for (name, secret) in [("api_key", &c.api_key), ("client_secret", &c.client_secret)] {
            if let Some(s) = secret {
                if s.chars().any(|ch| ch.is_control() || ch == ' ') {
                    return err(format!("`{name}` contains spaces or control characters"));
                }
            }
        }
        match obj.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(h)) => {
                for (k, v) in h {
                    let v = v
                        .as_str()
                        .ok_or_else(|| ConfigError(format!("header `{k}` must be a string")))?;
                    let name_ok = !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
                    if !name_ok {
                        return err(format!("header name `{k}` is not a valid HTTP header name"));
                    }
                    if v.chars().any(|ch| ch.is_control()) {
                        return err(format!("header `{k}` has control characters in its value"));
                    }
                    c.headers.push((k.clone(), v.to_string()));
                }
            }
            Some(_) => return err("`headers` must be an object of string values"),
        }
        if let Some(r) = get_u32(&obj, "input_sample_rate", 8000, 48_000)? {
            if r != 24_000 && r != 16_000 {
                return err(format!(
                    "`input_sample_rate` is {r}; the wire rate must be 24000 (OpenAI's audio/pcm) or 16000"
                ));
            }
            c.input_sample_rate = r;
        }
        if let Some(r) = get_u32(&obj, "output_sample_rate", 8000, 192_000)? {
            c.output_sample_rate = r;
        }
        if let Some(n) = get_u32(&obj, "output_channels", 1, 8)? {
            c.output_channels = n;
        }
        match obj.get("session") {
            None | Some(Value::Null) => {}
            Some(v @ Value::Object(_)) => c.session = v.clone(),
            Some(_) => return err("`session` must be a JSON object (the API's session fields)"),
        }
        if let Some(v) = get_u32(&obj, "prebuffer_ms", 0, 2000)? {
            c.prebuffer_ms = v;
        }
        if let Some(b) = get_bool(&obj, "barge_in")? {
            c.barge_in = b;
        }
        if let Some(b) = get_bool(&obj, "half_duplex")? {
            c.half_duplex = b;
        }
        if let Some(v) = get_u32(&obj, "half_duplex_tail_ms", 0, 5000)? {
            c.half_duplex_tail_ms = v;
        }
        // With the mic gated while the model speaks there is no echo to cancel.
        c.echo_cancellation = get_bool(&obj, "echo_cancellation")?.unwrap_or(!c.half_duplex);
        if let Some(dir) = get_string(&obj, "echo_recording_dir")? {
            if dir.trim().is_empty() {
                return Err(ConfigError(
                    "echo_recording_dir must name a folder (or be left out)".into(),
                ));
            }
            if !c.echo_cancellation {
                return Err(ConfigError(
                    "echo_recording_dir records the echo canceller: it needs echo_cancellation on"
                        .into(),
                ));
            }
            c.echo_recording_dir = Some(dir);
        }
        match obj.get("reconnect") {
            None | Some(Value::Null) => {}
            Some(Value::Object(r)) => {
                for key in r.keys() {
                    if !["max_attempts", "initial_backoff_ms", "max_backoff_ms"]
                        .contains(&key.as_str())
                    {
                        return err(format!(
                            "unknown key `reconnect.{key}` (known: max_attempts, initial_backoff_ms, max_backoff_ms)"
                        ));
                    }
                }
                if let Some(v) = get_u32(r, "max_attempts", 0, 1000)? {
                    c.reconnect.max_attempts = v;
                }
                if let Some(v) = get_u32(r, "initial_backoff_ms", 1, 600_000)? {
                    c.reconnect.initial_backoff_ms = v;
                }
                if let Some(v) = get_u32(r, "max_backoff_ms", 1, 600_000)? {
                    c.reconnect.max_backoff_ms = v;
                }
                if c.reconnect.max_backoff_ms < c.reconnect.initial_backoff_ms {
                    return err(
                        "`reconnect.max_backoff_ms` must be >= `reconnect.initial_backoff_ms`",
                    );
                }
            }
            Some(_) => return err("`reconnect` must be an object"),
        }
        if let Some(name) = get_string(&obj, "protocol")? {
            c.protocol = match ProtocolFlavor::from_name(&name) {
                Some(flavor) => flavor,
                None => {
                    return err(format!(
                        "`protocol` is \"{name}\"; it must be \"ga\" or \"beta\""
                    ))
                }
            };
        }
        if let Some(pem) = get_string(&obj, "ca_certificate_pem")? {
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return err(
                    "`ca_certificate_pem` must be a PEM certificate (-----BEGIN CERTIFICATE-----)",
                );
            }
            c.ca_certificate_pem = Some(pem);
        }
        if let Some(v) = get_u32(&obj, "chunk_ms", 10, 100)? {
            c.chunk_ms = v;
        }
        if let Some(b) = get_bool(&obj, "forward_server_events")? {
            c.forward_server_events = b;
        }
        if let Some(v) = get_u32(&obj, "event_queue_capacity", 16, 1_000_000)? {
            c.event_queue_capacity = v;
        }
        if let Some(v) = get_u32(&obj, "keepalive_ms", 100, 600_000)? {
            c.keepalive_ms = v;
        }
        if let Some(v) = get_u32(&obj, "connect_timeout_ms", 100, 120_000)? {
            c.connect_timeout_ms = v;
        }
        if let Some(v) = get_u32(&obj, "max_playback_hold_s", 1, 3600)? {
            c.max_playback_hold_s = v;
        }
        if let Some(b) = get_bool(&obj, "restore_history")? {
            c.restore_history = b;
        }
        if let Some(v) = get_u32(&obj, "history_max_items", 0, MAX_HISTORY_MAX_ITEMS)? {
            c.history_max_items = v;
        }

        let parts = parse_ws_url(&c.url)?;
        let loopback = is_loopback_host(&parts.host);
        if !parts.tls && !loopback {
            return err("plain ws:// is allowed only to loopback addresses (127.0.0.0/8, ::1, localhost); use wss://");
        }
        let has_credential =
            c.api_key.is_some() || c.client_secret.is_some() || !c.headers.is_empty();
        if !loopback && !has_credential {
            return err(
                "no credential: set `api_key`, `client_secret` (an ephemeral key from your backend) or `headers`",
            );
        }
        Ok(c)
    }

    /// The URL actually dialled: `url` plus `?model=` unless the URL already names a model.
    pub fn connect_url(&self) -> String {
        if self.url.contains("model=") {
            self.url.clone()
        } else if self.url.contains('?') {
            format!("{}&model={}", self.url, self.model)
        } else {
            format!("{}?model={}", self.url, self.model)
        }
    }

    /// Every secret this config holds (API key, client secret, header values), to redact
    /// from any text that leaves the plugin.
    pub fn secrets(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        v.extend(self.api_key.iter().cloned());
        v.extend(self.client_secret.iter().cloned());
        v.extend(self.headers.iter().map(|(_, val)| val.clone()));
        v.retain(|s| s.len() >= 4);
        v
    }
}

/// Replaces every occurrence of a secret, and anything shaped like an OpenAI key
/// (`sk-...`, `ek_...`), with `<redacted>`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if !s.is_empty() {
            out = out.replace(s.as_str(), "<redacted>");
        }
    }
    // Key-shaped tokens (a server may echo a partial key).
    let mut result = String::with_capacity(out.len());
    let bytes = out.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let at_word_start = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b'-');
        let prefix = at_word_start && (out[i..].starts_with("sk-") || out[i..].starts_with("ek_"));
        if prefix {
            let mut j = i + 3;
            while j < bytes.len()
                && (bytes[j].is_ascii_alphanumeric() || b"-_*".contains(&bytes[j]))
            {
                j += 1;
            }
            if j - i >= 8 {
                result.push_str("<redacted>");
                i = j;
                continue;
            }
        }
        let ch = out[i..].chars().next().unwrap_or(' ');
        result.push(ch);
        i += ch.len_utf8().max(1);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_for_loopback_without_key() {
        let c = SessionConfig::from_json(r#"{"url":"ws://127.0.0.1:9000/v1/realtime"}"#).unwrap();
        assert_eq!(c.input_sample_rate, 24_000);
        assert_eq!(c.output_sample_rate, 48_000);
        assert_eq!(c.protocol, ProtocolFlavor::Ga);
        assert_eq!(
            c.connect_url(),
            "ws://127.0.0.1:9000/v1/realtime?model=gpt-realtime"
        );
    }

    #[test]
    fn remote_needs_a_credential_and_tls() {
        let e = SessionConfig::from_json("{}").unwrap_err();
        assert!(e.0.contains("credential"), "{e}");
        let e = SessionConfig::from_json(r#"{"url":"ws://example.com/x","api_key":"sk-abcdefgh"}"#)
            .unwrap_err();
        assert!(e.0.contains("loopback"), "{e}");
        let c = SessionConfig::from_json(r#"{"api_key":"sk-abcdefgh"}"#).unwrap();
        assert_eq!(
            c.connect_url(),
            "wss://api.openai.com/v1/realtime?model=gpt-realtime"
        );
        let c = SessionConfig::from_json(r#"{"headers":{"api-key":"azurekey"},"url":"wss://x.openai.azure.com/openai/realtime?api-version=2025-04-01&deployment=gpt"}"#).unwrap();
        assert!(c.connect_url().ends_with("&model=gpt-realtime"));
    }

    #[test]
    fn url_naming_a_model_is_kept() {
        let c = SessionConfig::from_json(
            r#"{"url":"ws://localhost:1/v1/realtime?model=gpt-realtime-mini"}"#,
        )
        .unwrap();
        assert_eq!(
            c.connect_url(),
            "ws://localhost:1/v1/realtime?model=gpt-realtime-mini"
        );
    }

    #[test]
    fn history_keys_default_and_bound() {
        let c = SessionConfig::from_json(r#"{"url":"ws://127.0.0.1:9/"}"#).unwrap();
        assert!(c.restore_history);
        assert_eq!(c.history_max_items, DEFAULT_HISTORY_MAX_ITEMS);
        let c = SessionConfig::from_json(
            r#"{"url":"ws://127.0.0.1:9/","restore_history":false,"history_max_items":0}"#,
        )
        .unwrap();
        assert!(!c.restore_history);
        assert_eq!(c.history_max_items, 0);
        let e = SessionConfig::from_json(r#"{"url":"ws://127.0.0.1:9/","history_max_items":2001}"#)
            .unwrap_err();
        assert!(e.0.contains("history_max_items"), "{e}");
        let e = SessionConfig::from_json(r#"{"url":"ws://127.0.0.1:9/","restore_history":1}"#)
            .unwrap_err();
        assert!(e.0.contains("restore_history"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_types_are_named() {
        let e =
            SessionConfig::from_json(r#"{"url":"ws://[::1]:5/","prebufer_ms":80}"#).unwrap_err();
        assert!(e.0.contains("prebufer_ms"), "{e}");
        let e = SessionConfig::from_json(r#"{"url":"ws://[::1]:5/","input_sample_rate":44100}"#)
            .unwrap_err();
        assert!(e.0.contains("input_sample_rate"), "{e}");
        let e =
            SessionConfig::from_json(r#"{"url":"ws://[::1]:5/","reconnect":{"max_attempts":-1}}"#)
                .unwrap_err();
        assert!(e.0.contains("max_attempts"), "{e}");
        let e = SessionConfig::from_json(r#"{"url":"ws://[::1]:5/","protocol":"v2"}"#).unwrap_err();
        assert!(e.0.contains("protocol"), "{e}");
        assert!(SessionConfig::from_json("[1]").is_err());
        assert!(SessionConfig::from_json("{").is_err());
        let e = SessionConfig::from_json(r#"{"url":"http://127.0.0.1/"}"#).unwrap_err();
        assert!(e.0.contains("wss://"), "{e}");
    }

    #[test]
    fn echo_cancellation_defaults_to_full_duplex_and_can_be_set() {
        let parse = |extra: &str| {
            SessionConfig::from_json(&format!(r#"{{"url":"ws://127.0.0.1:1/"{extra}}}"#))
        };
        assert!(parse("").unwrap().echo_cancellation, "on by default");
        assert!(
            !parse(r#","half_duplex":true"#).unwrap().echo_cancellation,
            "off by default in half duplex (the mic is gated while the model speaks)"
        );
        assert!(parse(r#","half_duplex":false"#).unwrap().echo_cancellation);
        assert!(
            !parse(r#","echo_cancellation":false"#)
                .unwrap()
                .echo_cancellation
        );
        assert!(
            parse(r#","half_duplex":true,"echo_cancellation":true"#)
                .unwrap()
                .echo_cancellation,
            "an explicit value wins over the half-duplex default"
        );
        assert!(
            parse(r#","echo_cancellation":null"#)
                .unwrap()
                .echo_cancellation
        );
        for bad in [r#""yes""#, "1", "{}"] {
            let e = parse(&format!(r#","echo_cancellation":{bad}"#)).unwrap_err();
            assert!(
                e.0.contains("echo_cancellation") && e.0.contains("true or false"),
                "{e}"
            );
        }
        let e = parse(r#","echo_cancelation":true"#).unwrap_err();
        assert!(e.0.contains("unknown key `echo_cancelation`"), "{e}");
    }

    #[test]
    fn errors_never_quote_secrets() {
        let e =
            SessionConfig::from_json(r#"{"api_key": 12345678, "url":"wss://a.b/"}"#).unwrap_err();
        assert!(!e.0.contains("12345678"));
        let e = SessionConfig::from_json(r#"{"api_key":"sk-secret secret"}"#).unwrap_err();
        assert!(!e.0.contains("secret secret"), "{e}");
        let c = SessionConfig::from_json(r#"{"api_key":"sk-topsecretvalue"}"#).unwrap();
        assert!(!format!("{c:?}").contains("topsecret"));
    }

    #[test]
    fn url_parsing() {
        let p = parse_ws_url("wss://api.openai.com/v1/realtime?model=x").unwrap();
        assert_eq!(
            (p.tls, p.host.as_str(), p.port, p.path_and_query.as_str()),
            (true, "api.openai.com", 443, "/v1/realtime?model=x")
        );
        let p = parse_ws_url("ws://[::1]:8080").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.path_and_query.as_str()),
            ("::1", 8080, "/")
        );
        assert!(parse_ws_url("ws://user:pw@127.0.0.1/").is_err());
        assert!(parse_ws_url("ws://127.0.0.1:0/").is_err());
        assert!(parse_ws_url("ws://127.0.0.1:99999/").is_err());
        assert!(
            is_loopback_host("127.3.4.5")
                && is_loopback_host("[::1]")
                && is_loopback_host("LOCALHOST")
        );
        assert!(!is_loopback_host("10.0.0.1") && !is_loopback_host("example.com"));
    }

    #[test]
    fn redaction() {
        let secrets = vec!["my-azure-key-123".to_string()];
        let r = redact(
            "bad key my-azure-key-123 and sk-proj-abc***wxyz and ek_68af12345",
            &secrets,
        );
        assert!(
            !r.contains("my-azure-key-123") && !r.contains("sk-proj") && !r.contains("ek_68af"),
            "{r}"
        );
        assert_eq!(redact("task-list is fine", &[]), "task-list is fine");
        assert_eq!(redact("héllo ünïcode", &[]), "héllo ünïcode");
    }
}
