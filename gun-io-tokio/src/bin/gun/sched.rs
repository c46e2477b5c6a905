//! How the relay's socket threads are scheduled beside the engine's.
//!
//! Every put goes through two threads that serve every peer in turn: the
//! engine's (the driver) and the commit thread. A socket thread woken by the
//! driver (forwards to write) or by the commit thread (acks to write) would,
//! as an ordinary thread, often preempt its waker on the same core, and the
//! rest of that turn (the batch handed to the commit thread, the next
//! flush) would wait behind a socket write. As `SCHED_BATCH` threads they
//! never preempt on waking: they run on a free core, or when the running
//! thread blocks or its time slice ends. Measured in BENCHMARKS.md
//! ("Socket threads as SCHED_BATCH").
//!
//! A thread started from a socket thread would inherit the policy: the
//! engine's, the commit and the store's threads are started from the main
//! thread, before any socket is served (the `gun_binary` test checks the
//! driver and the commit thread stay ordinary).

use clap::ValueEnum;

/// How the socket threads are scheduled (`--socket-sched`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SocketSched {
    /// `SCHED_BATCH` (Linux): a socket thread that wakes does not preempt
    /// the engine's or the commit thread.
    Batch,
    /// As the process's other threads.
    Normal,
}

/// Called on each of the runtime's threads as it starts.
pub(crate) fn on_socket_thread(sched: SocketSched) {
    if sched == SocketSched::Batch {
        batch();
    }
}

/// Makes the calling thread `SCHED_BATCH`, keeping its nice value. A
/// refusal (a sandbox forbidding the call) is logged and changes nothing
/// else: the thread stays as it was.
#[cfg(target_os = "linux")]
fn batch() {
    let param = uapi::c::sched_param { sched_priority: 0 };
    if let Err(e) = uapi::sched_setscheduler(0, uapi::c::SCHED_BATCH, &param) {
        // Said once, not once per thread.
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            tracing::warn!(
                error = %e,
                "cannot schedule the socket threads as SCHED_BATCH; they stay ordinary threads"
            );
        });
    }
}

/// `SCHED_BATCH` is Linux's: elsewhere the threads stay as they are.
#[cfg(not(target_os = "linux"))]
fn batch() {}
