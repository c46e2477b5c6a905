//! Two clients syncing through a relay, on async-std.
//!
//! Run: `cargo run --example async_std_sync`
use std::time::Duration;

use gun_io_async_std::{Gun, GunError, GunOptions};
use serde_json::json;

#[async_std::main]
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
    assert!(alice.wait_for_connection(5_000).await && bob.wait_for_connection(5_000).await);

    let (tx, rx) = std::sync::mpsc::channel();
    bob.get("greeting")
        .get("text")
        .on(move |v, _| drop(tx.send(v)));
    async_std::task::sleep(Duration::from_millis(100)).await;
    alice
        .get("greeting")
        .put(json!({"text": "hello from async-std"}))
        .await?;
    let got = rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| GunError::Network("no update".into()))?;
    println!("bob sees {got}");
    let mut read = None;
    bob.get("greeting")
        .get("text")
        .once(|v, _| read = Some(v))
        .await?;
    assert_eq!(read, Some(json!("hello from async-std")));
    println!("once: {}", read.unwrap_or_default());
    for g in [alice, bob, relay] {
        g.shutdown().await?;
    }
    Ok(())
}
