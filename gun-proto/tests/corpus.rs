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
