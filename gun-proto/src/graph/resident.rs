//! The graph a process holds in memory (the engine's nodes, a memory
//! store): nodes found by their soul's hash, not by a search of ordered
//! souls.
//!
//! A [`Graph`] keeps its souls in order, which a diff, a message and a
//! store's page need (they are written out in soul order); held for a
//! whole process, that order costs a B-tree search of every soul a put
//! names. What a process holds is
//! looked up by soul on every put and read, and read by soul range only
//! for a get of a soul prefix from memory; so it is a hash table, and the
//! souls' order is made at the first such read and kept from then on.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Bound;

use super::{Graph, Holder, Merged, Node, PropRef, Soul, merge_in, merge_owned_in, restore_in};
use crate::text_map::TextMap;

/// Nodes by soul, found by hash (SipHash with a random key: no peer can
/// aim its souls at one bucket).
#[derive(Clone, Default)]
pub struct Resident {
    nodes: TextMap<Node>,
    /// The souls in order: `None` until a read of a soul range asks for
    /// them, kept with every soul added and removed from then on.
    order: Option<BTreeSet<Soul>>,
}

impl Resident {
    /// Nothing held.
    pub fn new() -> Self {
        Self::default()
    }

    /// The node at `soul`.
    pub fn node(&self, soul: &str) -> Option<&Node> {
        self.nodes.get(soul)
    }

    /// The property `key` of node `soul`.
    pub fn prop(&self, soul: &str, key: &str) -> Option<PropRef<'_>> {
        self.nodes.get(soul)?.get(key)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 0
    }

    /// Number of properties over all nodes.
    pub fn prop_count(&self) -> usize {
        self.nodes.iter().map(|(_, n)| n.len()).sum()
    }

    /// The node at `soul`, made empty if missing (one look-up either way).
    fn node_mut(&mut self, soul: &str) -> &mut Node {
        let Self { nodes, order } = self;
        let (node, made) = nodes.get_or_insert_with(nodes.hash(soul), soul, Node::default);
        if made && let Some(order) = order {
            order.insert(soul.into());
        }
        node
    }

    /// Merges `diff` by HAM, property by property (see [`Graph::merge`]).
    pub fn merge(&mut self, now: f64, diff: &Graph) -> Merged {
        merge_in(self, now, diff)
    }

    /// [`Resident::merge`] of a diff not needed afterwards: a node new to
    /// us is moved into [`Merged::accepted`] and shared with what is held.
    pub fn merge_owned(&mut self, now: f64, diff: Graph) -> Merged {
        merge_owned_in(self, now, diff)
    }

    /// Sets every property of `diff` here without HAM (a store taking a
    /// batch the engine has merged): a node new here is shared whole.
    pub fn overwrite(&mut self, diff: &Graph) {
        for (soul, node) in &diff.nodes {
            let mine = self.node_mut(soul);
            if mine.is_empty() {
                *mine = node.clone();
                continue;
            }
            let mine = mine.props_mut();
            for (key, p) in node.iter() {
                mine.set(key, p);
            }
        }
    }

    /// Sets `soul.key` back to `prior`, or removes it when `prior` is
    /// `None` (an undo, not a merge: HAM is not consulted).
    pub fn restore(&mut self, soul: &str, key: &str, prior: Option<PropRef<'_>>) {
        restore_in(self, soul, key, prior);
    }

    /// Removes the node at `soul`, returning it.
    pub fn remove_node(&mut self, soul: &str) -> Option<Node> {
        let node = self.nodes.remove(soul)?;
        if let Some(order) = &mut self.order {
            order.remove(soul);
        }
        Some(node)
    }

    /// Nodes whose soul starts with `prefix`, in soul order. The first
    /// ordered read orders every soul held (and keeps them ordered after).
    pub fn with_prefix<'a>(
        &'a mut self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Node)> + 'a {
        self.range_from(prefix)
            .take_while(move |(s, _)| s.starts_with(prefix))
    }

    /// Nodes from soul `start` on, in soul order (ordered as
    /// [`Resident::with_prefix`] is).
    pub fn range_from<'a>(
        &'a mut self,
        start: &str,
    ) -> impl Iterator<Item = (&'a str, &'a Node)> + 'a {
        let Self { nodes, order } = self;
        let order = order.get_or_insert_with(|| nodes.iter().map(|(s, _)| s.into()).collect());
        let nodes = &*nodes;
        order
            .range::<str, _>((Bound::Included(start), Bound::Unbounded))
            .filter_map(move |s| Some((s.as_str(), nodes.get(s)?)))
    }

    /// Nodes in soul order: every soul sorted at each call (for tests and
    /// debugging; the engine reads by soul or by [`Resident::with_prefix`]).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        let mut all: Vec<(&str, &Node)> = self.nodes.iter().collect();
        all.sort_unstable_by_key(|(s, _)| *s);
        all.into_iter()
    }

    /// Souls in order (sorted at each call, as [`Resident::iter`]).
    pub fn souls(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(s, _)| s)
    }

    /// Everything held, as a graph (in soul order; nodes shared).
    pub fn to_graph(&self) -> Graph {
        self.iter()
            .map(|(s, n)| (s.to_owned(), n.clone()))
            .collect()
    }
}

impl Holder for Resident {
    fn entry(&mut self, soul: &str) -> &mut Node {
        self.node_mut(soul)
    }

    fn held(&mut self, soul: &str) -> Option<&mut Node> {
        self.nodes.get_mut(soul)
    }
}

impl PartialEq for Resident {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.nodes.iter().all(|(s, n)| other.node(s) == Some(n))
    }
}

impl fmt::Debug for Resident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl From<Graph> for Resident {
    fn from(graph: Graph) -> Self {
        let mut held = Self::new();
        for (soul, node) in graph.nodes {
            *held.node_mut(&soul) = node;
        }
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn diff(props: &[(&str, &str, f64, f64)]) -> Graph {
        let mut g = Graph::new();
        for &(soul, key, value, state) in props {
            g.insert(soul, key, Value::Number(value), state);
        }
        g
    }

    /// A resident graph merges as a graph does: the same accepted,
    /// deferred, dropped and prior parts, and the same nodes after.
    #[test]
    fn merges_as_a_graph_does() {
        let puts = [
            diff(&[("a", "k", 1.0, 10.0), ("b", "k", 1.0, 10.0)]),
            diff(&[("a", "k", 2.0, 20.0), ("a", "j", 2.0, 5.0)]),
            diff(&[("a", "k", 3.0, 15.0), ("c", "k", 3.0, 1e15)]),
            diff(&[("b", "k", 0.5, 10.0), ("b", "n", 1.0, 10.0)]),
        ];
        let (mut graph, mut held) = (Graph::new(), Resident::new());
        for (i, put) in puts.iter().enumerate() {
            let (g, h) = if i % 2 == 0 {
                (graph.merge(100.0, put), held.merge(100.0, put))
            } else {
                (
                    graph.merge_owned(100.0, put.clone()),
                    held.merge_owned(100.0, put.clone()),
                )
            };
            assert_eq!(g.accepted, h.accepted);
            assert_eq!(g.deferred, h.deferred);
            assert_eq!(g.prior, h.prior);
            assert_eq!(g.dropped, h.dropped);
            assert_eq!(held.to_graph(), graph);
        }
        assert_eq!(held.prop("a", "k").map(|p| p.state), Some(20.0));
        // c's put is from the future: deferred, its node made empty.
        assert!(held.node("c").is_some_and(Node::is_empty));
        assert_eq!(held.prop_count(), 4);
    }

    #[test]
    fn prefix_reads_keep_their_order() {
        let mut held = Resident::new();
        held.overwrite(&diff(&[("a/2", "k", 1.0, 1.0), ("b", "k", 1.0, 1.0)]));
        let souls = |h: &mut Resident, p: &str| -> Vec<String> {
            h.with_prefix(p).map(|(s, _)| s.to_owned()).collect()
        };
        assert_eq!(souls(&mut held, "a/"), ["a/2"]);
        // Souls added and removed after the first ordered read.
        held.overwrite(&diff(&[("a/1", "k", 1.0, 1.0), ("a/3", "k", 1.0, 1.0)]));
        held.remove_node("a/2");
        assert_eq!(souls(&mut held, "a/"), ["a/1", "a/3"]);
        assert_eq!(souls(&mut held, ""), ["a/1", "a/3", "b"]);
        let from: Vec<_> = held.range_from("a/2").map(|(s, _)| s).collect();
        assert_eq!(from, ["a/3", "b"]);
        assert_eq!(held.souls().collect::<Vec<_>>(), ["a/1", "a/3", "b"]);
        assert_eq!(held.clone(), Resident::from(held.to_graph()));
    }

    #[test]
    fn overwrite_and_restore() {
        let mut held = Resident::new();
        held.overwrite(&diff(&[("s", "a", 1.0, 1.0)]));
        held.overwrite(&diff(&[("s", "b", 2.0, 1.0), ("s", "a", 3.0, 2.0)]));
        assert_eq!(held.node("s").map(Node::len), Some(2));
        let was = held.prop("s", "a").map(PropRef::to_prop);
        held.restore("s", "a", None);
        assert_eq!(held.prop("s", "a"), None);
        held.restore("s", "a", was.as_ref().map(|p| p.view()));
        assert_eq!(held.prop("s", "a").map(|p| p.state), Some(2.0));
        assert!(held.remove_node("s").is_some() && held.is_empty());
    }
}
