//! The public-relay benchmark: what hostile peers cost an honest one, and
//! what a relay's memory does under idle crowds, bursts and a long soak.
//! Every client speaks the wire protocol over loopback from 127.0.0.0/8
//! addresses (hostile ones from their own, so per-address limits bite them),
//! every loop is bounded in count and time.
//!
//! ```text
//! hostile latency --url ws://127.0.0.1:8765/gun [--seconds 4]
//! hostile idle    --url … --pid PID --conns 10000 [--hold 10]
//! hostile burst   --url … --pid PID --puts 100000 --subscribers 10 --slow 1
//! hostile soak    --url … --pid PID --clients 1000 --minutes 10
//! ```
//! (`bench/hostile.sh` starts the relay and runs them all.)
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    run: Run,
}

#[derive(Debug, Subcommand)]
enum Run {
    /// An honest client's put-ack latency, unloaded, then during each attack.
    Latency {
        #[arg(long)]
        url: String,
        /// Seconds each attack runs (the honest client measures meanwhile).
        #[arg(long, default_value_t = 4)]
        seconds: u64,
        /// Only the attacks whose name contains this.
        #[arg(long)]
        only: Option<String>,
    },
    /// Idle WebSocket connections held open: the relay's memory.
    Idle {
        #[arg(long)]
        url: String,
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 10_000)]
        conns: usize,
        /// Seconds to hold them.
        #[arg(long, default_value_t = 10)]
        hold: u64,
    },
    /// A writer bursts puts at subscribers, some of which stop reading.
    Burst {
        #[arg(long)]
        url: String,
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 100_000)]
        puts: u64,
        #[arg(long, default_value_t = 10)]
        subscribers: usize,
        /// How many of the subscribers stop reading.
        #[arg(long, default_value_t = 1)]
        slow: usize,
    },
    /// Many clients mixing puts, gets, subscriptions, reconnects and
    /// hostile frames; the relay's memory sampled; acked writes checked.
    Soak {
        #[arg(long)]
        url: String,
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
    },
}

type Ws = WebSocketStream<TcpStream>;

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_micros() as f64 / 1000.0)
}

/// A source address for client `n` of a group: 127.<group>.<n/200>.<n%200+1>,
/// so no address holds more than 200 connections.
fn source(group: u8, n: usize) -> IpAddr {
    let hi = u8::try_from(n / 200 % 250).unwrap_or(0);
    let lo = u8::try_from(n % 200).unwrap_or(0) + 1;
    IpAddr::V4(Ipv4Addr::new(127, group, hi, lo))
}

fn relay_addr(url: &str) -> SocketAddr {
    let hostport = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:8765");
    hostport.parse().expect("the relay's address as ip:port")
}

async fn connect_from(url: &str, from: IpAddr) -> Option<Ws> {
    let sock = tokio::net::TcpSocket::new_v4().ok()?;
    sock.bind(SocketAddr::new(from, 0)).ok()?;
    let tcp = sock.connect(relay_addr(url)).await.ok()?;
    let _ = tcp.set_nodelay(true);
    let (ws, _) = tokio_tungstenite::client_async(url, tcp).await.ok()?;
    Some(ws)
}

fn messages(text: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(v)) => v,
        Ok(v) => vec![v],
        Err(_) => Vec::new(),
    }
}

fn put(id: &str, soul: &str, key: &str, value: &Value, state: f64) -> String {
    json!({"#": id, "put": {soul: {"_": {"#": soul, ">": {key: state}}, key: value}}}).to_string()
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// One honest client putting one property at a time, each acked before
/// the next, every 10 ms, until `stop`: its put-ack latencies in ms.
async fn honest(url: String, stop: Arc<AtomicBool>) -> (Vec<f64>, u64) {
    let mut lat = Vec::new();
    let mut failed = 0;
    let Some(mut ws) = connect_from(&url, IpAddr::V4(Ipv4Addr::new(127, 99, 0, 1))).await else {
        return (lat, 1);
    };
    // Ids unique across runs: the relay remembers ids for 9 s.
    static RUN: AtomicU64 = AtomicU64::new(0);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let id = format!("honest{run}_{n}x");
        let began = Instant::now();
        if ws
            .send(Message::text(put(
                &id,
                "honest/latency",
                &format!("k{run}_{n}"),
                &json!(n),
                now_ms(),
            )))
            .await
            .is_err()
        {
            failed += 1;
            break;
        }
        let acked = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(t) = msg
                    && messages(t.as_str()).iter().any(|m| m["@"] == id.as_str())
                {
                    return true;
                }
            }
            false
        })
        .await;
        match acked {
            Ok(true) => lat.push(began.elapsed().as_secs_f64() * 1000.0),
            _ => failed += 1,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (lat, failed)
}

/// An attack: runs until `stop`, bounded besides in what it sends.
type Attack = fn(String, Arc<AtomicBool>) -> tokio::task::JoinHandle<()>;

/// Sends `frame(i)` for `i` in `1..=max` from `from` until `stop`, reading
/// what comes back for up to `read` after each (a client that reads, if
/// slowly).
async fn flood(
    url: &str,
    from: IpAddr,
    stop: &AtomicBool,
    max: u64,
    read: Duration,
    frame: impl Fn(u64) -> String,
) {
    let Some(mut ws) = connect_from(url, from).await else {
        return;
    };
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) && i < max {
        i += 1;
        if ws.send(Message::text(frame(i))).await.is_err() {
            break;
        }
        while let Ok(Some(_)) = tokio::time::timeout(read, ws.next()).await {}
    }
}

/// A batch frame of `n` messages.
fn batch(n: u64, msg: impl Fn(u64) -> String) -> String {
    format!("[{}]", (0..n).map(msg).collect::<Vec<_>>().join(","))
}

/// A get subscribing to `soul`, by a client that then reads everything.
async fn subscriber_of(url: &str, from: IpAddr, soul: &str) -> Option<tokio::task::JoinHandle<()>> {
    let mut ws = connect_from(url, from).await?;
    let get = json!({"#": format!("sub-{from}"), "get": {"#": soul}});
    ws.send(Message::text(get.to_string())).await.ok()?;
    Some(tokio::spawn(async move {
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(1), ws.next()).await {}
    }))
}

const US: Duration = Duration::from_micros(100);

fn attacks() -> Vec<(&'static str, Attack)> {
    vec![
        ("malformed frames", |url, stop| {
            tokio::spawn(async move {
                let junk = ["{bad", "null", r#"{"put":{"s":5}}"#, r#"[1,2,3]"#];
                let deep = "[".repeat(5000);
                flood(&url, source(10, 0), &stop, 200_000, Duration::ZERO, |i| {
                    junk.get(i as usize % 5)
                        .map_or(deep.clone(), |j| (*j).to_owned())
                })
                .await;
            })
        }),
        (
            "signature flood (8 bogus signatures per message)",
            |url, stop| {
                tokio::spawn(async move {
                    let signer = gun_proto::auth::Signer::from_seed(&[9u8; 32]).expect("key");
                    let wrong = signer.sign(b"another body");
                    flood(&url, source(11, 0), &stop, 100_000, US, |i| {
                        let mut body = serde_json::Map::new();
                        body.insert(
                            "put".into(),
                            json!({"x": {"_": {"#": "x", ">": {"k": i}}, "k": i}}),
                        );
                        let id = gun_proto::auth::message_id(&gun_proto::auth::body(&body));
                        let mut m = Value::Object(body);
                        m["#"] = json!(id);
                        m["sigs"] = json!(vec![wrong.clone(); 8]);
                        m.to_string()
                    })
                    .await;
                })
            },
        ),
        ("lex scans of every soul", |url, stop| {
            tokio::spawn(async move {
                flood(
                    &url,
                    source(12, 0),
                    &stop,
                    100_000,
                    Duration::from_micros(200),
                    |i| json!({"#": format!("scan{i}"), "get": {"#": {"*": ""}}}).to_string(),
                )
                .await;
            })
        }),
        ("gets for missing souls", |url, stop| {
            tokio::spawn(async move {
                flood(&url, source(13, 0), &stop, 2_000, US, |i| {
                    batch(100, |j| {
                        json!({"#": format!("m{i}_{j}"), "get": {"#": format!("missing/{i}/{j}")}})
                            .to_string()
                    })
                })
                .await;
            })
        }),
        ("puts dated an hour ahead", |url, stop| {
            tokio::spawn(async move {
                flood(&url, source(14, 0), &stop, 2_000, US, |i| {
                    let hour = now_ms() + 3_600_000.0;
                    batch(100, |j| {
                        put(
                            &format!("f{i}_{j}"),
                            &format!("future/{i}/{j}"),
                            "k",
                            &json!(1),
                            hour,
                        )
                    })
                })
                .await;
            })
        }),
        ("a writer past its message rate", |url, stop| {
            tokio::spawn(async move {
                flood(&url, source(15, 0), &stop, 2_000, US, |i| {
                    batch(500, |j| {
                        put(
                            &format!("r{i}_{j}"),
                            "flood/rate",
                            &format!("k{j}"),
                            &json!(i),
                            now_ms(),
                        )
                    })
                })
                .await;
            })
        }),
        ("a 1 MiB `><` to 20 subscribers", |url, stop| {
            tokio::spawn(async move {
                let mut subs = Vec::new();
                for s in 0..20 {
                    subs.extend(subscriber_of(&url, source(16, s), "amp").await);
                }
                let seen = "x".repeat(1 << 20);
                flood(
                    &url,
                    source(16, 100),
                    &stop,
                    1_000,
                    Duration::from_millis(5),
                    |i| {
                        let mut m: Value = serde_json::from_str(&put(
                            &format!("a{i}"),
                            "amp",
                            "k",
                            &json!(i),
                            now_ms(),
                        ))
                        .expect("json");
                        m["><"] = json!(seen);
                        m.to_string()
                    },
                )
                .await;
                for s in subs {
                    s.abort();
                }
            })
        }),
        (
            "a burst at a subscriber that stopped reading",
            |url, stop| {
                tokio::spawn(async move {
                    let Some(mut slow) = connect_from(&url, source(17, 0)).await else {
                        return;
                    };
                    let get = json!({"#": "slow", "get": {"#": "burst"}}).to_string();
                    let _ = slow.send(Message::text(get)).await;
                    let value = json!("v".repeat(2000));
                    flood(&url, source(17, 1), &stop, 2_000, US, |i| {
                        batch(50, |j| {
                            put(
                                &format!("b{i}_{j}"),
                                "burst",
                                &format!("k{j}"),
                                &value,
                                now_ms(),
                            )
                        })
                    })
                    .await;
                    drop(slow);
                })
            },
        ),
        ("connection churn", |url, stop| {
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) && i < 20_000 {
                    if let Some(mut ws) = connect_from(&url, source(18, i % 200)).await {
                        let get = json!({"#": format!("c{i}"), "get": {"#": "churn"}}).to_string();
                        let _ = ws.send(Message::text(get)).await;
                    }
                    i += 1;
                }
            })
        }),
        ("1,000 half-open sockets (slowloris)", |url, stop| {
            tokio::spawn(async move {
                let mut socks = Vec::new();
                for i in 0..1000 {
                    let Ok(sock) = tokio::net::TcpSocket::new_v4() else {
                        break;
                    };
                    if sock.bind(SocketAddr::new(source(19, i), 0)).is_err() {
                        break;
                    }
                    if let Ok(s) = sock.connect(relay_addr(&url)).await {
                        socks.push(s);
                    }
                }
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        }),
    ]
}

async fn latency(url: String, seconds: u64, only: Option<String>) {
    let measure = |url: String, attack: Option<Attack>| async move {
        let stop = Arc::new(AtomicBool::new(false));
        let hostile = attack.map(|a| a(url.clone(), stop.clone()));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let h = tokio::spawn(honest(url, stop.clone()));
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let (mut lat, failed) = h.await.expect("honest client");
        if let Some(a) = hostile {
            let _ = tokio::time::timeout(Duration::from_secs(10), a).await;
        }
        lat.sort_by(f64::total_cmp);
        (lat, failed)
    };
    let (base, failed) = measure(url.clone(), None).await;
    let base_p99 = pct(&base, 0.99);
    println!(
        "{:<48} {:>8} {:>9} {:>9} {:>7} {:>6}",
        "honest put-ack latency (ms)", "puts", "p50", "p99", "p99 x", "failed"
    );
    println!(
        "{:<48} {:>8} {:>9.3} {:>9.3} {:>7} {:>6}",
        "unloaded",
        base.len(),
        pct(&base, 0.5),
        base_p99,
        "1.0",
        failed
    );
    for (name, attack) in attacks() {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let (lat, failed) = measure(url.clone(), Some(attack)).await;
        let p99 = pct(&lat, 0.99);
        println!(
            "{:<48} {:>8} {:>9.3} {:>9.3} {:>7.1} {:>6}",
            name,
            lat.len(),
            pct(&lat, 0.5),
            p99,
            p99 / base_p99,
            failed
        );
        // Let the relay finish what the attack left queued.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn idle(url: String, pid: u32, conns: usize, hold: u64) {
    let before = rss_kib(pid, "VmRSS:");
    let opened = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let began = Instant::now();
    for i in 0..conns {
        let (url, opened) = (url.clone(), opened.clone());
        tasks.push(tokio::spawn(async move {
            let Some(mut ws) = connect_from(&url, source(20, i)).await else {
                return;
            };
            opened.fetch_add(1, Ordering::Relaxed);
            // Idle, but answering pings (reading does).
            let deadline = Instant::now() + Duration::from_secs(hold + 600);
            while Instant::now() < deadline {
                match tokio::time::timeout(Duration::from_secs(1), ws.next()).await {
                    Ok(Some(Ok(_))) | Err(_) => {}
                    _ => break,
                }
            }
        }));
        if i % 500 == 499 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    while (opened.load(Ordering::Relaxed) as usize) < conns
        && began.elapsed() < Duration::from_secs(60)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(hold)).await;
    let rss = rss_kib(pid, "VmRSS:");
    println!(
        "idle_connections {} of {conns} open",
        opened.load(Ordering::Relaxed)
    );
    println!(
        "relay_rss_mib {:.1} (before {:.1}; {:.1} KiB per connection)",
        rss as f64 / 1024.0,
        before as f64 / 1024.0,
        (rss.saturating_sub(before)) as f64 / conns.max(1) as f64
    );
    for t in tasks {
        t.abort();
    }
}

async fn burst(url: String, pid: u32, puts: u64, subscribers: usize, slow: usize) {
    let delivered: Vec<Arc<AtomicU64>> = (0..subscribers)
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    let burst_done = Arc::new(tokio::sync::Notify::new());
    let closed: Vec<Arc<AtomicBool>> = (0..subscribers)
        .map(|_| Arc::new(AtomicBool::new(false)))
        .collect();
    let mut subs = Vec::new();
    for s in 0..subscribers {
        let Some(mut ws) = connect_from(&url, source(21, s)).await else {
            panic!("subscriber {s}")
        };
        ws.send(Message::text(
            json!({"#": format!("bs{s}"), "get": {"#": "burst/soul"}}).to_string(),
        ))
        .await
        .expect("subscribe");
        let (n, gone) = (delivered[s].clone(), closed[s].clone());
        let is_slow = s < slow;
        let wake = burst_done.clone();
        subs.push(tokio::spawn(async move {
            if is_slow {
                // Stops reading until the burst is over, then reads what
                // reached its socket to see whether the relay dropped it.
                wake.notified().await;
                loop {
                    match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                        Ok(Some(Ok(_))) => {}
                        Ok(_) => {
                            gone.store(true, Ordering::Relaxed);
                            return;
                        }
                        Err(_) => return,
                    }
                }
            }
            let mut seen = HashSet::new();
            loop {
                match tokio::time::timeout(Duration::from_secs(15), ws.next()).await {
                    Ok(Some(Ok(Message::Text(t)))) => {
                        for m in messages(t.as_str()) {
                            if let Some(node) = m["put"]["burst/soul"].as_object() {
                                for k in node.keys().filter(|k| *k != "_") {
                                    if seen.insert(k.clone()) {
                                        n.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                            }
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    _ => {
                        gone.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let Some(ws) = connect_from(&url, source(21, 250)).await else {
        panic!("writer")
    };
    let (mut tx, mut rx) = ws.split();
    let began = Instant::now();
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(pid, "VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let mut sent = 0u64;
    let mut acked = 0u64;
    let value = json!("x".repeat(100));
    while acked < puts && began.elapsed() < Duration::from_secs(300) {
        while sent < puts && sent - acked < 1000 {
            tx.feed(Message::text(put(
                &format!("p{sent}x"),
                "burst/soul",
                &format!("k{sent}"),
                &value,
                now_ms(),
            )))
            .await
            .expect("send");
            sent += 1;
        }
        tx.flush().await.expect("flush");
        match tokio::time::timeout(Duration::from_secs(10), rx.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                acked += messages(t.as_str())
                    .iter()
                    .filter(|m| m["ok"] == json!(true))
                    .count() as u64;
            }
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    let secs = began.elapsed().as_secs_f64();
    burst_done.notify_waiters();
    tokio::time::sleep(Duration::from_secs(6)).await;
    sampling.abort();
    println!(
        "acked_puts {acked} of {puts} in {secs:.2} s = {:.0}/s",
        acked as f64 / secs
    );
    for s in 0..subscribers {
        println!(
            "subscriber {s}{}: {} delivered{}",
            if s < slow { " (stopped reading)" } else { "" },
            delivered[s].load(Ordering::Relaxed),
            if closed[s].load(Ordering::Relaxed) {
                ", dropped"
            } else {
                ""
            }
        );
    }
    println!(
        "relay_rss_mib peak {:.1} (VmHWM {:.1})",
        peak.load(Ordering::Relaxed) as f64 / 1024.0,
        rss_kib(pid, "VmHWM:") as f64 / 1024.0
    );
    for s in subs {
        s.abort();
    }
}

/// The soak's shared tallies.
#[derive(Default)]
struct Tally {
    acked: std::sync::Mutex<Vec<(String, String, u64)>>,
    puts: AtomicU64,
    gets: AtomicU64,
    reconnects: AtomicU64,
    hostile: AtomicU64,
    errors: AtomicU64,
}

/// Keys each soak client writes, over and over (the data stays bounded, so
/// memory should flatten once every key exists).
const SOAK_KEYS: u64 = 40;

async fn soak_client(url: String, c: usize, until: Instant, tally: Arc<Tally>) {
    let mut n = 0u64;
    let mut state = 0.0f64;
    let soul = format!("soak/{}", c % 500);
    while Instant::now() < until {
        let Some(mut ws) = connect_from(&url, source(22, c)).await else {
            tally.errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        tally.reconnects.fetch_add(1, Ordering::Relaxed);
        let _ = ws
            .send(Message::text(
                json!({"#": format!("sub{c}_{n}"), "get": {"#": soul}}).to_string(),
            ))
            .await;
        // A session of 20–60 actions, then a reconnect.
        for _ in 0..(20 + c % 40) {
            if Instant::now() >= until {
                break;
            }
            n += 1;
            let id = format!("s{c}x{n}y");
            let text = match n % 10 {
                0 => {
                    tally.hostile.fetch_add(1, Ordering::Relaxed);
                    ["{junk", r#"{"put":{"x":1}}"#, &"[".repeat(200)][(n as usize / 10) % 3]
                        .to_owned()
                }
                1..=3 => {
                    tally.gets.fetch_add(1, Ordering::Relaxed);
                    json!({"#": id, "get": {"#": format!("soak/{}", n % 500)}}).to_string()
                }
                _ => {
                    tally.puts.fetch_add(1, Ordering::Relaxed);
                    // Strictly increasing states: a later write always wins.
                    state = now_ms().max(state + 0.001);
                    put(
                        &id,
                        &soul,
                        &format!("c{c}k{}", n % SOAK_KEYS),
                        &json!(n),
                        state,
                    )
                }
            };
            if ws.send(Message::text(text)).await.is_err() {
                break;
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            let wants_ack = n % 10 >= 4;
            while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline.into(), ws.next()).await
            {
                if let Message::Text(t) = msg
                    && messages(t.as_str()).iter().any(|m| m["@"] == id.as_str())
                {
                    let ok = messages(t.as_str())
                        .iter()
                        .any(|m| m["@"] == id.as_str() && m["ok"] == json!(true));
                    if wants_ack && ok {
                        let key = format!("c{c}k{}", n % SOAK_KEYS);
                        tally
                            .acked
                            .lock()
                            .expect("lock")
                            .push((soul.clone(), key, n));
                    }
                    break;
                }
                if n % 10 <= 3 {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(200 + (c as u64 * 7) % 400)).await;
        }
    }
}

async fn soak(url: String, pid: u32, clients: usize, minutes: f64) {
    let tally = Arc::new(Tally::default());
    let began = Instant::now();
    let until = began + Duration::from_secs_f64(minutes * 60.0);
    let tasks: Vec<_> = (0..clients)
        .map(|c| tokio::spawn(soak_client(url.clone(), c, until, tally.clone())))
        .collect();
    println!(
        "{:>8} {:>10} {:>10} {:>8} {:>9} {:>10}",
        "t_s", "rss_mib", "puts", "gets", "hostile", "reconnects"
    );
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(10)).await;
        println!(
            "{:>8.0} {:>10.1} {:>10} {:>8} {:>9} {:>10}",
            began.elapsed().as_secs_f64(),
            rss_kib(pid, "VmRSS:") as f64 / 1024.0,
            tally.puts.load(Ordering::Relaxed),
            tally.gets.load(Ordering::Relaxed),
            tally.hostile.load(Ordering::Relaxed),
            tally.reconnects.load(Ordering::Relaxed),
        );
    }
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    // Every acked write reads back.
    let acked = tally.acked.lock().expect("lock").clone();
    let mut lost = 0;
    let Some(mut ws) = connect_from(&url, IpAddr::V4(Ipv4Addr::new(127, 98, 0, 1))).await else {
        panic!("cannot read back")
    };
    for s in 0..500 {
        let soul = format!("soak/{s}");
        let id = format!("check{s}");
        ws.send(Message::text(
            json!({"#": id, "get": {"#": soul}}).to_string(),
        ))
        .await
        .expect("get");
        let mut node = Value::Null;
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await
        {
            if let Message::Text(t) = msg
                && let Some(m) = messages(t.as_str())
                    .into_iter()
                    .find(|m| m["@"] == id.as_str())
            {
                node = m["put"][&soul].clone();
                break;
            }
        }
        // The value a key holds is its last acked write, or a later one
        // (sent, its ack not waited for).
        lost += acked
            .iter()
            .filter(|(sl, k, v)| *sl == soul && node[k].as_u64().is_none_or(|got| got < *v))
            .count();
    }
    println!(
        "soak {clients} clients {minutes} min: {} acked puts, {lost} lost; {} gets, {} hostile frames, {} connections, {} connect errors; relay alive: {}",
        acked.len(),
        tally.gets.load(Ordering::Relaxed),
        tally.hostile.load(Ordering::Relaxed),
        tally.reconnects.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed),
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    );
}

#[tokio::main]
async fn main() {
    match Args::parse().run {
        Run::Latency { url, seconds, only } => latency(url, seconds, only).await,
        Run::Idle {
            url,
            pid,
            conns,
            hold,
        } => idle(url, pid, conns, hold).await,
        Run::Burst {
            url,
            pid,
            puts,
            subscribers,
            slow,
        } => burst(url, pid, puts, subscribers, slow).await,
        Run::Soak {
            url,
            pid,
            clients,
            minutes,
        } => soak(url, pid, clients, minutes).await,
    }
}
