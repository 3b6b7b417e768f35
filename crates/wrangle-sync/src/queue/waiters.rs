//! The waiters of a [`DualQueue`](crate::DualQueue), kept inside the queue's own state so one
//! lock covers items, slots and waiters alike.
//!
//! A [`WaitList`] is a slab of entries, the waiting ones linked oldest first. An entry belongs
//! to exactly one waiter (a future or a blocking call), which alone frees it; notifying only
//! unlinks the entry, marks it notified and takes its waker (woken after the lock is released).
//! Blocking callers register a waker that unparks their thread.

use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Instant;

/// "No entry" in the links and the free list.
const NIL: usize = usize::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// On the free list.
    Free,
    /// Linked, with a waker, waiting for a notification.
    Waiting,
    /// Unlinked and notified; its waker was taken to be woken.
    Notified,
}

#[derive(Debug)]
struct Entry {
    waker: Option<Waker>,
    /// A blocked thread's entry: once notified, it always runs (a thread parked in a blocking
    /// call wakes and retries), unlike a future, which may be kept and never polled again.
    thread: bool,
    prev: usize,
    /// The next waiting entry, or the next free one while on the free list.
    next: usize,
    mark: Mark,
}

/// The waiters of one kind (getters, putters or joiners).
#[derive(Debug)]
pub(crate) struct WaitList {
    entries: Vec<Entry>,
    free: usize,
    /// Waiting (not notified) entries, oldest first.
    head: usize,
    tail: usize,
    registered: usize,
    notified: usize,
    /// Notified thread entries that have not run yet.
    notified_threads: usize,
}

/// Where a waiter's waker comes from: its task, or its (parked) thread.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WakeBy<'a> {
    Task(&'a Waker),
    Thread,
}

impl WakeBy<'_> {
    fn waker(self) -> Waker {
        match self {
            WakeBy::Task(w) => w.clone(),
            WakeBy::Thread => thread_waker(),
        }
    }

    fn is_thread(self) -> bool {
        matches!(self, WakeBy::Thread)
    }

    /// Whether `current` already wakes this waiter. A thread's entry always holds its own
    /// thread's waker (entries are never shared between threads).
    fn will_wake(self, current: &Waker) -> bool {
        match self {
            WakeBy::Task(w) => w.will_wake(current),
            WakeBy::Thread => true,
        }
    }
}

/// How an operation treats its caller's registration (`key`, an entry in the side's list).
#[derive(Debug)]
pub(crate) enum Reg<'a> {
    /// A `try_` call: never registers.
    No,
    /// A waiter: on failure register (or re-arm) with this waker; once served, leave.
    Wait(&'a mut Option<usize>, WakeBy<'a>),
    /// A waiter's last try (its deadline passed): leave whatever happens.
    Leave(&'a mut Option<usize>),
}

impl WaitList {
    pub(crate) const fn new() -> Self {
        WaitList {
            entries: Vec::new(),
            free: NIL,
            head: NIL,
            tail: NIL,
            registered: 0,
            notified: 0,
            notified_threads: 0,
        }
    }

    /// Notified thread entries that have not run yet: each will run (and, for putters, hand
    /// the turn on), so it may stand for several wake-ups.
    pub(crate) fn notified_threads(&self) -> usize {
        self.notified_threads
    }

    /// Waiters registered now, notified or not.
    pub(crate) fn registered(&self) -> usize {
        self.registered
    }

    fn alloc(&mut self, waker: Waker, thread: bool) -> usize {
        self.registered += 1;
        let entry = Entry {
            waker: Some(waker),
            thread,
            prev: NIL,
            next: NIL,
            mark: Mark::Waiting,
        };
        if self.free == NIL {
            self.entries.push(entry);
            self.entries.len() - 1
        } else {
            let key = self.free;
            self.free = self.entries[key].next;
            self.entries[key] = entry;
            key
        }
    }

    fn link_back(&mut self, key: usize) {
        self.entries[key].prev = self.tail;
        self.entries[key].next = NIL;
        match self.tail {
            NIL => self.head = key,
            t => self.entries[t].next = key,
        }
        self.tail = key;
    }

    fn link_front(&mut self, key: usize) {
        self.entries[key].prev = NIL;
        self.entries[key].next = self.head;
        match self.head {
            NIL => self.tail = key,
            h => self.entries[h].prev = key,
        }
        self.head = key;
    }

    fn unlink(&mut self, key: usize) {
        let (prev, next) = (self.entries[key].prev, self.entries[key].next);
        match prev {
            NIL => self.head = next,
            p => self.entries[p].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.entries[n].prev = prev,
        }
    }

    /// Registers the waiter `key` (at the back), or re-arms it: a notified waiter that found
    /// nothing goes back to the front (it has waited longest), a waiting one gets the newest
    /// waker if it changed.
    pub(crate) fn wait(&mut self, key: &mut Option<usize>, by: WakeBy<'_>) {
        match *key {
            None => {
                let k = self.alloc(by.waker(), by.is_thread());
                self.link_back(k);
                *key = Some(k);
            }
            Some(k) => match self.entries[k].mark {
                Mark::Waiting => {
                    let e = &mut self.entries[k];
                    if !e.waker.as_ref().is_some_and(|w| by.will_wake(w)) {
                        e.waker = Some(by.waker());
                    }
                }
                Mark::Notified => {
                    self.notified -= 1;
                    self.notified_threads -= usize::from(self.entries[k].thread);
                    let e = &mut self.entries[k];
                    e.mark = Mark::Waiting;
                    e.waker = Some(by.waker());
                    self.link_front(k);
                }
                Mark::Free => unreachable!("a waiter's entry is freed only by its waiter"),
            },
        }
    }

    /// Frees the waiter's entry, if it has one, and returns whether it had been notified:
    /// its wake-up is then either used (the caller was served) or the caller passes it on.
    pub(crate) fn remove(&mut self, key: &mut Option<usize>) -> bool {
        self.remove_entry(key).is_some()
    }

    /// [`remove`](Self::remove), telling a notified entry's kind: `Some(true)` for a thread.
    pub(crate) fn remove_entry(&mut self, key: &mut Option<usize>) -> Option<bool> {
        let k = (*key).take()?;
        let notified = match self.entries[k].mark {
            Mark::Waiting => {
                self.unlink(k);
                None
            }
            Mark::Notified => {
                self.notified -= 1;
                let thread = self.entries[k].thread;
                self.notified_threads -= usize::from(thread);
                Some(thread)
            }
            Mark::Free => unreachable!("a waiter's entry is freed only by its waiter"),
        };
        let e = &mut self.entries[k];
        e.mark = Mark::Free;
        e.waker = None;
        e.next = self.free;
        self.free = k;
        self.registered -= 1;
        notified
    }

    /// Deregisters the caller of an operation that succeeded (or found the queue closed): a
    /// notified entry's wake-up is thereby used. Returns whether it was a notified thread
    /// (whose turn the caller hands on).
    #[inline]
    pub(crate) fn leave(&mut self, reg: Reg<'_>) -> bool {
        match reg {
            Reg::Wait(key, _) | Reg::Leave(key) if key.is_some() => {
                self.remove_entry(key) == Some(true)
            }
            _ => false,
        }
    }

    /// Deregisters the caller of an operation that failed with a panic: a wake-up it had
    /// received, unused, goes to the oldest waiting entry (returned, to be woken).
    pub(crate) fn leave_unserved(&mut self, reg: Reg<'_>) -> Option<Waker> {
        match reg {
            Reg::Wait(key, _) | Reg::Leave(key) => {
                if self.remove(key) {
                    self.notify_one()
                } else {
                    None
                }
            }
            Reg::No => None,
        }
    }

    /// Registers (or re-arms) the caller of an operation that must wait; a last try leaves.
    #[inline]
    pub(crate) fn fail(&mut self, reg: Reg<'_>) {
        match reg {
            Reg::No => {}
            Reg::Wait(key, by) => self.wait(key, by),
            Reg::Leave(key) => {
                // Nothing was there for it: a wake-up it had is not owed to anyone else.
                self.remove(key);
            }
        }
    }

    /// Notifies the oldest waiting entry, if any, returning its waker: event-listener's
    /// `notify_additional(1)`. Entries notified earlier and not yet run are not counted, so a
    /// woken waiter that is never polled again holds only its own wake-up, never the next.
    pub(crate) fn notify_one(&mut self) -> Option<Waker> {
        let k = self.head;
        if k == NIL {
            return None;
        }
        self.unlink(k);
        self.notified += 1;
        let e = &mut self.entries[k];
        self.notified_threads += usize::from(e.thread);
        e.mark = Mark::Notified;
        e.waker.take()
    }

    /// Notifies every waiting entry.
    pub(crate) fn notify_all(&mut self, out: &mut Vec<Waker>) {
        while let Some(w) = self.notify_one() {
            out.push(w);
        }
    }
}

/// The wakers one operation on a queue's state yields (one per side, and more putters when a
/// woken thread hands its turn on to futures), woken after the lock is released.
#[derive(Debug, Default)]
pub(crate) struct Wakers {
    pub(crate) get: Option<Waker>,
    pub(crate) put: Option<Waker>,
    pub(crate) more: Vec<Waker>,
}

impl Wakers {
    #[inline]
    pub(crate) fn wake(self) {
        if let Some(w) = self.get {
            w.wake();
        }
        if let Some(w) = self.put {
            w.wake();
        }
        wake_all(self.more);
    }
}

/// Wakes every waker in `all` (collected under a lock that is now released).
pub(crate) fn wake_all(all: Vec<Waker>) {
    for w in all {
        w.wake();
    }
}

/// Wakes a blocked thread by unparking it.
#[derive(Debug)]
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

#[cfg(not(loom))]
use std::thread::Thread;

#[cfg(loom)]
use loom::thread::Thread;

/// The current thread's waker (made once per thread; made anew if asked for while the
/// thread's locals are being destroyed).
#[cfg(not(loom))]
pub(crate) fn thread_waker() -> Waker {
    fn make() -> Waker {
        Waker::from(Arc::new(ThreadWaker(std::thread::current())))
    }
    std::thread_local! {
        static WAKER: Waker = make();
    }
    WAKER.try_with(Waker::clone).unwrap_or_else(|_| make())
}

#[cfg(loom)]
pub(crate) fn thread_waker() -> Waker {
    Waker::from(Arc::new(ThreadWaker(loom::thread::current())))
}

/// Parks the thread until unparked (possibly spuriously) or, if given, `deadline` passes.
#[cfg(not(loom))]
pub(crate) fn park(deadline: Option<Instant>) {
    match deadline {
        None => std::thread::park(),
        Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
    }
}

/// Under loom no model uses a deadline: the thread parks until unparked.
#[cfg(loom)]
pub(crate) fn park(_deadline: Option<Instant>) {
    loom::thread::park();
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::task::Waker;

    fn wait(list: &mut WaitList) -> Option<usize> {
        let mut key = None;
        list.wait(&mut key, WakeBy::Task(Waker::noop()));
        key
    }

    /// The key of the entry `notify_one` picks (the waker is a no-op, so find it by mark).
    fn notify(list: &mut WaitList) -> Option<usize> {
        let head = list.head;
        list.notify_one().map(|_| head)
    }

    #[test]
    fn waiters_are_notified_oldest_first_and_removed_ones_skipped() {
        let mut list = WaitList::new();
        let (a, mut b, c) = (wait(&mut list), wait(&mut list), wait(&mut list));
        list.remove(&mut b);
        assert_eq!(list.registered(), 2);
        assert_eq!(notify(&mut list), a);
        assert_eq!(notify(&mut list), c);
        assert_eq!(notify(&mut list), None);
        assert_eq!(list.notified, 2);
    }

    #[test]
    fn a_rearmed_notified_waiter_goes_back_to_the_front() {
        let mut list = WaitList::new();
        let mut a = wait(&mut list);
        let _b = wait(&mut list);
        assert_eq!(notify(&mut list), a);
        list.wait(&mut a, WakeBy::Task(Waker::noop()));
        assert_eq!(list.notified, 0);
        assert_eq!(notify(&mut list), a);
    }

    #[test]
    fn freed_entries_are_reused_and_counts_return_to_zero() {
        let mut list = WaitList::new();
        let mut keys: Vec<_> = (0..4).map(|_| wait(&mut list)).collect();
        // Each notification is additional: notified entries not yet run do not count.
        assert_eq!(list.notified_threads(), 0);
        assert_eq!(notify(&mut list), keys[0]);
        assert_eq!(notify(&mut list), keys[1]);
        assert_eq!(list.notified, 2);
        let notified: Vec<bool> = keys.iter_mut().map(|k| list.remove(k)).collect();
        assert_eq!(notified, [true, true, false, false]);
        assert_eq!((list.registered(), list.notified), (0, 0));
        assert_eq!((list.head, list.tail), (NIL, NIL));
        // A thread entry is counted while notified.
        let mut t = None;
        list.wait(&mut t, WakeBy::Thread);
        let _ = wait(&mut list);
        assert!(list.notify_one().is_some());
        assert_eq!(list.notified_threads(), 1);
        list.wait(&mut t, WakeBy::Thread); // re-armed: waiting again
        assert_eq!(list.notified_threads(), 0);
        assert!(list.notify_one().is_some());
        assert!(list.leave(Reg::Wait(&mut t, WakeBy::Thread)));
        assert_eq!(list.notified_threads(), 0);
        let again = wait(&mut list);
        assert!(again.unwrap() < 4);
        assert_eq!(list.entries.len(), 4);
    }
}
