//! Signature checks the engine asks for ([`gun_proto::Output::Verify`]),
//! done on a thread of their own, so that the driver goes on with messages
//! that need none: a batch at a time, with weights from the OS's CSPRNG,
//! and one by one only when the batch fails (to find the bad ones). SEA
//! signatures (ECDSA, which has no batch form) are verified one by one.
//!
//! Peers share the thread: each batch takes the next check of each peer in
//! turn, and a peer that has used its share of the thread's time (a token
//! bucket of `share` seconds a second) waits while others are checked, so
//! one peer's signatures (valid or bogus) cannot take all the CPU.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use gun_proto::auth::{self, AuthError, Signed};
use gun_proto::{Check, PeerId, VerifyId};
use tracing::warn;

use super::command::Inbox;

/// Checks to make, with whose messages they are.
pub(crate) type Checks = Vec<(VerifyId, PeerId, Check)>;

/// Most checks in one batch.
const BATCH: usize = 64;

/// The verification thread's inbox.
pub(crate) struct Verifier {
    tx: Sender<Checks>,
}

impl Verifier {
    /// Starts the thread; its answers go to the driver's `inbox`. Each
    /// peer may use `share` of the thread's time (0.25: a quarter second
    /// a second), banked up to one second's worth.
    pub(crate) fn start(inbox: Sender<Inbox>, share: f64) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::unbounded::<Checks>();
        std::thread::Builder::new()
            .name("gun-verify".into())
            .spawn(move || Fair::new(share).run(&rx, &inbox))?;
        Ok(Self { tx })
    }

    /// Asks for `checks`; the answers come back as [`Inbox::Verified`].
    pub(crate) fn check(&self, checks: Checks) {
        let _ = self.tx.send(checks);
    }
}

/// A peer's time on the thread.
struct Share {
    /// Seconds it may still use (below zero: it waits).
    left: f64,
    at: Instant,
}

/// Checks waiting, per peer, served in turn within each peer's share.
struct Fair {
    queues: HashMap<PeerId, VecDeque<(VerifyId, Check)>>,
    turn: VecDeque<PeerId>,
    shares: HashMap<PeerId, Share>,
    share: f64,
}

impl Fair {
    fn new(share: f64) -> Self {
        Self {
            queues: HashMap::new(),
            turn: VecDeque::new(),
            shares: HashMap::new(),
            share: share.max(0.01),
        }
    }

    fn run(mut self, rx: &Receiver<Checks>, inbox: &Sender<Inbox>) {
        loop {
            let waiting = !self.queues.is_empty();
            let got = if waiting {
                match rx.recv_timeout(Duration::ZERO) {
                    Err(RecvTimeoutError::Timeout) => Ok(Vec::new()),
                    r => r.map_err(|_| ()),
                }
            } else {
                rx.recv().map_err(|_| ())
            };
            let Ok(first) = got else { return };
            for (id, peer, signed) in first.into_iter().chain(rx.try_iter().flatten()) {
                let q = self.queues.entry(peer).or_default();
                if q.is_empty() {
                    self.turn.push_back(peer);
                }
                q.push_back((id, signed));
            }
            let batch = self.take_batch();
            if batch.is_empty() {
                // Every waiting peer has used its share: wait a little.
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            let began = Instant::now();
            let checks: Vec<(VerifyId, &Check)> = batch.iter().map(|(id, _, c)| (*id, c)).collect();
            let results = verify_all(&checks);
            self.charge(&batch, began.elapsed().as_secs_f64());
            if inbox.send(Inbox::Verified(results)).is_err() {
                return;
            }
        }
    }

    /// The next check of each peer in turn that has time left, up to a batch.
    fn take_batch(&mut self) -> Vec<(VerifyId, PeerId, Check)> {
        let now = Instant::now();
        let mut batch = Vec::new();
        let mut looked = 0;
        while batch.len() < BATCH && looked < self.turn.len() {
            let Some(peer) = self.turn.pop_front() else {
                break;
            };
            let share = self.shares.entry(peer).or_insert(Share {
                left: self.share,
                at: now,
            });
            share.left = (share.left + now.duration_since(share.at).as_secs_f64() * self.share)
                .min(self.share);
            share.at = now;
            let Some(q) = self.queues.get_mut(&peer) else {
                continue;
            };
            if share.left <= 0.0 {
                looked += 1;
                self.turn.push_back(peer);
                continue;
            }
            looked = 0;
            if let Some((id, s)) = q.pop_front() {
                batch.push((id, peer, s));
            }
            if q.is_empty() {
                self.queues.remove(&peer);
            } else {
                self.turn.push_back(peer);
            }
        }
        // Peers with nothing waiting and a full share are forgotten.
        let full = self.share;
        let queues = &self.queues;
        self.shares
            .retain(|p, s| queues.contains_key(p) || s.left < full);
        batch
    }

    /// A batch took `secs`: each peer pays for its signatures in it.
    fn charge(&mut self, batch: &[(VerifyId, PeerId, Check)], secs: f64) {
        let sigs: usize = batch.iter().map(|(_, _, c)| c.weight().max(1)).sum();
        for (_, peer, c) in batch {
            if let Some(share) = self.shares.get_mut(peer) {
                share.left -= secs * c.weight().max(1) as f64 / sigs.max(1) as f64;
            }
        }
    }
}

/// Verifies every request; the result for each, in order. The signed
/// mesh's signatures of all of them are checked in one batch (one by one
/// when it fails); each request's SEA signatures after its mesh ones pass.
pub(crate) fn verify_all(
    requests: &[(VerifyId, &Check)],
) -> Vec<(VerifyId, Result<(), AuthError>)> {
    let signed: Vec<&Signed> = requests
        .iter()
        .filter_map(|(_, c)| c.mesh.as_ref())
        .collect();
    let mut batch_ok = signed.is_empty();
    if signed.len() > 1 {
        let sigs: usize = signed.iter().map(|s| s.entries.len()).sum();
        let mut random = vec![0u8; 8 * sigs];
        match getrandom::fill(&mut random) {
            Ok(()) => batch_ok = auth::verify_batch(&signed, &random),
            Err(e) => warn!(error = %e, "no OS randomness: verifying one by one"),
        }
    }
    requests
        .iter()
        .map(|(id, c)| {
            let mesh = match &c.mesh {
                Some(s) if !batch_ok => auth::verify(s),
                _ => Ok(()),
            };
            (*id, mesh.and_then(|()| c.verify_sea()))
        })
        .collect()
}
