//! sled 0.34 under the key-value layout.

use std::path::Path;
use std::time::{Duration, Instant};

use gun_proto::{StoreError, store::Syncer};

use super::{Kv, Visit, fail};

/// Opens (creating) the sled database at `path`.
///
/// A database this process has just closed may still be locked for a
/// moment (sled releases its file lock from a background thread), so a
/// lock conflict is retried for up to two seconds before it is an error.
pub(crate) fn open_sled(path: &Path) -> Result<sled::Db, StoreError> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(64 << 20)
            .open()
        {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(fail(&path.display().to_string(), e)),
        }
    }
}

/// A sled database (its default tree).
#[derive(Debug, Clone)]
pub struct SledKv {
    db: sled::Db,
}

impl Kv for SledKv {
    const NAME: &'static str = "sled";

    fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            db: open_sled(path)?,
        })
    }

    fn scan(
        &self,
        prefix: &[u8],
        each: &mut dyn FnMut(&[u8], &[u8]) -> Visit,
    ) -> Result<(), StoreError> {
        for item in self.db.scan_prefix(prefix) {
            let (k, v) = item.map_err(|e| fail("sled scan", e))?;
            if !each(&k, &v)? {
                break;
            }
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let v = self.db.get(key).map_err(|e| fail("sled get", e))?;
        Ok(v.map(|v| v.to_vec()))
    }

    fn apply(&mut self, puts: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, v) in puts {
            batch.insert(k, v);
        }
        self.db
            .apply_batch(batch)
            .map_err(|e| fail("sled write", e))
    }

    fn syncer(&self) -> Syncer {
        let db = self.db.clone();
        Box::new(move || db.flush().map(drop).map_err(|e| fail("sled flush", e)))
    }
}
