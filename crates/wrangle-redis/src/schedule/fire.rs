//! One fire time on this replica: claim it, then run it (or not).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};

use futures_lite::FutureExt;
use wrangle_rt::{BoxError, ErrorReporter, PanicPayload, Runtime, TaskOutput, Unhandled};
use wrangle_timer::jiff::Timestamp;

use super::Counters;
use crate::{OnUnavailable, Redis, RedisError};

/// The longest suffix a claim key adds to the schedule's name: `:` and an `i64` in decimal.
pub(super) const KEY_SUFFIX_MAX: usize = 1 + 20;

/// What every fire time of one replica's schedule shares.
pub(super) struct Fire<R: Runtime, F> {
    pub(super) redis: Redis<R>,
    pub(super) name: Vec<u8>,
    pub(super) replica: Vec<u8>,
    pub(super) claim_ms: u64,
    pub(super) policy: OnUnavailable,
    pub(super) reporter: ErrorReporter,
    pub(super) counters: Arc<Counters>,
    /// The user's closure, called for claimed fire times only; locked only while it builds
    /// a run's future.
    pub(super) body: Mutex<F>,
}

/// Where a fire time is, for the counters when its future is dropped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Claiming,
    Running,
    Done,
}

/// Counts a fire time dropped mid-way: while claiming it is skipped, while running its run
/// is cancelled.
struct Track {
    counters: Arc<Counters>,
    stage: Stage,
}

impl Track {
    fn set(&mut self, stage: Stage) {
        self.stage = stage;
    }
}

impl Drop for Track {
    fn drop(&mut self) {
        match self.stage {
            Stage::Claiming => Counters::bump(&self.counters.skipped),
            Stage::Running => Counters::bump(&self.counters.cancelled),
            Stage::Done => {}
        }
    }
}

impl<R, F, Fut> Fire<R, F>
where
    R: Runtime,
    F: FnMut(Timestamp) -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput,
{
    /// The run of fire time `at` as the timer sees it: the claim, then the user's run if the
    /// claim was won (or failed under `FailOpen`). The run's error or panic is its output,
    /// so that the timer reports it and applies its failure policy; a lost or failed claim
    /// is a successful run for the timer (a Redis outage must not stop the schedule).
    pub(super) fn run(
        self: Arc<Self>,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), BoxError>> + Send + 'static {
        let mut track = Track {
            counters: self.counters.clone(),
            stage: Stage::Claiming,
        };
        async move {
            let c = &self.counters;
            match self.claim(at).await {
                Ok(true) => Counters::bump(&c.claimed),
                Ok(false) => {
                    track.set(Stage::Done);
                    Counters::bump(&c.lost);
                    return Ok(());
                }
                Err(e) => {
                    let run_anyway = e.is_unavailable() && self.policy == OnUnavailable::FailOpen;
                    if !run_anyway {
                        track.set(Stage::Done);
                        // The skip before the error: `snapshot` reads them the other way
                        // round, so no snapshot shows a failed claim without its skip.
                        Counters::bump(&c.skipped);
                    }
                    Counters::bump(&c.claim_errors);
                    self.reporter
                        .report(Unhandled::new("wrangle_redis::RedisSchedule (claim)", e));
                    if !run_anyway {
                        return Ok(());
                    }
                    Counters::bump(&c.unclaimed);
                }
            }
            Counters::bump(&c.started);
            track.set(Stage::Running);
            let out = self.body(at).await;
            track.set(Stage::Done);
            Counters::bump(if out.is_ok() { &c.completed } else { &c.failed });
            out
        }
    }

    /// `SET <name>:<ms> <replica> NX PX <claim>`: whether this replica won the fire time.
    async fn claim(&self, at: Timestamp) -> Result<bool, RedisError> {
        let mut key = self.name.clone();
        key.push(b':');
        key.extend_from_slice(at.as_millisecond().to_string().as_bytes());
        let (replica, ms) = (self.replica.clone(), self.claim_ms);
        let reply: redis::Value = self
            .redis
            .call(move |mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(replica)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(!matches!(reply, redis::Value::Nil))
    }

    /// The user's run, its panics (while building the future or while it runs) caught.
    async fn body(&self, at: Timestamp) -> Result<(), BoxError> {
        let built = catch_unwind(AssertUnwindSafe(|| {
            let mut body = self.body.lock().unwrap_or_else(PoisonError::into_inner);
            body(at)
        }));
        let future = match built {
            Ok(future) => future,
            Err(payload) => return Err(Box::new(PanicPayload::new(payload))),
        };
        match AssertUnwindSafe(future).catch_unwind().await {
            Ok(output) => output.into_result(),
            Err(payload) => Err(Box::new(PanicPayload::new(payload))),
        }
    }
}
