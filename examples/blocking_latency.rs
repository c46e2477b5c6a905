//! Put-to-listener latency through a relay on the blocking driver: a relay
//! and two clients (Alice writes, Bob listens), all gun-io-blocking, in one
//! process on 127.0.0.1. One put at a time, timed from Alice's call to
//! Bob's callback; the path is Alice → relay → Bob, two WebSocket hops.
//! With `--tls`, over `wss://` (a self-signed certificate the clients trust).
//!
//! Run: `cargo run --release --example blocking_latency -- 1000 [--tls]`
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gun_io_blocking::{Gun, GunError, GunOptions, TlsOptions};
use serde_json::json;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A self-signed certificate for 127.0.0.1, as PEM files in a fresh
/// directory under the system's temporary one: (cert, key).
fn self_signed() -> Result<(String, String), GunError> {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .map_err(|e| GunError::Io(e.to_string().into()))?;
    let dir = std::env::temp_dir().join(format!("gun-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| GunError::Io(e.to_string().into()))?;
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).map_err(|e| GunError::Io(e.to_string().into()))?;
    std::fs::write(&key, made.signing_key.serialize_pem())
        .map_err(|e| GunError::Io(e.to_string().into()))?;
    Ok((cert.display().to_string(), key.display().to_string()))
}

fn main() -> Result<(), GunError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let samples: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1_000);
    let tls = args.iter().any(|a| a == "--tls");
    let (mut relay_opts, mut client_tls, scheme) = (GunOptions::relay_server(0), None, "ws");
    let scheme = if tls {
        let (cert, key) = self_signed()?;
        relay_opts.tls = TlsOptions {
            cert: Some(cert.clone()),
            key: Some(key),
            ..TlsOptions::default()
        };
        client_tls = Some(TlsOptions {
            ca: vec![cert],
            ..TlsOptions::default()
        });
        "wss"
    } else {
        scheme
    };
    let relay = Gun::without_keys(relay_opts)?;
    let addr = relay
        .local_addr()
        .ok_or_else(|| GunError::Io("relay not bound".into()))?;
    let url = format!("{scheme}://{addr}/gun");
    let client = || {
        let mut opts = GunOptions::with_relay(&url);
        if let Some(t) = &client_tls {
            opts.tls = t.clone();
        }
        Gun::without_keys(opts)
    };
    let alice = client()?;
    let bob = client()?;
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
        "blocking driver, through a relay ({scheme}): latency p50 {:.0} µs, p99 {:.0} µs ({} samples, {lost} not seen)",
        pct(&lat, 0.5).as_secs_f64() * 1e6,
        pct(&lat, 0.99).as_secs_f64() * 1e6,
        lat.len(),
    );
    for g in [alice, bob, relay] {
        g.shutdown()?;
    }
    Ok(())
}
