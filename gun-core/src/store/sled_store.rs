//! The sled store: `soul ESC key` → `{":": value, ">": state}` (radisk's leaf
//! shape) in an embedded sled database.

use std::path::Path;

use gun_proto::{Graph, Store, StoreError, StoreQuery};

const ESC: u8 = 0x1b;

/// An embedded sled database. Each write batch is applied atomically and
/// flushed before `write` returns.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
}

impl SledStore {
    /// Opens (creating) the database at `path`.
    ///
    /// A database this process has just closed may still be locked for a
    /// moment (sled releases its file lock from a background thread), so a
    /// lock conflict is retried for up to two seconds before it is an error.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            match sled::Config::new()
                .path(path)
                .cache_capacity(64 << 20)
                .open()
            {
                Ok(db) => {
                    warn_if_foreign(&db, path);
                    return Ok(Self { db });
                }
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => {
                    return Err(StoreError::with_source(
                        format!("{}: {e}", path.display()),
                        e,
                    ));
                }
            }
        }
    }

    fn scan(&self, prefix: &[u8], query: &StoreQuery, out: &mut Graph) -> Result<(), StoreError> {
        for item in self.db.scan_prefix(prefix) {
            let (k, v) = item.map_err(|e| StoreError::with_source(e.to_string(), e))?;
            let Some(split) = k.iter().position(|b| *b == ESC) else {
                continue;
            };
            let (soul, key) = (
                String::from_utf8_lossy(&k[..split]),
                String::from_utf8_lossy(&k[split + 1..]),
            );
            if !query.soul.matches(&soul) {
                continue;
            }
            let what = format!("entry {soul}.{key}");
            let leaf: serde_json::Value = serde_json::from_slice(&v)
                .map_err(|e| StoreError::with_source(format!("corrupt {what}: {e}"), e))?;
            let state = leaf.get(">").and_then(serde_json::Value::as_f64);
            let value = leaf.get(":").map(gun_proto::Value::from_json);
            match (state, value) {
                (Some(state), Some(Ok(value))) => out.insert(&soul, &key, value, state),
                _ => return Err(StoreError::new(format!("corrupt {what}"))),
            }
        }
        Ok(())
    }
}

/// Our keys are `soul ESC key`; the original Rust port (gun 1.0.4) keyed
/// whole nodes by soul. Its databases are not read: say so, not silently
/// serve nothing.
fn warn_if_foreign(db: &sled::Db, path: &Path) {
    if let Some(Ok((k, _))) = db.iter().next()
        && !k.contains(&ESC)
    {
        tracing::warn!(
            path = %path.display(),
            "this sled database was not written by gun-rs (perhaps by the original port, gun 1.0.4); its entries are not read"
        );
    }
}

impl Store for SledStore {
    fn read(&mut self, query: &StoreQuery) -> Result<Graph, StoreError> {
        let mut out = Graph::new();
        match query.soul.as_exact() {
            Some(soul) => {
                let mut prefix = soul.as_bytes().to_vec();
                prefix.push(ESC);
                self.scan(&prefix, query, &mut out)?;
            }
            None => {
                let prefix = query
                    .soul
                    .prefix
                    .as_deref()
                    .unwrap_or("")
                    .as_bytes()
                    .to_vec();
                self.scan(&prefix, query, &mut out)?;
            }
        }
        Ok(out)
    }

    fn write(&mut self, batch: &Graph) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut b = sled::Batch::default();
        for (soul, node) in batch.iter() {
            if soul.as_bytes().contains(&ESC) {
                return Err(StoreError::new(format!(
                    "soul {soul:?} contains ESC (0x1B), which the sled store cannot key"
                )));
            }
            for (key, p) in node.iter() {
                let mut k = Vec::with_capacity(soul.len() + key.len() + 1);
                k.extend_from_slice(soul.as_bytes());
                k.push(ESC);
                k.extend_from_slice(key.as_bytes());
                let mut v = String::new();
                p.push_leaf_json(&mut v);
                b.insert(k, v.into_bytes());
            }
        }
        self.db
            .apply_batch(b)
            .map_err(|e| StoreError::with_source(e.to_string(), e))?;
        self.db
            .flush()
            .map_err(|e| StoreError::with_source(e.to_string(), e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gun_proto::Value;
    use gun_proto::lex::Lex;

    #[test]
    fn writes_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let mut s = SledStore::open(dir.path()).expect("open");
            let mut b = Graph::new();
            b.insert("a", "x", Value::String("1".into()), 1_795_541_784_376.001);
            b.insert("ab", "y", Value::Link("a".into()), 2.0);
            b.insert("b", "z", Value::Null, 3.0);
            s.write(&b).expect("write");
        }
        let mut s = SledStore::open(dir.path()).expect("reopen");
        let a = s
            .read(&StoreQuery {
                soul: Lex::exact("a"),
            })
            .expect("read");
        assert_eq!(
            a.souls().collect::<Vec<_>>(),
            ["a"],
            "exact soul, not a prefix of others"
        );
        assert_eq!(
            a.prop("a", "x").map(|p| p.state),
            Some(1_795_541_784_376.001)
        );
        let pre = s
            .read(&StoreQuery {
                soul: Lex {
                    prefix: Some("a".into()),
                    ..Lex::default()
                },
            })
            .expect("read");
        assert_eq!(pre.souls().collect::<Vec<_>>(), ["a", "ab"]);
    }

    #[test]
    fn corrupt_entries_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = SledStore::open(dir.path()).expect("open");
        s.db.insert(b"bad\x1bk", b"{nope".to_vec()).expect("insert");
        let err = s
            .read(&StoreQuery {
                soul: Lex::exact("bad"),
            })
            .unwrap_err();
        assert!(err.message().contains("bad.k"), "{err}");
    }
}
