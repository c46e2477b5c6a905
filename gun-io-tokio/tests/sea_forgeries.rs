//! Forgeries of protected data, sent as raw frames to the `gun` binary: each
//! is refused with an error ack, reaches no subscriber, and is not in the
//! store after a restart; the honest signed writes beside them are.

mod support;

use std::time::Duration;

use gun_proto::Value as GunValue;
use gun_proto::sea::{self, Certificants, Js, Pair, space};
use serde_json::{Value, json};
use support::{HONEST, HOSTILE, Raw, Relay, fresh_id, now_ms, put};

fn pair(seed: u8) -> Pair {
    Pair::from_seed(&[seed])
}

fn packed(soul: &str, key: &str, v: &str, state: f64, by: &Pair, cert: Option<&Js>) -> Value {
    match space::pack(soul, key, &GunValue::String(v.into()), state, by, cert).expect("pack") {
        GunValue::String(s) => Value::String(s),
        _ => unreachable!(),
    }
}

/// The err of `id`'s ack (`None`: acked ok).
fn ack(c: &mut Raw, id: &str) -> Option<String> {
    let m = c
        .wait_for(Duration::from_secs(5), |m| m["@"] == id)
        .unwrap_or_else(|| panic!("no ack for {id}"));
    m["err"].as_str().map(str::to_owned)
}

#[test]
fn forgeries_are_refused_not_stored_not_forwarded() {
    let dir = tempfile::tempdir().expect("dir");
    let relay = Relay::start(dir.path(), &[]);
    let (alice, eve) = (pair(1), pair(2));
    let soul = format!("~{}", alice.pub_key);
    let inbox = format!("{soul}/inbox");
    let souls = [soul.as_str(), inbox.as_str(), "~@alice", "#", "chat<?60"];
    let mut sub = Raw::connect(relay.port, HONEST).expect("subscriber");
    for s in souls {
        sub.send_json(&json!({"#": fresh_id("sub"), "get": {"#": s}}));
    }
    sub.read_for(Duration::from_millis(300));
    let mut w = Raw::connect(relay.port, HOSTILE).expect("writer");
    let t = now_ms() - 10.0;
    let honest = packed(&soul, "name", "Alice", t, &alice, None);
    let cert = |exp: Option<f64>| {
        let c = sea::certify(
            &Certificants::Keys(vec![eve.pub_key.clone()]),
            &json!({"*": "inbox"}),
            &alice,
            exp,
        )
        .expect("cert");
        Js::parse_lenient(&c)
    };
    let hash = sea::work_sha256(&json!("content"));
    let mut named = serde_json::from_str::<Value>(
        packed(&soul, "name", "Eve", t, &eve, None)
            .as_str()
            .expect("s"),
    )
    .expect("json");
    named["*"] = json!(eve.pub_key);
    let forgeries: Vec<(&str, Value, &str)> = vec![
        (
            "unsigned write to ~pub",
            put(&fresh_id("f"), &soul, "name", &json!("Mallory"), t),
            "Unverified data.",
        ),
        (
            "signature by another key",
            put(
                &fresh_id("f"),
                &soul,
                "name",
                &packed(&soul, "name", "Eve", t, &eve, None),
                t,
            ),
            "Unverified data.",
        ),
        (
            "another key naming itself the writer",
            put(
                &fresh_id("f"),
                &soul,
                "name",
                &Value::String(named.to_string()),
                t,
            ),
            "Unverified data.",
        ),
        (
            "tampered value",
            put(
                &fresh_id("f"),
                &soul,
                "name",
                &Value::String(honest.as_str().expect("s").replace("Alice", "Alicx")),
                t,
            ),
            "Unverified data.",
        ),
        (
            "replayed signed value, higher state",
            put(&fresh_id("f"), &soul, "name", &honest, t + 1.0),
            "Unverified data.",
        ),
        (
            "write outside a certificate's paths",
            put(
                &fresh_id("f"),
                &format!("{soul}/outbox"),
                "x",
                &packed(
                    &format!("{soul}/outbox"),
                    "x",
                    "hi",
                    t,
                    &eve,
                    Some(&cert(None)),
                ),
                t,
            ),
            "Certificate verification fail.",
        ),
        (
            "expired certificate",
            put(
                &fresh_id("f"),
                &inbox,
                "x",
                &packed(&inbox, "x", "hi", t, &eve, Some(&cert(Some(t - 1000.0)))),
                t,
            ),
            "Certificate expired.",
        ),
        (
            "wrong #hash",
            put(&fresh_id("f"), "#", &hash, &json!("other content"), t),
            "Data hash not same as hash!",
        ),
        (
            "alias hijack: a link to another user",
            put(
                &fresh_id("f"),
                "~@alice",
                &format!("~{}", eve.pub_key),
                &json!({"#": soul}),
                t,
            ),
            "Alias not same!",
        ),
        (
            "write to a <? soul with an old state",
            put(
                &fresh_id("f"),
                "chat<?60",
                "old",
                &json!("stale"),
                t - 120_000.0,
            ),
            "Expired data.",
        ),
    ];
    for (name, frame, why) in &forgeries {
        let id = frame["#"].as_str().expect("id").to_owned();
        w.send_json(frame);
        assert_eq!(ack(&mut w, &id).as_deref(), Some(*why), "{name}");
    }
    // The honest writes: alice's name, her alias, content by its hash, a
    // fresh chat line; then a second claim of the alias (ours: refused).
    let alias_claim = put(&fresh_id("ok"), "~@alice", &soul, &json!({"#": soul}), t);
    let oks = [
        put(&fresh_id("ok"), &soul, "name", &honest, t),
        alias_claim,
        put(&fresh_id("ok"), "#", &hash, &json!("content"), t),
        put(&fresh_id("ok"), "chat<?60", "new", &json!("fresh"), t),
        put(
            &fresh_id("ok"),
            &inbox,
            "x",
            &packed(&inbox, "x", "hi", t, &eve, Some(&cert(None))),
            t,
        ),
    ];
    for frame in &oks {
        let id = frame["#"].as_str().expect("id").to_owned();
        w.send_json(frame);
        assert_eq!(ack(&mut w, &id), None, "honest: {frame}");
    }
    let second = put(
        &fresh_id("f"),
        "~@alice",
        &format!("~{}", eve.pub_key),
        &json!({"#": format!("~{}", eve.pub_key)}),
        t,
    );
    w.send_json(&second);
    assert_eq!(
        ack(&mut w, second["#"].as_str().expect("id")).as_deref(),
        Some("Alias already taken.")
    );
    // The subscriber saw the honest writes only.
    let seen = sub.read_for(Duration::from_millis(500));
    let text = serde_json::to_string(&seen).expect("json");
    let eve_soul = format!("~{}", eve.pub_key);
    for bad in [
        "Mallory",
        "Alicx",
        "stale",
        "other content",
        "Eve",
        eve_soul.as_str(),
    ] {
        assert!(!text.contains(bad), "{bad} was forwarded: {text}");
    }
    assert!(
        text.contains("fresh") && text.contains("content"),
        "honest writes forwarded: {text}"
    );
    // After a restart the store holds the honest writes alone.
    let port = relay.port;
    relay.stop();
    let relay = Relay::start_on(port, dir.path(), &[]);
    let mut r = Raw::connect(relay.port, HONEST).expect("reader");
    let mut node = |s: &str| {
        let id = fresh_id("get");
        r.send_json(&json!({"#": id, "get": {"#": s}}));
        let m = r
            .wait_for(Duration::from_secs(5), |m| m["@"] == id.as_str())
            .expect("answer");
        m["put"][s].clone()
    };
    assert_eq!(node(&soul)["name"], honest);
    let alias = node("~@alice");
    assert!(alias.get(format!("~{}", eve.pub_key)).is_none(), "{alias}");
    assert_eq!(alias[&soul], json!({"#": soul}));
    assert_eq!(node("#")[&hash], json!("content"));
    let chat = node("chat<?60");
    assert!(
        chat.get("old").is_none() && chat["new"] == json!("fresh"),
        "{chat}"
    );
    assert!(node(&format!("{soul}/outbox")).is_null());
}
