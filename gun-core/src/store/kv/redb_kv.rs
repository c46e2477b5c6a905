//! redb under the key-value layout.
//!
//! Applied batches are commits without durability; the syncer's empty
//! commit with [`Durability::Immediate`] makes them all durable at once.
//! Quick repair is on, so a database a crash left open is reopened without
//! walking every page.

use std::path::Path;
use std::sync::Arc;

use gun_proto::{StoreError, store::Syncer};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Kv, Visit, fail};

const TABLE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("gun");
/// The database file inside the store's directory.
const FILE: &str = "gun.redb";

/// A redb database (one table).
#[derive(Clone)]
pub struct RedbKv {
    db: Arc<Database>,
}

impl std::fmt::Debug for RedbKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbKv").finish_non_exhaustive()
    }
}

/// One commit: durable or not.
fn commit(db: &Database, durable: bool, puts: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StoreError> {
    let mut tx = db.begin_write().map_err(|e| fail("redb begin", e))?;
    tx.set_quick_repair(true);
    let durability = if durable {
        Durability::Immediate
    } else {
        Durability::None
    };
    tx.set_durability(durability)
        .map_err(|e| fail("redb durability", e))?;
    {
        let mut table = tx.open_table(TABLE).map_err(|e| fail("redb table", e))?;
        for (k, v) in &puts {
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
        commit(&db, true, Vec::new())?;
        Ok(Self { db: Arc::new(db) })
    }

    fn scan(
        &self,
        prefix: &[u8],
        each: &mut dyn FnMut(&[u8], &[u8]) -> Visit,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_read().map_err(|e| fail("redb read", e))?;
        let table = tx.open_table(TABLE).map_err(|e| fail("redb table", e))?;
        let range = table.range(prefix..).map_err(|e| fail("redb scan", e))?;
        for item in range {
            let (k, v) = item.map_err(|e| fail("redb scan", e))?;
            if !k.value().starts_with(prefix) || !each(k.value(), v.value())? {
                break;
            }
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let tx = self.db.begin_read().map_err(|e| fail("redb read", e))?;
        let table = tx.open_table(TABLE).map_err(|e| fail("redb table", e))?;
        let v = table.get(key).map_err(|e| fail("redb get", e))?;
        Ok(v.map(|v| v.value().to_vec()))
    }

    fn apply(&mut self, puts: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StoreError> {
        commit(&self.db, false, puts)
    }

    fn syncer(&self) -> Syncer {
        let db = Arc::clone(&self.db);
        Box::new(move || commit(&db, true, Vec::new()))
    }
}
