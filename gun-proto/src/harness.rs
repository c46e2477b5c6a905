//! An in-process driver of the engine, for tests, simulations, fuzzing,
//! benchmarks and examples (feature `harness`): a [`Node`] is an engine
//! with a memory store whose outputs are carried out at once, and a
//! [`Cluster`] wires nodes with in-memory links on a virtual clock.
//!
//! ```
//! use std::time::Duration;
//! use gun_proto::harness::Cluster;
//! use gun_proto::{Call, Event, Path, ReqId, SubId};
//!
//! let mut net = Cluster::new(3);            // node 0 will be the relay
//! net.connect(1, 0);
//! net.connect(2, 0);
//! net.call(2, Call::On { sub: SubId(1), path: Path::soul("doc").get("title") });
//! net.settle();
//! net.call(1, Call::Put { req: ReqId(1), path: Path::soul("doc"), data: serde_json::json!({"title": "hi"}) });
//! net.run_for(Duration::from_millis(50));
//! assert!(net.take_events(2).iter().any(|e| matches!(e, Event::Update { value, .. } if value == "hi")));
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use crate::graph::Graph;
use crate::ids::{PeerId, WriteId};
use crate::store::{MemoryStore, Store};
use crate::wire::Frame;
use crate::{Call, Config, Engine, Error, Event, Input, Now, Output, Role};

/// The engine's seeded id generator, for workloads that must replay exactly.
pub use crate::ids::Rng;

/// The wall clock at virtual time zero of a [`Cluster`].
pub const T0: f64 = 1_700_000_000_000.0;

/// Virtual time `ms` after zero, on both clocks.
pub fn at(ms: u64) -> Now {
    Now::new(Duration::from_millis(ms), T0 + ms as f64)
}

/// An engine with a memory store; outputs are carried out when drained.
#[derive(Debug)]
pub struct Node {
    /// The engine.
    pub engine: Engine,
    /// Its store.
    pub store: MemoryStore,
    /// Events it delivered, until taken.
    pub events: Vec<Event>,
    /// Hold store writes (and so acks) until [`Node::release_writes`].
    pub hold_writes: bool,
    /// Writes held.
    pub held: Vec<HeldWrite>,
    /// Send the acks made ready with a write once it is stored, as a
    /// driver that commits off its thread does (the default); `false`:
    /// leave them to the engine, as a driver that ignores them does.
    pub send_ready_acks: bool,
    /// Every frame it sent: (to, frame), while `keep_sent` (the default).
    pub sent: Vec<(PeerId, Frame)>,
    /// Whether to keep what it sent in `sent`.
    pub keep_sent: bool,
    /// Signature checks asked for, counted.
    pub verified: u64,
    /// Verify the signed mesh's signatures of one check in this many in
    /// full ([`crate::auth::verify`], a pairing each) and answer the others'
    /// as valid (SEA signatures are always verified): 1 (the default)
    /// verifies all.
    /// Simulations of honest peers sample to stay fast.
    pub verify_every: u64,
    /// The store refuses any write part touching a soul that starts with
    /// one of these (as a disk store refuses what it cannot take).
    pub refuse_souls: Vec<String>,
}

/// A store write held by [`Node::hold_writes`].
#[derive(Debug)]
pub struct HeldWrite {
    /// Its id.
    pub id: WriteId,
    /// What it writes.
    pub batch: std::sync::Arc<[Graph]>,
    /// The acks made ready with it.
    pub acks: Vec<(PeerId, Frame)>,
}

/// The memory store, refusing parts that touch the souls a test names.
struct Refusing<'a> {
    store: &'a mut MemoryStore,
    prefixes: &'a [String],
}

impl Store for Refusing<'_> {
    fn read(&mut self, q: &crate::StoreQuery) -> Result<Graph, crate::StoreError> {
        self.store.read(q)
    }

    fn write(&mut self, batch: &[Graph]) -> Result<(), crate::StoreError> {
        let refused = batch
            .iter()
            .flat_map(Graph::souls)
            .any(|s| self.prefixes.iter().any(|p| s.starts_with(p.as_str())));
        if refused {
            return Err(crate::StoreError::new("the store cannot take this soul"));
        }
        self.store.write(batch)
    }
}

impl Node {
    /// A node with `cfg`, its clock at `now`.
    pub fn new(cfg: Config, now: Now) -> Self {
        Self {
            engine: Engine::new(cfg, now),
            store: MemoryStore::new(),
            events: Vec::new(),
            hold_writes: false,
            held: Vec::new(),
            send_ready_acks: true,
            sent: Vec::new(),
            keep_sent: true,
            verified: 0,
            verify_every: 1,
            refuse_souls: Vec::new(),
        }
    }

    /// Writes a batch through the store (and its refusals), part by part
    /// when it refuses some.
    fn commit(&mut self, batch: &[Graph]) -> Result<(), crate::WriteFailure> {
        let mut store = Refusing {
            store: &mut self.store,
            prefixes: &self.refuse_souls,
        };
        crate::store::commit(&mut store, batch)
    }

    /// Feeds an input (drain afterwards).
    pub fn input(&mut self, now: Now, input: Input<'_>) -> Result<(), Error> {
        self.engine.handle_input(now, input)
    }

    /// Feeds a frame from `peer` and returns the frames sent in response.
    pub fn frame(&mut self, now: Now, peer: PeerId, data: &[u8]) -> Vec<(PeerId, Frame)> {
        if self.input(now, Input::Frame { peer, data }).is_err() {
            return Vec::new();
        }
        self.drain(now)
    }

    /// Runs the timers due at `now`; returns the frames sent.
    pub fn tick(&mut self, now: Now) -> Vec<(PeerId, Frame)> {
        if self.engine.poll_timeout().is_some_and(|t| t <= now.mono) {
            self.engine.handle_timeout(now);
        }
        self.drain(now)
    }

    /// Carries out every output: reads and writes against the memory store
    /// (writes held when `hold_writes`), signatures verified in full, events
    /// kept. Returns the frames to transmit (also kept in `sent`).
    pub fn drain(&mut self, now: Now) -> Vec<(PeerId, Frame)> {
        let mut frames = Vec::new();
        while let Some(out) = self.engine.poll_output() {
            match out {
                Output::Transmit { peer, frame } => self.transmit(peer, frame, &mut frames),
                Output::StoreRead { id, query } => {
                    let result = self.store.read(&query);
                    self.answer(now, Input::StoreRead { id, result });
                }
                Output::StoreWrite { id, batch, acks } => {
                    let write = HeldWrite { id, batch, acks };
                    if self.hold_writes {
                        self.held.push(write);
                    } else {
                        self.write(now, write, &mut frames);
                    }
                }
                Output::Verify { id, check, .. } => {
                    self.verified += 1;
                    // SEA signatures always; the mesh's one in `verify_every`.
                    let result = if self.verified.is_multiple_of(self.verify_every.max(1)) {
                        check.verify()
                    } else {
                        check.verify_sea()
                    };
                    self.answer(now, Input::Verified { id, result });
                }
                Output::Event(e) => self.events.push(e),
            }
        }
        frames
    }

    /// Writes what was held; returns the frames sent (the acks).
    pub fn release_writes(&mut self, now: Now) -> Vec<(PeerId, Frame)> {
        let mut frames = Vec::new();
        for write in std::mem::take(&mut self.held) {
            self.write(now, write, &mut frames);
        }
        frames.extend(self.drain(now));
        frames
    }

    /// Carries out a write; its ready acks go out (into `frames`) if it is
    /// stored whole and `send_ready_acks` holds.
    fn write(&mut self, now: Now, write: HeldWrite, frames: &mut Vec<(PeerId, Frame)>) {
        let HeldWrite { id, batch, acks } = write;
        let result = self.commit(&batch);
        let acks_sent = result.is_ok() && self.send_ready_acks;
        if acks_sent {
            for (peer, frame) in acks {
                self.transmit(peer, frame, frames);
            }
        }
        self.answer(
            now,
            Input::StoreWritten {
                id,
                result,
                acks_sent,
            },
        );
    }

    fn transmit(&mut self, peer: PeerId, frame: Frame, frames: &mut Vec<(PeerId, Frame)>) {
        if self.keep_sent {
            self.sent.push((peer, frame.clone()));
        }
        frames.push((peer, frame));
    }

    fn answer(&mut self, now: Now, input: Input<'_>) {
        if let Err(e) = self.engine.handle_input(now, input) {
            // The engine asked for this itself: refusing it is a bug.
            panic!("the engine refused the answer to its own request: {e}");
        }
    }

    /// The events delivered so far, taken.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}

/// Nodes wired by in-memory links on a virtual clock. Node `i` reaches node
/// `j` as `PeerId(j)`; a frame takes `latency` to arrive.
#[derive(Debug)]
pub struct Cluster {
    /// The virtual time.
    pub now: Now,
    /// The nodes.
    pub nodes: Vec<Node>,
    /// How long a frame takes.
    pub latency: Duration,
    inflight: BTreeMap<(Duration, u64), (usize, PeerId, Frame)>,
    seq: u64,
}

impl Cluster {
    /// `n` nodes with default configurations (seeds 1, 2, …).
    pub fn new(n: usize) -> Self {
        Self::with_configs((0..n).map(|i| Config::new(i as u64 + 1)).collect())
    }

    /// A node per configuration.
    pub fn with_configs(configs: Vec<Config>) -> Self {
        let now = at(0);
        Self {
            now,
            nodes: configs.into_iter().map(|c| Node::new(c, now)).collect(),
            latency: Duration::from_millis(1),
            inflight: BTreeMap::new(),
            seq: 0,
        }
    }

    /// `client` dials `relay`.
    pub fn connect(&mut self, client: usize, relay: usize) {
        self.input(
            relay,
            Input::Connected {
                peer: PeerId(client as u64),
                role: Role::Accepted,
            },
        );
        self.input(
            client,
            Input::Connected {
                peer: PeerId(relay as u64),
                role: Role::Dialed,
            },
        );
        self.drain_all();
    }

    /// The link between `a` and `b` closes; frames on it are lost.
    pub fn disconnect(&mut self, a: usize, b: usize) {
        self.input(
            a,
            Input::Disconnected {
                peer: PeerId(b as u64),
            },
        );
        self.input(
            b,
            Input::Disconnected {
                peer: PeerId(a as u64),
            },
        );
        self.inflight.retain(|_, (to, from, _)| {
            !((*to == a && from.0 == b as u64) || (*to == b && from.0 == a as u64))
        });
        self.drain_all();
    }

    /// Node `node` is called by its application.
    pub fn call(&mut self, node: usize, call: Call) {
        self.input(node, Input::Call(call));
        self.drain(node);
    }

    fn input(&mut self, node: usize, input: Input<'_>) {
        let now = self.now;
        if let Err(e) = self.nodes[node].input(now, input) {
            panic!("node {node} refused an input: {e}");
        }
    }

    /// Drains every node.
    pub fn drain_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.drain(i);
        }
    }

    /// Drains node `i`, putting its frames on the links.
    pub fn drain(&mut self, i: usize) {
        let now = self.now;
        for (peer, frame) in self.nodes[i].drain(now) {
            self.seq += 1;
            self.inflight.insert(
                (now.mono + self.latency, self.seq),
                (peer.0 as usize, PeerId(i as u64), frame),
            );
        }
    }

    /// Writes what node `i` held, and sends its acks.
    pub fn release_writes(&mut self, i: usize) {
        let now = self.now;
        let frames = self.nodes[i].release_writes(now);
        for (peer, frame) in frames {
            self.seq += 1;
            self.inflight.insert(
                (now.mono + self.latency, self.seq),
                (peer.0 as usize, PeerId(i as u64), frame),
            );
        }
    }

    fn next_deadline(&self) -> Option<Duration> {
        let frame = self.inflight.keys().next().map(|k| k.0);
        let timer = self
            .nodes
            .iter()
            .filter_map(|n| n.engine.poll_timeout())
            .min();
        match (frame, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn set_time(&mut self, mono: Duration) {
        if mono > self.now.mono {
            let d = mono - self.now.mono;
            self.now = self.now.after(d);
        }
    }

    /// Runs frames and timers up to `until` (virtual), earliest first.
    ///
    /// # Panics
    /// After a million steps without reaching `until`: a livelock.
    pub fn run_until(&mut self, until: Duration) {
        let mut steps = 0;
        while let Some(t) = self.next_deadline() {
            if t > until {
                break;
            }
            steps += 1;
            assert!(steps < 1_000_000, "no quiescence: livelock?");
            self.set_time(t);
            let now = self.now;
            if let Some(entry) = self.inflight.first_entry()
                && entry.key().0 <= now.mono
            {
                let (to, from, frame) = entry.remove();
                let input = Input::Frame {
                    peer: from,
                    data: frame.as_bytes(),
                };
                if self.nodes[to].input(now, input).is_ok() {
                    self.drain(to);
                }
                continue;
            }
            for i in 0..self.nodes.len() {
                if self.nodes[i]
                    .engine
                    .poll_timeout()
                    .is_some_and(|d| d <= now.mono)
                {
                    self.nodes[i].engine.handle_timeout(now);
                    self.drain(i);
                }
            }
        }
        self.set_time(until);
    }

    /// Runs until no frame is in flight (timers far off may remain).
    pub fn settle(&mut self) {
        let mut steps = 0;
        while let Some(t) = self.inflight.keys().next().map(|k| k.0) {
            steps += 1;
            assert!(steps < 1_000_000, "no quiescence: livelock?");
            self.run_until(t);
        }
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now.mono + d;
        self.run_until(until);
    }

    /// Node `i`'s events so far, taken.
    pub fn take_events(&mut self, i: usize) -> Vec<Event> {
        self.nodes[i].take_events()
    }
}
