//! `CancellationToken` behaviour, on every runtime.

use std::time::Duration;

use wrangle_rt::testing::each_runtime;
use wrangle_rt::{CancellationToken, Runtime};

#[test]
fn cancel_wakes_every_waiter_on_every_clone_and_descendant() {
    each_runtime(|rt| async move {
        let root = CancellationToken::new();
        let waiters: Vec<_> = (0..8)
            .map(|i| {
                let t = if i % 2 == 0 {
                    root.clone()
                } else {
                    root.child_token().child_token()
                };
                rt.spawn(async move { t.cancelled().await })
            })
            .collect();
        wrangle_rt::yield_now().await;
        root.cancel();
        for w in waiters {
            rt.timeout(Duration::from_secs(10), w)
                .await
                .expect("waiter not woken")
                .unwrap();
        }
    });
}

#[test]
fn child_cancel_does_not_reach_the_parent_or_siblings() {
    let root = CancellationToken::new();
    let a = root.child_token();
    let b = root.child_token();
    a.cancel();
    assert!(a.is_cancelled());
    assert!(!root.is_cancelled());
    assert!(!b.is_cancelled());
}

#[test]
fn grandchild_hears_the_root_after_its_parent_handles_are_dropped() {
    let root = CancellationToken::new();
    let grandchild = root.child_token().child_token();
    root.cancel();
    assert!(grandchild.is_cancelled());
}

#[test]
fn child_of_a_cancelled_token_starts_cancelled() {
    let root = CancellationToken::new();
    root.cancel();
    assert!(root.child_token().is_cancelled());
}

#[test]
fn dropped_children_do_not_accumulate() {
    let root = CancellationToken::new();
    for _ in 0..100_000 {
        drop(root.child_token());
    }
    // Still works, and cancelling walks only live children.
    let live = root.child_token();
    root.cancel();
    assert!(live.is_cancelled());
}

#[test]
fn run_until_cancelled_drops_the_future_on_cancel() {
    each_runtime(|rt| async move {
        let token = CancellationToken::new();
        let t2 = token.clone();
        let rt2 = rt.clone();
        let task = rt.spawn(async move {
            t2.run_until_cancelled(rt2.sleep(Duration::from_secs(3600)))
                .await
        });
        wrangle_rt::yield_now().await;
        token.cancel();
        assert_eq!(task.await.unwrap(), None);
        assert_eq!(token.run_until_cancelled(async { 5 }).await, None);
        assert_eq!(
            CancellationToken::new()
                .run_until_cancelled(async { 5 })
                .await,
            Some(5)
        );
    });
}

#[test]
fn drop_guard_cancels_unless_disarmed() {
    let t = CancellationToken::new();
    let kept = t.clone().drop_guard().disarm();
    assert!(!kept.is_cancelled());
    drop(t.clone().drop_guard());
    assert!(t.is_cancelled());
}

#[test]
fn cancelling_from_another_thread_wakes_an_async_waiter() {
    each_runtime(|rt| async move {
        let token = CancellationToken::new();
        let t2 = token.clone();
        let canceller = std::thread::spawn(move || t2.cancel());
        let waited = rt.spawn_blocking(move || canceller.join().is_ok());
        token.cancelled().await;
        assert!(waited.await.unwrap());
    });
}

#[test]
fn concurrent_cancel_and_child_creation_never_miss() {
    for _ in 0..200 {
        let root = CancellationToken::new();
        let r2 = root.clone();
        let maker =
            std::thread::spawn(move || (0..50).map(|_| r2.child_token()).collect::<Vec<_>>());
        root.cancel();
        for child in maker.join().unwrap() {
            assert!(child.is_cancelled());
        }
    }
}

#[test]
// A token is hashed by identity, which cancelling does not change.
#[allow(clippy::mutable_key_type)]
fn clones_are_equal_and_hash_alike_children_are_not() {
    use std::collections::HashSet;
    let a = CancellationToken::new();
    let a2 = a.clone();
    let child = a.child_token();
    let b = CancellationToken::new();
    assert_eq!(a, a2);
    assert_ne!(a, child);
    assert_ne!(a, b);
    let set: HashSet<_> = [a.clone(), a2, child.clone(), b.clone(), a]
        .into_iter()
        .collect();
    assert_eq!(set.len(), 3);
    assert!(set.contains(&child) && set.contains(&b));
}

#[test]
fn run_until_cancelled_owned_is_spawnable_and_drops_the_future_on_cancel() {
    each_runtime(|rt| async move {
        let token = CancellationToken::new();
        struct SetOnDrop(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = SetOnDrop(dropped.clone());
        let task = rt.spawn(token.clone().run_until_cancelled_owned(async move {
            let _flag = flag; // dropped with the future
            std::future::pending::<()>().await
        }));
        wrangle_rt::yield_now().await;
        token.cancel();
        assert_eq!(task.await.unwrap(), None);
        assert!(
            dropped.load(std::sync::atomic::Ordering::SeqCst),
            "the inner future was dropped"
        );
        let done = CancellationToken::new()
            .run_until_cancelled_owned(async { 7 })
            .await;
        assert_eq!(done, Some(7));
    });
}

#[test]
fn drop_guard_ref_cancels_on_every_way_out_unless_disarmed() {
    let token = CancellationToken::new();
    {
        let guard = token.drop_guard_ref();
        assert!(!token.is_cancelled());
        let _ = guard.disarm();
    }
    assert!(!token.is_cancelled());
    let caught = std::panic::catch_unwind(|| {
        let _guard = token.drop_guard_ref();
        panic!("unwinding");
    });
    assert!(caught.is_err());
    assert!(token.is_cancelled(), "a panic cancels through the guard");
}
