//! Awaited puts with no peer at all: each `put(..).await` resolves once the
//! write is settled locally. Prints how long N of them take on the chosen
//! store; BENCHMARKS.md has the figures, beside Gun.js's
//! (`tests/interop/offline-puts.js`).
//!
//! Run: `cargo run --release --example offline_puts -- [N] [memory|redb|fjall|sled|file]`
use std::time::Instant;

use gun_io_tokio::{Gun, GunError, GunOptions, SecretKey, StoreKind};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), GunError> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let store = args.next().unwrap_or_else(|| "memory".into());
    let dir = std::env::temp_dir().join(format!("gun-offline-puts-{}", std::process::id()));
    let kind = match store.as_str() {
        "memory" => None,
        "redb" => Some(StoreKind::Redb),
        "fjall" => Some(StoreKind::Fjall),
        "sled" => Some(StoreKind::Sled),
        "file" => Some(StoreKind::File),
        other => {
            return Err(GunError::InvalidData(format!(
                "unknown store {other:?}: memory, redb, fjall, sled or file"
            )));
        }
    };
    let opts = GunOptions {
        store: kind,
        storage_path: Some(dir.display().to_string()),
        ..GunOptions::default()
    };
    let sk = SecretKey::from_seed(&[0u8; 32]);
    let gun = Gun::with_options(sk.clone(), sk.public_key(), opts).await?;
    let started = Instant::now();
    for i in 0..n {
        gun.get("counter")
            .get(format!("n{i}"))
            .put(json!(i))
            .await?;
    }
    let took = started.elapsed();
    let last = gun
        .get("counter")
        .get(format!("n{}", n - 1))
        .value()
        .await?;
    assert_eq!(last, json!(n - 1));
    println!(
        "offline_puts store={store} n={n}: {took:?} ({:.0} awaited puts/s)",
        n as f64 / took.as_secs_f64()
    );
    gun.shutdown().await?;
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
