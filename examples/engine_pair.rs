//! The engine with no I/O at all: a relay and two clients, each an engine
//! with a memory store, wired by in-memory links on a virtual clock
//! (`gun_proto::harness`, the same driver the tests and the simulator use).
//! Bob listens, Alice puts, the relay stores and acks, Bob sees it.
//!
//! Run: `cargo run --example engine_pair`
use std::time::Duration;

use gun_proto::harness::Cluster;
use gun_proto::{Call, Event, Path, ReqId, SubId};

fn main() {
    let mut net = Cluster::new(3); // 0: the relay, 1: alice, 2: bob
    net.connect(1, 0);
    net.connect(2, 0);
    net.call(
        2,
        Call::On {
            sub: SubId(1),
            path: Path::soul("user/alice").get("name"),
        },
    );
    net.settle();
    net.call(
        1,
        Call::Put {
            req: ReqId(1),
            path: Path::soul("user/alice"),
            data: serde_json::json!({"name": "Alice"}),
        },
    );
    net.run_for(Duration::from_millis(50));

    for (i, node) in net.nodes.iter().enumerate() {
        for (to, frame) in &node.sent {
            println!("{i} -> {}: {frame}", to.0);
        }
    }
    let mut seen = false;
    for i in 0..3 {
        for e in net.take_events(i) {
            match e {
                Event::Update { value, key, .. } => {
                    println!("{i} sees {key} = {value}");
                    seen |= i == 2 && value == "Alice";
                }
                other => println!("{i} event: {other:?}"),
            }
        }
    }
    assert!(seen, "bob saw alice's write");
}
