//! The BLS-signed mesh over real sockets: signed peers syncing through a
//! signed relay, forged and replayed messages refused with a logged reason
//! and nothing of them stored, and a mixed mesh with a Gun.js client.

use std::io::Write;
use std::net::TcpStream;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use gun_core::{GunOptions, Signer, TrustPolicy, keypair_from_seed};
use gun_io_blocking::Gun;
use gun_proto::auth;
use gun_tests::interop::{Client, FrameLog, JsAgent, Tap, free_port, gunjs_installed};
use serde_json::{Value, json};

/// Everything logged, for the "logged reason" checks.
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        #[derive(Clone)]
        struct Sink;
        impl Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                logs()
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing_subscriber::fmt()
            // Dedup's drops are debug-level (duplicates are normal in a mesh).
            .with_env_filter("warn,gun_proto=debug")
            .with_writer(|| Sink)
            .with_ansi(false)
            .try_init();
        Mutex::new(Vec::new())
    })
}

fn logged(what: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text =
            String::from_utf8_lossy(&logs().lock().unwrap_or_else(|e| e.into_inner())).into_owned();
        if text.contains(what) {
            return true;
        }
        if Instant::now() > deadline {
            eprintln!("logs so far:\n{text}");
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn keys(seed: u8) -> (gun_core::SecretKey, gun_core::PublicKey) {
    keypair_from_seed(&[seed; 32]).expect("keys")
}

fn pk_hex(seed: u8) -> String {
    keys(seed).1.to_hex()
}

fn relay(seed: u8, trust: TrustPolicy) -> (Gun, String) {
    relay_with(seed, trust, None)
}

fn relay_with(
    seed: u8,
    trust: TrustPolicy,
    predicate: Option<gun_core::MessagePredicate>,
) -> (Gun, String) {
    let port = free_port();
    let (sk, pk) = keys(seed);
    let g = Gun::with_options(
        sk,
        pk,
        GunOptions {
            trust,
            message_predicate: predicate,
            ..GunOptions::relay_server(port)
        },
    )
    .expect("relay");
    (g, format!("ws://127.0.0.1:{port}/gun"))
}

fn count(what: &str) -> usize {
    String::from_utf8_lossy(&logs().lock().unwrap_or_else(|e| e.into_inner()))
        .matches(what)
        .count()
}

fn client(seed: u8, url: &str, trust: TrustPolicy) -> Gun {
    let (sk, pk) = keys(seed);
    let g = Gun::with_options(
        sk,
        pk,
        GunOptions {
            trust,
            max_backoff: Duration::from_millis(100),
            ..GunOptions::with_relay(url)
        },
    )
    .expect("client");
    assert!(g.wait_for_connection(5_000));
    g
}

fn wait_value(g: &Gun, soul: &str, key: &str, want: &Value, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if g.get(soul).get(key).once_value().ok().flatten().as_ref() == Some(want) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn signed_peers_sync_through_a_signed_relay_with_every_hop_signing() {
    let (_relay, url) = relay(1, TrustPolicy::signed_only());
    let log = FrameLog::new();
    let tap_a = Tap::start("a", url.clone(), log.clone());
    let tap_b = Tap::start("b", url.clone(), log.clone());
    let a = client(2, &tap_a.url(), TrustPolicy::signed_only());
    let b = client(3, &tap_b.url(), TrustPolicy::signed_only());
    let (tx, rx) = crossbeam_channel::unbounded();
    b.get("signed").get("msg").on(move |v, _| drop(tx.send(v)));
    a.get("signed")
        .put_acked(json!({"msg": "hello", "n": 1}))
        .expect("acked");
    let see = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("b sees a's write");
            if v == json!(want) {
                break;
            }
        }
    };
    see("hello");
    // b is subscribed now: the next write reaches it as the relay's push of
    // a's message, signed by a and then by the relay, under a's id.
    a.get("signed")
        .get("msg")
        .put_acked(json!("again"))
        .expect("acked");
    see("again");
    let msg = log
        .frames("relay → b")
        .iter()
        .filter_map(|t| serde_json::from_str::<Value>(t).ok())
        .flat_map(|v| match v {
            Value::Array(items) => items,
            one => vec![one],
        })
        .find(|m| m.to_string().contains("again"))
        .expect("the push to b");
    let sigs: Vec<&str> = msg["sigs"]
        .as_array()
        .expect("sigs")
        .iter()
        .filter_map(|e| e["pubkey"].as_str())
        .collect();
    assert_eq!(sigs, [pk_hex(2), pk_hex(1)], "{msg}");
    let map = msg.as_object().expect("object");
    let s = auth::signed(map).expect("id matches").expect("signed");
    auth::verify(&s).expect("both signatures verify");
}

/// A raw WebSocket peer that speaks frames only.
struct Raw(tungstenite::WebSocket<TcpStream>);

impl Raw {
    fn connect(url: &str) -> Self {
        let addr = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("addr");
        let stream = TcpStream::connect(addr).expect("connect");
        let (ws, _) = tungstenite::client(url, stream).expect("handshake");
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        Self(ws)
    }

    fn send(&mut self, v: &Value) {
        self.0
            .send(tungstenite::Message::Text(v.to_string().into()))
            .expect("send");
    }

    /// Frames received within `d`.
    fn recv_for(&mut self, d: Duration) -> Vec<Value> {
        let deadline = Instant::now() + d;
        let mut out = Vec::new();
        while Instant::now() < deadline {
            if let Ok(tungstenite::Message::Text(t)) = self.0.read() {
                match serde_json::from_str::<Value>(t.as_str()) {
                    Ok(Value::Array(items)) => out.extend(items),
                    Ok(v) => out.push(v),
                    Err(_) => {}
                }
            }
        }
        out
    }
}

/// A put message sealed by `signer`.
fn sealed(signer: &Signer, soul: &str, key: &str, value: Value, state: f64) -> Value {
    let mut m = json!({"put": {soul: {"_": {"#": soul, ">": {key: state}}, key: value}}});
    let map = m.as_object().expect("object").clone();
    let body = auth::body(&map);
    m["#"] = json!(auth::message_id(&body));
    m["sigs"] = json!([signer.sign(&body)]);
    m
}

fn acks(frames: &[Value], id: &Value) -> usize {
    frames
        .iter()
        .filter(|f| f["@"] == *id && f["ok"] == json!(true))
        .count()
}

#[test]
fn forged_untrusted_truncated_and_replayed_messages_are_refused_and_nothing_is_stored() {
    logs();
    let trusted = Signer::from_seed(&[7; 32]).expect("signer");
    let stranger = Signer::from_seed(&[8; 32]).expect("signer");
    let policy = TrustPolicy {
        accept_unsigned: false,
        signers: Some([trusted.public_key_hex().to_owned()].into()),
    };
    // The predicate sees only what passed verification and trust.
    let seen: std::sync::Arc<Mutex<Vec<Value>>> = std::sync::Arc::default();
    let seen2 = seen.clone();
    let predicate: gun_core::MessagePredicate = std::sync::Arc::new(move |m: &Value| {
        seen2
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(m["#"].clone());
        true
    });
    let (relay, url) = relay_with(1, policy, Some(predicate));
    let mut raw = Raw::connect(&url);
    let state = 1_700_000_000_000.0;
    let soul = "guarded";

    // A good message is stored and acked.
    let good = sealed(&trusted, soul, "k", json!("real"), state);
    raw.send(&good);
    assert_eq!(
        acks(&raw.recv_for(Duration::from_millis(500)), &good["#"]),
        1
    );

    // A replay of it: dropped by dedup, no second ack.
    raw.send(&good);
    assert_eq!(
        acks(&raw.recv_for(Duration::from_millis(500)), &good["#"]),
        0
    );
    let dup = good["#"].as_str().expect("id").to_owned();
    assert!(logged(&format!(
        "duplicate message dropped peer=PeerId(0) id=\"{dup}\""
    )));

    // A tampered value under the old id and signature.
    let mut tampered = sealed(&trusted, soul, "k", json!("real"), state + 1.0);
    tampered["put"][soul]["k"] = json!("forged");
    raw.send(&tampered);
    assert!(logged("message id is not the SHA-256 of its body"));

    // The same with its id recomputed: the signature no longer verifies.
    let map = tampered.as_object().expect("object").clone();
    tampered["#"] = json!(auth::message_id(&auth::body(&map)));
    raw.send(&tampered);
    assert!(logged("signature does not verify"));

    // Signed by a key the relay does not trust.
    let untrusted = sealed(&stranger, soul, "k", json!("stranger"), state + 2.0);
    raw.send(&untrusted);
    assert!(logged(&format!(
        "signer {} is not trusted",
        stranger.public_key_hex()
    )));

    // A wrong `#`.
    let before = count("message id is not the SHA-256 of its body");
    let mut wrong_id = sealed(&trusted, soul, "k", json!("wrong id"), state + 3.0);
    wrong_id["#"] = json!("0".repeat(64));
    raw.send(&wrong_id);
    let deadline = Instant::now() + Duration::from_secs(5);
    while count("message id is not the SHA-256 of its body") == before {
        assert!(Instant::now() < deadline, "the wrong id was not refused");
        std::thread::sleep(Duration::from_millis(20));
    }

    // A truncated signature.
    let mut truncated = sealed(&trusted, soul, "k", json!("truncated"), state + 4.0);
    let sig = truncated["sigs"][0]["sig"].as_str().expect("sig")[..180].to_owned();
    truncated["sigs"][0]["sig"] = json!(sig);
    raw.send(&truncated);
    assert!(logged("malformed sigs entry: sig must be 96 bytes of hex"));

    // Unsigned.
    raw.send(&json!({"#": "plain", "put": {soul: {"_": {"#": soul, ">": {"k": state + 5.0}}, "k": "unsigned"}}}));
    assert!(logged("unsigned message refused by policy"));

    // None of them got an ack, and the relay holds only the real value.
    let frames = raw.recv_for(Duration::from_millis(500));
    assert!(frames.iter().all(|f| f.get("ok").is_none()), "{frames:?}");
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for refused in [&tampered, &untrusted, &wrong_id, &truncated] {
        assert!(
            !seen.contains(&refused["#"]),
            "the predicate saw {}",
            refused["#"]
        );
    }
    assert!(seen.contains(&good["#"]));
    let node = relay.get(soul).once_value().expect("read").expect("node");
    assert_eq!(node["k"], json!("real"));
    assert_eq!(node["_"][">"]["k"].as_f64(), Some(state));
}

fn agent_value(agent: &JsAgent, soul: &str, key: &str) -> Option<Value> {
    agent
        .once(&[soul, key], Duration::from_millis(500))
        .ok()
        .flatten()
}

#[test]
fn a_gunjs_client_and_a_signed_peer_sync_only_through_a_relay_that_admits_unsigned() {
    assert!(gunjs_installed(), "run `npm ci --prefix tests/interop`");
    for admit in [true, false] {
        let policy = TrustPolicy {
            accept_unsigned: admit,
            signers: None,
        };
        let (_relay, url) = relay(1, policy);
        let js = JsAgent::client("gunjs", &url).expect("Gun.js client");
        // The signed peer takes unsigned messages: the relay passes Gun.js's
        // writes on unsigned (their ids are Gun.js's, not hashes).
        let rust = client(2, &url, TrustPolicy::default());
        let soul = format!("mixed-{admit}");
        rust.get(&soul)
            .get("from_rust")
            .put_acked(json!("signed"))
            .expect("acked");
        let _ = js.put(&[&soul, "from_js"], json!("unsigned"));
        let deadline = Instant::now() + Duration::from_secs(if admit { 15 } else { 3 });
        let (mut js_sees, mut rust_sees) = (false, false);
        while Instant::now() < deadline && !(js_sees && rust_sees) {
            js_sees |= agent_value(&js, &soul, "from_rust") == Some(json!("signed"));
            rust_sees |= wait_value(
                &rust,
                &soul,
                "from_js",
                &json!("unsigned"),
                Duration::from_millis(200),
            );
        }
        if admit {
            assert!(
                js_sees && rust_sees,
                "synced: js {js_sees}, rust {rust_sees}"
            );
        } else {
            assert!(
                !js_sees && !rust_sees,
                "kept apart: js {js_sees}, rust {rust_sees}"
            );
            assert!(logged("unsigned message refused by policy"));
        }
    }
}
