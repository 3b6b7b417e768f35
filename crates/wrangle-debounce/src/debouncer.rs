//! [`Debouncer`]: one async function shared by every caller, whose calls are coalesced.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use wrangle_rt::{BoxError, DefaultRuntime, ErrorReporter, Runtime};

use crate::engine::{BoxFuture, Engine, Func, Mode, Setup};
use crate::future::{Call, Flush, Shutdown};
use crate::lodash::Edges;
use crate::{DebounceError, InvalidDebounceConfig, check_max_wait, check_window};

/// Wraps an async function shared by all callers, so that calls close together run it once
/// and every coalesced caller gets that run's result (or error, or panic).
///
/// The mode decides which calls run. With a window of 100 ms and calls `a` to `d` (each row
/// shows when the function runs, with whose arguments, and what each caller gets):
///
/// ```text
/// time (ms)       0    50   100  150  200  250
///                 |----|----|----|----|----|
/// calls           a    b   c  d
/// eager           a           d              a b c -> a   d -> d
/// lazy                      c           d    a b c -> c   d -> d
/// eager + lazy    a         c         d      a -> a   b c -> c   d -> d
/// trailing                              d    a b c d -> d
/// ```
///
/// - **eager** (leading edge): a call outside the window of the last run's start runs at
///   once; calls inside it get that run's result without running again.
/// - **lazy** (the seed's fixed window): the first call opens a window of `w`, *not* restarted
///   by later calls; at its end one run with the latest arguments serves every call made in
///   it. The next call opens a new full window.
/// - **eager + lazy**: a call outside the window runs at once; calls inside it wait for one
///   trailing run with the latest arguments at the end of that window.
/// - **trailing** (the classic debounce, lodash's `trailing`): every call restarts the window;
///   one run with the latest arguments once the calls have been quiet for `w`. Add
///   [`eager`](DebouncerBuilder::eager) for lodash's `leading` edge too, and
///   [`max_wait`](DebouncerBuilder::max_wait) to bound how long a steady stream of calls can
///   hold the run back.
///
/// Runs are tasks owned by the debouncer, on its runtime. They may overlap when the function
/// takes longer than the window: the debouncer limits how often the function starts, not how
/// long it runs. A call is registered when [`call`](Debouncer::call) returns, and its
/// arguments win over those of every earlier call coalesced into the same run.
///
/// [`close`](Debouncer::close) refuses new calls; [`shutdown`](Debouncer::shutdown) closes
/// and waits for the pending and running calls; [`flush`](Debouncer::flush) runs a pending
/// call at once. Dropping the debouncer cancels its pending and running calls: their callers
/// get [`DebounceError::Cancelled`].
///
/// # Examples
///
/// A search box: keystrokes within 100 ms are one query, and every keystroke's caller gets
/// the answer of the query that covered it.
///
/// ```
/// use std::time::Duration;
/// use wrangle_debounce::Debouncer;
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// rt.block_on(async {
///     let search = Debouncer::builder(Duration::from_millis(100))
///         .trailing(true)
///         .runtime(rt.clone())
///         .build(|query: String| async move {
///             Ok::<_, String>(format!("results for {query:?}"))
///         })
///         .unwrap();
///     let mut answers = Vec::new();
///     for query in ["r", "ru", "rus", "rust"] {
///         answers.push(search.call(query.to_owned()));
///         rt.sleep(Duration::from_millis(30)).await;
///     }
///     for answer in answers {
///         assert_eq!(answer.await.unwrap(), "results for \"rust\"");
///     }
///     let stats = search.stats();
///     assert_eq!((stats.submitted, stats.started, stats.skipped), (4, 1, 3));
/// });
/// // The last keystroke was at 90 ms; the query ran once the keys had been quiet for 100 ms.
/// assert_eq!(rt.now() - start, Duration::from_millis(190));
/// ```
pub struct Debouncer<A, T, E, R: Runtime = DefaultRuntime> {
    engine: Engine<A, T, E, R>,
    mode: Mode,
    max_wait: Option<Duration>,
}

/// A snapshot of a [`Debouncer`]'s counters.
///
/// Invariants, at every snapshot: `submitted == started + skipped + queued` (every call either
/// supplied the arguments of a run, was coalesced or refused, or still waits), and
/// `started == completed + failed + cancelled + running`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_debounce::Debouncer;
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// rt.block_on(async {
///     let d = Debouncer::builder(Duration::from_millis(10))
///         .eager(true)
///         .build(|x: u32| async move { Ok::<_, std::convert::Infallible>(x) })
///         .unwrap();
///     let calls: Vec<_> = (0..5).map(|i| d.call(i)).collect();
///     for call in calls {
///         assert_eq!(call.await, Ok(0)); // one run, four coalesced calls
///     }
///     let s = d.stats();
///     assert_eq!((s.submitted, s.started, s.completed, s.skipped), (5, 1, 1, 4));
///     assert_eq!(s.submitted, s.started + s.skipped + s.queued as u64);
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DebouncerStats {
    /// Calls made, refused ones included.
    pub submitted: u64,
    /// Runs started.
    pub started: u64,
    /// Runs that returned `Ok`.
    pub completed: u64,
    /// Runs that returned `Err` or panicked.
    pub failed: u64,
    /// Of `failed`, the runs that panicked.
    pub panicked: u64,
    /// Runs cancelled before they finished (by dropping the debouncer).
    pub cancelled: u64,
    /// Calls that did not run on their own arguments: coalesced into another call's run,
    /// refused after `close`, or dropped unrun with the debouncer.
    pub skipped: u64,
    /// Runs in progress.
    pub running: usize,
    /// Calls waiting for a trailing run that has not started.
    pub queued: usize,
}

/// Configures a [`Debouncer`]: its edges, maximum wait, runtime and error reporter.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_debounce::Debouncer;
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// // lodash's `debounce(f, 100, { leading: true, trailing: true, maxWait: 1000 })`.
/// let d = Debouncer::builder(Duration::from_millis(100))
///     .eager(true)
///     .trailing(true)
///     .max_wait(Duration::from_secs(1))
///     .runtime(rt)
///     .build(|n: u64| async move { Ok::<_, std::convert::Infallible>(n) })
///     .unwrap();
/// # drop(d);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until you call `build`"]
pub struct DebouncerBuilder<R = DefaultRuntime> {
    window: Duration,
    eager: bool,
    lazy: bool,
    trailing: bool,
    max_wait: Option<Duration>,
    rt: Option<R>,
    reporter: Option<ErrorReporter>,
    name: Cow<'static, str>,
}

impl Debouncer<(), (), ()> {
    /// A builder for a debouncer with this window. Choose at least one edge:
    /// [`eager`](DebouncerBuilder::eager), [`lazy`](DebouncerBuilder::lazy) or
    /// [`trailing`](DebouncerBuilder::trailing).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_debounce::Debouncer;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let d = Debouncer::builder(Duration::from_millis(100))
    ///         .eager(true)
    ///         .lazy(true)
    ///         .build(|x: u32| async move { Ok::<_, std::convert::Infallible>(x) })
    ///         .unwrap();
    ///     let (a, b, c) = (d.call(1), d.call(2), d.call(3));
    ///     // 1 ran at once; 2 and 3 waited for one trailing run with 3.
    ///     assert_eq!((a.await, b.await, c.await), (Ok(1), Ok(3), Ok(3)));
    /// });
    /// ```
    pub fn builder(window: Duration) -> DebouncerBuilder {
        DebouncerBuilder {
            window,
            eager: false,
            lazy: false,
            trailing: false,
            max_wait: None,
            rt: None,
            reporter: None,
            name: Cow::Borrowed("wrangle_debounce::Debouncer"),
        }
    }
}

impl<R: Runtime> DebouncerBuilder<R> {
    /// The leading edge (the seed's `eager`, lodash's `leading`): a call outside the window
    /// runs at once.
    ///
    /// Alone, the window is timed from the start of the last run, and calls inside it get
    /// that run's result. With [`lazy`](Self::lazy) or [`trailing`](Self::trailing), calls
    /// inside it wait for the trailing run instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = wrangle_debounce::Debouncer::builder(Duration::from_millis(100)).eager(true);
    /// # drop(b);
    /// ```
    pub fn eager(mut self, on: bool) -> Self {
        self.eager = on;
        self
    }

    /// The seed's trailing edge: a fixed window from the first call, not restarted by later
    /// calls, then one run with the latest arguments. Excludes [`trailing`](Self::trailing).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = wrangle_debounce::Debouncer::builder(Duration::from_millis(100)).lazy(true);
    /// # drop(b);
    /// ```
    pub fn lazy(mut self, on: bool) -> Self {
        self.lazy = on;
        self
    }

    /// The classic trailing edge (lodash's `trailing`): every call restarts the window, and
    /// one run with the latest arguments follows once the calls have been quiet for a whole
    /// window. Excludes [`lazy`](Self::lazy).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = wrangle_debounce::Debouncer::builder(Duration::from_millis(100)).trailing(true);
    /// # drop(b);
    /// ```
    pub fn trailing(mut self, on: bool) -> Self {
        self.trailing = on;
        self
    }

    /// With [`trailing`](Self::trailing): the longest a call can be held back by later ones
    /// (lodash's `maxWait`). Must not be shorter than the window.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = wrangle_debounce::Debouncer::builder(Duration::from_millis(100))
    ///     .trailing(true)
    ///     .max_wait(Duration::from_millis(500));
    /// # drop(b);
    /// ```
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = Some(max_wait);
        self
    }

    /// The runtime the debouncer's timers and runs use (default: [`DefaultRuntime::current`]
    /// when [`build`](Self::build) is called).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = wrangle_debounce::Debouncer::builder(Duration::from_millis(100))
    ///     .runtime(wrangle_rt::VirtualRuntime::new());
    /// # drop(b);
    /// ```
    pub fn runtime<R2: Runtime>(self, rt: R2) -> DebouncerBuilder<R2> {
        DebouncerBuilder {
            window: self.window,
            eager: self.eager,
            lazy: self.lazy,
            trailing: self.trailing,
            max_wait: self.max_wait,
            rt: Some(rt),
            reporter: self.reporter,
            name: self.name,
        }
    }

    /// Where failures go that no caller is left to receive (every caller of the run was
    /// dropped). Default: the process-wide handler.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{ErrorReporter, Unhandled};
    ///
    /// let b = wrangle_debounce::Debouncer::builder(Duration::from_millis(100))
    ///     .error_reporter(ErrorReporter::new(|u: Unhandled| eprintln!("{u}")));
    /// # drop(b);
    /// ```
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// The name failures are reported under (default `"wrangle_debounce::Debouncer"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = wrangle_debounce::Debouncer::builder(Duration::from_millis(100)).name("search");
    /// # drop(b);
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Builds the debouncer around `f`.
    ///
    /// `f` is called under `catch_unwind` (while building its future and while it runs); a
    /// panic reaches every coalesced caller as [`DebounceError::Panicked`]. Every coalesced
    /// caller gets a clone of the run's value or error, so both are `Clone`: wrap an error
    /// that is not (such as `std::io::Error`) in an `Arc`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_debounce::{InvalidDebounceConfig, Debouncer};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let err = Debouncer::builder(Duration::from_millis(100))
    ///     .lazy(true)
    ///     .max_wait(Duration::from_secs(1))
    ///     .runtime(rt)
    ///     .build(|x: u8| async move { Ok::<_, std::convert::Infallible>(x) })
    ///     .unwrap_err();
    /// assert_eq!(err, InvalidDebounceConfig::MaxWaitWithoutTrailing);
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidDebounceConfig::ZeroWindow`], [`InvalidDebounceConfig::OutOfRange`] (a window or
    /// maximum wait over [`MAX_WINDOW`](crate::MAX_WINDOW)), [`InvalidDebounceConfig::NoEdge`],
    /// [`InvalidDebounceConfig::LazyAndTrailing`], [`InvalidDebounceConfig::MaxWaitBelowWindow`],
    /// [`InvalidDebounceConfig::MaxWaitWithoutTrailing`].
    ///
    /// # Panics
    ///
    /// Without [`runtime`](Self::runtime), if no runtime is available (see
    /// [`DefaultRuntime::current`]).
    pub fn build<A, T, E, F, Fut>(
        self,
        f: F,
    ) -> Result<Debouncer<A, T, E, R>, InvalidDebounceConfig>
    where
        A: Send + 'static,
        T: Clone + Send + 'static,
        E: Clone + Send + Into<BoxError> + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        check_window(self.window)?;
        if self.lazy && self.trailing {
            return Err(InvalidDebounceConfig::LazyAndTrailing);
        }
        if !(self.eager || self.lazy || self.trailing) {
            return Err(InvalidDebounceConfig::NoEdge);
        }
        if let Some(max_wait) = self.max_wait {
            if !self.trailing {
                return Err(InvalidDebounceConfig::MaxWaitWithoutTrailing);
            }
            check_max_wait(self.window, max_wait)?;
        }
        let mode = match (self.eager, self.lazy, self.trailing) {
            (_, _, true) => Mode::Trailing,
            (true, true, false) => Mode::EagerLazy,
            (true, false, false) => Mode::Eager,
            _ => Mode::Lazy,
        };
        let edges = (mode == Mode::Trailing)
            .then(|| Edges::new(self.window, self.max_wait, self.eager, true));
        let func: Func<A, T, E> = Arc::new(move |args| Box::pin(f(args)) as BoxFuture<_>);
        let rt = self.rt.unwrap_or_else(default_runtime);
        let engine = Engine::new(Setup {
            rt,
            func,
            mode,
            window: self.window,
            edges,
            reporter: self.reporter.unwrap_or_default(),
            origin: self.name,
            to_box: Into::into,
        });
        Ok(Debouncer {
            engine,
            mode,
            max_wait: self.max_wait,
        })
    }
}

/// The runtime of a builder that was given none: it is a `DefaultRuntime` builder (the only
/// kind that can lack one), so the current default runtime is one.
pub(crate) fn default_runtime<R: Runtime>() -> R {
    let rt: Box<dyn Any> = Box::new(DefaultRuntime::current());
    match rt.downcast::<R>() {
        Ok(rt) => *rt,
        Err(_) => unreachable!("only a DefaultRuntime builder can be without a runtime"),
    }
}

impl<A, T, E, R> Debouncer<A, T, E, R>
where
    A: Send + 'static,
    T: Clone + Send + 'static,
    E: Clone + Send + 'static,
    R: Runtime,
{
    /// Calls the function with `args`, coalesced with the calls around it as the mode says.
    ///
    /// The call is registered now; the returned future waits for the result of the run it
    /// was coalesced into. Once the debouncer is closed, the future resolves to
    /// [`DebounceError::Closed`] at once.
    ///
    /// # Examples
    ///
    /// The seed's eager example: with a window of 100 ms, calls at 0, 50, 90 and 120 ms give
    /// `[1, 1, 1, 4]`, from runs at 0 and 120 ms.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_debounce::Debouncer;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let start = rt.now();
    /// let results = rt.block_on(async {
    ///     let d = Debouncer::builder(Duration::from_millis(100))
    ///         .eager(true)
    ///         .build(|x: u32| async move { Ok::<_, std::convert::Infallible>(x) })
    ///         .unwrap();
    ///     let mut calls = Vec::new();
    ///     for (at, x) in [(0, 1), (50, 2), (90, 3), (120, 4)] {
    ///         rt.sleep_until(start + Duration::from_millis(at)).await;
    ///         calls.push(d.call(x));
    ///     }
    ///     let mut results = Vec::new();
    ///     for call in calls {
    ///         results.push(call.await.unwrap());
    ///     }
    ///     results
    /// });
    /// assert_eq!(results, [1, 1, 1, 4]);
    /// ```
    ///
    /// # Cancel safety
    ///
    /// See [`Call`]: dropping it only stops waiting; the run goes on for the other callers.
    pub fn call(&self, args: A) -> Call<T, E> {
        match self.engine.call(args) {
            Some(accepted) => Call::waiting(accepted.slot),
            None => Call::ready(Err(DebounceError::Closed)),
        }
    }

    /// Runs the pending trailing call at once, if there is one, and waits for it to finish.
    /// Resolves to `true` if a call ran.
    ///
    /// # Examples
    ///
    /// See [`Flush`].
    ///
    /// # Cancel safety
    ///
    /// The pending call starts on the first poll; dropping the future after that only stops
    /// waiting. Its callers get its result either way.
    pub fn flush(&self) -> Flush<'_> {
        Flush {
            inner: Box::pin(async move {
                match self.engine.flush() {
                    Some(slot) => {
                        crate::slot::wait_done(slot).await;
                        true
                    }
                    None => false,
                }
            }),
        }
    }

    /// Refuses new calls from now on (they resolve to [`DebounceError::Closed`]); pending
    /// and running calls go on. Never waits. Returns `true` if this call closed it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_debounce::{DebounceError, Debouncer};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let d = Debouncer::builder(Duration::from_millis(100))
    ///         .lazy(true)
    ///         .build(|x: u32| async move { Ok::<_, std::convert::Infallible>(x) })
    ///         .unwrap();
    ///     let before = d.call(1);
    ///     assert!(d.close());
    ///     assert!(!d.close());
    ///     assert_eq!(d.call(2).await, Err(DebounceError::Closed));
    ///     assert_eq!(before.await, Ok(1)); // the pending call still ran
    /// });
    /// ```
    pub fn close(&self) -> bool {
        self.engine.close()
    }

    /// Whether [`close`](Self::close) (or [`shutdown`](Self::shutdown)) happened.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_debounce::Debouncer;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let d = Debouncer::builder(Duration::from_millis(100))
    ///     .eager(true)
    ///     .runtime(rt)
    ///     .build(|x: u32| async move { Ok::<_, std::convert::Infallible>(x) })
    ///     .unwrap();
    /// d.close();
    /// assert!(d.is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.engine.is_closed()
    }

    /// Closes the debouncer, then waits until the pending call has run (at its edge, not
    /// earlier: call [`flush`](Self::flush) first to run it now) and every run has finished.
    ///
    /// # Examples
    ///
    /// See [`Shutdown`].
    ///
    /// # Cancel safety
    ///
    /// The debouncer is closed on the first poll; dropping the future only stops waiting.
    pub fn shutdown(&self) -> Shutdown<'_> {
        Shutdown {
            inner: Box::pin(async move {
                self.engine.close();
                self.engine.idle().await;
            }),
        }
    }

    /// A snapshot of the counters.
    ///
    /// # Examples
    ///
    /// See [`DebouncerStats`].
    #[must_use]
    pub fn stats(&self) -> DebouncerStats {
        let c = self.engine.counters();
        DebouncerStats {
            submitted: c.submitted,
            started: c.started,
            completed: c.completed,
            failed: c.failed,
            panicked: c.panicked,
            cancelled: c.cancelled,
            skipped: c.skipped,
            running: c.running,
            queued: c.queued,
        }
    }
}

impl<A, T, E, R: Runtime> fmt::Debug for Debouncer<A, T, E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Debouncer")
            .field("mode", &self.mode)
            .field("window", &self.engine.window())
            .field("max_wait", &self.max_wait)
            .field("runtime", &self.engine.runtime().name())
            .finish_non_exhaustive()
    }
}
