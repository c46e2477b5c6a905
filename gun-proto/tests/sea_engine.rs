//! The protected spaces in the engine: forgeries of every kind refused with
//! an error ack, neither stored nor forwarded; honest user writes signed,
//! taken and read back as their values.
#![cfg(feature = "sea")]

mod common;

use common::{Relay, Sim, messages};
use gun_proto::sea::{self, Certificants, Js, Pair, space};
use gun_proto::{Call, Event, Path, PeerId, ReqId, Value};
use serde_json::{Value as Json, json};

fn pair(seed: u8) -> Pair {
    Pair::from_seed(&[seed])
}

fn put(id: &str, soul: &str, key: &str, value: &Json, state: f64) -> String {
    json!({"#": id, "put": {soul: {"_": {"#": soul, ">": {key: state}}, key: value}}}).to_string()
}

fn signed(soul: &str, key: &str, value: &str, state: f64, by: &Pair) -> Json {
    match space::pack(soul, key, &Value::String(value.into()), state, by, None).expect("pack") {
        Value::String(s) => Json::String(s),
        _ => unreachable!(),
    }
}

/// Eve's signed value naming her the writer (`*`), with no certificate:
/// what Gun.js 0.2020.1241 lets into anyone's space.
fn named_writer(soul: &str, key: &str, state: f64, eve: &Pair) -> Json {
    let mut v: Json =
        serde_json::from_str(signed(soul, key, "Eve", state, eve).as_str().expect("s"))
            .expect("json");
    v["*"] = json!(eve.pub_key);
    Json::String(v.to_string())
}

/// A relay with a writer (peer 1) and a subscriber of `souls` (peer 2).
fn relay(souls: &[&str]) -> Relay {
    let mut r = Relay::new(7);
    r.connect(1);
    r.connect(2);
    for s in souls {
        r.frame(
            2,
            &json!({"#": format!("g{s}"), "get": {"#": s}}).to_string(),
        );
    }
    r
}

/// Sends `frame` from peer 1: the `err` of its ack (`None`: ok), and
/// whether anything reached the subscriber.
fn send(r: &mut Relay, id: &str, frame: &str) -> (Option<String>, bool) {
    let out = r.frame(1, frame);
    let msgs = messages(&out);
    let ack = msgs
        .iter()
        .find(|(p, m)| p.0 == 1 && m.ack.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no ack for {id}: {out:?}"));
    let forwarded = msgs.iter().any(|(p, m)| p.0 == 2 && m.put.is_some());
    (ack.1.err.clone(), forwarded)
}

fn now(r: &Relay) -> f64 {
    r.now.unix_ms
}

#[test]
fn an_honest_signed_write_is_taken_and_forwarded() {
    let alice = pair(1);
    let soul = format!("~{}", alice.pub_key);
    let mut r = relay(&[&soul]);
    let t = now(&r) - 1.0;
    let v = signed(&soul, "name", "Alice", t, &alice);
    let (err, fwd) = send(&mut r, "ok1", &put("ok1", &soul, "name", &v, t));
    assert_eq!(err, None);
    assert!(fwd);
    assert_eq!(
        r.engine()
            .graph()
            .prop(&soul, "name")
            .map(|p| p.value.to_value()),
        Some(Value::String(v.as_str().expect("s").into()))
    );
}

#[test]
fn forgeries_are_refused_not_stored_not_forwarded() {
    let alice = pair(1);
    let eve = pair(2);
    let soul = format!("~{}", alice.pub_key);
    let inbox = format!("{soul}/inbox");
    let mut r = relay(&[&soul, &inbox, "~@alice", "#", "/RTC/r<?9"]);
    let t = now(&r) - 1.0;
    let good = signed(&soul, "name", "Alice", t, &alice);
    let cert = |exp: Option<f64>| {
        let c = sea::certify(
            &Certificants::Keys(vec![eve.pub_key.clone()]),
            &json!({"*": "inbox"}),
            &alice,
            exp,
        )
        .expect("certify");
        Js::parse_lenient(&c)
    };
    let with_cert = |soul: &str, key: &str, c: &Js| match space::pack(
        soul,
        key,
        &Value::String("hi".into()),
        t,
        &eve,
        Some(c),
    )
    .expect("pack")
    {
        Value::String(s) => Json::String(s),
        _ => unreachable!(),
    };
    let hash = sea::work_sha256(&json!("hello world"));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unsigned",
            put("f1", &soul, "name", &json!("Mallory"), t),
            "Unverified data.",
        ),
        (
            "another key",
            put(
                "f2",
                &soul,
                "name",
                &signed(&soul, "name", "Eve", t, &eve),
                t,
            ),
            "Unverified data.",
        ),
        (
            "tampered value",
            put(
                "f3",
                &soul,
                "name",
                &Json::String(good.as_str().expect("s").replace("Alice", "Alicf")),
                t,
            ),
            "Unverified data.",
        ),
        (
            "replay at a higher state",
            put("f4", &soul, "name", &good, t + 0.5),
            "Unverified data.",
        ),
        (
            "wrong pub",
            put("f5", &soul, "pub", &json!(eve.pub_key), t),
            "Account not same!",
        ),
        (
            "writer without certificate",
            put(
                "f6",
                &soul,
                "name",
                &named_writer(&soul, "name", t, &eve),
                t,
            ),
            "Unverified data.",
        ),
        (
            "writer with a bogus certificate",
            put(
                "f6b",
                &soul,
                "name",
                &with_cert(&soul, "name", &Js::Null),
                t,
            ),
            "Certificate verification fail.",
        ),
        (
            "outside the certificate's paths",
            put(
                "f7",
                &format!("{soul}/outbox"),
                "x",
                &with_cert(&format!("{soul}/outbox"), "x", &cert(None)),
                t,
            ),
            "Certificate verification fail.",
        ),
        (
            "expired certificate",
            put(
                "f8",
                &inbox,
                "x",
                &with_cert(&inbox, "x", &cert(Some(t - 10.0))),
                t,
            ),
            "Certificate expired.",
        ),
        (
            "wrong hash",
            put("f9", "#", &hash, &json!("hello there"), t),
            "Data hash not same as hash!",
        ),
        (
            "alias pointing elsewhere",
            put(
                "f10",
                "~@alice",
                &format!("~{}", eve.pub_key),
                &json!({"#": soul}),
                t,
            ),
            "Alias not same!",
        ),
        (
            "expired soul",
            put("f11", "/RTC/r<?9", "x", &json!(1), t - 20_000.0),
            "Expired data.",
        ),
    ];
    for (name, frame, why) in cases {
        let id = serde_json::from_str::<Json>(&frame).expect("frame")["#"]
            .as_str()
            .expect("id")
            .to_owned();
        let (err, fwd) = send(&mut r, &id, &frame);
        assert_eq!(err.as_deref(), Some(why), "{name}");
        assert!(!fwd, "{name}: forwarded");
    }
    let g = r.engine().graph();
    assert!(
        g.prop(&soul, "name").is_none() && g.prop(&soul, "pub").is_none(),
        "nothing stored"
    );
    assert!(g.node("#").is_none() && g.node("~@alice").is_none() && g.node(&inbox).is_none());
    assert!(r.engine().stats().refused(gun_proto::Refusal::Sea) >= 11);
    // A certificate honoured: Eve writes in Alice's inbox.
    let (err, fwd) = send(
        &mut r,
        "c1",
        &put("c1", &inbox, "x", &with_cert(&inbox, "x", &cert(None)), t),
    );
    assert_eq!(err, None);
    assert!(fwd);
}

#[test]
fn an_alias_is_claimed_once() {
    let (alice, eve) = (pair(1), pair(2));
    let (a, e) = (format!("~{}", alice.pub_key), format!("~{}", eve.pub_key));
    let mut r = relay(&["~@alice"]);
    let t = now(&r) - 1.0;
    let (err, _) = send(&mut r, "a1", &put("a1", "~@alice", &a, &json!({"#": a}), t));
    assert_eq!(err, None);
    let (err, fwd) = send(&mut r, "a2", &put("a2", "~@alice", &e, &json!({"#": e}), t));
    assert_eq!(err.as_deref(), Some("Alias already taken."));
    assert!(!fwd);
    // The owner's claim again is fine.
    let (err, _) = send(
        &mut r,
        "a3",
        &put("a3", "~@alice", &a, &json!({"#": a}), t + 1.0),
    );
    assert_eq!(err, None);
}

#[test]
fn an_alias_claimed_before_a_restart_is_still_taken() {
    let (alice, eve) = (pair(1), pair(2));
    let (a, e) = (format!("~{}", alice.pub_key), format!("~{}", eve.pub_key));
    // The claim is in the store, not in memory (as after a restart).
    let mut r = Relay::new(8);
    let t = now(&r) - 1.0;
    let mut stored = gun_proto::Graph::new();
    stored.insert("~@alice", &a, Value::Link(a.clone()), t);
    gun_proto::Store::write(&mut r.node.store, &[stored]).expect("store");
    r.connect(1);
    let (err, _) = send(&mut r, "a2", &put("a2", "~@alice", &e, &json!({"#": e}), t));
    assert_eq!(
        err.as_deref(),
        Some("Alias already taken."),
        "a put to an alias reads the whole node, not only its own key"
    );
}

#[test]
fn a_user_writes_signed_and_reads_values() {
    let alice = pair(3);
    let soul = format!("~{}", alice.pub_key);
    let mut sim = Sim::new(2);
    sim.connect(1, 0);
    sim.call(1, Call::User(Some(Box::new(alice.clone()))));
    let path = Path::soul(soul.clone()).get("profile");
    sim.call(
        1,
        Call::Put {
            req: ReqId(1),
            path: path.clone(),
            data: json!({"name": "Alice", "age": 30}),
        },
    );
    sim.settle();
    let acked = sim.take_events(1).iter().any(|e| {
        matches!(
            e,
            Event::PutPeerAck {
                req: ReqId(1),
                result: Ok(())
            }
        )
    });
    assert!(acked, "the relay took the signed write");
    // The relay holds signed values; the link at `profile` too.
    let relay = sim.nodes[0].engine.graph();
    let link = relay.prop(&soul, "profile").expect("link");
    assert_eq!(
        space::unpack_value(&soul, link.value),
        Some(Value::Link(format!("{soul}/profile")))
    );
    let name = relay
        .prop(&format!("{soul}/profile"), "name")
        .expect("name");
    assert!(matches!(name.value, gun_proto::ValueRef::String(s) if s.contains("\"~\":")));
    // The application reads values.
    sim.call(
        1,
        Call::Once {
            req: ReqId(2),
            path: path.clone().get("name"),
            wait: std::time::Duration::from_secs(1),
        },
    );
    sim.call(
        1,
        Call::Once {
            req: ReqId(3),
            path: path.clone(),
            wait: std::time::Duration::from_secs(1),
        },
    );
    sim.settle();
    let events = sim.take_events(1);
    let once = |r: u64| {
        events.iter().find_map(|e| match e {
            Event::Once { req, value, .. } if *req == ReqId(r) => Some(value.clone()),
            _ => None,
        })
    };
    assert_eq!(once(2), Some(Some(json!("Alice"))));
    let node = once(3).flatten().expect("node");
    assert_eq!(node["age"], json!(30));
    // Without the user, a write there fails at once, clearly.
    sim.call(1, Call::User(None));
    sim.call(
        1,
        Call::Put {
            req: ReqId(4),
            path: path.get("name"),
            data: json!("Mallory"),
        },
    );
    let events = sim.take_events(1);
    let refused = events.iter().any(|e| {
        matches!(
            e,
            Event::PutAck {
                req: ReqId(4),
                result: Err(gun_proto::PutFailure::Refused(_))
            }
        )
    });
    assert!(refused, "{events:?}");
    let _ = PeerId(0);
}
