//! The graph's protected spaces (SEA, [`crate::sea::space`]) in the engine.
//!
//! On the way in, every message carrying data (a put or a reply) has the
//! spaces' rules applied before anything else is done with it: a value
//! that breaks one refuses the message (a put gets Gun.js's error text as
//! its ack), and the signatures the rest stands on join the message's
//! verification ([`super::Check`]), which the driver runs. Data that
//! touches no protected soul costs one scan of its souls.
//!
//! On the way out, our user's writes into its space are signed
//! ([`crate::sea::space::pack`]) and others' refused unless a certificate
//! comes with them. For the application, a signed value reads as the value
//! it holds ([`view`]).
//!
//! Besides Gun.js's rules, an alias is claimed once: a peer we serve (or
//! our application) cannot add a second user under `~@alias`, so nobody
//! can slip their key into the list where others look a name up. Gun.js
//! lets anyone add one (its aliases are not unique).

use super::{Engine, SeaProof};
use crate::graph::{Graph, Node};
use crate::value::{Value, ValueRef};

/// Whether the rules read all of `soul`'s node, not only the properties a
/// put touches: an alias (`~@alias`), whose other claims decide a new one.
pub(super) fn reads_whole_node(soul: &str) -> bool {
    soul.starts_with("~@") && soul != "~@"
}

/// An alias someone claimed already.
const ALIAS_TAKEN: &str = "Alias already taken.";

impl Engine {
    /// Applies the spaces' rules to data arriving at `now`: drops expired
    /// values from it, and returns the signatures it stands on, or why it
    /// is refused.
    pub(super) fn check_spaces(&self, put: &mut Graph) -> Result<Vec<SeaProof>, &'static str> {
        check(put, self.now.unix_ms)
    }

    /// Whether `diff` claims an alias someone else holds (the souls it
    /// touches are in memory, whole: [`reads_whole_node`]).
    pub(super) fn alias_taken(&self, diff: &Graph) -> Option<&'static str> {
        for (soul, node) in diff.iter() {
            if !reads_whole_node(soul) {
                continue;
            }
            let Some(held) = self.graph.node(soul) else {
                continue;
            };
            let claimed = |k: &str| {
                held.iter()
                    .any(|(h, p)| h != k && p.value.as_link().is_some())
            };
            if node
                .iter()
                .any(|(k, p)| p.value.as_link().is_some() && claimed(k))
            {
                return Some(ALIAS_TAKEN);
            }
        }
        None
    }
}

#[cfg(feature = "sea")]
mod enabled {
    use super::super::{Engine, SeaProof};
    use crate::graph::Graph;
    use crate::sea::space::{self, Space};
    use crate::sea::{Js, Pair};
    use crate::value::ValueRef;

    pub(in crate::engine) use crate::sea::space::EXPIRED;

    pub(super) fn check(put: &mut Graph, now: f64) -> Result<Vec<SeaProof>, &'static str> {
        space::check_put(put, now).map(|c| c.proofs)
    }

    impl Engine {
        /// Signs our writes into our user's space (and, with `cert`, into
        /// the space of the certificate's owner), then applies the
        /// spaces' rules to them as to anyone's: an error names the rule.
        pub(in crate::engine) fn seal_own(
            &self,
            diff: &mut Graph,
            cert: Option<&str>,
        ) -> Result<(), String> {
            let cert = cert.map(Js::parse_lenient);
            let mut sealed = Graph::new();
            for (soul, node) in diff.iter() {
                let Space::User(owner) = Space::of(soul) else {
                    continue;
                };
                let pair = self.user.as_ref().ok_or_else(|| {
                    format!(
                        "{}: writing into a user's space needs a user (log in first)",
                        space::UNVERIFIED
                    )
                })?;
                let mine = owner == pair.pub_key;
                if !mine && cert.is_none() {
                    return Err(format!(
                        "{}: {soul} is another user's space; writing there needs its owner's certificate",
                        space::UNVERIFIED
                    ));
                }
                for (key, p) in node.iter() {
                    let value =
                        if mine && key == "pub" && soul.strip_prefix('~') == Some(owner.as_str()) {
                            p.value.to_value()
                        } else {
                            let c = if mine { None } else { cert.as_ref() };
                            space::pack(soul, key, &p.value.to_value(), p.state, pair, c)
                                .map_err(|e| e.to_string())?
                        };
                    sealed.insert(soul, key, value, p.state);
                }
            }
            for (soul, key, p) in sealed.props() {
                diff.node_mut(soul).set(key, p);
            }
            space::check_put(diff, self.now.unix_ms).map_err(str::to_owned)?;
            Ok(())
        }

        /// Sets our user.
        pub(in crate::engine) fn set_user(&mut self, pair: Option<Pair>) {
            self.user = pair;
        }

        /// The soul for a new set item under `parent`: in our user's space,
        /// `~<pub>/<id>` (as Gun.js's user chains make them), so the item
        /// is protected as its list is.
        pub(in crate::engine) fn item_soul(&self, parent: &str, id: String) -> String {
            match (&self.user, Space::of(parent)) {
                (Some(pair), Space::User(owner)) if owner == pair.pub_key => {
                    format!("~{owner}/{id}")
                }
                _ => id,
            }
        }
    }

    pub(super) fn view(soul: &str, v: ValueRef<'_>) -> Option<crate::value::Value> {
        space::unpack_value(soul, v)
    }

    pub(super) fn view_json(soul: &str, v: ValueRef<'_>) -> Option<serde_json::Value> {
        space::unpack(soul, v).map(|js| js.to_serde())
    }
}

#[cfg(not(feature = "sea"))]
mod enabled {
    use super::super::SeaProof;
    use crate::graph::Graph;
    use crate::value::ValueRef;

    /// Never said without SEA (nothing expires unchecked: it is refused).
    pub(in crate::engine) const EXPIRED: &str = "Expired data.";

    /// Without SEA, nothing in a protected soul can be checked: refused.
    pub(super) fn check(put: &mut Graph, _now: f64) -> Result<Vec<SeaProof>, &'static str> {
        if put
            .souls()
            .any(|s| s.contains(['~', '#']) || s.contains("<?"))
        {
            return Err("This peer cannot check protected souls (built without SEA).");
        }
        Ok(Vec::new())
    }

    impl super::Engine {
        pub(in crate::engine) fn seal_own(
            &self,
            diff: &mut Graph,
            _cert: Option<&str>,
        ) -> Result<(), String> {
            check(diff, 0.0).map(|_| ()).map_err(str::to_owned)
        }

        pub(in crate::engine) fn item_soul(&self, _parent: &str, id: String) -> String {
            id
        }
    }

    pub(super) fn view(_soul: &str, _v: ValueRef<'_>) -> Option<crate::value::Value> {
        None
    }

    pub(super) fn view_json(_soul: &str, _v: ValueRef<'_>) -> Option<serde_json::Value> {
        None
    }
}

pub(super) use enabled::EXPIRED;
use enabled::check;

/// A value as the application sees it: a signed value in a user's space
/// is the value it holds.
pub(super) fn view(soul: &str, v: ValueRef<'_>) -> Value {
    enabled::view(soul, v).unwrap_or_else(|| v.to_value())
}

/// The link at a value, as the application sees it.
pub(super) fn link(soul: &str, v: ValueRef<'_>) -> Option<String> {
    match enabled::view(soul, v) {
        Some(inner) => inner.as_link().map(str::to_owned),
        None => v.as_link().map(str::to_owned),
    }
}

/// A node as `serde_json` data for the application ([`Node::to_json`],
/// signed values unpacked).
pub(super) fn node_json(soul: &str, node: &Node) -> serde_json::Value {
    let mut json = node.to_json(soul);
    if soul.contains('~')
        && let serde_json::Value::Object(obj) = &mut json
    {
        for (k, p) in node.iter() {
            if let Some(v) = enabled::view_json(soul, p.value) {
                obj.insert(k.to_owned(), v);
            }
        }
    }
    json
}
