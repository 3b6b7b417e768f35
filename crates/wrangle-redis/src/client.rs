//! [`Redis`]: one server, connected lazily, reconnected after failures, every call under a
//! timeout.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use wrangle_rt::{DefaultRuntime, Runtime, VirtualRuntime};

use crate::{MAX_DURATION, RedisError, RedisErrorKind};

/// A handle to one Redis (or Valkey) server, shared by the primitives of this crate.
///
/// It connects on first use, over one multiplexed connection that every clone and every
/// primitive shares. When a call finds the server unreachable or gets no answer in time, the
/// connection is dropped and the next call (after the
/// [reconnect delay](RedisBuilder::reconnect_delay)) connects again: a server that was
/// stopped and restarted is picked up without anyone's help. Every call is bounded by the
/// [call timeout](RedisBuilder::call_timeout), so nothing waits on a dead server for longer.
///
/// Cloning is cheap (one `Arc`). The connection goes through redis-rs (ADR 0100): its smol
/// driver, or its Tokio driver inside a Tokio context with the `runtime-tokio` feature.
/// Timeouts run on the wrangle runtime's timer and on redis-rs's (real time): on the virtual
/// runtime, the clock is held while a call is in flight, since the server's I/O is real.
///
/// A Redis Cluster is not supported by this version (one connection to one node); a managed
/// Redis with one endpoint (a primary with replicas behind a proxy or a failover address) is:
/// point the URL at its endpoint. TLS (`rediss://`) needs redis-rs's TLS features, which this
/// crate does not enable yet.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_redis::Redis;
///
/// wrangle_rt::VirtualRuntime::new().block_on(async {
///     // Nothing is connected yet: the first call connects.
///     let redis = Redis::builder("redis://127.0.0.1:6379/0")
///         .call_timeout(Duration::from_millis(500))
///         .build()
///         .unwrap();
///     assert_eq!(redis.stats().started, 0);
///     // A URL redis-rs cannot parse is refused at once.
///     assert!(Redis::open("mongodb://nope").is_err());
/// });
/// ```
pub struct Redis<R: Runtime = DefaultRuntime> {
    inner: Arc<Inner<R>>,
}

impl<R: Runtime> Clone for Redis<R> {
    fn clone(&self) -> Self {
        Redis {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<R> {
    rt: R,
    client: redis::Client,
    call_timeout: Duration,
    connect_timeout: Duration,
    reconnect_delay: Duration,
    conn: Mutex<Conn>,
    started: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    timed_out: AtomicU64,
    connects: AtomicU64,
}

#[derive(Default)]
struct Conn {
    current: Option<(u64, MultiplexedConnection)>,
    generation: u64,
    /// No new connection attempt before this instant (after a failed one).
    retry_at: Option<Instant>,
}

/// A snapshot of a [`Redis`] handle's counters.
///
/// Invariant: `started >= completed + failed + timed_out`; the difference is the calls in
/// flight and those dropped (cancelled) before they ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RedisStats {
    /// Calls begun (each command or script call, retries included).
    pub started: u64,
    /// Calls the server answered without an error.
    pub completed: u64,
    /// Calls that ended with an error other than a timeout.
    pub failed: u64,
    /// Calls that hit the call timeout.
    pub timed_out: u64,
    /// Connections opened (the first one and every reconnection).
    pub connects: u64,
}

/// The configuration of a [`Redis`] handle was invalid: an unparsable URL, or a timeout that
/// is zero or longer than [`MAX_DURATION`].
#[derive(Debug, Clone)]
pub struct InvalidRedisConfig {
    message: String,
}

impl fmt::Display for InvalidRedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid redis configuration: {}", self.message)
    }
}

impl std::error::Error for InvalidRedisConfig {}

/// Builds a [`Redis`] handle; made by [`Redis::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_redis::Redis;
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let redis = Redis::builder("redis://127.0.0.1:6379/")
///     .runtime(rt)
///     .call_timeout(Duration::from_millis(250))
///     .connect_timeout(Duration::from_secs(1))
///     .reconnect_delay(Duration::from_millis(50))
///     .build()
///     .unwrap();
/// assert_eq!(redis.call_timeout(), Duration::from_millis(250));
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until built"]
pub struct RedisBuilder<R: Runtime = DefaultRuntime> {
    url: String,
    rt: Option<R>,
    call_timeout: Duration,
    connect_timeout: Duration,
    reconnect_delay: Duration,
}

impl Redis {
    /// A handle to the server at `url` (`redis://[user:password@]host:port[/db]`) with the
    /// default timeouts, on [`DefaultRuntime::current`]. Nothing connects until the first
    /// call.
    ///
    /// # Examples
    ///
    /// ```
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let redis = wrangle_redis::Redis::open("redis://127.0.0.1/").unwrap();
    ///     assert_eq!(redis.stats().connects, 0);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidRedisConfig`] if redis-rs cannot parse the URL.
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    pub fn open(url: &str) -> Result<Redis, InvalidRedisConfig> {
        Redis::builder(url).build()
    }

    /// A builder for a handle to the server at `url`; see [`RedisBuilder`].
    pub fn builder(url: &str) -> RedisBuilder {
        RedisBuilder {
            url: url.to_owned(),
            rt: None,
            call_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(2),
            reconnect_delay: Duration::from_millis(100),
        }
    }
}

/// [`DefaultRuntime::current`] as `R`: a builder has no runtime only while `R` is still
/// `DefaultRuntime` (`runtime(..)` sets both), so the downcast cannot fail.
fn current<R: Runtime>() -> R {
    let rt: Box<dyn std::any::Any> = Box::new(DefaultRuntime::current());
    *rt.downcast::<R>()
        .expect("a builder without a runtime is a DefaultRuntime builder")
}

impl<R: Runtime> RedisBuilder<R> {
    /// Runs the handle's timers on `rt` instead of [`DefaultRuntime::current`].
    pub fn runtime<R2: Runtime>(self, rt: R2) -> RedisBuilder<R2> {
        RedisBuilder {
            url: self.url,
            rt: Some(rt),
            call_timeout: self.call_timeout,
            connect_timeout: self.connect_timeout,
            reconnect_delay: self.reconnect_delay,
        }
    }

    /// The longest wait for one reply (default 1 s). A call that gets no answer in time fails
    /// with [`RedisErrorKind::TimedOut`] and the connection is replaced.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The longest wait for a connection to open (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// After a failed connection attempt, calls fail at once with
    /// [`RedisErrorKind::Unavailable`] for this long before the next attempt (default
    /// 100 ms), so a dead server costs no connection attempt per call.
    pub fn reconnect_delay(mut self, delay: Duration) -> Self {
        self.reconnect_delay = delay;
        self
    }

    /// Builds the handle; nothing connects until the first call.
    ///
    /// # Errors
    ///
    /// [`InvalidRedisConfig`] if redis-rs cannot parse the URL, or a timeout is zero or
    /// longer than [`MAX_DURATION`] (the reconnect delay may be zero).
    ///
    /// # Panics
    ///
    /// Without [`runtime`](Self::runtime), if no runtime is available (see
    /// [`DefaultRuntime::current`]).
    pub fn build(self) -> Result<Redis<R>, InvalidRedisConfig> {
        let invalid = |message: &str| InvalidRedisConfig {
            message: message.to_owned(),
        };
        for (d, name) in [
            (self.call_timeout, "call timeout"),
            (self.connect_timeout, "connect timeout"),
        ] {
            if d.is_zero() || d > MAX_DURATION {
                return Err(invalid(&format!(
                    "{name} must be non-zero and at most MAX_DURATION"
                )));
            }
        }
        if self.reconnect_delay > MAX_DURATION {
            return Err(invalid("reconnect delay longer than MAX_DURATION"));
        }
        let client = redis::Client::open(self.url.as_str()).map_err(|e| InvalidRedisConfig {
            message: e.to_string(),
        })?;
        let rt = match self.rt {
            Some(rt) => rt,
            None => current(),
        };
        Ok(Redis {
            inner: Arc::new(Inner {
                rt,
                client,
                call_timeout: self.call_timeout,
                connect_timeout: self.connect_timeout,
                reconnect_delay: self.reconnect_delay,
                conn: Mutex::new(Conn::default()),
                started: AtomicU64::new(0),
                completed: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                timed_out: AtomicU64::new(0),
                connects: AtomicU64::new(0),
            }),
        })
    }
}

impl<R: Runtime> Redis<R> {
    /// The runtime whose timers this handle uses.
    #[must_use]
    pub fn runtime(&self) -> &R {
        &self.inner.rt
    }

    /// The longest wait for one reply.
    #[must_use]
    pub fn call_timeout(&self) -> Duration {
        self.inner.call_timeout
    }

    /// A snapshot of the counters; see [`RedisStats`].
    #[must_use]
    pub fn stats(&self) -> RedisStats {
        let i = &self.inner;
        RedisStats {
            started: i.started.load(Ordering::Relaxed),
            completed: i.completed.load(Ordering::Relaxed),
            failed: i.failed.load(Ordering::Relaxed),
            timed_out: i.timed_out.load(Ordering::Relaxed),
            connects: i.connects.load(Ordering::Relaxed),
        }
    }

    /// Runs one request on the shared connection, under the call timeout; a failure that
    /// means the server is unreachable drops the connection so that the next call reconnects.
    pub(crate) async fn call<T, F, Fut>(&self, request: F) -> Result<T, RedisError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        // The server's I/O is real: on virtual time, hold the clock while the call is in
        // flight so that no virtual timer (ours included) fires during a real round trip.
        // redis-rs's own timeouts (real time) bound the call there.
        let _hold = VirtualRuntime::try_current().map(|rt| rt.hold());
        let i = &self.inner;
        i.started.fetch_add(1, Ordering::Relaxed);
        let (generation, conn) = match self.connection().await {
            Ok(c) => c,
            Err(e) => {
                self.count(&e);
                return Err(e);
            }
        };
        let out = match i.rt.timeout(i.call_timeout, request(conn)).await {
            Ok(Ok(v)) => {
                i.completed.fetch_add(1, Ordering::Relaxed);
                return Ok(v);
            }
            Ok(Err(e)) => RedisError::from_client(e),
            Err(_) => RedisError::new(RedisErrorKind::TimedOut, "no reply within call timeout"),
        };
        if out.is_unavailable() {
            self.drop_connection(generation);
        }
        self.count(&out);
        Err(out)
    }

    fn count(&self, e: &RedisError) {
        let counter = if e.kind() == RedisErrorKind::TimedOut {
            &self.inner.timed_out
        } else {
            &self.inner.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, Conn> {
        self.inner
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn drop_connection(&self, generation: u64) {
        let mut conn = self.lock();
        if conn.current.as_ref().is_some_and(|(g, _)| *g == generation) {
            conn.current = None;
        }
    }

    async fn connection(&self) -> Result<(u64, MultiplexedConnection), RedisError> {
        let i = &self.inner;
        {
            let conn = self.lock();
            if let Some(current) = &conn.current {
                return Ok(current.clone());
            }
            if conn.retry_at.is_some_and(|at| i.rt.now() < at) {
                return Err(RedisError::new(
                    RedisErrorKind::Unavailable,
                    "the last connection attempt failed; waiting the reconnect delay",
                ));
            }
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(i.connect_timeout))
            .set_response_timeout(Some(i.call_timeout));
        let attempt = i
            .client
            .get_multiplexed_async_connection_with_config(&config);
        let result = match i.rt.timeout(i.connect_timeout, attempt).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(RedisError::from_client(e)),
            Err(_) => Err(RedisError::new(
                RedisErrorKind::TimedOut,
                "no connection within connect timeout",
            )),
        };
        let mut conn = self.lock();
        match result {
            Ok(c) => {
                i.connects.fetch_add(1, Ordering::Relaxed);
                conn.retry_at = None;
                if let Some(current) = &conn.current {
                    // Another call connected meanwhile: share its connection.
                    return Ok(current.clone());
                }
                conn.generation += 1;
                let current = (conn.generation, c);
                conn.current = Some(current.clone());
                Ok(current)
            }
            Err(e) => {
                conn.retry_at = i.rt.now().checked_add(i.reconnect_delay);
                Err(e)
            }
        }
    }
}

impl<R: Runtime> fmt::Debug for Redis<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("server", &self.inner.client.get_connection_info().addr())
            .field("call_timeout", &self.inner.call_timeout)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
