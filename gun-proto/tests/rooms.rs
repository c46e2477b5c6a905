//! WebRTC rooms in the engine: joining subscribes and announces through the
//! relays we dialed; newer announcements are handed over for dialing;
//! signalling comes back only as replies to ids we sent; peers met directly
//! get our gets replayed and are served, with no greeting.

mod common;

use common::{T0, at, messages};
use gun_proto::harness::Node;
use gun_proto::{Call, Config, Event, Input, PeerId, Role};
use serde_json::json;

const ROOM: &str = "/RTC/meet<?99";

fn client() -> Node {
    let mut cfg = Config::new(3);
    cfg.pid = Some("me".into());
    let mut n = Node::new(cfg, at(10_000));
    n.input(
        at(10_000),
        Input::Connected {
            peer: PeerId(1),
            role: Role::Dialed,
        },
    )
    .expect("connect");
    n.drain(at(10_000));
    n
}

fn announcement(id: &str, pid: &str, state: f64) -> String {
    format!(
        r##"{{"#":"{id}","put":{{"{ROOM}":{{"_":{{"#":"{ROOM}",">":{{"+":{state}}}}},"+":"{pid}"}}}}}}"##
    )
}

/// Join room `meet` at 10 s, taking 55 answers.
fn join(n: &mut Node) {
    n.input(
        at(10_000),
        Input::Call(Call::RtcJoin {
            room: "meet".into(),
            max: 55,
        }),
    )
    .expect("join");
}

#[test]
fn joining_subscribes_and_announces_through_the_relay() {
    let mut n = client();
    join(&mut n);
    let out = messages(&n.drain(at(10_000)));
    assert!(out.iter().all(|(p, _)| *p == PeerId(1)));
    let get = out.iter().find(|(_, m)| m.get.is_some()).expect("a get");
    assert!(format!("{:?}", get.1.get).contains(ROOM));
    let put = out
        .iter()
        .find(|(_, m)| m.put.is_some())
        .expect("an announcement");
    let prop = put
        .1
        .put
        .as_ref()
        .and_then(|g| g.prop(ROOM, "+"))
        .expect("+");
    assert_eq!(prop.value, gun_proto::Value::String("me".into()));
    assert_eq!(put.1.ok, Some(json!({"@": 55, "/": 0})));
    // The relay's ack of it is no refusal and no event.
    let ack = format!(
        r##"{{"#":"a","@":"{}","ok":{{"":1}}}}"##,
        put.1.id.as_deref().unwrap_or("")
    );
    n.frame(at(10_001), PeerId(1), ack.as_bytes());
    assert!(n.take_events().is_empty());
    assert_eq!(
        n.engine
            .stats()
            .refused(gun_proto::Refusal::UnsolicitedReply),
        0
    );

    // A relay that connects later gets the announcement too.
    n.input(
        at(10_002),
        Input::Connected {
            peer: PeerId(2),
            role: Role::Dialed,
        },
    )
    .expect("connect");
    let out = messages(&n.drain(at(10_002)));
    assert!(
        out.iter()
            .any(|(p, m)| *p == PeerId(2) && m.ok.is_some() && m.put.is_some())
    );
}

#[test]
fn newer_peers_are_handed_over_and_signalling_routes_back_to_us() {
    let mut n = client();
    join(&mut n);
    n.drain(at(10_000));
    // Older than our join, our own, and newer: only the last is ours to dial.
    for (id, pid, state) in [
        ("old", "them", T0 + 5_000.0),
        ("self", "me", T0 + 10_500.0),
        ("new", "them", T0 + 10_500.0),
    ] {
        n.frame(
            at(10_500),
            PeerId(1),
            announcement(id, pid, state).as_bytes(),
        );
    }
    let events = n.take_events();
    assert_eq!(
        events,
        [Event::RtcAnnounced {
            via: PeerId(1),
            room: "meet".into(),
            pid: "them".into(),
            reply_to: "new".into(),
        }]
    );
    // Our offer goes to the relay as a reply to the announcement.
    let offer = json!({"offer": {"type": "offer", "sdp": "v=0"}, "id": "me"});
    n.input(
        at(10_600),
        Input::Call(Call::RtcSignal {
            via: PeerId(1),
            reply_to: "new".into(),
            rtc: offer.clone(),
        }),
    )
    .expect("signal");
    let out = messages(&n.drain(at(10_600)));
    let (to, sent) = &out[0];
    assert_eq!(*to, PeerId(1));
    assert_eq!(sent.ack.as_deref(), Some("new"));
    assert_eq!(sent.ok, Some(json!({"rtc": offer})));
    let offer_id = sent.id.clone().expect("an id");
    // The answer, a reply to it, is handed over; signalling to an id that
    // is not ours is not.
    let answer = format!(
        r##"{{"#":"ans","@":"{offer_id}","ok":{{"rtc":{{"answer":{{"type":"answer","sdp":"v=0"}},"id":"them"}}}}}}"##
    );
    n.frame(at(10_700), PeerId(1), answer.as_bytes());
    n.frame(
        at(10_700),
        PeerId(1),
        br##"{"#":"x","@":"nobody","ok":{"rtc":{"answer":{"sdp":"v=0"},"id":"eve"}}}"##,
    );
    let events = n.take_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(matches!(&events[0], Event::RtcSignal { via, reply_to, rtc }
        if *via == PeerId(1) && reply_to == "ans" && rtc["answer"]["sdp"] == "v=0"));
    // Our ids are forgotten after a minute.
    n.frame(
        at(80_000),
        PeerId(1),
        answer.replace("\"ans\"", "\"ans2\"").as_bytes(),
    );
    assert!(n.take_events().is_empty());
}

#[test]
fn a_peer_met_directly_gets_our_gets_and_is_served_without_a_greeting() {
    let mut n = client();
    join(&mut n);
    n.input(
        at(10_000),
        Input::Call(Call::On {
            sub: gun_proto::SubId(1),
            path: gun_proto::Path::soul("doc").get("k"),
        }),
    )
    .expect("on");
    n.drain(at(10_000));
    n.input(
        at(10_100),
        Input::Connected {
            peer: PeerId(9),
            role: Role::Direct,
        },
    )
    .expect("connect");
    let out: Vec<_> = messages(&n.drain(at(10_100)))
        .into_iter()
        .filter(|(p, _)| *p == PeerId(9))
        .collect();
    assert!(
        out.iter().all(|(_, m)| m.dam.is_none()),
        "no greeting: {out:?}"
    );
    assert!(
        out.iter()
            .any(|(_, m)| format!("{:?}", m.get).contains("doc"))
    );
    // Rooms are met on relays: no announcement over the channel, and no
    // subscription to the room there.
    assert!(out.iter().all(|(_, m)| m.put.is_none()));
    assert!(
        out.iter()
            .all(|(_, m)| !format!("{:?}", m.get).contains("/RTC/"))
    );
    // A peer met directly that asks for the room anyway gets no
    // announcements passed on from the relay.
    n.frame(
        at(10_150),
        PeerId(9),
        format!(r##"{{"#":"g9","get":{{"#":"{ROOM}",".":"+"}}}}"##).as_bytes(),
    );
    let sent = n.frame(
        at(10_160),
        PeerId(1),
        announcement("ann9", "them", T0 + 10_150.0).as_bytes(),
    );
    assert!(sent.iter().all(|(p, _)| *p != PeerId(9)), "{sent:?}");
    // Its put is stored and acked, as a served peer's.
    let sent = n.frame(
        at(10_200),
        PeerId(9),
        br##"{"#":"p","put":{"doc":{"_":{"#":"doc",">":{"k":1}},"k":"v"}}}"##,
    );
    let out = messages(&sent);
    assert!(
        out.iter()
            .any(|(p, m)| *p == PeerId(9) && m.ack.as_deref() == Some("p") && m.ok.is_some()),
        "{out:?}"
    );
    assert!(
        out.iter().any(|(p, m)| *p == PeerId(1) && m.put.is_some()),
        "and passed on to our relay"
    );
}
