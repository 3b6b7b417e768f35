//! The synchronisation primitives of the hand-written parts (`CancellationToken`, the task
//! cell, the virtual runtime): std's, or loom's under `cfg(loom)` so `tests/loom.rs` can model
//! them, and the one poison-tolerant [`lock`].

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// A lock result without poisoning: for the std locks loom does not model (the virtual
/// runtime's state and condvar, the process-wide handler's `RwLock`, a panic payload), which
/// like every lock here are never left inconsistent by a panic.
pub(crate) trait IgnorePoison<T> {
    /// The guard (or value), poisoned or not.
    fn ignore_poison(self) -> T;
}

impl<T> IgnorePoison<T> for std::sync::LockResult<T> {
    fn ignore_poison(self) -> T {
        self.unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Locks `mutex`, ignoring poisoning: every critical section in this crate leaves its state
/// consistent before anything that can panic, so a panic elsewhere never makes it unusable.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
