//! Listing the souls the store holds, on a thread of its own, so that the
//! engine can merge a put to a new soul without reading the store first.
//!
//! The store's lister reads a snapshot while the driver goes on writing, so
//! the souls of every batch written from the listing's start are noted here
//! and added before the index goes to the engine ([`Input::StoreSouls`]);
//! from then on the engine adds the souls it writes itself.
//!
//! [`Input::StoreSouls`]: gun_proto::Input::StoreSouls

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_channel::Sender;
use gun_proto::store::{SoulIndex, SoulLister};
use gun_proto::{Graph, StoreError};

use super::command::Inbox;

/// A listing under way.
pub(crate) struct Listing {
    /// Souls written since the listing began.
    written: Vec<String>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listing {
    /// Starts `lister` on its own thread; its answer comes back as
    /// [`Inbox::Souls`].
    pub(crate) fn start(lister: SoulLister, inbox: Sender<Inbox>) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("gun-souls".into())
            .spawn(move || {
                let began = Instant::now();
                let listed = lister(&flag);
                match &listed {
                    Ok(index) => tracing::info!(
                        souls = index.inserted(),
                        seconds = began.elapsed().as_secs_f64(),
                        "listed the souls the store holds: puts to new souls need no read"
                    ),
                    Err(e) if flag.load(Ordering::Relaxed) => {
                        tracing::debug!(error = %e, "soul listing stopped");
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot list the store's souls: every new soul is read first"),
                }
                let _ = inbox.send(Inbox::Souls(listed));
            })?;
        Ok(Self {
            written: Vec::new(),
            stop,
            thread: Some(thread),
        })
    }

    /// Notes the souls of a batch written while the listing runs.
    pub(crate) fn wrote(&mut self, batch: &[Graph]) {
        self.written
            .extend(batch.iter().flat_map(Graph::souls).map(str::to_owned));
    }

    /// The listing's answer, with the souls written meanwhile added.
    pub(crate) fn finish(mut self, listed: Result<SoulIndex, StoreError>) -> Option<SoulIndex> {
        let mut index = listed.ok()?;
        for soul in &self.written {
            index.insert(soul);
        }
        self.join();
        Some(index)
    }

    fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Listing {
    /// Stops the lister (it lets the store go) and waits for it.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.join();
    }
}
