//! What one peer sends cannot change what another peer's writes do: a put
//! the store refuses fails alone and leaves nothing in memory; `><` cannot
//! stop delivery nor learn peer ids; replies count only from the peers a
//! message went to; every shared budget is accounted per peer.

mod common;

use common::{Relay, messages};
use gun_proto::{PeerId, Value};

fn put(id: &str, soul: &str, key: &str, value: &str, state: u64) -> String {
    format!(
        r##"{{"#":"{id}","put":{{"{soul}":{{"_":{{"#":"{soul}",">":{{"{key}":{state}}}}},"{key}":"{value}"}}}}}}"##
    )
}

fn acks(frames: &[(PeerId, gun_proto::wire::Frame)], to: u64) -> Vec<(String, bool)> {
    messages(frames)
        .into_iter()
        .filter(|(p, m)| p.0 == to && m.ack.is_some() && m.dam.is_none())
        .map(|(_, m)| (m.ack.unwrap_or_default().into(), m.err.is_none()))
        .collect()
}

#[test]
fn a_put_the_store_refuses_fails_alone_and_is_undone() {
    let mut r = Relay::new(1);
    r.node.refuse_souls = vec!["poison".into()];
    r.connect(1);
    r.connect(2);
    // Stored before the store turned against that soul: the value the
    // refused put overwrites in memory.
    r.node.refuse_souls.clear();
    r.frame(1, &put("w0", "poison/x", "k", "old", 1));
    r.node.refuse_souls = vec!["poison".into()];
    // One frame: an honest put, a poisoned one; at the same turn another
    // client's put.
    let frame = format!(
        "[{},{}]",
        put("a1", "fine", "k", "yes", 2),
        put("a2", "poison/x", "k", "new", 3)
    );
    r.node
        .input(
            r.now,
            gun_proto::Input::Frame {
                peer: PeerId(1),
                data: frame.as_bytes(),
            },
        )
        .expect("frame");
    r.node
        .input(
            r.now,
            gun_proto::Input::Frame {
                peer: PeerId(2),
                data: put("b1", "other", "k", "theirs", 2).as_bytes(),
            },
        )
        .expect("frame");
    let out = r.drain();
    let mut one = acks(&out, 1);
    one.sort();
    assert_eq!(one, [("a1".into(), true), ("a2".into(), false)]);
    assert_eq!(
        acks(&out, 2),
        [("b1".into(), true)],
        "another peer's put is unharmed"
    );
    let g = r.engine().graph();
    assert_eq!(
        g.prop("poison/x", "k").map(|p| p.value.to_value()),
        Some(Value::String("old".into())),
        "memory holds what the store holds"
    );
    assert!(g.prop("fine", "k").is_some() && g.prop("other", "k").is_some());
    // A get answers from memory: the refused value is not served.
    let reply = messages(&r.frame(2, r##"{"#":"g","get":{"#":"poison/x"}}"##));
    let put = reply[0].1.put.as_ref().expect("data");
    assert_eq!(
        put.prop("poison/x", "k").map(|p| p.value.to_value()),
        Some(Value::String("old".into()))
    );
}

#[test]
fn a_new_soul_the_store_refuses_is_gone_from_memory() {
    let mut r = Relay::new(2);
    r.node.refuse_souls = vec!["bad".into()];
    r.connect(1);
    let out = r.frame(1, &put("p", "bad/soul", "k", "v", 5));
    assert_eq!(acks(&out, 1), [("p".into(), false)]);
    assert!(r.engine().graph().prop("bad/soul", "k").is_none());
    let err = messages(&out)
        .into_iter()
        .find_map(|(_, m)| m.err)
        .expect("an error ack");
    assert!(
        !err.contains("cannot take"),
        "store details stay local: {err}"
    );
}

#[test]
fn two_refused_writes_of_one_property_leave_the_stored_value() {
    let mut r = Relay::new(3);
    r.connect(1);
    r.frame(1, &put("w0", "p/x", "k", "stored", 1));
    r.node.refuse_souls = vec!["p/".into()];
    let frame = format!(
        "[{},{},{}]",
        put("a", "p/x", "k", "first", 2),
        put("b", "ok", "k", "fine", 2),
        put("c", "p/x", "k", "second", 3)
    );
    let out = r.frame(1, &frame);
    let mut got = acks(&out, 1);
    got.sort();
    assert_eq!(
        got,
        [("a".into(), false), ("b".into(), true), ("c".into(), false)]
    );
    assert_eq!(
        r.engine()
            .graph()
            .prop("p/x", "k")
            .map(|p| (p.value.to_value(), p.state)),
        Some((Value::String("stored".into()), 1.0))
    );
}

fn greet(r: &mut Relay, peer: u64, pid: &str) {
    r.frame(
        peer,
        &format!(r##"{{"#":"hi{peer}","dam":"?","pid":"{pid}"}}"##),
    );
}

#[test]
fn a_seen_list_cannot_stop_delivery_nor_learn_peer_ids() {
    let mut r = Relay::new(4);
    for p in [1, 2, 3] {
        r.connect(p);
        greet(&mut r, p, &format!("pid{p}"));
    }
    r.frame(2, r##"{"#":"s2","get":{"#":"doc"}}"##);
    r.frame(3, r##"{"#":"s3","get":{"#":"doc"}}"##);
    // The writer names subscriber 2 as if it had the put already, with a
    // long list of junk besides.
    let seen = format!("pid2,{}", "x".repeat(1 << 20));
    let text = put("w", "doc", "k", "v", 1).replacen('{', &format!(r##"{{"><":"{seen}","##), 1);
    let out = r.frame(1, &text);
    for to in [2, 3] {
        let fwd: Vec<_> = out.iter().filter(|(p, _)| p.0 == to).collect();
        assert_eq!(fwd.len(), 1, "subscriber {to} gets the put");
        assert!(
            fwd[0].1.len() < 1000,
            "and not the writer's junk: {} bytes",
            fwd[0].1.len()
        );
        let m = &messages(&[fwd[0].clone()])[0].1;
        assert_eq!(
            m.seen.as_deref(),
            Some(r.engine().pid()),
            "no other peer's id"
        );
    }
}

#[test]
fn a_huge_pid_is_not_taken() {
    let mut r = Relay::new(5);
    r.connect(1);
    r.connect(2);
    greet(&mut r, 1, &"p".repeat(1 << 20));
    r.frame(2, r##"{"#":"s","get":{"#":"doc"}}"##);
    let out = r.frame(1, &put("w", "doc", "k", "v", 1));
    assert!(out.iter().all(|(_, f)| f.len() < 1000), "{out:?}");
    assert_eq!(r.engine().stats().refused(gun_proto::Refusal::TooLong), 1);
}

#[test]
fn a_subscriber_cannot_forge_the_writers_ack() {
    let mut r = Relay::new(6);
    r.connect(1);
    r.connect(2);
    r.frame(2, r##"{"#":"s","get":{"#":"doc"}}"##);
    r.node.hold_writes = true;
    let out = r.frame(1, &put("w", "doc", "k", "v", 1));
    assert!(acks(&out, 1).is_empty(), "not stored yet");
    // Subscriber 2 saw the put and answers for the relay.
    let out = r.frame(2, r##"{"#":"f1","@":"w","err":"forged"}"##);
    let out2 = r.frame(2, r##"{"#":"f2","@":"w","ok":true}"##);
    assert!(acks(&out, 1).is_empty() && acks(&out2, 1).is_empty());
    assert_eq!(
        r.engine()
            .stats()
            .refused(gun_proto::Refusal::UnsolicitedReply),
        2
    );
    // The real ack comes when the store has it.
    let out = r.node.release_writes(r.now);
    assert_eq!(acks(&out, 1), [("w".into(), true)]);
}

#[test]
fn webrtc_signalling_is_routed_between_the_peers_of_a_room_and_nothing_else() {
    let mut r = Relay::new(16);
    r.connect(1);
    r.connect(2);
    let room = "/RTC/meet<?99";
    // 1 is in the room; 2 announces itself there.
    r.frame(
        1,
        &format!(r##"{{"#":"s","get":{{"#":"{room}",".":"+"}}}}"##),
    );
    r.frame(2, &put("announce", room, "+", "pid2", 1_700_000_009_000));
    // 1 offers: a reply to the announcement, routed to 2.
    let offer = r##"{"#":"offer1","@":"announce","ok":{"rtc":{"offer":{"type":"offer","sdp":"v=0"},"id":"pid1"}}}"##;
    let out = r.frame(1, offer);
    assert!(
        out.iter()
            .any(|(p, f)| p.0 == 2 && f.contains(r#""offer""#)),
        "the offer reaches the announcer: {out:?}"
    );
    // 2 answers the offer: routed back to 1.
    let answer = r##"{"#":"answer1","@":"offer1","ok":{"rtc":{"answer":{"type":"answer","sdp":"v=0"},"id":"pid2"}}}"##;
    let out = r.frame(2, answer);
    assert!(
        out.iter()
            .any(|(p, f)| p.0 == 1 && f.contains(r#""answer""#)),
        "the answer reaches the offerer: {out:?}"
    );
    // A subscriber's plain ack of an ordinary put is still refused.
    r.frame(1, r##"{"#":"s2","get":{"#":"doc"}}"##);
    r.node.hold_writes = true;
    r.frame(2, &put("w", "doc", "k", "v", 1));
    let out = r.frame(1, r##"{"#":"f","@":"w","ok":{"rtc":{"offer":{}}}}"##);
    assert!(acks(&out, 2).is_empty(), "no signalling outside a room");
    assert_eq!(
        r.engine()
            .stats()
            .refused(gun_proto::Refusal::UnsolicitedReply),
        1
    );
}

#[test]
fn data_answering_another_peers_get_is_not_taken() {
    let mut r = Relay::new(7);
    r.connect(1);
    r.connect(2);
    r.frame(1, r##"{"#":"g1","get":{"#":"doc"}}"##);
    let forged = r##"{"#":"x","@":"g1","put":{"doc":{"_":{"#":"doc",">":{"k":1}},"k":"forged"}}}"##;
    let out = r.frame(2, forged);
    assert!(
        out.iter().all(|(p, _)| p.0 != 1),
        "nothing passed to the asker"
    );
    assert!(
        r.engine().graph().prop("doc", "k").is_none(),
        "nothing merged"
    );
}

#[test]
fn overlong_souls_keys_and_ids_are_refused_and_not_stored() {
    let mut r = Relay::new(8);
    r.connect(1);
    let long = "s".repeat(3000);
    for (soul, key) in [(long.as_str(), "k"), ("ok", long.as_str())] {
        let out = r.frame(1, &put("w", soul, key, "v", 1));
        let m = messages(&out);
        assert!(
            m.iter()
                .any(|(_, m)| m.ack.as_deref() == Some("w") && m.err.is_some()),
            "{m:?}"
        );
    }
    let out = r.frame(1, &put(&"i".repeat(300), "ok", "k", "v", 1));
    assert!(
        out.iter().all(|(_, f)| f.len() < 200),
        "a long id is not echoed"
    );
    assert!(r.engine().graph().is_empty() && r.node.store.graph().is_empty());
}

#[test]
fn one_peers_future_states_do_not_use_up_anothers_share() {
    let mut r = Relay::new(9);
    r.connect(1);
    r.connect(2);
    let hour = common::T0 + 10_000.0 + 3_600_000.0;
    let batch: Vec<String> = (0..1500)
        .map(|i| {
            put(
                &format!("f{i}"),
                &format!("future/{i}"),
                "k",
                "v",
                hour as u64,
            )
        })
        .collect();
    r.frame(1, &format!("[{}]", batch[..750].join(",")));
    r.frame(1, &format!("[{}]", batch[750..].join(",")));
    assert!(r.engine().stats().refused(gun_proto::Refusal::FutureStates) > 0);
    let soon = common::T0 + 10_000.0 + 1_500.0;
    let out = r.frame(2, &put("honest", "mine", "k", "v", soon as u64));
    assert!(acks(&out, 2).is_empty(), "held until its time");
    r.now = common::at(12_000);
    let out = r.node.tick(r.now);
    assert_eq!(acks(&out, 2), [("honest".into(), true)]);
}

#[test]
fn a_scan_reads_one_bounded_page() {
    let mut r = Relay::new(10);
    r.connect(1);
    let many: Vec<String> = (0..3000)
        .map(|i| put(&format!("w{i}"), &format!("item/{i:05}"), "k", "v", 1))
        .collect();
    for chunk in many.chunks(500) {
        r.frame(1, &format!("[{}]", chunk.join(",")));
    }
    let out = messages(&r.frame(1, r##"{"#":"scan","get":{"#":{"*":""}}}"##));
    let reply = out
        .iter()
        .find(|(_, m)| m.ack.as_deref() == Some("scan"))
        .expect("a reply");
    let n = reply.1.put.as_ref().map_or(0, |g| g.prop_count());
    assert!(n > 0 && n <= 1000, "{n} properties");
}

#[test]
fn a_flood_of_bad_frames_writes_a_few_log_lines_and_is_counted() {
    let mut r = Relay::new(11);
    r.connect(1);
    for _ in 0..500 {
        r.frame(1, "{not json");
    }
    let stats = r.engine().stats();
    assert_eq!(stats.refused(gun_proto::Refusal::Frame), 500);
    assert!(stats.logs_suppressed >= 490, "{stats:?}");
}

#[test]
fn a_peer_past_its_message_rate_is_throttled_not_refused() {
    let mut r = Relay::new(12);
    r.connect(1);
    let batch: Vec<String> = (0..1000)
        .map(|i| put(&format!("m{i}"), "rate", &format!("k{i}"), "v", 1))
        .collect();
    let frame = format!("[{}]", batch.join(","));
    let mut acked = 0;
    for _ in 0..11 {
        acked += acks(&r.frame(1, &frame), 1).len();
    }
    assert!(
        r.engine().backlogged(r.now, PeerId(1)),
        "over 10,000 messages a second"
    );
    assert_eq!(acked, 1000, "what it sent is still taken (the ids repeat)");
    assert!(
        !r.engine().backlogged(common::at(12_000), PeerId(1)),
        "a second later"
    );
}

#[test]
fn our_put_is_acked_only_by_the_relay_it_was_written_to() {
    use gun_proto::harness::{Node, at};
    use gun_proto::{Call, Config, Event, Input, Path, ReqId, Role};
    let now = at(10_000);
    let mut n = Node::new(Config::new(13), now);
    for (peer, role) in [(1, Role::Dialed), (2, Role::Accepted)] {
        n.input(
            now,
            Input::Connected {
                peer: PeerId(peer),
                role,
            },
        )
        .expect("connect");
    }
    n.frame(now, PeerId(2), br##"{"#":"s","get":{"#":"doc"}}"##);
    n.input(
        now,
        Input::Call(Call::Put {
            req: ReqId(1),
            path: Path::soul("doc"),
            data: serde_json::json!({"k": "v"}),
        }),
    )
    .expect("put");
    let out = messages(&n.drain(now));
    let id = out
        .iter()
        .find(|(p, m)| p.0 == 2 && m.put.is_some())
        .and_then(|(_, m)| m.id.clone())
        .expect("pushed to the subscriber");
    let peer_acks = |n: &mut Node| {
        n.take_events()
            .into_iter()
            .filter(|e| matches!(e, Event::PutPeerAck { .. }))
            .count()
    };
    peer_acks(&mut n);
    n.frame(
        now,
        PeerId(2),
        format!(r##"{{"#":"f","@":"{id}","err":"no"}}"##).as_bytes(),
    );
    n.frame(
        now,
        PeerId(2),
        format!(r##"{{"#":"g","@":"{id}","ok":true}}"##).as_bytes(),
    );
    assert_eq!(
        peer_acks(&mut n),
        0,
        "the subscriber's answers do not count"
    );
    n.frame(
        now,
        PeerId(1),
        format!(r##"{{"#":"a","@":"{id}","ok":true}}"##).as_bytes(),
    );
    assert_eq!(peer_acks(&mut n), 1, "the relay's does");
}

/// A relay that keeps at most `max_cached` souls in memory, peer 1 connected.
fn caching_relay(seed: u64, max_cached: usize) -> Relay {
    let now = gun_proto::harness::at(10_000);
    let mut cfg = gun_proto::Config::new(seed);
    cfg.max_cached_souls = max_cached;
    let mut r = Relay {
        node: gun_proto::harness::Node::new(cfg, now),
        now,
    };
    r.connect(1);
    r
}

#[test]
fn puts_to_many_souls_keep_a_bounded_cache_of_what_they_read() {
    let mut r = caching_relay(15, 100);
    // Each put reads only the property it touches: the souls are partly
    // loaded, and leave memory as whole ones do.
    for chunk in 0..10 {
        let puts: Vec<String> = (0..100)
            .map(|i| {
                put(
                    &format!("p{chunk}_{i}"),
                    &format!("many/{chunk}/{i}"),
                    "k",
                    "v",
                    5,
                )
            })
            .collect();
        r.frame(1, &format!("[{}]", puts.join(",")));
    }
    let in_memory = r.engine().graph().len();
    assert!(in_memory <= 101, "{in_memory} souls in memory");
    // What left memory is read again for the next put, and HAM sees it.
    let out = r.frame(1, &put("old", "many/0/0", "k", "older", 2));
    assert_eq!(acks(&out, 1), [("old".into(), true)]);
    assert_eq!(
        r.node.store.graph().prop("many/0/0", "k").map(|p| p.state),
        Some(5.0),
        "the older write lost to the stored one"
    );
}

#[test]
fn reading_many_souls_keeps_a_bounded_cache_and_ham_still_sees_the_store() {
    let mut r = caching_relay(14, 100);
    r.frame(1, &put("w", "kept", "k", "newer", 5));
    for chunk in 0..10 {
        let gets: Vec<String> = (0..100)
            .map(|i| format!(r##"{{"#":"g{chunk}_{i}","get":{{"#":"missing/{chunk}/{i}"}}}}"##))
            .collect();
        r.frame(1, &format!("[{}]", gets.join(",")));
    }
    assert!(
        r.engine().cached_souls() <= 101,
        "{}",
        r.engine().cached_souls()
    );
    assert!(r.engine().graph().node("kept").is_none(), "left memory");
    // An older write to it is judged against what the store holds.
    let out = r.frame(1, &put("old", "kept", "k", "older", 2));
    assert_eq!(acks(&out, 1), [("old".into(), true)]);
    assert_eq!(
        r.node
            .store
            .graph()
            .prop("kept", "k")
            .map(|p| p.value.to_value()),
        Some(Value::String("newer".into()))
    );
}

#[test]
fn a_frame_of_gets_for_missing_souls_is_not_refused_as_busy() {
    let mut r = Relay::new(15);
    r.connect(1);
    for chunk in 0..3 {
        let gets: Vec<String> = (0..1000)
            .map(|i| format!(r##"{{"#":"g{chunk}_{i}","get":{{"#":"missing/{chunk}/{i}"}}}}"##))
            .collect();
        r.frame(1, &format!("[{}]", gets.join(",")));
    }
    assert_eq!(r.engine().stats().refused(gun_proto::Refusal::Busy), 0);
    assert_eq!(
        r.engine()
            .stats()
            .refused(gun_proto::Refusal::Subscriptions),
        0
    );
}
