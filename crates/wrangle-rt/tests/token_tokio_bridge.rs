//! The bridge between `CancellationToken` and tokio-util's token (feature `tokio-util`).

#![cfg(feature = "tokio-util")]

use std::time::Duration;

use wrangle_rt::testing::each_runtime;
use wrangle_rt::{CancellationToken, Runtime};

#[test]
fn to_tokio_follows_this_token_and_its_ancestors() {
    let root = CancellationToken::new();
    let child = root.child_token();
    let a = child.to_tokio();
    let b = child.to_tokio();
    let derived = a.child_token();
    assert!(!a.is_cancelled() && !b.is_cancelled() && !derived.is_cancelled());
    root.cancel();
    assert!(a.is_cancelled() && b.is_cancelled() && derived.is_cancelled());
    // Asked after the cancel (and of a token born cancelled): cancelled at once.
    assert!(child.to_tokio().is_cancelled());
    assert!(root.child_token().to_tokio().is_cancelled());
}

#[test]
fn a_tokio_child_cancelled_on_its_own_does_not_cancel_ours() {
    let ours = CancellationToken::new();
    let a = ours.to_tokio();
    let b = ours.to_tokio();
    a.cancel();
    assert!(!ours.is_cancelled());
    assert!(!b.is_cancelled(), "siblings are independent");
    // A later call still hands out a live token.
    assert!(!ours.to_tokio().is_cancelled());
    ours.cancel();
    assert!(b.is_cancelled());
}

#[test]
fn to_tokio_wakes_tokio_waiters_on_every_runtime() {
    each_runtime(|rt| async move {
        let ours = CancellationToken::new();
        let theirs = ours.to_tokio();
        let waiter = rt.spawn(async move { theirs.cancelled().await });
        wrangle_rt::yield_now().await;
        ours.cancel();
        rt.timeout(Duration::from_secs(10), waiter)
            .await
            .expect("tokio waiter not woken")
            .unwrap();
    });
}

#[test]
fn from_tokio_cancels_ours_and_our_children_on_every_runtime() {
    each_runtime(|rt| async move {
        let theirs = tokio_util::sync::CancellationToken::new();
        let ours = CancellationToken::from_tokio_with_runtime(rt.clone(), theirs.clone());
        let child = ours.child_token();
        let waiter = rt.spawn(async move { child.cancelled().await });
        wrangle_rt::yield_now().await;
        assert!(!ours.is_cancelled());
        theirs.cancel();
        rt.timeout(Duration::from_secs(10), waiter)
            .await
            .expect("our child not woken")
            .unwrap();
        assert!(ours.is_cancelled());
        // Cancelling ours never reaches back into tokio's token.
        let theirs = tokio_util::sync::CancellationToken::new();
        let ours = CancellationToken::from_tokio_with_runtime(rt.clone(), theirs.clone());
        ours.cancel();
        assert!(!theirs.is_cancelled());
    });
}

#[test]
fn from_tokio_of_a_cancelled_token_starts_cancelled() {
    let rt = wrangle_rt::VirtualRuntime::new();
    let theirs = tokio_util::sync::CancellationToken::new();
    theirs.cancel();
    assert!(CancellationToken::from_tokio_with_runtime(rt, theirs).is_cancelled());
}

/// The bridge task ends when the token it serves is dropped or cancelled: a bridge per request
/// does not leave a task per request behind.
#[cfg(feature = "runtime-tokio")]
#[test]
fn the_bridge_task_ends_when_ours_is_dropped_or_cancelled() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = wrangle_rt::adapter::TokioRuntime::new(runtime.handle().clone());
    runtime.block_on(async {
        let metrics = tokio::runtime::Handle::current().metrics();
        let base = metrics.num_alive_tasks();
        let theirs = tokio_util::sync::CancellationToken::new();
        let dropped: Vec<_> = (0..50)
            .map(|_| CancellationToken::from_tokio_with_runtime(rt.clone(), theirs.clone()))
            .collect();
        let cancelled = CancellationToken::from_tokio_with_runtime(rt.clone(), theirs.clone());
        tokio::task::yield_now().await;
        assert_eq!(metrics.num_alive_tasks(), base + 51);
        drop(dropped);
        cancelled.cancel();
        // Eventually: each task ends at its next poll.
        for _ in 0..1000 {
            if metrics.num_alive_tasks() == base {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(metrics.num_alive_tasks(), base);
        assert!(!theirs.is_cancelled());
    });
}

#[test]
fn to_tokio_survives_the_tokens_between_it_and_the_ancestor_that_cancels() {
    let root = CancellationToken::new();
    let middle = root.child_token();
    let leaf = middle.child_token();
    let from_leaf = leaf.to_tokio();
    let from_dropped = middle.child_token().to_tokio();
    drop(leaf);
    drop(middle);
    assert!(!from_leaf.is_cancelled() && !from_dropped.is_cancelled());
    root.cancel();
    assert!(from_leaf.is_cancelled() && from_dropped.is_cancelled());
}

#[test]
fn to_tokio_of_a_middle_token_is_cancelled_with_it_but_not_with_a_sibling() {
    let root = CancellationToken::new();
    let a = root.child_token();
    let b = root.child_token();
    let (ta, tb) = (a.child_token().to_tokio(), b.to_tokio());
    a.cancel();
    assert!(ta.is_cancelled());
    assert!(!tb.is_cancelled() && !root.is_cancelled());
}
