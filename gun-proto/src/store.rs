//! Storage as an effect: what the engine asks of a store, and an in-memory one.
//!
//! The engine emits [`crate::Output::StoreRead`] and [`crate::Output::StoreWrite`];
//! a driver runs them against a [`Store`] and feeds the answers back with
//! [`crate::Input::StoreRead`] and [`crate::Input::StoreWritten`].

use std::sync::Arc;

use crate::graph::Graph;
use crate::lex::Lex;

/// What to read: nodes whose soul matches `soul` (whole nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreQuery {
    /// The souls wanted: exact, or a prefix/range.
    pub soul: Lex,
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
/// promises: the engine acks puts on that `Ok`. Writes arrive already resolved
/// by HAM, in order; a store overwrites the properties it is given.
pub trait Store {
    /// Reads the nodes the query selects, with their states.
    fn read(&mut self, query: &StoreQuery) -> Result<Graph, StoreError>;
    /// Writes a batch of properties.
    fn write(&mut self, batch: &Graph) -> Result<(), StoreError>;
}

/// A store in memory: fast, and gone with the process.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    graph: Graph,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything stored.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
}

impl Store for MemoryStore {
    fn read(&mut self, query: &StoreQuery) -> Result<Graph, StoreError> {
        let mut out = Graph::new();
        if let Some(soul) = query.soul.as_exact() {
            if let Some(n) = self.graph.node(soul) {
                out.insert_node(soul.to_owned(), n.clone());
            }
            return Ok(out);
        }
        let start = query.soul.lower_bound().unwrap_or("");
        for (soul, n) in self.graph.with_prefix("").skip_while(|(s, _)| *s < start) {
            if let Some(p) = &query.soul.prefix
                && soul > p.as_str()
                && !soul.starts_with(p.as_str())
            {
                break;
            }
            if query.soul.matches(soul) {
                out.insert_node(soul.to_owned(), n.clone());
            }
        }
        Ok(out)
    }

    fn write(&mut self, batch: &Graph) -> Result<(), StoreError> {
        for (soul, node) in batch.iter() {
            let target = self.graph.node_mut(soul);
            for (key, p) in node.iter() {
                target.insert(key, p.value.clone(), p.state);
            }
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
        s.write(&b).expect("write");
        let one = s
            .read(&StoreQuery {
                soul: Lex::exact("b"),
            })
            .expect("read");
        assert_eq!(one.len(), 1);
        let pre = s
            .read(&StoreQuery {
                soul: Lex {
                    prefix: Some("a/".into()),
                    ..Lex::default()
                },
            })
            .expect("read");
        assert_eq!(pre.souls().collect::<Vec<_>>(), ["a/1", "a/2"]);
    }
}
