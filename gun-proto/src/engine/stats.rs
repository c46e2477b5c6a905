//! What the engine counts for operators: refusals by reason, acks, peers
//! dropped. Read with [`crate::Engine::stats`]; drivers export them as
//! metrics.

/// Why the engine did not take something a peer sent. Each refusal is
/// counted here and logged (within the peer's log budget) with the reason
/// as a structured field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// A frame too big, too deep, not JSON, or with too many messages.
    Frame,
    /// A message that cannot be read, or a put that is not a valid graph.
    Message,
    /// A soul, key, message id or pid longer than the limits allow.
    TooLong,
    /// A signed message that failed the signed mesh's checks or policy.
    Auth,
    /// A message the application's predicate dropped.
    Predicate,
    /// A reply from a peer the message it answers was not sent to (a
    /// forged ack, or data answering someone else's get).
    UnsolicitedReply,
    /// More work waiting on the store than the peer's share.
    Busy,
    /// More future-state properties held than the peer's share.
    FutureStates,
    /// More subscriptions than a peer may have.
    Subscriptions,
    /// The store refused the write.
    Store,
    /// A write that breaks the rules of a protected space (SEA: a user's
    /// space, an alias, a content address, an expiring soul).
    Sea,
}

impl Refusal {
    /// Every reason, in order.
    pub const ALL: [Self; 11] = [
        Self::Frame,
        Self::Message,
        Self::TooLong,
        Self::Auth,
        Self::Predicate,
        Self::UnsolicitedReply,
        Self::Busy,
        Self::FutureStates,
        Self::Subscriptions,
        Self::Store,
        Self::Sea,
    ];

    /// The reason as a metric label and log field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Frame => "frame",
            Self::Message => "message",
            Self::TooLong => "too_long",
            Self::Auth => "auth",
            Self::Predicate => "predicate",
            Self::UnsolicitedReply => "unsolicited_reply",
            Self::Busy => "busy",
            Self::FutureStates => "future_states",
            Self::Subscriptions => "subscriptions",
            Self::Store => "store",
            Self::Sea => "sea",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters since the engine started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    refused: [u64; Refusal::ALL.len()],
    /// Puts of peers acked once stored.
    pub puts_acked: u64,
    /// Messages taken from peers (after dedup).
    pub messages_in: u64,
    /// Refusals not logged because the peer's log budget was spent.
    pub logs_suppressed: u64,
}

impl Stats {
    /// How many times `why` was refused.
    pub fn refused(&self, why: Refusal) -> u64 {
        self.refused[why.index()]
    }

    pub(super) fn count(&mut self, why: Refusal) {
        self.refused[why.index()] += 1;
    }
}
