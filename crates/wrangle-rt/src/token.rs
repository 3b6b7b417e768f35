//! A runtime-free, hierarchical [`CancellationToken`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use event_listener::{Event, EventListener};

use crate::sync::{AtomicBool, Mutex, MutexGuard};

/// A request to stop, shared by everyone who holds a clone, and passed down to child tokens.
///
/// Cancelling a token cancels all of its clones and every child token (recursively); cancelling a
/// child does not affect its parent. A child made from an already cancelled token starts
/// cancelled. The token needs no runtime: it is built on wakers only.
///
/// Dropping a child token's last clone unregisters it from its parent, so a long-lived parent
/// handing a child to each request does not grow without bound.
///
/// # Examples
///
/// ```
/// use wrangle_rt::CancellationToken;
///
/// let root = CancellationToken::new();
/// let child = root.child_token();
/// let grandchild = child.child_token();
///
/// child.cancel();
/// assert!(!root.is_cancelled());
/// assert!(grandchild.is_cancelled());
///
/// # futures_lite::future::block_on(async {
/// // Resolves at once: the token is already cancelled.
/// grandchild.cancelled().await;
/// # });
/// ```
#[derive(Clone)]
pub struct CancellationToken {
    node: Arc<Node>,
}

struct Node {
    cancelled: AtomicBool,
    event: Event,
    children: Mutex<Vec<Weak<Node>>>,
    // Keeps the chain to the root alive while this node lives, so a grandchild still hears
    // its grandparent after the intermediate token's handles are gone.
    _parent: Option<Arc<Node>>,
}

impl Node {
    fn new(parent: Option<Arc<Node>>, cancelled: bool) -> Arc<Node> {
        Arc::new(Node {
            cancelled: AtomicBool::new(cancelled),
            event: Event::new(),
            children: Mutex::new(Vec::new()),
            _parent: parent,
        })
    }

    fn children(&self) -> MutexGuard<'_, Vec<Weak<Node>>> {
        // The lock is never held across user code.
        self.children.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for CancellationToken {
    fn default() -> Self {
        CancellationToken::new()
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("is_cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancellationToken {
    /// Creates a new root token.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = wrangle_rt::CancellationToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        CancellationToken {
            node: Node::new(None, false),
        }
    }

    /// Creates a child token: cancelled when this token is, but cancellable on its own.
    ///
    /// # Examples
    ///
    /// ```
    /// let parent = wrangle_rt::CancellationToken::new();
    /// let child = parent.child_token();
    /// parent.cancel();
    /// assert!(child.is_cancelled());
    /// ```
    #[must_use]
    pub fn child_token(&self) -> CancellationToken {
        let mut children = self.node.children();
        // Checked under the lock: `cancel` sets the flag before it takes the lock, so either
        // it sees this child in the list or this check sees the flag.
        if self.node.cancelled.load(Ordering::SeqCst) {
            return CancellationToken {
                node: Node::new(Some(self.node.clone()), true),
            };
        }
        if children.len() == children.capacity() && !children.is_empty() {
            // Amortised pruning of children whose handles are all gone.
            children.retain(|w| w.strong_count() > 0);
        }
        let node = Node::new(Some(self.node.clone()), false);
        children.push(Arc::downgrade(&node));
        CancellationToken { node }
    }

    /// Cancels this token, its clones and all of its descendants, and wakes every waiter.
    ///
    /// Cancelling twice is harmless.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = wrangle_rt::CancellationToken::new();
    /// token.cancel();
    /// token.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        let mut stack = vec![self.node.clone()];
        while let Some(node) = stack.pop() {
            if node.cancelled.swap(true, Ordering::SeqCst) {
                continue;
            }
            node.event.notify(usize::MAX);
            let children = std::mem::take(&mut *node.children());
            stack.extend(children.iter().filter_map(Weak::upgrade));
        }
    }

    /// Returns `true` if the token has been cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = wrangle_rt::CancellationToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.node.cancelled.load(Ordering::SeqCst)
    }

    /// Waits until the token is cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{CancellationToken, Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let token = CancellationToken::new();
    /// let waiter = rt.spawn({
    ///     let token = token.clone();
    ///     async move { token.cancelled().await; "stopped" }
    /// });
    /// token.cancel();
    /// assert_eq!(rt.block_on(waiter).unwrap(), "stopped");
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses nothing.
    pub fn cancelled(&self) -> WaitForCancellation<'_> {
        WaitForCancellation {
            node: &self.node,
            listener: None,
        }
    }

    /// Like [`cancelled`](CancellationToken::cancelled), but owns a clone of the token, so the
    /// future is `'static`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{CancellationToken, Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let token = CancellationToken::new();
    /// let waiter = rt.spawn(token.clone().cancelled_owned());
    /// token.cancel();
    /// rt.block_on(waiter).unwrap();
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses nothing.
    pub fn cancelled_owned(self) -> WaitForCancellationOwned {
        WaitForCancellationOwned {
            node: self.node,
            listener: None,
        }
    }

    /// Runs `future` until it completes (`Some(output)`) or the token is cancelled (`None`,
    /// and the future is dropped). If both are ready, cancellation wins.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::CancellationToken;
    ///
    /// # futures_lite::future::block_on(async {
    /// let token = CancellationToken::new();
    /// assert_eq!(token.run_until_cancelled(async { 1 }).await, Some(1));
    /// token.cancel();
    /// assert_eq!(token.run_until_cancelled(async { 1 }).await, None);
    /// # });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As cancel safe as `future`, which is dropped with it.
    pub fn run_until_cancelled<F: Future>(&self, future: F) -> RunUntilCancelled<'_, F> {
        RunUntilCancelled {
            cancelled: self.cancelled(),
            future,
        }
    }

    /// Returns a guard that cancels the token when dropped, unless disarmed.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = wrangle_rt::CancellationToken::new();
    /// drop(token.clone().drop_guard());
    /// assert!(token.is_cancelled());
    /// ```
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }
}

/// Cancels its token when dropped; made by [`CancellationToken::drop_guard`].
#[must_use = "dropping the guard cancels the token at once"]
#[derive(Debug)]
pub struct DropGuard {
    token: Option<CancellationToken>,
}

impl DropGuard {
    /// Gives the token back without cancelling it.
    ///
    /// # Examples
    ///
    /// ```
    /// let guard = wrangle_rt::CancellationToken::new().drop_guard();
    /// let token = guard.disarm();
    /// assert!(!token.is_cancelled());
    /// ```
    #[must_use]
    pub fn disarm(mut self) -> CancellationToken {
        self.token
            .take()
            .expect("a guard always holds its token until dropped")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.cancel();
        }
    }
}

fn poll_cancelled(
    node: &Node,
    listener: &mut Option<EventListener>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    loop {
        if node.cancelled.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        match listener {
            None => *listener = Some(node.event.listen()),
            Some(l) => {
                std::task::ready!(Pin::new(l).poll(cx));
                *listener = None;
            }
        }
    }
}

/// Future returned by [`CancellationToken::cancelled`].
///
/// # Cancel safety
///
/// Cancel safe.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct WaitForCancellation<'a> {
    node: &'a Node,
    listener: Option<EventListener>,
}

impl fmt::Debug for WaitForCancellation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellation")
            .finish_non_exhaustive()
    }
}

impl Future for WaitForCancellation<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        poll_cancelled(this.node, &mut this.listener, cx)
    }
}

/// Future returned by [`CancellationToken::cancelled_owned`].
///
/// # Cancel safety
///
/// Cancel safe.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct WaitForCancellationOwned {
    node: Arc<Node>,
    listener: Option<EventListener>,
}

impl fmt::Debug for WaitForCancellationOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellationOwned")
            .finish_non_exhaustive()
    }
}

impl Future for WaitForCancellationOwned {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        poll_cancelled(&this.node, &mut this.listener, cx)
    }
}

/// Future returned by [`CancellationToken::run_until_cancelled`].
///
/// # Cancel safety
///
/// As cancel safe as the inner future.
#[pin_project::pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct RunUntilCancelled<'a, F> {
    cancelled: WaitForCancellation<'a>,
    #[pin]
    future: F,
}

impl<F> fmt::Debug for RunUntilCancelled<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntilCancelled").finish_non_exhaustive()
    }
}

impl<F: Future> Future for RunUntilCancelled<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if Pin::new(this.cancelled).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        this.future.poll(cx).map(Some)
    }
}
