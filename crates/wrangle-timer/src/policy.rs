//! [`Overlap`] and [`Misfire`]: the policies of a [`ScheduledTask`](crate::ScheduledTask).

/// What a [`ScheduledTask`](crate::ScheduledTask) does when an instant comes due while an
/// earlier run is still going.
///
/// # Examples
///
/// ```
/// use wrangle_timer::Overlap;
/// assert_ne!(Overlap::Skip, Overlap::Queue);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Overlap {
    /// Do not run for this instant (counted in `skipped`). Runs never overlap.
    Skip,
    /// Wait for the running run to end, then run for this instant. Runs never overlap. Instants
    /// that pass while waiting are then misfires, handled by the [`Misfire`] policy.
    Queue,
    /// Cancel the running run (and wait until it is gone), then run for this instant. Runs never
    /// overlap.
    Replace,
    /// Run concurrently, up to the task's `max_concurrency`; at that bound, wait for a run to end
    /// as [`Queue`](Overlap::Queue) does.
    Allow,
}

/// What a [`ScheduledTask`](crate::ScheduledTask) does about instants that had already passed
/// when it came to them: a wall-clock jump forward, a suspended machine, a one-shot instant in
/// the past, or a run that was queued for long.
///
/// An instant the task was sleeping toward is never a misfire: if the wall clock jumps past it,
/// it runs once, late. Catch-up runs are never dropped for overlapping: under [`Overlap::Skip`]
/// they wait for the running run, as under [`Overlap::Queue`].
///
/// # Examples
///
/// ```
/// use wrangle_timer::Misfire;
/// assert_ne!(Misfire::Skip, Misfire::RunAll);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Misfire {
    /// Drop every passed instant (counted in `skipped`) and wait for the next future one.
    Skip,
    /// Run once now for the latest passed instant, dropping the others.
    RunOnce,
    /// Run for every passed instant, back to back.
    RunAll,
}
