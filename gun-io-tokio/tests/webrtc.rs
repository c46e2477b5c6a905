//! WebRTC signalling through the `gun` relay: two Gun.js peers (node, with
//! `@roamhq/wrtc`) meet in a room through our relay, open a data channel
//! (their offers, answers and candidates are replies our relay routes), and
//! keep syncing over it after the relay stops. All in a network namespace
//! of the test's own, with no ICE servers: nothing leaves the machine.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};
use serde_json::{Value, json};
use support::{Relay, assert_isolated, in_namespace};

/// A Gun.js peer with WebRTC on (`tests/interop/rtc-peer.js`).
struct RtcPeer {
    child: Child,
    stdin: ChildStdin,
    events: Receiver<Value>,
}

impl RtcPeer {
    fn start(relay: u16, room: &str) -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
        assert!(
            dir.join("node_modules/@roamhq/wrtc").is_dir(),
            "@roamhq/wrtc is not installed: run `npm ci --prefix tests/interop`"
        );
        let mut child = Command::new("node")
            .arg("rtc-peer.js")
            .env("PORT", relay.to_string())
            .env("ROOM", room)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, events) = unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            events,
        }
    }

    fn send(&mut self, cmd: &Value) {
        writeln!(self.stdin, "{cmd}").expect("command");
    }

    /// The first event `pick` takes, within `d`.
    fn wait(&self, d: Duration, pick: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) if pick(&v) => return Some(v),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

impl Drop for RtcPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn gunjs_webrtc_peers_meet_through_our_relay_and_sync_after_it_stops() {
    if !in_namespace("gunjs_webrtc_peers_meet_through_our_relay_and_sync_after_it_stops") {
        return;
    }
    assert_isolated();
    let dir = tempfile::tempdir().expect("dir");
    let relay = Relay::start(dir.path(), &[]);
    let a = RtcPeer::start(relay.port, "meet");
    std::thread::sleep(Duration::from_millis(800));
    let mut b = RtcPeer::start(relay.port, "meet");
    b.send(&json!({"sub": true}));
    let up = |p: &RtcPeer| p.wait(Duration::from_secs(20), |v| v.get("rtc").is_some());
    assert!(up(&a).is_some(), "a's data channel to b did not open");
    assert!(up(&b).is_some(), "b's data channel to a did not open");

    relay.stop();
    let mut a = a;
    a.send(&json!({"put": "over the data channel"}));
    let got = b.wait(Duration::from_secs(10), |v| {
        v["got"] == json!("over the data channel")
    });
    assert!(got.is_some(), "b did not get a's write with the relay gone");
}
