//! A relay engine fed arbitrary frames from arbitrary peers: never panics.
#![no_main]

use std::time::Duration;

use gun_proto::{Config, Engine, Input, MemoryStore, Now, Output, PeerId, Role, Store};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = Now::new(Duration::ZERO, 1.7e12);
    let mut engine = Engine::new(Config::new(1), now);
    let mut store = MemoryStore::new();
    for p in 0..3u64 {
        let role = if p == 2 { Role::Dialed } else { Role::Accepted };
        engine.handle_input(now, Input::Connected { peer: PeerId(p), role }).expect("connect");
    }
    // Each chunk: one byte picks the peer, the rest is the frame.
    for (i, chunk) in data.split(|b| *b == 0xff).enumerate() {
        let Some((&who, frame)) = chunk.split_first() else { continue };
        let now = Now::new(Duration::from_millis(i as u64), 1.7e12 + i as f64);
        let _ = engine.handle_input(now, Input::Frame { peer: PeerId(u64::from(who % 3)), data: frame });
        while let Some(out) = engine.poll_output() {
            match out {
                Output::StoreRead { id, query } => {
                    let result = store.read(&query);
                    engine.handle_input(now, Input::StoreRead { id, result }).expect("read");
                }
                Output::StoreWrite { id, batch } => {
                    let result = store.write(&batch);
                    engine.handle_input(now, Input::StoreWritten { id, result }).expect("write");
                }
                _ => {}
            }
        }
        engine.handle_timeout(now);
    }
});
