//! Tool calls: each delivered to the host once, and exactly one `response.create` after
//! every call of a response has been answered (and the response itself is done).

use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};

/// How many call ids are remembered to deduplicate deliveries (bounded memory).
const REMEMBERED_CALLS: usize = 4096;
/// Responses with unanswered calls kept at most (a hostile server cannot grow this).
const MAX_OPEN_RESPONSES: usize = 256;

#[derive(Default)]
struct ResponseCalls {
    calls: Vec<String>,
    answered: HashSet<String>,
    done: bool,
    followed_up: bool,
}

/// What answering a call led to.
#[derive(Debug, PartialEq, Eq)]
pub enum ResultOutcome {
    /// Other calls of the response are still open (or the response is not done yet).
    Pending,
    /// That was the last open call of a finished response: send one `response.create`.
    RespondNow,
}

/// Error when the host answers a call the session does not know.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownCall;

/// Tracks the tool calls of the current connection.
#[derive(Default)]
pub struct ToolTracker {
    delivered: HashSet<String>,
    delivered_order: VecDeque<String>,
    call_response: HashMap<String, String>,
    responses: HashMap<String, ResponseCalls>,
}

/// The tool-call JSON of `docs/c-abi.md`, with `arguments` parsed (null when invalid).
pub fn tool_call_json(response_id: &str, call_id: &str, name: &str, arguments_raw: &str) -> String {
    let parsed = crate::protocol::server::arguments_object(arguments_raw);
    json!({
        "call_id": call_id,
        "name": name,
        "arguments": parsed,
        "arguments_raw": arguments_raw,
        "response_id": response_id,
    })
    .to_string()
}

impl ToolTracker {
    /// A call seen on the wire. Returns its JSON when it is new, `None` for a repeat
    /// (the same call arrives as `function_call_arguments.done` and `output_item.done`).
    pub fn on_call(
        &mut self,
        response_id: &str,
        call_id: &str,
        name: &str,
        arguments_raw: &str,
    ) -> Option<String> {
        if call_id.is_empty() || self.delivered.contains(call_id) {
            return None;
        }
        if self.delivered_order.len() >= REMEMBERED_CALLS {
            if let Some(old) = self.delivered_order.pop_front() {
                self.delivered.remove(&old);
            }
        }
        self.delivered.insert(call_id.to_string());
        self.delivered_order.push_back(call_id.to_string());
        if !self.responses.contains_key(response_id) && self.responses.len() >= MAX_OPEN_RESPONSES {
            // Forget the oldest-looking finished entries first; a flood cannot grow the map.
            let victim = self
                .responses
                .iter()
                .find(|(_, r)| r.followed_up)
                .or_else(|| self.responses.iter().next())
                .map(|(k, _)| k.clone());
            if let Some(v) = victim {
                self.forget_response(&v);
            }
        }
        let entry = self.responses.entry(response_id.to_string()).or_default();
        entry.calls.push(call_id.to_string());
        self.call_response
            .insert(call_id.to_string(), response_id.to_string());
        Some(tool_call_json(response_id, call_id, name, arguments_raw))
    }

    fn forget_response(&mut self, response_id: &str) {
        if let Some(r) = self.responses.remove(response_id) {
            for c in r.calls {
                self.call_response.remove(&c);
            }
        }
    }

    /// `response.done` for `response_id`: true when all its calls were already answered
    /// (send one `response.create` now).
    pub fn on_response_done(&mut self, response_id: &str) -> bool {
        let Some(r) = self.responses.get_mut(response_id) else {
            return false;
        };
        r.done = true;
        if !r.followed_up && r.calls.iter().all(|c| r.answered.contains(c)) {
            r.followed_up = true;
            self.forget_response(response_id);
            return true;
        }
        false
    }

    /// Whether `call_id` is a call of this connection still waiting for its result.
    pub fn is_open(&self, call_id: &str) -> bool {
        self.call_response
            .get(call_id)
            .and_then(|r| self.responses.get(r))
            .map(|r| !r.answered.contains(call_id))
            .unwrap_or(false)
    }

    /// The host answered `call_id`.
    pub fn on_result(&mut self, call_id: &str) -> Result<ResultOutcome, UnknownCall> {
        let response_id = self
            .call_response
            .get(call_id)
            .cloned()
            .ok_or(UnknownCall)?;
        let r = self.responses.get_mut(&response_id).ok_or(UnknownCall)?;
        if !r.answered.insert(call_id.to_string()) {
            return Err(UnknownCall);
        }
        if r.done && !r.followed_up && r.calls.iter().all(|c| r.answered.contains(c)) {
            r.followed_up = true;
            self.forget_response(&response_id);
            return Ok(ResultOutcome::RespondNow);
        }
        Ok(ResultOutcome::Pending)
    }

    /// A new connection: the server forgot every open call.
    pub fn reset(&mut self) {
        self.call_response.clear();
        self.responses.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_follow_up_after_two_calls() {
        let mut t = ToolTracker::default();
        assert!(t.on_call("r1", "c1", "move_cube", r#"{"dx":1}"#).is_some());
        assert!(
            t.on_call("r1", "c1", "move_cube", r#"{"dx":1}"#).is_none(),
            "delivered once"
        );
        assert!(t.on_call("r1", "c2", "move_cube", "{bad").is_some());
        assert_eq!(t.on_result("c1"), Ok(ResultOutcome::Pending));
        assert!(!t.on_response_done("r1"));
        assert_eq!(t.on_result("c2"), Ok(ResultOutcome::RespondNow));
        assert_eq!(t.on_result("c2"), Err(UnknownCall));
    }

    #[test]
    fn results_before_done() {
        let mut t = ToolTracker::default();
        t.on_call("r1", "c1", "f", "{}");
        assert!(t.is_open("c1"));
        assert_eq!(t.on_result("c1"), Ok(ResultOutcome::Pending));
        assert!(!t.is_open("c1"));
        assert!(t.on_response_done("r1"));
        assert!(!t.on_response_done("r1"));
    }

    #[test]
    fn invalid_arguments_parse_to_null() {
        let v: serde_json::Value =
            serde_json::from_str(&tool_call_json("r", "c", "f", "{nope")).unwrap();
        assert!(v["arguments"].is_null());
        assert_eq!(v["arguments_raw"], "{nope");
    }

    #[test]
    fn bounded_under_a_flood() {
        let mut t = ToolTracker::default();
        for i in 0..10_000 {
            t.on_call(&format!("r{i}"), &format!("c{i}"), "f", "{}");
        }
        assert!(t.responses.len() <= MAX_OPEN_RESPONSES);
        assert!(t.delivered.len() <= REMEMBERED_CALLS);
    }
}
