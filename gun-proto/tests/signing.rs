//! The engine's part of the signed mesh: what it makes is signed under the
//! hash of its body, what it passes on signed gets its signature appended,
//! and what arrived unsigned goes on unsigned.

mod common;

use std::sync::Arc;

use common::Relay;
use gun_proto::auth::{self, Signer};
use gun_proto::{Config, Engine};
use serde_json::{Value, json};

fn parse(frames: &[(gun_proto::PeerId, gun_proto::wire::Frame)], to: u64) -> Vec<Value> {
    frames
        .iter()
        .filter(|(p, _)| p.0 == to)
        .flat_map(|(_, f)| match serde_json::from_str::<Value>(f) {
            Ok(Value::Array(items)) => items,
            Ok(v) => vec![v],
            Err(_) => vec![],
        })
        .collect()
}

fn signers(m: &Value) -> Vec<String> {
    m["sigs"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|e| e["pubkey"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_signing_relay_signs_its_own_messages_and_countersigns_signed_ones() {
    let relay_key = Arc::new(Signer::from_seed(&[1; 32]).expect("key"));
    let origin = Signer::from_seed(&[2; 32]).expect("key");
    let mut r = Relay::new(3);
    let mut cfg = Config::new(3);
    cfg.signer = Some(relay_key.clone());
    r.node.engine = Engine::new(cfg, r.now);
    r.connect(1);
    r.connect(2);
    r.frame(1, r###"{"#":"sub","get":{"#":"s"}}"###);

    let mut put = json!({"put": {"s": {"_": {"#": "s", ">": {"k": 1.7e12}}, "k": "v"}}});
    let body = auth::body(put.as_object().expect("object"));
    let id = auth::message_id(&body);
    put["#"] = json!(id);
    put["sigs"] = json!([origin.sign(&body)]);
    let out = r.frame(2, &put.to_string());

    // Passed on to the subscriber under the origin's id, signed by both.
    let pushed = parse(&out, 1);
    let fwd = pushed
        .iter()
        .find(|m| m.get("put").is_some())
        .expect("pushed");
    assert_eq!(fwd["#"], json!(id));
    assert_eq!(
        signers(fwd),
        [origin.public_key_hex(), relay_key.public_key_hex()]
    );
    let s = auth::signed(fwd.as_object().expect("object"))
        .expect("id matches")
        .expect("signed");
    auth::verify(&s).expect("signatures verify");

    // The relay's own ack: `#` is the hash of its body, signed by the relay.
    let acks = parse(&out, 2);
    let ack = acks.iter().find(|m| m["@"] == json!(id)).expect("acked");
    let s = auth::signed(ack.as_object().expect("object"))
        .expect("id is the body's hash")
        .expect("signed");
    auth::verify(&s).expect("valid");
    assert_eq!(signers(ack), [relay_key.public_key_hex()]);

    // An unsigned put goes on unsigned, under its own id.
    let out = r.frame(
        2,
        r###"{"#":"plain1","put":{"s":{"_":{"#":"s",">":{"k":1700000000001}},"k":"w"}}}"###,
    );
    let pushed = parse(&out, 1);
    let fwd = pushed
        .iter()
        .find(|m| m.get("put").is_some())
        .expect("pushed");
    assert_eq!(fwd["#"], json!("plain1"));
    assert!(fwd.get("sigs").is_none(), "{fwd}");
}
