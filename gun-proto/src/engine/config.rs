//! The engine's settings: limits, windows and roles, each with its default.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::TrustPolicy;
use crate::wire::Limits;

/// Engine settings. Start from [`Config::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seed of the id generator: equal seeds and inputs give equal outputs.
    pub seed: u64,
    /// Signs every message sent (the signed mesh, [`crate::auth`]): a
    /// message this engine makes gets `#` = SHA-256 of its body and its
    /// signature in `sigs`; a signed message it passes on gets its signature
    /// appended. Messages that arrive unsigned are passed on unsigned.
    /// What arrives signed is checked against `trust`, and its signatures
    /// verified by the driver ([`Output::Verify`]).
    pub signer: Option<Arc<crate::auth::Signer>>,
    /// Which incoming messages are accepted: signed ones must verify and
    /// come from trusted keys; unsigned ones (Gun.js peers) only if it says
    /// so. The default accepts unsigned messages and any valid signer.
    pub trust: TrustPolicy,
    /// Sees every message that passed `trust` (as JSON) and may drop it.
    pub predicate: Option<super::admission::Predicate>,
    /// Most messages one peer may have waiting for a verification.
    pub max_unverified: usize,
    /// Most verifications one peer may have asked of the driver at once;
    /// its later signed messages wait their turn (so one peer's signatures
    /// cannot take all the checking the driver does).
    pub max_verifying_per_peer: usize,
    /// Most `sigs` entries a message may carry (each is a pairing to check).
    pub max_sigs: usize,
    /// Messages a second each peer we serve may send, a second's worth
    /// banked; past it the peer is throttled ([`crate::Engine::backlogged`]),
    /// nothing refused. 0: no limit.
    pub max_msgs_per_sec: f64,
    /// Whether a store is attached. With one, the engine loads souls from it
    /// before merging and acks puts once written; without, it keeps the graph
    /// in memory only, sends no acks to peers and acks its own puts on the
    /// first peer ack.
    pub store: bool,
    /// Whether this engine dials upstream peers (relays to sync with). Then
    /// what it loads from its store is also sent upstream and kept until
    /// acked, so writes it stored (and acked) before a restart reach them.
    pub has_upstream: bool,
    /// Our peer id; generated from the seed when `None`.
    pub pid: Option<String>,
    /// Frame bounds.
    pub limits: Limits,
    /// How long message ids are remembered (Gun.js: 9 s).
    pub dedup_age: Duration,
    /// How many message ids are remembered at most.
    pub dedup_max: usize,
    /// How many of those one peer's messages may be (its own oldest go
    /// first past that, not other peers' ids and routes).
    pub dedup_max_per_peer: usize,
    /// How long an own put waits for an ack (Gun.js: 9 s).
    pub put_timeout: Duration,
    /// How long a forwarded get's replies are routed back.
    pub get_route_age: Duration,
    /// How long a peer's subscriptions outlive its connection: a peer that
    /// greets again with the same `pid` within this time gets them back.
    /// Gun.js clients do not ask again after a reconnect, so without this
    /// their live queries would go quiet after a relay restart.
    pub sub_memory: Duration,
    /// How many disconnected peers' subscriptions are kept at most.
    pub sub_memory_peers: usize,
    /// How long a relay holds a not-found while its upstream peers answer.
    pub upstream_wait: Duration,
    /// Largest batch frame to a peer, in bytes (a lone bigger message still goes).
    pub batch_bytes: usize,
    /// Most future-state properties held at once.
    pub max_deferred: usize,
    /// Most of those one peer's puts may hold.
    pub max_deferred_per_peer: usize,
    /// Most souls one peer may subscribe to.
    pub max_subs_per_peer: usize,
    /// Most subscriptions of all peers together (and most remembered for
    /// peers that left).
    pub max_subs: usize,
    /// Most calls and messages waiting on store reads.
    pub max_parked: usize,
    /// Most of those one peer's messages may be; past half of it the peer
    /// is throttled, past all of it its messages are refused as busy.
    pub max_parked_per_peer: usize,
    /// With a store: most souls kept in memory (0: every soul read stays).
    /// Past it, souls no one used lately leave memory, the store keeping
    /// them, so that reading many souls (or many missing ones) cannot grow
    /// a relay's memory without bound. Souls with writes not yet durable
    /// and those a local listener watches always stay.
    pub max_cached_souls: usize,
    /// Most own puts kept to resend until a peer acks them (offline writes).
    pub max_outbox: usize,
    /// The lex scan budget: most properties a reply to a lex get may carry
    /// (when no `%` limits it less), and the page a soul scan reads from
    /// the store on the driver's thread.
    pub max_reply_props: usize,
    /// Most bytes of keys and values a reply to a lex get (or a scan's
    /// page) carries.
    pub max_reply_bytes: usize,
    /// Fixed drift added to states, in ms (Gun.js's `state.drift`).
    pub clock_drift: f64,
}

impl Config {
    /// Defaults, with the given seed.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            signer: None,
            trust: TrustPolicy::default(),
            predicate: None,
            max_unverified: 4096,
            max_verifying_per_peer: 16,
            max_sigs: 8,
            max_msgs_per_sec: 10_000.0,
            store: true,
            has_upstream: false,
            pid: None,
            limits: Limits::default(),
            dedup_age: Duration::from_secs(9),
            dedup_max: 100_000,
            dedup_max_per_peer: 20_000,
            put_timeout: Duration::from_secs(9),
            get_route_age: Duration::from_secs(9),
            sub_memory: Duration::from_secs(15 * 60),
            sub_memory_peers: 10_000,
            upstream_wait: Duration::from_secs(1),
            batch_bytes: 64 * 1024,
            max_deferred: 100_000,
            max_deferred_per_peer: 1_000,
            max_subs_per_peer: 10_000,
            max_subs: 1_000_000,
            max_parked: 100_000,
            max_parked_per_peer: 2_000,
            max_cached_souls: 0,
            max_reply_props: 1_000,
            max_reply_bytes: 2 << 20,
            max_outbox: 100_000,
            clock_drift: 0.0,
        }
    }
}
