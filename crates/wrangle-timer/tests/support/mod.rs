//! Helpers shared by the behaviour tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wrangle_rt::{ErrorReporter, Unhandled};

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
