//! The HTTP upgrade: who gets in, and the real API's refusals.

use tungstenite::handshake::server::{ErrorResponse, Request};
use tungstenite::http::{header, StatusCode};

use crate::recorder::ServerShared;
use std::sync::atomic::Ordering;

/// The decision on one upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Upgrade; the session then starts (or fails at once, for `beta`).
    Accept {
        /// The `?model=` query value (or the default).
        model: String,
        /// The request carried `OpenAI-Beta: realtime=v1`.
        beta: bool,
    },
    /// Answer with this HTTP status and JSON body.
    Reject {
        /// HTTP status.
        status: u16,
        /// JSON error body.
        body: String,
    },
}

/// Lower-cased header names and their values, in request order.
pub fn header_list(req: &Request) -> Vec<(String, String)> {
    req.headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn error_body(message: &str, kind: &str, code: Option<&str>) -> String {
    serde_json::json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
        .to_string()
}

fn mask(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("sk-***{tail}")
}

/// Decide on one upgrade request.
pub fn admit(req: &Request, shared: &ServerShared) -> Admission {
    let path = req.uri().path();
    if path != "/v1/realtime" {
        return Admission::Reject {
            status: 404,
            body: error_body(
                &format!("Invalid URL (GET {path})"),
                "invalid_request_error",
                None,
            ),
        };
    }
    let status = *shared.reject_with.lock();
    if let Some(status) = status {
        let limit = shared.config.reject_count.unwrap_or(usize::MAX);
        if shared.rejections.fetch_add(1, Ordering::SeqCst) < limit {
            let (message, kind, code) = match status {
                401 => (
                    "Incorrect API key provided.",
                    "invalid_request_error",
                    Some("invalid_api_key"),
                ),
                403 => (
                    "You are not allowed to access this resource.",
                    "invalid_request_error",
                    Some("forbidden"),
                ),
                429 => (
                    "Rate limit reached for requests. Please try again in 1s.",
                    "requests",
                    Some("rate_limit_exceeded"),
                ),
                _ => (
                    "The server had an error while processing your request. Sorry about that!",
                    "server_error",
                    None,
                ),
            };
            return Admission::Reject {
                status,
                body: error_body(message, kind, code),
            };
        }
    }
    if let Some(expected) = &shared.config.api_key {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let api_key = req.headers().get("api-key").and_then(|v| v.to_str().ok());
        match bearer.or(api_key) {
            Some(given) if given == expected => {}
            Some(given) => {
                return Admission::Reject {
                    status: 401,
                    body: error_body(
                        &format!("Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.", mask(given)),
                        "invalid_request_error",
                        Some("invalid_api_key"),
                    ),
                }
            }
            None => {
                return Admission::Reject {
                    status: 401,
                    body: error_body(
                        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                        "invalid_request_error",
                        None,
                    ),
                }
            }
        }
    }
    let model = req
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("model="))
        .map(str::to_string)
        .unwrap_or_else(|| shared.config.default_model.clone());
    let beta = req
        .headers()
        .get_all("openai-beta")
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.contains("realtime")));
    Admission::Accept { model, beta }
}

/// The HTTP error response for a refusal.
pub fn error_response(status: u16, body: String) -> ErrorResponse {
    let length = body.len();
    let mut response = ErrorResponse::new(Some(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = header::HeaderValue::from_str("application/json") {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, header::HeaderValue::from(length));
    response
}
