//! Disk stores shared by every driver: [`FileStore`] and [`SledStore`].
//!
//! Both implement [`gun_proto::Store`]. Flush policy: `write` returns only
//! after the batch is on disk (file: written, fsynced and renamed into place,
//! directory fsynced; sled: `apply_batch` then `flush`). Sled also splits the
//! two: the driver applies each turn's batch on its thread and flushes on a
//! commit thread of its own (one flush for every batch applied meanwhile).
//! Either way the engine acks puts only once their batch is on disk, so an
//! acked write survives a crash.

mod file;
#[cfg(feature = "sled")]
mod key;
pub mod radisk;
#[cfg(feature = "sled")]
mod sled_store;

pub use file::FileStore;
#[cfg(feature = "sled")]
pub use sled_store::SledStore;

use gun_proto::{Graph, MemoryStore, Store, StoreError};

use crate::options::{GunOptions, StoreKind};

/// A store the driver thread can own.
pub type BoxStore = Box<dyn Store + Send>;

/// Opens the store the options ask for; `None` when they ask for none.
pub fn open(opts: &GunOptions) -> Result<Option<BoxStore>, StoreError> {
    let Some((kind, path)) = opts.disk_store() else {
        return Ok(None);
    };
    Ok(Some(match kind {
        StoreKind::File => Box::new(FileStore::open(&path)?),
        #[cfg(feature = "sled")]
        StoreKind::Sled => Box::new(SledStore::open(&path)?),
        #[cfg(not(feature = "sled"))]
        StoreKind::Sled => return Err(StoreError::new("built without the `sled` feature")),
    }))
}

/// A memory store, for instances with no disk: puts are settled in memory.
pub fn memory() -> BoxStore {
    Box::new(MemoryStore::new())
}

/// Reads one node's wire form `{soul: node}` (as the stores keep it),
/// naming `what` in the error.
fn parse_graph(text: &[u8], what: &str) -> Result<Graph, StoreError> {
    let v: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| StoreError::with_source(format!("corrupt {what}: {e}"), e))?;
    gun_proto::wire::parse_put(&v).map_err(|e| StoreError::new(format!("corrupt {what}: {e}")))
}
