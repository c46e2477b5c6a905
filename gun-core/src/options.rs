//! `GunOptions`: how an instance stores, whom it dials, and whether it serves.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Decides whether an incoming message (as JSON) is processed; runs before the engine.
pub type MessagePredicate = Arc<dyn Fn(&serde_json::Value) -> bool + Send + Sync>;

/// Settings of a Gun instance.
///
/// ```
/// use gun_core::GunOptions;
/// let client = GunOptions::with_relay("ws://127.0.0.1:8765/gun");
/// let relay = GunOptions::relay_server(8765);
/// assert!(relay.super_peer && client.peers.len() == 1);
/// ```
#[derive(Clone)]
pub struct GunOptions {
    /// Relays to dial (`ws://host:port/gun`; `http://` is read as `ws://`).
    pub peers: Vec<String>,
    /// Keep the graph in the file store (one file per node) under `storage_path`
    /// (default `./gun_data`).
    pub local_storage: bool,
    /// Where the disk store lives.
    pub storage_path: Option<PathBuf>,
    /// Keep the graph in the sled store under `storage_path` (default `./radata`).
    pub radisk: bool,
    /// Serve: accept WebSocket peers on `host:port`, answer their gets, ack
    /// their puts once stored.
    pub super_peer: bool,
    /// The port to serve on (default 8765, as Gun.js).
    pub port: u16,
    /// The address to serve on (default `127.0.0.1`).
    pub host: String,
    /// Direct peer connections over WebRTC (not available yet: asking fails).
    pub webrtc: bool,
    /// A filter over incoming messages, run before they are processed.
    pub message_predicate: Option<MessagePredicate>,
    /// Which incoming messages are accepted: signed ones must verify (their
    /// `#` the SHA-256 of their body, every signature valid) and come from
    /// trusted keys; unsigned ones (Gun.js peers) only if it says so. The
    /// default accepts unsigned messages and any valid signer. The message
    /// predicate runs after this check.
    pub trust: gun_proto::auth::TrustPolicy,
    /// How long a put waits for an ack (Gun.js: 9 s).
    pub put_timeout: Duration,
    /// How long `once` waits for peers before answering with what it has.
    pub once_wait: Duration,
    /// Longest pause between reconnect attempts to a relay.
    pub max_backoff: Duration,
}

impl std::fmt::Debug for GunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GunOptions")
            .field("peers", &self.peers)
            .field("local_storage", &self.local_storage)
            .field("storage_path", &self.storage_path)
            .field("radisk", &self.radisk)
            .field("super_peer", &self.super_peer)
            .field("port", &self.port)
            .field("host", &self.host)
            .field("webrtc", &self.webrtc)
            .field("message_predicate", &self.message_predicate.is_some())
            .field("trust", &self.trust)
            .field("put_timeout", &self.put_timeout)
            .field("once_wait", &self.once_wait)
            .finish()
    }
}

impl Default for GunOptions {
    /// In memory only, no peers, not serving.
    fn default() -> Self {
        Self {
            peers: Vec::new(),
            local_storage: false,
            storage_path: None,
            radisk: false,
            super_peer: false,
            port: 8765,
            host: "127.0.0.1".into(),
            webrtc: false,
            message_predicate: None,
            trust: gun_proto::auth::TrustPolicy::default(),
            put_timeout: Duration::from_secs(9),
            once_wait: Duration::from_secs(2),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl GunOptions {
    /// A client of one relay.
    pub fn with_relay(url: impl Into<String>) -> Self {
        Self {
            peers: vec![url.into()],
            ..Self::default()
        }
    }

    /// A client of several relays.
    pub fn with_peers<S: Into<String>>(peers: impl IntoIterator<Item = S>) -> Self {
        Self {
            peers: peers.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// A relay serving on `port`, keeping its data in memory (set `radisk` or
    /// `local_storage` for disk).
    pub fn relay_server(port: u16) -> Self {
        Self {
            super_peer: true,
            port,
            ..Self::default()
        }
    }

    /// Which disk store these options ask for, and where.
    pub fn disk_store(&self) -> Option<(StoreKind, PathBuf)> {
        let kind = if self.radisk {
            StoreKind::Sled
        } else if self.local_storage {
            StoreKind::File
        } else {
            return None;
        };
        let default = match kind {
            StoreKind::Sled => "./radata",
            StoreKind::File => "./gun_data",
        };
        Some((
            kind,
            self.storage_path
                .clone()
                .unwrap_or_else(|| PathBuf::from(default)),
        ))
    }
}

/// The disk stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// One JSON file per node in a directory.
    File,
    /// An embedded sled database.
    Sled,
}
