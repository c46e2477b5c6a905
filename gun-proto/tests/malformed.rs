//! Each class of malformed frame gets an error reply, never a panic, and
//! leaves the graph as it was.

mod common;

use common::{Relay, messages};
use gun_proto::Resident;

const GOOD: &str = r###"{"#":"ok1","put":{"s":{"_":{"#":"s",">":{"k":1700000000000}},"k":"v"}}}"###;

fn relay_with_data() -> (Relay, Resident) {
    let mut r = Relay::new(3);
    r.connect(1);
    r.connect(2);
    r.frame(2, r###"{"#":"sub","get":{"#":"s"}}"###);
    r.frame(1, GOOD);
    let g = r.node.engine.graph().clone();
    (r, g)
}

/// Sends `frame` from peer 1; returns the replies to 1 and what peer 2 got.
fn check(frame: &str) -> (Vec<gun_proto::wire::Message>, usize) {
    let (mut r, before) = relay_with_data();
    let sent = r.frame(1, frame);
    assert_eq!(
        r.node.engine.graph(),
        &before,
        "graph changed by {frame:.80}"
    );
    assert_eq!(
        r.node.store.graph(),
        &before,
        "store changed by {frame:.80}"
    );
    let to2 = sent.iter().filter(|(p, _)| p.0 == 2).count();
    let to1 = messages(
        &sent
            .into_iter()
            .filter(|(p, _)| p.0 == 1)
            .collect::<Vec<_>>(),
    );
    (to1.into_iter().map(|(_, m)| m).collect(), to2)
}

fn assert_dam_error(frame: &str, err: &str) {
    let (replies, forwarded) = check(frame);
    assert_eq!(forwarded, 0, "nothing forwarded");
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].dam.as_deref(), Some("!"));
    assert_eq!(replies[0].err.as_deref(), Some(err));
}

fn assert_nack(frame: &str, id: &str) {
    let (replies, forwarded) = check(frame);
    assert_eq!(forwarded, 0, "nothing forwarded");
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].ack.as_deref(), Some(id));
    assert!(
        replies[0].err.is_some() && replies[0].ok.is_none(),
        "{replies:?}"
    );
}

#[test]
fn truncated_json() {
    assert_dam_error(
        r###"{"#":"t1","put":{"s":{"_":{"#":"s""###,
        "DAM JSON parse error.",
    );
    assert_dam_error("[1,2", "DAM JSON parse error.");
    assert_dam_error("hello", "DAM JSON parse error.");
    assert_dam_error("", "DAM JSON parse error.");
    assert_dam_error("{\"a\":1e400}", "DAM JSON parse error.");
    assert_dam_error("{\"a\":NaN}", "DAM JSON parse error.");
    assert_dam_error("\u{0}\u{ff}", "DAM JSON parse error.");
}

#[test]
fn wrong_types() {
    assert_nack(
        r###"{"#":"w1","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":[1]}}}"###,
        "w1",
    );
    assert_nack(
        r###"{"#":"w2","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":{"a":1}}}}"###,
        "w2",
    );
    assert_nack(r###"{"#":"w3","put":{"s":"node"}}"###, "w3");
    assert_nack(r###"{"#":"w4","put":[1]}"###, "w4");
    assert_nack(r###"{"#":"w5","get":"s"}"###, "w5");
    assert_nack(r###"{"#":"w6","@":5}"###, "w6");
    assert_nack(
        r###"{"#":"w7","put":{"s":{"_":{"#":"s",">":{"k":"1"}},"k":"v"}}}"###,
        "w7",
    );
    // Not an object at all, in a batch: a dam error per bad entry.
    let (replies, _) = check("[1, \"x\"]");
    assert_eq!(replies.len(), 2);
    assert!(replies.iter().all(|m| m.dam.as_deref() == Some("!")));
    // A message id that is not a string.
    let (replies, _) = check(r###"{"#":5,"get":{"#":"s"}}"###);
    assert_eq!(replies[0].dam.as_deref(), Some("!"));
}

#[test]
fn missing_state() {
    assert_nack(
        r###"{"#":"m1","put":{"s":{"_":{"#":"s",">":{}},"k":"v2"}}}"###,
        "m1",
    );
    assert_nack(
        r###"{"#":"m2","put":{"s":{"_":{"#":"s"},"k":"v2"}}}"###,
        "m2",
    );
    assert_nack(r###"{"#":"m3","put":{"s":{"k":"v2"}}}"###, "m3");
    // A valid key and an invalid one: nothing of the put is stored.
    assert_nack(
        r###"{"#":"m4","put":{"s":{"_":{"#":"s",">":{"a":1700000000001}},"a":"x","z":"y"}}}"###,
        "m4",
    );
}

#[test]
fn soul_mismatch() {
    assert_nack(
        r###"{"#":"s1","put":{"s":{"_":{"#":"other",">":{"k":1700000000001}},"k":"v2"}}}"###,
        "s1",
    );
    // A bad first node spoils a good second one.
    assert_nack(
        r###"{"#":"s2","put":{"a":{"_":{"#":"b",">":{"k":1}},"k":1},"s":{"_":{"#":"s",">":{"k":1700000000001}},"k":"v2"}}}"###,
        "s2",
    );
}

#[test]
fn oversize() {
    let big = format!(
        r###"{{"#":"big","put":{{"s":{{"_":{{"#":"s",">":{{"k":1700000000001}}}},"k":"{}"}}}}}}"###,
        "x".repeat(9 << 20)
    );
    assert_dam_error(&big, "Message too big!");
    let many = format!("[{}]", vec![r###"{"dam":"hi"}"###; 1001].join(","));
    assert_dam_error(&many, "Batch too long!");
}

#[test]
fn over_deep() {
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    assert_dam_error(&deep, "Message too deep!");
    // Brackets inside strings do not count.
    let (replies, _) = check(&format!(
        r###"{{"#":"q","get":{{"#":"{}"}}}}"###,
        "[".repeat(100)
    ));
    assert_eq!(replies[0].dam, None);
    // serde_json's own recursion limit is past ours; far past it is still no panic.
    let very = "[".repeat(100_000);
    assert_dam_error(&very, "Message too deep!");
}

#[test]
fn stale_and_binary_garbage_leave_other_peers_served() {
    let (mut r, before) = relay_with_data();
    // A stale put is acked (it is superseded by what is stored) but changes nothing.
    let sent = r.frame(
        1,
        r###"{"#":"old","put":{"s":{"_":{"#":"s",">":{"k":5}},"k":"older"}}}"###,
    );
    assert_eq!(r.node.engine.graph(), &before);
    assert!(sent.iter().all(|(p, _)| p.0 == 1));
    // The relay still answers peer 2.
    let out = messages(&r.frame(2, r###"{"#":"g","get":{"#":"s"}}"###));
    assert_eq!(out[0].1.put.as_ref(), Some(&before.to_graph()));
}
