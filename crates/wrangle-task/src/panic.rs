//! Turning a caught panic into a [`PanicPayload`].

use std::any::Any;

use wrangle_rt::{JoinError, PanicPayload};

/// Wraps a payload caught with `catch_unwind` into wrangle-rt's [`PanicPayload`].
///
/// wrangle-rt has no public constructor for it, so the payload goes through a task cell: the
/// cell resumes the unwind (which does not run the panic hook again) and captures it, exactly as
/// a spawned task would.
pub(crate) fn payload(p: Box<dyn Any + Send>) -> PanicPayload {
    let (cell, handle) = wrangle_rt::task_pair(async move { std::panic::resume_unwind(p) });
    futures_lite::future::block_on(cell);
    match futures_lite::future::block_on(handle) {
        Err(JoinError::Panicked(p)) => p,
        _ => unreachable!("a resumed unwind is always captured as a panic"),
    }
}
