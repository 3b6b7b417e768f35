//! [`ExitStack::enter_all`]: enter many async resources at once (aiotools' `actxgroup`).

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use wrangle_rt::{PanicPayload, Runtime, TaskOutput};

use crate::lifecycle::exit_stack::{Cleanup, ExitFn, Group};
use crate::loom::lock;
use crate::{ExitOutcome, ExitStack};

type Enter<T, E> = Pin<Box<dyn Future<Output = Result<(T, ExitFn), E>> + Send>>;

impl<R: Runtime> ExitStack<R> {
    /// Enters every resource **concurrently** and registers their exits on the stack as one
    /// cleanup, which exits them **concurrently**, started in reverse order, with every error
    /// kept (aiotools' `actxgroup`, Python's `__aenter__`/`__aexit__` pairs).
    ///
    /// Each resource is a future that enters it and resolves to `Ok((value, exit))`: the value
    /// for the body, and the exit, a closure that gets the [`ExitOutcome`] (as
    /// [`push_exit`](ExitStack::push_exit)'s) and returns the future that leaves the resource.
    /// Resolves to each value or entry error, **in input order**, as `actxgroup` gives its
    /// list: a resource that failed to enter (or panicked, [`EnterError::Panicked`]) has no
    /// exit to run, the others are entered all the same, and the body decides what to do.
    ///
    /// When the stack unwinds, the group's exits start together, the last resource's first,
    /// and the unwind moves on when all have ended; every error of every exit is in the
    /// [`CleanupErrors`](crate::CleanupErrors) (or goes to the error reporter if the stack was
    /// dropped).
    ///
    /// # Examples
    ///
    /// Three connections opened at once (10 ms each, not 30), one of which is refused, and
    /// closed at once at the end:
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    /// use wrangle_task::{ExitOutcome, defer_with_runtime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let closed = Arc::new(Mutex::new(Vec::new()));
    /// let start = rt.now();
    /// let (rt2, closed2) = (rt.clone(), closed.clone());
    /// let opened = rt.block_on(defer_with_runtime(rt.clone(), move |stack| async move {
    ///     let conns = (0..3).map(|port| {
    ///         let (rt, closed) = (rt2.clone(), closed2.clone());
    ///         async move {
    ///             rt.sleep(Duration::from_millis(10)).await; // the handshake
    ///             if port == 1 {
    ///                 return Err(format!("port {port} refused"));
    ///             }
    ///             let exit = move |_: &ExitOutcome<'_>| async move {
    ///                 rt.sleep(Duration::from_millis(5)).await; // the goodbye
    ///                 closed.lock().unwrap().push(port);
    ///             };
    ///             Ok((format!("conn {port}"), exit))
    ///         }
    ///     });
    ///     stack.enter_all(conns).await
    /// }))
    /// .unwrap();
    /// assert_eq!(opened[0].as_ref().unwrap(), "conn 0");
    /// assert_eq!(opened[1].as_ref().unwrap_err().to_string(), "entering failed: port 1 refused");
    /// // Closed together (5 ms), the last one first.
    /// assert_eq!(*closed.lock().unwrap(), [2, 0]);
    /// assert_eq!(rt.now() - start, Duration::from_millis(15));
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the resources still entering (their exits were never
    /// registered); those already entered stay registered and are exited when the stack
    /// unwinds. Await it before the stack unwinds: an unwind (or the stack's drop) that
    /// happens while resources are still entering exits those entered so far, and a resource
    /// that finishes entering afterwards is dropped with its exit unrun.
    pub fn enter_all<I, F, T, E, X, XF>(&self, resources: I) -> EnterAll<T, E>
    where
        I: IntoIterator<Item = F>,
        F: Future<Output = Result<(T, X), E>> + Send + 'static,
        X: FnOnce(&ExitOutcome<'_>) -> XF + Send + 'static,
        XF: Future + Send + 'static,
        XF::Output: TaskOutput,
    {
        let entering: Vec<Option<Enter<T, E>>> = resources
            .into_iter()
            .map(|f| {
                let boxed: Enter<T, E> = Box::pin(async move {
                    let (value, exit) = f.await?;
                    let exit: ExitFn = Box::new(move |outcome: &ExitOutcome<'_>| {
                        let fut = exit(outcome);
                        Box::pin(async move { fut.await.into_result().err().into_iter().collect() })
                            as Cleanup
                    });
                    Ok((value, exit))
                });
                Some(boxed)
            })
            .collect();
        EnterAll {
            results: entering.iter().map(|_| None).collect(),
            entering,
            group: self.push_group(),
        }
    }
}

/// Why a resource given to [`ExitStack::enter_all`] was not entered.
///
/// # Examples
///
/// ```
/// use wrangle_task::EnterError;
///
/// let e: EnterError<&str> = EnterError::Failed("refused");
/// assert_eq!(e.to_string(), "entering failed: refused");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum EnterError<E> {
    /// Entering returned this error.
    Failed(E),
    /// Entering panicked.
    Panicked(PanicPayload),
}

impl<E: fmt::Display> fmt::Display for EnterError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnterError::Failed(e) => write!(f, "entering failed: {e}"),
            EnterError::Panicked(p) => write!(f, "entering panicked: {p}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for EnterError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EnterError::Failed(e) => Some(e),
            EnterError::Panicked(p) => Some(p),
        }
    }
}

/// The future of [`ExitStack::enter_all`]: each resource's value or entry error, in input
/// order.
///
/// # Cancel safety
///
/// Dropping it drops the resources still entering; those already entered are exited when the
/// stack unwinds.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct EnterAll<T, E> {
    entering: Vec<Option<Enter<T, E>>>,
    results: Vec<Option<Result<T, EnterError<E>>>>,
    group: Group,
}

impl<T, E> fmt::Debug for EnterAll<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterAll")
            .field("resources", &self.results.len())
            .field("entering", &self.entering.iter().flatten().count())
            .finish()
    }
}

// Every future is boxed; the values are only moved.
impl<T, E> Unpin for EnterAll<T, E> {}

impl<T, E> Future for EnterAll<T, E> {
    type Output = Vec<Result<T, EnterError<E>>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut pending = false;
        let resources = this.entering.iter_mut().zip(this.results.iter_mut());
        for (index, (slot, result)) in resources.enumerate() {
            let Some(enter) = slot else { continue };
            // User code: a panic is this resource's failure to enter.
            let out = match catch_unwind(AssertUnwindSafe(|| enter.as_mut().poll(cx))) {
                Ok(Poll::Pending) => {
                    pending = true;
                    continue;
                }
                Ok(Poll::Ready(out)) => out.map_err(EnterError::Failed),
                Err(p) => Err(EnterError::Panicked(PanicPayload::new(p))),
            };
            *slot = None;
            *result = Some(match out {
                Ok((value, exit)) => {
                    // Registered the moment it is entered: a later cancel still exits it.
                    lock(&this.group).push((index, exit));
                    Ok(value)
                }
                Err(e) => Err(e),
            });
        }
        if pending {
            return Poll::Pending;
        }
        Poll::Ready(
            this.results
                .iter_mut()
                .map(|r| r.take().expect("EnterAll polled after completion"))
                .collect(),
        )
    }
}
