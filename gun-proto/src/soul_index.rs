//! Which souls a store may hold: a Bloom filter over the souls it has.
//!
//! A put that names a soul the store cannot hold needs no read before it
//! is merged: the engine takes the soul as empty. A filter has no false
//! negatives, so a soul it rules out is certainly not stored; one it lets
//! through (now and then wrongly) is read as before.
//!
//! The filter is split into blocks of one cache line (512 bits, eight
//! words), as Parquet's and Impala's are: a soul's hash picks a block and
//! sets one bit in each of its eight words, so a look-up reads one line of
//! memory, where bits spread over the whole filter cost a line each. 16
//! bits per soul give about one wrong "maybe" in 1,100 at the capacity
//! asked for, one in 33 at twice as many (spread over the whole filter,
//! 11 bits a soul gave one in 2,200 and one in 24); a wrong "maybe" costs
//! a read, never correctness.

/// Bits kept per soul of capacity.
const BITS_PER_SOUL: usize = 16;
/// Words in a block (a 64-byte cache line).
const BLOCK_WORDS: usize = 8;
/// Bits in a block.
const BLOCK_BITS: usize = BLOCK_WORDS * 64;
/// The smallest filter: 2^20 bits (128 KiB).
const MIN_BITS: usize = 1 << 20;
/// Odd multipliers, one a word, that pick a soul's bit in each word of its
/// block from the low half of its hash (the split-block filter's, from
/// Parquet's specification).
const SALT: [u32; BLOCK_WORDS] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

/// The souls a store may hold.
#[derive(Clone, PartialEq, Eq)]
pub struct SoulIndex {
    /// A power of two of them.
    blocks: Vec<[u64; BLOCK_WORDS]>,
    inserted: usize,
    capacity: usize,
}

impl std::fmt::Debug for SoulIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoulIndex")
            .field("bits", &(self.blocks.len() * BLOCK_BITS))
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
            blocks: vec![[0; BLOCK_WORDS]; bits / BLOCK_BITS],
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
            // Little-endian, zero-padded: the word `from_le_bytes` reads of
            // the chunk padded to 8 bytes, with no copy through memory.
            let word = chunk
                .iter()
                .rev()
                .fold(0u64, |w, &b| (w << 8) | u64::from(b));
            h = fold(h ^ word, K[1]);
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
        if self.holds_hash(hash) {
            return false;
        }
        self.insert_hash(hash);
        true
    }

    fn insert_hash(&mut self, hash: u64) {
        let block = self.block_mut(hash);
        for (i, word) in block.iter_mut().enumerate() {
            *word |= bit(hash, i);
        }
        self.inserted += 1;
    }

    /// Whether the store may hold `soul` (`false`: it certainly does not).
    pub fn may_hold(&self, soul: &str) -> bool {
        self.holds_hash(Self::hash(soul))
    }

    /// Whether every bit of `hash` is set.
    fn holds_hash(&self, hash: u64) -> bool {
        let block = &self.blocks[self.block_of(hash)];
        // A soul not held usually fails at the first word or two.
        (0..BLOCK_WORDS).all(|i| block[i] & bit(hash, i) != 0)
    }

    /// The block of `hash`: from its high half (the bits in it come from
    /// the low half).
    fn block_of(&self, hash: u64) -> usize {
        (hash >> 32) as usize & (self.blocks.len() - 1)
    }

    fn block_mut(&mut self, hash: u64) -> &mut [u64; BLOCK_WORDS] {
        let at = self.block_of(hash);
        &mut self.blocks[at]
    }

    /// How many insertions it took (a soul inserted twice counts twice).
    pub fn inserted(&self) -> usize {
        self.inserted
    }

    /// The souls it was sized for.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// The bit a soul of hash `h` sets in word `i` of its block.
fn bit(h: u64, i: usize) -> u64 {
    1 << ((h as u32).wrapping_mul(SALT[i % BLOCK_WORDS]) >> 26)
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
    fn a_soul_hashes_as_its_zero_padded_words() {
        fn padded(soul: &str) -> u64 {
            const K: [u64; 2] = [0xa076_1d64_78bd_642f, 0xe703_7ed1_a0b4_28db];
            let fold = |a: u64, b: u64| {
                let p = u128::from(a) * u128::from(b);
                (p as u64) ^ ((p >> 64) as u64)
            };
            let mut h = (soul.len() as u64) ^ K[0];
            for chunk in soul.as_bytes().chunks(8) {
                let mut word = [0u8; 8];
                word[..chunk.len()].copy_from_slice(chunk);
                h = fold(h ^ u64::from_le_bytes(word), K[1]);
            }
            fold(h ^ K[0], K[1])
        }
        let text = "a soul of many bytes, ü and 😀 among them, to cut at every length";
        for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            assert_eq!(SoulIndex::hash(&text[..end]), padded(&text[..end]));
        }
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
