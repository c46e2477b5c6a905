//! The file store: a directory with one JSON file per node (Gun.js's
//! "localStorage" for a program), written atomically and durably.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use gun_proto::{Graph, Node, Store, StoreError, StoreQuery};

/// One file per node: `<dir>/<encoded soul>.json` holding `{soul: node}`.
///
/// A corrupt file makes reads and writes of that node fail with an error
/// naming the file; other nodes are unaffected.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
}

fn io(what: &Path, e: std::io::Error) -> StoreError {
    StoreError::with_source(format!("{}: {e}", what.display()), e)
}

impl FileStore {
    /// Opens (creating) the directory, removes unfinished temporary files,
    /// and renames files named by the earlier (64-bit) hash of a long soul.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let store = Self {
            dir: dir.to_owned(),
        };
        for entry in fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            if path.extension().is_some_and(|x| x == "tmp") {
                fs::remove_file(&path).map_err(|e| io(&path, e))?;
            } else if has_old_hash_name(&path) {
                store.rename_old(&path)?;
            }
        }
        Ok(store)
    }

    /// A long soul's file named by the earlier 64-bit hash (which a peer
    /// could collide on purpose) moves to its SHA-256 name.
    fn rename_old(&self, path: &Path) -> Result<(), StoreError> {
        let bytes = fs::read(path).map_err(|e| io(path, e))?;
        let g = super::parse_graph(&bytes, &path.display().to_string())?;
        let Some(soul) = g.souls().next() else {
            return Ok(());
        };
        let to = self.path_for(soul);
        if to != path {
            tracing::warn!(from = %path.display(), to = %to.display(), "renamed a node file to its SHA-256 name");
            fs::rename(path, &to).map_err(|e| io(&to, e))?;
        }
        Ok(())
    }

    /// The file that holds `soul`.
    pub fn path_for(&self, soul: &str) -> PathBuf {
        self.dir.join(file_name(soul))
    }

    fn read_node(&self, soul: &str) -> Result<Option<Node>, StoreError> {
        let path = self.path_for(soul);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path, e)),
        };
        let g = super::parse_graph(&bytes, &path.display().to_string())?;
        Ok(g.node(soul).cloned())
    }

    fn write_node(&self, soul: &str, node: &Node) -> Result<(), StoreError> {
        let path = self.path_for(soul);
        let tmp = path.with_extension("tmp");
        let mut text = String::new();
        node.push_graph_json(soul, &mut text);
        let mut f = fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(text.as_bytes()).map_err(|e| io(&tmp, e))?;
        f.sync_all().map_err(|e| io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| io(&path, e))
    }
}

impl Store for FileStore {
    fn read(&mut self, query: &StoreQuery) -> Result<Graph, StoreError> {
        let mut out = Graph::new();
        if let Some(soul) = query.soul.as_exact() {
            if let Some(n) = self.read_node(soul)? {
                out.insert_node(soul, n);
            }
            return Ok(out);
        }
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map_err(|e| io(&self.dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let mut page = query.counter();
        for path in files {
            let bytes = fs::read(&path).map_err(|e| io(&path, e))?;
            let g = super::parse_graph(&bytes, &path.display().to_string())?;
            for (soul, node) in g.iter() {
                if !query.soul.matches(soul) {
                    continue;
                }
                for (key, p) in node.iter() {
                    if !page.take(key, p) {
                        return Ok(out);
                    }
                    out.node_mut(soul).set(key, p);
                }
            }
        }
        Ok(out)
    }

    /// Writes each node the batch touches, atomically per node (a
    /// temporary file renamed into place). Every node is merged first, so a
    /// corrupt file fails the batch before anything is written; an I/O
    /// error part-way can leave the nodes before it written.
    fn write(&mut self, batch: &[Graph]) -> Result<(), StoreError> {
        let mut merged: BTreeMap<&str, Node> = BTreeMap::new();
        for part in batch {
            for (soul, node) in part.iter() {
                let current = match merged.entry(soul) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => e.insert(self.read_node(soul)?.unwrap_or_default()),
                };
                for (key, p) in node.iter() {
                    current.set(key, p);
                }
            }
        }
        for (soul, node) in &merged {
            self.write_node(soul, node)?;
        }
        if !merged.is_empty() {
            fs::File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io(&self.dir, e))?;
        }
        Ok(())
    }
}

/// Long file names are cut to this many bytes, then suffixed with a hash.
const LONG_NAME: usize = 180;
const CUT: usize = 150;

/// A file name for a soul: safe characters kept, others as `%XX`; long names
/// cut and suffixed with the SHA-256 of the whole soul (128 bits of it in
/// hex: no peer can make two souls share a file).
fn file_name(soul: &str) -> String {
    use sha2::Digest as _;
    let mut name = String::with_capacity(soul.len() + 5);
    for b in soul.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02X}"));
        }
    }
    if name.len() > LONG_NAME {
        let digest = sha2::Sha256::digest(soul.as_bytes());
        let mut cut = CUT;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
        name.push('~');
        for b in &digest[..16] {
            name.push_str(&format!("{b:02x}"));
        }
    }
    name.push_str(".json");
    name
}

/// Whether a file is named as long souls were before (`~` and 16 hex digits).
fn has_old_hash_name(path: &Path) -> bool {
    let Some(stem) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".json"))
    else {
        return false;
    };
    stem.len() > 17
        && stem.as_bytes()[stem.len() - 17] == b'~'
        && stem[stem.len() - 16..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gun_proto::Value;

    #[test]
    fn writes_survive_reopening_and_merge_per_property() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = FileStore::open(dir.path()).expect("open");
        let mut b = Graph::new();
        b.insert("user/alice", "name", Value::String("Alice".into()), 1.0);
        b.insert("user/alice", "age", Value::Number(30.0), 1.0);
        s.write(&[b]).expect("write");
        let mut b2 = Graph::new();
        b2.insert("user/alice", "age", Value::Number(31.0), 2.0);
        s.write(&[b2]).expect("write");
        drop(s);
        let mut s = FileStore::open(dir.path()).expect("reopen");
        let g = s.read(&StoreQuery::soul("user/alice")).expect("read");
        assert_eq!(
            g.prop("user/alice", "name").map(|p| p.value.to_value()),
            Some(Value::String("Alice".into()))
        );
        assert_eq!(g.prop("user/alice", "age").map(|p| p.state), Some(2.0));
    }

    #[test]
    fn a_corrupt_file_is_named_and_others_stay_readable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = FileStore::open(dir.path()).expect("open");
        let mut b = Graph::new();
        b.insert("good", "k", Value::Bool(true), 1.0);
        b.insert("bad", "k", Value::Bool(true), 1.0);
        s.write(&[b]).expect("write");
        fs::write(s.path_for("bad"), b"{\"bad\":{\"_\":").expect("corrupt it");
        let err = s.read(&StoreQuery::soul("bad")).unwrap_err();
        assert!(err.message().contains("bad.json"), "{err}");
        assert!(
            s.read(&StoreQuery::soul("good"))
                .expect("read")
                .prop("good", "k")
                .is_some()
        );
        // A write touching the corrupt node fails whole, and does not destroy it.
        let mut w = Graph::new();
        w.insert("good", "k", Value::Bool(false), 2.0);
        w.insert("bad", "k", Value::Bool(false), 2.0);
        assert!(s.write(&[w]).is_err());
        assert_eq!(
            fs::read(s.path_for("bad")).expect("still there"),
            b"{\"bad\":{\"_\":"
        );
        assert_eq!(
            s.read(&StoreQuery::soul("good"))
                .expect("read")
                .prop("good", "k")
                .map(|p| p.state),
            Some(1.0)
        );
    }

    #[test]
    fn any_soul_gets_a_safe_file_name() {
        for soul in [
            "a/b",
            "..",
            "~@alice",
            "x\u{1b}y",
            &"long".repeat(100),
            "😀",
        ] {
            let n = file_name(soul);
            assert!(n.len() < 250 && !n.contains('/') && n != "..", "{n}");
        }
        assert_ne!(
            file_name(&"a".repeat(300)),
            file_name(&format!("{}b", "a".repeat(299)))
        );
    }

    #[test]
    fn files_named_by_the_old_hash_are_renamed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let soul = "long/".repeat(60);
        let old = dir
            .path()
            .join(format!("{}~0123456789abcdef.json", "x".repeat(150)));
        let mut text = String::new();
        let mut n = Node::new();
        n.insert("k", Value::Bool(true), 1.0);
        n.push_graph_json(&soul, &mut text);
        fs::write(&old, text).expect("write");
        let mut s = FileStore::open(dir.path()).expect("open");
        assert!(!old.exists() && s.path_for(&soul).exists());
        assert!(
            s.read(&StoreQuery::soul(soul.as_str()))
                .expect("read")
                .prop(&soul, "k")
                .is_some()
        );
    }
}
