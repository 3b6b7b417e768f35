//! Polling an operation on the current connection: on success it is accounted, on a loss the
//! connection is dropped and the operation waits for the next one, and a close ends it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use event_listener::EventListener;

use crate::core::{Core, ready_listener};
use crate::error::CloseReason;
use crate::event::DisconnectCause;
use crate::stats::ReconnectStats;

/// What an operation does when there is no connection.
pub(crate) enum WhenDown<T> {
    /// Wait for the next connection.
    Wait,
    /// Return this at once.
    Return(T),
}

/// One operation on the connection, as the stream's poll methods run it.
pub(crate) struct Op<'a, S, T, F, L, A, C>
where
    F: FnMut(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    L: Fn(&io::Result<T>) -> bool,
    A: FnOnce(&mut ReconnectStats, &T),
    C: FnOnce(CloseReason) -> io::Result<T>,
{
    pub(crate) core: &'a Core<S>,
    pub(crate) listener: &'a mut Option<EventListener>,
    /// The operation itself.
    pub(crate) op: F,
    /// Whether an `Ok` result means the connection is gone (a read of 0 bytes).
    pub(crate) eof: L,
    /// Counts a successful result.
    pub(crate) account: A,
    /// The result on a closed stream.
    pub(crate) closed: C,
    pub(crate) when_down: WhenDown<T>,
}

impl<S: Unpin, T, F, L, A, C> Op<'_, S, T, F, L, A, C>
where
    F: FnMut(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    L: Fn(&io::Result<T>) -> bool,
    A: FnOnce(&mut ReconnectStats, &T),
    C: FnOnce(CloseReason) -> io::Result<T>,
{
    pub(crate) fn poll(self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let Op {
            core,
            listener,
            mut op,
            eof,
            account,
            closed,
            mut when_down,
        } = self;
        loop {
            let mut st = core.lock();
            if let Some(reason) = st.closed {
                drop(st);
                *listener = None;
                return Poll::Ready(closed(reason));
            }
            if let Some(conn) = st.conn.as_mut() {
                let polled = op(Pin::new(conn), cx);
                match polled {
                    Poll::Ready(result) => {
                        let cause = if eof(&result) {
                            Some(DisconnectCause::Eof)
                        } else {
                            match &result {
                                Err(e) if e.kind() != io::ErrorKind::Interrupted => {
                                    Some(DisconnectCause::Error(std::sync::Arc::new(
                                        io::Error::new(e.kind(), e.to_string()),
                                    )))
                                }
                                _ => None,
                            }
                        };
                        match cause {
                            None => {
                                if let Ok(v) = &result {
                                    account(&mut st.stats, v);
                                }
                                return Poll::Ready(result);
                            }
                            Some(cause) => {
                                let conn = core.lost(&mut st, cause);
                                drop(st);
                                drop(conn);
                                core.notify();
                                continue;
                            }
                        }
                    }
                    Poll::Pending => {
                        drop(st);
                        // Also wait for a close or a loss found by someone else: dropping a
                        // connection does not always wake the tasks waiting on it.
                        if ready_listener(listener, core, cx).is_pending() {
                            return Poll::Pending;
                        }
                        continue;
                    }
                }
            }
            drop(st);
            if let WhenDown::Return(v) = std::mem::replace(&mut when_down, WhenDown::Wait) {
                return Poll::Ready(Ok(v));
            }
            if ready_listener(listener, core, cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}
