//! fjall (an LSM tree) under the key-value layout.
//!
//! Applied batches go to fjall's journal without a sync; the syncer's
//! `persist` fdatasyncs the journal, covering every batch before it. On
//! open, fjall replays only the journal's unflushed tail and drops a torn
//! last batch.

use std::path::Path;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use gun_proto::{StoreError, store::Syncer};

use super::{Kv, Visit, fail};

/// A fjall database (one keyspace).
#[derive(Clone)]
pub struct FjallKv {
    db: Database,
    items: Keyspace,
}

impl std::fmt::Debug for FjallKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallKv").finish_non_exhaustive()
    }
}

impl Kv for FjallKv {
    const NAME: &'static str = "fjall";

    fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::builder(path)
            .cache_size(64 << 20)
            .open()
            .map_err(|e| fail(&path.display().to_string(), e))?;
        let items = db
            .keyspace("gun", KeyspaceCreateOptions::default)
            .map_err(|e| fail("fjall keyspace", e))?;
        Ok(Self { db, items })
    }

    fn scan(
        &self,
        prefix: &[u8],
        each: &mut dyn FnMut(&[u8], &[u8]) -> Visit,
    ) -> Result<(), StoreError> {
        for item in self.items.prefix(prefix) {
            let (k, v) = item.into_inner().map_err(|e| fail("fjall scan", e))?;
            if !each(&k, &v)? {
                break;
            }
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let v = self.items.get(key).map_err(|e| fail("fjall get", e))?;
        Ok(v.map(|v| v.to_vec()))
    }

    fn apply(&mut self, puts: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StoreError> {
        let mut batch = self.db.batch();
        for (k, v) in puts {
            batch.insert(&self.items, k, v);
        }
        batch.commit().map_err(|e| fail("fjall write", e))
    }

    fn syncer(&self) -> Syncer {
        let db = self.db.clone();
        Box::new(move || {
            db.persist(PersistMode::SyncData)
                .map_err(|e| fail("fjall sync", e))
        })
    }
}
