//! SEA against the vectors Gun.js 0.2020.1241 made (`vectors/`, copied from
//! the project's shared vectors): Rust reads what Gun.js wrote. The other
//! direction, and vectors made at test time by the pinned Gun.js, are in
//! `tests/tests/sea_interop.rs`.
#![cfg(feature = "sea")]

use gun_proto::sea::{self, Js, Pair, space};
use gun_proto::{Graph, Value};
use serde_json::{Value as Json, json};

fn vectors() -> Json {
    let text = include_str!("vectors/sea-gunjs-0.2020.1241.json");
    serde_json::from_str(text).expect("vectors")
}

fn pair(v: &Json) -> Pair {
    serde_json::from_value(v.clone()).expect("pair")
}

#[test]
fn pairs_derive_as_gunjs() {
    let v = vectors();
    for name in ["pair", "pair2"] {
        let p = pair(&v[name]);
        assert!(p.is_consistent(), "{name}: pub/epub derive from priv/epriv");
    }
}

#[test]
fn gunjs_signatures_verify() {
    let v = vectors();
    let p = pair(&v["pair"]);
    let s = |k: &str| v[k].as_str().expect(k).to_owned();
    assert_eq!(
        sea::verify(&s("sign_hello"), &p.pub_key),
        Ok(json!("hello"))
    );
    assert_eq!(
        sea::verify(&s("sign_object_a1_bx"), &p.pub_key),
        Ok(json!({"a": 1, "b": "x"}))
    );
    assert_eq!(
        sea::verify(&s("node_crypto_signed_verified_by_gun"), &p.pub_key),
        Ok(json!("rust-side"))
    );
    let other = pair(&v["pair2"]);
    assert!(sea::verify(&s("sign_hello"), &other.pub_key).is_err());
}

#[test]
fn gunjs_ciphertexts_decrypt() {
    let v = vectors();
    let p = pair(&v["pair"]);
    let ct = v["encrypt_secret_text_with_pair_epriv"]
        .as_str()
        .expect("ct");
    assert_eq!(sea::decrypt(ct, &p.epriv), Ok(json!("secret text")));
    let ct = v["encrypt_obj_x1_with_passphrase"].as_str().expect("ct");
    assert_eq!(sea::decrypt(ct, "passphrase"), Ok(json!({"x": 1})));
    assert!(sea::decrypt(ct, "wrong").is_err());
}

#[test]
fn work_and_secret_match() {
    let v = vectors();
    assert_eq!(
        sea::work(&json!("password"), "salt"),
        v["work_password_salt_pbkdf2"].as_str().expect("work")
    );
    assert_eq!(
        sea::work_sha256(&json!("hello")),
        v["work_hello_sha256"].as_str().expect("sha")
    );
    let (a, b) = (pair(&v["pair"]), pair(&v["pair2"]));
    let want = v["secret_pair_epriv_x_pair2_epub"]
        .as_str()
        .expect("secret");
    assert_eq!(sea::secret(&b.epub, &a).expect("secret"), want);
    assert_eq!(sea::secret(&a.epub, &b).expect("secret"), want);
}

#[test]
fn gunjs_certificates_hold() {
    let v = vectors();
    let (owner, bob) = (pair(&v["pair"]), pair(&v["pair2"]));
    for name in ["certify_pair2_by_pair", "certify_pair2_by_pair_expiry"] {
        let cert = v[name].as_str().expect(name);
        let m = sea::verify(cert, &owner.pub_key).expect("owner signed it");
        assert_eq!(m["c"], bob.pub_key.as_str());
    }
    // Bob writes into the owner's inbox with the certificate: the rules
    // pass and both signatures verify.
    let cert = Js::parse_lenient(v["certify_pair2_by_pair"].as_str().expect("cert"));
    let soul = format!("~{}/inbox", owner.pub_key);
    let key = format!("from {}", bob.pub_key);
    let value = space::pack(
        &soul,
        &key,
        &Value::String("hi".into()),
        1.7e12,
        &bob,
        Some(&cert),
    )
    .expect("pack");
    let mut put = Graph::new();
    put.insert(&soul, &key, value, 1.7e12);
    let checked = space::check_put(&mut put, 1.7e12).expect("rules");
    assert_eq!(checked.proofs.len(), 2);
    assert!(checked.proofs.iter().all(sea::Proof::verify));
}

#[test]
fn gunjs_user_value_verifies_and_replays_fail() {
    let v = vectors();
    let u = &v["user_value"];
    let soul = u["soul"].as_str().expect("soul");
    let key = u["key"].as_str().expect("key");
    let state = u["state"].as_f64().expect("state");
    let wire = Value::String(u["wire_value"].as_str().expect("wire").to_owned());
    let mut put = Graph::new();
    put.insert(soul, key, wire.clone(), state);
    let checked = space::check_put(&mut put, state).expect("rules");
    assert!(
        checked.proofs.iter().all(sea::Proof::verify),
        "Gun.js's signed value"
    );
    let mut put = Graph::new();
    put.insert(soul, key, wire.clone(), state + 1.0);
    let checked = space::check_put(&mut put, state).expect("rules");
    assert!(
        !checked.proofs.iter().all(sea::Proof::verify),
        "its signature, another state"
    );
    assert_eq!(
        space::unpack_value(soul, wire.view()),
        Some(Value::String("Alice".into()))
    );
    // Ours over the same text verifies too (signatures are randomized in
    // Gun.js and deterministic here: compare by verifying).
    let p = pair(&v["pair"]);
    let mine =
        space::pack(soul, key, &Value::String("Alice".into()), state, &p, None).expect("pack");
    let mut put = Graph::new();
    put.insert(soul, key, mine, state);
    assert!(
        space::check_put(&mut put, state)
            .expect("rules")
            .proofs
            .iter()
            .all(sea::Proof::verify)
    );
}
