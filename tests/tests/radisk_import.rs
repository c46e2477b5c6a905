//! `gun import --radisk`: a directory written by the pinned Gun.js relay
//! (radisk, its default store) is loaded into our sled store; every
//! property the Gun.js relay held comes over with its value and state, a
//! Gun.js user's signed values still verify, and a second import changes
//! nothing.

use gun_core::store::{SledStore, radisk};
use gun_proto::sea::space;
use gun_proto::{Graph, Store, StoreQuery, Value};
use gun_tests::interop::{JsAgent, JsRelay, PATIENCE, Peer, Relay, gunjs_installed};
use serde_json::json;

#[test]
fn a_gunjs_relays_radisk_directory_imports_whole() {
    assert!(
        gunjs_installed(),
        "Gun.js is not installed: run `npm ci --prefix tests/interop`"
    );
    let mut relay = JsRelay::start().expect("Gun.js relay");
    let js = JsAgent::client("gunjs", &relay.url()).expect("agent");
    let put = |path: serde_json::Value, value: serde_json::Value| {
        let ack = js
            .call(json!({"op": "put", "path": path, "value": value}), PATIENCE)
            .expect("put");
        assert!(ack["err"].is_null(), "{ack}");
    };
    put(
        json!(["alice"]),
        json!({"name": "Alice", "age": 30, "admin": false, "gone": null, "car": {"color": "red"}}),
    );
    put(json!(["alice", "bio"]), json!("line one\nline \"two\" ✓"));
    for n in 0..7 {
        let node: serde_json::Map<String, serde_json::Value> = (0..50)
            .map(|i| (format!("k{i}"), json!(n * 50 + i)))
            .collect();
        put(
            json!([format!("many/{n}")]),
            serde_json::Value::Object(node),
        );
    }
    let made = js
        .call(
            json!({"op": "create", "alias": "importer", "pass": "a long password"}),
            PATIENCE,
        )
        .expect("create");
    let user = made["pub"].as_str().expect("pub").to_owned();
    js.call(
        json!({"op": "auth", "alias": "importer", "pass": "a long password"}),
        PATIENCE,
    )
    .expect("auth");
    let ack = js
        .call(
            json!({"op": "uput", "path": ["status"], "value": "imported"}),
            PATIENCE,
        )
        .expect("uput");
    assert!(ack["err"].is_null(), "{ack}");
    let mut souls: Vec<String> = ["alice", "alice/car", "~@importer"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    souls.extend((0..7).map(|i| format!("many/{i}")));
    souls.push(format!("~{user}"));
    let held = relay.nodes(&souls).expect("the Gun.js relay's nodes");
    drop(js);
    relay.kill();

    let dir = tempfile::tempdir().expect("dir");
    let mut store = SledStore::open(&dir.path().join("radata")).expect("sled");
    let report = radisk::import(&relay.radata(), &mut store).expect("import");
    assert!(report.files >= 1 && report.invalid == 0, "{report:?}");
    let mut compared = 0;
    for soul in &souls {
        let node = held[soul]
            .as_ref()
            .unwrap_or_else(|| panic!("Gun.js held {soul}"));
        let ours = store.read(&StoreQuery::soul(soul.clone())).expect("read");
        let states = node["_"][">"].as_object().expect("states");
        for (key, state) in states {
            let p = ours
                .prop(soul, key)
                .unwrap_or_else(|| panic!("{soul}.{key} imported"));
            assert_eq!(Some(p.state), state.as_f64(), "{soul}.{key} state");
            assert_eq!(p.value.to_json(), node[key], "{soul}.{key} value");
            compared += 1;
        }
    }
    assert!(compared >= 300 + 7, "{compared} properties compared");
    // The user's signed values verify as they did at the Gun.js relay.
    let space_soul = format!("~{user}");
    let mut node = Graph::new();
    for (s, n) in store
        .read(&StoreQuery::soul(space_soul.clone()))
        .expect("read")
        .iter()
    {
        node.insert_node(s, n.clone());
    }
    let checked = space::check_put(&mut node, f64::MAX).expect("the rules hold");
    assert!(!checked.proofs.is_empty() && checked.proofs.iter().all(gun_proto::sea::Proof::verify));
    let status = node.prop(&space_soul, "status").expect("status");
    assert_eq!(
        space::unpack_value(&space_soul, status.value),
        Some(Value::String("imported".into()))
    );
    // Again: nothing new.
    let again = radisk::import(&relay.radata(), &mut store).expect("import");
    assert_eq!((again.props, again.written), (report.props, 0));
}
