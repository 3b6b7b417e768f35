//! User code that runs where a panic must not escape: inside destructors.

use std::panic::{AssertUnwindSafe, catch_unwind};

use wrangle_rt::{PanicPayload, Unhandled, report_unhandled};

/// Runs `f`, which calls user code (a key's `Hash` or `Eq`) from a destructor: a panic is
/// caught and reported to the process-wide error handler as a [`PanicPayload`] from
/// `origin`, never raised from the destructor (where, during an unwind, it would abort).
pub(crate) fn in_drop(origin: &'static str, f: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        report_unhandled(Unhandled::new(origin, PanicPayload::new(payload)));
    }
}
