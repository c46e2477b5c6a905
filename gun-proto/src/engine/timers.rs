//! The engine's timers: what is due when, in monotonic time.

use std::collections::BTreeMap;
use std::time::Duration;

use compact_str::CompactString;

use crate::ids::{PeerId, ReqId};
use crate::value::Value;

/// Something the engine must do at a time.
#[derive(Debug)]
pub(super) enum Timer {
    /// No peer answered a put of ours in time.
    PutTimeout(ReqId),
    /// A `once` has waited for peers long enough.
    OnceWait(ReqId),
    /// A message id stops routing replies (our gets and puts, forwards).
    RouteExpire(CompactString),
    /// A held not-found is sent, whatever upstream peers said.
    HeldExpire(CompactString),
    /// A future-state property's time has come.
    Deferred {
        /// The ack owed once all of a put's deferred properties are applied.
        ticket: Option<u64>,
        /// Whose put it came in (its share of the holds).
        owner: Option<PeerId>,
        soul: String,
        key: String,
        value: Value,
        state: f64,
    },
}

/// Timers in order of their time (ties in the order they were set).
#[derive(Debug, Default)]
pub(super) struct Timers {
    due: BTreeMap<(Duration, u64), Timer>,
    seq: u64,
}

impl Timers {
    /// Sets `timer` for `at`.
    pub(super) fn set(&mut self, at: Duration, timer: Timer) {
        self.seq += 1;
        self.due.insert((at, self.seq), timer);
    }

    /// When the next timer is due.
    pub(super) fn next(&self) -> Option<Duration> {
        self.due.keys().next().map(|(t, _)| *t)
    }

    /// The next timer due at `now`, removed.
    pub(super) fn pop_due(&mut self, now: Duration) -> Option<Timer> {
        let entry = self.due.first_entry()?;
        (entry.key().0 <= now).then(|| entry.remove())
    }
}
