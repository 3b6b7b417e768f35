//! The two ways a cache's own futures finish: infallible loaders and fallible ones.

use std::marker::PhantomData;
use std::sync::Arc;

use wrangle_rt::PanicPayload;

use crate::entry::Entry;
use crate::error::LoadError;
use crate::flight::Outcome;
use crate::flow::{Finish, shared_panic};
use crate::inner::Share;

/// `get_or_insert_with`: the loader yields the value.
pub(crate) struct Plain;

impl<K, V: Clone, F> Finish<K, V, F> for Plain {
    type Raw = V;
    type Output = Result<V, PanicPayload>;

    fn hit(&mut self, _: &K, entry: Entry<V>, _: u64, _: &mut Option<F>) -> Self::Output {
        Ok(entry.value)
    }

    fn late(&mut self, value: V) -> Self::Output {
        Ok(value)
    }

    fn loaded(&mut self, raw: V) -> (Share<V>, Self::Output) {
        (Share::Store(raw.clone(), None), Ok(raw))
    }

    fn panicked(&mut self, payload: PanicPayload) -> Self::Output {
        Err(payload)
    }

    fn shared(&mut self, outcome: &Outcome<V>) -> Option<Self::Output> {
        match outcome {
            Outcome::Value(v) => Some(Ok(v.clone())),
            Outcome::Panicked(m) => Some(Err(shared_panic(m.as_ref()))),
            // A fallible caller's error this caller cannot return: it looks again.
            Outcome::Failed(_) => None,
        }
    }
}

/// `try_get_or_insert_with`: the loader yields `Result<V, E>`; errors are shared with the
/// waiters and never stored.
pub(crate) struct Fallible<E>(PhantomData<fn() -> E>);

impl<E> Fallible<E> {
    pub(crate) fn new() -> Self {
        Fallible(PhantomData)
    }
}

impl<K, V: Clone, F, E: Clone + Send + Sync + 'static> Finish<K, V, F> for Fallible<E> {
    type Raw = Result<V, E>;
    type Output = Result<V, LoadError<E>>;

    fn hit(&mut self, _: &K, entry: Entry<V>, _: u64, _: &mut Option<F>) -> Self::Output {
        Ok(entry.value)
    }

    fn late(&mut self, value: V) -> Self::Output {
        Ok(value)
    }

    fn loaded(&mut self, raw: Result<V, E>) -> (Share<V>, Self::Output) {
        match raw {
            Ok(v) => (Share::Store(v.clone(), None), Ok(v)),
            Err(e) => (
                Share::Pass(Outcome::Failed(Arc::new(e.clone()))),
                Err(LoadError::Failed(e)),
            ),
        }
    }

    fn panicked(&mut self, payload: PanicPayload) -> Self::Output {
        Err(LoadError::Panicked(payload))
    }

    fn shared(&mut self, outcome: &Outcome<V>) -> Option<Self::Output> {
        match outcome {
            Outcome::Value(v) => Some(Ok(v.clone())),
            Outcome::Panicked(m) => Some(Err(LoadError::Panicked(shared_panic(m.as_ref())))),
            Outcome::Failed(e) => e
                .downcast_ref::<E>()
                .map(|e| Err(LoadError::Failed(e.clone()))),
        }
    }
}
