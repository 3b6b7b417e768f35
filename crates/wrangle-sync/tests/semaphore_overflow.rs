//! `PrioritySemaphore` near `usize::MAX` permits (R16), on every runtime: a documented
//! maximum, a typed error beyond it, and no overflow when permits come back.

use std::time::Duration;

use futures_lite::future::poll_once;
use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;
use wrangle_sync::{PrioritySemaphore, TooManyPermits};

#[test]
fn returning_permits_never_overflows() {
    each_runtime(|_rt| async move {
        let sem = PrioritySemaphore::new(1);
        let held = sem.try_acquire().unwrap();
        // Refused (was: accepted, so returning `held` overflowed: a panic inside the
        // permit's destructor in debug builds, zero permits in release builds).
        let _ = sem.add_permits(usize::MAX);
        drop(held);
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn permits_are_bounded_by_max_permits_with_a_typed_error_beyond() {
    each_runtime(|_rt| async move {
        let max = PrioritySemaphore::MAX_PERMITS;
        assert!(PrioritySemaphore::try_new(max + 1).is_err());
        let err: TooManyPermits = PrioritySemaphore::try_new(usize::MAX).unwrap_err();
        assert!(err.to_string().contains("MAX_PERMITS"), "{err}");

        let sem = PrioritySemaphore::try_new(max).unwrap();
        let held = sem.try_acquire_many(10).unwrap();
        // Every permit exists already (held or free): none can be added.
        assert!(sem.add_permits(1).is_err());
        drop(held);
        assert_eq!(sem.available_permits(), max);

        // A waiter granted its permits and then dropped gives them back without overflow.
        let all = sem.try_acquire_many(max).unwrap();
        let mut waiter = Box::pin(sem.acquire_many(max));
        assert!(poll_once(waiter.as_mut()).await.is_none());
        drop(all); // grants the waiter...
        drop(waiter); // ...which is dropped before it saw the grant: permits go back.
        assert_eq!(sem.available_permits(), max);

        // Forgotten permits leave room to add as many back.
        sem.try_acquire_many(5).unwrap().forget();
        assert_eq!(sem.available_permits(), max - 5);
        sem.add_permits(5).unwrap();
        assert_eq!(sem.available_permits(), max);
        assert!(sem.add_permits(1).is_err());
    });
}

#[test]
fn asking_for_more_than_max_permits_fails_at_once_and_blocks_nobody() {
    each_runtime(|rt| async move {
        let sem = PrioritySemaphore::new(1);
        let held = sem.try_acquire().unwrap();
        // Was: queued for good, and (strictly fair) ahead of every later waiter.
        let too_many = sem.acquire_many(PrioritySemaphore::MAX_PERMITS + 1);
        let err = rt
            .timeout(Duration::from_secs(10), too_many)
            .await
            .expect("resolves at once, never waits")
            .unwrap_err();
        assert!(!err.is_closed());
        let mut next = Box::pin(sem.acquire());
        assert!(poll_once(next.as_mut()).await.is_none());
        drop(held);
        assert!(poll_once(next.as_mut()).await.is_some(), "served next");
        assert_eq!(sem.stats().queued, 0);
    });
}
