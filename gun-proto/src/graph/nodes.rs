//! A graph's nodes by soul, in soul order: one held inline, a sorted list
//! while there are few, a B-tree once there are many.
//!
//! Most graphs are a message's put, its accepted part, a reply: one soul
//! or a few. A B-tree allocates a whole leaf (eleven entries) for the
//! first soul and searches it entry by entry; one soul here allocates
//! nothing, and a few are a list found by a binary search. Past [`FEW`]
//! souls (a store's page, a large put) the list becomes a B-tree, so no
//! graph pays a list's quadratic inserts.

use std::collections::BTreeMap;
use std::collections::btree_map;
use std::fmt;
use std::{option, slice, vec};

use super::Node;
use super::soul::Soul;

/// The most souls kept in a sorted list.
const FEW: usize = 8;

#[derive(Clone)]
pub(super) enum Nodes {
    /// Sorted by soul, at most [`FEW`]. Never one soul but after a
    /// removal: a first soul goes to `One`.
    Few(Vec<(Soul, Node)>),
    /// One soul, with no allocation.
    One(Single),
    Many(BTreeMap<Soul, Node>),
}

/// One node and its soul. In this order, C's layout puts the soul's spare
/// byte values last, where a `Nodes` keeps which kind it is: a `Nodes` is
/// 32 bytes, not 40 (a `Message` holding one fits the 256 bytes a move
/// copies in one step).
#[derive(Clone)]
#[repr(C)]
pub(super) struct Single {
    node: Node,
    soul: Soul,
}

impl Default for Nodes {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

impl Nodes {
    pub(super) fn len(&self) -> usize {
        match self {
            Self::Few(list) => list.len(),
            Self::One(_) => 1,
            Self::Many(tree) => tree.len(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn get(&self, soul: &str) -> Option<&Node> {
        match self {
            Self::Few(list) => find(list, soul).ok().map(|i| &list[i].1),
            Self::One(one) => (one.soul.as_str() == soul).then_some(&one.node),
            Self::Many(tree) => tree.get(soul),
        }
    }

    pub(super) fn get_mut(&mut self, soul: &str) -> Option<&mut Node> {
        match self {
            Self::Few(list) => find(list, soul).ok().map(|i| &mut list[i].1),
            Self::One(one) => (one.soul.as_str() == soul).then_some(&mut one.node),
            Self::Many(tree) => tree.get_mut(soul),
        }
    }

    /// The node at `soul`, made empty if missing.
    pub(super) fn entry(&mut self, soul: &str) -> &mut Node {
        if !matches!(self, Self::Many(_)) && self.get(soul).is_none() {
            self.insert(soul.into(), Node::default());
        }
        match self {
            Self::Few(list) => {
                let i = find(list, soul).expect("held or just made");
                &mut list[i].1
            }
            // The soul: held, or just made in the place of none.
            Self::One(one) => &mut one.node,
            Self::Many(tree) => tree.entry(soul.into()).or_default(),
        }
    }

    /// Sets the node at `soul`; the one it replaced.
    pub(super) fn insert(&mut self, soul: Soul, node: Node) -> Option<Node> {
        match self {
            Self::Many(tree) => tree.insert(soul, node),
            Self::One(one) if one.soul == soul => Some(std::mem::replace(&mut one.node, node)),
            Self::One(_) => {
                let Self::One(first) = std::mem::take(self) else {
                    unreachable!("matched One");
                };
                let (first, second) = ((first.soul, first.node), (soul, node));
                *self = Self::Few(if first.0 < second.0 {
                    vec![first, second]
                } else {
                    vec![second, first]
                });
                None
            }
            Self::Few(list) => match find(list, &soul) {
                Ok(i) => Some(std::mem::replace(&mut list[i].1, node)),
                Err(_) if list.is_empty() => {
                    *self = Self::One(Single { node, soul });
                    None
                }
                Err(i) if list.len() < FEW => {
                    list.insert(i, (soul, node));
                    None
                }
                Err(_) => {
                    let mut tree: BTreeMap<Soul, Node> = std::mem::take(list).into_iter().collect();
                    tree.insert(soul, node);
                    *self = Self::Many(tree);
                    None
                }
            },
        }
    }

    pub(super) fn remove(&mut self, soul: &str) -> Option<Node> {
        match self {
            Self::Few(list) => find(list, soul).ok().map(|i| list.remove(i).1),
            Self::One(one) if one.soul.as_str() == soul => match std::mem::take(self) {
                Self::One(one) => Some(one.node),
                _ => unreachable!("matched One"),
            },
            Self::One(_) => None,
            Self::Many(tree) => tree.remove(soul),
        }
    }

    /// Nodes in soul order.
    pub(super) fn iter(&self) -> Iter<'_> {
        match self {
            Self::Few(list) => Iter::Few(list.iter()),
            Self::One(one) => Iter::One(Some((&one.soul, &one.node)).into_iter()),
            Self::Many(tree) => Iter::Many(tree.iter()),
        }
    }
}

/// The index of `soul` in a sorted list, or where it would go.
fn find(list: &[(Soul, Node)], soul: &str) -> Result<usize, usize> {
    list.binary_search_by(|(s, _)| s.as_str().cmp(soul))
}

impl fmt::Debug for Nodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(s, n)| (s.as_str(), n)))
            .finish()
    }
}

impl PartialEq for Nodes {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl FromIterator<(Soul, Node)> for Nodes {
    /// Nodes of these (a later one of the same soul replaces an earlier
    /// one); in one pass when they come in soul order.
    fn from_iter<I: IntoIterator<Item = (Soul, Node)>>(nodes: I) -> Self {
        let mut out = Self::default();
        for (soul, node) in nodes {
            if let Self::Few(list) = &mut out
                && list.last().is_some_and(|(last, _)| *last < soul)
                && list.len() < FEW
            {
                list.push((soul, node));
                continue;
            }
            out.insert(soul, node);
        }
        out
    }
}

pub(super) enum Iter<'a> {
    Few(slice::Iter<'a, (Soul, Node)>),
    One(option::IntoIter<(&'a Soul, &'a Node)>),
    Many(btree_map::Iter<'a, Soul, Node>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Soul, &'a Node);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Few(it) => it.next().map(|(s, n)| (s, n)),
            Self::One(it) => it.next(),
            Self::Many(it) => it.next(),
        }
    }
}

pub(super) enum IntoIter {
    Few(vec::IntoIter<(Soul, Node)>),
    One(option::IntoIter<(Soul, Node)>),
    Many(btree_map::IntoIter<Soul, Node>),
}

impl Iterator for IntoIter {
    type Item = (Soul, Node);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Few(it) => it.next(),
            Self::One(it) => it.next(),
            Self::Many(it) => it.next(),
        }
    }
}

impl IntoIterator for Nodes {
    type Item = (Soul, Node);
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        match self {
            Self::Few(list) => IntoIter::Few(list.into_iter()),
            Self::One(one) => IntoIter::One(Some((one.soul, one.node)).into_iter()),
            Self::Many(tree) => IntoIter::Many(tree.into_iter()),
        }
    }
}

impl<'a> IntoIterator for &'a Nodes {
    type Item = (&'a Soul, &'a Node);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn souls(nodes: &Nodes) -> Vec<&str> {
        nodes.iter().map(|(s, _)| s.as_str()).collect()
    }

    /// Any inserts and removes, as a list and past it as a tree, keep the
    /// souls a B-tree would hold, in its order.
    #[test]
    fn holds_what_a_btree_holds() {
        let mut nodes = Nodes::default();
        let mut tree = BTreeMap::new();
        let mut n = 1u64;
        for round in 0..300 {
            n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let soul = format!("s{}", (n >> 33) % 24);
            match round % 4 {
                0 | 1 => {
                    let node = Node::with_capacity(round);
                    let held = tree.insert(soul.clone(), node.clone()).is_some();
                    assert_eq!(nodes.insert(soul.as_str().into(), node).is_some(), held);
                }
                2 => {
                    assert_eq!(nodes.remove(&soul).is_some(), tree.remove(&soul).is_some());
                }
                _ => {
                    nodes.entry(&soul);
                    tree.entry(soul.clone()).or_insert_with(Node::default);
                }
            }
            let want: Vec<&str> = tree.keys().map(String::as_str).collect();
            assert_eq!(souls(&nodes), want);
            assert_eq!(nodes.get(&soul).is_some(), tree.contains_key(&soul));
        }
        assert!(matches!(nodes, Nodes::Many(_)), "grew past {FEW}");
        let back: Nodes = nodes.clone().into_iter().collect();
        assert!(back == nodes);
    }

    #[test]
    fn one_soul_is_held_inline() {
        let mut nodes = Nodes::default();
        nodes.entry("b");
        assert!(matches!(nodes, Nodes::One(_)));
        assert!(nodes.get("b").is_some() && nodes.get("a").is_none());
        assert!(nodes.insert("b".into(), Node::with_capacity(1)).is_some());
        assert!(nodes.remove("a").is_none() && nodes.len() == 1);
        nodes.entry("a");
        assert_eq!(souls(&nodes), ["a", "b"]);
        assert!(nodes.remove("a").is_some() && nodes.remove("b").is_some());
        assert!(nodes.is_empty());
        nodes.insert("c".into(), Node::default());
        assert!(nodes.remove("c").is_some() && nodes.is_empty());
        let one = Nodes::One(Single {
            node: Node::default(),
            soul: "d".into(),
        });
        let back: Vec<_> = one.into_iter().collect();
        assert_eq!(back.len(), 1);
    }

    #[test]
    fn collects_in_any_order() {
        let few: Nodes = ["b", "a", "c", "a"]
            .into_iter()
            .map(|s| (Soul::from(s), Node::default()))
            .collect();
        assert_eq!(souls(&few), ["a", "b", "c"]);
        let many: Nodes = (0..20)
            .rev()
            .map(|i| (Soul::from(format!("s{i:02}")), Node::default()))
            .collect();
        assert_eq!(many.len(), 20);
        assert_eq!(souls(&many)[..2], ["s00", "s01"]);
    }
}
