//! The shared tier's protocol: read the value; else take the key's load lock and load, or
//! wait for the replica that holds it; load locally while Redis is unreachable.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use futures_lite::FutureExt;
use wrangle_rt::Runtime;

use super::codec::RedisCodec;
use super::error::Shared;
use crate::lease::{RELEASE, RENEW, owner_id};
use crate::{Redis, RedisError};

/// The value and its time to live in milliseconds, or nil.
static READ: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        "local v = redis.call('GET', KEYS[1])
         if v then return {v, redis.call('PTTL', KEYS[1])} end
         return false",
    )
});

/// A value with the local instant after which it must not be served.
#[derive(Clone)]
pub(super) struct Local<V> {
    pub(super) value: V,
    pub(super) until: Instant,
}

/// Counters of one [`RedisCache`](crate::RedisCache) (this process).
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) hits: AtomicU64,
    pub(super) remote_hits: AtomicU64,
    pub(super) waited: AtomicU64,
    pub(super) started: AtomicU64,
    pub(super) completed: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) cancelled: AtomicU64,
    pub(super) unavailable: AtomicU64,
    pub(super) remote_errors: AtomicU64,
    pub(super) running: AtomicUsize,
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What one load needs from its cache.
pub(super) struct Remote<R: Runtime, C> {
    pub(super) redis: Redis<R>,
    pub(super) codec: Arc<C>,
    pub(super) value_key: Vec<u8>,
    pub(super) lock_key: Vec<u8>,
    pub(super) ttl: Duration,
    pub(super) ttl_ms: u64,
    pub(super) lock_ms: u64,
    pub(super) lock_ttl: Duration,
    pub(super) poll: Duration,
    pub(super) counters: Arc<Counters>,
}

/// How the shared tier answered.
enum Found<V> {
    Value(Local<V>),
    Missing,
}

impl<R: Runtime, C> Remote<R, C> {
    /// The value of the key: from Redis, or loaded here under the key's lock, or loaded by
    /// another replica and read once it is stored; loaded locally while Redis is down.
    pub(super) async fn load<V, E, F, Fut>(self, loader: F) -> Result<Local<V>, Shared<E, C::Error>>
    where
        C: RedisCodec<V>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let c = self.counters.clone();
        let mut waited = false;
        loop {
            match self.read().await {
                Ok(Found::Value(local)) => {
                    bump(if waited { &c.waited } else { &c.remote_hits });
                    return Ok(local);
                }
                Ok(Found::Missing) => {}
                Err(Shared::Redis(e)) if e.is_unavailable() => {
                    return self.load_unavailable(loader).await;
                }
                Err(e) => return Err(e),
            }
            // The guard exists before the SET is sent: if this future is dropped while the
            // SET is in flight, a lock the server granted is released all the same.
            let mut lock = LockGuard {
                redis: self.redis.clone(),
                key: self.lock_key.clone(),
                owner: owner_id(),
                held: true,
            };
            match self.try_lock(&lock.owner).await {
                Ok(true) => return self.lead(lock, loader).await,
                // Another replica loads: look again a little later.
                Ok(false) => {
                    lock.held = false;
                    drop(lock);
                    waited = true;
                    self.redis.runtime().sleep(self.poll).await;
                }
                // (A lock granted by a SET whose reply was lost is released by the guard.)
                Err(e) if e.is_unavailable() => return self.load_unavailable(loader).await,
                Err(e) => return Err(Shared::Redis(e)),
            }
        }
    }

    /// The stored value with its remaining time to live.
    async fn read<V, E>(&self) -> Result<Found<V>, Shared<E, C::Error>>
    where
        C: RedisCodec<V>,
    {
        let key = self.value_key.clone();
        let sent = self.redis.runtime().now();
        let reply: Option<(Vec<u8>, i64)> = self
            .redis
            .call(move |mut conn| async move {
                let mut invocation = READ.prepare_invoke();
                invocation.key(key);
                invocation.invoke_async(&mut conn).await
            })
            .await
            .map_err(Shared::Redis)?;
        let Some((bytes, pttl)) = reply else {
            return Ok(Found::Missing);
        };
        let value = self
            .codec
            .decode(&bytes)
            .map_err(|e| Shared::Decode(Arc::new(e)))?;
        // -1 (no expiry: written by someone else) is served for our own time to live.
        let left = u64::try_from(pttl).map_or(self.ttl, Duration::from_millis);
        Ok(Found::Value(Local {
            value,
            until: sent.checked_add(left.min(self.ttl)).unwrap_or(sent),
        }))
    }

    async fn try_lock(&self, owner: &[u8]) -> Result<bool, RedisError> {
        let (key, owner, ms) = (self.lock_key.clone(), owner.to_vec(), self.lock_ms);
        let reply: redis::Value = self
            .redis
            .call(move |mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Ok(!matches!(reply, redis::Value::Nil))
    }

    /// This replica holds the key's lock: load, store, release.
    async fn lead<V, E, F, Fut>(
        self,
        lock: LockGuard<R>,
        loader: F,
    ) -> Result<Local<V>, Shared<E, C::Error>>
    where
        C: RedisCodec<V>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        // Another replica may have stored the value between our read and our lock.
        match self.read().await {
            Ok(Found::Value(local)) => {
                lock.release().await;
                bump(&self.counters.remote_hits);
                return Ok(local);
            }
            Ok(Found::Missing) => {}
            Err(Shared::Redis(e)) if e.is_unavailable() => {
                drop(lock);
                return self.load_unavailable(loader).await;
            }
            Err(e) => {
                lock.release().await;
                return Err(e);
            }
        }
        let loaded = futures_lite::future::or(self.run(loader), async {
            self.renew(&lock).await;
            unreachable!("renewal never ends")
        })
        .await;
        let value = match loaded {
            Ok(value) => value,
            Err(e) => {
                lock.release().await;
                return Err(e);
            }
        };
        let bytes = match self.codec.encode(&value) {
            Ok(bytes) => bytes,
            Err(e) => {
                lock.release().await;
                return Err(Shared::Encode(Arc::new(e)));
            }
        };
        if bytes.len() > super::MAX_VALUE_LEN {
            // Redis would refuse it: serve it from here, uncached in Redis.
            bump(&self.counters.remote_errors);
            lock.release().await;
            let now = self.redis.runtime().now();
            return Ok(Local {
                value,
                until: now.checked_add(self.ttl).unwrap_or(now),
            });
        }
        let stored = self.redis.runtime().now();
        let (key, ms) = (self.value_key.clone(), self.ttl_ms);
        let set = self
            .redis
            .call(move |mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(bytes)
                    .arg("PX")
                    .arg(ms)
                    .query_async::<()>(&mut conn)
                    .await
            })
            .await;
        if set.is_err() {
            // The value is good; the other replicas load it themselves once our lock ends.
            bump(&self.counters.remote_errors);
        }
        lock.release().await;
        Ok(Local {
            value,
            until: stored.checked_add(self.ttl).unwrap_or(stored),
        })
    }

    /// Redis is unreachable: load here, without sharing (the in-process tier still
    /// shares the load among this process's callers).
    async fn load_unavailable<V, E, F, Fut>(
        &self,
        loader: F,
    ) -> Result<Local<V>, Shared<E, C::Error>>
    where
        C: RedisCodec<V>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        bump(&self.counters.remote_errors);
        bump(&self.counters.unavailable);
        let started = self.redis.runtime().now();
        let value = self.run(loader).await?;
        Ok(Local {
            value,
            until: started.checked_add(self.ttl).unwrap_or(started),
        })
    }

    /// The user's loader, counted. A panic (while building its future or while it runs)
    /// is counted as failed, then resumed for the in-process tier, which hands it to every
    /// caller as a [`PanicPayload`](wrangle_rt::PanicPayload).
    async fn run<V, E, F, Fut>(&self, loader: F) -> Result<V, Shared<E, C::Error>>
    where
        C: RedisCodec<V>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let c = &self.counters;
        bump(&c.started);
        c.running.fetch_add(1, Ordering::Relaxed);
        let mut running = Running {
            counters: c.clone(),
            ended: false,
        };
        let out = match catch_unwind(AssertUnwindSafe(loader)) {
            Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
            Err(payload) => Err(payload),
        };
        running.ended = true;
        match out {
            Ok(out) => {
                bump(if out.is_ok() { &c.completed } else { &c.failed });
                out.map_err(Shared::Load)
            }
            Err(payload) => {
                bump(&c.failed);
                drop(running);
                std::panic::resume_unwind(payload)
            }
        }
    }

    /// Extends the lock every third of its time while the load runs; stops extending (and
    /// waits forever) once the lock is someone else's.
    async fn renew(&self, lock: &LockGuard<R>) {
        let interval = (self.lock_ttl / 3).max(Duration::from_millis(1));
        loop {
            self.redis.runtime().sleep(interval).await;
            let (key, owner, ms) = (lock.key.clone(), lock.owner.clone(), self.lock_ms);
            let renewed = self
                .redis
                .call(move |mut conn| async move {
                    let mut invocation = RENEW.prepare_invoke();
                    invocation.key(key).arg(owner).arg(ms);
                    invocation.invoke_async::<i64>(&mut conn).await
                })
                .await;
            if matches!(renewed, Ok(0)) {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Counts a load as running until it ends, or as cancelled if it is dropped first.
struct Running {
    counters: Arc<Counters>,
    ended: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        let c = &self.counters;
        if !self.ended {
            bump(&c.cancelled);
        }
        c.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The key's load lock, released (if still ours) when the load ends, or by a detached task
/// when the load is dropped or unwinds.
struct LockGuard<R: Runtime> {
    redis: Redis<R>,
    key: Vec<u8>,
    owner: Vec<u8>,
    held: bool,
}

impl<R: Runtime> LockGuard<R> {
    async fn release(mut self) {
        self.held = false;
        let _ = release(&self.redis, self.key.clone(), self.owner.clone()).await;
    }
}

impl<R: Runtime> Drop for LockGuard<R> {
    fn drop(&mut self) {
        if self.held {
            let (redis, key, owner) = (self.redis.clone(), self.key.clone(), self.owner.clone());
            let rt = redis.runtime().clone();
            rt.spawn(async move {
                let _ = release(&redis, key, owner).await;
            })
            .detach();
        }
    }
}

async fn release<R: Runtime>(
    redis: &Redis<R>,
    key: Vec<u8>,
    owner: Vec<u8>,
) -> Result<(), RedisError> {
    redis
        .call(move |mut conn| async move {
            let mut invocation = RELEASE.prepare_invoke();
            invocation.key(key).arg(owner);
            invocation.invoke_async::<i64>(&mut conn).await
        })
        .await
        .map(drop)
}
