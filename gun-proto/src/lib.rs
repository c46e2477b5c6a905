//! # gun-proto: the Gun engine, sans-IO
//!
//! A pure, synchronous state machine that speaks Gun.js's wire protocol: it
//! consumes frames from peers, application calls, store answers, signature
//! verdicts and time, and emits frames to send, store reads and writes,
//! signatures to verify, and events. It opens no socket, reads no file or
//! clock, and starts no thread: drivers do that (`gun-io-blocking`,
//! `gun-io-tokio`, `gun-io-async-std`). A driver is this loop:
//!
//! ```
//! use std::time::Duration;
//! use gun_proto::{Config, Engine, Input, MemoryStore, Now, Output, PeerId, Role, Store};
//!
//! let mut engine = Engine::new(Config::new(1), Now::new(Duration::ZERO, 1.7e12));
//! let mut store = MemoryStore::new();
//! let now = Now::new(Duration::from_millis(1), 1.7e12 + 1.0);
//! engine.handle_input(now, Input::Connected { peer: PeerId(1), role: Role::Accepted })?;
//! let frame = br##"{"#":"m1","put":{"s":{"_":{"#":"s",">":{"k":1}},"k":"v"}}}"##;
//! engine.handle_input(now, Input::Frame { peer: PeerId(1), data: frame })?;
//! let mut sent = Vec::new();
//! while let Some(out) = engine.poll_output() {
//!     match out {
//!         Output::Transmit { peer, frame } => sent.push((peer, frame)),
//!         Output::StoreRead { id, query } => {
//!             let result = store.read(&query);
//!             engine.handle_input(now, Input::StoreRead { id, result })?;
//!         }
//!         Output::StoreWrite { id, batch, .. } => {
//!             // A part the store cannot take fails alone. (A driver that
//!             // flushes on another thread can send the write's ready
//!             // `acks` from there once it is durable: `acks_sent: true`.)
//!             let result = gun_proto::store::commit(&mut store, &batch);
//!             let acks_sent = false;
//!             engine.handle_input(now, Input::StoreWritten { id, result, acks_sent })?;
//!         }
//!         Output::Verify { id, check, .. } => {
//!             // A driver may batch these (auth::verify_batch, CSPRNG weights)
//!             // and move them off its thread.
//!             let result = check.verify();
//!             engine.handle_input(now, Input::Verified { id, result })?;
//!         }
//!         Output::Event(event) => { /* deliver to the application */ }
//!     }
//! }
//! // The greeting, then the ack once the store had the put.
//! assert!(sent.iter().any(|(_, f)| f.contains(r#""@":"m1""#) && f.contains(r#""ok":true"#)));
//! // And when engine.poll_timeout() passes: engine.handle_timeout(now), then drain again.
//! # Ok::<(), gun_proto::Error>(())
//! ```
//!
//! The modules are the domain's concepts: [`value`], [`state`] (the clock),
//! [`ham`] (conflict resolution), [`graph`], [`convert`] (JSON ↔ graph),
//! [`wire`] (frames), [`lex`], [`store`], [`auth`] (the signed mesh); the
//! feature `harness` adds [`harness`], an in-process driver for tests.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod convert;
mod dup;
mod engine;
pub mod graph;
pub mod ham;
#[cfg(feature = "harness")]
pub mod harness;
mod ids;
mod jstext;
pub mod lex;
#[cfg(feature = "sea")]
pub mod sea;
mod sip;
mod soul_index;
pub mod state;
pub mod store;
mod text_map;
pub mod value;
pub mod wire;

pub use engine::{
    Call, Check, Config, Engine, Error, Event, Input, Now, Output, Path, Predicate, PutFailure,
    Refusal, Role, SeaProof, Stats,
};
pub use graph::{Graph, Node, Prop, PropRef, Resident};
pub use ids::{PeerId, ReadId, ReqId, SubId, VerifyId, WriteId};
pub use store::{MemoryStore, Store, StoreError, StoreQuery, WriteFailure};
pub use value::{Value, ValueRef};
