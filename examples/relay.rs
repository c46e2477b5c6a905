//! A relay in a few lines: serves Gun.js and Rust peers on PORT (default
//! 8765) with a sled store in ./radata, until Ctrl-C (or for
//! GUN_EXAMPLE_SECONDS seconds, as the example test runs it).
//! The full relay with options is the `gun` binary.
//!
//! Run: `cargo run --example relay`
use std::time::Duration;

use gun_io_tokio::{Gun, GunError, GunOptions};

#[tokio::main]
async fn main() -> Result<(), GunError> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8765);
    let data = std::env::var("GUN_DATA").unwrap_or_else(|_| "./radata".into());
    let opts = GunOptions {
        radisk: true,
        storage_path: Some(data),
        ..GunOptions::relay_server(port)
    };
    let relay = Gun::without_keys(opts).await?;
    println!(
        "relay on ws://{}/gun",
        relay
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    match std::env::var("GUN_EXAMPLE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    relay.shutdown().await
}
