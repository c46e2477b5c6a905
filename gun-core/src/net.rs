//! Transport limits every driver applies, so all relays behave alike.

use std::time::Duration;

/// WebSocket read buffer per connection: small, so idle peers stay cheap
/// (tungstenite's default is 128 KiB).
pub const READ_BUFFER: usize = 8 * 1024;
/// Largest WebSocket message or frame accepted (the engine refuses frames
/// over 8 MiB with a `dam:"!"` reply; past this the connection is closed).
pub const MAX_MESSAGE: usize = 9 << 20;
/// How long a peer may take to finish the WebSocket handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The first pause before reconnecting; it doubles up to
/// [`crate::GunOptions::max_backoff`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(50);
