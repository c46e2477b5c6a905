//! The basics on tokio, with no network: put, read back, follow a link,
//! listen, add to a set.
//!
//! Run: `cargo run --example basic`
use gun_io_tokio::{Gun, GunError, GunOptions};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), GunError> {
    // A file store in a temporary folder keeps this example self-contained.
    let dir = std::env::temp_dir().join(format!("gun-basic-{}", std::process::id()));
    let opts = GunOptions {
        local_storage: true,
        storage_path: Some(dir.clone()),
        ..GunOptions::default()
    };
    let gun = Gun::without_keys(opts).await?;

    let alice = gun.get("user/alice");
    alice
        .put(json!({"name": "Alice", "age": 30, "car": {"color": "red"}}))
        .await?;
    alice
        .get("age")
        .on(|age, key| println!("on: {} = {age}", key.unwrap_or_default()));

    let name = alice
        .get("name")
        .once(|v, _| println!("once: name = {v}"))
        .await?;
    assert_eq!(name, Some(json!("Alice")));
    // The nested object became its own node, linked from alice.
    let color = alice.get("car").get("color").once_value().await?;
    println!("alice's car is {}", color.unwrap_or_default());

    alice.get("age").put(json!(31)).await?;
    let soul = gun.get("pets").set(json!({"name": "Rex"})).await?;
    println!("added a pet under soul {soul}");

    gun.shutdown().await?;
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
