//! Two blocking clients meet through a relay, connect to each other over
//! WebRTC, and keep syncing after the relay is stopped. All on 127.0.0.1,
//! no STUN servers.
//!
//! Run: `cargo run --example two_clients_webrtc`
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gun_io_blocking::{Gun, GunError, GunOptions};
use serde_json::json;

fn peer(url: &str) -> Result<Gun, GunError> {
    let mut opts = GunOptions::with_relay(url);
    opts.webrtc.enabled = true;
    opts.webrtc.room = Some("two-clients".into());
    opts.webrtc.ice_servers.clear();
    opts.webrtc.bind = Some("127.0.0.1:0".parse().expect("an address"));
    Gun::without_keys(opts)
}

fn main() -> Result<(), GunError> {
    let relay = Gun::without_keys(GunOptions::relay_server(0))?;
    let url = format!(
        "ws://{}/gun",
        relay
            .local_addr()
            .ok_or_else(|| GunError::Io("relay not bound".into()))?
    );
    println!("relay at {url}");

    let alice = peer(&url)?;
    // Bob joins later: Alice, already in the room, dials him.
    std::thread::sleep(Duration::from_millis(200));
    let bob = peer(&url)?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while alice.webrtc_peers() == 0 || bob.webrtc_peers() == 0 {
        if Instant::now() > deadline {
            return Err(GunError::Network("no WebRTC connection".into()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("alice and bob are connected over WebRTC");

    relay.shutdown()?;
    println!("relay stopped");

    let (tx, rx) = mpsc::channel();
    bob.get("chat").get("message").on(move |value, _| {
        let _ = tx.send(value);
    });
    alice
        .get("chat")
        .get("message")
        .put(json!("hello over WebRTC"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) if v == json!("hello over WebRTC") => break,
            Ok(_) => {}
            Err(_) => return Err(GunError::Network("nothing reached bob".into())),
        }
    }
    println!("bob sees alice's message, with no relay");

    bob.get("chat").get("reply").put(json!("hi alice"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if alice.get("chat").get("reply").once_value()? == Some(json!("hi alice")) {
            break;
        }
        if Instant::now() > deadline {
            return Err(GunError::Network("nothing reached alice".into()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("alice reads bob's reply = \"hi alice\"");

    for g in [alice, bob] {
        g.shutdown()?;
    }
    Ok(())
}
