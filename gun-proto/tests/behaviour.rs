//! Engine behaviours: future states, acks after the store, once waits, off,
//! offline writes, set/map, and refusal of invalid data.

mod common;

use std::time::Duration;

use common::{Relay, Sim, T0, at, drive, messages};
use gun_proto::{
    Call, Config, Engine, Error, Event, Input, Now, Output, Path, PeerId, ReqId, Role, SubId, Value,
};
use serde_json::json;

#[test]
fn future_states_wait_for_their_time_then_apply_and_push() {
    let mut r = Relay::new(1);
    r.connect(1);
    r.connect(2);
    r.frame(2, r###"{"#":"sub","get":{"#":"f"}}"###);
    let future = T0 + 10_000.0 + 2_000.0;
    let frame = format!(
        r###"{{"#":"fut","put":{{"f":{{"_":{{"#":"f",">":{{"k":{future}}}}},"k":"later"}}}}}}"###
    );
    let sent = r.frame(1, &frame);
    // Not stored, not acked, not forwarded, not visible.
    assert!(sent.is_empty(), "{sent:?}");
    assert!(r.node.engine.graph().prop("f", "k").is_none());
    let out = messages(&r.frame(2, r###"{"#":"g1","get":{"#":"f"}}"###));
    assert!(out[0].1.put.is_none());
    // The engine asks to be woken at that time.
    let wake = r.node.engine.poll_timeout().expect("a timer");
    assert!(
        wake >= Duration::from_millis(12_000) && wake <= Duration::from_millis(12_100),
        "{wake:?}"
    );
    // Not yet at 11.9 s...
    r.now = at(11_900);
    r.node.engine.handle_timeout(r.now);
    assert!(r.drain().is_empty());
    // ...applied once the clock reaches the state, and pushed to the subscriber.
    r.now = Now::new(wake, T0 + wake.as_secs_f64() * 1000.0);
    r.node.engine.handle_timeout(r.now);
    let sent = messages(&r.drain());
    assert_eq!(
        r.node
            .engine
            .graph()
            .prop("f", "k")
            .map(|p| p.value.to_value()),
        Some(Value::String("later".into()))
    );
    assert_eq!(
        r.node.store.graph().prop("f", "k").map(|p| p.state),
        Some(future)
    );
    assert!(
        sent.iter().any(|(p, m)| p.0 == 2 && m.put.is_some()),
        "{sent:?}"
    );
    // And the writer's ack, owed since the put arrived, goes out now it is stored.
    assert!(
        sent.iter()
            .any(|(p, m)| p.0 == 1 && m.ack.as_deref() == Some("fut") && m.ok == Some(json!(true))),
        "{sent:?}"
    );
}

#[test]
fn a_peer_put_is_acked_only_after_the_store_confirms() {
    let mut sim = Sim::new(2);
    sim.nodes[0].hold_writes = true;
    sim.connect(1, 0);
    sim.settle();
    sim.call(
        1,
        Call::Put {
            req: ReqId(1),
            path: Path::soul("s"),
            data: json!({"k": 1}),
        },
    );
    sim.run_for(Duration::from_secs(1));
    // The client's own store (memory) acked its put; the relay's ack has not come.
    let relay_acks = sim.nodes[0]
        .sent
        .iter()
        .filter(|(_, f)| f.contains("\"ok\":true"))
        .count();
    assert_eq!(relay_acks, 0);
    assert_eq!(sim.nodes[0].held.len(), 1);
    sim.release_writes(0);
    sim.settle();
    let relay_acks = sim.nodes[0]
        .sent
        .iter()
        .filter(|(_, f)| f.contains("\"ok\":true"))
        .count();
    assert_eq!(relay_acks, 1);
}

/// Puts of two peers held in one write: acked once each, to their own
/// peer, whether the driver sends the acks made ready with the write or
/// leaves them to the engine; a part the store refuses is refused, never
/// acked, and then no ready ack goes out (the engine acks the rest).
#[test]
fn each_put_is_acked_once_whoever_sends_the_acks() {
    for (ready, refuse) in [(true, false), (false, false), (true, true)] {
        let mut r = Relay::new(3);
        r.node.send_ready_acks = ready;
        if refuse {
            r.node.refuse_souls = vec!["bad".into()];
        }
        r.connect(1);
        r.connect(2);
        r.drain();
        r.node.hold_writes = true;
        let mut want: Vec<(u64, String)> = Vec::new();
        for i in 0..20 {
            let peer = 1 + i % 2;
            let soul = if refuse && i == 7 { "bad" } else { "s" };
            let id = format!("p{i}");
            let put = format!(
                r##"{{"#":"{id}","put":{{"{soul}":{{"_":{{"#":"{soul}",">":{{"k{i}":1}}}},"k{i}":{i}}}}}}}"##
            );
            let data = put.as_bytes();
            let frame = Input::Frame {
                peer: PeerId(peer),
                data,
            };
            r.node.input(r.now, frame).expect("put");
            want.push((peer, id));
        }
        // One turn: one write for all of them.
        let before = r.drain();
        assert!(
            messages(&before).iter().all(|(_, m)| m.ack.is_none()),
            "no ack before the write: {before:?}"
        );
        assert_eq!(r.node.held.len(), 1, "one write for the turn's puts");
        let sent = r.node.release_writes(r.now);
        let mut oks: Vec<(u64, String)> = Vec::new();
        let mut errs: Vec<(u64, String)> = Vec::new();
        for (peer, m) in messages(&sent) {
            let Some(id) = m.ack.clone() else { continue };
            if m.ok == Some(json!(true)) {
                oks.push((peer.0, id.to_string()));
            } else if m.err.is_some() {
                errs.push((peer.0, id.to_string()));
            }
        }
        oks.sort();
        let mut want_ok = want.clone();
        if refuse {
            want_ok.retain(|(_, id)| id != "p7");
            assert_eq!(errs, [(2, "p7".to_owned())], "ready={ready}");
        } else {
            assert!(errs.is_empty(), "{errs:?}");
        }
        want_ok.sort();
        assert_eq!(oks, want_ok, "ready={ready} refuse={refuse}");
        assert_eq!(r.engine().stats().puts_acked, want_ok.len() as u64);
    }
}

#[test]
fn an_own_put_is_acked_only_after_the_store_confirms() {
    let mut sim = Sim::new(1);
    sim.nodes[0].hold_writes = true;
    sim.call(
        0,
        Call::Put {
            req: ReqId(1),
            path: Path::soul("s"),
            data: json!({"k": 1}),
        },
    );
    assert!(
        !sim.take_events(0)
            .iter()
            .any(|e| matches!(e, Event::PutAck { .. }))
    );
    // A slow disk is waited for past the put timeout, which only ends the
    // wait for a peer.
    sim.run_for(Duration::from_secs(10));
    assert_eq!(
        sim.take_events(0),
        [Event::PutPeerAck {
            req: ReqId(1),
            result: Err(gun_proto::PutFailure::Timeout)
        }]
    );
    sim.release_writes(0);
    assert_eq!(
        sim.take_events(0),
        [Event::PutAck {
            req: ReqId(1),
            result: Ok(())
        }]
    );
}

#[test]
fn store_failure_is_reported_not_acked() {
    let now = at(0);
    let mut e = Engine::new(Config::new(1), now);
    e.handle_input(
        now,
        Input::Call(Call::Put {
            req: ReqId(1),
            path: Path::soul("s"),
            data: json!({"k": 1}),
        }),
    )
    .expect("put");
    let write = Err(gun_proto::StoreError::new("disk full"));
    let (events, _) = drive(&mut e, now, &write);
    assert!(
        matches!(&events[..], [Event::PutAck { result: Err(gun_proto::PutFailure::Store(m)), .. }] if m.message().contains("disk full")),
        "{events:?}"
    );
}

#[test]
fn once_on_missing_data_resolves_as_not_found_within_the_wait() {
    // The peer never answers: the wait decides.
    let now = at(0);
    let mut e = Engine::new(Config::new(1), now);
    e.handle_input(
        now,
        Input::Connected {
            peer: PeerId(5),
            role: Role::Dialed,
        },
    )
    .expect("connect");
    e.handle_input(
        now,
        Input::Call(Call::Once {
            req: ReqId(1),
            path: Path::soul("nope"),
            wait: Duration::from_millis(500),
        }),
    )
    .expect("once");
    let (events, frames) = drive(&mut e, now, &Ok(()));
    assert!(events.is_empty(), "answered early: {events:?}");
    let asked = frames.iter().any(|f| f.contains("\"get\""));
    assert!(asked);
    assert_eq!(e.poll_timeout(), Some(Duration::from_millis(500)));
    e.handle_timeout(at(500));
    assert_eq!(
        e.poll_output(),
        Some(Output::Event(Event::Once {
            req: ReqId(1),
            value: None,
            key: "nope".into()
        }))
    );
}

#[test]
fn once_through_a_relay_answers_missing_and_present() {
    let mut sim = Sim::new(3);
    sim.connect(1, 0);
    sim.connect(2, 0);
    sim.settle();
    sim.call(
        1,
        Call::Once {
            req: ReqId(1),
            path: Path::soul("a").get("b"),
            wait: Duration::from_secs(2),
        },
    );
    sim.settle();
    assert!(sim.take_events(1).contains(&Event::Once {
        req: ReqId(1),
        value: None,
        key: "b".into()
    }));
    sim.call(
        2,
        Call::Put {
            req: ReqId(2),
            path: Path::soul("a").get("b").get("c"),
            data: json!("deep"),
        },
    );
    sim.settle();
    sim.call(
        1,
        Call::Once {
            req: ReqId(3),
            path: Path::soul("a").get("b").get("c"),
            wait: Duration::from_secs(2),
        },
    );
    sim.settle();
    assert!(sim.take_events(1).contains(&Event::Once {
        req: ReqId(3),
        value: Some(json!("deep")),
        key: "c".into()
    }));
    // A whole node comes with Gun's `_` metadata.
    sim.call(
        1,
        Call::Once {
            req: ReqId(4),
            path: Path::soul("a").get("b"),
            wait: Duration::from_secs(2),
        },
    );
    sim.settle();
    let ev = sim.take_events(1);
    let node = ev.iter().find_map(|e| match e {
        Event::Once {
            req: ReqId(4),
            value: Some(v),
            ..
        } => Some(v.clone()),
        _ => None,
    });
    let node = node.expect("node");
    assert_eq!(node["c"], json!("deep"));
    assert_eq!(node["_"]["#"], json!("a/b"));
}

#[test]
fn off_stops_updates() {
    let mut sim = Sim::new(3);
    sim.connect(1, 0);
    sim.connect(2, 0);
    sim.call(
        1,
        Call::On {
            sub: SubId(1),
            path: Path::soul("t").get("v"),
        },
    );
    sim.settle();
    sim.call(
        2,
        Call::Put {
            req: ReqId(1),
            path: Path::soul("t"),
            data: json!({"v": 1}),
        },
    );
    sim.settle();
    assert_eq!(
        sim.take_events(1)
            .iter()
            .filter(|e| matches!(e, Event::Update { .. }))
            .count(),
        1
    );
    sim.call(1, Call::Off { sub: SubId(1) });
    sim.call(
        2,
        Call::Put {
            req: ReqId(2),
            path: Path::soul("t"),
            data: json!({"v": 2}),
        },
    );
    sim.settle();
    assert!(
        !sim.take_events(1)
            .iter()
            .any(|e| matches!(e, Event::Update { .. }))
    );
}

#[test]
fn deletes_are_tombstones_that_listeners_see() {
    let mut sim = Sim::new(2);
    sim.connect(1, 0);
    sim.call(
        1,
        Call::On {
            sub: SubId(1),
            path: Path::soul("t").get("v"),
        },
    );
    sim.call(
        1,
        Call::Put {
            req: ReqId(1),
            path: Path::soul("t"),
            data: json!({"v": "x"}),
        },
    );
    sim.run_for(Duration::from_millis(5));
    sim.call(
        1,
        Call::Put {
            req: ReqId(2),
            path: Path::soul("t").get("v"),
            data: json!(null),
        },
    );
    sim.settle();
    let vals: Vec<_> = sim
        .take_events(1)
        .into_iter()
        .filter_map(|e| match e {
            Event::Update { value, .. } => Some(value),
            _ => None,
        })
        .collect();
    assert_eq!(vals, [json!("x"), json!(null)]);
    assert_eq!(
        sim.nodes[0]
            .engine
            .graph()
            .prop("t", "v")
            .map(|p| p.value.to_value()),
        Some(Value::Null)
    );
}

#[test]
fn set_and_map_over_a_hundred_items() {
    let mut sim = Sim::new(3);
    sim.connect(1, 0);
    sim.connect(2, 0);
    sim.call(
        2,
        Call::Map {
            sub: SubId(7),
            path: Path::soul("list"),
        },
    );
    sim.settle();
    let mut souls = Vec::new();
    for i in 0..100 {
        sim.call(
            1,
            Call::Set {
                req: ReqId(i),
                path: Path::soul("list"),
                data: json!({"n": i}),
            },
        );
    }
    for e in sim.take_events(1) {
        if let Event::SetSoul { soul, .. } = e {
            souls.push(soul);
        }
    }
    sim.settle();
    assert_eq!(souls.len(), 100);
    assert_eq!(
        souls
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        100,
        "unique souls"
    );
    let ev = sim.take_events(2);
    let mut seen: Vec<i64> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Update {
                sub: SubId(7),
                value,
                ..
            } => value["n"].as_i64(),
            _ => None,
        })
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    assert_eq!(
        sim.nodes[0].engine.graph().node("list").map(|n| n.len()),
        Some(100)
    );
}

#[test]
fn invalid_data_is_refused_naming_the_path_and_nothing_is_written() {
    let now = at(0);
    let mut e = Engine::new(Config::new(1), now);
    let err = e
        .handle_input(
            now,
            Input::Call(Call::Put {
                req: ReqId(1),
                path: Path::soul("alice"),
                data: json!({"ok": 1, "arr": [1]}),
            }),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid data at alice.arr: arrays are not allowed"
    );
    let err = e
        .handle_input(
            now,
            Input::Call(Call::Put {
                req: ReqId(2),
                path: Path::soul("alice").get("pets"),
                data: json!({"a": {"b": [1]}}),
            }),
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidData(ref d) if d.path == "alice.pets.a.b"),
        "{err}"
    );
    assert!(e.poll_output().is_none());
    assert!(e.graph().is_empty());
    assert!(Value::number(f64::NAN).is_err() && Value::number(f64::INFINITY).is_err());
    assert_eq!(
        e.handle_input(
            now,
            Input::Call(Call::Put {
                req: ReqId(3),
                path: Path::soul(""),
                data: json!({})
            })
        ),
        Err(Error::EmptyPath)
    );
}

#[test]
fn offline_writes_reach_the_relay_with_their_original_states() {
    let mut sim = Sim::new(3);
    sim.call(
        1,
        Call::Put {
            req: ReqId(1),
            path: Path::soul("doc"),
            data: json!({"title": "offline"}),
        },
    );
    sim.settle();
    let state = sim.nodes[1]
        .engine
        .graph()
        .prop("doc", "title")
        .map(|p| p.state)
        .expect("written locally");
    // Reads work offline.
    sim.call(
        1,
        Call::Once {
            req: ReqId(2),
            path: Path::soul("doc").get("title"),
            wait: Duration::from_secs(1),
        },
    );
    assert!(sim.take_events(1).contains(&Event::Once {
        req: ReqId(2),
        value: Some(json!("offline")),
        key: "title".into()
    }));
    sim.run_for(Duration::from_secs(30));
    sim.connect(1, 0);
    sim.settle();
    assert_eq!(
        sim.nodes[0]
            .engine
            .graph()
            .prop("doc", "title")
            .map(|p| p.state),
        Some(state)
    );
    sim.connect(2, 0);
    sim.call(
        2,
        Call::Once {
            req: ReqId(3),
            path: Path::soul("doc").get("title"),
            wait: Duration::from_secs(1),
        },
    );
    sim.settle();
    assert!(sim.take_events(2).contains(&Event::Once {
        req: ReqId(3),
        value: Some(json!("offline")),
        key: "title".into()
    }));
}

#[test]
fn engines_with_equal_seeds_and_inputs_behave_identically() {
    let run = || {
        let mut sim = Sim::new(3);
        sim.connect(1, 0);
        sim.connect(2, 0);
        sim.call(
            2,
            Call::Map {
                sub: SubId(1),
                path: Path::soul("l"),
            },
        );
        for i in 0..10 {
            sim.call(
                1,
                Call::Set {
                    req: ReqId(i),
                    path: Path::soul("l"),
                    data: json!({"i": i}),
                },
            );
        }
        sim.settle();
        sim.nodes.iter().map(|n| n.sent.clone()).collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn pushes_from_upstream_are_not_kept_for_resending_upstream() {
    // Client 1 (with upstream) subscribed through relay 0; many pushes come
    // down. When the link resets, the client resends nothing of them.
    let mut cfgs = vec![Config::new(1), Config::new(2), Config::new(3)];
    cfgs[1].has_upstream = true;
    cfgs[1].store = false;
    cfgs[2].store = false;
    let mut sim = Sim::with_configs(cfgs);
    sim.connect(1, 0);
    sim.connect(2, 0);
    sim.call(
        1,
        Call::On {
            sub: SubId(1),
            path: Path::soul("feed").get("n"),
        },
    );
    sim.settle();
    for i in 0..50 {
        sim.call(
            2,
            Call::Put {
                req: ReqId(i),
                path: Path::soul("feed").get("n"),
                data: json!(i),
            },
        );
        sim.run_for(Duration::from_millis(2));
    }
    sim.settle();
    let before = sim.nodes[1].sent.len();
    sim.disconnect(1, 0);
    sim.connect(1, 0);
    sim.settle();
    let resent_puts = sim.nodes[1].sent[before..]
        .iter()
        .filter(|(_, f)| f.contains("\"put\""))
        .count();
    assert_eq!(resent_puts, 0, "{:?}", &sim.nodes[1].sent[before..]);
}

#[test]
fn a_put_settles_locally_at_once_and_reports_the_first_peer_ack_separately() {
    let mut sim = Sim::new(2);
    sim.nodes[0].hold_writes = true;
    sim.connect(1, 0);
    sim.settle();
    let _greeting = sim.take_events(1);
    sim.call(
        1,
        Call::Put {
            req: ReqId(1),
            path: Path::soul("s"),
            data: json!({"k": 1}),
        },
    );
    sim.run_for(Duration::from_secs(1));
    // The client's memory store settled the put; the relay has not stored it.
    assert_eq!(
        sim.take_events(1),
        [Event::PutAck {
            req: ReqId(1),
            result: Ok(())
        }]
    );
    sim.release_writes(0);
    sim.settle();
    assert_eq!(
        sim.take_events(1),
        [Event::PutPeerAck {
            req: ReqId(1),
            result: Ok(())
        }]
    );
}

#[test]
fn with_no_peer_a_put_settles_locally_and_its_peer_ack_times_out() {
    let mut sim = Sim::new(1);
    sim.call(
        0,
        Call::Put {
            req: ReqId(1),
            path: Path::soul("s"),
            data: json!({"k": 1}),
        },
    );
    assert_eq!(
        sim.take_events(0),
        [Event::PutAck {
            req: ReqId(1),
            result: Ok(())
        }]
    );
    sim.run_for(Duration::from_secs(10));
    assert_eq!(
        sim.take_events(0),
        [Event::PutPeerAck {
            req: ReqId(1),
            result: Err(gun_proto::PutFailure::Timeout)
        }]
    );
}

#[test]
fn a_failed_store_read_fails_the_put_with_the_stores_error() {
    let now = at(0);
    let mut e = Engine::new(Config::new(1), now);
    e.handle_input(
        now,
        Input::Call(Call::Put {
            req: ReqId(1),
            path: Path::soul("s"),
            data: json!({"k": 1}),
        }),
    )
    .expect("put");
    let Some(Output::StoreRead { id, .. }) = e.poll_output() else {
        panic!("the engine reads the soul first");
    };
    let cause = std::io::Error::other("bad sector");
    e.handle_input(
        now,
        Input::StoreRead {
            id,
            result: Err(gun_proto::StoreError::with_source("s.json", cause)),
        },
    )
    .expect("read answered");
    let mut events = Vec::new();
    while let Some(out) = e.poll_output() {
        if let Output::Event(ev) = out {
            events.push(ev);
        }
    }
    let failed = |ev: &Event| match ev {
        Event::PutAck {
            result: Err(gun_proto::PutFailure::Store(s)),
            ..
        }
        | Event::PutPeerAck {
            result: Err(gun_proto::PutFailure::Store(s)),
            ..
        } => std::error::Error::source(s).is_some() && s.message() == "s.json",
        _ => false,
    };
    assert!(events.len() == 2 && events.iter().all(failed), "{events:?}");
}

#[test]
fn a_soul_the_store_cannot_hold_is_merged_without_a_read() {
    let now = at(0);
    let mut e = Engine::new(Config::new(1), now);
    let mut index = gun_proto::store::SoulIndex::with_capacity(10);
    index.insert("known");
    e.handle_input(now, Input::StoreSouls { index })
        .expect("index");
    let put = |e: &mut Engine, req: u64, soul: &str| {
        e.handle_input(
            now,
            Input::Call(Call::Put {
                req: ReqId(req),
                path: Path::soul(soul),
                data: json!({"k": 1}),
            }),
        )
        .expect("put");
        std::iter::from_fn(|| e.poll_output()).collect::<Vec<_>>()
    };
    let outs = put(&mut e, 1, "fresh");
    assert!(
        !outs.iter().any(|o| matches!(o, Output::StoreRead { .. })),
        "a soul the store cannot hold is not read: {outs:?}"
    );
    let Some(Output::StoreWrite { id, .. }) =
        outs.iter().find(|o| matches!(o, Output::StoreWrite { .. }))
    else {
        panic!("written at once: {outs:?}");
    };
    e.handle_input(
        now,
        Input::StoreWritten {
            id: *id,
            result: Ok(()),
            acks_sent: false,
        },
    )
    .expect("written");
    let acked = std::iter::from_fn(|| e.poll_output()).any(|o| {
        matches!(
            o,
            Output::Event(Event::PutAck {
                req: ReqId(1),
                result: Ok(())
            })
        )
    });
    assert!(acked, "acked once durable");
    let outs = put(&mut e, 2, "known");
    assert!(
        matches!(outs.first(), Some(Output::StoreRead { .. })),
        "a soul the store may hold is read first: {outs:?}"
    );
}

#[test]
fn a_peers_put_reads_only_the_properties_it_touches() {
    let now = at(10_000);
    let mut e = Engine::new(Config::new(1), now);
    e.handle_input(
        now,
        Input::Connected {
            peer: PeerId(1),
            role: Role::Accepted,
        },
    )
    .expect("connect");
    let state = T0 + 5_000.0;
    let put = format!(
        r##"{{"#":"p1","put":{{"big":{{"_":{{"#":"big",">":{{"a":{state}}}}},"a":"new"}}}}}}"##
    );
    e.handle_input(
        now,
        Input::Frame {
            peer: PeerId(1),
            data: put.as_bytes(),
        },
    )
    .expect("put");
    let Some(Output::StoreRead { id, query }) = e.poll_output() else {
        panic!("the put reads first");
    };
    assert_eq!(
        query.keys,
        Some(vec!["a".to_owned()]),
        "only what it touches"
    );
    // The store has a newer `a`: the put loses to it, property by property.
    let mut stored = gun_proto::Graph::new();
    stored.insert("big", "a", Value::String("newer".into()), state + 1.0);
    e.handle_input(
        now,
        Input::StoreRead {
            id,
            result: Ok(stored),
        },
    )
    .expect("read answered");
    let outs: Vec<Output> = std::iter::from_fn(|| e.poll_output()).collect();
    let wrote: usize = outs
        .iter()
        .filter_map(|o| match o {
            Output::StoreWrite { batch, .. } => {
                Some(batch.iter().map(|g| g.prop_count()).sum::<usize>())
            }
            _ => None,
        })
        .sum();
    assert_eq!(wrote, 0, "an older write is not stored: {outs:?}");
    // A get needs the whole node: read again, whole.
    let get = r##"{"#":"g1","get":{"#":"big"}}"##;
    e.handle_input(
        now,
        Input::Frame {
            peer: PeerId(1),
            data: get.as_bytes(),
        },
    )
    .expect("get");
    let read = std::iter::from_fn(|| e.poll_output()).find_map(|o| match o {
        Output::StoreRead { query, .. } => Some(query),
        _ => None,
    });
    assert_eq!(read.map(|q| q.keys), Some(None), "the whole node is read");
}

#[test]
fn rapid_own_puts_in_one_millisecond_are_applied_and_sent_once() {
    // Gun.js's state clock gives the second and later puts of one
    // millisecond `now + n/999`: ahead of the wall clock, but our own
    // (Gun.js compares against that same clock, never the wall's).
    let now = at(5_000);
    let mut n = gun_proto::harness::Node::new(Config::new(1), now);
    n.hold_writes = true;
    n.input(
        now,
        Input::Connected {
            peer: PeerId(1),
            role: Role::Dialed,
        },
    )
    .expect("connect");
    n.input(
        now,
        Input::Call(Call::On {
            sub: SubId(1),
            path: Path::soul("s"),
        }),
    )
    .expect("on");
    n.drain(now);
    n.take_events();
    for i in 0..1500_u64 {
        n.input(
            now,
            Input::Call(Call::Put {
                req: ReqId(i),
                path: Path::soul("s"),
                data: json!({ "k": i }),
            }),
        )
        .expect("put");
    }
    let puts = |frames: &[(PeerId, gun_proto::wire::Frame)]| {
        messages(frames)
            .iter()
            .filter(|(_, m)| m.put.is_some())
            .count()
    };
    assert_eq!(puts(&n.drain(now)), 1500);
    // All applied now: stored (one batch, held), the listener shown the last.
    assert!(!n.held.is_empty());
    assert_eq!(
        n.engine.graph().prop("s", "k").map(|p| p.value.to_value()),
        Some(Value::Number(1499.0))
    );
    // Nothing is sent again, nor acked, when their states come due.
    for ms in [5_001, 5_003, 5_010, 6_000] {
        assert_eq!(puts(&n.tick(at(ms))), 0, "at {ms} ms");
    }
    assert!(
        !n.take_events()
            .iter()
            .any(|e| matches!(e, Event::PutAck { .. })),
        "acked before the store confirmed"
    );
    n.release_writes(at(6_000));
    let acks = n
        .take_events()
        .iter()
        .filter(|e| matches!(e, Event::PutAck { result: Ok(()), .. }))
        .count();
    assert_eq!(acks, 1500);
}

/// The updates listener `sub` was sent since the last look.
fn updates(r: &mut Relay, sub: u64) -> Vec<(String, serde_json::Value)> {
    r.node
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Update { sub: s, key, value } if s == SubId(sub) => Some((key, value)),
            _ => None,
        })
        .collect()
}

/// A map listener follows its items as they change, are relinked and are
/// shared, item by item, and ends where a listener evaluated afresh over
/// the same graph starts.
#[test]
fn a_map_listener_follows_changed_relinked_and_shared_items() {
    let mut r = Relay::new(1);
    r.connect(1);
    let map = |r: &mut Relay, sub: u64| {
        let call = Call::Map {
            sub: SubId(sub),
            path: Path::soul("list"),
        };
        r.node.input(r.now, Input::Call(call)).expect("map");
        r.drain();
    };
    map(&mut r, 1);
    let mut state = T0;
    let mut put = |r: &mut Relay,
                   soul: &str,
                   key: &str,
                   value: &str|
     -> Vec<(String, serde_json::Value)> {
        state += 1.0;
        let frame = format!(
            r###"{{"#":"m{state}","put":{{"{soul}":{{"_":{{"#":"{soul}",">":{{"{key}":{state}}}}},"{key}":{value}}}}}}}"###
        );
        r.frame(1, &frame);
        updates(r, 1)
    };
    put(&mut r, "c1", "n", "1");
    assert_eq!(put(&mut r, "list", "a", r##"{"#":"c1"}"##)[0].1["n"], 1);
    assert_eq!(
        put(&mut r, "list", "b", r#""plain""#),
        vec![("b".into(), json!("plain"))]
    );
    // The linked child changes: only its item is delivered.
    let got = put(&mut r, "c1", "n", "2");
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].0.as_str(), &got[0].1["n"]), ("a", &json!(2)));
    // Relinked to another child: the first no longer counts.
    put(&mut r, "c2", "n", "3");
    assert_eq!(put(&mut r, "list", "a", r##"{"#":"c2"}"##)[0].1["n"], 3);
    assert!(
        put(&mut r, "c1", "n", "4").is_empty(),
        "c1 is no item any more"
    );
    // A child two items share: both are delivered when it changes.
    put(&mut r, "list", "c", r##"{"#":"c2"}"##);
    let got = put(&mut r, "c2", "n", "5");
    let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["a", "c"]);
    // An item unlinked: its old child no longer wakes the listener.
    put(&mut r, "list", "c", "null");
    put(&mut r, "list", "a", r#""text""#);
    assert!(put(&mut r, "c2", "n", "6").is_empty());
    // A fresh listener over the same graph sees what the first one holds.
    map(&mut r, 2);
    let fresh: std::collections::BTreeMap<String, serde_json::Value> =
        updates(&mut r, 2).into_iter().collect();
    assert_eq!(
        fresh,
        [
            ("a", json!("text")),
            ("b", json!("plain")),
            ("c", json!(null))
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    );
}
