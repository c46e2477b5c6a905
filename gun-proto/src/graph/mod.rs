//! Nodes and graphs, and merging one graph into another by HAM.

mod nodes;
mod props;
mod resident;
mod soul;
mod text;

use std::fmt;
use std::sync::Arc;

use nodes::Nodes;
use props::Props;
pub use resident::Resident;
use soul::Soul;

use crate::ham::{self, Decision};
use crate::jstext;
use crate::state::State;
use crate::value::{Value, ValueRef};

/// One property of a node: its value and the state it was written at.
#[derive(Debug, Clone, PartialEq)]
pub struct Prop {
    /// The value (`Null` for a delete).
    pub value: Value,
    /// The state (ms since the Unix epoch) HAM orders writes by.
    pub state: State,
}

impl Prop {
    /// The property borrowed.
    pub fn view(&self) -> PropRef<'_> {
        PropRef {
            value: self.value.view(),
            state: self.state,
        }
    }

    /// See [`PropRef::push_leaf_json`].
    pub fn push_leaf_json(&self, out: &mut String) {
        self.view().push_leaf_json(out);
    }
}

/// A property as a node holds it: its value borrowed (a node keeps its
/// keys and texts in one buffer, see `props`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PropRef<'a> {
    /// The value (`Null` for a delete).
    pub value: ValueRef<'a>,
    /// The state (ms since the Unix epoch) HAM orders writes by.
    pub state: State,
}

impl PropRef<'_> {
    /// The property owned.
    pub fn to_prop(self) -> Prop {
        Prop {
            value: self.value.to_value(),
            state: self.state,
        }
    }

    /// Appends `{":":value,">":state}` (radisk's leaf shape, as the sled
    /// store keeps a property), numbers as JavaScript prints them.
    pub fn push_leaf_json(self, out: &mut String) {
        out.push_str("{\":\":");
        self.value.push_json(out);
        out.push_str(",\">\":");
        jstext::push_number(out, self.state);
        out.push('}');
    }
}

impl PartialEq<Prop> for PropRef<'_> {
    fn eq(&self, other: &Prop) -> bool {
        *self == other.view()
    }
}

impl FromIterator<(String, Prop)> for Node {
    /// A node of these properties (a later one of the same key wins). Built
    /// in one pass when they come in key order, as a store's scan gives them.
    fn from_iter<I: IntoIterator<Item = (String, Prop)>>(props: I) -> Self {
        Self::of(props.into_iter().collect())
    }
}

impl FromIterator<(String, Node)> for Graph {
    /// A graph of these nodes (a later one of the same soul replaces an
    /// earlier one). Built in one pass when they come in soul order.
    fn from_iter<I: IntoIterator<Item = (String, Node)>>(nodes: I) -> Self {
        Self {
            nodes: nodes.into_iter().map(|(s, n)| (s.into(), n)).collect(),
        }
    }
}

/// A node: properties by key. The soul is the key under which the graph holds it.
///
/// Its properties are shared, copy on write, by the graphs that hold the
/// node (the engine's, a write batch, a memory store): a clone is a count
/// going up, and the first change to a shared node copies it.
#[derive(Clone, Default)]
pub struct Node {
    /// `None`: no properties (no allocation).
    props: Option<Arc<Props>>,
}

/// No properties, for a node that holds none.
static NO_PROPS: Props = Props::EMPTY;

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.props() == other.props()
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node").field("props", self.props()).finish()
    }
}

impl Node {
    /// An empty node.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty node with room for `n` properties.
    pub fn with_capacity(n: usize) -> Self {
        Self::with_room(n, 0)
    }

    /// An empty node with room for `n` properties whose keys and text
    /// (string and link values) come to `text` bytes: filled with those,
    /// it has allocated once for its properties and once for their text.
    pub(crate) fn with_room(n: usize, text: usize) -> Self {
        Self {
            props: (n > 0).then(|| Arc::new(Props::with_room(n, text))),
        }
    }

    /// A node of `props` (nothing allocated when there are none).
    fn of(props: Props) -> Self {
        Self {
            props: (!props.is_empty()).then(|| Arc::new(props)),
        }
    }

    fn props(&self) -> &Props {
        self.props.as_deref().unwrap_or(&NO_PROPS)
    }

    /// The properties to change: copied first if another graph shares them.
    fn props_mut(&mut self) -> &mut Props {
        Arc::make_mut(self.props.get_or_insert_with(Arc::default))
    }

    /// The property at `key`.
    pub fn get(&self, key: &str) -> Option<PropRef<'_>> {
        self.props().get(key)
    }

    /// Sets a property without HAM (for building diffs).
    pub fn insert(&mut self, key: impl AsRef<str>, value: Value, state: State) {
        self.set(
            key.as_ref(),
            PropRef {
                value: value.view(),
                state,
            },
        );
    }

    /// Sets a property without HAM, copied from where it is borrowed.
    pub fn set(&mut self, key: &str, prop: PropRef<'_>) {
        self.props_mut().set(key, prop);
    }

    /// Properties in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, PropRef<'_>)> {
        self.props().iter()
    }

    /// Properties from key `from` on (all with `None`), in key order.
    pub fn range<'a>(
        &'a self,
        from: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a str, PropRef<'a>)> + 'a {
        self.props().range_from(from)
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.props().len()
    }

    /// The length in bytes of the node's longest key (0 for none).
    pub fn longest_key(&self) -> usize {
        self.props().longest_key()
    }

    /// Whether the node has no properties.
    pub fn is_empty(&self) -> bool {
        self.props().is_empty()
    }

    /// Appends `{soul: node}`: a one-node graph's wire form, as the file
    /// store keeps a node.
    pub fn push_graph_json(&self, soul: &str, out: &mut String) {
        out.push('{');
        jstext::push_string(out, soul);
        out.push(':');
        self.push_json(soul, out);
        out.push('}');
    }

    /// Appends the node in Gun's wire form, keys sorted:
    /// `{"_":{"#":soul,">":{k:state}},k:v}`.
    pub fn push_json(&self, soul: &str, out: &mut String) {
        out.push('{');
        let mut first = true;
        let mut meta_done = false;
        let push_meta = |out: &mut String| {
            out.push_str("\"_\":{\"#\":");
            jstext::push_string(out, soul);
            out.push_str(",\">\":{");
            for (i, (k, p)) in self.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                jstext::push_string(out, k);
                out.push(':');
                jstext::push_number(out, p.state);
            }
            out.push_str("}}");
        };
        for (k, p) in self.iter() {
            if !meta_done && k > "_" {
                if !first {
                    out.push(',');
                }
                push_meta(out);
                meta_done = true;
                first = false;
            }
            if !first {
                out.push(',');
            }
            first = false;
            jstext::push_string(out, k);
            out.push(':');
            p.value.push_json(out);
        }
        if !meta_done {
            if !first {
                out.push(',');
            }
            push_meta(out);
        }
        out.push('}');
    }

    /// The node as `serde_json` data, with Gun's `_` metadata, as a Gun.js
    /// callback receives it.
    pub fn to_json(&self, soul: &str) -> serde_json::Value {
        let mut states = serde_json::Map::new();
        let mut obj = serde_json::Map::new();
        for (k, p) in self.iter() {
            states.insert(k.to_string(), Value::Number(p.state).to_json());
            obj.insert(k.to_string(), p.value.to_json());
        }
        let mut meta = serde_json::Map::new();
        meta.insert("#".into(), serde_json::Value::String(soul.to_owned()));
        meta.insert(">".into(), serde_json::Value::Object(states));
        obj.insert("_".into(), serde_json::Value::Object(meta));
        serde_json::Value::Object(obj)
    }
}

/// A graph, or a graph diff: nodes by soul.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    nodes: Nodes,
}

/// What a merge did.
#[derive(Debug, Default)]
pub struct Merged {
    /// The properties that won and were written.
    pub accepted: Graph,
    /// The properties from the future, not written (see [`Decision::Defer`]).
    pub deferred: Graph,
    /// How many properties were older than the stored ones or lost a tie.
    pub dropped: usize,
    /// What the accepted properties replaced: the earlier value and state
    /// of each one that existed (an accepted property absent here was new).
    /// A write the store refuses is undone with it.
    pub prior: Graph,
}

impl Graph {
    /// An empty graph.
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

    /// Sets a property without HAM (for building diffs).
    pub fn insert(&mut self, soul: &str, key: &str, value: Value, state: State) {
        self.node_mut(soul).insert(key, value, state);
    }

    /// The node at `soul`, created empty if missing.
    pub fn node_mut(&mut self, soul: &str) -> &mut Node {
        // One search: a soul of up to 24 bytes is made without allocating.
        self.nodes.entry(soul)
    }

    /// Adds an (even empty) node: used for a soul that exists with no
    /// properties. A soul of up to 24 bytes is held with no allocation.
    pub fn insert_node(&mut self, soul: &str, node: Node) {
        self.nodes.insert(soul.into(), node);
    }

    /// Nodes in soul order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(s, n)| (s.as_str(), n))
    }

    /// Souls in order.
    pub fn souls(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|(s, _)| s.as_str())
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of properties over all nodes.
    pub fn prop_count(&self) -> usize {
        self.nodes.iter().map(|(_, n)| n.len()).sum()
    }

    /// Merges one property by HAM against the local clock `now` (ms).
    pub fn merge_prop(
        &mut self,
        now: f64,
        soul: &str,
        key: &str,
        value: &Value,
        state: State,
    ) -> Decision {
        let current = self.prop(soul, key).map(|p| (p.value, p.state));
        let d = ham::decide(now, value.view(), state, current);
        if d == Decision::Accept {
            self.insert(soul, key, value.clone(), state);
        }
        d
    }

    /// Merges `diff` into this graph by HAM, property by property.
    pub fn merge(&mut self, now: f64, diff: &Self) -> Merged {
        merge_in(self, now, diff)
    }

    /// [`Graph::merge`] of a diff not needed afterwards: a node new to us
    /// is moved into [`Merged::accepted`] and shared with this graph.
    pub fn merge_owned(&mut self, now: f64, diff: Self) -> Merged {
        merge_owned_in(self, now, diff)
    }

    /// Sets `soul.key` back to `prior`, or removes it when `prior` is
    /// `None` (an undo, not a merge: HAM is not consulted).
    pub fn restore(&mut self, soul: &str, key: &str, prior: Option<PropRef<'_>>) {
        restore_in(self, soul, key, prior);
    }

    /// Removes the node at `soul`, returning it.
    pub fn remove_node(&mut self, soul: &str) -> Option<Node> {
        self.nodes.remove(soul)
    }

    /// Removes `soul.key`, returning it.
    pub fn remove_prop(&mut self, soul: &str, key: &str) -> Option<Prop> {
        let node = self.nodes.get_mut(soul)?;
        if node.is_empty() {
            return None;
        }
        node.props_mut().remove(key)
    }

    /// Properties of every node, in soul and key order.
    pub fn props(&self) -> impl Iterator<Item = (&str, &str, PropRef<'_>)> {
        self.nodes
            .iter()
            .flat_map(|(s, n)| n.iter().map(move |(k, p)| (s.as_str(), k, p)))
    }

    /// Appends the graph in Gun's wire form with keys sorted.
    pub fn push_json(&self, out: &mut String) {
        out.push('{');
        for (i, (soul, node)) in self.nodes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            jstext::push_string(out, soul);
            out.push(':');
            node.push_json(soul, out);
        }
        out.push('}');
    }

    /// The graph in Gun's wire form.
    pub fn to_json_text(&self) -> String {
        let mut s = String::new();
        self.push_json(&mut s);
        s
    }

    /// Gun.js's `##` for a reply carrying this graph as its `put`.
    pub fn wire_hash(&self) -> i32 {
        jstext::string_hash(&self.to_json_text())
    }
}

/// Nodes by soul that merge by HAM: a graph, or what a process holds
/// ([`Resident`]). The merge and the undo are written once, over this.
trait Holder {
    /// The node at `soul`, made empty if missing.
    fn entry(&mut self, soul: &str) -> &mut Node;
    /// The node at `soul`, if held.
    fn held(&mut self, soul: &str) -> Option<&mut Node>;
}

impl Holder for Graph {
    fn entry(&mut self, soul: &str) -> &mut Node {
        self.nodes.entry(soul)
    }

    fn held(&mut self, soul: &str) -> Option<&mut Node> {
        self.nodes.get_mut(soul)
    }
}

/// See [`Graph::merge`].
fn merge_in(to: &mut impl Holder, now: f64, diff: &Graph) -> Merged {
    let mut out = Merged::default();
    for (soul, node) in &diff.nodes {
        let mine = to.entry(soul);
        if merge_node(now, soul, mine, node, &mut out) {
            *mine = node.clone();
            out.accepted.nodes.insert(soul.clone(), node.clone());
        }
    }
    out
}

/// See [`Graph::merge_owned`].
fn merge_owned_in(to: &mut impl Holder, now: f64, diff: Graph) -> Merged {
    let mut out = Merged::default();
    for (soul, node) in diff.nodes {
        let mine = to.entry(&soul);
        if merge_node(now, &soul, mine, &node, &mut out) {
            *mine = node.clone();
            out.accepted.nodes.insert(soul, node);
        }
    }
    out
}

/// See [`Graph::restore`].
fn restore_in(to: &mut impl Holder, soul: &str, key: &str, prior: Option<PropRef<'_>>) {
    match prior {
        Some(p) => to.entry(soul).set(key, p),
        None => {
            if let Some(node) = to.held(soul)
                && !node.is_empty()
            {
                node.props_mut().remove(key);
            }
        }
    }
}

/// Merges `node` into `mine` (the node at `soul`) by HAM, property by
/// property, into `out`; or, when `mine` is empty and all of `node`'s
/// properties win (none from the future), merges nothing and says to take
/// `node` whole (shared, with no look-up per property): `true` then, unless
/// `node` is empty too.
fn merge_node(now: f64, soul: &Soul, mine: &mut Node, node: &Node, out: &mut Merged) -> bool {
    if mine.is_empty()
        && node
            .props()
            .values()
            .all(|p| ham::decide(now, p.value, p.state, None) == Decision::Accept)
    {
        return !node.is_empty();
    }
    let mut accepted = Props::with_capacity(node.len());
    // Updates of held properties keep what they replace.
    let mut prior = if mine.is_empty() {
        Props::EMPTY
    } else {
        Props::with_capacity(node.len())
    };
    let mut deferred = Props::EMPTY;
    let held = mine.props_mut();
    for (key, p) in node.iter() {
        let decide = |held: Option<PropRef<'_>>| {
            ham::decide(now, p.value, p.state, held.map(|c| (c.value, c.state)))
        };
        match held.set_if(key, p, &mut prior, decide, Decision::Accept) {
            Decision::Accept => accepted.set(key, p),
            Decision::Defer => deferred.set(key, p),
            Decision::Historical | Decision::Lose => out.dropped += 1,
        }
    }
    let [accepted, deferred, prior] = [accepted, deferred, prior].map(Node::of);
    for (graph, part) in [
        (&mut out.accepted, accepted),
        (&mut out.deferred, deferred),
        (&mut out.prior, prior),
    ] {
        if !part.is_empty() {
            graph.nodes.insert(soul.clone(), part);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_sorts_keys_with_meta_in_place() {
        let mut g = Graph::new();
        g.insert(
            "user/alice",
            "name",
            Value::String("Alice".into()),
            1_700_000_000_000.0,
        );
        g.insert(
            "user/alice",
            "age",
            Value::Number(30.0),
            1_700_000_000_000.0,
        );
        let text = g.to_json_text();
        assert_eq!(
            text,
            r##"{"user/alice":{"_":{"#":"user/alice",">":{"age":1700000000000,"name":1700000000000}},"age":30,"name":"Alice"}}"##
        );
        // The `##` a Gun.js relay sent with this reply (docs/PROTOCOL.md §9, g1).
        assert_eq!(g.wire_hash(), -1_127_191_897);
    }

    #[test]
    fn longest_key_packed_and_large() {
        let mut n = Node::new();
        assert_eq!(n.longest_key(), 0);
        n.insert("abc", Value::Null, 1.0);
        n.insert("a", Value::String("a long value".into()), 1.0);
        assert_eq!(n.longest_key(), 3);
        for i in 0..40 {
            n.insert(format!("k{i}"), Value::Null, 1.0);
        }
        n.insert("the longest key", Value::Null, 1.0);
        assert_eq!(n.longest_key(), 15);
    }

    #[test]
    fn keys_before_underscore_come_first() {
        let mut g = Graph::new();
        g.insert("s", "A", Value::Bool(true), 1.0);
        g.insert("s", "b", Value::Null, 2.0);
        assert_eq!(
            g.to_json_text(),
            r##"{"s":{"A":true,"_":{"#":"s",">":{"A":1,"b":2}},"b":null}}"##
        );
    }
}
