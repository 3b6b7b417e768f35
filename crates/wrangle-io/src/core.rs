//! The state shared by a robust stream or sink, its handles and its connect loop.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use event_listener::{Event as Notify, EventListener};
use wrangle_rt::{ErrorReporter, JoinHandle};

use crate::error::{CloseReason, Closed};
use crate::event::{DisconnectCause, Event, Events};
use crate::loom::{Mutex, MutexGuard, lock};
use crate::stats::ReconnectStats;

pub(crate) struct State<C> {
    pub(crate) conn: Option<C>,
    /// Connections made so far; the current one's number while connected.
    pub(crate) connection: u64,
    pub(crate) closed: Option<CloseReason>,
    pub(crate) driver: Option<JoinHandle<()>>,
    pub(crate) stats: ReconnectStats,
    /// Messages handed to the current connection since its last successful flush.
    pub(crate) unflushed: u64,
    subscribers: Vec<async_channel::Sender<Event>>,
}

/// Shared by the owner, its handles and the connect loop.
pub(crate) struct Core<C> {
    state: Mutex<State<C>>,
    /// Notified on every change that someone may wait for: connected, lost, closed.
    changed: Notify,
    pub(crate) name: Cow<'static, str>,
    pub(crate) reporter: ErrorReporter,
}

impl<C> fmt::Debug for Core<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("Core")
            .field("name", &self.name)
            .field("connected", &st.conn.is_some())
            .field("closed", &st.closed)
            .finish_non_exhaustive()
    }
}

impl<C> Core<C> {
    pub(crate) fn new(name: Cow<'static, str>, reporter: ErrorReporter) -> Self {
        Core {
            state: Mutex::new(State {
                conn: None,
                connection: 0,
                closed: None,
                driver: None,
                stats: ReconnectStats::default(),
                unflushed: 0,
                subscribers: Vec::new(),
            }),
            changed: Notify::new(),
            name,
            reporter,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<C>> {
        lock(&self.state)
    }

    pub(crate) fn listen(&self) -> EventListener {
        self.changed.listen()
    }

    pub(crate) fn notify(&self) {
        self.changed.notify(usize::MAX);
    }

    /// Records the loss of the current connection (found by a read, write, flush or send) and
    /// wakes the connect loop. The caller notifies after unlocking.
    pub(crate) fn lost(&self, st: &mut State<C>, cause: DisconnectCause) -> Option<C> {
        let conn = st.conn.take()?;
        st.stats.disconnects += 1;
        st.stats.connected = false;
        let dropped = std::mem::take(&mut st.unflushed);
        st.stats.items_dropped += dropped;
        let connection = st.connection;
        emit(
            st,
            Event::Disconnected {
                connection,
                cause,
                dropped,
            },
        );
        Some(conn)
    }

    /// Closes for good. Returns `false` if it was already closed. Never waits: the connection
    /// and the connect loop are dropped here, outside the lock.
    pub(crate) fn close(&self, reason: CloseReason, stop_driver: bool) -> bool {
        let (conn, driver) = {
            let mut st = self.lock();
            if st.closed.is_some() {
                return false;
            }
            st.closed = Some(reason);
            st.stats.connected = false;
            if st.stats.running > 0 {
                st.stats.running = 0;
                st.stats.cancelled += 1;
            }
            let dropped = std::mem::take(&mut st.unflushed);
            st.stats.items_dropped += dropped;
            emit(&mut st, Event::Closed { reason });
            // Dropping the senders ends every subscriber's stream after what it has queued.
            st.subscribers.clear();
            let driver = if stop_driver { st.driver.take() } else { None };
            (st.conn.take(), driver)
        };
        drop(conn);
        drop(driver);
        self.notify();
        true
    }

    pub(crate) fn subscribe(&self) -> Events {
        let (tx, rx) = async_channel::bounded(Events::CAPACITY);
        let mut st = self.lock();
        if st.closed.is_none() {
            st.subscribers.push(tx);
        }
        Events { rx: Box::pin(rx) }
    }

    pub(crate) fn stats(&self) -> ReconnectStats {
        self.lock().stats
    }
}

/// Sends `event` to every subscriber that has room; counts the ones that had none and forgets
/// the ones that are gone.
pub(crate) fn emit<C>(st: &mut State<C>, event: Event) {
    let mut dropped = 0;
    st.subscribers
        .retain(|tx| match tx.try_send(event.clone()) {
            Ok(()) => true,
            Err(async_channel::TrySendError::Full(_)) => {
                dropped += 1;
                true
            }
            Err(async_channel::TrySendError::Closed(_)) => false,
        });
    st.stats.events_dropped += dropped;
}

/// Makes sure `listener` is registered and polls it: `Ready` when a change was notified since
/// it was created (it is then cleared, so the caller looks at the state again), `Pending`
/// with the waker registered otherwise.
///
/// A fresh listener is reported `Ready` at once without being polled, so that the caller
/// re-checks the state after registering (no change can slip between the check and the
/// registration).
pub(crate) fn ready_listener<C>(
    listener: &mut Option<EventListener>,
    core: &Core<C>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    match listener {
        None => {
            *listener = Some(core.listen());
            Poll::Ready(())
        }
        Some(l) => match Pin::new(l).poll(cx) {
            Poll::Ready(()) => {
                *listener = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        },
    }
}

/// A reference to the shared core that hides the connection's type, for
/// [`ReconnectHandle`](crate::ReconnectHandle).
pub(crate) trait Control: Send + Sync + fmt::Debug + 'static {
    fn close(&self) -> bool;
    fn is_closed(&self) -> Option<CloseReason>;
    fn stats(&self) -> ReconnectStats;
    fn subscribe(&self) -> Events;
    fn listen(&self) -> EventListener;
    fn is_connected(&self) -> Result<bool, Closed>;
}

impl<C: Send + 'static> Control for Core<C> {
    fn close(&self) -> bool {
        Core::close(self, CloseReason::Closed, true)
    }

    fn is_closed(&self) -> Option<CloseReason> {
        self.lock().closed
    }

    fn stats(&self) -> ReconnectStats {
        Core::stats(self)
    }

    fn subscribe(&self) -> Events {
        Core::subscribe(self)
    }

    fn listen(&self) -> EventListener {
        Core::listen(self)
    }

    fn is_connected(&self) -> Result<bool, Closed> {
        let st = self.lock();
        match st.closed {
            Some(reason) => Err(Closed::new(reason)),
            None => Ok(st.conn.is_some()),
        }
    }
}

pub(crate) type SharedControl = Arc<dyn Control>;
