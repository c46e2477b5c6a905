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
