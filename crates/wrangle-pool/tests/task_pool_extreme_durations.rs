//! R16 / issue 11 defect 4: a per-task timeout and a shutdown deadline of `Duration::MAX`
//! mean "no limit": the deadline arithmetic is checked (a deadline the clock cannot hold is
//! not armed), nothing panics or ends early.

use std::num::NonZeroUsize;
use std::time::Duration;

use wrangle_pool::TaskPool;
use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;

#[test]
fn duration_max_timeouts_are_no_limit() {
    each_runtime(|rt| async move {
        let pool = TaskPool::builder()
            .size(NonZeroUsize::new(2).unwrap())
            .timeout(Duration::MAX)
            .runtime(rt.clone())
            .build();
        let r2 = rt.clone();
        let h = pool
            .spawn(async move {
                r2.sleep(Duration::from_millis(3)).await;
                7
            })
            .unwrap();
        assert_eq!(h.await.unwrap(), 7);
        pool.shutdown_timeout(Duration::MAX).await.unwrap();
        let s = pool.stats();
        assert_eq!((s.completed, s.timed_out), (1, 0));
    });
}
