//! A soul as a graph's key: ordered as its text is, compared a word at a
//! time first.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::ops::Deref;

use compact_str::CompactString;

/// A soul held by a [`super::Graph`]: up to 24 bytes inline.
///
/// Its order is the bytewise order of the text (what `&str` lookups and
/// prefix ranges rely on); a search by an owned `Soul` (an entry, an
/// insert) of souls of eight bytes or more compares their first eight as
/// one big-endian word, and the rest only where those are equal. Souls mostly differ early (Gun.js's
/// random ids at once, paths within a few bytes), so most comparisons in
/// a search take no call to `memcmp`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Soul(CompactString);

impl Soul {
    pub(crate) fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Ord for Soul {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        match (a.first_chunk::<8>(), b.first_chunk::<8>()) {
            // Between two words that differ, the big-endian word order is
            // the bytes' order.
            (Some(x), Some(y)) => u64::from_be_bytes(*x)
                .cmp(&u64::from_be_bytes(*y))
                .then_with(|| a[8..].cmp(&b[8..])),
            // A short soul: the plain comparison is as quick.
            _ => a.cmp(b),
        }
    }
}

impl PartialOrd for Soul {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Borrow<str> for Soul {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Deref for Soul {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Soul {
    fn from(s: &str) -> Self {
        Self(s.into())
    }
}

impl From<String> for Soul {
    fn from(s: String) -> Self {
        Self(s.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-first order is the text's order, at every length around
    /// the word and with zero bytes where the padding is.
    #[test]
    fn orders_as_text() {
        let texts: Vec<String> = [
            "",
            "\0",
            "\0\0",
            "a",
            "a\0",
            "a\0\0b",
            "ab",
            "abcdefg",
            "abcdefg\0",
            "abcdefgh",
            "abcdefgh\0",
            "abcdefghi",
            "abcdefgi",
            "abcdeg",
            "b",
            "user/1",
            "user/10",
            "user/100",
            "user/1000",
            "user/999",
            "user/9999",
            "~pub.key",
            "é",
            "日本",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for a in &texts {
            for b in &texts {
                let (sa, sb) = (Soul::from(a.as_str()), Soul::from(b.as_str()));
                assert_eq!(sa.cmp(&sb), a.as_str().cmp(b.as_str()), "{a:?} vs {b:?}");
                assert_eq!(sa == sb, a == b);
            }
        }
    }

    proptest::proptest! {
        /// Any two souls, near each other in length and bytes (a small
        /// alphabet with the zero byte), order as their texts do.
        #[test]
        fn any_two_order_as_text(a in "[\\x00ab/é]{0,12}", b in "[\\x00ab/é]{0,12}") {
            let (sa, sb) = (Soul::from(a.as_str()), Soul::from(b.as_str()));
            proptest::prop_assert_eq!(sa.cmp(&sb), a.cmp(&b));
            proptest::prop_assert_eq!(sb.cmp(&sa), b.cmp(&a));
        }
    }
}
