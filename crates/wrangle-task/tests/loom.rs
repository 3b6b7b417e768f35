//! Loom models of the slot set behind the concurrent runners: a wake from another thread, racing
//! with the runner's drain, is never lost.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p wrangle-task --test loom --release`
#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_lite::Stream;
use loom::sync::Mutex;
use loom::sync::atomic::{AtomicBool, Ordering};
use wrangle_task::ConcurrentInline;

/// A future completed from another thread.
struct Remote {
    ready: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Future for Remote {
    type Output = Result<u8, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.ready.load(Ordering::Acquire) {
            return Poll::Ready(Ok(1));
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.ready.load(Ordering::Acquire) {
            return Poll::Ready(Ok(1));
        }
        Poll::Pending
    }
}

fn remote() -> (Remote, impl FnOnce() + Send + 'static) {
    let ready = Arc::new(AtomicBool::new(false));
    let waker: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
    let (r, w) = (ready.clone(), waker.clone());
    let complete = move || {
        r.store(true, Ordering::Release);
        let taken = w.lock().unwrap().take();
        if let Some(w) = taken {
            w.wake();
        }
    };
    (Remote { ready, waker }, complete)
}

/// Drives the runner until it has yielded `n` items; loom reports a deadlock if a wake-up is
/// lost (the executor would sleep for ever).
fn drive<S: Stream + Unpin>(mut s: S, n: usize) {
    loom::future::block_on(async move {
        for _ in 0..n {
            assert!(futures_lite::StreamExt::next(&mut s).await.is_some());
        }
    });
}

#[test]
fn a_wake_from_another_thread_is_never_lost() {
    loom::model(|| {
        let (fut, complete) = remote();
        let runner = ConcurrentInline::new([fut]);
        let t = loom::thread::spawn(complete);
        drive(runner, 1);
        t.join().unwrap();
    });
}

#[test]
fn two_concurrent_wakes_both_deliver() {
    loom::model(|| {
        let (a, complete_a) = remote();
        let (b, complete_b) = remote();
        let runner = ConcurrentInline::new([a, b]);
        let ta = loom::thread::spawn(complete_a);
        let tb = loom::thread::spawn(complete_b);
        drive(runner, 2);
        ta.join().unwrap();
        tb.join().unwrap();
    });
}
