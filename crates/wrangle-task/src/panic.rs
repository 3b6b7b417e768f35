//! Turning a caught panic into a [`PanicPayload`].

use std::any::Any;

use wrangle_rt::PanicPayload;

/// Wraps a payload caught with `catch_unwind` into wrangle-rt's [`PanicPayload`].
pub(crate) fn payload(p: Box<dyn Any + Send>) -> PanicPayload {
    PanicPayload::new(p)
}

/// A future that resumes a caught panic when polled: what a user factory that panicked while
/// building its future becomes, so that the panic is handled where a panic of the future
/// itself would be (caught, reported, counted), without running the panic hook twice.
pub(crate) async fn resume<T>(p: Box<dyn Any + Send>) -> T {
    std::panic::resume_unwind(p)
}
