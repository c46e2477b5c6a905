//! Property tests: HAM merge is commutative, associative and idempotent, and
//! the codec round-trips messages.

use gun_proto::graph::Graph;
use gun_proto::lex::Lex;
use gun_proto::value::Value;
use gun_proto::wire::{self, Get, Limits, Message};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1000i32..1000).prop_map(|n| Value::Number(f64::from(n) / 4.0)),
        "[a-c😀\u{FFFF}\"]{0,3}".prop_map(Value::String),
        "[a-c]{1,2}".prop_map(Value::Link),
    ]
}

/// One update: (soul, key, value, state), drawn from small sets so they collide.
fn update() -> impl Strategy<Value = (String, String, Value, f64)> {
    ("[ab]", "[xyz]", value(), (0u8..4).prop_map(f64::from))
}

fn graph_of(updates: &[(String, String, Value, f64)]) -> Graph {
    let mut g = Graph::new();
    for (s, k, v, t) in updates {
        g.merge_prop(f64::INFINITY, s, k, v, *t);
    }
    g
}

fn merged(a: &Graph, b: &Graph) -> Graph {
    let mut g = a.clone();
    g.merge(f64::INFINITY, b);
    g
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn merge_is_commutative(a in prop::collection::vec(update(), 0..12), b in prop::collection::vec(update(), 0..12)) {
        let (ga, gb) = (graph_of(&a), graph_of(&b));
        prop_assert_eq!(merged(&ga, &gb), merged(&gb, &ga));
    }

    #[test]
    fn merge_is_associative(
        a in prop::collection::vec(update(), 0..8),
        b in prop::collection::vec(update(), 0..8),
        c in prop::collection::vec(update(), 0..8),
    ) {
        let (ga, gb, gc) = (graph_of(&a), graph_of(&b), graph_of(&c));
        prop_assert_eq!(merged(&merged(&ga, &gb), &gc), merged(&ga, &merged(&gb, &gc)));
    }

    #[test]
    fn merge_is_idempotent(a in prop::collection::vec(update(), 0..12)) {
        let ga = graph_of(&a);
        prop_assert_eq!(merged(&ga, &ga), ga);
    }

    #[test]
    fn any_delivery_order_gives_the_same_graph(mut a in prop::collection::vec(update(), 0..16), seed in any::<u64>()) {
        let forward = graph_of(&a);
        // A seeded shuffle of the same updates.
        let mut x = seed | 1;
        for i in (1..a.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            a.swap(i, (x % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(graph_of(&a), forward);
    }

    #[test]
    fn put_messages_round_trip(
        a in prop::collection::vec(update(), 1..10),
        id in "[0-9A-Za-z]{9}",
        extra in prop::option::of(any::<i32>()),
    ) {
        let put = graph_of(&a);
        let mut m = Message { id: Some(id.into()), put: Some(put), ..Message::default() };
        if let Some(e) = extra {
            m.extra.insert("x".into(), serde_json::json!(e));
        }
        let text = m.encode();
        let back = wire::decode(text.as_bytes(), &Limits::default()).expect("decodes");
        prop_assert_eq!(back.len(), 1);
        prop_assert_eq!(back[0].as_ref().expect("valid"), &m);
    }

    #[test]
    fn get_messages_round_trip(soul in "[a-z/]{1,8}", key in prop::option::of("[a-z]{1,4}"), prefix in any::<bool>()) {
        let key = key.map(|k| if prefix { Lex { prefix: Some(k), ..Lex::default() } } else { Lex::exact(k) });
        let m = Message {
            id: Some("q".into()),
            get: Some(Box::new(Get { soul: Lex::exact(soul), key, budget: None, reverse: false })),
            ..Message::default()
        };
        let text = m.encode();
        let back = wire::decode(text.as_bytes(), &Limits::default()).expect("decodes");
        prop_assert_eq!(back[0].as_ref().expect("valid"), &m);
    }

    #[test]
    fn states_round_trip_exactly(ms in 1_600_000_000_000u64..1_900_000_000_000, n in 0u32..999) {
        let state = ms as f64 + f64::from(n) / 999.0;
        let mut g = Graph::new();
        g.insert("s", "k", Value::Null, state);
        let text = Message { put: Some(g), ..Message::default() }.encode();
        let back = wire::decode(text.as_bytes(), &Limits::default()).expect("decodes");
        let put = back[0].as_ref().expect("valid").put.clone().expect("put");
        prop_assert_eq!(put.prop("s", "k").map(|p| p.state), Some(state));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = wire::decode(&bytes, &Limits::default());
    }
}

#[test]
fn batches_round_trip() {
    let a = Message {
        id: Some("a".into()),
        dam: Some("hi".into()),
        ..Message::default()
    };
    let b = Message {
        id: Some("b".into()),
        ack: Some("a".into()),
        ok: Some(serde_json::json!(true)),
        ..Message::default()
    };
    let frame = wire::batch(&[a.encode(), b.encode()]);
    let back: Vec<Message> = wire::decode(frame.as_bytes(), &Limits::default())
        .expect("decodes")
        .into_iter()
        .map(|m| m.expect("valid"))
        .collect();
    assert_eq!(back, [a, b]);
}

/// A put message's text, entries in any order, sometimes broken: the single-
/// pass reader must read it as the JSON-tree reader does (or leave it to it).
fn message_text() -> impl Strategy<Value = String> {
    let json_value = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        (-5i32..5).prop_map(|n| format!("{}", f64::from(n) / 2.0)),
        "[ab\"\\\\]{0,3}".prop_map(|s| serde_json::Value::String(s).to_string()),
        Just(r##"{"#":"t"}"##.to_owned()),
        Just(r##"{"#":""}"##.to_owned()),
        Just(r##"{"#":"t","x":1}"##.to_owned()),
        Just("[1]".to_owned()),
        Just(r##""\u00e9""##.to_owned()),
    ];
    let state = prop_oneof![
        Just("1".to_owned()),
        Just("2.5".to_owned()),
        Just("\"1\"".to_owned()),
        Just("null".to_owned()),
    ];
    let prop = (
        "[xyz]|caf\\\\u00e9",
        json_value,
        proptest::option::of(state),
    );
    (
        prop::collection::vec(prop, 0..4),
        prop_oneof![Just("s"), Just("t"), Just("")],
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(props, soul_in_meta, with_meta, with_states, order)| {
            let states: Vec<String> = props
                .iter()
                .filter_map(|(k, _, s)| s.as_ref().map(|s| format!("\"{k}\":{s}")))
                .collect();
            let mut meta = format!(r##""#":"{soul_in_meta}""##);
            if with_states {
                meta.push_str(&format!(r##",">":{{{}}}"##, states.join(",")));
            }
            let mut entries: Vec<String> = props
                .iter()
                .map(|(k, v, _)| format!("\"{k}\":{v}"))
                .collect();
            if with_meta {
                let at = (order as usize) % (entries.len() + 1);
                entries.insert(at, format!(r##""_":{{{meta}}}"##));
            }
            format!(r##"{{"#":"m","put":{{"s":{{{}}}}}}}"##, entries.join(","))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn the_one_pass_reader_agrees_with_the_tree_reader(text in message_text()) {
        let tree = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => wire::message(v).map_err(|(id, e)| (id, e.to_string())),
            Err(_) => return Ok(()),
        };
        let one_pass = wire::message_text(&text).map_err(|(id, e)| (id, e.to_string()));
        prop_assert_eq!(one_pass, tree, "{}", text);
    }
}
