//! [`RobustSink`]: a message stream (`Stream + Sink`) that reconnects by itself.

use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use event_listener::EventListener;
use futures_lite::Stream;
use futures_sink::Sink;
use wrangle_rt::{BoxError, DefaultRuntime, ErrorReporter, Runtime};

use crate::backoff::Backoff;
use crate::config::Config;
use crate::connector::Connector;
use crate::core::{Core, ready_listener};
use crate::driver;
use crate::error::{CloseReason, Closed, InvalidReconnectConfig};
use crate::event::{DisconnectCause, Events, SharedError};
use crate::future::Connected;
use crate::handle::ReconnectHandle;
use crate::stats::ReconnectStats;

/// A message stream and sink over connections that a [`Connector`] makes (each connection a
/// `Stream<Item = Result<T, E>> + Sink<Item>`: a codec's framed transport, a websocket),
/// reconnecting by itself whenever one is lost, until it is closed on purpose.
///
/// The reconnect policy is [`RobustStream`](crate::RobustStream)'s: opening does not wait,
/// backoff before every attempt (the first included), a per-attempt connect timeout, events
/// and counters. As a `Stream` it yields the messages (`T`) of each connection in turn, waiting
/// across reconnections, and ends only once closed; an `Err` from a connection's stream, or its
/// end, is a lost connection (the cause is in [`Event::Disconnected`](crate::Event::Disconnected)).
/// As a `Sink`, `poll_ready` waits for a connection, and its only error is [`Closed`].
///
/// # Delivery semantics
///
/// Messages are delivered **at most once, in order**, and a message whose send fails
/// mid-reconnect is **dropped** (counted in [`ReconnectStats::items_dropped`] and in the
/// `dropped` field of [`Event::Disconnected`](crate::Event::Disconnected)), never returned
/// nor resent:
///
/// - a message handed to a connection (`start_send`) belongs to it; if the connection fails
///   before a flush confirmed it (the send itself fails, or the flush does), every message
///   handed to it since its last successful flush is dropped;
/// - a message handed over while no connection is up (the connection was lost between
///   `poll_ready` and `start_send`) is dropped;
/// - nothing is ever sent twice: the sink keeps no copies, because only the application knows
///   what its peer has processed. Protocols that need every message acknowledge them and
///   resend after a disconnect.
///
/// Why dropped, not returned or retried: a `Sink` takes ownership in `start_send` and the
/// connection's own sink may fail after it accepted the message, when there is nothing left to
/// return; retrying once would need a clone of every message in flight and could duplicate
/// one the peer did receive.
///
/// # Examples
///
/// ```
/// use futures_lite::StreamExt;
/// use std::time::Duration;
/// use wrangle_io::{Backoff, RobustSink};
/// use wrangle_io::pipe::message_pipe;
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let (tx, rx) = async_channel::unbounded();
///     let mut sink = RobustSink::builder(move || {
///         let (client, server) = message_pipe::<String>(16);
///         let tx = tx.clone();
///         async move {
///             tx.send(server).await.unwrap();
///             Ok::<_, std::io::Error>(client)
///         }
///     })
///     .backoff(Backoff::constant(Duration::from_millis(100)))
///     .build_with_runtime(rt.clone())
///     .unwrap();
///
///     // The first server says one thing and hangs up; the second says another.
///     let server = wrangle_rt::Runtime::spawn(&rt, async move {
///         let mut first = rx.recv().await.unwrap();
///         first.try_send("one".to_string()).unwrap();
///         drop(first);
///         let mut second = rx.recv().await.unwrap();
///         second.try_send("two".to_string()).unwrap();
///         second
///     });
///     // Reading on notices the loss, waits for the reconnection and goes on.
///     assert_eq!(sink.next().await.as_deref(), Some("one"));
///     assert_eq!(sink.next().await.as_deref(), Some("two"));
///     let _second = server.await.unwrap();
///     assert_eq!(sink.stats().disconnects, 1);
/// });
/// ```
///
/// # Cancel safety
///
/// A `next()` future dropped before it completes has taken no message. `SinkExt::send`
/// dropped after its message was handed to the connection leaves it there (delivered or
/// dropped as above); dropped before, it keeps the message itself.
#[must_use = "dropping a RobustSink closes it: its connection and its connect loop end"]
pub struct RobustSink<S> {
    core: Arc<Core<S>>,
    read_listener: Option<EventListener>,
    write_listener: Option<EventListener>,
}

impl<S> fmt::Debug for RobustSink<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RobustSink")
            .field("core", &self.core)
            .finish()
    }
}

impl<S: Unpin + Send + 'static> RobustSink<S> {
    /// Opens a sink over the connections `connector` makes, on the current runtime, with the
    /// default settings (as [`RobustStream::new`](crate::RobustStream::new)). Returns at once.
    ///
    /// # Examples
    ///
    /// ```
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// use wrangle_io::RobustSink;
    /// use wrangle_io::pipe::{MessageEnd, message_pipe};
    ///
    /// let sink = RobustSink::new(|| async {
    ///     let (client, server) = message_pipe::<u32>(8);
    ///     std::mem::forget(server); // a server that never hangs up, for the example
    ///     Ok::<MessageEnd<u32>, std::io::Error>(client)
    /// });
    /// sink.connected().await.unwrap();
    /// # });
    /// ```
    ///
    /// # Panics
    ///
    /// As [`DefaultRuntime::current`]: only in a build with no runtime at all.
    pub fn new<K>(connector: K) -> Self
    where
        K: Connector<Connection = S>,
    {
        Self::with_runtime(DefaultRuntime::current(), connector)
    }

    /// Like [`new`](RobustSink::new), on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_io::RobustSink;
    /// use wrangle_io::pipe::message_pipe;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let sink = RobustSink::with_runtime(rt.clone(), || async {
    ///     Ok::<_, std::io::Error>(message_pipe::<u32>(8).0)
    /// });
    /// assert!(!sink.is_connected()); // opening does not wait
    /// ```
    pub fn with_runtime<R, K>(rt: R, connector: K) -> Self
    where
        R: Runtime,
        K: Connector<Connection = S>,
    {
        Self::start(Config::new(rt, "wrangle_io::RobustSink"), connector)
    }

    /// A builder, for a backoff policy, a connect timeout, a name or an error reporter of
    /// your own.
    ///
    /// # Examples
    ///
    /// See [`RobustSink`].
    pub fn builder<K>(connector: K) -> RobustSinkBuilder<K>
    where
        K: Connector<Connection = S>,
    {
        RobustSinkBuilder {
            connector,
            config: Config::new((), "wrangle_io::RobustSink"),
        }
    }

    fn start<R, K>(config: Config<R>, connector: K) -> Self
    where
        R: Runtime,
        K: Connector<Connection = S>,
    {
        let core = Arc::new(Core::new(config.name.clone(), config.reporter.clone()));
        driver::start(&core, connector, config);
        RobustSink {
            core,
            read_listener: None,
            write_listener: None,
        }
    }
}

impl<S: Send + 'static> RobustSink<S> {
    /// Waits until a connection is up (at once if one is).
    ///
    /// # Examples
    ///
    /// See [`RobustStream::connected`](crate::RobustStream::connected).
    ///
    /// # Errors
    ///
    /// [`Closed`] if the sink is closed (or closes while waiting).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only observes.
    pub fn connected(&self) -> Connected {
        Connected::new(self.core.clone())
    }

    /// A clonable handle to close, watch and count this sink from other tasks.
    #[must_use]
    pub fn handle(&self) -> ReconnectHandle {
        ReconnectHandle {
            ctl: self.core.clone(),
        }
    }

    /// Closes the sink for good without waiting (see
    /// [`RobustStream::close`](crate::RobustStream::close)); messages not yet flushed are
    /// dropped. Returns `true` if this call closed it.
    pub fn close(&self) -> bool {
        self.core.close(CloseReason::Closed, true)
    }

    /// Whether the sink is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.core.lock().closed.is_some()
    }

    /// Whether a connection is up now.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.core.lock().conn.is_some()
    }

    /// Subscribes to the lifecycle events (see
    /// [`RobustStream::events`](crate::RobustStream::events)).
    pub fn events(&self) -> Events {
        self.core.subscribe()
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> ReconnectStats {
        self.core.stats()
    }
}

impl<S> Drop for RobustSink<S> {
    fn drop(&mut self) {
        self.core.close(CloseReason::Closed, true);
    }
}

fn shared<E: Into<BoxError>>(e: E) -> SharedError {
    Arc::from(e.into())
}

impl<S, T, E> Stream for RobustSink<S>
where
    S: Stream<Item = Result<T, E>> + Unpin,
    E: Into<BoxError>,
{
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        loop {
            let mut st = this.core.lock();
            if st.closed.is_some() {
                this.read_listener = None;
                return Poll::Ready(None);
            }
            if let Some(conn) = st.conn.as_mut() {
                let cause = match Pin::new(conn).poll_next(cx) {
                    Poll::Ready(Some(Ok(item))) => {
                        st.stats.items_received += 1;
                        return Poll::Ready(Some(item));
                    }
                    Poll::Ready(Some(Err(e))) => DisconnectCause::Error(shared(e)),
                    Poll::Ready(None) => DisconnectCause::Eof,
                    Poll::Pending => {
                        drop(st);
                        if ready_listener(&mut this.read_listener, &this.core, cx).is_pending() {
                            return Poll::Pending;
                        }
                        continue;
                    }
                };
                let conn = this.core.lost(&mut st, cause);
                drop(st);
                drop(conn);
                this.core.notify();
                continue;
            }
            drop(st);
            if ready_listener(&mut this.read_listener, &this.core, cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

/// Terminated once closed: `poll_next` then returns `None` for ever.
impl<S, T, E> futures_core::stream::FusedStream for RobustSink<S>
where
    S: Stream<Item = Result<T, E>> + Unpin,
    E: Into<BoxError>,
{
    fn is_terminated(&self) -> bool {
        self.core.lock().closed.is_some()
    }
}

impl<S, I> Sink<I> for RobustSink<S>
where
    S: Sink<I> + Unpin,
    S::Error: Into<BoxError>,
{
    type Error = Closed;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        let this = self.get_mut();
        loop {
            let mut st = this.core.lock();
            if let Some(reason) = st.closed {
                this.write_listener = None;
                return Poll::Ready(Err(Closed::new(reason)));
            }
            if let Some(conn) = st.conn.as_mut() {
                match Pin::new(conn).poll_ready(cx) {
                    Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
                    Poll::Ready(Err(e)) => {
                        let conn = this.core.lost(&mut st, DisconnectCause::Error(shared(e)));
                        drop(st);
                        drop(conn);
                        this.core.notify();
                        continue;
                    }
                    Poll::Pending => {
                        drop(st);
                        if ready_listener(&mut this.write_listener, &this.core, cx).is_pending() {
                            return Poll::Pending;
                        }
                        continue;
                    }
                }
            }
            drop(st);
            if ready_listener(&mut this.write_listener, &this.core, cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    fn start_send(self: Pin<&mut Self>, item: I) -> Result<(), Closed> {
        let this = self.get_mut();
        let mut guard = this.core.lock();
        let st = &mut *guard;
        if let Some(reason) = st.closed {
            return Err(Closed::new(reason));
        }
        let Some(conn) = st.conn.as_mut() else {
            // Lost between `poll_ready` and now: dropped, as documented.
            st.stats.items_dropped += 1;
            return Ok(());
        };
        st.stats.items_sent += 1;
        match Pin::new(conn).start_send(item) {
            Ok(()) => st.unflushed += 1,
            Err(e) => {
                st.unflushed += 1;
                let conn = this.core.lost(st, DisconnectCause::Error(shared(e)));
                drop(guard);
                drop(conn);
                this.core.notify();
            }
        }
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        let this = self.get_mut();
        let mut st = this.core.lock();
        if let Some(reason) = st.closed {
            return Poll::Ready(Err(Closed::new(reason)));
        }
        let Some(conn) = st.conn.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        match Pin::new(conn).poll_flush(cx) {
            Poll::Ready(Ok(())) => {
                st.unflushed = 0;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                // What this connection held is dropped (counted by `lost`); nothing is left
                // to flush.
                let conn = this.core.lost(&mut st, DisconnectCause::Error(shared(e)));
                drop(st);
                drop(conn);
                this.core.notify();
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                drop(st);
                // A close or a loss found elsewhere must wake this flush too.
                match ready_listener(&mut this.write_listener, &this.core, cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(()) => {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                }
            }
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        let this = self.get_mut();
        {
            let mut st = this.core.lock();
            let open = st.closed.is_none();
            if let Some(conn) = st.conn.as_mut()
                && open
            {
                // Flushes and closes the connection; its error changes nothing now.
                let closed = futures_lite::ready!(Pin::new(conn).poll_close(cx));
                if closed.is_ok() {
                    st.unflushed = 0;
                }
            }
        }
        this.core.close(CloseReason::Closed, true);
        this.write_listener = None;
        Poll::Ready(Ok(()))
    }
}

/// Builder of a [`RobustSink`], from [`RobustSink::builder`].
#[must_use = "a builder does nothing until `build()`"]
pub struct RobustSinkBuilder<K> {
    connector: K,
    config: Config<()>,
}

impl<K> fmt::Debug for RobustSinkBuilder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RobustSinkBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<K: Connector> RobustSinkBuilder<K>
where
    K::Connection: Unpin,
{
    /// The backoff policy (default: [`Backoff::default`]).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// The time limit of one connection attempt (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// A name for the error reporter's messages.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Where panics of the connector or of a custom backoff policy are reported.
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.config.reporter = reporter;
        self
    }

    /// Opens the sink on the current runtime ([`DefaultRuntime::current`]).
    ///
    /// # Errors
    ///
    /// [`InvalidReconnectConfig`] for an invalid backoff policy or a zero connect timeout.
    ///
    /// # Panics
    ///
    /// As [`DefaultRuntime::current`]: only in a build with no runtime at all.
    pub fn build(self) -> Result<RobustSink<K::Connection>, InvalidReconnectConfig> {
        self.build_with_runtime(DefaultRuntime::current())
    }

    /// Opens the sink on `rt`.
    ///
    /// # Errors
    ///
    /// As [`build`](RobustSinkBuilder::build).
    pub fn build_with_runtime<R: Runtime>(
        self,
        rt: R,
    ) -> Result<RobustSink<K::Connection>, InvalidReconnectConfig> {
        let config = self.config.with_runtime(rt);
        config.validate()?;
        Ok(RobustSink::start(config, self.connector))
    }
}
