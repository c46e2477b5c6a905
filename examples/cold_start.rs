//! Cold start: writes N properties (10 per node) into a disk store, closes
//! it, reopens it, and times the first read and a read of everything.
//!
//! `cargo run --release --example cold_start -- [N] [sled|redb|fjall|file] [BATCH]`
//! (default 1,000,000 properties, the default store (redb), 100,000
//! properties per write)
use std::time::Instant;

use gun_io_blocking::{StoreKind, open_store};
use gun_proto::lex::Lex;
use gun_proto::{Graph, StoreQuery, Value};

fn main() -> Result<(), gun_proto::StoreError> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let kind = match std::env::args().nth(2).as_deref() {
        None => StoreKind::DEFAULT,
        Some("sled") => StoreKind::Sled,
        Some("redb") => StoreKind::Redb,
        Some("fjall") => StoreKind::Fjall,
        Some("file") => StoreKind::File,
        Some(other) => {
            return Err(gun_proto::StoreError::new(format!(
                "unknown store {other:?}: sled, redb, fjall or file"
            )));
        }
    };
    let per_batch: u64 = std::env::args()
        .nth(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("gun-cold-start-{}", std::process::id()));
    let t = Instant::now();
    {
        let mut store = open_store(kind, &dir)?;
        let mut batch = Graph::new();
        let mut in_batch = 0;
        for i in 0..n {
            batch.insert(
                &format!("user/{:08}", i / 10),
                &format!("k{}", i % 10),
                Value::Number(i as f64),
                1.7e12,
            );
            in_batch += 1;
            if in_batch == per_batch {
                store.write(&[std::mem::take(&mut batch)])?;
                in_batch = 0;
            }
        }
        store.write(&[batch])?;
    }
    println!(
        "{kind:?}: wrote {n} properties in {:.2} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let mut store = open_store(kind, &dir)?;
    let opened = t.elapsed();
    let first = store.read(&StoreQuery::soul(format!("user/{:08}", n / 20)))?;
    let first_read = t.elapsed();
    assert_eq!(first.prop_count(), 10);
    let every_soul = Lex {
        prefix: Some(String::new()),
        ..Lex::default()
    };
    let all = store.read(&StoreQuery::scan(every_soul, None))?;
    let everything = t.elapsed();
    assert_eq!(all.prop_count() as u64, n);
    println!(
        "reopen {:.3} s, first read {:.1} ms after open, all {} properties read {:.2} s after open",
        opened.as_secs_f64(),
        first_read.as_secs_f64() * 1000.0,
        all.prop_count(),
        everything.as_secs_f64()
    );
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
