//! A connection's frames on their way out: the driver queues them, the
//! connection's writer takes them.
//!
//! Queueing a frame does not wake the writer. The driver queues a whole
//! turn's frames first and then wakes every writer that has something new
//! in one go ([`Wakes`]): on a runtime with a waker task ([`Waker`]) that is
//! one cross-thread wake-up per turn, and the task wakes the writers from
//! inside the runtime. Woken one by one from the driver's thread instead,
//! each writer's wake-up preempts the driver (on two cores, ten subscribers
//! made a put's fan-out ten pairs of context switches, most of its
//! latency).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use concurrent_queue::{ConcurrentQueue, PopError};
use event_listener::{Event, Listener as _};

use super::conn::Out;

/// One connection's queue of frames to send.
#[derive(Debug)]
pub(crate) struct Outbox {
    queue: ConcurrentQueue<Out>,
    /// Wakes the writer: something was queued, or the queue closed.
    ready: Event,
    /// Queued to since its writer was last woken.
    due: AtomicBool,
}

impl Outbox {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            queue: ConcurrentQueue::unbounded(),
            ready: Event::new(),
            due: AtomicBool::new(false),
        })
    }

    /// Queues `out` without waking the writer; `wakes` collects it. Gives
    /// it back if the queue is closed.
    pub(crate) fn push(self: &Arc<Self>, out: Out, wakes: &mut Wakes) -> Result<(), Out> {
        self.queue
            .push(out)
            .map_err(concurrent_queue::PushError::into_inner)?;
        if !self.due.swap(true, Ordering::AcqRel) {
            wakes.0.push(self.clone());
        }
        Ok(())
    }

    /// Queues `out` and wakes the writer now (a close, not a turn's frame).
    pub(crate) fn push_now(&self, out: Out) -> Result<(), Out> {
        self.queue
            .push(out)
            .map_err(concurrent_queue::PushError::into_inner)?;
        self.wake();
        Ok(())
    }

    fn wake(&self) {
        self.due.store(false, Ordering::Release);
        self.ready.notify(usize::MAX);
    }

    /// The next thing queued, if any (`Err(true)`: closed and empty).
    pub(crate) fn try_take(&self) -> Result<Out, bool> {
        self.queue.pop().map_err(|e| matches!(e, PopError::Closed))
    }

    /// The next thing queued, waiting for it (`None`: closed).
    pub(crate) async fn take(&self) -> Option<Out> {
        loop {
            match self.try_take() {
                Ok(out) => return Some(out),
                Err(true) => return None,
                Err(false) => {}
            }
            let listener = self.ready.listen();
            match self.try_take() {
                Ok(out) => return Some(out),
                Err(true) => return None,
                Err(false) => listener.await,
            }
        }
    }

    /// [`Outbox::take`] on this thread.
    pub(crate) fn take_blocking(&self) -> Option<Out> {
        loop {
            match self.try_take() {
                Ok(out) => return Some(out),
                Err(true) => return None,
                Err(false) => {}
            }
            let listener = self.ready.listen();
            match self.try_take() {
                Ok(out) => return Some(out),
                Err(true) => return None,
                Err(false) => listener.wait(),
            }
        }
    }

    /// Refuses anything more; the writer takes what is left, then `None`.
    pub(crate) fn close(&self) {
        self.queue.close();
        self.ready.notify(usize::MAX);
    }
}

/// Writers with frames queued this turn, to wake together.
#[derive(Debug, Default)]
pub(crate) struct Wakes(Vec<Arc<Outbox>>);

impl Wakes {
    /// Wakes them: through the runtime's waker task when there is one,
    /// else from this thread.
    pub(crate) fn wake(&mut self, waker: Option<&Waker>) {
        if self.0.is_empty() {
            return;
        }
        let due = std::mem::take(&mut self.0);
        let due = match waker {
            Some(w) => match w.tx.try_send(due) {
                Ok(()) => return,
                Err(e) => e.into_inner(),
            },
            None => due,
        };
        for outbox in due {
            outbox.wake();
        }
    }
}

/// The task [`Waker::new`] gives, to run on the runtime.
pub(crate) type WakerTask = std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The sending end of a task on an async runtime that wakes writers.
#[derive(Debug)]
pub(crate) struct Waker {
    tx: async_channel::Sender<Vec<Arc<Outbox>>>,
}

impl Waker {
    /// The waker and the task to run on the runtime (it ends when the
    /// waker is dropped).
    pub(crate) fn new() -> (Self, WakerTask) {
        let (tx, rx) = async_channel::unbounded::<Vec<Arc<Outbox>>>();
        let task = async move {
            while let Ok(due) = rx.recv().await {
                for outbox in due {
                    outbox.wake();
                }
            }
        };
        (Self { tx }, Box::pin(task))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_is_woken_once_per_turn_and_takes_what_is_left_after_close() {
        let outbox = Outbox::new();
        let mut wakes = Wakes::default();
        for i in 0..3 {
            outbox
                .push(Out::Frame(i.to_string()), &mut wakes)
                .expect("open");
        }
        assert_eq!(wakes.0.len(), 1, "collected once for the turn");
        let waiting = outbox.ready.listen();
        wakes.wake(None);
        assert!(wakes.0.is_empty());
        assert!(
            waiting
                .wait_timeout(std::time::Duration::from_secs(5))
                .is_some(),
            "woken"
        );
        assert!(matches!(outbox.take_blocking(), Some(Out::Frame(f)) if f == "0"));
        outbox.push(Out::Ping, &mut wakes).expect("open");
        outbox.push(Out::Ping, &mut wakes).expect("open");
        assert_eq!(wakes.0.len(), 1, "woken since: collected again, once");
        outbox.close();
        assert!(outbox.push_now(Out::Close).is_err(), "closed");
        let rest: Vec<_> = std::iter::from_fn(|| outbox.take_blocking()).collect();
        assert_eq!(rest.len(), 4, "what was queued is still taken");
        assert!(matches!(outbox.try_take(), Err(true)));
    }

    #[test]
    fn the_waker_task_wakes_what_the_driver_hands_it() {
        let (waker, task) = Waker::new();
        let outbox = Outbox::new();
        let writer = {
            let outbox = outbox.clone();
            std::thread::spawn(move || outbox.take_blocking())
        };
        let runner = std::thread::spawn(move || block_on(task));
        let mut wakes = Wakes::default();
        outbox
            .push(Out::Frame("x".into()), &mut wakes)
            .expect("open");
        wakes.wake(Some(&waker));
        assert!(matches!(writer.join().expect("writer"), Some(Out::Frame(f)) if f == "x"));
        drop(waker);
        runner.join().expect("the task ends with its waker");
    }

    /// Runs a future on this thread.
    fn block_on(f: impl Future<Output = ()>) {
        let mut f = std::pin::pin!(f);
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        while f.as_mut().poll(&mut cx).is_pending() {
            std::thread::park();
        }
    }

    struct Unpark(std::thread::Thread);

    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
}
