//! Turning a caught panic into a [`PanicPayload`].

use std::any::Any;

use wrangle_rt::PanicPayload;

/// Wraps a payload caught with `catch_unwind` into wrangle-rt's [`PanicPayload`].
pub(crate) fn payload(p: Box<dyn Any + Send>) -> PanicPayload {
    PanicPayload::new(p)
}
