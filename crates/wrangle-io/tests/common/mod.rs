//! Shared helpers: an in-memory "server" that hands out duplex pipes, and poll counters.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wrangle_io::pipe::{DuplexStream, duplex};
use wrangle_io::{Backoff, Connector};
use wrangle_rt::{DefaultRuntime, Runtime};

/// The server side of a pipe connector: receives the server end of every connection made,
/// refuses attempts while `refuse` says so, and counts calls.
#[derive(Clone)]
pub struct PipeServer {
    pub accepted: async_channel::Receiver<DuplexStream>,
    pub calls: Arc<AtomicUsize>,
    /// The next this-many attempts fail with `ConnectionRefused`.
    pub refuse: Arc<AtomicUsize>,
    /// Instants (runtime clock) of every connector call.
    pub call_times: Arc<Mutex<Vec<Instant>>>,
}

impl PipeServer {
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub async fn accept(&self) -> DuplexStream {
        self.accepted.recv().await.expect("connector gone")
    }
}

/// A connector over in-memory pipes, and its server side.
pub fn pipe_connector(
    rt: DefaultRuntime,
) -> (
    impl Connector<Connection = DuplexStream, Error = io::Error>,
    PipeServer,
) {
    let (tx, rx) = async_channel::unbounded();
    let server = PipeServer {
        accepted: rx,
        calls: Arc::new(AtomicUsize::new(0)),
        refuse: Arc::new(AtomicUsize::new(0)),
        call_times: Arc::new(Mutex::new(Vec::new())),
    };
    let (calls, refuse, times) = (
        server.calls.clone(),
        server.refuse.clone(),
        server.call_times.clone(),
    );
    let connector = move || {
        calls.fetch_add(1, Ordering::SeqCst);
        times.lock().unwrap().push(rt.now());
        let refused = refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let tx = tx.clone();
        async move {
            if refused {
                return Err(io::Error::from(io::ErrorKind::ConnectionRefused));
            }
            let (client, server) = duplex(1024);
            tx.send(server)
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::ConnectionRefused))?;
            Ok(client)
        }
    };
    (connector, server)
}

/// A backoff policy that counts its calls and waits `delay` each time.
pub fn counting_backoff(delay: Duration) -> (Backoff, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let policy = Backoff::custom(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
        Some(delay)
    });
    (policy, count)
}

/// Wraps a future and counts its polls.
pub struct CountPolls<F> {
    pub inner: Pin<Box<F>>,
    pub polls: Arc<AtomicUsize>,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        self.inner.as_mut().poll(cx)
    }
}

pub fn count_polls<F: Future>(f: F) -> (CountPolls<F>, Arc<AtomicUsize>) {
    let polls = Arc::new(AtomicUsize::new(0));
    (
        CountPolls {
            inner: Box::pin(f),
            polls: polls.clone(),
        },
        polls,
    )
}

/// Polls `fut` once with a no-op waker.
pub fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    Pin::new(fut).poll(&mut cx)
}

/// Waits (on the runtime's clock, in steps of `step`) until `cond` holds; panics after
/// `limit` steps. Real runtimes only ever use this as "eventually".
pub async fn eventually(
    rt: &DefaultRuntime,
    step: Duration,
    limit: usize,
    mut cond: impl FnMut() -> bool,
) {
    for _ in 0..limit {
        if cond() {
            return;
        }
        rt.sleep(step).await;
    }
    assert!(cond(), "condition not reached");
}
