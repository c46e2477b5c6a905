//! The frame decoder on arbitrary bytes: never panics; each message reads
//! the same through the single-pass reader as through a JSON tree; and
//! whatever decodes re-encodes to something that decodes to one message.
#![no_main]

use gun_proto::wire::{self, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = wire::split(data, &Limits::default()) {
        for raw in items {
            let one_pass = wire::message_text(raw.get()).map_err(|(id, e)| (id, e.to_string()));
            let tree = match serde_json::from_str::<serde_json::Value>(raw.get()) {
                Ok(v) => wire::message(v).map_err(|(id, e)| (id, e.to_string())),
                Err(_) => continue,
            };
            assert_eq!(one_pass, tree, "{}", raw.get());
        }
    }
    let Ok(messages) = wire::decode(data, &Limits::default()) else { return };
    for m in messages.into_iter().flatten() {
        let text = m.encode();
        let back = wire::decode(text.as_bytes(), &Limits::default()).expect("our encoding decodes");
        assert_eq!(back.len(), 1);
    }
});
