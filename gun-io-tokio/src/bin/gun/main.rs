//! `gun`: a Gun relay. Serves Gun.js and Rust peers over WebSocket (any path,
//! `/gun` included; TLS with `--tls-cert` and `--tls-key`), stores the graph
//! (redb in `./radata` by default), acks a put once it is on disk, and shuts
//! down cleanly on Ctrl-C or SIGTERM. `gun import --radisk DIR` loads a
//! Gun.js relay's radisk directory into the store and exits.
#![forbid(unsafe_code)]

mod sched;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use gun_io_tokio::{
    Gun, GunOptions, MulticastOptions, PublicKey, Quotas, SecretKey, StoreKind, TlsOptions,
    TrustPolicy, keypair_from_seed,
};
use tracing_subscriber::EnvFilter;

/// A Gun relay: serves Gun.js and Rust peers over WebSocket.
#[derive(Debug, Parser)]
#[command(
    name = "gun",
    version,
    about = "A Gun relay: serves Gun.js and Rust peers over WebSocket, redb store by default"
)]
struct Args {
    /// Port to serve on.
    #[arg(long, env = "PORT", default_value_t = 8765)]
    port: u16,
    /// Address to serve on (0.0.0.0 to serve the network).
    #[arg(long, env = "GUN_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Where the store keeps its data.
    #[arg(long, env = "GUN_DATA", default_value = "./radata", global = true)]
    data: PathBuf,
    /// Which store: redb (default), fjall, sled, file (one JSON file per
    /// node), memory. A sled store found in --data is copied into redb or
    /// fjall the first time they open there.
    #[arg(long, env = "GUN_STORE", value_enum, default_value_t = StoreArg::Redb, global = true)]
    store: StoreArg,
    /// Other relays to dial and sync with (comma separated ws:// or wss:// URLs).
    #[arg(long, env = "PEERS", value_delimiter = ',')]
    peers: Vec<String>,
    /// Serve wss:// with this certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "GUN_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "GUN_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Extra certificates (PEM) to trust when dialing wss:// peers, beside
    /// the platform's and Mozilla's roots.
    #[arg(long, env = "GUN_TLS_CA", value_delimiter = ',')]
    tls_ca: Vec<PathBuf>,
    /// Sign every message with the BLS key derived from this seed (hex, at
    /// least 32 bytes; derived as chia-bls's `SecretKey::from_seed`).
    #[arg(long, env = "GUN_KEY_SEED")]
    key_seed: Option<String>,
    /// Refuse unsigned messages (Gun.js peers send none). By default they
    /// are accepted, and signed ones must verify.
    #[arg(long, env = "GUN_SIGNED_ONLY")]
    signed_only: bool,
    /// Join Gun.js's LAN multicast group: beacons every second, and every
    /// message mirrored to the LAN once another node answers. It takes
    /// unauthenticated writes from the LAN: off by default.
    #[arg(long, env = "GUN_MULTICAST")]
    multicast: bool,
    /// The multicast group.
    #[arg(long, env = "GUN_MULTICAST_ADDRESS", default_value = "233.255.255.255")]
    multicast_address: std::net::Ipv4Addr,
    /// The multicast port (UDP; every node binds it).
    #[arg(long, env = "GUN_MULTICAST_PORT", default_value_t = 8765)]
    multicast_port: u16,
    /// Hops a multicast datagram may take (1: this network only; Gun.js
    /// uses 128).
    #[arg(long, env = "GUN_MULTICAST_TTL", default_value_t = 1)]
    multicast_ttl: u32,
    /// Log level or filter (error, warn, info, debug, trace, or a tracing filter).
    #[arg(long, env = "GUN_LOG", default_value = "info", global = true)]
    log: String,
    /// Threads serving the sockets (TLS, WebSocket frames). Default: one
    /// fewer than the machine's cores, at least one: the engine runs on a
    /// thread of its own, and a worker per core beside it only adds
    /// switches to every put's path.
    #[arg(long, env = "GUN_THREADS")]
    threads: Option<std::num::NonZeroUsize>,
    /// How the socket threads are scheduled (Linux). batch (default): as
    /// SCHED_BATCH, so a socket thread woken to write forwards or acks does
    /// not preempt the engine's or the commit thread, which every put goes
    /// through; it takes a free core or waits for the running thread to
    /// block (lower ack latency when the cores are busy). normal: as every
    /// other thread.
    #[arg(long, env = "GUN_SOCKET_SCHED", value_enum, default_value_t = sched::SocketSched::Batch)]
    socket_sched: sched::SocketSched,
    #[command(flatten)]
    quotas: QuotaArgs,
    #[command(subcommand)]
    command: Option<Cmd>,
}

/// Besides serving.
#[derive(Debug, clap::Subcommand)]
enum Cmd {
    /// Loads a Gun.js relay's radisk directory (its `radata`) into the store
    /// (`--data`, `--store`), merging by HAM with what is there, and exits.
    /// Stop the relay that uses the store first.
    Import {
        /// The radisk directory to read.
        #[arg(long)]
        radisk: PathBuf,
    },
}

/// What peers may make the relay spend (the defaults suit a public relay).
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Quotas (per peer unless said otherwise)")]
struct QuotaArgs {
    /// Most connections served at once (all peers).
    #[arg(long, env = "GUN_MAX_CONNECTIONS", default_value_t = Quotas::default().max_connections)]
    max_connections: usize,
    /// Most connections from one IP address.
    #[arg(long, env = "GUN_MAX_CONNECTIONS_PER_IP", default_value_t = Quotas::default().max_connections_per_ip)]
    max_connections_per_ip: usize,
    /// Seconds a connection may take for its TLS, HTTP and WebSocket handshakes.
    #[arg(long, env = "GUN_HANDSHAKE_TIMEOUT", default_value_t = Quotas::default().handshake_timeout.as_secs_f64())]
    handshake_timeout: f64,
    /// Seconds a peer may send nothing (it is pinged every quarter of this) before it is closed.
    #[arg(long, env = "GUN_IDLE_TIMEOUT", default_value_t = Quotas::default().idle_timeout.as_secs_f64())]
    idle_timeout: f64,
    /// Largest frame (WebSocket message) in bytes; larger ones are refused by their header.
    #[arg(long, env = "GUN_MAX_FRAME_BYTES", default_value_t = Quotas::default().max_frame_bytes)]
    max_frame_bytes: usize,
    /// Most messages in one batch frame.
    #[arg(long, env = "GUN_MAX_BATCH", default_value_t = Quotas::default().max_batch)]
    max_batch: usize,
    /// Longest soul in bytes.
    #[arg(long, env = "GUN_MAX_SOUL_BYTES", default_value_t = Quotas::default().max_soul_bytes)]
    max_soul_bytes: usize,
    /// Longest property key in bytes.
    #[arg(long, env = "GUN_MAX_KEY_BYTES", default_value_t = Quotas::default().max_key_bytes)]
    max_key_bytes: usize,
    /// Longest message id in bytes (pids are capped at 99 characters, as Gun.js reads them).
    #[arg(long, env = "GUN_MAX_ID_BYTES", default_value_t = Quotas::default().max_id_bytes)]
    max_id_bytes: usize,
    /// Messages a second a peer may send (a second's worth banked); past it the peer is throttled. 0: no limit.
    #[arg(long, env = "GUN_MAX_MSGS_PER_SEC", default_value_t = Quotas::default().max_msgs_per_sec)]
    max_msgs_per_sec: f64,
    /// Bytes a second a peer may send (a second's worth banked); past it the peer is throttled. 0: no limit.
    #[arg(long, env = "GUN_MAX_BYTES_PER_SEC", default_value_t = Quotas::default().max_bytes_per_sec)]
    max_bytes_per_sec: f64,
    /// Most souls a peer may subscribe to.
    #[arg(long, env = "GUN_MAX_SUBSCRIPTIONS", default_value_t = Quotas::default().max_subscriptions)]
    max_subscriptions: usize,
    /// Most signatures one message may carry.
    #[arg(long, env = "GUN_MAX_SIGS", default_value_t = Quotas::default().max_sigs)]
    max_sigs: usize,
    /// Share of the signature-checking thread's time one peer may use (0.25: a quarter second a second).
    #[arg(long, env = "GUN_VERIFY_SHARE", default_value_t = Quotas::default().verify_share)]
    verify_share: f64,
    /// Lex scan budget: most properties one lex get's reply carries (and one soul scan reads).
    #[arg(long, env = "GUN_SCAN_PAGE", default_value_t = Quotas::default().scan_page)]
    scan_page: usize,
    /// Bytes of a peer's frames waiting for the relay before its socket is not read.
    #[arg(long, env = "GUN_MAX_INBOUND_PER_PEER", default_value_t = Quotas::default().max_inbound_per_peer)]
    max_inbound_per_peer: usize,
    /// Bytes waiting to be sent to a peer before it is dropped as a slow reader.
    #[arg(long, env = "GUN_MAX_OUTBOUND_PER_PEER", default_value_t = Quotas::default().max_outbound_per_peer)]
    max_outbound_per_peer: usize,
    /// Ceiling in bytes for all peers' queues together (an eighth inbound, half outbound).
    #[arg(long, env = "GUN_MAX_QUEUED_BYTES", default_value_t = Quotas::default().max_queued_bytes)]
    max_queued_bytes: usize,
    /// Most souls kept in memory (the store keeps them all); 0: no limit.
    #[arg(long, env = "GUN_MAX_CACHED_SOULS", default_value_t = Quotas::default().max_cached_souls)]
    max_cached_souls: usize,
}

impl QuotaArgs {
    fn quotas(&self) -> Result<Quotas, String> {
        let secs = |name: &str, s: f64| {
            Duration::try_from_secs_f64(s)
                .map_err(|_| format!("--{name} must be a number of seconds, not {s}"))
        };
        Ok(Quotas {
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            handshake_timeout: secs("handshake-timeout", self.handshake_timeout)?,
            idle_timeout: secs("idle-timeout", self.idle_timeout)?,
            max_frame_bytes: self.max_frame_bytes,
            max_batch: self.max_batch,
            max_soul_bytes: self.max_soul_bytes,
            max_key_bytes: self.max_key_bytes,
            max_id_bytes: self.max_id_bytes,
            max_msgs_per_sec: self.max_msgs_per_sec.max(0.0),
            max_bytes_per_sec: self.max_bytes_per_sec.max(0.0),
            max_subscriptions: self.max_subscriptions,
            max_sigs: self.max_sigs,
            verify_share: self.verify_share,
            scan_page: self.scan_page,
            max_inbound_per_peer: self.max_inbound_per_peer,
            max_outbound_per_peer: self.max_outbound_per_peer,
            max_queued_bytes: self.max_queued_bytes,
            max_cached_souls: self.max_cached_souls,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreArg {
    Sled,
    Redb,
    Fjall,
    File,
    Memory,
}

impl StoreArg {
    /// The disk store this names (`None`: memory).
    fn kind(self) -> Option<StoreKind> {
        match self {
            Self::Sled => Some(StoreKind::Sled),
            Self::Redb => Some(StoreKind::Redb),
            Self::Fjall => Some(StoreKind::Fjall),
            Self::File => Some(StoreKind::File),
            Self::Memory => None,
        }
    }
}

impl Args {
    fn options(&self) -> Result<GunOptions, String> {
        Ok(GunOptions {
            quotas: self.quotas.quotas()?,
            trust: if self.signed_only {
                TrustPolicy::signed_only()
            } else {
                TrustPolicy::default()
            },
            host: self.host.clone(),
            store: self.store.kind(),
            multicast: MulticastOptions {
                enabled: self.multicast,
                address: self.multicast_address,
                port: self.multicast_port,
                ttl: self.multicast_ttl,
                ..MulticastOptions::default()
            },
            storage_path: (self.store != StoreArg::Memory)
                .then(|| self.data.to_string_lossy().into_owned()),
            tls: TlsOptions {
                cert: path_text(self.tls_cert.as_ref()),
                key: path_text(self.tls_key.as_ref()),
                ca: self
                    .tls_ca
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect(),
            },
            peers: self
                .peers
                .iter()
                .filter(|p| !p.trim().is_empty())
                .map(|p| p.trim().to_owned())
                .collect(),
            ..GunOptions::relay_server(self.port)
        })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = match EnvFilter::try_new(&args.log) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("gun: bad --log filter {:?}: {e}", args.log);
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.map_or_else(socket_threads, |n| n.get()))
        .on_thread_start({
            let sched = args.socket_sched;
            move || sched::on_socket_thread(sched)
        })
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gun: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Cmd::Import { radisk }) = &args.command {
        return import(&args, radisk);
    }
    runtime.block_on(run(args))
}

/// The default count of socket threads: the cores the engine's thread
/// leaves.
fn socket_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

/// `gun import --radisk DIR`.
fn import(args: &Args, radisk: &std::path::Path) -> ExitCode {
    let opts = match args.options() {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "bad arguments");
            return ExitCode::from(2);
        }
    };
    let mut store = match gun_core::store::open(&opts) {
        Ok(Some(s)) => s,
        Ok(None) => {
            tracing::error!(
                "importing into the memory store keeps nothing: use --store redb, fjall, sled or file"
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot open the store");
            return ExitCode::FAILURE;
        }
    };
    match gun_core::store::radisk::import(radisk, store.as_mut()) {
        Ok(r) => {
            tracing::info!(
                from = %radisk.display(),
                into = %args.data.display(),
                files = r.files,
                skipped_files = r.skipped_files,
                props = r.props,
                written = r.written,
                invalid = r.invalid,
                "imported"
            );
            println!(
                "imported {} properties from {} files ({} written, {} kept newer, {} invalid; {} files skipped)",
                r.props,
                r.files,
                r.written,
                r.props - r.written - r.invalid,
                r.invalid,
                r.skipped_files
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "import failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> ExitCode {
    // Handlers go in before the relay announces itself: a signal sent right
    // after the "listening" line must reach them, not the default action.
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return ExitCode::FAILURE;
        }
    };
    let opts = match args.options() {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "bad arguments");
            return ExitCode::from(2);
        }
    };
    let keys = match args.key_seed.as_deref().map(keys_from_seed).transpose() {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(error = %e, "bad --key-seed");
            return ExitCode::FAILURE;
        }
    };
    let started = match keys {
        Some((sk, pk)) => {
            tracing::info!(pubkey = %pk, "signing every message");
            Gun::with_options(sk, pk, opts).await
        }
        None => Gun::without_keys(opts).await,
    };
    let gun = match started {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the relay");
            return ExitCode::FAILURE;
        }
    };
    let addr = gun
        .local_addr()
        .map_or_else(|| format!("{}:{}", args.host, args.port), |a| a.to_string());
    let scheme = if args.tls_cert.is_some() { "wss" } else { "ws" };
    tracing::info!(store = ?args.store, data = %args.data.display(), "gun relay serving on {scheme}://{addr}/gun");
    // Scripts wait for this line.
    println!("gun relay listening on {scheme}://{addr}/gun");
    signals.wait().await;
    tracing::info!("shutting down");
    match gun.shutdown().await {
        Ok(()) => {
            tracing::info!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "shutdown failed");
            ExitCode::FAILURE
        }
    }
}

fn path_text(p: Option<&PathBuf>) -> Option<String> {
    p.map(|p| p.to_string_lossy().into_owned())
}

/// The key pair a hex seed gives.
fn keys_from_seed(hex: &str) -> Result<(SecretKey, PublicKey), String> {
    let seed = gun_proto::auth::unhex(hex.trim()).ok_or("the seed is not hex")?;
    keypair_from_seed(&seed).map_err(|e| e.to_string())
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere), registered up front.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves on the first shutdown signal.
    async fn wait(self) {
        #[cfg(unix)]
        {
            let Self {
                mut interrupt,
                mut terminate,
            } = self;
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
