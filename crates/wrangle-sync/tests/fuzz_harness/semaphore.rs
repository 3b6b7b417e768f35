//! `PrioritySemaphore` against a reference model: waiters served by `(priority, arrival)`,
//! strictly in order, permits conserved, every served or failed waiter woken exactly once.
//!
//! Futures are polled by hand with counting wakers; no runtime is involved.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use wrangle_sync::future::{Acquire, AcquireOwned};
use wrangle_sync::{
    AcquireError, OwnedSemaphorePermit, Priority, PrioritySemaphore, SemaphorePermit,
    TryAcquireError,
};

use super::{Bytes, MAX_OPS};

/// A waker that counts its wake-ups.
#[derive(Debug, Default)]
struct CountingWaker(AtomicUsize);

impl CountingWaker {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A borrowed or an owned acquire future.
enum Fut<'a> {
    Borrowed(Acquire<'a>),
    Owned(AcquireOwned),
}

/// A borrowed or an owned permit.
enum Held<'a> {
    Borrowed(SemaphorePermit<'a>),
    Owned(OwnedSemaphorePermit),
}

impl Held<'_> {
    fn num_permits(&self) -> usize {
        match self {
            Held::Borrowed(p) => p.num_permits(),
            Held::Owned(p) => p.num_permits(),
        }
    }

    fn forget(self) {
        match self {
            Held::Borrowed(p) => p.forget(),
            Held::Owned(p) => p.forget(),
        }
    }
}

impl<'a> Fut<'a> {
    fn poll(&mut self, waker: &Waker) -> Poll<Result<Held<'a>, AcquireError>> {
        let mut cx = Context::from_waker(waker);
        match self {
            Fut::Borrowed(f) => Pin::new(f).poll(&mut cx).map_ok(Held::Borrowed),
            Fut::Owned(f) => Pin::new(f).poll(&mut cx).map_ok(Held::Owned),
        }
    }

    fn priority(self, priority: Priority) -> Self {
        match self {
            Fut::Borrowed(f) => Fut::Borrowed(f.priority(priority)),
            Fut::Owned(f) => Fut::Owned(f.priority(priority)),
        }
    }
}

struct Waiter<'a> {
    id: u64,
    n: usize,
    fut: Option<Fut<'a>>,
    /// The waker of the last poll; earlier ones must never be woken.
    wakers: Vec<Arc<CountingWaker>>,
}

impl Waiter<'_> {
    fn waker(&self) -> Waker {
        Waker::from(Arc::clone(self.wakers.last().expect("one waker at least")))
    }
}

#[derive(Debug, Clone, Copy)]
struct Queued {
    priority: Priority,
    seq: u64,
    n: usize,
    id: u64,
}

/// The reference model.
#[derive(Debug, Default)]
struct Model {
    permits: usize,
    closed: bool,
    default_priority: Priority,
    seq: u64,
    queue: Vec<Queued>,
    /// Served and not yet polled: (id, n).
    granted: Vec<(u64, usize)>,
    /// Failed by `close` and not yet polled.
    failed: Vec<u64>,
    acquired: u64,
    cancelled: u64,
    returned: u64,
}

impl Model {
    fn serve(&mut self) {
        self.queue.sort_by_key(|q| (q.priority, q.seq));
        while let Some(head) = self.queue.first().copied() {
            if head.n > self.permits {
                break;
            }
            self.permits -= head.n;
            self.queue.remove(0);
            self.granted.push((head.id, head.n));
            self.acquired += 1;
        }
    }

    /// Whether a newcomer at `priority` is ahead of every queued waiter.
    fn first_in_line(&self, priority: Priority) -> bool {
        self.queue.iter().all(|q| q.priority > priority)
    }

    /// Whether the waiter's wake-up is due (served or failed).
    fn woken(&self, id: u64) -> bool {
        self.granted.iter().any(|g| g.0 == id) || self.failed.contains(&id)
    }
}

fn priority_of(code: u8) -> Option<Priority> {
    match code % 5 {
        4 => None,
        p => Some(Priority::from(p) - 1),
    }
}

/// Runs one op sequence; panics on the first divergence from the model.
pub(crate) fn run(data: &[u8]) {
    let mut input = Bytes::new(data);
    let permits = usize::from(input.byte() % 4);
    let sem = Arc::new(PrioritySemaphore::new(permits));
    let mut model = Model {
        permits,
        ..Model::default()
    };
    let mut waiters: Vec<Waiter<'_>> = Vec::new();
    let mut held: Vec<Held<'_>> = Vec::new();
    let mut next_id = 0u64;
    // `FUZZ_TRACE=1` prints every step with the model, to read a failing input.
    let trace = std::env::var_os("FUZZ_TRACE").is_some();

    for step in 0..MAX_OPS {
        let Some(op) = input.next() else { break };
        let arg = input.byte();
        if trace {
            eprintln!("step {step}: op {} arg {arg} model {model:?}", op % 16);
        }
        match op % 16 {
            // Acquire `n` (0..=3) at a priority (or the default), borrowed or owned; polled once.
            0..=3 => {
                let priority = priority_of(arg);
                let n = usize::from(arg / 5 % 4);
                let owned = op & 0x80 != 0;
                let mut fut = if owned {
                    Fut::Owned(Arc::clone(&sem).acquire_many_owned(n))
                } else {
                    Fut::Borrowed(sem.acquire_many(n))
                };
                if let Some(p) = priority {
                    fut = fut.priority(p);
                }
                let id = next_id;
                next_id += 1;
                let wakers = vec![Arc::new(CountingWaker::default())];
                let waker = Waker::from(Arc::clone(&wakers[0]));
                let effective = priority.unwrap_or(model.default_priority);
                let immediate = model.permits >= n && model.first_in_line(effective);
                match fut.poll(&waker) {
                    Poll::Ready(Err(_)) => assert!(model.closed, "step {step}: failed while open"),
                    Poll::Ready(Ok(p)) => {
                        assert!(!model.closed, "step {step}: acquired while closed");
                        assert!(
                            immediate,
                            "step {step}: overtook a waiter or had no permits"
                        );
                        assert_eq!(p.num_permits(), n);
                        model.permits -= n;
                        model.acquired += 1;
                        held.push(p);
                    }
                    Poll::Pending => {
                        assert!(!model.closed, "step {step}: waits on a closed semaphore");
                        assert!(
                            !immediate,
                            "step {step}: waited with permits free, nobody ahead"
                        );
                        model.queue.push(Queued {
                            priority: priority.unwrap_or(model.default_priority),
                            seq: model.seq,
                            n,
                            id,
                        });
                        model.seq += 1;
                        waiters.push(Waiter {
                            id,
                            n,
                            fut: Some(fut),
                            wakers,
                        });
                    }
                }
            }
            // Poll a waiter, sometimes with a fresh waker.
            4..=6 if !waiters.is_empty() => {
                let i = usize::from(arg) % waiters.len();
                if op & 0x80 != 0 {
                    waiters[i].wakers.push(Arc::new(CountingWaker::default()));
                }
                let waker = waiters[i].waker();
                let id = waiters[i].id;
                let fut = waiters[i].fut.as_mut().expect("live waiter");
                match fut.poll(&waker) {
                    Poll::Ready(Ok(p)) => {
                        let at = model.granted.iter().position(|g| g.0 == id);
                        let at = at.unwrap_or_else(|| panic!("step {step}: served out of order"));
                        assert_eq!(p.num_permits(), model.granted[at].1);
                        model.granted.remove(at);
                        held.push(p);
                        waiters.remove(i);
                    }
                    Poll::Ready(Err(_)) => {
                        let at = model.failed.iter().position(|&f| f == id);
                        let at = at.unwrap_or_else(|| panic!("step {step}: failed while open"));
                        model.failed.remove(at);
                        waiters.remove(i);
                    }
                    Poll::Pending => {
                        assert!(
                            !model.woken(id),
                            "step {step}: served or failed, still pending"
                        );
                    }
                }
            }
            // Drop a waiter.
            7 | 8 if !waiters.is_empty() => {
                let w = waiters.remove(usize::from(arg) % waiters.len());
                drop(w.fut);
                if let Some(at) = model.granted.iter().position(|g| g.0 == w.id) {
                    model.granted.remove(at);
                    model.permits += w.n;
                    model.returned += 1;
                    model.acquired -= 1;
                } else if let Some(at) = model.failed.iter().position(|&f| f == w.id) {
                    model.failed.remove(at);
                } else {
                    model.queue.retain(|q| q.id != w.id);
                    model.cancelled += 1;
                }
                model.serve();
            }
            // Drop a permit.
            9 | 10 if !held.is_empty() => {
                let p = held.remove(usize::from(arg) % held.len());
                model.permits += p.num_permits();
                drop(p);
                model.serve();
            }
            // try_acquire_many(n), borrowed, or try_acquire_owned.
            11 => {
                let owned = op & 0x80 != 0;
                let n = if owned { 1 } else { usize::from(arg % 4) };
                let got = if owned {
                    Arc::clone(&sem).try_acquire_owned().map(Held::Owned)
                } else {
                    sem.try_acquire_many(n).map(Held::Borrowed)
                };
                match got {
                    Ok(p) => {
                        assert!(!model.closed && model.queue.is_empty() && model.permits >= n);
                        assert_eq!(p.num_permits(), n);
                        model.permits -= n;
                        model.acquired += 1;
                        held.push(p);
                    }
                    Err(TryAcquireError::Closed) => assert!(model.closed, "step {step}"),
                    Err(TryAcquireError::NoPermits) => {
                        assert!(
                            !model.closed,
                            "step {step}: NoPermits on a closed semaphore"
                        );
                        assert!(!model.queue.is_empty() || model.permits < n, "step {step}");
                    }
                    Err(e) => panic!("step {step}: unknown error {e:?}"),
                }
            }
            12 => {
                let n = usize::from(arg % 4);
                sem.add_permits(n).expect("far below MAX_PERMITS");
                model.permits += n;
                model.serve();
            }
            // Move a waiter to another priority.
            13 if !waiters.is_empty() => {
                let i = usize::from(arg) % waiters.len();
                let priority = Priority::from(input.byte() % 4) - 1;
                let fut = waiters[i].fut.take().expect("live waiter");
                waiters[i].fut = Some(fut.priority(priority));
                let id = waiters[i].id;
                if let Some(q) = model.queue.iter_mut().find(|q| q.id == id) {
                    q.priority = priority;
                    model.serve();
                }
            }
            14 => {
                let priority = Priority::from(arg % 4) - 1;
                sem.set_default_priority(priority);
                model.default_priority = priority;
            }
            15 => {
                if arg < 24 {
                    sem.close();
                    model.closed = true;
                    model.failed.extend(model.queue.drain(..).map(|q| q.id));
                } else if !held.is_empty() {
                    held.remove(usize::from(arg) % held.len()).forget();
                }
            }
            _ => {}
        }
        check(step, &sem, &model, &waiters);
    }

    // Everything dropped: the permits in hands and those served but never taken come back.
    let in_hands: usize = held.iter().map(Held::num_permits).sum();
    let granted: usize = model.granted.iter().map(|g| g.1).sum();
    drop(waiters);
    drop(held);
    let stats = sem.stats();
    assert_eq!(stats.queued, 0);
    assert_eq!(stats.available, model.permits + in_hands + granted);
}

fn check(step: usize, sem: &PrioritySemaphore, model: &Model, waiters: &[Waiter<'_>]) {
    let stats = sem.stats();
    assert_eq!(stats.available, model.permits, "step {step}: available");
    assert_eq!(stats.queued, model.queue.len(), "step {step}: waiting");
    assert_eq!(stats.acquired, model.acquired, "step {step}: acquired");
    assert_eq!(stats.cancelled, model.cancelled, "step {step}: cancelled");
    assert_eq!(stats.returned, model.returned, "step {step}: returned");
    assert_eq!(sem.is_closed(), model.closed, "step {step}: closed");
    assert_eq!(sem.default_priority(), model.default_priority);
    for w in waiters {
        let (last, earlier) = w.wakers.split_last().expect("one waker at least");
        let due = usize::from(model.woken(w.id));
        assert_eq!(
            last.count(),
            due,
            "step {step}: waiter {} woken wrongly",
            w.id
        );
        assert!(
            earlier.iter().all(|old| old.count() == 0),
            "step {step}: stale waker"
        );
    }
}
