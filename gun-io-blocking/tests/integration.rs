//! The blocking wrapper API. The transport scenarios (put → on through a
//! relay, once, map/set, off, persistence, acks after the store, offline,
//! garbage frames, reconnects) run on every driver from `tests/src/scenarios.rs`.

use std::time::Duration;

use crossbeam_channel::unbounded;
use gun_io_blocking::{Gun, GunError, GunOptions, keypair_from_seed};
use serde_json::json;

#[test]
fn the_blocking_api_end_to_end() {
    let relay = Gun::without_keys(GunOptions::relay_server(0)).expect("relay");
    let url = format!("ws://{}/gun", relay.local_addr().expect("bound"));
    let (sk, pk) = keypair_from_seed(&[7u8; 32]).expect("keys");
    let a = Gun::with_options(sk, pk, GunOptions::with_relay(&url)).expect("a");
    let b = Gun::without_keys(GunOptions {
        once_wait: Duration::from_millis(300),
        ..GunOptions::with_relay(&url)
    })
    .expect("b");
    assert!(a.wait_for_connection(5_000) && b.wait_for_connection(5_000));
    assert_eq!(a.connected_peer_count(), 1);
    assert!(a.is_connected() && a.state() > 1.7e12);

    let (tx, rx) = unbounded();
    let items = b.get("box");
    items.map(move |v, k| drop(tx.send((k, v))));
    std::thread::sleep(Duration::from_millis(100));
    let soul = a.get("box").set(json!({"label": "x"})).expect("set");
    a.get("box").get("plain").put(json!(5)).expect("put");
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 2 {
        let (k, v) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("map updates");
        seen.insert(k.expect("key"), v);
    }
    assert_eq!(seen[&soul]["label"], "x");
    assert_eq!(seen["plain"], 5);
    items.off();
    assert_eq!(
        b.get("box").get("plain").once(|_, _| {}).expect("once"),
        Some(json!(5))
    );
    assert_eq!(b.get("box").get("plain").back(None).path(), ["box"]);
    assert_eq!(b.get("nothing").once_value().expect("once"), None);
    for g in [a, b, relay] {
        g.shutdown().expect("shutdown");
    }
}

#[test]
fn keys_must_belong_together_and_bad_options_are_refused_clearly() {
    let (sk, _) = keypair_from_seed(&[1u8; 32]).expect("keys");
    let (_, other) = keypair_from_seed(&[2u8; 32]).expect("keys");
    assert!(matches!(
        Gun::new(sk.clone(), other),
        Err(GunError::Crypto(_))
    ));
    let pk = sk.sk_to_pk();
    let opts = GunOptions {
        put_timeout: Duration::from_millis(200),
        ..GunOptions::default()
    };
    let g = Gun::with_options(sk, pk, opts).expect("matching keys");
    assert!(
        matches!(g.get("k").put(json!({"v": 1})), Err(GunError::Network(_))),
        "no store and no peer: no ack"
    );
    assert!(matches!(
        g.get("k").put(json!({"v": [1]})),
        Err(GunError::InvalidData(_))
    ));
    let err = Gun::without_keys(GunOptions {
        webrtc: true,
        ..GunOptions::default()
    })
    .unwrap_err();
    assert!(matches!(err, GunError::WebRTC(_)));
    assert!(matches!(
        Gun::without_keys(GunOptions::with_relay("wss://example.invalid/gun")),
        Err(GunError::UrlParseError(_))
    ));
    let taken = Gun::without_keys(GunOptions::relay_server(0)).expect("relay");
    let port = taken.local_addr().expect("bound").port();
    assert!(matches!(
        Gun::without_keys(GunOptions::relay_server(port)),
        Err(GunError::Io(_))
    ));
}
