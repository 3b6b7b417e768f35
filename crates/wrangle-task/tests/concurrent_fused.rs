//! The streams of wrangle-task are `FusedStream`s: `as_completed`, `Concurrent` and
//! `ConcurrentInline` are terminated exactly when their next poll returns `None`.

mod common;

use common::ms;
use futures_core::stream::FusedStream;
use futures_lite::StreamExt;
use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;
use wrangle_task::{
    Concurrent, ConcurrentError, ConcurrentInline, ErrorPolicy, as_completed_with_runtime,
};

#[test]
fn as_completed_is_terminated_after_its_last_output() {
    each_runtime(|rt| async move {
        let mut s = as_completed_with_runtime(rt.clone(), [1u32, 2].map(|i| async move { i }));
        // Not started yet: not terminated, even for outputs that are already known.
        assert!(!s.is_terminated());
        let mut seen = vec![s.next().await.unwrap().unwrap()];
        assert!(!s.is_terminated());
        seen.push(s.next().await.unwrap().unwrap());
        seen.sort_unstable();
        assert_eq!(seen, [1, 2]);
        assert!(s.is_terminated());
        assert!(s.next().await.is_none());
        assert!(s.is_terminated());
    });
}

#[test]
fn as_completed_of_nothing_is_terminated_once_polled() {
    each_runtime(|rt| async move {
        let mut s = as_completed_with_runtime(rt.clone(), Vec::<std::future::Ready<u8>>::new());
        assert!(!s.is_terminated());
        assert!(s.next().await.is_none());
        assert!(s.is_terminated());
    });
}

#[test]
fn concurrent_is_terminated_after_its_last_output() {
    each_runtime(|rt| async move {
        let jobs = [20u64, 10].map(|d| {
            let rt = rt.clone();
            async move {
                rt.sleep(ms(d)).await;
                Ok::<_, ()>(d)
            }
        });
        let mut s = Concurrent::with_runtime(rt.clone(), jobs);
        assert!(!s.is_terminated());
        assert_eq!(s.next().await.unwrap().unwrap(), 10);
        assert!(!s.is_terminated());
        assert_eq!(s.next().await.unwrap().unwrap(), 20);
        // The source is known to be empty only once polled again.
        assert!(s.next().await.is_none());
        assert!(s.is_terminated());
        assert!(s.next().await.is_none());
    });
}

#[test]
fn concurrent_stopped_by_an_error_is_terminated_after_the_error() {
    each_runtime(|rt| async move {
        let jobs = [Err::<u8, _>("boom"), Ok(1)].map(std::future::ready);
        let mut s = Concurrent::with_runtime(rt.clone(), jobs).error_policy(ErrorPolicy::Stop);
        let mut saw_error = false;
        while let Some(item) = s.next().await {
            // Nothing follows the error: the stream says so as soon as it yielded it.
            if let Err(e) = item {
                assert!(matches!(e, ConcurrentError::Failed("boom")));
                saw_error = true;
                assert!(s.is_terminated());
            } else {
                assert!(!s.is_terminated());
            }
        }
        assert!(saw_error);
        assert!(s.is_terminated());
    });
}

#[test]
fn concurrent_inline_is_terminated_after_its_last_output() {
    each_runtime(|rt| async move {
        let jobs = [20u64, 10].map(|d| {
            let rt = rt.clone();
            async move {
                rt.sleep(ms(d)).await;
                Ok::<_, ()>(d)
            }
        });
        let mut s = ConcurrentInline::new(jobs);
        assert!(!s.is_terminated());
        assert_eq!(s.next().await.unwrap().unwrap(), 10);
        assert_eq!(s.next().await.unwrap().unwrap(), 20);
        assert!(s.next().await.is_none());
        assert!(s.is_terminated());
        assert!(s.next().await.is_none());
    });
}

#[test]
fn concurrent_inline_stopped_by_an_error_is_terminated_after_the_error() {
    each_runtime(|_rt| async move {
        let jobs = [Ok(1u8), Err("boom"), Ok(3)].map(std::future::ready);
        let mut s = ConcurrentInline::new(jobs).error_policy(ErrorPolicy::Stop);
        let mut items = Vec::new();
        while let Some(item) = s.next().await {
            let last = item.is_err();
            items.push(item.map_err(|e| matches!(e, ConcurrentError::Failed("boom"))));
            // Terminated from the error on, and not before.
            assert_eq!(s.is_terminated(), last);
        }
        assert!(items.contains(&Err(true)));
        assert!(s.is_terminated());
    });
}
