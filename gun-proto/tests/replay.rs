//! Replays a conversation recorded between a real Gun.js client and a real
//! Gun.js relay (`tests/interop/record-conversation.js`) into our engine acting
//! as the relay, and checks that it answers as Gun.js did: the same messages
//! answered, acks where Gun.js acked, the same data where Gun.js sent data, a
//! not-found where it sent one, and the greeting.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::messages;
use gun_proto::harness::Node;
use gun_proto::wire::{self, Message};
use gun_proto::{Config, Graph, Input, Now, PeerId, Role};

const CONVERSATION: &str = include_str!("data/gunjs-conversation.jsonl");

struct Line {
    t: f64,
    c2r: bool,
    frame: String,
}

fn lines() -> Vec<Line> {
    CONVERSATION
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("jsonl");
            Line {
                t: v["t"].as_f64().expect("t"),
                c2r: v["dir"] == "c2r",
                frame: v["frame"].as_str().expect("frame").to_owned(),
            }
        })
        .collect()
}

fn decode_all(frame: &str) -> Vec<Message> {
    wire::decode(frame.as_bytes(), &wire::Limits::default())
        .expect("recorded frames decode")
        .into_iter()
        .map(|m| m.expect("recorded messages are valid"))
        .collect()
}

/// Replies by the id they answer: (acked ok, merged data, count).
#[derive(Default, Debug, PartialEq)]
struct Answer {
    ok: bool,
    data: Graph,
}

fn answers(msgs: &[Message]) -> BTreeMap<String, Answer> {
    let mut out: BTreeMap<String, Answer> = BTreeMap::new();
    for m in msgs {
        if m.dam.is_some() {
            continue;
        }
        let Some(at) = &m.ack else { continue };
        let a = out.entry(at.to_string()).or_default();
        a.ok |= m.ok == Some(serde_json::Value::Bool(true));
        if let Some(put) = &m.put {
            a.data.merge(f64::INFINITY, put);
        }
    }
    out
}

#[test]
fn engine_answers_the_recorded_conversation_as_gunjs_did() {
    let lines = lines();
    assert!(lines.len() > 10, "recording is present");
    let t0 = lines[0].t;
    let at = |t: f64| Now::new(Duration::from_secs_f64(((t - t0).max(0.0)) / 1000.0), t);
    let mut node = Node::new(Config::new(42), at(t0));
    let mut ours: Vec<Message> = Vec::new();
    let client = PeerId(1);
    node.input(
        at(t0),
        Input::Connected {
            peer: client,
            role: Role::Accepted,
        },
    )
    .expect("connect");
    let pump = |node: &mut Node, now: Now, ours: &mut Vec<Message>| {
        let frames = node.drain(now);
        ours.extend(messages(&frames).into_iter().map(|(_, m)| m));
    };
    pump(&mut node, at(t0), &mut ours);
    let mut theirs: Vec<Message> = Vec::new();
    for line in &lines {
        if line.c2r {
            let now = at(line.t);
            node.input(
                now,
                Input::Frame {
                    peer: client,
                    data: line.frame.as_bytes(),
                },
            )
            .expect("frame");
            pump(&mut node, now, &mut ours);
        } else {
            theirs.extend(decode_all(&line.frame));
        }
    }

    // The greeting.
    assert!(
        theirs
            .iter()
            .any(|m| m.dam.as_deref() == Some("?") && m.ack.is_none())
    );
    assert!(
        ours.iter()
            .any(|m| m.dam.as_deref() == Some("?") && m.ack.is_none() && m.pid.is_some())
    );

    // Every message Gun.js answered, we answered the same way, and no other.
    let (gun, us) = (answers(&theirs), answers(&ours));
    let gun_ids: BTreeSet<&String> = gun.keys().collect();
    let our_ids: BTreeSet<&String> = us.keys().collect();
    assert_eq!(our_ids, gun_ids, "answered messages differ");
    for (id, a) in &gun {
        let b = &us[id];
        assert_eq!(b.ok, a.ok, "ack of {id}");
        assert_eq!(b.data, a.data, "data answering {id}");
    }
    // Something of each kind was compared.
    assert!(gun.values().any(|a| a.ok));
    assert!(gun.values().any(|a| !a.data.is_empty()));
    assert!(gun.values().any(|a| !a.ok && a.data.is_empty()));
}
