//! Every captured exchange in docs/PROTOCOL.md (§9), answered as Gun.js answered it
//! (message ids aside: ours are random too).

mod common;

use common::{Relay, messages, msg, reply_keys};
use gun_proto::PeerId;
use gun_proto::wire::Message;

fn without_id(mut m: Message) -> Message {
    m.id = None;
    m
}

#[test]
fn greeting_put_ack_and_gets() {
    let mut relay = Relay::new(7);
    // The acceptor greets at once with its pid.
    let hello = messages(&relay.connect(1));
    assert_eq!(hello.len(), 1);
    let hi = &hello[0].1;
    assert_eq!(hi.dam.as_deref(), Some("?"));
    assert_eq!(hi.pid.as_deref().map(str::len), Some(9));
    assert!(hi.id.is_some());

    let out = messages(&relay.frame(
        1,
        r###"{"put":{"user/alice":{"_":{"#":"user/alice",">":{"name":1700000000000,"age":1700000000000}},"name":"Alice","age":30}},"#":"m1"}"###,
    ));
    assert_eq!(out.len(), 1);
    assert_eq!(
        without_id(out[0].1.clone()),
        without_id(msg(r###"{"#":"x","@":"m1","ok":true}"###))
    );

    let out = messages(&relay.frame(1, r###"{"get":{"#":"user/alice"},"#":"g1"}"###));
    assert_eq!(out.len(), 1);
    assert_eq!(
        without_id(out[0].1.clone()),
        without_id(msg(
            r###"{"#":"RQOvHZIwd","##":-1127191897,"@":"g1","put":{"user/alice":{"_":{"#":"user/alice",">":{"age":1700000000000,"name":1700000000000}},"age":30,"name":"Alice"}}}"###
        ))
    );

    let out = messages(&relay.frame(1, r###"{"get":{"#":"user/alice",".":"name"},"#":"g2"}"###));
    assert_eq!(
        without_id(out[0].1.clone()),
        without_id(msg(
            r###"{"#":"eefintMju","##":1659942888,"@":"g2","put":{"user/alice":{"_":{"#":"user/alice",">":{"name":1700000000000}},"name":"Alice"}}}"###
        ))
    );

    let out = messages(&relay.frame(1, r###"{"get":{"#":"nope"},"#":"g3"}"###));
    assert_eq!(
        without_id(out[0].1.clone()),
        without_id(msg(r###"{"#":"eMkyeKeW8","@":"g3"}"###))
    );
}

#[test]
fn subscriber_receives_forwarded_put_with_original_id() {
    let mut relay = Relay::new(8);
    relay.connect(1);
    relay.connect(2);
    // Client 2 subscribes to user/bob by asking for it (not found yet).
    let out = messages(&relay.frame(2, r###"{"get":{"#":"user/bob"},"#":"sub1"}"###));
    assert_eq!(out[0].1.ack.as_deref(), Some("sub1"));
    let out = messages(&relay.frame(
        1,
        r###"{"#":"p1","put":{"user/bob":{"_":{"#":"user/bob",">":{"name":1700000000001}},"name":"Bob"}}}"###,
    ));
    let to2: Vec<&Message> = out
        .iter()
        .filter(|(p, _)| *p == PeerId(2))
        .map(|(_, m)| m)
        .collect();
    assert_eq!(to2.len(), 1);
    let fwd = to2[0];
    assert_eq!(fwd.id.as_deref(), Some("p1"));
    // `><` names the relay alone: never the other peers it reached.
    assert_eq!(fwd.seen.as_deref(), Some(relay.engine().pid()));
    let expected = msg(
        r###"{"#":"p1","put":{"user/bob":{"_":{"#":"user/bob",">":{"name":1700000000001}},"name":"Bob"}}}"###,
    );
    assert_eq!(fwd.put, expected.put);
    // The writer gets the ack, not its own put back.
    let to1: Vec<&Message> = out
        .iter()
        .filter(|(p, _)| *p == PeerId(1))
        .map(|(_, m)| m)
        .collect();
    assert_eq!(to1.len(), 1);
    assert_eq!(to1[0].ack.as_deref(), Some("p1"));
    assert_eq!(to1[0].ok, Some(serde_json::Value::Bool(true)));
}

/// A forward carries what Gun.js reads (`#`, `put`, `><`): a peer's other
/// fields are not copied to every subscriber.
#[test]
fn unknown_fields_are_not_forwarded() {
    let mut relay = Relay::new(9);
    relay.connect(1);
    relay.connect(2);
    relay.frame(2, r###"{"get":{"#":"s"},"#":"sub"}"###);
    let out = messages(&relay.frame(
        1,
        r###"{"#":"p2","ok":{"@":9,"/":1},"custom":{"a":[1,2]},"put":{"s":{"_":{"#":"s",">":{"k":1700000000000}},"k":"v"}}}"###,
    ));
    let fwd = out
        .iter()
        .find(|(p, _)| *p == PeerId(2))
        .map(|(_, m)| m)
        .expect("forwarded");
    assert!(fwd.extra.is_empty() && fwd.ok.is_none(), "{fwd:?}");
    assert!(fwd.put.as_ref().is_some_and(|p| p.prop("s", "k").is_some()));
}

#[test]
fn answers_a_greeting_and_accepts_heartbeats_and_batches() {
    let mut relay = Relay::new(10);
    relay.connect(1);
    // A `?` without `@` gets a `?` back with `@` and our pid.
    let out = messages(&relay.frame(1, r###"{"dam":"?","pid":"XfIXXBqRE","#":"BCbmMWE5J"}"###));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1.ack.as_deref(), Some("BCbmMWE5J"));
    assert_eq!(out[0].1.dam.as_deref(), Some("?"));
    // A `?` with `@` gets nothing; nor does `hi`, nor the heartbeat `[]`.
    assert!(
        relay
            .frame(1, r###"{"dam":"?","pid":"XfIXXBqRE","@":"a","#":"b"}"###)
            .is_empty()
    );
    assert!(
        relay
            .frame(1, r###"{"dam":"hi","#":"egGJn5KNw"}"###)
            .is_empty()
    );
    assert!(relay.frame(1, "[]").is_empty());
    // A batch of one and a batch of two are both read.
    let out = messages(&relay.frame(
        1,
        r###"[{"get":{"#":"a"},"#":"q1"},{"get":{"#":"b"},"#":"q2"}]"###,
    ));
    let acks: Vec<_> = out.iter().filter_map(|(_, m)| m.ack.clone()).collect();
    assert_eq!(acks, ["q1", "q2"]);
    // Replies to one peer in one turn share a frame.
    assert_eq!(
        relay
            .frame(
                1,
                r###"[{"get":{"#":"a"},"#":"q3"},{"get":{"#":"b"},"#":"q4"}]"###
            )
            .len(),
        1
    );
}

#[test]
fn duplicate_message_ids_are_dropped() {
    let mut relay = Relay::new(11);
    relay.connect(1);
    let put = r###"{"#":"d1","put":{"s":{"_":{"#":"s",">":{"k":1700000000000}},"k":"v"}}}"###;
    assert_eq!(messages(&relay.frame(1, put)).len(), 1);
    let resent =
        r###"{"#":"d1","put":{"s":{"_":{"#":"s",">":{"k":1700000000000}},"k":"other"}}}"###;
    assert!(relay.frame(1, resent).is_empty());
    assert_eq!(
        relay
            .node
            .engine
            .graph()
            .prop("s", "k")
            .map(|p| p.value.to_value()),
        Some(gun_proto::Value::String("v".into()))
    );
}

#[test]
fn lex_gets_select_keys_and_souls() {
    let mut relay = Relay::new(12);
    relay.connect(1);
    relay.frame(
        1,
        r###"{"#":"w","put":{"lx":{"_":{"#":"lx",">":{"aa":1,"ab":1,"b":1,"ba":1,"c":1,"d":1}},"aa":"v_aa","ab":"v_ab","b":"v_b","ba":"v_ba","c":"v_c","d":"v_d"}}}"###,
    );
    // Range, bounds inclusive (the capture in GUNJS-REFERENCE.md §3.8).
    let out = messages(&relay.frame(
        1,
        r###"{"#":"q3","get":{"#":"lx",".":{">":"ab","<":"c"},"%":99999}}"###,
    ));
    assert_eq!(reply_keys(&out, "lx"), ["ab", "b", "ba", "c"]);
    // Prefix.
    let out = messages(&relay.frame(1, r###"{"#":"q5","get":{"#":"lx",".":{"*":"a"}}}"###));
    assert_eq!(reply_keys(&out, "lx"), ["aa", "ab"]);
    // Reverse with a budget: d, c, ba (3 + 3 + 4 chars), as Gun.js.
    let out = messages(&relay.frame(
        1,
        r###"{"#":"q4","get":{"#":"lx",".":{">":"a"},"%":10,"-":1}}"###,
    ));
    assert_eq!(reply_keys(&out, "lx"), ["ba", "c", "d"]);
    // Souls by prefix.
    relay.frame(
        1,
        r###"{"#":"w2","put":{"lx2":{"_":{"#":"lx2",">":{"k":1}},"k":1}}}"###,
    );
    let out = messages(&relay.frame(1, r###"{"#":"q6","get":{"#":{"*":"lx"}}}"###));
    let put = out[0].1.put.clone().expect("data");
    assert_eq!(put.souls().collect::<Vec<_>>(), ["lx", "lx2"]);
}
