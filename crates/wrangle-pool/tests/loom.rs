//! Loom models of wrangle-pool's hand-written synchronisation: the deadline slot of a worker,
//! which the worker arms and clears while the reaper fires it, the workers' searching
//! protocol (`dispatch.rs`), whose one step without the pool's lock must not strand queued
//! work, and the pooled task's cell (`joint.rs`), whose handle cancels through a pointer to
//! the running worker's context (loom's `UnsafeCell` checks the future's exclusive access).
//!
//! Run with `cargo xtask loom wrangle-pool` (`RUSTFLAGS="--cfg loom"`, `LOOM_MAX_PREEMPTIONS=2`).
//! Under `--cfg loom` the crate builds on loom's primitives (its `src/loom.rs`) and makes the
//! two pieces public as `wrangle_pool::loom_model`: a whole `TaskPool` needs a runtime, which
//! does not build under loom, and would bury these two protocols in the state space of the
//! queue and the runtime. Final states are read with `DeadlineSlot::settled` and
//! `Crew::settled` (read-modify-writes): loom can let a plain load after `join` pick a value
//! that contradicts the modification order the run observed (tokio-rs/loom#282, #389), which a
//! read-modify-write cannot.

#![cfg(loom)]

use std::future::Future;
use std::sync::Arc;
use std::task::{Wake, Waker};

use loom::sync::atomic::AtomicBool;
use loom::thread;

use wrangle_pool::loom_model::{Crew, DeadlineSlot, Dispatch, FIRED, NONE, Roster};

/// A waker that records that it was woken.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The reaper finds task A's deadline (10) passed while the worker ends A and starts B
/// (deadline 20, not passed at 15): B must never be fired.
#[test]
fn a_passed_deadline_never_fires_the_next_task() {
    loom::model(|| {
        let slot = Arc::new(DeadlineSlot::default());
        slot.arm(10);
        let reaper = thread::spawn({
            let slot = slot.clone();
            move || slot.fire_if_passed(15)
        });
        slot.clear();
        slot.arm(20);
        let next = reaper.join().unwrap();
        assert_eq!(slot.settled(), 21, "task B was fired by task A's deadline");
        // Either the reaper saw B (and reports its deadline) or it saw A, B's slot untouched.
        assert!(next.is_none() || next == Some(20));
    });
}

/// The worker registers its waker, arms, polls the task (pending) and then checks `fired`;
/// the reaper fires at the same time. The worker either sees the deadline fired or is woken.
#[test]
fn a_fired_deadline_is_seen_or_wakes_the_worker() {
    loom::model(|| {
        let slot = Arc::new(DeadlineSlot::default());
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut registered = None;
        slot.register(&waker, &mut registered);
        slot.arm(10);
        let reaper = thread::spawn({
            let slot = slot.clone();
            move || slot.fire_if_passed(10)
        });
        let seen = slot.fired();
        reaper.join().unwrap();
        let woken = flag.0.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            seen || woken,
            "the timeout was lost: not seen and not woken"
        );
        assert_eq!(slot.settled(), FIRED, "a passed deadline was not fired");
    });
}

/// A slot cleared while the reaper looks at it stays clear: a finished task is never fired.
#[test]
fn a_cleared_slot_is_never_fired() {
    loom::model(|| {
        let slot = Arc::new(DeadlineSlot::default());
        slot.arm(5);
        let reaper = thread::spawn({
            let slot = slot.clone();
            move || slot.fire_if_passed(100)
        });
        slot.clear();
        reaper.join().unwrap();
        // Fired before the clear, or found clear: either way the slot ends clear.
        assert_eq!(slot.settled(), NONE, "a finished task's slot was fired");
    });
}

/// The pool's lock in the model: the roster and the number of queued tasks.
#[derive(Default)]
struct Pool {
    roster: Roster,
    queued: usize,
}

/// A pool of size 2: worker A runs a task that waits (not searching), worker B runs a task's
/// first poll (searching); nothing queued, nobody spare. Then, at once: B's task waits (the
/// step without the lock), A's task ends and A finds the queue empty and goes idle, and a
/// submission queues a task. Whatever the interleaving, a queued task is never left while a
/// worker is spare and nobody searches: it would wait for busy workers while one idles.
#[test]
fn a_queued_task_never_waits_while_a_worker_is_spare() {
    loom::model(|| {
        let crew = Arc::new(Crew::new(std::num::NonZeroUsize::new(2)));
        let pool = Arc::new(loom::sync::Mutex::new(Pool::default()));
        {
            // Set-up, through the same steps as the pool: a task submitted, worker A spawned
            // for it; A's task waits; a second task, worker B spawned; B starts it.
            let mut p = pool.lock().unwrap();
            assert_eq!(crew.dispatch(&mut p.roster, || false), Dispatch::New);
            drop(p);
            if crew.task_waits() {
                let mut p = pool.lock().unwrap();
                assert_eq!(crew.dispatch(&mut p.roster, || true), Dispatch::Nobody);
            }
            let mut p = pool.lock().unwrap();
            assert_eq!(crew.dispatch(&mut p.roster, || false), Dispatch::New);
        }
        let b = {
            let (crew, pool) = (crew.clone(), pool.clone());
            thread::spawn(move || {
                // B's task waits.
                if crew.task_waits() {
                    let mut p = pool.lock().unwrap();
                    let queued = p.queued;
                    crew.dispatch(&mut p.roster, || queued == 0)
                } else {
                    Dispatch::Nobody
                }
            })
        };
        let a = {
            let (crew, pool) = (crew.clone(), pool.clone());
            thread::spawn(move || {
                // A's task ended: A is back, searching, and looks at the queue under the lock.
                crew.task_done();
                let mut p = pool.lock().unwrap();
                if p.queued > 0 {
                    p.queued -= 1;
                } else {
                    crew.go_idle(&mut p.roster);
                }
            })
        };
        // A submission from this thread.
        let sent = {
            let mut p = pool.lock().unwrap();
            p.queued += 1;
            let queued = p.queued;
            crew.dispatch(&mut p.roster, || queued == 0)
        };
        let sent_by_b = b.join().unwrap();
        a.join().unwrap();
        for d in [sent, sent_by_b] {
            assert_ne!(d, Dispatch::New, "the pool is at its size");
        }

        let p = pool.lock().unwrap();
        let (searching, spare) = crew.settled();
        assert!(
            searching <= p.roster.workers,
            "searching count broken: {searching}"
        );
        assert_eq!(
            spare, p.roster.idle,
            "spare is the idle workers at full size"
        );
        if p.queued > 0 {
            assert!(
                searching > 0 || spare == 0,
                "a task is queued, a worker idles, and nobody is sent"
            );
        }
    });
}

/// The pool's lock in the shutdown model: the roster, `closed`, and the wake-ups handed to
/// idle workers (a listener registered under the lock, as `Event::listen` is, never misses
/// one).
#[derive(Default)]
struct Gate {
    roster: Roster,
    closed: bool,
    wakeups: usize,
}

/// R4 / R11: `close` (what `shutdown` starts with) races two submissions and the worker of a
/// pool of size 1, which starts idle. The steps are the pool's (`spawn`, `close`, `work`):
/// a submission pushes and dispatches under the lock unless the pool is closed; `close` sets
/// `closed` and wakes the idle workers under it; the worker pops without the lock, looks
/// again under it when the queue is empty, and leaves only if the pool is closed. The queue
/// has its own lock here (the pool's is lock-free). Whatever the interleaving, each
/// submission runs exactly once or is refused to its submitter, and the worker leaves: no
/// deadlock, nothing stranded in the queue.
#[test]
fn shutdown_racing_submission_runs_each_task_once_or_refuses_it() {
    use loom::sync::{Condvar, Mutex};
    use std::collections::VecDeque;

    loom::model(|| {
        let crew = Arc::new(Crew::new(std::num::NonZeroUsize::new(1)));
        let gate = Arc::new((Mutex::new(Gate::default()), Condvar::new()));
        let queue = Arc::new(Mutex::new(VecDeque::<usize>::new()));
        let ran = Arc::new(Mutex::new([0usize; 2]));
        {
            // Set-up: a first submission spawned the worker, which ran it and went idle.
            let mut g = gate.0.lock().unwrap();
            assert_eq!(crew.dispatch(&mut g.roster, || false), Dispatch::New);
            crew.go_idle(&mut g.roster);
        }
        let worker = {
            let (crew, gate, queue, ran) = (crew.clone(), gate.clone(), queue.clone(), ran.clone());
            thread::spawn(move || {
                let (lock, cv) = &*gate;
                // Idle until woken (claimed by a submission, or by `close`).
                let mut g = lock.lock().unwrap();
                while g.wakeups == 0 {
                    g = cv.wait(g).unwrap();
                }
                g.wakeups -= 1;
                drop(g);
                loop {
                    let popped = queue.lock().unwrap().pop_front();
                    let job = match popped {
                        Some(job) => job,
                        None => {
                            let mut g = lock.lock().unwrap();
                            let again = queue.lock().unwrap().pop_front();
                            match again {
                                Some(job) => job,
                                None if g.closed => {
                                    crew.stop_searching();
                                    crew.leave(&mut g.roster);
                                    return;
                                }
                                None => {
                                    crew.go_idle(&mut g.roster);
                                    while g.wakeups == 0 {
                                        g = cv.wait(g).unwrap();
                                    }
                                    g.wakeups -= 1;
                                    continue;
                                }
                            }
                        }
                    };
                    // The task runs to its end in its first poll: the worker stays searching.
                    ran.lock().unwrap()[job] += 1;
                }
            })
        };
        let submitter = {
            let (crew, gate, queue) = (crew.clone(), gate.clone(), queue.clone());
            thread::spawn(move || {
                let (lock, cv) = &*gate;
                let mut refused = Vec::new();
                for job in 0..2 {
                    let mut g = lock.lock().unwrap();
                    if g.closed {
                        refused.push(job);
                        continue;
                    }
                    queue.lock().unwrap().push_back(job);
                    let empty = || queue.lock().unwrap().is_empty();
                    match crew.dispatch(&mut g.roster, empty) {
                        Dispatch::Idle => {
                            g.wakeups += 1;
                            drop(g);
                            cv.notify_all();
                        }
                        Dispatch::Nobody => {}
                        Dispatch::New => panic!("the pool is at its size"),
                    }
                }
                refused
            })
        };
        {
            // `close`, from this thread.
            let (lock, cv) = &*gate;
            let mut g = lock.lock().unwrap();
            g.closed = true;
            let idle = crew.wake_idle(&mut g.roster);
            g.wakeups += idle;
            drop(g);
            cv.notify_all();
        }
        let refused = submitter.join().unwrap();
        worker.join().unwrap();

        let ran = *ran.lock().unwrap();
        for job in 0..2 {
            let was_refused = refused.contains(&job);
            assert_eq!(
                ran[job],
                usize::from(!was_refused),
                "task {job}: refused {was_refused}, ran {} times",
                ran[job]
            );
        }
        assert!(queue.lock().unwrap().is_empty(), "a task was stranded");
        let g = gate.0.lock().unwrap();
        assert_eq!(g.roster.workers, 0, "the worker did not leave");
        let (searching, _) = crew.settled();
        assert_eq!(searching, 0);
    });
}

/// A future pending for `n` polls (waking nobody), then ready with `output`.
struct PendingFor<T> {
    n: usize,
    output: Option<T>,
}

impl<T: Unpin> Future for PendingFor<T> {
    type Output = T;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        if self.n == 0 {
            return std::task::Poll::Ready(self.output.take().expect("polled after ready"));
        }
        self.n -= 1;
        std::task::Poll::Pending
    }
}

/// A task waits on its worker (nothing else will wake it) while its handle requests the
/// cancel: the worker is woken, or the worker sees the cancel before the task waits; either
/// way the next run drops the task and the handle resolves to cancelled.
#[test]
fn a_cancel_is_never_missed_by_a_waiting_task() {
    use wrangle_pool::loom_model::joint;
    loom::model(|| {
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let worker = joint::Worker::new(&waker);
        let (mut task, handle) = joint::pair(std::future::pending::<()>(), &waker);
        let canceller = thread::spawn(move || {
            handle.request_cancel();
            handle
        });
        let first = task.run(&worker);
        let mut handle = canceller.join().unwrap();
        let woken = flag.0.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            first.is_ready() || woken,
            "the cancel was lost: the task waits and its worker was not woken"
        );
        assert!(task.run(&worker).is_ready(), "a cancelled task ran on");
        assert_eq!(handle.try_join(), Some(Err(())));
    });
}

/// The task ends and its worker lets go of it (and may leave) while the handle cancels: the
/// cancel reads the worker's context only before the task ended (the model's context fails
/// when read after `retire`), and the handle sees the output or the cancel, never both.
#[test]
fn a_cancel_never_reads_the_context_of_a_worker_that_let_go() {
    use wrangle_pool::loom_model::joint;
    loom::model(|| {
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let worker = joint::Worker::new(&waker);
        let (mut task, handle) = joint::pair(
            PendingFor {
                n: 1,
                output: Some(7),
            },
            &waker,
        );
        // The first poll registers the worker.
        assert!(task.run(&worker).is_pending());
        let canceller = thread::spawn(move || {
            handle.request_cancel();
            handle
        });
        // Ready, or (cancel seen) dropped: either way the task ends here.
        assert!(task.run(&worker).is_ready());
        drop(task);
        worker.retire();
        let mut handle = canceller.join().unwrap();
        let out = handle.try_join().expect("the task ended");
        assert!(out == Ok(7) || out == Err(()), "{out:?}");
    });
}

/// The output of a task that ends while its handle is detached is dropped exactly once,
/// whichever side lets go last.
#[test]
fn an_output_is_dropped_once_whoever_lets_go_last() {
    use loom::sync::atomic::AtomicUsize;
    use wrangle_pool::loom_model::joint;

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let worker = joint::Worker::new(&waker);
        let (mut task, handle) = joint::pair(
            PendingFor {
                n: 0,
                output: Some(Counted(drops.clone())),
            },
            &waker,
        );
        let detacher = thread::spawn(move || handle.detach());
        assert!(task.run(&worker).is_ready());
        drop(task);
        detacher.join().unwrap();
        assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 1);
    });
}
