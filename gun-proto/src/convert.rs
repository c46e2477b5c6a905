//! Conversion between application JSON and graph diffs.
//!
//! A nested object becomes a node of its own and a link in its parent, with
//! the soul Gun.js would give it: its own `_["#"]`, else the link its parent
//! already holds at that key, else the path soul `parent/key`.

use crate::graph::Graph;
use crate::state::State;
use crate::value::{InvalidValue, Value, link_soul};

/// Data that cannot be put: the path names where (`alice.pets.0`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid data at {path}: {reason}")]
pub struct InvalidData {
    /// Soul and keys to the bad value, joined by `.`.
    pub path: String,
    /// What is wrong with it.
    pub reason: InvalidDataReason,
}

/// Why data was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDataReason {
    /// A value Gun.js refuses (array, NaN, Infinity).
    #[error(transparent)]
    Value(#[from] InvalidValue),
    /// The empty string is not a key.
    #[error("empty key")]
    EmptyKey,
    /// Only an object can be put at a soul.
    #[error("only an object can be put here")]
    NotAnObject,
    /// An object's `_["#"]` is not a non-empty string.
    #[error("bad soul in `_`")]
    BadSoul,
}

/// Builds the diff that puts the object `data` at `soul`, every property with
/// `state`. `existing_link(soul, key)` returns the soul a node already links to
/// at `key`, so that nested objects update the node already there.
///
/// Nothing is returned on error: a put is all or nothing.
pub fn diff_from_json(
    soul: &str,
    data: &serde_json::Value,
    state: State,
    existing_link: &dyn Fn(&str, &str) -> Option<String>,
) -> Result<Graph, InvalidData> {
    let mut diff = Graph::new();
    let serde_json::Value::Object(obj) = data else {
        return Err(InvalidData {
            path: soul.to_owned(),
            reason: InvalidDataReason::NotAnObject,
        });
    };
    let mut path = soul.to_owned();
    walk(&mut diff, soul, obj, state, existing_link, &mut path)?;
    Ok(diff)
}

/// The value to store at one key: a primitive, or a link to a nested node
/// (added to `diff`).
pub fn prop_from_json(
    diff: &mut Graph,
    parent: &str,
    key: &str,
    data: &serde_json::Value,
    state: State,
    existing_link: &dyn Fn(&str, &str) -> Option<String>,
    path: &mut String,
) -> Result<Value, InvalidData> {
    if key.is_empty() {
        return Err(InvalidData {
            path: path.clone(),
            reason: InvalidDataReason::EmptyKey,
        });
    }
    let len = path.len();
    path.push('.');
    path.push_str(key);
    let v = match data {
        serde_json::Value::Object(o) if link_soul(o).is_none() => {
            let child = match o.get("_") {
                Some(serde_json::Value::Object(meta)) => match meta.get("#") {
                    Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
                    None => default_child(parent, key, existing_link),
                    Some(_) => {
                        return Err(InvalidData {
                            path: path.clone(),
                            reason: InvalidDataReason::BadSoul,
                        });
                    }
                },
                _ => default_child(parent, key, existing_link),
            };
            walk(diff, &child, o, state, existing_link, path)?;
            Value::Link(child)
        }
        other => Value::from_json(other).map_err(|e| InvalidData {
            path: path.clone(),
            reason: e.into(),
        })?,
    };
    path.truncate(len);
    Ok(v)
}

fn default_child(
    parent: &str,
    key: &str,
    existing_link: &dyn Fn(&str, &str) -> Option<String>,
) -> String {
    existing_link(parent, key).unwrap_or_else(|| format!("{parent}/{key}"))
}

fn walk(
    diff: &mut Graph,
    soul: &str,
    obj: &serde_json::Map<String, serde_json::Value>,
    state: State,
    existing_link: &dyn Fn(&str, &str) -> Option<String>,
    path: &mut String,
) -> Result<(), InvalidData> {
    // Make the node exist even when the object is empty.
    let _ = diff.node_mut(soul);
    for (key, v) in obj {
        if key == "_" {
            continue;
        }
        let value = prop_from_json(diff, soul, key, v, state, existing_link, path)?;
        diff.insert(soul, key, value, state);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn none(_: &str, _: &str) -> Option<String> {
        None
    }

    #[test]
    fn nested_objects_get_path_souls() {
        let d = diff_from_json(
            "alice",
            &json!({"name": "Alice", "car": {"color": "red"}}),
            5.0,
            &none,
        )
        .expect("valid");
        assert_eq!(
            d.to_json_text(),
            r##"{"alice":{"_":{"#":"alice",">":{"car":5,"name":5}},"car":{"#":"alice/car"},"name":"Alice"},"alice/car":{"_":{"#":"alice/car",">":{"color":5}},"color":"red"}}"##
        );
    }

    #[test]
    fn existing_links_and_own_souls_are_kept() {
        let known = |s: &str, k: &str| (s == "alice" && k == "car").then(|| "car123".to_owned());
        let d = diff_from_json(
            "alice",
            &json!({"car": {"x": 1}, "pet": {"_": {"#": "rex"}, "y": 2}}),
            1.0,
            &known,
        )
        .expect("valid");
        assert_eq!(
            d.prop("alice", "car").map(|p| p.value.to_value()),
            Some(Value::Link("car123".into()))
        );
        assert_eq!(
            d.prop("alice", "pet").map(|p| p.value.to_value()),
            Some(Value::Link("rex".into()))
        );
        assert!(d.prop("rex", "y").is_some());
    }

    #[test]
    fn arrays_are_refused_with_their_path() {
        let e = diff_from_json("alice", &json!({"a": 1, "b": {"arr": [1, 2]}}), 1.0, &none)
            .unwrap_err();
        assert_eq!(e.path, "alice.b.arr");
        assert_eq!(e.reason, InvalidDataReason::Value(InvalidValue::Array));
        assert_eq!(
            e.to_string(),
            "Invalid data at alice.b.arr: arrays are not allowed"
        );
    }

    #[test]
    fn non_objects_and_empty_keys_are_refused() {
        assert!(diff_from_json("a", &json!(5), 1.0, &none).is_err());
        assert!(diff_from_json("a", &json!({"": 5}), 1.0, &none).is_err());
    }
}
