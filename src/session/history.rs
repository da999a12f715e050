//! The conversation as the plugin remembers it, so that a new server session (after a
//! reconnect) can be given it again. Pure: the conversation feeds it the server's view of
//! each item and what the host sent; it hands back the items to re-create, in order.
//!
//! The rules:
//! - items are kept in the order the server added them, each under its id;
//! - user turns keep their text as written, their speech as its transcript (speech never
//!   transcribed cannot be re-created and is left out) and their images as sent;
//! - assistant turns keep their text or transcript; a turn the user interrupted keeps only
//!   what was heard: its words cut in proportion to the audio played, at a word boundary,
//!   and nothing the server says about it later puts the rest back;
//! - tool calls and their outputs are kept; an output whose call was forgotten is forgotten
//!   too (the server rejects an output without its call);
//! - at most `max_items` items and [`MAX_BYTES`] bytes of text and images, the oldest
//!   forgotten first;
//! - a deleted item is forgotten;
//! - a retrieved item (`conversation.item.retrieved`, the server's answer to the host's
//!   `conversation.item.retrieve`) is the server's whole view of it: its content replaces
//!   what is kept under its id, in place. Only what it leaves out stays: a part sent
//!   without its payload (an image by reference, speech without its transcript), and the
//!   words of a turn the user interrupted. An id the history does not hold is ignored: the
//!   item is either one the history let go (bounded away, deleted, a kind it does not keep)
//!   or it would have to go somewhere the history cannot know, and appending it would put
//!   an old item after newer ones.

use crate::protocol::client::ProtocolFlavor;
use crate::protocol::server::ItemInfo;
use serde_json::{json, Value};
use std::collections::VecDeque;

/// Bytes of text and images the history holds at most (one image of the 4 MiB maximum, or
/// dozens of camera frames, beside a long talk), whatever `history_max_items` allows.
pub const MAX_BYTES: usize = 8 << 20;

/// One content part of a user turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Typed text.
    Text(String),
    /// Speech, as its transcript once the server transcribed it.
    Speech(Option<String>),
    /// An image as sent: its data URL.
    Image {
        /// `data:<mime>;base64,...`
        url: String,
        /// `detail`, when one was given.
        detail: Option<String>,
    },
}

/// What an item of the conversation holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    /// A user message.
    User(Vec<Part>),
    /// An assistant message: its text or transcript.
    Assistant(String),
    /// A system message.
    System(String),
    /// A tool call the model made.
    FunctionCall {
        /// The id its output answers.
        call_id: String,
        /// The tool.
        name: String,
        /// The arguments as the model wrote them.
        arguments: String,
    },
    /// A tool's output.
    FunctionOutput {
        /// The call answered.
        call_id: String,
        /// What the tool returned.
        output: String,
    },
}

impl Turn {
    fn bytes(&self) -> usize {
        match self {
            Turn::User(parts) => parts
                .iter()
                .map(|p| match p {
                    Part::Text(t) => t.len(),
                    Part::Speech(t) => t.as_ref().map_or(0, String::len),
                    Part::Image { url, .. } => url.len(),
                })
                .sum(),
            Turn::Assistant(t) | Turn::System(t) => t.len(),
            Turn::FunctionCall {
                call_id,
                name,
                arguments,
            } => call_id.len() + name.len() + arguments.len(),
            Turn::FunctionOutput { call_id, output } => call_id.len() + output.len(),
        }
    }

    /// The turn the server's view of an item describes, if the history keeps that kind.
    fn from_item(item: &ItemInfo) -> Option<Turn> {
        match (item.item_type.as_deref()?, item.role.as_deref()) {
            ("message", Some("user")) => Some(Turn::User(user_parts(item, || None, || None))),
            ("message", Some("assistant")) => {
                Some(Turn::Assistant(item.text().unwrap_or_default()))
            }
            ("message", Some("system")) => Some(Turn::System(item.text().unwrap_or_default())),
            ("function_call", _) => Some(Turn::FunctionCall {
                call_id: item.call_id.clone()?,
                name: item.name.clone()?,
                arguments: item.arguments.clone().unwrap_or_default(),
            }),
            ("function_call_output", _) => Some(Turn::FunctionOutput {
                call_id: item.call_id.clone()?,
                output: item.output.clone()?,
            }),
            _ => None,
        }
    }

    /// The item to re-create this turn with, `None` when it has nothing to say.
    fn to_item(&self, id: &str, flavor: ProtocolFlavor) -> Option<Value> {
        let message = |role: &str, content: Vec<Value>| {
            (!content.is_empty())
                .then(|| json!({"id": id, "type": "message", "role": role, "content": content}))
        };
        match self {
            Turn::User(parts) => message(
                "user",
                parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::Text(t) => Some(json!({"type": "input_text", "text": t})),
                        Part::Speech(t) => t
                            .as_ref()
                            .filter(|t| !t.is_empty())
                            .map(|t| json!({"type": "input_text", "text": t})),
                        Part::Image { url, detail } => {
                            let mut part = json!({"type": "input_image", "image_url": url});
                            if let Some(d) = detail {
                                part["detail"] = json!(d);
                            }
                            Some(part)
                        }
                    })
                    .collect(),
            ),
            Turn::Assistant(t) if !t.is_empty() => {
                let kind = match flavor {
                    ProtocolFlavor::Ga => "output_text",
                    ProtocolFlavor::Beta => "text",
                };
                message("assistant", vec![json!({"type": kind, "text": t})])
            }
            Turn::System(t) if !t.is_empty() => {
                message("system", vec![json!({"type": "input_text", "text": t})])
            }
            Turn::Assistant(_) | Turn::System(_) => None,
            Turn::FunctionCall {
                call_id,
                name,
                arguments,
            } => Some(
                json!({"id": id, "type": "function_call", "call_id": call_id,
                "name": name, "arguments": arguments}),
            ),
            Turn::FunctionOutput { call_id, output } => Some(
                json!({"id": id, "type": "function_call_output", "call_id": call_id, "output": output}),
            ),
        }
    }
}

struct Entry {
    id: String,
    turn: Turn,
    /// The user interrupted it: its words are final.
    cut: bool,
}

/// The conversation so far, bounded.
pub struct History {
    entries: VecDeque<Entry>,
    max_items: usize,
    bytes: usize,
    /// The server session the items live on (`None` before the first).
    session_id: Option<String>,
    /// Ids the plugin gave items it created, so far.
    own_ids: u64,
}

impl History {
    /// An empty history that keeps at most `max_items` items.
    pub fn new(max_items: usize) -> History {
        History {
            entries: VecDeque::new(),
            max_items,
            bytes: 0,
            session_id: None,
            own_ids: 0,
        }
    }

    /// Items kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of text and images kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The turns kept, oldest first, with their item ids.
    pub fn turns(&self) -> impl Iterator<Item = (&str, &Turn)> {
        self.entries.iter().map(|e| (e.id.as_str(), &e.turn))
    }

    /// A new id for an item the plugin creates (unique within this conversation).
    pub fn next_own_id(&mut self) -> String {
        self.own_ids += 1;
        format!("rv_item_{}", self.own_ids)
    }

    /// A server session began (`session.created`). True when it is not the one the items
    /// live on and there are items to re-create on it. A session without an id is taken
    /// as new: a reconnect never resumes a server session.
    pub fn on_session(&mut self, session_id: &str) -> bool {
        let new = match self.session_id.as_deref() {
            Some(old) => old != session_id || session_id.is_empty(),
            None => false,
        };
        self.session_id = Some(session_id.to_string());
        new && !self.entries.is_empty()
    }

    /// The server added an item or finished it (`conversation.item.added`/`.done`).
    pub fn on_item(&mut self, item: &ItemInfo) {
        let (Some(id), Some(turn)) = (item.id.as_deref(), Turn::from_item(item)) else {
            return;
        };
        match self.position(id) {
            Some(i) => {
                let entry = &mut self.entries[i];
                let before = entry.turn.bytes();
                merge(entry, turn);
                let after = entry.turn.bytes();
                self.bytes = self.bytes + after - before;
            }
            None => self.push(id.to_string(), turn),
        }
        self.bound();
    }

    /// The server's whole view of an item (`conversation.item.retrieved`): it replaces what
    /// is kept under its id, where it stands (see the module docs for what stays). An id not
    /// kept is ignored.
    pub fn on_item_retrieved(&mut self, item: &ItemInfo) {
        let Some(id) = item.id.as_deref() else {
            return;
        };
        let (Some(i), Some(turn)) = (self.position(id), Turn::from_item(item)) else {
            return;
        };
        let entry = &mut self.entries[i];
        let before = entry.turn.bytes();
        replace(entry, turn, item);
        let after = entry.turn.bytes();
        self.bytes = self.bytes + after - before;
        self.bound();
    }

    /// The plugin sent a user message with an image under `id`: kept as sent (the server
    /// may echo the image by reference only).
    pub fn on_image_sent(&mut self, id: &str, text: Option<&str>, url: &str) {
        let mut parts = Vec::new();
        if let Some(t) = text {
            parts.push(Part::Text(t.to_string()));
        }
        parts.push(Part::Image {
            url: url.to_string(),
            detail: None,
        });
        self.push(id.to_string(), Turn::User(parts));
        self.bound();
    }

    /// The transcript of a user turn's speech.
    pub fn on_user_transcript(&mut self, item_id: &str, transcript: &str) {
        let Some(i) = self.position(item_id) else {
            return;
        };
        if let Turn::User(parts) = &mut self.entries[i].turn {
            let speech = parts.iter_mut().find_map(|p| match p {
                Part::Speech(t) => Some(t),
                _ => None,
            });
            match speech {
                Some(t) => {
                    let old = t.as_ref().map_or(0, String::len);
                    *t = Some(transcript.to_string());
                    self.bytes = self.bytes + transcript.len() - old;
                }
                None => {
                    parts.push(Part::Speech(Some(transcript.to_string())));
                    self.bytes += transcript.len();
                }
            }
        }
        self.bound();
    }

    /// More of an assistant turn's text or transcript.
    pub fn on_assistant_delta(&mut self, item_id: &str, delta: &str) {
        if let Some(i) = self.position(item_id) {
            let entry = &mut self.entries[i];
            if let (Turn::Assistant(text), false) = (&mut entry.turn, entry.cut) {
                text.push_str(delta);
                self.bytes += delta.len();
                self.bound();
            }
        }
    }

    /// An assistant turn's whole text or transcript.
    pub fn on_assistant_text(&mut self, item_id: &str, whole: &str) {
        if let Some(i) = self.position(item_id) {
            let entry = &mut self.entries[i];
            if let (Turn::Assistant(text), false) = (&mut entry.turn, entry.cut) {
                self.bytes = self.bytes + whole.len() - text.len();
                *text = whole.to_string();
                self.bound();
            }
        }
    }

    /// The user interrupted an assistant turn after hearing `heard_ms` of the `received_ms`
    /// of audio that had arrived: its words are cut in that proportion, at a word boundary
    /// (the transcript runs as far ahead of playback as the audio does).
    pub fn on_cut(&mut self, item_id: &str, heard_ms: u64, received_ms: u64) {
        let Some(i) = self.position(item_id) else {
            return;
        };
        let entry = &mut self.entries[i];
        entry.cut = true;
        if let Turn::Assistant(text) = &mut entry.turn {
            let before = text.len();
            let kept = heard_prefix(text, heard_ms, received_ms).len();
            text.truncate(kept);
            self.bytes -= before - kept;
        }
    }

    /// Forgets an item (deleted by the host or the server).
    pub fn forget(&mut self, item_id: &str) {
        if let Some(i) = self.position(item_id) {
            if let Some(e) = self.entries.remove(i) {
                self.bytes -= e.turn.bytes();
            }
            self.drop_orphan_outputs();
        }
    }

    /// The `conversation.item.create` items that re-create the conversation, in order.
    pub fn restore_items(&self, flavor: ProtocolFlavor) -> Vec<Value> {
        self.entries
            .iter()
            .filter_map(|e| e.turn.to_item(&e.id, flavor))
            .collect()
    }

    fn position(&self, id: &str) -> Option<usize> {
        // Recent items are the ones events name: search from the back.
        self.entries.iter().rposition(|e| e.id == id)
    }

    fn push(&mut self, id: String, turn: Turn) {
        self.bytes += turn.bytes();
        self.entries.push_back(Entry {
            id,
            turn,
            cut: false,
        });
    }

    /// Forgets the oldest items until both bounds hold.
    fn bound(&mut self) {
        let mut dropped = false;
        while self.entries.len() > self.max_items || self.bytes > MAX_BYTES {
            let Some(e) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= e.turn.bytes();
            dropped = true;
        }
        if dropped {
            self.drop_orphan_outputs();
        }
    }

    fn drop_orphan_outputs(&mut self) {
        let calls: Vec<String> = self
            .entries
            .iter()
            .filter_map(|e| match &e.turn {
                Turn::FunctionCall { call_id, .. } => Some(call_id.clone()),
                _ => None,
            })
            .collect();
        let mut freed = 0;
        self.entries.retain(|e| match &e.turn {
            Turn::FunctionOutput { call_id, .. } if !calls.contains(call_id) => {
                freed += e.turn.bytes();
                false
            }
            _ => true,
        });
        self.bytes -= freed;
    }
}

/// The server's later view of an item meets what is kept: nothing already known is lost
/// (images as sent, a cut turn's words), anything new is taken.
fn merge(entry: &mut Entry, new: Turn) {
    match (&mut entry.turn, new) {
        (Turn::User(old), Turn::User(new)) => {
            if old.is_empty() {
                *old = new;
                return;
            }
            // Fill in transcripts the earlier view did not have yet.
            let mut new_speech = new.into_iter().filter_map(|p| match p {
                Part::Speech(Some(t)) => Some(t),
                _ => None,
            });
            for part in old.iter_mut() {
                if let Part::Speech(t @ None) = part {
                    match new_speech.next() {
                        Some(n) => *t = Some(n),
                        None => break,
                    }
                }
            }
        }
        (Turn::Assistant(old), Turn::Assistant(new)) if !entry.cut && !new.is_empty() => {
            *old = new;
        }
        (Turn::System(old), Turn::System(new)) if !new.is_empty() => *old = new,
        (
            Turn::FunctionCall { arguments, .. },
            Turn::FunctionCall {
                arguments: new_arguments,
                ..
            },
        ) if !new_arguments.is_empty() => *arguments = new_arguments,
        _ => {}
    }
}

/// A user item's parts; a part named without its payload takes the one `kept_speech` or
/// `kept_image` gives (called once per such part, in order), or is left out (an image)
/// or untranscribed (speech) when they give none.
fn user_parts(
    item: &ItemInfo,
    mut kept_speech: impl FnMut() -> Option<String>,
    mut kept_image: impl FnMut() -> Option<(String, Option<String>)>,
) -> Vec<Part> {
    item.content
        .iter()
        .filter_map(|p| match p.part_type.as_deref() {
            Some("input_text" | "text") => Some(Part::Text(p.text.clone()?)),
            Some("input_audio" | "audio") => {
                let kept = kept_speech();
                Some(Part::Speech(p.text.clone().or(kept)))
            }
            Some("input_image") => {
                let kept = kept_image();
                match (&p.image_url, kept) {
                    (Some(url), _) => Some(Part::Image {
                        url: url.clone(),
                        detail: p.detail.clone(),
                    }),
                    (None, Some((url, detail))) => Some(Part::Image {
                        url,
                        detail: p.detail.clone().or(detail),
                    }),
                    (None, None) => None,
                }
            }
            _ => None,
        })
        .collect()
}

/// The server's whole view of an item replaces what is kept, except what that view leaves
/// out: the payload of a part it names without one (an image by reference, speech not yet
/// transcribed) is taken from the kept part of the same kind in the same place, and an
/// interrupted turn keeps its words.
fn replace(entry: &mut Entry, new: Turn, item: &ItemInfo) {
    match (&mut entry.turn, new) {
        (Turn::User(old), Turn::User(_)) => {
            let mut old_images = old.iter().filter_map(|p| match p {
                Part::Image { url, detail } => Some((url.clone(), detail.clone())),
                _ => None,
            });
            let mut old_speech = old.iter().filter_map(|p| match p {
                Part::Speech(t) => Some(t.clone()),
                _ => None,
            });
            // Walked over the item's own parts (not the turn, which drops an image without
            // its bytes) so that each part meets the kept one in its place.
            let parts = user_parts(item, || old_speech.next().flatten(), || old_images.next());
            *old = parts;
        }
        (Turn::Assistant(_), Turn::Assistant(_)) if entry.cut => {}
        (Turn::Assistant(old), Turn::Assistant(new)) if !new.is_empty() => *old = new,
        (Turn::Assistant(_), Turn::Assistant(_)) => {}
        (Turn::System(old), Turn::System(new)) if !new.is_empty() => *old = new,
        (Turn::System(_), Turn::System(_)) => {}
        (
            Turn::FunctionCall { arguments, .. },
            Turn::FunctionCall {
                call_id,
                name,
                arguments: new_arguments,
            },
        ) => {
            let arguments = if new_arguments.is_empty() {
                std::mem::take(arguments)
            } else {
                new_arguments
            };
            entry.turn = Turn::FunctionCall {
                call_id,
                name,
                arguments,
            };
        }
        (old, new) => *old = new,
    }
}

/// The part of `text` heard when `heard_ms` of `received_ms` was played: the same share of
/// its characters, back to the end of the last whole word.
fn heard_prefix(text: &str, heard_ms: u64, received_ms: u64) -> &str {
    if received_ms == 0 {
        return "";
    }
    if heard_ms >= received_ms {
        return text;
    }
    let chars = text.chars().count() as u64;
    let keep = (chars * heard_ms / received_ms) as usize;
    let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let head = &text[..end];
    // A word cut in the middle was not heard whole: back to the last space, unless the
    // next character ends the word anyway.
    let word_ends_here = !matches!(text[end..].chars().next(), Some(c) if !c.is_whitespace());
    if word_ends_here {
        return head.trim_end();
    }
    match head.rfind(char::is_whitespace) {
        Some(i) => head[..i].trim_end(),
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::server::ContentPart;

    fn item(id: &str, kind: &str, role: Option<&str>) -> ItemInfo {
        ItemInfo {
            id: Some(id.into()),
            item_type: Some(kind.into()),
            role: role.map(Into::into),
            ..ItemInfo::default()
        }
    }

    fn part(kind: &str, text: Option<&str>) -> ContentPart {
        ContentPart {
            part_type: Some(kind.into()),
            text: text.map(Into::into),
            ..ContentPart::default()
        }
    }

    fn user_text(id: &str, text: &str) -> ItemInfo {
        ItemInfo {
            content: vec![part("input_text", Some(text))],
            ..item(id, "message", Some("user"))
        }
    }

    fn ids(h: &History) -> Vec<&str> {
        h.turns().map(|(id, _)| id).collect()
    }

    #[test]
    fn heard_prefix_keeps_whole_words_in_proportion() {
        let text = "one two three four";
        assert_eq!(heard_prefix(text, 0, 1000), "");
        assert_eq!(heard_prefix(text, 1000, 1000), text);
        assert_eq!(heard_prefix(text, 5000, 1000), text);
        // 7 of 18 characters: "one two" ends a word exactly.
        assert_eq!(heard_prefix(text, 7, 18), "one two");
        // 9 of 18: into "three", which was not heard whole.
        assert_eq!(heard_prefix(text, 9, 18), "one two");
        assert_eq!(heard_prefix("héllo wörld", 8, 11), "héllo");
        assert_eq!(heard_prefix("anything", 3, 0), "");
    }

    #[test]
    fn sessions_restore_only_when_a_new_one_meets_kept_items() {
        let mut h = History::new(10);
        assert!(
            !h.on_session("sess_1"),
            "the first session restores nothing"
        );
        assert!(!h.on_session("sess_2"), "nothing kept: nothing to restore");
        h.on_item(&user_text("i1", "hi"));
        assert!(!h.on_session("sess_2"), "the same session");
        assert!(h.on_session("sess_3"));
    }

    #[test]
    fn untranscribed_speech_and_empty_turns_are_not_re_created() {
        let mut h = History::new(10);
        let speech = ItemInfo {
            content: vec![part("input_audio", None)],
            ..item("u1", "message", Some("user"))
        };
        h.on_item(&speech);
        h.on_item(&item("a1", "message", Some("assistant")));
        assert_eq!(h.len(), 2);
        assert!(h.restore_items(ProtocolFlavor::Ga).is_empty());
        h.on_user_transcript("u1", "move the cube");
        h.on_assistant_delta("a1", "Sure");
        let items = h.restore_items(ProtocolFlavor::Ga);
        assert_eq!(items[0]["content"][0]["text"], "move the cube");
        assert_eq!(items[0]["content"][0]["type"], "input_text");
        assert_eq!(
            items[1]["content"][0],
            json!({"type": "output_text", "text": "Sure"})
        );
        let beta = h.restore_items(ProtocolFlavor::Beta);
        assert_eq!(beta[1]["content"][0]["type"], "text");
    }

    #[test]
    fn a_later_view_fills_transcripts_but_keeps_what_was_sent() {
        let mut h = History::new(10);
        h.on_image_sent("rv_item_1", Some("look"), "data:image/png;base64,AAAA");
        // The server echoes the image by reference only.
        h.on_item(&ItemInfo {
            content: vec![part("input_text", Some("look")), part("input_image", None)],
            ..item("rv_item_1", "message", Some("user"))
        });
        let items = h.restore_items(ProtocolFlavor::Ga);
        assert_eq!(
            items[0]["content"][1]["image_url"],
            "data:image/png;base64,AAAA"
        );
        assert_eq!(items[0]["id"], "rv_item_1");
        // Speech added before its transcript, then done with it.
        h.on_item(&ItemInfo {
            content: vec![part("input_audio", None)],
            ..item("u1", "message", Some("user"))
        });
        h.on_item(&ItemInfo {
            content: vec![part("input_audio", Some("hello"))],
            ..item("u1", "message", Some("user"))
        });
        assert_eq!(h.len(), 2, "the same item twice is one item");
        assert_eq!(
            h.restore_items(ProtocolFlavor::Ga)[1]["content"][0]["text"],
            "hello"
        );
    }

    #[test]
    fn an_interrupted_turn_keeps_only_what_was_heard_for_good() {
        let mut h = History::new(10);
        h.on_item(&item("a1", "message", Some("assistant")));
        h.on_assistant_delta("a1", "The cube is red and ");
        h.on_assistant_delta("a1", "it is big");
        // 55 % of the audio that had arrived was heard: 15 of 29 characters.
        h.on_cut("a1", 550, 1000);
        let text =
            |h: &History| h.restore_items(ProtocolFlavor::Ga)[0]["content"][0]["text"].clone();
        assert_eq!(text(&h), "The cube is red");
        // The server finishes the item with its whole transcript: still cut.
        h.on_assistant_text("a1", "The cube is red and it is big.");
        h.on_assistant_delta("a1", " more");
        h.on_item(&ItemInfo {
            content: vec![part("output_audio", Some("The cube is red and it is big."))],
            ..item("a1", "message", Some("assistant"))
        });
        assert_eq!(text(&h), "The cube is red");
        assert_eq!(h.bytes(), "The cube is red".len());
    }

    #[test]
    fn tool_calls_and_outputs_are_kept_and_an_orphan_output_goes_with_its_call() {
        let mut h = History::new(3);
        let call = ItemInfo {
            call_id: Some("c1".into()),
            name: Some("move".into()),
            arguments: Some(r#"{"dx":1}"#.into()),
            ..item("fc1", "function_call", None)
        };
        let output = ItemInfo {
            call_id: Some("c1".into()),
            output: Some("ok".into()),
            ..item("fo1", "function_call_output", None)
        };
        h.on_item(&call);
        h.on_item(&output);
        let items = h.restore_items(ProtocolFlavor::Ga);
        assert_eq!(
            items[0],
            json!({"id": "fc1", "type": "function_call", "call_id": "c1", "name": "move", "arguments": "{\"dx\":1}"})
        );
        assert_eq!(
            items[1],
            json!({"id": "fo1", "type": "function_call_output", "call_id": "c1", "output": "ok"})
        );
        // Two more items: the call is the oldest and goes, its output with it.
        h.on_item(&user_text("u1", "a"));
        h.on_item(&user_text("u2", "b"));
        assert_eq!(ids(&h), ["u1", "u2"]);
        // Deleting a call forgets its output too.
        let mut h = History::new(10);
        h.on_item(&call);
        h.on_item(&output);
        h.on_item(&user_text("u1", "a"));
        h.forget("fc1");
        assert_eq!(ids(&h), ["u1"]);
        assert_eq!(h.bytes(), 1);
    }

    #[test]
    fn the_item_bound_forgets_the_oldest_first_and_zero_keeps_nothing() {
        let mut h = History::new(2);
        for id in ["i1", "i2", "i3"] {
            h.on_item(&user_text(id, id));
        }
        assert_eq!(ids(&h), ["i2", "i3"]);
        assert_eq!(h.bytes(), 4);
        let mut none = History::new(0);
        none.on_item(&user_text("i1", "x"));
        assert!(none.is_empty());
        assert_eq!(none.bytes(), 0);
    }

    #[test]
    fn the_byte_bound_holds_whatever_the_item_bound() {
        let mut h = History::new(1000);
        let big = "x".repeat(MAX_BYTES / 3 + 1);
        for i in 0..3 {
            h.on_image_sent(&format!("img{i}"), None, &big);
        }
        assert_eq!(ids(&h), ["img1", "img2"]);
        assert!(h.bytes() <= MAX_BYTES);
        // One image larger than the whole budget is not kept at all.
        h.on_image_sent("huge", None, &"y".repeat(MAX_BYTES + 1));
        assert!(h.is_empty());
        assert_eq!(h.bytes(), 0);
    }

    #[test]
    fn deleted_items_are_forgotten_and_unknown_kinds_ignored() {
        let mut h = History::new(10);
        h.on_item(&user_text("i1", "a"));
        h.on_item(&user_text("i2", "b"));
        h.forget("i1");
        h.forget("nope");
        assert_eq!(ids(&h), ["i2"]);
        h.on_item(&item("m1", "mcp_call", None));
        h.on_item(&ItemInfo {
            id: None,
            ..user_text("x", "no id")
        });
        assert_eq!(ids(&h), ["i2"]);
    }

    fn text_of(h: &History, index: usize) -> Value {
        h.restore_items(ProtocolFlavor::Ga)[index]["content"][0]["text"].clone()
    }

    #[test]
    fn a_retrieved_item_replaces_the_kept_one_in_place() {
        let mut h = History::new(10);
        h.on_item(&item("a1", "message", Some("assistant")));
        h.on_assistant_delta("a1", "The cube");
        h.on_item(&user_text("u1", "next"));
        let whole = "The cube is red.";
        h.on_item_retrieved(&ItemInfo {
            content: vec![part("output_audio", Some(whole))],
            ..item("a1", "message", Some("assistant"))
        });
        assert_eq!(ids(&h), ["a1", "u1"], "not reordered");
        assert_eq!(text_of(&h, 0), whole);
        assert_eq!(h.bytes(), whole.len() + "next".len());
        // Replaced, not merged: a user turn becomes what the server holds, even shorter.
        h.on_item_retrieved(&user_text("u1", "no"));
        assert_eq!(text_of(&h, 1), "no");
        assert_eq!(h.bytes(), whole.len() + 2);
        // A tool call's arguments and an output too.
        let call = |args: &str| ItemInfo {
            call_id: Some("c1".into()),
            name: Some("move".into()),
            arguments: Some(args.into()),
            ..item("fc1", "function_call", None)
        };
        h.on_item(&call(r#"{"dx""#));
        h.on_item_retrieved(&call(r#"{"dx":1}"#));
        assert_eq!(
            h.restore_items(ProtocolFlavor::Ga)[2]["arguments"],
            r#"{"dx":1}"#
        );
    }

    #[test]
    fn a_retrieved_item_keeps_what_its_view_leaves_out() {
        let mut h = History::new(10);
        h.on_image_sent("rv_item_1", Some("look"), "data:image/png;base64,AAAA");
        // The server names the image without its bytes and the text anew.
        h.on_item_retrieved(&ItemInfo {
            content: vec![
                part("input_text", Some("look here")),
                part("input_image", None),
            ],
            ..item("rv_item_1", "message", Some("user"))
        });
        let items = h.restore_items(ProtocolFlavor::Ga);
        assert_eq!(items[0]["content"][0]["text"], "look here");
        assert_eq!(
            items[0]["content"][1]["image_url"],
            "data:image/png;base64,AAAA"
        );
        assert_eq!(
            h.bytes(),
            "look here".len() + "data:image/png;base64,AAAA".len()
        );
        // Speech transcribed before: a view without its transcript keeps it.
        h.on_item(&ItemInfo {
            content: vec![part("input_audio", Some("hello"))],
            ..item("u1", "message", Some("user"))
        });
        h.on_item_retrieved(&ItemInfo {
            content: vec![part("input_audio", None)],
            ..item("u1", "message", Some("user"))
        });
        assert_eq!(text_of(&h, 1), "hello");
        // An assistant view without words keeps them; an interrupted turn keeps its cut.
        h.on_item(&item("a1", "message", Some("assistant")));
        h.on_assistant_delta("a1", "one two three four");
        h.on_item_retrieved(&item("a1", "message", Some("assistant")));
        assert_eq!(text_of(&h, 2), "one two three four");
        h.on_cut("a1", 1, 2);
        h.on_item_retrieved(&ItemInfo {
            content: vec![part("output_audio", Some("one two three four five"))],
            ..item("a1", "message", Some("assistant"))
        });
        assert_eq!(text_of(&h, 2), "one two");
    }

    #[test]
    fn a_retrieved_item_the_history_does_not_hold_is_ignored() {
        let mut h = History::new(1);
        h.on_item(&user_text("u1", "old"));
        h.on_item(&user_text("u2", "new"));
        assert_eq!(ids(&h), ["u2"]);
        // u1 was bounded away: it does not come back, and certainly not after u2.
        h.on_item_retrieved(&user_text("u1", "old"));
        h.on_item_retrieved(&user_text("u9", "never seen"));
        h.on_item_retrieved(&ItemInfo {
            id: None,
            ..user_text("x", "no id")
        });
        assert_eq!(ids(&h), ["u2"]);
        assert_eq!(h.bytes(), 3);
        // A kind the history does not keep changes nothing either.
        h.on_item_retrieved(&item("u2", "mcp_call", None));
        assert_eq!(text_of(&h, 0), "new");
    }

    #[test]
    fn a_retrieved_item_that_grows_past_the_byte_bound_is_let_go() {
        let mut h = History::new(10);
        h.on_item(&user_text("u1", "a"));
        h.on_item(&user_text("u2", "b"));
        let big = "x".repeat(MAX_BYTES);
        h.on_item_retrieved(&user_text("u2", &big));
        assert_eq!(ids(&h), ["u2"], "the oldest went to make room");
        assert_eq!(h.bytes(), MAX_BYTES);
    }

    #[test]
    fn own_ids_are_unique() {
        let mut h = History::new(1);
        let a = h.next_own_id();
        let b = h.next_own_id();
        assert_ne!(a, b);
        assert!(a.len() <= 32, "the API caps item ids at 32 characters");
    }
}
