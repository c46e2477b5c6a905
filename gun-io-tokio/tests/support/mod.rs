//! Raw clients and a `gun` relay process, for tests that speak the wire
//! protocol byte by byte (the hostile suite).
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// Where hostile clients connect from.
pub const HOSTILE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
/// Where the honest client connects from (its own address: per-address
/// limits hit the hostile one).
pub const HONEST: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A `gun` relay process.
pub struct Relay {
    pub child: Child,
    pub port: u16,
}

impl Relay {
    /// Starts `gun` on a free port with `data` as its store and `extra` flags.
    pub fn start(data: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        Self::start_on(port, data, extra)
    }

    pub fn start_on(port: u16, data: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gun"))
            .args(["--port", &port.to_string(), "--data"])
            .arg(data)
            .args(["--log", "error"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("gun starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read");
        assert!(
            line.contains("listening"),
            "unexpected first line: {line:?}"
        );
        Self { child, port }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// An HTTP GET of `path` on the relay's port: (status, body).
    pub fn http(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect_timeout(&self.addr(), Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let status = out.split(' ').nth(1)?.parse().ok()?;
        let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        Some((status, body))
    }

    /// A counter of `/metrics` (summed over its label sets).
    pub fn metric(&self, name: &str) -> f64 {
        let Some((_, body)) = self.http("/metrics") else {
            return 0.0;
        };
        body.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP connection from `from` to `to`.
pub fn tcp_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let s = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.bind(SocketAddr::new(from, 0))?;
        sock.connect(to).await
    })?;
    let s = s.into_std()?;
    s.set_nonblocking(false)?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// A raw WebSocket client speaking Gun's wire protocol.
pub struct Raw {
    pub ws: WebSocket<TcpStream>,
    /// Messages read but not yet taken.
    pending: Vec<Value>,
}

impl Raw {
    pub fn connect(port: u16, from: IpAddr) -> std::io::Result<Self> {
        let tcp = tcp_from(from, SocketAddr::from(([127, 0, 0, 1], port)))?;
        tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
        let url = format!("ws://127.0.0.1:{port}/gun");
        let (ws, _) = tungstenite::client::client(url, tcp)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        ws.get_ref()
            .set_read_timeout(Some(Duration::from_millis(20)))?;
        Ok(Self {
            ws,
            pending: Vec::new(),
        })
    }

    pub fn send(&mut self, text: &str) -> bool {
        self.ws.send(Message::text(text.to_owned())).is_ok()
    }

    pub fn send_json(&mut self, v: &Value) -> bool {
        self.send(&v.to_string())
    }

    /// Reads what arrives within `d`, messages of batches taken apart.
    pub fn read_for(&mut self, d: Duration) -> Vec<Value> {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            if !self.read_some() {
                break;
            }
        }
        std::mem::take(&mut self.pending)
    }

    /// Reads until a message `pred` picks arrives, within `d`.
    pub fn wait_for(&mut self, d: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + d;
        loop {
            if let Some(i) = self.pending.iter().position(&pred) {
                return Some(self.pending.remove(i));
            }
            if Instant::now() >= deadline || !self.read_some() {
                return None;
            }
        }
    }

    /// Reads one frame (or times out); `false` once the connection is gone.
    fn read_some(&mut self) -> bool {
        match self.ws.read() {
            Ok(Message::Text(t)) => {
                match serde_json::from_str::<Value>(t.as_str()) {
                    Ok(Value::Array(items)) => self.pending.extend(items),
                    Ok(v) => self.pending.push(v),
                    Err(_) => {}
                }
                true
            }
            Ok(_) => true,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                true
            }
            Err(_) => false,
        }
    }

    /// The close frame the relay sent (its code and reason), read off the
    /// raw socket (a WebSocket client that has not answered pings would
    /// fail writing its pongs before it reports the close), within `d`.
    pub fn close_frame(&mut self, d: Duration) -> Option<(u16, String)> {
        let tcp = self.ws.get_mut();
        tcp.set_read_timeout(Some(d)).ok()?;
        let mut bytes = Vec::new();
        let _ = tcp.read_to_end(&mut bytes);
        // Server frames are unmasked: FIN|opcode, length, payload.
        let mut at = 0;
        while at + 2 <= bytes.len() {
            let opcode = bytes[at] & 0x0f;
            let (len, head) = match bytes[at + 1] & 0x7f {
                126 => (
                    usize::from(u16::from_be_bytes([
                        *bytes.get(at + 2)?,
                        *bytes.get(at + 3)?,
                    ])),
                    4,
                ),
                127 => return None,
                n => (usize::from(n), 2),
            };
            let payload = bytes.get(at + head..at + head + len)?;
            if opcode == 0x8 {
                let code = u16::from_be_bytes([*payload.first()?, *payload.get(1)?]);
                return Some((code, String::from_utf8_lossy(&payload[2..]).into_owned()));
            }
            at += head + len;
        }
        None
    }

    /// Whether the relay closed this connection (reads until it does, up to `d`).
    pub fn closed_within(&mut self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            if !self.read_some() {
                return true;
            }
        }
        false
    }
}

/// A put message of one property.
pub fn put(id: &str, soul: &str, key: &str, value: &Value, state: f64) -> Value {
    json!({"#": id, "put": {soul: {"_": {"#": soul, ">": {key: state}}, key: value}}})
}

/// Now, in Gun's milliseconds.
pub fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}

/// A fresh message id.
pub fn fresh_id(tag: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{tag}{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Whether `v` acks message `id` (ok, not err).
pub fn acks(v: &Value, id: &str) -> bool {
    v["@"] == id && v.get("err").is_none() && v.get("dam").is_none()
}

/// Whether `v` answers message `id` at all.
pub fn answers(v: &Value, id: &str) -> bool {
    v["@"] == id && v.get("dam").is_none()
}

// ----- network namespaces ----------------------------------------------------
//
// Tests whose traffic must not leave the machine (multicast, WebRTC) run
// themselves again in a network namespace of their own (`unshare -n`, which
// needs root), where the loopback is the only interface, with multicast
// routed to it. Where a namespace cannot be made, the test says so and
// passes without running.

/// Set in the copy of the test that runs inside the namespace.
const INSIDE: &str = "GUN_MULTICAST_NETNS";

/// Runs `test` inside a fresh network namespace (or says why it cannot);
/// `true` when the caller is that copy and should do the work.
pub fn in_namespace(test: &str) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let setup = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && exec \"$0\" \"$@\"";
    let probe = Command::new("unshare")
        .args(["-n", "--", "sh", "-c", setup, "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!(
            "SKIPPED {test}: cannot make a network namespace (`unshare -n` and `ip` need root); multicast is only tested inside one"
        );
        return false;
    }
    let exe = std::env::current_exe().expect("exe");
    let out = Command::new("unshare")
        .args(["-n", "--", "sh", "-c", setup])
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output()
        .expect("the test runs in the namespace");
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "inside the namespace:\n{text}\n{err}"
    );
    false
}

/// Only the loopback: the datagrams cannot go anywhere else.
pub fn assert_isolated() {
    let links = Command::new("ip")
        .args(["-o", "link"])
        .output()
        .expect("ip");
    let links = String::from_utf8_lossy(&links.stdout);
    assert!(
        links.lines().all(|l| l.contains(": lo:")),
        "not an isolated namespace: {links}"
    );
}

/// The interop scripts and their node modules.
pub fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop")
}

/// A Gun.js relay of `tests/interop` (`relay.js`, `relay-multicast.js`),
/// started with its port and data directory; killed when dropped.
pub struct GunJs(Child);

impl GunJs {
    pub fn start(script: &str, port: u16, data: &Path) -> Self {
        let mut child = Command::new("node")
            .arg(script)
            .arg(port.to_string())
            .arg(data)
            .current_dir(interop_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        while !line.contains("listening") {
            line.clear();
            let n = out.read_line(&mut line).expect("read");
            assert!(n > 0, "the Gun.js relay did not start");
        }
        // Its other lines are not read; keep the pipe open.
        std::mem::forget(out);
        Self(child)
    }
}

impl Drop for GunJs {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
