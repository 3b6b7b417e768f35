//! Loom models of wrangle-rt's hand-written synchronisation: the cancellation token's
//! cancel-versus-child race, wake-up, and a token's release (unlinking itself and handing its
//! children to its parent) racing a cancel or a sibling's release; and the portable task
//! cell's cancel-versus-completion race.
//!
//! Run with `cargo xtask loom wrangle-rt` (`RUSTFLAGS="--cfg loom"`, `LOOM_MAX_PREEMPTIONS=2`).

#![cfg(loom)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use loom::thread;
use wrangle_rt::{CancellationToken, JoinError, adapter::task_pair};

#[test]
fn a_child_made_during_cancel_is_always_cancelled() {
    loom::model(|| {
        let root = CancellationToken::new();
        let r2 = root.clone();
        let maker = thread::spawn(move || r2.child_token());
        root.cancel();
        let child = maker.join().unwrap();
        assert!(
            child.is_cancelled(),
            "a child escaped its parent's cancellation"
        );
    });
}

#[test]
fn a_waiter_is_always_woken_by_cancel() {
    loom::model(|| {
        let token = CancellationToken::new();
        let child = token.child_token();
        let t2 = child.clone();
        let waiter = thread::spawn(move || loom::future::block_on(t2.cancelled()));
        token.cancel();
        waiter.join().unwrap();
        // The nodes are shared through std's `Arc`, which loom does not track: the last handle
        // is dropped here, after the join, so loom sees the order the real fences give.
        drop(child);
    });
}

/// The middle token's last handle is dropped (it unlinks itself and hands the leaf to the
/// root) while the root cancels: the leaf is cancelled whichever goes first, and nothing
/// deadlocks (the release locks root then middle, the cancel one node at a time).
#[test]
fn a_leaf_hears_the_root_while_its_parent_is_released() {
    loom::model(|| {
        let root = CancellationToken::new();
        let middle = root.child_token();
        let leaf = middle.child_token();
        let releaser = thread::spawn(move || drop(middle));
        root.cancel();
        releaser.join().unwrap();
        assert!(leaf.is_cancelled(), "the leaf missed the root's cancel");
        drop(leaf);
    });
}

/// Two siblings released at once, one of them handing a grandchild to the root: the root's
/// child list (indices fixed up by `swap_remove`) stays consistent, and a later cancel of the
/// root reaches the grandchild.
#[test]
fn siblings_released_together_keep_the_tree_consistent() {
    loom::model(|| {
        let root = CancellationToken::new();
        let a = root.child_token();
        let b = root.child_token();
        let grandchild = b.child_token();
        let first = thread::spawn(move || drop(a));
        let second = thread::spawn(move || drop(b));
        first.join().unwrap();
        second.join().unwrap();
        root.cancel();
        assert!(
            grandchild.is_cancelled(),
            "the grandchild was lost in the release"
        );
        drop(grandchild);
    });
}

#[test]
fn cancel_and_completion_race_resolves_the_handle_exactly_once() {
    loom::model(|| {
        let (cell, handle) = task_pair(async { 7 });
        let runner = thread::spawn(move || {
            let mut cell = pin!(cell);
            let waker = std::task::Waker::noop();
            let mut cx = Context::from_waker(waker);
            // The cell completes in one poll, or finds the cancel request first.
            assert!(cell.as_mut().poll(&mut cx).is_ready());
        });
        let out = loom::future::block_on(handle.cancel());
        runner.join().unwrap();
        match out {
            Ok(7) | Err(JoinError::Cancelled) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    });
}

#[test]
fn a_joiner_is_always_woken_by_completion() {
    loom::model(|| {
        let (cell, handle) = task_pair(async { 1 });
        let runner = thread::spawn(move || {
            let mut cell = pin!(cell);
            let mut cx = Context::from_waker(std::task::Waker::noop());
            assert!(cell.as_mut().poll(&mut cx).is_ready());
        });
        let out = loom::future::block_on(handle);
        runner.join().unwrap();
        assert_eq!(out.unwrap(), 1);
    });
}

#[test]
fn dropping_the_handle_while_the_cell_runs_never_loses_the_drop() {
    loom::model(|| {
        let (cell, handle) = task_pair(std::future::pending::<()>());
        let dropper = thread::spawn(move || drop(handle));
        let mut cell = pin!(cell);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        // Pending until the cancel request is seen; then it finishes.
        let first = cell.as_mut().poll(&mut cx);
        dropper.join().unwrap();
        if first == Poll::Pending {
            assert!(
                cell.as_mut().poll(&mut cx).is_ready(),
                "the cancel request was lost"
            );
        }
    });
}

/// A task pending when its handle is dropped is woken to act on the cancel, however the drop
/// interleaves with the poll (before it, during it, or while the task registers its waker).
#[test]
fn a_pending_task_is_woken_by_the_drop_of_its_handle() {
    loom::model(|| {
        let (cell, handle) = task_pair(std::future::pending::<()>());
        let dropper = thread::spawn(move || drop(handle));
        let woken = std::sync::Arc::new(Flag(loom::sync::atomic::AtomicBool::new(false)));
        let waker = std::task::Waker::from(woken.clone());
        let mut cell = pin!(cell);
        let first = cell.as_mut().poll(&mut Context::from_waker(&waker));
        dropper.join().unwrap();
        if first == Poll::Pending {
            assert!(
                woken.0.load(std::sync::atomic::Ordering::SeqCst),
                "a cancelled pending task was never woken"
            );
        }
    });
}

struct Flag(loom::sync::atomic::AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
