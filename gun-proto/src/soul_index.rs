//! Which souls a store may hold: a Bloom filter over the souls it has.
//!
//! A put that names a soul the store cannot hold needs no read before it
//! is merged: the engine takes the soul as empty. A filter has no false
//! negatives, so a soul it rules out is certainly not stored; one it lets
//! through (now and then wrongly) is read as before. 16 bits per soul and
//! 11 probes give about one wrong "maybe" in 2,000 at the capacity asked
//! for; past it the rate rises gradually (about 1 in 25 at twice as many),
//! which costs reads, never correctness.

/// Bits kept per soul of capacity.
const BITS_PER_SOUL: usize = 16;
/// Probes per soul.
const PROBES: u64 = 11;
/// The smallest filter: 2^20 bits (128 KiB).
const MIN_BITS: usize = 1 << 20;

/// The souls a store may hold.
#[derive(Clone, PartialEq, Eq)]
pub struct SoulIndex {
    words: Vec<u64>,
    inserted: usize,
    capacity: usize,
}

impl std::fmt::Debug for SoulIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoulIndex")
            .field("bits", &(self.words.len() * 64))
            .field("inserted", &self.inserted)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl SoulIndex {
    /// An empty filter sized for `souls` (at least 65,536 of them: room to
    /// grow when a store starts small).
    pub fn with_capacity(souls: usize) -> Self {
        let bits = souls
            .saturating_mul(BITS_PER_SOUL)
            .max(MIN_BITS)
            .next_power_of_two();
        Self {
            words: vec![0; bits / 64],
            inserted: 0,
            capacity: bits / BITS_PER_SOUL,
        }
    }

    /// A filter of the souls whose [`SoulIndex::hash`]es these are, sized
    /// for twice as many: a store lists its souls' hashes (8 bytes each)
    /// before it knows how many there are.
    pub fn from_hashes(hashes: &[u64]) -> Self {
        let mut index = Self::with_capacity(hashes.len().saturating_mul(2));
        for &h in hashes {
            index.insert_hash(h);
        }
        index
    }

    /// The hash the filter keeps of `soul`: its 8-byte words folded in by
    /// 128-bit multiplication (the wyhash step), a few cycles a soul where
    /// SipHash took ~150. It is not keyed, and needs not be: a soul made
    /// to pass the filter costs its sender what a put to a stored soul
    /// costs anyway, one read. Nothing keeps these hashes on disk: a
    /// filter is made at each start from the souls a store lists.
    pub fn hash(soul: &str) -> u64 {
        const K: [u64; 2] = [0xa076_1d64_78bd_642f, 0xe703_7ed1_a0b4_28db];
        let fold = |a: u64, b: u64| {
            let p = u128::from(a) * u128::from(b);
            (p as u64) ^ ((p >> 64) as u64)
        };
        let bytes = soul.as_bytes();
        let mut h = (bytes.len() as u64) ^ K[0];
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            h = fold(h ^ u64::from_le_bytes(word), K[1]);
        }
        fold(h ^ K[0], K[1])
    }

    /// Notes that the store may hold `soul`.
    pub fn insert(&mut self, soul: &str) {
        self.insert_hash(Self::hash(soul));
    }

    /// Notes that the store may hold `soul` unless the filter already
    /// lets it through (one hash, not two): whether it had to be added.
    pub fn note(&mut self, soul: &str) -> bool {
        let hash = Self::hash(soul);
        let mask = self.mask();
        if probes(hash, mask).all(|bit| self.words[bit / 64] & (1 << (bit % 64)) != 0) {
            return false;
        }
        self.insert_hash(hash);
        true
    }

    fn insert_hash(&mut self, hash: u64) {
        for bit in probes(hash, self.mask()) {
            self.words[bit / 64] |= 1 << (bit % 64);
        }
        self.inserted += 1;
    }

    /// Whether the store may hold `soul` (`false`: it certainly does not).
    pub fn may_hold(&self, soul: &str) -> bool {
        probes(Self::hash(soul), self.mask())
            .all(|bit| self.words[bit / 64] & (1 << (bit % 64)) != 0)
    }

    /// How many insertions it took (a soul inserted twice counts twice).
    pub fn inserted(&self) -> usize {
        self.inserted
    }

    /// The souls it was sized for.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn mask(&self) -> u64 {
        (self.words.len() * 64 - 1) as u64
    }
}

/// The bits a soul of hash `h` sets: double hashing.
fn probes(h: u64, mask: u64) -> impl Iterator<Item = usize> {
    let (a, b) = (h, h.rotate_left(32) | 1);
    (0..PROBES).map(move |i| (a.wrapping_add(i.wrapping_mul(b)) & mask) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_soul_inserted_is_ever_ruled_out() {
        let mut f = SoulIndex::with_capacity(10_000);
        for i in 0..20_000 {
            f.insert(&format!("soul/{i}"));
        }
        assert!((0..20_000).all(|i| f.may_hold(&format!("soul/{i}"))));
        assert_eq!(f.inserted(), 20_000);
        // Noting a soul it lets through adds nothing.
        assert!(!f.note("soul/7"));
        assert!(f.note("elsewhere/1") && f.may_hold("elsewhere/1"));
        assert_eq!(f.inserted(), 20_001);
    }

    #[test]
    fn others_are_mostly_ruled_out() {
        let mut f = SoulIndex::with_capacity(100_000);
        for i in 0..100_000 {
            f.insert(&format!("in/{i}"));
        }
        let wrong = (0..100_000)
            .filter(|i| f.may_hold(&format!("out/{i}")))
            .count();
        assert!(wrong < 200, "{wrong} of 100,000 let through");
        assert!(f.capacity() >= 100_000);
        let hashes: Vec<u64> = (0..100_000)
            .map(|i| SoulIndex::hash(&format!("in/{i}")))
            .collect();
        assert!(SoulIndex::from_hashes(&hashes).may_hold("in/7"));
    }
}
