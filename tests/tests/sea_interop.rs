//! SEA between gun-rs and the pinned Gun.js (`tests/interop`), both ways:
//! vectors made at test time by each side and checked by the other; users
//! made on one side logging in on the other, through our relay and through
//! a Gun.js relay (which verifies our signatures with its own SEA);
//! certificates made by either honoured by the other.

use std::time::{Duration, Instant};

use gun_core::sea::{self, Certificants, Pair};
use gun_tests::interop::{
    JsAgent, JsRelay, PATIENCE, Relay, RustClient, RustRelay, gunjs_installed,
};
use serde_json::{Value, json};

fn need_gunjs() {
    assert!(
        gunjs_installed(),
        "Gun.js is not installed: run `npm ci --prefix tests/interop` (the README's test command does)"
    );
}

/// `SEA[fn](...args)` in Gun.js.
fn js_sea(agent: &JsAgent, f: &str, args: Value) -> Value {
    let answer = agent
        .call(json!({"op": "sea", "fn": f, "args": args}), PATIENCE)
        .unwrap_or_else(|e| panic!("SEA.{f}: {e}"));
    assert!(answer["err"].is_null(), "SEA.{f}: {answer}");
    answer["value"].clone()
}

fn call(agent: &JsAgent, cmd: Value) -> Value {
    let op = cmd["op"].clone();
    agent
        .call(cmd, PATIENCE)
        .unwrap_or_else(|e| panic!("{op}: {e}"))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

#[test]
fn vectors_both_ways_at_test_time() {
    need_gunjs();
    let relay = RustRelay::start().expect("relay");
    let js = JsAgent::client("gunjs", &relay.url()).expect("agent");
    let js_pair: Pair = serde_json::from_value(js_sea(&js, "pair", json!([]))).expect("pair");
    assert!(
        js_pair.is_consistent(),
        "Gun.js's pair: our derivation agrees"
    );
    let ours = sea::pair();
    let ours_json = serde_json::to_value(&ours).expect("json");

    // Gun.js made, Rust reads.
    let signed = js_sea(&js, "sign", json!([{"a": 1, "b": "x"}, js_pair]));
    assert_eq!(
        sea::verify(text(&signed), &js_pair.pub_key),
        Ok(json!({"a": 1, "b": "x"}))
    );
    assert!(sea::verify(text(&signed), &ours.pub_key).is_err());
    let sealed = js_sea(&js, "encrypt", json!(["secret text", js_pair]));
    assert_eq!(
        sea::decrypt(text(&sealed), &js_pair.epriv),
        Ok(json!("secret text"))
    );
    let sealed = js_sea(&js, "encrypt", json!([{"x": [1, 2]}, "a passphrase"]));
    assert_eq!(
        sea::decrypt(text(&sealed), "a passphrase"),
        Ok(json!({"x": [1, 2]}))
    );
    let work = js_sea(&js, "work", json!(["password", "some salt"]));
    assert_eq!(sea::work(&json!("password"), "some salt"), text(&work));
    let sha = js_sea(
        &js,
        "work",
        json!(["hello", null, null, {"name": "SHA-256"}]),
    );
    assert_eq!(sea::work_sha256(&json!("hello")), text(&sha));
    let secret = js_sea(&js, "secret", json!([ours.epub, js_pair]));
    assert_eq!(
        sea::secret(&js_pair.epub, &ours).expect("secret"),
        text(&secret)
    );

    // Rust made, Gun.js reads.
    let signed = sea::sign(&json!({"hello": "gun"}), &ours).expect("sign");
    assert_eq!(
        js_sea(&js, "verify", json!([signed, ours.pub_key])),
        json!({"hello": "gun"})
    );
    let hello = sea::sign(&json!("hello"), &ours).expect("sign");
    assert_eq!(
        js_sea(&js, "verify", json!([hello, ours.pub_key])),
        json!("hello")
    );
    let sealed = sea::encrypt(&json!({"n": 5}), &ours.epriv).expect("encrypt");
    assert_eq!(
        js_sea(&js, "decrypt", json!([sealed, ours_json])),
        json!({"n": 5})
    );
    let key = sea::secret(&js_pair.epub, &ours).expect("secret");
    let sealed = sea::encrypt(&json!("between us"), &key).expect("encrypt");
    let theirs = js_sea(&js, "secret", json!([ours.epub, js_pair]));
    assert_eq!(
        js_sea(&js, "decrypt", json!([sealed, theirs])),
        json!("between us")
    );

    // Certificates: each verifies the other's.
    let cert = sea::certify(
        &Certificants::Keys(vec![js_pair.pub_key.clone()]),
        &json!({"*": "inbox", "+": "*"}),
        &ours,
        Some(2e12),
    )
    .expect("certify");
    let m = js_sea(&js, "verify", json!([cert, ours.pub_key]));
    assert_eq!(m["c"], json!(js_pair.pub_key));
    assert_eq!(m["e"].as_f64(), Some(2e12));
    let cert = js_sea(
        &js,
        "certify",
        json!([[ours.pub_key], {"*": "inbox"}, js_pair]),
    );
    let m = sea::verify(text(&cert), &js_pair.pub_key).expect("Gun.js's certificate");
    assert_eq!(m["c"], json!(ours.pub_key));
}

/// Waits until `f` holds.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Users and certificates across the two implementations, through `relay`.
fn users_across(relay: &dyn Relay, tag: &str) {
    let url = relay.url();
    let js = JsAgent::client("gunjs", &url).expect("agent");
    let rust = RustClient::connect("rust", &url).expect("client");
    let pass = "a long enough password";

    // Made in Gun.js, logged in from Rust.
    let made = call(
        &js,
        json!({"op": "create", "alias": format!("js-{tag}"), "pass": pass}),
    );
    assert!(made["err"].is_null(), "{made}");
    let js_pub = text(&made["pub"]).to_owned();
    // Gun.js's create with a callback does not log in; auth does.
    let logged = call(
        &js,
        json!({"op": "auth", "alias": format!("js-{tag}"), "pass": pass}),
    );
    assert_eq!(logged["pub"], json!(js_pub), "{logged}");
    let put = call(
        &js,
        json!({"op": "uput", "path": ["profile", "name"], "value": "made in Gun.js"}),
    );
    assert!(put["err"].is_null(), "{put}");
    let user = rust.gun().user();
    let mut info = None;
    eventually("Rust logs in as Gun.js's user", || {
        info = user.auth(&format!("js-{tag}"), pass).ok();
        info.is_some()
    });
    assert_eq!(info.map(|i| i.pub_key), Some(js_pub.clone()));
    let name = user
        .get("profile")
        .expect("user")
        .get("name")
        .value()
        .expect("read");
    assert_eq!(name, json!("made in Gun.js"));
    user.get("from")
        .expect("user")
        .put_acked(json!("written by Rust"))
        .expect("the relay took our signature");
    call(&js, json!({"op": "leave"}));
    let seen = call(
        &js,
        json!({"op": "once", "path": [format!("~{js_pub}"), "from"], "wait": 3000}),
    );
    assert_eq!(
        seen["value"],
        json!("written by Rust"),
        "Gun.js reads what Rust signed"
    );
    user.leave();

    // Made in Rust, logged in from Gun.js.
    let rust_pub = user.create(&format!("rust-{tag}"), pass).expect("create");
    user.get("profile")
        .expect("user")
        .put_acked(json!({"name": "made in Rust"}))
        .expect("acked");
    let mut logged = Value::Null;
    eventually("Gun.js logs in as Rust's user", || {
        logged = call(
            &js,
            json!({"op": "auth", "alias": format!("rust-{tag}"), "pass": pass}),
        );
        logged["err"].is_null()
    });
    assert_eq!(logged["pub"], json!(rust_pub));
    let name = call(
        &js,
        json!({"op": "once", "path": [format!("~{rust_pub}"), "profile", "name"], "wait": 3000}),
    );
    assert_eq!(name["value"], json!("made in Rust"));
    let put = call(
        &js,
        json!({"op": "uput", "path": ["status"], "value": "Gun.js was here"}),
    );
    assert!(put["err"].is_null(), "{put}");
    let space = rust.gun().user_at(&rust_pub);
    eventually("Rust reads what Gun.js signed", || {
        space.get("status").once_value().ok().flatten() == Some(json!("Gun.js was here"))
    });
    call(&js, json!({"op": "leave"}));

    // Certificates: Rust's user lets Gun.js's write its inbox...
    let rust_pair = user.pair().expect("pair");
    let cert = sea::certify(
        &Certificants::Keys(vec![js_pub.clone()]),
        &json!({"*": "inbox", "+": "*"}),
        &rust_pair,
        None,
    )
    .expect("certify");
    let back = call(
        &js,
        json!({"op": "auth", "alias": format!("js-{tag}"), "pass": pass}),
    );
    assert!(back["err"].is_null(), "{back}");
    let wrote = call(
        &js,
        json!({"op": "cput", "path": [format!("~{rust_pub}"), "inbox", js_pub.clone()], "value": "hi from Gun.js", "cert": cert}),
    );
    assert!(wrote["err"].is_null(), "Gun.js's certified write: {wrote}");
    eventually("Rust reads the certified write", || {
        space
            .get("inbox")
            .get(js_pub.clone())
            .once_value()
            .ok()
            .flatten()
            == Some(json!("hi from Gun.js"))
    });
    // ...and Gun.js's user lets Rust's write its inbox.
    let cert = call(
        &js,
        json!({"op": "certify_self", "who": rust_pub, "policy": {"*": "inbox", "+": "*"}}),
    );
    let cert = text(&cert["value"]).to_owned();
    rust.gun()
        .user_at(&js_pub)
        .get("inbox")
        .get(rust_pub.clone())
        .put_certified(json!("hi from Rust"), cert)
        .expect("the relay took Rust's certified write");
    let seen = call(
        &js,
        json!({"op": "once", "path": [format!("~{js_pub}"), "inbox", rust_pub], "wait": 3000}),
    );
    assert_eq!(seen["value"], json!("hi from Rust"));
}

#[test]
fn users_across_through_our_relay() {
    need_gunjs();
    let relay = RustRelay::start().expect("relay");
    users_across(&relay, "ours");
}

#[test]
fn users_across_through_a_gunjs_relay() {
    need_gunjs();
    let relay = JsRelay::start().expect("relay");
    users_across(&relay, "theirs");
}
