//! Map listeners updated item by item: a change to the mapped node, or to
//! nodes its items link to, re-reads only the items it touches. Evaluating
//! the whole node on every put made a burst of N puts into one node cost
//! O(N²); the full evaluation ([`Engine::eval_listener`]) stays for the
//! first time, for store reads coming in, and for a change along the path.

use std::collections::BTreeSet;

use super::Engine;
use super::spaces;
use crate::graph::Graph;
use crate::ids::SubId;
use crate::value::Value;

impl Engine {
    /// Updates map listener `sub` in the items `accepted` touches; `false`
    /// when it must be evaluated in full instead (no view of its node yet,
    /// or the change touches the path leading to the node).
    pub(super) fn update_map(&mut self, sub: SubId, accepted: &Graph) -> bool {
        let Some(view) = self
            .queries
            .listeners
            .get(&sub)
            .and_then(|l| l.view.as_ref())
        else {
            return false;
        };
        if view.hops.iter().any(|h| accepted.node(h).is_some()) {
            return false;
        }
        let target = view.target.clone();
        let mut keys: BTreeSet<String> = accepted
            .node(&target)
            .map(|n| n.iter().map(|(k, _)| k.to_owned()).collect())
            .unwrap_or_default();
        for soul in accepted.souls() {
            if let Some(linking) = view.children.get(soul) {
                keys.extend(linking.iter().cloned());
            }
        }
        if self.graph.node(&target).is_none_or(|n| n.is_empty()) {
            return false;
        }
        // `souls` is what a full evaluation depends on; here the view's
        // links say which children are new or gone.
        let (mut souls, mut asks, mut items, mut links): (Vec<String>, _, _, _) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for key in keys {
            let Some(value) = self
                .graph
                .prop(&target, &key)
                .map(|p| spaces::view(&target, p.value))
            else {
                links.push((key, None));
                continue;
            };
            let child = match &value {
                Value::Link(c) => Some(c.clone()),
                _ => None,
            };
            if let Some(item) = self.map_item(sub, value, &mut souls, &mut asks) {
                items.push((key.clone(), item));
            }
            links.push((key, child));
        }
        let Some(l) = self.queries.listeners.get_mut(&sub) else {
            return true;
        };
        // Children are depended on while some item links to them.
        let (mut added, mut gone) = (Vec::new(), Vec::new());
        if let Some(view) = &mut l.view {
            for (key, child) in &links {
                let (new, old) = view.link(key, child.as_deref());
                added.extend(new.filter(|s| *s != view.target && !view.hops.contains(s)));
                gone.extend(old.filter(|s| *s != view.target && !view.hops.contains(s)));
            }
        }
        if !gone.is_empty() {
            l.deps.retain(|d| !gone.contains(d));
        }
        l.deps.extend(added.iter().cloned());
        let updates = l.changed_items(items);
        let asks = l.first_asks(asks);
        self.queries.unindex(sub, &gone);
        for soul in &added {
            self.queries.index_one(sub, soul);
        }
        self.deliver(sub, asks, updates);
        true
    }
}
