//! The redb store's write-ahead log: what makes a batch durable with one
//! appended record and one `fdatasync`.
//!
//! A durable redb commit syncs the file more than once (about four times an
//! `fdatasync` on the disk BENCHMARKS.md measures), and a put's ack waits
//! for it. With the log, a batch is appended here and synced (then acked),
//! and redb takes the same entries in a commit that does not sync. Now and
//! then (past [`CHECKPOINT_BYTES`] or [`CHECKPOINT_AGE`], and when the store
//! closes) one durable redb commit makes all of those durable, and the log
//! starts over.
//!
//! A record is `[len: u32][crc32 of the payload: u32][payload]`, the payload
//! its entries as `[key len: u32][key][value len: u32][value]`, all
//! little-endian. On open, every whole record is applied again in order
//! (entries are whole values, so applying one twice changes nothing); a
//! record cut short or failing its checksum ends the log: a crash tore it
//! while it was written, so the batch in it was never acked. The bytes
//! dropped are logged, and the store's tally reports the batch.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use gun_proto::StoreError;

use super::fail;

/// The log inside the store's directory.
pub(super) const FILE: &str = "gun.wal";
/// A log past this size is checkpointed (its replay on open stays short).
pub(super) const CHECKPOINT_BYTES: u64 = 4 << 20;
/// A log older than this is checkpointed.
pub(super) const CHECKPOINT_AGE: Duration = Duration::from_secs(1);
/// Bytes before a record's payload: its length and checksum.
const HEADER: usize = 8;

/// Entries in key order, as a batch commits them.
pub(super) type Entries = std::collections::BTreeMap<Vec<u8>, Vec<u8>>;

/// The open log.
#[derive(Debug)]
pub(super) struct Wal {
    file: File,
    len: u64,
    /// When the first record since the last checkpoint was appended.
    since: Option<Instant>,
}

/// What the log held on open.
#[derive(Debug, Default)]
pub(super) struct Replay {
    /// Each whole record's entries, in the order they were appended.
    pub batches: Vec<Entries>,
    /// Bytes after the last whole record (a torn write), dropped.
    pub torn: u64,
}

impl Wal {
    /// Opens (creating) the log in `dir` and reads what it holds. The log
    /// is not cut yet: the caller applies [`Replay::batches`] durably, then
    /// [`Wal::reset`]s it.
    pub(super) fn open(dir: &Path) -> Result<(Self, Replay), StoreError> {
        let path = dir.join(FILE);
        let name = path.display().to_string();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| fail(&name, e))?;
        // The log's name in its directory must survive a power cut too:
        // what it holds is what acks stand on.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| fail(&dir.display().to_string(), e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| fail(&name, e))?;
        let (batches, whole) = records(&bytes);
        let replay = Replay {
            batches,
            torn: (bytes.len() - whole) as u64,
        };
        file.seek(SeekFrom::Start(whole as u64))
            .map_err(|e| fail(&name, e))?;
        let wal = Self {
            file,
            len: whole as u64,
            since: (whole > 0).then(Instant::now),
        };
        Ok((wal, replay))
    }

    /// Appends `entries` as one record and syncs it: durable on return.
    pub(super) fn append(&mut self, entries: &Entries) -> Result<(), StoreError> {
        let mut record = vec![0; HEADER];
        for (k, v) in entries {
            push_bytes(&mut record, k);
            push_bytes(&mut record, v);
        }
        let payload = record.len() - HEADER;
        let len = u32::try_from(payload)
            .map_err(|_| StoreError::new("a batch over 4 GiB cannot be logged"))?;
        let crc = crc32fast::hash(&record[HEADER..]);
        record[..4].copy_from_slice(&len.to_le_bytes());
        record[4..HEADER].copy_from_slice(&crc.to_le_bytes());
        let written = self
            .file
            .write_all(&record)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Whatever part of it landed is cut off again, so the next
            // record does not follow a torn one (best effort: a torn tail
            // also ends the log on open).
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(fail("write-ahead log", e));
        }
        self.len += record.len() as u64;
        self.since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Whether the log is due for a checkpoint.
    pub(super) fn due(&self) -> bool {
        self.len >= CHECKPOINT_BYTES || self.since.is_some_and(|t| t.elapsed() >= CHECKPOINT_AGE)
    }

    /// Whether the log holds records.
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Starts the log over: call once everything in it is durable in the
    /// database.
    pub(super) fn reset(&mut self) -> Result<(), StoreError> {
        self.file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)).map(drop))
            .and_then(|()| self.file.sync_all())
            .map_err(|e| fail("write-ahead log", e))?;
        self.len = 0;
        self.since = None;
        Ok(())
    }
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are a property's; a store refuses anything near 4 GiB
    // long before (frame limits), so the length fits.
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The whole records at the start of `bytes`, and how many bytes they take.
fn records(bytes: &[u8]) -> (Vec<Entries>, usize) {
    let mut batches = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + HEADER) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let Some(payload) = bytes.get(at + HEADER..at + HEADER + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Some(entries) = entries(payload) else {
            break;
        };
        batches.push(entries);
        at += HEADER + len;
    }
    (batches, at)
}

/// A record's entries (`None`: not well formed).
fn entries(mut payload: &[u8]) -> Option<Entries> {
    let mut out = Entries::new();
    while !payload.is_empty() {
        let (k, rest) = take_bytes(payload)?;
        let (v, rest) = take_bytes(rest)?;
        out.insert(k.to_vec(), v.to_vec());
        payload = rest;
    }
    Some(out)
}

fn take_bytes(from: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_le_bytes(from.get(..4)?.try_into().ok()?) as usize;
    let bytes = from.get(4..4 + len)?;
    Some((bytes, &from[4 + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(pairs: &[(&str, &str)]) -> Entries {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn records_come_back_in_order_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let one = batch(&[("a", "1"), ("b", "")]);
        let two = batch(&[("a", "2")]);
        {
            let (mut wal, replay) = Wal::open(dir.path()).expect("open");
            assert!(replay.batches.is_empty() && replay.torn == 0);
            wal.append(&one).expect("append");
            wal.append(&two).expect("append");
        }
        let (_, replay) = Wal::open(dir.path()).expect("reopen");
        assert_eq!(replay.batches, [one.clone(), two.clone()]);
        assert_eq!(replay.torn, 0);

        // A crash in the middle of a third record: its bytes are dropped,
        // and what is appended next follows the whole ones.
        let path = dir.path().join(FILE);
        let whole = std::fs::metadata(&path).expect("meta").len();
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(&[20, 0, 0, 0, 1, 2, 3, 4, b'x']).expect("torn");
        drop(f);
        let (mut wal, replay) = Wal::open(dir.path()).expect("reopen");
        assert_eq!(replay.batches, [one.clone(), two.clone()]);
        assert_eq!(replay.torn, 9);
        let three = batch(&[("c", "3")]);
        wal.append(&three).expect("append");
        drop(wal);
        let (mut wal, replay) = Wal::open(dir.path()).expect("reopen");
        assert_eq!(replay.batches, [one, two, three]);
        assert_eq!(replay.torn, 0);
        assert!(std::fs::metadata(&path).expect("meta").len() > whole);

        wal.reset().expect("reset");
        assert!(wal.is_empty());
        drop(wal);
        let (_, replay) = Wal::open(dir.path()).expect("reopen");
        assert!(replay.batches.is_empty());
    }

    #[test]
    fn a_record_failing_its_checksum_ends_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut wal, _) = Wal::open(dir.path()).expect("open");
        wal.append(&batch(&[("a", "1")])).expect("append");
        wal.append(&batch(&[("b", "2")])).expect("append");
        drop(wal);
        let path = dir.path().join(FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).expect("write");
        let (_, replay) = Wal::open(dir.path()).expect("reopen");
        assert_eq!(replay.batches, [batch(&[("a", "1")])]);
        assert!(replay.torn > 0);
    }
}
