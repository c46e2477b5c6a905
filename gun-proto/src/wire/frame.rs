//! An encoded frame, shared: a message broadcast to many peers is written
//! once and each peer's [`crate::Output::Transmit`] holds the same bytes.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// One encoded frame (a message, or a batch `[…]`): cheap to clone, its
/// text shared by every clone.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Frame(Arc<str>);

impl Frame {
    /// Its text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Frame {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Frame {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<[u8]> for Frame {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Self {
        Self(text.into())
    }
}

impl From<&str> for Frame {
    fn from(text: &str) -> Self {
        Self(text.into())
    }
}

impl PartialEq<str> for Frame {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Frame {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_text() {
        let a = Frame::from(String::from("{\"#\":\"x\"}"));
        let b = a.clone();
        assert!(std::ptr::eq(a.as_str(), b.as_str()), "one allocation");
        assert_eq!(a, "{\"#\":\"x\"}");
        assert_eq!(AsRef::<[u8]>::as_ref(&b), b"{\"#\":\"x\"}");
    }
}
