//! # gun-io-async-std
//!
//! Will drive the [`gun_proto`] engine on async-std and smol (issue #4).
//! Until then it only re-exports the engine so the workspace's shape is in place.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use gun_proto;
