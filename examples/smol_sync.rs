//! Two clients syncing through a relay, on smol.
//!
//! Run: `cargo run --example smol_sync`
use gun_io_async_std::{Gun, GunError, GunOptions};
use serde_json::json;

fn main() -> Result<(), GunError> {
    smol::block_on(async {
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
        smol::Timer::after(std::time::Duration::from_millis(100)).await;
        alice
            .get("greeting")
            .put(json!({"text": "hello from smol"}))
            .await?;
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .map_err(|_| GunError::Network("no update".into()))?;
        println!("bob sees {got}");
        let item = alice.get("list").set_acked(json!({"n": 1})).await?;
        let soul = item.path().last().cloned().unwrap_or_default();
        println!(
            "set item {soul}; bob reads {:?}",
            bob.get("list").get(&soul).get("n").once_value().await?
        );
        for g in [alice, bob, relay] {
            g.shutdown().await?;
        }
        Ok(())
    })
}
