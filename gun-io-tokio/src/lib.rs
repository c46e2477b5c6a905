//! # gun-io-tokio
//!
//! Will drive the [`gun_proto`] engine on tokio, with tokio-tungstenite, and
//! hold the `gun` relay binary (issue #3). Until then it only re-exports the
//! engine so the workspace's shape is in place.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use gun_proto;
