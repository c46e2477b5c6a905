//! WebRTC with Gun.js: two Gun.js peers (node, with `@roamhq/wrtc`) meet in
//! a room through our relay, open a data channel (their offers, answers
//! and candidates are replies our relay routes), and keep syncing over it
//! after the relay stops; and our peer meets a Gun.js peer, through our
//! relay and through a Gun.js relay, dialing it and dialed by it, and
//! they exchange writes both ways over the channel once the relay is gone.
//! And Gun.js in headless Chromium syncs with our peer over WebRTC (when
//! `/usr/bin/chromium` is installed; else that test says so and passes).
//! All in a network namespace of the test's own, with no ICE servers:
//! nothing leaves the machine.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};
use serde_json::{Value, json};
use support::{GunJs, Relay, assert_isolated, free_port, in_namespace};

/// A Gun.js peer with WebRTC on (`tests/interop/rtc-peer.js`).
struct RtcPeer {
    child: Child,
    stdin: ChildStdin,
    events: Receiver<Value>,
}

impl RtcPeer {
    fn start(relay: u16, room: &str) -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
        assert!(
            dir.join("node_modules/@roamhq/wrtc").is_dir(),
            "@roamhq/wrtc is not installed: run `npm ci --prefix tests/interop`"
        );
        let mut child = Command::new("node")
            .arg("rtc-peer.js")
            .env("PORT", relay.to_string())
            .env("ROOM", room)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, events) = unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            events,
        }
    }

    fn send(&mut self, cmd: &Value) {
        writeln!(self.stdin, "{cmd}").expect("command");
    }

    /// The first event `pick` takes, within `d`.
    fn wait(&self, d: Duration, pick: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) if pick(&v) => return Some(v),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

impl Drop for RtcPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn gunjs_webrtc_peers_meet_through_our_relay_and_sync_after_it_stops() {
    if !in_namespace("gunjs_webrtc_peers_meet_through_our_relay_and_sync_after_it_stops") {
        return;
    }
    assert_isolated();
    let dir = tempfile::tempdir().expect("dir");
    let relay = Relay::start(dir.path(), &[]);
    let a = RtcPeer::start(relay.port, "meet");
    std::thread::sleep(Duration::from_millis(800));
    let mut b = RtcPeer::start(relay.port, "meet");
    b.send(&json!({"sub": true}));
    let up = |p: &RtcPeer| p.wait(Duration::from_secs(20), |v| v.get("rtc").is_some());
    assert!(up(&a).is_some(), "a's data channel to b did not open");
    assert!(up(&b).is_some(), "b's data channel to a did not open");

    relay.stop();
    let mut a = a;
    a.send(&json!({"put": "over the data channel"}));
    let got = b.wait(Duration::from_secs(10), |v| {
        v["got"] == json!("over the data channel")
    });
    assert!(got.is_some(), "b did not get a's write with the relay gone");
}

/// Which relay the peers meet on.
#[derive(Clone, Copy, Debug)]
enum Meet {
    /// Our `gun` relay.
    Ours,
    /// A Gun.js relay (`relay.js`, AXE on).
    GunJs,
}

/// A relay of either kind (stopped when dropped), and its port.
fn start_relay(kind: Meet, dir: &std::path::Path) -> (Box<dyn std::any::Any>, u16) {
    match kind {
        Meet::Ours => {
            let r = Relay::start(dir, &[]);
            let port = r.port;
            (Box::new(r), port)
        }
        Meet::GunJs => {
            let port = free_port();
            (Box::new(GunJs::start("relay.js", port, dir)), port)
        }
    }
}

/// Our peer (on tokio) in `room` on the relay at `port`.
fn rust_peer(rt: &tokio::runtime::Runtime, port: u16, room: &str) -> gun_io_tokio::Gun {
    let mut opts = gun_io_tokio::GunOptions::with_relay(format!("ws://127.0.0.1:{port}/gun"));
    opts.webrtc.enabled = true;
    opts.webrtc.room = Some(room.into());
    opts.webrtc.ice_servers.clear();
    opts.webrtc.bind = Some("127.0.0.1:0".parse().expect("addr"));
    rt.block_on(gun_io_tokio::Gun::without_keys(opts))
        .expect("starts")
}

/// Our peer and a Gun.js peer meet on `kind`'s relay (ours first: we dial;
/// else Gun.js dials us), then sync both ways with the relay gone.
fn rust_meets_gunjs(kind: Meet, rust_first: bool) {
    assert_isolated();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let (relay, port) = start_relay(kind, dir.path());
    let room = "mixed";
    let (ours, mut js) = if rust_first {
        let ours = rust_peer(&rt, port, room);
        std::thread::sleep(Duration::from_millis(800));
        (ours, RtcPeer::start(port, room))
    } else {
        let js = RtcPeer::start(port, room);
        std::thread::sleep(Duration::from_millis(800));
        (rust_peer(&rt, port, room), js)
    };
    let opened = js.wait(Duration::from_secs(20), |v| v.get("rtc").is_some());
    assert!(
        opened.is_some(),
        "{kind:?}: Gun.js saw no data channel open"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while ours.webrtc_peers() == 0 {
        assert!(
            Instant::now() < deadline,
            "{kind:?}: our peer saw no data channel open"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(relay);

    // Gun.js → us, over the channel.
    let (tx, rx) = unbounded();
    ours.get("rtc-test")
        .get("x")
        .on(move |v, _| drop(tx.send(v)));
    js.send(&json!({"sub": true}));
    std::thread::sleep(Duration::from_millis(300));
    js.send(&json!({"put": "from gunjs"}));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) if v == json!("from gunjs") => break,
            Ok(_) => {}
            Err(_) => panic!("{kind:?}: Gun.js's write did not reach us"),
        }
    }
    // Us → Gun.js.
    rt.block_on(ours.get("rtc-test").get("x").put(json!("from rust")))
        .expect("put");
    let got = js.wait(Duration::from_secs(10), |v| v["got"] == json!("from rust"));
    assert!(got.is_some(), "{kind:?}: our write did not reach Gun.js");
    rt.block_on(ours.shutdown()).expect("stops");
}

#[test]
fn rust_dials_gunjs_met_on_our_relay() {
    if in_namespace("rust_dials_gunjs_met_on_our_relay") {
        rust_meets_gunjs(Meet::Ours, true);
    }
}

#[test]
fn gunjs_dials_rust_met_on_our_relay() {
    if in_namespace("gunjs_dials_rust_met_on_our_relay") {
        rust_meets_gunjs(Meet::Ours, false);
    }
}

#[test]
fn rust_dials_gunjs_met_on_a_gunjs_relay() {
    if in_namespace("rust_dials_gunjs_met_on_a_gunjs_relay") {
        rust_meets_gunjs(Meet::GunJs, true);
    }
}

#[test]
fn gunjs_dials_rust_met_on_a_gunjs_relay() {
    if in_namespace("gunjs_dials_rust_met_on_a_gunjs_relay") {
        rust_meets_gunjs(Meet::GunJs, false);
    }
}

/// Chromium, where Debian installs it.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Gun.js in headless Chromium (`tests/interop/rtc-page.html`): its
/// console's `GUNTEST` lines, as they come.
struct Browser {
    child: Child,
    lines: Receiver<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(port: u16, room: &str) -> Self {
        let page = support::interop_dir()
            .join("rtc-page.html")
            .canonicalize()
            .expect("the page");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                // Gather candidates on the loopback, as IPs, not mDNS names.
                "--allow-loopback-in-peer-connection",
                "--disable-features=WebRtcHideLocalIpsWithMdns",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("file://{}?port={port}&room={room}", page.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium runs");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("GUNTEST ") {
                    let msg = line[i + 8..].split('"').next().unwrap_or("").to_owned();
                    if tx.send(msg).is_err() {
                        break;
                    }
                }
            }
        });
        Self {
            child,
            lines,
            _profile: profile,
        }
    }

    /// The first console line starting with `prefix`, within `d`.
    fn wait(&self, d: Duration, prefix: &str) -> Option<String> {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => {
                    eprintln!("page: {l}");
                    return Some(l);
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Gun.js in Chromium and our peer meet on our relay (the page first, so
/// it dials us), then, with the relay gone, our ping reaches the page over
/// the data channel and its pong comes back the same way.
fn chromium_and_rust(rust_first: bool) {
    assert_isolated();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let relay = Relay::start(dir.path(), &[]);
    let room = "browser";
    let (ours, page) = if rust_first {
        let ours = rust_peer(&rt, relay.port, room);
        std::thread::sleep(Duration::from_millis(800));
        let page = Browser::start(relay.port, room);
        (ours, page)
    } else {
        let page = Browser::start(relay.port, room);
        assert!(
            page.wait(Duration::from_secs(30), "pid").is_some(),
            "the page did not start Gun.js"
        );
        std::thread::sleep(Duration::from_millis(800));
        (rust_peer(&rt, relay.port, room), page)
    };
    assert!(
        page.wait(Duration::from_secs(30), "rtc").is_some(),
        "the page saw no data channel open"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while ours.webrtc_peers() == 0 {
        assert!(
            Instant::now() < deadline,
            "our peer saw no data channel open"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    relay.stop();

    let (tx, rx) = unbounded();
    ours.get("rtc-test")
        .get("pong")
        .on(move |v, _| drop(tx.send(v)));
    std::thread::sleep(Duration::from_millis(300));
    rt.block_on(ours.get("rtc-test").get("ping").put(json!("hello")))
        .expect("put");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) if v == json!("pong:hello") => break,
            Ok(_) => {}
            Err(_) => panic!("the page's pong did not come back over the data channel"),
        }
    }
    rt.block_on(ours.shutdown()).expect("stops");
}

/// Whether Chromium is here; says so when not.
fn chromium(test: &str) -> bool {
    if std::path::Path::new(CHROMIUM).exists() {
        return true;
    }
    eprintln!("SKIPPED {test}: {CHROMIUM} is not installed (Debian's `chromium`)");
    false
}

#[test]
fn chromium_dials_rust() {
    if chromium("chromium_dials_rust") && in_namespace("chromium_dials_rust") {
        chromium_and_rust(false);
    }
}

#[test]
fn rust_dials_chromium() {
    if chromium("rust_dials_chromium") && in_namespace("rust_dials_chromium") {
        chromium_and_rust(true);
    }
}
