//! # gun-io-blocking
//!
//! Will drive the [`gun_proto`] engine on OS threads with a tungstenite
//! WebSocket client and relay (issue #7). Until then it only re-exports the
//! engine so the workspace's shape is in place.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use gun_proto;
