//! `Completion<T>`: the answer to a call (a `GunResult<T>`), waited for by blocking code or
//! awaited by async code, whatever the runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::{GunError, GunResult};

#[derive(Debug)]
struct Slot<T> {
    value: Option<GunResult<T>>,
    waker: Option<Waker>,
    dropped: bool,
}

#[derive(Debug)]
struct Shared<T> {
    slot: Mutex<Slot<T>>,
    ready: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The receiving side: [`Completion::wait`] blocks, `.await` suspends.
#[derive(Debug)]
#[must_use = "a completion does nothing unless waited for or awaited"]
pub struct Completion<T> {
    shared: Arc<Shared<T>>,
}

/// The sending side, held by the driver.
#[derive(Debug)]
pub(crate) struct Completer<T> {
    shared: Arc<Shared<T>>,
}

/// A new pair.
pub(crate) fn completion<T>() -> (Completer<T>, Completion<T>) {
    let shared = Arc::new(Shared {
        slot: Mutex::new(Slot {
            value: None,
            waker: None,
            dropped: false,
        }),
        ready: Condvar::new(),
    });
    (
        Completer {
            shared: shared.clone(),
        },
        Completion { shared },
    )
}

impl<T> Completer<T> {
    /// Delivers the answer.
    pub(crate) fn complete(self, value: GunResult<T>) {
        let mut slot = self.shared.lock();
        slot.value = Some(value);
        if let Some(w) = slot.waker.take() {
            w.wake();
        }
        drop(slot);
        self.shared.ready.notify_all();
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        let mut slot = self.shared.lock();
        if slot.value.is_none() {
            slot.dropped = true;
            if let Some(w) = slot.waker.take() {
                w.wake();
            }
            drop(slot);
            self.shared.ready.notify_all();
        }
    }
}

fn gone() -> GunError {
    GunError::Network("the Gun instance was shut down".into())
}

impl<T> Completion<T> {
    /// A completion that is already answered.
    pub fn ready(value: GunResult<T>) -> Self {
        let (tx, rx) = completion();
        tx.complete(value);
        rx
    }

    /// Blocks until the answer comes, or the instance shuts down.
    pub fn wait(self) -> GunResult<T> {
        self.wait_ref()
    }

    pub(crate) fn wait_ref(&self) -> GunResult<T> {
        let mut slot = self.shared.lock();
        loop {
            if let Some(v) = slot.value.take() {
                return v;
            }
            if slot.dropped {
                return Err(gone());
            }
            slot = self
                .shared
                .ready
                .wait(slot)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Blocks for at most `timeout`; `None` if no answer came in time.
    pub fn wait_timeout(self, timeout: Duration) -> Option<GunResult<T>> {
        let deadline = Instant::now() + timeout;
        let mut slot = self.shared.lock();
        loop {
            if let Some(v) = slot.value.take() {
                return Some(v);
            }
            if slot.dropped {
                return Some(Err(gone()));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            slot = self
                .shared
                .ready
                .wait_timeout(slot, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl<T> Future for Completion<T> {
    type Output = GunResult<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.shared.lock();
        if let Some(v) = slot.value.take() {
            return Poll::Ready(v);
        }
        if slot.dropped {
            return Poll::Ready(Err(gone()));
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A [`Completion`] whose answer is turned into another before it is
/// returned: a put's answer into its chain, a set's item soul into the
/// item's chain. Await it, or [`Then::wait`] for it.
#[must_use = "the call is made; its answer is lost unless waited for or awaited"]
pub struct Then<T, U> {
    done: Completion<T>,
    then: Option<Box<dyn FnOnce(T) -> GunResult<U> + Send>>,
}

impl<T, U> std::fmt::Debug for Then<T, U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Then").finish_non_exhaustive()
    }
}

impl<T, U> Then<T, U> {
    /// `done`'s answer, passed through `then`.
    pub fn new(done: Completion<T>, then: impl FnOnce(T) -> GunResult<U> + Send + 'static) -> Self {
        Self {
            done,
            then: Some(Box::new(then)),
        }
    }

    /// Blocks until the answer comes, or the instance shuts down.
    pub fn wait(mut self) -> GunResult<U> {
        let v = self.done.wait_ref()?;
        self.finish(v)
    }

    fn finish(&mut self, v: T) -> GunResult<U> {
        match self.then.take() {
            Some(f) => f(v),
            None => Err(GunError::InvalidData("answer already taken".into())),
        }
    }
}

impl<T, U> Future for Then<T, U> {
    type Output = GunResult<U>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.done).poll(cx) {
            Poll::Ready(Ok(v)) => Poll::Ready(this.finish(v)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_gets_the_value_from_another_thread() {
        let (tx, rx) = completion();
        let t = std::thread::spawn(move || tx.complete(Ok(5)));
        assert_eq!(rx.wait(), Ok(5));
        t.join().expect("join");
    }

    #[test]
    fn then_maps_the_answer_both_ways() {
        let (tx, rx) = completion();
        tx.complete(Ok(2));
        assert_eq!(Then::new(rx, |n: i32| Ok(n * 10)).wait(), Ok(20));
        let (tx, rx) = completion::<i32>();
        tx.complete(Err(GunError::NodeNotFound));
        let mapped = Then::new(rx, |n| Ok(n + 1));
        assert_eq!(
            futures_util::FutureExt::now_or_never(mapped),
            Some(Err(GunError::NodeNotFound))
        );
    }

    #[test]
    fn a_dropped_completer_is_an_error_not_a_hang() {
        let (tx, rx) = completion::<u8>();
        drop(tx);
        assert!(rx.wait().is_err());
        let (_tx, rx) = completion::<u8>();
        assert_eq!(rx.wait_timeout(Duration::from_millis(10)), None);
    }
}
