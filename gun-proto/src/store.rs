//! Storage as an effect: what the engine asks of a store, and an in-memory one.
//!
//! The engine emits [`crate::Output::StoreRead`] and [`crate::Output::StoreWrite`];
//! a driver runs them against a [`Store`] and feeds the answers back with
//! [`crate::Input::StoreRead`] and [`crate::Input::StoreWritten`].

use std::sync::Arc;

use crate::graph::{Graph, PropRef, Resident};
use crate::lex::Lex;
pub use crate::soul_index::SoulIndex;

/// What to read: the nodes whose soul matches `soul`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreQuery {
    /// The souls wanted: exact, or a prefix/range.
    pub soul: Lex,
    /// A scan's page: the store stops before the property that would take
    /// the answer past it, so the last node of the answer may be cut short.
    /// `None`: everything that matches, whole nodes. The engine bounds every
    /// scan a peer can ask for, so that one get cannot read the whole store
    /// (or one huge node) on the driver's thread; it never takes a scan's
    /// answer for whole nodes.
    pub page: Option<Page>,
    /// For an exact soul: only these of its keys (`None`: the whole node).
    /// The engine asks so before merging a put, which needs the properties
    /// it touches and no others; a store may answer with more (the whole
    /// node), as one that cannot read single properties does.
    pub keys: Option<Vec<String>>,
}

/// The bounds of a scan's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Most properties.
    pub props: usize,
    /// Most bytes of keys and values (strings count their length, other
    /// values 8).
    pub bytes: usize,
}

impl StoreQuery {
    /// The node at `soul`, whole.
    pub fn soul(soul: impl Into<String>) -> Self {
        Self {
            soul: Lex::exact(soul),
            page: None,
            keys: None,
        }
    }

    /// The properties `keys` of the node at `soul` (those it has).
    pub fn keys(soul: impl Into<String>, keys: Vec<String>) -> Self {
        Self {
            keys: Some(keys),
            ..Self::soul(soul)
        }
    }

    /// The nodes whose souls `lex` selects, within `page` when given.
    pub fn scan(lex: Lex, page: Option<Page>) -> Self {
        Self {
            soul: lex,
            page,
            keys: None,
        }
    }

    /// What a store counts the answer against while it reads.
    pub fn counter(&self) -> PageCounter {
        PageCounter { left: self.page }
    }
}

/// What is left of a scan's page while a store reads it.
#[derive(Debug, Clone, Copy)]
pub struct PageCounter {
    left: Option<Page>,
}

impl PageCounter {
    /// Counts `key`'s property in; `false` when it does not fit (stop).
    pub fn take(&mut self, key: &str, prop: PropRef<'_>) -> bool {
        let Some(left) = &mut self.left else {
            return true;
        };
        let bytes = key.len() + prop.value.text_len();
        if left.props == 0 || left.bytes < bytes {
            left.props = 0;
            return false;
        }
        left.props -= 1;
        left.bytes -= bytes;
        true
    }
}

/// A store's failure: what went wrong, in words, and the error underneath
/// it when there is one (an `io::Error`, a database's error, a JSON parse
/// error), which [`std::error::Error::source`] returns. The engine only
/// carries it back to whoever asked; two errors compare equal when their
/// words do.
#[derive(Debug, Clone)]
pub struct StoreError {
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StoreError {
    /// A failure described in words only.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// A failure with the error that caused it.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// What went wrong, in words (the source's text included).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error underneath, shared.
    pub fn cause(&self) -> Option<&Arc<dyn std::error::Error + Send + Sync + 'static>> {
        self.source.as_ref()
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "storage error: {}", self.message)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for StoreError {}

/// A durable (or not) home for the graph.
///
/// `write` must not return `Ok` before the batch is as durable as the store
/// promises: the engine acks puts on that `Ok`. A batch is the parts of one
/// turn's writes (a part per put, in the order they were merged); a store
/// writes them all or none, later parts overwriting earlier ones where they
/// touch the same property. Writes arrive already resolved by HAM, in
/// order; a store overwrites the properties it is given. Drivers write
/// through [`commit`], which isolates a part the store cannot take.
pub trait Store {
    /// Reads the nodes the query selects, with their states.
    fn read(&mut self, query: &StoreQuery) -> Result<Graph, StoreError>;
    /// Writes every part of a batch, atomically, durable when it returns.
    fn write(&mut self, batch: &[Graph]) -> Result<(), StoreError>;
    /// Applies a batch, atomically, so that reads see it, without waiting
    /// for it to be durable: a store that has a [`Store::syncer`] makes it
    /// durable there. The default is [`Store::write`].
    fn apply(&mut self, batch: &[Graph]) -> Result<(), StoreError> {
        self.write(batch)
    }
    /// A handle that makes everything applied so far durable (one flush
    /// for all of it), callable from another thread: drivers then commit
    /// on a thread of their own, and batches applied while one flush runs
    /// share the next (pipelined group commit). `None` (the default): this
    /// store's `write` is durable by itself.
    fn syncer(&self) -> Option<Syncer> {
        None
    }
    /// A job, to run on another thread, that lists the souls this store
    /// holds into a [`SoulIndex`] (reading a snapshot; writes go on
    /// meanwhile), and gives up when the flag it is handed is set. Drivers give it to the engine with
    /// [`crate::Input::StoreSouls`], and from then on a put to a soul the
    /// store cannot hold is merged without a read. `None` (the default):
    /// every soul not in memory is read first.
    fn soul_lister(&self) -> Option<SoulLister> {
        None
    }
}

/// Makes what a store applied durable ([`Store::syncer`]).
pub type Syncer = Box<dyn FnMut() -> Result<(), StoreError> + Send>;

/// Lists the souls a store holds ([`Store::soul_lister`]).
pub type SoulLister =
    Box<dyn FnOnce(&std::sync::atomic::AtomicBool) -> Result<SoulIndex, StoreError> + Send>;

/// Which parts of a write batch the store did not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteFailure {
    /// None of them (a driver that does not isolate parts reports this).
    All(StoreError),
    /// These parts (by index in the batch), each with its error; the
    /// others are stored.
    Parts(Vec<(usize, StoreError)>),
}

impl WriteFailure {
    /// Why part `index` failed, if it did.
    pub fn part(&self, index: usize) -> Option<&StoreError> {
        match self {
            Self::All(e) => Some(e),
            Self::Parts(parts) => parts.iter().find(|(i, _)| *i == index).map(|(_, e)| e),
        }
    }

    /// The first error, for a log line.
    pub fn first(&self) -> Option<&StoreError> {
        match self {
            Self::All(e) => Some(e),
            Self::Parts(parts) => parts.first().map(|(_, e)| e),
        }
    }
}

impl From<StoreError> for WriteFailure {
    fn from(e: StoreError) -> Self {
        Self::All(e)
    }
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All(e) => write!(f, "{e}"),
            Self::Parts(parts) => {
                write!(f, "{} part(s) of the batch failed", parts.len())?;
                if let Some((_, e)) = parts.first() {
                    write!(f, ", the first with {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for WriteFailure {}

/// Writes `batch` to `store` so that a part the store cannot take fails
/// alone: the whole batch in one write (one flush) when the store takes it,
/// else each part by itself, in order, so that every other part is stored.
/// Later parts still overwrite earlier ones, as in one write.
pub fn commit<S: Store + ?Sized>(store: &mut S, batch: &[Graph]) -> Result<(), WriteFailure> {
    isolate(store, batch, S::write)
}

/// [`commit`] with [`Store::apply`]: the batch applied, each part that the
/// store refuses failing alone; durable once the store's syncer has run.
pub fn stage<S: Store + ?Sized>(store: &mut S, batch: &[Graph]) -> Result<(), WriteFailure> {
    isolate(store, batch, S::apply)
}

/// Writes with `op`, then part by part when the whole batch fails.
fn isolate<S: Store + ?Sized>(
    store: &mut S,
    batch: &[Graph],
    op: fn(&mut S, &[Graph]) -> Result<(), StoreError>,
) -> Result<(), WriteFailure> {
    let Err(whole) = op(store, batch) else {
        return Ok(());
    };
    if batch.len() <= 1 {
        return Err(WriteFailure::All(whole));
    }
    let failed: Vec<(usize, StoreError)> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, part)| op(store, std::slice::from_ref(part)).err().map(|e| (i, e)))
        .collect();
    if failed.is_empty() {
        // Every part alone was taken: the batch failed for a passing reason.
        return Ok(());
    }
    Err(WriteFailure::Parts(failed))
}

/// A store in memory: fast, and gone with the process.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    graph: Resident,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything stored.
    pub fn graph(&self) -> &Resident {
        &self.graph
    }
}

impl Store for MemoryStore {
    fn read(&mut self, query: &StoreQuery) -> Result<Graph, StoreError> {
        let mut out = Graph::new();
        if let Some(soul) = query.soul.as_exact() {
            match (self.graph.node(soul), &query.keys) {
                (Some(n), None) => out.insert_node(soul, n.clone()),
                (Some(n), Some(keys)) => {
                    for key in keys {
                        if let Some(p) = n.get(key) {
                            out.node_mut(soul).set(key, p);
                        }
                    }
                }
                (None, _) => {}
            }
            return Ok(out);
        }
        let start = query.soul.lower_bound().unwrap_or("");
        let mut page = query.counter();
        for (soul, n) in self.graph.range_from(start) {
            if let Some(p) = &query.soul.prefix
                && soul > p.as_str()
                && !soul.starts_with(p.as_str())
            {
                break;
            }
            if !query.soul.matches(soul) {
                continue;
            }
            for (key, p) in n.iter() {
                if !page.take(key, p) {
                    return Ok(out);
                }
                out.node_mut(soul).set(key, p);
            }
        }
        Ok(out)
    }

    fn write(&mut self, batch: &[Graph]) -> Result<(), StoreError> {
        for part in batch {
            self.graph.overwrite(part);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn reads_back_what_was_written() {
        let mut s = MemoryStore::new();
        let mut b = Graph::new();
        b.insert("a/1", "k", Value::Number(1.0), 1.0);
        b.insert("a/2", "k", Value::Number(2.0), 1.0);
        b.insert("b", "k", Value::Null, 1.0);
        s.write(&[b]).expect("write");
        let one = s.read(&StoreQuery::soul("b")).expect("read");
        assert_eq!(one.len(), 1);
        let prefix = Lex {
            prefix: Some("a/".into()),
            ..Lex::default()
        };
        let pre = s
            .read(&StoreQuery::scan(prefix.clone(), None))
            .expect("read");
        assert_eq!(pre.souls().collect::<Vec<_>>(), ["a/1", "a/2"]);
        let one = Page {
            props: 1,
            bytes: 100,
        };
        let page = s
            .read(&StoreQuery::scan(prefix.clone(), Some(one)))
            .expect("read");
        assert_eq!(page.souls().collect::<Vec<_>>(), ["a/1"], "one page");
        let few_bytes = Page {
            props: 10,
            bytes: 2,
        };
        let page = s
            .read(&StoreQuery::scan(prefix, Some(few_bytes)))
            .expect("read");
        assert!(page.is_empty(), "a property over the bytes left");
    }

    /// Refuses any part that touches a soul starting with `bad`.
    struct Picky(MemoryStore);

    impl Store for Picky {
        fn read(&mut self, q: &StoreQuery) -> Result<Graph, StoreError> {
            self.0.read(q)
        }
        fn write(&mut self, batch: &[Graph]) -> Result<(), StoreError> {
            if batch
                .iter()
                .any(|p| p.souls().any(|s| s.starts_with("bad")))
            {
                return Err(StoreError::new("cannot take it"));
            }
            self.0.write(batch)
        }
    }

    #[test]
    fn commit_fails_only_the_part_the_store_refuses() {
        let part = |soul: &str, v: f64| {
            let mut g = Graph::new();
            g.insert(soul, "k", Value::Number(v), v);
            g
        };
        let mut s = Picky(MemoryStore::new());
        let batch = [
            part("a", 1.0),
            part("bad", 2.0),
            part("a", 3.0),
            part("c", 4.0),
        ];
        let failed = commit(&mut s, &batch).unwrap_err();
        assert_eq!(
            failed,
            WriteFailure::Parts(vec![(1, StoreError::new("cannot take it"))])
        );
        assert!(failed.part(0).is_none() && failed.part(1).is_some());
        let g = s.0.graph();
        assert_eq!(
            g.prop("a", "k").map(|p| p.state),
            Some(3.0),
            "later part wins"
        );
        assert!(g.prop("c", "k").is_some() && g.node("bad").is_none());
        assert_eq!(commit(&mut s, &[part("d", 5.0)]), Ok(()));
        assert!(matches!(
            commit(&mut s, &[part("bad", 6.0)]),
            Err(WriteFailure::All(_))
        ));
    }
}
