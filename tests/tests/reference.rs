//! The original port's documented API, as its users wrote against it: the
//! examples of gun 1.0.4's README and its `examples/two_clients.rs`
//! (tests/reference/), compiled and run on every driver with only the `use`
//! lines (and addresses) changed.
//!
//! Relays the examples dial are gun-io-blocking relays on 127.0.0.1, started
//! per test; the examples themselves run on the driver under test.

#![allow(unreachable_pub)]
// Lints the examples trip, as their users wrote them (this one is not
// silenced by an allow on the including module).
#![allow(clippy::needless_borrows_for_generic_args)]

use std::any::Any;

use gun_io_blocking as relay_driver;

/// What an example needs from its surroundings: relays to dial, a free
/// port, a folder.
pub struct Env {
    pub relay: String,
    pub relay2: String,
    pub port: u16,
    dir: tempfile::TempDir,
    _relays: Vec<Box<dyn Any>>,
}

impl Env {
    fn start() -> Self {
        let mut relays: Vec<Box<dyn Any>> = Vec::new();
        let mut urls = Vec::new();
        for _ in 0..2 {
            let r = relay_driver::Gun::without_keys(relay_driver::GunOptions::relay_server(0))
                .expect("relay");
            urls.push(format!("ws://{}/gun", r.local_addr().expect("bound")));
            relays.push(Box::new(r));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Self {
            relay: urls[0].clone(),
            relay2: urls[1].clone(),
            port,
            dir: tempfile::tempdir().expect("tempdir"),
            _relays: relays,
        }
    }

    /// A path in the test's folder, as the options take it.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// One `#[test]` per example, run by `$run`.
macro_rules! examples {
    ($run:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let env = crate::Env::start();
                $run(|| examples::$name(&env));
            }
        )*
    };
}

macro_rules! all_examples {
    ($run:path) => {
        examples!($run;
            creating_an_instance,
            basic,
            basic_thousand_puts,
            objects,
            relationships,
            set_and_map,
            off,
            back,
            connecting_to_relays,
            relay_server,
            webrtc_configuration,
            storage_configuration,
            connection_management,
            error_handling,
            realtime_sync,
            two_clients,
        );
    };
}

type Outcome = Result<(), Box<dyn std::error::Error>>;

/// A driver's module: the examples, included where `gun` is the driver
/// crate and `rt` its runtime's `sleep` and `Duration`, and a test for each,
/// run by `run`.
macro_rules! driver {
    ($module:ident: $driver:ident, run $run:ident, rt { $($rt:item)* }, examples $($file:tt)+) => {
        mod $module {
            // Written as the original's users wrote it, lints and all.
            #[allow(unused_imports, unused_variables, unused_mut)]
            #[allow(clippy::all, clippy::unwrap_used)]
            mod examples {
                use crate::Env;
                use $driver as gun;
                mod rt {
                    $($rt)*
                }
                include!($($file)+);
            }

            all_examples!(super::run::$run);
        }
    };
}

/// How each runtime runs an example.
mod run {
    pub(crate) fn tokio<F: Future<Output = crate::Outcome>>(example: impl FnOnce() -> F) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(example()).expect("the example runs");
    }

    pub(crate) fn async_std<F: Future<Output = crate::Outcome>>(example: impl FnOnce() -> F) {
        async_std::task::block_on(example()).expect("the example runs");
    }

    pub(crate) fn blocking(example: impl FnOnce() -> crate::Outcome) {
        example().expect("the example runs");
    }
}

driver!(tokio_driver: gun_io_tokio, run tokio,
    rt { pub(super) use tokio::time::{Duration, sleep}; },
    examples "../reference/async_examples.rs");
driver!(async_std_driver: gun_io_async_std, run async_std,
    rt { pub(super) use async_std::task::sleep; pub(super) use std::time::Duration; },
    examples "../reference/async_examples.rs");
driver!(blocking_driver: gun_io_blocking, run blocking,
    rt { pub(super) use std::thread::sleep; pub(super) use std::time::Duration; },
    examples concat!(env!("OUT_DIR"), "/blocking_examples.rs"));
