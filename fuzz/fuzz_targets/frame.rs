//! The frame decoder on arbitrary bytes: never panics, and whatever decodes
//! re-encodes to something that decodes to the same message.
#![no_main]

use gun_proto::wire::{self, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(messages) = wire::decode(data, &Limits::default()) else { return };
    for m in messages.into_iter().flatten() {
        let text = m.encode();
        let back = wire::decode(text.as_bytes(), &Limits::default()).expect("our encoding decodes");
        assert_eq!(back.len(), 1);
    }
});
