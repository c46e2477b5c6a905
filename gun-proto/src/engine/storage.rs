//! The engine's side of the store: which souls are in memory, the reads in
//! flight, the jobs waiting for them, and the turn's write batch with those
//! waiting for it to be durable.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use super::jobs::Job;
use super::{Error, Output};
use crate::graph::{Graph, Prop};
use crate::ids::{PeerId, ReadId, ReqId, WriteId};
use crate::store::{StoreError, StoreQuery, WriteFailure};

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
    Peer { peer: PeerId, id: String },
    /// One of our own writes, settled once written.
    Own(ReqId),
}

/// A part of a write batch (one put, or one other source of writes): who
/// waits for it, and what memory held before it, to undo it if the store
/// refuses it.
#[derive(Debug)]
struct PartMeta {
    waiter: Option<Waiter>,
    prior: Graph,
}

/// A write the store has not answered yet.
#[derive(Debug)]
struct InFlight {
    batch: Arc<[Graph]>,
    meta: Vec<PartMeta>,
}

/// What the store's answer to a write settles.
#[derive(Debug, Default)]
pub(super) struct WriteDone {
    /// Waiters of the parts that are stored.
    pub(super) stored: Vec<Waiter>,
    /// Waiters of the parts that are not, with why, in batch order.
    pub(super) refused: Vec<(Option<Waiter>, StoreError)>,
    /// The souls whose properties were set back because the store refused
    /// what a part wrote there (listeners look again).
    pub(super) undone: Graph,
}

/// What a finished read brought.
#[derive(Debug)]
pub(super) struct ReadDone {
    /// The nodes found (`None` when the read failed).
    pub(super) found: Option<Graph>,
    /// The souls whose waiting jobs can run again.
    pub(super) affected: Vec<String>,
}

/// Reads, parked jobs and the write batch.
#[derive(Debug)]
pub(super) struct Storage {
    /// Whether a store is attached at all (without one, every soul counts as
    /// loaded and nothing is written).
    enabled: bool,
    /// Souls whose stored copy has been merged into the graph.
    loaded: HashSet<String>,
    /// Souls whose read failed in the current retry round, and why.
    failed: HashMap<String, StoreError>,
    reading: HashSet<String>,
    reads: BTreeMap<ReadId, StoreQuery>,
    next_read: u64,
    next_write: u64,
    /// Jobs waiting for a soul's read, by that soul.
    parked: HashMap<String, Vec<Job>>,
    /// Jobs waiting for another read (a lex read of souls).
    parked_other: Vec<Job>,
    parked_count: usize,
    max_parked: usize,
    /// Properties accepted this turn, a part per source, written at the
    /// next drain.
    batch: Vec<Graph>,
    batch_meta: Vec<PartMeta>,
    writes: BTreeMap<WriteId, InFlight>,
}

impl Storage {
    pub(super) fn new(enabled: bool, max_parked: usize) -> Self {
        Self {
            enabled,
            loaded: HashSet::new(),
            failed: HashMap::new(),
            reading: HashSet::new(),
            reads: BTreeMap::new(),
            next_read: 0,
            next_write: 0,
            parked: HashMap::new(),
            parked_other: Vec::new(),
            parked_count: 0,
            max_parked,
            batch: Vec::new(),
            batch_meta: Vec::new(),
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
            if self.loaded.contains(soul) {
                continue;
            }
            if let Some(e) = self.failed.get(soul) {
                return Loaded::Failed(e.clone());
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

    /// Asks the store for `query`.
    pub(super) fn read(&mut self, query: StoreQuery, out: &mut VecDeque<Output>) -> ReadId {
        self.next_read += 1;
        let id = ReadId(self.next_read);
        self.reads.insert(id, query.clone());
        out.push_back(Output::StoreRead { id, query });
        id
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
        jobs
    }

    /// The store answered read `id`.
    pub(super) fn read_done(
        &mut self,
        id: ReadId,
        result: Result<Graph, StoreError>,
    ) -> Result<ReadDone, Error> {
        let query = self.reads.remove(&id).ok_or(Error::UnknownRead(id))?;
        let exact = query.soul.as_exact().map(str::to_owned);
        if let Some(s) = &exact {
            self.reading.remove(s);
        }
        let mut affected: Vec<String> = exact.iter().cloned().collect();
        let found = match result {
            Ok(found) => {
                for soul in found.souls() {
                    self.loaded.insert(soul.to_owned());
                    if exact.as_deref() != Some(soul) {
                        affected.push(soul.to_owned());
                    }
                }
                if let Some(s) = exact {
                    self.loaded.insert(s);
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

    /// Ends a retry round: failed souls may be asked for again.
    pub(super) fn clear_failed(&mut self) {
        self.failed.clear();
    }

    /// Adds accepted properties (and what they replaced) to this turn's
    /// batch as a part of their own; `waiter` is told when that part is
    /// durable, or that the store refused it.
    pub(super) fn write(&mut self, accepted: &Graph, prior: Graph, waiter: Option<Waiter>) {
        if !self.enabled || (accepted.is_empty() && waiter.is_none()) {
            return;
        }
        self.batch.push(accepted.clone());
        self.batch_meta.push(PartMeta { waiter, prior });
    }

    /// The turn's batch, to write.
    pub(super) fn flush(&mut self) -> Option<Output> {
        if self.batch.is_empty() {
            return None;
        }
        self.next_write += 1;
        let id = WriteId(self.next_write);
        let batch: Arc<[Graph]> = std::mem::take(&mut self.batch).into();
        let meta = std::mem::take(&mut self.batch_meta);
        self.writes.insert(
            id,
            InFlight {
                batch: batch.clone(),
                meta,
            },
        );
        Some(Output::StoreWrite { id, batch })
    }

    /// The store carried out write `id`: which parts are stored, which
    /// not. What a refused part wrote is undone in `graph` (memory never
    /// serves what the store refused): a property it set goes back to what
    /// it held before, unless a later part has overwritten it since; then
    /// that later part inherits the earlier value, to go back to in turn.
    pub(super) fn write_done(
        &mut self,
        id: WriteId,
        result: Result<(), WriteFailure>,
        graph: &mut Graph,
    ) -> Result<WriteDone, Error> {
        let InFlight { batch, mut meta } =
            self.writes.remove(&id).ok_or(Error::UnknownWrite(id))?;
        let mut done = WriteDone::default();
        let Err(failure) = result else {
            done.stored = meta.into_iter().filter_map(|m| m.waiter).collect();
            return Ok(done);
        };
        for i in 0..meta.len() {
            let Some(error) = failure.part(i).cloned() else {
                done.stored.extend(meta[i].waiter.take());
                continue;
            };
            let wrote = &batch[i];
            for (soul, key, was) in wrote.props() {
                let prior = meta[i].prior.prop(soul, key).cloned();
                if graph.prop(soul, key) == Some(was) {
                    graph.restore(soul, key, prior.as_ref());
                    done.undone.node_mut(soul);
                } else {
                    self.pass_prior_on(&batch[i + 1..], &mut meta[i + 1..], soul, key, was, prior.as_ref());
                }
            }
            done.refused.push((meta[i].waiter.take(), error));
        }
        Ok(done)
    }

    /// A refused write of `soul.key` (as `was`) cannot be undone in memory
    /// because a later part overwrote it: the first later part that wrote
    /// it (in the rest of its batch, `parts`/`meta`, else in the writes
    /// still pending) records `prior` as what it replaced, so that undoing
    /// it too never brings back what the store refused.
    fn pass_prior_on(
        &mut self,
        parts: &[Graph],
        meta: &mut [PartMeta],
        soul: &str,
        key: &str,
        was: &Prop,
        prior: Option<&Prop>,
    ) {
        let later = parts
            .iter()
            .zip(meta.iter_mut())
            .chain(
                self.writes
                    .values_mut()
                    .flat_map(|w| w.batch.iter().zip(w.meta.iter_mut())),
            )
            .chain(self.batch.iter().zip(self.batch_meta.iter_mut()));
        for (wrote, m) in later {
            if wrote.prop(soul, key).is_some() {
                if m.prior.prop(soul, key) == Some(was) {
                    m.prior.restore(soul, key, prior);
                }
                return;
            }
        }
    }
}
