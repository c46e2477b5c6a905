//! # gun-proto: the Gun engine, sans-IO
//!
//! A pure, synchronous state machine that speaks Gun.js's wire protocol: it
//! consumes frames from peers, application calls, store answers and time, and
//! emits frames to send, store reads and writes, and events. It opens no
//! socket, reads no file or clock, and starts no thread: drivers do that
//! (`gun-io-blocking`, `gun-io-tokio`, `gun-io-async-std`).
//!
//! The loop every driver runs is on [`Engine`]; the modules are the domain's
//! concepts: [`value`], [`state`] (the clock), [`ham`] (conflict resolution),
//! [`graph`], [`convert`] (JSON ↔ graph), [`wire`] (frames), [`lex`],
//! [`dup`] (dedup), [`store`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod convert;
pub mod dup;
mod engine;
pub mod graph;
pub mod ham;
#[cfg(feature = "harness")]
pub mod harness;
pub mod ids;
pub mod jstext;
pub mod lex;
pub mod state;
pub mod store;
pub mod value;
pub mod wire;

pub use engine::{
    Call, Config, Engine, Error, Event, Input, Now, Output, Path, Predicate, PutFailure, Role,
};
pub use graph::{Graph, Node, Prop};
pub use ids::{PeerId, ReadId, ReqId, SubId, VerifyId, WriteId};
pub use store::{MemoryStore, Store, StoreError, StoreQuery};
pub use value::Value;
