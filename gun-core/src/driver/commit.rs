//! The commit thread: makes what the driver applied to the store durable,
//! so that the driver never waits for a flush. Each turn's batch is applied
//! on the driver's thread (reads see it at once) and its id sent here; one
//! flush covers every batch applied before it, and batches applied while a
//! flush runs share the next one (pipelined group commit). Once a batch is
//! durable, the acks the engine made ready with it go to their peers from
//! here, without a trip through the driver's thread; the answers go back to
//! the driver as [`Inbox::Committed`], in order.

use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use gun_proto::store::Syncer;
use gun_proto::wire::Frame;
use gun_proto::{PeerId, WriteFailure, WriteId};

use super::command::Inbox;
use crate::transport::{Link, Queued, Shared};

/// A batch applied: its id, which of its parts the store refused, and the
/// acks to send if it is all durable (each with its peer's link).
pub(crate) struct Applied {
    pub(crate) id: WriteId,
    pub(crate) result: Result<(), WriteFailure>,
    pub(crate) acks: Vec<(PeerId, Link, Frame)>,
}

/// A batch's answer: stored or not, and whether its acks went out.
pub(crate) struct Committed {
    pub(crate) id: WriteId,
    pub(crate) result: Result<(), WriteFailure>,
    pub(crate) acks_sent: bool,
}

/// What one flush settled.
pub(crate) struct Answers {
    /// Each batch's answer, in order.
    pub(crate) batches: Vec<Committed>,
    /// Peers whose queue was full when an ack was due: they do not read
    /// what they are sent (the driver drops them).
    pub(crate) slow: Vec<PeerId>,
}

/// The driver's end of the commit thread.
pub(crate) struct Committer {
    tx: Option<Sender<Applied>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Batches sent and not answered yet.
    pub(crate) pending: usize,
}

impl Committer {
    /// Starts the thread with the store's `sync`.
    pub(crate) fn start(
        sync: Syncer,
        inbox: Sender<Inbox>,
        shared: std::sync::Arc<Shared>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::unbounded::<Applied>();
        let thread = std::thread::Builder::new()
            .name("gun-commit".into())
            .spawn(move || run(sync, &rx, &inbox, &shared))?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            pending: 0,
        })
    }

    /// Makes a batch durable; its answer comes back through the inbox.
    pub(crate) fn commit(&mut self, applied: Applied) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(applied);
            self.pending += 1;
        }
    }

    /// `n` answers came back.
    pub(crate) fn answered(&mut self, n: usize) {
        self.pending = self.pending.saturating_sub(n);
    }

    /// Stops the thread once it has flushed what it was sent.
    pub(crate) fn finish(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.finish();
    }
}

fn run(mut sync: Syncer, rx: &Receiver<Applied>, inbox: &Sender<Inbox>, shared: &Shared) {
    while let Ok(first) = rx.recv() {
        let group: Vec<Applied> = std::iter::once(first).chain(rx.try_iter()).collect();
        let began = Instant::now();
        let synced = sync();
        shared
            .metrics
            .commit_seconds
            .observe(began.elapsed().as_secs_f64());
        let mut slow = Vec::new();
        let batches = group
            .into_iter()
            .map(|Applied { id, result, acks }| {
                let result = match (&synced, result) {
                    (Ok(()), applied) => applied,
                    // Nothing applied since the last flush is known durable.
                    (Err(e), _) => Err(WriteFailure::All(e.clone())),
                };
                let acks_sent = result.is_ok();
                if acks_sent {
                    for (peer, link, frame) in acks {
                        if link.send(frame) == Queued::Full {
                            slow.push(peer);
                        }
                    }
                }
                Committed {
                    id,
                    result,
                    acks_sent,
                }
            })
            .collect();
        if inbox
            .send(Inbox::Committed(Answers { batches, slow }))
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Duration;

    use crossbeam_channel::{Receiver, Sender, bounded};
    use gun_proto::store::Syncer;
    use gun_proto::{Graph, MemoryStore, Store, StoreError, StoreQuery};
    use serde_json::json;

    use crate::{Gun, GunOptions};

    /// A memory store whose flushes wait for the test to let them through.
    struct Gated {
        memory: Arc<Mutex<MemoryStore>>,
        gate: Receiver<()>,
        flushed: Sender<()>,
    }

    impl Store for Gated {
        fn read(&mut self, query: &StoreQuery) -> Result<Graph, StoreError> {
            self.memory
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .read(query)
        }
        fn write(&mut self, batch: &[Graph]) -> Result<(), StoreError> {
            self.apply(batch)
        }
        fn apply(&mut self, batch: &[Graph]) -> Result<(), StoreError> {
            self.memory
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .write(batch)
        }
        fn syncer(&self) -> Option<Syncer> {
            let (gate, flushed) = (self.gate.clone(), self.flushed.clone());
            Some(Box::new(move || {
                let _ = gate.recv();
                let _ = flushed.send(());
                Ok(())
            }))
        }
    }

    #[test]
    fn the_driver_goes_on_while_a_flush_runs_and_puts_settle_after_it() {
        let (open, gate) = bounded(16);
        let (flushed, was_flushed) = bounded(16);
        let store = Gated {
            memory: Arc::default(),
            gate,
            flushed,
        };
        let opts = GunOptions {
            once_wait: Duration::from_millis(10),
            ..GunOptions::default()
        };
        let gun = Gun::start(opts, None, Some(Box::new(store))).expect("start");
        let put = gun.get("a").put(json!({"k": 1}));
        // The flush is held: the put waits, the driver does not.
        let read = gun.get("a").get("k").once_value().wait().expect("once");
        assert_eq!(
            read,
            Some(json!(1)),
            "memory (and the store) serve it meanwhile"
        );
        assert!(was_flushed.try_recv().is_err(), "not flushed yet");
        let _ = open.send(());
        put.wait().expect("the put settles once flushed");
        assert!(was_flushed.recv_timeout(Duration::from_secs(5)).is_ok());
        // Shutdown waits for what is on its way to disk.
        let late = gun.get("b").put(json!({"k": 2}));
        let _ = open.send(());
        late.wait().expect("settled");
        gun.shutdown_blocking().expect("shutdown");
    }
}
