//! Acks made ready with their write: when the turn's batch goes to the
//! store, the acks of the peers' puts it carries are written too, so that
//! a driver can send them the moment the write is durable (from the thread
//! that made it so) instead of bringing the answer back to the engine
//! first. The engine never acks a put twice: [`crate::Input::StoreWritten`]
//! says whether the driver sent them; if not, or if any part failed, the
//! engine acks what is stored itself, as before.

use std::collections::BTreeMap;

use super::outbox::Outbox;
use crate::ids::{PeerId, Rng};
use crate::wire::Frame;

/// The acks of one write, by peer, batched as the peers' own messages are.
#[derive(Debug)]
pub(super) struct ReadyAcks {
    budget: usize,
    by_peer: BTreeMap<PeerId, Outbox>,
}

impl ReadyAcks {
    /// Acks batched into frames of at most `budget` bytes.
    pub(super) fn new(budget: usize) -> Self {
        Self {
            budget,
            by_peer: BTreeMap::new(),
        }
    }

    /// Adds the ack of `peer`'s put `id`.
    pub(super) fn push(&mut self, rng: &mut Rng, peer: PeerId, id: &str) {
        self.by_peer
            .entry(peer)
            .or_default()
            .push_own(self.budget, |out| push_ack(rng, id, out));
    }

    /// The frames to send, each with its peer.
    pub(super) fn frames(self) -> Vec<(PeerId, Frame)> {
        let budget = self.budget;
        let mut frames = Vec::with_capacity(self.by_peer.len());
        for (peer, mut outbox) in self.by_peer {
            while let Some(frame) = outbox.next_frame(budget) {
                frames.push((peer, frame));
            }
        }
        frames
    }
}

/// Appends a put's ack, `{"#":new id,"@":id,"ok":true}`, written straight
/// from its parts: what [`crate::wire::Message::encode`] makes of that
/// message (the test below holds the two to it), without building one.
pub(super) fn push_ack(rng: &mut Rng, id: &str, text: &mut String) {
    text.push_str("{\"#\":\"");
    rng.push_text(text, 9);
    text.push_str("\",\"@\":");
    crate::jstext::push_string(text, id);
    text.push_str(",\"ok\":true}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Message;

    /// The ack written from its parts is the message's encoding, byte for
    /// byte, whatever the id holds.
    #[test]
    fn an_ack_from_its_parts_is_the_encoded_message() {
        for id in ["m00000001", "a\"b\\c", "é😀\n", ""] {
            let (mut a, mut b) = (Rng::new(7), Rng::new(7));
            let want = Message {
                id: Some(b.text(9).into()),
                ack: Some(id.into()),
                ok: Some(serde_json::Value::Bool(true)),
                ..Message::default()
            };
            let mut ack = String::new();
            push_ack(&mut a, id, &mut ack);
            assert_eq!(ack, want.encode());
        }
    }

    /// Each peer's acks come batched in its own frames, in order, within
    /// the budget.
    #[test]
    fn acks_are_batched_per_peer_within_the_budget() {
        let mut rng = Rng::new(1);
        let mut acks = ReadyAcks::new(200);
        for i in 0..10 {
            acks.push(&mut rng, PeerId(2), &format!("b{i}"));
            acks.push(&mut rng, PeerId(1), &format!("a{i}"));
        }
        let frames = acks.frames();
        let mut seen: BTreeMap<PeerId, Vec<String>> = BTreeMap::new();
        for (peer, frame) in &frames {
            assert!(frame.len() <= 200, "{frame}");
            let v: serde_json::Value = serde_json::from_str(frame).expect("json");
            let msgs = match v {
                serde_json::Value::Array(a) => a,
                one => vec![one],
            };
            for m in msgs {
                assert_eq!(m["ok"], serde_json::Value::Bool(true));
                let id = m["@"].as_str().expect("@").to_owned();
                seen.entry(*peer).or_default().push(id);
            }
        }
        let want = |p: &str| (0..10).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
        assert_eq!(seen[&PeerId(1)], want("a"));
        assert_eq!(seen[&PeerId(2)], want("b"));
        assert!(frames.len() > 2, "more than one frame each: {frames:?}");
    }
}
