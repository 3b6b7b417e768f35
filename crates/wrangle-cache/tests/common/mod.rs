//! Helpers shared by the behaviour tests.
#![allow(dead_code)]

use std::time::Duration;

use wrangle_cache::CacheStats;
use wrangle_rt::Runtime;

/// Waits (yielding through the runtime's timer) until `done` holds; on real runtimes this
/// is the "eventually" of the test rules, bounded so a bug fails instead of hanging.
pub(crate) async fn eventually<R: Runtime>(rt: &R, mut done: impl FnMut() -> bool) {
    for _ in 0..20_000 {
        if done() {
            return;
        }
        rt.sleep(Duration::from_micros(100)).await;
    }
    panic!("condition never held");
}

/// The documented invariant of `CacheStats`, checked when no load runs.
pub(crate) fn assert_quiescent(s: &CacheStats) {
    assert_eq!(s.running, 0, "{s:?}");
    assert_eq!(s.started, s.completed + s.failed + s.cancelled, "{s:?}");
    assert!(s.panicked <= s.failed, "{s:?}");
    assert!(s.refreshes <= s.started, "{s:?}");
}
