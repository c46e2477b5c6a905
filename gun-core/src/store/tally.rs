//! What a crash dropped from a key-value store.
//!
//! A store counts the batches and properties it has applied twice: inside
//! the database, in the same atomic write as each batch (so after a crash
//! it is what survived), and in a small side file written after each batch
//! without a sync (so, unless the machine itself went down, it is what the
//! process had applied when it stopped). On open, the difference is what
//! the crash dropped: batches applied but not yet durable, or a commit torn
//! in the middle. None of them was acked: a put is acked only once durable.

use std::fs::File;
use std::path::Path;

/// The side file, in the store's directory.
const FILE: &str = "gun.applied";

/// Batches and properties applied since the store was made.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Write batches.
    pub batches: u64,
    /// Properties, over all batches.
    pub props: u64,
}

impl Tally {
    /// Its stored form: both counts, little-endian.
    pub(crate) fn to_bytes(self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.batches.to_le_bytes());
        out[8..].copy_from_slice(&self.props.to_le_bytes());
        out
    }

    /// Reads its stored form.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; 16] = bytes.try_into().ok()?;
        Some(Self {
            batches: u64::from_le_bytes(bytes[..8].try_into().ok()?),
            props: u64::from_le_bytes(bytes[8..].try_into().ok()?),
        })
    }

    /// The tally after one more batch of `props` properties.
    pub(crate) fn after(self, props: usize) -> Self {
        Self {
            batches: self.batches + 1,
            props: self.props + props as u64,
        }
    }
}

/// What a crash dropped, found when the store opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Write batches applied but not durable (or torn).
    pub batches: u64,
    /// Their properties.
    pub props: u64,
}

/// The side file, and the last tally.
#[derive(Debug)]
pub(crate) struct Ledger {
    file: Option<File>,
    tally: Tally,
}

impl Ledger {
    /// Compares the side file in `dir` with the tally the database kept
    /// (`durable`), and starts the side file again from it.
    pub(crate) fn open(dir: &Path, durable: Tally) -> (Self, Option<Dropped>) {
        let path = dir.join(FILE);
        let applied = std::fs::read(&path)
            .ok()
            .and_then(|b| Tally::from_bytes(&b));
        let dropped = applied
            .filter(|a| a.batches > durable.batches)
            .map(|a| Dropped {
                batches: a.batches - durable.batches,
                props: a.props.saturating_sub(durable.props),
            });
        let file = File::options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .inspect_err(|e| {
                tracing::warn!(file = %path.display(), error = %e, "cannot keep the applied tally: a crash's losses will not be reported");
            })
            .ok();
        let mut ledger = Self {
            file,
            tally: durable,
        };
        ledger.record(durable);
        (ledger, dropped)
    }

    /// The tally so far.
    pub(crate) fn tally(&self) -> Tally {
        self.tally
    }

    /// Notes that the database applied up to `tally`.
    pub(crate) fn record(&mut self, tally: Tally) {
        self.tally = tally;
        if let Some(file) = &self.file {
            // Best effort: the tally only informs the report after a crash.
            let _ = write_at(file, &tally.to_bytes());
        }
    }
}

#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8]) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, 0)
}

#[cfg(not(unix))]
fn write_at(mut file: &File, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(0))?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_difference_is_reported_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let durable = Tally::default().after(10);
        let (mut ledger, dropped) = Ledger::open(dir.path(), durable);
        assert_eq!(dropped, None, "a new side file");
        ledger.record(durable.after(5).after(7));
        drop(ledger);
        let (ledger, dropped) = Ledger::open(dir.path(), durable);
        assert_eq!(
            dropped,
            Some(Dropped {
                batches: 2,
                props: 12
            })
        );
        assert_eq!(ledger.tally(), durable);
        let (_, again) = Ledger::open(dir.path(), durable);
        assert_eq!(again, None, "reported once");
        assert_eq!(Tally::from_bytes(&durable.to_bytes()), Some(durable));
        assert_eq!(Tally::from_bytes(&[1, 2, 3]), None);
    }
}
