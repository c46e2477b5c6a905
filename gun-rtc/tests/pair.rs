//! Two `RtcPeers` meet with Gun.js's signalling and exchange frames, their
//! datagrams carried in memory on a virtual clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gun_proto::PeerId;
use gun_rtc::{Config, Output, RtcPeers};

struct Side {
    peers: RtcPeers,
    addr: SocketAddr,
    opened: Vec<String>,
    frames: Vec<(String, String)>,
    signals: Vec<(String, serde_json::Value)>,
}

fn side(pid: &str, port: u16) -> Side {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    Side {
        peers: RtcPeers::new(Config::new(pid, addr)),
        addr,
        opened: Vec::new(),
        frames: Vec::new(),
        signals: Vec::new(),
    }
}

/// Drains `s`'s outputs: datagrams go to `other`, the rest is recorded.
fn pump(now: Instant, s: &mut Side, other: &mut Side) -> bool {
    let mut any = false;
    while let Some(out) = s.peers.poll_output() {
        any = true;
        match out {
            Output::Transmit { to, data } => {
                assert_eq!(to, other.addr);
                other.peers.datagram(now, s.addr, &data);
            }
            Output::Signal { reply_to, rtc, .. } => s.signals.push((reply_to, rtc)),
            Output::Open { pid } => s.opened.push(pid),
            Output::Frame { pid, text } => s.frames.push((pid, text)),
            Output::Closed { pid } => panic!("{pid} closed"),
        }
    }
    any
}

fn run(
    mut now: Instant,
    a: &mut Side,
    b: &mut Side,
    until: impl Fn(&Side, &Side) -> bool,
) -> Instant {
    for _ in 0..10_000 {
        while pump(now, a, b) | pump(now, b, a) {}
        if until(a, b) {
            return now;
        }
        let next = [a.peers.poll_timeout(), b.peers.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + Duration::from_millis(10));
        now = next.max(now);
        a.peers.handle_timeout(now);
        b.peers.handle_timeout(now);
    }
    panic!("never got there");
}

#[test]
fn two_peers_meet_and_exchange_frames() {
    let start = Instant::now();
    let relay = PeerId(7);
    let (mut a, mut b) = (side("alice", 40001), side("bob", 40002));
    // Bob announced; Alice, already in the room, dials him.
    a.peers.announced(start, relay, "bob", "announce-1".into());
    pump(start, &mut a, &mut b);
    let (reply_to, offer) = a.signals.pop().expect("an offer");
    assert_eq!(reply_to, "announce-1");
    assert_eq!(offer["id"], "alice");
    let sdp = offer["offer"]["sdp"].as_str().expect("sdp");
    assert!(sdp.contains("a=candidate:"), "our candidate is in the SDP");
    assert!(sdp.contains("webrtc-datachannel"));
    // The offer reaches Bob as a reply to his announcement.
    b.peers.signalled(start, relay, "offer-1".into(), &offer);
    pump(start, &mut b, &mut a);
    let (reply_to, answer) = b.signals.pop().expect("an answer");
    assert_eq!(reply_to, "offer-1");
    assert!(
        answer["answer"]["sdp"]
            .as_str()
            .expect("sdp")
            .contains("a=candidate:")
    );
    a.peers.signalled(start, relay, "answer-1".into(), &answer);
    let now = run(start, &mut a, &mut b, |a, b| {
        !a.opened.is_empty() && !b.opened.is_empty()
    });
    assert_eq!(
        (a.opened.as_slice(), b.opened.as_slice()),
        (
            ["bob".to_owned()].as_slice(),
            ["alice".to_owned()].as_slice()
        )
    );
    assert_eq!(a.peers.connected(), 1);

    let frame = r##"{"put":{"x":{"_":{"#":"x",">":{"k":1}},"k":"v"}},"#":"m1"}"##;
    a.peers.send(now, "bob", frame).expect("sent");
    b.peers
        .send(now, "alice", r##"{"#":"m2","@":"m1","ok":1}"##)
        .expect("sent");
    run(now, &mut a, &mut b, |a, b| {
        !a.frames.is_empty() && !b.frames.is_empty()
    });
    assert_eq!(b.frames, [("alice".to_owned(), frame.to_owned())]);
    assert_eq!(a.frames[0].0, "bob");
    // A second offer from a connected peer changes nothing.
    b.peers.signalled(now, relay, "offer-2".into(), &offer);
    assert!(b.peers.poll_output().is_none());
    assert!(a.peers.send(now, "carol", "{}").is_err());
}

#[test]
fn garbage_signalling_and_datagrams_are_dropped() {
    let now = Instant::now();
    let mut a = side("alice", 40003);
    for rtc in [
        serde_json::json!({"offer": {"sdp": "not sdp"}, "id": "eve"}),
        serde_json::json!({"answer": {"sdp": "v=0"}, "id": "eve"}),
        serde_json::json!({"candidate": {"candidate": "candidate:junk"}, "id": "eve"}),
        serde_json::json!("nonsense"),
    ] {
        a.peers.signalled(now, PeerId(1), "x".into(), &rtc);
    }
    a.peers.datagram(
        now,
        "127.0.0.1:9".parse().expect("addr"),
        b"\x00\x01garbage",
    );
    assert!(a.peers.poll_output().is_none());
    assert_eq!(a.peers.connected(), 0);
}

#[test]
fn max_connections_is_honoured() {
    let now = Instant::now();
    let addr: SocketAddr = "127.0.0.1:40004".parse().expect("addr");
    let mut cfg = Config::new("alice", addr);
    cfg.max_connections = 2;
    let mut peers = RtcPeers::new(cfg);
    for pid in ["b", "c", "d", "e"] {
        peers.announced(now, PeerId(1), pid, format!("ann-{pid}"));
    }
    let offers = std::iter::from_fn(|| peers.poll_output())
        .filter(|o| matches!(o, Output::Signal { .. }))
        .count();
    assert_eq!(offers, 2);
}
