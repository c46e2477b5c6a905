//! Store keys that no soul or key can confuse: `escape(soul) 00 00 key`.
//!
//! A soul's `0x00` bytes are written `00 FF`, so `00 00` ends every soul,
//! whatever bytes souls and keys hold. Escaping keeps byte order: souls sort
//! as before, the keys of one soul are contiguous, and the souls starting
//! with a prefix are the keys starting with the escaped prefix.

/// Ends a soul.
const END: [u8; 2] = [0x00, 0x00];
/// Stands for a `0x00` byte inside a soul.
const NUL: [u8; 2] = [0x00, 0xFF];

/// Appends `soul`, escaped, without its end mark.
fn push_soul(out: &mut Vec<u8>, soul: &str) {
    for &b in soul.as_bytes() {
        if b == 0 {
            out.extend_from_slice(&NUL);
        } else {
            out.push(b);
        }
    }
}

/// The key of property `key` of node `soul`.
pub(crate) fn encode(soul: &str, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(soul.len() + key.len() + 2);
    push_soul(&mut out, soul);
    out.extend_from_slice(&END);
    out.extend_from_slice(key.as_bytes());
    out
}

/// The prefix every property of node `soul` has (and no other node's).
pub(crate) fn node_prefix(soul: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(soul.len() + 2);
    push_soul(&mut out, soul);
    out.extend_from_slice(&END);
    out
}

/// The prefix of every property of every soul that starts with `prefix`.
pub(crate) fn souls_prefix(prefix: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len());
    push_soul(&mut out, prefix);
    out
}

/// The soul and key a store key names; `None` if it is not one of ours.
pub(crate) fn decode(k: &[u8]) -> Option<(String, String)> {
    let (soul, key) = split(k)?;
    Some((unescape(soul)?, std::str::from_utf8(key).ok()?.to_owned()))
}

/// A store key's escaped soul (without its end mark) and its key's bytes,
/// borrowed: a scan compares escaped souls and unescapes only new ones.
pub(crate) fn split(k: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut i = 0;
    loop {
        match (k.get(i), k.get(i + 1)) {
            (Some(0), Some(0)) => return Some((&k[..i], &k[i + 2..])),
            (Some(0), Some(0xFF)) => i += 2,
            (Some(0), _) | (None, _) => return None,
            (Some(_), _) => i += 1,
        }
    }
}

/// The soul an escaped soul stands for; `None` if it is not one of ours.
pub(crate) fn unescape(escaped: &[u8]) -> Option<String> {
    let mut soul = Vec::with_capacity(escaped.len());
    let mut bytes = escaped.iter();
    while let Some(&b) = bytes.next() {
        if b == 0 && bytes.next() != Some(&0xFF) {
            return None;
        }
        soul.push(b);
    }
    String::from_utf8(soul).ok()
}

/// `soul`, escaped, with no end mark (the soul index's key).
pub(crate) fn escape(soul: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(soul.len());
    push_soul(&mut out, soul);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_soul_and_key_round_trips_and_stays_apart() {
        let cases = [
            ("a", "b"),
            ("a\u{0}", "b"),
            ("a", "\u{0}b"),
            ("x\u{1b}y", "k\u{1b}"),
            ("", ""),
            ("\u{0}\u{0}", "\u{0}"),
            ("😀", "ÿ"),
        ];
        let mut keys = std::collections::BTreeSet::new();
        for (soul, key) in cases {
            let k = encode(soul, key);
            assert_eq!(decode(&k), Some((soul.to_owned(), key.to_owned())));
            assert_eq!(split(&k).map(|(s, _)| s), Some(escape(soul).as_slice()));
            assert!(k.starts_with(&node_prefix(soul)));
            assert!(keys.insert(k), "{soul:?}.{key:?} collides");
        }
        // "a" + "\0b" and "a\0" + "b" are different properties.
        assert_ne!(encode("a", "\u{0}b"), encode("a\u{0}", "b"));
        assert!(!encode("ab", "k").starts_with(&node_prefix("a")));
        assert!(encode("ab", "k").starts_with(&souls_prefix("a")));
        assert_eq!(decode(b"no end"), None);
        assert_eq!(decode(b"bad\x00\x01k"), None);
    }

    #[test]
    fn souls_keep_their_order() {
        let mut souls = ["b", "a", "a\u{0}", "ab", "a\u{1}", "\u{0}"];
        let mut by_key = souls.map(|s| encode(s, "k"));
        souls.sort_unstable();
        by_key.sort();
        let decoded: Vec<String> = by_key
            .iter()
            .filter_map(|k| decode(k).map(|(s, _)| s))
            .collect();
        assert_eq!(decoded, souls);
    }
}
