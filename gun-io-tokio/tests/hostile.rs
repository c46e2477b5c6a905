//! The adversarial suite: hostile inputs and behaviours against the `gun`
//! relay process, each while an honest client (from its own address) keeps
//! writing. For every case: the relay stays up, the honest client's puts
//! are acked and readable meanwhile (within a liveness bound: speed is
//! measured by the `hostile` benchmark, not here), and at the end, after a
//! kill -9 and restart, every acked honest write is there and nothing of
//! what was refused is.

mod support;

use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{HONEST, HOSTILE, Raw, Relay, acks, answers, fresh_id, now_ms, put};

/// Longest an honest put may wait for its ack during an attack before the
/// case fails (a liveness bound; latency figures are the benchmark's).
const LIVENESS: Duration = Duration::from_secs(3);

/// The relay's quotas for the suite: small, so that every limit is reached
/// by a short attack.
const QUOTAS: &[&str] = &[
    "--max-connections-per-ip",
    "64",
    "--idle-timeout",
    "3",
    "--handshake-timeout",
    "1",
    "--max-frame-bytes",
    "1048576",
    "--max-subscriptions",
    "200",
    "--max-msgs-per-sec",
    "5000",
    "--max-outbound-per-peer",
    "1048576",
    "--max-sigs",
    "8",
];

type Case = (&'static str, fn(u16) -> Vec<String>);

/// The cases: each attacks the relay on `port` and returns the souls it
/// wrote that must not be stored.
const CASES: &[Case] = &[
    ("malformed: not JSON", |p| {
        frames(p, &["{bad json", "[1,2", "\u{0}", "}{"])
    }),
    ("malformed: JSON that is no message", |p| {
        frames(p, &["null", "42", "\"text\"", "true", "[1,2,3]", "[[]]"])
    }),
    ("malformed: fields of the wrong type", |p| {
        frames(
            p,
            &[
                r##"{"#":5,"put":{}}"##,
                r##"{"#":"x","@":{}}"##,
                r##"{"#":"x","get":5}"##,
                r##"{"#":"x","put":[]}"##,
                r##"{"#":"x","dam":7}"##,
            ],
        )
    }),
    ("malformed: node not an object", |p| {
        refused_put(p, "h/not-object", json!({"h/not-object": 5}))
    }),
    ("malformed: node without `_`", |p| {
        refused_put(p, "h/no-meta", json!({"h/no-meta": {"k": 1}}))
    }),
    ("malformed: soul mismatch", |p| {
        refused_put(
            p,
            "h/mismatch",
            json!({"h/mismatch": {"_": {"#": "other", ">": {"k": 1}}, "k": 1}}),
        )
    }),
    ("malformed: property without a state", |p| {
        refused_put(
            p,
            "h/no-state",
            json!({"h/no-state": {"_": {"#": "h/no-state", ">": {}}, "k": 1}}),
        )
    }),
    ("malformed: array and object values", |p| {
        let mut souls = refused_put(
            p,
            "h/array",
            json!({"h/array": {"_": {"#": "h/array", ">": {"k": 1}}, "k": [1, 2]}}),
        );
        souls.extend(refused_put(
            p,
            "h/object",
            json!({"h/object": {"_": {"#": "h/object", ">": {"k": 1}}, "k": {"a": 1}}}),
        ));
        souls
    }),
    ("malformed: empty soul and key", |p| {
        let mut souls = refused_put(p, "", json!({"": {"_": {"#": "", ">": {"k": 1}}, "k": 1}}));
        souls.extend(refused_put(
            p,
            "h/empty-key",
            json!({"h/empty-key": {"_": {"#": "h/empty-key", ">": {"": 1}}, "": 1}}),
        ));
        souls.retain(|s| !s.is_empty());
        souls
    }),
    ("malformed: numbers out of range", |p| {
        let soul = "h/huge-number";
        let text = format!(
            r##"{{"#":"{}","put":{{"{soul}":{{"_":{{"#":"{soul}",">":{{"k":1e400}}}},"k":1e400}}}}}}"##,
            fresh_id("n")
        );
        frames(p, &[&text]);
        vec![soul.into()]
    }),
    ("malformed: binary and invalid UTF-8 frames", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        let _ =
            c.ws.send(tungstenite::Message::Binary(vec![0xff; 100].into()));
        // A text frame whose payload is not UTF-8, written by hand (masked).
        let stream = c.ws.get_mut();
        let _ = std::io::Write::write_all(stream, &[0x81, 0x82, 0, 0, 0, 0, 0xff, 0xfe]);
        let _ = c.closed_within(Duration::from_secs(2));
        vec![]
    }),
    ("sizes: nesting 10,000 deep", |p| {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        frames(p, &[&deep]);
        vec![]
    }),
    (
        "sizes: a frame over max_frame_bytes is refused by its header",
        |p| {
            let mut c = Raw::connect(p, HOSTILE).expect("connect");
            let big = format!(r##"{{"#":"big","x":"{}"}}"##, "a".repeat(2 << 20));
            let _ = c.send(&big);
            assert!(
                c.closed_within(Duration::from_secs(3)),
                "the relay keeps the connection"
            );
            vec![]
        },
    ),
    ("sizes: an 8 MiB frame of empty objects", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        let frame = format!("[{}{{}}]", "{},".repeat((8 << 20) / 3));
        let _ = c.send(&frame);
        assert!(c.closed_within(Duration::from_secs(3)));
        vec![]
    }),
    ("sizes: more messages in a batch than max_batch", |p| {
        let soul = "h/long-batch";
        let msgs: Vec<String> = (0..1500)
            .map(|i| put(&fresh_id("b"), soul, &format!("k{i}"), &json!(i), 1.0).to_string())
            .collect();
        frames(p, &[&format!("[{}]", msgs.join(","))]);
        vec![soul.into()]
    }),
    ("sizes: a soul over max_soul_bytes", |p| {
        let soul = format!("h/long-soul/{}", "s".repeat(3000));
        refused_one(p, &soul, "k");
        vec![soul]
    }),
    ("sizes: a key over max_key_bytes", |p| {
        let soul = "h/long-key";
        refused_one(p, soul, &"k".repeat(3000));
        vec![soul.into()]
    }),
    ("sizes: a message id over max_id_bytes", |p| {
        let soul = "h/long-id";
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        c.send_json(&put(&"i".repeat(1000), soul, "k", &json!(1), now_ms()));
        let got = c.read_for(Duration::from_millis(300));
        assert!(
            got.iter().all(|m| m.to_string().len() < 500),
            "a long id is echoed"
        );
        vec![soul.into()]
    }),
    ("sizes: a 1 MiB pid in the greeting", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        c.send_json(&json!({"#": fresh_id("g"), "dam": "?", "pid": "p".repeat(900_000)}));
        let mut sub = Raw::connect(p, HOSTILE).expect("connect");
        sub.send_json(&json!({"#": fresh_id("s"), "get": {"#": "h/pid-victim"}}));
        sub.read_for(Duration::from_millis(200));
        c.send_json(&put(
            &fresh_id("w"),
            "h/pid-victim",
            "k",
            &json!(1),
            now_ms(),
        ));
        let got = sub.read_for(Duration::from_millis(500));
        assert!(
            got.iter().all(|m| m.to_string().len() < 2000),
            "the pid went out"
        );
        vec![]
    }),
    ("amplification: a 1 MiB `><` reaches no subscriber", |p| {
        let mut subs: Vec<Raw> = (0..5)
            .map(|_| Raw::connect(p, HOSTILE).expect("connect"))
            .collect();
        for s in &mut subs {
            s.send_json(&json!({"#": fresh_id("s"), "get": {"#": "h/amp"}}));
            s.read_for(Duration::from_millis(50));
        }
        let mut w = Raw::connect(p, HOSTILE).expect("connect");
        let mut m = put(&fresh_id("w"), "h/amp", "k", &json!("v"), now_ms());
        m["><"] = json!("x".repeat(900_000));
        w.send_json(&m);
        for s in &mut subs {
            let got = s.read_for(Duration::from_millis(300));
            assert!(got.iter().any(|m| m.get("put").is_some()), "delivered");
            assert!(got.iter().all(|m| m.to_string().len() < 2000), "amplified");
        }
        vec![]
    }),
    ("amplification: junk fields are not forwarded", |p| {
        let mut sub = Raw::connect(p, HOSTILE).expect("connect");
        sub.send_json(&json!({"#": fresh_id("s"), "get": {"#": "h/junk"}}));
        sub.read_for(Duration::from_millis(50));
        let mut w = Raw::connect(p, HOSTILE).expect("connect");
        let mut m = put(&fresh_id("w"), "h/junk", "k", &json!("v"), now_ms());
        m["junk"] = json!("j".repeat(900_000));
        w.send_json(&m);
        let got = sub.read_for(Duration::from_millis(300));
        assert!(got.iter().all(|m| m.get("junk").is_none()));
        vec![]
    }),
    ("suppression: `><` naming a subscriber", |p| {
        let mut sub = Raw::connect(p, HOSTILE).expect("connect");
        sub.send_json(&json!({"#": fresh_id("g"), "dam": "?", "pid": "victimpid"}));
        sub.send_json(&json!({"#": fresh_id("s"), "get": {"#": "h/suppress"}}));
        sub.read_for(Duration::from_millis(100));
        let mut w = Raw::connect(p, HOSTILE).expect("connect");
        let mut m = put(&fresh_id("w"), "h/suppress", "k", &json!("v"), now_ms());
        m["><"] = json!("victimpid");
        w.send_json(&m);
        let got = sub.wait_for(Duration::from_secs(1), |m| m.get("put").is_some());
        assert!(got.is_some(), "delivery suppressed");
        assert!(got.is_some_and(|m| !m["><"].to_string().contains("victimpid")));
        vec![]
    }),
    ("forged acks: a subscriber answers for the relay", |p| {
        let mut sub = Raw::connect(p, HOSTILE).expect("connect");
        sub.send_json(&json!({"#": fresh_id("s"), "get": {"#": "h/forge"}}));
        sub.read_for(Duration::from_millis(50));
        let mut w = Raw::connect(p, HOSTILE).expect("connect");
        let id = fresh_id("w");
        w.send_json(&put(&id, "h/forge", "k", &json!("v"), now_ms()));
        sub.wait_for(Duration::from_secs(1), |m| m.get("put").is_some())
            .expect("pushed");
        sub.send_json(&json!({"#": fresh_id("f"), "@": id, "err": "forged"}));
        sub.send_json(&json!({"#": fresh_id("f"), "@": id, "ok": "forged"}));
        let got = w.read_for(Duration::from_millis(500));
        let answers: Vec<&Value> = got.iter().filter(|m| answers(m, &id)).collect();
        assert_eq!(answers.len(), 1, "{answers:?}");
        assert!(answers[0].get("err").is_none() && answers[0]["ok"] == json!(true));
        vec![]
    }),
    ("forged replies: data answering another peer's get", |p| {
        let mut asker = Raw::connect(p, HOSTILE).expect("connect");
        let gid = fresh_id("g");
        asker.send_json(&json!({"#": gid, "get": {"#": "h/inject"}}));
        asker.read_for(Duration::from_millis(100));
        let mut evil = Raw::connect(p, HOSTILE).expect("connect");
        evil.send_json(&json!({"#": fresh_id("x"), "@": gid, "put":
            {"h/inject": {"_": {"#": "h/inject", ">": {"k": now_ms()}}, "k": "forged"}}}));
        let got = asker.read_for(Duration::from_millis(300));
        assert!(got.iter().all(|m| m.get("put").is_none()), "{got:?}");
        vec!["h/inject".into()]
    }),
    (
        "slow reader: a subscriber that stops reading is dropped",
        |p| {
            let mut slow = Raw::connect(p, HOSTILE).expect("connect");
            slow.send_json(&json!({"#": fresh_id("s"), "get": {"#": "h/slow"}}));
            slow.read_for(Duration::from_millis(100));
            let mut fast = Raw::connect(p, HOSTILE).expect("connect");
            fast.send_json(&json!({"#": fresh_id("s"), "get": {"#": "h/slow"}}));
            fast.read_for(Duration::from_millis(100));
            let mut w = Raw::connect(p, HOSTILE).expect("connect");
            // 16 MB in all: past what the kernel's socket buffers hold, so
            // the relay's own queue for the slow reader fills.
            let value = "v".repeat(16_000);
            let mut acked = 0;
            let mut seen = 0;
            for round in 0..20 {
                let batch: Vec<String> = (0..50)
                    .map(|i| {
                        let state = now_ms();
                        put(
                            &format!("slow{round}_{i}"),
                            "h/slow",
                            &format!("k{i}"),
                            &json!(value),
                            state,
                        )
                        .to_string()
                    })
                    .collect();
                w.send(&format!("[{}]", batch.join(",")));
                acked += w
                    .read_for(Duration::from_millis(30))
                    .iter()
                    .filter(|m| m["ok"] == json!(true))
                    .count();
                seen += fast.read_for(Duration::from_millis(5)).len();
            }
            // The writer is throttled to its byte rate: its acks keep coming.
            let deadline = Instant::now() + Duration::from_secs(10);
            while acked < 1000 && Instant::now() < deadline {
                acked += w
                    .read_for(Duration::from_millis(100))
                    .iter()
                    .filter(|m| m["ok"] == json!(true))
                    .count();
                seen += fast.read_for(Duration::from_millis(5)).len();
            }
            assert_eq!(acked, 1000, "the writer's acks stopped");
            assert!(seen > 0, "the reading subscriber got nothing");
            assert!(
                slow.closed_within(Duration::from_secs(3)),
                "the slow reader was kept"
            );
            vec![]
        },
    ),
    (
        "slow reader: the relay's queue for it is what it is dropped for",
        |p| {
            let before = metric(p, r#"gun_peers_dropped_total{reason="slow_reader"}"#);
            let mut slow = Raw::connect(p, HOSTILE).expect("connect");
            slow.send_json(&json!({"#": fresh_id("s"), "get": {"#": "h/slow2"}}));
            slow.read_for(Duration::from_millis(100));
            // Four writers (each within its byte rate) fill the slow
            // reader's queue before its idle timeout could close it.
            let value = json!("w".repeat(60_000));
            let writers: Vec<_> = (0..4)
                .map(|w| {
                    let value = value.clone();
                    std::thread::spawn(move || {
                        let mut c = Raw::connect(p, HOSTILE).expect("connect");
                        for i in 0..100 {
                            let key = format!("w{w}k{i}");
                            c.send_json(&put(&fresh_id("s2"), "h/slow2", &key, &value, now_ms()));
                            c.read_for(Duration::from_millis(1));
                        }
                        c.read_for(Duration::from_millis(500));
                    })
                })
                .collect();
            for w in writers {
                let _ = w.join();
            }
            let deadline = Instant::now() + Duration::from_secs(2);
            while metric(p, r#"gun_peers_dropped_total{reason="slow_reader"}"#) <= before {
                assert!(Instant::now() < deadline, "not dropped as a slow reader");
                std::thread::sleep(Duration::from_millis(50));
            }
            vec![]
        },
    ),
    (
        "floods: more connections from one address than it may have",
        |p| {
            let mut conns = Vec::new();
            for _ in 0..100 {
                if let Ok(c) = Raw::connect(p, HOSTILE) {
                    conns.push(c);
                }
            }
            assert!(
                conns.len() <= 64,
                "{} connections from one address",
                conns.len()
            );
            vec![]
        },
    ),
    ("floods: 300 connect and leave cycles", |p| {
        for _ in 0..300 {
            if let Ok(mut c) = Raw::connect(p, HOSTILE) {
                c.send_json(&json!({"#": fresh_id("s"), "get": {"#": "h/churn"}}));
            }
        }
        vec![]
    }),
    ("slowloris: sockets that never send a byte", |p| {
        let socks: Vec<TcpStream> = (0..40)
            .filter_map(|_| support::tcp_from(HOSTILE, addr(p)).ok())
            .collect();
        // Closed by the relay after the handshake timeout (1 s here).
        std::thread::sleep(Duration::from_millis(1500));
        for mut s in socks {
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let mut b = [0u8; 1];
            assert!(matches!(
                std::io::Read::read(&mut s, &mut b),
                Ok(0) | Err(_)
            ));
        }
        vec![]
    }),
    ("slowloris: a request head trickled a byte at a time", |p| {
        let mut s = support::tcp_from(HOSTILE, addr(p)).expect("tcp");
        let head = b"GET /gun HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";
        let began = Instant::now();
        for b in head {
            if std::io::Write::write_all(&mut s, &[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            if began.elapsed() > Duration::from_secs(3) {
                break;
            }
        }
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut b = [0u8; 1];
        assert!(
            matches!(std::io::Read::read(&mut s, &mut b), Ok(0) | Err(_)),
            "still open"
        );
        vec![]
    }),
    ("slowloris: a frame header then nothing", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        // A masked text frame announcing 60,000 bytes, of which 10 come.
        let mut frame = vec![0x81, 0xFE, 0xEA, 0x60, 1, 2, 3, 4];
        frame.extend_from_slice(&[b'x' ^ 1; 10]);
        let _ = std::io::Write::write_all(c.ws.get_mut(), &frame);
        // Closed once idle (3 s here): pings go unanswered, nothing comes.
        assert!(c.closed_within(Duration::from_secs(6)), "kept");
        vec![]
    }),
    (
        "slowloris: an idle connection that never answers pings",
        |p| {
            let c = Raw::connect(p, HOSTILE).expect("connect");
            std::thread::sleep(Duration::from_secs(4));
            let mut s = c.ws.get_ref().try_clone().expect("clone");
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            // Drain what was sent (pings), then find the end.
            let mut buf = [0u8; 4096];
            let mut closed = false;
            for _ in 0..20 {
                match std::io::Read::read(&mut s, &mut buf) {
                    Ok(0) | Err(_) => {
                        closed = true;
                        break;
                    }
                    Ok(_) => {}
                }
            }
            let _ = s.shutdown(Shutdown::Both);
            assert!(closed, "an idle connection was kept");
            vec![]
        },
    ),
    ("slowloris: an idle client is told why it is closed", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        // Not reading: the relay's pings go unanswered.
        std::thread::sleep(Duration::from_secs(4));
        let close = c.close_frame(Duration::from_secs(3));
        assert!(
            close
                .as_ref()
                .is_some_and(|(code, why)| *code == 1001 && why.contains("idle")),
            "{close:?}"
        );
        vec![]
    }),
    (
        "floods: bytes past the peer's byte rate are throttled, not refused",
        |p| {
            let mut c = Raw::connect(p, HOSTILE).expect("connect");
            let value = json!("b".repeat(700_000));
            let began = Instant::now();
            let ids: Vec<String> = (0..30).map(|_| fresh_id("bytes")).collect();
            for (i, id) in ids.iter().enumerate() {
                c.send_json(&put(id, "h/bytes", &format!("k{i}"), &value, now_ms()));
            }
            for id in &ids {
                c.wait_for(Duration::from_secs(10), |m| acks(m, id))
                    .expect("every put acked");
            }
            // 21 MB at 8 MiB/s (a second's worth banked): over a second.
            assert!(
                began.elapsed() >= Duration::from_millis(1200),
                "not throttled"
            );
            vec![]
        },
    ),
    ("signatures: 50 bogus signatures per message", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        let sigs: Vec<Value> = (0..50)
            .map(|_| json!({"sig": "a".repeat(192), "pubkey": "b".repeat(96)}))
            .collect();
        for _ in 0..200 {
            let mut m = put(&fresh_id("sig"), "h/sigs", "k", &json!(1), now_ms());
            m["sigs"] = json!(sigs);
            c.send_json(&m);
        }
        c.read_for(Duration::from_millis(200));
        vec!["h/sigs".into()]
    }),
    (
        "sea: user-space puts with signatures that do not verify",
        |p| {
            // Each value costs an ECDSA verification (the relay cannot know it
            // is bogus before): 2,000 of them, 100 per message.
            let mut c = Raw::connect(p, HOSTILE).expect("connect");
            let owner = gun_proto::sea::Pair::from_seed(b"hostile owner");
            let soul = format!("~{}", owner.pub_key);
            // A real signature by the owner, of another value: it costs a full
            // verification to find wrong.
            let other = gun_proto::sea::space::pack(
                &soul,
                "other",
                &gun_proto::Value::Bool(true),
                1.0,
                &owner,
                None,
            )
            .expect("pack");
            let gun_proto::Value::String(other) = other else {
                unreachable!()
            };
            let sig = serde_json::from_str::<Value>(&other).expect("json")["~"]
                .as_str()
                .expect("sig")
                .to_owned();
            for i in 0..20 {
                let mut node = serde_json::Map::new();
                let mut states = serde_json::Map::new();
                for k in 0..100 {
                    let key = format!("k{i}_{k}");
                    states.insert(key.clone(), json!(now_ms()));
                    node.insert(key, json!(format!(r#"{{":":"forged","~":"{sig}"}}"#)));
                }
                node.insert("_".into(), json!({"#": soul, ">": states}));
                c.send_json(&json!({"#": fresh_id("sea"), "put": {&soul: node}}));
            }
            c.read_for(Duration::from_millis(500));
            vec![soul]
        },
    ),
    ("signatures: valid curve points that do not verify", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        let signer = gun_proto::auth::Signer::from_seed(&[7u8; 32]).expect("key");
        for i in 0..100 {
            let mut body = serde_json::Map::new();
            body.insert(
                "put".into(),
                put("x", "h/badsig", "k", &json!(i), now_ms())["put"].clone(),
            );
            let mut m = Value::Object(body.clone());
            let real = gun_proto::auth::body(&body);
            m["#"] = json!(gun_proto::auth::message_id(&real));
            // Signed over another body: well formed, valid points, wrong.
            let other = gun_proto::auth::body(&serde_json::Map::new());
            m["sigs"] = json!(vec![signer.sign(&other); 8]);
            c.send_json(&m);
        }
        c.read_for(Duration::from_millis(500));
        vec!["h/badsig".into()]
    }),
    ("signatures: a signed message with the wrong id", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        let signer = gun_proto::auth::Signer::from_seed(&[8u8; 32]).expect("key");
        let mut body = serde_json::Map::new();
        body.insert(
            "put".into(),
            put("x", "h/wrongid", "k", &json!(1), now_ms())["put"].clone(),
        );
        let sig = signer.sign(&gun_proto::auth::body(&body));
        let mut m = Value::Object(body);
        m["#"] = json!("0".repeat(64));
        m["sigs"] = json!([sig]);
        c.send_json(&m);
        c.read_for(Duration::from_millis(200));
        vec!["h/wrongid".into()]
    }),
    ("scans: twenty lex gets of every soul", |p| {
        let mut w = Raw::connect(p, HOSTILE).expect("connect");
        for chunk in 0..10 {
            let batch: Vec<String> = (0..200)
                .map(|i| {
                    put(
                        &fresh_id("scan"),
                        &format!("h/scan/{chunk}/{i}"),
                        "k",
                        &json!(i),
                        1.0,
                    )
                    .to_string()
                })
                .collect();
            w.send(&format!("[{}]", batch.join(",")));
        }
        w.read_for(Duration::from_millis(300));
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        for _ in 0..20 {
            c.send_json(&json!({"#": fresh_id("lex"), "get": {"#": {"*": ""}}}));
        }
        let got = c.read_for(Duration::from_secs(1));
        for m in got.iter().filter(|m| m.get("put").is_some()) {
            let props: usize = m["put"].as_object().map_or(0, |g| {
                g.values()
                    .map(|n| n.as_object().map_or(0, |o| o.len() - 1))
                    .sum()
            });
            assert!(props <= 1000, "a scan of {props} properties");
        }
        vec![]
    }),
    ("scans: a key prefix over a large node", |p| {
        let mut w = Raw::connect(p, HOSTILE).expect("connect");
        let batch: Vec<String> = (0..1500)
            .map(|i| {
                put(
                    &fresh_id("big"),
                    "h/bignode",
                    &format!("k{i:05}"),
                    &json!(i),
                    1.0,
                )
                .to_string()
            })
            .collect();
        w.send(&format!("[{}]", batch[..750].join(",")));
        w.send(&format!("[{}]", batch[750..].join(",")));
        w.read_for(Duration::from_millis(300));
        w.send_json(&json!({"#": "pre", "get": {"#": "h/bignode", ".": {"*": "k"}}}));
        let got = w
            .wait_for(Duration::from_secs(2), |m| m["@"] == "pre")
            .expect("a reply");
        let n = got["put"]["h/bignode"]
            .as_object()
            .map_or(0, |o| o.len() - 1);
        assert!(n <= 1000, "{n} properties in one reply");
        vec![]
    }),
    (
        "poisoning: ESC and NUL in souls and keys, beside an honest put",
        |p| {
            let mut c = Raw::connect(p, HOSTILE).expect("connect");
            let odd = [
                ("h/esc\u{1b}soul", "k"),
                ("h/nul\u{0}soul", "k"),
                ("h/keys", "a\u{1b}\u{0}b"),
            ];
            let mut ids = Vec::new();
            let batch: Vec<String> = odd
                .iter()
                .map(|(s, k)| {
                    let id = fresh_id("odd");
                    ids.push(id.clone());
                    put(&id, s, k, &json!("odd"), now_ms()).to_string()
                })
                .collect();
            c.send(&format!("[{}]", batch.join(",")));
            for id in &ids {
                c.wait_for(Duration::from_secs(2), |m| acks(m, id))
                    .expect("any soul and key can be stored");
            }
            vec![]
        },
    ),
    ("quotas: a flood of puts an hour ahead", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        let hour = now_ms() + 3_600_000.0;
        for chunk in 0..6 {
            let batch: Vec<String> = (0..400)
                .map(|i| {
                    put(
                        &fresh_id("fut"),
                        &format!("h/future/{chunk}/{i}"),
                        "k",
                        &json!(1),
                        hour,
                    )
                    .to_string()
                })
                .collect();
            c.send(&format!("[{}]", batch.join(",")));
        }
        c.read_for(Duration::from_millis(300));
        // An honest put a moment ahead is still held and acked in time.
        let mut h = Raw::connect(p, HONEST).expect("connect");
        let id = fresh_id("soon");
        h.send_json(&put(&id, "h/soon", "k", &json!(1), now_ms() + 1500.0));
        h.wait_for(Duration::from_secs(5), |m| acks(m, &id))
            .expect("the honest future put was dropped");
        vec![]
    }),
    ("quotas: 20,000 gets for missing souls", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        for chunk in 0..20 {
            let batch: Vec<String> = (0..1000)
                .map(|i| {
                    json!({"#": fresh_id("m"), "get": {"#": format!("h/missing/{chunk}/{i}")}})
                        .to_string()
                })
                .collect();
            if !c.send(&format!("[{}]", batch.join(","))) {
                break;
            }
        }
        c.read_for(Duration::from_millis(500));
        vec![]
    }),
    ("quotas: more subscriptions than a peer may have", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        let batch: Vec<String> = (0..600)
            .map(|i| json!({"#": fresh_id("sub"), "get": {"#": format!("h/subs/{i}")}}).to_string())
            .collect();
        c.send(&format!("[{}]", batch.join(",")));
        c.read_for(Duration::from_millis(300));
        vec![]
    }),
    ("quotas: messages past the peer's rate", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        let began = Instant::now();
        let mut acked = 0;
        for round in 0..20 {
            let batch: Vec<String> = (0..1000)
                .map(|i| {
                    put(
                        &format!("rate{round}_{i}"),
                        "h/rate",
                        &format!("k{i}"),
                        &json!(round),
                        now_ms(),
                    )
                    .to_string()
                })
                .collect();
            c.send(&format!("[{}]", batch.join(",")));
            acked += c
                .read_for(Duration::from_millis(1))
                .iter()
                .filter(|m| m["ok"] == json!(true))
                .count();
        }
        while acked < 20_000 && began.elapsed() < Duration::from_secs(15) {
            acked += c
                .read_for(Duration::from_millis(100))
                .iter()
                .filter(|m| m["ok"] == json!(true))
                .count();
        }
        assert_eq!(acked, 20_000, "throttled, not refused");
        assert!(
            began.elapsed() >= Duration::from_secs(2),
            "not throttled at 5,000 a second"
        );
        vec![]
    }),
    ("mesh: unknown dam messages and error notices", |p| {
        frames(
            p,
            &[
                r##"{"#":"d1","dam":"nope"}"##,
                r##"{"#":"d2","dam":"!","err":"spam"}"##,
                r##"{"#":"d3","dam":"rtc","ok":{"rtc":{}}}"##,
                r##"{"#":"d4","dam":"hi"}"##,
            ],
        )
    }),
    ("mesh: greetings with ever new pids", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        for i in 0..500 {
            c.send_json(&json!({"#": fresh_id("hi"), "dam": "?", "pid": format!("pid{i}")}));
        }
        c.read_for(Duration::from_millis(200));
        vec![]
    }),
    ("mesh: the same message id again and again", |p| {
        let mut c = Raw::connect(p, HOSTILE).expect("connect");
        let m = put("same-id", "h/dup", "k", &json!(1), now_ms()).to_string();
        for _ in 0..2000 {
            c.send(&m);
        }
        let got = c.read_for(Duration::from_millis(500));
        assert!(got.iter().filter(|m| m["@"] == "same-id").count() <= 1);
        vec![]
    }),
    ("http: garbage and unknown paths on the relay's port", |p| {
        let mut s = support::tcp_from(HOSTILE, addr(p)).expect("tcp");
        let _ = std::io::Write::write_all(&mut s, b"\x16\x03\x01 not http at all\r\n\r\n");
        let mut s2 = support::tcp_from(HOSTILE, addr(p)).expect("tcp");
        let _ = std::io::Write::write_all(&mut s2, b"GET /../../etc/passwd HTTP/1.1\r\n\r\n");
        let mut out = String::new();
        let _ = s2.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = std::io::Read::read_to_string(&mut s2, &mut out);
        assert!(out.starts_with("HTTP/1.1 404"), "{out}");
        vec![]
    }),
];

/// What the relay has refused and dropped so far, by metric and reason.
fn refusals(relay: &Relay) -> std::collections::BTreeMap<String, f64> {
    let Some((_, m)) = relay.http("/metrics") else {
        return Default::default();
    };
    m.lines()
        .filter(|l| {
            l.starts_with("gun_refused")
                || l.starts_with("gun_peers_dropped")
                || l.starts_with("gun_connections_refused")
        })
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((
                k.replace("_total", "").replace("{reason=", "{"),
                v.parse().ok()?,
            ))
        })
        .collect()
}

/// One line of the relay's `/metrics`.
fn metric(port: u16, line: &str) -> f64 {
    let mut s = support::tcp_from(HOSTILE, addr(port)).expect("tcp");
    let _ = std::io::Write::write_all(&mut s, b"GET /metrics HTTP/1.1\r\n\r\n");
    let mut out = String::new();
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = std::io::Read::read_to_string(&mut s, &mut out);
    out.lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn addr(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

/// Sends each text frame on a fresh hostile connection, reading a little.
fn frames(port: u16, texts: &[&str]) -> Vec<String> {
    let mut c = Raw::connect(port, HOSTILE).expect("connect");
    for t in texts {
        if !c.send(t) {
            c = Raw::connect(port, HOSTILE).expect("reconnect");
        }
    }
    c.read_for(Duration::from_millis(200));
    vec![]
}

/// Sends a malformed put and expects an error answer to it.
fn refused_put(port: u16, soul: &str, graph: Value) -> Vec<String> {
    let mut c = Raw::connect(port, HOSTILE).expect("connect");
    let id = fresh_id("bad");
    c.send_json(&json!({"#": id, "put": graph}));
    let got = c.wait_for(Duration::from_secs(2), |m| m["@"] == id);
    assert!(
        got.as_ref().is_some_and(|m| m.get("err").is_some()),
        "no error ack: {got:?}"
    );
    vec![soul.to_owned()]
}

/// Sends a one-property put that must be refused with an error ack.
fn refused_one(port: u16, soul: &str, key: &str) {
    let mut c = Raw::connect(port, HOSTILE).expect("connect");
    let id = fresh_id("long");
    c.send_json(&put(&id, soul, key, &json!(1), now_ms()));
    let got = c.wait_for(Duration::from_secs(2), |m| m["@"] == id);
    assert!(got.is_some_and(|m| m.get("err").is_some()), "not refused");
}

/// The honest client's writes and checks.
struct Honest {
    port: u16,
    acked: Vec<(String, String, Value)>,
    worst: Duration,
}

impl Honest {
    /// One put from the honest address, acked within the liveness bound.
    fn put(&mut self, case: &str) {
        let began = Instant::now();
        let mut c = Raw::connect(self.port, HONEST)
            .unwrap_or_else(|e| panic!("{case}: the honest client cannot connect: {e}"));
        let (soul, key) = ("honest/log".to_owned(), fresh_id("k"));
        let value = json!(format!("{case} @ {}", self.acked.len()));
        let id = fresh_id("honest");
        c.send_json(&put(&id, &soul, &key, &value, now_ms()));
        let ack = c.wait_for(LIVENESS, |m| answers(m, &id));
        let took = began.elapsed();
        match ack {
            Some(m) if acks(&m, &id) => {}
            other => panic!("{case}: the honest put was not acked within {LIVENESS:?}: {other:?}"),
        }
        self.worst = self.worst.max(took);
        self.acked.push((soul, key, value));
    }

    /// The node at `soul`, as an honest get sees it.
    fn get(&self, soul: &str) -> Option<Value> {
        let mut c = Raw::connect(self.port, HONEST).expect("connect");
        let id = fresh_id("get");
        c.send_json(&json!({"#": id, "get": {"#": soul}}));
        let reply = c.wait_for(LIVENESS, |m| m["@"] == id)?;
        reply["put"].get(soul).cloned()
    }
}

#[test]
fn the_relay_withstands_every_hostile_case() {
    assert!(CASES.len() >= 40, "{} cases", CASES.len());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut relay = Relay::start(dir.path(), QUOTAS);
    let mut honest = Honest {
        port: relay.port,
        acked: Vec::new(),
        worst: Duration::ZERO,
    };
    for _ in 0..5 {
        honest.put("warm-up");
    }
    let mut refused: Vec<String> = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut before = refusals(&relay);
    for (name, case) in CASES {
        let port = relay.port;
        let attack = std::thread::spawn(move || case(port));
        // The honest client writes while the attack runs, and once after.
        let began = Instant::now();
        honest.worst = Duration::ZERO;
        while !attack.is_finished() && began.elapsed() < Duration::from_secs(30) {
            honest.put(name);
            std::thread::sleep(Duration::from_millis(100));
        }
        match attack.join() {
            Ok(souls) => refused.extend(souls),
            Err(e) => std::panic::resume_unwind(e),
        }
        honest.put(name);
        let counts = refusals(&relay);
        let new: Vec<String> = counts
            .iter()
            .filter(|(k, v)| before.get(*k) != Some(v))
            .map(|(k, v)| format!("{k} +{}", v - before.get(k).copied().unwrap_or(0.0)))
            .collect();
        before = counts;
        eprintln!(
            "{name}: {:.1} s, slowest honest put {:?}; {}",
            began.elapsed().as_secs_f64(),
            honest.worst,
            new.join(", ")
        );
        slowest = slowest.max(honest.worst);
        assert!(relay.alive(), "{name}: the relay died");
        let health = relay.http("/health");
        assert!(
            health.as_ref().is_some_and(|(s, _)| *s == 200),
            "{name}: /health {health:?}"
        );
    }
    // What the relay counted: refusals by reason, dropped peers.
    assert!(relay.metric("gun_refused_total") > 0.0);
    assert!(relay.metric("gun_peers_dropped_total") > 0.0);
    assert!(relay.metric("gun_connections_refused_total") > 0.0);
    eprintln!(
        "{} cases, {} honest puts acked, slowest honest put {slowest:?}",
        CASES.len(),
        honest.acked.len(),
    );

    // Kill -9 and restart: every acked honest write is there, nothing refused is.
    relay.child.kill().expect("kill");
    let _ = relay.child.wait();
    let port = relay.port;
    drop(relay);
    let relay = Relay::start_on(port, dir.path(), QUOTAS);
    let log = honest.get("honest/log").expect("the honest log survived");
    for (_, key, value) in &honest.acked {
        assert_eq!(&log[key], value, "acked honest write {key} lost");
    }
    for soul in &refused {
        assert!(honest.get(soul).is_none(), "refused {soul:?} was stored");
    }
    relay.stop();
}

/// The other side of the idle limit: a client that sends nothing but
/// answers the relay's pings is kept past it, and its connection works.
#[test]
fn a_quiet_client_that_answers_pings_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(dir.path(), &["--idle-timeout", "1"]);
    let mut c = Raw::connect(relay.port, HONEST).expect("connect");
    // Reading answers pings (tungstenite queues a pong and sends it on the
    // next read); nothing else is sent for three idle timeouts.
    let quiet = c.read_for(Duration::from_secs(3));
    assert!(quiet.iter().all(|m| m.get("dam").is_some()), "{quiet:?}");
    let id = fresh_id("quiet");
    assert!(c.send_json(&put(&id, "quiet", "k", &json!(1), now_ms())));
    assert!(
        c.wait_for(LIVENESS, |m| acks(m, &id)).is_some(),
        "the quiet client was closed"
    );
}

/// Frames that reach the relay in one read are handed to the engine
/// together: every one is handled, in the order sent, and a close right
/// behind them in the same write loses none.
#[test]
fn frames_read_in_one_go_are_all_handled_in_order() {
    use tungstenite::Message;
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(dir.path(), &[]);
    let burst = |c: &mut Raw, soul: &str| {
        for i in 0..100 {
            let p = put(
                &fresh_id("burst"),
                soul,
                &format!("k{i}"),
                &json!(i),
                now_ms(),
            );
            c.ws.write(Message::text(p.to_string())).expect("queue");
        }
    };
    // A get behind the puts in the same write sees every one of them.
    let mut c = Raw::connect(relay.port, HONEST).expect("connect");
    burst(&mut c, "burst/a");
    let id = fresh_id("get");
    c.ws.write(Message::text(
        json!({"#": id, "get": {"#": "burst/a"}}).to_string(),
    ))
    .expect("queue");
    c.ws.flush().expect("one write");
    let reply = c.wait_for(LIVENESS, |m| m["@"] == id).expect("answer");
    let node = &reply["put"]["burst/a"];
    for i in 0..100 {
        assert_eq!(node[format!("k{i}")], json!(i), "k{i} before the get");
    }
    // A close behind the puts in the same write: they are stored all the same.
    let mut c = Raw::connect(relay.port, HONEST).expect("connect");
    burst(&mut c, "burst/b");
    let _ = c.ws.close(None);
    let _ = c.ws.flush();
    let deadline = Instant::now() + LIVENESS;
    loop {
        let mut g = Raw::connect(relay.port, HONEST).expect("connect");
        let id = fresh_id("get");
        g.send_json(&json!({"#": id, "get": {"#": "burst/b"}}));
        let reply = g.wait_for(LIVENESS, |m| m["@"] == id).expect("answer");
        let node = &reply["put"]["burst/b"];
        if (0..100).all(|i| node[format!("k{i}")] == json!(i)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "puts lost behind a close: {node}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    relay.stop();
}

/// The acks of a turn's puts leave from the commit thread once the write
/// is durable: each put of two writers' bursts is acked once, with
/// `ok: true`, to the writer that sent it, and the relay counts each once.
#[test]
fn every_put_of_a_burst_is_acked_once_to_its_writer() {
    use tungstenite::Message;
    let dir = tempfile::tempdir().expect("tempdir");
    let relay = Relay::start(dir.path(), &[]);
    let mut writers: Vec<(Raw, Vec<String>)> = (0..2)
        .map(|w| {
            let mut c = Raw::connect(relay.port, HONEST).expect("connect");
            let ids: Vec<String> = (0..100).map(|_| fresh_id("once")).collect();
            for (i, id) in ids.iter().enumerate() {
                let p = put(
                    id,
                    &format!("once/{w}"),
                    &format!("k{i}"),
                    &json!(i),
                    now_ms(),
                );
                c.ws.write(Message::text(p.to_string())).expect("queue");
            }
            c.ws.flush().expect("one write");
            (c, ids)
        })
        .collect();
    for (c, ids) in &mut writers {
        let mut acks: std::collections::BTreeMap<String, usize> = Default::default();
        let deadline = Instant::now() + LIVENESS;
        while acks.len() < ids.len() && Instant::now() < deadline {
            for m in c.read_for(Duration::from_millis(50)) {
                if let Some(id) = m["@"].as_str() {
                    assert_eq!(m["ok"], json!(true), "{m}");
                    *acks.entry(id.to_owned()).or_default() += 1;
                }
            }
        }
        // Anything sent twice would be here by now.
        for m in c.read_for(Duration::from_millis(300)) {
            if let Some(id) = m["@"].as_str() {
                *acks.entry(id.to_owned()).or_default() += 1;
            }
        }
        let want: std::collections::BTreeMap<String, usize> =
            ids.iter().map(|id| (id.clone(), 1)).collect();
        assert_eq!(acks, want, "each put acked once, to its writer");
    }
    assert_eq!(metric(relay.port, "gun_puts_acked_total"), 200.0);
    relay.stop();
}
