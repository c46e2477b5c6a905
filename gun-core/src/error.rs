//! `GunError`: what the user API can fail with, with the variants the
//! original port documented. Where an error comes from another library (a
//! database, the file system, JSON, a URL parser), that error stays
//! reachable through [`std::error::Error::source`], and `From` conversions
//! let `?` turn it into a `GunError` in user code.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// The words of an error and, when it came from another library, that
/// library's error ([`Detail::inner`], and [`GunError`]'s `source()`).
#[derive(Clone)]
pub struct Detail {
    message: String,
    inner: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl Detail {
    /// An error described in words only.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            inner: None,
        }
    }

    /// An error that another library reported: its text, and itself.
    pub fn from_error(e: impl StdError + Send + Sync + 'static) -> Self {
        Self {
            message: e.to_string(),
            inner: Some(Arc::new(e)),
        }
    }

    /// Words that say what was being done, and the error that stopped it.
    pub fn with_context(
        message: impl Into<String>,
        e: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            inner: Some(Arc::new(e)),
        }
    }

    fn shared(message: impl Into<String>, inner: Arc<dyn StdError + Send + Sync>) -> Self {
        Self {
            message: message.into(),
            inner: Some(inner),
        }
    }

    /// What went wrong, in words.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The other library's error, when there is one.
    pub fn inner(&self) -> Option<&(dyn StdError + Send + Sync + 'static)> {
        self.inner.as_deref()
    }

    /// The other library's error as its own type, when it is a `T`.
    pub fn downcast_ref<T: StdError + 'static>(&self) -> Option<&T> {
        self.inner()?.downcast_ref::<T>()
    }
}

impl From<&str> for Detail {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<String> for Detail {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(e) => write!(f, "{:?} (from {e:?})", self.message),
            None => write!(f, "{:?}", self.message),
        }
    }
}

impl PartialEq for Detail {
    fn eq(&self, other: &Self) -> bool {
        self.message == other.message
    }
}

impl Eq for Detail {}

/// An error from the user API, a store or a transport.
///
/// ```
/// use gun_core::GunError;
/// let e = GunError::from(std::io::Error::other("disk on fire"));
/// assert!(matches!(e, GunError::Io(_)));
/// let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
/// assert_eq!(io.map(|io| io.kind()), Some(std::io::ErrorKind::Other));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GunError {
    /// The data cannot be put (array, NaN, Infinity, empty key, a bad
    /// option value, …).
    InvalidData(String),
    /// The store failed (sled's error, when it was sled, is the source).
    Storage(Detail),
    /// JSON could not be read: a file store holding a node file that is not
    /// JSON (the `serde_json::Error` is the source).
    Serialization(Detail),
    /// No peer acked a put within the put timeout (`put_acked`), a peer
    /// refused it, or the instance is shut down.
    Network(String),
    /// A soul or key is empty, or the chain has no soul (the root).
    InvalidSoul(String),
    /// Nothing is stored at the place asked for ([`crate::Chain::value`]).
    NodeNotFound,
    /// A file or socket operation failed (the `std::io::Error` is the source).
    Io(Detail),
    /// A peer URL could not be read (the `url::ParseError`, when the URL
    /// parser refused it, is the source).
    UrlParseError(Detail),
    /// WebRTC failed or is unavailable.
    WebRTC(String),
    /// A key, a certificate or a signature is invalid.
    Crypto(String),
}

impl fmt::Display for GunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidData(m) => write!(f, "invalid data: {m}"),
            Self::Storage(d) => write!(f, "storage: {d}"),
            Self::Serialization(d) => write!(f, "serialization: {d}"),
            Self::Network(m) => write!(f, "network: {m}"),
            Self::InvalidSoul(m) => write!(f, "invalid soul: {m}"),
            Self::NodeNotFound => f.write_str("node not found"),
            Self::Io(d) => write!(f, "i/o: {d}"),
            Self::UrlParseError(d) => write!(f, "bad peer url: {d}"),
            Self::WebRTC(m) => write!(f, "webrtc: {m}"),
            Self::Crypto(m) => write!(f, "crypto: {m}"),
        }
    }
}

impl StdError for GunError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Storage(d) | Self::Serialization(d) | Self::Io(d) | Self::UrlParseError(d) => {
                d.inner.as_deref().map(|e| e as &(dyn StdError + 'static))
            }
            _ => None,
        }
    }
}

impl GunError {
    /// An [`GunError::Io`] with words saying what was being done.
    pub fn io(context: impl Into<String>, e: std::io::Error) -> Self {
        Self::Io(Detail::with_context(context, e))
    }
}

impl From<std::io::Error> for GunError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(Detail::from_error(e))
    }
}

impl From<serde_json::Error> for GunError {
    fn from(e: serde_json::Error) -> Self {
        Self::Serialization(Detail::from_error(e))
    }
}

impl From<url::ParseError> for GunError {
    fn from(e: url::ParseError) -> Self {
        Self::UrlParseError(Detail::from_error(e))
    }
}

#[cfg(feature = "sled")]
impl From<sled::Error> for GunError {
    fn from(e: sled::Error) -> Self {
        Self::Storage(Detail::from_error(e))
    }
}

impl From<gun_proto::StoreError> for GunError {
    /// By what is underneath: a file's I/O error is `Io`, unreadable JSON is
    /// `Serialization`, anything else (sled's errors included) `Storage`.
    fn from(e: gun_proto::StoreError) -> Self {
        let message = e.message().to_owned();
        let Some(inner) = e.cause().cloned() else {
            return Self::Storage(Detail::new(message));
        };
        if inner.is::<std::io::Error>() {
            Self::Io(Detail::shared(message, inner))
        } else if inner.is::<serde_json::Error>() {
            Self::Serialization(Detail::shared(message, inner))
        } else {
            Self::Storage(Detail::shared(message, inner))
        }
    }
}

impl From<gun_proto::Error> for GunError {
    fn from(e: gun_proto::Error) -> Self {
        match e {
            gun_proto::Error::InvalidData(d) => Self::InvalidData(d.to_string()),
            gun_proto::Error::EmptyPath => Self::InvalidSoul(e.to_string()),
            gun_proto::Error::BadState(_) => Self::InvalidData(e.to_string()),
            other => Self::Network(other.to_string()),
        }
    }
}

impl From<gun_proto::sea::SeaError> for GunError {
    fn from(e: gun_proto::sea::SeaError) -> Self {
        Self::Crypto(e.to_string())
    }
}

impl From<gun_proto::PutFailure> for GunError {
    fn from(e: gun_proto::PutFailure) -> Self {
        match e {
            gun_proto::PutFailure::Store(s) => s.into(),
            gun_proto::PutFailure::Refused(why) => Self::Crypto(why),
            other => Self::Network(other.to_string()),
        }
    }
}

/// `Result` with [`GunError`].
pub type GunResult<T> = Result<T, GunError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_stay_reachable() {
        let json = serde_json::from_str::<serde_json::Value>("{").expect_err("bad json");
        let e = GunError::from(json);
        assert!(matches!(e, GunError::Serialization(_)));
        assert!(
            e.source()
                .is_some_and(|s| s.downcast_ref::<serde_json::Error>().is_some())
        );
        let e = GunError::from(url::Url::parse("not a url").expect_err("bad url"));
        assert!(
            e.source()
                .is_some_and(|s| s.downcast_ref::<url::ParseError>().is_some())
        );
        let store = gun_proto::StoreError::with_source("x.json", std::io::Error::other("gone"));
        let e = GunError::from(gun_proto::PutFailure::Store(store));
        assert!(matches!(&e, GunError::Io(d) if d.message() == "x.json"));
        assert!(
            e.source()
                .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
        );
        assert!(GunError::NodeNotFound.source().is_none());
        assert_eq!(
            GunError::from(gun_proto::StoreError::new("full")),
            GunError::Storage(Detail::new("full"))
        );
    }
}
