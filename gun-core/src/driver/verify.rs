//! Signature checks the engine asks for ([`gun_proto::Output::Verify`]),
//! done on a thread of their own, so that the driver goes on with messages
//! that need none: all that wait in one batch, with weights from the OS's
//! CSPRNG, and one by one only when the batch fails (to find the bad ones).
//! The engine asks for a few checks per peer at a time, so one peer's
//! signatures cannot fill every batch.

use crossbeam_channel::Sender;
use gun_proto::VerifyId;
use gun_proto::auth::{self, AuthError, Signed};
use tracing::warn;

use super::command::Inbox;

/// Checks to make.
pub(crate) type Checks = Vec<(VerifyId, Signed)>;

/// The verification thread's inbox.
pub(crate) struct Verifier {
    tx: Sender<Checks>,
}

impl Verifier {
    /// Starts the thread; its answers go to the driver's `inbox`.
    pub(crate) fn start(inbox: Sender<Inbox>) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::unbounded::<Checks>();
        std::thread::Builder::new()
            .name("gun-verify".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut all = first;
                    all.extend(rx.try_iter().flatten());
                    if inbox.send(Inbox::Verified(verify_all(&all))).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Self { tx })
    }

    /// Asks for `checks`; the answers come back as [`Inbox::Verified`].
    pub(crate) fn check(&self, checks: Checks) {
        let _ = self.tx.send(checks);
    }
}

/// Verifies every request; the result for each, in order.
pub(crate) fn verify_all(
    requests: &[(VerifyId, Signed)],
) -> Vec<(VerifyId, Result<(), AuthError>)> {
    if requests.len() > 1 {
        let sigs: usize = requests.iter().map(|(_, s)| s.entries.len()).sum();
        let mut random = vec![0u8; 8 * sigs];
        match getrandom::fill(&mut random) {
            Ok(()) => {
                let all: Vec<&Signed> = requests.iter().map(|(_, s)| s).collect();
                if auth::verify_batch(&all, &random) {
                    return requests.iter().map(|(id, _)| (*id, Ok(()))).collect();
                }
            }
            Err(e) => warn!(error = %e, "no OS randomness: verifying one by one"),
        }
    }
    requests
        .iter()
        .map(|(id, s)| (*id, auth::verify(s)))
        .collect()
}
