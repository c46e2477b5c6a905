//! Reads and writes the interop suite leans on: whole-node reads of nodes
//! held in part, lex gets by key prefix, puts at an explicit state, and a
//! relay that remembers a reconnecting peer's subscriptions by its `pid`.

mod common;

use std::time::Duration;

use common::{Relay, Sim, messages};
use gun_proto::lex::Lex;
use gun_proto::{Call, Error, Event, Input, Path, PeerId, ReqId, SubId};
use serde_json::{Value, json};

fn once_value(sim: &mut Sim, node: usize, req: u64) -> Option<Value> {
    sim.take_events(node).into_iter().find_map(|e| match e {
        Event::Once { req: r, value, .. } if r == ReqId(req) => Some(value),
        _ => None,
    })?
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().filter(|k| *k != "_").cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// A relay (0) and two clients (1, 2).
fn mesh() -> Sim {
    let mut sim = Sim::new(3);
    sim.connect(1, 0);
    sim.connect(2, 0);
    sim.settle();
    sim
}

fn put(sim: &mut Sim, node: usize, req: u64, soul: &str, data: Value) {
    sim.call(
        node,
        Call::Put {
            req: ReqId(req),
            path: Path::soul(soul),
            data,
        },
    );
    sim.settle();
}

#[test]
fn a_once_of_a_node_held_in_part_reads_it_whole() {
    let mut sim = mesh();
    put(&mut sim, 2, 1, "a", json!({"x": 1, "y": 2}));
    sim.call(
        1,
        Call::Once {
            req: ReqId(2),
            path: Path::soul("a").get("x"),
            wait: Duration::from_secs(2),
        },
    );
    sim.settle();
    assert_eq!(once_value(&mut sim, 1, 2), Some(json!(1)));
    assert_eq!(
        keys(
            &sim.nodes[1]
                .engine
                .graph()
                .node("a")
                .expect("a")
                .to_json("a")
        ),
        ["x"]
    );
    sim.call(
        1,
        Call::Once {
            req: ReqId(3),
            path: Path::soul("a"),
            wait: Duration::from_secs(2),
        },
    );
    sim.settle();
    let node = once_value(&mut sim, 1, 3).expect("the node");
    assert_eq!(keys(&node), ["x", "y"]);
}

#[test]
fn a_prefix_once_asks_with_a_lex_and_a_budget_and_gets_the_matching_keys() {
    let mut sim = mesh();
    put(
        &mut sim,
        2,
        1,
        "fruit",
        json!({"apple": 1, "apricot": 2, "banana": 3}),
    );
    let sent_before = sim.nodes[1].sent.len();
    sim.call(
        1,
        Call::OnceKeys {
            req: ReqId(2),
            path: Path::soul("fruit"),
            keys: Lex {
                prefix: Some("ap".into()),
                ..Lex::default()
            },
            wait: Duration::from_secs(2),
        },
    );
    sim.settle();
    let node = once_value(&mut sim, 1, 2).expect("the part");
    assert_eq!(keys(&node), ["apple", "apricot"]);
    // Only the part travelled, asked for with a `%` budget.
    let asked = sim.nodes[1].sent[sent_before..]
        .iter()
        .find(|(_, f)| f.contains("\"get\""))
        .map(|(_, f)| f.clone())
        .expect("a get");
    assert!(
        asked.contains(r###"".":{"*":"ap"}"###) && asked.contains(r###""%":"###),
        "{asked}"
    );
    assert!(
        sim.nodes[1]
            .engine
            .graph()
            .prop("fruit", "banana")
            .is_none()
    );
    // Held locally now, a second prefix read answers at once.
    sim.call(
        1,
        Call::OnceKeys {
            req: ReqId(3),
            path: Path::soul("fruit"),
            keys: Lex {
                prefix: Some("apr".into()),
                ..Lex::default()
            },
            wait: Duration::from_secs(2),
        },
    );
    sim.settle();
    assert_eq!(
        keys(&once_value(&mut sim, 1, 3).expect("part")),
        ["apricot"]
    );
}

#[test]
fn puts_at_one_state_converge_on_the_greater_value_everywhere() {
    let mut sim = mesh();
    let state = 1_600_000_000_000.0;
    // Both clients listen, so each hears of the other's write.
    for (node, sub) in [(1, 1), (2, 2)] {
        sim.call(
            node,
            Call::On {
                sub: SubId(sub),
                path: Path::soul("c"),
            },
        );
    }
    sim.settle();
    for (node, req, value) in [(1, 1, "\u{FFFF}"), (2, 2, "😀")] {
        sim.call(
            node,
            Call::PutAt {
                req: ReqId(req),
                path: Path::soul("c").get("k"),
                data: json!(value),
                state,
            },
        );
    }
    sim.settle();
    for n in &sim.nodes {
        let p = n.engine.graph().prop("c", "k").expect("k");
        // UTF-16 code units: U+FFFF is greater than 😀's D83D.
        assert_eq!(p.value.to_json(), json!("\u{FFFF}"));
        assert_eq!(p.state, state);
    }
    let bad = sim.nodes[1].engine.handle_input(
        sim.now,
        Input::Call(Call::PutAt {
            req: ReqId(9),
            path: Path::soul("c").get("k"),
            data: json!(1),
            state: f64::NAN,
        }),
    );
    assert!(matches!(bad, Err(Error::BadState(_))), "{bad:?}");
}

#[test]
fn a_peer_that_greets_again_with_its_pid_gets_its_subscriptions_back() {
    let mut r = Relay::new(7);
    r.connect(1);
    r.frame(1, r###"{"#":"h1","dam":"?","pid":"gunjs-client"}"###);
    r.frame(1, r###"{"#":"sub1","get":{"#":"live"}}"###);
    r.node
        .engine
        .handle_input(r.now, Input::Disconnected { peer: PeerId(1) })
        .expect("disconnect");
    // Back on a new connection, greeting with the same pid, asking nothing.
    r.connect(3);
    r.frame(3, r###"{"#":"h2","dam":"?","pid":"gunjs-client"}"###);
    r.connect(2);
    let sent = messages(&r.frame(
        2,
        r###"{"#":"w1","put":{"live":{"_":{"#":"live",">":{"v":1}},"v":1}}}"###,
    ));
    assert!(
        sent.iter().any(|(p, m)| *p == PeerId(3) && m.put.is_some()),
        "{sent:?}"
    );
    // A stranger's pid gets nothing.
    r.connect(4);
    r.frame(4, r###"{"#":"h3","dam":"?","pid":"someone-else"}"###);
    let sent = messages(&r.frame(
        2,
        r###"{"#":"w2","put":{"live":{"_":{"#":"live",">":{"v":2}},"v":2}}}"###,
    ));
    assert!(sent.iter().all(|(p, _)| *p != PeerId(4)), "{sent:?}");
}
