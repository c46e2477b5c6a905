//! Replays the fuzz corpus (`fuzz/corpus/frame`, seeded from captured Gun.js
//! frames) on the stable toolchain: each input decodes or is refused, never
//! panics, and is fed to a relay engine too.

use std::time::Duration;

use gun_proto::wire::{self, Limits};
use gun_proto::{Config, Engine, Input, MemoryStore, Now, Output, PeerId, Role, Store};

#[test]
fn fuzz_corpus_replays_without_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/frame");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "corpus is present");
    let now = Now::new(Duration::ZERO, 1.8e12);
    let mut engine = Engine::new(Config::new(1), now);
    let mut store = MemoryStore::new();
    engine
        .handle_input(
            now,
            Input::Connected {
                peer: PeerId(1),
                role: Role::Accepted,
            },
        )
        .expect("connect");
    for path in inputs {
        let data = std::fs::read(&path).expect("read input");
        if let Ok(messages) = wire::decode(&data, &Limits::default()) {
            for m in messages.into_iter().flatten() {
                let again =
                    wire::decode(m.encode().as_bytes(), &Limits::default()).expect("re-encodes");
                assert_eq!(again.len(), 1);
            }
        }
        engine
            .handle_input(
                now,
                Input::Frame {
                    peer: PeerId(1),
                    data: &data,
                },
            )
            .expect("frame");
        while let Some(out) = engine.poll_output() {
            match out {
                Output::StoreRead { id, query } => {
                    let result = store.read(&query);
                    engine
                        .handle_input(now, Input::StoreRead { id, result })
                        .expect("read");
                }
                Output::StoreWrite { id, batch } => {
                    let result = store.write(&batch);
                    engine
                        .handle_input(now, Input::StoreWritten { id, result })
                        .expect("write");
                }
                _ => {}
            }
        }
    }
}
