//! The redb store's write-ahead log: what makes a batch durable with one
//! record written and one `fdatasync`.
//!
//! A durable redb commit syncs the file more than once (about four times an
//! `fdatasync` on the disk BENCHMARKS.md measures), and a put's ack waits
//! for it. With the log, a batch is written here and synced (then acked),
//! and redb takes the same entries in a commit that does not sync. Now and
//! then (past [`CHECKPOINT_BYTES`] or [`CHECKPOINT_AGE`], and when the store
//! closes) one durable redb commit makes all of those durable, and the log
//! starts over.
//!
//! The log is two files, [`FILES`], one written to at a time: a checkpoint
//! moves the writes to the other file (already started over) and then takes
//! its time over redb's durable commit of what the first one holds, which
//! no commit waits for. Each file is written in place, never appended to:
//! its space is allocated ahead (zeros, written and synced once, [`GROW`] at
//! a time), so that a record's `fdatasync` writes only the record's pages
//! and not the file's size and blocks as well (two writes to the disk per
//! sync instead of one: 190 → 120 µs at p50 on the disk BENCHMARKS.md
//! measures). Starting over only moves to a new epoch: a file begins with
//! `[magic "GUNWAL02"][epoch: u64]`, and each record is
//! `[len: u32][crc32 of epoch and payload: u32][epoch: u32][payload]`, the
//! payload its entries as `[key len: u32][key][value len: u32][value]`, all
//! little-endian. Records are read from the start while they are whole and
//! of the file's epoch: what follows (zeros, or an earlier epoch's records)
//! is not this epoch's. A file started over takes an epoch above the other
//! file's, so the file of the higher epoch holds the newer records. On
//! open, every whole record of both is applied again, the lower epoch's
//! first and each in order (entries are whole values, so applying one twice
//! changes nothing); a record of its file's epoch cut short or failing its
//! checksum ends that file's log: a crash tore it while it was written, so
//! the batch in it was never acked. The bytes dropped are logged, and the
//! store's tally reports the batch.
//!
//! A log of the format before (one file, records from the first byte, no
//! epoch, the file's end the log's end) is read as such once; starting over
//! after its replay writes the format above.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use gun_proto::StoreError;

use super::fail;

/// The log's two files inside the store's directory (the first is the
/// one a log of the format before was).
pub(super) const FILES: [&str; 2] = ["gun.wal", "gun.wal2"];
/// A log past this size is checkpointed (its replay on open stays short).
pub(super) const CHECKPOINT_BYTES: u64 = 4 << 20;
/// A log older than this is checkpointed.
pub(super) const CHECKPOINT_AGE: Duration = Duration::from_secs(1);
/// The file's space is allocated this much at a time.
const GROW: u64 = 1 << 20;
/// What the file begins with.
const MAGIC: &[u8; 8] = b"GUNWAL02";
/// The file's header: the magic and the epoch.
const FILE_HEADER: u64 = 16;
/// Bytes before a record's payload: its length, checksum and epoch.
const HEADER: usize = 12;
/// Bytes before a record's payload in the format before (no epoch).
const LEGACY_HEADER: usize = 8;

/// Entries in key order, as a batch commits them.
pub(super) type Entries = std::collections::BTreeMap<Vec<u8>, Vec<u8>>;

/// The open log.
#[derive(Debug)]
pub(super) struct Wal {
    file: File,
    /// The current epoch (0: a log of the format before, read and not yet
    /// started over).
    epoch: u32,
    /// Where the next record goes.
    len: u64,
    /// Bytes of the file allocated (zeros or earlier records past `len`).
    allocated: u64,
    /// When the first record since the last checkpoint was written.
    since: Option<Instant>,
}

/// What the log held on open.
#[derive(Debug, Default)]
pub(super) struct Replay {
    /// Each whole record's entries, in the order they were written.
    pub batches: Vec<Entries>,
    /// Bytes of a record torn by a crash, dropped.
    pub torn: u64,
}

impl Wal {
    /// Opens (creating) the log file `name` in `dir` and reads what it
    /// holds. The log is not started over yet: the caller applies
    /// [`Replay::batches`] durably, then [`Wal::restart`]s it.
    pub(super) fn open(dir: &Path, name: &str) -> Result<(Self, Replay), StoreError> {
        let path = dir.join(name);
        let name = path.display().to_string();
        let file = OpenOptions::new()
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
        let allocated = file.metadata().map_err(|e| fail(&name, e))?.len();
        let mut wal = Self {
            file,
            epoch: 0,
            len: 0,
            allocated,
            since: None,
        };
        let mut magic = [0; FILE_HEADER as usize];
        let read = read_up_to(&mut wal.file, &mut magic).map_err(|e| fail(&name, e))?;
        let replay = if allocated == 0 {
            // A new file: its first space allocated now, not on the first
            // commit's path.
            wal.start_epoch(1)
                .and_then(|()| wal.allocate(FILE_HEADER + GROW))
                .map_err(|e| fail(&name, e))?;
            Replay::default()
        } else if read == magic.len() && magic[..8] == MAGIC[..] {
            let epoch = u64::from_le_bytes(magic[8..].try_into().unwrap_or_default());
            wal.epoch = u32::try_from(epoch).unwrap_or(u32::MAX);
            let (replay, end) = read_records(&wal.file, FILE_HEADER, allocated, wal.epoch)
                .map_err(|e| fail(&name, e))?;
            wal.len = end;
            replay
        } else {
            // The format before: the file's bytes are the log.
            let mut bytes = Vec::new();
            wal.file
                .seek(SeekFrom::Start(0))
                .and_then(|_| wal.file.read_to_end(&mut bytes))
                .map_err(|e| fail(&name, e))?;
            let (batches, whole) = legacy_records(&bytes);
            wal.len = whole as u64;
            Replay {
                batches,
                torn: (bytes.len() - whole) as u64,
            }
        };
        if !replay.batches.is_empty() {
            wal.since = Some(Instant::now());
        }
        Ok((wal, replay))
    }

    /// Writes `entries` as one record and syncs it: durable on return.
    pub(super) fn append(&mut self, entries: &Entries) -> Result<(), StoreError> {
        if self.epoch == 0 {
            return Err(StoreError::new(
                "write-ahead log: a log of the earlier format is written to only after its replay",
            ));
        }
        let mut record = vec![0; HEADER];
        let epoch = self.epoch.to_le_bytes();
        for (k, v) in entries {
            push_bytes(&mut record, k);
            push_bytes(&mut record, v);
        }
        let payload = record.len() - HEADER;
        let len = u32::try_from(payload)
            .map_err(|_| StoreError::new("a batch over 4 GiB cannot be logged"))?;
        let crc = checksum(&epoch, &record[HEADER..]);
        record[..4].copy_from_slice(&len.to_le_bytes());
        record[4..8].copy_from_slice(&crc.to_le_bytes());
        record[8..HEADER].copy_from_slice(&epoch);
        let end = self.len + record.len() as u64;
        // A failed write is overwritten by the next record, which starts
        // where it did; a torn one of this epoch ends the log on open.
        self.allocate(end)
            .and_then(|()| self.file.seek(SeekFrom::Start(self.len)).map(drop))
            .and_then(|()| self.file.write_all(&record))
            .and_then(|()| self.file.sync_data())
            .map_err(|e| fail("write-ahead log", e))?;
        self.len = end;
        self.since.get_or_insert_with(Instant::now);
        Ok(())
    }

    /// Bytes of the file's space allocated.
    pub(super) fn allocated(&self) -> u64 {
        self.allocated
    }

    /// Allocates the file's space up to `end` (for a file no commit writes
    /// to, so that none waits for it when it is written to).
    pub(super) fn reserve(&mut self, end: u64) -> Result<(), StoreError> {
        self.allocate(end).map_err(|e| fail("write-ahead log", e))
    }

    /// Makes sure the file's space reaches `end`: zeros written and synced
    /// (the file's new size with them).
    fn allocate(&mut self, end: u64) -> std::io::Result<()> {
        if end <= self.allocated {
            return Ok(());
        }
        let grown = end.max(self.allocated + GROW);
        let zeros = vec![0; usize::try_from(grown - self.allocated).unwrap_or(usize::MAX)];
        self.file.seek(SeekFrom::Start(self.allocated))?;
        self.file.write_all(&zeros)?;
        self.file.sync_all()?;
        self.allocated = grown;
        Ok(())
    }

    /// Whether the log is due for a checkpoint.
    pub(super) fn due(&self) -> bool {
        self.len >= CHECKPOINT_BYTES || self.since.is_some_and(|t| t.elapsed() >= CHECKPOINT_AGE)
    }

    /// Whether the log holds records.
    pub(super) fn is_empty(&self) -> bool {
        if self.epoch == 0 {
            self.len == 0
        } else {
            self.len <= FILE_HEADER
        }
    }

    /// The file's epoch (0: a log of the format before, not yet started
    /// over).
    pub(super) fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Starts the log over at `epoch`: call once everything in it is
    /// durable in the database, with an epoch above both files' (see
    /// [`next_epoch`]). The records written so far are no longer this
    /// epoch's.
    pub(super) fn restart(&mut self, epoch: u32) -> Result<(), StoreError> {
        self.start_epoch(epoch)
            .map_err(|e| fail("write-ahead log", e))?;
        self.since = None;
        Ok(())
    }

    /// Writes the file's header for `epoch` and syncs it.
    fn start_epoch(&mut self, epoch: u32) -> std::io::Result<()> {
        let mut header = [0; FILE_HEADER as usize];
        header[..8].copy_from_slice(MAGIC);
        header[8..].copy_from_slice(&u64::from(epoch).to_le_bytes());
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(&header)?;
        if self.allocated < FILE_HEADER {
            self.allocated = FILE_HEADER;
            self.file.sync_all()?;
        } else {
            self.file.sync_data()?;
        }
        self.epoch = epoch;
        self.len = FILE_HEADER;
        Ok(())
    }
}

/// The epoch after `epoch`.
pub(super) fn next_epoch(epoch: u32) -> Result<u32, StoreError> {
    epoch.checked_add(1).ok_or_else(|| {
        StoreError::new(
            "write-ahead log: out of epochs (remove gun.wal and gun.wal2 after a clean stop)",
        )
    })
}

/// A record's checksum: over its epoch and its payload.
fn checksum(epoch: &[u8; 4], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(epoch);
    h.update(payload);
    h.finalize()
}

/// Reads into `buf` until it is full or the file ends; how much was read.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    file.seek(SeekFrom::Start(0))?;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are a property's; a store refuses anything near 4 GiB
    // long before (frame limits), so the length fits.
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The whole records of `epoch` from `at` on, and where they end. A record
/// of another epoch (zeros included) ends them; one of this epoch cut short
/// or failing its checksum is torn.
fn read_records(
    mut file: &File,
    mut at: u64,
    size: u64,
    epoch: u32,
) -> std::io::Result<(Replay, u64)> {
    file.seek(SeekFrom::Start(at))?;
    let mut reader = BufReader::with_capacity(64 << 10, file);
    let mut replay = Replay::default();
    let epoch_bytes = epoch.to_le_bytes();
    loop {
        let mut header = [0; HEADER];
        if at + HEADER as u64 > size || reader.read_exact(&mut header).is_err() {
            break;
        }
        if header[8..] != epoch_bytes {
            break;
        }
        let len = u64::from(u32::from_le_bytes([
            header[0], header[1], header[2], header[3],
        ]));
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let whole = at + HEADER as u64 + len <= size;
        let mut payload = vec![0; if whole { len as usize } else { 0 }];
        let entries = (whole && reader.read_exact(&mut payload).is_ok())
            .then_some(())
            .filter(|()| checksum(&epoch_bytes, &payload) == crc)
            .and_then(|()| entries(&payload));
        let Some(entries) = entries else {
            replay.torn = (HEADER as u64 + len).min(size - at);
            break;
        };
        replay.batches.push(entries);
        at += HEADER as u64 + len;
    }
    Ok((replay, at))
}

/// The whole records at the start of `bytes` in the format before, and
/// how many bytes they take.
fn legacy_records(bytes: &[u8]) -> (Vec<Entries>, usize) {
    let mut batches = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + LEGACY_HEADER) {
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let Some(payload) = bytes.get(at + LEGACY_HEADER..at + LEGACY_HEADER + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Some(entries) = entries(payload) else {
            break;
        };
        batches.push(entries);
        at += LEGACY_HEADER + len;
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

/// Where the whole records of the log file `name` end, read afresh (for
/// tests that tear the record after them).
#[cfg(test)]
pub(super) fn records_end(dir: &Path, name: &str) -> u64 {
    Wal::open(dir, name).expect("open").0.len
}

/// The epoch of the log file `name`, read afresh (for tests).
#[cfg(test)]
pub(super) fn records_epoch(dir: &Path, name: &str) -> u32 {
    Wal::open(dir, name).expect("open").0.epoch
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

    /// Writes `bytes` at `at` in the log of `dir` (a crash's leftovers).
    fn scribble(dir: &Path, at: u64, bytes: &[u8]) {
        let mut f = OpenOptions::new()
            .write(true)
            .open(dir.join(FILES[0]))
            .expect("open");
        f.seek(SeekFrom::Start(at)).expect("seek");
        f.write_all(bytes).expect("write");
    }

    #[test]
    fn records_come_back_in_order_and_a_torn_record_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let one = batch(&[("a", "1"), ("b", "")]);
        let two = batch(&[("a", "2")]);
        let end = {
            let (mut wal, replay) = Wal::open(dir.path(), FILES[0]).expect("open");
            assert!(replay.batches.is_empty() && replay.torn == 0);
            assert!(wal.is_empty());
            wal.append(&one).expect("append");
            wal.append(&two).expect("append");
            assert!(!wal.is_empty());
            wal.len
        };
        let (_, replay) = Wal::open(dir.path(), FILES[0]).expect("reopen");
        assert_eq!(replay.batches, [one.clone(), two.clone()]);
        assert_eq!(replay.torn, 0);

        // A crash in the middle of a third record: its bytes are dropped,
        // and the record written next takes its place.
        let mut torn = vec![20, 0, 0, 0, 1, 2, 3, 4];
        torn.extend_from_slice(&1u32.to_le_bytes());
        torn.push(b'x');
        scribble(dir.path(), end, &torn);
        let (mut wal, replay) = Wal::open(dir.path(), FILES[0]).expect("reopen");
        assert_eq!(replay.batches, [one.clone(), two.clone()]);
        assert_eq!(replay.torn, 32, "its header and the payload it claims");
        assert_eq!(wal.len, end);
        let three = batch(&[("c", "3")]);
        wal.append(&three).expect("append");
        drop(wal);
        let (mut wal, replay) = Wal::open(dir.path(), FILES[0]).expect("reopen");
        assert_eq!(replay.batches, [one, two, three]);
        assert_eq!(replay.torn, 0);

        // Starting over: the records' bytes stay, but are an earlier
        // epoch's, and a new record over the first one does not bring the
        // others back.
        wal.restart(next_epoch(wal.epoch()).expect("epoch"))
            .expect("restart");
        assert!(wal.is_empty());
        drop(wal);
        let (mut wal, replay) = Wal::open(dir.path(), FILES[0]).expect("reopen");
        assert!(replay.batches.is_empty() && replay.torn == 0);
        let four = batch(&[("d", "4")]);
        wal.append(&four).expect("append");
        drop(wal);
        let (_, replay) = Wal::open(dir.path(), FILES[0]).expect("reopen");
        assert_eq!(replay.batches, [four]);
    }

    #[test]
    fn records_are_written_in_place_in_space_allocated_ahead() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut wal, _) = Wal::open(dir.path(), FILES[0]).expect("open");
        let size = || {
            std::fs::metadata(dir.path().join(FILES[0]))
                .expect("meta")
                .len()
        };
        for i in 0..200 {
            wal.append(&batch(&[("k", &i.to_string())]))
                .expect("append");
        }
        assert_eq!(size(), FILE_HEADER + GROW, "one allocation for them all");
        let big = batch(&[("big", &"x".repeat(GROW as usize))]);
        wal.append(&big).expect("append");
        assert!(size() >= wal.len && size() < wal.len + GROW + 64);
        drop(wal);
        let (_, replay) = Wal::open(dir.path(), FILES[0]).expect("reopen");
        assert_eq!(replay.batches.len(), 201);
        assert_eq!(replay.batches.last(), Some(&big));
    }

    #[test]
    fn a_record_failing_its_checksum_ends_the_log() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut wal, _) = Wal::open(dir.path(), FILES[0]).expect("open");
        wal.append(&batch(&[("a", "1")])).expect("append");
        wal.append(&batch(&[("b", "2")])).expect("append");
        let last = wal.len - 1;
        drop(wal);
        scribble(dir.path(), last, b"?");
        let (_, replay) = Wal::open(dir.path(), FILES[0]).expect("reopen");
        assert_eq!(replay.batches, [batch(&[("a", "1")])]);
        assert!(replay.torn > 0);
    }

    #[test]
    fn a_log_of_the_format_before_is_replayed_then_started_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let one = batch(&[("a", "1")]);
        let mut record = Vec::new();
        for (k, v) in &one {
            push_bytes(&mut record, k);
            push_bytes(&mut record, v);
        }
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&(record.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&record).to_le_bytes());
        bytes.extend_from_slice(&record);
        bytes.extend_from_slice(&[9, 0, 0, 0, 1]);
        std::fs::write(dir.path().join(FILES[0]), &bytes).expect("write");
        let (mut wal, replay) = Wal::open(dir.path(), FILES[0]).expect("open");
        assert_eq!(replay.batches, [one]);
        assert_eq!(replay.torn, 5);
        assert!(
            wal.append(&batch(&[("b", "2")])).is_err(),
            "not before its replay"
        );
        wal.restart(next_epoch(wal.epoch()).expect("epoch"))
            .expect("restart");
        let two = batch(&[("b", "2")]);
        wal.append(&two).expect("append");
        drop(wal);
        let (_, replay) = Wal::open(dir.path(), FILES[0]).expect("reopen");
        assert_eq!(replay.batches, [two]);
        assert_eq!(replay.torn, 0);
    }
}
