//! Certificates (`SEA.certify`): a user signs who may write where in its
//! space, and until when. A writer presents one in the value it writes
//! (`{":":v,"~":sig,"+":cert,"*":writer}`) and relays check it.

use std::cmp::Ordering;

use super::json::Js;
use super::keys::Pair;
use super::sign::{Proof, sign_js};
use super::{SeaError, space::CERT_FAIL};
use crate::jstext;

/// Who a certificate lets write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificants {
    /// Anyone (`"*"`).
    Anyone,
    /// These public keys.
    Keys(Vec<String>),
}

/// `SEA.certify(who, policy, authority, null, {expiry})`: a certificate
/// (`SEA{"m":{"c","e"?,"w"},"s"}`) by `authority` letting `who` write where
/// the write policy `policy` says (a string, a lex object such as
/// `{"*":"inbox","+":"*"}`, or an array of them), until `expiry` (ms since
/// the epoch; compared with each write's state).
pub fn certify(
    who: &Certificants,
    policy: &serde_json::Value,
    authority: &Pair,
    expiry: Option<f64>,
) -> Result<String, SeaError> {
    let c = match who {
        Certificants::Anyone => Js::String("*".into()),
        Certificants::Keys(keys) if keys.iter().any(|k| k == "*") => Js::String("*".into()),
        Certificants::Keys(keys) if keys.len() == 1 => Js::String(keys[0].clone()),
        Certificants::Keys(keys) if keys.is_empty() => return Err(SeaError::NoCertificant),
        Certificants::Keys(keys) => Js::Array(keys.iter().map(|k| Js::String(k.clone())).collect()),
    };
    let mut m = vec![("c".to_owned(), c)];
    if let Some(e) = expiry {
        m.push(("e".to_owned(), Js::Number(e)));
    }
    m.push(("w".to_owned(), Js::from_serde(policy)));
    sign_js(Js::Object(m), authority)
}

/// Checks the certificate `cert` (a value's `+`) for a write by
/// `certificant` at `(soul, key)` with `state` into `owner`'s space: the
/// owner's signature over it (returned, to be verified) and its policy
/// (checked here). `Err` gives Gun.js's words for the refusal.
pub(crate) fn check(
    cert: &Js,
    owner: &str,
    certificant: &str,
    soul: &str,
    key: &str,
    state: f64,
) -> Result<Proof, &'static str> {
    let (Some(m), Some(s)) = (cert.get("m"), cert.get("s").and_then(Js::as_str)) else {
        return Err(CERT_FAIL);
    };
    let proof = Proof::new(owner, &m.hash_text(), s, CERT_FAIL)?;
    let data = match m {
        Js::String(text) => Js::parse_lenient(text),
        other => other.clone(),
    };
    if let Some(e) = data.get("e")
        && state > parse_float(e).unwrap_or(f64::NAN)
    {
        return Err("Certificate expired.");
    }
    let (Some(c), Some(w)) = (
        data.get("c").filter(|c| c.truthy()),
        data.get("w").filter(|w| w.truthy()),
    ) else {
        return Err(CERT_FAIL);
    };
    let named = match c {
        Js::String(c) => c == certificant || c.contains('*'),
        // Gun.js 0.2020.1241 fails every array here (its #1144); an array
        // naming the writer, or "*", is what the certificate says.
        Js::Array(items) => items
            .iter()
            .any(|i| i.as_str().is_some_and(|i| i == "*" || i == certificant)),
        _ => false,
    };
    if !named {
        return Err(CERT_FAIL);
    }
    let path = soul.split_once('/').map_or("", |(_, p)| p);
    let full = if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}/{key}")
    };
    let rules: Vec<&Js> = match w {
        Js::Array(items) => items.iter().collect(),
        Js::Object(_) | Js::String(_) => vec![w],
        _ => Vec::new(),
    };
    for lex in rules {
        let soul_lex = lex.get("#");
        let key_lex = lex.get(".");
        let truthy = |v: Option<&Js>| v.is_some_and(Js::truthy);
        let allowed = (text_match(path, soul_lex) && text_match(key, key_lex))
            || (!truthy(key_lex) && text_match(path, soul_lex))
            || (!truthy(soul_lex) && text_match(key, key_lex))
            || text_match(&full, Some(soul_lex.filter(|v| v.truthy()).unwrap_or(lex)));
        if !allowed {
            continue;
        }
        let must_name = match lex.get("+") {
            Some(Js::String(p)) => p.contains('*'),
            Some(Js::Array(items)) => items.iter().any(|i| i.as_str() == Some("*")),
            _ => false,
        };
        // As Gun.js: not on the owner's root node (an empty path), where a
        // certificant links the place the certificate names (`inbox`).
        if must_name
            && !path.is_empty()
            && !path.contains(certificant)
            && !key.contains(certificant)
        {
            return Err("Path or key must contain the certificant's public key.");
        }
        if data.get("wb").is_some_and(Js::truthy) {
            // The block list lives in the graph; a write cannot wait for it
            // here, and must not pass unchecked.
            return Err("Certificates with a write block list (wb) are not accepted.");
        }
        return Ok(proof);
    }
    Err(CERT_FAIL)
}

/// JavaScript's `parseFloat` of a value (`None`: NaN).
fn parse_float(v: &Js) -> Option<f64> {
    match v {
        Js::Number(n) => Some(*n),
        Js::String(s) => {
            let s = s.trim_start();
            let end = s
                .char_indices()
                .take_while(|(i, c)| {
                    c.is_ascii_digit()
                        || matches!(c, '.' | 'e' | 'E')
                        || (matches!(c, '+' | '-') && (*i == 0 || s[..*i].ends_with(['e', 'E'])))
                })
                .last()
                .map_or(0, |(i, c)| i + c.len_utf8());
            (1..=end).rev().find_map(|n| s[..n].parse::<f64>().ok())
        }
        _ => None,
    }
}

/// Gun.js's `String.match(t, o)`: whether the text `t` matches the lex
/// `o` (a string: equality; `{"=","*",">","<"}`: exact, prefix, range).
pub(crate) fn text_match(t: &str, o: Option<&Js>) -> bool {
    let exact;
    let o = match o {
        Some(Js::String(s)) => {
            exact = Js::object([("=", Js::String(s.clone()))]);
            &exact
        }
        Some(v @ Js::Object(_)) => v,
        _ => return false,
    };
    let field = |k: &str| o.get(k);
    let first_truthy = |keys: &[&str]| {
        let mut last = None;
        for k in keys {
            last = field(k);
            if last.is_some_and(Js::truthy) {
                return last;
            }
        }
        last
    };
    if first_truthy(&["=", "*", ">", "<"]).and_then(Js::as_str) == Some(t) {
        return true;
    }
    if field("=").is_some() {
        return false;
    }
    if let Some(prefix) = first_truthy(&["*", ">"]).and_then(Js::as_str)
        && t.starts_with(prefix)
    {
        return true;
    }
    if field("*").is_some() {
        return false;
    }
    let ge = |v: &Js| {
        v.as_str()
            .is_some_and(|s| jstext::cmp_utf16(t, s) != Ordering::Less)
    };
    let le = |v: &Js| {
        v.as_str()
            .is_some_and(|s| jstext::cmp_utf16(t, s) != Ordering::Greater)
    };
    match (field(">"), field("<")) {
        (Some(lo), Some(hi)) => ge(lo) && le(hi),
        (Some(lo), None) => ge(lo),
        (None, Some(hi)) => le(hi),
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(text: &str) -> Js {
        Js::parse(text).expect("json")
    }

    #[test]
    fn string_match_is_gunjs() {
        assert!(text_match("inbox", Some(&js(r#""inbox""#))));
        assert!(!text_match("inbox/x", Some(&js(r#""inbox""#))));
        assert!(text_match("inbox/x", Some(&js(r#"{"*":"inbox"}"#))));
        assert!(!text_match("outbox", Some(&js(r#"{"*":"inbox"}"#))));
        assert!(text_match("b", Some(&js(r#"{">":"a","<":"c"}"#))));
        assert!(!text_match("d", Some(&js(r#"{">":"a","<":"c"}"#))));
        assert!(text_match("anything", Some(&js(r#"{">":""}"#))));
        assert!(!text_match("x", None));
        assert!(!text_match("x", Some(&js(r#"{"=":""}"#))));
    }

    #[test]
    fn policies() {
        let owner = Pair::from_seed(&[11]);
        let bob = "bobpub.key";
        let policy = serde_json::json!({"*": "inbox", "+": "*"});
        let cert = certify(
            &Certificants::Keys(vec![bob.into()]),
            &policy,
            &owner,
            Some(2e12),
        )
        .expect("certify");
        let cert = Js::parse_lenient(&cert);
        let soul = format!("~{}/inbox", owner.pub_key);
        let ok =
            check(&cert, &owner.pub_key, bob, &soul, "from-bobpub.key", 1e12).expect("allowed");
        assert!(ok.verify());
        assert_eq!(
            check(&cert, &owner.pub_key, bob, &soul, "no-name", 1e12),
            Err("Path or key must contain the certificant's public key.")
        );
        let elsewhere = format!("~{}/outbox", owner.pub_key);
        assert_eq!(
            check(&cert, &owner.pub_key, bob, &elsewhere, "bobpub.key", 1e12),
            Err(CERT_FAIL)
        );
        assert_eq!(
            check(&cert, &owner.pub_key, bob, &soul, "bobpub.key", 3e12),
            Err("Certificate expired.")
        );
        assert_eq!(
            check(&cert, &owner.pub_key, "eve", &soul, "eve", 1e12),
            Err(CERT_FAIL)
        );
        let other = Pair::from_seed(&[12]);
        let forged = check(&cert, &other.pub_key, bob, &soul, "bobpub.key", 1e12).expect("policy");
        assert!(!forged.verify(), "the certificate is not the other's");
    }

    #[test]
    fn parse_float_reads_a_prefix() {
        assert_eq!(parse_float(&js(r#""1800000000000""#)), Some(1.8e12));
        assert_eq!(parse_float(&js(r#""12abc""#)), Some(12.0));
        assert_eq!(parse_float(&js(r#""abc""#)), None);
        assert_eq!(parse_float(&js("5")), Some(5.0));
    }
}
