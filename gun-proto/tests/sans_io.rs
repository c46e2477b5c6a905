//! gun-proto stays sans-IO: no clock reads, threads, sockets or files in its
//! source, and no runtime, socket or file crate among its dependencies.

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("src dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).expect("read"),
            ));
        }
    }
}

#[test]
fn no_clock_thread_socket_or_file_in_the_engine() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 5);
    let forbidden = [
        "Instant::now",
        "SystemTime",
        "UNIX_EPOCH",
        "thread::spawn",
        "std::net",
        "std::fs",
        "File::",
        "tokio::",
        "async fn",
        "thread_rng",
    ];
    for (name, text) in &files {
        for f in forbidden {
            assert!(!text.contains(f), "{name} uses `{f}`: gun-proto is sans-IO");
        }
    }
}

#[test]
fn dependencies_are_pure() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .expect("manifest");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("deps")
        .split("\n[")
        .next()
        .expect("section");
    // blst is built with `no-threads` (checked below); sha2 is a pure hash;
    // serde is the single-pass decoder's visitor traits; the SEA crates are
    // pure computation (p256 without its getrandom feature, aes-gcm without
    // its OsRng; ring's verification only: randomness comes from callers);
    // compact_str and arrayvec are string types, smallvec a vector;
    // hashbrown (without its default hasher) a hash table.
    let allowed = [
        "p256",
        "ring",
        "aes-gcm",
        "pbkdf2",
        "base64",
        "serde",
        "serde_json",
        "ryu-js",
        "thiserror",
        "tracing",
        "blst",
        "sha2",
        "compact_str",
        "arrayvec",
        "smallvec",
        "hashbrown",
    ];
    for line in deps
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let name = line.split(['=', '.', ' ']).next().expect("name");
        if name == "blst" {
            assert!(
                line.contains("no-threads"),
                "blst must be built with no-threads"
            );
        }
        assert!(
            allowed.contains(&name),
            "gun-proto depends on `{name}`: keep runtimes, sockets and files out"
        );
    }
}
