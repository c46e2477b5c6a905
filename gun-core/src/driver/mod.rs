//! The driver thread: owns the engine and the store, runs the loop, carries
//! out outputs, and hands callbacks to the dispatcher thread.
//!
//! Transports (WebSocket client and server, in each `gun-io-*` crate) talk to
//! it through [`crate::transport::Transport`].

mod calls;
pub(crate) mod command;
mod commit;
mod inflow;
mod souls;
mod verify;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use gun_proto::{Config, Engine, Input, Now, Output, PeerId, ReqId, SubId};
use tracing::{debug, warn};

use calls::Pending;
use command::{Callback, Inbox, OnceAnswer};
use verify::Verifier;

use crate::completion::Completer;
use crate::error::{GunError, GunResult};
use crate::metrics::Dropped;
use crate::store::BoxStore;
use crate::transport::rtc::RtcWake;
use crate::transport::{DriverEvent, Link, Queued, Shared};

/// The engine's loop, run on its own thread.
pub(crate) struct Driver {
    engine: Engine,
    store: Option<BoxStore>,
    start: Instant,
    links: BTreeMap<PeerId, Link>,
    /// Peers whose sockets are not read now: the engine said they are
    /// backlogged.
    paused: BTreeSet<PeerId>,
    /// Frames waiting to be fed, served a frame per peer in turn.
    inflow: inflow::Inflow,
    /// Peers whose connection closed with frames still waiting.
    closing: BTreeSet<PeerId>,
    verifier: Verifier,
    /// The commit thread, for a store that flushes apart from applying.
    committer: Option<commit::Committer>,
    /// The store's souls being listed, for the engine.
    listing: Option<souls::Listing>,
    next_req: u64,
    puts: HashMap<ReqId, Pending>,
    onces: HashMap<ReqId, Completer<OnceAnswer>>,
    listeners: HashMap<SubId, Callback>,
    /// Listeners by the place they listen at (soul, then keys), for `off`.
    listeners_at: HashMap<Vec<String>, Vec<SubId>>,
    conn_waiters: Vec<(Instant, Completer<bool>)>,
    dispatch: Sender<Box<dyn FnOnce() + Send>>,
    shared: Arc<Shared>,
    /// The WebRTC loop's sink, once one attached.
    rtc: Option<crate::transport::rtc::RtcSink>,
}

/// Longest a shutdown waits for writes on their way to disk.
const STOP_COMMITS: Duration = Duration::from_secs(30);
/// Most events taken in one turn before the outputs are drained.
const TURN: usize = 4096;
/// How soon paused peers are looked at again when nothing else happens
/// (their message rate refills with time).
const PAUSE_CHECK: Duration = Duration::from_millis(10);
/// Longest a turn feeds frames before the outputs are drained: what one
/// peer's frames can delay another's ack by, besides the store's flush.
const TURN_TIME: Duration = Duration::from_millis(2);

impl Driver {
    pub(crate) fn new(
        mut cfg: Config,
        store: Option<BoxStore>,
        dispatch: Sender<Box<dyn FnOnce() + Send>>,
        shared: Arc<Shared>,
        inbox: Sender<Inbox>,
    ) -> std::io::Result<Self> {
        cfg.store = store.is_some();
        let committer = match store.as_ref().and_then(|s| s.syncer()) {
            Some(sync) => Some(commit::Committer::start(
                sync,
                inbox.clone(),
                shared.clone(),
            )?),
            None => None,
        };
        let listing = match store.as_ref().and_then(|s| s.soul_lister()) {
            Some(lister) => Some(souls::Listing::start(lister, inbox.clone())?),
            None => None,
        };
        let start = Instant::now();
        let engine = Engine::new(cfg, now_at(start));
        shared.metrics.started(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        );
        Ok(Self {
            engine,
            store,
            start,
            links: BTreeMap::new(),
            paused: BTreeSet::new(),
            inflow: inflow::Inflow::default(),
            closing: BTreeSet::new(),
            verifier: Verifier::start(inbox, shared.quotas.verify_share)?,
            committer,
            listing,
            next_req: 0,
            puts: HashMap::new(),
            onces: HashMap::new(),
            listeners: HashMap::new(),
            listeners_at: HashMap::new(),
            conn_waiters: Vec::new(),
            dispatch,
            shared,
            rtc: None,
        })
    }

    fn now(&self) -> Now {
        now_at(self.start)
    }

    /// The engine's pid.
    pub(crate) fn pid(&self) -> &str {
        self.engine.pid()
    }

    /// Runs until shut down or every sender is gone.
    pub(crate) fn run(mut self, rx: &Receiver<Inbox>) {
        loop {
            // Frames already waiting: look at the inbox without waiting.
            let deadline = if self.inflow.ready(|p| self.paused.contains(&p)) {
                Some(Instant::now())
            } else {
                self.deadline()
            };
            let first = match deadline {
                Some(d) => rx.recv_deadline(d),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match first {
                Ok(ev) => {
                    // Take what else is waiting: one drain (one store write,
                    // one batch of signature checks) for all.
                    let turn: Vec<Inbox> = std::iter::once(ev)
                        .chain(rx.try_iter().take(TURN))
                        .collect();
                    for ev in turn {
                        if let Some(done) = self.feed(ev) {
                            self.feed_frames(None);
                            self.drain();
                            return self.stop(done, rx);
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.feed_frames(None);
                    self.drain();
                    if let Some(c) = &mut self.committer {
                        c.finish();
                    }
                    return;
                }
            }
            self.feed_frames(Some(TURN_TIME));
            let now = self.now();
            if self.engine.poll_timeout().is_some_and(|t| t <= now.mono) {
                self.engine.handle_timeout(now);
            }
            self.expire_conn_waiters();
            self.drain();
            self.resume_readers();
            self.shared.metrics.publish(self.engine.stats());
        }
    }

    fn deadline(&self) -> Option<Instant> {
        let engine = self.engine.poll_timeout().map(|d| self.start + d);
        let waiters = self.conn_waiters.iter().map(|(d, _)| *d).min();
        let paused = (!self.paused.is_empty()).then(|| Instant::now() + PAUSE_CHECK);
        [engine, waiters, paused].into_iter().flatten().min()
    }

    /// Reads again the sockets of paused peers that are no longer backlogged.
    fn resume_readers(&mut self) {
        if self.paused.is_empty() {
            return;
        }
        let now = self.now();
        let ready: Vec<PeerId> = self
            .paused
            .iter()
            .copied()
            .filter(|p| !self.engine.backlogged(now, *p))
            .collect();
        for peer in ready {
            self.paused.remove(&peer);
            if let Some(link) = self.links.get(&peer) {
                link.pause(false);
            }
        }
    }

    /// Drops a peer: its connection is closed at once, nothing more read
    /// or sent, and the engine forgets it.
    fn drop_peer(&mut self, peer: PeerId, why: Dropped) {
        let Some(link) = self.links.remove(&peer) else {
            return;
        };
        warn!(
            ?peer,
            reason = why.as_str(),
            queued = link.queued(),
            "dropping peer"
        );
        link.kill(why);
        for data in self.inflow.take(peer) {
            link.handled(data.len());
        }
        self.shared.metrics.drop_peer(why);
        self.paused.remove(&peer);
        self.closing.remove(&peer);
        self.shared
            .connected
            .store(self.links.len(), Ordering::Release);
        let _ = self.input(Input::Disconnected { peer });
    }

    /// Keeps what all peers' outbound queues hold under its share of the
    /// ceiling: past it, the peer with the most waiting is dropped.
    fn bound_outbound(&mut self) {
        let cap = self.shared.quotas.max_queued_bytes / 2;
        while self.shared.totals.outbound.load(Ordering::Acquire) > cap {
            let Some((&peer, _)) = self.links.iter().max_by_key(|(_, l)| l.queued()) else {
                return;
            };
            self.drop_peer(peer, Dropped::Memory);
        }
    }

    /// Carries out the engine's write `id`: applied here and made durable
    /// on the commit thread (which sends the `acks` made ready with it), or
    /// written here when the store has no syncer (the engine acks).
    fn write(
        &mut self,
        id: gun_proto::WriteId,
        batch: &[gun_proto::Graph],
        acks: Vec<(PeerId, gun_proto::wire::Frame)>,
    ) {
        match (&mut self.store, &mut self.committer) {
            (Some(s), Some(c)) => {
                let result = gun_proto::store::stage(s.as_mut(), batch);
                // A peer gone since has no link: its ack goes nowhere, as
                // the engine's would.
                let links = &self.links;
                let acks = acks
                    .into_iter()
                    .filter_map(|(peer, frame)| Some((peer, links.get(&peer)?.clone(), frame)))
                    .collect();
                c.commit(commit::Applied { id, result, acks });
            }
            (store, _) => {
                let began = Instant::now();
                let result = match store {
                    Some(s) => gun_proto::store::commit(s.as_mut(), batch),
                    None => Ok(()),
                };
                self.shared
                    .metrics
                    .commit_seconds
                    .observe(began.elapsed().as_secs_f64());
                let _ = self.input(Input::StoreWritten {
                    id,
                    result,
                    acks_sent: false,
                });
            }
        }
    }

    fn input(&mut self, input: Input<'_>) -> GunResult<()> {
        let now = self.now();
        self.engine.handle_input(now, input).map_err(GunError::from)
    }

    fn req(&mut self) -> ReqId {
        self.next_req += 1;
        ReqId(self.next_req)
    }

    /// Feeds one event; returns the completer if it was a shutdown.
    fn feed(&mut self, ev: Inbox) -> Option<Completer<()>> {
        let ev = match ev {
            Inbox::Transport(ev) => ev,
            Inbox::Command(cmd) => return self.command(cmd),
            Inbox::Verified(results) => {
                for (id, result) in results {
                    let _ = self.input(Input::Verified { id, result });
                }
                return None;
            }
            Inbox::Souls(listed) => {
                if let Some(index) = self.listing.take().and_then(|l| l.finish(listed)) {
                    let _ = self.input(Input::StoreSouls { index });
                }
                return None;
            }
            Inbox::Committed(answers) => {
                if let Some(c) = &mut self.committer {
                    c.answered(answers.batches.len());
                }
                for commit::Committed {
                    id,
                    result,
                    acks_sent,
                } in answers.batches
                {
                    let _ = self.input(Input::StoreWritten {
                        id,
                        result,
                        acks_sent,
                    });
                }
                // An ack found its peer's queue full: it does not read.
                for peer in answers.slow {
                    self.drop_peer(peer, Dropped::SlowReader);
                }
                return None;
            }
        };
        match ev {
            DriverEvent::Connected { peer, role, link } => {
                self.links.insert(peer, link);
                self.shared
                    .connected
                    .store(self.links.len(), Ordering::Release);
                if let Err(e) = self.input(Input::Connected { peer, role }) {
                    warn!(error = %e, "connect refused by the engine");
                }
                for (_, done) in self.conn_waiters.drain(..) {
                    done.complete(Ok(true));
                }
            }
            DriverEvent::Disconnected { peer } => {
                // What it sent before it left is taken first, in its turn:
                // it leaves once that is fed.
                if self.inflow.has(peer) {
                    self.closing.insert(peer);
                } else {
                    self.disconnected(peer);
                }
            }
            DriverEvent::Frame { peer, data } => self.frame_in(peer, data),
            DriverEvent::Frames { peer, frames } => {
                for data in frames {
                    self.frame_in(peer, data);
                }
            }
        }
        None
    }

    /// A frame of `peer` arrived: it waits its turn to be fed.
    fn frame_in(&mut self, peer: PeerId, data: Vec<u8>) {
        if self.links.contains_key(&peer) {
            self.inflow.push(peer, data);
        } else {
            // A dropped peer's last frames: their room is free.
            Link::discarded(&self.shared, data.len());
        }
    }

    /// Feeds waiting frames, a frame of each peer in turn (paused peers'
    /// wait), for at most `budget` (`None`: all of them).
    fn feed_frames(&mut self, budget: Option<Duration>) {
        let began = Instant::now();
        let mut fed = 0;
        while let Some((peer, data)) = {
            let paused = &self.paused;
            self.inflow
                .next(|p| budget.is_some() && paused.contains(&p))
        } {
            self.feed_frame(peer, &data);
            if self.closing.contains(&peer) && !self.inflow.has(peer) {
                self.disconnected(peer);
            }
            fed += 1;
            if budget.is_some_and(|b| fed >= TURN || began.elapsed() >= b) {
                break;
            }
        }
    }

    /// A peer's connection closed and every frame it sent was fed.
    fn disconnected(&mut self, peer: PeerId) {
        self.paused.remove(&peer);
        self.closing.remove(&peer);
        if self.links.remove(&peer).is_some() {
            self.shared
                .connected
                .store(self.links.len(), Ordering::Release);
            let _ = self.input(Input::Disconnected { peer });
        }
    }

    /// Feeds one frame; a peer the engine then calls backlogged is paused.
    fn feed_frame(&mut self, peer: PeerId, data: &[u8]) {
        let Some(link) = self.links.get(&peer) else {
            return;
        };
        link.handled(data.len());
        let _ = self.input(Input::Frame { peer, data });
        let now = self.now();
        if self.engine.backlogged(now, peer)
            && let Some(link) = self.links.get(&peer)
        {
            link.pause(true);
            self.paused.insert(peer);
        }
    }

    fn expire_conn_waiters(&mut self) {
        let now = Instant::now();
        let (due, keep): (Vec<_>, Vec<_>) =
            self.conn_waiters.drain(..).partition(|(d, _)| *d <= now);
        self.conn_waiters = keep;
        for (_, done) in due {
            done.complete(Ok(false));
        }
    }

    /// Carries out every output of the engine. The signature checks it asks
    /// for go to the verification thread together, once it has nothing
    /// else to say; their answers come back through the inbox.
    fn drain(&mut self) {
        let mut checks = Vec::new();
        let mut full = Vec::new();
        while let Some(out) = self.engine.poll_output() {
            match out {
                Output::Transmit { peer, frame } => {
                    if let Some(link) = self.links.get(&peer) {
                        match link.send(frame) {
                            Queued::Yes => {}
                            Queued::Full => full.push(peer),
                            Queued::Gone => debug!(?peer, "link gone while sending"),
                        }
                    }
                }
                Output::StoreRead { id, query } => {
                    let result = match &mut self.store {
                        Some(s) => s.read(&query),
                        None => Ok(gun_proto::Graph::new()),
                    };
                    let _ = self.input(Input::StoreRead { id, result });
                }
                Output::StoreWrite { id, batch, acks } => {
                    if let Some(l) = &mut self.listing {
                        l.wrote(&batch);
                    }
                    self.write(id, &batch, acks);
                }
                Output::Verify { id, peer, check } => checks.push((id, peer, check)),
                Output::Event(ev) => self.event(ev),
            }
            // A peer that does not read what it is sent is dropped.
            for peer in full.drain(..) {
                self.drop_peer(peer, Dropped::SlowReader);
            }
        }
        if !checks.is_empty() {
            self.verifier.check(checks);
        }
        self.bound_outbound();
    }

    /// Hands the WebRTC loop signalling (dropped when none is attached).
    fn hand_rtc(&mut self, wake: RtcWake) {
        if let Some(sink) = &self.rtc
            && !sink(wake)
        {
            self.rtc = None;
        }
    }

    fn dispatch(&self, f: impl FnOnce() + Send + 'static) {
        let _ = self.dispatch.send(Box::new(f));
    }

    fn stop(mut self, done: Completer<()>, rx: &Receiver<Inbox>) {
        self.shared.set_stopping();
        self.drain();
        // Writes on their way to disk: wait for them (their puts are then
        // acked or settled) before the links close. Anything else that
        // arrives now is dropped: the instance is stopping.
        let deadline = Instant::now() + STOP_COMMITS;
        while self.committer.as_ref().is_some_and(|c| c.pending > 0) {
            match rx.recv_deadline(deadline) {
                Ok(ev @ Inbox::Committed(_)) => {
                    let _ = self.feed(ev);
                    self.drain();
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if let Some(c) = &mut self.committer {
            c.finish();
        }
        for (_, link) in std::mem::take(&mut self.links) {
            link.close();
        }
        let hooks = std::mem::take(
            &mut *self
                .shared
                .stop_hooks
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for hook in hooks {
            hook();
        }
        self.shared.connected.store(0, Ordering::Release);
        // The soul listing holds a handle on the store: stop it first.
        drop(self.listing.take());
        // Dropping the store closes it (every write was made durable already).
        drop(self.store.take());
        // Pending calls fail with "shut down" as their completers drop.
        self.dispatch(move || done.complete(Ok(())));
    }
}

fn now_at(start: Instant) -> Now {
    #[allow(clippy::cast_precision_loss)]
    // Sub-millisecond: states from one peer within a millisecond are
    // `t + n/999`, and must not look like the future to another.
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_micros() as f64 / 1000.0);
    Now::new(start.elapsed(), unix_ms)
}
