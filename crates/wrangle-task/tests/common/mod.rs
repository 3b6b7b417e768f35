//! Helpers shared by the behaviour tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wrangle_rt::{DefaultRuntime, Runtime};

/// Counts how many guards were dropped.
#[derive(Clone, Default, Debug)]
pub struct Drops(Arc<AtomicUsize>);

impl Drops {
    pub fn guard(&self) -> DropGuard {
        DropGuard(self.0.clone())
    }
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug)]
pub struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A counter of live futures with its high-water mark.
#[derive(Clone, Default, Debug)]
pub struct Gauge(Arc<(AtomicUsize, AtomicUsize)>);

impl Gauge {
    pub fn enter(&self) -> GaugeGuard {
        let now = self.0.0.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.1.fetch_max(now, Ordering::SeqCst);
        GaugeGuard(self.clone())
    }
    pub fn max(&self) -> usize {
        self.0.1.load(Ordering::SeqCst)
    }
    pub fn now(&self) -> usize {
        self.0.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug)]
pub struct GaugeGuard(Gauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.0.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits until `cond` holds; on real runtimes cancellation lands on another thread a moment
/// later. Fails after 60 s: a hang guard, never a timing margin (a loaded machine may stall a
/// thread for seconds).
pub async fn eventually(rt: &DefaultRuntime, cond: impl Fn() -> bool) {
    let r = rt
        .timeout(Duration::from_secs(60), async {
            while !cond() {
                rt.sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
    assert!(r.is_ok(), "condition not reached");
}

/// A shared, ordered log.
#[derive(Clone, Default, Debug)]
pub struct Log(Arc<std::sync::Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    pub fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
