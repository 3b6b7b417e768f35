//! The shared state of a [`TaskScope`](crate::TaskScope) and its children: what the scope's
//! driver and its [`Scope`](crate::Scope) handles both hold, and the wrapper that counts and
//! reports each child.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use wrangle_rt::{CancellationToken, ErrorReporter, JoinError, JoinHandle, TaskOutput, Unhandled};

use crate::ScopeStats;
use crate::loom::{Mutex, lock};

const ORIGIN: &str = "wrangle_task::TaskScope";

pub(crate) struct Shared<R> {
    pub(crate) rt: R,
    pub(crate) token: CancellationToken,
    pub(crate) ctx: Arc<ChildCtx>,
    pub(crate) state: Mutex<State>,
}

pub(crate) struct State {
    pub(crate) pending: Vec<Child>,
    pub(crate) closed: bool,
    pub(crate) waker: Option<Waker>,
}

pub(crate) struct ChildCtx {
    pub(crate) reporter: ErrorReporter,
    pub(crate) stats: Mutex<ScopeStats>,
}

/// A spawned child, as the scope drives it.
pub(crate) trait ChildTask: Future<Output = ()> + Send + Unpin {
    /// Cancels the child and waits until it is gone.
    fn abort(self: Box<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

pub(crate) type Child = Box<dyn ChildTask>;

pub(crate) type Sink<O> = async_channel::Sender<Result<O, JoinError>>;

pub(crate) struct ChildWrap<O> {
    pub(crate) handle: Option<JoinHandle<Option<O>>>,
    pub(crate) ctx: Arc<ChildCtx>,
    pub(crate) sink: Option<Sink<O>>,
}

impl ChildCtx {
    /// Hands the outcome to the child's handle if there is one still listening, else
    /// [`finish`](ChildCtx::finish)es it.
    fn deliver<O: TaskOutput>(&self, result: Result<Option<O>, JoinError>, sink: Option<Sink<O>>) {
        let Some(tx) = sink else {
            return self.finish(result);
        };
        let value = match result {
            Ok(Some(o)) => Ok(o),
            Ok(None) => Err(JoinError::Cancelled),
            Err(e) => Err(e),
        };
        let counter = match &value {
            Ok(_) => 0,
            Err(JoinError::Panicked(_)) => 1,
            Err(_) => 2,
        };
        match tx.try_send(value) {
            Ok(()) => {
                let mut stats = lock(&self.stats);
                stats.running -= 1;
                match counter {
                    0 => stats.completed += 1,
                    1 => stats.failed += 1,
                    _ => stats.cancelled += 1,
                }
            }
            // Nobody listens any more: the outcome is unhandled after all.
            Err(e) => self.finish(match e.into_inner() {
                Ok(o) => Ok(Some(o)),
                Err(JoinError::Cancelled) => Ok(None),
                Err(e) => Err(e),
            }),
        }
    }

    fn finish<O: TaskOutput>(&self, result: Result<Option<O>, JoinError>) {
        let error = match result {
            Ok(Some(out)) => out.into_result().err(),
            Ok(None) | Err(JoinError::Cancelled) => {
                let mut stats = lock(&self.stats);
                stats.cancelled += 1;
                stats.running -= 1;
                return;
            }
            Err(JoinError::Panicked(p)) => Some(Box::new(p) as _),
            Err(_) => None,
        };
        {
            let mut stats = lock(&self.stats);
            stats.running -= 1;
            if error.is_some() {
                stats.failed += 1;
            } else {
                stats.completed += 1;
            }
        }
        if let Some(e) = error {
            self.reporter.report(Unhandled::new(ORIGIN, e));
        }
    }
}

impl<O: TaskOutput> Future for ChildWrap<O> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(handle) = self.handle.as_mut() else {
            return Poll::Ready(());
        };
        let result = std::task::ready!(Pin::new(handle).poll(cx));
        self.handle = None;
        let sink = self.sink.take();
        self.ctx.deliver(result, sink);
        Poll::Ready(())
    }
}

impl<O: TaskOutput> ChildTask for ChildWrap<O> {
    fn abort(mut self: Box<Self>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let handle = self.handle.take();
        let ctx = self.ctx.clone();
        let sink = self.sink.take();
        Box::pin(async move {
            if let Some(h) = handle {
                ctx.deliver(h.cancel().await, sink);
            }
        })
    }
}

impl<O> Drop for ChildWrap<O> {
    fn drop(&mut self) {
        if self.handle.take().is_some() {
            // Dropped without being driven to the end (the scope's future was dropped): the
            // handle's drop cancels the task.
            let mut stats = lock(&self.ctx.stats);
            stats.cancelled += 1;
            stats.running -= 1;
        }
    }
}
