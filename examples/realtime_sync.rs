//! Two tokio clients in realtime sync through a relay, on 127.0.0.1.
//!
//! Run: `cargo run --example realtime_sync`
use std::time::Duration;

use gun_io_tokio::{Gun, GunError, GunOptions};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), GunError> {
    let relay = Gun::without_keys(GunOptions::relay_server(0)).await?;
    let url = format!(
        "ws://{}/gun",
        relay
            .local_addr()
            .ok_or_else(|| GunError::Io("not bound".into()))?
    );
    let alice = Gun::without_keys(GunOptions::with_relay(&url)).await?;
    let bob = Gun::without_keys(GunOptions::with_relay(&url)).await?;
    for c in [&alice, &bob] {
        if !c.wait_for_connection(5_000).await {
            return Err(GunError::Network("no relay".into()));
        }
    }

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    bob.get("doc").map(move |value, key| {
        let _ = tx.send((key.unwrap_or_default(), value));
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    for (k, v) in [("title", "Realtime"), ("body", "typed by alice")] {
        alice.get("doc").get(k).put(json!(v)).await?;
    }
    let mut got = 0;
    while got < 2 {
        let (key, value) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .map_err(|_| GunError::Network("bob saw nothing".into()))?
            .ok_or_else(|| GunError::Network("closed".into()))?;
        println!("bob sees doc.{key} = {value}");
        got += 1;
    }
    for g in [alice, bob, relay] {
        g.shutdown().await?;
    }
    Ok(())
}
