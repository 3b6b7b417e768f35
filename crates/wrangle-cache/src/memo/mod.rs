//! [`Memoized`]: an async function whose results are cached per key, with preemptive loads
//! and refresh-ahead run as tasks the memoizer owns.

pub(crate) mod builder;
pub(crate) mod finish;
pub(crate) mod task;

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use wrangle_rt::{
    BoxError, CancellationToken, DefaultRuntime, ErrorReporter, PanicPayload, Runtime, Unhandled,
};

use crate::cache::Cache;
use crate::flow::Flow;
use crate::future::Call;
use crate::inner::Lead;
use crate::memo::builder::MemoizedBuilder;
use crate::memo::finish::{CallFinish, LoadFn, LoadFuture, MemoInit, TaskFinish, task_flow};
use crate::memo::task::OwnedLoad;
use crate::stats::CacheStats;

pub(crate) type KeyFn<A, K> = dyn Fn(&A) -> K + Send + Sync;

pub(crate) struct MemoShared<A, K, T, E, R: Runtime> {
    pub(crate) cache: Cache<K, Result<T, E>, R>,
    pub(crate) f: Arc<LoadFn<A, T, E>>,
    pub(crate) key: Box<KeyFn<A, K>>,
    pub(crate) error_ttl: Option<u64>,
    pub(crate) reporter: ErrorReporter,
    pub(crate) token: CancellationToken,
}

impl<A, K, T, E, R: Runtime> Drop for MemoShared<A, K, T, E, R> {
    fn drop(&mut self) {
        // Refreshes and preemptive loads end with their owner (at their next poll).
        self.token.cancel();
    }
}

impl<A, K, T, E, R> MemoShared<A, K, T, E, R>
where
    A: Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + Into<BoxError> + 'static,
    R: Runtime,
{
    fn spawn_lead(
        &self,
        key: &K,
        flight: Arc<crate::flight::Flight<Result<T, E>>>,
        args: A,
        refresh: bool,
    ) {
        let inner = self.cache.inner();
        let lead = Lead::new(Arc::clone(inner), key.clone(), flight);
        let flow = task_flow(
            lead,
            Arc::clone(inner),
            key.clone(),
            MemoInit {
                f: Arc::clone(&self.f),
                args,
            },
            TaskFinish {
                reporter: self.reporter.clone(),
                refresh,
                error_ttl: self.error_ttl,
            },
        );
        inner
            .rt
            .spawn(OwnedLoad::new(self.token.clone(), flow))
            .detach();
    }

    /// The key of `args`; the key function's panic, caught.
    pub(crate) fn key_of(&self, args: &A) -> Result<K, PanicPayload> {
        catch_unwind(AssertUnwindSafe(|| (self.key)(args))).map_err(PanicPayload::new)
    }

    /// Refresh-ahead: reloads `key` in a task unless a load of it runs already.
    pub(crate) fn refresh(&self, key: &K, args: A) {
        if let Some(flight) = self.cache.inner().lead_refresh(key) {
            self.spawn_lead(key, flight, args, true);
        }
    }
}

/// An async function whose results are cached per key: concurrent calls with one key share
/// one run, results live for a time to live, the least recently used go first.
///
/// - The key comes from the arguments through a key function: the arguments themselves
///   ([`Memoized::builder`]) or what [`keyed_builder`](Memoized::keyed_builder)'s `key`
///   returns (leave out what must not matter, such as a request id, or keep a `self`).
/// - [`call`](Memoized::call) runs the function on a miss, in the caller's task; concurrent
///   callers of the key wait for that run, and a caller dropped mid-run hands it over to
///   them ([`Cache::get_or_insert_with`]'s single flight).
/// - [`start`](Memoized::start) is the preemptive variant (async-utils' `taskcache`): a miss
///   starts the run at once as a task, which finishes and fills the cache even if nobody
///   awaits it.
/// - Errors are not cached unless [`cache_errors_for`](MemoizedBuilder::cache_errors_for)
///   says for how long; a panic of the function is an error for every caller and is never
///   cached.
/// - With [`refresh_ahead`](MemoizedBuilder::refresh_ahead), a hit in the last stretch of an
///   entry's life starts a reload in a task and is served the current value meanwhile; at
///   most one reload per key runs; a failed reload keeps the current value until it expires
///   and goes to the [`error_reporter`](MemoizedBuilder::error_reporter).
///
/// The memoizer owns its tasks: dropping the last clone of it cancels the reloads and
/// preemptive runs still going.
///
/// ```text
/// time:  0        load ends at 10   refresh window from 50      expiry at 70
/// call:  |--load--|  hit  hit      hit(stale; starts reload)  hit(new value)
/// task:                              |--reload--| stores, TTL restarts
/// ```
///
/// # Examples
///
/// The seed's `lru_cache(maxsize=2)`: with exact LRU a hit keeps its key, so calls 1, 2, 1, 3
/// run the function three times and key 1 is still cached.
///
/// ```
/// use std::convert::Infallible;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use wrangle_cache::Memoized;
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let runs = Arc::new(AtomicU32::new(0));
/// let square = Memoized::builder({
///     let runs = runs.clone();
///     move |x: u64| {
///         runs.fetch_add(1, Ordering::Relaxed);
///         async move { Ok::<_, Infallible>(x * x) }
///     }
/// })
/// .max_entries(2)
/// .runtime(rt.clone())
/// .build()
/// .unwrap();
///
/// rt.block_on(async {
///     for x in [1, 2, 1, 3] {
///         assert_eq!(square.call(x).await.unwrap(), x * x);
///     }
///     assert_eq!(runs.load(Ordering::Relaxed), 3);
///     square.call(1).await.unwrap(); // still cached
///     assert_eq!(runs.load(Ordering::Relaxed), 3);
/// });
/// ```
pub struct Memoized<A, K, T, E, R: Runtime = DefaultRuntime> {
    pub(crate) shared: Arc<MemoShared<A, K, T, E, R>>,
}

impl<A, K, T, E, R: Runtime> Clone for Memoized<A, K, T, E, R> {
    fn clone(&self) -> Self {
        Memoized {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<A, K, T, E, R: Runtime> fmt::Debug for Memoized<A, K, T, E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memoized")
            .field("cache", &self.shared.cache)
            .finish_non_exhaustive()
    }
}

impl<A, T, E> Memoized<A, A, T, E>
where
    A: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// Configures a memoizer of `f` keyed by its arguments (a tuple for several).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_cache::Memoized;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let add = Memoized::builder(|(a, b): (i64, i64)| async move { a.checked_add(b).ok_or("overflow") })
    ///     .time_to_live(Duration::from_secs(60))
    ///     .runtime(rt.clone())
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async {
    ///     assert_eq!(add.call((2, 3)).await.unwrap(), 5);
    ///     assert!(add.call((i64::MAX, 1)).await.is_err());
    /// });
    /// ```
    pub fn builder<F, Fut>(f: F) -> MemoizedBuilder<A, A, T, E>
    where
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        Memoized::keyed_builder(A::clone, f)
    }
}

impl<A, K, T, E> Memoized<A, K, T, E> {
    /// Configures a memoizer of `f` whose cache key is `key(&args)`.
    ///
    /// # Examples
    ///
    /// Only the path matters; the trace id does not split the cache.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use wrangle_cache::Memoized;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// struct Request { path: String, trace_id: u64 }
    ///
    /// let rt = VirtualRuntime::new();
    /// let get = Memoized::keyed_builder(
    ///     |r: &Request| r.path.clone(),
    ///     |r: Request| async move {
    ///         Ok::<_, Infallible>(format!("{} fetched by trace {}", r.path, r.trace_id))
    ///     },
    /// )
    /// .runtime(rt.clone())
    /// .build()
    /// .unwrap();
    /// rt.block_on(async {
    ///     let first = get.call(Request { path: "/a".into(), trace_id: 1 }).await.unwrap();
    ///     let second = get.call(Request { path: "/a".into(), trace_id: 2 }).await.unwrap();
    ///     assert_eq!(second, first); // "/a fetched by trace 1"
    /// });
    /// assert_eq!(get.stats().started, 1);
    /// ```
    pub fn keyed_builder<KF, F, Fut>(key: KF, f: F) -> MemoizedBuilder<A, K, T, E>
    where
        KF: Fn(&A) -> K + Send + Sync + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let f: Arc<LoadFn<A, T, E>> = Arc::new(move |args| Box::pin(f(args)) as LoadFuture<T, E>);
        MemoizedBuilder::new(f, Box::new(key))
    }
}

impl<A, K, T, E, R> Memoized<A, K, T, E, R>
where
    A: Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + Into<BoxError> + 'static,
    R: Runtime,
{
    /// Calls the function with `args`, or returns the cached result for their key.
    ///
    /// On a miss the function runs in this caller's task; concurrent callers of the key
    /// wait for that run. In the refresh window of an entry (see
    /// [`refresh_ahead`](MemoizedBuilder::refresh_ahead)), a hit also starts a reload.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_cache::{LoadError, Memoized};
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let lookup = Memoized::builder(|name: String| async move {
    ///     if name.is_empty() { Err("empty name") } else { Ok(name.len()) }
    /// })
    /// .cache_errors_for(Duration::from_secs(5))
    /// .runtime(rt.clone())
    /// .build()
    /// .unwrap();
    /// rt.block_on(async {
    ///     assert_eq!(lookup.call("abc".into()).await.unwrap(), 3);
    ///     assert!(matches!(lookup.call(String::new()).await, Err(LoadError::Failed("empty name"))));
    ///     lookup.call(String::new()).await.unwrap_err(); // the cached error
    ///     assert_eq!(lookup.stats().started, 2);
    ///     rt.sleep(Duration::from_secs(5)).await;
    ///     lookup.call(String::new()).await.unwrap_err(); // expired: runs again
    ///     assert_eq!(lookup.stats().started, 3);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// The function's error ([`LoadError::Failed`](crate::LoadError::Failed)), or its panic
    /// ([`LoadError::Panicked`](crate::LoadError::Panicked)); a panic of the key function is
    /// caught too and returned the same way (nothing runs, nothing is cached).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped waiter loses nothing, a dropped caller that was running the
    /// function hands the run over to the waiters (who run it anew).
    pub fn call(&self, args: A) -> Call<'_, A, K, T, E, R> {
        let key = match self.shared.key_of(&args) {
            Ok(key) => key,
            Err(payload) => return Call::panicked(payload),
        };
        self.call_keyed(key, args)
    }

    fn call_keyed(&self, key: K, args: A) -> Call<'_, A, K, T, E, R> {
        let init = MemoInit {
            f: &*self.shared.f,
            args,
        };
        let fin = CallFinish {
            memo: &*self.shared,
        };
        Call::new(Flow::new(&**self.shared.cache.inner(), key, init, fin))
    }

    /// The preemptive call (async-utils' `taskcache`): on a miss, starts the function at
    /// once as a task the memoizer owns, and returns a future of its result. The run goes
    /// on, and fills the cache, whether or not the future is awaited.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use std::time::Duration;
    /// use wrangle_cache::Memoized;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let slow = Memoized::builder({
    ///     let rt = rt.clone();
    ///     move |x: u32| {
    ///         let rt = rt.clone();
    ///         async move {
    ///             rt.sleep(Duration::from_millis(100)).await;
    ///             Ok::<_, Infallible>(x + 1)
    ///         }
    ///     }
    /// })
    /// .runtime(rt.clone())
    /// .build()
    /// .unwrap();
    /// rt.block_on(async {
    ///     drop(slow.start(1)); // nobody awaits: the run goes on anyway
    ///     rt.sleep(Duration::from_millis(100)).await;
    ///     let before = rt.now();
    ///     assert_eq!(slow.call(1).await.unwrap(), 2); // a hit, at once
    ///     assert_eq!(rt.now(), before);
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// As [`call`](Memoized::call). When nobody awaits a failing preemptive run, its error
    /// is lost unless cached; a panic goes to the error reporter.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future leaves the run going.
    pub fn start(&self, args: A) -> Call<'_, A, K, T, E, R>
    where
        A: Clone,
    {
        let key = match self.shared.key_of(&args) {
            Ok(key) => key,
            Err(payload) => return Call::panicked(payload),
        };
        if let Some(flight) = self.shared.cache.inner().lead_if_missing(&key) {
            self.shared.spawn_lead(&key, flight, args.clone(), false);
        }
        self.call_keyed(key, args)
    }

    /// Forgets the cached result for `args`' key; whether there was one. A run in
    /// progress still answers its callers but is not stored. A panic of the key function
    /// is caught and reported to the error reporter (and nothing is forgotten).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use wrangle_cache::Memoized;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let m = Memoized::builder(|x: u8| async move { Ok::<_, Infallible>(x) })
    ///     .runtime(rt.clone())
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async {
    ///     m.call(1).await.unwrap();
    ///     assert!(m.invalidate(&1));
    ///     m.call(1).await.unwrap();
    /// });
    /// assert_eq!(m.stats().started, 2);
    /// ```
    pub fn invalidate(&self, args: &A) -> bool {
        match self.shared.key_of(args) {
            Ok(key) => self.shared.cache.invalidate(&key),
            Err(payload) => {
                self.shared.reporter.report(Unhandled::new(
                    "wrangle_cache::Memoized::invalidate",
                    payload,
                ));
                false
            }
        }
    }

    /// Forgets every cached result (the seeds' `cache_clear`).
    pub fn clear(&self) {
        self.shared.cache.clear();
    }

    /// A snapshot of the counters ([`CacheStats`]; `loads` counts runs of the function).
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        self.shared.cache.stats()
    }
}
