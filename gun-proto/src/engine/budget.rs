//! A peer's budgets: its share of the log, its message rate.

use std::time::Duration;

/// Log lines a peer's refusals may write per window; past that they are
/// counted, and the next window's first line says how many went unlogged.
const LOG_LINES: u32 = 5;
const LOG_WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(super) struct LogBudget {
    since: Duration,
    lines: u32,
    missed: u64,
}

impl LogBudget {
    /// `Some(missed since the last line)` if a line may be written now.
    pub(super) fn take(&mut self, now: Duration) -> Option<u64> {
        if now >= self.since + LOG_WINDOW {
            self.since = now;
            self.lines = 0;
        }
        if self.lines >= LOG_LINES {
            self.missed += 1;
            return None;
        }
        self.lines += 1;
        Some(std::mem::take(&mut self.missed))
    }
}

/// A token bucket of messages: `per_sec` a second, up to a second's worth
/// banked. Spent below zero, the peer is throttled (its socket not read)
/// until the bucket refills; nothing is refused.
#[derive(Debug)]
pub(super) struct Rate {
    pub(super) tokens: f64,
    pub(super) at: Duration,
}

impl Rate {
    pub(super) fn new(per_sec: f64, now: Duration) -> Self {
        Self {
            tokens: per_sec,
            at: now,
        }
    }

    pub(super) fn refill(&mut self, per_sec: f64, now: Duration) {
        let dt = now.saturating_sub(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * per_sec).min(per_sec);
        self.at = now;
    }
}
