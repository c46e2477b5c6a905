//! Moving a sled store into the key-value layout when the store opens.
//!
//! Before redb became the default, a relay's `./radata` was a sled database.
//! A key-value store opened in a directory that holds one copies every
//! property across (in chunks, each applied, then one durable commit),
//! marks itself migrated, and says so in a log line. The sled files are left
//! where they are (delete them once satisfied, or keep running `--store
//! sled` on them): a copy interrupted by a crash is simply made again at
//! the next open, since copying overwrites with the same values.

use std::path::Path;
use std::time::Instant;

use gun_proto::{Graph, Store, StoreError};

use super::KvStore;
use super::SledStore;
use super::kv::Kv;

/// The meta entry that says the sled store beside was copied in.
const MIGRATED: &str = "migrated-from-sled";
/// Properties copied per applied chunk.
const CHUNK: usize = 10_000;

/// Whether `path` holds a sled database.
fn holds_sled(path: &Path) -> bool {
    path.join("conf").is_file() && path.join("db").is_file()
}

/// Copies the sled store in `path`, if there is one not yet copied, into `store`.
pub(crate) fn sled_beside<K: Kv>(path: &Path, store: &mut KvStore<K>) -> Result<(), StoreError> {
    if !holds_sled(path) {
        return Ok(());
    }
    if store.meta(MIGRATED)?.is_some() {
        tracing::info!(
            path = %path.display(),
            "the sled files here were copied into the {} store before and are not read; delete them once satisfied",
            K::NAME
        );
        return Ok(());
    }
    let started = Instant::now();
    let sled = SledStore::open(path)?;
    let mut chunk = Graph::new();
    let mut in_chunk = 0;
    let mut copied = 0usize;
    sled.export(&mut |soul, key, prop| {
        chunk.insert(soul, key, prop.value, prop.state);
        in_chunk += 1;
        if in_chunk == CHUNK {
            store.apply(&[std::mem::take(&mut chunk)])?;
            copied += in_chunk;
            in_chunk = 0;
        }
        Ok(())
    })?;
    store.apply(&[chunk])?;
    copied += in_chunk;
    drop(sled);
    store.set_meta(MIGRATED, b"sled 0.34")?;
    store.sync()?;
    tracing::warn!(
        path = %path.display(),
        properties = copied,
        seconds = started.elapsed().as_secs_f64(),
        "copied the sled store here into the {} store (the new default); the sled files are left in place and no longer read: delete them once satisfied, or run with --store sled to keep using them",
        K::NAME
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gun_proto::{StoreQuery, Value};

    fn migrates_into<K: Kv>() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let mut sled = SledStore::open(dir.path()).expect("sled");
            let mut g = Graph::new();
            for i in 0..(CHUNK + 5) {
                g.insert(
                    &format!("n/{}", i / 10),
                    &format!("k{}", i % 10),
                    Value::Number(i as f64),
                    1.0,
                );
            }
            g.insert("user/alice", "name", Value::String("Alice".into()), 2.0);
            sled.write(&[g]).expect("write");
        }
        let mut store = KvStore::<K>::open(dir.path()).expect("open");
        sled_beside(dir.path(), &mut store).expect("migrate");
        let g = store.read(&StoreQuery::soul("user/alice")).expect("read");
        assert_eq!(
            g.prop("user/alice", "name").map(|p| p.value.to_value()),
            Some(Value::String("Alice".into()))
        );
        assert_eq!(
            store.souls().expect("souls").len(),
            (CHUNK + 5).div_ceil(10) + 1
        );
        // A write after the copy is not undone by a second open.
        let mut later = Graph::new();
        later.insert("user/alice", "name", Value::String("Alicia".into()), 3.0);
        store.write(&[later]).expect("write");
        drop(store);
        let mut store = KvStore::<K>::open(dir.path()).expect("reopen");
        sled_beside(dir.path(), &mut store).expect("no second copy");
        let g = store.read(&StoreQuery::soul("user/alice")).expect("read");
        assert_eq!(
            g.prop("user/alice", "name").map(|p| p.value.to_value()),
            Some(Value::String("Alicia".into()))
        );
    }

    #[cfg(feature = "redb")]
    #[test]
    fn a_sled_store_is_copied_into_redb() {
        migrates_into::<super::super::kv::RedbKv>();
    }

    #[cfg(feature = "fjall")]
    #[test]
    fn a_sled_store_is_copied_into_fjall() {
        migrates_into::<super::super::kv::FjallKv>();
    }
}
