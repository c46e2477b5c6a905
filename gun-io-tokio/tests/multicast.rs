//! LAN multicast, compatible with Gun.js: two `gun` relays and a Gun.js
//! relay, all with multicast on, see each other's writes with no other
//! link between them; with the option off, nothing is sent.
//!
//! Datagrams must never leave the machine: each test runs itself again in a
//! network namespace of its own (`unshare -n`, which needs root), where the
//! loopback is the only interface, with multicast routed to it. Where a
//! namespace cannot be made, the test says so and passes without running.

mod support;

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{
    GunJs, HONEST, Raw, Relay, assert_isolated, free_port, fresh_id, in_namespace, interop_dir,
    now_ms, put,
};

/// What `port`'s relay holds at `soul`.`key`, asked until `deadline`.
fn eventually(port: u16, soul: &str, key: &str, want: &Value, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(mut c) = Raw::connect(port, HONEST) {
            let id = fresh_id("get");
            c.send_json(&json!({"#": id, "get": {"#": soul, ".": key}}));
            if let Some(m) = c.wait_for(Duration::from_secs(1), |m| m["@"] == json!(id))
                && m["put"][soul][key] == *want
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// Puts `soul`.`key` = `value` through `port`'s relay and waits for its ack.
fn write(port: u16, soul: &str, key: &str, value: &Value) {
    let mut c = Raw::connect(port, HONEST).expect("connect");
    let id = fresh_id("put");
    c.send_json(&put(&id, soul, key, value, now_ms()));
    assert!(
        c.wait_for(Duration::from_secs(5), |m| m["@"] == json!(id))
            .is_some(),
        "no ack from the relay on {port}"
    );
}

#[test]
fn two_gun_relays_and_a_gunjs_relay_share_writes_over_multicast() {
    if !in_namespace("two_gun_relays_and_a_gunjs_relay_share_writes_over_multicast") {
        return;
    }
    assert_isolated();
    assert!(
        interop_dir().join("node_modules/gun").is_dir(),
        "Gun.js is not installed: run `npm ci --prefix tests/interop`"
    );
    let dir = tempfile::tempdir().expect("dir");
    let a = Relay::start(&dir.path().join("a"), &["--multicast"]);
    let b = Relay::start(&dir.path().join("b"), &["--multicast"]);
    let g_data = dir.path().join("g");
    let g_port = free_port();
    let g = GunJs::start("relay-multicast.js", g_port, &g_data);
    // Beacons go every second: after two, every node has heard the others.
    std::thread::sleep(Duration::from_millis(2500));
    let within = Duration::from_secs(10);

    write(a.port, "mc", "from_a", &json!("hello from a"));
    assert!(
        eventually(b.port, "mc", "from_a", &json!("hello from a"), within),
        "a → b"
    );
    write(g_port, "mc", "from_g", &json!("hello from Gun.js"));
    assert!(
        eventually(a.port, "mc", "from_g", &json!("hello from Gun.js"), within),
        "Gun.js → a"
    );
    assert!(
        eventually(b.port, "mc", "from_g", &json!("hello from Gun.js"), within),
        "Gun.js → b"
    );
    write(b.port, "mc", "from_b", &json!(42));
    assert!(
        eventually(a.port, "mc", "from_b", &json!(42), within),
        "b → a"
    );

    // What the Gun.js relay took from the group is in its store. (With
    // multicast on and every node on one host, Gun.js answers its own
    // clients' reads to the group instead: it hears its own datagrams
    // back. So it is asked again with multicast off.)
    std::thread::sleep(Duration::from_secs(1));
    drop(g);
    let plain = free_port();
    let _g = GunJs::start("relay.js", plain, &g_data);
    assert!(
        eventually(plain, "mc", "from_a", &json!("hello from a"), within),
        "a → Gun.js"
    );
    assert!(
        eventually(plain, "mc", "from_b", &json!(42), within),
        "b → Gun.js"
    );
}

#[test]
fn with_multicast_off_nothing_is_sent() {
    if !in_namespace("with_multicast_off_nothing_is_sent") {
        return;
    }
    assert_isolated();
    // Listen on the group as a node would.
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .expect("socket");
    socket.set_reuse_address(true).expect("reuse");
    socket
        .bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8765).into())
        .expect("bind");
    let group = Ipv4Addr::new(233, 255, 255, 255);
    socket
        .join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)
        .expect("join");
    let socket: UdpSocket = socket.into();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");

    let dir = tempfile::tempdir().expect("dir");
    let relay = Relay::start(dir.path(), &[]);
    // A node that is on would answer beacons: send some, and write.
    for _ in 0..3 {
        socket
            .send_to(b"212345678", SocketAddrV4::new(group, 8765))
            .expect("beacon");
        std::thread::sleep(Duration::from_millis(300));
    }
    write(relay.port, "quiet", "k", &json!("v"));
    let until = Instant::now() + Duration::from_millis(2500);
    let mut heard = Vec::new();
    let mut buf = [0u8; 65_536];
    while Instant::now() < until {
        if let Ok((n, _)) = socket.recv_from(&mut buf)
            && &buf[..n] != b"212345678"
        {
            heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    assert!(
        heard.is_empty(),
        "a relay with multicast off sent {heard:?}"
    );

    // The same listener hears a relay that has it on (a beacon a second).
    let on = Relay::start(&dir.path().join("on"), &["--multicast"]);
    let until = Instant::now() + Duration::from_millis(2500);
    let mut beacon = None;
    while beacon.is_none() && Instant::now() < until {
        if let Ok((n, _)) = socket.recv_from(&mut buf)
            && &buf[..n] != b"212345678"
        {
            beacon = Some(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    let beacon = beacon.expect("a relay with multicast on sends beacons");
    assert!(
        beacon.len() == 9 && beacon.starts_with('2'),
        "a beacon as Gun.js sends them: {beacon:?}"
    );
    drop(on);
}
