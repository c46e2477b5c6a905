//! redb under the key-value layout, with a write-ahead log.
//!
//! redb has one writer at a time, and a durable commit holds it through its
//! fsyncs. So that the driver never waits for one, an applied batch is only
//! staged here, in memory, where reads see it at once; the syncer (on the
//! commit thread) makes everything staged durable in one go, and while it
//! does, reads still see those entries and new batches stage for the next
//! one (pipelined group commit). A failed commit drops what it carried:
//! the engine then undoes those writes, so nothing serves them.
//!
//! Durable means one record written to the write-ahead log and one
//! `fdatasync` ([`super::wal`]): then the batch is acked. redb takes the
//! logged entries on a thread of its own (the applier), every couple of
//! milliseconds in one commit that does not sync, so neither its work nor
//! its writer lock stands between a batch and its ack; until it has them,
//! reads find them here. Now and then (when the log is due), the applier
//! moves the commits to the log's other file and makes a durable redb
//! commit of everything logged (a checkpoint), meanwhile commits go on in
//! the other file; then the first file starts over. When the store closes,
//! both do. On open, what the log holds is applied again.
//!
//! Quick repair is on for durable commits, so a database a crash left open
//! is reopened without walking every page.

use std::collections::VecDeque;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use gun_proto::{StoreError, store::Syncer};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use tracing::{info, warn};

use super::wal::{Entries, FILES, Replay, Wal, next_epoch};
use super::{Kv, Visit, fail};

const TABLE: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("gun");
/// The database file inside the store's directory.
const FILE: &str = "gun.redb";
/// How long logged entries gather before the applier writes them to redb.
const APPLY_EVERY: Duration = Duration::from_millis(2);
/// How long the applier sleeps with nothing to do (it looks at the log's
/// age then: an idle store still checkpoints).
const IDLE: Duration = Duration::from_millis(100);

/// Entries not yet in the database, newest last.
#[derive(Default)]
struct Staged {
    /// Applied since the last commit began.
    pending: Entries,
    /// Being logged now.
    committing: Arc<Entries>,
    /// Logged (durable), for the applier to write to redb; oldest first.
    logged: VecDeque<Arc<Entries>>,
    /// The log is due for a checkpoint (set by the commit thread).
    due: bool,
    /// Why the applier's last write to redb failed: commits are refused
    /// until one succeeds, so what waits here stays bounded.
    behind: Option<StoreError>,
}

impl Staged {
    /// The newest staged value at `key`.
    fn get(&self, key: &[u8]) -> Option<&Vec<u8>> {
        self.pending
            .get(key)
            .or_else(|| self.committing.get(key))
            .or_else(|| self.logged.iter().rev().find_map(|e| e.get(key)))
    }

    /// The staged entries under `prefix`, newest winning, in key order.
    fn under(&self, prefix: &[u8]) -> Entries {
        let range = (Bound::Included(prefix.to_vec()), Bound::Unbounded);
        let mut out = Entries::new();
        let tiers = self
            .logged
            .iter()
            .map(|e| &**e)
            .chain([&*self.committing, &self.pending]);
        for tier in tiers {
            out.extend(
                tier.range::<Vec<u8>, _>(range.clone())
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
        }
        out
    }
}

/// The log file commits do not write to.
struct Spare {
    wal: Wal,
    /// It holds records that are not durable in redb yet (a checkpoint
    /// moved the commits off it and has not finished): it is not started
    /// over, nor written to, until one does.
    draining: bool,
}

/// The database, its log and what is staged for them: shared by the
/// handles and the applier. The log's lock is also the one commit at a
/// time, and is taken before the staged entries' lock; the spare file's
/// lock (the applier's) before either.
struct Core {
    db: Database,
    /// The log file commits write to.
    wal: Mutex<Wal>,
    spare: Mutex<Spare>,
    staged: Mutex<Staged>,
    /// Wakes the applier: something was logged, or the store is closing.
    logged: Condvar,
    /// The store is closing: the applier stops.
    closing: AtomicBool,
}

impl Core {
    fn wal(&self) -> MutexGuard<'_, Wal> {
        self.wal.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn staged(&self) -> MutexGuard<'_, Staged> {
        self.staged.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn spare(&self) -> MutexGuard<'_, Spare> {
        self.spare.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes everything staged durable: logged and synced. The applier
    /// writes it to redb.
    fn commit_staged(&self) -> Result<(), StoreError> {
        let mut wal = self.wal();
        let entries = {
            let mut s = self.staged();
            let entries = Arc::new(std::mem::take(&mut s.pending));
            if let Some(e) = s.behind.clone() {
                // Refused: the engine undoes the batch; memory never
                // serves it.
                return Err(e);
            }
            s.committing = entries.clone();
            entries
        };
        if entries.is_empty() {
            return Ok(());
        }
        let result = wal.append(&entries);
        // Handed to the applier before the log's lock goes: a checkpoint
        // (which takes it) then finds the entries it must write first.
        let mut s = self.staged();
        s.committing = Arc::default();
        if result.is_ok() {
            s.logged.push_back(entries);
            s.due |= wal.due();
            self.logged.notify_one();
        }
        result
    }

    /// Writes what is logged to redb (`durability`), then takes it off the
    /// staged list (reads find it there until redb has it).
    fn apply_logged(&self, durability: Durability) -> Result<(), StoreError> {
        let batches: Vec<Arc<Entries>> = self.staged().logged.iter().cloned().collect();
        if batches.is_empty() && matches!(durability, Durability::None) {
            return Ok(());
        }
        let mut all = Entries::new();
        for batch in &batches {
            all.extend(batch.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let written = write(&self.db, &all, durability);
        let mut s = self.staged();
        match &written {
            Ok(()) => {
                // Those still at the front (a checkpoint and the applier
                // may both have written them).
                for batch in &batches {
                    if s.logged.front().is_some_and(|b| Arc::ptr_eq(b, batch)) {
                        s.logged.pop_front();
                    }
                }
                s.behind = None;
            }
            Err(e) => s.behind = Some(e.clone()),
        }
        written
    }

    /// Makes every logged entry durable in redb and starts the log over,
    /// without holding up commits: they move to the spare file (started
    /// over already) first, and go on there while redb syncs. A checkpoint
    /// that failed is taken up again here: the file it drains stays as it
    /// is (and commits where they are) until one succeeds.
    fn checkpoint(&self) -> Result<(), StoreError> {
        let mut spare = self.spare();
        {
            let mut wal = self.wal();
            // Cleared under the log's lock: a commit sets it again only
            // for the file commits go to next.
            self.staged().due = false;
            if !spare.draining {
                if wal.is_empty() {
                    return Ok(());
                }
                // Every record in it is on the staged `logged` list already
                // (a commit hands its entries over before the log's lock
                // goes).
                std::mem::swap(&mut *wal, &mut spare.wal);
                spare.draining = true;
            }
        }
        self.apply_logged(Durability::Immediate)?;
        let (epoch, allocated) = {
            let wal = self.wal();
            (next_epoch(wal.epoch())?, wal.allocated())
        };
        spare.wal.restart(epoch)?;
        spare.draining = false;
        // As much space as the file in use has: when commits move here,
        // none waits for the file to grow (if this fails, the commit that
        // needs the space allocates it).
        if let Err(e) = spare.wal.reserve(allocated) {
            warn!(error = %e, "redb: allocating the spare log file's space failed");
        }
        Ok(())
    }

    /// The checkpoint of a closing store: everything logged durable in
    /// redb, and both files started over (a clean stop leaves no log).
    fn close(&self) -> Result<(), StoreError> {
        let mut spare = self.spare();
        let mut wal = self.wal();
        if wal.is_empty() && !spare.draining {
            return Ok(());
        }
        self.apply_logged(Durability::Immediate)?;
        restart_both(&mut wal, &mut spare.wal)?;
        spare.draining = false;
        Ok(())
    }
}

/// Starts both log files over, the one commits write to first (at an epoch
/// above either's; the other above that).
fn restart_both(wal: &mut Wal, spare: &mut Wal) -> Result<(), StoreError> {
    let epoch = next_epoch(wal.epoch().max(spare.epoch()))?;
    wal.restart(epoch)?;
    spare.restart(next_epoch(epoch)?)
}

/// The applier: writes logged entries to redb every [`APPLY_EVERY`] while
/// there are some, and checkpoints when the log is due, until the store
/// closes.
fn run_applier(core: &Core) {
    // Failed writes in a row: retried less and less often, up to a second.
    let mut failed: u32 = 0;
    loop {
        let idle = {
            let s = core.staged();
            let quiet = |s: &Staged| s.logged.is_empty() && !s.due;
            if quiet(&s) {
                let (s, _) = core
                    .logged
                    .wait_timeout_while(s, IDLE, |s| {
                        quiet(s) && !core.closing.load(Ordering::Acquire)
                    })
                    .unwrap_or_else(PoisonError::into_inner);
                quiet(&s)
            } else {
                false
            }
        };
        if core.closing.load(Ordering::Acquire) {
            return;
        }
        if !idle {
            // Let a few commits' entries gather: one redb commit for them.
            std::thread::sleep(APPLY_EVERY.saturating_mul(1 << failed.min(9)));
        }
        if let Err(e) = core.apply_logged(Durability::None) {
            if failed == 0 {
                warn!(error = %e, "redb: writing the logged entries failed (they stay in the log and in memory; commits are refused until it works again)");
            }
            failed = failed.saturating_add(1);
            continue;
        }
        if failed > 0 {
            info!(
                attempts = failed + 1,
                "redb: the logged entries are written again"
            );
            failed = 0;
        }
        let due = core.staged().due;
        let aged = || core.wal.try_lock().is_ok_and(|w| w.due());
        if (due || aged())
            && let Err(e) = core.checkpoint()
        {
            warn!(error = %e, "redb: checkpoint failed (the log keeps everything)");
        }
    }
}

/// What the handles share: the core, and the applier, stopped and joined
/// by the last handle to go, which then checkpoints: a clean stop leaves
/// an empty log.
struct Inner {
    core: Arc<Core>,
    applier: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.core.closing.store(true, Ordering::Release);
        {
            let _s = self.core.staged();
            self.core.logged.notify_all();
        }
        if let Some(t) = self.applier.take() {
            let _ = t.join();
        }
        if let Err(e) = self.core.close() {
            // The log still holds it all: the next open applies it.
            warn!(error = %e, "redb: checkpoint on close failed");
        }
    }
}

/// A redb database (one table), with its log and what is staged for it.
#[derive(Clone)]
pub struct RedbKv {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedbKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbKv").finish_non_exhaustive()
    }
}

impl RedbKv {
    fn core(&self) -> &Core {
        &self.inner.core
    }

    fn staged(&self) -> MutexGuard<'_, Staged> {
        self.core().staged()
    }
}

/// One redb commit of `entries`.
fn write(db: &Database, entries: &Entries, durability: Durability) -> Result<(), StoreError> {
    let mut tx = db.begin_write().map_err(|e| fail("redb begin", e))?;
    if matches!(durability, Durability::Immediate) {
        tx.set_quick_repair(true);
    }
    tx.set_durability(durability)
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

/// Applies what the log held (in order, later entries winning) durably.
fn recover(db: &Database, replay: Replay) -> Result<(), StoreError> {
    if replay.torn > 0 {
        warn!(
            bytes = replay.torn,
            "redb: the write-ahead log ended in a torn record (a crash while it was written; never acked): dropped"
        );
    }
    if replay.batches.is_empty() {
        return Ok(());
    }
    let records = replay.batches.len();
    let mut all = Entries::new();
    for batch in replay.batches {
        all.extend(batch);
    }
    info!(
        records,
        entries = all.len(),
        "redb: applying the write-ahead log"
    );
    write(db, &all, Durability::Immediate)
}

/// Opens both log files and reads them: the files, and their records
/// together, the lower epoch's first.
fn open_log(dir: &Path) -> Result<(Wal, Wal, Replay), StoreError> {
    let (first, mut replay) = Wal::open(dir, FILES[0])?;
    let (second, mut newer) = Wal::open(dir, FILES[1])?;
    if second.epoch() < first.epoch() {
        std::mem::swap(&mut replay, &mut newer);
    }
    replay.batches.append(&mut newer.batches);
    replay.torn += newer.torn;
    Ok((first, second, replay))
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
        write(&db, &Entries::new(), Durability::Immediate)?;
        let (mut wal, mut spare, replay) = open_log(path)?;
        recover(&db, replay)?;
        restart_both(&mut wal, &mut spare)?;
        let core = Arc::new(Core {
            db,
            wal: Mutex::new(wal),
            spare: Mutex::new(Spare {
                wal: spare,
                draining: false,
            }),
            staged: Mutex::default(),
            logged: Condvar::new(),
            closing: AtomicBool::new(false),
        });
        let applier = {
            let core = core.clone();
            std::thread::Builder::new()
                .name("gun-redb-apply".into())
                .spawn(move || run_applier(&core))
                .map_err(|e| fail("redb: the applier thread", e))?
        };
        Ok(Self {
            inner: Arc::new(Inner {
                core,
                applier: Some(applier),
            }),
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
        let tx = self
            .inner
            .core
            .db
            .begin_read()
            .map_err(|e| fail("redb read", e))?;
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
        let tx = self
            .inner
            .core
            .db
            .begin_read()
            .map_err(|e| fail("redb read", e))?;
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
        Box::new(move || kv.core().commit_staged())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry of `k` and `v`.
    fn e(k: &str, v: &str) -> (Vec<u8>, Vec<u8>) {
        (k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    /// Both log files of the store in `dir` hold no record (`why`).
    fn assert_started_over(dir: &Path, why: &str) {
        for file in FILES {
            assert_eq!(
                super::super::wal::records_end(dir, file),
                16,
                "{why}: {file}"
            );
        }
    }

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

    #[test]
    fn the_applier_writes_logged_entries_to_redb_and_checkpoints_an_idle_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut kv = RedbKv::open(dir.path()).expect("open");
        for i in 0..50 {
            kv.apply(vec![e(&format!("k{i:02}"), &i.to_string())])
                .expect("apply");
            (kv.syncer())().expect("sync");
            assert_eq!(
                kv.get(format!("k{i:02}").as_bytes()).expect("get"),
                Some(i.to_string().into_bytes()),
                "read at once, wherever it is"
            );
        }
        let in_redb = |key: &str| {
            let tx = kv.core().db.begin_read().expect("read");
            let table = tx.open_table(TABLE).expect("table");
            table.get(key.as_bytes()).expect("get").is_some()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        // Done once the checkpoint has started the drained file over too
        // (the file commits go to is empty from its first step on).
        let done = || {
            kv.staged().logged.is_empty()
                && kv.core().wal().is_empty()
                && !kv.core().spare().draining
        };
        while !done() {
            assert!(std::time::Instant::now() < deadline, "not applied");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(in_redb("k00") && in_redb("k49"), "in redb itself");
        assert_eq!(scan_all(&kv, b"k").len(), 50);
        assert_started_over(
            dir.path(),
            "an idle log is checkpointed once it is a second old",
        );
    }

    #[test]
    fn both_log_files_are_replayed_the_older_epoch_first() {
        // Either file may be the newer one: the epochs say which.
        for (older, newer) in [(FILES[0], FILES[1]), (FILES[1], FILES[0])] {
            let dir = tempfile::tempdir().expect("tempdir");
            drop(RedbKv::open(dir.path()).expect("open"));
            // What a crash in the middle of a checkpoint leaves: the file
            // it drains, and the one commits went on in.
            for (file, epoch, entries) in [
                (older, 10, vec![e("a", "old"), e("b", "old")]),
                (newer, 11, vec![e("a", "new")]),
            ] {
                let (mut wal, _) = Wal::open(dir.path(), file).expect("log");
                wal.restart(epoch).expect("restart");
                wal.append(&entries.into_iter().collect()).expect("append");
            }
            let kv = RedbKv::open(dir.path()).expect("reopen");
            assert_eq!(kv.get(b"a").expect("get"), Some(b"new".to_vec()));
            assert_eq!(kv.get(b"b").expect("get"), Some(b"old".to_vec()));
            assert_started_over(dir.path(), "applied on open");
        }
    }

    #[test]
    fn commits_go_on_while_a_checkpoint_waits_for_redb() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut kv = RedbKv::open(dir.path()).expect("open");
        kv.apply(vec![e("k1", "v")]).expect("apply");
        (kv.syncer())().expect("sync");
        let (held, checkpoint) = stuck_checkpoint(&kv);
        let (done, committed) = std::sync::mpsc::channel();
        {
            let mut kv = kv.clone();
            std::thread::spawn(move || {
                kv.apply(vec![e("k2", "v")]).expect("apply");
                let _ = done.send((kv.syncer())());
            });
        }
        let result = committed.recv_timeout(Duration::from_secs(10));
        assert!(
            matches!(result, Ok(Ok(()))),
            "a commit while the checkpoint waits: {result:?}"
        );
        drop(held);
        checkpoint.join().expect("join").expect("checkpoint");
        drop(kv);
        let kv = RedbKv::open(dir.path()).expect("reopen");
        for k in ["k1", "k2"] {
            assert_eq!(kv.get(k.as_bytes()).expect("get"), Some(b"v".to_vec()));
        }
    }

    /// A checkpoint of `kv` stuck waiting for redb (its one writer is held
    /// by the returned transaction), once commits have moved to the other
    /// file; and its thread.
    fn stuck_checkpoint(
        kv: &RedbKv,
    ) -> (
        redb::WriteTransaction,
        std::thread::JoinHandle<Result<(), StoreError>>,
    ) {
        let before = kv.core().wal().epoch();
        let held = kv.core().db.begin_write().expect("write");
        let stuck = kv.clone();
        let thread = std::thread::spawn(move || stuck.core().checkpoint());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while kv.core().wal().epoch() == before {
            assert!(std::time::Instant::now() < deadline, "not moved");
            std::thread::sleep(Duration::from_millis(5));
        }
        (held, thread)
    }

    /// The child's side of the crash in the middle of a checkpoint.
    const CHECKPOINT_CHILD: &str = "GUN_REDB_CHECKPOINT_CHILD";

    #[test]
    fn a_crash_in_the_middle_of_a_checkpoint_loses_no_commit() {
        if let Some(dir) = std::env::var_os(CHECKPOINT_CHILD) {
            let mut kv = RedbKv::open(Path::new(&dir)).expect("open");
            kv.apply(vec![e("a", "1"), e("b", "1")]).expect("apply");
            (kv.syncer())().expect("sync");
            let _held = stuck_checkpoint(&kv);
            kv.apply(vec![e("a", "2")]).expect("apply");
            (kv.syncer())().expect("sync");
            std::process::abort();
        }
        let dir = tempfile::tempdir().expect("tempdir");
        crate::store::crash::run_child(
            "store::kv::redb_kv::tests::a_crash_in_the_middle_of_a_checkpoint_loses_no_commit",
            CHECKPOINT_CHILD,
            dir.path(),
        );
        for file in FILES {
            assert!(
                super::super::wal::records_end(dir.path(), file) > 16,
                "the file drained and the one commits went on in: {file}"
            );
        }
        let kv = RedbKv::open(dir.path()).expect("a crashed store opens");
        assert_eq!(kv.get(b"a").expect("get"), Some(b"2".to_vec()));
        assert_eq!(kv.get(b"b").expect("get"), Some(b"1".to_vec()));
        assert_started_over(dir.path(), "applied on open");
    }

    /// The child's side of the crash test: set to the store's directory,
    /// the test commits, then aborts.
    const CRASH_CHILD: &str = "GUN_REDB_WAL_CHILD";

    #[test]
    fn logged_batches_survive_a_crash_and_a_torn_record_is_dropped() {
        if let Some(dir) = std::env::var_os(CRASH_CHILD) {
            let mut kv = RedbKv::open(Path::new(&dir)).expect("open");
            for i in 0..3 {
                kv.apply(vec![e(&format!("k{i}"), "v")]).expect("apply");
                (kv.syncer())().expect("sync");
            }
            // No checkpoint: the commits are in the log, and in redb only
            // as commits that were not synced.
            std::process::abort();
        }
        let dir = tempfile::tempdir().expect("tempdir");
        crate::store::crash::run_child(
            "store::kv::redb_kv::tests::logged_batches_survive_a_crash_and_a_torn_record_is_dropped",
            CRASH_CHILD,
            dir.path(),
        );
        // A fourth commit torn by the crash: its record cut short.
        let log = dir.path().join(FILES[0]);
        let end = super::super::wal::records_end(dir.path(), FILES[0]);
        assert!(end > 16, "logged");
        let mut torn = vec![40, 0, 0, 0, 9, 9, 9, 9];
        torn.extend_from_slice(
            &super::super::wal::records_epoch(dir.path(), FILES[0]).to_le_bytes(),
        );
        torn.extend_from_slice(&[1, 2]);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .expect("log");
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(end)).expect("seek");
        std::io::Write::write_all(&mut f, &torn).expect("torn");
        drop(f);
        let kv = RedbKv::open(dir.path()).expect("a crashed store opens");
        for i in 0..3 {
            assert_eq!(
                kv.get(format!("k{i}").as_bytes()).expect("get"),
                Some(b"v".to_vec()),
                "synced commit {i} is there"
            );
        }
        assert_started_over(dir.path(), "applied, then started over");
    }
}
