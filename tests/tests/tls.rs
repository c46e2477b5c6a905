//! TLS: every driver serves `wss://` with a certificate and key, and dials
//! `wss://` (and `https://`) relays, ours and a Gun.js relay behind TLS,
//! trusting a self-signed certificate through `TlsOptions::ca`. Untrusted
//! or misnamed certificates are refused.

use std::time::{Duration, Instant};

use gun_core::{GunError, GunOptions, TlsOptions};
use gun_tests::interop::{JsAgent, free_port, gunjs_installed};
use gun_tests::{Blocking, Net, Node, Smol, Tokio, self_signed};
use serde_json::{Value, json};

const PATIENCE: Duration = Duration::from_secs(10);

/// Starts an instance on one driver.
type Starter = Box<dyn Fn(GunOptions) -> Node>;

fn drivers() -> Vec<(&'static str, Starter)> {
    let tokio = Tokio::new();
    vec![
        ("blocking", Box::new(|o| Blocking.start(o))),
        ("tokio", Box::new(move |o| tokio.start(o))),
        ("async-io", Box::new(|o| Smol.start(o))),
    ]
}

fn trusting(url: &str, cert: &str) -> GunOptions {
    GunOptions {
        tls: TlsOptions {
            ca: vec![cert.to_owned()],
            ..TlsOptions::default()
        },
        once_wait: Duration::from_millis(300),
        ..GunOptions::with_relay(url)
    }
}

/// A relay on any free port serving `wss://` with `cert` and `key`.
fn serving(cert: &str, key: &str) -> GunOptions {
    GunOptions {
        tls: TlsOptions {
            cert: Some(cert.to_owned()),
            key: Some(key.to_owned()),
            ..TlsOptions::default()
        },
        ..GunOptions::relay_server(0)
    }
}

fn eventually(node: &Node, soul: &str, key: &str, want: &Value) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let got = node.gun.get(soul).get(key).once_value().wait();
        if got.as_ref().ok().and_then(Option::as_ref) == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "{soul}.{key}: {got:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_driver_serves_wss_and_every_driver_dials_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed(dir.path(), &["127.0.0.1", "localhost"]);
    for (relay_name, start_relay) in drivers() {
        let relay = start_relay(serving(&cert, &key));
        let port = relay.addr.expect("bound").port();
        let url = format!("wss://127.0.0.1:{port}/gun");
        let clients: Vec<(&str, Node)> = drivers()
            .into_iter()
            .map(|(name, start)| (name, start(trusting(&url, &cert))))
            .collect();
        for (name, c) in &clients {
            assert!(
                c.gun.wait_for_connection(5_000).wait().expect("wait"),
                "{name} client reaches the {relay_name} relay over TLS"
            );
        }
        for (name, c) in &clients {
            c.gun
                .get(format!("tls/{relay_name}"))
                .get(*name)
                .put_acked(json!(format!("from {name}")))
                .wait()
                .expect("acked over TLS");
        }
        for (_, reader) in &clients {
            for (name, _) in &clients {
                eventually(
                    reader,
                    &format!("tls/{relay_name}"),
                    name,
                    &json!(format!("from {name}")),
                );
            }
        }
    }
}

#[test]
fn every_driver_dials_a_gunjs_relay_behind_tls() {
    assert!(gunjs_installed(), "run `npm ci --prefix tests/interop`");
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed(dir.path(), &["127.0.0.1", "localhost"]);
    let port = free_port();
    let _relay = JsAgent::relay_tls(
        "gunjs-tls-relay",
        port,
        &dir.path().join("radata"),
        std::path::Path::new(&cert),
        std::path::Path::new(&key),
    )
    .expect("a Gun.js relay behind TLS");
    // Gun.js names its relays http(s)://; both spellings dial wss.
    let urls = [
        format!("https://localhost:{port}/gun"),
        format!("wss://127.0.0.1:{port}/gun"),
    ];
    let clients: Vec<(&str, Node)> = drivers()
        .into_iter()
        .enumerate()
        .map(|(i, (name, start))| (name, start(trusting(&urls[i % 2], &cert))))
        .collect();
    for (name, c) in &clients {
        assert!(
            c.gun.wait_for_connection(5_000).wait().expect("wait"),
            "{name} reaches the Gun.js relay over TLS"
        );
        c.gun
            .get("tls/gunjs")
            .get(*name)
            .put_acked(json!(format!("from {name}")))
            .wait()
            .expect("the Gun.js relay acks");
    }
    for (_, reader) in &clients {
        for (name, _) in &clients {
            eventually(reader, "tls/gunjs", name, &json!(format!("from {name}")));
        }
    }
}

#[test]
fn untrusted_and_misnamed_certificates_are_refused_and_bad_settings_are_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = self_signed(dir.path(), &["127.0.0.1"]);
    let relay = Blocking.start(serving(&cert, &key));
    let port = relay.addr.expect("bound").port();
    let other = dir.path().join("other");
    std::fs::create_dir(&other).expect("mkdir");
    let (other_cert, _) = self_signed(&other, &["relay.invalid"]);
    let quick = |url: String, ca: Vec<String>| GunOptions {
        tls: TlsOptions {
            ca,
            ..TlsOptions::default()
        },
        put_timeout: Duration::from_millis(300),
        ..GunOptions::with_relay(url)
    };
    for (name, start) in drivers() {
        // Not trusted: the platform's and Mozilla's roots do not hold it.
        let stranger = start(quick(format!("wss://127.0.0.1:{port}/gun"), Vec::new()));
        // Trusted, but not for this name.
        let misnamed = start(quick(
            format!("wss://127.0.0.1:{port}/gun"),
            vec![other_cert.clone()],
        ));
        for c in [&stranger, &misnamed] {
            assert!(
                !c.gun.wait_for_connection(1_000).wait().expect("wait"),
                "{name} must not connect"
            );
            let acked = c.gun.get("x").get("k").put_acked(json!(1)).wait();
            assert!(matches!(acked, Err(GunError::Network(_))), "{acked:?}");
        }
    }
    // A plain client cannot speak to a TLS relay either.
    let plain = Blocking.start(quick(format!("ws://127.0.0.1:{port}/gun"), Vec::new()));
    assert!(!plain.gun.wait_for_connection(1_000).wait().expect("wait"));

    let serve = |tls: TlsOptions| {
        gun_io_blocking::Gun::without_keys(GunOptions {
            tls,
            ..GunOptions::relay_server(0)
        })
    };
    let missing = TlsOptions {
        cert: Some(dir.path().join("nope.pem").display().to_string()),
        key: Some(key.clone()),
        ..TlsOptions::default()
    };
    assert!(matches!(serve(missing), Err(GunError::Io(_))));
    let half = TlsOptions {
        cert: Some(cert.clone()),
        ..TlsOptions::default()
    };
    assert!(matches!(serve(half), Err(GunError::InvalidData(_))));
    let swapped = TlsOptions {
        cert: Some(key.clone()),
        key: Some(cert.clone()),
        ..TlsOptions::default()
    };
    assert!(matches!(serve(swapped), Err(GunError::Crypto(_))));
    let bad_ca = quick(
        format!("wss://127.0.0.1:{port}/gun"),
        vec![dir.path().join("nope.pem").display().to_string()],
    );
    assert!(matches!(
        gun_io_blocking::Gun::without_keys(bad_ca),
        Err(GunError::Io(_))
    ));
}
