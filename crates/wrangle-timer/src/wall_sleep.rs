//! [`WallSleep`]: the one wall-clock sleep of the crate, shared by
//! [`ScheduledTask`](crate::ScheduledTask) and [`Scheduler`](crate::Scheduler), and the one
//! check of its `max_sleep` setting.

use std::future::Future;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use jiff::Timestamp;
use wrangle_rt::{Runtime, Sleep};

use crate::ConfigError;

/// The longest a [`ScheduledTask`](crate::ScheduledTask) or a [`Scheduler`](crate::Scheduler)
/// sleeps on the monotonic clock before it reads the wall clock again, unless its builder's
/// `max_sleep` says otherwise: one second.
///
/// The runtimes have no "sleep until a wall-clock time": a wall-clock wait sleeps on the
/// monotonic clock toward the wall-clock instant and re-reads the wall clock when it wakes.
/// Bounding each sleep is what lets it notice wall-clock jumps and suspends; a run or a
/// delivery is at most this late after a forward jump.
pub const DEFAULT_MAX_SLEEP: Duration = Duration::from_secs(1);

/// Validates a `max_sleep` setting (both builders call this at construction).
pub(crate) fn check_max_sleep(max_sleep: Duration) -> Result<Duration, ConfigError> {
    if max_sleep.is_zero() {
        Err(ConfigError::ZeroPeriod)
    } else {
        Ok(max_sleep)
    }
}

/// Sleeps until an instant of the wall clock, in monotonic naps of at most `max_sleep`,
/// re-reading the wall clock after each nap. One nap is kept and re-armed, never re-allocated.
pub(crate) struct WallSleep<R: Runtime> {
    rt: R,
    max_sleep: Duration,
    nap: Option<Pin<Box<R::Sleep>>>,
}

impl<R: Runtime> WallSleep<R> {
    /// `max_sleep` must have passed [`check_max_sleep`].
    pub(crate) fn new(rt: R, max_sleep: Duration) -> Self {
        WallSleep {
            rt,
            max_sleep,
            nap: None,
        }
    }

    pub(crate) fn runtime(&self) -> &R {
        &self.rt
    }

    pub(crate) fn max_sleep(&self) -> Duration {
        self.max_sleep
    }

    /// Ready once the wall clock has reached `target`. Each poll re-reads the wall clock and
    /// re-arms the nap toward `target` (for at most `max_sleep`), so a wake-up for another
    /// reason, or a new target, is handled by the next poll.
    pub(crate) fn poll_until(&mut self, cx: &mut Context<'_>, target: Timestamp) -> Poll<()> {
        loop {
            let wall = self.rt.wall_now();
            if wall >= target {
                return Poll::Ready(());
            }
            // `target > wall`, so the conversion fails only past `Duration::MAX`.
            let left = Duration::try_from(target.duration_since(wall)).unwrap_or(self.max_sleep);
            let now = self.rt.now();
            let deadline = now.checked_add(left.min(self.max_sleep)).unwrap_or(now);
            let nap = match &mut self.nap {
                Some(nap) => {
                    nap.as_mut().reset(deadline);
                    nap
                }
                None => self.nap.insert(Box::pin(self.rt.sleep_until(deadline))),
            };
            if nap.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    /// Sleeps until the wall clock has reached `target`.
    pub(crate) async fn until(&mut self, target: Timestamp) {
        poll_fn(|cx| self.poll_until(cx, target)).await;
    }

    /// Releases the armed nap (nothing is waited for any more).
    pub(crate) fn disarm(&mut self) {
        self.nap = None;
    }
}
