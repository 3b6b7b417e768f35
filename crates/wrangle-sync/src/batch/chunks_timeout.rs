//! [`ChunksTimeout`]: a stream adaptor that groups items by count or by time.

use std::fmt;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::Stream;
use pin_project::pin_project;
use wrangle_rt::{DefaultRuntime, Runtime, Sleep, saturating_deadline};

/// Groups the items of a stream into `Vec`s of at most `max_items`, emitting a group as soon
/// as it is full or `max_wait` after its **first** item arrived, whichever comes first.
///
/// The window is a deadline from the first item, so an item never waits longer than
/// `max_wait` (async-utils' `Waterfall` can take twice that). One timer is reused for every
/// group: at most one timer registration per group. No empty group is ever emitted; when the
/// inner stream ends, what is buffered is emitted at once.
///
/// No memory is reserved from `max_items`: a group's buffer is sized like the previous group
/// and grows as items come, so `max_items` may be as large as `usize::MAX` (groups then close
/// on time only).
///
/// The deadline is checked whenever the inner stream has nothing ready: a stream that never
/// returns `Pending` fills groups to `max_items` instead (which only makes them come sooner).
/// For the same reason the clock is read, and the timer set, only when a group is still open
/// as the inner stream first has nothing ready: the window starts at the end of the poll in
/// which the group's first item arrived (on a virtual clock, the same instant), and a group
/// filled within one poll costs no clock read and no timer.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use std::time::Duration;
/// use futures_lite::{StreamExt, stream};
/// use wrangle_rt::VirtualRuntime;
/// use wrangle_sync::stream::ChunksTimeout;
///
/// let rt = VirtualRuntime::new();
/// let three = NonZeroUsize::new(3).unwrap();
/// let wait = Duration::from_millis(100);
/// let chunks = ChunksTimeout::with_runtime(rt.clone(), stream::iter(0..7), three, wait);
/// let groups: Vec<Vec<i32>> = rt.block_on(chunks.collect());
/// assert_eq!(groups, [vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
/// ```
///
/// Timing, with `max_items = 3` and `max_wait = 100 ms`:
///
/// ```text
/// item arrives (ms):  a:0  b:0  c:0  d:10  e:30            f,g,h,i:200
/// group emitted (ms): [a b c]:0                [d e]:110   [f g h]:200   [i]:300
///                     full                     d + 100     full          i + 100
/// ```
#[pin_project]
#[must_use = "streams do nothing unless polled"]
pub struct ChunksTimeout<S: Stream, R: Runtime = DefaultRuntime> {
    #[pin]
    stream: S,
    rt: R,
    max_items: usize,
    max_wait: Duration,
    buf: Vec<S::Item>,
    /// The length of the last group: the next group's buffer is sized from it (never from
    /// `max_items`, a user's maximum, which may be `usize::MAX`).
    last_len: usize,
    #[pin]
    sleep: Option<R::Sleep>,
    /// The timer is set for the group being formed. It is set lazily, when the inner stream
    /// first has nothing ready while the group is open, so a group filled in one poll reads
    /// no clock and touches no timer.
    armed: bool,
    done: bool,
}

impl<S: Stream> ChunksTimeout<S> {
    /// Groups `stream` by `max_items` or `max_wait`, timing on [`DefaultRuntime::current`].
    ///
    /// # Panics
    ///
    /// If no runtime is available (see [`DefaultRuntime::current`]).
    pub fn new(stream: S, max_items: NonZeroUsize, max_wait: Duration) -> Self {
        ChunksTimeout::with_runtime(DefaultRuntime::current(), stream, max_items, max_wait)
    }
}

impl<S: Stream, R: Runtime> ChunksTimeout<S, R> {
    /// Groups `stream` by `max_items` or `max_wait`, timing on `rt`.
    pub fn with_runtime(rt: R, stream: S, max_items: NonZeroUsize, max_wait: Duration) -> Self {
        ChunksTimeout {
            stream,
            rt,
            max_items: max_items.get(),
            max_wait,
            buf: Vec::new(),
            last_len: 0,
            sleep: None,
            armed: false,
            done: false,
        }
    }

    /// The items buffered for the next group.
    #[must_use]
    pub fn buffered(&self) -> &[S::Item] {
        &self.buf
    }

    /// The inner stream.
    #[must_use]
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Takes the group being formed now (empty if none), for a flush. The timer needs no
    /// disarming: the next item starts a new group and re-arms it.
    pub(crate) fn take_buffered(self: Pin<&mut Self>) -> Vec<S::Item> {
        let this = self.project();
        if this.buf.is_empty() {
            return Vec::new();
        }
        *this.armed = false;
        take_group(this.buf, this.last_len)
    }
}

impl<S: Stream, R: Runtime> Stream for ChunksTimeout<S, R> {
    type Item = Vec<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        while !*this.done {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    if this.buf.is_empty() {
                        // Sized like the last group; `push` grows it past that if needed.
                        this.buf.reserve((*this.last_len).min(*this.max_items));
                    }
                    this.buf.push(item);
                    if this.buf.len() >= *this.max_items {
                        *this.armed = false;
                        return Poll::Ready(Some(take_group(this.buf, this.last_len)));
                    }
                }
                Poll::Ready(None) => *this.done = true,
                Poll::Pending => {
                    if this.buf.is_empty() {
                        return Poll::Pending;
                    }
                    if !*this.armed {
                        // The group's first item came in this poll (a poll returns as soon
                        // as the inner stream has nothing ready), so its window starts now.
                        *this.armed = true;
                        let deadline = saturating_deadline(this.rt.now(), *this.max_wait);
                        match this.sleep.as_mut().as_pin_mut() {
                            Some(sleep) => sleep.reset(deadline),
                            None => this.sleep.set(Some(this.rt.sleep_until(deadline))),
                        }
                    }
                    let sleep = this
                        .sleep
                        .as_mut()
                        .as_pin_mut()
                        .expect("armed above, or in an earlier poll of this group");
                    return match sleep.poll(cx) {
                        Poll::Ready(()) => {
                            *this.armed = false;
                            Poll::Ready(Some(take_group(this.buf, this.last_len)))
                        }
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
        *this.armed = false;
        if this.buf.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Ready(Some(take_group(this.buf, this.last_len)))
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (lo, hi) = self.stream.size_hint();
        let buffered = self.buf.len();
        let lo = (lo + buffered).div_ceil(self.max_items);
        let hi = hi.and_then(|h| h.checked_add(buffered));
        (lo, hi)
    }
}

/// Terminated once the inner stream ended and the last group was yielded: the next poll
/// returns `None` (the inner stream is not polled again after its end).
impl<S: Stream, R: Runtime> futures_core::stream::FusedStream for ChunksTimeout<S, R> {
    fn is_terminated(&self) -> bool {
        self.done && self.buf.is_empty()
    }
}

/// Takes the buffered group, remembering its length to size the next one.
fn take_group<T>(buf: &mut Vec<T>, last_len: &mut usize) -> Vec<T> {
    *last_len = buf.len();
    std::mem::take(buf)
}

impl<S: Stream, R: Runtime> fmt::Debug for ChunksTimeout<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunksTimeout")
            .field("max_items", &self.max_items)
            .field("max_wait", &self.max_wait)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}
