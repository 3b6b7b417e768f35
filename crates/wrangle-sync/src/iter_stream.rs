//! [`IterStream`]: a blocking `Iterator` run on a blocking thread, consumed as a `Stream`.

use std::collections::VecDeque;
use std::fmt;
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_lite::Stream;
use wrangle_rt::{DefaultRuntime, Runtime};

use crate::loom::{Mutex, lock};

type Payload = Box<dyn std::any::Any + Send + 'static>;

/// A blocking [`Iterator`] driven on a blocking thread ([`Runtime::spawn_blocking`]) and
/// streamed asynchronously, with the producer at most `ahead` items ahead of the consumer.
///
/// - Back-pressure: the iterator's `next` is called only while fewer than `ahead` items are
///   produced and not yet consumed (default 1, as async-utils' `sync_to_async_gen`).
/// - A panic in the iterator reaches the consumer **after** the items produced before it: the
///   stream yields them, then re-raises the panic from `poll_next`. Errors of a fallible
///   iterator (`Item = Result<T, E>`) are items and keep their place.
/// - Dropping the stream early stops the producer quietly: buffered items are dropped and
///   `next` is not called again (a `next` call already running finishes first, since blocking
///   code cannot be interrupted).
/// - While it has no room the producer holds no thread: each run of `next` calls is a
///   blocking job of its own, so on virtual time the clock is free to advance meanwhile.
///
/// # Examples
///
/// ```
/// use futures_lite::StreamExt;
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_sync::stream::IterStream;
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let lines = ["a", "b", "c"].into_iter().map(str::to_uppercase); // imagine blocking I/O
///     let items: Vec<String> = IterStream::new(lines).collect().await;
///     assert_eq!(items, ["A", "B", "C"]);
/// });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct IterStream<T> {
    shared: Arc<Shared<T>>,
}

type Spawn = Box<dyn Fn(Box<dyn FnOnce() + Send>) + Send + Sync>;
type BoxIter<T> = Box<dyn Iterator<Item = T> + Send>;

struct Shared<T> {
    state: Mutex<State<T>>,
    spawn: Spawn,
}

struct State<T> {
    buf: VecDeque<T>,
    /// Items the producer may still produce before the consumer takes one.
    credits: usize,
    /// The iterator, while no blocking job holds it.
    idle: Option<BoxIter<T>>,
    end: End,
    stopped: bool,
    waker: Option<Waker>,
}

enum End {
    Running,
    Finished,
    Panicked(Payload),
    Reported,
}

impl<T: Send + 'static> IterStream<T> {
    /// Streams `iter`, at most one item ahead, on [`DefaultRuntime::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::StreamExt;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let mut s = wrangle_sync::stream::IterStream::new(0..3);
    ///     assert_eq!(s.next().await, Some(0));
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    pub fn new<I>(iter: I) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        IterStream::with_runtime(DefaultRuntime::current(), iter, NonZeroUsize::MIN)
    }

    /// Streams `iter` on blocking threads of `rt`, at most `ahead` items ahead.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// use futures_lite::StreamExt;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let s = wrangle_sync::stream::IterStream::with_runtime(rt.clone(), 0..100, NonZeroUsize::new(8).unwrap());
    /// assert_eq!(rt.block_on(s.count()), 100);
    /// ```
    pub fn with_runtime<R, I>(rt: R, iter: I, ahead: NonZeroUsize) -> Self
    where
        R: Runtime,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buf: VecDeque::with_capacity(ahead.get().min(1024)),
                credits: ahead.get(),
                idle: None,
                end: End::Running,
                stopped: false,
                waker: None,
            }),
            // Blocking work cannot be cancelled: jobs are detached and watch `stopped`.
            spawn: Box::new(move |job| rt.spawn_blocking(job).detach()),
        });
        start_job(&shared, Box::new(iter.into_iter()));
        IterStream { shared }
    }
}

fn start_job<T: Send + 'static>(shared: &Arc<Shared<T>>, iter: BoxIter<T>) {
    let producer = Arc::clone(shared);
    (shared.spawn)(Box::new(move || produce(&producer, iter)));
}

/// One blocking job: calls `next` while there is room, then parks the iterator.
fn produce<T>(shared: &Shared<T>, mut iter: BoxIter<T>) {
    loop {
        {
            let mut st = lock(&shared.state);
            if st.stopped {
                return;
            }
            if st.credits == 0 {
                st.idle = Some(iter);
                return;
            }
            st.credits -= 1;
        }
        let next = catch_unwind(AssertUnwindSafe(|| iter.next()));
        let (waker, last) = {
            let mut st = lock(&shared.state);
            if st.stopped {
                return;
            }
            let last = match next {
                Ok(Some(item)) => {
                    st.buf.push_back(item);
                    false
                }
                Ok(None) => {
                    st.end = End::Finished;
                    true
                }
                Err(payload) => {
                    st.end = End::Panicked(payload);
                    true
                }
            };
            (st.waker.take(), last)
        };
        if let Some(w) = waker {
            w.wake();
        }
        if last {
            return;
        }
    }
}

impl<T: Send + 'static> Stream for IterStream<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut st = lock(&self.shared.state);
        if let Some(item) = st.buf.pop_front() {
            st.credits += 1;
            let parked = st.idle.take();
            drop(st);
            if let Some(iter) = parked {
                start_job(&self.shared, iter);
            }
            return Poll::Ready(Some(item));
        }
        match std::mem::replace(&mut st.end, End::Reported) {
            End::Running => {
                st.end = End::Running;
                if !st.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    st.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            End::Finished | End::Reported => Poll::Ready(None),
            End::Panicked(payload) => {
                drop(st);
                resume_unwind(payload)
            }
        }
    }
}

/// Terminated once the iterator ended (or its panic was re-raised) and every item it produced
/// was yielded: the next poll returns `None`.
impl<T: Send + 'static> futures_core::stream::FusedStream for IterStream<T> {
    fn is_terminated(&self) -> bool {
        let st = lock(&self.shared.state);
        st.buf.is_empty() && matches!(st.end, End::Finished | End::Reported)
    }
}

impl<T> Drop for IterStream<T> {
    fn drop(&mut self) {
        let left = {
            let mut st = lock(&self.shared.state);
            st.stopped = true;
            (std::mem::take(&mut st.buf), st.idle.take())
        };
        drop(left);
    }
}

impl<T> fmt::Debug for IterStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("IterStream")
            .field("buffered", &st.buf.len())
            .field("finished", &!matches!(st.end, End::Running))
            .finish()
    }
}
