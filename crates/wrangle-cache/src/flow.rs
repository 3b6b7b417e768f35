//! The one state machine behind every get-or-load future: look up, then join or lead the
//! key's flight, then run the loader (under `catch_unwind`) or wait for its outcome.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use pin_project::{pin_project, pinned_drop};
use wrangle_rt::{PanicPayload, Runtime};

use crate::entry::Entry;
use crate::flight::{Flight, Flights, Outcome};
use crate::inner::{Inner, Joined2, Lead, Share};
use crate::store::Store;

/// What starts a loader: a closure for the cache's own futures, the memoized function and
/// its arguments for [`Memoized`](crate::Memoized).
pub(crate) trait Init {
    type Fut: Future;
    fn start(self) -> Self::Fut;
}

/// An `FnOnce() -> impl Future` loader.
pub(crate) struct FnInit<F>(pub(crate) F);

impl<F: FnOnce() -> Fut, Fut: Future> Init for FnInit<F> {
    type Fut = Fut;
    fn start(self) -> Fut {
        (self.0)()
    }
}

/// How one kind of caller turns loads and outcomes into its output.
pub(crate) trait Finish<K, V, F> {
    /// What the loader's future yields.
    type Raw;
    /// What the caller receives.
    type Output;
    /// A fresh entry at `now`. `init` is still there (unused) for refresh-ahead to take.
    fn hit(&mut self, key: &K, entry: Entry<V>, now: u64, init: &mut Option<F>) -> Self::Output;
    /// A value found without an entry to consult: a hit in a cache whose entries have no
    /// deadline (nothing to refresh), or a value that a load stored just before this caller
    /// looked (no loader of ours ran).
    fn late(&mut self, value: V) -> Self::Output;
    /// This caller's loader ended: what to share and store, and this caller's output.
    fn loaded(&mut self, raw: Self::Raw) -> (Share<V>, Self::Output);
    /// This caller's loader panicked.
    fn panicked(&mut self, payload: PanicPayload) -> Self::Output;
    /// Another caller's load ended; `None` when this caller cannot take that outcome (an
    /// error of another type) and must look again.
    fn shared(&mut self, outcome: &Outcome<V>) -> Option<Self::Output>;
}

/// A waiter's copy of a leader's panic.
pub(crate) fn shared_panic(message: Option<&Arc<str>>) -> PanicPayload {
    let message = message.map_or_else(
        || "a shared load panicked (payload not a string)".to_owned(),
        |m| m.to_string(),
    );
    PanicPayload::new(Box::new(message))
}

enum State<I, K, V, R>
where
    I: Deref<Target = Inner<K, V, R>>,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
{
    Start,
    Join,
    Wait(Arc<Flight<V>>, usize),
    Load(Lead<I, K, V, R>),
    Done,
}

#[pin_project(PinnedDrop, project = FlowProj)]
pub(crate) struct Flow<I, K, V, R, F, Fin>
where
    I: Deref<Target = Inner<K, V, R>> + Clone,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: Init,
{
    inner: I,
    key: K,
    init: Option<F>,
    fin: Fin,
    state: State<I, K, V, R>,
    // Dropped after `state`: a cancelled leader hands the load over first, then its
    // loader's future goes (the order does not matter to the waiters, who run their own).
    #[pin]
    load: Option<F::Fut>,
}

impl<I, K, V, R, F, Fin> Flow<I, K, V, R, F, Fin>
where
    I: Deref<Target = Inner<K, V, R>> + Clone,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: Init,
    F::Fut: Future<Output = Fin::Raw>,
    Fin: Finish<K, V, F>,
{
    pub(crate) fn new(inner: I, key: K, init: F, fin: Fin) -> Self {
        Flow {
            inner,
            key,
            init: Some(init),
            fin,
            state: State::Start,
            load: None,
        }
    }

    /// A flow that already led its flight (refresh-ahead, preemptive loads).
    pub(crate) fn leading(lead: Lead<I, K, V, R>, inner: I, key: K, init: F, fin: Fin) -> Self {
        Flow {
            inner,
            key,
            init: Some(init),
            fin,
            state: State::Load(lead),
            load: None,
        }
    }
}

impl<I, K, V, R, F, Fin> Flow<I, K, V, R, F, Fin>
where
    I: Deref<Target = Inner<K, V, R>> + Clone,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: Init,
    F::Fut: Future<Output = Fin::Raw>,
    Fin: Finish<K, V, F>,
{
    /// The first poll's lookup, kept apart from the state machine so that a hit costs the
    /// store's lookup, the hit count and nothing else (in a cache whose entries have no
    /// deadline, quick_cache's `get`): `Some(output)` on a hit; on a miss it is counted and
    /// the flow goes on, when polled, to join the key's flight. `None` at once in any other
    /// state.
    #[inline]
    pub(crate) fn poll_hit(self: Pin<&mut Self>) -> Option<Fin::Output> {
        let mut this = self.project();
        match this.state {
            State::Start => start(&mut this),
            _ => None,
        }
    }
}

/// [`Flow::poll_hit`] in `State::Start`.
#[inline]
fn start<I, K, V, R, F, Fin>(this: &mut FlowProj<'_, I, K, V, R, F, Fin>) -> Option<Fin::Output>
where
    I: Deref<Target = Inner<K, V, R>> + Clone,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: Init,
    F::Fut: Future<Output = Fin::Raw>,
    Fin: Finish<K, V, F>,
{
    let inner = &**this.inner;
    if let Store::Bare(bare) = &inner.store {
        // No deadline, no refresh, no weight: nothing to check.
        if let Some(value) = bare.get(this.key) {
            inner.counters.hits.incr();
            *this.state = State::Done;
            return Some(this.fin.late(value));
        }
    } else {
        let now = inner.now();
        if let Some(entry) = inner.lookup(this.key, now) {
            inner.counters.hits.incr();
            *this.state = State::Done;
            return Some(this.fin.hit(this.key, entry, now, this.init));
        }
    }
    inner.counters.misses.incr();
    *this.state = State::Join;
    None
}

impl<I, K, V, R, F, Fin> Future for Flow<I, K, V, R, F, Fin>
where
    I: Deref<Target = Inner<K, V, R>> + Clone,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: Init,
    F::Fut: Future<Output = Fin::Raw>,
    Fin: Finish<K, V, F>,
{
    type Output = Fin::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state {
                State::Start => {
                    if let Some(output) = start(&mut this) {
                        return Poll::Ready(output);
                    }
                }
                State::Join => match this.inner.join(this.key, cx.waker()) {
                    Joined2::Value(value) => {
                        *this.state = State::Done;
                        return Poll::Ready(this.fin.late(value));
                    }
                    Joined2::Wait(flight, slot) => *this.state = State::Wait(flight, slot),
                    Joined2::Lead(flight) => {
                        let lead = Lead::new(this.inner.clone(), this.key.clone(), flight);
                        *this.state = State::Load(lead);
                    }
                },
                State::Wait(flight, slot) => {
                    let mut st = flight.lock();
                    if let Some(outcome) = st.outcome.clone() {
                        st.unpark(*slot);
                        drop(st);
                        match this.fin.shared(&outcome) {
                            Some(output) => {
                                *this.state = State::Done;
                                return Poll::Ready(output);
                            }
                            None => *this.state = State::Join,
                        }
                    } else if !st.leading {
                        // The leader went away: this waiter takes the load over.
                        st.leading = true;
                        st.unpark(*slot);
                        drop(st);
                        this.inner.counters.started.fetch_add(1, Ordering::Relaxed);
                        let flight = Arc::clone(flight);
                        let lead = Lead::new(this.inner.clone(), this.key.clone(), flight);
                        *this.state = State::Load(lead);
                    } else {
                        st.repark(*slot, cx.waker());
                        return Poll::Pending;
                    }
                }
                State::Load(_) => {
                    if this.load.is_none() {
                        let init = this.init.take().expect("a flow's loader starts once");
                        match catch_unwind(AssertUnwindSafe(|| init.start())) {
                            Ok(fut) => this.load.set(Some(fut)),
                            Err(payload) => return Poll::Ready(finish_panic(&mut this, payload)),
                        }
                    }
                    let fut = this.load.as_mut().as_pin_mut().expect("set above");
                    match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                        Ok(Poll::Pending) => return Poll::Pending,
                        Ok(Poll::Ready(raw)) => {
                            this.load.set(None);
                            let State::Load(lead) = std::mem::replace(this.state, State::Done)
                            else {
                                unreachable!("in State::Load")
                            };
                            let (share, output) = this.fin.loaded(raw);
                            lead.finish(share);
                            return Poll::Ready(output);
                        }
                        Err(payload) => return Poll::Ready(finish_panic(&mut this, payload)),
                    }
                }
                State::Done => panic!("`Flow` polled after completion"),
            }
        }
    }
}

fn finish_panic<I, K, V, R, F, Fin>(
    this: &mut FlowProj<'_, I, K, V, R, F, Fin>,
    payload: Box<dyn std::any::Any + Send>,
) -> Fin::Output
where
    I: Deref<Target = Inner<K, V, R>> + Clone,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: Init,
    F::Fut: Future<Output = Fin::Raw>,
    Fin: Finish<K, V, F>,
{
    // The panicked future is dropped under catch_unwind too: its drop is user code.
    let load = &mut this.load;
    drop(catch_unwind(AssertUnwindSafe(|| load.set(None))));
    let payload = PanicPayload::new(payload);
    let State::Load(lead) = std::mem::replace(this.state, State::Done) else {
        unreachable!("in State::Load")
    };
    let message = payload.message().map(Arc::from);
    lead.finish(Share::Pass(Outcome::Panicked(message)));
    this.fin.panicked(payload)
}

#[pinned_drop]
impl<I, K, V, R, F, Fin> PinnedDrop for Flow<I, K, V, R, F, Fin>
where
    I: Deref<Target = Inner<K, V, R>> + Clone,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: Init,
{
    // Inlined: a flow that ended (every hit) only reads its state here; the waiter's exit is
    // out of line.
    #[inline]
    fn drop(self: Pin<&mut Self>) {
        let this = self.project();
        if let State::Wait(flight, slot) = &*this.state {
            leave(&**this.inner, this.key, flight, *slot);
        }
        // A `State::Load` drops its `Lead`, which hands the load over.
    }
}

/// A parked waiter leaves. The last one out of a flight nobody leads unlinks it.
#[cold]
#[inline(never)]
fn leave<K, V, R>(inner: &Inner<K, V, R>, key: &K, flight: &Arc<Flight<V>>, slot: usize)
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
{
    let mut shard = inner.flights.shard(key);
    let mut st = flight.lock();
    st.unpark(slot);
    if !st.leading && st.outcome.is_none() && st.parked() == 0 {
        drop(st);
        Flights::unlink(&mut shard, key, flight);
    }
}

impl<I, K, V, R, F, Fin> fmt::Debug for Flow<I, K, V, R, F, Fin>
where
    I: Deref<Target = Inner<K, V, R>> + Clone,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    R: Runtime,
    F: Init,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Start => "start",
            State::Join => "join",
            State::Wait(..) => "waiting",
            State::Load(_) => "loading",
            State::Done => "done",
        };
        f.debug_struct("Flow")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
