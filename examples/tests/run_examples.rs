//! Every example runs to completion within a time bound.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// An example's binary: `<profile>/examples/<name>`, or the newest
/// `<name>-<hash>` that `cargo test` builds beside it.
fn example(name: &str) -> PathBuf {
    // This test runs from <target>/<profile>/deps.
    let here = std::env::current_exe().expect("test executable");
    let dir = here
        .parent()
        .and_then(|d| d.parent())
        .expect("target profile dir")
        .join("examples");
    let plain = dir.join(name);
    if plain.exists() {
        return plain;
    }
    let prefix = format!("{name}-");
    std::fs::read_dir(&dir)
        .expect("examples dir")
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&prefix)
                && !n.ends_with(".d")
                && n[prefix.len()..].chars().all(|c| c.is_ascii_hexdigit())
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
        .unwrap_or_else(|| panic!("example {name} is not built (cargo test builds examples)"))
}

fn run(example: &str) {
    run_with(example, &[]);
}

fn run_with(name: &str, env: &[(&str, &str)]) {
    let exe = example(name);
    let mut child = Command::new(&exe)
        .envs(env.iter().copied())
        .spawn()
        .expect("example starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{name} failed: {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{name} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn engine_pair_runs() {
    run("engine_pair");
}

#[test]
fn two_clients_runs() {
    run("two_clients");
}

#[test]
fn basic_runs() {
    run("basic");
}

#[test]
fn offline_puts_runs() {
    let exe = example("offline_puts");
    for store in ["memory", "redb", "fjall", "sled", "file"] {
        let out = Command::new(&exe)
            .args(["50", store])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{store}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("n=50"));
    }
}

#[test]
fn realtime_sync_runs() {
    run("realtime_sync");
}

#[test]
fn relay_runs() {
    let dir = std::env::temp_dir().join(format!("gun-relay-example-{}", std::process::id()));
    let data = dir.to_string_lossy().into_owned();
    run_with(
        "relay",
        &[
            ("PORT", "0"),
            ("GUN_EXAMPLE_SECONDS", "1"),
            ("GUN_DATA", &data),
        ],
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn smol_sync_runs() {
    run("smol_sync");
}

#[test]
fn async_std_sync_runs() {
    run("async_std_sync");
}

#[test]
fn load_runs_against_a_relay() {
    let relay = gun_io_blocking::Gun::without_keys(gun_io_blocking::GunOptions::relay_server(0))
        .expect("relay");
    let url = format!("ws://{}/gun", relay.local_addr().expect("bound"));
    let here = std::env::current_exe().expect("test executable");
    let exe = here
        .parent()
        .and_then(|d| d.parent())
        .expect("profile dir")
        .join("examples")
        .join("load");
    let out = Command::new(exe)
        .args([
            "--url",
            &url,
            "--puts",
            "200",
            "--in-flight",
            "50",
            "--subscribers",
            "3",
            "--timeout",
            "30",
        ])
        .output()
        .expect("load runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("acked_puts 200 in"), "{text}");
    assert!(text.contains("delivered 600 of 600"), "{text}");
}

#[test]
fn cold_start_runs() {
    let exe = example("cold_start");
    let out = Command::new(exe)
        .arg("2000")
        .output()
        .expect("cold_start runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("all 2000 properties read"),
        "{text}"
    );
}

#[test]
fn two_clients_webrtc_runs() {
    run("two_clients_webrtc");
}

#[test]
fn webrtc_bench_runs() {
    let out = Command::new(example("webrtc_bench"))
        .args(["--puts", "200", "--samples", "20"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("WebSocket relay") && text.contains("WebRTC data channel"),
        "{text}"
    );
}

#[test]
fn blocking_latency_runs() {
    for tls in [false, true] {
        let mut cmd = Command::new(example("blocking_latency"));
        cmd.arg("20");
        if tls {
            cmd.arg("--tls");
        }
        let out = cmd.output().expect("runs");
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("20 samples, 0 not seen"), "{text}");
        assert_eq!(text.contains("(wss)"), tls, "{text}");
    }
}
