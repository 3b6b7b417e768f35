//! [`RobustStream`]: a byte stream that reconnects by itself.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use event_listener::EventListener;
use futures_lite::io::{AsyncBufRead, AsyncRead, AsyncWrite};
use futures_lite::ready;
use wrangle_rt::{DefaultRuntime, ErrorReporter, Runtime};

use crate::backoff::Backoff;
use crate::config::Config;
use crate::connector::Connector;
use crate::core::Core;
use crate::driver;
use crate::error::{CloseReason, InvalidReconnectConfig};
use crate::event::Events;
use crate::future::Connected;
use crate::handle::ReconnectHandle;
use crate::io_ops::{Op, WhenDown};
use crate::stats::ReconnectStats;

/// Default capacity of the read buffer.
const DEFAULT_BUFFER: usize = 8 * 1024;

/// A byte stream (`AsyncRead + AsyncBufRead + AsyncWrite`) over connections that a
/// [`Connector`] makes, reconnecting by itself whenever one is lost, until it is closed on
/// purpose.
///
/// - **Opening does not wait.** [`new`](RobustStream::new) starts the connect loop in the
///   background and returns at once; await [`connected`](RobustStream::connected) to wait
///   for the first connection.
///   There is no stream "before opening": building it opens it, so the seed library's
///   "used before it was entered" errors cannot happen; after a close, every operation says
///   so (reads: end-of-file; writes, flushes and `connected`: [`Closed`](crate::Closed)).
/// - **Writes wait for a connection**, and **reads wait for the reconnection** instead of
///   reporting end-of-file when the peer goes away. Only a close on purpose (or a backoff
///   policy that gives up) ends the stream: reads then return end-of-file, writes
///   [`Closed`](crate::Closed).
/// - **The read buffer survives a reconnect**: bytes received before a loss and not yet read
///   are still read first, so a line or frame split across a reconnect is read whole (with
///   `"c"` received, the connection lost, then `"dz"` received, `read_until(b'z')` gives
///   `"cdz"`).
/// - **Backoff** before every attempt, the first included (configurable: [`Backoff`]), a
///   per-attempt **connect timeout** (10 s by default), **lifecycle events**
///   ([`events`](RobustStream::events)) and **counters** ([`stats`](RobustStream::stats)).
///
/// # Delivery semantics
///
/// Bytes are delivered **at most once, in order**: nothing is ever written twice or out of
/// order, and bytes may be lost around a disconnect.
///
/// - A write call that fails because the connection broke accepted nothing: it is retried
///   whole on the next connection.
/// - Bytes that a write call *accepted* belong to the connection that accepted them. If that
///   connection is lost before they reach the peer (they sat in its buffers or the kernel's,
///   or the peer died before reading them), they are lost; the stream does not keep copies
///   to resend, because it cannot know what the peer processed. A protocol that must not lose
///   data acknowledges it at the application level and resends after a
///   [`Event::Disconnected`](crate::Event::Disconnected).
/// - A loss is noticed when an operation on the connection reports it (a read of
///   end-of-file or an error, a failed write or flush). Keep a read pending (a reader task)
///   to notice a server going away while you are not writing.
/// - `flush` while disconnected returns at once: nothing is buffered in the stream itself.
///
/// # Examples
///
/// A line protocol that keeps working while its server restarts. The connector here hands
/// out in-memory pipes (on TCP it would be [`connect::tcp`](crate::connect::tcp)); the server
/// side answers one line and hangs up, and the client just reads on:
///
/// ```
/// use futures_lite::io::{AsyncBufReadExt, AsyncWriteExt};
/// use std::time::Duration;
/// use wrangle_io::{Backoff, RobustStream};
/// use wrangle_rt::{Runtime, VirtualRuntime};
///
/// let rt = VirtualRuntime::new();
/// rt.block_on(async {
///     let (tx, rx) = async_channel::unbounded();
///     let connector = move || {
///         let tx = tx.clone();
///         async move {
///             // One half of an in-memory pipe is the client's connection; the other
///             // goes to the "server".
///             let (client, server) = wrangle_io::pipe::duplex(64);
///             tx.send(server).await.unwrap();
///             Ok::<_, std::io::Error>(client)
///         }
///     };
///     let mut stream = RobustStream::builder(connector)
///         .backoff(Backoff::constant(Duration::from_millis(500)))
///         .build_with_runtime(rt.clone())
///         .unwrap();
///     let server = rt.spawn(async move {
///         for word in ["hello ", "again\n"] {
///             let mut conn = rx.recv().await.unwrap();
///             conn.write_all(word.as_bytes()).await.unwrap();
///             // Dropping `conn` hangs up in the middle of the line.
///         }
///     });
///     let mut line = String::new();
///     stream.read_line(&mut line).await.unwrap();
///     assert_eq!(line, "hello again\n"); // one line, across a reconnect
///     assert_eq!(stream.stats().completed, 2);
///     server.await.unwrap();
/// });
/// ```
///
/// # Cancel safety
///
/// The read and write futures of the I/O extension traits are as cancel safe as on any
/// stream: a `read` dropped before completing has consumed nothing; a `write` dropped before
/// completing wrote nothing; `read_line`/`read_until` dropped midway lose what they had
/// moved into their own buffer (not the stream's). Dropping a future that waits for a
/// reconnection changes nothing.
#[must_use = "dropping a RobustStream closes it: its connection and its connect loop end"]
pub struct RobustStream<S> {
    core: Arc<Core<S>>,
    buf: Box<[u8]>,
    pos: usize,
    filled: usize,
    read_listener: Option<EventListener>,
    write_listener: Option<EventListener>,
}

impl<S> fmt::Debug for RobustStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RobustStream")
            .field("core", &self.core)
            .field("buffered", &(self.filled - self.pos))
            .finish()
    }
}

impl<S> RobustStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// The largest read buffer a builder accepts (64 MiB): the buffer is allocated when the
    /// stream opens, so its size is checked rather than trusted.
    pub const MAX_BUFFER_CAPACITY: usize = 64 * 1024 * 1024;

    /// Opens a stream over the connections `connector` makes, on the current runtime
    /// ([`DefaultRuntime::current`]), with the default settings: `Backoff::default()`
    /// (exponential, 100 ms to 30 s, full jitter), a 10 s connect timeout, an 8 KiB read
    /// buffer. Returns at once; the first connection is made in the background.
    ///
    /// # Examples
    ///
    /// ```
    /// # wrangle_rt::VirtualRuntime::new().block_on(async {
    /// use futures_lite::io::AsyncWriteExt;
    /// use wrangle_io::RobustStream;
    ///
    /// let mut stream = RobustStream::new(|| async {
    ///     Ok::<_, std::io::Error>(futures_lite::io::Cursor::new(Vec::new()))
    /// });
    /// stream.write_all(b"waits for the connection, then writes").await.unwrap();
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

    /// Like [`new`](RobustStream::new), on `rt`.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_io::RobustStream;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let stream = RobustStream::with_runtime(rt.clone(), || async {
    ///         Ok::<_, std::io::Error>(futures_lite::io::Cursor::new(Vec::new()))
    ///     });
    ///     stream.connected().await.unwrap();
    ///     assert!(stream.is_connected());
    /// });
    /// ```
    pub fn with_runtime<R, K>(rt: R, connector: K) -> Self
    where
        R: Runtime,
        K: Connector<Connection = S>,
    {
        Self::start(
            Config::new(rt, "wrangle_io::RobustStream"),
            DEFAULT_BUFFER,
            connector,
        )
    }

    /// A builder, for a backoff policy, a connect timeout, a name, an error reporter or a
    /// buffer size of your own.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_io::{Backoff, RobustStream};
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// let stream = RobustStream::builder(|| async {
    ///     Ok::<_, std::io::Error>(futures_lite::io::Cursor::new(Vec::new()))
    /// })
    /// .backoff(Backoff::exponential(Duration::from_millis(50), Duration::from_secs(5)).max_attempts(10))
    /// .connect_timeout(Duration::from_secs(3))
    /// .name("orders-feed")
    /// .build_with_runtime(rt.clone())
    /// .unwrap();
    /// # drop(stream);
    /// ```
    pub fn builder<K>(connector: K) -> RobustStreamBuilder<K>
    where
        K: Connector<Connection = S>,
    {
        RobustStreamBuilder {
            connector,
            config: Config::new((), "wrangle_io::RobustStream"),
            buffer: DEFAULT_BUFFER,
        }
    }

    fn start<R, K>(config: Config<R>, buffer: usize, connector: K) -> Self
    where
        R: Runtime,
        K: Connector<Connection = S>,
    {
        let core = Arc::new(Core::new(config.name.clone(), config.reporter.clone()));
        driver::start(&core, connector, config);
        RobustStream {
            core,
            buf: vec![0; buffer].into_boxed_slice(),
            pos: 0,
            filled: 0,
            read_listener: None,
            write_listener: None,
        }
    }
}

impl<S: Send + 'static> RobustStream<S> {
    /// Waits until a connection is up (at once if one is).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_io::{Backoff, RobustStream};
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let start = rt.now();
    /// rt.block_on(async {
    ///     let stream = RobustStream::builder(|| async {
    ///         Ok::<_, std::io::Error>(futures_lite::io::Cursor::new(Vec::new()))
    ///     })
    ///     .backoff(Backoff::constant(Duration::from_millis(300)))
    ///     .build_with_runtime(rt.clone())
    ///     .unwrap();
    ///     assert!(!stream.is_connected()); // opening did not wait
    ///     stream.connected().await.unwrap();
    /// });
    /// // The backoff comes before the first attempt too.
    /// assert_eq!(rt.now() - start, Duration::from_millis(300));
    /// ```
    ///
    /// # Errors
    ///
    /// [`Closed`](crate::Closed) if the stream is closed (or closes while waiting).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only observes.
    pub fn connected(&self) -> Connected {
        Connected::new(self.core.clone())
    }

    /// A clonable handle to close, watch and count this stream from other tasks.
    ///
    /// # Examples
    ///
    /// See [`ReconnectHandle`].
    #[must_use]
    pub fn handle(&self) -> ReconnectHandle {
        ReconnectHandle {
            ctl: self.core.clone(),
        }
    }

    /// Closes the stream for good, without waiting: the connection is dropped (not flushed),
    /// the connect loop stops, reads return end-of-file once the buffer is drained, writes
    /// return [`Closed`](crate::Closed). Returns `true` if this call closed it.
    ///
    /// For a graceful close (flush, then close the connection, then the stream), use the I/O
    /// trait's: `AsyncWriteExt::close(&mut stream).await` (this inherent method takes its
    /// name from wrangle's vocabulary, so `stream.close()` calls this one).
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
    /// use wrangle_io::RobustStream;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut stream = RobustStream::with_runtime(rt.clone(), || async {
    ///         Ok::<_, std::io::Error>(futures_lite::io::Cursor::new(b"unread".to_vec()))
    ///     });
    ///     let mut first = [0; 2];
    ///     stream.read_exact(&mut first).await.unwrap();
    ///     assert!(stream.close());
    ///     assert!(!stream.close()); // already closed
    ///     // What was buffered can still be read, then end-of-file; writes fail.
    ///     let mut rest = Vec::new();
    ///     stream.read_to_end(&mut rest).await.unwrap();
    ///     assert_eq!(rest, b"read");
    ///     assert!(stream.write_all(b"x").await.is_err());
    /// });
    /// ```
    pub fn close(&self) -> bool {
        self.core.close(CloseReason::Closed, true)
    }

    /// Whether the stream is closed (on purpose, or because the backoff policy gave up).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.core.lock().closed.is_some()
    }

    /// Whether a connection is up now.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.core.lock().conn.is_some()
    }

    /// Subscribes to the lifecycle events, from now on.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::StreamExt;
    /// use std::time::Duration;
    /// use wrangle_io::{Backoff, Event, RobustStream};
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut calls = 0;
    ///     let stream = RobustStream::builder(move || {
    ///         calls += 1;
    ///         let fails = calls == 1;
    ///         async move {
    ///             if fails {
    ///                 return Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    ///             }
    ///             Ok(futures_lite::io::Cursor::new(Vec::new()))
    ///         }
    ///     })
    ///     .backoff(Backoff::constant(Duration::from_millis(10)))
    ///     .build_with_runtime(rt.clone())
    ///     .unwrap();
    ///     let mut events = stream.events();
    ///     assert!(matches!(events.next().await, Some(Event::AttemptFailed { attempt: 1, .. })));
    ///     assert!(matches!(events.next().await, Some(Event::Connected { connection: 1 })));
    ///     stream.close();
    ///     assert!(matches!(events.next().await, Some(Event::Closed { .. })));
    ///     assert!(events.next().await.is_none());
    /// });
    /// ```
    pub fn events(&self) -> Events {
        self.core.subscribe()
    }

    /// The counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::io::AsyncWriteExt;
    /// use wrangle_io::RobustStream;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let rt = VirtualRuntime::new();
    /// rt.block_on(async {
    ///     let mut stream = RobustStream::with_runtime(rt.clone(), || async {
    ///         Ok::<_, std::io::Error>(futures_lite::io::Cursor::new(Vec::new()))
    ///     });
    ///     stream.write_all(b"12345").await.unwrap();
    ///     let stats = stream.stats();
    ///     assert_eq!((stats.started, stats.completed, stats.bytes_written), (1, 1, 5));
    ///     assert_eq!(stats.started, stats.completed + stats.failed + stats.timed_out + stats.cancelled + stats.running as u64);
    /// });
    /// ```
    #[must_use]
    pub fn stats(&self) -> ReconnectStats {
        self.core.stats()
    }
}

impl<S> Drop for RobustStream<S> {
    fn drop(&mut self) {
        self.core.close(CloseReason::Closed, true);
    }
}

impl<S: AsyncRead + Unpin> RobustStream<S> {
    /// Reads from the connection into `out`, waiting across reconnections; `Ok(0)` only once
    /// closed.
    fn poll_read_conn(&mut self, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        Op {
            core: &self.core,
            listener: &mut self.read_listener,
            op: |conn: Pin<&mut S>, cx: &mut Context<'_>| conn.poll_read(cx, out),
            eof: |r: &io::Result<usize>| matches!(r, Ok(0)),
            account: |stats: &mut ReconnectStats, n: &usize| stats.bytes_read += *n as u64,
            closed: |_| Ok(0),
            when_down: WhenDown::Wait,
        }
        .poll(cx)
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        if self.pos >= self.filled {
            let mut buf = std::mem::take(&mut self.buf);
            let read = self.poll_read_conn(cx, &mut buf);
            self.buf = buf;
            let n = ready!(read)?;
            self.pos = 0;
            self.filled = n;
        }
        Poll::Ready(Ok(&self.buf[self.pos..self.filled]))
    }

    pub(crate) fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // A read at least as large as the buffer skips it when it is empty (as BufReader).
        if self.pos >= self.filled && out.len() >= self.buf.len() {
            return self.poll_read_conn(cx, out);
        }
        let available = ready!(self.poll_fill(cx))?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.pos += n;
        Poll::Ready(Ok(n))
    }
}

impl<S: AsyncWrite + Unpin> RobustStream<S> {
    pub(crate) fn poll_write_conn(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        Op {
            core: &self.core,
            listener: &mut self.write_listener,
            op: |conn: Pin<&mut S>, cx: &mut Context<'_>| conn.poll_write(cx, data),
            // A connection that accepts nothing is as good as gone.
            eof: |r: &io::Result<usize>| matches!(r, Ok(0)),
            account: |stats: &mut ReconnectStats, n: &usize| stats.bytes_written += *n as u64,
            closed: |reason| Err(crate::Closed::new(reason).into()),
            when_down: WhenDown::Wait,
        }
        .poll(cx)
    }

    pub(crate) fn poll_flush_conn(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Op {
            core: &self.core,
            listener: &mut self.write_listener,
            op: |conn: Pin<&mut S>, cx: &mut Context<'_>| conn.poll_flush(cx),
            eof: |_: &io::Result<()>| false,
            account: |_: &mut ReconnectStats, _: &()| {},
            closed: |reason| Err(crate::Closed::new(reason).into()),
            when_down: WhenDown::Return(()),
        }
        .poll(cx)
    }

    /// Closes on purpose: closes the current connection (flushing it), then the stream.
    pub(crate) fn poll_close_conn(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = {
            let mut st = self.core.lock();
            let open = st.closed.is_none();
            match st.conn.as_mut() {
                Some(conn) if open => ready!(Pin::new(conn).poll_close(cx)),
                _ => Ok(()),
            }
        };
        self.core.close(CloseReason::Closed, true);
        self.write_listener = None;
        // The connection is gone whatever its close said; an error there is not the caller's.
        drop(result);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for RobustStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read_into(cx, buf)
    }
}

impl<S: AsyncRead + Unpin> AsyncBufRead for RobustStream<S> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.get_mut().poll_fill(cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = this.pos.saturating_add(amt).min(this.filled);
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for RobustStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_conn(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_conn(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_conn(cx)
    }
}

/// Builder of a [`RobustStream`], from [`RobustStream::builder`].
#[must_use = "a builder does nothing until `build()`"]
pub struct RobustStreamBuilder<K> {
    connector: K,
    config: Config<()>,
    buffer: usize,
}

impl<K> fmt::Debug for RobustStreamBuilder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RobustStreamBuilder")
            .field("config", &self.config)
            .field("buffer", &self.buffer)
            .finish_non_exhaustive()
    }
}

impl<K: Connector> RobustStreamBuilder<K>
where
    K::Connection: AsyncRead + AsyncWrite + Unpin,
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

    /// Where panics of the connector or of a custom backoff policy are reported (default: the
    /// process-wide handler of `wrangle-rt`).
    pub fn error_reporter(mut self, reporter: ErrorReporter) -> Self {
        self.config.reporter = reporter;
        self
    }

    /// The capacity of the read buffer (default 8 KiB; at most
    /// [`RobustStream::MAX_BUFFER_CAPACITY`]).
    pub fn buffer_capacity(mut self, capacity: usize) -> Self {
        self.buffer = capacity;
        self
    }

    /// Opens the stream on the current runtime ([`DefaultRuntime::current`]).
    ///
    /// # Errors
    ///
    /// [`InvalidReconnectConfig`] for an invalid backoff policy, a zero connect timeout, or a buffer
    /// capacity of zero or above [`RobustStream::MAX_BUFFER_CAPACITY`].
    ///
    /// # Panics
    ///
    /// As [`DefaultRuntime::current`]: only in a build with no runtime at all.
    pub fn build(self) -> Result<RobustStream<K::Connection>, InvalidReconnectConfig> {
        self.build_with_runtime(DefaultRuntime::current())
    }

    /// Opens the stream on `rt`.
    ///
    /// # Errors
    ///
    /// As [`build`](RobustStreamBuilder::build).
    pub fn build_with_runtime<R: Runtime>(
        self,
        rt: R,
    ) -> Result<RobustStream<K::Connection>, InvalidReconnectConfig> {
        let config = self.config.with_runtime(rt);
        config.validate()?;
        if self.buffer == 0 || self.buffer > RobustStream::<K::Connection>::MAX_BUFFER_CAPACITY {
            return Err(InvalidReconnectConfig::BufferCapacity(self.buffer));
        }
        Ok(RobustStream::start(config, self.buffer, self.connector))
    }
}
