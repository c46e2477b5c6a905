//! The fast path of decoding: one pass over a message's text straight into
//! a [`Message`] (its `put` straight into a [`Graph`]), with no JSON tree in
//! between. It accepts exactly what [`super::message`] accepts and builds the
//! same message; anything it does not take (an escape in a field name, an
//! invalid put, a field of the wrong type) is left to that slower path, which
//! also says precisely what is wrong.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};

use super::{Message, parse_get};
use crate::graph::{Graph, Node, PropRef};
use crate::value::ValueRef;

/// Reads one message in one pass; `None` when the slow path must decide.
pub(super) fn message(text: &str) -> Option<Message> {
    let mut de = serde_json::Deserializer::from_str(text);
    let msg = de.deserialize_map(MessageVisitor).ok()?;
    de.end().ok()?;
    Some(msg)
}

/// Any error: the slow path says which.
fn refuse<E: de::Error>() -> E {
    E::custom("not for the fast path")
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Message;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Message, A::Error> {
        let mut m = Message::default();
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                "#" => m.id = Some(map.next_value()?),
                "@" => m.ack = Some(map.next_value()?),
                "><" => m.seen = Some(map.next_value()?),
                "dam" => m.dam = Some(map.next_value()?),
                "pid" => m.pid = Some(map.next_value()?),
                "err" => {
                    m.err = Some(match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    });
                }
                "ok" => m.ok = Some(map.next_value()?),
                "##" => m.hash = Some(map.next_value::<f64>()?),
                "put" => m.put = Some(map.next_value_seed(GraphSeed)?),
                "get" => {
                    let v: serde_json::Value = map.next_value()?;
                    m.get = Some(Box::new(parse_get(&v).ok_or_else(refuse)?));
                }
                other => {
                    let v = map.next_value()?;
                    m.extra.insert(other.to_owned(), v);
                }
            }
        }
        Ok(m)
    }
}

/// A `put`: souls to nodes.
struct GraphSeed;

impl<'de> DeserializeSeed<'de> for GraphSeed {
    type Value = Graph;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Graph, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for GraphSeed {
    type Value = Graph;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a graph")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Graph, A::Error> {
        let mut g = Graph::new();
        while let Some(soul) = map.next_key::<&'de str>()? {
            if soul.is_empty() {
                return Err(refuse());
            }
            let node = map.next_value_seed(NodeSeed { soul })?;
            g.insert_node(soul, node);
        }
        Ok(g)
    }
}

/// A node filed under `soul`: its `_` (the soul again and the states) may
/// come before or after its values, so both are gathered, then matched.
struct NodeSeed<'a> {
    soul: &'a str,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed<'_> {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut values: Vec<(&'de str, Scanned<'de>)> = Vec::new();
        let mut meta: Option<Meta<'de>> = None;
        while let Some(key) = map.next_key::<&'de str>()? {
            if key == "_" {
                meta = Some(map.next_value()?);
            } else {
                if key.is_empty() {
                    return Err(refuse());
                }
                values.push((key, map.next_value_seed(ValueSeed)?));
            }
        }
        let meta = meta.ok_or_else(refuse)?;
        if meta.soul != Some(self.soul) {
            return Err(refuse());
        }
        let states = meta.states.ok_or_else(refuse)?;
        // The last state given for a key counts, as a JSON object's last
        // duplicate does. Small nodes are searched, large ones indexed.
        let index: Option<std::collections::HashMap<&str, Option<f64>>> =
            (states.len() > 16).then(|| states.iter().copied().collect());
        let mut node = Node::with_capacity(values.len());
        for (key, value) in values {
            let state = match &index {
                Some(index) => index.get(key).copied().flatten(),
                None => states
                    .iter()
                    .rev()
                    .find(|(k, _)| *k == key)
                    .and_then(|(_, s)| *s),
            };
            let state = state.filter(|s| s.is_finite()).ok_or_else(refuse)?;
            node.set(
                key,
                PropRef {
                    value: value.view(),
                    state,
                },
            );
        }
        Ok(node)
    }
}

/// A node's `_`: its soul and the states of its properties.
struct Meta<'de> {
    soul: Option<&'de str>,
    states: Option<Vec<(&'de str, Option<f64>)>>,
}

impl<'de> serde::Deserialize<'de> for Meta<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(MetaVisitor)
    }
}

struct MetaVisitor;

impl<'de> Visitor<'de> for MetaVisitor {
    type Value = Meta<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a node's `_`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Meta<'de>, A::Error> {
        let mut meta = Meta {
            soul: None,
            states: None,
        };
        while let Some(key) = map.next_key::<&'de str>()? {
            match key {
                // Anything but a plain string here is a mismatch: the slow
                // path names it.
                "#" => meta.soul = Some(map.next_value()?),
                ">" => meta.states = Some(map.next_value_seed(StatesSeed)?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(meta)
    }
}

/// `_[">"]`: key to state. A state that is not a number is kept as `None`
/// (it only matters if its key has a value).
struct StatesSeed;

impl<'de> DeserializeSeed<'de> for StatesSeed {
    type Value = Vec<(&'de str, Option<f64>)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StatesSeed {
    type Value = Vec<(&'de str, Option<f64>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("states")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut states = Vec::new();
        while let Some(key) = map.next_key::<&'de str>()? {
            let MaybeNumber(n) = map.next_value()?;
            states.push((key, n));
        }
        Ok(states)
    }
}

/// Any JSON value: its number, if it is one.
struct MaybeNumber(Option<f64>);

impl<'de> serde::Deserialize<'de> for MaybeNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MaybeNumberVisitor)
    }
}

struct MaybeNumberVisitor;

impl<'de> Visitor<'de> for MaybeNumberVisitor {
    type Value = MaybeNumber;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<MaybeNumber, E> {
        Ok(MaybeNumber(Some(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<MaybeNumber, E> {
        Ok(MaybeNumber(Some(v as f64)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<MaybeNumber, E> {
        Ok(MaybeNumber(Some(v as f64)))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<MaybeNumber, E> {
        Ok(MaybeNumber(None))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeNumber, E> {
        Ok(MaybeNumber(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<MaybeNumber, E> {
        Ok(MaybeNumber(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeNumber, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(MaybeNumber(None))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeNumber, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeNumber(None))
    }
}

/// A property value as scanned: its text borrowed from the frame where it
/// has no escapes, owned where it had to be unescaped.
enum Scanned<'de> {
    Plain(ValueRef<'de>),
    String(String),
    Link(String),
}

impl Scanned<'_> {
    fn view(&self) -> ValueRef<'_> {
        match self {
            Self::Plain(v) => *v,
            Self::String(s) => ValueRef::String(s),
            Self::Link(s) => ValueRef::Link(s),
        }
    }
}

/// A property value, read as [`Value::from_json`] reads it.
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Scanned<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Scanned<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Scanned<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Gun value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scanned<'de>, E> {
        Ok(Scanned::Plain(ValueRef::Null))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scanned<'de>, E> {
        Ok(Scanned::Plain(ValueRef::Bool(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scanned<'de>, E> {
        if v.is_finite() {
            Ok(Scanned::Plain(ValueRef::Number(v)))
        } else {
            Err(refuse())
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scanned<'de>, E> {
        Ok(Scanned::Plain(ValueRef::Number(v as f64)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scanned<'de>, E> {
        Ok(Scanned::Plain(ValueRef::Number(v as f64)))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Scanned<'de>, E> {
        Ok(Scanned::Plain(ValueRef::String(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scanned<'de>, E> {
        Ok(Scanned::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scanned<'de>, E> {
        Ok(Scanned::String(v))
    }

    /// Only a link `{"#": soul}`, with exactly that key and a non-empty soul.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scanned<'de>, A::Error> {
        let Some(key) = map.next_key::<&'de str>()? else {
            return Err(refuse());
        };
        if key != "#" {
            return Err(refuse());
        }
        let soul = map.next_value_seed(Self)?;
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(refuse());
        }
        match soul {
            Scanned::Plain(ValueRef::String(s)) if !s.is_empty() => {
                Ok(Scanned::Plain(ValueRef::Link(s)))
            }
            Scanned::String(s) if !s.is_empty() => Ok(Scanned::Link(s)),
            _ => Err(refuse()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path builds what the slow path builds, or leaves it to it.
    #[test]
    fn agrees_with_the_slow_path() {
        let cases = [
            r###"{"#":"m1","put":{"user/alice":{"_":{"#":"user/alice",">":{"name":1700000000000,"age":1700000000000}},"name":"Alice","age":30}}}"###,
            r###"{"put":{"s":{"name":"x","_":{">":{"name":1.5},"#":"s"}}},"#":"a"}"###,
            r###"{"#":"g","get":{"#":"s",".":{"*":"a"},"%":100},"><":"x,y"}"###,
            r###"{"#":"r","@":"g","##":-12,"put":{"s":{"_":{"#":"s",">":{"l":2,"n":3}},"l":{"#":"t"},"n":null}}}"###,
            r###"{"dam":"?","pid":"p","#":"h","extra":{"deep":[1,{"a":2}]},"ok":{"":1},"err":7}"###,
            r###"{"#":"d","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":1,"k":2}}}"###,
            r###"{"#":"e","put":{"s":{"_":{"#":"s",">":{"k":1,"unused":"x"}},"k":"v"}}}"###,
        ];
        for text in cases {
            let fast = message(text).expect("fast path takes it");
            let v: serde_json::Value = serde_json::from_str(text).expect("json");
            let slow = super::super::message(v).expect("slow path takes it");
            assert_eq!(fast, slow, "{text}");
        }
        let refused = [
            r###"{"#":"x","put":{"s":{"_":{"#":"t",">":{"k":1}},"k":1}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{}},"k":1}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s"},"k":1}}}"###,
            r###"{"#":"x","put":{"s":{"k":1}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":[1]}}}"###,
            r###"{"#":"x","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":{"a":1}}}}"###,
            r###"{"#":"x","put":{"":{"_":{"#":"",">":{}}}}}"###,
            r###"{"#":1}"###,
            r###"{"#":"x","##":"h"}"###,
            r###"{"#":"x","get":{"#":3}}"###,
            r###"{"#":"x","p\u0075t":{}}"###,
            r###"[1]"###,
            r###"{"#":"x"} trailing"###,
        ];
        for text in refused {
            assert!(message(text).is_none(), "{text}");
        }
    }
}
