//! A map keyed by text that peers choose (message ids, souls).
//!
//! Keys are hashed by SipHash-1-3 with a secret key ([`SipKey`]), as a
//! `HashMap` does, so no peer can aim its keys at one bucket. Each
//! key's hash is kept beside it: growing the table moves entries without
//! hashing any key again (a `HashMap` hashes every key once more each time
//! it doubles), and a caller that hashed a key once ([`TextMap::hash`])
//! can look it up and insert it without hashing it again.

use std::fmt;

use compact_str::CompactString;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use crate::sip::SipKey;

/// Text keys to `V`, each key's hash kept with it.
#[derive(Clone)]
pub(crate) struct TextMap<V> {
    table: HashTable<Slot<V>>,
    /// The secret key its hashes are made under (not a map key).
    secret: SipKey,
}

#[derive(Clone)]
struct Slot<V> {
    hash: u64,
    /// Up to 24 bytes inline (every id Gun.js makes, most souls).
    key: CompactString,
    value: V,
}

/// The slot test of the `*_where` look-ups: its hash is `hash` and `pick`
/// takes its value.
fn picked<V>(hash: u64, pick: impl Fn(&V) -> bool) -> impl Fn(&Slot<V>) -> bool {
    move |s| s.hash == hash && pick(&s.value)
}

impl<V> Default for TextMap<V> {
    fn default() -> Self {
        Self {
            table: HashTable::new(),
            secret: SipKey::random(),
        }
    }
}

impl<V: fmt::Debug> fmt::Debug for TextMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.table.iter().map(|s| (&s.key, &s.value)))
            .finish()
    }
}

impl<V> TextMap<V> {
    /// The hash of `key` in this map (of its bytes, in one call).
    pub(crate) fn hash(&self, key: &str) -> u64 {
        self.secret.hash(key.as_bytes())
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        if self.table.is_empty() {
            return None;
        }
        self.get_hashed(self.hash(key), key)
    }

    pub(crate) fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        if self.table.is_empty() {
            return None;
        }
        self.get_hashed_mut(self.hash(key), key)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// [`TextMap::get`] of a key whose [`TextMap::hash`] is `hash`.
    pub(crate) fn get_hashed(&self, hash: u64, key: &str) -> Option<&V> {
        self.table.find(hash, |s| s.key == key).map(|s| &s.value)
    }

    /// [`TextMap::get_mut`] of a key whose [`TextMap::hash`] is `hash`.
    pub(crate) fn get_hashed_mut(&mut self, hash: u64, key: &str) -> Option<&mut V> {
        self.table
            .find_mut(hash, |s| s.key == key)
            .map(|s| &mut s.value)
    }

    /// Sets `key` to `value`; what it held before.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, key: &str, value: V) -> Option<V> {
        self.insert_hashed(self.hash(key), key, value)
    }

    /// [`TextMap::insert`] of a key whose [`TextMap::hash`] is `hash`.
    pub(crate) fn insert_hashed(&mut self, hash: u64, key: &str, value: V) -> Option<V> {
        match self.table.entry(hash, |s| s.key == key, |s| s.hash) {
            Entry::Occupied(mut held) => Some(std::mem::replace(&mut held.get_mut().value, value)),
            Entry::Vacant(slot) => {
                slot.insert(Slot {
                    hash,
                    key: key.into(),
                    value,
                });
                None
            }
        }
    }

    /// The value of `key`, whose [`TextMap::hash`] is `hash`, made by
    /// `make` if it has none (one look-up either way); whether it was made.
    pub(crate) fn get_or_insert_with(
        &mut self,
        hash: u64,
        key: &str,
        make: impl FnOnce() -> V,
    ) -> (&mut V, bool) {
        match self.table.entry(hash, |s| s.key == key, |s| s.hash) {
            Entry::Occupied(held) => (&mut held.into_mut().value, false),
            Entry::Vacant(slot) => {
                let slot = slot.insert(Slot {
                    hash,
                    key: key.into(),
                    value: make(),
                });
                (&mut slot.into_mut().value, true)
            }
        }
    }

    /// Every key and its value, in no order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.table.iter().map(|s| (s.key.as_str(), &s.value))
    }

    /// Sets `key` to `value` if it has none (one look-up either way): the
    /// key's hash, for lists that keep it in place of the key (see
    /// [`TextMap::get_where`]), or `None` if it had one.
    pub(crate) fn insert_new(&mut self, key: &str, value: V) -> Option<u64> {
        let hash = self.hash(key);
        match self.table.entry(hash, |s| s.key == key, |s| s.hash) {
            Entry::Occupied(_) => None,
            Entry::Vacant(slot) => {
                slot.insert(Slot {
                    hash,
                    key: key.into(),
                    value,
                });
                Some(hash)
            }
        }
    }

    /// A value whose key hashes to `hash` and which `pick` takes: the look-up
    /// of a list that keeps a key's 64-bit hash in place of the key. Keys
    /// are not compared: two keys of one hash (never found on purpose, the
    /// hash being keyed by a secret) are told apart only by `pick`.
    pub(crate) fn get_where(&self, hash: u64, pick: impl Fn(&V) -> bool) -> Option<&V> {
        self.table.find(hash, picked(hash, pick)).map(|s| &s.value)
    }

    /// [`TextMap::get_where`], with the key.
    pub(crate) fn key_where_mut(
        &mut self,
        hash: u64,
        pick: impl Fn(&V) -> bool,
    ) -> Option<(&str, &mut V)> {
        self.table
            .find_mut(hash, picked(hash, pick))
            .map(|s| (s.key.as_str(), &mut s.value))
    }

    /// Removes the value [`TextMap::get_where`] finds.
    pub(crate) fn remove_where(&mut self, hash: u64, pick: impl Fn(&V) -> bool) -> Option<V> {
        let held = self.table.find_entry(hash, picked(hash, pick)).ok()?;
        Some(held.remove().0.value)
    }

    pub(crate) fn remove(&mut self, key: &str) -> Option<V> {
        if self.table.is_empty() {
            return None;
        }
        self.remove_hashed(self.hash(key), key)
    }

    /// [`TextMap::remove`] of a key whose [`TextMap::hash`] is `hash`.
    pub(crate) fn remove_hashed(&mut self, hash: u64, key: &str) -> Option<V> {
        let held = self.table.find_entry(hash, |s| s.key == key).ok()?;
        Some(held.remove().0.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_of_text() {
        let mut m = TextMap::default();
        assert_eq!(m.get("a"), None);
        assert_eq!(m.remove("a"), None);
        for i in 0..1000 {
            assert_eq!(m.insert(&format!("key/{i}"), i), None);
        }
        assert_eq!(m.insert("key/7", 70), Some(7));
        assert_eq!(m.len(), 1000);
        assert_eq!(m.get("key/7"), Some(&70));
        assert!(m.insert_new("key/8", 0).is_none());
        let new = m.insert_new("new", 5).expect("a new key");
        assert_eq!(new, m.hash("new"));
        assert_eq!((m.get("key/8"), m.get("new")), (Some(&8), Some(&5)));
        assert_eq!(m.get_where(new, |v| *v == 5), Some(&5));
        assert_eq!(m.get_where(new, |v| *v == 6), None);
        assert_eq!(m.key_where_mut(new, |v| *v == 5), Some(("new", &mut 5)));
        assert_eq!(m.remove_where(new, |v| *v == 6), None);
        assert_eq!(m.remove_where(new, |v| *v == 5), Some(5));
        assert!(!m.contains_key("new"));
        let long = "a key longer than twenty-four bytes, held on the heap";
        m.insert(long, 1);
        assert!(m.contains_key(long));
        assert_eq!(m.remove(long), Some(1));
        assert!(!m.contains_key(long));
        let h = m.hash("key/9");
        assert_eq!(m.get_hashed(h, "key/9"), Some(&9));
        assert_eq!(m.remove_hashed(h, "key/9"), Some(9));
        assert_eq!(m.len(), 999);
        let h = m.hash("made");
        assert_eq!(m.get_or_insert_with(h, "made", || 1), (&mut 1, true));
        assert_eq!(m.get_or_insert_with(h, "made", || 2), (&mut 1, false));
        let mut all: Vec<_> = m.iter().map(|(k, v)| (k.to_owned(), *v)).collect();
        all.sort_unstable();
        assert_eq!(all.len(), 1000);
        assert_eq!(all[0], ("key/0".to_owned(), 0));
    }
}
