//! R16 / issue 11 defect 4: every timeout, grace and drain deadline of wrangle-task accepts
//! `Duration::MAX` and means "no limit" (the runtime's sleep saturates; nothing adds a
//! duration to an instant unchecked). Nothing panics, overflows or ends early.

mod common;

use std::time::Duration;

use common::ms;
use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;
use wrangle_task::{RestartableTask, Supervisor, TaskScope, spawn_cancellable};

#[test]
fn duration_max_is_no_limit_everywhere() {
    each_runtime(|rt| async move {
        let task = RestartableTask::with_runtime(rt.clone(), || async { None::<u8> })
            .timeout(Duration::MAX);
        task.start();
        rt.sleep(ms(2)).await;
        assert!(
            task.is_running(),
            "an attempt with no limit waits for its reply"
        );
        task.set_result(1).unwrap();
        assert_eq!(task.wait().await.unwrap(), 1);

        let rt2 = rt.clone();
        let out = TaskScope::with_runtime(rt.clone())
            .timeout(Duration::MAX)
            .exit_timeout(Duration::MAX)
            .grace(Duration::MAX)
            .run(move |scope| async move {
                scope
                    .spawn(async move {
                        rt2.sleep(ms(2)).await;
                    })
                    .unwrap();
                Ok::<_, std::io::Error>(5)
            })
            .await
            .unwrap();
        assert_eq!(out, 5);

        let out = Supervisor::with_runtime(rt.clone())
            .drain(Duration::MAX)
            .run(|sup| async move {
                sup.shutdown_handle().close();
                Ok::<_, std::io::Error>(6)
            })
            .await
            .unwrap();
        assert_eq!(out, 6);

        let t = spawn_cancellable(rt.clone(), |token| async move { token.cancelled().await });
        rt.sleep(ms(1)).await;
        let _ = t.cancel_within(rt.clone(), Duration::MAX).await;
    });
}
