//! `Scheduler` is a `FusedStream`: terminated exactly once it is closed, when it yields `None`
//! for good. (`Interval` never ends and is deliberately not one.)

use futures_core::stream::FusedStream;
use futures_lite::StreamExt;
use jiff::SignedDuration;
use wrangle_rt::Runtime;
use wrangle_rt::testing::each_runtime;
use wrangle_timer::Scheduler;

#[test]
fn scheduler_is_terminated_exactly_once_closed() {
    each_runtime(|rt| async move {
        let mut scheduler = Scheduler::with_runtime(rt.clone());
        let now = rt.wall_now();
        scheduler.schedule(now, "now").unwrap();
        scheduler
            .schedule(now + SignedDuration::from_hours(1), "later")
            .unwrap();
        assert!(!scheduler.is_terminated());
        assert_eq!(scheduler.next().await, Some("now"));
        // Empty of due payloads but open: a consumer must keep polling it.
        assert!(!scheduler.is_terminated());
        assert!(scheduler.close());
        assert!(scheduler.is_terminated());
        assert_eq!(scheduler.next().await, None);
        assert!(scheduler.is_terminated());
        assert_eq!(scheduler.next().await, None);
    });
}

#[test]
fn closing_through_a_handle_terminates_the_stream() {
    each_runtime(|rt| async move {
        let mut scheduler = Scheduler::<u32, _>::with_runtime(rt.clone());
        let handle = scheduler.handle();
        assert!(!scheduler.is_terminated());
        handle.close();
        assert!(scheduler.is_terminated());
        assert_eq!(scheduler.next().await, None);
    });
}
