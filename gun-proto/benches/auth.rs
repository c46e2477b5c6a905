//! Signature checks of the signed mesh: one by one, all signatures of a
//! message in one aggregate check, and many messages in one batch.
//!
//! Run: `cargo bench -p gun-proto --bench auth`

use divan::{Bencher, black_box};
use gun_proto::auth::{self, Signed, Signer};
use serde_json::json;

fn main() {
    divan::main();
}

/// `n` put messages, each signed by `hops` signers (origin, then relays).
fn messages(n: usize, hops: usize) -> Vec<Signed> {
    let signers: Vec<Signer> = (0..hops)
        .map(|i| Signer::from_seed(&[u8::try_from(i + 1).unwrap_or(1); 32]).expect("signer"))
        .collect();
    (0..n)
        .map(|i| {
            let mut m = json!({"put": {format!("user/{i}"): {
                "_": {"#": format!("user/{i}"), ">": {"name": 1.7e12}}, "name": "Alice"}}});
            let body = auth::body(m.as_object().expect("object"));
            m["#"] = json!(auth::message_id(&body));
            let sigs: Vec<_> = signers.iter().map(|s| s.sign(&body)).collect();
            m["sigs"] = json!(sigs);
            auth::signed(m.as_object().expect("object"))
                .expect("valid")
                .expect("signed")
        })
        .collect()
}

/// Each signature of each message checked on its own (what the original
/// port does): `n × hops` pairings.
#[divan::bench(args = [(1, 1), (64, 1), (64, 3)])]
fn one_by_one(b: Bencher<'_, '_>, (n, hops): (usize, usize)) {
    let msgs = messages(n, hops);
    b.bench(|| {
        for m in &msgs {
            for (pk, _, sig) in &m.entries {
                let aug = pk.compress();
                let r = sig.verify(false, &m.body, auth::DST, &aug, pk, false);
                assert_eq!(r, blst::BLST_ERROR::BLST_SUCCESS);
            }
        }
    });
}

/// Each message's signatures in one aggregate check.
#[divan::bench(args = [(64, 1), (64, 3)])]
fn aggregate_per_message(b: Bencher<'_, '_>, (n, hops): (usize, usize)) {
    let msgs = messages(n, hops);
    b.bench(|| {
        for m in &msgs {
            auth::verify(black_box(m)).expect("valid");
        }
    });
}

/// All messages' signatures in one randomized batch.
#[divan::bench(args = [(64, 1), (64, 3), (1000, 1)])]
fn batched(b: Bencher<'_, '_>, (n, hops): (usize, usize)) {
    let msgs = messages(n, hops);
    let refs: Vec<&Signed> = msgs.iter().collect();
    let random: Vec<u8> = (0..8 * n * hops).map(|i| (i * 131 + 7) as u8).collect();
    b.bench(|| assert!(auth::verify_batch(black_box(&refs), &random)));
}

/// Signing one message (every hop pays this once per message it sends).
#[divan::bench]
fn sign(b: Bencher<'_, '_>) {
    let s = Signer::from_seed(&[1; 32]).expect("signer");
    let body =
        br###"{"put":{"user/1":{"_":{"#":"user/1",">":{"name":1700000000000}},"name":"Alice"}}}"###;
    b.bench(|| s.sign(black_box(body)));
}

/// SEA: user-space values as a relay checks them (the rules, then one
/// ECDSA P-256 verification each, on `ring`). Items: values verified.
/// Gun.js beside it: `node bench/sea-verify.js` (BENCHMARKS.md).
#[divan::bench(args = [1000])]
fn sea_verify(b: Bencher<'_, '_>, n: usize) {
    use gun_proto::sea::{Pair, space};
    use gun_proto::{Graph, Value};
    let pair = Pair::from_seed(b"bench");
    let soul = format!("~{}", pair.pub_key);
    let proofs: Vec<_> = (0..n)
        .map(|i| {
            let key = format!("k{i}");
            let v = space::pack(
                &soul,
                &key,
                &Value::String(format!("value {i}")),
                1.7e12,
                &pair,
                None,
            )
            .expect("pack");
            let mut put = Graph::new();
            put.insert(&soul, &key, v, 1.7e12);
            space::check_put(&mut put, 1.7e12)
                .expect("rules")
                .proofs
                .remove(0)
        })
        .collect();
    b.counter(divan::counter::ItemsCount::new(n)).bench(|| {
        for p in &proofs {
            assert!(black_box(p).verify());
        }
    });
}

/// SEA: signing a user-space value (`p256`, RFC 6979), as our user's
/// writes are signed. Items: values signed.
#[divan::bench]
fn sea_sign(b: Bencher<'_, '_>) {
    use gun_proto::Value;
    use gun_proto::sea::{Pair, space};
    let pair = Pair::from_seed(b"sign");
    let soul = format!("~{}", pair.pub_key);
    let v = Value::String("Alice".into());
    b.counter(divan::counter::ItemsCount::new(1usize))
        .bench(|| space::pack(&soul, "name", black_box(&v), 1.7e12, &pair, None).expect("pack"));
}
