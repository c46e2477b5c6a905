//! Signature checks the engine asks for ([`gun_proto::Output::Verify`]),
//! done by the driver thread: all of a drain's in one batch, with weights
//! from the OS's CSPRNG, and one by one only when the batch fails (to find
//! the bad ones).

use gun_proto::VerifyId;
use gun_proto::auth::{self, AuthError, Signed};
use tracing::warn;

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
