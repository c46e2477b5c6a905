//! What the engine sends: messages it makes (sealed when it signs), a
//! message to every target at once, messages passed on under their own id,
//! and its answers of refusal and of nothing found.

use compact_str::CompactString;

use super::{Engine, Message};
use crate::ids::PeerId;

impl Engine {
    /// Queues a message this engine made (signed when there is a signer);
    /// its id is remembered so an echo is dropped (a reply's is not: no
    /// peer passes a reply on to anyone but the asker).
    pub(super) fn send(&mut self, peer: PeerId, msg: &Message) {
        let remember = msg.ack.is_none();
        if self.cfg.signer.is_some() {
            let mut msg = msg.clone();
            let id = self.seal(&mut msg);
            let id = id.as_deref().filter(|_| remember);
            self.mesh
                .send_with(peer, id, self.now.mono, |out| msg.push_json(out));
        } else {
            let id = msg.id.as_deref().filter(|_| remember);
            self.mesh
                .send_with(peer, id, self.now.mono, |out| msg.push_json(out));
        }
    }

    /// Makes `msg` ours (a fresh id, sealed when signing) and queues it once
    /// for every target; returns the id it went out under.
    pub(super) fn broadcast(&mut self, targets: &[PeerId], mut msg: Message) -> CompactString {
        let id = self.seal(&mut msg).unwrap_or_default();
        let text = msg.encode();
        self.mesh.broadcast(targets, text, Some(&id), self.now.mono);
        id
    }

    /// Queues a message from elsewhere, passed on under its own id, with our
    /// signature appended when it is signed.
    pub(super) fn relay(&mut self, peer: PeerId, msg: &Message) {
        // A reply: its id routes nothing, so it is not remembered.
        let id = msg.id.as_deref().filter(|_| msg.ack.is_none());
        let now = self.now.mono;
        if self.cfg.signer.is_some() {
            let mut signed = msg.clone();
            self.countersign(&mut signed);
            self.mesh
                .send_with(peer, id, now, |out| signed.push_json(out));
        } else {
            self.mesh.send_with(peer, id, now, |out| msg.push_json(out));
        }
    }

    /// Answers message `id` of `peer` with an error.
    pub(super) fn nack(&mut self, peer: PeerId, id: Option<CompactString>, why: &str) {
        let reply_id = self.new_id();
        let reply = Message {
            id: Some(reply_id),
            ack: id,
            err: Some(why.to_owned()),
            ..Message::default()
        };
        self.send(peer, &reply);
    }

    /// Answers get `get_id` with "nothing here".
    pub(super) fn send_not_found(&mut self, to: PeerId, get_id: CompactString) {
        let id = self.new_id();
        let reply = Message {
            id: Some(id),
            ack: Some(get_id),
            ..Message::default()
        };
        self.send(to, &reply);
    }
}
