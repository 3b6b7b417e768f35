//! The driver of a [`ScheduledTask`](super::ScheduledTask): asks the [`Schedule`] for
//! instants, sleeps toward them on the wall clock, and applies the [`Overlap`], [`Misfire`]
//! and [`FailurePolicy`] policies to each.

use std::collections::VecDeque;
use std::error::Error;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use jiff::Timestamp;
use wrangle_rt::{CancellationToken, JoinError, JoinHandle, PanicPayload, Runtime, TaskOutput};

use super::{Misfire, Overlap};
use crate::tracked_call::{
    Call, Counters, Ended, Reporting, build, failed_to_build, settle, spawn_tracked,
};
use crate::wall_sleep::WallSleep;
use crate::{FailurePolicy, Schedule};

/// How many passed instants one misfire counts, at most, before it jumps to the present.
const MISFIRE_SCAN_LIMIT: u64 = 1_000_000;

/// The user's [`Schedule`] panicked (already counted and reported).
struct SchedulePanicked;

/// A panic of the user's [`Schedule`], as reported: the [`PanicPayload`] is its source.
#[derive(Debug)]
struct ScheduleError(PanicPayload);

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.message() {
            Some(message) => write!(f, "schedule panicked: {message}"),
            None => f.write_str("schedule panicked"),
        }
    }
}

impl Error for ScheduleError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

/// What the overlap policy decided for one instant.
enum Admit {
    Start,
    Skip,
    Cancelled,
}

/// The driver's state.
pub(super) struct Run<R: Runtime, S> {
    pub(super) wall: WallSleep<R>,
    pub(super) schedule: S,
    pub(super) overlap: Overlap,
    pub(super) misfire: Misfire,
    pub(super) limit: usize,
    pub(super) on_failure: FailurePolicy,
    pub(super) reporting: Arc<Reporting>,
    pub(super) counters: Arc<Counters>,
    pub(super) token: CancellationToken,
    pub(super) running: VecDeque<JoinHandle<Ended>>,
    pub(super) failed_seen: bool,
}

impl<R: Runtime, S: Schedule> Run<R, S> {
    pub(super) async fn drive<F, Fut>(mut self, mut f: F)
    where
        F: FnMut(Timestamp) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        let now = self.wall.runtime().wall_now();
        let mut next = match self.ask(|s| s.first_fire(now)) {
            Ok(first) => first,
            Err(SchedulePanicked) => self.recover().await,
        };
        while let Some(point) = next {
            let now = self.wall.runtime().wall_now();
            let mut catch_up = false;
            // Whether asking the schedule for the instant after `point` panicked: `point` still
            // runs, then the policy decides (`recover`).
            let mut lost = false;
            let fire_at = if point < now {
                // Passed before we came to it: a misfire.
                let Ok((missed, latest, upcoming)) = self.scan_passed(point, now) else {
                    next = self.recover().await;
                    continue;
                };
                next = upcoming;
                match self.misfire {
                    Misfire::Skip => {
                        Counters::add(&self.counters.skipped, missed);
                        continue;
                    }
                    Misfire::RunOnce => {
                        Counters::add(&self.counters.skipped, missed - 1);
                        catch_up = true;
                        latest
                    }
                    Misfire::RunAll => {
                        next = self.ask(|s| s.next_fire(point)).unwrap_or_else(|_| {
                            lost = true;
                            None
                        });
                        catch_up = true;
                        point
                    }
                }
            } else {
                let sleep = self.wall.until(point);
                if self.token.run_until_cancelled(sleep).await.is_none() {
                    break;
                }
                next = self.ask(|s| s.next_fire(point)).unwrap_or_else(|_| {
                    lost = true;
                    None
                });
                point
            };
            match self.admit(catch_up).await {
                Admit::Start => {}
                Admit::Skip => continue,
                Admit::Cancelled => break,
            }
            if self.stop_for_failure() {
                break;
            }
            match build(|| f(fire_at)) {
                Call::Built(call) => {
                    let rt = self.wall.runtime();
                    let handle = spawn_tracked(rt, call, &self.counters, &self.reporting);
                    self.running.push_back(handle);
                }
                // Failed before it started running: counted and reported here, so that the
                // error policy applies before the next instant, however busy the runtime.
                Call::Panicked(p) => {
                    if let Some(p) = p {
                        failed_to_build(p, &self.counters, &self.reporting);
                    }
                    self.failed_seen = true;
                }
            }
            if lost {
                next = self.recover().await;
            }
        }
        self.finish().await;
    }

    /// Asks the user's schedule, under `catch_unwind`: a panic is counted
    /// ([`ScheduledStats::schedule_panicked`]) and reported.
    fn ask<T>(&self, question: impl FnOnce(&S) -> T) -> Result<T, SchedulePanicked> {
        catch_unwind(AssertUnwindSafe(|| question(&self.schedule))).map_err(|payload| {
            Counters::bump(&self.counters.schedule_panicked);
            self.reporting
                .report(ScheduleError(PanicPayload::new(payload)));
            SchedulePanicked
        })
    }

    /// After the schedule panicked, the failure policy decides. Under [`FailurePolicy::Stop`]
    /// there is no next instant (the task ends once its runs are over). Under
    /// [`FailurePolicy::Continue`] the schedule is asked again `max_sleep` later, for the first
    /// instant after that time, for as long as it panics; `None` if the task is cancelled.
    async fn recover(&mut self) -> Option<Timestamp> {
        loop {
            if self.on_failure == FailurePolicy::Stop {
                return None;
            }
            let nap = self.wall.runtime().sleep(self.wall.max_sleep());
            self.token.run_until_cancelled(nap).await?;
            let now = self.wall.runtime().wall_now();
            if let Ok(next) = self.ask(|s| s.next_fire(now)) {
                return next;
            }
        }
    }

    /// Counts the instants from `first` that are before `now`: how many, the latest of them,
    /// and the first one not before `now`.
    fn scan_passed(
        &self,
        first: Timestamp,
        now: Timestamp,
    ) -> Result<(u64, Timestamp, Option<Timestamp>), SchedulePanicked> {
        let (mut count, mut latest, mut cursor) = (0u64, first, Some(first));
        while let Some(p) = cursor {
            if p >= now {
                break;
            }
            if count == MISFIRE_SCAN_LIMIT {
                return Ok((count, latest, self.ask(|s| s.next_fire(now))?));
            }
            count += 1;
            latest = p;
            cursor = self.ask(|s| s.next_fire(p))?;
        }
        Ok((count, latest, cursor))
    }

    /// Records runs that have ended.
    async fn reap(&mut self) {
        let mut i = 0;
        while i < self.running.len() {
            if self.running[i].is_finished() {
                let mut h = self.running.remove(i).expect("index is in range");
                let result = futures_lite::future::poll_once(&mut h).await;
                self.record(result.unwrap_or(Err(JoinError::Cancelled)));
            } else {
                i += 1;
            }
        }
    }

    fn record(&mut self, result: Result<Ended, JoinError>) {
        if settle(result, &self.counters) == Ended::Failed {
            self.failed_seen = true;
        }
    }

    fn stop_for_failure(&self) -> bool {
        self.failed_seen && self.on_failure == FailurePolicy::Stop
    }

    /// Makes room for a run under the overlap policy. A catch-up run (its instant has passed
    /// already) is not skipped for overlapping: it waits, as under [`Overlap::Queue`].
    async fn admit(&mut self, catch_up: bool) -> Admit {
        self.reap().await;
        while self.running.len() >= self.limit {
            match self.overlap {
                Overlap::Skip if !catch_up => {
                    Counters::bump(&self.counters.skipped);
                    return Admit::Skip;
                }
                Overlap::Replace => {
                    let oldest = self.running.pop_front().expect("running is not empty");
                    let result = oldest.cancel().await;
                    self.record(result);
                }
                Overlap::Skip | Overlap::Queue | Overlap::Allow => {
                    let running = &mut self.running;
                    let ended = self.token.run_until_cancelled(poll_fn(|cx| {
                        for (i, h) in running.iter_mut().enumerate() {
                            if let Poll::Ready(r) = Pin::new(h).poll(cx) {
                                return Poll::Ready((i, r));
                            }
                        }
                        Poll::Pending
                    }));
                    let Some((i, result)) = ended.await else {
                        return Admit::Cancelled;
                    };
                    self.running.remove(i);
                    self.record(result);
                }
            }
        }
        Admit::Start
    }

    /// Waits for the runs still going when the schedule is exhausted, or cancels them all.
    async fn finish(&mut self) {
        while let Some(mut h) = self.running.pop_front() {
            let result = match self.token.run_until_cancelled(&mut h).await {
                Some(r) => r,
                None => h.cancel().await,
            };
            self.record(result);
        }
    }
}
