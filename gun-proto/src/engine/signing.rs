//! The signed mesh on the way out: messages we make are sealed (their `#`
//! the SHA-256 of their body, our signature in `sigs`), signed messages we
//! pass on get our signature appended. Unsigned messages stay unsigned.

use compact_str::CompactString;

use super::{Engine, Message};

impl Engine {
    /// Makes a message ours for the signed mesh: `#` becomes the SHA-256 of
    /// its body and `sigs` our signature. Without a signer, nothing changes.
    /// Returns the id it goes out with.
    pub(super) fn seal(&mut self, msg: &mut Message) -> Option<CompactString> {
        if let Some(signer) = self.cfg.signer.clone() {
            msg.extra.remove("sigs");
            // A get or greeting may be sent again with the same content: a
            // nonce keeps its id (the body's hash) from being a duplicate's.
            if msg.put.is_none() && msg.ack.is_none() {
                let nonce = self.new_id();
                msg.extra
                    .insert("nonce".into(), serde_json::Value::String(nonce.into()));
            }
            let body = crate::auth::body(&msg.to_map());
            msg.id = Some(crate::auth::message_id(&body).into());
            msg.extra.insert(
                "sigs".into(),
                serde_json::Value::Array(vec![signer.sign(&body)]),
            );
        }
        msg.id.clone()
    }

    /// Appends our signature to a signed message we pass on (unsigned ones
    /// stay unsigned: their `#` is not the hash of their body).
    pub(super) fn countersign(&self, msg: &mut Message) {
        let Some(signer) = &self.cfg.signer else {
            return;
        };
        let already = match msg.extra.get("sigs") {
            Some(serde_json::Value::Array(sigs)) => sigs
                .iter()
                .any(|e| e.get("pubkey").and_then(|p| p.as_str()) == Some(signer.public_key_hex())),
            _ => return,
        };
        if already {
            return;
        }
        let body = crate::auth::body(&msg.to_map());
        if let Some(serde_json::Value::Array(sigs)) = msg.extra.get_mut("sigs") {
            sigs.push(signer.sign(&body));
        }
    }
}
