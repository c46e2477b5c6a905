//! A deterministic simulator: relays and clients (gun-proto engines) on a
//! virtual clock over a faulty network, driven by one seed.
//!
//! Network model: links carry WebSocket connections. Frames take 1–30 ms and
//! may be reordered and duplicated. A lost frame breaks its connection, as a
//! failing socket does: the two ends see it close, and the client redials
//! after a pause. Partitions take a link down for a while. Relays crash
//! (losing memory, keeping their store) and restart. Each peer's wall clock
//! is skewed, so some writes arrive "from the future".
//!
//! Topology: relay 0 is the root; other relays dial it; each client dials one
//! relay. Clients have no store (their puts are acked by the relay, durably).
//!
//! Invariants, checked after the faults end and the system is quiet:
//! - every write a client saw acked is on the root relay (or superseded there);
//! - every client's subscribed properties equal the root relay's;
//! - each listener's last event matches the final value;
//! - future-state writes were applied (nothing is left deferred);
//! - no panic (a panic fails the seed).

use std::collections::BTreeMap;
use std::time::Duration;

use gun_proto::harness::Node;
use gun_proto::harness::Rng;
use gun_proto::{Call, Config, Engine, Event, Input, Now, Path, PeerId, ReqId, Role, SubId};

/// The wall clock at virtual time zero.
const T0: f64 = 1_700_000_000_000.0;
const SOULS: [&str; 4] = ["a", "b", "c", "d"];
const KEYS: [&str; 3] = ["x", "y", "z"];

/// What one run did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub peers: usize,
    pub frames: u64,
    pub puts_acked: usize,
    pub faults: usize,
    pub simulated: Duration,
    /// Signed messages checked (signed runs).
    pub verified: u64,
}

struct Peer {
    /// The engine and its store (relays use it; clients have none: their
    /// engines never read or write).
    node: Node,
    relay: bool,
    /// The relay this peer dials (none for the root).
    upstream: Option<usize>,
    skew_ms: f64,
    up: bool,
    /// How many of the node's events were looked at.
    seen_events: usize,
}

struct Link {
    client: usize,
    relay: usize,
    connected: bool,
    epoch: u64,
    /// No connection before this time (partition or redial pause).
    down_until: Duration,
}

/// One seeded run.
pub struct Sim {
    rng: Rng,
    mono: Duration,
    peers: Vec<Peer>,
    links: Vec<Link>,
    inflight: BTreeMap<(Duration, u64), (usize, usize, u64, gun_proto::wire::Frame)>,
    seq: u64,
    stats: Stats,
    /// Client puts: req → (client, soul, key, state); acked ones move to `acked`.
    puts: BTreeMap<(usize, u64), (String, String, f64)>,
    acked: Vec<(usize, String, String, f64)>,
    /// Listeners: (client, sub) → (soul, key).
    listeners: BTreeMap<(usize, u64), (String, String)>,
    next_id: u64,
    trace: u64,
    /// Every peer signs what it sends (the signed mesh's engine side).
    signed: bool,
}

/// The signing key of peer `i` in a signed run.
fn signer(i: usize) -> Option<std::sync::Arc<gun_proto::auth::Signer>> {
    let seed = [u8::try_from(i % 250).unwrap_or(0) + 1; 32];
    gun_proto::auth::Signer::from_seed(&seed)
        .ok()
        .map(std::sync::Arc::new)
}

fn now_of(mono: Duration, skew_ms: f64) -> Now {
    Now::new(mono, T0 + mono.as_secs_f64() * 1000.0 + skew_ms)
}

impl Sim {
    /// Builds the peers and links for `seed`.
    pub fn new(seed: u64) -> Self {
        Self::build(seed, false)
    }

    /// Like [`Sim::new`], with every peer signing what it sends.
    pub fn signed(seed: u64) -> Self {
        Self::build(seed, true)
    }

    fn build(seed: u64, signed: bool) -> Self {
        let mut rng = Rng::new(seed);
        let relays = 1 + (rng.next_u64() % 3) as usize;
        let clients = 2 + (rng.next_u64() % 10) as usize;
        let mut peers = Vec::new();
        for i in 0..relays + clients {
            let relay = i < relays;
            let mut cfg = Config::new(seed.wrapping_mul(1000) + i as u64);
            cfg.store = relay;
            cfg.has_upstream = i > 0;
            if signed {
                cfg.signer = signer(i);
            }
            // Clock skew up to ±1.5 s: some writes look like the future elsewhere.
            let skew_ms = (rng.next_u64() % 3000) as f64 - 1500.0;
            let upstream = if i == 0 {
                None
            } else if relay {
                Some(0)
            } else {
                Some((rng.next_u64() % relays as u64) as usize)
            };
            let mut node = Node::new(cfg, now_of(Duration::ZERO, skew_ms));
            node.keep_sent = false;
            // Honest peers: every message on the wire has its id and signers
            // checked (check_signed); one in 25 is verified in full.
            node.verify_every = 25;
            peers.push(Peer {
                node,
                relay,
                upstream,
                skew_ms,
                up: true,
                seen_events: 0,
            });
        }
        let links = (1..peers.len())
            .map(|c| Link {
                client: c,
                relay: peers[c].upstream.unwrap_or(0),
                connected: false,
                epoch: 0,
                down_until: Duration::ZERO,
            })
            .collect();
        let stats = Stats {
            peers: peers.len(),
            ..Stats::default()
        };
        Self {
            rng,
            mono: Duration::ZERO,
            peers,
            links,
            inflight: BTreeMap::new(),
            seq: 0,
            stats,
            puts: BTreeMap::new(),
            acked: Vec::new(),
            listeners: BTreeMap::new(),
            next_id: 1,
            trace: 0xcbf2_9ce4_8422_2325,
            signed,
        }
    }

    fn chance(&mut self, per_mille: u64) -> bool {
        self.rng.next_u64() % 1000 < per_mille
    }

    fn now(&self, i: usize) -> Now {
        now_of(self.mono, self.peers[i].skew_ms)
    }

    /// Feeds an input to a live peer and carries out its outputs.
    fn input(&mut self, i: usize, input: Input<'_>) {
        if !self.peers[i].up {
            return;
        }
        let now = self.now(i);
        // A peer's frame may be refused as a reply, never as an error: only
        // misuse of the API is an `Err`, and the simulator makes none.
        self.peers[i]
            .node
            .input(now, input)
            .expect("the simulator misused the engine");
        self.drain(i);
    }

    fn drain(&mut self, i: usize) {
        let now = self.now(i);
        for (peer, frame) in self.peers[i].node.drain(now) {
            self.transmit(i, peer.0 as usize, frame);
        }
        self.note_events(i);
    }

    /// Records the writes acked since the last look.
    fn note_events(&mut self, i: usize) {
        let end = self.peers[i].node.events.len();
        let start = std::mem::replace(&mut self.peers[i].seen_events, end);
        for k in start..end {
            if let Event::PutAck {
                req,
                result: Ok(()),
            } = &self.peers[i].node.events[k]
                && let Some((soul, key, state)) = self.puts.remove(&(i, req.0))
            {
                self.acked.push((i, soul, key, state));
                self.stats.puts_acked += 1;
            }
        }
    }

    fn link_of(&self, a: usize, b: usize) -> Option<usize> {
        self.links
            .iter()
            .position(|l| (l.client == a && l.relay == b) || (l.client == b && l.relay == a))
    }

    fn transmit(&mut self, from: usize, to: usize, frame: gun_proto::wire::Frame) {
        let Some(l) = self.link_of(from, to) else {
            return;
        };
        if !self.links[l].connected {
            return;
        }
        self.stats.frames += 1;
        for b in frame.bytes() {
            self.trace = (self.trace ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let epoch = self.links[l].epoch;
        if self.chance(5) {
            // Lost: the connection breaks.
            self.stats.faults += 1;
            let pause = Duration::from_millis(50 + self.rng.next_u64() % 500);
            self.reset(l, pause);
            return;
        }
        let copies = if self.chance(10) { 2 } else { 1 };
        for _ in 0..copies {
            let delay = Duration::from_millis(1 + self.rng.next_u64() % 30);
            self.seq += 1;
            self.inflight.insert(
                (self.mono + delay, self.seq),
                (to, from, epoch, frame.clone()),
            );
        }
    }

    /// Closes link `l` (both ends see it) and keeps it down for `pause`.
    fn reset(&mut self, l: usize, pause: Duration) {
        let (c, r) = (self.links[l].client, self.links[l].relay);
        self.links[l].down_until = self.links[l].down_until.max(self.mono + pause);
        if !self.links[l].connected {
            return;
        }
        self.links[l].connected = false;
        self.links[l].epoch += 1;
        self.input(
            c,
            Input::Disconnected {
                peer: PeerId(r as u64),
            },
        );
        self.input(
            r,
            Input::Disconnected {
                peer: PeerId(c as u64),
            },
        );
    }

    /// Dials every link that may be up.
    fn redial(&mut self) {
        for l in 0..self.links.len() {
            let (c, r) = (self.links[l].client, self.links[l].relay);
            let link = &self.links[l];
            if link.connected
                || link.down_until > self.mono
                || !self.peers[c].up
                || !self.peers[r].up
            {
                continue;
            }
            self.links[l].connected = true;
            self.links[l].epoch += 1;
            // Both ends learn of the connection before either sends on it.
            for (me, other, role) in [(r, c, Role::Accepted), (c, r, Role::Dialed)] {
                let now = self.now(me);
                self.peers[me]
                    .node
                    .engine
                    .handle_input(
                        now,
                        Input::Connected {
                            peer: PeerId(other as u64),
                            role,
                        },
                    )
                    .expect("connect");
            }
            self.drain(r);
            self.drain(c);
        }
    }

    /// Crashes relay `i` (memory lost, store kept) for `pause`, then it restarts.
    fn crash(&mut self, i: usize) {
        self.stats.faults += 1;
        let pause = Duration::from_millis(100 + self.rng.next_u64() % 1000);
        for l in 0..self.links.len() {
            if self.links[l].client == i || self.links[l].relay == i {
                self.reset(l, pause);
            }
        }
        let p = &mut self.peers[i];
        let mut cfg = Config::new(self.rng.next_u64());
        cfg.store = true;
        cfg.has_upstream = i > 0;
        if self.signed {
            cfg.signer = signer(i);
        }
        p.node.engine = Engine::new(cfg, now_of(self.mono, p.skew_ms));
    }

    /// In a signed run every message on the wire is signed, under an id
    /// that is its body's hash, by keys of the run's peers; every 25th
    /// message's signatures are verified in full (a pairing each).
    fn check_signed(&mut self, frame: &str) -> Result<(), String> {
        let v: serde_json::Value =
            serde_json::from_str(frame).map_err(|e| format!("unreadable frame: {e}"))?;
        let items = match v {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        };
        for m in items {
            let map = m.as_object().ok_or("a message that is not an object")?;
            let signed = gun_proto::auth::signed(map)
                .map_err(|e| format!("{e}: {m}"))?
                .ok_or_else(|| format!("unsigned message in a signed run: {m}"))?;
            self.stats.verified += 1;
            if self.stats.verified.is_multiple_of(25) {
                gun_proto::auth::verify(&signed).map_err(|e| format!("{e}: {m}"))?;
            }
        }
        Ok(())
    }

    fn call(&mut self, c: usize, call: Call) {
        self.input(c, Input::Call(call));
    }

    /// One random step of the workload.
    fn step_workload(&mut self) {
        let clients: Vec<usize> = (0..self.peers.len())
            .filter(|i| !self.peers[*i].relay)
            .collect();
        let c = clients[(self.rng.next_u64() % clients.len() as u64) as usize];
        let soul = SOULS[(self.rng.next_u64() % SOULS.len() as u64) as usize];
        let key = KEYS[(self.rng.next_u64() % KEYS.len() as u64) as usize];
        self.next_id += 1;
        let id = self.next_id;
        match self.rng.next_u64() % 10 {
            0..=5 => {
                let value = match self.rng.next_u64() % 4 {
                    0 => serde_json::Value::Null,
                    1 => serde_json::json!(self.rng.next_u64() % 100),
                    2 => serde_json::json!(self.rng.text(3)),
                    _ => serde_json::json!(self.rng.next_u64().is_multiple_of(2)),
                };
                self.call(
                    c,
                    Call::Put {
                        req: ReqId(id),
                        path: Path::soul(soul).get(key),
                        data: value,
                    },
                );
                // A client without a store merges its own write at once: read its state.
                if let Some(p) = self.peers[c].node.engine.graph().prop(soul, key) {
                    self.puts
                        .insert((c, id), (soul.to_owned(), key.to_owned(), p.state));
                }
            }
            6..=7 => {
                let exists = self
                    .listeners
                    .iter()
                    .any(|((cc, _), (s, k))| *cc == c && s == soul && k == key);
                if !exists {
                    self.listeners
                        .insert((c, id), (soul.to_owned(), key.to_owned()));
                    self.call(
                        c,
                        Call::On {
                            sub: SubId(id),
                            path: Path::soul(soul).get(key),
                        },
                    );
                }
            }
            _ => self.call(
                c,
                Call::Once {
                    req: ReqId(id),
                    path: Path::soul(soul).get(key),
                    wait: Duration::from_millis(500),
                },
            ),
        }
    }

    fn step_faults(&mut self) {
        if self.chance(20) {
            self.stats.faults += 1;
            let l = (self.rng.next_u64() % self.links.len() as u64) as usize;
            let pause = Duration::from_millis(100 + self.rng.next_u64() % 2000);
            self.reset(l, pause);
        }
        if self.chance(5) {
            let relays: Vec<usize> = (0..self.peers.len())
                .filter(|i| self.peers[*i].relay)
                .collect();
            let r = relays[(self.rng.next_u64() % relays.len() as u64) as usize];
            self.crash(r);
        }
    }

    fn next_deadline(&self) -> Option<Duration> {
        let frame = self.inflight.keys().next().map(|k| k.0);
        let timer = self
            .peers
            .iter()
            .filter(|p| p.up)
            .filter_map(|p| p.node.engine.poll_timeout())
            .min();
        let link = self
            .links
            .iter()
            .filter(|l| !l.connected && l.down_until > self.mono)
            .map(|l| l.down_until)
            .min();
        [frame, timer, link].into_iter().flatten().min()
    }

    /// Runs frames, timers and redials up to `until`.
    fn run_until(&mut self, until: Duration) {
        let mut steps = 0u64;
        loop {
            self.redial();
            let Some(t) = self.next_deadline() else { break };
            if t > until {
                break;
            }
            steps += 1;
            assert!(steps < 2_000_000, "no quiescence: livelock?");
            self.mono = self.mono.max(t);
            if let Some(entry) = self.inflight.first_entry()
                && entry.key().0 <= self.mono
            {
                let (to, from, epoch, frame) = entry.remove();
                let live = self
                    .link_of(from, to)
                    .is_some_and(|l| self.links[l].connected && self.links[l].epoch == epoch);
                if live {
                    if self.signed
                        && let Err(e) = self.check_signed(&frame)
                    {
                        panic!("signed run: {e}");
                    }
                    self.input(
                        to,
                        Input::Frame {
                            peer: PeerId(from as u64),
                            data: frame.as_bytes(),
                        },
                    );
                }
                continue;
            }
            for i in 0..self.peers.len() {
                let now = self.now(i);
                if self.peers[i].up
                    && self.peers[i]
                        .node
                        .engine
                        .poll_timeout()
                        .is_some_and(|d| d <= now.mono)
                {
                    self.peers[i].node.engine.handle_timeout(now);
                    self.drain(i);
                }
            }
        }
        self.mono = self.mono.max(until);
    }

    /// The whole run: workload with faults, then heal and quiesce, then checks.
    pub fn run(mut self, ops: usize) -> Result<(Stats, u64), String> {
        self.redial();
        for _ in 0..ops {
            self.step_workload();
            self.step_faults();
            let dt = Duration::from_millis(self.rng.next_u64() % 40);
            self.run_until(self.mono + dt);
        }
        // Heal: no more faults; links come back; let timers (deferred
        // future-state writes, waits) run out.
        for l in &mut self.links {
            l.down_until = l.down_until.min(self.mono);
        }
        let quiet = self.mono + Duration::from_secs(30);
        self.run_until(quiet);
        self.stats.simulated = self.mono;
        self.check()?;
        Ok((self.stats, self.trace))
    }

    fn check(&self) -> Result<(), String> {
        // The root's state: its store (what survives a crash) merged with
        // what it holds in memory (a cache of the store, loaded on demand).
        let mut root_view = self.peers[0].node.store.graph().clone();
        root_view.merge_owned(f64::INFINITY, self.peers[0].node.engine.graph().to_graph());
        let root = &root_view;
        for (c, soul, key, state) in &self.acked {
            match root.prop(soul, key) {
                Some(p) if p.state >= *state => {}
                other => {
                    let relay = self.peers[*c].upstream.unwrap_or(0);
                    let there = self.peers[relay].node.engine.graph().prop(soul, key);
                    let skews: Vec<f64> = self.peers.iter().map(|p| p.skew_ms).collect();
                    return Err(format!(
                        "acked write {soul}.{key}@{state} by client {c} (via relay {relay}, which has {there:?}) lost: root has {other:?}; skews {skews:?}"
                    ));
                }
            }
        }
        for ((c, sub), (soul, key)) in &self.listeners {
            let mine = self.peers[*c]
                .node
                .engine
                .graph()
                .prop(soul, key)
                .map(|p| (p.value, p.state));
            let theirs = root.prop(soul, key).map(|p| (p.value, p.state));
            if mine != theirs {
                return Err(format!(
                    "client {c} has {soul}.{key} = {mine:?}, root has {theirs:?}"
                ));
            }
            let last = self.peers[*c]
                .node
                .events
                .iter()
                .rev()
                .find_map(|e| match e {
                    Event::Update { sub: s, value, .. } if s.0 == *sub => Some(value.clone()),
                    _ => None,
                });
            let expected = theirs.map(|(v, _)| v.to_json());
            if last != expected {
                return Err(format!(
                    "client {c}'s listener on {soul}.{key} last saw {last:?}, final is {expected:?}"
                ));
            }
        }
        for (i, p) in self.peers.iter().enumerate() {
            if p.node.engine.poll_timeout().is_some_and(|d| d <= self.mono) {
                return Err(format!("peer {i} has overdue timers after quiescence"));
            }
        }
        Ok(())
    }
}

/// Runs `seed`; on failure the message names the seed and how to replay it.
pub fn run_seed(seed: u64, ops: usize) -> Result<(Stats, u64), String> {
    run_seed_with(seed, ops, false)
}

/// [`run_seed`], optionally with every peer signing.
pub fn run_seed_with(seed: u64, ops: usize, signed: bool) -> Result<(Stats, u64), String> {
    let result = std::panic::catch_unwind(|| {
        if signed {
            Sim::signed(seed).run(ops)
        } else {
            Sim::new(seed).run(ops)
        }
    });
    match result {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(format!(
            "seed {seed} failed: {e}\n  replay: SIM_SEED={seed} cargo test -p gun-tests --test simulation"
        )),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()));
            Err(format!(
                "seed {seed} panicked: {msg:?}\n  replay: SIM_SEED={seed} cargo test -p gun-tests --test simulation"
            ))
        }
    }
}
