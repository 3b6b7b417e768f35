//! The executor loop of the virtual runtime: [`VirtualRuntime::block_on`], advancing the
//! clock when every task waits, and dropping every task at `abort`.

use super::*;
use crate::loom::IgnorePoison;

impl VirtualRuntime {
    /// Runs `future` to completion on this thread, running spawned tasks and advancing virtual
    /// time as described on [`VirtualRuntime`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = wrangle_rt::VirtualRuntime::new();
    /// assert_eq!(rt.block_on(async { 7 }), 7);
    /// ```
    ///
    /// # Panics
    ///
    /// If the runtime stalls (see [`BlockOnError::Stalled`]) or is already running; use
    /// [`try_block_on`](VirtualRuntime::try_block_on) to get these as errors.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self.try_block_on(future) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`block_on`](VirtualRuntime::block_on), but reports a stall instead of panicking.
    ///
    /// # Errors
    ///
    /// [`BlockOnError::Stalled`] when nothing can ever wake the main future;
    /// [`BlockOnError::AlreadyRunning`] if `block_on` is already running for this runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_rt::{VirtualRuntime, virtual_time::BlockOnError};
    ///
    /// let rt = VirtualRuntime::builder().stall_grace(Duration::ZERO).build();
    /// let r = rt.try_block_on(std::future::pending::<()>());
    /// assert_eq!(r, Err(BlockOnError::Stalled));
    /// ```
    pub fn try_block_on<F: Future>(&self, future: F) -> Result<F::Output, BlockOnError> {
        {
            let mut st = self.shared.lock();
            if st.running {
                return Err(BlockOnError::AlreadyRunning);
            }
            st.running = true;
            st.shut_down = false;
            st.main_woken = true;
        }
        let _running = RunningGuard {
            shared: &self.shared,
        };
        let _current = CurrentGuard::enter(self.clone());
        let waker = Waker::from(Arc::new(MainWaker {
            shared: Arc::downgrade(&self.shared),
        }));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            let poll_main = std::mem::take(&mut self.shared.lock().main_woken);
            if poll_main && let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return Ok(v);
            }
            let next = {
                let mut st = self.shared.lock();
                let r = st.pick();
                if r.is_some() {
                    st.polls += 1;
                }
                r
            };
            if let Some(runnable) = next {
                runnable.run();
                continue;
            }
            self.idle()?;
        }
    }

    /// Called when nothing is runnable: wait for outside work, or advance the clock.
    fn idle(&self) -> Result<(), BlockOnError> {
        let mut st = self.shared.lock();
        if st.main_woken || !st.queue.is_empty() {
            return Ok(());
        }
        if st.blocking > 0 || st.holds > 0 {
            // Outside work is in flight; time stands still until it reports back.
            let _st = self.shared.cond.wait(st).ignore_poison();
            return Ok(());
        }
        let now = self.shared.now(&st);
        let mut wake = Vec::new();
        // An `advance` whose target is reached completes only once everything woken at that
        // instant has run and gone idle again.
        while let Some(entry) = st.targets.first_entry() {
            if entry.key().0 > now {
                break;
            }
            wake.push(entry.remove());
        }
        if wake.is_empty() {
            let next_timer = st.timers.keys().next().map(|k| k.0);
            let next_target = st.targets.keys().next().map(|k| k.0);
            let to = match (next_timer, next_target) {
                (Some(t), Some(g)) => t.min(g),
                (Some(t), None) if st.auto_advance => t,
                (None, Some(g)) => g,
                _ if st.park_when_stalled => {
                    let _st = self.shared.cond.wait(st).ignore_poison();
                    return Ok(());
                }
                _ => {
                    // Nothing here can move, but another thread may still wake a task: give it
                    // the grace period (real time) before declaring a stall. Virtual time cannot
                    // advance meanwhile, so determinism is unaffected.
                    let grace = st.stall_grace;
                    let (st, _) = self
                        .shared
                        .cond
                        .wait_timeout_while(st, grace, |st| !st.can_move())
                        .ignore_poison();
                    let moved = st.can_move();
                    return if moved {
                        Ok(())
                    } else {
                        Err(BlockOnError::Stalled)
                    };
                }
            };
            if to > now {
                st.offset = to - self.shared.base;
            }
            let now = self.shared.now(&st);
            while let Some(entry) = st.timers.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                wake.push(entry.remove());
            }
        }
        drop(st);
        // Wake outside the lock: waking schedules tasks, which takes the lock.
        for w in wake {
            w.wake();
        }
        Ok(())
    }

    /// Drops every task that is queued or waiting on a timer of this runtime, so their futures
    /// are dropped and their handles resolve to [`JoinError::Cancelled`](crate::JoinError).
    ///
    /// Tasks spawned later are dropped at once until the next `block_on`. Call this at the
    /// end of a test to release tasks that would otherwise wait forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let handle = rt.spawn(std::future::pending::<()>());
    /// handle.detach();
    /// rt.abort();
    /// ```
    pub fn abort(&self) {
        let (queue, timers, targets, active) = {
            let mut st = self.shared.lock();
            st.shut_down = true;
            (
                std::mem::take(&mut st.queue),
                std::mem::take(&mut st.timers),
                std::mem::take(&mut st.targets),
                std::mem::take(&mut st.active),
            )
        };
        // Dropped outside the lock: dropping a task's future may touch the runtime.
        drop(queue);
        drop(timers);
        drop(targets);
        // Every task not finished yet is woken: being shut down, the runtime drops it (with
        // its future) instead of queueing it.
        for waker in active.into_values() {
            waker.wake();
        }
    }

    pub(super) fn schedule_fn(&self) -> impl Fn(Runnable) + Send + Sync + 'static {
        let weak = Arc::downgrade(&self.shared);
        move |runnable: Runnable| {
            let Some(shared) = weak.upgrade() else {
                // The runtime is gone; dropping the runnable drops the task's future.
                return;
            };
            let mut st = shared.lock();
            if st.shut_down {
                drop(st);
                drop(runnable);
                return;
            }
            st.queue.push_back(runnable);
            drop(st);
            shared.cond.notify_all();
        }
    }
}

struct MainWaker {
    shared: Weak<Shared>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.shared.upgrade() {
            shared.lock().main_woken = true;
            shared.cond.notify_all();
        }
    }
}

struct RunningGuard<'a> {
    shared: &'a Shared,
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.shared.lock().running = false;
    }
}

struct CurrentGuard {
    previous: Option<VirtualRuntime>,
}

impl CurrentGuard {
    fn enter(rt: VirtualRuntime) -> Self {
        CurrentGuard {
            previous: CURRENT.with(|c| c.borrow_mut().replace(rt)),
        }
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}
