//! Model-based property test of `PrioritySemaphore` (R14-style op sequences): every
//! interleaving of acquires at random priorities, polls, cancellations, releases and
//! `try_acquire` matches a reference model of "served by (priority, arrival), strictly in
//! order, permits conserved".

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use proptest::prelude::*;
use wrangle_sync::future::AcquireOwned;
use wrangle_sync::{OwnedSemaphorePermit, PrioritySemaphore};

#[derive(Debug, Clone)]
enum Op {
    /// Start an acquire of `n` permits at `priority`, polled once.
    Acquire { priority: i32, n: usize },
    /// Poll the i-th live waiter (modulo).
    Poll(usize),
    /// Drop the i-th live waiter.
    Cancel(usize),
    /// Drop the i-th held permit.
    Release(usize),
    /// `try_acquire_many(n)`.
    TryAcquire(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0i32..3, 1usize..3).prop_map(|(priority, n)| Op::Acquire { priority, n }),
        any::<usize>().prop_map(Op::Poll),
        any::<usize>().prop_map(Op::Cancel),
        any::<usize>().prop_map(Op::Release),
        (1usize..3).prop_map(Op::TryAcquire),
    ]
}

/// The reference model.
#[derive(Default)]
struct Model {
    permits: usize,
    /// (priority, arrival, n, waiter id), unserved.
    queue: Vec<(i32, u64, usize, u64)>,
    /// Waiter ids served and not yet polled.
    granted: Vec<(u64, usize)>,
    seq: u64,
}

impl Model {
    fn serve(&mut self) {
        self.queue.sort();
        while let Some(&(_, _, n, id)) = self.queue.first() {
            if n > self.permits {
                break;
            }
            self.permits -= n;
            self.queue.remove(0);
            self.granted.push((id, n));
        }
    }
}

fn poll(fut: &mut AcquireOwned) -> Option<OwnedSemaphorePermit> {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(fut).poll(&mut cx) {
        Poll::Ready(r) => Some(r.unwrap()),
        Poll::Pending => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_the_reference_model(ops in prop::collection::vec(op(), 1..120), permits in 0usize..4) {
        let sem = Arc::new(PrioritySemaphore::new(permits));
        let mut model = Model { permits, ..Model::default() };
        let mut waiters: Vec<(u64, usize, AcquireOwned)> = Vec::new();
        let mut held: Vec<OwnedSemaphorePermit> = Vec::new();
        let mut next_id = 0u64;
        for op in ops {
            match op {
                Op::Acquire { priority, n } => {
                    let id = next_id;
                    next_id += 1;
                    let mut fut = Arc::clone(&sem).acquire_many_owned(n).priority(priority);
                    // A newcomer ahead of every waiter (lower priority value) fits at once.
                    let immediate = model.permits >= n
                        && model.queue.iter().all(|q| q.0 > priority);
                    match poll(&mut fut) {
                        Some(p) => {
                            prop_assert!(immediate, "acquired while others wait or without permits");
                            model.permits -= n;
                            held.push(p);
                        }
                        None => {
                            prop_assert!(!immediate, "waited with permits free and nobody ahead");
                            model.queue.push((priority, model.seq, n, id));
                            model.seq += 1;
                            waiters.push((id, n, fut));
                        }
                    }
                }
                Op::Poll(i) if !waiters.is_empty() => {
                    let i = i % waiters.len();
                    let id = waiters[i].0;
                    let granted = model.granted.iter().position(|g| g.0 == id);
                    match poll(&mut waiters[i].2) {
                        Some(p) => {
                            let at = granted.expect("served out of order");
                            model.granted.remove(at);
                            held.push(p);
                            drop(waiters.remove(i));
                        }
                        None => prop_assert!(granted.is_none(), "served but still pending"),
                    }
                }
                Op::Cancel(i) if !waiters.is_empty() => {
                    let (id, n, fut) = waiters.remove(i % waiters.len());
                    drop(fut);
                    if let Some(at) = model.granted.iter().position(|g| g.0 == id) {
                        model.granted.remove(at);
                        model.permits += n;
                    } else {
                        model.queue.retain(|q| q.3 != id);
                    }
                    model.serve();
                }
                Op::Release(i) if !held.is_empty() => {
                    let p = held.remove(i % held.len());
                    model.permits += p.num_permits();
                    drop(p);
                    model.serve();
                }
                Op::TryAcquire(n) => {
                    let ok = model.queue.is_empty() && model.permits >= n;
                    match Arc::clone(&sem).try_acquire_many(n) {
                        Ok(p) => {
                            prop_assert!(ok);
                            p.forget();
                            // Forgotten permits leave the model too.
                            model.permits -= n;
                        }
                        Err(_) => prop_assert!(!ok),
                    }
                }
                _ => {}
            }
            prop_assert_eq!(sem.available_permits(), model.permits);
            prop_assert_eq!(sem.stats().queued, model.queue.len());
        }
        // Everything dropped: every permit still in play comes back.
        let in_hands: usize = held.iter().map(OwnedSemaphorePermit::num_permits).sum();
        drop(waiters);
        drop(held);
        let granted_back: usize = model.granted.iter().map(|g| g.1).sum();
        prop_assert_eq!(sem.available_permits(), model.permits + in_hands + granted_back);
    }
}
