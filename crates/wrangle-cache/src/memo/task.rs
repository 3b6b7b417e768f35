//! A task of a memoizer: its load, until the memoizer is dropped.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project::pin_project;
use wrangle_rt::{CancellationToken, future::WaitForCancellationOwned};

/// Runs `load` until it ends or `token` is cancelled, then drops it (which hands a load it
/// leads over to its waiters).
#[pin_project]
pub(crate) struct OwnedLoad<F> {
    #[pin]
    cancelled: WaitForCancellationOwned,
    #[pin]
    load: F,
}

impl<F> OwnedLoad<F> {
    pub(crate) fn new(token: CancellationToken, load: F) -> Self {
        OwnedLoad {
            cancelled: token.cancelled_owned(),
            load,
        }
    }
}

impl<F: Future<Output = ()>> Future for OwnedLoad<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        if this.cancelled.poll(cx).is_ready() {
            return Poll::Ready(());
        }
        this.load.poll(cx)
    }
}
