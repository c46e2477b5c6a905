//! Admission of incoming messages: the signed mesh's checks and the message
//! predicate, before a message is processed.
//!
//! A message with `sigs` must carry the SHA-256 of its body as `#` and be
//! signed by trusted keys only (checked here, at once); its signatures are
//! then verified by the driver, asked with [`super::Output::Verify`] and
//! answered with [`super::Input::Verified`], so the driver can batch many and
//! draw the batch's random weights from the OS. A message without `sigs` is
//! admitted only if the policy accepts unsigned ones. Last, the predicate
//! sees every admitted message. Each peer's messages are processed in the
//! order they arrived: behind one waiting for its verification, the next
//! ones wait too.

use std::collections::{HashMap, VecDeque};

use tracing::{debug, warn};

use super::Message;
use crate::auth::{self, AuthError, Signed, TrustPolicy};
use crate::ids::{PeerId, VerifyId};

/// A filter over incoming messages (as JSON), run after the signature
/// checks: `false` drops the message.
#[derive(Clone)]
pub struct Predicate(pub std::sync::Arc<dyn Fn(&serde_json::Value) -> bool + Send + Sync>);

impl std::fmt::Debug for Predicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Predicate(…)")
    }
}

/// What to do with a message now. (Returned and taken apart at once: a box
/// for the message would cost an allocation per message for nothing.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub(super) enum Verdict {
    /// Process it.
    Admit(Message),
    /// Have its signatures verified; it waits.
    Verify(VerifyId, Signed),
    /// Nothing more: it waits behind others, or was refused (and logged).
    Wait,
}

#[derive(Debug)]
struct Waiting {
    msg: Message,
    /// The message as JSON, when a predicate will look at it.
    json: Option<serde_json::Value>,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Verifying(VerifyId),
    Verified,
    Refused,
}

#[derive(Debug)]
pub(super) struct Admission {
    policy: TrustPolicy,
    predicate: Option<Predicate>,
    next_verify: u64,
    /// Per peer, messages in arrival order behind the first unverified one.
    waiting: HashMap<PeerId, VecDeque<Waiting>>,
    /// Verifications asked for, by whose message.
    asked: HashMap<VerifyId, PeerId>,
    /// Most messages one peer may have waiting.
    max_waiting: usize,
}

impl Admission {
    pub(super) fn new(
        policy: TrustPolicy,
        predicate: Option<Predicate>,
        max_waiting: usize,
    ) -> Self {
        Self {
            policy,
            predicate,
            next_verify: 0,
            waiting: HashMap::new(),
            asked: HashMap::new(),
            max_waiting,
        }
    }

    /// Whether every message must be looked at as JSON before it is read
    /// (otherwise only messages that carry `sigs` are).
    pub(super) fn inspects_all(&self) -> bool {
        !self.policy.accept_unsigned || self.predicate.is_some()
    }

    /// The signatures a message carries, checked against its id and the
    /// policy (not verified yet). `Err` refuses it.
    pub(super) fn check(&self, json: &serde_json::Value) -> Result<Option<Signed>, AuthError> {
        let Some(map) = json.as_object() else {
            return Ok(None);
        };
        match auth::signed(map)? {
            Some(s) => {
                auth::check_trust(&s, &self.policy)?;
                Ok(Some(s))
            }
            None if self.policy.accept_unsigned => Ok(None),
            None => Err(AuthError::Unsigned),
        }
    }

    /// A message from `peer` that passed [`Admission::check`], with its
    /// signatures when it has them.
    pub(super) fn arrived(
        &mut self,
        peer: PeerId,
        msg: Message,
        json: Option<serde_json::Value>,
        signed: Option<Signed>,
    ) -> Verdict {
        // The common case, nothing waiting from this peer: no queue at all.
        if signed.is_none() && !self.waiting.contains_key(&peer) {
            return match self.passes(&msg, json.as_ref()) {
                true => Verdict::Admit(msg),
                false => Verdict::Wait,
            };
        }
        let queue = self.waiting.entry(peer).or_default();
        if queue.len() >= self.max_waiting {
            warn!(
                ?peer,
                id = msg.id.as_deref().unwrap_or(""),
                reason = "too many messages waiting for verification",
                "message refused"
            );
            return Verdict::Wait;
        }
        let json = if self.predicate.is_some() { json } else { None };
        match signed {
            Some(s) => {
                self.next_verify += 1;
                let id = VerifyId(self.next_verify);
                self.asked.insert(id, peer);
                queue.push_back(Waiting {
                    msg,
                    json,
                    state: State::Verifying(id),
                });
                Verdict::Verify(id, s)
            }
            None => {
                queue.push_back(Waiting {
                    msg,
                    json,
                    state: State::Verified,
                });
                Verdict::Wait
            }
        }
    }

    /// The driver verified `id`: the messages of its peer that can now be
    /// processed, in order.
    pub(super) fn verified(
        &mut self,
        id: VerifyId,
        result: Result<(), AuthError>,
    ) -> Vec<(PeerId, Message)> {
        let Some(peer) = self.asked.remove(&id) else {
            debug!(?id, "verification for a peer that left");
            return Vec::new();
        };
        let Some(queue) = self.waiting.get_mut(&peer) else {
            return Vec::new();
        };
        if let Some(w) = queue.iter_mut().find(|w| w.state == State::Verifying(id)) {
            w.state = match &result {
                Ok(()) => State::Verified,
                Err(why) => {
                    warn!(?peer, id = w.msg.id.as_deref().unwrap_or(""), reason = %why, "message refused");
                    State::Refused
                }
            };
        }
        let mut ready = Vec::new();
        while let Some(front) = queue.front() {
            if let State::Verifying(_) = front.state {
                break;
            }
            let Some(w) = queue.pop_front() else { break };
            if w.state == State::Verified {
                ready.push(w);
            }
        }
        if queue.is_empty() {
            self.waiting.remove(&peer);
        }
        ready
            .into_iter()
            .filter(|w| self.passes(&w.msg, w.json.as_ref()))
            .map(|w| (peer, w.msg))
            .collect()
    }

    /// A peer left: what it had waiting is dropped.
    pub(super) fn peer_gone(&mut self, peer: PeerId) {
        self.waiting.remove(&peer);
        self.asked.retain(|_, p| *p != peer);
    }

    /// The predicate's say (messages pass when there is none).
    fn passes(&self, msg: &Message, json: Option<&serde_json::Value>) -> bool {
        let Some(pred) = &self.predicate else {
            return true;
        };
        let keep = match json {
            Some(j) => (pred.0)(j),
            None => (pred.0)(&serde_json::Value::Object(msg.to_map())),
        };
        if !keep {
            debug!(
                id = msg.id.as_deref().unwrap_or(""),
                "message refused by the predicate"
            );
        }
        keep
    }
}
