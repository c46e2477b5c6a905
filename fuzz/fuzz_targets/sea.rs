//! SEA on arbitrary input: the protected spaces' rules on any put, and the
//! SEA texts a peer can send (signed and encrypted data, certificates) read
//! by verify/decrypt; none may panic. JavaScript-ordered JSON prints text
//! that parses back to the same value.
#![no_main]

use gun_proto::sea::{self, Js, space};
use gun_proto::wire::{self, Limits};
use libfuzzer_sys::fuzz_target;

const PUB: &str = "-kTFJBvd1IRAHWtW7uXE_COJ1-XZdNb92Xc8wAb6O0Y.XA-dAEL8eOVcMB8mhmCc9_9LqbvsJsfzJUso2We7K0w";

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(js) = Js::parse(text) {
            let printed = js.stringify();
            assert_eq!(Js::parse(&printed).map(|j| j.stringify()), Some(printed));
        }
        let _ = sea::verify(text, PUB);
        let _ = sea::decrypt(text, "key");
        let _ = space::unpack_value(&format!("~{PUB}"), gun_proto::ValueRef::String(text));
    }
    // As a frame: every put through the rules, every proof verified.
    let Ok(msgs) = wire::decode(data, &Limits::default()) else { return };
    for msg in msgs.into_iter().flatten() {
        if let Some(mut put) = msg.put {
            if let Ok(checked) = space::check_put(&mut put, 1.7e12) {
                for p in &checked.proofs {
                    let _ = p.verify();
                }
            }
        }
    }
});
