//! The Gun.js interoperability harness: real Gun.js processes (the pinned
//! `gun@0.2020.1241` in `tests/interop`) and real Rust instances, joined
//! through frame-logging WebSocket taps, behind one [`Peer`] interface so the
//! scenarios in `tests/tests/interop.rs` run unchanged in every topology.
//!
//! - [`JsAgent`]: a node process running `interop/agent.js`, as a client or
//!   as a relay (disk store, AXE on, as `npm install gun` runs it).
//! - [`RustClient`] and [`RustRelay`]: `gun-io-blocking` instances; the
//!   relay keeps its data in sled.
//! - [`Tap`]: a WebSocket proxy in front of the relay, one per client, that
//!   records every frame both ways in a [`FrameLog`], so a failing scenario
//!   prints the conversation that led to it.
//!
//! Every Gun.js instance runs with `multicast: false` on 127.0.0.1.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use gun_core::GunOptions;
use serde_json::{Value, json};

/// What a scenario step returns: an error says what was expected and seen.
pub type Outcome<T = ()> = Result<T, String>;

/// How long any single step may take before it counts as failed.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The directory holding `package.json` and the node scripts.
pub fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Whether `npm ci` has installed the pinned Gun.js.
pub fn gunjs_installed() -> bool {
    interop_dir().join("node_modules/gun/gun.js").exists()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A local port nobody listens on (at the time of asking).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

// ---------------------------------------------------------------------------
// Frame log and taps

/// Every frame the taps saw, in order, with the time and the link.
#[derive(Debug)]
pub struct FrameLog {
    start: Instant,
    lines: Mutex<Vec<(f64, String, String)>>,
}

/// Longest frame text printed whole.
const FRAME_SHOWN: usize = 600;

impl FrameLog {
    /// An empty log; times count from now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            lines: Mutex::new(Vec::new()),
        })
    }

    /// Records one frame.
    pub fn note(&self, link: &str, text: &str) {
        let ms = self.start.elapsed().as_secs_f64() * 1000.0;
        lock(&self.lines).push((ms, link.to_owned(), text.to_owned()));
    }

    /// Records a connection event.
    pub fn event(&self, link: &str, what: &str) {
        self.note(link, &format!("-- {what} --"));
    }

    /// A position to print from.
    pub fn mark(&self) -> usize {
        lock(&self.lines).len()
    }

    /// The whole frames sent on links whose name contains `link`.
    pub fn frames(&self, link: &str) -> Vec<String> {
        lock(&self.lines)
            .iter()
            .filter(|(_, l, _)| l.contains(link))
            .map(|(_, _, t)| t.clone())
            .collect()
    }

    /// The frames since `mark`, at most `max` lines (the first and last half),
    /// long frames cut.
    pub fn since(&self, mark: usize, max: usize) -> String {
        let lines = lock(&self.lines);
        let part: Vec<String> = lines[mark.min(lines.len())..]
            .iter()
            .map(|(ms, link, text)| format!("[{ms:>10.3} ms] {link}: {}", cut(text)))
            .collect();
        if part.len() <= max {
            return part.join("\n");
        }
        let half = max / 2;
        format!(
            "{}\n… {} frames left out …\n{}",
            part[..half].join("\n"),
            part.len() - 2 * half,
            part[part.len() - half..].join("\n")
        )
    }
}

fn cut(text: &str) -> String {
    if text.len() <= FRAME_SHOWN || std::env::var_os("INTEROP_FULL_FRAMES").is_some() {
        return text.to_owned();
    }
    let mut end = FRAME_SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

/// A WebSocket proxy that forwards every connection to `upstream` and logs
/// each frame both ways under its name.
pub struct Tap {
    port: u16,
    /// Connections that reached the relay.
    opened: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Tap {
    /// Listens on a free local port.
    pub fn start(name: &str, upstream: String, log: Arc<FrameLog>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("tap binds");
        let port = listener.local_addr().expect("tap addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let name = name.to_owned();
        let stop2 = stop.clone();
        let opened = Arc::new(AtomicUsize::new(0));
        let opened2 = opened.clone();
        let thread = std::thread::spawn(move || {
            let mut n = 0;
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        n += 1;
                        let link = format!("{name}#{n}");
                        let (up, log, stop) = (upstream.clone(), log.clone(), stop2.clone());
                        let opened = opened2.clone();
                        std::thread::spawn(move || {
                            if let Err(e) = pump(conn, &up, &link, &log, &stop, &opened) {
                                log.event(&link, &format!("closed: {e}"));
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            port,
            opened,
            stop,
            thread: Some(thread),
        }
    }

    /// How many connections have reached the relay through this tap.
    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    /// The URL clients dial.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/gun", self.port)
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Ws = tungstenite::WebSocket<TcpStream>;

/// Carries frames between one client connection and its upstream socket.
fn pump(
    conn: TcpStream,
    upstream: &str,
    link: &str,
    log: &FrameLog,
    stop: &AtomicBool,
    opened: &AtomicUsize,
) -> Outcome {
    conn.set_nonblocking(false).map_err(|e| e.to_string())?;
    let mut down: Ws = tungstenite::accept(conn).map_err(|e| format!("accept: {e}"))?;
    let addr = upstream
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let stream = TcpStream::connect(&addr).map_err(|e| format!("relay down: {e}"))?;
    let (mut up, _) =
        tungstenite::client(upstream, stream).map_err(|e| format!("dial relay: {e}"))?;
    log.event(link, "open");
    opened.fetch_add(1, Ordering::SeqCst);
    for ws in [&mut down, &mut up] {
        ws.get_mut()
            .set_read_timeout(Some(Duration::from_millis(1)))
            .map_err(|e| e.to_string())?;
    }
    let to_relay = format!("{link} → relay");
    let to_client = format!("relay → {link}");
    while !stop.load(Ordering::Relaxed) {
        let a = relay_one(&mut down, &mut up, &to_relay, log)?;
        let b = relay_one(&mut up, &mut down, &to_client, log)?;
        if !(a || b) {
            std::thread::yield_now();
        }
    }
    Ok(())
}

/// Moves one frame from `from` to `to` if one is ready; `Ok(false)` if none.
fn relay_one(from: &mut Ws, to: &mut Ws, link: &str, log: &FrameLog) -> Outcome<bool> {
    use tungstenite::{Error, Message};
    match from.read() {
        Ok(Message::Text(t)) => {
            log.note(link, t.as_str());
            to.send(Message::Text(t))
                .map_err(|e| format!("{link}: {e}"))?;
            Ok(true)
        }
        Ok(Message::Binary(b)) => {
            log.note(link, &format!("(binary, {} bytes)", b.len()));
            to.send(Message::Binary(b))
                .map_err(|e| format!("{link}: {e}"))?;
            Ok(true)
        }
        Ok(Message::Close(_)) => {
            let _ = to.close(None);
            let _ = to.flush();
            Err(format!("{link}: closed"))
        }
        Ok(_) => Ok(true),
        Err(Error::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(false)
        }
        Err(e) => {
            let _ = to.close(None);
            let _ = to.flush();
            Err(format!("{link}: {e}"))
        }
    }
}

// ---------------------------------------------------------------------------
// Peers

/// Updates a listener saw: `(key, value)`.
pub type Updates = Receiver<(Option<String>, Value)>;
type UpdateSender = Sender<(Option<String>, Value)>;

/// Any peer of a topology: a client or a relay.
pub trait Peer: Send + Sync {
    /// For messages.
    fn name(&self) -> String;
    /// This peer's copy of each node (states included), `None` if it has none.
    fn nodes(&self, souls: &[String]) -> Outcome<BTreeMap<String, Option<Value>>>;
}

/// A client the scenarios drive: a Gun.js or a Rust one.
pub trait Client: Peer {
    /// `get(path[0]).get(path[1])….put(value)`, waiting for the ack.
    fn put(&self, path: &[&str], value: Value) -> Outcome;
    /// Puts `value` at `soul.key` with an explicit HAM state, without waiting
    /// for an ack: a Gun.js relay never acks a put that loses HAM.
    fn put_at(&self, soul: &str, key: &str, value: Value, state: f64) -> Outcome;
    /// `set(value)` on the node at `path`.
    fn set(&self, path: &[&str], value: Value) -> Outcome;
    /// Puts `soul.k{i} = i` for `i` in `0..n`, all in flight at once;
    /// returns how many were not acked (within [`PATIENCE`]).
    fn burst(&self, soul: &str, n: usize) -> Outcome<usize>;
    /// `once` with a wait for peers; `None` when not found.
    fn once(&self, path: &[&str], wait: Duration) -> Outcome<Option<Value>>;
    /// `on`: every update.
    fn on(&self, path: &[&str]) -> Outcome<Updates>;
    /// `map().on`: every update of every item.
    fn map(&self, path: &[&str]) -> Outcome<Updates>;
    /// A lex get of the keys of `soul` starting with `prefix`: the keys
    /// this peer then holds of that node.
    fn lex_keys(&self, soul: &str, prefix: &str) -> Outcome<Vec<String>>;
    /// Whether its live queries survive a relay restart (it asks again on
    /// reconnect). Gun.js clients do not.
    fn resubscribes(&self) -> bool {
        true
    }
}

/// A node process running `agent.js`.
pub struct JsAgent {
    name: String,
    child: Mutex<Child>,
    stdin: Mutex<ChildStdin>,
    pending: Arc<Mutex<HashMap<u64, Sender<Value>>>>,
    subs: Arc<Mutex<HashMap<u64, UpdateSender>>>,
    next: AtomicU64,
    first: Receiver<Value>,
}

impl JsAgent {
    fn spawn(name: &str, args: &[String]) -> Outcome<Self> {
        let mut child = Command::new("node")
            .arg("agent.js")
            .args(args)
            .current_dir(interop_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("node agent.js: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let pending: Arc<Mutex<HashMap<u64, Sender<Value>>>> = Arc::default();
        let subs: Arc<Mutex<HashMap<u64, UpdateSender>>> = Arc::default();
        let (first_tx, first) = crossbeam_channel::unbounded();
        let (p, s, who) = (pending.clone(), subs.clone(), name.to_owned());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Some(json) = line.strip_prefix("@@ ") else {
                    continue;
                };
                let Ok(v) = serde_json::from_str::<Value>(json) else {
                    eprintln!("{who}: unreadable answer {json}");
                    continue;
                };
                if let Some(id) = v.get("id").and_then(Value::as_u64) {
                    if let Some(tx) = lock(&p).remove(&id) {
                        let _ = tx.send(v);
                    }
                } else if let Some(sub) = v.get("sub").and_then(Value::as_u64) {
                    if let Some(tx) = lock(&s).get(&sub) {
                        let key = v.get("key").and_then(Value::as_str).map(str::to_owned);
                        let _ = tx.send((key, v.get("value").cloned().unwrap_or(Value::Null)));
                    }
                } else {
                    let _ = first_tx.send(v);
                }
            }
        });
        Ok(Self {
            name: name.to_owned(),
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            pending,
            subs,
            next: AtomicU64::new(1),
            first,
        })
    }

    /// A Gun.js client dialing `url`.
    pub fn client(name: &str, url: &str) -> Outcome<Self> {
        let a = Self::spawn(name, &["client".into(), url.into()])?;
        a.first
            .recv_timeout(PATIENCE)
            .map_err(|_| format!("{name} did not start"))?;
        Ok(a)
    }

    /// A Gun.js relay on `port`, with its radisk store in `dir`.
    pub fn relay(name: &str, port: u16, dir: &std::path::Path) -> Outcome<Self> {
        Self::listening(
            name,
            &["relay".into(), port.to_string(), dir.display().to_string()],
        )
    }

    /// A Gun.js relay on `port` serving https/wss with `cert` and `key` (PEM).
    pub fn relay_tls(
        name: &str,
        port: u16,
        dir: &std::path::Path,
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Outcome<Self> {
        let args = [
            "relay".into(),
            port.to_string(),
            dir.display().to_string(),
            cert.display().to_string(),
            key.display().to_string(),
        ];
        Self::listening(name, &args)
    }

    fn listening(name: &str, args: &[String]) -> Outcome<Self> {
        let a = Self::spawn(name, args)?;
        a.first
            .recv_timeout(PATIENCE)
            .map_err(|_| format!("{name} did not start listening"))?;
        Ok(a)
    }

    /// Sends a command and waits for its answer.
    pub fn call(&self, mut cmd: Value, timeout: Duration) -> Outcome<Value> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        cmd["id"] = json!(id);
        let (tx, rx) = crossbeam_channel::bounded(1);
        lock(&self.pending).insert(id, tx);
        {
            let mut stdin = lock(&self.stdin);
            writeln!(stdin, "{cmd}")
                .and_then(|()| stdin.flush())
                .map_err(|e| format!("{}: {e}", self.name))?;
        }
        let answer = rx.recv_timeout(timeout).map_err(|_| {
            lock(&self.pending).remove(&id);
            format!(
                "{}: no answer to {} within {timeout:?}",
                self.name, cmd["op"]
            )
        })?;
        match answer.get("error") {
            Some(e) => Err(format!("{}: {e}", self.name)),
            None => Ok(answer),
        }
    }

    fn listen(&self, op: &str, path: &[&str]) -> Outcome<Updates> {
        let sub = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = crossbeam_channel::unbounded();
        lock(&self.subs).insert(sub, tx);
        self.call(json!({"op": op, "path": path, "sub": sub}), PATIENCE)?;
        Ok(rx)
    }

    /// Kills the process (SIGKILL).
    pub fn kill(&self) {
        let mut c = lock(&self.child);
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for JsAgent {
    fn drop(&mut self) {
        self.kill();
    }
}

fn acked(v: &Value) -> Outcome {
    if v["ok"] == json!(true) {
        Ok(())
    } else {
        Err(format!("not acked: {v}"))
    }
}

impl Peer for JsAgent {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn nodes(&self, souls: &[String]) -> Outcome<BTreeMap<String, Option<Value>>> {
        let v = self.call(
            json!({"op": "nodes", "souls": souls, "wait": 1000}),
            PATIENCE,
        )?;
        let nodes = v["nodes"].as_object().ok_or("no nodes in answer")?;
        Ok(souls
            .iter()
            .map(|s| {
                let n = nodes.get(s).filter(|n| !n.is_null()).cloned();
                (s.clone(), n)
            })
            .collect())
    }
}

impl Client for JsAgent {
    fn resubscribes(&self) -> bool {
        false
    }

    fn put(&self, path: &[&str], value: Value) -> Outcome {
        acked(&self.call(json!({"op": "put", "path": path, "value": value}), PATIENCE)?)
    }

    fn put_at(&self, soul: &str, key: &str, value: Value, state: f64) -> Outcome {
        let graph = json!({ soul: { "_": {"#": soul, ">": { key: state }}, key: value } });
        acked(&self.call(json!({"op": "raw", "graph": graph}), PATIENCE)?)
    }

    fn set(&self, path: &[&str], value: Value) -> Outcome {
        acked(&self.call(json!({"op": "set", "path": path, "value": value}), PATIENCE)?)
    }

    fn burst(&self, soul: &str, n: usize) -> Outcome<usize> {
        let wait = u64::try_from(PATIENCE.as_millis()).unwrap_or(u64::MAX);
        let v = self.call(
            json!({"op": "burst", "soul": soul, "n": n, "wait": wait}),
            PATIENCE * 2,
        )?;
        if let Some(e) = v.get("err").filter(|e| !e.is_null()) {
            return Err(format!("a put failed: {e}"));
        }
        let acked = v["acked"].as_u64().and_then(|a| usize::try_from(a).ok());
        Ok(n - acked.ok_or_else(|| format!("bad answer {v}"))?.min(n))
    }

    fn once(&self, path: &[&str], wait: Duration) -> Outcome<Option<Value>> {
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        let v = self.call(
            json!({"op": "once", "path": path, "wait": wait_ms}),
            wait + PATIENCE,
        )?;
        Ok(match v.get("value") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.clone()),
        })
    }

    fn on(&self, path: &[&str]) -> Outcome<Updates> {
        self.listen("on", path)
    }

    fn map(&self, path: &[&str]) -> Outcome<Updates> {
        self.listen("map", path)
    }

    fn lex_keys(&self, soul: &str, prefix: &str) -> Outcome<Vec<String>> {
        let v = self.call(
            json!({"op": "lex", "soul": soul, "prefix": prefix, "wait": 2000}),
            PATIENCE,
        )?;
        serde_json::from_value(v["keys"].clone()).map_err(|e| e.to_string())
    }
}

/// A Rust client (gun-io-blocking) dialing one relay.
pub struct RustClient {
    name: String,
    gun: gun_io_blocking::Gun,
}

impl RustClient {
    /// Connects to `url` (waits for the connection).
    pub fn connect(name: &str, url: &str) -> Outcome<Self> {
        let opts = GunOptions {
            max_backoff: Duration::from_millis(200),
            put_timeout: PATIENCE,
            ..GunOptions::with_relay(url)
        };
        let gun = gun_io_blocking::Gun::without_keys(opts).map_err(|e| e.to_string())?;
        if !gun.wait_for_connection(10_000) {
            return Err(format!("{name} could not connect to {url}"));
        }
        Ok(Self {
            name: name.to_owned(),
            gun,
        })
    }

    /// The instance.
    pub fn gun(&self) -> &gun_io_blocking::Gun {
        &self.gun
    }

    fn chain(&self, path: &[&str]) -> gun_io_blocking::Chain {
        let mut c = self.gun.get(path[0]);
        for k in &path[1..] {
            c = c.get(*k);
        }
        c
    }
}

fn listen_rust(c: &gun_io_blocking::Chain, map: bool) -> Updates {
    let (tx, rx) = crossbeam_channel::unbounded();
    let cb = move |v: Value, k: Option<String>| drop(tx.send((k, v)));
    if map {
        c.map(cb);
    } else {
        c.on(cb);
    }
    rx
}

fn rust_nodes(gun: &gun_core::Gun, souls: &[String]) -> Outcome<BTreeMap<String, Option<Value>>> {
    souls
        .iter()
        .map(|s| {
            let n = gun
                .get(s.clone())
                .once_value()
                .wait()
                .map_err(|e| e.to_string())?;
            Ok((s.clone(), n))
        })
        .collect()
}

impl Peer for RustClient {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn nodes(&self, souls: &[String]) -> Outcome<BTreeMap<String, Option<Value>>> {
        rust_nodes(self.gun.core(), souls)
    }
}

impl Client for RustClient {
    fn put(&self, path: &[&str], value: Value) -> Outcome {
        self.chain(path)
            .put_acked(value)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn put_at(&self, soul: &str, key: &str, value: Value, state: f64) -> Outcome {
        // The completion is dropped: the put goes out, its ack is not awaited.
        drop(
            self.gun
                .core()
                .get(soul)
                .get(key)
                .put_with_state(value, state),
        );
        Ok(())
    }

    fn set(&self, path: &[&str], value: Value) -> Outcome {
        self.chain(path)
            .set_acked(value)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn burst(&self, soul: &str, n: usize) -> Outcome<usize> {
        let node = self.gun.core().get(soul);
        let puts: Vec<_> = (0..n)
            .map(|i| node.get(format!("k{i}")).put_acked(json!(i)))
            .collect();
        let mut unacked = 0;
        for p in puts {
            match p.wait() {
                Ok(_) => {}
                Err(gun_core::GunError::Network(_)) => unacked += 1,
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(unacked)
    }

    fn once(&self, path: &[&str], wait: Duration) -> Outcome<Option<Value>> {
        let _ = wait; // the client's `once_wait` (options) applies
        self.chain(path).once_value().map_err(|e| e.to_string())
    }

    fn on(&self, path: &[&str]) -> Outcome<Updates> {
        Ok(listen_rust(&self.chain(path), false))
    }

    fn map(&self, path: &[&str]) -> Outcome<Updates> {
        Ok(listen_rust(&self.chain(path), true))
    }

    fn lex_keys(&self, soul: &str, prefix: &str) -> Outcome<Vec<String>> {
        // What the lex once answers (a whole `once` now would fetch the rest).
        let part = self
            .gun
            .get(soul)
            .once_prefix(prefix)
            .map_err(|e| e.to_string())?;
        Ok(node_keys(part.as_ref()))
    }
}

/// The data keys of a node (not `_`), sorted.
pub fn node_keys(node: Option<&Value>) -> Vec<String> {
    let mut keys: Vec<String> = node
        .and_then(Value::as_object)
        .map(|o| o.keys().filter(|k| *k != "_").cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// A relay a topology runs, restartable with its data kept on disk.
pub trait Relay: Peer {
    /// Where clients (taps) dial.
    fn url(&self) -> String;
    /// Stops the relay and starts it again on the same port and data.
    fn restart(&mut self) -> Outcome;
}

/// A Rust relay (gun-io-blocking) with a sled store in a temporary directory.
pub struct RustRelay {
    port: u16,
    dir: tempfile::TempDir,
    gun: Option<gun_io_blocking::Gun>,
}

impl RustRelay {
    /// Starts on a free port.
    pub fn start() -> Outcome<Self> {
        let mut r = Self {
            port: free_port(),
            dir: tempfile::tempdir().map_err(|e| e.to_string())?,
            gun: None,
        };
        r.open()?;
        Ok(r)
    }

    fn open(&mut self) -> Outcome {
        let opts = GunOptions {
            radisk: true,
            storage_path: Some(self.dir.path().join("radata").display().to_string()),
            ..GunOptions::relay_server(self.port)
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            match gun_io_blocking::Gun::without_keys(opts.clone()) {
                Ok(g) => {
                    self.gun = Some(g);
                    return Ok(());
                }
                Err(e) if Instant::now() > deadline => return Err(format!("rust relay: {e}")),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn gun(&self) -> Outcome<&gun_io_blocking::Gun> {
        self.gun
            .as_ref()
            .ok_or_else(|| "the rust relay is down".into())
    }
}

impl Peer for RustRelay {
    fn name(&self) -> String {
        "rust-relay".into()
    }

    fn nodes(&self, souls: &[String]) -> Outcome<BTreeMap<String, Option<Value>>> {
        rust_nodes(self.gun()?.core(), souls)
    }
}

impl Relay for RustRelay {
    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/gun", self.port)
    }

    fn restart(&mut self) -> Outcome {
        if let Some(g) = self.gun.take() {
            g.shutdown()
                .map_err(|e| format!("rust relay shutdown: {e}"))?;
        }
        self.open()
    }
}

/// A Gun.js relay (radisk store, AXE on) in a temporary directory.
pub struct JsRelay {
    port: u16,
    dir: tempfile::TempDir,
    agent: Option<JsAgent>,
}

impl JsRelay {
    /// Starts on a free port.
    pub fn start() -> Outcome<Self> {
        let port = free_port();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let agent = JsAgent::relay("gunjs-relay", port, &dir.path().join("radata"))?;
        Ok(Self {
            port,
            dir,
            agent: Some(agent),
        })
    }

    fn agent(&self) -> Outcome<&JsAgent> {
        self.agent
            .as_ref()
            .ok_or_else(|| "the Gun.js relay is down".into())
    }

    /// Its radisk directory.
    pub fn radata(&self) -> PathBuf {
        self.dir.path().join("radata")
    }

    /// Kills the process (SIGKILL); its radisk directory stays.
    pub fn kill(&mut self) {
        if let Some(a) = self.agent.take() {
            a.kill();
        }
    }
}

impl Peer for JsRelay {
    fn name(&self) -> String {
        "gunjs-relay".into()
    }

    fn nodes(&self, souls: &[String]) -> Outcome<BTreeMap<String, Option<Value>>> {
        self.agent()?.nodes(souls)
    }
}

impl Relay for JsRelay {
    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/gun", self.port)
    }

    /// Kills the process (SIGKILL: acked writes must already be on disk)
    /// and starts a new one on the same port and directory.
    fn restart(&mut self) -> Outcome {
        if let Some(a) = self.agent.take() {
            a.kill();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            match JsAgent::relay("gunjs-relay", self.port, &self.dir.path().join("radata")) {
                Ok(a) => {
                    self.agent = Some(a);
                    return Ok(());
                }
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}
