//! Two blocking clients syncing through a relay, all in one process on
//! 127.0.0.1: Bob listens, Alice writes, Bob sees it; then Bob writes back.
//!
//! Run: `cargo run --example two_clients`
use std::sync::mpsc;
use std::time::Duration;

use gun_io_blocking::{Gun, GunError, GunOptions};
use serde_json::json;

fn main() -> Result<(), GunError> {
    // A relay on a free port, keeping its data in memory.
    let relay = Gun::without_keys(GunOptions::relay_server(0))?;
    let url = format!(
        "ws://{}/gun",
        relay
            .local_addr()
            .ok_or_else(|| GunError::Io("relay not bound".into()))?
    );
    println!("relay at {url}");

    let alice = Gun::without_keys(GunOptions::with_relay(&url))?;
    let bob = Gun::without_keys(GunOptions::with_relay(&url))?;
    if !alice.wait_for_connection(5_000) || !bob.wait_for_connection(5_000) {
        return Err(GunError::Network(
            "clients could not reach the relay".into(),
        ));
    }

    let (tx, rx) = mpsc::channel();
    bob.get("chat").get("message").on(move |value, key| {
        println!("bob sees {} = {value}", key.unwrap_or_default());
        let _ = tx.send(value);
    });
    std::thread::sleep(Duration::from_millis(100));

    alice
        .get("chat")
        .put_acked(json!({"message": "hello bob"}))?;
    println!("alice's put was acked by the relay");
    let got = rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| GunError::Network("no update reached bob".into()))?;
    assert_eq!(got, json!("hello bob"));

    bob.get("chat").get("reply").put_acked(json!("hi alice"))?;
    let reply = alice.get("chat").get("reply").once_value()?;
    println!("alice reads reply = {}", reply.unwrap_or_default());

    for g in [alice, bob, relay] {
        g.shutdown()?;
    }
    Ok(())
}
