//! The named futures of wrangle-io.
//!
//! Reading and writing go through the `AsyncRead`/`AsyncWrite` (and `Stream`/`Sink`) traits,
//! whose futures are those of your extension traits (`futures_lite::AsyncReadExt`, ...); the
//! futures here are this crate's own operations.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use event_listener::EventListener;

use crate::core::SharedControl;
use crate::error::Closed;

/// Future of [`RobustStream::connected`](crate::RobustStream::connected),
/// [`RobustSink::connected`](crate::RobustSink::connected) and
/// [`ReconnectHandle::connected`](crate::ReconnectHandle::connected): resolves once a
/// connection is up (at once if one is), or with [`Closed`] once the stream is closed.
///
/// # Cancel safety
///
/// Cancel safe: it only observes. Dropping it changes nothing; the connect loop goes on.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Connected {
    ctl: SharedControl,
    listener: Option<EventListener>,
}

impl Connected {
    pub(crate) fn new(ctl: SharedControl) -> Self {
        Connected {
            ctl,
            listener: None,
        }
    }
}

impl fmt::Debug for Connected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connected")
            .field("ctl", &self.ctl)
            .field("waiting", &self.listener.is_some())
            .finish()
    }
}

impl Future for Connected {
    type Output = Result<(), Closed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match this.ctl.is_connected() {
                Err(closed) => {
                    this.listener = None;
                    return Poll::Ready(Err(closed));
                }
                Ok(true) => {
                    this.listener = None;
                    return Poll::Ready(Ok(()));
                }
                Ok(false) => {}
            }
            match &mut this.listener {
                // Registered first, then the state is checked again (no lost wake-up).
                None => this.listener = Some(this.ctl.listen()),
                Some(l) => match Pin::new(l).poll(cx) {
                    Poll::Ready(()) => this.listener = None,
                    Poll::Pending => return Poll::Pending,
                },
            }
        }
    }
}
