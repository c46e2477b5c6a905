//! Engine benchmarks: HAM, frame parse and serialise, merge, puts through a
//! relay engine, and memory per stored property (counted allocations).
//!
//! Run: `cargo bench -p gun-proto --bench engine`

use std::time::Duration;

use divan::{AllocProfiler, Bencher, black_box};
use gun_proto::graph::Graph;
use gun_proto::harness::Node;
use gun_proto::wire::{self, Limits, Message};
use gun_proto::{Config, Input, Now, PeerId, Role, Value, ham};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

const T: f64 = 1_795_541_784_376.0;

fn put_frame(i: u64) -> String {
    format!(
        r##"{{"#":"m{i:08}","put":{{"user/{i}":{{"_":{{"#":"user/{i}",">":{{"name":{T},"age":{T}}}}},"name":"Alice","age":{}}}}}}}"##,
        i % 100
    )
}

#[divan::bench]
fn ham_decide(b: Bencher<'_, '_>) {
    let known = Value::String("Bob".into());
    let incoming = Value::String("Bz".into());
    b.bench(|| {
        ham::decide(
            black_box(T + 10.0),
            black_box(incoming.view()),
            black_box(T),
            Some((known.view(), T)),
        )
    });
}

#[divan::bench]
fn frame_parse(b: Bencher<'_, '_>) {
    let frame = put_frame(7);
    let limits = Limits::default();
    b.counter(divan::counter::BytesCount::new(frame.len()))
        .bench(|| wire::decode(black_box(frame.as_bytes()), &limits));
}

#[divan::bench]
fn frame_serialise(b: Bencher<'_, '_>) {
    let msg = wire::decode(put_frame(7).as_bytes(), &Limits::default())
        .expect("decode")
        .remove(0)
        .expect("valid");
    b.bench(|| black_box(&msg).encode());
}

/// Property puts merged into one graph (HAM per property, all accepted).
#[divan::bench(args = [1_000, 100_000])]
fn merge_props(b: Bencher<'_, '_>, n: u64) {
    let mut diff = Graph::new();
    for i in 0..n {
        diff.insert(
            &format!("s{}", i / 10),
            &format!("k{}", i % 10),
            Value::Number(i as f64),
            T,
        );
    }
    b.counter(divan::counter::ItemsCount::new(n)).bench(|| {
        let mut g = Graph::new();
        g.merge(T + 1.0, black_box(&diff));
        g
    });
}

/// Property puts merged over the same properties already held (each an
/// update that wins by state, its prior value kept for an undo): the path
/// of a write to a node that exists, where [`merge_props`] meets only new
/// nodes.
#[divan::bench(args = [1_000, 100_000])]
fn merge_props_update(b: Bencher<'_, '_>, n: u64) {
    let mut held = Graph::new();
    let mut diff = Graph::new();
    for i in 0..n {
        let (soul, key) = (format!("s{}", i / 10), format!("k{}", i % 10));
        held.insert(&soul, &key, Value::Number(0.0), T - 1.0);
        diff.insert(&soul, &key, Value::Number(i as f64), T);
    }
    b.counter(divan::counter::ItemsCount::new(n))
        .with_inputs(|| held.clone())
        .bench_local_values(|mut g| {
            g.merge(T + 1.0, black_box(&diff));
            g
        });
}

/// Put frames from one peer through a relay engine: decode, HAM, write batch
/// to a memory store, ack. One drain per 1,000 frames (group commit). Each
/// frame names a new soul; the store's souls are listed, so none is read.
#[divan::bench(sample_count = 20)]
fn relay_put_frames(b: Bencher<'_, '_>) {
    let frames: Vec<String> = (0..10_000).map(put_frame).collect();
    b.counter(divan::counter::ItemsCount::new(frames.len()))
        .with_inputs(|| relay_with_peers(1, false))
        .bench_local_values(|node| feed(node, &frames, 1000, PeerId(0)));
}

/// The floor for `relay_put_frames`: the same frames only parsed into a
/// `serde_json::Value`.
#[divan::bench(sample_count = 20)]
fn baseline_value_parse(b: Bencher<'_, '_>) {
    let frames: Vec<String> = (0..10_000).map(put_frame).collect();
    b.counter(divan::counter::ItemsCount::new(frames.len()))
        .bench(|| {
            for f in &frames {
                black_box(serde_json::from_slice::<serde_json::Value>(f.as_bytes()).ok());
            }
        });
}

/// One writer's put frames to a relay with 100 subscribers of the soul:
/// counted in deliveries (frames × 100).
#[divan::bench(sample_count = 10)]
fn fanout_100(b: Bencher<'_, '_>) {
    let frames: Vec<String> = (0..1_000)
        .map(|i| {
            format!(
                r##"{{"#":"f{i:08}","put":{{"room":{{"_":{{"#":"room",">":{{"k{}":{T}}}}},"k{}":"message {i}"}}}}}}"##,
                i % 50,
                i % 50
            )
        })
        .collect();
    b.counter(divan::counter::ItemsCount::new(frames.len() * 100))
        .with_inputs(|| relay_with_peers(101, true))
        .bench_local_values(|node| feed(node, &frames, 100, PeerId(0)));
}

/// A burst of 2,000 put frames, each a new item of the node `room`, to a
/// node whose application maps over `room` (`gun.get('room').map().on()`,
/// as a chat does): counted in puts. Each put should cost what it changed,
/// not the size of the node.
#[divan::bench(sample_count = 10)]
fn map_listener_burst(b: Bencher<'_, '_>) {
    let frames: Vec<String> = (0..2_000)
        .map(|i| {
            format!(
                r##"{{"#":"b{i:08}","put":{{"room":{{"_":{{"#":"room",">":{{"k{i}":{T}}}}},"k{i}":"message {i}"}}}}}}"##
            )
        })
        .collect();
    b.counter(divan::counter::ItemsCount::new(frames.len()))
        .with_inputs(|| {
            let mut node = relay_with_peers(1, false);
            let now = Now::new(Duration::ZERO, T + 1000.0);
            let path = gun_proto::Path::soul("room");
            let call = gun_proto::Call::Map {
                sub: gun_proto::SubId(1),
                path,
            };
            node.input(now, Input::Call(call)).expect("map");
            node.drain(now);
            node
        })
        .bench_local_values(|node| feed(node, &frames, 1, PeerId(0)));
}

/// Feeds `frames` from `peer`, draining after every `turn` of them (one
/// group commit each).
fn feed(mut node: Node, frames: &[String], turn: usize, peer: PeerId) -> Node {
    let now = Now::new(Duration::from_millis(2), T + 1002.0);
    for chunk in frames.chunks(turn) {
        for f in chunk {
            let data = f.as_bytes();
            node.input(now, Input::Frame { peer, data }).expect("frame");
        }
        black_box(node.drain(now));
    }
    node
}

/// A relay engine with `n` served peers (0..n); with `subscribed`, peers
/// 1.. asked for the soul `room`.
fn relay_with_peers(n: u64, subscribed: bool) -> Node {
    let now = Now::new(Duration::ZERO, T + 1000.0);
    let mut node = Node::new(Config::new(1), now);
    node.keep_sent = false;
    // As a relay's store does once its souls are listed (redb, fjall): the
    // store starts empty, so no new soul needs a read.
    node.input(
        now,
        Input::StoreSouls {
            index: gun_proto::store::SoulIndex::with_capacity(0),
        },
    )
    .expect("souls");
    for p in 0..n {
        node.input(
            now,
            Input::Connected {
                peer: PeerId(p),
                role: Role::Accepted,
            },
        )
        .expect("connect");
        if subscribed && p > 0 {
            let get = format!(r##"{{"#":"g{p}","get":{{"#":"room"}}}}"##);
            node.input(
                now,
                Input::Frame {
                    peer: PeerId(p),
                    data: get.as_bytes(),
                },
            )
            .expect("get");
        }
    }
    node.drain(now);
    node
}

/// Memory of a graph holding `n` properties (10 per node): divan's
/// allocation profile divided by `n` is the cost per stored property.
#[divan::bench(args = [100_000], sample_count = 3)]
fn memory_per_property(b: Bencher<'_, '_>, n: u64) {
    b.bench(|| {
        let mut g = Graph::new();
        for i in 0..n {
            g.insert(
                &format!("user/{}", i / 10),
                &format!("k{}", i % 10),
                Value::Number(i as f64),
                T,
            );
        }
        g
    });
}

#[divan::bench]
fn encode_message(b: Bencher<'_, '_>) {
    let mut g = Graph::new();
    g.insert("user/alice", "name", Value::String("Alice".into()), T);
    let m = Message {
        id: Some("abcdefghi".into()),
        put: Some(g),
        ..Message::default()
    };
    b.bench(|| black_box(&m).encode());
}
