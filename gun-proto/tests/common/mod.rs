//! Test harness: engines wired by in-memory links on a virtual clock.
//!
//! Node `i` reaches node `j` as `PeerId(j)`; frames take `latency` to arrive.
//! Store reads are answered at once from each node's `MemoryStore`; writes too,
//! unless `hold_writes` is set, in which case they wait for `release_writes`.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::time::Duration;

use gun_proto::wire::{self, Message};
use gun_proto::{
    Call, Config, Engine, Event, Graph, Input, MemoryStore, Now, Output, PeerId, Role, Store,
    WriteId,
};

/// The wall clock at virtual time zero.
pub const T0: f64 = 1_700_000_000_000.0;

pub fn at(ms: u64) -> Now {
    Now::new(Duration::from_millis(ms), T0 + ms as f64)
}

pub struct SimNode {
    pub engine: Engine,
    pub store: MemoryStore,
    pub events: Vec<Event>,
    pub hold_writes: bool,
    pub held: Vec<(WriteId, Graph)>,
    /// Every frame this node sent: (to, frame).
    pub sent: Vec<(PeerId, String)>,
}

pub struct Sim {
    pub now: Now,
    pub nodes: Vec<SimNode>,
    pub latency: Duration,
    inflight: BTreeMap<(Duration, u64), (usize, PeerId, String)>,
    seq: u64,
}

impl Sim {
    pub fn new(n: usize) -> Self {
        let now = at(0);
        let nodes = (0..n)
            .map(|i| SimNode {
                engine: Engine::new(Config::new(i as u64 + 1), now),
                store: MemoryStore::new(),
                events: Vec::new(),
                hold_writes: false,
                held: Vec::new(),
                sent: Vec::new(),
            })
            .collect();
        Self {
            now,
            nodes,
            latency: Duration::from_millis(1),
            inflight: BTreeMap::new(),
            seq: 0,
        }
    }

    pub fn with_config(configs: Vec<Config>) -> Self {
        let mut sim = Self::new(0);
        for cfg in configs {
            sim.nodes.push(SimNode {
                engine: Engine::new(cfg, sim.now),
                store: MemoryStore::new(),
                events: Vec::new(),
                hold_writes: false,
                held: Vec::new(),
                sent: Vec::new(),
            });
        }
        sim
    }

    /// `client` dials `relay`.
    pub fn connect(&mut self, client: usize, relay: usize) {
        let now = self.now;
        self.nodes[relay]
            .engine
            .handle_input(
                now,
                Input::Connected {
                    peer: PeerId(client as u64),
                    role: Role::Accepted,
                },
            )
            .expect("connect");
        self.nodes[client]
            .engine
            .handle_input(
                now,
                Input::Connected {
                    peer: PeerId(relay as u64),
                    role: Role::Dialed,
                },
            )
            .expect("connect");
        self.drain_all();
    }

    pub fn disconnect(&mut self, a: usize, b: usize) {
        let now = self.now;
        self.nodes[a]
            .engine
            .handle_input(
                now,
                Input::Disconnected {
                    peer: PeerId(b as u64),
                },
            )
            .expect("disconnect");
        self.nodes[b]
            .engine
            .handle_input(
                now,
                Input::Disconnected {
                    peer: PeerId(a as u64),
                },
            )
            .expect("disconnect");
        self.inflight.retain(|_, (to, from, _)| {
            !((*to == a && from.0 == b as u64) || (*to == b && from.0 == a as u64))
        });
        self.drain_all();
    }

    pub fn call(&mut self, node: usize, call: Call) {
        let now = self.now;
        self.nodes[node]
            .engine
            .handle_input(now, Input::Call(call))
            .expect("call");
        self.drain(node);
    }

    pub fn drain_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.drain(i);
        }
    }

    pub fn drain(&mut self, i: usize) {
        let now = self.now;
        while let Some(out) = self.nodes[i].engine.poll_output() {
            match out {
                Output::Transmit { peer, frame } => {
                    self.seq += 1;
                    self.nodes[i].sent.push((peer, frame.clone()));
                    self.inflight.insert(
                        (now.mono + self.latency, self.seq),
                        (peer.0 as usize, PeerId(i as u64), frame),
                    );
                }
                Output::StoreRead { id, query } => {
                    let result = self.nodes[i].store.read(&query);
                    self.nodes[i]
                        .engine
                        .handle_input(now, Input::StoreRead { id, result })
                        .expect("read");
                }
                Output::StoreWrite { id, batch } => {
                    let node = &mut self.nodes[i];
                    if node.hold_writes {
                        node.held.push((id, batch));
                    } else {
                        let result = node.store.write(&batch);
                        node.engine
                            .handle_input(now, Input::StoreWritten { id, result })
                            .expect("write");
                    }
                }
                Output::Event(e) => self.nodes[i].events.push(e),
            }
        }
    }

    pub fn release_writes(&mut self, i: usize) {
        let now = self.now;
        for (id, batch) in std::mem::take(&mut self.nodes[i].held) {
            let result = self.nodes[i].store.write(&batch);
            self.nodes[i]
                .engine
                .handle_input(now, Input::StoreWritten { id, result })
                .expect("write");
        }
        self.drain(i);
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
                if self.nodes[to]
                    .engine
                    .handle_input(
                        now,
                        Input::Frame {
                            peer: from,
                            data: frame.as_bytes(),
                        },
                    )
                    .is_ok()
                {
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

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now.mono + d;
        self.run_until(until);
    }

    pub fn take_events(&mut self, i: usize) -> Vec<Event> {
        std::mem::take(&mut self.nodes[i].events)
    }
}

/// A relay engine and raw-frame clients, for golden exchanges.
pub struct Relay {
    pub engine: Engine,
    pub store: MemoryStore,
    pub now: Now,
}

impl Relay {
    pub fn new(seed: u64) -> Self {
        // Ten seconds after T0, so that captured states are in the past.
        let now = at(10_000);
        Self {
            engine: Engine::new(Config::new(seed), now),
            store: MemoryStore::new(),
            now,
        }
    }

    pub fn connect(&mut self, peer: u64) -> Vec<(PeerId, String)> {
        self.engine
            .handle_input(
                self.now,
                Input::Connected {
                    peer: PeerId(peer),
                    role: Role::Accepted,
                },
            )
            .expect("connect");
        self.drain()
    }

    /// Feeds a frame from `peer` and returns every frame sent in response.
    pub fn frame(&mut self, peer: u64, frame: &str) -> Vec<(PeerId, String)> {
        self.frame_bytes(peer, frame.as_bytes())
    }

    /// Like [`Relay::frame`], for bytes that need not be text.
    pub fn frame_bytes(&mut self, peer: u64, data: &[u8]) -> Vec<(PeerId, String)> {
        self.engine
            .handle_input(
                self.now,
                Input::Frame {
                    peer: PeerId(peer),
                    data,
                },
            )
            .expect("frame");
        self.drain()
    }

    pub fn drain(&mut self) -> Vec<(PeerId, String)> {
        let mut sent = Vec::new();
        while let Some(out) = self.engine.poll_output() {
            match out {
                Output::Transmit { peer, frame } => sent.push((peer, frame)),
                Output::StoreRead { id, query } => {
                    let result = self.store.read(&query);
                    self.engine
                        .handle_input(self.now, Input::StoreRead { id, result })
                        .expect("read");
                }
                Output::StoreWrite { id, batch } => {
                    let result = self.store.write(&batch);
                    self.engine
                        .handle_input(self.now, Input::StoreWritten { id, result })
                        .expect("write");
                }
                Output::Event(_) => {}
            }
        }
        sent
    }
}

/// Drains a lone engine: reads find nothing, writes get `write`'s result.
/// Returns the events and the frames it sent.
pub fn drive(
    e: &mut Engine,
    now: Now,
    write: &Result<(), gun_proto::StoreError>,
) -> (Vec<Event>, Vec<String>) {
    let (mut events, mut frames) = (Vec::new(), Vec::new());
    while let Some(out) = e.poll_output() {
        match out {
            Output::StoreRead { id, .. } => {
                let result = Ok(Graph::default());
                e.handle_input(now, Input::StoreRead { id, result })
                    .expect("read");
            }
            Output::StoreWrite { id, .. } => {
                let result = write.clone();
                e.handle_input(now, Input::StoreWritten { id, result })
                    .expect("write");
            }
            Output::Event(ev) => events.push(ev),
            Output::Transmit { frame, .. } => frames.push(frame),
        }
    }
    (events, frames)
}

/// The keys of node `soul` in the first reply's `put`.
pub fn reply_keys(out: &[(PeerId, Message)], soul: &str) -> Vec<String> {
    let put = out[0].1.put.as_ref().expect("data");
    put.node(soul)
        .expect("node")
        .iter()
        .map(|(k, _)| k.to_owned())
        .collect()
}

/// Every message in the frames, decoded.
pub fn messages(frames: &[(PeerId, String)]) -> Vec<(PeerId, Message)> {
    let mut out = Vec::new();
    for (p, f) in frames {
        for m in wire::decode(f.as_bytes(), &wire::Limits::default()).expect("our frames decode") {
            out.push((*p, m.expect("our messages are valid")));
        }
    }
    out
}

/// Parses one message from text (test data).
pub fn msg(text: &str) -> Message {
    let mut d = wire::decode(text.as_bytes(), &wire::Limits::default()).expect("decode");
    d.remove(0).expect("valid")
}
