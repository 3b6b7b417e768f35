//! `ShortLock`: the lock of wrangle's hottest structures (wrangle-sync's `DualQueue`,
//! wrangle-pool's submission state and queue, the join cell of tasks wrangle runs itself),
//! ADR 0102. Public only so that those crates share one
//! implementation: hidden from the docs, **not part of wrangle-rt's API**, and it may change
//! in any release.
//!
//! A lock for critical sections of a few dozen instructions, taken and released on every
//! operation: released with a plain store (`spin`'s `SpinMutex`), where `std::sync::Mutex`
//! releases with an atomic swap, so an uncontended section costs one atomic read-modify-write
//! instead of two. A waiter never parks in the kernel: it spins a little, then yields its
//! thread, then sleeps in growing steps of at most about a millisecond, so a holder that was
//! preempted gets the core back and nothing burns a core for long (flume's `spin` feature
//! waits the same way).
//!
//! Only for sections that run no user code (a priority queue's comparison is the exception,
//! short by contract) and wait for nothing but the allocator and other short sections: the
//! pool registers an idle worker's listener under it, and spawns a worker task under it when
//! the crew grows (at most `size` times until workers exit). Under `--cfg loom` it is loom's
//! mutex, so the crates' loom models check the same exclusion.

/// Makes `waker` the one in `slot`, unless the one there already wakes the same task.
/// Returns the waker it replaced, to drop after the short lock guarding `slot` is released:
/// a waker's drop is the runtime's code, never run under a `ShortLock`.
#[inline]
#[must_use = "drop the replaced waker after releasing the lock"]
pub fn replace_waker(
    slot: &mut Option<std::task::Waker>,
    waker: &std::task::Waker,
) -> Option<std::task::Waker> {
    if slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
        None
    } else {
        slot.replace(waker.clone())
    }
}

#[cfg(loom)]
pub use loom_impl::{ShortLock, ShortLockGuard};
#[cfg(not(loom))]
pub use spin_impl::{ShortLock, ShortLockGuard};

#[cfg(loom)]
mod loom_impl {
    /// The guard of a [`ShortLock`].
    pub type ShortLockGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    /// See the [module](super).
    #[derive(Debug)]
    pub struct ShortLock<T>(loom::sync::Mutex<T>);

    impl<T> ShortLock<T> {
        /// A lock around `value`.
        pub fn new(value: T) -> Self {
            ShortLock(loom::sync::Mutex::new(value))
        }

        /// Locks; loom's mutex is never poisoned by the sections that use this.
        pub fn lock(&self) -> ShortLockGuard<'_, T> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }
}

#[cfg(not(loom))]
mod spin_impl {
    use std::time::Duration;

    /// The guard of a [`ShortLock`].
    pub type ShortLockGuard<'a, T> = spin::mutex::SpinMutexGuard<'a, T>;

    /// Busy-wait rounds (each one `spin_loop` hint) before the first yield.
    const SPINS: u32 = 64;
    /// Yields per sleep, once spinning did not get the lock.
    const YIELDS: u32 = 8;
    /// The longest sleep between rounds of yields: 2^10 µs, about a millisecond.
    const MAX_SLEEP_SHIFT: u32 = 10;

    /// See the [module](super).
    pub struct ShortLock<T>(spin::mutex::SpinMutex<T>);

    impl<T> std::fmt::Debug for ShortLock<T> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("ShortLock")
                .field("locked", &self.0.is_locked())
                .finish_non_exhaustive()
        }
    }

    impl<T> ShortLock<T> {
        /// A lock around `value`.
        pub const fn new(value: T) -> Self {
            ShortLock(spin::mutex::SpinMutex::new(value))
        }

        /// Locks, waiting as the [module](super) says.
        #[inline]
        pub fn lock(&self) -> ShortLockGuard<'_, T> {
            match self.0.try_lock() {
                Some(guard) => guard,
                None => self.lock_contended(),
            }
        }

        /// Tries the lock only if it looks free (a read, which does not take the line).
        #[inline]
        fn try_if_free(&self) -> Option<ShortLockGuard<'_, T>> {
            if self.0.is_locked() {
                None
            } else {
                self.0.try_lock()
            }
        }

        #[cold]
        #[inline(never)]
        fn lock_contended(&self) -> ShortLockGuard<'_, T> {
            // Test before test-and-set: waiters read the lock word, so they do not take its
            // cache line from the holder until it is free.
            for _ in 0..SPINS {
                std::hint::spin_loop();
                if let Some(guard) = self.try_if_free() {
                    return guard;
                }
            }
            let mut shift = 0;
            loop {
                for _ in 0..YIELDS {
                    std::thread::yield_now();
                    if let Some(guard) = self.try_if_free() {
                        return guard;
                    }
                }
                // A lock's back-off, not a timer: the holder is off its core, and the wait is
                // bounded by its short section, not by a clock the runtime could virtualise.
                #[expect(
                    clippy::disallowed_methods,
                    reason = "a spin lock's back-off sleeps the waiting thread, on any runtime"
                )]
                std::thread::sleep(Duration::from_micros(1 << shift));
                shift = (shift + 1).min(MAX_SLEEP_SHIFT);
                if let Some(guard) = self.0.try_lock() {
                    return guard;
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::ShortLock;
        use std::sync::Arc;

        #[test]
        fn excludes_across_threads_under_contention() {
            // Four threads on (at most) two cores: holders are preempted inside the section,
            // so waiters go through every stage (spin, yield, sleep). A lost update would
            // show in the total.
            let lock = Arc::new(ShortLock::new(0u64));
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let lock = Arc::clone(&lock);
                    std::thread::spawn(move || {
                        for _ in 0..50_000 {
                            let mut n = lock.lock();
                            let v = *n;
                            std::hint::black_box(&v);
                            *n = v + 1;
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(*lock.lock(), 200_000);
        }

        #[test]
        fn a_panic_in_the_section_releases_the_lock() {
            let lock = ShortLock::new(1);
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _guard = lock.lock();
                panic!("inside");
            }));
            assert!(caught.is_err());
            assert_eq!(*lock.lock(), 1);
        }
    }
}
