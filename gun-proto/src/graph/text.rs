//! A node's text buffer (its keys and string values): inline while it is
//! short, on the heap once it is not.
//!
//! Most nodes' keys and strings come to a few dozen bytes or less; held
//! inline, a node is built with one allocation fewer. (A `CompactString`
//! holds as much inline, but its every append re-reads and re-encodes
//! where its text lives, which costs more than the allocation saved.)

use std::ops::Deref;

use arrayvec::ArrayString;

/// The most bytes held inline.
const INLINE: usize = 24;

#[derive(Clone)]
pub(super) enum Text {
    Inline(ArrayString<INLINE>),
    Heap(String),
}

impl Default for Text {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Text {
    pub(super) const EMPTY: Self = Self::Inline(ArrayString::new_const());

    /// Room for `n` bytes.
    pub(super) fn with_capacity(n: usize) -> Self {
        if n <= INLINE {
            Self::EMPTY
        } else {
            Self::Heap(String::with_capacity(n))
        }
    }

    pub(super) fn as_str(&self) -> &str {
        match self {
            Self::Inline(s) => s.as_str(),
            Self::Heap(s) => s.as_str(),
        }
    }

    pub(super) fn push_str(&mut self, s: &str) {
        match self {
            Self::Inline(held) => {
                if held.try_push_str(s).is_err() {
                    let mut heap = String::with_capacity((held.len() + s.len()).max(2 * INLINE));
                    heap.push_str(held);
                    heap.push_str(s);
                    *self = Self::Heap(heap);
                }
            }
            Self::Heap(held) => held.push_str(s),
        }
    }

    pub(super) fn truncate(&mut self, len: usize) {
        match self {
            Self::Inline(s) => s.truncate(len),
            Self::Heap(s) => s.truncate(len),
        }
    }

    /// Writes `s` over the bytes from `at` on, as many as it has (both
    /// ends on character boundaries).
    pub(super) fn overwrite(&mut self, at: usize, s: &str) {
        let end = at + s.len();
        match self {
            Self::Inline(held) => {
                let mut out = ArrayString::new();
                out.push_str(&held[..at]);
                out.push_str(s);
                out.push_str(&held[end..]);
                *held = out;
            }
            Self::Heap(held) => held.replace_range(at..end, s),
        }
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_then_heap() {
        let mut t = Text::with_capacity(4);
        t.push_str("name");
        t.push_str("Alice");
        assert!(matches!(t, Text::Inline(_)));
        t.overwrite(4, "Bobby");
        assert_eq!(&*t, "nameBobby");
        t.push_str(" and a string that does not fit");
        assert!(matches!(t, Text::Heap(_)));
        assert_eq!(&*t, "nameBobby and a string that does not fit");
        t.overwrite(0, "NAME");
        t.truncate(9);
        assert_eq!(&*t, "NAMEBobby");
        let mut t = Text::with_capacity(100);
        t.push_str("é");
        assert_eq!((t.len(), matches!(t, Text::Heap(_))), (2, true));
    }
}
