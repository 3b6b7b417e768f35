//! A runtime-free, hierarchical [`CancellationToken`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use event_listener::{Event, EventListener};

use crate::loom::{AtomicBool, AtomicUsize, Mutex, MutexGuard};

/// A request to stop, shared by everyone who holds a clone, and passed down to child tokens.
///
/// Cancelling a token cancels all of its clones and every child token (recursively); cancelling a
/// child does not affect its parent. A child made from an already cancelled token starts
/// cancelled. The token needs no runtime: it is built on wakers only.
///
/// Dropping a child token's last clone unregisters it from its parent, so a long-lived parent
/// handing a child to each request does not grow without bound. A token keeps no ancestor it
/// no longer needs: `t = t.child_token()` in a loop holds two tokens' worth of memory however
/// long it runs, and a grandchild whose parent's handles are all gone is handed to its
/// grandparent directly. Cancelling and dropping are iterative: a tree of any depth or width
/// is dropped without recursion.
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
pub struct CancellationToken {
    node: Arc<Node>,
}

/// One token and its clones.
///
/// The tree is linked both ways with strong references (a parent holds its children, a child
/// its parent) only while the node has handles: when the last handle goes, the node unlinks
/// itself and hands its children to its parent. So a token retains nothing it no longer needs
/// (`t = t.child_token()` in a loop keeps two nodes alive, not the whole chain), no `Drop`
/// ever walks the tree recursively, and a grandchild still hears its grandparent after the
/// intermediate token is gone, since it is now the grandparent's child.
///
/// Locks are taken parent before child, never the other way round (docs/adr/0080).
struct Node {
    cancelled: AtomicBool,
    event: Event,
    /// `CancellationToken`s sharing this node (the futures that own a token count through it).
    handles: AtomicUsize,
    tree: Mutex<Tree>,
}

#[derive(Default)]
struct Tree {
    /// `None` for a root, and for a node whose parent was cancelled or unlinked as a root.
    parent: Option<Arc<Node>>,
    /// This node's position in its parent's `children`, kept up to date by `swap_remove`.
    index: usize,
    /// Emptied by `cancel` (the children are cancelled with it) and by unlinking.
    children: Vec<Arc<Node>>,
    /// The tokio-util token cancelled with this node; `to_tokio` hands out its children.
    #[cfg(feature = "tokio-util")]
    tokio: Option<tokio_util::sync::CancellationToken>,
}

impl Node {
    fn new(cancelled: bool) -> Arc<Node> {
        Arc::new(Node {
            cancelled: AtomicBool::new(cancelled),
            event: Event::new(),
            handles: AtomicUsize::new(1),
            tree: Mutex::new(Tree::default()),
        })
    }

    fn tree(&self) -> MutexGuard<'_, Tree> {
        // The lock is never held across user code.
        crate::loom::lock(&self.tree)
    }
}

/// Appends `child` to `parent`'s children (both locks held by the caller).
fn link(parent: &Arc<Node>, parent_tree: &mut Tree, child: &Arc<Node>, child_tree: &mut Tree) {
    child_tree.parent = Some(Arc::clone(parent));
    child_tree.index = parent_tree.children.len();
    parent_tree.children.push(Arc::clone(child));
}

/// Removes the child at `index` from `parent_tree` (the parent's lock held by the caller),
/// fixing the index of the child moved into its place, and gives memory back once the list
/// has shrunk well below its capacity (a parent that once had a million children keeps no
/// million-slot list).
fn unlink_at(parent_tree: &mut Tree, index: usize, removed: &Arc<Node>) {
    let taken = parent_tree.children.swap_remove(index);
    debug_assert!(Arc::ptr_eq(&taken, removed), "tree index out of date");
    if let Some(moved) = parent_tree.children.get(index) {
        // A sibling: locking it under the parent follows the parent-before-child order.
        moved.tree().index = index;
    }
    let children = &mut parent_tree.children;
    if children.capacity() > 64 && children.len() < children.capacity() / 4 {
        children.shrink_to(children.len() * 2);
    }
}

/// Unlinks every child of a cancelled node (its lock held by the caller) and marks each
/// cancelled, under its own lock, so no new grandchild can be linked below it unseen. The
/// children this call marked are pushed on `stack`: the caller notifies them and takes their
/// children in turn. A child already marked belongs to the cancel that marked it.
fn cancel_children(tree: &mut Tree, stack: &mut Vec<Arc<Node>>) {
    for child in std::mem::take(&mut tree.children) {
        let was_cancelled = {
            let mut child_tree = child.tree();
            child_tree.parent = None;
            child.cancelled.swap(true, Ordering::SeqCst)
        };
        if !was_cancelled {
            stack.push(child);
        }
    }
}

/// Notifies every node on `stack` (each marked cancelled by this caller) and cancels their
/// descendants, iteratively: no depth of tree can overflow the stack.
fn cascade(mut stack: Vec<Arc<Node>>) {
    while let Some(node) = stack.pop() {
        node.event.notify(usize::MAX);
        let mut tree = node.tree();
        cancel_children(&mut tree, &mut stack);
        #[cfg(feature = "tokio-util")]
        {
            let bridged = tree.tokio.take();
            drop(tree);
            // Outside the lock: tokio-util runs no user code on cancel, but wakes its waiters.
            if let Some(tokio) = bridged {
                tokio.cancel();
            }
        }
    }
}

/// The last handle of `node` is gone: unlink it from its parent and hand its children over
/// (to the parent, or, if the node has none, to nobody: they become roots). When a cancel is
/// under way on the node or its parent, the children are cancelled here instead: a cancel
/// hands down only what it finds in the lists, and they are no longer there.
fn release(node: &Arc<Node>) {
    loop {
        let parent = node.tree().parent.clone();
        let mut cancelled = Vec::new();
        match parent {
            None => {
                let mut tree = node.tree();
                if tree.parent.is_some() {
                    // Nothing links a node without handles, but never act on a stale read.
                    continue;
                }
                if node.cancelled.load(Ordering::SeqCst) {
                    cancel_children(&mut tree, &mut cancelled);
                } else {
                    for child in std::mem::take(&mut tree.children) {
                        child.tree().parent = None;
                    }
                }
            }
            Some(parent) => {
                let mut parent_tree = parent.tree();
                let mut tree = node.tree();
                if !tree
                    .parent
                    .as_ref()
                    .is_some_and(|p| Arc::ptr_eq(p, &parent))
                {
                    // Unlinked by a cancel while no lock was held: start again.
                    continue;
                }
                tree.parent = None;
                unlink_at(&mut parent_tree, tree.index, node);
                if node.cancelled.load(Ordering::SeqCst) || parent.cancelled.load(Ordering::SeqCst)
                {
                    cancel_children(&mut tree, &mut cancelled);
                } else {
                    for child in std::mem::take(&mut tree.children) {
                        let mut child_tree = child.tree();
                        link(&parent, &mut parent_tree, &child, &mut child_tree);
                    }
                }
            }
        }
        cascade(cancelled);
        return;
    }
}

impl Clone for CancellationToken {
    fn clone(&self) -> Self {
        // A new handle only comes from a live one: the count never rises from zero.
        self.node.handles.fetch_add(1, Ordering::Relaxed);
        CancellationToken {
            node: Arc::clone(&self.node),
        }
    }
}

impl Drop for CancellationToken {
    fn drop(&mut self) {
        if self.node.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            release(&self.node);
            // Only a bridge task from `from_tokio` can listen without a handle: it ends now.
            #[cfg(feature = "tokio-util")]
            self.node.event.notify(usize::MAX);
        }
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

/// Clones are equal: two handles are equal when they are the same token (cancelling one
/// cancels the other), so tokens can key a map or a set. A child is a different token.
impl PartialEq for CancellationToken {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.node, &other.node)
    }
}

impl Eq for CancellationToken {}

impl std::hash::Hash for CancellationToken {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.node), state);
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
            node: Node::new(false),
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
        let mut tree = self.node.tree();
        // Checked under the lock: `cancel` sets the flag before it takes the lock, so either
        // it sees this child in the list or this check sees the flag.
        if self.node.cancelled.load(Ordering::SeqCst) {
            // Born cancelled, and linked to nothing: there is nothing left to pass down.
            return CancellationToken {
                node: Node::new(true),
            };
        }
        let node = Node::new(false);
        link(&self.node, &mut tree, &node, &mut node.tree());
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
        // Whoever sets a node's flag hands the cancel down to its children.
        if !self.node.cancelled.swap(true, Ordering::SeqCst) {
            cascade(vec![Arc::clone(&self.node)]);
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
            token: self,
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

    /// [`run_until_cancelled`](Self::run_until_cancelled), owning the token: the future is
    /// `'static` when `future` is, so it can be spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{CancellationToken, Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let token = CancellationToken::new();
    /// let slow = rt.spawn(token.clone().run_until_cancelled_owned({
    ///     let rt = rt.clone();
    ///     async move { rt.sleep(Duration::from_secs(60)).await }
    /// }));
    /// rt.block_on(async {
    ///     rt.sleep(Duration::from_secs(1)).await;
    ///     token.cancel();
    ///     assert_eq!(slow.await.unwrap(), None); // the sleep was dropped
    /// });
    /// ```
    ///
    /// # Cancel safety
    ///
    /// As cancel safe as `future`, which is dropped with it.
    pub fn run_until_cancelled_owned<F: Future>(self, future: F) -> RunUntilCancelledOwned<F> {
        RunUntilCancelledOwned {
            cancelled: self.cancelled_owned(),
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

    /// [`drop_guard`](Self::drop_guard) borrowing the token: a scope that cancels on every
    /// way out (return, `?`, panic) while the token stays usable in it.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::CancellationToken;
    ///
    /// fn step(token: &CancellationToken, fail: bool) -> Result<(), &'static str> {
    ///     let _guard = token.drop_guard_ref();
    ///     if fail {
    ///         return Err("gave up"); // the workers under `token` are cancelled on the way out
    ///     }
    ///     _guard.disarm(); // success: keep them running
    ///     Ok(())
    /// }
    ///
    /// let token = CancellationToken::new();
    /// assert!(step(&token, false).is_ok() && !token.is_cancelled());
    /// assert!(step(&token, true).is_err() && token.is_cancelled());
    /// ```
    pub fn drop_guard_ref(&self) -> DropGuardRef<'_> {
        DropGuardRef { token: Some(self) }
    }
}

/// Cancels its borrowed token when dropped; made by [`CancellationToken::drop_guard_ref`].
#[must_use = "dropping the guard cancels the token at once"]
#[derive(Debug)]
pub struct DropGuardRef<'a> {
    token: Option<&'a CancellationToken>,
}

impl<'a> DropGuardRef<'a> {
    /// Returns the token without cancelling it.
    pub fn disarm(mut self) -> &'a CancellationToken {
        self.token
            .take()
            .expect("a guard always holds its token until dropped")
    }
}

impl Drop for DropGuardRef<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.cancel();
        }
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
    // A handle, not the bare node: a node without handles is unlinked and hears no ancestor.
    token: CancellationToken,
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
        poll_cancelled(&this.token.node, &mut this.listener, cx)
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

/// Future returned by [`CancellationToken::run_until_cancelled_owned`].
///
/// # Cancel safety
///
/// As cancel safe as the future it runs.
#[pin_project::pin_project]
#[must_use = "futures do nothing unless polled"]
pub struct RunUntilCancelledOwned<F> {
    cancelled: WaitForCancellationOwned,
    #[pin]
    future: F,
}

impl<F> fmt::Debug for RunUntilCancelledOwned<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntilCancelledOwned")
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for RunUntilCancelledOwned<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if Pin::new(this.cancelled).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        this.future.poll(cx).map(Some)
    }
}

#[cfg(feature = "tokio-util")]
mod tokio_bridge {
    use std::sync::{Arc, Weak};

    use futures_lite::future;
    use tokio_util::sync::CancellationToken as TokioToken;

    use super::{CancellationToken, Node, Ordering, cascade};
    use crate::{DefaultRuntime, Runtime};

    impl CancellationToken {
        /// A tokio-util token that is cancelled when this token is (feature `tokio-util`).
        ///
        /// Hand it to Tokio code that takes tokio-util's token: cancelling this token (or an
        /// ancestor) cancels it. It is a child: cancelling it, or what Tokio code derives from
        /// it, does not cancel this token. No task is involved: each token (and each ancestor
        /// on the way) keeps one bridged tokio-util token, and every call returns a new child
        /// of it, which tokio-util forgets when it is dropped.
        ///
        /// # Examples
        ///
        /// ```
        /// use wrangle_rt::CancellationToken;
        ///
        /// let ours = CancellationToken::new();
        /// // The child is dropped at once; the tokio token still follows `ours`.
        /// let theirs: tokio_util::sync::CancellationToken = ours.child_token().to_tokio();
        /// let request = theirs.child_token(); // Tokio code derives its own tokens
        /// assert!(!request.is_cancelled());
        /// ours.cancel();
        /// assert!(theirs.is_cancelled() && request.is_cancelled());
        /// ```
        #[must_use]
        pub fn to_tokio(&self) -> tokio_util::sync::CancellationToken {
            if let Some(bridged) = bridged(&self.node) {
                bridged.child_token()
            } else {
                let done = tokio_util::sync::CancellationToken::new();
                done.cancel();
                done
            }
        }

        /// A new root token cancelled when the tokio-util `token` is (feature `tokio-util`).
        ///
        /// tokio-util's token has no callback, so a small task on
        /// [`DefaultRuntime::current`] waits for it; use
        /// [`from_tokio_with_runtime`](Self::from_tokio_with_runtime) to choose the runtime.
        /// The task ends as soon as either token is cancelled or every handle of the returned
        /// token is dropped, so a bridge never outlives what it serves.
        ///
        /// # Panics
        ///
        /// Outside any runtime, as [`DefaultRuntime::current`] does.
        ///
        /// # Examples
        ///
        /// ```
        /// use wrangle_rt::{CancellationToken, VirtualRuntime};
        ///
        /// let rt = VirtualRuntime::new();
        /// rt.block_on(async {
        ///     let theirs = tokio_util::sync::CancellationToken::new();
        ///     let ours = CancellationToken::from_tokio(theirs.clone());
        ///     theirs.cancel();
        ///     ours.cancelled().await; // wrangle code now sees Tokio's cancellation
        /// });
        /// ```
        #[must_use]
        pub fn from_tokio(token: tokio_util::sync::CancellationToken) -> CancellationToken {
            Self::from_tokio_with_runtime(DefaultRuntime::current(), token)
        }

        /// [`from_tokio`](Self::from_tokio), with its bridge task on `rt`.
        ///
        /// # Examples
        ///
        /// ```
        /// use wrangle_rt::{CancellationToken, VirtualRuntime};
        ///
        /// let rt = VirtualRuntime::new();
        /// let theirs = tokio_util::sync::CancellationToken::new();
        /// let ours = CancellationToken::from_tokio_with_runtime(rt.clone(), theirs.clone());
        /// rt.block_on(async {
        ///     theirs.cancel();
        ///     ours.cancelled().await;
        /// });
        /// ```
        #[must_use]
        pub fn from_tokio_with_runtime<R: Runtime>(
            rt: R,
            token: tokio_util::sync::CancellationToken,
        ) -> CancellationToken {
            let ours = CancellationToken::new();
            if token.is_cancelled() {
                ours.cancel();
                return ours;
            }
            rt.spawn(bridge(token, Arc::downgrade(&ours.node))).detach();
            ours
        }
    }

    /// The tokio-util token bridged to `node`, made on first use; `None` once `node` is
    /// cancelled.
    ///
    /// Each node's bridged token is a tokio-util child of its parent's, made top-down along
    /// the path from the nearest ancestor that has one, so the tokio tree mirrors ours: when
    /// a token is dropped and its children are handed to their grandparent, their bridged
    /// tokens still hear the grandparent's through the dropped token's (tokio-util keeps it
    /// while it has children). Iterative, taking one lock at a time.
    fn bridged(node: &Arc<Node>) -> Option<TokioToken> {
        // Up: the path to the nearest node with a bridged token, or to the root.
        let mut path = vec![Arc::clone(node)];
        let mut current = loop {
            let top = path.last().expect("the path starts with `node`");
            let tree = top.tree();
            if top.cancelled.load(Ordering::SeqCst) {
                // A cancelled ancestor cancels `node` too (if it has not yet, it is about to).
                return None;
            }
            if let Some(bridged) = &tree.tokio {
                let bridged = bridged.clone();
                drop(tree);
                path.pop();
                break Some(bridged);
            }
            let parent = tree.parent.clone();
            drop(tree);
            match parent {
                Some(parent) => path.push(parent),
                None => break None,
            }
        };
        // Down: each node's token a child of the one above. Under each node's lock, so a
        // cancel either finds the token stored or is seen here.
        for n in path.iter().rev() {
            let mut tree = n.tree();
            if n.cancelled.load(Ordering::SeqCst) {
                return None;
            }
            let bridged = tree
                .tokio
                .get_or_insert_with(|| match &current {
                    Some(above) => above.child_token(),
                    None => TokioToken::new(),
                })
                .clone();
            current = Some(bridged);
        }
        current
    }

    /// Cancels the node behind `weak` when `token` is cancelled; ends early when the node is
    /// cancelled or has no handle left (its last drop notifies the node's event).
    async fn bridge(token: tokio_util::sync::CancellationToken, weak: Weak<Node>) {
        let mut theirs = std::pin::pin!(token.cancelled_owned());
        loop {
            let listener = {
                let Some(node) = weak.upgrade() else { return };
                let done = |n: &Node| {
                    n.handles.load(Ordering::Acquire) == 0 || n.cancelled.load(Ordering::SeqCst)
                };
                if done(&node) {
                    return;
                }
                let listener = node.event.listen();
                // Checked again after listening: a notification in between is not lost.
                if done(&node) {
                    return;
                }
                listener
            };
            let fired = future::or(
                async {
                    theirs.as_mut().await;
                    true
                },
                async {
                    listener.await;
                    false
                },
            )
            .await;
            if fired {
                if let Some(node) = weak.upgrade()
                    && node.handles.load(Ordering::Acquire) > 0
                    && !node.cancelled.swap(true, Ordering::SeqCst)
                {
                    cascade(vec![node]);
                }
                return;
            }
        }
    }
}
