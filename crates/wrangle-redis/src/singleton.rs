//! [`RedisSingleton`]: a background task that runs on one replica at a time.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_lite::FutureExt;
use wrangle_rt::{CancellationToken, DefaultRuntime, JoinHandle, PanicPayload, Runtime, Unhandled};

use crate::future::SingletonCancel;
use crate::input::{full_key, millis};
use crate::{Redis, RedisError, RedisErrorKind, RedisLease};

/// A background task that runs on exactly one replica at a time: every replica spawns the
/// same singleton on the same key, the one that holds the key's [`RedisLease`] runs the
/// body, and the others wait to take over.
///
/// - The body gets the lease's fencing token; it runs until it returns, or until the lease is
///   lost (its future is then dropped: cancelled), after which the lease is released.
/// - A body that returns or panics is started again (after a pause of a third of the lease
///   time, by whichever replica takes the lease next): a singleton is meant to run for as
///   long as the service does. A panic is caught (while building the future and while it
///   runs), counted as `failed` and reported to the process-wide error handler
///   ([`wrangle_rt::report_unhandled`]) as a [`PanicPayload`].
/// - When the holder's process dies, its lease expires after the lease time; a waiting
///   replica notices within one renewal interval (a third of the lease time) and starts the
///   body: taken over within `ttl + ttl / 3`.
/// - While Redis is unreachable, no replica starts the body, and the running one stops when
///   its lease can no longer be renewed: at most one runs, never two (counted in
///   `lease_errors`).
///
/// Dropping the singleton cancels its task (the lease is released by a detached task, or
/// expires); [`cancel`](Self::cancel) stops it and waits; [`abort`](Self::abort) asks it to
/// stop without waiting.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use wrangle_redis::{Redis, RedisSingleton};
/// use wrangle_rt::Runtime;
///
/// # wrangle_rt::VirtualRuntime::new().block_on(async {
/// let redis = Redis::open("redis://127.0.0.1/").unwrap();
/// // On every replica; the outbox is drained by one of them at a time.
/// let drainer = RedisSingleton::spawn(&redis, "outbox-drainer", Duration::from_secs(10), |token| async move {
///     loop {
///         // drain_outbox(token).await; // writes carry the fencing token
///         # let _ = token;
///         wrangle_rt::DefaultRuntime::current().sleep(Duration::from_secs(1)).await;
///     }
/// })
/// .unwrap();
/// // ...
/// println!("leading here: {}", drainer.is_leader());
/// drainer.cancel().await;
/// # });
/// ```
pub struct RedisSingleton<R: Runtime = DefaultRuntime> {
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
    _runtime: std::marker::PhantomData<R>,
}

struct Shared {
    stop: CancellationToken,
    leader: AtomicBool,
    started: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    lease_errors: AtomicU64,
}

/// A snapshot of a [`RedisSingleton`]'s counters (this replica only).
///
/// Invariant: `started == completed + failed + cancelled + running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RedisSingletonStats {
    /// Bodies begun on this replica (terms as the leader).
    pub started: u64,
    /// Bodies that returned.
    pub completed: u64,
    /// Bodies that panicked.
    pub failed: u64,
    /// Bodies stopped because the lease was lost, or the singleton was cancelled.
    pub cancelled: u64,
    /// 1 while this replica runs the body, else 0.
    pub running: usize,
    /// Failed attempts to take the lease (Redis unreachable or failing).
    pub lease_errors: u64,
}

impl<R: Runtime> RedisSingleton<R> {
    /// Spawns the singleton on `redis`'s runtime: contends for the lease on `key` (time to
    /// live `ttl`, renewed every `ttl / 3`) and runs `body(token)` while it holds it.
    ///
    /// # Errors
    ///
    /// [`RedisErrorKind::InvalidKey`] or [`RedisErrorKind::InvalidDuration`] (as
    /// [`RedisLease::try_acquire`]); nothing is spawned then.
    pub fn spawn<F, Fut>(
        redis: &Redis<R>,
        key: impl AsRef<[u8]>,
        ttl: Duration,
        body: F,
    ) -> Result<Self, RedisError>
    where
        F: FnMut(u64) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let key = full_key(b"", key.as_ref())?;
        if millis(ttl)? < 3 {
            return Err(RedisError::new(
                RedisErrorKind::InvalidDuration,
                "lease time to live below 3 ms",
            ));
        }
        let shared = Arc::new(Shared {
            stop: CancellationToken::new(),
            leader: AtomicBool::new(false),
            started: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            lease_errors: AtomicU64::new(0),
        });
        let task = redis
            .runtime()
            .spawn(run(redis.clone(), key, ttl, body, shared.clone()));
        Ok(RedisSingleton {
            shared,
            task: Some(task),
            _runtime: std::marker::PhantomData,
        })
    }

    /// Whether this replica runs the body now.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.shared.leader.load(Ordering::Acquire)
    }

    /// A snapshot of this replica's counters; see [`RedisSingletonStats`].
    #[must_use]
    pub fn stats(&self) -> RedisSingletonStats {
        let s = &self.shared;
        RedisSingletonStats {
            started: s.started.load(Ordering::Relaxed),
            completed: s.completed.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            cancelled: s.cancelled.load(Ordering::Relaxed),
            running: usize::from(s.leader.load(Ordering::Relaxed)),
            lease_errors: s.lease_errors.load(Ordering::Relaxed),
        }
    }

    /// Asks the singleton to stop: a running body is dropped and the lease released by the
    /// task. Never waits.
    pub fn abort(&self) {
        self.shared.stop.cancel();
    }

    /// Stops the singleton and waits until its task is gone (a held lease released).
    pub fn cancel(mut self) -> SingletonCancel {
        self.shared.stop.cancel();
        let task = self.task.take();
        SingletonCancel::new(async move {
            if let Some(task) = task {
                let _ = task.await;
            }
        })
    }
}

enum End {
    Returned,
    Panicked(PanicPayload),
    Lost,
    Stopped,
}

async fn run<R, F, Fut>(
    redis: Redis<R>,
    key: Vec<u8>,
    ttl: Duration,
    mut body: F,
    shared: Arc<Shared>,
) where
    R: Runtime,
    F: FnMut(u64) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let rt = redis.runtime().clone();
    let pause = (ttl / 3).max(Duration::from_millis(1));
    loop {
        let acquire = RedisLease::acquire(&redis, &key, ttl);
        let lease = match shared.stop.run_until_cancelled(acquire).await {
            None => return,
            Some(Ok(lease)) => lease,
            Some(Err(_)) => {
                shared.lease_errors.fetch_add(1, Ordering::Relaxed);
                if shared
                    .stop
                    .run_until_cancelled(rt.sleep(pause))
                    .await
                    .is_none()
                {
                    return;
                }
                continue;
            }
        };
        shared.started.fetch_add(1, Ordering::Relaxed);
        shared.leader.store(true, Ordering::Release);
        let end = match catch_unwind(AssertUnwindSafe(|| body(lease.token()))) {
            Err(payload) => End::Panicked(PanicPayload::new(payload)),
            Ok(future) => {
                let body = async {
                    match AssertUnwindSafe(future).catch_unwind().await {
                        Ok(()) => End::Returned,
                        Err(payload) => End::Panicked(PanicPayload::new(payload)),
                    }
                };
                let lost = async {
                    lease.lost().await;
                    End::Lost
                };
                let stopped = async {
                    shared.stop.cancelled().await;
                    End::Stopped
                };
                body.or(lost).or(stopped).await
            }
        };
        shared.leader.store(false, Ordering::Release);
        let counter = match &end {
            End::Returned => &shared.completed,
            End::Panicked(_) => &shared.failed,
            End::Lost | End::Stopped => &shared.cancelled,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let _ = lease.release().await;
        match end {
            End::Stopped => return,
            End::Lost => {}
            End::Returned => {
                if shared
                    .stop
                    .run_until_cancelled(rt.sleep(pause))
                    .await
                    .is_none()
                {
                    return;
                }
            }
            End::Panicked(payload) => {
                wrangle_rt::report_unhandled(Unhandled::new(
                    "wrangle_redis::RedisSingleton",
                    payload,
                ));
                if shared
                    .stop
                    .run_until_cancelled(rt.sleep(pause))
                    .await
                    .is_none()
                {
                    return;
                }
            }
        }
    }
}

impl<R: Runtime> fmt::Debug for RedisSingleton<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSingleton")
            .field("leader", &self.is_leader())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
