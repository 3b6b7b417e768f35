//! In-memory connections for tests and examples: [`duplex`] (bytes) and [`message_pipe`] (messages).
//!
//! They are runtime-free (wakers only), so a robust stream over them runs exactly on virtual
//! time: a test can drop the "server" end to simulate a lost connection, and count attempts
//! and delays without a network.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures_lite::Stream;
use futures_lite::io::{AsyncRead, AsyncWrite};

use crate::loom::lock;

struct Pipe<T> {
    queue: VecDeque<T>,
    capacity: usize,
    /// The writing end closed or dropped: the reader sees end-of-file after the queue.
    write_closed: bool,
    /// The reading end dropped: writes fail.
    read_closed: bool,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

type SharedPipe<T> = Arc<Mutex<Pipe<T>>>;

fn pipe<T>(capacity: usize) -> SharedPipe<T> {
    Arc::new(Mutex::new(Pipe {
        queue: VecDeque::new(),
        capacity: capacity.max(1),
        write_closed: false,
        read_closed: false,
        read_waker: None,
        write_waker: None,
    }))
}

fn wake(w: &mut Option<Waker>) {
    if let Some(w) = w.take() {
        w.wake();
    }
}

/// One end of an in-memory byte pipe from [`duplex`]: what one end writes, the other reads.
///
/// Dropping (or closing) an end is a hang-up: the other end reads end-of-file after what was
/// written, and its writes fail with `BrokenPipe` once this end is dropped.
pub struct DuplexStream {
    read: SharedPipe<u8>,
    write: SharedPipe<u8>,
}

impl fmt::Debug for DuplexStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuplexStream")
            .field("unread", &lock(&self.read).queue.len())
            .finish()
    }
}

/// A pair of connected in-memory byte streams, each buffering up to `capacity` bytes in each
/// direction (at least 1).
///
/// # Examples
///
/// ```
/// use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
///
/// futures_lite::future::block_on(async {
///     let (mut a, mut b) = wrangle_io::pipe::duplex(64);
///     a.write_all(b"ping").await.unwrap();
///     drop(a); // hang up
///     let mut got = String::new();
///     b.read_to_string(&mut got).await.unwrap();
///     assert_eq!(got, "ping");
///     assert!(b.write_all(b"pong").await.is_err());
/// });
/// ```
#[must_use]
pub fn duplex(capacity: usize) -> (DuplexStream, DuplexStream) {
    let (ab, ba) = (pipe(capacity), pipe(capacity));
    (
        DuplexStream {
            read: ba.clone(),
            write: ab.clone(),
        },
        DuplexStream {
            read: ab,
            write: ba,
        },
    )
}

impl AsyncRead for DuplexStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut p = lock(&self.read);
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if p.queue.is_empty() {
            if p.write_closed {
                return Poll::Ready(Ok(0));
            }
            p.read_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(p.queue.len());
        for (slot, byte) in buf.iter_mut().zip(p.queue.drain(..n)) {
            *slot = byte;
        }
        wake(&mut p.write_waker);
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for DuplexStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut p = lock(&self.write);
        if p.read_closed || p.write_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = p.capacity - p.queue.len();
        if room == 0 {
            p.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(buf.len());
        p.queue.extend(&buf[..n]);
        wake(&mut p.read_waker);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut p = lock(&self.write);
        p.write_closed = true;
        wake(&mut p.read_waker);
        Poll::Ready(Ok(()))
    }
}

impl Drop for DuplexStream {
    fn drop(&mut self) {
        {
            let mut p = lock(&self.write);
            p.write_closed = true;
            wake(&mut p.read_waker);
        }
        let mut p = lock(&self.read);
        p.read_closed = true;
        p.queue.clear();
        wake(&mut p.write_waker);
    }
}

/// One end of an in-memory message pipe from [`message_pipe`]: a
/// `Stream<Item = io::Result<T>>` and a `Sink<T, Error = io::Error>`, as a framed transport
/// (a codec, a websocket) is.
///
/// Dropping an end is a hang-up: the other end's stream ends, and its sends fail with
/// `BrokenPipe`.
pub struct MessageEnd<T> {
    read: SharedPipe<T>,
    write: SharedPipe<T>,
}

impl<T> fmt::Debug for MessageEnd<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageEnd")
            .field("unread", &lock(&self.read).queue.len())
            .finish()
    }
}

/// A pair of connected in-memory message ends, each buffering up to `capacity` messages in
/// each direction (at least 1).
///
/// # Examples
///
/// ```
/// use futures_lite::StreamExt;
///
/// futures_lite::future::block_on(async {
///     let (mut a, mut b) = wrangle_io::pipe::message_pipe::<String>(8);
///     a.try_send("hello".to_string()).unwrap();
///     drop(a);
///     assert_eq!(b.next().await.unwrap().unwrap(), "hello");
///     assert!(b.next().await.is_none());
/// });
/// ```
#[must_use]
pub fn message_pipe<T>(capacity: usize) -> (MessageEnd<T>, MessageEnd<T>) {
    let (ab, ba) = (pipe(capacity), pipe(capacity));
    (
        MessageEnd {
            read: ba.clone(),
            write: ab.clone(),
        },
        MessageEnd {
            read: ab,
            write: ba,
        },
    )
}

impl<T> MessageEnd<T> {
    /// Queues `item` without waiting.
    ///
    /// # Errors
    ///
    /// Gives the item back if the pipe is full or the other end is gone.
    pub fn try_send(&mut self, item: T) -> Result<(), T> {
        let mut p = lock(&self.write);
        if p.read_closed || p.write_closed || p.queue.len() >= p.capacity {
            return Err(item);
        }
        p.queue.push_back(item);
        wake(&mut p.read_waker);
        Ok(())
    }
}

impl<T> Stream for MessageEnd<T> {
    type Item = io::Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<T>>> {
        let mut p = lock(&self.read);
        match p.queue.pop_front() {
            Some(item) => {
                wake(&mut p.write_waker);
                Poll::Ready(Some(Ok(item)))
            }
            None if p.write_closed => Poll::Ready(None),
            None => {
                p.read_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Terminated once the other end stopped sending and everything it sent was read: the next
/// poll returns `None`.
impl<T> futures_core::stream::FusedStream for MessageEnd<T> {
    fn is_terminated(&self) -> bool {
        let p = lock(&self.read);
        p.write_closed && p.queue.is_empty()
    }
}

impl<T> futures_sink::Sink<T> for MessageEnd<T> {
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut p = lock(&self.write);
        if p.read_closed || p.write_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if p.queue.len() >= p.capacity {
            p.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> io::Result<()> {
        let mut p = lock(&self.write);
        if p.read_closed || p.write_closed {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        p.queue.push_back(item);
        wake(&mut p.read_waker);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let p = lock(&self.write);
        if p.read_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut p = lock(&self.write);
        p.write_closed = true;
        wake(&mut p.read_waker);
        Poll::Ready(Ok(()))
    }
}

impl<T> Drop for MessageEnd<T> {
    fn drop(&mut self) {
        {
            let mut p = lock(&self.write);
            p.write_closed = true;
            wake(&mut p.read_waker);
        }
        let mut p = lock(&self.read);
        p.read_closed = true;
        p.queue.clear();
        wake(&mut p.write_waker);
    }
}
