//! The signed mesh's checks on arbitrary JSON: reading `sigs`, the id check,
//! aggregate and batch verification never panic, and agree: a message that
//! verifies on its own verifies in a batch, and its `#` is its body's hash.
#![no_main]

use gun_proto::auth;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = auth::body(&map);
    let Ok(Some(signed)) = auth::signed(&map) else { return };
    let alone = auth::verify(&signed).is_ok();
    let random = vec![0x5a; 8 * signed.entries.len()];
    let batched = auth::verify_batch(&[&signed], &random);
    assert_eq!(alone, batched, "aggregate and batch disagree");
    if alone {
        let id = map.get("#").and_then(|v| v.as_str());
        assert_eq!(id, Some(auth::message_id(&signed.body).as_str()));
    }
});
