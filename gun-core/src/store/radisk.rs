//! Gun.js's radisk directory (a Gun.js relay's `radata`), read so that an
//! operator can move from a Gun.js relay to ours without losing data
//! (`gun import --radisk DIR`).
//!
//! Each file but the directory file (`%1C`) is the `JSON.stringify` of a
//! radix tree: keys along a path join into `soul ESC key`, and the entry
//! `""` at the end holds the leaf `{":": value, ">": state}`. Files in
//! radisk's older, pre-JSON format (not starting with `{`) and temporary
//! files are skipped, and counted. Imported values merge by HAM with what
//! the store holds: a newer value there stays.

use std::path::Path;

use gun_proto::{Graph, Store, StoreError, StoreQuery, Value};
use serde_json::Value as Json;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Radisk files read.
    pub files: usize,
    /// Files skipped: the directory file, temporary files, files of the
    /// older format, files that are not JSON (each named in a warning).
    pub skipped_files: usize,
    /// Properties read.
    pub props: usize,
    /// Properties written (the others lost to newer values in the store).
    pub written: usize,
    /// Entries that are not `soul ESC key` with a valid leaf.
    pub invalid: usize,
}

const ESC: char = '\u{1b}';

/// Reads every property in the radisk directory `dir` into `store`.
pub fn import(dir: &Path, store: &mut dyn Store) -> Result<ImportReport, StoreError> {
    let io = |e: std::io::Error| StoreError::with_source(format!("{}: {e}", dir.display()), e);
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .collect();
    names.sort();
    let mut report = ImportReport::default();
    for path in names {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "%1C" || name.ends_with(".tmp") {
            report.skipped_files += 1;
            continue;
        }
        let bytes = std::fs::read(&path).map_err(io)?;
        if bytes.first() != Some(&b'{') {
            tracing::warn!(file = %path.display(), "skipped: radisk's older (pre-JSON) format is not read");
            report.skipped_files += 1;
            continue;
        }
        let Ok(tree) = serde_json::from_slice::<Json>(&bytes) else {
            tracing::warn!(file = %path.display(), "skipped: not JSON");
            report.skipped_files += 1;
            continue;
        };
        report.files += 1;
        let mut graph = Graph::new();
        let mut key = String::new();
        walk(&tree, &mut key, &mut graph, &mut report);
        report.written += merge_into(store, &graph)?;
    }
    Ok(report)
}

/// Collects the leaves under `node`, `key` being the path to it.
fn walk(node: &Json, key: &mut String, out: &mut Graph, report: &mut ImportReport) {
    let Json::Object(entries) = node else {
        report.invalid += 1;
        return;
    };
    for (part, child) in entries {
        if part.is_empty() {
            report.props += 1;
            if !leaf(key, child, out) {
                report.invalid += 1;
            }
            continue;
        }
        let len = key.len();
        key.push_str(part);
        walk(child, key, out, report);
        key.truncate(len);
    }
}

/// Adds the leaf `{":": value, ">": state}` at `soul ESC key`.
fn leaf(full: &str, leaf: &Json, out: &mut Graph) -> bool {
    let Some((soul, key)) = full.split_once(ESC) else {
        return false;
    };
    let (Some(value), Some(state)) = (leaf.get(":"), leaf.get(">").and_then(Json::as_f64)) else {
        return false;
    };
    let Ok(value) = Value::from_json(value) else {
        return false;
    };
    if soul.is_empty() || key.is_empty() || !state.is_finite() {
        return false;
    }
    out.insert(soul, key, value, state);
    true
}

/// Writes what of `graph` wins by HAM over what the store holds; how many
/// properties that was.
fn merge_into(store: &mut dyn Store, graph: &Graph) -> Result<usize, StoreError> {
    let mut held = Graph::new();
    for soul in graph.souls() {
        for (s, node) in store.read(&StoreQuery::soul(soul))?.iter() {
            held.insert_node(s, node.clone());
        }
    }
    // Every state is taken as past: an import defers nothing.
    let merged = held.merge(f64::INFINITY, graph);
    if merged.accepted.is_empty() {
        return Ok(0);
    }
    store.write(std::slice::from_ref(&merged.accepted))?;
    Ok(merged.accepted.prop_count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gun_proto::MemoryStore;

    #[test]
    fn reads_the_radix_tree_gunjs_writes() {
        let dir = tempfile::tempdir().expect("dir");
        // radata/! as GUNJS-REFERENCE §5.1 shows it, and its directory file.
        let file = r##"{"bob\u001b":{"t":{"":{":":true,">":1795540000000}},"f":{"":{":":false,">":1795540000001}}},
 "al":{"ice":{"\u001b":{"name":{"":{":":"Alice",">":1795540000000}},"age":{"":{":":30,">":1795540000000}},"car":{"":{":":{"#":"alice/car"},">":1795540000000}}},
 "/car\u001bcolor":{"":{":":"red",">":1795540000000.5}}},"\u001bx":{"":{":":null,">":1795540000000}}}}"##;
        std::fs::write(dir.path().join("!"), file).expect("write");
        std::fs::write(dir.path().join("%1C"), r#"{"!":{"":1}}"#).expect("write");
        std::fs::write(dir.path().join("old"), "\u{1f}legacy").expect("write");
        let mut store = MemoryStore::new();
        // A newer value already stored stays.
        store
            .write(&[{
                let mut g = Graph::new();
                g.insert("alice", "age", Value::Number(31.0), 1_795_540_000_009.0);
                g
            }])
            .expect("write");
        let report = import(dir.path(), &mut store).expect("import");
        assert_eq!(report.files, 1);
        assert_eq!(report.skipped_files, 2);
        assert_eq!((report.props, report.written, report.invalid), (7, 6, 0));
        let all = store
            .read(&StoreQuery::scan(
                gun_proto::lex::Lex {
                    prefix: Some(String::new()),
                    ..Default::default()
                },
                None,
            ))
            .expect("read");
        let prop = |s: &str, k: &str| all.prop(s, k).map(|p| (p.value.to_value(), p.state));
        assert_eq!(
            prop("alice", "name"),
            Some((Value::String("Alice".into()), 1_795_540_000_000.0))
        );
        assert_eq!(
            prop("alice", "age"),
            Some((Value::Number(31.0), 1_795_540_000_009.0))
        );
        assert_eq!(
            prop("alice", "car"),
            Some((Value::Link("alice/car".into()), 1_795_540_000_000.0))
        );
        assert_eq!(
            prop("alice/car", "color"),
            Some((Value::String("red".into()), 1_795_540_000_000.5))
        );
        assert_eq!(
            prop("bob", "f"),
            Some((Value::Bool(false), 1_795_540_000_001.0))
        );
        assert_eq!(prop("al", "x"), Some((Value::Null, 1_795_540_000_000.0)));
    }
}
