//! Helpers shared by the behaviour tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wrangle_rt::{DefaultRuntime, ErrorReporter, Runtime, Unhandled};

pub const MS: Duration = Duration::from_millis(1);

/// Counts how many times the values it hands out are dropped.
#[derive(Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

pub struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl DropCounter {
    pub fn guard(&self) -> Guard {
        Guard(self.0.clone())
    }

    pub fn dropped(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// An error reporter that keeps what it receives.
#[derive(Clone, Default)]
pub struct Collected(Arc<Mutex<Vec<String>>>);

impl Collected {
    pub fn reporter(&self) -> ErrorReporter {
        let sink = self.0.clone();
        ErrorReporter::new(move |u: Unhandled| sink.lock().unwrap().push(u.to_string()))
    }

    pub fn messages(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Waits until `done` holds, looking every millisecond. On a real runtime this is how a test
/// says "eventually": a loaded machine may take long, so the bound (a minute of sleeps) only
/// turns a hang into a failure; it is never a timing margin.
pub async fn eventually(rt: &DefaultRuntime, what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..60_000 {
        if done() {
            return;
        }
        rt.sleep(MS).await;
    }
    panic!("never happened: {what}");
}
