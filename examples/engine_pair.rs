//! Two engines in one process, a client and a relay, wired by hand: the
//! client puts, the relay stores and acks, a second client subscribed sees it.
//!
//! Run: `cargo run --example engine_pair`
use std::collections::BTreeMap;
use std::time::Duration;

use gun_proto::{
    Call, Config, Engine, Event, Input, MemoryStore, Now, Output, Path, PeerId, ReqId, Role, Store,
    SubId,
};

fn main() {
    let now = Now::new(Duration::ZERO, 1_700_000_000_000.0);
    let mut relay = Engine::new(Config::new(1), now);
    let mut alice = Engine::new(Config::new(2), now);
    let mut bob = Engine::new(Config::new(3), now);
    let mut stores: BTreeMap<usize, MemoryStore> =
        (0..3).map(|i| (i, MemoryStore::new())).collect();
    let mut engines = [&mut relay, &mut alice, &mut bob];

    // Peer ids: on the relay, alice is 1 and bob is 2; on each client, the relay is 0.
    engines[0]
        .handle_input(
            now,
            Input::Connected {
                peer: PeerId(1),
                role: Role::Accepted,
            },
        )
        .expect("connect");
    engines[0]
        .handle_input(
            now,
            Input::Connected {
                peer: PeerId(2),
                role: Role::Accepted,
            },
        )
        .expect("connect");
    engines[1]
        .handle_input(
            now,
            Input::Connected {
                peer: PeerId(0),
                role: Role::Dialed,
            },
        )
        .expect("connect");
    engines[2]
        .handle_input(
            now,
            Input::Connected {
                peer: PeerId(0),
                role: Role::Dialed,
            },
        )
        .expect("connect");

    engines[2]
        .handle_input(
            now,
            Input::Call(Call::On {
                sub: SubId(1),
                path: Path::soul("user/alice").get("name"),
            }),
        )
        .expect("on");
    pump(&mut engines, &mut stores, now);
    engines[1]
        .handle_input(
            now,
            Input::Call(Call::Put {
                req: ReqId(1),
                path: Path::soul("user/alice"),
                data: serde_json::json!({"name": "Alice"}),
            }),
        )
        .expect("put");
    pump(&mut engines, &mut stores, now);
}

/// Moves every output to where it goes until all engines are quiet.
fn pump(engines: &mut [&mut Engine; 3], stores: &mut BTreeMap<usize, MemoryStore>, now: Now) {
    loop {
        let mut moved = false;
        for i in 0..3 {
            while let Some(out) = engines[i].poll_output() {
                moved = true;
                match out {
                    Output::Transmit { peer, frame } => {
                        // Relay (0) reaches clients by their peer id; clients reach the relay.
                        let (to, from) = if i == 0 {
                            (peer.0 as usize, PeerId(0))
                        } else {
                            (0, PeerId(i as u64))
                        };
                        println!("{i} -> {to}: {frame}");
                        engines[to]
                            .handle_input(
                                now,
                                Input::Frame {
                                    peer: from,
                                    data: frame.as_bytes(),
                                },
                            )
                            .expect("frame");
                    }
                    Output::StoreRead { id, query } => {
                        let result = stores.get_mut(&i).expect("store").read(&query);
                        engines[i]
                            .handle_input(now, Input::StoreRead { id, result })
                            .expect("read");
                    }
                    Output::StoreWrite { id, batch } => {
                        let result = stores.get_mut(&i).expect("store").write(&batch);
                        engines[i]
                            .handle_input(now, Input::StoreWritten { id, result })
                            .expect("write");
                    }
                    Output::Event(Event::Update { value, key, .. }) => {
                        println!("{i} sees {key} = {value}")
                    }
                    Output::Event(e) => println!("{i} event: {e:?}"),
                }
            }
        }
        if !moved {
            return;
        }
    }
}
