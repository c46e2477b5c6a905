//! Disk stores shared by every driver: [`KvStore`] on redb (the default),
//! fjall or sled; the sled store of the layout before it ([`SledStore`]);
//! and [`FileStore`].
//!
//! All implement [`gun_proto::Store`]. Flush policy: `write` returns only
//! after the batch is on disk (file: written, fsynced and renamed into place,
//! directory fsynced; the databases: applied, then synced). The databases
//! also split the two: the driver applies each turn's batch on its thread
//! and syncs on a commit thread of its own (one sync for every batch applied
//! meanwhile). Either way the engine acks puts only once their batch is on
//! disk, so an acked write survives a crash.

mod file;
#[cfg(any(feature = "sled", feature = "redb", feature = "fjall"))]
mod key;
#[cfg(any(feature = "sled", feature = "redb", feature = "fjall"))]
pub mod kv;
#[cfg(any(feature = "sled", feature = "redb", feature = "fjall"))]
mod kv_store;
#[cfg(all(feature = "sled", any(feature = "redb", feature = "fjall")))]
mod migrate;
pub mod radisk;
#[cfg(any(feature = "sled", feature = "redb", feature = "fjall"))]
mod record;
#[cfg(feature = "sled")]
mod sled_store;
#[cfg(any(feature = "sled", feature = "redb", feature = "fjall"))]
mod tally;

/// Crash tests: a test that runs itself again as a child process, which
/// writes to a store and aborts; the parent then opens what it left.
#[cfg(all(test, any(feature = "sled", feature = "redb", feature = "fjall")))]
pub(crate) mod crash {
    use std::path::Path;

    /// Runs test `name` (this test binary, the test alone) as a child with
    /// `var` set to `dir`, its output dropped, and asserts that it aborted.
    pub(crate) fn run_child(name: &str, var: &str, dir: &Path) {
        let status = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args([name, "--exact", "--test-threads=1"])
            .env(var, dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("child");
        assert!(!status.success(), "the child aborts");
    }
}

pub use file::FileStore;
#[cfg(any(feature = "sled", feature = "redb", feature = "fjall"))]
pub use kv_store::KvStore;
#[cfg(feature = "sled")]
pub use sled_store::SledStore;
#[cfg(any(feature = "sled", feature = "redb", feature = "fjall"))]
pub use tally::{Dropped, Tally};

use gun_proto::{Graph, MemoryStore, Store, StoreError};

use crate::options::{GunOptions, StoreKind};

/// A store the driver thread can own.
pub type BoxStore = Box<dyn Store + Send>;

/// Opens the store the options ask for; `None` when they ask for none.
pub fn open(opts: &GunOptions) -> Result<Option<BoxStore>, StoreError> {
    let Some((kind, path)) = opts.disk_store() else {
        return Ok(None);
    };
    open_kind(kind, &path).map(Some)
}

/// Opens (creating) a store of `kind` at `path`.
pub fn open_kind(kind: StoreKind, path: &std::path::Path) -> Result<BoxStore, StoreError> {
    Ok(match kind {
        StoreKind::File => Box::new(FileStore::open(path)?),
        #[cfg(feature = "sled")]
        StoreKind::Sled => Box::new(SledStore::open(path)?),
        #[cfg(not(feature = "sled"))]
        StoreKind::Sled => return Err(missing("sled")),
        #[cfg(feature = "redb")]
        StoreKind::Redb => Box::new(open_kv::<kv::RedbKv>(path)?),
        #[cfg(not(feature = "redb"))]
        StoreKind::Redb => return Err(missing("redb")),
        #[cfg(feature = "fjall")]
        StoreKind::Fjall => Box::new(open_kv::<kv::FjallKv>(path)?),
        #[cfg(not(feature = "fjall"))]
        StoreKind::Fjall => return Err(missing("fjall")),
    })
}

/// Opens a key-value store, copying in a sled store found in its directory.
#[cfg(any(feature = "redb", feature = "fjall"))]
fn open_kv<K: kv::Kv>(path: &std::path::Path) -> Result<KvStore<K>, StoreError> {
    let store = KvStore::<K>::open(path)?;
    #[cfg(feature = "sled")]
    let store = {
        let mut store = store;
        migrate::sled_beside(path, &mut store)?;
        store
    };
    Ok(store)
}

/// The error for a store this build leaves out.
#[cfg(not(all(feature = "sled", feature = "redb", feature = "fjall")))]
fn missing(feature: &str) -> StoreError {
    StoreError::new(format!("built without the `{feature}` feature"))
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
