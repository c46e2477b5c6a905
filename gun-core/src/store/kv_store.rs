//! The graph in an ordered key-value database ([`Kv`]): one entry per
//! property, a node's properties side by side, values in compact binary
//! ([`super::record`]), and an index of the souls the store holds.
//!
//! Keys, by their first byte:
//! - `p` + escaped soul + `00 00` + key: a property's record. A node is one
//!   contiguous range, so reading a node is one seek and a short scan, and
//!   writing a property never rewrites its neighbours (Gun's sets grow one
//!   key at a time under a single soul).
//! - `s` + escaped soul: the soul index. Listing the souls a store holds
//!   reads this, not every property.
//! - `m` + name: what the store is (`mlayout`, checked on open).
//!
//! Opening reads one entry: the layout mark. No scan, no log replay beyond
//! what the database keeps unflushed.

use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicBool, Ordering};

use gun_proto::store::{SoulIndex, SoulLister, Syncer};
use gun_proto::{Graph, Node, Prop, Store, StoreError, StoreQuery};

use super::key;
use super::kv::{Kv, Visit};
use super::record;
use super::tally::{Dropped, Ledger, Tally};

const PROPS: u8 = b'p';
const SOULS: u8 = b's';
const META: u8 = b'm';
const LAYOUT_KEY: &[u8] = b"mlayout";
/// The batches and properties applied, atomic with each batch ([`Tally`]).
const TALLY_KEY: &[u8] = b"mapplied";
/// This layout's mark; a store holding another is refused, not misread.
const LAYOUT: &[u8] = b"gun-rs props v1";

/// The graph in `K`.
pub struct KvStore<K: Kv> {
    kv: K,
    sync: Syncer,
    path: PathBuf,
    ledger: Ledger,
    dropped: Option<Dropped>,
}

impl<K: Kv> std::fmt::Debug for KvStore<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvStore")
            .field("kv", &K::NAME)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<K: Kv> KvStore<K> {
    /// Opens (creating) the store in directory `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut kv = K::open(path)?;
        match kv.get(LAYOUT_KEY)? {
            Some(mark) if mark == LAYOUT => {}
            Some(mark) => {
                return Err(StoreError::new(format!(
                    "{}: a {} store of another layout ({:?}), not read",
                    path.display(),
                    K::NAME,
                    String::from_utf8_lossy(&mark)
                )));
            }
            None => {
                let mut foreign = false;
                kv.scan(b"", &mut |_, _| {
                    foreign = true;
                    Ok(false)
                })?;
                if foreign {
                    return Err(StoreError::new(format!(
                        "{}: this {} database was not written by gun-rs, not read",
                        path.display(),
                        K::NAME
                    )));
                }
                kv.apply(vec![(LAYOUT_KEY.to_vec(), LAYOUT.to_vec())])?;
            }
        }
        let durable = kv
            .get(TALLY_KEY)?
            .map(|b| {
                Tally::from_bytes(&b).ok_or_else(|| {
                    StoreError::new(format!("{}: corrupt applied tally", path.display()))
                })
            })
            .transpose()?
            .unwrap_or_default();
        let (ledger, dropped) = Ledger::open(path, durable);
        if let Some(d) = dropped {
            tracing::warn!(
                path = %path.display(),
                batches = d.batches,
                properties = d.props,
                "the {} store was not closed cleanly: its last write batches had not reached the disk (or were torn) and are dropped; none of them was acked",
                K::NAME
            );
        }
        let sync = kv.syncer();
        Ok(Self {
            kv,
            sync,
            path: path.to_owned(),
            ledger,
            dropped,
        })
    }

    /// What a crash dropped, found when this store opened: batches applied
    /// but never durable, none of them acked (`None`: nothing).
    pub fn dropped_at_open(&self) -> Option<Dropped> {
        self.dropped
    }

    /// The meta entry `name`.
    pub(crate) fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.kv.get(&prefixed(META, name.as_bytes()))
    }

    /// Sets the meta entry `name` (durable with the next sync).
    pub(crate) fn set_meta(&mut self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.kv
            .apply(vec![(prefixed(META, name.as_bytes()), value.to_vec())])
    }

    /// Makes everything applied durable.
    pub(crate) fn sync(&mut self) -> Result<(), StoreError> {
        (self.sync)()
    }

    /// Every soul the store holds, in order (the soul index).
    pub fn souls(&self) -> Result<Vec<String>, StoreError> {
        let mut souls = Vec::new();
        self.kv.scan(&[SOULS], &mut |k, _| {
            souls.push(corrupt_unless(key::unescape(&k[1..]), k)?);
            Ok(true)
        })?;
        Ok(souls)
    }

    /// Reads what `query` selects under key prefix `prefix` into a graph.
    fn scan(&self, prefix: &[u8], query: &StoreQuery) -> Result<Graph, StoreError> {
        let mut page = query.counter();
        let mut nodes: Vec<(String, Node)> = Vec::new();
        let mut current = Scanned::default();
        self.kv.scan(prefix, &mut |k, v| -> Visit {
            let (soul, name) = corrupt_unless(key::split(&k[1..]), k)?;
            if soul != current.escaped.as_slice() {
                current.finish(&mut nodes);
                let text = corrupt_unless(key::unescape(soul), k)?;
                current.wanted = query.soul.matches(&text);
                current.escaped = soul.to_vec();
                current.soul = text;
            }
            if !current.wanted {
                return Ok(true);
            }
            let name = corrupt_unless(std::str::from_utf8(name).ok(), k)?;
            let Some(prop) = record::decode(v) else {
                return Err(StoreError::new(format!(
                    "corrupt entry {}.{name}",
                    current.soul
                )));
            };
            if !page.take(name, prop.view()) {
                return Ok(false);
            }
            current.props.push((name.to_owned(), prop));
            Ok(true)
        })?;
        current.finish(&mut nodes);
        Ok(nodes.into_iter().collect())
    }
}

impl<K: Kv> Drop for KvStore<K> {
    /// A clean close: everything applied is made durable.
    fn drop(&mut self) {
        if let Err(e) = (self.sync)() {
            tracing::error!(path = %self.path.display(), error = %e, "the store's last writes could not be made durable on close");
        }
    }
}

/// The node a scan is reading.
#[derive(Default)]
struct Scanned {
    escaped: Vec<u8>,
    soul: String,
    wanted: bool,
    props: Vec<(String, Prop)>,
}

impl Scanned {
    fn finish(&mut self, nodes: &mut Vec<(String, Node)>) {
        if !self.props.is_empty() {
            let props = std::mem::take(&mut self.props);
            nodes.push((std::mem::take(&mut self.soul), props.into_iter().collect()));
        }
    }
}

/// `what`, or an error naming the store key that did not decode.
fn corrupt_unless<T>(what: Option<T>, k: &[u8]) -> Result<T, StoreError> {
    what.ok_or_else(|| {
        StoreError::new(format!(
            "corrupt store key {:?}",
            String::from_utf8_lossy(k)
        ))
    })
}

/// `head` followed by `rest`.
fn prefixed(head: u8, rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rest.len() + 1);
    out.push(head);
    out.extend_from_slice(rest);
    out
}

impl<K: Kv> Store for KvStore<K> {
    fn read(&mut self, query: &StoreQuery) -> Result<Graph, StoreError> {
        if let (Some(soul), Some(keys)) = (query.soul.as_exact(), &query.keys) {
            // A put's properties: one lookup each, not the whole node.
            let mut out = Graph::new();
            for name in keys {
                let k = prefixed(PROPS, &key::encode(soul, name));
                if let Some(v) = self.kv.get(&k)? {
                    let Some(prop) = record::decode(&v) else {
                        return Err(StoreError::new(format!("corrupt entry {soul}.{name}")));
                    };
                    out.insert(soul, name, prop.value, prop.state);
                }
            }
            return Ok(out);
        }
        let prefix = match query.soul.as_exact() {
            Some(soul) => key::node_prefix(soul),
            None => key::souls_prefix(query.soul.prefix.as_deref().unwrap_or("")),
        };
        self.scan(&prefixed(PROPS, &prefix), query)
    }

    fn write(&mut self, batch: &[Graph]) -> Result<(), StoreError> {
        self.apply(batch)?;
        (self.sync)()
    }

    fn apply(&mut self, batch: &[Graph]) -> Result<(), StoreError> {
        let mut puts = Vec::new();
        let mut props = 0;
        let mut last_soul: Option<&str> = None;
        for part in batch {
            for (soul, node) in part.iter() {
                if last_soul != Some(soul) {
                    puts.push((prefixed(SOULS, &key::escape(soul)), Vec::new()));
                    last_soul = Some(soul);
                }
                for (name, prop) in node.iter() {
                    puts.push((
                        prefixed(PROPS, &key::encode(soul, name)),
                        record::to_vec(prop),
                    ));
                    props += 1;
                }
            }
        }
        if puts.is_empty() {
            return Ok(());
        }
        let tally = self.ledger.tally().after(props);
        puts.push((TALLY_KEY.to_vec(), tally.to_bytes().to_vec()));
        self.kv.apply(puts)?;
        self.ledger.record(tally);
        Ok(())
    }

    fn syncer(&self) -> Option<Syncer> {
        Some(self.kv.syncer())
    }

    fn soul_lister(&self) -> Option<SoulLister> {
        let kv = self.kv.clone();
        Some(Box::new(move |stop: &AtomicBool| {
            let mut hashes = Vec::new();
            kv.scan(&[SOULS], &mut |k, _| {
                let soul = corrupt_unless(key::unescape(&k[1..]), k)?;
                hashes.push(SoulIndex::hash(&soul));
                if hashes.len() % 4096 == 0 && stop.load(Ordering::Relaxed) {
                    return Err(StoreError::new("listing the souls: stopped"));
                }
                Ok(true)
            })?;
            Ok(SoulIndex::from_hashes(&hashes))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gun_proto::Value;
    use gun_proto::lex::Lex;
    use gun_proto::store::Page;

    fn prefix(p: &str, page: Option<Page>) -> StoreQuery {
        let lex = Lex {
            prefix: Some(p.into()),
            ..Lex::default()
        };
        StoreQuery::scan(lex, page)
    }

    /// The same checks on every database.
    fn round_trips<K: Kv>() {
        let dir = tempfile::tempdir().expect("tempdir");
        let odd = [("x\u{1b}y", "k"), ("n\u{0}", "k"), ("n", "\u{0}k")];
        {
            let mut s = KvStore::<K>::open(dir.path()).expect("open");
            let mut b = Graph::new();
            b.insert("a", "x", Value::String("1".into()), 1_795_541_784_376.001);
            b.insert("ab", "y", Value::Link("a".into()), 2.0);
            b.insert("b", "z", Value::Null, 3.0);
            let mut later = Graph::new();
            later.insert("b", "z", Value::Bool(true), 4.0);
            s.write(&[b, later]).expect("write");
            let parts: Vec<Graph> = odd
                .iter()
                .map(|(soul, key)| {
                    let mut g = Graph::new();
                    g.insert(soul, key, Value::Number(1.5), 1.0);
                    g
                })
                .collect();
            s.apply(&parts).expect("apply");
            (s.syncer().expect("a syncer"))().expect("sync");
        }
        let mut s = KvStore::<K>::open(dir.path()).expect("reopen");
        let a = s.read(&StoreQuery::soul("a")).expect("read");
        assert_eq!(a.souls().collect::<Vec<_>>(), ["a"], "not a prefix");
        assert_eq!(
            a.prop("a", "x").map(|p| p.state),
            Some(1_795_541_784_376.001)
        );
        let b = s.read(&StoreQuery::soul("b")).expect("read");
        assert_eq!(
            b.prop("b", "z").map(|p| p.value.to_value()),
            Some(Value::Bool(true)),
            "a later part wins"
        );
        let pre = s.read(&prefix("a", None)).expect("read");
        assert_eq!(pre.souls().collect::<Vec<_>>(), ["a", "ab"]);
        let some = StoreQuery::keys("a", vec!["x".into(), "absent".into()]);
        let some = s.read(&some).expect("read");
        assert_eq!(some.prop_count(), 1, "only the keys asked, those there");
        assert!(some.prop("a", "x").is_some());
        let two = Page {
            props: 2,
            bytes: 1000,
        };
        assert_eq!(
            s.read(&prefix("", Some(two))).expect("read").prop_count(),
            2
        );
        for (soul, key) in odd {
            let g = s.read(&StoreQuery::soul(soul)).expect("read");
            assert_eq!(g.prop_count(), 1, "{soul:?} holds only its own");
            assert!(g.prop(soul, key).is_some());
        }
        assert_eq!(
            s.souls().expect("souls"),
            ["a", "ab", "b", "n", "n\u{0}", "x\u{1b}y"]
        );
        let ranged = Lex {
            prefix: Some("a".into()),
            from: Some("ab".into()),
            ..Lex::default()
        };
        let g = s.read(&StoreQuery::scan(ranged, None)).expect("read");
        assert_eq!(g.souls().collect::<Vec<_>>(), ["ab"], "a range of souls");
    }

    fn corrupt_records_are_named<K: Kv>() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = KvStore::<K>::open(dir.path()).expect("open");
        s.kv.apply(vec![(
            prefixed(PROPS, &key::encode("bad", "k")),
            vec![1, 2],
        )])
        .expect("apply");
        let err = s.read(&StoreQuery::soul("bad")).unwrap_err();
        assert!(err.message().contains("bad.k"), "{err}");
    }

    fn foreign_databases_are_refused<K: Kv>() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let mut kv = K::open(dir.path()).expect("open");
            kv.apply(vec![(b"other".to_vec(), b"data".to_vec())])
                .expect("apply");
            (kv.syncer())().expect("sync");
        }
        let err = KvStore::<K>::open(dir.path()).unwrap_err();
        assert!(err.message().contains("not written by gun-rs"), "{err}");
    }

    /// The child's side of [`a_crash_reports_what_it_dropped`]: set to the
    /// store's directory, the test writes, then aborts.
    const CRASH_CHILD: &str = "GUN_KV_CRASH_CHILD";

    fn one(soul: &str, props: usize) -> Graph {
        let mut g = Graph::new();
        for i in 0..props {
            g.insert(soul, &format!("k{i}"), Value::Number(i as f64), 1.0);
        }
        g
    }

    /// A process that dies with batches applied but not synced: when the
    /// store opens again, what it holds and what it reports dropped add up
    /// to what was applied, and what was durable is all there.
    fn a_crash_reports_what_it_dropped<K: Kv>(test: &str) {
        if let Some(dir) = std::env::var_os(CRASH_CHILD) {
            let dir = PathBuf::from(dir);
            let mut s = KvStore::<K>::open(&dir).expect("open");
            s.write(&[one("durable", 3)]).expect("write");
            s.apply(&[one("applied/1", 2)]).expect("apply");
            s.apply(&[one("applied/2", 1), one("applied/3", 1)])
                .expect("apply");
            std::process::abort();
        }
        let dir = tempfile::tempdir().expect("tempdir");
        crate::store::crash::run_child(test, CRASH_CHILD, dir.path());
        let mut s = KvStore::<K>::open(dir.path()).expect("a crashed store opens");
        let durable = s.read(&StoreQuery::soul("durable")).expect("read");
        assert_eq!(durable.prop_count(), 3, "what was durable is there");
        let mut kept = Tally::default();
        for (soul, batch) in [("applied/1", 1), ("applied/2", 2), ("applied/3", 2)] {
            let n = s.read(&StoreQuery::soul(soul)).expect("read").prop_count();
            if n > 0 {
                kept.props += n as u64;
                kept.batches = batch;
            }
        }
        let dropped = s.dropped_at_open().map_or(Tally::default(), |d| Tally {
            batches: d.batches,
            props: d.props,
        });
        assert_eq!(
            (kept.batches + dropped.batches, kept.props + dropped.props),
            (2, 4),
            "kept {kept:?} and dropped {dropped:?} make up what was applied"
        );
        drop(s);
        let s = KvStore::<K>::open(dir.path()).expect("reopen");
        assert_eq!(s.dropped_at_open(), None, "reported once");
    }

    macro_rules! on {
        ($name:ident, $kv:ty) => {
            mod $name {
                #[test]
                fn a_crash_reports_what_it_dropped() {
                    super::a_crash_reports_what_it_dropped::<$kv>(
                        concat!(module_path!(), "::a_crash_reports_what_it_dropped")
                            .split_once("::")
                            .map_or("", |(_, rest)| rest),
                    );
                }
                #[test]
                fn round_trips() {
                    super::round_trips::<$kv>();
                }
                #[test]
                fn corrupt_records_are_named() {
                    super::corrupt_records_are_named::<$kv>();
                }
                #[test]
                fn foreign_databases_are_refused() {
                    super::foreign_databases_are_refused::<$kv>();
                }
            }
        };
    }

    #[cfg(feature = "sled")]
    on!(sled, crate::store::kv::SledKv);
    #[cfg(feature = "redb")]
    on!(redb, crate::store::kv::RedbKv);
    #[cfg(feature = "fjall")]
    on!(fjall, crate::store::kv::FjallKv);
}
