//! [`AsyncDebouncer`]: a fire-and-forget debouncer with a leading and a trailing edge.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use wrangle_rt::{BoxError, DefaultRuntime, ErrorReporter, Runtime};

use crate::InvalidDebounceConfig;
use crate::debouncer::default_runtime;
use crate::engine::{BoxFuture, Engine, Func, Mode, Setup};
use crate::error::check_window;
use crate::future::{Flush, Shutdown};

/// A fire-and-forget debouncer (the seed's `AsyncDebouncer`): a call outside the window runs
/// the function at once; a call inside it is deferred to one trailing run with the latest
/// arguments, a window after the first deferred call (later calls do not move it).
///
/// ```text
/// time (ms)   0         10                25
/// calls       1  2  3                     4
/// runs        1         3                 4
/// call says   ran, deferred, deferred     ran
/// ```
///
/// Nobody awaits a run, so a run that fails or panics goes to the
/// [error reporter](AsyncDebouncerBuilder::error_reporter), and the debouncer keeps working
/// (upstream stays stuck for ever after a failing trailing call).
/// [`flush`](AsyncDebouncer::flush) runs a pending trailing call at once.
/// [`shutdown`](AsyncDebouncer::shutdown) flushes, waits for every run, and forgets the
/// window: as upstream, the debouncer can be used again afterwards (so, unlike most wrangle
/// types, it has no `close`). Dropping it cancels its pending and running calls.
///
/// # Examples
///
/// The seed's test: with a window of 10 ms, calls 1, 2, 3 say ran, deferred, deferred; the
/// trailing call runs with 3 at 10 ms; call 4 at 25 ms runs at once.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use wrangle_debounce::{AsyncDebouncer, Called};
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// let start = rt.now();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// rt.block_on(async {
///     let log = Arc::clone(&seen);
///     let clock = rt.clone();
///     let d = AsyncDebouncer::with_runtime(rt.clone(), Duration::from_millis(10), move |x: u32| {
///         log.lock().unwrap().push((x, clock.now() - start));
///         async { Ok::<(), std::io::Error>(()) }
///     })
///     .unwrap();
///     assert_eq!(d.call(1), Called::Ran);
///     assert_eq!(d.call(2), Called::Deferred);
///     assert_eq!(d.call(3), Called::Deferred);
///     rt.sleep(Duration::from_millis(25)).await;
///     assert_eq!(d.call(4), Called::Ran);
///     d.shutdown().await;
/// });
/// let ms = Duration::from_millis;
/// assert_eq!(*seen.lock().unwrap(), [(1, ms(0)), (3, ms(10)), (4, ms(25))]);
/// ```
pub struct AsyncDebouncer<A, R: Runtime = DefaultRuntime> {
    engine: Engine<A, (), SharedError, R>,
}

/// A run's error, shareable as the engine wants (nobody but the reporter ever sees it).
type SharedError = Arc<dyn std::error::Error + Send + Sync>;

/// What [`AsyncDebouncer::call`] did with a call.
///
/// # Examples
///
/// ```
/// use wrangle_debounce::Called;
///
/// assert!(Called::Deferred.is_deferred());
/// assert!(!Called::Ran.is_deferred());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Called {
    /// The call was outside the window: its run started at once.
    Ran,
    /// The call was inside the window: its arguments wait for the trailing run (unless a
    /// later call replaces them).
    Deferred,
}

impl Called {
    /// Whether the call was deferred (the seed's return value).
    ///
    /// # Examples
    ///
    /// See [`Called`].
    #[must_use]
    pub fn is_deferred(self) -> bool {
        self == Called::Deferred
    }
}

/// A snapshot of an [`AsyncDebouncer`]'s counters.
///
/// Invariants, at every snapshot: `submitted == started + skipped + queued` and
/// `started == completed + failed + cancelled + running`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_debounce::AsyncDebouncer;
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// rt.block_on(async {
///     let d = AsyncDebouncer::new(Duration::from_millis(10), |_: u32| async {
///         Ok::<(), std::io::Error>(())
///     })
///     .unwrap();
///     for i in 0..4 {
///         d.call(i);
///     }
///     assert_eq!(d.stats().queued, 3); // 1, 2 and 3 wait for one trailing run
///     d.shutdown().await;
///     let s = d.stats();
///     assert_eq!((s.submitted, s.started, s.completed, s.skipped), (4, 2, 2, 2));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AsyncDebouncerStats {
    /// Calls made.
    pub submitted: u64,
    /// Runs started.
    pub started: u64,
    /// Runs that returned `Ok`.
    pub completed: u64,
    /// Runs that returned `Err` or panicked (each reported to the error reporter).
    pub failed: u64,
    /// Of `failed`, the runs that panicked.
    pub panicked: u64,
    /// Runs cancelled before they finished (by dropping the debouncer).
    pub cancelled: u64,
    /// Calls whose arguments were replaced by a later call's before the trailing run, or
    /// dropped unrun with the debouncer.
    pub skipped: u64,
    /// Runs in progress.
    pub running: usize,
    /// Calls waiting for the trailing run.
    pub queued: usize,
}

/// Configures an [`AsyncDebouncer`]: runtime, error reporter and name.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_debounce::AsyncDebouncer;
/// use wrangle_rt::{ErrorReporter, Unhandled};
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let d = AsyncDebouncer::builder(Duration::from_millis(10))
///     .runtime(rt)
///     .name("autosave")
///     .error_reporter(ErrorReporter::new(|u: Unhandled| eprintln!("{u}")))
///     .build(|_doc: String| async { Ok::<(), std::io::Error>(()) })
///     .unwrap();
/// # drop(d);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until you call `build`"]
pub struct AsyncDebouncerBuilder<R = DefaultRuntime> {
    window: Duration,
    rt: Option<R>,
    reporter: Option<ErrorReporter>,
    name: Cow<'static, str>,
}

impl AsyncDebouncer<()> {
    /// A builder for a debouncer with this window.
    ///
    /// # Examples
    ///
    /// See [`AsyncDebouncerBuilder`].
    pub fn builder(window: Duration) -> AsyncDebouncerBuilder {
        AsyncDebouncerBuilder {
            window,
            rt: None,
            reporter: None,
            name: Cow::Borrowed("wrangle_debounce::AsyncDebouncer"),
        }
    }
}

impl<R: Runtime> AsyncDebouncerBuilder<R> {
    /// The runtime (default: [`DefaultRuntime::current`] when [`build`](Self::build) is
    /// called).
    ///
    /// # Examples
    ///
    /// See [`AsyncDebouncerBuilder`].
    pub fn runtime<R2: Runtime>(self, rt: R2) -> AsyncDebouncerBuilder<R2> {
        AsyncDebouncerBuilder {
            window: self.window,
            rt: Some(rt),
            reporter: self.reporter,
            name: self.name,
        }
    }

    /// Where failing and panicking runs are reported (default: the process-wide handler).
    ///
    /// # Examples
    ///
    /// See [`AsyncDebouncerBuilder`].
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// The name failures are reported under (default `"wrangle_debounce::AsyncDebouncer"`).
    ///
    /// # Examples
    ///
    /// See [`AsyncDebouncerBuilder`].
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Builds the debouncer around `f`, which is called under `catch_unwind` (while building
    /// its future and while it runs).
    ///
    /// # Examples
    ///
    /// See [`AsyncDebouncerBuilder`].
    ///
    /// # Errors
    ///
    /// [`InvalidDebounceConfig::ZeroWindow`] or [`InvalidDebounceConfig::OutOfRange`].
    ///
    /// # Panics
    ///
    /// Without [`runtime`](Self::runtime), if no runtime is available (see
    /// [`DefaultRuntime::current`]).
    pub fn build<A, E, F, Fut>(self, f: F) -> Result<AsyncDebouncer<A, R>, InvalidDebounceConfig>
    where
        A: Send + 'static,
        E: Into<BoxError> + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        check_window(self.window)?;
        let func: Func<A, (), SharedError> = Arc::new(move |args| {
            let run = f(args);
            Box::pin(async move { run.await.map_err(|e| SharedError::from(e.into())) })
                as BoxFuture<_>
        });
        let rt = self.rt.unwrap_or_else(default_runtime);
        Ok(AsyncDebouncer {
            engine: Engine::new(Setup {
                rt,
                func,
                mode: Mode::Deferred,
                window: self.window,
                edges: None,
                reporter: self.reporter.unwrap_or_default(),
                origin: self.name,
                to_box: |e| Box::new(e),
            }),
        })
    }
}

impl<A: Send + 'static> AsyncDebouncer<A> {
    /// A debouncer on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// See [`AsyncDebouncerStats`].
    ///
    /// # Errors
    ///
    /// [`InvalidDebounceConfig::ZeroWindow`] or [`InvalidDebounceConfig::OutOfRange`].
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    pub fn new<E, F, Fut>(window: Duration, f: F) -> Result<Self, InvalidDebounceConfig>
    where
        E: Into<BoxError> + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        AsyncDebouncer::builder(window).build(f)
    }
}

impl<A: Send + 'static, R: Runtime> AsyncDebouncer<A, R> {
    /// A debouncer on `rt`.
    ///
    /// # Examples
    ///
    /// See [`AsyncDebouncer`].
    ///
    /// # Errors
    ///
    /// [`InvalidDebounceConfig::ZeroWindow`] or [`InvalidDebounceConfig::OutOfRange`].
    pub fn with_runtime<E, F, Fut>(
        rt: R,
        window: Duration,
        f: F,
    ) -> Result<Self, InvalidDebounceConfig>
    where
        E: Into<BoxError> + 'static,
        F: Fn(A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        AsyncDebouncer::builder(window).runtime(rt).build(f)
    }
}

impl<A, R> AsyncDebouncer<A, R>
where
    A: Send + 'static,
    R: Runtime,
{
    /// Calls the function with `args` now ([`Called::Ran`]), or defers the call to the
    /// trailing run ([`Called::Deferred`]). Never waits.
    ///
    /// # Examples
    ///
    /// See [`AsyncDebouncer`].
    pub fn call(&self, args: A) -> Called {
        match self.engine.call(args) {
            Some(accepted) if accepted.ran => Called::Ran,
            _ => Called::Deferred,
        }
    }

    /// Runs the pending trailing call at once, if there is one, and waits for it to finish.
    /// Resolves to `true` if a call ran.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_debounce::AsyncDebouncer;
    /// use wrangle_rt::Runtime;
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// let start = rt.now();
    /// rt.block_on(async {
    ///     let d = AsyncDebouncer::new(Duration::from_secs(60), |_: u32| async {
    ///         Ok::<(), std::io::Error>(())
    ///     })
    ///     .unwrap();
    ///     d.call(1); // runs
    ///     d.call(2); // deferred for a minute
    ///     assert!(d.flush().await);
    ///     assert!(!d.flush().await); // nothing left
    /// });
    /// assert_eq!(rt.now(), start);
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The pending call starts on the first poll; dropping the future after that only stops
    /// waiting for it.
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

    /// Flushes the pending call, waits for every run to finish, then forgets the window: the
    /// next call runs at once. The debouncer stays usable.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_debounce::{AsyncDebouncer, Called};
    ///
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let d = AsyncDebouncer::new(Duration::from_secs(1), |_: u32| async {
    ///         Ok::<(), std::io::Error>(())
    ///     })
    ///     .unwrap();
    ///     assert_eq!(d.call(1), Called::Ran);
    ///     assert_eq!(d.call(2), Called::Deferred);
    ///     d.shutdown().await; // runs 2 now
    ///     assert_eq!(d.call(3), Called::Ran); // a fresh window
    ///     d.shutdown().await;
    ///     assert_eq!(d.stats().completed, 3);
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// The pending call starts on the first poll; dropping the future after that only stops
    /// waiting (and the window is then not forgotten).
    pub fn shutdown(&self) -> Shutdown<'_> {
        Shutdown {
            inner: Box::pin(async move {
                self.engine.flush();
                self.engine.idle().await;
                // Calls made while waiting may have deferred a new run: flush until none is
                // left, so that nothing stays pending behind a forgotten window.
                while self.engine.has_pending() {
                    self.engine.flush();
                    self.engine.idle().await;
                }
                self.engine.reset_window();
            }),
        }
    }

    /// A snapshot of the counters.
    ///
    /// # Examples
    ///
    /// See [`AsyncDebouncerStats`].
    #[must_use]
    pub fn stats(&self) -> AsyncDebouncerStats {
        let c = self.engine.counters();
        AsyncDebouncerStats {
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

impl<A, R: Runtime> fmt::Debug for AsyncDebouncer<A, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncDebouncer")
            .field("window", &self.engine.window())
            .field("runtime", &self.engine.runtime().name())
            .finish_non_exhaustive()
    }
}
