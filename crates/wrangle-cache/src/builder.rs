//! [`CacheBuilder`]: capacity, weights, policy, time to live and time to idle.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use wrangle_rt::{DefaultRuntime, Runtime};

use crate::cache::Cache;
use crate::counter::StripedCounter;
use crate::entry::NEVER;
use crate::error::InvalidCacheConfig;
use crate::flight::Flights;
use crate::inner::{Counters, Inner, WeighFn};
use crate::store::{Policy, Store};

/// Nanoseconds of a duration, saturating at "never" (about 584 years).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(NEVER)
}

/// [`DefaultRuntime::current`] as `R`: a builder has no runtime only while `R` is still
/// `DefaultRuntime` (`runtime(..)` sets both), so the downcast cannot fail.
pub(crate) fn current<R: Runtime>() -> R {
    let rt: Box<dyn std::any::Any> = Box::new(DefaultRuntime::current());
    *rt.downcast::<R>()
        .expect("a builder without a runtime is a DefaultRuntime builder")
}

pub(crate) fn positive(d: Duration, what: &'static str) -> Result<u64, InvalidCacheConfig> {
    if d.is_zero() {
        Err(InvalidCacheConfig::ZeroDuration(what))
    } else {
        Ok(nanos(d))
    }
}

/// Configures a [`Cache`]: [`Cache::builder`].
///
/// Unless told otherwise a cache is unbounded, S3-FIFO, keeps entries until they are
/// evicted or invalidated, and runs on [`DefaultRuntime::current`].
///
/// # Examples
///
/// A cache of at most 1 MiB of bodies, each fresh for a minute after its load and dropped
/// after 10 s without a read, in exact LRU order:
///
/// ```
/// use std::time::Duration;
/// use wrangle_cache::{Cache, Policy};
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// let cache: Cache<String, Vec<u8>, _> = Cache::builder()
///     .max_weight(1 << 20, |_url: &String, body: &Vec<u8>| body.len() as u64)
///     .policy(Policy::Lru)
///     .time_to_live(Duration::from_secs(60))
///     .time_to_idle(Duration::from_secs(10))
///     .runtime(rt.clone())
///     .build()
///     .unwrap();
/// cache.insert("/a".to_string(), vec![0; 1000]);
/// assert_eq!(cache.stats().weight, 1000);
///
/// rt.block_on(rt.sleep(Duration::from_secs(10)));
/// assert_eq!(cache.get(&"/a".to_string()), None); // idle for 10 s
/// ```
///
/// # Errors
///
/// [`build`](CacheBuilder::build) refuses zero durations.
pub struct CacheBuilder<K, V, R: Runtime = DefaultRuntime> {
    rt: Option<R>,
    capacity: u64,
    weigh: Option<WeighFn<K, V>>,
    policy: Policy,
    ttl: Option<Duration>,
    tti: Option<Duration>,
    pub(crate) refresh_before: u64,
    /// Some entries get their own time to live (a memoizer's cached errors).
    pub(crate) entry_ttls: bool,
}

impl<K, V, R: Runtime> fmt::Debug for CacheBuilder<K, V, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("capacity", &self.capacity)
            .field("weighted", &self.weigh.is_some())
            .field("policy", &self.policy)
            .field("time_to_live", &self.ttl)
            .field("time_to_idle", &self.tti)
            .finish_non_exhaustive()
    }
}

impl<K, V> CacheBuilder<K, V, DefaultRuntime> {
    pub(crate) fn new() -> Self {
        CacheBuilder {
            rt: None,
            capacity: u64::MAX,
            weigh: None,
            policy: Policy::default(),
            ttl: None,
            tti: None,
            refresh_before: 0,
            entry_ttls: false,
        }
    }
}

impl<K, V, R> CacheBuilder<K, V, R>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
{
    /// Runs the cache's clock on `rt` instead of [`DefaultRuntime::current`].
    pub fn runtime<R2: Runtime>(self, rt: R2) -> CacheBuilder<K, V, R2> {
        CacheBuilder {
            rt: Some(rt),
            capacity: self.capacity,
            weigh: self.weigh,
            policy: self.policy,
            ttl: self.ttl,
            tti: self.tti,
            refresh_before: self.refresh_before,
            entry_ttls: self.entry_ttls,
        }
    }

    /// Holds at most `max` entries (0 is valid: nothing is kept, loads are still shared).
    /// Replaces an earlier [`max_weight`](Self::max_weight).
    #[must_use]
    pub fn max_entries(mut self, max: usize) -> Self {
        self.capacity = u64::try_from(max).unwrap_or(u64::MAX);
        self.weigh = None;
        self
    }

    /// Holds entries whose weights, as `weigh` says, add up to at most `max`. `weigh` runs
    /// once per stored value, before any lock is taken; a weight of 0 counts as 1, and an
    /// entry heavier than `max` is not kept (it still reaches the callers of its load). If
    /// `weigh` panics, the panic is caught and the value is not kept either (counted as an
    /// eviction).
    #[must_use]
    pub fn max_weight(
        mut self,
        max: u64,
        weigh: impl Fn(&K, &V) -> u64 + Send + Sync + 'static,
    ) -> Self {
        self.capacity = max;
        self.weigh = Some(Arc::new(weigh));
        self
    }

    /// The eviction policy: [`Policy::S3Fifo`] (the default) or exact [`Policy::Lru`].
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// An entry expires `ttl` after its load ended (or after its `insert`); reads do not
    /// extend it. An entry loaded at `t` is served until `t + ttl - 1 ns` and loaded again
    /// from `t + ttl` on:
    ///
    /// ```text
    /// time:   s          t                             t + ttl
    /// load:   |--load----|
    /// reads:       wait    hit   hit   hit (t+ttl-1ns)   miss: load again
    /// ```
    #[must_use]
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// An entry also expires `tti` after its last read (or its load), and never later than
    /// its time to live. With a time to idle, every hit records its time in the entry: the
    /// one write a read does.
    ///
    /// ```text
    /// time:   t     t+5    t+12          t+12+tti
    /// reads:  load  hit    hit (last)    miss (tti = 10: idle since t+12)
    /// ```
    #[must_use]
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.tti = Some(tti);
        self
    }

    /// Builds the cache.
    ///
    /// # Errors
    ///
    /// [`InvalidCacheConfig::ZeroDuration`] for a zero time to live or time to idle.
    pub fn build(mut self) -> Result<Cache<K, V, R>, InvalidCacheConfig> {
        let rt = self.take_runtime().unwrap_or_else(current::<R>);
        self.build_on(rt)
    }

    pub(crate) fn build_on(self, rt: R) -> Result<Cache<K, V, R>, InvalidCacheConfig> {
        let ttl = self
            .ttl
            .map(|d| positive(d, "time_to_live"))
            .transpose()?
            .unwrap_or(NEVER);
        let tti = self
            .tti
            .map(|d| positive(d, "time_to_idle"))
            .transpose()?
            .unwrap_or(NEVER);
        let evictions = Arc::new(AtomicU64::new(0));
        // Per-entry time to live (cached errors) needs the clock too.
        let timeless = ttl == NEVER && tti == NEVER && self.refresh_before == 0 && !self.entry_ttls;
        let store = Store::new(
            self.policy,
            self.capacity,
            self.weigh.is_some(),
            timeless,
            Arc::clone(&evictions),
        );
        Ok(Cache::from_inner(Arc::new(Inner {
            rt,
            store,
            flights: Flights::new(),
            ttl,
            tti,
            refresh_before: self.refresh_before,
            weigh: self.weigh,
            capacity: self.capacity,
            timeless,
            next_id: AtomicU64::new(0),
            counters: Counters {
                hits: StripedCounter::new(),
                misses: StripedCounter::new(),
                started: AtomicU64::new(0),
                completed: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                panicked: AtomicU64::new(0),
                cancelled: AtomicU64::new(0),
                refreshes: AtomicU64::new(0),
                evictions,
                invalidations: AtomicU64::new(0),
            },
        })))
    }

    pub(crate) fn take_runtime(&mut self) -> Option<R> {
        self.rt.take()
    }
}
