//! The std/loom shim: the locks and atomics this crate builds on, std's, or loom's when
//! model checking (`--cfg loom`), and the one poison-tolerant [`lock`] used everywhere.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning: no user code ever runs while one of our locks is held, so
/// a poisoned lock still guards consistent state.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The queue's lock (ADR 0102), shared with wrangle-pool through wrangle-rt (hidden there,
/// not part of its API).
pub(crate) use wrangle_rt::short_lock::{ShortLock, ShortLockGuard};
