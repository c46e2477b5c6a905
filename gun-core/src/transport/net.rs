//! Transport limits every driver applies, so all relays behave alike.

use std::time::Duration;

/// WebSocket read buffer per connection: small, so idle peers stay cheap
/// (tungstenite's default is 128 KiB).
pub const READ_BUFFER: usize = 2 * 1024;
/// Largest WebSocket message or frame accepted (the engine refuses frames
/// over 8 MiB with a `dam:"!"` reply; past this the connection is closed).
pub const MAX_MESSAGE: usize = 9 << 20;
/// How long a peer may take to finish the WebSocket handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The first pause before reconnecting; it doubles up to
/// [`crate::GunOptions::max_backoff`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// A dialer's run of failed attempts: the first of a run is a warning
/// (a relay down, a certificate not trusted), the retries are debug lines.
#[derive(Debug, Default)]
pub struct Failing {
    attempts: u64,
}

impl Failing {
    /// Logs one failed attempt to reach `url`.
    pub fn report(&mut self, url: &str, why: impl std::fmt::Display) {
        if self.attempts == 0 {
            tracing::warn!(url, error = %why, "cannot reach peer; retrying with backoff");
        } else {
            tracing::debug!(url, error = %why, attempt = self.attempts + 1, "cannot reach peer");
        }
        self.attempts += 1;
    }
}
