//! A node's properties in key order: packed while the node is small, a
//! B-tree once it is not.
//!
//! Most nodes hold a few properties. A small node ([`Packed`]) keeps a
//! sorted vector of 24-byte slots (a property's state, its value or where
//! its text is, where its key is; two slots held inline) and one text
//! buffer holding the keys and the string values (inline up to 24 bytes,
//! see `text.rs`): a node of two properties and short text needs no
//! allocation beyond the node's own. That is about a third of a
//! `(key, Prop)` pair's 64 bytes, copied with two `memcpy`s, searched by
//! bisection. A node past [`SMALL`] properties becomes a B-tree, so that a
//! node of many keys (a hostile peer's, or a long list) still takes a new
//! key in O(log n).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

use compact_str::CompactString;
use smallvec::SmallVec;

use super::text::Text;
use super::{Prop, PropRef};
use crate::value::ValueRef;

/// The most properties a node keeps packed.
const SMALL: usize = 32;

/// The slots a packed node holds inline (no allocation of their own).
const INLINE_SLOTS: usize = 2;

/// Properties by key, in key order.
#[derive(Clone)]
pub(super) enum Props {
    /// At most [`SMALL`] properties.
    Small(Packed),
    /// Past [`SMALL`] properties (or a key too long to pack).
    Large(BTreeMap<CompactString, Prop>),
}

impl Default for Props {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl PartialEq for Props {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for Props {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Props {
    /// No properties.
    pub(super) const EMPTY: Self = Self::Small(Packed {
        slots: SmallVec::new_const(),
        text: Text::EMPTY,
        stale: 0,
    });

    /// Room for `n` properties.
    pub(super) fn with_capacity(n: usize) -> Self {
        Self::with_room(n, 0)
    }

    /// Room for `n` properties whose keys and text come to `text` bytes.
    pub(super) fn with_room(n: usize, text: usize) -> Self {
        if n <= SMALL {
            Self::Small(Packed {
                slots: SmallVec::with_capacity(n),
                text: Text::with_capacity(text),
                stale: 0,
            })
        } else {
            Self::Large(BTreeMap::new())
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Self::Small(p) => p.slots.len(),
            Self::Large(m) => m.len(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn get(&self, key: &str) -> Option<PropRef<'_>> {
        match self {
            Self::Small(p) => p.get(key),
            Self::Large(m) => m.get(key).map(Prop::view),
        }
    }

    /// Sets `key` to `prop`, added or replaced.
    pub(super) fn set(&mut self, key: &str, prop: PropRef<'_>) {
        match self {
            Self::Small(p) => {
                if p.set(key, prop).is_ok() {
                    return;
                }
                let mut m = p.to_map();
                m.insert(key.into(), prop.to_prop());
                *self = Self::Large(m);
            }
            Self::Large(m) => match m.get_mut(key) {
                Some(held) => {
                    held.state = prop.state;
                    held.value = prop.value.to_value();
                }
                None => {
                    m.insert(key.into(), prop.to_prop());
                }
            },
        }
    }

    /// Sets `key` to `prop` if `wins` says so of what `key` holds, with one
    /// search: what it held goes to `prior` first. Returns the verdict.
    pub(super) fn set_if<T: PartialEq>(
        &mut self,
        key: &str,
        prop: PropRef<'_>,
        prior: &mut Self,
        wins: impl FnOnce(Option<PropRef<'_>>) -> T,
        accept: T,
    ) -> T {
        let Self::Small(p) = self else {
            let verdict = wins(self.get(key));
            if verdict == accept {
                if let Some(held) = self.get(key) {
                    prior.set(key, held);
                }
                self.set(key, prop);
            }
            return verdict;
        };
        let found = p.find(key);
        let held = found.ok().map(|i| p.prop(&p.slots[i]));
        let verdict = wins(held);
        if verdict != accept {
            return verdict;
        }
        if let Some(held) = held {
            prior.set(key, held);
        }
        let placed = match found {
            Ok(i) => p.replace_at(i, prop),
            Err(i) => p.insert_at(i, key, prop),
        };
        if placed.is_err() {
            let mut m = p.to_map();
            m.insert(key.into(), prop.to_prop());
            *self = Self::Large(m);
        }
        verdict
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<Prop> {
        match self {
            Self::Small(p) => p.remove(key),
            Self::Large(m) => m.remove(key),
        }
    }

    /// The length of the longest key (0 for none), read from the slots
    /// alone.
    pub(super) fn longest_key(&self) -> usize {
        match self {
            Self::Small(p) => p.slots.iter().map(Slot::key_len).max(),
            Self::Large(m) => m.keys().map(CompactString::len).max(),
        }
        .unwrap_or(0)
    }

    /// In key order.
    pub(super) fn iter(&self) -> Iter<'_> {
        self.range_from(None)
    }

    /// From `from` on (all with `None`), in key order.
    pub(super) fn range_from<'a>(&'a self, from: Option<&str>) -> Iter<'a> {
        match self {
            Self::Small(p) => {
                let start = from.map_or(0, |from| p.slots.partition_point(|s| p.key(s) < from));
                Iter::Small(p, p.slots[start..].iter())
            }
            Self::Large(m) => Iter::Large(match from {
                None => m.range::<str, _>(..),
                Some(from) => m.range::<str, _>((Bound::Included(from), Bound::Unbounded)),
            }),
        }
    }

    pub(super) fn values(&self) -> impl Iterator<Item = PropRef<'_>> {
        self.iter().map(|(_, p)| p)
    }
}

impl<K: AsRef<str>> FromIterator<(K, Prop)> for Props {
    /// Properties in any order (a later one of the same key wins).
    fn from_iter<I: IntoIterator<Item = (K, Prop)>>(items: I) -> Self {
        let items = items.into_iter();
        let mut props = Self::with_capacity(items.size_hint().0.min(SMALL));
        for (k, p) in items {
            props.set(k.as_ref(), p.view());
        }
        props
    }
}

/// A small node's properties: slots sorted by key, and the text they
/// point into. Text a replaced or removed property leaves behind is
/// counted and dropped once it is half the buffer.
#[derive(Clone, Default)]
pub(super) struct Packed {
    slots: SmallVec<[Slot; INLINE_SLOTS]>,
    text: Text,
    /// Bytes of `text` no slot points at.
    stale: u32,
}

/// One property: 24 bytes.
#[derive(Clone, Copy)]
pub(super) struct Slot {
    state: f64,
    /// A number's bits; a string's or link's place in the text (offset in
    /// the high half, length in the low half); nothing for the rest.
    data: u64,
    key_at: u32,
    /// The key's length (low [`LEN_BITS`] bits) and the value's kind.
    key_len_kind: u32,
}

const LEN_BITS: u32 = 24;
const MAX_KEY_LEN: usize = (1 << LEN_BITS) - 1;

/// Value kinds.
const NULL: u32 = 0;
const FALSE: u32 = 1;
const TRUE: u32 = 2;
const NUMBER: u32 = 3;
const STRING: u32 = 4;
const LINK: u32 = 5;

/// Stale text below this is not worth a copy.
const COMPACT_FROM: u32 = 64;

/// The property cannot be packed: the node takes a B-tree.
struct Full;

impl Slot {
    fn kind(&self) -> u32 {
        self.key_len_kind >> LEN_BITS
    }

    fn key_len(&self) -> usize {
        (self.key_len_kind as usize) & MAX_KEY_LEN
    }

    /// The length of the value's text (0 unless a string or link).
    fn value_len(&self) -> usize {
        match self.kind() {
            STRING | LINK => (self.data & u64::from(u32::MAX)) as usize,
            _ => 0,
        }
    }
}

impl Packed {
    fn key(&self, s: &Slot) -> &str {
        let at = s.key_at as usize;
        &self.text[at..at + s.key_len()]
    }

    fn text_at(&self, data: u64) -> &str {
        let at = (data >> 32) as usize;
        let len = (data & u64::from(u32::MAX)) as usize;
        &self.text[at..at + len]
    }

    fn prop(&self, s: &Slot) -> PropRef<'_> {
        let value = match s.kind() {
            NULL => ValueRef::Null,
            FALSE => ValueRef::Bool(false),
            TRUE => ValueRef::Bool(true),
            NUMBER => ValueRef::Number(f64::from_bits(s.data)),
            STRING => ValueRef::String(self.text_at(s.data)),
            _ => ValueRef::Link(self.text_at(s.data)),
        };
        PropRef {
            value,
            state: s.state,
        }
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.slots.binary_search_by(|s| self.key(s).cmp(key))
    }

    fn get(&self, key: &str) -> Option<PropRef<'_>> {
        self.find(key).ok().map(|i| self.prop(&self.slots[i]))
    }

    /// Appends `s` to the text, returning where it starts, while offsets
    /// fit in 32 bits.
    fn push_text(&mut self, s: &str) -> Result<u32, Full> {
        let at = u32::try_from(self.text.len()).map_err(|_| Full)?;
        u32::try_from(self.text.len() + s.len()).map_err(|_| Full)?;
        self.text.push_str(s);
        Ok(at)
    }

    /// The value's kind and data, its text appended.
    fn encode(&mut self, value: ValueRef<'_>) -> Result<(u32, u64), Full> {
        Ok(match value {
            ValueRef::Null => (NULL, 0),
            ValueRef::Bool(false) => (FALSE, 0),
            ValueRef::Bool(true) => (TRUE, 0),
            ValueRef::Number(n) => (NUMBER, n.to_bits()),
            ValueRef::String(s) | ValueRef::Link(s) => {
                let kind = if matches!(value, ValueRef::String(_)) {
                    STRING
                } else {
                    LINK
                };
                let at = self.push_text(s)?;
                (kind, (u64::from(at) << 32) | s.len() as u64)
            }
        })
    }

    fn set(&mut self, key: &str, prop: PropRef<'_>) -> Result<(), Full> {
        match self.find(key) {
            Ok(i) => self.replace_at(i, prop),
            Err(i) => self.insert_at(i, key, prop),
        }
    }

    /// Sets the property in slot `i`.
    fn replace_at(&mut self, i: usize, prop: PropRef<'_>) -> Result<(), Full> {
        let held = self.slots[i];
        let (kind, data) = match prop.value {
            // Text of the same length is written over in place.
            ValueRef::String(s) | ValueRef::Link(s)
                if held.value_len() == s.len() && !s.is_empty() =>
            {
                let at = (held.data >> 32) as usize;
                self.text.overwrite(at, s);
                let kind = if matches!(prop.value, ValueRef::String(_)) {
                    STRING
                } else {
                    LINK
                };
                (kind, held.data)
            }
            value => {
                let encoded = self.encode(value)?;
                self.stale += held.value_len() as u32;
                encoded
            }
        };
        let slot = &mut self.slots[i];
        slot.state = prop.state;
        slot.data = data;
        slot.key_len_kind = (kind << LEN_BITS) | held.key_len() as u32;
        self.compact_if_stale();
        Ok(())
    }

    /// Adds `key` as slot `i` (where [`Packed::find`] said it goes).
    fn insert_at(&mut self, i: usize, key: &str, prop: PropRef<'_>) -> Result<(), Full> {
        if self.slots.len() >= SMALL || key.len() > MAX_KEY_LEN {
            return Err(Full);
        }
        let mark = self.text.len();
        let placed = self
            .push_text(key)
            .and_then(|key_at| Ok((key_at, self.encode(prop.value)?)));
        let Ok((key_at, (kind, data))) = placed else {
            self.text.truncate(mark);
            return Err(Full);
        };
        // Grown by one: a small node's vector is its size (sized
        // beforehand where the count is known).
        self.slots.reserve_exact(1);
        self.slots.insert(
            i,
            Slot {
                state: prop.state,
                data,
                key_at,
                key_len_kind: (kind << LEN_BITS) | key.len() as u32,
            },
        );
        Ok(())
    }

    fn remove(&mut self, key: &str) -> Option<Prop> {
        let i = self.find(key).ok()?;
        let slot = self.slots[i];
        let prop = self.prop(&slot).to_prop();
        self.slots.remove(i);
        self.stale += (slot.key_len() + slot.value_len()) as u32;
        self.compact_if_stale();
        Some(prop)
    }

    /// Copies the live text into a new buffer once half the old one is
    /// stale.
    fn compact_if_stale(&mut self) {
        if self.stale < COMPACT_FROM || (self.stale as usize) * 2 < self.text.len() {
            return;
        }
        let mut text = Text::with_capacity(self.text.len() - self.stale as usize);
        for slot in &mut self.slots {
            let at = slot.key_at as usize;
            slot.key_at = text.len() as u32;
            text.push_str(&self.text[at..at + slot.key_len()]);
            if matches!(slot.kind(), STRING | LINK) {
                let len = slot.value_len();
                let at = (slot.data >> 32) as usize;
                slot.data = ((text.len() as u64) << 32) | len as u64;
                text.push_str(&self.text[at..at + len]);
            }
        }
        self.text = text;
        self.stale = 0;
    }

    /// The properties as a B-tree.
    fn to_map(&self) -> BTreeMap<CompactString, Prop> {
        self.slots
            .iter()
            .map(|s| (self.key(s).into(), self.prop(s).to_prop()))
            .collect()
    }
}

/// Properties in key order.
pub(super) enum Iter<'a> {
    Small(&'a Packed, std::slice::Iter<'a, Slot>),
    Large(std::collections::btree_map::Range<'a, CompactString, Prop>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, PropRef<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Small(p, it) => it.next().map(|s| (p.key(s), p.prop(s))),
            Self::Large(it) => it.next().map(|(k, p)| (k.as_str(), p.view())),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Self::Small(_, it) => it.size_hint(),
            Self::Large(it) => it.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn prop(n: f64) -> Prop {
        Prop {
            value: Value::Number(n),
            state: n,
        }
    }

    fn text(s: &str, state: f64) -> Prop {
        Prop {
            value: Value::String(s.to_owned()),
            state,
        }
    }

    /// A slot is the 24 bytes the module's memory figure rests on.
    #[test]
    fn a_slot_is_24_bytes() {
        assert_eq!(size_of::<Slot>(), 24);
    }

    /// A node keeps key order, replaces and removes, across the change from
    /// packed to a B-tree, and compares by content, not by form.
    #[test]
    fn small_and_large_nodes_behave_alike() {
        let mut small = Props::default();
        let mut reference = BTreeMap::new();
        // Keys in a scrambled order, some twice.
        for i in (0..100u32).map(|i| (i * 37) % 80) {
            let key = format!("k{i}");
            let held = small.get(&key).map(PropRef::to_prop);
            small.set(&key, prop(f64::from(i)).view());
            assert_eq!(held, reference.insert(key, prop(f64::from(i))));
            assert!(small.iter().map(|(k, _)| k).eq(reference.keys()));
        }
        assert!(matches!(small, Props::Large(_)));
        assert_eq!(small.len(), 80);
        assert_eq!(
            small.get("k5").map(PropRef::to_prop).as_ref(),
            reference.get("k5")
        );
        assert_eq!(small.remove("k5"), reference.remove("k5"));
        assert_eq!(small.get("k5"), None);
        let from: Vec<&str> = small
            .range_from(Some("k7"))
            .map(|(k, _)| k)
            .take(3)
            .collect();
        assert_eq!(from, ["k7", "k70", "k71"]);
        // The same content packed equals it.
        let mut few = Props::default();
        let mut many = Props::default();
        for i in 0..3 {
            few.set(&format!("a{i}"), prop(1.0).view());
        }
        for i in 0..40 {
            many.set(&format!("a{i}"), prop(1.0).view());
        }
        for i in 3..40 {
            many.remove(&format!("a{i}"));
        }
        assert!(matches!(few, Props::Small(_)) && matches!(many, Props::Large(_)));
        assert_eq!(few, many);
        let from: Vec<&str> = few.range_from(Some("a1")).map(|(k, _)| k).collect();
        assert_eq!(from, ["a1", "a2"]);
    }

    /// Texts replaced by longer, shorter and equal ones, links and
    /// removals read back as a B-tree holds them, and the buffer is
    /// compacted rather than grown without end.
    #[test]
    fn packed_text_survives_replacing_and_compacting() {
        let mut packed = Props::default();
        let mut reference: BTreeMap<String, Prop> = BTreeMap::new();
        let mut set = |packed: &mut Props, k: &str, p: Prop| {
            packed.set(k, p.view());
            reference.insert(k.to_owned(), p);
            assert!(
                packed
                    .iter()
                    .map(|(k, p)| (k.to_owned(), p.to_prop()))
                    .eq(reference.iter().map(|(k, p)| (k.clone(), p.clone())))
            );
        };
        for round in 0..200u32 {
            let k = format!("key{}", round % 7);
            let p = match round % 5 {
                0 => text(&"x".repeat((round % 13) as usize), f64::from(round)),
                1 => text("same", f64::from(round)),
                2 => Prop {
                    value: Value::Link(format!("soul/{round}")),
                    state: 1.0,
                },
                3 => text("é😀", 2.0),
                _ => prop(f64::from(round)),
            };
            set(&mut packed, &k, p);
        }
        let Props::Small(p) = &packed else {
            panic!("7 keys stay packed")
        };
        assert!(
            p.text.len() < 200,
            "stale text is dropped: {}",
            p.text.len()
        );
        for k in ["key3", "key0", "nothing"] {
            assert_eq!(packed.remove(k), reference.remove(k));
        }
        assert!(
            packed
                .iter()
                .map(|(k, p)| (k.to_owned(), p.to_prop()))
                .eq(reference.into_iter())
        );
    }

    /// A key too long for a slot sends the node to a B-tree.
    #[test]
    fn a_key_past_the_slot_length_goes_to_a_btree() {
        let mut props = Props::default();
        props.set("a", prop(1.0).view());
        let long = "k".repeat(MAX_KEY_LEN + 1);
        props.set(&long, prop(2.0).view());
        assert!(matches!(props, Props::Large(_)));
        assert_eq!(props.get(&long).map(|p| p.state), Some(2.0));
        assert_eq!(props.get("a").map(|p| p.state), Some(1.0));
    }
}
