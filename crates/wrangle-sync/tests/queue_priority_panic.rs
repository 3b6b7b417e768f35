//! A priority `DualQueue` whose items' `Ord` panics: the queue stays consistent (the item
//! being taken stays, the counters stay true, the order holds) and the panic reaches only the
//! caller, on every runtime.

use std::cmp::Ordering;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

use wrangle_rt::testing::each_runtime;
use wrangle_rt::{JoinError, Runtime};
use wrangle_sync::DualQueue;

/// While set, comparing anything with the poisoned value panics.
static ARMED: AtomicBool = AtomicBool::new(false);
const POISON: u32 = 13;

#[derive(Debug, PartialEq, Eq)]
struct Job(u32);

impl Ord for Job {
    fn cmp(&self, other: &Self) -> Ordering {
        if ARMED.load(AtomicOrdering::SeqCst) && (self.0 == POISON || other.0 == POISON) {
            panic!("comparator panicked");
        }
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for Job {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn drain(q: &DualQueue<Job>) -> Vec<u32> {
    std::iter::from_fn(|| q.try_get().ok())
        .map(|j| j.0)
        .collect()
}

#[test]
fn a_panicking_ord_leaves_the_queue_consistent_and_reaches_only_the_caller() {
    each_runtime(|rt| async move {
        // A get whose sift compares the poisoned item: put last, it is the one moved to the
        // top when the smallest is taken.
        ARMED.store(false, AtomicOrdering::SeqCst);
        let q = Arc::new(DualQueue::builder().priority().build());
        for p in [5, 1, 8, 3, 9, 2, POISON] {
            q.try_put(Job(p)).unwrap();
        }
        ARMED.store(true, AtomicOrdering::SeqCst);
        let taken = catch_unwind(AssertUnwindSafe(|| q.try_get()));
        assert!(taken.is_err(), "the comparator's panic reaches the caller");
        let stats = q.stats();
        assert_eq!(
            (stats.queued, stats.submitted, stats.taken, stats.unfinished),
            (7, 7, 0, 7)
        );

        // The same through an async getter: its task panics, the queue does not.
        let getter = rt.spawn({
            let q = Arc::clone(&q);
            async move { q.get().await.map(|j| j.0) }
        });
        match getter.await {
            Err(JoinError::Panicked(p)) => assert_eq!(p.message(), Some("comparator panicked")),
            other => panic!("expected the getter's panic, got {other:?}"),
        }
        assert_eq!(q.len(), 7);

        // A put whose sift-up compares the poisoned item: refused by the panic, nothing
        // counted, nothing half-inserted.
        ARMED.store(false, AtomicOrdering::SeqCst);
        let q2 = DualQueue::builder().priority().build();
        for p in [4, 6, 7] {
            q2.try_put(Job(p)).unwrap();
        }
        ARMED.store(true, AtomicOrdering::SeqCst);
        assert!(catch_unwind(AssertUnwindSafe(|| q2.try_put(Job(POISON)))).is_err());
        ARMED.store(false, AtomicOrdering::SeqCst);
        let stats = q2.stats();
        assert_eq!((stats.queued, stats.submitted, stats.unfinished), (3, 3, 3));
        assert_eq!(drain(&q2), [4, 6, 7]);

        // Everything is still there, in order.
        assert_eq!(drain(&q), [1, 2, 3, 5, 8, 9, POISON]);
        let stats = q.stats();
        assert_eq!((stats.queued, stats.submitted, stats.taken), (0, 7, 7));
    });
}
