//! SipHash-1-3 of a whole byte string under a secret key: the keyed hash
//! std's `HashMap` uses against keys chosen to collide, computed in one
//! call.
//!
//! std's hasher takes its input piece by piece (`write` may be called many
//! times), so for each call it keeps and merges a partial word; the text
//! maps hash one key in one piece, and here that is all the work: a round
//! per whole 8-byte word, one for the last word (the leftover bytes and
//! the length), and three to finish. The keys come from std's
//! [`RandomState`] (seeded by the OS's randomness), so no peer can know
//! them.

use std::hash::{BuildHasher, RandomState};

/// A secret 128-bit key.
#[derive(Clone, Copy)]
pub(crate) struct SipKey {
    k0: u64,
    k1: u64,
}

impl SipKey {
    /// A key no one outside this process knows: two outputs of a fresh
    /// [`RandomState`].
    pub(crate) fn random() -> Self {
        let state = RandomState::new();
        Self {
            k0: state.hash_one(0u64),
            k1: state.hash_one(1u64),
        }
    }

    /// SipHash-1-3 of `bytes`.
    pub(crate) fn hash(&self, bytes: &[u8]) -> u64 {
        self.sip::<1, 3>(bytes)
    }

    /// SipHash-`C`-`D` of `bytes`: `C` rounds a word, `D` to finish.
    fn sip<const C: usize, const D: usize>(&self, bytes: &[u8]) -> u64 {
        let mut v = [
            self.k0 ^ 0x736f_6d65_7073_6575,
            self.k1 ^ 0x646f_7261_6e64_6f6d,
            self.k0 ^ 0x6c79_6765_6e65_7261,
            self.k1 ^ 0x7465_6462_7974_6573,
        ];
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            // Always 8 bytes: the default is never taken.
            let m = u64::from_le_bytes(<[u8; 8]>::try_from(word).unwrap_or_default());
            compress::<C>(&mut v, m);
        }
        // The leftover bytes, little-endian, under the length's low byte.
        let last = words
            .remainder()
            .iter()
            .rev()
            .fold(0u64, |m, &b| (m << 8) | u64::from(b))
            | ((bytes.len() as u64) << 56);
        compress::<C>(&mut v, last);
        v[2] ^= 0xff;
        for _ in 0..D {
            round(&mut v);
        }
        v[0] ^ v[1] ^ v[2] ^ v[3]
    }
}

/// Takes in one word.
fn compress<const C: usize>(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    for _ in 0..C {
        round(v);
    }
    v[0] ^= m;
}

/// One SipRound.
fn round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use std::hash::Hasher;

    use super::*;

    /// std's SipHash-2-4 (deprecated for maps, kept for exactly this kind
    /// of check) under the same key, fed in one `write`.
    #[allow(deprecated)]
    fn std_sip24(key: SipKey, bytes: &[u8]) -> u64 {
        let mut h = std::hash::SipHasher::new_with_keys(key.k0, key.k1);
        h.write(bytes);
        h.finish()
    }

    #[test]
    fn agrees_with_std_at_every_length() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        for key in [
            SipKey { k0: 0, k1: 0 },
            SipKey {
                k0: 0x0706_0504_0302_0100,
                k1: 0x0f0e_0d0c_0b0a_0908,
            },
            SipKey::random(),
        ] {
            for len in 0..=bytes.len() {
                let b = &bytes[..len];
                assert_eq!(key.sip::<2, 4>(b), std_sip24(key, b), "length {len}");
            }
        }
    }

    /// The reference vectors of the SipHash paper (SipHash-2-4, key
    /// 00..0f, messages 00..len): the first four.
    #[test]
    fn paper_vectors() {
        let key = SipKey {
            k0: 0x0706_0504_0302_0100,
            k1: 0x0f0e_0d0c_0b0a_0908,
        };
        let bytes: Vec<u8> = (0..64u8).collect();
        let expected = [
            0x726f_db47_dd0e_0e31_u64,
            0x74f8_39c5_93dc_67fd,
            0x0d6c_8009_d9a9_4f5a,
            0x8567_6696_d7fb_7e2d,
        ];
        for (len, want) in expected.into_iter().enumerate() {
            assert_eq!(key.sip::<2, 4>(&bytes[..len]), want, "length {len}");
        }
    }

    #[test]
    fn keys_differ_and_one_round_differs_from_two() {
        let (a, b) = (SipKey::random(), SipKey::random());
        assert_ne!(a.hash(b"soul"), b.hash(b"soul"));
        assert_ne!(a.hash(b"soul"), a.sip::<2, 4>(b"soul"));
        assert_ne!(a.hash(b"soul"), a.hash(b"soum"));
    }
}
