//! `GunError`: what the user API can fail with.

/// An error from the user API, a store or a transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GunError {
    /// The data cannot be put (array, NaN, Infinity, empty key, …).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// The store failed (or refused a corrupt file).
    #[error("storage: {0}")]
    Storage(String),
    /// JSON could not be read or written.
    #[error("serialization: {0}")]
    Serialization(String),
    /// A peer refused a put, no ack came in time, or the instance is shut down.
    #[error("network: {0}")]
    Network(String),
    /// A soul or key is empty, or the chain has no soul (the root).
    #[error("invalid soul: {0}")]
    InvalidSoul(String),
    /// Nothing is stored at the place asked for.
    #[error("node not found: {0}")]
    NodeNotFound(String),
    /// A file or socket operation failed.
    #[error("i/o: {0}")]
    Io(String),
    /// A peer URL could not be read.
    #[error("bad peer url: {0}")]
    UrlParseError(String),
    /// WebRTC failed or is unavailable.
    #[error("webrtc: {0}")]
    WebRTC(String),
    /// A key pair is invalid.
    #[error("crypto: {0}")]
    Crypto(String),
}

impl From<std::io::Error> for GunError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e.to_string())
    }
}

impl From<gun_proto::StoreError> for GunError {
    fn from(e: gun_proto::StoreError) -> Self {
        Self::Storage(e.0)
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

impl From<gun_proto::PutFailure> for GunError {
    fn from(e: gun_proto::PutFailure) -> Self {
        match e {
            gun_proto::PutFailure::Store(s) => Self::Storage(s),
            other => Self::Network(other.to_string()),
        }
    }
}

/// `Result` with [`GunError`].
pub type GunResult<T> = Result<T, GunError>;
