//! The turn's write batch: its parts, who waits for each, the writes in
//! flight, and what the store's answer settles (a refused part undone in
//! memory).

use std::sync::Arc;

use super::{Held, Storage, Waiter};
use crate::engine::Error;
use crate::graph::{Graph, Prop, PropRef, Resident};
use crate::ids::{PeerId, WriteId};
use crate::store::{StoreError, WriteFailure};

/// A part of a write batch (one put, or one other source of writes): who
/// waits for it, and what memory held before it, to undo it if the store
/// refuses it.
#[derive(Debug)]
pub(super) struct PartMeta {
    pub(super) waiter: Option<Waiter>,
    pub(super) prior: Graph,
    /// Its peer's ack was made ready with the write (the driver may send
    /// it once the write is durable).
    pub(super) ack_ready: bool,
}

/// A write the store has not answered yet.
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) batch: Arc<[Graph]>,
    pub(super) meta: Vec<PartMeta>,
    /// The hash in `held` of each soul of the batch, in its order.
    pub(super) hashes: Vec<u64>,
}

/// What the store's answer to a write settles.
#[derive(Debug, Default)]
pub(in crate::engine) struct WriteDone {
    /// Waiters of the parts that are stored (and not acked already).
    pub(in crate::engine) stored: Vec<Waiter>,
    /// How many stored parts' acks the driver sent itself.
    pub(in crate::engine) acked_ahead: u64,
    /// Waiters of the parts that are not, with why, in batch order.
    pub(in crate::engine) refused: Vec<(Option<Waiter>, StoreError)>,
    /// The souls whose properties were set back because the store refused
    /// what a part wrote there (listeners look again).
    pub(in crate::engine) undone: Graph,
}

impl Storage {
    /// Adds accepted properties (and what they replaced) to this turn's
    /// batch as a part of their own; `waiter` is told when that part is
    /// durable, or that the store refused it.
    pub(in crate::engine) fn write(
        &mut self,
        accepted: Graph,
        prior: Graph,
        waiter: Option<Waiter>,
    ) {
        if !self.enabled || (accepted.is_empty() && waiter.is_none()) {
            return;
        }
        for soul in accepted.souls() {
            let hash = self.held.hash(soul);
            self.held
                .get_or_insert_with(hash, soul, Held::default)
                .0
                .pending += 1;
            self.batch_hashes.push(hash);
            if let Some(souls) = self.souls.as_mut() {
                souls.note(soul);
            }
        }
        self.batch.push(accepted);
        self.batch_meta.push(PartMeta {
            waiter,
            prior,
            ack_ready: false,
        });
    }

    /// The turn's batch, to write, with its id. `ready(peer, id)` is
    /// offered each peer's put the batch carries, and says whether it made
    /// that put's ack ready to go with the write.
    pub(in crate::engine) fn flush(
        &mut self,
        mut ready: impl FnMut(PeerId, &str) -> bool,
    ) -> Option<(WriteId, Arc<[Graph]>)> {
        if self.batch.is_empty() {
            return None;
        }
        for m in &mut self.batch_meta {
            if let Some(Waiter::Peer { peer, id }) = &m.waiter {
                m.ack_ready = ready(*peer, id);
            }
        }
        self.next_write += 1;
        let id = WriteId(self.next_write);
        // The turn's lists start the next turn at the size this one
        // reached, not growing to it again (the batch's own keeps its room).
        let batch: Arc<[Graph]> = self.batch.drain(..).collect();
        let room = self.batch_meta.len();
        let meta = std::mem::replace(&mut self.batch_meta, Vec::with_capacity(room));
        let room = self.batch_hashes.len();
        let hashes = std::mem::replace(&mut self.batch_hashes, Vec::with_capacity(room));
        self.writes.insert(
            id,
            InFlight {
                batch: batch.clone(),
                meta,
                hashes,
            },
        );
        Some((id, batch))
    }

    /// The store carried out write `id`: which parts are stored, which
    /// not (`acks_sent`: whole, and the acks made ready with it were sent).
    /// What a refused part wrote is undone in `graph` (memory never
    /// serves what the store refused): a property it set goes back to what
    /// it held before, unless a later part has overwritten it since; then
    /// that later part inherits the earlier value, to go back to in turn.
    pub(in crate::engine) fn write_done(
        &mut self,
        id: WriteId,
        result: Result<(), WriteFailure>,
        acks_sent: bool,
        graph: &mut Resident,
    ) -> Result<WriteDone, Error> {
        let InFlight {
            batch,
            mut meta,
            hashes,
        } = self.writes.remove(&id).ok_or(Error::UnknownWrite(id))?;
        for (soul, &hash) in batch.iter().flat_map(Graph::souls).zip(&hashes) {
            if let Some(held) = self.held.get_hashed_mut(hash, soul) {
                held.pending -= 1;
                if held.pending == 0 && !held.loaded && !held.partial {
                    self.held.remove_hashed(hash, soul);
                }
            }
        }
        let mut done = WriteDone::default();
        let Err(failure) = result else {
            for m in meta {
                if acks_sent && m.ack_ready {
                    done.acked_ahead += 1;
                } else {
                    done.stored.extend(m.waiter);
                }
            }
            return Ok(done);
        };
        for i in 0..meta.len() {
            let Some(error) = failure.part(i).cloned() else {
                done.stored.extend(meta[i].waiter.take());
                continue;
            };
            let wrote = &batch[i];
            for (soul, key, was) in wrote.props() {
                let prior = meta[i].prior.prop(soul, key).map(PropRef::to_prop);
                if graph.prop(soul, key) == Some(was) {
                    graph.restore(soul, key, prior.as_ref().map(Prop::view));
                    done.undone.node_mut(soul);
                } else {
                    self.pass_prior_on(
                        &batch[i + 1..],
                        &mut meta[i + 1..],
                        soul,
                        key,
                        was,
                        prior.as_ref().map(Prop::view),
                    );
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
        was: PropRef<'_>,
        prior: Option<PropRef<'_>>,
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
