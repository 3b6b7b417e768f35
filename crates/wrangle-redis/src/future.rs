//! The named futures of this crate's async operations.
//!
//! Each one owns what it needs (the handle, the checked key), so it borrows nothing from the
//! primitive that made it: it can be moved into a task. Each is a boxed state machine: one
//! allocation per call, small beside a network round trip.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

macro_rules! named_future {
    ($(#[$doc:meta])* $name:ident<R> => $out:ty) => {
        $(#[$doc])*
        #[must_use = "futures do nothing unless polled"]
        pub struct $name<R: wrangle_rt::Runtime> {
            inner: BoxFuture<$out>,
        }

        impl<R: wrangle_rt::Runtime> $name<R> {
            pub(crate) fn new(future: impl Future<Output = $out> + Send + 'static) -> Self {
                $name {
                    inner: Box::pin(future),
                }
            }
        }

        impl<R: wrangle_rt::Runtime> Future for $name<R> {
            type Output = $out;

            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<$out> {
                self.inner.as_mut().poll(cx)
            }
        }

        impl<R: wrangle_rt::Runtime> fmt::Debug for $name<R> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
    ($(#[$doc:meta])* $name:ident => $out:ty) => {
        $(#[$doc])*
        #[must_use = "futures do nothing unless polled"]
        pub struct $name {
            inner: BoxFuture<$out>,
        }

        impl $name {
            pub(crate) fn new(future: impl Future<Output = $out> + Send + 'static) -> Self {
                $name {
                    inner: Box::pin(future),
                }
            }
        }

        impl Future for $name {
            type Output = $out;

            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<$out> {
                self.inner.as_mut().poll(cx)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

named_future! {
    /// [`RedisLimiter::check`](crate::RedisLimiter::check) and
    /// [`check_n`](crate::RedisLimiter::check_n).
    ///
    /// # Cancel safety
    ///
    /// Dropping it before the server answers leaves the limit as it was, or as if the check
    /// was admitted (when the script already ran): capacity may be spent, never over-spent.
    LimiterCheck => Result<(), crate::RedisLimitError>
}

named_future! {
    /// [`RedisLimiter::acquire`](crate::RedisLimiter::acquire) and
    /// [`acquire_n`](crate::RedisLimiter::acquire_n).
    ///
    /// # Cancel safety
    ///
    /// The slot is reserved on the server first, then waited for on the runtime's timer.
    /// Dropping the future after the reservation gives nothing back: the reserved capacity
    /// goes unused (the limit is never exceeded, but the key's callers wait as if it had
    /// been used).
    LimiterAcquire => Result<(), crate::RedisLimitError>
}

named_future! {
    /// [`RedisLockout::lockout_for`](crate::RedisLockout::lockout_for).
    ///
    /// # Cancel safety
    ///
    /// Dropping it may or may not have extended the lockout (the command may have reached
    /// the server); a lockout is only ever extended, never shortened, either way.
    LockoutSet => Result<(), crate::RedisError>
}

named_future! {
    /// [`RedisLockout::remaining`](crate::RedisLockout::remaining).
    ///
    /// # Cancel safety
    ///
    /// A read: dropping it changes nothing.
    LockoutRemaining => Result<Option<std::time::Duration>, crate::RedisError>
}

named_future! {
    /// [`RedisLockout::wait`](crate::RedisLockout::wait).
    ///
    /// # Cancel safety
    ///
    /// Reads and sleeps only: dropping it changes nothing.
    LockoutWaitAll => Result<(), crate::RedisError>
}

named_future! {
    /// [`RedisLease::try_acquire`](crate::RedisLease::try_acquire).
    ///
    /// # Cancel safety
    ///
    /// Dropping it after the server granted the lease but before the reply arrived leaves the
    /// lease held by nobody until it expires (one lease time); nothing is ever held twice.
    LeaseTryAcquire<R> => Result<Option<crate::RedisLease<R>>, crate::RedisError>
}

named_future! {
    /// [`RedisLease::acquire`](crate::RedisLease::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`LeaseTryAcquire`]: a lease granted while the future was being dropped expires
    /// by itself after one lease time.
    LeaseAcquire<R> => Result<crate::RedisLease<R>, crate::RedisError>
}

named_future! {
    /// [`RedisLease::release`](crate::RedisLease::release).
    ///
    /// # Cancel safety
    ///
    /// The lease is already given up locally (renewal stopped) when this is first polled;
    /// if it is dropped before the server answered, the lease expires by itself after at
    /// most one lease time.
    LeaseRelease => Result<bool, crate::RedisError>
}

named_future! {
    /// [`RedisLease::lost`](crate::RedisLease::lost).
    ///
    /// # Cancel safety
    ///
    /// A wait only: dropping it changes nothing.
    LeaseLost => ()
}

named_future! {
    /// [`RedisSingleton::cancel`](crate::RedisSingleton::cancel).
    ///
    /// # Cancel safety
    ///
    /// The singleton is already asked to stop when this is made; dropping the future only
    /// stops waiting (the task is then cancelled at once, and its lease released by a
    /// detached task or left to expire).
    SingletonCancel => ()
}

named_future! {
    /// [`RedisSchedule::cancel`](crate::RedisSchedule::cancel).
    ///
    /// # Cancel safety
    ///
    /// The cancellation is requested when `cancel` is called; dropping this future only
    /// stops waiting for the runs to be gone. A fire time whose claim was won but whose run
    /// was cancelled does not run anywhere.
    ScheduleCancel => crate::RedisScheduleStats
}

named_future! {
    /// [`RedisCache::invalidate`](crate::RedisCache::invalidate).
    ///
    /// # Cancel safety
    ///
    /// The in-process copy is already removed; dropping the future may or may not have
    /// deleted the value in Redis.
    RedisCacheInvalidate => Result<bool, crate::RedisError>
}

/// [`RedisCache::get`](crate::RedisCache::get): the value, or why there is none.
///
/// # Cancel safety
///
/// Dropping it drops this caller's part: a load it runs is handed over to the next caller
/// in this process, and its Redis lock released by a detached task (or left to expire), so
/// that another replica loads; a waiter just stops polling.
#[must_use = "futures do nothing unless polled"]
pub struct RedisCacheGet<V, E, D> {
    inner: BoxFuture<Result<V, crate::RedisCacheError<E, D>>>,
}

impl<V, E, D> RedisCacheGet<V, E, D> {
    pub(crate) fn new(
        future: impl Future<Output = Result<V, crate::RedisCacheError<E, D>>> + Send + 'static,
    ) -> Self {
        RedisCacheGet {
            inner: Box::pin(future),
        }
    }
}

impl<V, E, D> Future for RedisCacheGet<V, E, D> {
    type Output = Result<V, crate::RedisCacheError<E, D>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<V, E, D> fmt::Debug for RedisCacheGet<V, E, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCacheGet").finish_non_exhaustive()
    }
}
