//! Ordered key-value databases under the graph layout of [`super::KvStore`]:
//! sled, redb and fjall, each behind the same small trait so that one
//! layout (and one set of tests) serves all three and they can be measured
//! against each other (BENCHMARKS.md, "Storage").

#[cfg(feature = "fjall")]
mod fjall_kv;
#[cfg(feature = "redb")]
mod redb_kv;
#[cfg(feature = "sled")]
mod sled_kv;
#[cfg(feature = "redb")]
mod wal;

#[cfg(feature = "fjall")]
pub use fjall_kv::FjallKv;
#[cfg(feature = "redb")]
pub use redb_kv::RedbKv;
#[cfg(feature = "sled")]
pub use sled_kv::SledKv;
#[cfg(feature = "sled")]
pub(crate) use sled_kv::open_sled;

use std::path::Path;

use gun_proto::{StoreError, store::Syncer};

/// What a scan's visitor says: go on, or stop here.
pub type Visit = Result<bool, StoreError>;

/// One ordered map of byte keys to byte values, crash-safe. A clone is
/// another handle on the same database (for reading on another thread).
pub trait Kv: Send + Sized + Clone + 'static {
    /// The database's name, for log lines and errors.
    const NAME: &'static str;

    /// Opens (creating) the database in directory `path`.
    fn open(path: &Path) -> Result<Self, StoreError>;

    /// Calls `each` with every entry whose key starts with `prefix`, in key
    /// order, until it returns `Ok(false)` or an error (which is returned).
    fn scan(
        &self,
        prefix: &[u8],
        each: &mut dyn FnMut(&[u8], &[u8]) -> Visit,
    ) -> Result<(), StoreError>;

    /// The value at `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets every entry of `puts` at once (all or none), visible to reads
    /// when it returns, durable once [`Kv::syncer`]'s handle has run.
    fn apply(&mut self, puts: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StoreError>;

    /// Makes everything applied so far durable, callable from any thread.
    fn syncer(&self) -> Syncer;
}

/// A database's error, with what was being done.
pub(crate) fn fail(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::with_source(format!("{what}: {e}"), e)
}
