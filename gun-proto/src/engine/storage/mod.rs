//! The engine's side of the store: which souls are in memory, the reads in
//! flight, the jobs waiting for them, and the turn's write batch with those
//! waiting for it to be durable (its writing: [`writes`]).

mod writes;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use compact_str::CompactString;

use self::writes::{InFlight, PartMeta};
use super::jobs::Job;
use super::{Error, Output};
use crate::graph::{Graph, Resident};
use crate::ids::{IdMap, PeerId, ReadId, ReqId, WriteId};
use crate::store::{SoulIndex, StoreError, StoreQuery};
use crate::text_map::TextMap;

/// Jobs of one peer waiting on the store past which its socket is not read.
const BACKLOG: usize = 64;

/// Whether the souls a job needs are in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Loaded {
    Yes,
    /// Not yet: reads are under way; the job waits for this soul first.
    No(String),
    /// A read of one of them failed, so the job cannot proceed.
    Failed(StoreError),
}

/// Who waits for a store write to be durable.
#[derive(Debug, Clone)]
pub(super) enum Waiter {
    /// A peer's put, acked once written.
    Peer { peer: PeerId, id: CompactString },
    /// One of our own writes, settled once written.
    Own(ReqId),
}

/// What a finished read brought.
#[derive(Debug)]
pub(super) struct ReadDone {
    /// The nodes found (`None` when the read failed).
    pub(super) found: Option<Graph>,
    /// The souls whose waiting jobs can run again.
    pub(super) affected: Vec<String>,
}

/// What the engine keeps of a soul it holds or is writing: one entry, so
/// that a put finds, marks and counts its soul with one look-up.
#[derive(Debug, Default)]
struct Held {
    /// Its stored copy has been merged into the graph.
    loaded: bool,
    /// Not loaded whole, but some of its properties are (`partial` holds
    /// which): on the cache's ring, as a loaded soul is.
    partial: bool,
    /// Whether it was used since the cache last looked at it (loaded
    /// souls).
    used: bool,
    /// How many parts of writes not yet durable touch it: while any do,
    /// it never leaves memory. (32 bits: each part in flight is held in
    /// memory, so no process holds 2^32 of them; an entry is 8 bytes.)
    pending: u32,
}

/// Reads, parked jobs and the write batch.
#[derive(Debug)]
pub(super) struct Storage {
    /// Whether a store is attached at all (without one, every soul counts as
    /// loaded and nothing is written).
    enabled: bool,
    /// Souls loaded or with writes not yet durable (an entry goes when
    /// it is neither).
    held: TextMap<Held>,
    /// How many of `held` are loaded.
    loaded: usize,
    /// Loaded and partly loaded souls, oldest first, each by its hash in
    /// `held` (8 bytes where the soul is 24): the cache's clock hand.
    ring: VecDeque<u64>,
    /// Most souls kept in memory (0: all); past it, souls nobody used
    /// lately leave memory (the store still has them).
    max_cached: usize,
    /// Souls not loaded whole, of which some properties are (read for a
    /// put, which needs only the ones it touches): the keys read.
    partial: HashMap<String, HashSet<String>>,
    /// Souls with a read of some of their keys in flight.
    reading_keys: HashSet<String>,
    /// Which souls the store may hold, once the driver has listed them:
    /// a soul it rules out is taken as empty, with no read.
    souls: Option<SoulIndex>,
    /// Souls whose read failed in the current retry round, and why.
    failed: HashMap<String, StoreError>,
    reading: HashSet<String>,
    reads: BTreeMap<ReadId, StoreQuery>,
    /// Scans answered, kept for the gets that asked.
    scanned: HashMap<ReadId, Result<Graph, StoreError>>,
    next_read: u64,
    next_write: u64,
    /// Jobs waiting for a soul's read, by that soul.
    parked: HashMap<String, Vec<Job>>,
    /// Jobs waiting for another read (a lex read of souls).
    parked_other: Vec<Job>,
    parked_count: usize,
    max_parked: usize,
    /// Jobs parked per peer whose message they are.
    parked_by: IdMap<PeerId, usize>,
    max_parked_per_peer: usize,
    /// Properties accepted this turn, a part per source, written at the
    /// next drain.
    batch: Vec<Graph>,
    batch_meta: Vec<PartMeta>,
    /// The hash in `held` of each soul of `batch`, in its order (the
    /// answer to the write counts them down without hashing them again).
    batch_hashes: Vec<u64>,
    writes: BTreeMap<WriteId, InFlight>,
}

impl Storage {
    pub(super) fn new(
        enabled: bool,
        max_parked: usize,
        max_parked_per_peer: usize,
        max_cached: usize,
    ) -> Self {
        Self {
            enabled,
            held: TextMap::default(),
            loaded: 0,
            ring: VecDeque::new(),
            max_cached,
            partial: HashMap::new(),
            reading_keys: HashSet::new(),
            souls: None,
            failed: HashMap::new(),
            reading: HashSet::new(),
            reads: BTreeMap::new(),
            scanned: HashMap::new(),
            next_read: 0,
            next_write: 0,
            parked: HashMap::new(),
            parked_other: Vec::new(),
            parked_count: 0,
            max_parked,
            parked_by: IdMap::default(),
            max_parked_per_peer: max_parked_per_peer.max(1),
            batch: Vec::new(),
            batch_meta: Vec::new(),
            batch_hashes: Vec::new(),
            writes: BTreeMap::new(),
        }
    }

    /// Whether a store is attached.
    pub(super) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether every soul is merged from the store; asks for the missing ones.
    pub(super) fn ensure_loaded<'s>(
        &mut self,
        souls: impl IntoIterator<Item = &'s str>,
        out: &mut VecDeque<Output>,
    ) -> Loaded {
        if !self.enabled {
            return Loaded::Yes;
        }
        let mut state = Loaded::Yes;
        for soul in souls {
            match self.settled(soul) {
                Some(Loaded::Yes) => continue,
                Some(failed) => return failed,
                None => {}
            }
            if state == Loaded::Yes {
                state = Loaded::No(soul.to_owned());
            }
            if self.reading.insert(soul.to_owned()) {
                self.read(StoreQuery::soul(soul), out);
            }
        }
        state
    }

    /// Whether the properties `diff` touches are merged from the store (a
    /// put needs no others: HAM decides property by property); asks for
    /// the missing ones. A soul loaded whole counts, as does one the soul
    /// index rules out.
    pub(super) fn ensure_keys_loaded(
        &mut self,
        diff: &Graph,
        out: &mut VecDeque<Output>,
    ) -> Loaded {
        if !self.enabled {
            return Loaded::Yes;
        }
        let mut state = Loaded::Yes;
        for (soul, node) in diff.iter() {
            match self.settled(soul) {
                Some(Loaded::Yes) => continue,
                Some(failed) => return failed,
                None => {}
            }
            let known = self.partial.get(soul);
            let missing: Vec<String> = node
                .iter()
                .map(|(k, _)| k)
                .filter(|k| known.is_none_or(|known| !known.contains(*k)))
                .map(str::to_owned)
                .collect();
            if missing.is_empty() {
                continue;
            }
            if state == Loaded::Yes {
                state = Loaded::No(soul.to_owned());
            }
            // One read per soul at a time: a whole one, or of keys.
            if !self.reading.contains(soul) && self.reading_keys.insert(soul.to_owned()) {
                self.read(StoreQuery::keys(soul, missing), out);
            }
        }
        state
    }

    /// What needs no read of `soul`: it is loaded (marked used), or the
    /// soul index rules it out (then it is loaded, empty), or its read
    /// failed this round. `None`: it must be read.
    fn settled(&mut self, soul: &str) -> Option<Loaded> {
        // One hash for the look-up and, when the soul is new, its entry.
        let hash = self.held.hash(soul);
        if let Some(held) = self.held.get_hashed_mut(hash, soul)
            && held.loaded
        {
            held.used = true;
            return Some(Loaded::Yes);
        }
        let found = Self::not_loaded(&self.failed, self.souls.as_ref(), soul);
        if found == Some(Loaded::Yes) {
            self.mark_loaded_hashed(hash, soul);
        }
        found
    }

    /// [`Storage::settled`] for a soul not loaded: its failed read, or
    /// `Yes` when the soul index rules it out (certainly not stored: it is
    /// loaded, empty, with no read).
    /// (An associated function: `settled` holds an entry of `held`.)
    fn not_loaded(
        failed: &HashMap<String, StoreError>,
        souls: Option<&SoulIndex>,
        soul: &str,
    ) -> Option<Loaded> {
        if let Some(e) = failed.get(soul) {
            return Some(Loaded::Failed(e.clone()));
        }
        souls
            .is_some_and(|s| !s.may_hold(soul))
            .then_some(Loaded::Yes)
    }

    /// Asks the store for `query`.
    pub(super) fn read(&mut self, query: StoreQuery, out: &mut VecDeque<Output>) -> ReadId {
        self.next_read += 1;
        let id = ReadId(self.next_read);
        self.reads.insert(id, query.clone());
        out.push_back(Output::StoreRead { id, query });
        id
    }

    /// The answer to scan `id`, once it came.
    pub(super) fn take_scan(&mut self, id: ReadId) -> Option<Result<Graph, StoreError>> {
        self.scanned.remove(&id)
    }

    /// Whether the read `id` is still in flight.
    pub(super) fn is_reading(&self, id: ReadId) -> bool {
        self.reads.contains_key(&id)
    }

    /// Parks `job` until `soul` is read (or any read, for `None`); gives it
    /// back when too many are waiting.
    pub(super) fn park(&mut self, job: Job, soul: Option<String>) -> Option<Job> {
        if self.parked_count >= self.max_parked {
            return Some(job);
        }
        if let Some(peer) = job.peer() {
            let n = self.parked_by.entry(peer).or_insert(0);
            if *n >= self.max_parked_per_peer {
                return Some(job);
            }
            *n += 1;
        }
        self.parked_count += 1;
        match soul {
            Some(soul) => self.parked.entry(soul).or_default().push(job),
            None => self.parked_other.push(job),
        }
        None
    }

    /// The jobs waiting for `souls`, and those waiting on any read.
    pub(super) fn unpark(&mut self, souls: &[String]) -> Vec<Job> {
        let mut jobs = std::mem::take(&mut self.parked_other);
        for soul in souls {
            if let Some(waiting) = self.parked.remove(soul) {
                jobs.extend(waiting);
            }
        }
        self.parked_count -= jobs.len().min(self.parked_count);
        for peer in jobs.iter().filter_map(Job::peer) {
            if let Some(n) = self.parked_by.get_mut(&peer) {
                *n -= 1;
                if *n == 0 {
                    self.parked_by.remove(&peer);
                }
            }
        }
        jobs
    }

    /// Whether `peer` has enough waiting on the store to stop reading it:
    /// [`BACKLOG`] jobs, or a scan (a lex read, costlier than many gets).
    /// Its next frame then waits for the next turn, so that one peer's
    /// reads cannot fill a turn's drain.
    pub(super) fn backlogged(&self, peer: PeerId) -> bool {
        self.parked_by.get(&peer).is_some_and(|n| *n >= BACKLOG)
            || self.parked_other.iter().any(|j| j.peer() == Some(peer))
    }

    /// The store answered read `id`. A scan's answer (a page, perhaps
    /// cutting a node short) is kept for the get that asked, not taken into
    /// memory.
    pub(super) fn read_done(
        &mut self,
        id: ReadId,
        result: Result<Graph, StoreError>,
    ) -> Result<ReadDone, Error> {
        let query = self.reads.remove(&id).ok_or(Error::UnknownRead(id))?;
        if query.page.is_some() {
            self.scanned.insert(id, result);
            return Ok(ReadDone {
                found: None,
                affected: Vec::new(),
            });
        }
        let exact = query.soul.as_exact().map(str::to_owned);
        if let (Some(soul), Some(keys)) = (&exact, &query.keys) {
            return Ok(self.keys_read(soul, keys.clone(), result));
        }
        if let Some(s) = &exact {
            self.reading.remove(s);
        }
        let mut affected: Vec<String> = exact.iter().cloned().collect();
        let found = match result {
            Ok(found) => {
                for soul in found.souls() {
                    self.mark_loaded(soul);
                    if exact.as_deref() != Some(soul) {
                        affected.push(soul.to_owned());
                    }
                }
                if let Some(s) = exact {
                    self.mark_loaded(&s);
                }
                Some(found)
            }
            Err(e) => {
                tracing::warn!(error = %e, ?query, "store read failed");
                if let Some(s) = exact {
                    self.failed.insert(s, e);
                }
                None
            }
        };
        Ok(ReadDone { found, affected })
    }

    /// A read of some keys of `soul` finished.
    fn keys_read(
        &mut self,
        soul: &str,
        keys: Vec<String>,
        result: Result<Graph, StoreError>,
    ) -> ReadDone {
        self.reading_keys.remove(soul);
        let found = match result {
            Ok(found) => {
                let hash = self.held.hash(soul);
                let (held, _) = self.held.get_or_insert_with(hash, soul, Held::default);
                if !held.loaded {
                    if !held.partial {
                        // Leaves memory as loaded souls do.
                        held.partial = true;
                        self.ring.push_back(hash);
                    }
                    self.partial
                        .entry(soul.to_owned())
                        .or_default()
                        .extend(keys);
                }
                Some(found)
            }
            Err(e) => {
                tracing::warn!(error = %e, soul, "store read failed");
                self.failed.insert(soul.to_owned(), e);
                None
            }
        };
        ReadDone {
            found,
            affected: vec![soul.to_owned()],
        }
    }

    /// How many souls are loaded.
    pub(super) fn cached(&self) -> usize {
        self.loaded
    }

    fn mark_loaded(&mut self, soul: &str) {
        self.mark_loaded_hashed(self.held.hash(soul), soul);
    }

    /// [`Storage::mark_loaded`] of a soul whose hash in `held` is `hash`:
    /// loaded and used, and on the cache's ring.
    fn mark_loaded_hashed(&mut self, hash: u64, soul: &str) {
        let (held, _) = self.held.get_or_insert_with(hash, soul, Held::default);
        held.used = true;
        if held.loaded {
            return;
        }
        held.loaded = true;
        self.loaded += 1;
        // A partly loaded soul is on the ring already.
        if std::mem::take(&mut held.partial) {
            self.partial.remove(soul);
        } else {
            self.ring.push_back(hash);
        }
    }

    /// Lets souls nobody used lately leave memory while more are held than
    /// the cache keeps: never one with writes not yet durable, one being
    /// read or waited for, nor one `keep` names (a local listener's). The
    /// store still has them; the next use reads them again.
    pub(super) fn evict(&mut self, graph: &mut Resident, keep: impl Fn(&str) -> bool) {
        if self.max_cached == 0 {
            return;
        }
        let mut looked = 0;
        while self.loaded + self.partial.len() > self.max_cached && looked < self.ring.len() * 2 {
            let Some(hash) = self.ring.pop_front() else {
                break;
            };
            let Some((soul, held)) = self.held.key_where_mut(hash, |h| h.loaded || h.partial)
            else {
                continue;
            };
            let soul = CompactString::from(soul);
            let pending = held.pending > 0;
            // Partly loaded: used only by the put that read it.
            let used = held.loaded && std::mem::take(&mut held.used);
            let busy = pending
                || self.reading.contains(soul.as_str())
                || self.reading_keys.contains(soul.as_str())
                || self.parked.contains_key(soul.as_str())
                || keep(&soul);
            looked += 1;
            if used || busy {
                self.ring.push_back(hash);
                continue;
            }
            // Not pending (busy otherwise): nothing else keeps the entry.
            if self.held.remove(soul.as_str()).is_some_and(|h| h.loaded) {
                self.loaded -= 1;
            }
            self.partial.remove(soul.as_str());
            graph.remove_node(&soul);
        }
    }

    /// Ends a retry round: failed souls may be asked for again.
    pub(super) fn clear_failed(&mut self) {
        self.failed.clear();
    }

    /// Takes the driver's listing of the souls the store holds.
    pub(super) fn index_souls(&mut self, index: SoulIndex) {
        if self.enabled {
            tracing::debug!(
                ?index,
                "the store's souls are listed: new souls need no read"
            );
            self.souls = Some(index);
        }
    }
}
