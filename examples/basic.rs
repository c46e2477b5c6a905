//! The basics on tokio, with no network and no disk, as the original port's
//! basic example: an instance with a BLS key pair, put, read back, follow a
//! link, listen, add to a set. Every put settles at once in memory.
//!
//! Run: `cargo run --example basic`
use gun_io_tokio::{Gun, GunError, SecretKey};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), GunError> {
    let secret_key = SecretKey::from_seed(&[0u8; 32]);
    let public_key = secret_key.public_key();
    let gun = Gun::new(secret_key, public_key);

    let alice = gun.get("user/alice");
    alice
        .put(json!({"name": "Alice", "age": 30, "car": {"color": "red"}}))
        .await?;
    alice
        .get("age")
        .on(|age, key| println!("on: {} = {age}", key.unwrap_or_default()));

    let mut name = None;
    alice.get("name").once(|v, _| name = Some(v)).await?;
    assert_eq!(name, Some(json!("Alice")));
    println!("once: name = {}", name.unwrap_or_default());
    // The nested object became its own node, linked from alice.
    let color = alice.get("car").get("color").value().await?;
    println!("alice's car is {color}");

    alice.get("age").put(json!(31)).await?;
    let pet = gun.get("pets").set(json!({"name": "Rex"})).await?;
    println!("added a pet at {:?}", pet.path());

    // Puts settle locally, so a thousand of them take no network round trip.
    let started = std::time::Instant::now();
    for i in 0..1_000 {
        gun.get("counter")
            .get(format!("n{i}"))
            .put(json!(i))
            .await?;
    }
    println!("1,000 awaited puts in {:?}", started.elapsed());
    gun.shutdown().await
}
