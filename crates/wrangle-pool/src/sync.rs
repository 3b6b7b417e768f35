//! The synchronisation primitives of the deadline slot (`slot.rs`) and of the workers'
//! searching protocol (`crew.rs`): std's, or loom's under `cfg(loom)` so that `tests/loom.rs`
//! can model them.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
