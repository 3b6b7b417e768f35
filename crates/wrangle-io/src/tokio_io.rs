//! Tokio interoperability (feature `tokio`): Tokio's I/O traits on [`RobustStream`], and
//! [`TokioIo`] to use Tokio's sockets as connections.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_lite::ready;
use tokio::io::ReadBuf;

use crate::stream::RobustStream;

/// Adapts a Tokio `AsyncRead`/`AsyncWrite` (a `tokio::net::TcpStream`, a `tokio-rustls`
/// stream...) to the futures-io traits that [`RobustStream`] takes as its connection
/// (feature `tokio`). The connectors of [`connect`](crate::connect) for Tokio return it.
///
/// # Examples
///
/// ```no_run
/// use wrangle_io::{RobustStream, TokioIo};
///
/// #[tokio::main]
/// async fn main() {
///     let stream = RobustStream::new(|| async {
///         let tcp = tokio::net::TcpStream::connect("127.0.0.1:7000").await?;
///         Ok::<_, std::io::Error>(TokioIo::new(tcp))
///     });
///     stream.connected().await.unwrap();
/// }
/// ```
#[derive(Debug)]
pub struct TokioIo<T> {
    inner: T,
}

impl<T> TokioIo<T> {
    /// Wraps a Tokio I/O object.
    pub fn new(inner: T) -> Self {
        TokioIo { inner }
    }

    /// The wrapped object.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped object, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps it.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: tokio::io::AsyncRead + Unpin> AsyncRead for TokioIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.get_mut().inner).poll_read(cx, &mut read))?;
        Poll::Ready(Ok(read.filled().len()))
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> AsyncWrite for TokioIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Tokio's `AsyncRead` (feature `tokio`): the same reads as through futures-io, buffer and
/// reconnection semantics included.
impl<S: AsyncRead + Unpin> tokio::io::AsyncRead for RobustStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = ready!(self.get_mut().poll_read_into(cx, buf.initialize_unfilled()))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

/// Tokio's `AsyncBufRead` (feature `tokio`), over the stream's own read buffer.
impl<S: AsyncRead + Unpin> tokio::io::AsyncBufRead for RobustStream<S> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        futures_lite::io::AsyncBufRead::poll_fill_buf(self, cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        futures_lite::io::AsyncBufRead::consume(self, amt);
    }
}

/// Tokio's `AsyncWrite` (feature `tokio`); `poll_shutdown` is a close on purpose, as
/// futures-io's `poll_close`.
impl<S: AsyncWrite + Unpin> tokio::io::AsyncWrite for RobustStream<S> {
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

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_conn(cx)
    }
}
