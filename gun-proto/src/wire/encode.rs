//! The wire form we write: a message's fields in the order Gun.js sorts
//! them, a get's query, and a batch frame of messages.

use compact_str::CompactString;

use super::{Frame, Get, Message};
use crate::jstext;

impl Get {
    /// Appends the wire form (`{"#":…,".":…,"%":…,"-":1}`).
    pub fn push_json(&self, out: &mut String) {
        out.push_str("{\"#\":");
        self.soul.push_json(out);
        if let Some(b) = self.budget {
            out.push_str(",\"%\":");
            jstext::push_number(out, b);
        }
        if self.reverse {
            out.push_str(",\"-\":1");
        }
        if let Some(k) = &self.key {
            out.push_str(",\".\":");
            k.push_json(out);
        }
        out.push('}');
    }
}

impl Message {
    /// The message as a JSON object (as [`Message::encode`] writes it).
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::from_str(&self.encode()) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }

    /// Encodes the message as JSON with its keys sorted, as a Gun.js node peer does.
    /// Written in one pass: the known fields in their sorted order, with any
    /// `extra` fields merged in where they sort.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(64);
        self.push_json(&mut out);
        out
    }

    /// Appends the message as [`Message::encode`] writes it.
    pub fn push_json(&self, out: &mut String) {
        /// The known fields' keys, sorted as UTF-16 code units compare.
        const KNOWN: [&str; 10] = [
            "#", "##", "><", "@", "dam", "err", "get", "ok", "pid", "put",
        ];
        let mut extra: Vec<(&str, &serde_json::Value)> =
            self.extra.iter().map(|(k, v)| (k.as_str(), v)).collect();
        extra.sort_by(|a, b| jstext::cmp_utf16(a.0, b.0));
        let mut extra = extra.into_iter().peekable();
        let start = out.len();
        out.push('{');
        let key = |out: &mut String, k: &str| {
            if out.len() > start + 1 {
                out.push(',');
            }
            jstext::push_string(out, k);
            out.push(':');
        };
        let text = |out: &mut String, k: &str, v: Option<&str>| {
            if let Some(v) = v {
                key(out, k);
                jstext::push_string(out, v);
            }
        };
        let json = |out: &mut String, v: &serde_json::Value| {
            use std::fmt::Write as _;
            match v {
                serde_json::Value::Bool(true) => out.push_str("true"),
                v => {
                    let _ = write!(out, "{v}");
                }
            }
        };
        for k in KNOWN {
            while let Some((ek, ev)) =
                extra.next_if(|(ek, _)| jstext::cmp_utf16(ek, k) == std::cmp::Ordering::Less)
            {
                key(out, ek);
                json(out, ev);
            }
            match k {
                "#" => text(out, k, self.id.as_deref()),
                "##" => {
                    if let Some(h) = self.hash {
                        key(out, k);
                        jstext::push_number(out, h);
                    }
                }
                "><" => text(out, k, self.seen.as_deref()),
                "@" => text(out, k, self.ack.as_deref()),
                "dam" => text(out, k, self.dam.as_deref()),
                "err" => text(out, k, self.err.as_deref()),
                "get" => {
                    if let Some(g) = &self.get {
                        key(out, k);
                        g.push_json(out);
                    }
                }
                "ok" => {
                    if let Some(v) = &self.ok {
                        key(out, k);
                        json(out, v);
                    }
                }
                "pid" => text(out, k, self.pid.as_deref()),
                // "put", the last.
                _ => {
                    if let Some(g) = &self.put {
                        key(out, k);
                        g.push_json(out);
                    }
                }
            }
        }
        for (ek, ev) in extra {
            key(out, ek);
            json(out, ev);
        }
        out.push('}');
    }

    /// A `dam:"!"` error notice.
    pub fn dam_error(id: impl Into<CompactString>, err: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            dam: Some("!".into()),
            err: Some(err.into()),
            ..Self::default()
        }
    }
}

/// Joins encoded messages into one batch frame `[m1,m2,…]` (a single message
/// goes out as itself).
pub fn batch<M: AsRef<str>>(messages: &[M]) -> Frame {
    if let [one] = messages {
        return Frame::from(one.as_ref());
    }
    let mut out =
        String::with_capacity(messages.iter().map(|m| m.as_ref().len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(m.as_ref());
    }
    out.push(']');
    out.into()
}
