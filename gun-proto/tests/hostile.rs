//! What one peer sends cannot change what another peer's writes do: a put
//! the store refuses fails alone and leaves nothing in memory; `><` cannot
//! stop delivery nor learn peer ids; replies count only from the peers a
//! message went to; every shared budget is accounted per peer.

mod common;

use common::{Relay, messages};
use gun_proto::{PeerId, Value};

fn put(id: &str, soul: &str, key: &str, value: &str, state: u64) -> String {
    format!(
        r##"{{"#":"{id}","put":{{"{soul}":{{"_":{{"#":"{soul}",">":{{"{key}":{state}}}}},"{key}":"{value}"}}}}}}"##
    )
}

fn acks(frames: &[(PeerId, String)], to: u64) -> Vec<(String, bool)> {
    messages(frames)
        .into_iter()
        .filter(|(p, m)| p.0 == to && m.ack.is_some() && m.dam.is_none())
        .map(|(_, m)| (m.ack.unwrap_or_default(), m.err.is_none()))
        .collect()
}

#[test]
fn a_put_the_store_refuses_fails_alone_and_is_undone() {
    let mut r = Relay::new(1);
    r.node.refuse_souls = vec!["poison".into()];
    r.connect(1);
    r.connect(2);
    // Stored before the store turned against that soul: the value the
    // refused put overwrites in memory.
    r.node.refuse_souls.clear();
    r.frame(1, &put("w0", "poison/x", "k", "old", 1));
    r.node.refuse_souls = vec!["poison".into()];
    // One frame: an honest put, a poisoned one; at the same turn another
    // client's put.
    let frame = format!(
        "[{},{}]",
        put("a1", "fine", "k", "yes", 2),
        put("a2", "poison/x", "k", "new", 3)
    );
    r.node
        .input(
            r.now,
            gun_proto::Input::Frame {
                peer: PeerId(1),
                data: frame.as_bytes(),
            },
        )
        .expect("frame");
    r.node
        .input(
            r.now,
            gun_proto::Input::Frame {
                peer: PeerId(2),
                data: put("b1", "other", "k", "theirs", 2).as_bytes(),
            },
        )
        .expect("frame");
    let out = r.drain();
    let mut one = acks(&out, 1);
    one.sort();
    assert_eq!(one, [("a1".into(), true), ("a2".into(), false)]);
    assert_eq!(acks(&out, 2), [("b1".into(), true)], "another peer's put is unharmed");
    let g = r.engine().graph();
    assert_eq!(
        g.prop("poison/x", "k").map(|p| p.value.clone()),
        Some(Value::String("old".into())),
        "memory holds what the store holds"
    );
    assert!(g.prop("fine", "k").is_some() && g.prop("other", "k").is_some());
    // A get answers from memory: the refused value is not served.
    let reply = messages(&r.frame(2, r##"{"#":"g","get":{"#":"poison/x"}}"##));
    let put = reply[0].1.put.as_ref().expect("data");
    assert_eq!(
        put.prop("poison/x", "k").map(|p| p.value.clone()),
        Some(Value::String("old".into()))
    );
}

#[test]
fn a_new_soul_the_store_refuses_is_gone_from_memory() {
    let mut r = Relay::new(2);
    r.node.refuse_souls = vec!["bad".into()];
    r.connect(1);
    let out = r.frame(1, &put("p", "bad/soul", "k", "v", 5));
    assert_eq!(acks(&out, 1), [("p".into(), false)]);
    assert!(r.engine().graph().prop("bad/soul", "k").is_none());
    let err = messages(&out)
        .into_iter()
        .find_map(|(_, m)| m.err)
        .expect("an error ack");
    assert!(!err.contains("cannot take"), "store details stay local: {err}");
}

#[test]
fn two_refused_writes_of_one_property_leave_the_stored_value() {
    let mut r = Relay::new(3);
    r.connect(1);
    r.frame(1, &put("w0", "p/x", "k", "stored", 1));
    r.node.refuse_souls = vec!["p/".into()];
    let frame = format!(
        "[{},{},{}]",
        put("a", "p/x", "k", "first", 2),
        put("b", "ok", "k", "fine", 2),
        put("c", "p/x", "k", "second", 3)
    );
    let out = r.frame(1, &frame);
    let mut got = acks(&out, 1);
    got.sort();
    assert_eq!(got, [("a".into(), false), ("b".into(), true), ("c".into(), false)]);
    assert_eq!(
        r.engine().graph().prop("p/x", "k").map(|p| (p.value.clone(), p.state)),
        Some((Value::String("stored".into()), 1.0))
    );
}
