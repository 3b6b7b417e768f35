//! The lock this crate builds on.
//!
//! Named `loom.rs` as every wrangle crate's shim is (api.md). wrangle-io has no hand-written
//! atomics to model, so it never swaps in loom's types: std's mutex is all it uses.

pub(crate) use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning. The only user code that runs under one of our locks is
/// a connection's own `poll_*` method; if it panics, the state the lock guards is still
/// consistent (the connection is simply kept or dropped), so a poisoned lock is safe to use.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
