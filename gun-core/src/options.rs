//! `GunOptions`: how an instance stores, whom it dials, and whether it serves.
//! The fields and constructors the original port documented come first;
//! this port's own settings follow.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::transport::multicast::MulticastOptions;
use crate::webrtc::WebRTCOptions;

/// Decides whether an incoming message (as JSON) is processed. It runs after
/// signature checks and before the engine sees the message; `false` drops it.
pub type MessagePredicate = Arc<dyn Fn(&serde_json::Value) -> bool + Send + Sync>;

/// The port a relay serves on when the options name none (Gun.js's).
pub const DEFAULT_PORT: u16 = 8765;

/// Settings of a Gun instance.
///
/// ```
/// use gun_core::GunOptions;
/// let client = GunOptions::with_relay("ws://127.0.0.1:8765/gun");
/// let relay = GunOptions::relay_server(8765);
/// assert!(relay.super_peer && client.peers.len() == 1);
/// let on_disk = GunOptions {
///     localStorage: true,
///     storage_path: Some("./gun_data".to_string()),
///     ..Default::default()
/// };
/// assert!(on_disk.disk_store().is_some());
/// ```
#[derive(Clone)]
#[allow(non_snake_case)] // `localStorage` is the documented (Gun.js) name.
pub struct GunOptions {
    /// Relays to dial: `ws://host:port/gun`, `wss://…` (TLS), and `http://` /
    /// `https://` read as `ws://` / `wss://`, as Gun.js reads them.
    pub peers: Vec<String>,
    /// Keep the graph on disk in the file store (one JSON file per node)
    /// under `storage_path`, default `./gun_data`. Without a disk store the
    /// graph is kept in memory, and puts are settled there.
    pub localStorage: bool,
    /// Where the disk store lives.
    pub storage_path: Option<String>,
    /// Keep the graph in the embedded store ([`StoreKind::DEFAULT`]: redb)
    /// under `storage_path`, default `./radata` (Gun.js's radisk folder
    /// name). Wins over `localStorage`.
    pub radisk: bool,
    /// Gun.js's LAN transport, UDP multicast (off by default; see
    /// [`MulticastOptions`]).
    pub multicast: MulticastOptions,
    /// Which disk store to keep the graph in, under `storage_path`: when
    /// set, wins over `radisk` and `localStorage`.
    pub store: Option<StoreKind>,
    /// Serve: accept WebSocket peers on `host:port`, answer their gets, ack
    /// their puts once stored.
    pub super_peer: bool,
    /// The port to serve on (`None`: 8765, as Gun.js; `Some(0)`: any free port).
    pub port: Option<u16>,
    /// WebRTC peers (off by default; see [`WebRTCOptions`]).
    pub webrtc: WebRTCOptions,
    /// A filter over incoming messages, run before they are processed.
    pub message_predicate: Option<MessagePredicate>,
    /// The address to serve on (default `127.0.0.1`; `0.0.0.0` serves the
    /// network).
    pub host: String,
    /// TLS: the relay's certificate and key, and extra roots to trust when
    /// dialing `wss://` peers.
    pub tls: TlsOptions,
    /// Which incoming messages are accepted: signed ones must verify (their
    /// `#` the SHA-256 of their body, every signature valid) and come from
    /// trusted keys; unsigned ones (Gun.js peers) only if it says so. The
    /// default accepts unsigned messages and any valid signer. The message
    /// predicate runs after this check.
    pub trust: gun_proto::auth::TrustPolicy,
    /// How long `put_acked` waits for a peer's ack (Gun.js: 9 s).
    pub put_timeout: Duration,
    /// How long `once` waits for peers before answering with what it has.
    pub once_wait: Duration,
    /// Longest pause between reconnect attempts to a relay.
    pub max_backoff: Duration,
    /// What any one peer may make this instance spend (connections, bytes,
    /// messages, subscriptions, signatures, memory): the limits a relay for
    /// strangers needs. [`Quotas::default`] is sane for a public relay.
    pub quotas: Quotas,
}

/// What peers may make an instance spend. Each limit is accounted to the
/// peer that spends it: one peer at its limit costs the others nothing.
/// A peer past a limit is throttled (its socket not read), refused with an
/// error, or dropped (closed with a reason), as each field says.
#[derive(Debug, Clone, PartialEq)]
pub struct Quotas {
    /// Most connections a relay serves at once; more are closed at once.
    pub max_connections: usize,
    /// Most of them from one IP address.
    pub max_connections_per_ip: usize,
    /// How long a connection may take to finish its HTTP and WebSocket
    /// handshake (or TLS, then both).
    pub handshake_timeout: Duration,
    /// How long a connection may send nothing at all (not even the pong to
    /// the pings sent every quarter of this) before it is closed.
    pub idle_timeout: Duration,
    /// Largest WebSocket frame or message, in bytes: a larger one is
    /// refused by its header, before its payload is read (the connection
    /// is closed), and the engine refuses frames past it too.
    pub max_frame_bytes: usize,
    /// Most messages in one batch frame.
    pub max_batch: usize,
    /// Longest soul, key and message id, in bytes (pids: 99 characters).
    pub max_soul_bytes: usize,
    /// Longest property key, in bytes.
    pub max_key_bytes: usize,
    /// Longest message id (`#`, `@`), in bytes.
    pub max_id_bytes: usize,
    /// Messages a second a peer may send (a second's worth banked); past
    /// it the peer is throttled. 0: no limit.
    pub max_msgs_per_sec: f64,
    /// Bytes a second a peer may send (a second's worth banked, a frame
    /// over it taken and paid for later); past it the peer is throttled.
    /// 0: no limit.
    pub max_bytes_per_sec: f64,
    /// Most souls one peer may subscribe to (by getting them).
    pub max_subscriptions: usize,
    /// Most signatures (`sigs` entries) one message may carry.
    pub max_sigs: usize,
    /// The share of the signature-checking thread's time one peer may use
    /// (0.25: a quarter of a second each second); past it its signed
    /// messages wait while other peers' are checked.
    pub verify_share: f64,
    /// The lex scan budget: most properties one reply to a lex get carries,
    /// and the page one soul scan reads from the store (at most a quarter
    /// of `max_frame_bytes` of keys and values, either way).
    pub scan_page: usize,
    /// Bytes of a peer's frames that may wait for the driver; past it the
    /// peer's socket is not read until they are through (TCP pushes back).
    pub max_inbound_per_peer: usize,
    /// Bytes that may wait to be sent to one peer; a peer that lets more
    /// pile up (it stopped reading) is dropped, closed with a reason.
    pub max_outbound_per_peer: usize,
    /// The ceiling for what all peers' queues hold together, in bytes: an
    /// eighth for frames waiting for the driver (past it sockets are not
    /// read), half for frames waiting to be sent (past it the peer with the
    /// most waiting is dropped).
    pub max_queued_bytes: usize,
    /// With a store: most souls kept in memory (0: all that were read).
    pub max_cached_souls: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_ip: 256,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            max_frame_bytes: 8 << 20,
            max_batch: 1000,
            max_soul_bytes: 2048,
            max_key_bytes: 2048,
            max_id_bytes: 256,
            max_msgs_per_sec: 10_000.0,
            max_bytes_per_sec: f64::from(8u32 << 20),
            max_subscriptions: 10_000,
            max_sigs: 8,
            verify_share: 0.25,
            scan_page: 1000,
            max_inbound_per_peer: 1 << 20,
            max_outbound_per_peer: 8 << 20,
            max_queued_bytes: 256 << 20,
            max_cached_souls: 100_000,
        }
    }
}

impl Quotas {
    /// The engine's settings these quotas set.
    pub(crate) fn apply(&self, cfg: &mut gun_proto::Config) {
        cfg.limits.max_frame_bytes = self.max_frame_bytes;
        cfg.limits.max_batch = self.max_batch;
        cfg.limits.max_soul_bytes = self.max_soul_bytes;
        cfg.limits.max_key_bytes = self.max_key_bytes;
        cfg.limits.max_id_bytes = self.max_id_bytes;
        cfg.max_msgs_per_sec = self.max_msgs_per_sec;
        cfg.max_subs_per_peer = self.max_subscriptions;
        cfg.max_sigs = self.max_sigs;
        cfg.max_reply_props = self.scan_page;
        // A reply must fit well within what peers take as a frame.
        cfg.max_reply_bytes = (self.max_frame_bytes / 4).max(64 << 10);
    }
}

/// TLS settings. Certificates and keys are PEM files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// The relay's certificate chain: when this and `key` are set, a relay
    /// (`super_peer`) serves `wss://` instead of `ws://`.
    pub cert: Option<String>,
    /// The relay's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<String>,
    /// Certificates to trust when dialing `wss://` peers, beside the
    /// platform's roots and Mozilla's (bundled): a private CA, or a relay's
    /// self-signed certificate.
    pub ca: Vec<String>,
}

impl std::fmt::Debug for GunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GunOptions")
            .field("peers", &self.peers)
            .field("localStorage", &self.localStorage)
            .field("storage_path", &self.storage_path)
            .field("radisk", &self.radisk)
            .field("store", &self.store)
            .field("multicast", &self.multicast)
            .field("super_peer", &self.super_peer)
            .field("port", &self.port)
            .field("webrtc", &self.webrtc)
            .field("message_predicate", &self.message_predicate.is_some())
            .field("host", &self.host)
            .field("tls", &self.tls)
            .field("trust", &self.trust)
            .field("put_timeout", &self.put_timeout)
            .field("once_wait", &self.once_wait)
            .field("max_backoff", &self.max_backoff)
            .field("quotas", &self.quotas)
            .finish()
    }
}

impl Default for GunOptions {
    /// In memory only, no peers, not serving.
    fn default() -> Self {
        Self {
            peers: Vec::new(),
            localStorage: false,
            storage_path: None,
            radisk: false,
            store: None,
            multicast: MulticastOptions::default(),
            super_peer: false,
            port: None,
            webrtc: WebRTCOptions::default(),
            message_predicate: None,
            host: "127.0.0.1".into(),
            tls: TlsOptions::default(),
            trust: gun_proto::auth::TrustPolicy::default(),
            put_timeout: Duration::from_secs(9),
            once_wait: Duration::from_secs(2),
            max_backoff: Duration::from_secs(2),
            quotas: Quotas::default(),
        }
    }
}

impl GunOptions {
    /// A client of one relay.
    pub fn with_relay(relay_url: impl Into<String>) -> Self {
        Self {
            peers: vec![relay_url.into()],
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

    /// A relay serving on `port` (0: any free port), keeping its data in
    /// memory (set `radisk` or `localStorage` for disk).
    pub fn relay_server(port: u16) -> Self {
        Self {
            super_peer: true,
            port: Some(port),
            ..Self::default()
        }
    }

    /// The port a relay serves on: `port`, else 8765.
    pub fn serve_port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_PORT)
    }

    /// Which disk store these options ask for, and where.
    pub fn disk_store(&self) -> Option<(StoreKind, PathBuf)> {
        let kind = if let Some(kind) = self.store {
            kind
        } else if self.radisk {
            StoreKind::DEFAULT
        } else if self.localStorage {
            StoreKind::File
        } else {
            return None;
        };
        let default = match kind {
            StoreKind::Sled | StoreKind::Redb | StoreKind::Fjall => "./radata",
            StoreKind::File => "./gun_data",
        };
        Some((
            kind,
            PathBuf::from(self.storage_path.as_deref().unwrap_or(default)),
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
    /// An embedded redb database, in the compact key-value layout.
    Redb,
    /// An embedded fjall database (an LSM tree), in the compact key-value layout.
    Fjall,
}

impl StoreKind {
    /// The embedded store `radisk` and the relay use: redb, which opens
    /// without replaying a log and answered the storage benchmarks fastest
    /// (BENCHMARKS.md, "Storage"); sled in builds without redb.
    #[cfg(feature = "redb")]
    pub const DEFAULT: Self = Self::Redb;
    /// The embedded store `radisk` and the relay use.
    #[cfg(not(feature = "redb"))]
    pub const DEFAULT: Self = Self::Sled;
}
