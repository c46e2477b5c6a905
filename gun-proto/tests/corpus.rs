//! Replays the fuzz corpus (`fuzz/corpus/frame`, seeded from captured Gun.js
//! frames) on the stable toolchain: each input decodes or is refused, never
//! panics, and is fed to a relay engine too.

mod common;

use common::Relay;
use gun_proto::wire::{self, Limits};

#[test]
fn fuzz_corpus_replays_without_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/frame");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "corpus is present");
    let mut relay = Relay::new(1);
    relay.connect(1);
    for path in inputs {
        let data = std::fs::read(&path).expect("read input");
        if let Ok(messages) = wire::decode(&data, &Limits::default()) {
            for m in messages.into_iter().flatten() {
                let again =
                    wire::decode(m.encode().as_bytes(), &Limits::default()).expect("re-encodes");
                assert_eq!(again.len(), 1);
            }
        }
        relay.frame_bytes(1, &data);
    }
}

#[test]
fn convert_corpus_replays_without_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/convert");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 5, "corpus is present");
    let no_links = |_: &str, _: &str| None;
    let mut converted = 0;
    for path in inputs {
        let data = std::fs::read(&path).expect("read input");
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&data) else {
            continue;
        };
        if let Ok(diff) = gun_proto::convert::diff_from_json("root", &value, 1.7e12, &no_links) {
            let text = wire::Message {
                put: Some(diff.clone()),
                ..Default::default()
            }
            .encode();
            let back = wire::decode(text.as_bytes(), &Limits::default()).expect("decodes");
            assert_eq!(back[0].as_ref().expect("valid").put.as_ref(), Some(&diff));
            converted += 1;
        }
    }
    assert!(converted > 0);
}

#[test]
fn auth_corpus_replays_and_aggregate_agrees_with_batch() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/auth");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 20, "corpus is present");
    let (mut valid, mut refused) = (0, 0);
    for path in inputs {
        let data = std::fs::read(&path).expect("read input");
        let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(&data) else {
            continue;
        };
        match gun_proto::auth::signed(&map) {
            Ok(Some(s)) => {
                let alone = gun_proto::auth::verify(&s).is_ok();
                let random = vec![0x5a; 8 * s.entries.len()];
                assert_eq!(alone, gun_proto::auth::verify_batch(&[&s], &random));
                if alone { valid += 1 } else { refused += 1 }
            }
            Ok(None) => {}
            Err(_) => refused += 1,
        }
    }
    // The seeds hold good, tampered and truncated messages.
    assert!(
        valid >= 8 && refused >= 16,
        "valid {valid}, refused {refused}"
    );
}
