//! A peer's outbox: the messages waiting for its next frame.
//!
//! A message written for this peer alone (an ack, a reply) is written
//! straight into the batch frame it will go out in, so a turn's hundreds
//! of acks to one writer cost a few growing buffers, not a string and a
//! shared copy each. A message shared with other peers (a forward) is
//! held as the one encoding they all share.

use std::collections::VecDeque;

use crate::wire::Frame;

/// Room an outbox's first batch starts with.
const FIRST_ROOM: usize = 256;

/// A peer's queued messages, in order.
#[derive(Debug, Default)]
pub(super) struct Outbox {
    parts: VecDeque<Part>,
    /// The length of the last batch of this peer's own messages sent: the
    /// next starts with that much room (a writer's acks come turn after
    /// turn in batches of much the same size).
    last_own: usize,
}

#[derive(Debug)]
enum Part {
    /// Messages written for this peer alone, as the batch frame they make:
    /// `[`, then the messages separated by commas (the `]` comes when it
    /// is sent).
    Own { text: String, count: usize },
    /// One message shared with other peers.
    Shared(Frame),
}

impl Part {
    /// Its bytes in a batch frame: each message and one separator.
    fn weight(&self) -> usize {
        match self {
            Self::Own { text, .. } => text.len(),
            Self::Shared(frame) => frame.len() + 1,
        }
    }
}

impl Outbox {
    pub(super) fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Queues a message shared with other peers.
    pub(super) fn push_shared(&mut self, frame: Frame) {
        self.parts.push_back(Part::Shared(frame));
    }

    /// Queues a message for this peer alone, written by `write` into the
    /// batch it goes out in. A batch is kept within `budget` bytes, unless
    /// one message alone is larger. A `write` that writes nothing queues
    /// nothing.
    pub(super) fn push_own(&mut self, budget: usize, write: impl FnOnce(&mut String)) {
        if !matches!(self.parts.back(), Some(Part::Own { .. })) {
            self.parts.push_back(Part::Own {
                text: String::with_capacity(
                    self.last_own.clamp(FIRST_ROOM, budget.max(FIRST_ROOM)),
                ),
                count: 0,
            });
        }
        let Some(Part::Own { text, count }) = self.parts.back_mut() else {
            return;
        };
        if *count == 0 {
            text.push('[');
        }
        let mark = text.len();
        if *count > 0 {
            text.push(',');
        }
        let start = text.len();
        write(text);
        if text.len() == start {
            text.truncate(mark);
            if *count == 0 {
                self.parts.pop_back();
            }
            return;
        }
        // With its `]`, the batch is one byte longer than its text.
        if *count > 0 && text.len() + 1 > budget {
            // Past the budget: this message opens the next batch.
            let mut next = String::with_capacity((text.len() - start + 1).max(FIRST_ROOM));
            next.push('[');
            next.push_str(&text[start..]);
            text.truncate(mark);
            self.parts.push_back(Part::Own {
                text: next,
                count: 1,
            });
            return;
        }
        *count += 1;
    }

    /// The next frame: the messages at the front, as many as fit in
    /// `budget` bytes (at least one). A lone message is its own frame; a
    /// lone shared one is passed on as it is, not copied.
    pub(super) fn next_frame(&mut self, budget: usize) -> Option<Frame> {
        let (mut size, mut n) = (0, 0);
        for part in &self.parts {
            let weight = part.weight();
            // The batch is its parts and its `]`.
            if n > 0 && size + weight + 1 > budget {
                break;
            }
            size += weight;
            n += 1;
        }
        if let Some(Part::Own { text, .. }) = self.parts.front() {
            self.last_own = text.len() + 1;
        }
        if n <= 1 {
            return self.parts.pop_front().map(|part| match part {
                Part::Shared(frame) => frame,
                Part::Own { text, count: 1 } => Frame::from(&text[1..]),
                Part::Own { mut text, .. } => {
                    text.push(']');
                    Frame::from(text)
                }
            });
        }
        let mut out = String::with_capacity(size + 1);
        out.push('[');
        for (i, part) in self.parts.drain(..n).enumerate() {
            if i > 0 {
                out.push(',');
            }
            match &part {
                Part::Own { text, .. } => out.push_str(&text[1..]),
                Part::Shared(frame) => out.push_str(frame),
            }
        }
        out.push(']');
        Some(Frame::from(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(o: &mut Outbox, budget: usize) -> Vec<String> {
        std::iter::from_fn(|| o.next_frame(budget))
            .map(|f| f.to_string())
            .collect()
    }

    #[test]
    fn a_lone_message_is_its_own_frame() {
        let mut o = Outbox::default();
        o.push_own(100, |t| t.push_str("{\"a\":1}"));
        assert_eq!(drain(&mut o, 100), ["{\"a\":1}"]);
        let shared = Frame::from("{\"b\":2}");
        o.push_shared(shared.clone());
        let frame = o.next_frame(100).expect("frame");
        assert!(std::ptr::eq(frame.as_str(), shared.as_str()), "not copied");
        assert!(o.is_empty() && o.next_frame(100).is_none());
    }

    #[test]
    fn messages_keep_their_order_in_batches_within_the_budget() {
        let mut o = Outbox::default();
        let msgs: Vec<String> = (0..40).map(|i| format!("{{\"#\":\"m{i}\"}}")).collect();
        for (i, m) in msgs.iter().enumerate() {
            if i % 7 == 3 {
                o.push_shared(Frame::from(m.as_str()));
            } else {
                o.push_own(60, |t| t.push_str(m));
            }
        }
        let frames = drain(&mut o, 60);
        let mut got = Vec::new();
        for f in &frames {
            assert!(f.len() <= 60, "{f}");
            match serde_json::from_str::<serde_json::Value>(f).expect("json") {
                serde_json::Value::Array(a) => got.extend(a),
                one => got.push(one),
            }
        }
        let want: Vec<serde_json::Value> = msgs
            .iter()
            .map(|m| serde_json::from_str(m).expect("json"))
            .collect();
        assert_eq!(got, want);
        assert!(frames.len() > 5, "batched, not one frame: {frames:?}");
    }

    #[test]
    fn a_message_larger_than_the_budget_goes_alone() {
        let mut o = Outbox::default();
        let big = format!("\"{}\"", "x".repeat(50));
        o.push_own(20, |t| t.push('1'));
        o.push_own(20, |t| t.push_str(&big));
        o.push_own(20, |t| t.push('2'));
        assert_eq!(drain(&mut o, 20), ["1", big.as_str(), "2"]);
    }

    #[test]
    fn writing_nothing_queues_nothing() {
        let mut o = Outbox::default();
        o.push_own(100, |_| {});
        assert!(o.is_empty());
        o.push_own(100, |t| t.push('1'));
        o.push_own(100, |_| {});
        assert_eq!(drain(&mut o, 100), ["1"]);
    }
}
