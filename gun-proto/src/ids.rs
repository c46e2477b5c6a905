//! Identifier newtypes and the seeded generator of random text ids.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A connected peer, numbered by the driver (unique while connected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub u64);

/// An application request (put, once, set), numbered by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReqId(pub u64);

/// A listener (on, map), numbered by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubId(pub u64);

/// A store read the engine asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadId(pub u64);

/// A store write batch the engine asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WriteId(pub u64);

/// A signature verification the engine asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VerifyId(pub u64);

/// A map keyed by our own numeric ids ([`PeerId`] and the like, or an
/// `Option` of one): they are numbered here, never chosen by a peer, so a
/// multiply-rotate hash serves (no flooding attack can aim at its buckets)
/// and costs a few cycles where SipHash costs tens.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// The hasher of [`IdMap`]: for integers only (ids and enum tags).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl IdHasher {
    fn add(&mut self, word: u64) {
        // FxHash's step: odd multiplier, so distinct words in a row map to
        // distinct buckets; hashbrown's tag bits come from the top.
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Gun.js's id alphabet: `0-9 A-X Z a-z` (no `Y`).
const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXZabcdefghijklmnopqrstuvwxyz";

/// A small seeded generator (xoshiro256**) for ids: deterministic for a seed,
/// not for cryptography.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "harness"), allow(unreachable_pub))]
pub struct Rng {
    s: [u64; 4],
}

#[cfg_attr(not(feature = "harness"), allow(unreachable_pub))]
impl Rng {
    /// A generator from a seed; equal seeds give equal sequences.
    pub fn new(seed: u64) -> Self {
        // splitmix64 to spread the seed over the state.
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// `len` characters from Gun.js's id alphabet.
    pub fn text(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        self.push_text(&mut s, len);
        s
    }

    /// Appends `len` characters from Gun.js's id alphabet (letters and
    /// digits: nothing JSON escapes).
    pub(crate) fn push_text(&mut self, out: &mut String, len: usize) {
        out.reserve(len);
        self.each_char(len, |c| out.push(c));
    }

    /// `len` characters from Gun.js's id alphabet, each given to `take`.
    pub(crate) fn each_char(&mut self, len: usize, mut take: impl FnMut(char)) {
        // 64 random bits hold nine characters' worth (62^9 is about 2^53.6).
        // Read as a fraction in [0, 1), they give a character each time
        // they are multiplied by 62 (the whole part), the fraction left
        // going on: a multiplication a character, no division.
        const PER_DRAW: usize = 9;
        const BASE: u128 = ALPHABET.len() as u128;
        let mut left = len;
        while left > 0 {
            let mut fraction = self.next_u64();
            for _ in 0..left.min(PER_DRAW) {
                let wide = u128::from(fraction) * BASE;
                take(char::from(ALPHABET[(wide >> 64) as usize]));
                fraction = wide as u64;
            }
            left = left.saturating_sub(PER_DRAW);
        }
    }
}

/// A soul for a `set()` item, shaped as Gun.js's: the state in base 36
/// without its point, then 12 random characters.
pub(crate) fn set_soul(rng: &mut Rng, state: f64) -> String {
    let mut s = base36(state);
    s.push_str(&rng.text(12));
    s
}

fn base36(x: f64) -> String {
    const D: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut int = x.trunc().max(0.0) as u64;
    let mut digits = Vec::new();
    loop {
        digits.push(D[(int % 36) as usize]);
        int /= 36;
        if int == 0 {
            break;
        }
    }
    digits.reverse();
    let mut frac = x.fract();
    for _ in 0..6 {
        if frac <= 0.0 {
            break;
        }
        frac *= 36.0;
        digits.push(D[frac.trunc() as usize % 36]);
        frac = frac.fract();
    }
    String::from_utf8_lossy(&digits).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_map_spreads_ids_and_tells_none_from_some() {
        let mut m: IdMap<Option<PeerId>, u64> = IdMap::default();
        for i in 0..10_000 {
            m.insert(Some(PeerId(i)), i);
        }
        m.insert(None, u64::MAX);
        assert_eq!(m.len(), 10_001);
        assert_eq!(m.get(&Some(PeerId(0))), Some(&0));
        assert_eq!(m.get(&None), Some(&u64::MAX));
        // Consecutive ids land in distinct buckets of a table their size.
        let buckets: std::collections::HashSet<u64> = (0..1024u64)
            .map(|i| {
                let mut h = IdHasher::default();
                h.write_u64(i);
                h.finish() & 1023
            })
            .collect();
        assert_eq!(buckets.len(), 1024);
    }

    #[test]
    fn ids_use_gunjs_alphabet_and_are_seeded() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let x = a.text(9);
        assert_eq!(x, b.text(9));
        assert_eq!(x.len(), 9);
        assert!(x.bytes().all(|c| c.is_ascii_alphanumeric() && c != b'Y'));
    }

    #[test]
    fn every_place_of_an_id_takes_every_character_about_evenly() {
        let mut r = Rng::new(3);
        let ids: Vec<String> = (0..31_000).map(|_| r.text(12)).collect();
        for place in 0..12 {
            let mut counts = [0usize; 128];
            for id in &ids {
                counts[usize::from(id.as_bytes()[place])] += 1;
            }
            // 500 expected of each of 62 characters.
            for &c in ALPHABET {
                let n = counts[usize::from(c)];
                assert!(
                    (380..=620).contains(&n),
                    "place {place}: {} {n} times",
                    c as char
                );
            }
        }
    }

    #[test]
    fn set_souls_lead_with_the_state() {
        let mut r = Rng::new(1);
        let s = set_soul(&mut r, 1_795_541_768_710.0);
        // (1795541768710).toString(36) in node is "mwuz7jly".
        assert!(s.starts_with("mwuz7jly"), "{s}");
        assert_eq!(s.len(), 20);
    }
}
