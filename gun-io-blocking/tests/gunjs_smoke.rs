//! Smoke interop: a real Gun.js node client (the pinned `gun@0.2020.1241` in
//! `tests/interop`, installed by `npm ci`) and a Rust blocking client see each
//! other's writes through the blocking relay.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gun_io_blocking::{Gun, GunOptions};
use serde_json::json;

fn interop_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
    assert!(
        dir.join("node_modules/gun").is_dir(),
        "Gun.js is not installed: run `npm ci --prefix tests/interop` (the README's test command does)"
    );
    dir
}

#[test]
fn a_gunjs_client_and_a_rust_client_see_each_others_writes() {
    let dir = interop_dir();
    let relay = Gun::without_keys(GunOptions::relay_server(0)).expect("relay");
    let url = format!("ws://{}/gun", relay.local_addr().expect("bound"));
    let rust = Gun::without_keys(GunOptions::with_relay(&url)).expect("rust client");
    assert!(rust.wait_for_connection(5_000));

    let mut node = Command::new("node")
        .arg("smoke-client.js")
        .arg(&url)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let stdout = node.stdout.take().expect("stdout");
    let (tx, rx) = crossbeam_channel::unbounded();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(r) = line.strip_prefix("RESULT ") {
                let _ = tx.send(serde_json::from_str::<serde_json::Value>(r).expect("result json"));
            }
        }
    });

    rust.get("interop/rust")
        .put(json!({"from": "rust"}))
        .expect("rust put acked");
    // The Rust client sees the Gun.js client's write.
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        if let Some(v) = rust.get("interop/js").once_value().expect("once") {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the Gun.js write never reached the Rust client"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(seen["from"], "js");
    assert_eq!(seen["n"], 1);
    // The Gun.js client saw the Rust write, and its own put was acked by our relay.
    let mut results = Vec::new();
    while !results
        .iter()
        .any(|r: &serde_json::Value| r.get("saw").is_some())
    {
        let r = rx
            .recv_timeout(Duration::from_secs(25))
            .expect("the Gun.js client reports");
        assert!(
            r.get("timeout").is_none(),
            "the Gun.js client never saw the Rust write: {results:?}"
        );
        results.push(r);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !results.iter().any(|r| r.get("acked").is_some()) {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("no ack reached the Gun.js client");
        results.push(
            rx.recv_timeout(left)
                .expect("an ack reaches the Gun.js client"),
        );
    }
    assert!(results.iter().any(|r| r["acked"] == true), "{results:?}");
    let status = node.wait().expect("node exits");
    assert!(status.success());
    reader.join().expect("reader");
}
