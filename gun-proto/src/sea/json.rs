//! JSON as JavaScript holds it, for the texts SEA signs and hashes.
//!
//! SEA signs `JSON.stringify` of values it got from `JSON.parse`, so a
//! signature covers text whose shape is JavaScript's: object keys in
//! insertion order (integer-like keys first, ascending), every number a
//! double printed as JavaScript prints it, strings escaped as
//! `JSON.stringify` escapes them. [`Js`] keeps a parsed value in that form;
//! [`Js::stringify`] prints what `JSON.stringify(JSON.parse(text))` prints.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::jstext;

/// A JSON value with JavaScript's semantics: numbers are `f64`, objects keep
/// their keys' order (a repeated key keeps its first place, its last value).
#[derive(Debug, Clone, PartialEq)]
pub enum Js {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number (a double, as in JavaScript).
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Self>),
    /// An object, its keys in insertion order.
    Object(Vec<(String, Self)>),
}

impl Js {
    /// `JSON.parse(text)`, or `None` when the text is not JSON.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// SEA's `parse`: a `SEA{…}` text loses its `SEA` prefix, then JSON is
    /// parsed; text that is not JSON stays the string it was.
    pub fn parse_lenient(text: &str) -> Self {
        let body = text
            .strip_prefix("SEA")
            .filter(|t| t.starts_with('{'))
            .unwrap_or(text);
        Self::parse(body).unwrap_or_else(|| Self::String(text.to_owned()))
    }

    /// `JSON.stringify(self)`.
    pub fn stringify(&self) -> String {
        let mut out = String::new();
        self.push(&mut out);
        out
    }

    /// The text SEA hashes for a value: a string as it is, anything else
    /// its `JSON.stringify`.
    pub fn hash_text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::String(s) => std::borrow::Cow::Borrowed(s),
            other => std::borrow::Cow::Owned(other.stringify()),
        }
    }

    fn push(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(true) => out.push_str("true"),
            Self::Bool(false) => out.push_str("false"),
            Self::Number(n) => jstext::push_number(out, *n),
            Self::String(s) => jstext::push_string(out, s),
            Self::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.push(out);
                }
                out.push(']');
            }
            Self::Object(entries) => {
                out.push('{');
                let mut first = true;
                for (k, v) in ordered(entries) {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    jstext::push_string(out, k);
                    out.push(':');
                    v.push(out);
                }
                out.push('}');
            }
        }
    }

    /// The value at `key` of an object (`None` for anything else).
    pub fn get(&self, key: &str) -> Option<&Self> {
        match self {
            Self::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// Whether JavaScript holds this value truthy (`""`, `0`, `NaN`,
    /// `false` and `null` are not).
    pub fn truthy(&self) -> bool {
        match self {
            Self::Null | Self::Bool(false) => false,
            Self::Number(n) => *n != 0.0 && !n.is_nan(),
            Self::String(s) => !s.is_empty(),
            _ => true,
        }
    }

    /// An object from entries, in the order given.
    pub fn object<'a>(entries: impl IntoIterator<Item = (&'a str, Self)>) -> Self {
        Self::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    /// From `serde_json` data (its objects' keys come sorted: fine wherever
    /// the order is ours to choose, as for what we sign ourselves).
    pub fn from_serde(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Self::Null,
            serde_json::Value::Bool(b) => Self::Bool(*b),
            serde_json::Value::Number(n) => Self::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Self::String(s.clone()),
            serde_json::Value::Array(a) => Self::Array(a.iter().map(Self::from_serde).collect()),
            serde_json::Value::Object(o) => Self::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), Self::from_serde(v)))
                    .collect(),
            ),
        }
    }

    /// As `serde_json` data (key order is not kept).
    pub fn to_serde(&self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::Number(n) => crate::value::Value::Number(*n).to_json(),
            Self::String(s) => serde_json::Value::String(s.clone()),
            Self::Array(a) => serde_json::Value::Array(a.iter().map(Self::to_serde).collect()),
            Self::Object(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_serde()))
                    .collect(),
            ),
        }
    }
}

/// An object's entries in JavaScript's property order: array-index keys
/// first (ascending), then the rest in insertion order.
fn ordered(entries: &[(String, Js)]) -> impl Iterator<Item = (&String, &Js)> {
    let mut index: Vec<(u32, &String, &Js)> = entries
        .iter()
        .filter_map(|(k, v)| array_index(k).map(|i| (i, k, v)))
        .collect();
    index.sort_by_key(|(i, _, _)| *i);
    index.into_iter().map(|(_, k, v)| (k, v)).chain(
        entries
            .iter()
            .filter(|(k, _)| array_index(k).is_none())
            .map(|(k, v)| (k, v)),
    )
}

/// The key as an array index (`"0"`, `"17"`; not `"01"` or `"-1"`).
fn array_index(k: &str) -> Option<u32> {
    if k.is_empty() || (k.len() > 1 && k.starts_with('0')) || !k.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    k.parse::<u32>().ok().filter(|i| *i != u32::MAX)
}

impl<'de> Deserialize<'de> for Js {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsVisitor)
    }
}

struct JsVisitor;

impl<'de> Visitor<'de> for JsVisitor {
    type Value = Js;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_unit<E>(self) -> Result<Js, E> {
        Ok(Js::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Js, E> {
        Ok(Js::Bool(b))
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E>(self, n: i64) -> Result<Js, E> {
        Ok(Js::Number(n as f64))
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E>(self, n: u64) -> Result<Js, E> {
        Ok(Js::Number(n as f64))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Js, E> {
        Ok(Js::Number(n))
    }

    fn visit_str<E>(self, s: &str) -> Result<Js, E> {
        Ok(Js::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Js, E> {
        Ok(Js::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Js, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Js::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Js, A::Error> {
        let mut entries: Vec<(String, Js)> = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            let v: Js = map.next_value()?;
            match entries.iter_mut().find(|(e, _)| *e == k) {
                Some(slot) => slot.1 = v,
                None => entries.push((k, v)),
            }
        }
        Ok(Js::Object(entries))
    }
}

impl From<&str> for Js {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stringify_matches_javascript() {
        let cases = [
            (r#"{"b":1,"a":2}"#, r#"{"b":1,"a":2}"#),
            (
                r#"{"b":1,"2":0,"a":2,"1":0}"#,
                r#"{"1":0,"2":0,"b":1,"a":2}"#,
            ),
            (r#"{"a":1,"a":2,"b":3}"#, r#"{"a":2,"b":3}"#),
            (r#"[1.0, 2.5e3, -0, 1e21]"#, r#"[1,2500,0,1e+21]"#),
            (r#""\u0001\n\u2028""#, "\"\\u0001\\n\u{2028}\""),
            (r#"{"01":1,"1":2}"#, r#"{"1":2,"01":1}"#),
        ];
        for (text, js) in cases {
            assert_eq!(Js::parse(text).expect(text).stringify(), js, "{text}");
        }
    }

    #[test]
    fn lenient_parse_keeps_what_is_not_json() {
        assert_eq!(Js::parse_lenient("hello"), Js::String("hello".into()));
        assert_eq!(Js::parse_lenient("12"), Js::Number(12.0));
        assert_eq!(
            Js::parse_lenient(r#"SEA{"m":1}"#),
            Js::object([("m", Js::Number(1.0))])
        );
    }
}
