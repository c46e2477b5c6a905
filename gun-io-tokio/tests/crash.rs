//! Kill -9 under load, at points drawn from a fixed seed: after each
//! restart every acked write is there, and the store opens. Ten rounds in
//! the test command (`GUN_CRASH_ROUNDS` sets more for a long run), on the
//! default store (`GUN_CRASH_STORE` names another: fjall, sled, file).

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use support::{HONEST, HOSTILE, Raw, Relay, free_port, now_ms, put};

/// Acked writes: by soul, each key's value.
type Acked = Arc<Mutex<BTreeMap<String, BTreeMap<String, u64>>>>;

/// A writer that puts into `soul` as fast as the relay takes them (up to
/// 200 unacked), noting each acked key, until the relay dies or `stop`.
fn writer(port: u16, soul: String, tag: String, acked: Acked, stop: Arc<AtomicBool>) {
    let Ok(mut c) = Raw::connect(port, HOSTILE) else {
        return;
    };
    let mut sent: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        while sent.len() < 200 {
            n += 1;
            let (id, key) = (format!("{tag}i{n}"), format!("{tag}k{n}"));
            if !c.send_json(&put(&id, &soul, &key, &json!(n), now_ms())) {
                return;
            }
            sent.insert(id, (key, n));
        }
        let got = c.read_for(Duration::from_millis(2));
        if got.is_empty() && !c.send("[]") {
            return;
        }
        for m in got {
            if let Some(id) = m["@"].as_str()
                && m.get("err").is_none()
                && let Some((key, v)) = sent.remove(id)
            {
                acked
                    .lock()
                    .expect("lock")
                    .entry(soul.clone())
                    .or_default()
                    .insert(key, v);
            }
        }
    }
}

#[test]
fn kill_minus_nine_under_load_loses_no_acked_write() {
    let rounds: u64 = std::env::var("GUN_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let store = std::env::var("GUN_CRASH_STORE").unwrap_or_else(|_| "redb".into());
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let acked: Acked = Arc::default();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..rounds {
        let relay = Relay::start_on(
            port,
            dir.path(),
            &["--max-msgs-per-sec", "0", "--store", &store],
        );
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let (acked, stop) = (acked.clone(), stop.clone());
                let soul = format!("crash/{round}");
                std::thread::spawn(move || writer(port, soul, format!("r{round}w{w}"), acked, stop))
            })
            .collect();
        // Somewhere between 50 ms and 1.55 s into the load: in some rounds
        // past the store's first checkpoint (redb's log, a second old), or
        // in the middle of it.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(50 + seed % 1500));
        relay.stop(); // SIGKILL
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            let _ = w.join();
        }
    }
    // Every write acked in any round is there: each round's node comes
    // back as one answer.
    let relay = Relay::start_on(port, dir.path(), &["--store", &store]);
    let acked = acked.lock().expect("lock");
    let total: usize = acked.values().map(BTreeMap::len).sum();
    assert!(
        total > 100 * usize::try_from(rounds).unwrap_or(1),
        "only {total} writes acked"
    );
    let mut r = Raw::connect(relay.port, HONEST).expect("reader");
    for (soul, keys) in acked.iter() {
        r.send_json(&json!({"#": soul, "get": {"#": soul}}));
        let m = r
            .wait_for(Duration::from_secs(30), |m| m["@"] == soul.as_str())
            .unwrap_or_else(|| panic!("{soul}: no answer"));
        let node = &m["put"][soul];
        let lost: Vec<_> = keys
            .iter()
            .filter(|(k, v)| node[k.as_str()] != json!(v))
            .map(|(k, _)| k)
            .take(5)
            .collect();
        assert!(
            lost.is_empty(),
            "{soul}: acked writes lost, e.g. {lost:?} ({} acked there)",
            keys.len()
        );
    }
    eprintln!("{store}, {rounds} rounds: {total} acked writes, all there");
}
