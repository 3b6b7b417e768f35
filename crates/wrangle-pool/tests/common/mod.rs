//! Helpers shared by the pool's tests.

#![allow(dead_code, reason = "each test file uses a part of the helpers")]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wrangle_pool::TaskPoolStats;

/// Counts its drop.
pub(crate) struct DropCount(pub(crate) Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A task that never ends and counts its drop.
pub(crate) fn stuck_task(dropped: &Arc<AtomicUsize>) -> impl Future<Output = ()> + Send + 'static {
    let flag = DropCount(dropped.clone());
    async move {
        let _f = flag;
        std::future::pending::<()>().await
    }
}

/// The invariant of `TaskPoolStats`, for a pool with no task between the queue and its
/// first poll.
pub(crate) fn assert_accounted(s: &TaskPoolStats) {
    assert_eq!(
        s.submitted,
        s.queued as u64 + s.running as u64 + s.completed + s.failed + s.timed_out + s.cancelled,
        "every submitted task is counted exactly once: {s:?}"
    );
    assert_eq!(
        s.finished() + s.queued as u64 + s.running as u64,
        s.submitted,
        "{s:?}"
    );
}
