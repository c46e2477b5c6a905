//! Test helpers over `gun_proto::harness`: clusters of engines on a virtual
//! clock (`Sim`), a relay fed raw frames for golden exchanges (`Relay`), and
//! frame decoding helpers.
#![allow(dead_code, unreachable_pub, unused_imports)]

use gun_proto::harness::Node;
use gun_proto::wire::{self, Message};
use gun_proto::{Config, Engine, Event, Graph, Input, Now, Output, PeerId, Role};

pub use gun_proto::harness::{Cluster as Sim, T0, at};

/// A relay engine and raw-frame clients, for golden exchanges.
pub struct Relay {
    pub node: Node,
    pub now: Now,
}

impl Relay {
    pub fn new(seed: u64) -> Self {
        // Ten seconds after T0, so that captured states are in the past.
        let now = at(10_000);
        Self {
            node: Node::new(Config::new(seed), now),
            now,
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.node.engine
    }

    pub fn connect(&mut self, peer: u64) -> Vec<(PeerId, wire::Frame)> {
        self.node
            .input(
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
    pub fn frame(&mut self, peer: u64, frame: &str) -> Vec<(PeerId, wire::Frame)> {
        self.frame_bytes(peer, frame.as_bytes())
    }

    /// Like [`Relay::frame`], for bytes that need not be text.
    pub fn frame_bytes(&mut self, peer: u64, data: &[u8]) -> Vec<(PeerId, wire::Frame)> {
        self.node
            .input(
                self.now,
                Input::Frame {
                    peer: PeerId(peer),
                    data,
                },
            )
            .expect("frame");
        self.drain()
    }

    pub fn drain(&mut self) -> Vec<(PeerId, wire::Frame)> {
        self.node.drain(self.now)
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
                let result = write.clone().map_err(Into::into);
                // The acks made ready with the write are left to the engine.
                let acks_sent = false;
                e.handle_input(
                    now,
                    Input::StoreWritten {
                        id,
                        result,
                        acks_sent,
                    },
                )
                .expect("write");
            }
            Output::Verify { id, check, .. } => {
                let result = check.verify();
                e.handle_input(now, Input::Verified { id, result })
                    .expect("verified");
            }
            Output::Event(ev) => events.push(ev),
            Output::Transmit { frame, .. } => frames.push(frame.to_string()),
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
pub fn messages<F: AsRef<str>>(frames: &[(PeerId, F)]) -> Vec<(PeerId, Message)> {
    let mut out = Vec::new();
    for (p, f) in frames {
        let f = f.as_ref();
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
