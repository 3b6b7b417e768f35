//! [`CacheStats`]: a snapshot of a cache's counters.

/// A snapshot of a cache's counters ([`Cache::stats`](crate::Cache::stats),
/// [`Memoized::stats`](crate::Memoized::stats)).
///
/// Lookups split into `hits` (served from the cache) and `misses` (everything else: the
/// caller then loads, waits for a load in progress, or finds a value a load just stored).
/// Loads follow the vocabulary of every wrangle crate: `started` counts loader runs that
/// began, and at any quiet moment
///
/// ```text
/// started == completed + failed + cancelled + running
/// ```
///
/// with `panicked` a part of `failed` and `refreshes` a part of `started`. A load is
/// `cancelled` when its leader was dropped before the end (a waiter then starts a new one).
/// The counters are read one by one, so a snapshot taken while loads run may be off by the
/// loads that moved meanwhile; `running` is derived from the others.
///
/// # Examples
///
/// ```
/// use wrangle_cache::Cache;
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let cache: Cache<u32, String, _> = Cache::with_runtime(rt.clone(), 100);
/// rt.block_on(async {
///     for _ in 0..3 {
///         let v = cache.get_or_insert_with(7, || async { "seven".to_string() }).await.unwrap();
///         assert_eq!(v, "seven");
///     }
/// });
/// let s = cache.stats();
/// assert_eq!((s.hits, s.misses, s.started, s.completed, s.entries), (2, 1, 1, 1, 1));
/// assert_eq!(s.started, s.completed + s.failed + s.cancelled + s.running as u64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups served from the cache.
    pub hits: u64,
    /// Lookups that found no fresh entry.
    pub misses: u64,
    /// Loader runs started (refreshes included).
    pub started: u64,
    /// Loads that ended with a value.
    pub completed: u64,
    /// Loads that ended with an error or a panic.
    pub failed: u64,
    /// Loads that panicked (part of `failed`).
    pub panicked: u64,
    /// Loads whose leader was dropped before the end.
    pub cancelled: u64,
    /// Loads running now.
    pub running: usize,
    /// Refresh-ahead loads started (part of `started`).
    pub refreshes: u64,
    /// Entries the policy removed to make room, or refused because they could never fit.
    pub evictions: u64,
    /// Entries removed by `invalidate`.
    pub invalidations: u64,
    /// Entries held now, expired ones not yet removed included.
    pub entries: usize,
    /// Their total weight (their count when the cache is bounded by entries).
    pub weight: u64,
}
