//! Engines wired through a relay engine on a virtual clock (no sockets):
//! writes on any engine reach subscribers on the others, and all graphs agree.

mod common;

use std::time::Duration;

use common::Sim;
use gun_proto::{Call, Event, Path, ReqId, SubId};
use serde_json::json;

fn updates(events: &[Event], sub: SubId) -> Vec<(String, serde_json::Value)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Update { sub: s, value, key } if *s == sub => Some((key.clone(), value.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn writes_reach_subscribers_through_a_relay_and_graphs_converge() {
    // 0 is the relay; 1..=4 are clients.
    let mut sim = Sim::new(5);
    for c in 1..=4 {
        sim.connect(c, 0);
    }
    sim.settle();
    for c in 1..=4 {
        sim.call(
            c,
            Call::On {
                sub: SubId(1),
                path: Path::soul("room").get("topic"),
            },
        );
        sim.call(
            c,
            Call::Map {
                sub: SubId(2),
                path: Path::soul("room").get("members"),
            },
        );
    }
    sim.settle();

    sim.call(
        1,
        Call::Put {
            req: ReqId(1),
            path: Path::soul("room"),
            data: json!({"topic": "hello"}),
        },
    );
    sim.run_for(Duration::from_millis(5));
    sim.call(
        2,
        Call::Set {
            req: ReqId(2),
            path: Path::soul("room").get("members"),
            data: json!({"name": "bo"}),
        },
    );
    sim.call(
        3,
        Call::Set {
            req: ReqId(3),
            path: Path::soul("room").get("members"),
            data: json!({"name": "cy"}),
        },
    );
    sim.call(
        4,
        Call::Put {
            req: ReqId(4),
            path: Path::soul("room").get("topic"),
            data: json!("hi all"),
        },
    );
    sim.settle();

    for c in 1..=4 {
        let ev = sim.take_events(c);
        let topics = updates(&ev, SubId(1));
        assert_eq!(
            topics.last().map(|t| t.1.clone()),
            Some(json!("hi all")),
            "client {c} topic: {topics:?}"
        );
        let members = updates(&ev, SubId(2));
        let names: std::collections::BTreeSet<String> = members
            .iter()
            .filter_map(|(_, v)| v["name"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(
            names,
            ["bo", "cy"].iter().map(|s| (*s).to_owned()).collect(),
            "client {c}"
        );
        assert!(
            ev.iter()
                .all(|e| !matches!(e, Event::PutAck { result: Err(_), .. })),
            "{ev:?}"
        );
    }
    // Every write reached every graph, and the relay's store holds it.
    let relay_graph = sim.nodes[0].engine.graph().clone();
    assert_eq!(
        relay_graph
            .prop("room", "topic")
            .map(|p| p.value.to_value()),
        Some(gun_proto::Value::String("hi all".into()))
    );
    for c in 1..=4 {
        let g = sim.nodes[c].engine.graph();
        for soul in relay_graph.souls() {
            assert_eq!(
                g.node(soul),
                relay_graph.node(soul),
                "client {c}, soul {soul}"
            );
        }
    }
    assert_eq!(sim.nodes[0].store.graph(), &relay_graph);
}

#[test]
fn relay_to_relay_gets_and_puts_flow_both_ways() {
    // 0 and 1 are relays, 1 dialing 0; client 2 on relay 0, client 3 on relay 1.
    let mut sim = Sim::new(4);
    sim.connect(1, 0);
    sim.connect(2, 0);
    sim.connect(3, 1);
    sim.settle();
    sim.call(
        2,
        Call::Put {
            req: ReqId(1),
            path: Path::soul("doc"),
            data: json!({"v": 1}),
        },
    );
    sim.settle();
    // Client 3 asks its relay, which asks upstream; the reply comes back.
    sim.call(
        3,
        Call::Once {
            req: ReqId(2),
            path: Path::soul("doc").get("v"),
            wait: Duration::from_secs(1),
        },
    );
    sim.settle();
    let ev = sim.take_events(3);
    assert!(
        ev.contains(&Event::Once {
            req: ReqId(2),
            value: Some(json!(1)),
            key: "v".into()
        }),
        "{ev:?}"
    );
    // Client 3 subscribes; client 2 writes; the update crosses both relays.
    sim.call(
        3,
        Call::On {
            sub: SubId(9),
            path: Path::soul("doc").get("v"),
        },
    );
    sim.settle();
    sim.call(
        2,
        Call::Put {
            req: ReqId(3),
            path: Path::soul("doc"),
            data: json!({"v": 2}),
        },
    );
    sim.settle();
    let ev = sim.take_events(3);
    assert_eq!(
        updates(&ev, SubId(9)).last().map(|u| u.1.clone()),
        Some(json!(2)),
        "{ev:?}"
    );
}
