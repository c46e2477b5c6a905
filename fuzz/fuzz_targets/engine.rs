//! A relay engine fed arbitrary frames from arbitrary peers (served,
//! dialed, met directly), in a WebRTC room, its store refusing souls that
//! start with `x`, the acks made ready with its writes sent by the driver
//! or left to the engine: never panics.
#![no_main]

use std::time::Duration;

use gun_proto::harness::Node;
use gun_proto::{Call, Config, Input, Now, PeerId, Role};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = Now::new(Duration::ZERO, 1.7e12);
    let mut node = Node::new(Config::new(1), now);
    node.keep_sent = false;
    node.refuse_souls = vec!["x".into()];
    node.send_ready_acks = data.first().is_none_or(|b| b & 0x40 == 0);
    for p in 0..4u64 {
        let role = match p {
            2 => Role::Dialed,
            3 => Role::Direct,
            _ => Role::Accepted,
        };
        node.input(now, Input::Connected { peer: PeerId(p), role }).expect("connect");
    }
    let join = Call::RtcJoin { room: "r".into(), max: 55 };
    node.input(now, Input::Call(join)).expect("join");
    // Each chunk: one byte picks the peer, the rest is the frame.
    for (i, chunk) in data.split(|b| *b == 0xff).enumerate() {
        let Some((&who, frame)) = chunk.split_first() else { continue };
        let now = Now::new(Duration::from_millis(i as u64), 1.7e12 + i as f64);
        node.frame(now, PeerId(u64::from(who % 4)), frame);
        node.tick(now);
    }
});
