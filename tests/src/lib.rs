//! Cross-crate test support: [`Net`] starts Gun instances on one driver, and
//! [`scenarios`](mod@scenarios) holds test bodies written once against the runtime-neutral
//! API (`gun_core`), run on every driver by `tests/tests/*.rs`.
#![forbid(unsafe_code)]
#![allow(missing_docs, clippy::missing_panics_doc)]

pub mod interop;
pub mod scenarios;
pub mod sim;

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

use gun_core::GunOptions;
use gun_core::store::BoxStore;

/// A running instance: the runtime-neutral handle, the relay's address, and
/// whatever keeps the driver's own handle alive.
pub struct Node {
    pub gun: gun_core::Gun,
    pub addr: Option<SocketAddr>,
    _keep: Box<dyn Any>,
}

impl Node {
    /// The `ws://…/gun` URL of a relay node.
    pub fn url(&self) -> String {
        format!("ws://{}/gun", self.addr.expect("a relay node"))
    }
}

/// One driver's way to start instances.
pub trait Net {
    /// Starts an instance, with its own store when given.
    fn start_with(&self, opts: GunOptions, store: Option<BoxStore>) -> Node;

    /// Starts an instance on the options' store.
    fn start(&self, opts: GunOptions) -> Node {
        self.start_with(opts, None)
    }
}

/// gun-io-blocking.
pub struct Blocking;

impl Net for Blocking {
    fn start_with(&self, opts: GunOptions, store: Option<BoxStore>) -> Node {
        let g = match store {
            Some(s) => gun_io_blocking::Gun::with_store(opts, s),
            None => gun_io_blocking::Gun::without_keys(opts),
        }
        .expect("start");
        Node {
            gun: g.core().clone(),
            addr: g.local_addr(),
            _keep: Box::new(g),
        }
    }
}

/// gun-io-tokio, on a multi-threaded runtime shared by the test's instances.
pub struct Tokio(pub Arc<tokio::runtime::Runtime>);

impl Tokio {
    pub fn new() -> Self {
        Self(Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime"),
        ))
    }
}

impl Default for Tokio {
    fn default() -> Self {
        Self::new()
    }
}

impl Net for Tokio {
    fn start_with(&self, opts: GunOptions, store: Option<BoxStore>) -> Node {
        let g = self
            .0
            .block_on(async {
                match store {
                    Some(s) => gun_io_tokio::Gun::with_store(opts, s).await,
                    None => gun_io_tokio::Gun::without_keys(opts).await,
                }
            })
            .expect("start");
        // Keep the runtime alive as long as the node.
        Node {
            gun: g.core().clone(),
            addr: g.local_addr(),
            _keep: Box::new((g, self.0.clone())),
        }
    }
}

/// gun-io-async-std, with the instance started under smol.
pub struct Smol;

impl Net for Smol {
    fn start_with(&self, opts: GunOptions, store: Option<BoxStore>) -> Node {
        let g = smol::block_on(async {
            match store {
                Some(s) => gun_io_async_std::Gun::with_store(opts, s).await,
                None => gun_io_async_std::Gun::without_keys(opts).await,
            }
        })
        .expect("start");
        Node {
            gun: g.core().clone(),
            addr: g.local_addr(),
            _keep: Box::new(g),
        }
    }
}

/// gun-io-async-std, with the instance started under async-std.
pub struct AsyncStd;

impl Net for AsyncStd {
    fn start_with(&self, opts: GunOptions, store: Option<BoxStore>) -> Node {
        let g = async_std::task::block_on(async {
            match store {
                Some(s) => gun_io_async_std::Gun::with_store(opts, s).await,
                None => gun_io_async_std::Gun::without_keys(opts).await,
            }
        })
        .expect("start");
        Node {
            gun: g.core().clone(),
            addr: g.local_addr(),
            _keep: Box::new(g),
        }
    }
}

/// A self-signed certificate for `names` (host names or IP addresses) and
/// its key, written as PEM files `cert.pem` and `key.pem` in `dir`.
pub fn self_signed(dir: &std::path::Path, names: &[&str]) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let made = rcgen::generate_simple_self_signed(names).expect("a certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).expect("write cert");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("write key");
    (cert.display().to_string(), key.display().to_string())
}

/// The README's Rust examples, compiled by `cargo test` (this crate depends
/// on every driver they use).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;
