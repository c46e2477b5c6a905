//! The wire codec: frames of one message or a batch, and the message fields.

mod encode;
mod frame;
mod quick;
mod scan;

use std::collections::BTreeMap;

use compact_str::CompactString;

pub use encode::batch;
pub use frame::Frame;

use crate::graph::{Graph, Node};
use crate::lex::Lex;
use crate::value::{InvalidValue, Value};

/// Bounds on what a peer may send in one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest frame in bytes (default 8 MiB; Gun.js allows 90 M chars).
    pub max_frame_bytes: usize,
    /// Deepest nesting of `{`/`[` (default 32; a put node needs 6).
    pub max_depth: usize,
    /// Most messages in one batch frame (default 1,000).
    pub max_batch: usize,
    /// Longest soul, in bytes (default 2,048; a user's `~pub` is 88).
    pub max_soul_bytes: usize,
    /// Longest property key, in bytes (default 2,048).
    pub max_key_bytes: usize,
    /// Longest message id (`#`, `@`), in bytes (default 256; Gun.js makes
    /// 9 characters, the signed mesh 64).
    pub max_id_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 8 << 20,
            max_depth: 32,
            max_batch: 1000,
            max_soul_bytes: 2048,
            max_key_bytes: 2048,
            max_id_bytes: 256,
        }
    }
}

impl Limits {
    /// Whether a message's ids, souls and keys are within these limits.
    pub fn check(&self, msg: &Message) -> Result<(), MessageError> {
        let id =
            |s: &Option<CompactString>| s.as_ref().is_some_and(|s| s.len() > self.max_id_bytes);
        if id(&msg.id) || id(&msg.ack) {
            return Err(MessageError::TooLong("message id"));
        }
        if let Some(put) = &msg.put {
            for (soul, node) in put.iter() {
                if soul.len() > self.max_soul_bytes {
                    return Err(MessageError::TooLong("soul"));
                }
                if node.longest_key() > self.max_key_bytes {
                    return Err(MessageError::TooLong("key"));
                }
            }
        }
        if let Some(get) = &msg.get {
            let long = |l: &Lex, max: usize| {
                [&l.exact, &l.prefix, &l.from, &l.to]
                    .into_iter()
                    .flatten()
                    .any(|s| s.len() > max)
            };
            if long(&get.soul, self.max_soul_bytes) {
                return Err(MessageError::TooLong("soul"));
            }
            if get
                .key
                .as_ref()
                .is_some_and(|k| long(k, self.max_key_bytes))
            {
                return Err(MessageError::TooLong("key"));
            }
        }
        Ok(())
    }
}

/// Why a whole frame was refused. Each gets a `dam:"!"` reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Larger than [`Limits::max_frame_bytes`].
    #[error("Message too big!")]
    TooBig,
    /// Nested deeper than [`Limits::max_depth`].
    #[error("Message too deep!")]
    TooDeep,
    /// Not JSON (Gun.js's wording).
    #[error("DAM JSON parse error.")]
    Json,
    /// More messages than [`Limits::max_batch`].
    #[error("Batch too long!")]
    BatchTooLong,
}

/// Why one message of a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A message's JSON cannot be read (a number out of range, say).
    #[error("DAM JSON parse error.")]
    Json,
    /// A batch entry or the frame is not a JSON object.
    #[error("message is not an object")]
    NotAnObject,
    /// A known field has the wrong JSON type.
    #[error("field `{0}` has the wrong type")]
    FieldType(&'static str),
    /// The `put` graph is malformed.
    #[error("Invalid put: {0}")]
    Put(#[from] PutError),
    /// A soul, key or message id longer than [`Limits`] allow.
    #[error("a {0} is longer than this peer takes")]
    TooLong(&'static str),
}

/// What is wrong with a `put` graph. Nothing of such a put is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutError {
    /// A node is not an object.
    #[error("node `{0}` is not an object")]
    NodeNotObject(String),
    /// A node has no `_` metadata object.
    #[error("node `{0}` has no `_`")]
    MissingMeta(String),
    /// `_["#"]` differs from the soul the graph files the node under.
    #[error("node `{soul}` says its soul is `{found}`")]
    SoulMismatch {
        /// The key in the graph.
        soul: String,
        /// What `_["#"]` says.
        found: String,
    },
    /// `_[">"]` is missing or not an object.
    #[error("node `{0}` has no states `>`")]
    MissingStates(String),
    /// A property has no numeric, finite state.
    #[error("`{soul}.{key}` has no valid state")]
    MissingState {
        /// The node.
        soul: String,
        /// The property.
        key: String,
    },
    /// A property's value is not a Gun value.
    #[error("`{soul}.{key}`: {reason}")]
    BadValue {
        /// The node.
        soul: String,
        /// The property.
        key: String,
        /// Why.
        reason: InvalidValue,
    },
    /// An empty soul or key.
    #[error("empty soul or key")]
    Empty,
}

/// A `get`: which node, and optionally which keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Get {
    /// `"#"`: the soul, or a lex over souls.
    pub soul: Lex,
    /// `"."`: a key, or a lex over keys; `None` asks for the whole node.
    pub key: Option<Lex>,
    /// `"%"`: a byte budget for the reply.
    pub budget: Option<f64>,
    /// `"-"`: reverse order.
    pub reverse: bool,
}

/// One DAM message. Unknown fields are kept in `extra` and written back out
/// when the message is forwarded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    /// `#`: the message id.
    pub id: Option<CompactString>,
    /// `@`: the id this message answers.
    pub ack: Option<CompactString>,
    /// `put`: a graph diff.
    pub put: Option<Graph>,
    /// `get`: a query.
    pub get: Option<Box<Get>>,
    /// `ok`: a put's outcome (`true`, `{"":1}`, or `{"@":n,"/":n}` on a put).
    pub ok: Option<serde_json::Value>,
    /// `err`: a put's failure.
    pub err: Option<String>,
    /// `##`: hash of a reply's put.
    pub hash: Option<f64>,
    /// `><`: peers the sender already sent this to, comma separated.
    pub seen: Option<String>,
    /// `dam`: a mesh-control message (`?`, `!`, `hi`, ...).
    pub dam: Option<String>,
    /// `pid`: the sender's peer id in a `dam:"?"`.
    pub pid: Option<String>,
    /// Every other field, verbatim.
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The outcome of decoding one frame: each message, or why it was refused
/// (with its id when one could be read).
pub type Decoded = Vec<Result<Message, (Option<String>, MessageError)>>;

/// Decodes a frame: one message, or a JSON array of them.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded, FrameError> {
    Ok(split(bytes, limits)?
        .into_iter()
        .map(|raw| message_text(raw.get()))
        .collect())
}

/// Splits a frame into its messages' texts, within `limits` (size, depth
/// and batch length are checked before anything is read).
pub fn split<'a>(
    bytes: &'a [u8],
    limits: &Limits,
) -> Result<Vec<&'a serde_json::value::RawValue>, FrameError> {
    match split_frame(bytes, limits)? {
        Split::Batch(items) => Ok(items),
        Split::One(text) => {
            let one: &serde_json::value::RawValue =
                serde_json::from_str(text).map_err(|_| FrameError::Json)?;
            Ok(vec![one])
        }
    }
}

/// A frame's messages, as [`split_frame`] finds them.
#[derive(Debug)]
pub enum Split<'a> {
    /// A batch `[m1,m2,…]`: each message's text, known to be JSON.
    Batch(Vec<&'a serde_json::value::RawValue>),
    /// A lone message's text, not yet known to be JSON: the pass that
    /// reads it checks it (a frame that is not JSON is refused then).
    One(&'a str),
}

/// Splits a frame as [`split`] does, leaving a lone message's text to be
/// checked by the pass that reads it, so that it is scanned once.
pub fn split_frame<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Split<'a>, FrameError> {
    if bytes.len() > limits.max_frame_bytes {
        return Err(FrameError::TooBig);
    }
    check_depth(bytes, limits.max_depth)?;
    let text = std::str::from_utf8(bytes).map_err(|_| FrameError::Json)?;
    if text.trim_start().as_bytes().first() != Some(&b'[') {
        return Ok(Split::One(text));
    }
    let items: Vec<&serde_json::value::RawValue> =
        serde_json::from_str(text).map_err(|_| FrameError::Json)?;
    if items.len() > limits.max_batch {
        return Err(FrameError::BatchTooLong);
    }
    Ok(Split::Batch(items))
}

/// Reads one message from its text: in one pass when it is well formed
/// (a put or an ack in the usual shape by a byte scanner, any other through
/// `serde_json`), else through a JSON tree, which says what is wrong (with
/// the message's id when it has one, for a reply).
pub fn message_text(text: &str) -> Result<Message, (Option<String>, MessageError)> {
    quick_message(text).map_or_else(|| message_text_unusual(text), Ok)
}

/// A put or an ack in the shape peers write them, read by the quickest
/// path; `None` for any other message (read by [`message_text_unusual`]).
/// What it takes has no field but `#`, `@`, `><`, `##` and `put`.
pub(crate) fn quick_message(text: &str) -> Option<Message> {
    quick::message(text)
}

/// [`message_text`] of a message [`quick_message`] did not take.
pub(crate) fn message_text_unusual(text: &str) -> Result<Message, (Option<String>, MessageError)> {
    if let Some(m) = scan::message(text) {
        return Ok(m);
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => message(v),
        Err(_) => Err((None, MessageError::Json)),
    }
}

/// Decodes a frame into its messages as JSON values, within `limits`; each
/// is then read by [`message`].
pub fn decode_values(bytes: &[u8], limits: &Limits) -> Result<Vec<serde_json::Value>, FrameError> {
    if bytes.len() > limits.max_frame_bytes {
        return Err(FrameError::TooBig);
    }
    check_depth(bytes, limits.max_depth)?;
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| FrameError::Json)?;
    match v {
        serde_json::Value::Array(items) => {
            if items.len() > limits.max_batch {
                return Err(FrameError::BatchTooLong);
            }
            Ok(items)
        }
        other => Ok(vec![other]),
    }
}

/// How many `{` and `[` the bytes hold (`[` is `{` with bit 5 clear, and no
/// other byte or'ed with 0x20 is `{`), counted 255 bytes at a time in bytes
/// so that the count runs many bytes to an instruction.
fn openers(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|c| {
            let n = c.iter().fold(0u8, |n, &b| n + u8::from(b | 0x20 == b'{'));
            usize::from(n)
        })
        .sum()
}

fn check_depth(bytes: &[u8], max: usize) -> Result<(), FrameError> {
    // Nesting cannot go deeper than there are openers: a frame with few
    // (any single put of a few nodes) needs no walk through its strings.
    if openers(bytes) <= max {
        return Ok(());
    }
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &b in bytes {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return Err(FrameError::TooDeep);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Reads one message; on failure, why, with its id when it has one.
pub fn message(v: serde_json::Value) -> Result<Message, (Option<String>, MessageError)> {
    let serde_json::Value::Object(obj) = v else {
        return Err((None, MessageError::NotAnObject));
    };
    let id = match obj.get("#") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    parse_fields(obj).map_err(|e| (id, e))
}

fn string_field(v: serde_json::Value, name: &'static str) -> Result<String, MessageError> {
    match v {
        serde_json::Value::String(s) => Ok(s),
        _ => Err(MessageError::FieldType(name)),
    }
}

fn parse_fields(obj: serde_json::Map<String, serde_json::Value>) -> Result<Message, MessageError> {
    let mut m = Message::default();
    for (k, v) in obj {
        match k.as_str() {
            "#" => m.id = Some(string_field(v, "#")?.into()),
            "@" => m.ack = Some(string_field(v, "@")?.into()),
            "><" => m.seen = Some(string_field(v, "><")?),
            "dam" => m.dam = Some(string_field(v, "dam")?),
            "pid" => m.pid = Some(string_field(v, "pid")?),
            "err" => {
                m.err = Some(match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
            }
            "ok" => m.ok = Some(v),
            "##" => m.hash = Some(v.as_f64().ok_or(MessageError::FieldType("##"))?),
            "put" => m.put = Some(parse_put(&v)?),
            "get" => {
                m.get = Some(Box::new(
                    parse_get(&v).ok_or(MessageError::FieldType("get"))?,
                ))
            }
            _ => {
                m.extra.insert(k, v);
            }
        }
    }
    Ok(m)
}

/// Validates and reads a `put` graph: every node has `_` with a matching `#`
/// and a state for every property, and every value is a Gun value.
pub fn parse_put(v: &serde_json::Value) -> Result<Graph, MessageError> {
    let serde_json::Value::Object(nodes) = v else {
        return Err(MessageError::FieldType("put"));
    };
    let mut g = Graph::new();
    for (soul, node) in nodes {
        if soul.is_empty() {
            return Err(PutError::Empty.into());
        }
        let serde_json::Value::Object(node) = node else {
            return Err(PutError::NodeNotObject(soul.clone()).into());
        };
        let Some(serde_json::Value::Object(meta)) = node.get("_") else {
            return Err(PutError::MissingMeta(soul.clone()).into());
        };
        match meta.get("#") {
            Some(serde_json::Value::String(s)) if s == soul => {}
            other => {
                let found = other.map_or_else(|| "nothing".to_owned(), |v| v.to_string());
                return Err(PutError::SoulMismatch {
                    soul: soul.clone(),
                    found,
                }
                .into());
            }
        }
        let Some(serde_json::Value::Object(states)) = meta.get(">") else {
            return Err(PutError::MissingStates(soul.clone()).into());
        };
        let mut n = Node::new();
        for (key, value) in node {
            if key == "_" {
                continue;
            }
            if key.is_empty() {
                return Err(PutError::Empty.into());
            }
            let state = states
                .get(key)
                .and_then(serde_json::Value::as_f64)
                .filter(|s| s.is_finite());
            let Some(state) = state else {
                return Err(PutError::MissingState {
                    soul: soul.clone(),
                    key: key.clone(),
                }
                .into());
            };
            let value = Value::from_json(value).map_err(|reason| PutError::BadValue {
                soul: soul.clone(),
                key: key.clone(),
                reason,
            })?;
            n.insert(key.clone(), value, state);
        }
        g.insert_node(soul, n);
    }
    Ok(g)
}

pub(crate) fn parse_get(v: &serde_json::Value) -> Option<Get> {
    let serde_json::Value::Object(o) = v else {
        return None;
    };
    let soul = Lex::from_json(o.get("#")?)?;
    let key = match o.get(".") {
        None => None,
        Some(k) => Some(Lex::from_json(k)?),
    };
    let budget = match o.get("%") {
        None => None,
        Some(b) => Some(b.as_f64()?),
    };
    // Gun.js tests `-` for truthiness; `1` and `true` are what clients send.
    let reverse = match o.get("-") {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(serde_json::Value::Null) | None => false,
        Some(_) => true,
    };
    Some(Get {
        soul,
        key,
        budget,
        reverse,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field in the order Gun.js's sorted `JSON.stringify` gives,
    /// unknown ones merged in where they sort (UTF-16 order).
    #[test]
    fn encode_sorts_known_and_extra_fields_together() {
        let mut put = Graph::new();
        put.insert("s", "k", Value::Number(1.0), 2.0);
        let mut m = Message {
            id: Some("i".into()),
            ack: Some("a".into()),
            put: Some(put),
            ok: Some(serde_json::json!({"@": 1, "/": 2})),
            err: Some("e\"".into()),
            hash: Some(-5.0),
            seen: Some("p".into()),
            dam: Some("!".into()),
            pid: Some("q".into()),
            ..Message::default()
        };
        for (k, v) in [
            ("$", 1),
            ("a", 2),
            ("pa", 3),
            ("zz", 4),
            ("\u{FFFF}", 5),
            ("😀", 6),
        ] {
            m.extra.insert(k.into(), v.into());
        }
        assert_eq!(
            m.encode(),
            r###"{"#":"i","##":-5,"$":1,"><":"p","@":"a","a":2,"dam":"!","err":"e\"","ok":{"/":2,"@":1},"pa":3,"pid":"q","put":{"s":{"_":{"#":"s",">":{"k":2}},"k":1}},"zz":4,"😀":6,"￿":5}"###
        );
        assert_eq!(Message::default().encode(), "{}");
        let back = decode(m.encode().as_bytes(), &Limits::default()).expect("frame");
        assert_eq!(back.len(), 1);
    }

    /// The openers counted for the depth check: every `{` and `[`, and
    /// nothing else, past a chunk's 255 bytes too.
    #[test]
    fn openers_count_braces_and_brackets_only() {
        assert_eq!(openers(b"{[}]\"{\" ;{{"), 5);
        let all: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        let want = all.iter().filter(|&&b| b == b'{' || b == b'[').count();
        assert_eq!(openers(&all), want);
        assert_eq!(openers(&[b'{'; 1_000]), 1_000);
    }
}
