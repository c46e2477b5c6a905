//! The gate incoming frames pass before the engine sees them: signature
//! verification (all waiting frames' signatures in one batch), the trust
//! policy, then the message predicate. What fails is dropped with a logged
//! reason, and nothing of it reaches the engine, so nothing of it is stored
//! or forwarded. A replay of a message that passed is dropped later, by the
//! engine's dedup.

use gun_proto::PeerId;
use gun_proto::auth::{self, AuthError, Signed, TrustPolicy};
use serde_json::Value;
use tracing::{debug, warn};

use crate::options::MessagePredicate;

/// The policy and predicate frames are checked against.
pub(crate) struct Gate {
    policy: TrustPolicy,
    predicate: Option<MessagePredicate>,
}

/// One frame on its way in.
pub(crate) struct Arriving {
    pub(crate) peer: PeerId,
    pub(crate) data: Vec<u8>,
}

/// A frame taken apart: its messages and which of them are still in.
struct Parsed {
    array: bool,
    items: Vec<Value>,
    keep: Vec<bool>,
}

impl Gate {
    pub(crate) fn new(policy: TrustPolicy, predicate: Option<MessagePredicate>) -> Self {
        Self { policy, predicate }
    }

    /// Whether a frame can skip the gate: nothing in it is signed, unsigned
    /// messages are welcome and there is no predicate.
    fn passes_untouched(&self, data: &[u8]) -> bool {
        self.policy.accept_unsigned
            && self.predicate.is_none()
            && !data.windows(6).any(|w| w == b"\"sigs\"")
    }

    /// Checks every frame; rewrites each to the messages admitted, and
    /// empties those with none left.
    pub(crate) fn admit(&self, frames: &mut [Arriving]) {
        let mut parsed: Vec<Option<Parsed>> = frames
            .iter()
            .map(|f| {
                if self.passes_untouched(&f.data) {
                    return None;
                }
                // Not JSON: left for the engine to refuse with a proper reply.
                let v: Value = serde_json::from_slice(&f.data).ok()?;
                let (array, items) = match v {
                    Value::Array(items) => (true, items),
                    one => (false, vec![one]),
                };
                let keep = vec![true; items.len()];
                Some(Parsed { array, items, keep })
            })
            .collect();
        // Decode the signatures, check ids and trust; collect what to verify.
        let mut pending: Vec<(usize, usize, Signed)> = Vec::new();
        for (fi, p) in parsed.iter_mut().enumerate() {
            let Some(p) = p else { continue };
            for (mi, item) in p.items.iter().enumerate() {
                let Some(map) = item.as_object() else {
                    continue;
                };
                let verdict = match auth::signed(map) {
                    Ok(Some(s)) => auth::check_trust(&s, &self.policy).map(|()| Some(s)),
                    Ok(None) if self.policy.accept_unsigned => Ok(None),
                    Ok(None) => Err(AuthError::Unsigned),
                    Err(e) => Err(e),
                };
                match verdict {
                    Ok(Some(s)) => pending.push((fi, mi, s)),
                    Ok(None) => {}
                    Err(e) => {
                        refuse(frames[fi].peer, item, &e);
                        p.keep[mi] = false;
                    }
                }
            }
        }
        for (fi, mi, e) in verify_all(&pending) {
            if let Some(p) = &mut parsed[fi] {
                refuse(frames[fi].peer, &p.items[mi], &e);
                p.keep[mi] = false;
            }
        }
        // The predicate sees only verified messages.
        if let Some(pred) = &self.predicate {
            for p in parsed.iter_mut().flatten() {
                for (item, keep) in p.items.iter().zip(p.keep.iter_mut()) {
                    if *keep && !pred(item) {
                        debug!("message refused by the predicate");
                        *keep = false;
                    }
                }
            }
        }
        for (f, p) in frames.iter_mut().zip(parsed) {
            let Some(p) = p else { continue };
            if p.keep.iter().all(|k| *k) {
                continue;
            }
            let kept: Vec<Value> = p
                .items
                .into_iter()
                .zip(p.keep)
                .filter_map(|(item, k)| k.then_some(item))
                .collect();
            f.data = match (kept.len(), p.array) {
                (0, _) => Vec::new(),
                (_, true) => Value::Array(kept).to_string().into_bytes(),
                (_, false) => kept
                    .into_iter()
                    .next()
                    .map(|v| v.to_string().into_bytes())
                    .unwrap_or_default(),
            };
        }
    }
}

/// Verifies every pending message: one batch when there are several (with
/// weights from the OS's CSPRNG), each on its own (one aggregate check of
/// its signatures) when alone or when the batch fails. Returns the failures.
fn verify_all(pending: &[(usize, usize, Signed)]) -> Vec<(usize, usize, AuthError)> {
    if pending.len() > 1 {
        let sigs: usize = pending.iter().map(|(_, _, s)| s.entries.len()).sum();
        let mut random = vec![0u8; 8 * sigs];
        match getrandom::fill(&mut random) {
            Ok(()) => {
                let all: Vec<&Signed> = pending.iter().map(|(_, _, s)| s).collect();
                if auth::verify_batch(&all, &random) {
                    return Vec::new();
                }
            }
            Err(e) => warn!(error = %e, "no OS randomness: verifying one by one"),
        }
    }
    pending
        .iter()
        .filter_map(|(fi, mi, s)| auth::verify(s).err().map(|e| (*fi, *mi, e)))
        .collect()
}

fn refuse(peer: PeerId, msg: &Value, why: &AuthError) {
    let id = msg.get("#").and_then(Value::as_str).unwrap_or("");
    warn!(?peer, id, reason = %why, "message refused");
}
