//! Property values: what one key of a node can hold.

use std::cmp::Ordering;

use crate::jstext;

/// A property value as Gun.js defines it (`Gun.valid`).
///
/// `Null` is a delete: a tombstone that keeps its state. `Link` points at another
/// node by soul. Arrays, objects other than links, NaN and ±Infinity are not values.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`: a deleted property.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A finite number.
    Number(f64),
    /// A string.
    String(String),
    /// A link `{"#": soul}` to another node.
    Link(String),
}

/// A value that Gun.js would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    /// The number is NaN or ±Infinity.
    #[error("not a finite number")]
    NotFinite,
    /// Arrays are not graph values.
    #[error("arrays are not allowed")]
    Array,
    /// An object that is not a link `{"#": soul}` with a non-empty soul.
    #[error("an object here must be a link {{\"#\": soul}}")]
    NotALink,
}

impl Value {
    /// About how many bytes the value takes (a string its length, a link
    /// its soul's, anything else 8): what pages and budgets count.
    pub fn text_len(&self) -> usize {
        self.view().text_len()
    }

    /// The value borrowed: what a graph hands out for a stored property.
    pub fn view(&self) -> ValueRef<'_> {
        match self {
            Self::Null => ValueRef::Null,
            Self::Bool(b) => ValueRef::Bool(*b),
            Self::Number(n) => ValueRef::Number(*n),
            Self::String(s) => ValueRef::String(s),
            Self::Link(s) => ValueRef::Link(s),
        }
    }

    /// A number value, refusing NaN and ±Infinity.
    pub fn number(n: f64) -> Result<Self, InvalidValue> {
        if n.is_finite() {
            Ok(Self::Number(n))
        } else {
            Err(InvalidValue::NotFinite)
        }
    }

    /// Reads a wire value. Objects must be links; nested objects are the
    /// conversion layer's business ([`crate::convert`]).
    pub fn from_json(v: &serde_json::Value) -> Result<Self, InvalidValue> {
        Ok(match v {
            serde_json::Value::Null => Self::Null,
            serde_json::Value::Bool(b) => Self::Bool(*b),
            serde_json::Value::Number(n) => {
                Self::number(n.as_f64().ok_or(InvalidValue::NotFinite)?)?
            }
            serde_json::Value::String(s) => Self::String(s.clone()),
            serde_json::Value::Array(_) => return Err(InvalidValue::Array),
            serde_json::Value::Object(o) => match link_soul(o) {
                Some(soul) => Self::Link(soul.to_owned()),
                None => return Err(InvalidValue::NotALink),
            },
        })
    }

    /// The value as `serde_json` data (links as `{"#": soul}`).
    pub fn to_json(&self) -> serde_json::Value {
        self.view().to_json()
    }

    /// Appends the value's `JSON.stringify` text.
    pub fn push_json(&self, out: &mut String) {
        self.view().push_json(out);
    }

    /// The value's `JSON.stringify` text, as HAM compares it on a state tie.
    pub fn json_text(&self) -> String {
        self.view().json_text()
    }

    /// The linked soul, if this is a link.
    pub fn as_link(&self) -> Option<&str> {
        self.view().as_link()
    }

    /// Orders two values as Gun.js orders them on a state tie: by their JSON
    /// text, compared in UTF-16 code units.
    pub fn cmp_tie(&self, other: &Self) -> Ordering {
        self.view().cmp_tie(other.view())
    }
}

/// A property value borrowed from where it is kept (a graph keeps a node's
/// strings in one buffer): [`Value`]'s shape, with `&str` for the text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    /// `null`: a deleted property.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A finite number.
    Number(f64),
    /// A string.
    String(&'a str),
    /// A link `{"#": soul}` to another node.
    Link(&'a str),
}

impl<'a> ValueRef<'a> {
    /// The value owned.
    pub fn to_value(self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(b),
            Self::Number(n) => Value::Number(n),
            Self::String(s) => Value::String(s.to_owned()),
            Self::Link(s) => Value::Link(s.to_owned()),
        }
    }

    /// See [`Value::text_len`].
    pub fn text_len(self) -> usize {
        match self {
            Self::String(s) | Self::Link(s) => s.len(),
            _ => 8,
        }
    }

    /// The value as `serde_json` data (links as `{"#": soul}`).
    pub fn to_json(self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Bool(b) => serde_json::Value::Bool(b),
            // Integral numbers come back as JSON integers (`1`, not `1.0`).
            Self::Number(n) if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 => {
                serde_json::Value::Number((n as i64).into())
            }
            Self::Number(n) => serde_json::Number::from_f64(n)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Self::String(s) => serde_json::Value::String(s.to_owned()),
            Self::Link(s) => {
                let mut m = serde_json::Map::new();
                m.insert("#".to_owned(), serde_json::Value::String(s.to_owned()));
                serde_json::Value::Object(m)
            }
        }
    }

    /// Appends the value's `JSON.stringify` text.
    pub fn push_json(self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::Bool(true) => out.push_str("true"),
            Self::Bool(false) => out.push_str("false"),
            Self::Number(n) => jstext::push_number(out, n),
            Self::String(s) => jstext::push_string(out, s),
            Self::Link(s) => {
                out.push_str("{\"#\":");
                jstext::push_string(out, s);
                out.push('}');
            }
        }
    }

    /// The value's `JSON.stringify` text, as HAM compares it on a state tie.
    pub fn json_text(self) -> String {
        let mut s = String::new();
        self.push_json(&mut s);
        s
    }

    /// The linked soul, if this is a link.
    pub fn as_link(self) -> Option<&'a str> {
        match self {
            Self::Link(s) => Some(s),
            _ => None,
        }
    }

    /// See [`Value::cmp_tie`].
    pub fn cmp_tie(self, other: Self) -> Ordering {
        if self == other {
            return Ordering::Equal;
        }
        jstext::cmp_utf16(&self.json_text(), &other.json_text())
    }
}

impl PartialEq<ValueRef<'_>> for Value {
    fn eq(&self, other: &ValueRef<'_>) -> bool {
        self.view() == *other
    }
}

impl PartialEq<Value> for ValueRef<'_> {
    fn eq(&self, other: &Value) -> bool {
        *self == other.view()
    }
}

impl From<ValueRef<'_>> for Value {
    fn from(v: ValueRef<'_>) -> Self {
        v.to_value()
    }
}

/// The soul of a link object `{"#": "soul"}` (exactly one key, a non-empty string).
pub fn link_soul(o: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
    if o.len() != 1 {
        return None;
    }
    match o.get("#") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tie_order_is_json_text_order() {
        let s = |x: &str| Value::String(x.to_owned());
        assert_eq!(s("Bz").cmp_tie(&s("Bob")), Ordering::Greater);
        assert_eq!(s("a").cmp_tie(&s("ab")), Ordering::Less);
        // `"a"` vs `"a\"`: the quote escape sorts after the closing quote.
        assert_eq!(s("a").cmp_tie(&s("a\"")), Ordering::Less);
        // A prefix is not always smaller: `"a"` > `"a!"` since `"` > `!`.
        assert_eq!(s("a").cmp_tie(&s("a!")), Ordering::Greater);
        // A link (`{`) beats every primitive; a string (`"`) loses to a number.
        assert_eq!(
            Value::Link("x".into()).cmp_tie(&Value::Number(5.0)),
            Ordering::Greater
        );
        assert_eq!(s("z").cmp_tie(&Value::Number(5.0)), Ordering::Less);
        assert_eq!(s("\u{FFFF}").cmp_tie(&s("😀")), Ordering::Greater);
    }

    #[test]
    fn rejects_what_gunjs_rejects() {
        assert_eq!(Value::number(f64::NAN), Err(InvalidValue::NotFinite));
        assert_eq!(Value::number(f64::INFINITY), Err(InvalidValue::NotFinite));
        let arr = serde_json::json!([1]);
        assert_eq!(Value::from_json(&arr), Err(InvalidValue::Array));
        let obj = serde_json::json!({"#": "a", "b": 1});
        assert_eq!(Value::from_json(&obj), Err(InvalidValue::NotALink));
        let empty = serde_json::json!({"#": ""});
        assert_eq!(Value::from_json(&empty), Err(InvalidValue::NotALink));
    }
}
