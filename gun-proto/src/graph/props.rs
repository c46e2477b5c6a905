//! A node's properties in key order: a sorted vector while the node is
//! small, a B-tree once it is not.
//!
//! Most nodes hold a few properties. A B-tree leaf is allocated for eleven
//! entries whatever the count (about 700 bytes for a node of two), and
//! copying one walks it; a vector of exactly its entries is one small
//! allocation, copied with one `memcpy`, searched by bisection. A node past
//! [`SMALL`] properties becomes a B-tree, so that a node of many keys
//! (a hostile peer's, or a long list) still takes a new key in O(log n).

use std::collections::BTreeMap;
use std::collections::btree_map;
use std::ops::Bound;

use compact_str::CompactString;

use super::Prop;

/// The most properties a node keeps in a vector.
const SMALL: usize = 32;

/// Properties by key, in key order.
#[derive(Debug, Clone)]
pub(super) enum Props {
    /// Sorted by key, no key twice, at most [`SMALL`] long.
    Small(Vec<(CompactString, Prop)>),
    /// Past [`SMALL`] properties.
    Large(BTreeMap<CompactString, Prop>),
}

impl Default for Props {
    fn default() -> Self {
        Self::Small(Vec::new())
    }
}

impl PartialEq for Props {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl FromIterator<(CompactString, Prop)> for Props {
    /// Properties in any order (a later one of the same key wins).
    fn from_iter<I: IntoIterator<Item = (CompactString, Prop)>>(items: I) -> Self {
        let mut props = Self::default();
        for (k, p) in items {
            props.insert(k, p);
        }
        props
    }
}

impl Props {
    /// Room for `n` properties.
    pub(super) fn with_capacity(n: usize) -> Self {
        if n <= SMALL {
            Self::Small(Vec::with_capacity(n))
        } else {
            Self::Large(BTreeMap::new())
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Self::Small(v) => v.len(),
            Self::Large(m) => m.len(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn get(&self, key: &str) -> Option<&Prop> {
        match self {
            Self::Small(v) => find(v, key).ok().map(|i| &v[i].1),
            Self::Large(m) => m.get(key),
        }
    }

    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut Prop> {
        match self {
            Self::Small(v) => match find(v, key) {
                Ok(i) => Some(&mut v[i].1),
                Err(_) => None,
            },
            Self::Large(m) => m.get_mut(key),
        }
    }

    /// Sets `key`, returning what it held.
    pub(super) fn insert(&mut self, key: CompactString, prop: Prop) -> Option<Prop> {
        match self {
            Self::Small(v) => match find(v, &key) {
                Ok(i) => Some(std::mem::replace(&mut v[i].1, prop)),
                Err(i) if v.len() < SMALL => {
                    // Grown by one: a small node's vector is its size
                    // (sized beforehand where the count is known).
                    v.reserve_exact(1);
                    v.insert(i, (key, prop));
                    None
                }
                Err(_) => {
                    let mut m: BTreeMap<CompactString, Prop> =
                        std::mem::take(v).into_iter().collect();
                    m.insert(key, prop);
                    *self = Self::Large(m);
                    None
                }
            },
            Self::Large(m) => m.insert(key, prop),
        }
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<Prop> {
        match self {
            Self::Small(v) => find(v, key).ok().map(|i| v.remove(i).1),
            Self::Large(m) => m.remove(key),
        }
    }

    /// In key order.
    pub(super) fn iter(&self) -> Iter<'_> {
        match self {
            Self::Small(v) => Iter::Small(v.iter()),
            Self::Large(m) => Iter::Large(m.range::<str, _>(..)),
        }
    }

    /// From `from` on (all with `None`), in key order.
    pub(super) fn range_from<'a>(&'a self, from: Option<&str>) -> Iter<'a> {
        let Some(from) = from else {
            return self.iter();
        };
        match self {
            Self::Small(v) => {
                let start = v.partition_point(|(k, _)| k.as_str() < from);
                Iter::Small(v[start..].iter())
            }
            Self::Large(m) => {
                Iter::Large(m.range::<str, _>((Bound::Included(from), Bound::Unbounded)))
            }
        }
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Prop> {
        self.iter().map(|(_, p)| p)
    }
}

/// Where `key` is in a sorted vector, or where it would go.
fn find(v: &[(CompactString, Prop)], key: &str) -> Result<usize, usize> {
    v.binary_search_by(|(k, _)| k.as_str().cmp(key))
}

/// Properties in key order.
pub(super) enum Iter<'a> {
    Small(std::slice::Iter<'a, (CompactString, Prop)>),
    Large(btree_map::Range<'a, CompactString, Prop>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a CompactString, &'a Prop);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Small(it) => it.next().map(|(k, p)| (k, p)),
            Self::Large(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Self::Small(it) => it.size_hint(),
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

    /// A node keeps key order, replaces and removes, across the change from
    /// a vector to a B-tree, and compares by content, not by form.
    #[test]
    fn small_and_large_nodes_behave_alike() {
        let mut small = Props::default();
        let mut reference = BTreeMap::new();
        // Keys in a scrambled order, some twice.
        for i in (0..100u32).map(|i| (i * 37) % 80) {
            let key = CompactString::from(format!("k{i}"));
            assert_eq!(
                small.insert(key.clone(), prop(f64::from(i))),
                reference.insert(key, prop(f64::from(i)))
            );
            assert!(small.iter().map(|(k, _)| k).eq(reference.keys()));
        }
        assert!(matches!(small, Props::Large(_)));
        assert_eq!(small.len(), 80);
        assert_eq!(small.get("k5"), reference.get("k5"));
        assert_eq!(small.remove("k5"), reference.remove("k5"));
        assert_eq!(small.get("k5"), None);
        let from: Vec<&str> = small
            .range_from(Some("k7"))
            .map(|(k, _)| k.as_str())
            .take(3)
            .collect();
        assert_eq!(from, ["k7", "k70", "k71"]);
        // The same content in a vector equals it.
        let mut few = Props::default();
        let mut many = Props::default();
        for i in 0..3 {
            few.insert(format!("a{i}").into(), prop(1.0));
        }
        for i in 0..40 {
            many.insert(format!("a{i}").into(), prop(1.0));
        }
        for i in 3..40 {
            many.remove(&format!("a{i}"));
        }
        assert!(matches!(few, Props::Small(_)) && matches!(many, Props::Large(_)));
        assert_eq!(few, many);
        let from: Vec<&str> = few
            .range_from(Some("a1"))
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(from, ["a1", "a2"]);
    }
}
