//! Driver scenarios, written once against the runtime-neutral API and run on
//! every driver: real sockets on 127.0.0.1, real stores.
//!
//! Time bounds here only catch hangs; no speed is asserted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};
use gun_core::{GunOptions, StoreKind};
use gun_proto::{Graph, MemoryStore, Store, StoreError, StoreQuery};
use serde_json::{Value, json};

use crate::{Net, Node};

/// Upper bound for anything to arrive.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// What a listener callback sees.
pub type Update = (Value, Option<String>);

pub fn relay(net: &impl Net) -> Node {
    net.start(GunOptions::relay_server(0))
}

pub fn client(net: &impl Net, url: &str) -> Node {
    let opts = GunOptions {
        once_wait: Duration::from_millis(500),
        ..GunOptions::with_relay(url)
    };
    let c = net.start(opts);
    assert!(
        c.gun.wait_for_connection(5_000).wait().expect("wait"),
        "client connects"
    );
    c
}

pub fn channel() -> (
    impl Fn(Value, Option<String>) + Send + Sync + 'static,
    Receiver<Update>,
) {
    let (tx, rx) = unbounded();
    (move |v, k| drop(tx.send((v, k))), rx)
}

/// Receives until `pred` holds, or fails after PATIENCE.
pub fn until(rx: &Receiver<Update>, pred: impl Fn(&Value, Option<&str>) -> bool) -> Value {
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

/// Polls `once_value` at `path` until `pred` holds.
pub fn eventually(
    node: &Node,
    path: &[&str],
    pred: impl Fn(&Option<Value>) -> bool,
) -> Option<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut chain = node.gun.get(path[0]);
        for k in &path[1..] {
            chain = chain.get(*k);
        }
        let v = chain.once_value().wait().expect("once");
        if pred(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{path:?} never satisfied the condition (last: {v:?})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub fn put_reaches_on_through_relay(net: &impl Net) {
    let r = relay(net);
    let (a, b) = (client(net, &r.url()), client(net, &r.url()));
    let (cb, rx) = channel();
    b.gun.get("user/alice").get("name").on(cb);
    std::thread::sleep(Duration::from_millis(100));
    a.gun
        .get("user/alice")
        .put_acked(json!({"name": "Alice", "age": 30}))
        .wait()
        .expect("acked by the relay");
    assert_eq!(until(&rx, |v, _| v == "Alice"), json!("Alice"));
    a.gun
        .get("user/alice")
        .get("name")
        .put(json!("Alicia"))
        .wait()
        .expect("settled locally");
    assert_eq!(until(&rx, |v, _| v == "Alicia"), json!("Alicia"));
}

pub fn once_missing_is_not_found_within_wait(net: &impl Net) {
    let r = relay(net);
    let a = client(net, &r.url());
    let mut seen = None;
    let chain = a
        .gun
        .get("nobody")
        .get("here")
        .once(|v, k| seen = Some((v, k)))
        .wait()
        .expect("once");
    assert_eq!(chain.path(), ["nobody", "here"]);
    assert_eq!(seen, Some((Value::Null, Some("here".into()))));
    assert_eq!(chain.once_value().wait().expect("once"), None);
    assert_eq!(chain.value().wait(), Err(gun_core::GunError::NodeNotFound));
}

pub fn map_and_set_hundred_items(net: &impl Net) {
    let r = relay(net);
    let (a, b) = (client(net, &r.url()), client(net, &r.url()));
    let (cb, rx) = channel();
    b.gun.get("list").map(cb);
    std::thread::sleep(Duration::from_millis(100));
    let mut souls = std::collections::BTreeSet::new();
    for i in 0..100 {
        let item = a.gun.get("list").set(json!({"n": i})).wait().expect("set");
        souls.insert(item.path().last().cloned().expect("item soul"));
    }
    assert_eq!(souls.len(), 100);
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 100 {
        let v = until(&rx, |v, _| v["n"].is_i64());
        seen.insert(v["n"].as_i64().expect("n"));
    }
    let list = client(net, &r.url())
        .gun
        .get("list")
        .once_value()
        .wait()
        .expect("once")
        .expect("found");
    assert_eq!(
        list.as_object().map(serde_json::Map::len),
        Some(101),
        "100 links and `_`"
    );
}

pub fn back_walks_up(net: &impl Net) {
    let g = net.start(GunOptions::default());
    let c = g.gun.get("a").get("b").get("c");
    let back = |n| c.back(n).map(|c| c.path().to_vec());
    assert_eq!(back(Some(1)).expect("parent"), ["a", "b"]);
    assert_eq!(back(Some(2)).expect("grandparent"), ["a"]);
    assert_eq!(back(Some(3)), Some(Vec::new()), "the root");
    assert_eq!(back(None), Some(Vec::new()), "the root");
    assert_eq!(back(Some(4)), None, "not that deep");
    assert!(matches!(
        g.gun.root().put(json!({"x": 1})).wait(),
        Err(gun_core::GunError::InvalidSoul(_))
    ));
}

pub fn off_stops_callbacks(net: &impl Net) {
    let r = relay(net);
    let (a, b) = (client(net, &r.url()), client(net, &r.url()));
    let (cb, rx) = channel();
    let chain = b.gun.get("t").get("v");
    chain.on(cb);
    std::thread::sleep(Duration::from_millis(100));
    a.gun.get("t").put(json!({"v": 1})).wait().expect("put");
    until(&rx, |v, _| v == 1);
    chain.off();
    std::thread::sleep(Duration::from_millis(100));
    a.gun.get("t").put(json!({"v": 2})).wait().expect("put");
    // The value reaches b's graph (the relay still pushes), and no callback comes for it.
    eventually(&b, &["t", "v"], |v| *v == Some(json!(2)));
    std::thread::sleep(Duration::from_millis(100));
    assert!(rx.try_iter().all(|(v, _)| v != 2), "callback after off");
}

pub fn callback_that_puts_does_not_deadlock(net: &impl Net) {
    let r = relay(net);
    let (a, b) = (client(net, &r.url()), client(net, &r.url()));
    let b2 = b.gun.clone();
    b.gun.get("ping").get("v").on(move |v, _| {
        b2.get("pong")
            .put(json!({"v": v}))
            .wait()
            .expect("put from a callback");
    });
    std::thread::sleep(Duration::from_millis(100));
    a.gun
        .get("ping")
        .put(json!({"v": "hello"}))
        .wait()
        .expect("put");
    eventually(&a, &["pong", "v"], |v| *v == Some(json!("hello")));
}

fn persists(net: &impl Net, opts: impl Fn(&std::path::Path) -> GunOptions) {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = net.start(opts(dir.path()));
    g.gun
        .get("doc")
        .put(json!({"title": "kept", "n": 1.5, "link": {"deep": true}}))
        .wait()
        .expect("put");
    g.gun.shutdown_blocking().expect("shutdown");
    drop(g);
    let g = net.start(opts(dir.path()));
    let doc = g
        .gun
        .get("doc")
        .once_value()
        .wait()
        .expect("once")
        .expect("found after reopening");
    assert_eq!(doc["title"], "kept");
    assert_eq!(doc["n"], 1.5);
    assert_eq!(
        g.gun
            .get("doc")
            .get("link")
            .get("deep")
            .once_value()
            .wait()
            .expect("once"),
        Some(json!(true))
    );
    // Once the store's souls are listed, a put to a stored soul still
    // merges with what is stored (an older write loses), and a put to a
    // new soul is stored without a read.
    std::thread::sleep(Duration::from_millis(200));
    g.gun
        .get("doc")
        .put_with_state(json!({"title": "older"}), 1.0)
        .wait()
        .expect("put");
    g.gun
        .get("fresh")
        .put(json!({"made": "after the restart"}))
        .wait()
        .expect("put");
    g.gun.shutdown_blocking().expect("shutdown");
    drop(g);
    let g = net.start(opts(dir.path()));
    let title = g.gun.get("doc").get("title").once_value().wait();
    assert_eq!(
        title.expect("once"),
        Some(json!("kept")),
        "the older write lost"
    );
    let made = g.gun.get("fresh").get("made").once_value().wait();
    assert_eq!(made.expect("once"), Some(json!("after the restart")));
}

/// `radisk: true`: the embedded default (redb), then each database by name.
pub fn embedded_stores_persist(net: &impl Net) {
    persists(net, |p| GunOptions {
        radisk: true,
        storage_path: Some(p.display().to_string()),
        ..GunOptions::default()
    });
    for kind in [StoreKind::Fjall, StoreKind::Sled] {
        persists(net, |p| GunOptions {
            store: Some(kind),
            storage_path: Some(p.display().to_string()),
            ..GunOptions::default()
        });
    }
}

pub fn file_store_persists(net: &impl Net) {
    persists(net, |p| GunOptions {
        localStorage: true,
        storage_path: Some(p.display().to_string()),
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

    fn write(&mut self, batch: &[Graph]) -> Result<(), StoreError> {
        std::thread::sleep(Duration::from_millis(300));
        self.inner.write(batch)?;
        if batch.iter().any(|part| !part.is_empty()) {
            self.written.lock().expect("lock").push(Instant::now());
        }
        Ok(())
    }
}

pub fn ack_only_after_the_relays_store_wrote(net: &impl Net) {
    let written = Arc::new(Mutex::new(Vec::new()));
    let store = SlowStore {
        inner: MemoryStore::new(),
        written: written.clone(),
    };
    let r = net.start_with(GunOptions::relay_server(0), Some(Box::new(store)));
    let a = client(net, &r.url());
    a.gun
        .get("slow")
        .put_acked(json!({"k": "v"}))
        .wait()
        .expect("acked");
    let acked = Instant::now();
    let written = written.lock().expect("lock").clone();
    assert_eq!(
        written.len(),
        1,
        "the relay wrote the put once before the ack came"
    );
    assert!(written[0] <= acked);
}

/// Writes while the relay is down settle locally at once, keep their
/// states, reach the relay when it starts, and a second client reads them.
fn offline_writes(net: &impl Net, disk: bool) {
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}/gun");
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = GunOptions {
        localStorage: disk,
        storage_path: Some(dir.path().display().to_string()),
        max_backoff: Duration::from_millis(200),
        once_wait: Duration::from_millis(500),
        put_timeout: Duration::from_millis(300),
        ..GunOptions::with_relay(&url)
    };
    let a = net.start(opts);
    assert!(!a.gun.is_connected());
    // Settled locally: no peer is needed, and none is waited for.
    a.gun
        .get("note")
        .put(json!({"text": "written offline"}))
        .wait()
        .expect("stored locally");
    for i in 0..100 {
        a.gun
            .get("notes")
            .get(format!("n{i}"))
            .put(json!(i))
            .wait()
            .expect("stored locally");
    }
    // Waiting for a peer that is not there fails, and the write stays queued.
    assert!(matches!(
        a.gun.get("acked").put_acked(json!({"k": 1})).wait(),
        Err(gun_core::GunError::Network(_))
    ));
    let local = a
        .gun
        .get("note")
        .once_value()
        .wait()
        .expect("reads work offline")
        .expect("found");
    let state = local["_"][">"]["text"].clone();
    assert!(state.is_number());

    let _relay = net.start(GunOptions::relay_server(port));
    assert!(
        a.gun.wait_for_connection(5_000).wait().expect("wait"),
        "the client reconnects"
    );
    let b = client(net, &url);
    let seen = eventually(&b, &["note"], Option::is_some).expect("found");
    assert_eq!(seen["text"], "written offline");
    assert_eq!(seen["_"][">"]["text"], state, "original state kept");
    eventually(&b, &["notes", "n99"], |v| *v == Some(json!(99)));
    eventually(&b, &["acked", "k"], |v| *v == Some(json!(1)));
}

pub fn offline_writes_keep_their_states(net: &impl Net) {
    offline_writes(net, true);
}

pub fn offline_writes_in_memory_reach_a_relay_that_starts_later(net: &impl Net) {
    offline_writes(net, false);
}

pub fn garbage_and_vanishing_clients(net: &impl Net) {
    use std::io::Write as _;
    let r = relay(net);
    let addr = r.addr.expect("bound");
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
    let (mut mid, _) = tungstenite::connect(r.url()).expect("raw client");
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = mid.get_mut() {
        s.write_all(&[0x81, 0xFE, 0x10, 0x00, 1, 2, 3, 4, b'{'])
            .expect("partial frame");
    }
    drop(mid);
    // Everyone else is still served.
    let (a, b) = (client(net, &r.url()), client(net, &r.url()));
    a.gun
        .get("still")
        .put_acked(json!({"ok": true}))
        .wait()
        .expect("acked by the relay");
    assert_eq!(
        b.gun
            .get("still")
            .get("ok")
            .once_value()
            .wait()
            .expect("once"),
        Some(json!(true))
    );
}

pub fn listeners_resubscribe_after_relay_restart(net: &impl Net) {
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}/gun");
    let relay = net.start(GunOptions::relay_server(port));
    let opts = GunOptions {
        max_backoff: Duration::from_millis(100),
        ..GunOptions::with_relay(&url)
    };
    let (a, b) = (net.start(opts.clone()), net.start(opts));
    assert!(
        a.gun.wait_for_connection(5_000).wait().expect("wait")
            && b.gun.wait_for_connection(5_000).wait().expect("wait")
    );
    let (cb, rx) = channel();
    b.gun.get("news").get("headline").on(cb);
    std::thread::sleep(Duration::from_millis(100));
    a.gun
        .get("news")
        .put(json!({"headline": "before"}))
        .wait()
        .expect("put");
    until(&rx, |v, _| v == "before");
    // The relay goes away (losing its memory) and a new one starts on the port.
    relay.gun.shutdown_blocking().expect("shutdown");
    drop(relay);
    let deadline = Instant::now() + PATIENCE;
    while b.gun.is_connected() || a.gun.is_connected() {
        assert!(
            Instant::now() < deadline,
            "the clients never noticed the relay left"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let _relay = net.start(GunOptions::relay_server(port));
    assert!(
        a.gun.wait_for_connection(5_000).wait().expect("wait")
            && b.gun.wait_for_connection(5_000).wait().expect("wait")
    );
    std::thread::sleep(Duration::from_millis(200));
    // b's listener asked the new relay again on reconnect, so a's write reaches it.
    a.gun
        .get("news")
        .get("headline")
        .put(json!("after"))
        .wait()
        .expect("put");
    until(&rx, |v, _| v == "after");
}

pub fn message_predicate_filters(net: &impl Net) {
    let keep = |m: &Value| m.get("put").and_then(|p| p.get("blocked")).is_none();
    let r = net.start(GunOptions {
        message_predicate: Some(Arc::new(keep)),
        ..GunOptions::relay_server(0)
    });
    let a = net.start(GunOptions {
        put_timeout: Duration::from_millis(500),
        ..GunOptions::with_relay(r.url())
    });
    assert!(a.gun.wait_for_connection(5_000).wait().expect("wait"));
    a.gun
        .get("allowed")
        .put_acked(json!({"k": 1}))
        .wait()
        .expect("passes the predicate");
    assert!(
        matches!(
            a.gun.get("blocked").put_acked(json!({"k": 1})).wait(),
            Err(gun_core::GunError::Network(_))
        ),
        "dropped, so never acked"
    );
    let b = client(net, &r.url());
    assert_eq!(
        b.gun
            .get("allowed")
            .get("k")
            .once_value()
            .wait()
            .expect("once"),
        Some(json!(1))
    );
    assert_eq!(
        b.gun
            .get("blocked")
            .get("k")
            .once_value()
            .wait()
            .expect("once"),
        None
    );
}

pub fn hundred_clients_each_see_every_write(net: &impl Net) {
    let r = relay(net);
    let url = r.url();
    let clients: Vec<Node> = (0..100).map(|_| client(net, &url)).collect();
    let (tx, rx) = unbounded::<(usize, String)>();
    for (i, c) in clients.iter().enumerate() {
        let tx = tx.clone();
        c.gun
            .get("room")
            .map(move |_, key| drop(tx.send((i, key.unwrap_or_default()))));
    }
    std::thread::sleep(Duration::from_millis(300));
    // Each client writes its own key, all at once.
    let pending: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| c.gun.get("room").get(format!("c{i}")).put_acked(json!(i)))
        .collect();
    for p in pending {
        p.wait().expect("acked");
    }
    let mut seen = vec![std::collections::BTreeSet::new(); clients.len()];
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.iter().any(|s| s.len() < clients.len()) {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("not every client saw every write");
        let (i, key) = rx
            .recv_timeout(left)
            .expect("not every client saw every write");
        seen[i].insert(key);
    }
}

/// Runs a scenario list as `#[test]`s for one driver.
/// SEA users: one made on one client logs in on another, writes its space
/// (signed), reads what the first wrote, and an encrypted value; another
/// user cannot write there without a certificate, and can with one.
pub fn users_sign_in_and_write_their_space(net: &impl Net) {
    use gun_core::sea;
    let r = relay(net);
    let (a, b, c) = (
        client(net, &r.url()),
        client(net, &r.url()),
        client(net, &r.url()),
    );
    let pass = "correct horse battery";
    let alice = a.gun.user().create("alice", pass).wait().expect("create");
    assert_eq!(a.gun.user().is().map(|u| u.pub_key), Some(alice.clone()));
    let pair = a.gun.user().pair().expect("pair");
    let secret = sea::encrypt(&json!("for alice only"), &pair.epriv).expect("encrypt");
    let profile = a.gun.user().get("profile").expect("logged in");
    profile.put(json!({"name": "Alice"})).wait().expect("put");
    a.gun
        .user()
        .get("diary")
        .expect("user")
        .put_acked(json!(secret))
        .wait()
        .expect("acked: the relay has it all");
    // Another client logs in as alice.
    assert!(b.gun.user().auth("alice", "wrong password").wait().is_err());
    let info = b.gun.user().auth("alice", pass).wait().expect("auth");
    assert_eq!(info.pub_key, alice);
    assert_eq!(info.alias, "alice");
    let name = eventually(&b, &[&format!("~{alice}"), "profile", "name"], |v| {
        v.is_some()
    });
    assert_eq!(name, Some(json!("Alice")));
    let diary = b
        .gun
        .user()
        .get("diary")
        .expect("user")
        .value()
        .wait()
        .expect("diary");
    let b_pair = b.gun.user().pair().expect("pair");
    assert_eq!(
        sea::decrypt(diary.as_str().expect("text"), &b_pair.epriv),
        Ok(json!("for alice only"))
    );
    b.gun
        .user()
        .get("status")
        .expect("user")
        .put_acked(json!("online"))
        .wait()
        .expect("signed write acked");
    eventually(&a, &[&format!("~{alice}"), "status"], |v| {
        v == &Some(json!("online"))
    });
    // Carol can neither take the alias nor write alice's space...
    let taken = c.gun.user().create("alice", "another password");
    assert!(matches!(taken.wait(), Err(gun_core::GunError::Crypto(e)) if e.contains("already")));
    let carol = c
        .gun
        .user()
        .create("carol", "carol's password")
        .wait()
        .expect("create");
    let refused = c
        .gun
        .user_at(&alice)
        .get("status")
        .put(json!("hacked"))
        .wait();
    assert!(
        matches!(refused, Err(gun_core::GunError::Crypto(_))),
        "{refused:?}"
    );
    // ...until alice certifies her for her inbox.
    let cert = sea::certify(
        &sea::Certificants::Keys(vec![carol.clone()]),
        &json!({"*": "inbox", "+": "*"}),
        &pair,
        None,
    )
    .expect("certify");
    c.gun
        .user_at(&alice)
        .get("inbox")
        .get(carol.clone())
        .put_certified(json!("hello alice"), cert)
        .wait()
        .expect("the relay took the certified write");
    let seen = eventually(&a, &[&format!("~{alice}"), "inbox", &carol], |v| {
        v.is_some()
    });
    assert_eq!(seen, Some(json!("hello alice")));
    a.gun.user().leave();
    assert!(a.gun.user().is().is_none());
}

#[macro_export]
macro_rules! scenarios {
    ($net:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::scenarios::$name(&$net);
            }
        )*
    };
}

/// A peer of `room` on the relay at `url`, WebRTC on (on 127.0.0.1, no
/// STUN), as `adjust` changes it.
fn rtc_peer(net: &impl Net, url: &str, room: &str, adjust: impl FnOnce(&mut GunOptions)) -> Node {
    let mut opts = GunOptions {
        once_wait: Duration::from_millis(300),
        ..GunOptions::with_relay(url)
    };
    opts.webrtc.enabled = true;
    opts.webrtc.room = Some(room.into());
    opts.webrtc.ice_servers.clear();
    opts.webrtc.bind = Some("127.0.0.1:0".parse().expect("addr"));
    adjust(&mut opts);
    let n = net.start(opts);
    assert!(n.gun.wait_for_connection(5_000).wait().expect("wait"));
    n
}

/// Waits until each of `nodes` has `n` WebRTC peers.
fn rtc_connected(nodes: &[&Node], n: usize) {
    let deadline = Instant::now() + PATIENCE * 2;
    while nodes.iter().any(|x| x.gun.webrtc_peers() != n) {
        assert!(
            Instant::now() < deadline,
            "WebRTC peers: {:?}, not {n}",
            nodes
                .iter()
                .map(|x| x.gun.webrtc_peers())
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Two peers meet in a room on a relay, open a data channel, and keep
/// syncing both ways once the relay is gone.
pub fn webrtc_peers_sync_without_the_relay(net: &impl Net) {
    let r = relay(net);
    let a = rtc_peer(net, &r.url(), "sync", |_| {});
    // Announced later: the first peer dials it.
    std::thread::sleep(Duration::from_millis(100));
    let b = rtc_peer(net, &r.url(), "sync", |_| {});
    rtc_connected(&[&a, &b], 1);
    r.gun.shutdown().wait().expect("relay stops");
    drop(r);
    let (cb, rx) = channel();
    b.gun.get("rtc").get("x").on(cb);
    a.gun
        .get("rtc")
        .get("x")
        .put(json!("from a"))
        .wait()
        .expect("put");
    until(&rx, |v, _| v == &json!("from a"));
    b.gun
        .get("rtc")
        .get("y")
        .put(json!("from b"))
        .wait()
        .expect("put");
    eventually(&a, &["rtc", "y"], |v| v == &Some(json!("from b")));
    // A peer that reads what the other holds: the get goes over the channel.
    b.gun
        .get("only-b")
        .get("k")
        .put(json!(1))
        .wait()
        .expect("put");
    eventually(&a, &["only-b", "k"], |v| v == &Some(json!(1)));
}

/// A burst past what the reader's driver takes at once (its message rate
/// held low here) waits in the WebRTC loop, in order, and arrives: the
/// last write is seen (dropped, it would leave the reader behind for good).
pub fn webrtc_bursts_are_held_not_dropped(net: &impl Net) {
    let r = relay(net);
    let a = rtc_peer(net, &r.url(), "burst", |_| {});
    std::thread::sleep(Duration::from_millis(100));
    let b = rtc_peer(net, &r.url(), "burst", |o| {
        o.quotas.max_msgs_per_sec = 1_000.0
    });
    rtc_connected(&[&a, &b], 1);
    drop(r);
    let (cb, rx) = channel();
    b.gun.get("burst").get("n").on(cb);
    std::thread::sleep(Duration::from_millis(200));
    let n = 3_000;
    for i in 0..n {
        a.gun
            .get("burst")
            .get("n")
            .put(json!(i))
            .wait()
            .expect("put");
    }
    until(&rx, |v, _| v == &json!(n - 1));
    assert_eq!(b.gun.webrtc_peers(), 1, "still connected");
}

/// `enabled = false` opens nothing; `max_connections` caps a peer's
/// connections.
pub fn webrtc_options_are_honoured(net: &impl Net) {
    let r = relay(net);
    let a = rtc_peer(net, &r.url(), "opts", |o| o.webrtc.max_connections = 1);
    std::thread::sleep(Duration::from_millis(100));
    let off = rtc_peer(net, &r.url(), "opts", |o| o.webrtc.enabled = false);
    let b = rtc_peer(net, &r.url(), "opts", |_| {});
    rtc_connected(&[&a, &b], 1);
    std::thread::sleep(Duration::from_millis(100));
    let c = rtc_peer(net, &r.url(), "opts", |_| {});
    // `c` is one more than `a` takes; `b`, already there, dials it.
    rtc_connected(&[&b], 2);
    rtc_connected(&[&c], 1);
    assert_eq!(a.gun.webrtc_peers(), 1);
    assert_eq!(off.gun.webrtc_peers(), 0);
}

/// Every scenario, for `scenarios!`.
#[macro_export]
macro_rules! all_scenarios {
    ($net:expr) => {
        $crate::scenarios!($net;
            put_reaches_on_through_relay,
            once_missing_is_not_found_within_wait,
            map_and_set_hundred_items,
            back_walks_up,
            off_stops_callbacks,
            callback_that_puts_does_not_deadlock,
            embedded_stores_persist,
            file_store_persists,
            ack_only_after_the_relays_store_wrote,
            offline_writes_keep_their_states,
            offline_writes_in_memory_reach_a_relay_that_starts_later,
            garbage_and_vanishing_clients,
            listeners_resubscribe_after_relay_restart,
            message_predicate_filters,
            hundred_clients_each_see_every_write,
            users_sign_in_and_write_their_space,
            webrtc_peers_sync_without_the_relay,
            webrtc_options_are_honoured,
            webrtc_bursts_are_held_not_dropped,
        );
    };
}
