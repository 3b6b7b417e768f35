//! Helpers shared by the behaviour tests.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wrangle_rt::{DefaultRuntime, Runtime};

pub mod harness;
pub mod model;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The runs a test function saw: (start, in ms since `origin`, argument).
#[derive(Clone, Debug)]
pub struct Runs {
    origin: Instant,
    seen: Arc<Mutex<Vec<(u64, u32)>>>,
}

impl Runs {
    pub fn new(rt: &impl Runtime) -> Self {
        Runs {
            origin: rt.now(),
            seen: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn record(&self, rt: &impl Runtime, arg: u32) {
        let at = (rt.now() - self.origin).as_millis() as u64;
        self.seen.lock().unwrap().push((at, arg));
    }

    pub fn all(&self) -> Vec<(u64, u32)> {
        self.seen.lock().unwrap().clone()
    }

    pub fn args(&self) -> Vec<u32> {
        self.all().into_iter().map(|(_, a)| a).collect()
    }

    pub fn origin(&self) -> Instant {
        self.origin
    }
}

/// An identity function that records its runs and takes `takes` to answer.
pub fn identity(
    rt: DefaultRuntime,
    runs: Runs,
    takes: Duration,
) -> impl Fn(u32) -> std::pin::Pin<Box<dyn Future<Output = Result<u32, Infallible>> + Send>>
+ Send
+ Sync
+ 'static {
    move |x| {
        runs.record(&rt, x);
        let rt = rt.clone();
        Box::pin(async move {
            if !takes.is_zero() {
                rt.sleep(takes).await;
            }
            Ok(x)
        })
    }
}

/// Sleeps until `at` ms after `origin`.
pub async fn at(rt: &DefaultRuntime, origin: Instant, at_ms: u64) {
    rt.sleep_until(origin + ms(at_ms)).await;
}

/// A value that counts how often it was dropped.
#[derive(Debug)]
pub struct Counted(pub Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Waits until `done()` holds, checking every millisecond: "eventually" on a loaded real
/// runtime (no timing margin), at once on virtual time. Panics after a minute, so a lost run
/// fails the test instead of hanging it.
#[allow(dead_code)] // Not every test file uses it.
pub async fn eventually(rt: &DefaultRuntime, mut done: impl FnMut() -> bool) {
    for _ in 0..60_000 {
        if done() {
            return;
        }
        rt.sleep(ms(1)).await;
    }
    panic!("the condition did not hold within a minute");
}

/// Lets the runtime run other tasks for a while (real runtimes) or a virtual millisecond. On a
/// real runtime nothing is promised to have run by then: a test only loops on it, or asserts
/// what must hold whether or not another task ran.
pub async fn settle(rt: &DefaultRuntime) {
    for _ in 0..20 {
        wrangle_rt::yield_now().await;
    }
    rt.sleep(ms(1)).await;
}
