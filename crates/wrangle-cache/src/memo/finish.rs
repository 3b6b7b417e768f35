//! How memoized calls, their refreshes and their preemptive loads finish.

use std::future::Future;
use std::hash::Hash;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use wrangle_rt::{BoxError, ErrorReporter, PanicPayload, Runtime, Unhandled};

use crate::entry::Entry;
use crate::error::LoadError;
use crate::flight::Outcome;
use crate::flow::{Finish, Flow, Init, shared_panic};
use crate::inner::{Inner, Lead, Share};
use crate::memo::MemoShared;

/// The memoized function, its futures boxed (they are built on misses only).
pub(crate) type LoadFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;
pub(crate) type LoadFn<A, T, E> = dyn Fn(A) -> LoadFuture<T, E> + Send + Sync + 'static;

/// The function (borrowed or shared) and the arguments of one call.
pub(crate) struct MemoInit<P, A> {
    pub(crate) f: P,
    pub(crate) args: A,
}

impl<P, A, T, E> Init for MemoInit<P, A>
where
    P: Deref<Target = LoadFn<A, T, E>>,
{
    type Fut = LoadFuture<T, E>;

    fn start(self) -> Self::Fut {
        (self.f)(self.args)
    }
}

pub(crate) fn map_value<T: Clone, E: Clone>(v: &Result<T, E>) -> Result<T, LoadError<E>> {
    match v {
        Ok(t) => Ok(t.clone()),
        Err(e) => Err(LoadError::Failed(e.clone())),
    }
}

pub(crate) fn map_shared<T: Clone, E: Clone + 'static>(
    outcome: &Outcome<Result<T, E>>,
) -> Option<Result<T, LoadError<E>>> {
    match outcome {
        Outcome::Value(v) => Some(map_value(v)),
        Outcome::Panicked(m) => Some(Err(LoadError::Panicked(shared_panic(m.as_ref())))),
        Outcome::Failed(e) => e
            .downcast_ref::<E>()
            .map(|e| Err(LoadError::Failed(e.clone()))),
    }
}

/// What a finished load shares: values always, errors for a while when asked.
fn share<T: Clone, E: Clone + Send + Sync + 'static>(
    raw: &Result<T, E>,
    error_ttl: Option<u64>,
) -> Share<Result<T, E>> {
    match (raw, error_ttl) {
        (Ok(_), _) => Share::Store(raw.clone(), None),
        (Err(_), Some(ttl)) => Share::Store(raw.clone(), Some(ttl)),
        (Err(e), None) => Share::Pass(Outcome::Failed(Arc::new(e.clone()))),
    }
}

/// A caller of [`Memoized::call`](crate::Memoized::call): starts refresh-ahead on a hit in
/// the refresh window.
pub(crate) struct CallFinish<'a, A, K, T, E, R: Runtime> {
    pub(crate) memo: &'a MemoShared<A, K, T, E, R>,
}

impl<'a, A, K, T, E, R> Finish<K, Result<T, E>, MemoInit<&'a LoadFn<A, T, E>, A>>
    for CallFinish<'a, A, K, T, E, R>
where
    A: Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + Into<BoxError> + 'static,
    R: Runtime,
{
    type Raw = Result<T, E>;
    type Output = Result<T, LoadError<E>>;

    fn hit(
        &mut self,
        key: &K,
        entry: Entry<Result<T, E>>,
        now: u64,
        init: &mut Option<MemoInit<&'a LoadFn<A, T, E>, A>>,
    ) -> Self::Output {
        if now >= entry.refresh_at
            && entry.value.is_ok()
            && let Some(init) = init.take()
        {
            self.memo.refresh(key, init.args);
        }
        map_value(&entry.value)
    }

    fn late(&mut self, value: Result<T, E>) -> Self::Output {
        map_value(&value)
    }

    fn loaded(&mut self, raw: Result<T, E>) -> (Share<Result<T, E>>, Self::Output) {
        let share = share(&raw, self.memo.error_ttl);
        (share, raw.map_err(LoadError::Failed))
    }

    fn panicked(&mut self, payload: PanicPayload) -> Self::Output {
        Err(LoadError::Panicked(payload))
    }

    fn shared(&mut self, outcome: &Outcome<Result<T, E>>) -> Option<Self::Output> {
        map_shared(outcome)
    }
}

/// A load run by a task of the memoizer (refresh-ahead, or a preemptive start): errors go
/// to the error reporter when they reach nobody else.
pub(crate) struct TaskFinish {
    pub(crate) reporter: ErrorReporter,
    /// A refresh keeps the stale value on failure and always reports; a preemptive load
    /// shares (and, when asked, caches) its error like any caller.
    pub(crate) refresh: bool,
    pub(crate) error_ttl: Option<u64>,
}

const ORIGIN: &str = "wrangle_cache::Memoized";

impl<A, K, T, E, P> Finish<K, Result<T, E>, MemoInit<P, A>> for TaskFinish
where
    T: Clone,
    E: Clone + Send + Sync + Into<BoxError> + 'static,
{
    type Raw = Result<T, E>;
    type Output = ();

    fn hit(&mut self, _: &K, _: Entry<Result<T, E>>, _: u64, _: &mut Option<MemoInit<P, A>>) {}

    fn late(&mut self, _: Result<T, E>) {}

    fn loaded(&mut self, raw: Result<T, E>) -> (Share<Result<T, E>>, ()) {
        match (&raw, self.refresh) {
            (Err(e), true) => {
                self.reporter.report(Unhandled::new(ORIGIN, e.clone()));
                (Share::Pass(Outcome::Failed(Arc::new(e.clone()))), ())
            }
            _ => (share(&raw, self.error_ttl), ()),
        }
    }

    fn panicked(&mut self, payload: PanicPayload) {
        self.reporter.report(Unhandled::new(ORIGIN, payload));
    }

    fn shared(&mut self, _: &Outcome<Result<T, E>>) -> Option<()> {
        Some(())
    }
}

/// The lead a memoizer's task holds.
pub(crate) type OwnedLead<K, T, E, R> = Lead<Arc<Inner<K, Result<T, E>, R>>, K, Result<T, E>, R>;

/// The future a memoizer's task runs: a flow it leads from the start.
pub(crate) type TaskFlow<A, K, T, E, R> = Flow<
    Arc<Inner<K, Result<T, E>, R>>,
    K,
    Result<T, E>,
    R,
    MemoInit<Arc<LoadFn<A, T, E>>, A>,
    TaskFinish,
>;

pub(crate) fn task_flow<A, K, T, E, R>(
    lead: OwnedLead<K, T, E, R>,
    inner: Arc<Inner<K, Result<T, E>, R>>,
    key: K,
    init: MemoInit<Arc<LoadFn<A, T, E>>, A>,
    fin: TaskFinish,
) -> TaskFlow<A, K, T, E, R>
where
    A: Send + 'static,
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: Clone + Send + Sync + Into<BoxError> + 'static,
    R: Runtime,
{
    Flow::leading(lead, inner, key, init, fin)
}
