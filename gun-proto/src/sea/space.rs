//! The rules of the graph's protected spaces, as Gun.js's SEA enforces them
//! on every write (its `check` on HAM diffs), and stricter where Gun.js is
//! unsafe:
//!
//! - `~@` (the alias list): a key `k` must link to `~@k`.
//! - `~@alias` (who claims an alias): a key must be a user's soul `~<pub>`
//!   linking to itself. (That an alias is claimed once is the engine's
//!   business: it needs what is stored.)
//! - any soul naming a public key (`~<x>.<y>` anywhere, Gun.js's
//!   `SEA.opt.pub`): `pub` on `~<pub>` must be that key; every other value
//!   must be `{":":value,"~":signature}` (a JSON string), signed by that
//!   key over `{"#":soul,".":key,":":value,">":state}`, or signed by a
//!   writer `"*"` holding the owner's certificate `"+"` for that place.
//!   Gun.js accepts a writer's signature without any certificate; we do not.
//! - a soul holding `#` (content addressed): the key (after its last `#`)
//!   must be the base64 (or hex) SHA-256 of the value.
//! - a soul holding `<?N`: a value older than `N` seconds is dropped.
//!
//! Checking is split as the engine needs it: [`check_put`] applies every
//! rule that needs no cryptography at once and returns the signatures to
//! verify ([`Proof`]s), which the driver verifies where it likes.

use super::cert;
use super::cipher::sha256_b64;
use super::json::Js;
use super::keys::Pair;
use super::sign::{Proof, signature};
use super::{SeaError, b64};
use crate::graph::Graph;
use crate::value::{Value, ValueRef};

/// Gun.js's words for a value not signed by the account it claims.
pub const UNVERIFIED: &str = "Unverified data.";
/// Gun.js's words for a certificate that does not allow the write.
pub const CERT_FAIL: &str = "Certificate verification fail.";
/// A put whose every value was older than its `<?` soul keeps.
pub const EXPIRED: &str = "Expired data.";

/// Which rules a soul's writes follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Space {
    /// `~@`: the list of aliases.
    AliasList,
    /// `~@alias`: the users that claim an alias.
    Alias,
    /// A user's space: the public key it names.
    User(String),
    /// Content addressed (`#` in the soul).
    Hash,
    /// No rule.
    Open,
}

impl Space {
    /// The space a soul is in.
    pub fn of(soul: &str) -> Self {
        if soul == "~@" {
            return Self::AliasList;
        }
        if soul.starts_with("~@") {
            return Self::Alias;
        }
        if let Some(pub_key) = soul_pub(soul) {
            return Self::User(pub_key);
        }
        if soul.contains('#') {
            return Self::Hash;
        }
        Self::Open
    }
}

/// Whether a soul may be under any rule (a cheap test before the rest):
/// it holds `~`, `#` or `<?`. One pass over its bytes.
pub fn guarded(soul: &str) -> bool {
    let b = soul.as_bytes();
    b.iter()
        .enumerate()
        .any(|(i, &c)| c == b'~' || c == b'#' || (c == b'<' && b.get(i + 1) == Some(&b'?')))
}

/// Gun.js's `SEA.opt.pub`: the public key a soul names, the text after its
/// first `~`, its first two runs of `[A-Za-z0-9_-]` joined by `.`.
pub fn soul_pub(soul: &str) -> Option<String> {
    let after = soul.split('~').nth(1).filter(|s| !s.is_empty())?;
    let mut runs = after.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    // (Gun.js also refuses a first run starting with `@`, which a run of
    // word characters never does: `~@` souls are told apart before this.)
    let (x, y) = (runs.next()?, runs.next()?);
    Some(format!("{x}.{y}"))
}

/// The seconds a `<?N` soul keeps values for (`None`: not such a soul).
fn keeps_for(soul: &str) -> Option<f64> {
    let (_, after) = soul.split_once("<?")?;
    let digits: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits
        .parse::<f64>()
        .ok()
        .filter(|n| *n != 0.0 && n.is_finite())
}

/// A value as SEA sees it (JSON data).
fn js_of(v: ValueRef<'_>) -> Js {
    match v {
        ValueRef::Null => Js::Null,
        ValueRef::Bool(b) => Js::Bool(b),
        ValueRef::Number(n) => Js::Number(n),
        ValueRef::String(s) => Js::String(s.to_owned()),
        ValueRef::Link(s) => Js::object([("#", Js::String(s.to_owned()))]),
    }
}

/// The text a value in a user's space is signed over.
fn signed_text(soul: &str, key: &str, value: Js, state: f64) -> String {
    Js::object([
        ("#", Js::String(soul.to_owned())),
        (".", Js::String(key.to_owned())),
        (":", value),
        (">", Js::Number(state)),
    ])
    .stringify()
}

/// What [`check_put`] found: signatures to verify, and how many values
/// it dropped as expired.
#[derive(Debug, Default)]
pub struct Checked {
    /// Signatures the write stands on; all must verify.
    pub proofs: Vec<Proof>,
    /// Values dropped from the put: older than their `<?` soul keeps.
    pub expired: usize,
}

/// Applies the spaces' rules to a put (or a reply's data) received at
/// `now` (ms): drops expired values, refuses (with Gun.js's words) a value
/// that breaks a rule, and lists the signatures to verify.
pub fn check_put(put: &mut Graph, now: f64) -> Result<Checked, &'static str> {
    let mut out = Checked::default();
    // Most puts touch no guarded soul: one look over the souls, no list.
    if !put.souls().any(guarded) {
        return Ok(out);
    }
    let souls: Vec<String> = put
        .souls()
        .filter(|s| guarded(s))
        .map(str::to_owned)
        .collect();
    for soul in souls {
        if let Some(secs) = keeps_for(&soul) {
            let old: Vec<String> = put
                .node(&soul)
                .into_iter()
                .flat_map(|n| n.iter())
                .filter(|(_, p)| p.state < now - secs * 1000.0)
                .map(|(k, _)| k.to_owned())
                .collect();
            for k in &old {
                put.remove_prop(&soul, k);
            }
            out.expired += old.len();
            if put.node(&soul).is_none_or(|n| n.is_empty()) {
                put.remove_node(&soul);
                continue;
            }
        }
        let space = Space::of(&soul);
        if space == Space::Open {
            continue;
        }
        let Some(node) = put.node(&soul) else {
            continue;
        };
        for (key, p) in node.iter() {
            check_prop(&space, &soul, key, p.value, p.state, &mut out.proofs)?;
        }
    }
    if put.is_empty() && out.expired > 0 {
        return Err(EXPIRED);
    }
    Ok(out)
}

/// One value against its space's rule.
fn check_prop(
    space: &Space,
    soul: &str,
    key: &str,
    value: ValueRef<'_>,
    state: f64,
    proofs: &mut Vec<Proof>,
) -> Result<(), &'static str> {
    let falsy = |v: ValueRef<'_>| match v {
        ValueRef::Null | ValueRef::Bool(false) => true,
        ValueRef::Number(n) => n == 0.0,
        ValueRef::String(s) => s.is_empty(),
        ValueRef::Link(_) | ValueRef::Bool(true) => false,
    };
    match space {
        Space::Open => Ok(()),
        Space::AliasList => {
            if falsy(value) {
                return Err("Data must exist!");
            }
            match value.as_link() {
                Some(l) if l.strip_prefix("~@") == Some(key) => Ok(()),
                _ => Err("Alias not same!"),
            }
        }
        Space::Alias => {
            if falsy(value) {
                return Err("Alias must exist!");
            }
            // A claim names a user: `~<pub>`, linking to itself.
            let user = key
                .strip_prefix('~')
                .is_some_and(|k| soul_pub(key).as_deref() == Some(k));
            match value.as_link() {
                Some(l) if l == key && user => Ok(()),
                _ => Err("Alias not same!"),
            }
        }
        Space::Hash => {
            let want = key.rsplit('#').next().unwrap_or(key);
            let hash = sha256_b64(&js_of(value).hash_text());
            if hash == want || hex_b64(want).is_some_and(|h| h == hash) {
                Ok(())
            } else {
                Err("Data hash not same as hash!")
            }
        }
        Space::User(owner) => {
            if key == "pub" && soul.strip_prefix('~') == Some(owner.as_str()) {
                return match value {
                    ValueRef::String(s) if s == owner => Ok(()),
                    _ => Err("Account not same!"),
                };
            }
            let ValueRef::String(text) = value else {
                return Err(UNVERIFIED);
            };
            let raw = Js::parse(text).ok_or(UNVERIFIED)?;
            let (Some(inner), Some(sig)) = (raw.get(":"), raw.get("~").and_then(Js::as_str)) else {
                return Err(UNVERIFIED);
            };
            let signer = match raw.get("*") {
                Some(w) if w.truthy() => w.as_str().ok_or(UNVERIFIED)?,
                _ => owner.as_str(),
            };
            let text = signed_text(soul, key, inner.clone(), state);
            proofs.push(Proof::new(signer, &text, sig, UNVERIFIED)?);
            if signer != owner {
                let cert = raw.get("+").ok_or(UNVERIFIED)?;
                proofs.push(cert::check(cert, owner, signer, soul, key, state)?);
            }
            Ok(())
        }
    }
}

/// Gun.js's reading of a hex hash as base64 (`None`: not hex).
fn hex_b64(hex: &str) -> Option<String> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    bytes.map(|b| b64::std(&b))
}

/// The value a user's space holds behind its signature (`{":":v,…}`), as
/// the application sees it; `None` when `value` is not such a packing (or
/// `soul` is not a user's).
pub fn unpack(soul: &str, value: ValueRef<'_>) -> Option<Js> {
    let ValueRef::String(text) = value else {
        return None;
    };
    if !text.starts_with('{') || !soul.contains('~') || !matches!(Space::of(soul), Space::User(_)) {
        return None;
    }
    let raw = Js::parse(text)?;
    raw.get("~")?;
    raw.get(":").cloned()
}

/// [`unpack`] as a graph value: `None` also when the signed value is not
/// one (an array or a plain object).
pub fn unpack_value(soul: &str, value: ValueRef<'_>) -> Option<Value> {
    Some(match unpack(soul, value)? {
        Js::Null => Value::Null,
        Js::Bool(b) => Value::Bool(b),
        Js::Number(n) => Value::Number(n),
        Js::String(s) => Value::String(s),
        Js::Object(entries) => match entries.as_slice() {
            [(k, Js::String(s))] if k == "#" && !s.is_empty() => Value::Link(s.clone()),
            _ => return None,
        },
        Js::Array(_) => return None,
    })
}

/// Signs a value for `pair`'s space as Gun.js's SEA does when its user
/// writes: `{":":value,"~":signature}`, or with a certificate `cert` for
/// another's space, `{":":value,"~":signature,"+":cert,"*":pub}`.
pub fn pack(
    soul: &str,
    key: &str,
    value: &Value,
    state: f64,
    pair: &Pair,
    cert: Option<&Js>,
) -> Result<Value, SeaError> {
    let inner = js_of(value.view());
    let sig = signature(&signed_text(soul, key, inner.clone(), state), pair)?;
    let mut packed = vec![(":".to_owned(), inner), ("~".to_owned(), Js::String(sig))];
    if let Some(cert) = cert {
        packed.push(("+".to_owned(), cert.clone()));
        packed.push(("*".to_owned(), Js::String(pair.pub_key.clone())));
    }
    Ok(Value::String(Js::Object(packed).stringify()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn souls_name_their_space() {
        assert_eq!(Space::of("~@"), Space::AliasList);
        assert_eq!(Space::of("~@alice"), Space::Alias);
        assert_eq!(Space::of("~abc.def"), Space::User("abc.def".into()));
        assert_eq!(Space::of("~abc.def/profile"), Space::User("abc.def".into()));
        assert_eq!(Space::of("x~abc.def"), Space::User("abc.def".into()));
        assert_eq!(Space::of("~abc"), Space::Open);
        assert_eq!(Space::of("#"), Space::Hash);
        assert_eq!(Space::of("plain"), Space::Open);
        // As Gun.js reads it: an unsignable key, so nobody can write there.
        assert_eq!(soul_pub("a~@x.y"), Some(".x".into()));
    }

    #[test]
    fn guarded_souls() {
        for soul in ["~a", "a~", "#", "x#y", "a<?5", "<?", "é~"] {
            assert!(guarded(soul), "{soul}");
        }
        for soul in ["", "user/1", "a<", "<", "?<", "a?", "é<x?"] {
            assert!(!guarded(soul), "{soul}");
        }
    }

    #[test]
    fn expiry_souls() {
        assert_eq!(keeps_for("/RTC/room<?99"), Some(99.0));
        assert_eq!(keeps_for("a<?"), None);
        assert_eq!(keeps_for("plain"), None);
    }

    #[test]
    fn hashes_base64_and_hex() {
        let mut g = Graph::new();
        let key = sha256_b64("hello world");
        g.insert("#", &key, Value::String("hello world".into()), 1.0);
        assert!(check_put(&mut g, 2.0).is_ok());
        let mut g = Graph::new();
        let hex = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
        g.insert("#", hex, Value::String("hello world".into()), 1.0);
        assert!(check_put(&mut g, 2.0).is_ok());
        let mut g = Graph::new();
        g.insert("#", &key, Value::String("hello there".into()), 1.0);
        assert_eq!(
            check_put(&mut g, 2.0).err(),
            Some("Data hash not same as hash!")
        );
    }

    #[test]
    fn signed_values_and_their_forgeries() {
        let alice = Pair::from_seed(&[21]);
        let eve = Pair::from_seed(&[22]);
        let soul = format!("~{}", alice.pub_key);
        let v = pack(
            &soul,
            "name",
            &Value::String("Alice".into()),
            5.0,
            &alice,
            None,
        )
        .expect("pack");
        assert_eq!(
            unpack_value(&soul, v.view()),
            Some(Value::String("Alice".into()))
        );
        let mut g = Graph::new();
        g.insert(&soul, "name", v.clone(), 5.0);
        g.insert(&soul, "pub", Value::String(alice.pub_key.clone()), 5.0);
        let checked = check_put(&mut g, 10.0).expect("rules");
        assert_eq!(checked.proofs.len(), 1);
        assert!(checked.proofs.iter().all(Proof::verify));
        // The same signature with another state does not verify.
        let mut g = Graph::new();
        g.insert(&soul, "name", v, 6.0);
        let checked = check_put(&mut g, 10.0).expect("rules");
        assert!(!checked.proofs[0].verify());
        // Eve's signature on Alice's space, no certificate.
        let forged =
            pack(&soul, "name", &Value::String("Eve".into()), 5.0, &eve, None).expect("pack");
        let mut g = Graph::new();
        g.insert(&soul, "name", forged, 5.0);
        let checked = check_put(&mut g, 10.0).expect("rules");
        assert!(!checked.proofs[0].verify());
        // Eve naming herself the writer, still no certificate.
        let cert = Js::object([("m", Js::Null)]);
        let named = pack(
            &soul,
            "name",
            &Value::String("Eve".into()),
            5.0,
            &eve,
            Some(&cert),
        )
        .expect("pack");
        let mut g = Graph::new();
        g.insert(&soul, "name", named, 5.0);
        assert_eq!(check_put(&mut g, 10.0).err(), Some(CERT_FAIL));
        // Unsigned, and a wrong `pub`.
        let mut g = Graph::new();
        g.insert(&soul, "name", Value::String("plain".into()), 5.0);
        assert_eq!(check_put(&mut g, 10.0).err(), Some(UNVERIFIED));
        let mut g = Graph::new();
        g.insert(&soul, "pub", Value::String(eve.pub_key.clone()), 5.0);
        assert_eq!(check_put(&mut g, 10.0).err(), Some("Account not same!"));
    }

    #[test]
    fn aliases() {
        let user = "~abc.def";
        let mut g = Graph::new();
        g.insert("~@alice", user, Value::Link(user.into()), 1.0);
        assert!(check_put(&mut g, 2.0).is_ok());
        let mut g = Graph::new();
        g.insert("~@alice", user, Value::Link("~evil.key".into()), 1.0);
        assert_eq!(check_put(&mut g, 2.0).err(), Some("Alias not same!"));
        let mut g = Graph::new();
        g.insert("~@alice", "junk", Value::Link("junk".into()), 1.0);
        assert_eq!(check_put(&mut g, 2.0).err(), Some("Alias not same!"));
        let mut g = Graph::new();
        g.insert("~@alice", user, Value::Null, 1.0);
        assert_eq!(check_put(&mut g, 2.0).err(), Some("Alias must exist!"));
        let mut g = Graph::new();
        g.insert("~@", "alice", Value::Link("~@alice".into()), 1.0);
        assert!(check_put(&mut g, 2.0).is_ok());
    }

    #[test]
    fn expired_values_are_dropped() {
        let mut g = Graph::new();
        g.insert("/RTC/r<?9", "old", Value::Bool(true), 1_000.0);
        g.insert("/RTC/r<?9", "new", Value::Bool(true), 19_000.0);
        let checked = check_put(&mut g, 20_000.0).expect("rules");
        assert_eq!(checked.expired, 1);
        assert!(g.prop("/RTC/r<?9", "old").is_none());
        let mut g = Graph::new();
        g.insert("/RTC/r<?9", "old", Value::Bool(true), 1_000.0);
        assert_eq!(check_put(&mut g, 20_000.0).err(), Some(EXPIRED));
    }
}
