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

use std::collections::VecDeque;

use compact_str::CompactString;
use tracing::debug;

use super::{Check, Message};
use crate::auth::{self, AuthError, Signed, TrustPolicy};
use crate::ids::{IdMap, PeerId, VerifyId};

/// A filter over incoming messages (as JSON), run after the signature
/// checks: `false` drops the message.
#[derive(Clone)]
pub struct Predicate(pub std::sync::Arc<dyn Fn(&serde_json::Value) -> bool + Send + Sync>);

impl std::fmt::Debug for Predicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Predicate(…)")
    }
}

/// What to do with a message [`Admission::at_once`] did not admit.
#[derive(Debug)]
pub(super) enum Verdict {
    /// Have its signatures verified; it waits.
    Verify(VerifyId, Check),
    /// Nothing more: it waits behind others.
    Wait,
    /// Refused, for this reason.
    Refuse(&'static str),
}

#[derive(Debug)]
struct Waiting {
    msg: Message,
    /// The message as JSON, when a predicate will look at it.
    json: Option<serde_json::Value>,
    state: State,
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Signed; its verification not asked for yet (the peer has its share
    /// of verifications under way).
    Queued(Check),
    Verifying(VerifyId),
    Verified,
    Refused,
}

/// A message of a peer refused while it waited (for the engine to log and
/// count within that peer's budget).
#[derive(Debug)]
pub(super) struct Refused {
    pub(super) peer: PeerId,
    pub(super) id: CompactString,
    pub(super) why: String,
    /// A put whose data failed (SEA): answered with `why` as its `err`.
    pub(super) answer: bool,
}

/// What a verification's answer brings.
#[derive(Debug, Default)]
pub(super) struct Verified {
    /// Messages that can be processed now, in order.
    pub(super) ready: Vec<(PeerId, Message)>,
    /// Verifications to ask for next (the peer's next queued messages).
    pub(super) verify: Vec<(VerifyId, PeerId, Check)>,
    /// Messages refused.
    pub(super) refused: Vec<Refused>,
}

#[derive(Debug)]
pub(super) struct Admission {
    policy: TrustPolicy,
    predicate: Option<Predicate>,
    next_verify: u64,
    /// Per peer, messages in arrival order behind the first unverified one.
    waiting: IdMap<PeerId, VecDeque<Waiting>>,
    /// Verifications asked for, by whose message.
    asked: IdMap<VerifyId, PeerId>,
    /// Most messages one peer may have waiting.
    max_waiting: usize,
    /// Most verifications one peer may have under way; its further signed
    /// messages wait their turn, so that one peer's signatures cannot take
    /// every check the driver makes.
    max_verifying: usize,
    /// Most `sigs` entries a message may carry.
    max_sigs: usize,
}

impl Admission {
    pub(super) fn new(cfg: &super::Config) -> Self {
        Self {
            policy: cfg.trust.clone(),
            predicate: cfg.predicate.clone(),
            next_verify: 0,
            waiting: IdMap::default(),
            asked: IdMap::default(),
            max_waiting: cfg.max_unverified,
            max_verifying: cfg.max_verifying_per_peer.max(1),
            max_sigs: cfg.max_sigs,
        }
    }

    /// Whether `peer` has more messages waiting than it should send more:
    /// the driver stops reading its socket until they are through.
    pub(super) fn backlogged(&self, peer: PeerId) -> bool {
        self.waiting
            .get(&peer)
            .is_some_and(|q| q.len() >= self.max_verifying * 4)
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
        // Counted before any is decoded: each costs a curve point and a pairing.
        if let Some(serde_json::Value::Array(sigs)) = map.get("sigs")
            && sigs.len() > self.max_sigs
        {
            return Err(AuthError::Malformed(format!(
                "{} signatures, more than the {} a message may carry",
                sigs.len(),
                self.max_sigs
            )));
        }
        match auth::signed(map)? {
            Some(s) => {
                auth::check_trust(&s, &self.policy)?;
                Ok(Some(s))
            }
            None if self.policy.accept_unsigned => Ok(None),
            None => Err(AuthError::Unsigned),
        }
    }

    /// The common case, a message with nothing to verify from a peer
    /// with nothing waiting (no queue at all): whether it is admitted, or
    /// dropped by the predicate. `None`: it goes through
    /// [`Admission::arrived`].
    pub(super) fn at_once(
        &self,
        peer: PeerId,
        msg: &Message,
        json: Option<&serde_json::Value>,
        check: &Check,
    ) -> Option<bool> {
        (check.is_empty() && !self.waiting.contains_key(&peer)).then(|| self.passes(msg, json))
    }

    /// A message from `peer` that passed [`Admission::check`] and that
    /// [`Admission::at_once`] did not take, with the signatures to verify
    /// before it is processed (its own, and those its data stands on): it
    /// queues behind what its peer has waiting.
    pub(super) fn arrived(
        &mut self,
        peer: PeerId,
        msg: Message,
        json: Option<serde_json::Value>,
        check: Check,
    ) -> Verdict {
        let signed = (!check.is_empty()).then_some(check);
        let queue = self.waiting.entry(peer).or_default();
        if queue.len() >= self.max_waiting {
            return Verdict::Refuse("too many messages waiting for verification");
        }
        let json = if self.predicate.is_some() { json } else { None };
        let verifying = queue
            .iter()
            .filter(|w| matches!(w.state, State::Verifying(_)))
            .count();
        match signed {
            Some(s) if verifying >= self.max_verifying => {
                queue.push_back(Waiting {
                    msg,
                    json,
                    state: State::Queued(s),
                });
                Verdict::Wait
            }
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
    /// processed, in order, and the verifications to ask for next.
    pub(super) fn verified(&mut self, id: VerifyId, result: Result<(), AuthError>) -> Verified {
        let mut out = Verified::default();
        let Some(peer) = self.asked.remove(&id) else {
            debug!(?id, "verification for a peer that left");
            return out;
        };
        let Some(queue) = self.waiting.get_mut(&peer) else {
            return out;
        };
        if let Some(w) = queue.iter_mut().find(|w| w.state == State::Verifying(id)) {
            w.state = match result {
                Ok(()) => State::Verified,
                Err(why) => {
                    let sea = matches!(why, AuthError::Unverified(_));
                    out.refused.push(Refused {
                        peer,
                        id: w.msg.id.clone().unwrap_or_default(),
                        why: why.to_string(),
                        answer: sea && w.msg.ack.is_none() && w.msg.put.is_some(),
                    });
                    State::Refused
                }
            };
        }
        let mut ready = Vec::new();
        while let Some(front) = queue.front() {
            if matches!(front.state, State::Verifying(_) | State::Queued(_)) {
                break;
            }
            let Some(w) = queue.pop_front() else { break };
            if w.state == State::Verified {
                ready.push(w);
            }
        }
        // The peer's next signed messages take the places now free.
        let mut verifying = queue
            .iter()
            .filter(|w| matches!(w.state, State::Verifying(_)))
            .count();
        for w in queue.iter_mut() {
            if verifying >= self.max_verifying {
                break;
            }
            if matches!(w.state, State::Queued(_)) {
                self.next_verify += 1;
                let id = VerifyId(self.next_verify);
                if let State::Queued(signed) = std::mem::replace(&mut w.state, State::Verifying(id))
                {
                    self.asked.insert(id, peer);
                    out.verify.push((id, peer, signed));
                    verifying += 1;
                }
            }
        }
        if queue.is_empty() {
            self.waiting.remove(&peer);
        }
        out.ready = ready
            .into_iter()
            .filter(|w| self.passes(&w.msg, w.json.as_ref()))
            .map(|w| (peer, w.msg))
            .collect();
        out
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
