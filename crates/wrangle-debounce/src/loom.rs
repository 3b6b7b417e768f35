//! The locks this crate builds on.
//!
//! Every piece of shared state here is guarded by one plain mutex, and no hand-written atomics
//! synchronise anything, so there is no loom model (style.md asks for one only for
//! hand-written synchronisation); this module is the single place that would switch to loom's
//! types if one were added.

pub(crate) use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning: no user code ever runs while one of our locks is held, so
/// a poisoned lock still guards consistent state.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
