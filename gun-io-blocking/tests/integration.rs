//! The blocking driver end to end over real loopback sockets.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};
use gun_io_blocking::{Gun, GunOptions};
use gun_proto::{Graph, MemoryStore, Store, StoreError, StoreQuery};
use serde_json::{Value, json};

/// Upper bound for anything to arrive: a hang fails the test, speed is not measured.
const PATIENCE: Duration = Duration::from_secs(10);

fn relay() -> (Gun, String) {
    let relay = Gun::without_keys(GunOptions {
        port: 0,
        ..GunOptions::relay_server(0)
    })
    .expect("relay");
    let url = format!("ws://{}/gun", relay.local_addr().expect("bound"));
    (relay, url)
}

fn client(url: &str) -> Gun {
    let opts = GunOptions {
        once_wait: Duration::from_millis(500),
        ..GunOptions::with_relay(url)
    };
    let c = Gun::without_keys(opts).expect("client");
    assert!(c.wait_for_connection(5_000), "client connects");
    c
}

/// What a listener callback sees.
type Update = (Value, Option<String>);

fn channel() -> (
    impl Fn(Value, Option<String>) + Send + Sync + 'static,
    Receiver<Update>,
) {
    let (tx, rx) = unbounded();
    (move |v, k| drop(tx.send((v, k))), rx)
}

/// Receives until `pred` holds, or fails after PATIENCE.
fn until(
    rx: &Receiver<(Value, Option<String>)>,
    pred: impl Fn(&Value, Option<&str>) -> bool,
) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("timed out waiting for an update");
        let (v, k) = rx
            .recv_timeout(left)
            .expect("timed out waiting for an update");
        if pred(&v, k.as_deref()) {
            return v;
        }
    }
}

#[test]
fn a_put_reaches_another_clients_on_through_the_relay() {
    let (_relay, url) = relay();
    let (a, b) = (client(&url), client(&url));
    let (cb, rx) = channel();
    b.get("user/alice").get("name").on(cb);
    std::thread::sleep(Duration::from_millis(100));
    a.get("user/alice")
        .put(json!({"name": "Alice", "age": 30}))
        .expect("acked by the relay");
    assert_eq!(until(&rx, |v, _| v == "Alice"), json!("Alice"));
    a.get("user/alice")
        .get("name")
        .put(json!("Alicia"))
        .expect("acked");
    assert_eq!(until(&rx, |v, _| v == "Alicia"), json!("Alicia"));
}

#[test]
fn once_on_missing_data_resolves_as_not_found_within_the_wait() {
    let (_relay, url) = relay();
    let a = client(&url);
    let started = Instant::now();
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let v = a
        .get("nobody")
        .get("here")
        .once(move |v, k| *s.lock().expect("lock") = Some((v, k)))
        .expect("once");
    assert_eq!(v, None);
    assert_eq!(
        *seen.lock().expect("lock"),
        Some((Value::Null, Some("here".into())))
    );
    assert!(started.elapsed() < PATIENCE);
}

#[test]
fn map_and_set_over_a_hundred_items() {
    let (_relay, url) = relay();
    let (a, b) = (client(&url), client(&url));
    let (cb, rx) = channel();
    b.get("list").map(cb);
    std::thread::sleep(Duration::from_millis(100));
    let mut souls = Vec::new();
    for i in 0..100 {
        souls.push(a.get("list").set(json!({"n": i})).expect("set"));
    }
    assert_eq!(
        souls
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        100
    );
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 100 {
        let v = until(&rx, |v, _| v["n"].is_i64());
        seen.insert(v["n"].as_i64().expect("n"));
    }
    // The relay holds the list and each item node.
    let list = client(&url)
        .get("list")
        .once_value()
        .expect("once")
        .expect("found");
    assert_eq!(
        list.as_object().map(|o| o.len()),
        Some(101),
        "100 links and `_`"
    );
}

#[test]
fn back_walks_up_the_chain() {
    let g = Gun::without_keys(GunOptions::default()).expect("gun");
    let c = g.get("a").get("b").get("c");
    assert_eq!(c.back(None).path(), ["a", "b"]);
    assert_eq!(c.back(Some(2)).path(), ["a"]);
    assert!(c.back(Some(9)).path().is_empty());
    assert!(matches!(
        g.root().put(json!({"x": 1})),
        Err(gun_io_blocking::GunError::InvalidSoul(_))
    ));
}

#[test]
fn off_stops_callbacks() {
    let (_relay, url) = relay();
    let (a, b) = (client(&url), client(&url));
    let (cb, rx) = channel();
    let chain = b.get("t").get("v");
    chain.on(cb);
    std::thread::sleep(Duration::from_millis(100));
    a.get("t").put(json!({"v": 1})).expect("put");
    until(&rx, |v, _| v == 1);
    chain.off();
    std::thread::sleep(Duration::from_millis(100));
    a.get("t").put(json!({"v": 2})).expect("put");
    // The value does reach b's graph (the relay still pushes), and no callback comes for it.
    let deadline = Instant::now() + PATIENCE;
    while b.get("t").get("v").once_value().expect("once") != Some(json!(2)) {
        assert!(Instant::now() < deadline, "the push never reached b");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(rx.try_iter().all(|(v, _)| v != 2), "callback after off");
}

#[test]
fn a_callback_that_puts_does_not_deadlock() {
    let (_relay, url) = relay();
    let (a, b) = (client(&url), client(&url));
    let b2 = b.clone();
    b.get("ping").get("v").on(move |v, _| {
        // A blocking put from inside a callback.
        b2.get("pong")
            .put(json!({"v": v}))
            .expect("put from a callback");
    });
    std::thread::sleep(Duration::from_millis(100));
    a.get("ping").put(json!({"v": "hello"})).expect("put");
    let deadline = Instant::now() + PATIENCE;
    loop {
        if a.get("pong").get("v").once_value().expect("once") == Some(json!("hello")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the callback's put never arrived"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn persists(opts: impl Fn(&std::path::Path) -> GunOptions) {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = Gun::without_keys(opts(dir.path())).expect("open");
    g.get("doc")
        .put(json!({"title": "kept", "n": 1.5, "link": {"deep": true}}))
        .expect("put");
    g.shutdown().expect("shutdown");
    drop(g);
    let g = Gun::without_keys(opts(dir.path())).expect("reopen");
    let doc = g
        .get("doc")
        .once_value()
        .expect("once")
        .expect("found after reopening");
    assert_eq!(doc["title"], "kept");
    assert_eq!(doc["n"], 1.5);
    assert_eq!(
        g.get("doc")
            .get("link")
            .get("deep")
            .once_value()
            .expect("once"),
        Some(json!(true))
    );
}

#[test]
fn the_sled_store_keeps_data_across_reopening() {
    persists(|p| GunOptions {
        radisk: true,
        storage_path: Some(p.to_owned()),
        ..GunOptions::default()
    });
}

#[test]
fn the_file_store_keeps_data_across_reopening() {
    persists(|p| GunOptions {
        local_storage: true,
        storage_path: Some(p.to_owned()),
        ..GunOptions::default()
    });
}

/// A store whose writes take a while, recording when each finished.
struct SlowStore {
    inner: MemoryStore,
    written: Arc<Mutex<Vec<Instant>>>,
}

impl Store for SlowStore {
    fn read(&mut self, q: &StoreQuery) -> Result<Graph, StoreError> {
        self.inner.read(q)
    }

    fn write(&mut self, batch: &Graph) -> Result<(), StoreError> {
        std::thread::sleep(Duration::from_millis(300));
        self.inner.write(batch)?;
        if !batch.is_empty() {
            self.written.lock().expect("lock").push(Instant::now());
        }
        Ok(())
    }
}

#[test]
fn a_put_is_acked_only_after_the_relays_store_wrote_it() {
    let written = Arc::new(Mutex::new(Vec::new()));
    let store = SlowStore {
        inner: MemoryStore::new(),
        written: written.clone(),
    };
    let relay = Gun::with_store(GunOptions::relay_server(0), Box::new(store)).expect("relay");
    let url = format!("ws://{}/gun", relay.local_addr().expect("bound"));
    let a = client(&url);
    a.get("slow").put(json!({"k": "v"})).expect("acked");
    let acked = Instant::now();
    let written = written.lock().expect("lock").clone();
    assert_eq!(
        written.len(),
        1,
        "the relay wrote the put once before the ack came"
    );
    assert!(written[0] <= acked);
}

#[test]
fn offline_writes_reach_others_with_their_original_states() {
    // A port nobody listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("ws://127.0.0.1:{port}/gun");
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = GunOptions {
        local_storage: true,
        storage_path: Some(dir.path().to_owned()),
        max_backoff: Duration::from_millis(200),
        once_wait: Duration::from_millis(500),
        ..GunOptions::with_relay(&url)
    };
    let a = Gun::without_keys(opts).expect("client");
    assert!(!a.is_connected());
    a.get("note")
        .put(json!({"text": "written offline"}))
        .expect("stored locally");
    let local = a
        .get("note")
        .once_value()
        .expect("reads work offline")
        .expect("found");
    let state = local["_"][">"]["text"].clone();
    assert!(state.is_number());

    let relay = Gun::without_keys(GunOptions::relay_server(port)).expect("relay starts");
    assert!(a.wait_for_connection(5_000), "the client reconnects");
    let b = client(&url);
    let deadline = Instant::now() + PATIENCE;
    let seen = loop {
        if let Some(v) = b.get("note").once_value().expect("once") {
            break v;
        }
        assert!(Instant::now() < deadline, "offline write never arrived");
    };
    assert_eq!(seen["text"], "written offline");
    assert_eq!(seen["_"][">"]["text"], state, "original state kept");
    drop(relay);
}

#[test]
fn garbage_and_vanishing_clients_leave_the_relay_serving() {
    use std::io::Write as _;
    let (relay, url) = relay();
    let addr = relay.local_addr().expect("bound");
    // A client that sends garbage text, a binary frame, a bad put, then hangs up.
    // Any path is accepted, as Gun.js accepts.
    let (mut raw, _) =
        tungstenite::connect(format!("ws://{addr}/some/other/path")).expect("raw client");
    for text in [
        "hello",
        "{\"put\":",
        "[1,2",
        "{\"#\":\"x\",\"put\":{\"s\":{\"k\":1}}}",
    ] {
        raw.send(tungstenite::Message::text(text)).expect("send");
    }
    raw.send(tungstenite::Message::binary(vec![0u8, 159, 146, 150]))
        .expect("send");
    // It gets error replies (after the greeting), not a dropped connection.
    // Replies may share a frame: count them. A missing one fails on the timeout.
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = raw.get_mut() {
        s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    }
    let mut errors = 0;
    while errors < 4 {
        let reply = raw.read().expect("four error replies");
        errors += reply.to_text().expect("text").matches("\"err\":").count();
    }
    drop(raw);
    // A TCP client that vanishes mid-handshake, and one mid-frame.
    let mut half = std::net::TcpStream::connect(addr).expect("tcp");
    half.write_all(b"GET /gun HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    drop(half);
    let (mut mid, _) = tungstenite::connect(url.as_str()).expect("raw client");
    mid.get_mut()
        .write_all(&[0x81, 0xFE, 0x10, 0x00, 1, 2, 3, 4, b'{'])
        .expect("partial frame");
    drop(mid);
    // Everyone else is still served.
    let (a, b) = (client(&url), client(&url));
    a.get("still").put(json!({"ok": true})).expect("put");
    assert_eq!(
        b.get("still").get("ok").once_value().expect("once"),
        Some(json!(true))
    );
}

#[test]
fn keys_must_belong_together_and_webrtc_is_refused_clearly() {
    let (sk, _) = gun_io_blocking::keypair_from_seed(&[1u8; 32]).expect("keys");
    let (_, other) = gun_io_blocking::keypair_from_seed(&[2u8; 32]).expect("keys");
    assert!(matches!(
        Gun::new(sk.clone(), other),
        Err(gun_io_blocking::GunError::Crypto(_))
    ));
    let pk = sk.sk_to_pk();
    let opts = GunOptions {
        put_timeout: Duration::from_millis(200),
        ..GunOptions::default()
    };
    let g = Gun::with_options(sk, pk, opts).expect("matching keys");
    g.get("k")
        .put(json!({"v": 1}))
        .expect_err("no store and no peer: no ack");
    let err = Gun::without_keys(GunOptions {
        webrtc: true,
        ..GunOptions::default()
    })
    .unwrap_err();
    assert!(matches!(err, gun_io_blocking::GunError::WebRTC(_)));
    assert!(matches!(
        Gun::without_keys(GunOptions::with_relay("wss://example.invalid/gun")),
        Err(gun_io_blocking::GunError::UrlParseError(_))
    ));
}

#[test]
fn listeners_resubscribe_when_the_relay_comes_back() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("ws://127.0.0.1:{port}/gun");
    let relay = Gun::without_keys(GunOptions::relay_server(port)).expect("relay");
    let opts = GunOptions {
        max_backoff: Duration::from_millis(100),
        ..GunOptions::with_relay(&url)
    };
    let (a, b) = (
        Gun::without_keys(opts.clone()).expect("a"),
        Gun::without_keys(opts).expect("b"),
    );
    assert!(a.wait_for_connection(5_000) && b.wait_for_connection(5_000));
    let (cb, rx) = channel();
    b.get("news").get("headline").on(cb);
    std::thread::sleep(Duration::from_millis(100));
    a.get("news")
        .put(json!({"headline": "before"}))
        .expect("put");
    until(&rx, |v, _| v == "before");
    // The relay goes away (losing its memory) and a new one starts on the port.
    relay.shutdown().expect("shutdown");
    drop(relay);
    let deadline = Instant::now() + PATIENCE;
    while b.is_connected() {
        assert!(Instant::now() < deadline, "b never noticed the relay left");
        std::thread::sleep(Duration::from_millis(10));
    }
    let _relay = Gun::without_keys(GunOptions::relay_server(port)).expect("relay again");
    assert!(a.wait_for_connection(5_000) && b.wait_for_connection(5_000));
    std::thread::sleep(Duration::from_millis(200));
    // b's listener asked the new relay again on reconnect, so a's write reaches it.
    a.get("news")
        .get("headline")
        .put(json!("after"))
        .expect("put");
    until(&rx, |v, _| v == "after");
}

#[test]
fn the_message_predicate_filters_incoming_messages() {
    let keep = |m: &Value| m.get("put").and_then(|p| p.get("blocked")).is_none();
    let opts = GunOptions {
        message_predicate: Some(std::sync::Arc::new(keep)),
        ..GunOptions::relay_server(0)
    };
    let relay = Gun::without_keys(opts).expect("relay");
    let url = format!("ws://{}/gun", relay.local_addr().expect("bound"));
    let a = Gun::without_keys(GunOptions {
        put_timeout: Duration::from_millis(500),
        ..GunOptions::with_relay(&url)
    })
    .expect("client");
    assert!(a.wait_for_connection(5_000));
    a.get("allowed")
        .put(json!({"k": 1}))
        .expect("passes the predicate");
    assert!(
        a.get("blocked").put(json!({"k": 1})).is_err(),
        "dropped by the predicate, so never acked"
    );
    let b = client(&url);
    assert_eq!(
        b.get("allowed").get("k").once_value().expect("once"),
        Some(json!(1))
    );
    assert_eq!(b.get("blocked").get("k").once_value().expect("once"), None);
}
