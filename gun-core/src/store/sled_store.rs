//! The sled store: one entry per property, keyed `escape(soul) 00 00 key`
//! ([`super::key`]: no soul or key can be confused with another), valued
//! `{":": value, ">": state}` (radisk's leaf shape), in the tree `nodes`.
//!
//! Databases written before this layout (`soul ESC key` in sled's default
//! tree) are migrated when opened, with a log line saying so.

use std::path::Path;

use gun_proto::store::Syncer;
use gun_proto::{Graph, Store, StoreError, StoreQuery};

use super::key;

/// The separator of the layout before this one.
const ESC: u8 = 0x1b;
/// The tree the current layout lives in.
const NODES: &str = "nodes";
/// Entries moved per batch while migrating.
const MIGRATE_CHUNK: usize = 10_000;

/// An embedded sled database. Each write batch is applied atomically;
/// `write` flushes before it returns, `apply` leaves the flush to the
/// [`Store::syncer`] (a driver's commit thread).
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    nodes: sled::Tree,
}

fn sled_err(e: sled::Error) -> StoreError {
    StoreError::with_source(e.to_string(), e)
}

impl SledStore {
    /// Opens (creating) the database at `path`, migrating an older layout.
    ///
    /// A database this process has just closed may still be locked for a
    /// moment (sled releases its file lock from a background thread), so a
    /// lock conflict is retried for up to two seconds before it is an error.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = super::kv::open_sled(path)?;
        let nodes = db.open_tree(NODES).map_err(sled_err)?;
        let store = Self { db, nodes };
        store.migrate(path)?;
        Ok(store)
    }

    /// Moves entries of the layout before this one (`soul ESC key` in the
    /// default tree) into `nodes`, then removes them. Safe to interrupt: the
    /// old entries go only after the new ones are flushed, and copying
    /// again gives the same result.
    fn migrate(&self, path: &Path) -> Result<(), StoreError> {
        let mut moved = 0usize;
        let mut foreign = 0usize;
        let mut batch = sled::Batch::default();
        let mut old = Vec::new();
        let mut pending = 0;
        for item in self.db.iter() {
            let (k, v) = item.map_err(sled_err)?;
            let Some(split) = k.iter().position(|b| *b == ESC) else {
                foreign += 1;
                continue;
            };
            let (soul, prop) = (
                String::from_utf8_lossy(&k[..split]),
                String::from_utf8_lossy(&k[split + 1..]),
            );
            batch.insert(key::encode(&soul, &prop), v);
            old.push(k);
            pending += 1;
            if pending == MIGRATE_CHUNK {
                self.nodes
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(sled_err)?;
                moved += pending;
                pending = 0;
            }
        }
        if pending > 0 {
            self.nodes.apply_batch(batch).map_err(sled_err)?;
            moved += pending;
        }
        if moved > 0 {
            self.db.flush().map_err(sled_err)?;
            let mut gone = sled::Batch::default();
            for k in old {
                gone.remove(k);
            }
            self.db.apply_batch(gone).map_err(sled_err)?;
            self.db.flush().map_err(sled_err)?;
            tracing::warn!(
                path = %path.display(),
                entries = moved,
                "migrated the store to the escaped key layout (souls and keys may now hold any bytes)"
            );
        }
        // The original Rust port (gun 1.0.4) keyed whole nodes by soul in the
        // default tree. Its databases are not read: say so, not silently
        // serve nothing.
        if foreign > 0 {
            tracing::warn!(
                path = %path.display(),
                entries = foreign,
                "this sled database holds entries not written by gun-rs (perhaps by the original port, gun 1.0.4); they are not read"
            );
        }
        Ok(())
    }

    /// Reads the nodes under `prefix` that `query` selects, up to its page.
    fn scan(&self, prefix: &[u8], query: &StoreQuery, out: &mut Graph) -> Result<(), StoreError> {
        let mut page = query.counter();
        for item in self.nodes.scan_prefix(prefix) {
            let (k, v) = item.map_err(sled_err)?;
            let Some((soul, key)) = key::decode(&k) else {
                return Err(StoreError::new(format!(
                    "corrupt store key {:?}",
                    String::from_utf8_lossy(&k)
                )));
            };
            if !query.soul.matches(&soul) {
                continue;
            }
            let prop = leaf(&soul, &key, &v)?;
            if !page.take(&key, prop.view()) {
                break;
            }
            out.insert(&soul, &key, prop.value, prop.state);
        }
        Ok(())
    }
}

/// The property an entry's value holds.
fn leaf(soul: &str, key: &str, v: &[u8]) -> Result<gun_proto::Prop, StoreError> {
    let what = format!("entry {soul}.{key}");
    let leaf: serde_json::Value = serde_json::from_slice(v)
        .map_err(|e| StoreError::with_source(format!("corrupt {what}: {e}"), e))?;
    let state = leaf.get(">").and_then(serde_json::Value::as_f64);
    let value = leaf.get(":").map(gun_proto::Value::from_json);
    let (Some(state), Some(Ok(value))) = (state, value) else {
        return Err(StoreError::new(format!("corrupt {what}")));
    };
    Ok(gun_proto::Prop { value, state })
}

impl SledStore {
    /// Calls `each` with every stored property, in soul and key order,
    /// stopping at the first error (a store being moved elsewhere).
    pub fn export(
        &self,
        each: &mut dyn FnMut(&str, &str, gun_proto::Prop) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for item in self.nodes.iter() {
            let (k, v) = item.map_err(sled_err)?;
            let Some((soul, key)) = key::decode(&k) else {
                return Err(StoreError::new(format!(
                    "corrupt store key {:?}",
                    String::from_utf8_lossy(&k)
                )));
            };
            let prop = leaf(&soul, &key, &v)?;
            each(&soul, &key, prop)?;
        }
        Ok(())
    }
}

impl Store for SledStore {
    fn read(&mut self, query: &StoreQuery) -> Result<Graph, StoreError> {
        let mut out = Graph::new();
        if let (Some(soul), Some(keys)) = (query.soul.as_exact(), &query.keys) {
            // A put's properties: one lookup each, not the whole node (a
            // scan per put made puts into a big node quadratic).
            for name in keys {
                if let Some(v) = self.nodes.get(key::encode(soul, name)).map_err(sled_err)? {
                    let prop = leaf(soul, name, &v)?;
                    out.insert(soul, name, prop.value, prop.state);
                }
            }
            return Ok(out);
        }
        let prefix = match query.soul.as_exact() {
            Some(soul) => key::node_prefix(soul),
            None => key::souls_prefix(query.soul.prefix.as_deref().unwrap_or("")),
        };
        self.scan(&prefix, query, &mut out)?;
        Ok(out)
    }

    fn write(&mut self, batch: &[Graph]) -> Result<(), StoreError> {
        self.apply(batch)?;
        self.db.flush().map_err(sled_err)?;
        Ok(())
    }

    fn apply(&mut self, batch: &[Graph]) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        let mut any = false;
        for part in batch {
            for (soul, node) in part.iter() {
                for (prop, p) in node.iter() {
                    let mut v = String::new();
                    p.push_leaf_json(&mut v);
                    b.insert(key::encode(soul, prop), v.into_bytes());
                    any = true;
                }
            }
        }
        if any {
            self.nodes.apply_batch(b).map_err(sled_err)?;
        }
        Ok(())
    }

    fn syncer(&self) -> Option<Syncer> {
        let db = self.db.clone();
        Some(Box::new(move || db.flush().map(drop).map_err(sled_err)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gun_proto::Value;
    use gun_proto::lex::Lex;

    fn prefix(p: &str, max: Option<gun_proto::store::Page>) -> StoreQuery {
        let lex = Lex {
            prefix: Some(p.into()),
            ..Lex::default()
        };
        StoreQuery::scan(lex, max)
    }

    #[test]
    fn writes_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let mut s = SledStore::open(dir.path()).expect("open");
            let mut b = Graph::new();
            b.insert("a", "x", Value::String("1".into()), 1_795_541_784_376.001);
            b.insert("ab", "y", Value::Link("a".into()), 2.0);
            b.insert("b", "z", Value::Null, 3.0);
            s.write(&[b]).expect("write");
        }
        let mut s = SledStore::open(dir.path()).expect("reopen");
        let a = s.read(&StoreQuery::soul("a")).expect("read");
        assert_eq!(
            a.souls().collect::<Vec<_>>(),
            ["a"],
            "exact soul, not a prefix of others"
        );
        assert_eq!(
            a.prop("a", "x").map(|p| p.state),
            Some(1_795_541_784_376.001)
        );
        let pre = s.read(&prefix("a", None)).expect("read");
        assert_eq!(pre.souls().collect::<Vec<_>>(), ["a", "ab"]);
        let two = gun_proto::store::Page {
            props: 2,
            bytes: 1000,
        };
        let page = s.read(&prefix("", Some(two))).expect("read");
        assert_eq!(page.prop_count(), 2, "a page");
        let some = StoreQuery::keys("a", vec!["x".into(), "absent".into()]);
        let some = s.read(&some).expect("read");
        assert_eq!(some.prop_count(), 1, "only the keys asked, those there");
        assert_eq!(
            some.prop("a", "x").map(|p| p.state),
            Some(1_795_541_784_376.001)
        );
    }

    #[test]
    fn any_bytes_in_souls_and_keys_are_stored_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pairs = [
            ("x\u{1b}y", "k"),
            ("x", "\u{1b}y\u{1b}k"),
            ("n\u{0}", "k"),
            ("n", "\u{0}k"),
            ("😀", "\u{0}"),
        ];
        {
            let mut s = SledStore::open(dir.path()).expect("open");
            let parts: Vec<Graph> = pairs
                .iter()
                .enumerate()
                .map(|(i, (soul, key))| {
                    let mut g = Graph::new();
                    g.insert(soul, key, Value::Number(i as f64), 1.0);
                    g
                })
                .collect();
            s.write(&parts).expect("every soul and key can be stored");
        }
        let mut s = SledStore::open(dir.path()).expect("reopen");
        for (i, (soul, key)) in pairs.iter().enumerate() {
            let g = s.read(&StoreQuery::soul(*soul)).expect("read");
            assert_eq!(
                g.prop(soul, key).map(|p| p.value.to_value()),
                Some(Value::Number(i as f64))
            );
            assert_eq!(g.prop_count(), 1, "{soul:?} holds only its own property");
        }
    }

    #[test]
    fn an_old_layout_is_migrated_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let db = sled::open(dir.path()).expect("sled");
            db.insert(b"user/alice\x1bname", br#"{":":"Alice",">":1}"#.to_vec())
                .expect("insert");
            db.insert(b"user/alice\x1bage", br#"{":":30,">":2}"#.to_vec())
                .expect("insert");
            db.insert(b"other\x1bk\x1bwith-esc", br#"{":":true,">":3}"#.to_vec())
                .expect("insert");
            db.flush().expect("flush");
        }
        let mut s = SledStore::open(dir.path()).expect("open migrates");
        let g = s.read(&StoreQuery::soul("user/alice")).expect("read");
        assert_eq!(g.prop("user/alice", "age").map(|p| p.state), Some(2.0));
        assert_eq!(
            g.prop("user/alice", "name").map(|p| p.value.to_value()),
            Some(Value::String("Alice".into()))
        );
        let o = s.read(&StoreQuery::soul("other")).expect("read");
        assert!(
            o.prop("other", "k\u{1b}with-esc").is_some(),
            "the first ESC ends the soul"
        );
        assert_eq!(s.db.len(), 0, "the old entries are gone");
        drop(s);
        let mut s = SledStore::open(dir.path()).expect("reopen");
        assert_eq!(s.read(&prefix("", None)).expect("read").prop_count(), 3);
    }

    #[test]
    fn corrupt_entries_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = SledStore::open(dir.path()).expect("open");
        s.nodes
            .insert(key::encode("bad", "k"), b"{nope".to_vec())
            .expect("insert");
        let err = s.read(&StoreQuery::soul("bad")).unwrap_err();
        assert!(err.message().contains("bad.k"), "{err}");
    }
}
