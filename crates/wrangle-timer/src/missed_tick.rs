//! [`MissedTick`]: what an [`Interval`](crate::Interval) does after falling behind.

/// What an [`Interval`](crate::Interval) does when a tick is taken so late that the next grid
/// point has already passed (the consumer stalled for at least one period).
///
/// There is deliberately no default: the right choice depends on the job, and a silent
/// "burst" default surprises people.
///
/// With a period of 10 ms, ticks due at 0, 10, 20, 30... and a consumer that stalls from 5 ms
/// to 35 ms, the ticks taken after the stall are:
///
/// | policy | instants the ticks are taken at |
/// |---|---|
/// | `Burst` | 35 (due 10), 35 (due 20), 35 (due 30), 40, 50... |
/// | `Delay` | 35 (due 10), 45, 55... |
/// | `Skip`  | 35 (due 10), 40, 50... |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_timer::{Interval, MissedTick};
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let iv = Interval::with_runtime(rt, Duration::from_millis(10), MissedTick::Skip).unwrap();
/// assert_eq!(iv.missed_tick(), MissedTick::Skip);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MissedTick {
    /// Catch up: every missed grid point is yielded at once, back to back, until the interval is
    /// back on its grid.
    Burst,
    /// Yield one late tick, then restart the grid one period after the instant it was taken.
    /// Later ticks are shifted by the stall.
    Delay,
    /// Yield one late tick, then continue with the next grid point after now; the grid points
    /// in between are dropped (and counted in [`IntervalStats::skipped`](crate::IntervalStats)).
    Skip,
}
