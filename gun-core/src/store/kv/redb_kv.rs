//! redb under the key-value layout.
//!
//! redb has one writer at a time, and a durable commit holds it through its
//! fsyncs. So that the driver never waits for one, an applied batch is only
//! staged here, in memory, where reads see it at once; the syncer (on the
//! commit thread) writes everything staged in one durable commit. While that
//! commit runs, reads still see its entries, and new batches stage for the
//! next one (pipelined group commit). A failed commit drops what it carried:
//! the engine then undoes those writes, so nothing serves them.
//!
//! Quick repair is on, so a database a crash left open is reopened without
//! walking every page.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use gun_proto::{StoreError, store::Syncer};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Kv, Visit, fail};

const TABLE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("gun");
/// The database file inside the store's directory.
const FILE: &str = "gun.redb";

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

/// Entries applied but not yet in the database.
#[derive(Default)]
struct Staged {
    /// Applied since the last commit began.
    pending: Entries,
    /// Being committed now.
    committing: Arc<Entries>,
}

impl Staged {
    /// The newest staged value at `key`.
    fn get(&self, key: &[u8]) -> Option<&Vec<u8>> {
        self.pending.get(key).or_else(|| self.committing.get(key))
    }

    /// The staged entries under `prefix`, newest winning, in key order.
    fn under(&self, prefix: &[u8]) -> Entries {
        let range = (Bound::Included(prefix.to_vec()), Bound::Unbounded);
        let mut out: Entries = self
            .committing
            .range::<Vec<u8>, _>(range.clone())
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.extend(
            self.pending
                .range::<Vec<u8>, _>(range)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        out
    }
}

/// A redb database (one table), with what is staged for it.
#[derive(Clone)]
pub struct RedbKv {
    db: Arc<Database>,
    staged: Arc<Mutex<Staged>>,
    /// One durable commit at a time.
    committer: Arc<Mutex<()>>,
}

impl std::fmt::Debug for RedbKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbKv").finish_non_exhaustive()
    }
}

impl RedbKv {
    fn staged(&self) -> std::sync::MutexGuard<'_, Staged> {
        self.staged.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits everything staged, durably.
    fn commit_staged(&self) -> Result<(), StoreError> {
        let _one = self
            .committer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entries = {
            let mut s = self.staged();
            let entries = Arc::new(std::mem::take(&mut s.pending));
            s.committing = entries.clone();
            entries
        };
        let result = write(&self.db, &entries);
        // Committed, or refused: either way no longer staged (the engine
        // undoes a refused batch; memory never serves it).
        self.staged().committing = Arc::default();
        result
    }
}

/// One durable commit of `entries`.
fn write(db: &Database, entries: &Entries) -> Result<(), StoreError> {
    let mut tx = db.begin_write().map_err(|e| fail("redb begin", e))?;
    tx.set_quick_repair(true);
    tx.set_durability(Durability::Immediate)
        .map_err(|e| fail("redb durability", e))?;
    {
        let mut table = tx.open_table(TABLE).map_err(|e| fail("redb table", e))?;
        for (k, v) in entries {
            table
                .insert(k.as_slice(), v.as_slice())
                .map_err(|e| fail("redb write", e))?;
        }
    }
    tx.commit().map_err(|e| fail("redb commit", e))
}

impl Kv for RedbKv {
    const NAME: &'static str = "redb";

    fn open(path: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(path).map_err(|e| fail(&path.display().to_string(), e))?;
        let file = path.join(FILE);
        let db = Database::builder()
            .set_cache_size(64 << 20)
            .create(&file)
            .map_err(|e| fail(&file.display().to_string(), e))?;
        write(&db, &Entries::new())?;
        Ok(Self {
            db: Arc::new(db),
            staged: Arc::default(),
            committer: Arc::default(),
        })
    }

    fn scan(
        &self,
        prefix: &[u8],
        each: &mut dyn FnMut(&[u8], &[u8]) -> Visit,
    ) -> Result<(), StoreError> {
        // What is staged under the prefix, merged in key order with what
        // the database holds; a staged entry replaces the stored one.
        let overlay = self.staged().under(prefix);
        let mut over = overlay.iter().peekable();
        let tx = self.db.begin_read().map_err(|e| fail("redb read", e))?;
        let table = tx.open_table(TABLE).map_err(|e| fail("redb table", e))?;
        let range = table.range(prefix..).map_err(|e| fail("redb scan", e))?;
        for item in range {
            let (k, v) = item.map_err(|e| fail("redb scan", e))?;
            let k = k.value();
            if !k.starts_with(prefix) {
                break;
            }
            while let Some((ok, ov)) = over.next_if(|(ok, _)| ok.as_slice() < k) {
                if !each(ok, ov)? {
                    return Ok(());
                }
            }
            if let Some((ok, ov)) = over.next_if(|(ok, _)| ok.as_slice() == k) {
                if !each(ok, ov)? {
                    return Ok(());
                }
                continue;
            }
            if !each(k, v.value())? {
                return Ok(());
            }
        }
        for (ok, ov) in over {
            if !each(ok, ov)? {
                break;
            }
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(v) = self.staged().get(key) {
            return Ok(Some(v.clone()));
        }
        let tx = self.db.begin_read().map_err(|e| fail("redb read", e))?;
        let table = tx.open_table(TABLE).map_err(|e| fail("redb table", e))?;
        let v = table.get(key).map_err(|e| fail("redb get", e))?;
        Ok(v.map(|v| v.value().to_vec()))
    }

    fn apply(&mut self, puts: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StoreError> {
        self.staged().pending.extend(puts);
        Ok(())
    }

    fn syncer(&self) -> Syncer {
        let kv = self.clone();
        Box::new(move || kv.commit_staged())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(kv: &RedbKv, prefix: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        kv.scan(prefix, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(true)
        })
        .expect("scan");
        out
    }

    #[test]
    fn staged_entries_are_read_before_and_while_they_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut kv = RedbKv::open(dir.path()).expect("open");
        let e = |k: &str, v: &str| (k.as_bytes().to_vec(), v.as_bytes().to_vec());
        kv.apply(vec![e("a1", "old"), e("a3", "stored"), e("b", "x")])
            .expect("apply");
        (kv.syncer())().expect("sync");
        kv.apply(vec![e("a1", "new"), e("a2", "staged"), e("a4", "staged")])
            .expect("apply");
        let want = vec![
            e("a1", "new"),
            e("a2", "staged"),
            e("a3", "stored"),
            e("a4", "staged"),
        ];
        assert_eq!(scan_all(&kv, b"a"), want, "staged entries merged in");
        assert_eq!(kv.get(b"a1").expect("get"), Some(b"new".to_vec()));
        // While a commit runs, its entries are still read.
        {
            let mut s = kv.staged();
            s.committing = Arc::new(std::mem::take(&mut s.pending));
        }
        assert_eq!(scan_all(&kv, b"a"), want, "committing entries merged in");
        let mut first = Vec::new();
        kv.scan(b"a", &mut |k, _| {
            first.push(k.to_vec());
            Ok(first.len() < 2)
        })
        .expect("scan");
        assert_eq!(first, [b"a1".to_vec(), b"a2".to_vec()], "a scan stops");
        {
            let mut s = kv.staged();
            s.pending = std::mem::take(Arc::make_mut(&mut s.committing));
        }
        (kv.syncer())().expect("sync");
        let s = kv.staged();
        assert!(s.pending.is_empty() && s.committing.is_empty());
        drop(s);
        drop(kv);
        let kv = RedbKv::open(dir.path()).expect("reopen");
        assert_eq!(scan_all(&kv, b"a"), want, "all durable");
    }
}
