//! The `gun` binary as a process: kill -9 and restart with the sled store
//! loses no acked write; a Gun.js node client and a Rust client sync through it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gun_io_tokio::{Gun, GunOptions, TlsOptions};
use serde_json::json;

const PATIENCE: Duration = Duration::from_secs(20);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts `gun` and waits for its "listening" line.
fn start_gun(port: u16, data: &Path) -> Child {
    start_gun_with(port, data, &[], "ws://")
}

fn start_gun_with(port: u16, data: &Path, extra: &[&str], scheme: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gun"))
        .args(["--port", &port.to_string(), "--data"])
        .arg(data)
        .args(["--log", "warn"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("gun starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    assert!(
        line.contains(&format!("listening on {scheme}")),
        "unexpected first line: {line:?}"
    );
    child
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn help_and_bad_arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_gun"))
        .arg("--help")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && text.contains("--port")
            && text.contains("--store")
            && text.contains("PEERS")
            && text.contains("--threads")
            && text.contains("--socket-sched")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_gun"))
        .args(["--socket-sched", "fast"])
        .output()
        .expect("runs");
    assert!(!out.status.success(), "an unknown schedule is refused");
    let out = Command::new(env!("CARGO_BIN_EXE_gun"))
        .args(["--threads", "0"])
        .output()
        .expect("runs");
    assert!(!out.status.success(), "no socket threads is refused");
    let out = Command::new(env!("CARGO_BIN_EXE_gun"))
        .args(["--store", "floppy"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut gun = start_gun(free_port(), dir.path());
    let pid = gun.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(s) = gun.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "gun did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

/// Each thread of process `pid`: (name, scheduling policy number as
/// /proc reports it: 0 ordinary, 3 SCHED_BATCH). A thread that ends while
/// it is looked at is left out.
#[cfg(target_os = "linux")]
fn thread_policies(pid: u32) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
        let task = task.expect("task").path();
        let (Ok(name), Ok(sched)) = (
            std::fs::read_to_string(task.join("comm")),
            std::fs::read_to_string(task.join("sched")),
        ) else {
            continue;
        };
        let policy = sched
            .lines()
            .find(|l| l.starts_with("policy"))
            .and_then(|l| l.split(':').nth(1)?.trim().parse().ok());
        if let Some(policy) = policy {
            out.push((name.trim().to_owned(), policy));
        }
    }
    out
}

/// A child process killed when the test ends, passed or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(target_os = "linux")]
#[test]
fn socket_threads_are_batch_scheduled_and_the_engines_are_not() {
    const BATCH: u32 = 3;
    let dir = tempfile::tempdir().expect("tempdir");
    // The relay's threads, started with `extra`, then stopped.
    let policies = |extra: &[&str]| {
        let gun = Killed(start_gun_with(free_port(), dir.path(), extra, "ws://"));
        thread_policies(gun.0.id())
    };
    let threads = policies(&["--threads", "2"]);
    let sockets: Vec<_> = threads
        .iter()
        .filter(|(n, _)| n.starts_with("tokio-rt"))
        .collect();
    assert_eq!(sockets.len(), 2, "{threads:?}");
    assert!(sockets.iter().all(|(_, p)| *p == BATCH), "{threads:?}");
    for engine in ["gun-driver", "gun-commit"] {
        assert!(
            threads.iter().any(|(n, p)| n == engine && *p == 0),
            "{engine} is an ordinary thread: {threads:?}"
        );
    }
    let threads = policies(&["--socket-sched", "normal"]);
    assert!(threads.iter().any(|(n, _)| n.starts_with("tokio-rt")));
    assert!(threads.iter().all(|(_, p)| *p == 0), "{threads:?}");
}

#[test]
fn a_killed_relay_restarts_with_every_acked_write_and_clients_resync() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}/gun");
    let mut gun = start_gun(port, dir.path());
    let opts = GunOptions {
        max_backoff: Duration::from_millis(100),
        ..GunOptions::with_relay(&url)
    };
    let writer = rt
        .block_on(Gun::without_keys(opts.clone()))
        .expect("writer");
    let reader = rt.block_on(Gun::without_keys(opts)).expect("reader");
    let (tx, rx) = crossbeam_channel::unbounded();
    rt.block_on(async {
        assert!(writer.wait_for_connection(5_000).await);
        assert!(reader.wait_for_connection(5_000).await);
        reader
            .get("log")
            .get("after")
            .on(move |v, _| drop(tx.send(v)));
        // 200 puts in flight at once; each acked only once on disk.
        let puts: Vec<_> = (0..200)
            .map(|i| writer.get("log").get(format!("k{i}")).put_acked(json!(i)))
            .collect();
        for p in puts {
            p.await.expect("acked");
        }
    });
    // Kill -9: no chance to flush anything more.
    gun.kill().expect("kill");
    gun.wait().expect("reaped");
    // Restarted with more socket threads than the default: same data.
    let mut gun = start_gun_with(port, dir.path(), &["--threads", "3"], "ws");
    rt.block_on(async {
        let deadline = Instant::now() + PATIENCE;
        while !(writer.is_connected().await && reader.is_connected().await) {
            assert!(Instant::now() < deadline, "clients did not reconnect");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Every acked write is on the restarted relay (a fresh client asks it).
        let fresh = Gun::without_keys(GunOptions::with_relay(&url))
            .await
            .expect("fresh");
        assert!(fresh.wait_for_connection(5_000).await);
        let log = fresh
            .get("log")
            .once_value()
            .await
            .expect("once")
            .expect("the log survived");
        for i in 0..200 {
            assert_eq!(log[format!("k{i}")], json!(i), "acked write k{i} lost");
        }
        // The reader resubscribed: a write after the restart reaches its listener.
        writer
            .get("log")
            .get("after")
            .put(json!("restart"))
            .await
            .expect("put");
    });
    let got = rx
        .recv_timeout(PATIENCE)
        .expect("the resubscribed listener fires");
    assert_eq!(got, json!("restart"));
    gun.kill().expect("kill");
    let _ = gun.wait();
}

fn interop_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
    assert!(
        dir.join("node_modules/gun").is_dir(),
        "Gun.js is not installed: run `npm ci --prefix tests/interop` (the README's test command does)"
    );
    dir
}

#[test]
fn a_gunjs_client_and_a_rust_client_sync_through_the_gun_binary() {
    let interop = interop_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}/gun");
    let mut gun = start_gun(port, dir.path());
    let mut node = Command::new("node")
        .arg("smoke-client.js")
        .arg(&url)
        .current_dir(&interop)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let stdout = node.stdout.take().expect("stdout");
    let (tx, rx) = crossbeam_channel::unbounded::<serde_json::Value>();
    let reading = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(r) = line.strip_prefix("RESULT ") {
                let _ = tx.send(serde_json::from_str(r).expect("json"));
            }
        }
    });
    let rt = runtime();
    rt.block_on(async {
        let rust = Gun::without_keys(GunOptions::with_relay(&url))
            .await
            .expect("rust client");
        assert!(rust.wait_for_connection(5_000).await);
        rust.get("interop/rust")
            .put_acked(json!({"from": "rust"}))
            .await
            .expect("acked");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(v) = rust.get("interop/js").once_value().await.expect("once") {
                assert_eq!(v["from"], "js");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the Gun.js write never reached the Rust client"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut results = Vec::new();
    while !(results
        .iter()
        .any(|r: &serde_json::Value| r.get("saw").is_some())
        && results.iter().any(|r| r.get("acked").is_some()))
    {
        let r = rx
            .recv_timeout(PATIENCE)
            .expect("the Gun.js client reports");
        assert!(
            r.get("timeout").is_none(),
            "the Gun.js client timed out: {results:?}"
        );
        results.push(r);
    }
    assert!(results.iter().any(|r| r["acked"] == true), "{results:?}");
    assert!(node.wait().expect("node exits").success());
    reading.join().expect("reader");
    gun.kill().expect("kill");
    let _ = gun.wait();
}

#[test]
fn the_gun_binary_serves_wss_with_a_certificate_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("cert");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).expect("write");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("write");
    let port = free_port();
    let tls_args = [
        "--tls-cert",
        cert.to_str().expect("utf-8"),
        "--tls-key",
        key.to_str().expect("utf-8"),
    ];
    let mut gun = start_gun_with(port, &dir.path().join("radata"), &tls_args, "wss://");
    let opts = GunOptions {
        tls: TlsOptions {
            ca: vec![cert.display().to_string()],
            ..TlsOptions::default()
        },
        ..GunOptions::with_relay(format!("wss://127.0.0.1:{port}/gun"))
    };
    runtime().block_on(async {
        let writer = Gun::without_keys(opts.clone()).await.expect("writer");
        let reader = Gun::without_keys(opts).await.expect("reader");
        assert!(writer.wait_for_connection(5_000).await && reader.wait_for_connection(5_000).await);
        writer
            .get("tls")
            .put_acked(json!({"over": "wss"}))
            .await
            .expect("acked by the relay, over TLS");
        let v = reader.get("tls").get("over").value().await.expect("read");
        assert_eq!(v, json!("wss"));
    });
    // Only one of the pair is refused before anything starts.
    let out = Command::new(env!("CARGO_BIN_EXE_gun"))
        .args(["--tls-cert", "cert.pem"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    gun.kill().expect("kill");
    let _ = gun.wait();
}

#[test]
fn gun_import_loads_a_radisk_directory_then_serves_it() {
    let rt = runtime();
    let radisk = tempfile::tempdir().expect("radisk");
    // A file as a Gun.js relay writes it (a radix tree of `soul ESC key`).
    std::fs::write(
        radisk.path().join("!"),
        r#"{"al":{"ice\u001b":{"name":{"":{":":"Alice",">":1795540000000}},"age":{"":{":":30,">":1795540000001}}}}}"#,
    )
    .expect("write");
    std::fs::write(radisk.path().join("%1C"), r#"{"!":{"":1}}"#).expect("write");
    let data = tempfile::tempdir().expect("data");
    let out = Command::new(env!("CARGO_BIN_EXE_gun"))
        .args(["import", "--radisk"])
        .arg(radisk.path())
        .arg("--data")
        .arg(data.path())
        .args(["--log", "warn"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("imported 2 properties from 1 files"),
        "{said}"
    );
    let port = free_port();
    let mut gun = start_gun(port, data.path());
    let url = format!("ws://127.0.0.1:{port}/gun");
    let client = rt
        .block_on(Gun::without_keys(GunOptions::with_relay(&url)))
        .expect("client");
    let node = rt.block_on(async {
        assert!(client.wait_for_connection(5_000).await);
        client.get("alice").once_value().await.expect("once")
    });
    let node = node.expect("alice is served");
    assert_eq!(
        (node["name"].clone(), node["age"].clone()),
        (json!("Alice"), json!(30))
    );
    assert_eq!(node["_"][">"]["age"], json!(1_795_540_000_001u64));
    gun.kill().expect("kill");
    let _ = gun.wait();
}
