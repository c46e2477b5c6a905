//! A load tool for any Gun relay (ours or Gun.js's): raw WebSocket clients
//! speaking the wire protocol, so every relay gets the same load.
//!
//! `cargo run --release --example load -- --url ws://127.0.0.1:8765/gun \
//!     --writers 1 --puts 10000 --in-flight 1000 --subscribers 10 [--rate 10000] [--pid PID] [--sign] [--threads 1] [--writer-thread]`
//!
//! Writers put to their own soul (`bench/<run>/<w>`, `<run>` the process
//! id), keeping `--in-flight` puts unacked (or sending at `--rate` puts/s);
//! subscribers ask for every writer's soul and count the pushes. Reports acked puts/s, delivered updates/s, ack
//! latency (send to ack) and put-to-listener latency percentiles, and (with
//! `--pid`) the relay's peak resident memory. Puts carry their send time, so latency needs no clock sync
//! beyond the machine's.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use gun_proto::auth::{self, Signer};
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser, Clone)]
struct Args {
    /// The relay.
    #[arg(long)]
    url: String,
    /// Writing clients.
    #[arg(long, default_value_t = 1)]
    writers: usize,
    /// Puts per writer.
    #[arg(long, default_value_t = 10_000)]
    puts: u64,
    /// Unacked puts each writer keeps in flight (ignored with --rate).
    #[arg(long, default_value_t = 1_000)]
    in_flight: u64,
    /// Send at this many puts/s per writer instead of by acks.
    #[arg(long)]
    rate: Option<u64>,
    /// Subscribing clients.
    #[arg(long, default_value_t = 0)]
    subscribers: usize,
    /// The relay's process id, to report its peak memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Sign every put (the signed mesh: `#` = SHA-256 of the body, a BLS
    /// signature in `sigs`), each writer with its own key.
    #[arg(long)]
    sign: bool,
    /// Write as SEA users: each writer puts into its own `~<pub>` soul,
    /// every value signed by its key (made before the clock starts), so the
    /// relay verifies an ECDSA signature per put.
    #[arg(long)]
    sea: bool,
    /// Put each value into a soul of its own (`bench/<run>/<w>/<n>`, as Gun's
    /// `set` makes a node per item), so the relay meets a new soul on
    /// every put; subscribers see none of them.
    #[arg(long)]
    new_souls: bool,
    /// The tool's own threads (tokio workers); by default one per core. On
    /// a machine it shares with the relay, one keeps it from crowding the
    /// relay's threads when latency is measured.
    #[arg(long)]
    threads: Option<std::num::NonZeroUsize>,
    /// Run the writers on a thread of their own (one single-threaded
    /// runtime), apart from the subscribers: an ack is then read when it
    /// arrives, not after the subscribers' frames that came with it (a
    /// writer and its subscribers are different clients in real life).
    #[arg(long)]
    writer_thread: bool,
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The messages of a frame (one object or a batch).
fn messages(text: &str) -> Vec<serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(v)) => v,
        Ok(v) => vec![v],
        Err(_) => Vec::new(),
    }
}

async fn connect(
    url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    // Nagle off, as the relay's side has it: with it on, a put written
    // while the previous one's TCP segment waits for its ACK is held back
    // (a relay on disk acks a put only after its commit, so that ACK is
    // often a delayed one), and the hold counted as the relay's latency.
    tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .expect("connect to the relay")
        .0
}

/// A SEA user's signed put frames, made before the run: writer `w`'s
/// `puts` values in its space `~<pub>`, each with its id.
fn sea_frames(writer: usize, puts: u64) -> Vec<(String, String)> {
    let pair = gun_proto::sea::Pair::from_seed(format!("load writer {writer}").as_bytes());
    let soul = format!("~{}", pair.pub_key);
    let state = (now_us() / 1000) as f64;
    (0..puts)
        .map(|i| {
            let key = format!("k{i}");
            let value = gun_proto::Value::Number(i as f64);
            let signed = gun_proto::sea::space::pack(&soul, &key, &value, state, &pair, None).expect("sign");
            let id = format!("s{writer}x{i}p{}", run());
            let mut frame = String::new();
            frame.push_str(&format!(r##"{{"#":"{id}","put":{{"{soul}":{{"_":{{"#":"{soul}",">":{{"{key}":{state}}}}},"{key}":"##));
            signed.push_json(&mut frame);
            frame.push_str("}}}");
            (frame, id)
        })
        .collect()
}

/// This run's tag (the process id), in message ids and souls: a relay
/// drops an id it has seen as a duplicate, and a soul written by an earlier
/// run would answer a subscriber with its old values, so runs against one
/// relay keep apart.
fn run() -> u32 {
    std::process::id()
}

/// A put frame and its id.
fn put_frame(writer: usize, n: u64, signer: Option<&Signer>, new_soul: bool) -> (String, String) {
    let soul = if new_soul {
        format!("bench/{}/{writer}/{n}", run())
    } else {
        format!("bench/{}/{writer}", run())
    };
    let key = format!("k{n}");
    let state = (now_us() / 1000) as f64;
    let Some(signer) = signer else {
        let id = format!("w{writer}x{n}p{}", run());
        let frame = format!(
            r##"{{"#":"{id}","put":{{"{soul}":{{"_":{{"#":"{soul}",">":{{"{key}":{state}}}}},"{key}":{}}}}}}}"##,
            now_us()
        );
        return (frame, id);
    };
    let mut m = serde_json::json!({"put": {&soul: {"_": {"#": &soul, ">": {&key: state}}, &key: now_us()}}});
    let map = m.as_object().cloned().unwrap_or_default();
    let body = auth::body(&map);
    let id = auth::message_id(&body);
    m["#"] = serde_json::json!(id);
    m["sigs"] = serde_json::json!([signer.sign(&body)]);
    (m.to_string(), id)
}

async fn writer(
    args: Args,
    w: usize,
    acked: Arc<AtomicU64>,
    presigned: Option<Vec<(String, String)>>,
) -> (Instant, Instant, Vec<u64>) {
    let mut presigned = presigned.map(Vec::into_iter);
    let ws = connect(&args.url).await;
    let (mut tx, mut rx) = ws.split();
    let started = Instant::now();
    let mut sent = 0u64;
    let mut got = 0u64;
    let interval = args
        .rate
        .map(|r| Duration::from_secs_f64(1.0 / r.max(1) as f64));
    let mut next = Instant::now();
    let signer = args
        .sign
        .then(|| Signer::from_seed(&[u8::try_from(w % 250).unwrap_or(0) + 1; 32]).expect("key"));
    let mut pending = HashMap::with_capacity(
        usize::try_from(if interval.is_some() {
            args.puts
        } else {
            args.in_flight
        })
        .unwrap_or(0),
    );
    let mut mine = Vec::with_capacity(usize::try_from(args.puts).unwrap_or(0));
    while got < args.puts {
        // Send what the window (or the rate) allows.
        while sent < args.puts && (interval.is_some() || sent - got < args.in_flight) {
            if let Some(i) = interval {
                if Instant::now() < next {
                    break;
                }
                next += i;
            }
            let (frame, id) = match presigned.as_mut().and_then(Iterator::next) {
                Some(f) => f,
                None => put_frame(w, sent, signer.as_ref(), args.new_souls),
            };
            pending.insert(id, Instant::now());
            tx.feed(Message::text(frame)).await.expect("send");
            sent += 1;
        }
        tx.flush().await.expect("flush");
        let wait = if interval.is_some() && sent < args.puts {
            Duration::from_micros(200)
        } else {
            Duration::from_secs(args.timeout)
        };
        let Ok(msg) = tokio::time::timeout(wait, rx.next()).await else {
            continue;
        };
        let Some(Ok(Message::Text(t))) = msg else {
            panic!("the relay closed the writer's connection")
        };
        for m in messages(t.as_str()) {
            let sent_at = m
                .get("@")
                .and_then(|a| a.as_str())
                .and_then(|a| pending.remove(a));
            if let Some(at) = sent_at
                && m.get("ok").is_some()
                && m.get("err").is_none()
            {
                got += 1;
                acked.fetch_add(1, Ordering::Relaxed);
                mine.push(at.elapsed().as_micros() as u64);
            }
        }
    }
    let end = Instant::now();
    (started, end, mine)
}

async fn subscriber(
    args: Args,
    s: usize,
    delivered: Arc<AtomicU64>,
    expect: u64,
    ready: Arc<AtomicU64>,
) -> Seen {
    let ws = connect(&args.url).await;
    let (mut tx, mut rx) = ws.split();
    for w in 0..args.writers {
        tx.send(Message::text(format!(
            r##"{{"#":"s{s}g{w}p{run}","get":{{"#":"bench/{run}/{w}"}}}}"##,
            run = run()
        )))
        .await
        .expect("subscribe");
    }
    ready.fetch_add(1, Ordering::SeqCst);
    // Properties seen, by soul. Every table is sized for the whole run up
    // front: ten subscribers on one thread growing their sets at the same
    // count stalled the tool for ~10 ms at each doubling (at 1,792, 3,584,
    // 7,168 and 14,336 puts), and the stall counted as the relay's latency.
    let per_soul = usize::try_from(args.puts).unwrap_or(0);
    let mut seen: HashMap<String, HashSet<String>> = HashMap::with_capacity(args.writers);
    let mut got = 0u64;
    let mut mine = Vec::with_capacity(usize::try_from(expect).unwrap_or(0));
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    while got < expect && Instant::now() < deadline {
        let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_secs(5), rx.next()).await
        else {
            break;
        };
        let now = now_us();
        updates(t.as_str(), |soul, key, sent| {
            let keys = match seen.get_mut(soul) {
                Some(keys) => keys,
                None => seen
                    .entry(soul.to_owned())
                    .or_insert_with(|| HashSet::with_capacity(per_soul)),
            };
            if keys.insert(key.to_owned()) {
                got += 1;
                delivered.fetch_add(1, Ordering::Relaxed);
                if let Some(sent) = sent {
                    mine.push(now.saturating_sub(sent));
                }
            }
        });
    }
    Seen {
        latencies: mine,
        _keys: seen,
    }
}

/// What a subscriber saw: its latencies, and the keys, handed back whole
/// so that they are dropped once every subscriber is done (a set of
/// 60,000 strings dropped as one subscriber ended held up the others'
/// last frames by ~3 ms each, counted as the relay's latency).
struct Seen {
    latencies: Vec<u64>,
    _keys: HashMap<String, HashSet<String>>,
}

/// What a subscriber reads of a message: its put, borrowed from the frame
/// (the load tool parses 100,000s of frames a second on the relay's cores:
/// a JSON tree per frame cost more than the relay's own work).
#[derive(serde::Deserialize)]
struct Pushed<'a> {
    #[serde(borrow, default)]
    put: Option<HashMap<&'a str, HashMap<&'a str, &'a RawValue>>>,
}

/// Calls `each(soul, key, value)` for every property put in `frame` (the
/// value when it is a whole number: the writer's send time).
fn updates(frame: &str, mut each: impl FnMut(&str, &str, Option<u64>)) {
    let borrowed: Option<Vec<Pushed<'_>>> = if frame.trim_start().starts_with('[') {
        serde_json::from_str(frame).ok()
    } else {
        serde_json::from_str(frame).ok().map(|m| vec![m])
    };
    if let Some(messages) = borrowed {
        for (soul, node) in messages.iter().filter_map(|m| m.put.as_ref()).flatten() {
            for (key, value) in node.iter().filter(|(k, _)| **k != "_") {
                each(soul, key, value.get().parse().ok());
            }
        }
        return;
    }
    // Escaped strings do not borrow: the whole tree then.
    for m in messages(frame) {
        let Some(put) = m.get("put").and_then(|p| p.as_object()) else {
            continue;
        };
        for (soul, node) in put {
            let Some(node) = node.as_object() else {
                continue;
            };
            for (key, value) in node.iter().filter(|(k, _)| *k != "_") {
                each(soul, key, value.as_u64());
            }
        }
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The writers' own thread, running a single-threaded runtime until
/// dropped.
struct WriterThread {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WriterThread {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the writers' runtime");
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("writers".into())
            .spawn(move || {
                let _ = runtime.block_on(stopped);
            })
            .expect("the writers' thread");
        Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn main() {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n.get());
    }
    runtime
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(load(args));
}

async fn load(args: Args) {
    let acked = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(AtomicU64::new(0));
    let expect = args.puts * args.writers as u64;
    let subs: Vec<_> = (0..args.subscribers)
        .map(|s| {
            tokio::spawn(subscriber(
                args.clone(),
                s,
                delivered.clone(),
                expect,
                ready.clone(),
            ))
        })
        .collect();
    while ready.load(Ordering::SeqCst) < args.subscribers as u64 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // SEA users' frames are signed before the clock starts.
    let mut presigned: Vec<_> = (0..args.writers)
        .map(|w| args.sea.then(|| sea_frames(w, args.puts)))
        .collect();
    let own = args.writer_thread.then(WriterThread::start);
    let spawner = own
        .as_ref()
        .map_or_else(tokio::runtime::Handle::current, |t| t.handle.clone());
    let started = Instant::now();
    let writers: Vec<_> = (0..args.writers)
        .map(|w| spawner.spawn(writer(args.clone(), w, acked.clone(), presigned[w].take())))
        .collect();
    let mut last_ack = started;
    let mut ack_lat = Vec::new();
    for w in writers {
        let (_, end, mine) = tokio::time::timeout(Duration::from_secs(args.timeout), w)
            .await
            .expect("writers finish in time")
            .expect("writer");
        last_ack = last_ack.max(end);
        ack_lat.extend(mine);
    }
    let put_secs = (last_ack - started).as_secs_f64();
    let mut seen = Vec::with_capacity(subs.len());
    for s in subs {
        seen.extend(s.await);
    }
    let fanout_secs = started.elapsed().as_secs_f64();
    let mut lat: Vec<u64> = seen
        .iter()
        .flat_map(|s| s.latencies.iter().copied())
        .collect();
    lat.sort_unstable();
    ack_lat.sort_unstable();
    let pct_of = |v: &[u64], p: f64| {
        v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let pct = |p: f64| pct_of(&lat, p);
    let acked = acked.load(Ordering::Relaxed);
    let delivered = delivered.load(Ordering::Relaxed);
    println!(
        "acked_puts {acked} in {put_secs:.3} s = {:.0}/s",
        acked as f64 / put_secs
    );
    println!(
        "ack_latency_us p50 {} p99 {} p99.9 {} max {}",
        pct_of(&ack_lat, 0.5),
        pct_of(&ack_lat, 0.99),
        pct_of(&ack_lat, 0.999),
        ack_lat.last().copied().unwrap_or(0)
    );
    if args.subscribers > 0 {
        println!(
            "delivered {delivered} of {} in {fanout_secs:.3} s = {:.0}/s",
            expect * args.subscribers as u64,
            delivered as f64 / fanout_secs
        );
        println!(
            "latency_us p50 {} p99 {} p99.9 {} max {}",
            pct(0.5),
            pct(0.99),
            pct(0.999),
            lat.last().copied().unwrap_or(0)
        );
    }
    if let Some(kib) = args.pid.and_then(peak_rss_kib) {
        println!("relay_peak_rss_mib {:.1}", kib as f64 / 1024.0);
    }
}
