//! The named futures of this crate's async operations.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use event_listener::EventListener;

use crate::DebounceError;
use crate::slot::Slot;

/// The result of one [`Debouncer::call`](crate::Debouncer::call): the value (or error) of the
/// run the call was coalesced into.
///
/// The call itself was registered when `call` returned; this future only waits for its run.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_debounce::Debouncer;
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// rt.block_on(async {
///     let d = Debouncer::builder(Duration::from_millis(50))
///         .lazy(true)
///         .build(|x: u32| async move { Ok::<_, std::convert::Infallible>(x) })
///         .unwrap();
///     // Both calls are registered now, in this order; the run uses the last arguments.
///     let first = d.call(1);
///     let second = d.call(2);
///     assert_eq!((first.await, second.await), (Ok(2), Ok(2)));
/// });
/// ```
///
/// # Cancel safety
///
/// Dropping a `Call` only stops waiting: the run it was coalesced into goes on for the other
/// callers (it belongs to the debouncer, not to any caller), and no other call is affected.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Call<T, E> {
    state: CallState<T, E>,
}

enum CallState<T, E> {
    Ready(Option<Result<T, DebounceError<E>>>),
    Waiting {
        slot: Arc<Slot<T, E>>,
        listener: Option<EventListener>,
    },
}

impl<T, E> Call<T, E> {
    pub(crate) fn ready(result: Result<T, DebounceError<E>>) -> Self {
        Call {
            state: CallState::Ready(Some(result)),
        }
    }

    pub(crate) fn waiting(slot: Arc<Slot<T, E>>) -> Self {
        Call {
            state: CallState::Waiting {
                slot,
                listener: None,
            },
        }
    }
}

// The value is never pinned: it is moved out whole.
impl<T, E> Unpin for Call<T, E> {}

impl<T: Clone, E: Clone> Future for Call<T, E> {
    type Output = Result<T, DebounceError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                CallState::Ready(result) => {
                    return Poll::Ready(result.take().expect("`Call` polled after completion"));
                }
                CallState::Waiting { slot, listener } => {
                    if let Some(result) = slot.result() {
                        this.state = CallState::Ready(None);
                        return Poll::Ready(result);
                    }
                    match listener {
                        // Listen, then look again: a result stored in between is not missed.
                        None => *listener = Some(slot.listen()),
                        Some(l) => {
                            if Pin::new(l).poll(cx).is_pending() {
                                return Poll::Pending;
                            }
                            *listener = None;
                        }
                    }
                }
            }
        }
    }
}

impl<T, E> fmt::Debug for Call<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            CallState::Ready(Some(_)) => "ready",
            CallState::Ready(None) => "done",
            CallState::Waiting { slot, .. } if slot.is_complete() => "ready",
            CallState::Waiting { .. } => "waiting",
        };
        f.debug_struct("Call").field("state", &state).finish()
    }
}

/// The future of [`Debouncer::flush`](crate::Debouncer::flush) and
/// [`AsyncDebouncer::flush`](crate::AsyncDebouncer::flush): `true` if a pending call ran.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_debounce::Debouncer;
/// use wrangle_rt::Runtime;
///
/// let rt = wrangle_rt::VirtualRuntime::new();
/// let start = rt.now();
/// rt.block_on(async {
///     let d = Debouncer::builder(Duration::from_secs(60))
///         .lazy(true)
///         .build(|x: u32| async move { Ok::<_, std::convert::Infallible>(x) })
///         .unwrap();
///     let call = d.call(7);
///     assert!(d.flush().await); // no need to wait the minute out
///     assert_eq!(call.await, Ok(7));
/// });
/// assert_eq!(rt.now(), start);
/// ```
///
/// # Cancel safety
///
/// The pending call is started on the first poll; dropping the future after that only stops
/// waiting for it to finish. Dropped before its first poll, it does nothing.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Flush<'a> {
    pub(crate) inner: Pin<Box<dyn Future<Output = bool> + Send + 'a>>,
}

impl Future for Flush<'_> {
    type Output = bool;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Flush<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flush").finish_non_exhaustive()
    }
}

/// The future of [`Debouncer::shutdown`](crate::Debouncer::shutdown) and
/// [`AsyncDebouncer::shutdown`](crate::AsyncDebouncer::shutdown).
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
///         .lazy(true)
///         .build(|x: u32| async move { Ok::<_, std::convert::Infallible>(x) })
///         .unwrap();
///     let call = d.call(1);
///     d.shutdown().await; // waits for the pending run at 100 ms
///     assert_eq!(d.stats().completed, 1);
///     assert_eq!(call.await, Ok(1));
/// });
/// ```
///
/// # Cancel safety
///
/// The first poll does what cannot be undone (closing, or flushing); dropping the future
/// after that only stops waiting. The runs go on.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Shutdown<'a> {
    pub(crate) inner: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
}

impl Future for Shutdown<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Shutdown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown").finish_non_exhaustive()
    }
}
