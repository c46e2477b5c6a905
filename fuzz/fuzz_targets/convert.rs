//! JSON-to-graph conversion on arbitrary JSON: never panics; what converts
//! encodes to a put that the wire decoder accepts and reads back equal.
#![no_main]

use gun_proto::convert::diff_from_json;
use gun_proto::wire::{self, Limits, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let no_links = |_: &str, _: &str| None;
    let Ok(diff) = diff_from_json("root", &value, 1_700_000_000_000.0, &no_links) else { return };
    let text = Message { id: Some("f".into()), put: Some(diff.clone()), ..Message::default() }.encode();
    let back = wire::decode(text.as_bytes(), &Limits::default()).expect("our put decodes");
    let msg = back.into_iter().next().expect("one message").expect("valid");
    assert_eq!(msg.put.as_ref(), Some(&diff));
});
