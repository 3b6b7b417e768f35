//! [`MemoizedBuilder`]: capacity, policy, expiry, cached errors, refresh-ahead, reporter.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use wrangle_rt::{BoxError, CancellationToken, DefaultRuntime, ErrorReporter, Runtime};

use crate::builder::{CacheBuilder, current, nanos, positive};
use crate::error::InvalidCacheConfig;
use crate::memo::finish::LoadFn;
use crate::memo::{KeyFn, MemoShared, Memoized};
use crate::store::Policy;

/// Configures a [`Memoized`]: [`Memoized::builder`], [`Memoized::keyed_builder`].
///
/// Unless told otherwise a memoizer is unbounded, evicts in exact LRU order once bounded,
/// keeps results until evicted or invalidated, caches no errors, reports to the
/// process-wide error handler, and runs on [`DefaultRuntime::current`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_cache::{InvalidCacheConfig, Memoized};
///
/// let err = Memoized::builder(|x: u8| async move { Ok::<_, String>(x) })
///     .time_to_live(Duration::from_secs(10))
///     .refresh_ahead(Duration::from_secs(10))
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, InvalidCacheConfig::RefreshAhead { .. }));
/// ```
///
/// # Errors
///
/// [`build`](MemoizedBuilder::build) refuses zero durations, and a refresh-ahead that is
/// not shorter than the time to live or is combined with a time to idle.
pub struct MemoizedBuilder<A, K, T, E, R: Runtime = DefaultRuntime> {
    f: Arc<LoadFn<A, T, E>>,
    key: Box<KeyFn<A, K>>,
    rt: Option<R>,
    max_entries: usize,
    policy: Policy,
    ttl: Option<Duration>,
    tti: Option<Duration>,
    error_ttl: Option<Duration>,
    refresh_ahead: Option<Duration>,
    reporter: Option<ErrorReporter>,
}

impl<A, K, T, E> MemoizedBuilder<A, K, T, E> {
    pub(crate) fn new(f: Arc<LoadFn<A, T, E>>, key: Box<KeyFn<A, K>>) -> Self {
        MemoizedBuilder {
            f,
            key,
            rt: None,
            max_entries: usize::MAX,
            policy: Policy::Lru,
            ttl: None,
            tti: None,
            error_ttl: None,
            refresh_ahead: None,
            reporter: None,
        }
    }
}

impl<A, K, T, E, R: Runtime> fmt::Debug for MemoizedBuilder<A, K, T, E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoizedBuilder")
            .field("max_entries", &self.max_entries)
            .field("policy", &self.policy)
            .field("time_to_live", &self.ttl)
            .field("time_to_idle", &self.tti)
            .field("cache_errors_for", &self.error_ttl)
            .field("refresh_ahead", &self.refresh_ahead)
            .finish_non_exhaustive()
    }
}

impl<A, K, T, E, R> MemoizedBuilder<A, K, T, E, R>
where
    A: Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + Into<BoxError> + 'static,
    R: Runtime,
{
    /// Runs the memoizer (its clock and its tasks) on `rt`.
    pub fn runtime<R2: Runtime>(self, rt: R2) -> MemoizedBuilder<A, K, T, E, R2> {
        MemoizedBuilder {
            f: self.f,
            key: self.key,
            rt: Some(rt),
            max_entries: self.max_entries,
            policy: self.policy,
            ttl: self.ttl,
            tti: self.tti,
            error_ttl: self.error_ttl,
            refresh_ahead: self.refresh_ahead,
            reporter: self.reporter,
        }
    }

    /// Keeps at most `max` results (the seeds' `maxsize`; 0 keeps none, runs are still
    /// shared).
    #[must_use]
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// The eviction policy; [`Policy::Lru`] unless set (the seeds promise LRU).
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// A result expires `ttl` after its run ended; hits do not extend it.
    #[must_use]
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// A result also expires `tti` after its last hit.
    #[must_use]
    pub fn time_to_idle(mut self, tti: Duration) -> Self {
        self.tti = Some(tti);
        self
    }

    /// Caches errors too, each for `ttl` after its run ended (the seeds cache them for
    /// ever unless `evict_on_exception`; here they are not cached unless asked). Panics are
    /// never cached.
    #[must_use]
    pub fn cache_errors_for(mut self, ttl: Duration) -> Self {
        self.error_ttl = Some(ttl);
        self
    }

    /// Refresh-ahead: a hit less than `lead` before its entry expires starts a reload in a
    /// task and is served the current value; at most one reload per key runs; a failed one
    /// keeps the current value until it expires and goes to the error reporter. Needs a
    /// [`time_to_live`](Self::time_to_live) longer than `lead`.
    #[must_use]
    pub fn refresh_ahead(mut self, lead: Duration) -> Self {
        self.refresh_ahead = Some(lead);
        self
    }

    /// Where failed reloads and panics of preemptive runs go (default: the process-wide
    /// handler of `wrangle-rt`).
    #[must_use]
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// Builds the memoizer.
    ///
    /// # Errors
    ///
    /// [`InvalidCacheConfig`]: a zero duration; a refresh-ahead without a longer time to live,
    /// or with a time to idle.
    pub fn build(self) -> Result<Memoized<A, K, T, E, R>, InvalidCacheConfig> {
        let error_ttl = self
            .error_ttl
            .map(|d| positive(d, "cache_errors_for"))
            .transpose()?;
        let refresh_before = match self.refresh_ahead {
            None => 0,
            Some(lead) => {
                positive(lead, "refresh_ahead")?;
                if self.tti.is_some() {
                    return Err(InvalidCacheConfig::RefreshWithIdle);
                }
                match self.ttl {
                    Some(ttl) if lead < ttl => nanos(lead),
                    ttl => {
                        return Err(InvalidCacheConfig::RefreshAhead {
                            refresh_ahead: lead,
                            time_to_live: ttl,
                        });
                    }
                }
            }
        };
        let mut cache = CacheBuilder::new()
            .max_entries(self.max_entries)
            .policy(self.policy);
        if let Some(ttl) = self.ttl {
            cache = cache.time_to_live(ttl);
        }
        if let Some(tti) = self.tti {
            cache = cache.time_to_idle(tti);
        }
        cache.refresh_before = refresh_before;
        cache.entry_ttls = error_ttl.is_some();
        let rt = self.rt.unwrap_or_else(current::<R>);
        let cache = cache.runtime(rt.clone()).build_on(rt)?;
        Ok(Memoized {
            shared: Arc::new(MemoShared {
                cache,
                f: self.f,
                key: self.key,
                error_ttl,
                reporter: self.reporter.unwrap_or_else(ErrorReporter::global),
                token: CancellationToken::new(),
            }),
        })
    }
}
