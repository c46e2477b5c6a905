//! Put-to-listener latency through a relay on the blocking driver: a relay
//! and two clients (Alice writes, Bob listens), all gun-io-blocking, in one
//! process on 127.0.0.1. One put at a time, timed from Alice's call to
//! Bob's callback; the path is Alice → relay → Bob, two WebSocket hops.
//!
//! Run: `cargo run --release --example blocking_latency -- 1000`
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gun_io_blocking::{Gun, GunError, GunOptions};
use serde_json::json;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> Result<(), GunError> {
    let samples: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000);
    let relay = Gun::without_keys(GunOptions::relay_server(0))?;
    let addr = relay
        .local_addr()
        .ok_or_else(|| GunError::Io("relay not bound".into()))?;
    let url = format!("ws://{addr}/gun");
    let alice = Gun::without_keys(GunOptions::with_relay(&url))?;
    let bob = Gun::without_keys(GunOptions::with_relay(&url))?;
    if !alice.wait_for_connection(5_000) || !bob.wait_for_connection(5_000) {
        return Err(GunError::Network("no relay".into()));
    }
    let (tx, rx) = mpsc::channel::<(serde_json::Value, Instant)>();
    bob.get("bench").get("l").on(move |v, _| {
        let _ = tx.send((v, Instant::now()));
    });
    std::thread::sleep(Duration::from_millis(300));

    let mut lat = Vec::with_capacity(samples);
    let mut lost = 0;
    for i in 0..samples {
        let t0 = Instant::now();
        alice.get("bench").get("l").put(json!(i))?;
        loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok((v, at)) if v == json!(i) => {
                    lat.push(at - t0);
                    break;
                }
                Ok(_) => {}
                Err(_) => {
                    lost += 1;
                    break;
                }
            }
        }
    }
    lat.sort();
    if lat.is_empty() {
        return Err(GunError::Network("no update reached bob".into()));
    }
    println!(
        "blocking driver, through a relay: latency p50 {:.0} µs, p99 {:.0} µs ({} samples, {lost} not seen)",
        pct(&lat, 0.5).as_secs_f64() * 1e6,
        pct(&lat, 0.99).as_secs_f64() * 1e6,
        lat.len(),
    );
    for g in [alice, bob, relay] {
        g.shutdown()?;
    }
    Ok(())
}
