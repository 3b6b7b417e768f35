//! Behaviour of `shield`.

mod common;

use common::{Log, eventually, ms};
use futures_lite::future::poll_once;
use wrangle_rt::Runtime;
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_task::{CancelOutcome, shield, shield_with_runtime, spawn_cancellable};

#[test]
fn shielded_work_completes_when_the_caller_is_dropped() {
    each_runtime(|rt| async move {
        let log = Log::default();
        // The shielded work finishes only after the caller is gone, however slowly the test
        // task runs on a loaded machine.
        let gate = wrangle_rt::CancellationToken::new();
        let (l, l2, g) = (log.clone(), log.clone(), gate.clone());
        let caller = rt.spawn(async move {
            let shielded = shield(async move {
                g.cancelled().await;
                l.push("shielded done");
            });
            l2.push("caller waiting");
            shielded.await.unwrap();
        });
        // Drop the caller once it is waiting on the shield (on a loaded machine it may take a
        // while to start).
        eventually(&rt, || log.get() == ["caller waiting"]).await;
        drop(caller);
        gate.cancel();
        eventually(&rt, || log.get() == ["caller waiting", "shielded done"]).await;
    });
}

#[test]
fn shield_gives_the_output_and_reports_a_panic() {
    each_runtime(|rt| async move {
        assert_eq!(
            shield_with_runtime(rt.clone(), async { 3 }).await.unwrap(),
            3
        );
        let err = shield_with_runtime(rt.clone(), async { panic!("inside shield") })
            .await
            .unwrap_err();
        assert_eq!(err.into_panic().unwrap().message(), Some("inside shield"));
    });
}

#[test]
fn nested_shields_defer_to_the_outermost() {
    virtual_time(|rt| async move {
        let log = Log::default();
        let (rt2, l) = (rt.clone(), log.clone());
        let mut outer = Box::pin(shield_with_runtime(rt.clone(), async move {
            let (rt3, l2) = (rt2.clone(), l.clone());
            shield_with_runtime(rt2.clone(), async move {
                rt3.sleep(ms(20)).await;
                l2.push("inner end");
            })
            .await
            .unwrap();
            rt2.sleep(ms(10)).await;
            l.push("outer end");
        }));
        assert!(poll_once(outer.as_mut()).await.is_none());
        rt.sleep(ms(5)).await;
        drop(outer);
        rt.sleep(ms(50)).await;
        assert_eq!(log.get(), ["inner end", "outer end"]);
    });
}

#[test]
fn a_shielded_cleanup_block_survives_a_hard_cancel() {
    virtual_time(|rt| async move {
        let log = Log::default();
        let (rt2, l) = (rt.clone(), log.clone());
        let task = spawn_cancellable(rt.clone(), move |token| async move {
            l.push("work begin");
            token.cancelled().await;
            l.push("cleanup begin");
            let (rt3, l2) = (rt2.clone(), l.clone());
            shield_with_runtime(rt2.clone(), async move {
                rt3.sleep(ms(20)).await;
                l2.push("cleanup done");
            })
            .await
            .unwrap();
        });
        rt.sleep(ms(1)).await;
        // The grace period (5 ms) is shorter than the cleanup (20 ms): the task is dropped...
        assert!(matches!(
            task.cancel_within(rt.clone(), ms(5)).await,
            CancelOutcome::Aborted
        ));
        // ...but its shielded cleanup runs to the end.
        rt.sleep(ms(30)).await;
        assert_eq!(log.get(), ["work begin", "cleanup begin", "cleanup done"]);
    });
}
