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
    let item = a.get("box").set(json!({"label": "x"})).expect("set");
    let soul = item.path().last().cloned().expect("item soul");
    assert_eq!(item.path(), ["box", soul.as_str()]);
    a.get("box").get("plain").put(json!(5)).expect("put");
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 2 {
        let (k, v) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("map updates");
        seen.insert(k.expect("key"), v);
    }
    assert_eq!(seen[soul.as_str()]["label"], "x");
    assert_eq!(seen["plain"], 5);
    items.off();
    let mut read = None;
    let chain = b
        .get("box")
        .get("plain")
        .once(|v, k| read = Some((v, k)))
        .expect("once");
    assert_eq!(read, Some((json!(5), Some("plain".to_owned()))));
    let parent = chain.back(Some(1)).expect("parent");
    assert_eq!(parent.path(), ["box"]);
    assert!(chain.back(None).expect("root").path().is_empty());
    assert!(chain.back(Some(3)).is_none());
    assert_eq!(b.get("nothing").once_value().expect("once"), None);
    assert_eq!(b.get("nothing").value(), Err(GunError::NodeNotFound));
    for g in [a, b, relay] {
        g.shutdown().expect("shutdown");
    }
}

#[test]
fn keys_must_belong_together_and_bad_options_are_refused_clearly() {
    let (sk, _) = keypair_from_seed(&[1u8; 32]).expect("keys");
    let (_, other) = keypair_from_seed(&[2u8; 32]).expect("keys");
    assert!(matches!(
        Gun::with_options(sk.clone(), other, GunOptions::default()),
        Err(GunError::Crypto(_))
    ));
    let pk = sk.public_key();
    let opts = GunOptions {
        put_timeout: Duration::from_millis(200),
        ..GunOptions::default()
    };
    let g = Gun::with_options(sk, pk, opts).expect("matching keys");
    // Offline first: no store and no peer, and the put settles in memory.
    let chain = g.get("k").put(json!({"v": 1})).expect("settled locally");
    assert_eq!(chain.path(), ["k"]);
    assert_eq!(g.get("k").get("v").value(), Ok(json!(1)));
    assert!(
        matches!(
            g.get("k").put_acked(json!({"v": 2})),
            Err(GunError::Network(_))
        ),
        "no peer: no peer ack"
    );
    assert!(matches!(
        g.get("k").put(json!({"v": [1]})),
        Err(GunError::InvalidData(_))
    ));
    assert!(matches!(
        g.root().put(json!({"v": 1})),
        Err(GunError::InvalidSoul(_))
    ));
    // WebRTC settings that cannot work are refused, saying which.
    let mut opts = GunOptions::default();
    opts.webrtc.enabled = true;
    opts.webrtc.max_connections = 0;
    assert!(matches!(
        Gun::without_keys(opts).unwrap_err(),
        GunError::WebRTC(m) if m.contains("max_connections")
    ));
    let mut opts = GunOptions::default();
    opts.webrtc.enabled = true;
    opts.webrtc.data_channel.negotiated = Some(0);
    assert!(matches!(
        Gun::without_keys(opts).unwrap_err(),
        GunError::WebRTC(m) if m.contains("negotiated")
    ));
    for bad in [
        "ftp://127.0.0.1/gun",
        "127.0.0.1:8765",
        "ws://127.0.0.1:99999/gun",
    ] {
        assert!(
            matches!(
                Gun::without_keys(GunOptions::with_relay(bad)),
                Err(GunError::UrlParseError(_))
            ),
            "{bad}"
        );
    }
    let taken = Gun::without_keys(GunOptions::relay_server(0)).expect("relay");
    let port = taken.local_addr().expect("bound").port();
    assert!(matches!(
        Gun::without_keys(GunOptions::relay_server(port)),
        Err(GunError::Io(_))
    ));
}

#[test]
fn store_errors_keep_their_cause() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = GunOptions {
        localStorage: true,
        storage_path: Some(dir.path().display().to_string()),
        ..GunOptions::default()
    };
    let g = Gun::without_keys(opts.clone()).expect("file store");
    g.get("doc").put(json!({"k": 1})).expect("stored");
    g.shutdown().expect("shutdown");
    // Someone writes garbage over the node's file.
    let file = gun_io_blocking::FileStore::open(dir.path())
        .expect("open")
        .path_for("doc");
    std::fs::write(&file, b"{not json").expect("overwrite");
    let g = Gun::without_keys(opts).expect("reopen");
    let err = g
        .get("doc")
        .put(json!({"k": 2}))
        .expect_err("cannot merge into it");
    assert!(matches!(err, GunError::Serialization(_)), "{err}");
    let cause = std::error::Error::source(&err).expect("the JSON error underneath");
    assert!(
        cause.downcast_ref::<serde_json::Error>().is_some(),
        "{cause}"
    );
    // Other nodes are unaffected.
    g.get("other").put(json!({"k": 1})).expect("stored");
}

/// The relay's `/metrics` value of `name` (0 when it is not there).
fn metric(addr: std::net::SocketAddr, name: &str) -> f64 {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return 0.0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A relay on a free port with no message or byte rate limits.
fn unthrottled_relay() -> (Gun, std::net::SocketAddr) {
    let mut opts = GunOptions::relay_server(0);
    opts.quotas.max_msgs_per_sec = 0.0;
    opts.quotas.max_bytes_per_sec = 0.0;
    let relay = Gun::without_keys(opts).expect("relay");
    let addr = relay.local_addr().expect("bound");
    (relay, addr)
}

/// A raw WebSocket client of the relay at `addr` (reads wait up to 5 s).
fn raw_client(addr: std::net::SocketAddr) -> tungstenite::WebSocket<std::net::TcpStream> {
    let tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    tungstenite::client(format!("ws://{addr}/gun").as_str(), tcp)
        .expect("handshake")
        .0
}

#[test]
fn a_subscriber_that_stops_reading_is_dropped_and_its_threads_end() {
    let (relay, addr) = unthrottled_relay();
    let connect = || raw_client(addr);
    let mut slow = connect();
    slow.send(tungstenite::Message::text(
        r##"{"#":"g1","get":{"#":"flood"}}"##,
    ))
    .expect("subscribe");
    let _ = slow.read();
    // From now on it reads nothing: the socket's buffers fill, the relay's
    // writer thread waits on it, then the relay's queue for it fills (8
    // MiB) and the driver drops it. Both of its threads must end.
    let mut writer = connect();
    writer
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(1)))
        .expect("timeout");
    let value = "x".repeat(16 << 10);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    while metric(addr, "gun_connections") > 1.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the slow reader's connection is still open after {n} puts"
        );
        for _ in 0..20 {
            n += 1;
            let frame = format!(
                r##"{{"#":"p{n}","put":{{"flood":{{"_":{{"#":"flood",">":{{"k{n}":1}}}},"k{n}":"{value}"}}}}}}"##
            );
            if writer.send(tungstenite::Message::text(frame)).is_err() {
                break;
            }
            // The writer reads its acks, so it is not a slow reader itself.
            while writer.read().is_ok() {}
        }
    }
    assert!(
        metric(addr, r#"gun_peers_dropped_total{reason="slow_reader"}"#) >= 1.0,
        "dropped as a slow reader"
    );
    relay.shutdown().expect("shutdown");
}

/// The frames a socket read brings go to the driver together: a get behind
/// 100 puts in the same write sees all of them, and 100 puts with a close
/// behind them are all stored.
#[test]
fn frames_read_in_one_go_are_all_handled_in_order() {
    use tungstenite::Message;
    let (relay, addr) = unthrottled_relay();
    let connect = || raw_client(addr);
    let burst = |ws: &mut tungstenite::WebSocket<std::net::TcpStream>, soul: &str| {
        for i in 0..100 {
            let frame = format!(
                r##"{{"#":"{soul}{i}","put":{{"{soul}":{{"_":{{"#":"{soul}",">":{{"k{i}":1}}}},"k{i}":{i}}}}}}}"##
            );
            ws.write(Message::text(frame)).expect("queue");
        }
    };
    let node_of = |ws: &mut tungstenite::WebSocket<std::net::TcpStream>, get: &str| loop {
        let Ok(Message::Text(t)) = ws.read() else {
            panic!("no answer to {get}");
        };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("json");
        let msgs = match v {
            serde_json::Value::Array(a) => a,
            one => vec![one],
        };
        if let Some(m) = msgs.iter().find(|m| m["@"] == get) {
            return m["put"].clone();
        }
    };
    let mut c = connect();
    burst(&mut c, "a");
    c.write(Message::text(r##"{"#":"ga","get":{"#":"a"}}"##))
        .expect("queue");
    c.flush().expect("one write");
    let put = node_of(&mut c, "ga");
    for i in 0..100 {
        assert_eq!(put["a"][format!("k{i}")], json!(i), "k{i} before the get");
    }
    let mut b = connect();
    burst(&mut b, "b");
    let _ = b.close(None);
    let _ = b.flush();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut g = connect();
        g.send(Message::text(r##"{"#":"gb","get":{"#":"b"}}"##))
            .expect("get");
        let put = node_of(&mut g, "gb");
        if (0..100).all(|i| put["b"][format!("k{i}")] == json!(i)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "puts lost behind a close: {put}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    relay.shutdown().expect("shutdown");
}
