//! Lex queries: how a `get` selects souls or keys (`=`, `*`, `>`, `<`).

use crate::jstext;

/// A selection of strings: an exact match, a prefix, and/or an inclusive range.
/// All the set conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lex {
    /// `"="`: exactly this string (a plain string on the wire is this too).
    pub exact: Option<String>,
    /// `"*"`: strings starting with this.
    pub prefix: Option<String>,
    /// `">"`: strings greater than or equal to this.
    pub from: Option<String>,
    /// `"<"`: strings less than or equal to this.
    pub to: Option<String>,
    /// Whether the wire form was a plain string (kept to encode it back the same way).
    pub plain: bool,
}

impl Lex {
    /// A plain, exact selection, as `{"#": "soul"}` gives.
    pub fn exact(s: impl Into<String>) -> Self {
        Self {
            exact: Some(s.into()),
            plain: true,
            ..Self::default()
        }
    }

    /// The single string this selects, if it is an exact selection.
    pub fn as_exact(&self) -> Option<&str> {
        if self.prefix.is_none() && self.from.is_none() && self.to.is_none() {
            self.exact.as_deref()
        } else {
            None
        }
    }

    /// Whether `s` is selected.
    pub fn matches(&self, s: &str) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        if self.exact.as_deref().is_some_and(|e| e != s) {
            return false;
        }
        if self.prefix.as_deref().is_some_and(|p| !s.starts_with(p)) {
            return false;
        }
        if self
            .from
            .as_deref()
            .is_some_and(|f| jstext::cmp_utf16(s, f) == Less)
        {
            return false;
        }
        if self
            .to
            .as_deref()
            .is_some_and(|t| jstext::cmp_utf16(s, t) == Greater)
        {
            return false;
        }
        true
    }

    /// The smallest string that can match, to start a sorted scan from.
    pub fn lower_bound(&self) -> Option<&str> {
        self.exact
            .as_deref()
            .or(self.prefix.as_deref())
            .or(self.from.as_deref())
    }

    /// Reads a lex from its wire form: a string, or an object of `=`, `*`, `>`, `<`.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        match v {
            serde_json::Value::String(s) => Some(Self::exact(s.clone())),
            serde_json::Value::Object(o) => {
                let field = |k: &str| -> Result<Option<String>, ()> {
                    match o.get(k) {
                        None => Ok(None),
                        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                        Some(_) => Err(()),
                    }
                };
                let lex = Self {
                    exact: field("=").ok()?,
                    prefix: field("*").ok()?,
                    from: field(">").ok()?,
                    to: field("<").ok()?,
                    plain: false,
                };
                Some(lex)
            }
            _ => None,
        }
    }

    /// Appends the wire form.
    pub fn push_json(&self, out: &mut String) {
        if self.plain
            && let Some(e) = self.as_exact()
        {
            jstext::push_string(out, e);
            return;
        }
        out.push('{');
        let mut first = true;
        for (k, v) in [
            ("*", &self.prefix),
            ("<", &self.to),
            ("=", &self.exact),
            (">", &self.from),
        ] {
            if let Some(v) = v {
                if !first {
                    out.push(',');
                }
                first = false;
                jstext::push_string(out, k);
                out.push(':');
                jstext::push_string(out, v);
            }
        }
        out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prefix_and_range() {
        let l = Lex::from_json(&json!({"*": "a"})).expect("lex");
        assert!(l.matches("ab") && l.matches("a") && !l.matches("b"));
        let r = Lex::from_json(&json!({">": "ab", "<": "c"})).expect("lex");
        assert!(
            r.matches("ab")
                && r.matches("ba")
                && r.matches("c")
                && !r.matches("aa")
                && !r.matches("ca")
        );
        assert!(Lex::from_json(&json!({"*": 1})).is_none());
    }

    #[test]
    fn wire_form_round_trips() {
        for v in [
            json!("soul"),
            json!({"*": "p"}),
            json!({">": "a", "<": "b"}),
            json!({"=": "k"}),
        ] {
            let l = Lex::from_json(&v).expect("lex");
            let mut s = String::new();
            l.push_json(&mut s);
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&s).expect("json"),
                v
            );
        }
    }
}
