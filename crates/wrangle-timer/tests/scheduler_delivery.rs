//! Scheduler behaviour: time order, FIFO ties, never early, re-armed on insert, close wakes
//! the consumer, cancellation frees payloads, wall-clock jumps.

mod common;

use std::time::Duration;

use common::{DropCounter, MS};
use futures_lite::StreamExt;
use jiff::{SignedDuration, Timestamp};
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{Runtime, VirtualRuntime};
use wrangle_timer::{ConfigError, Scheduler, SchedulerClosed};

fn ms(n: i64) -> SignedDuration {
    SignedDuration::from_millis(n)
}

#[test]
fn seed_case_delivers_in_time_order_and_never_early() {
    each_runtime(|rt| async move {
        let mut scheduler = Scheduler::with_runtime(rt.clone());
        let now = rt.wall_now();
        scheduler.schedule(now + ms(100), "b").unwrap();
        let x = scheduler.schedule(now + ms(50), "x").unwrap();
        scheduler.schedule(now + ms(30), "a").unwrap();
        assert!(scheduler.remove(x));
        assert!(!scheduler.remove(x), "removing twice is fine");
        for (name, offset) in [("a", 30), ("b", 100)] {
            let got = scheduler.next().await;
            assert_eq!(got, Some(name));
            assert!(rt.wall_now() >= now + ms(offset), "never early");
            if rt.is_virtual() {
                assert_eq!(rt.wall_now(), now + ms(offset));
            }
        }
        let stats = scheduler.stats();
        assert_eq!(
            (
                stats.submitted,
                stats.cancelled,
                stats.completed,
                stats.queued
            ),
            (3, 1, 2, 0)
        );
    });
}

#[test]
fn equal_instants_come_out_in_scheduling_order() {
    each_runtime(|rt| async move {
        let mut scheduler = Scheduler::with_runtime(rt.clone());
        let at = rt.wall_now() + ms(5);
        for i in 0..100 {
            scheduler.schedule(at, i).unwrap();
        }
        let got: Vec<i32> = (&mut scheduler).take(100).collect().await;
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    });
}

#[test]
fn many_entries_come_out_sorted_by_instant_then_order() {
    virtual_time(|rt: VirtualRuntime| async move {
        let mut scheduler = Scheduler::with_runtime(rt.clone());
        let now = rt.wall_now();
        let mut expected = Vec::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for i in 0..2_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let offset = (x % 500) as i64;
            scheduler.schedule(now + ms(offset), (offset, i)).unwrap();
            expected.push((offset, i));
        }
        expected.sort();
        let mut got = Vec::new();
        while got.len() < expected.len() {
            let (offset, i) = scheduler.next().await.unwrap();
            assert_eq!(
                rt.wall_now(),
                now + ms(offset),
                "delivered exactly at its instant"
            );
            got.push((offset, i));
        }
        assert_eq!(got, expected);
    });
}

#[test]
fn an_earlier_insert_rearms_the_waiting_consumer() {
    each_runtime(|rt| async move {
        let mut scheduler = Scheduler::with_runtime(rt.clone());
        let handle = scheduler.handle();
        let now = rt.wall_now();
        scheduler
            .schedule(now + SignedDuration::from_hours(1), "late")
            .unwrap();
        let producer = rt.spawn({
            let rt = rt.clone();
            async move {
                rt.sleep(5 * MS).await;
                handle.schedule(rt.wall_now() + ms(5), "early").unwrap();
            }
        });
        assert_eq!(scheduler.next().await, Some("early"));
        if rt.is_virtual() {
            assert_eq!(rt.wall_now(), now + ms(10));
        } else {
            assert!(rt.wall_now() < now + SignedDuration::from_secs(60));
        }
        producer.await.unwrap();
        assert_eq!(scheduler.len(), 1);
    });
}

#[test]
fn waiting_wakes_only_at_the_deadline_or_the_polling_bound() {
    virtual_time(|rt: VirtualRuntime| async move {
        let mut scheduler = Scheduler::builder()
            .max_sleep(Duration::from_secs(60))
            .runtime(rt.clone())
            .build()
            .unwrap();
        scheduler
            .schedule(rt.wall_now() + SignedDuration::from_mins(10), 1)
            .unwrap();
        let polls = rt.task_polls();
        let woken = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = woken.clone();
        let got = std::future::poll_fn(|cx| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            scheduler.poll_due(cx)
        })
        .await;
        assert_eq!(got, Some(1));
        // One poll to start, then one per minute of sleep: no busy loop.
        assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 11);
        assert_eq!(rt.task_polls(), polls);
    });
}

#[test]
fn close_wakes_a_consumer_waiting_on_an_empty_scheduler() {
    each_runtime(|rt| async move {
        let mut scheduler = Scheduler::<u32, _>::with_runtime(rt.clone());
        let handle = scheduler.handle();
        let start = rt.now();
        let closer = rt.spawn({
            let rt = rt.clone();
            async move {
                rt.sleep(5 * MS).await;
                handle.close();
            }
        });
        assert_eq!(scheduler.next().await, None);
        if rt.is_virtual() {
            assert_eq!(rt.now() - start, 5 * MS);
        }
        closer.await.unwrap();
        assert!(scheduler.is_closed());
        assert_eq!(
            scheduler.schedule(Timestamp::UNIX_EPOCH, 9),
            Err(SchedulerClosed(9))
        );
        assert_eq!(scheduler.next().await, None);
    });
}

#[test]
fn removed_and_closed_payloads_are_dropped_at_once() {
    each_runtime(|rt| async move {
        let drops = DropCounter::default();
        let scheduler = Scheduler::with_runtime(rt.clone());
        let far = rt.wall_now() + SignedDuration::from_hours(24);
        let keys: Vec<_> = (0..1_000)
            .map(|_| scheduler.schedule(far, drops.guard()).unwrap())
            .collect();
        for k in &keys[..999] {
            assert!(scheduler.remove(*k));
        }
        assert_eq!(drops.dropped(), 999);
        assert_eq!(scheduler.len(), 1);
        assert!(scheduler.close(), "this call closed it");
        assert!(!scheduler.close(), "closing twice is fine, and says so");
        assert_eq!(drops.dropped(), 1_000);
        let stats = scheduler.stats();
        assert_eq!((stats.queued, stats.cancelled), (0, 1_000));
    });
}

#[test]
fn wall_clock_jumps_deliver_once_and_never_early() {
    virtual_time(|rt: VirtualRuntime| async move {
        let mut scheduler = Scheduler::with_runtime(rt.clone());
        let at = rt.wall_now() + SignedDuration::from_mins(30);
        scheduler.schedule(at, "back").unwrap();
        let waiter = async {
            let got = scheduler.next().await;
            (got, rt.wall_now(), rt.elapsed())
        };
        let jump = async {
            rt.sleep(Duration::from_secs(600)).await;
            rt.jump_wall(SignedDuration::from_hours(-1));
        };
        let ((got, wall, mono), ()) = futures_lite::future::zip(waiter, jump).await;
        assert_eq!(got, Some("back"));
        assert_eq!(wall, at);
        assert_eq!(mono, Duration::from_secs(90 * 60));

        let at = rt.wall_now() + SignedDuration::from_mins(30);
        scheduler.schedule(at, "forward").unwrap();
        let start = rt.elapsed();
        let waiter = async {
            let got = scheduler.next().await;
            (got, rt.wall_now(), rt.elapsed())
        };
        let jump = async {
            rt.sleep(Duration::from_secs(60)).await;
            rt.suspend(Duration::from_secs(3600));
        };
        let ((got, wall, mono), ()) = futures_lite::future::zip(waiter, jump).await;
        assert_eq!(got, Some("forward"));
        assert!(wall >= at);
        assert!(
            mono - start <= Duration::from_secs(61),
            "noticed within the polling bound"
        );
        assert!(scheduler.is_empty());
    });
}

#[test]
fn dropping_a_waiting_next_due_loses_no_payload() {
    each_runtime(|rt| async move {
        let mut scheduler = Scheduler::with_runtime(rt.clone());
        let at = rt.wall_now() + ms(20);
        scheduler.schedule(at, "kept").unwrap();
        for _ in 0..3 {
            match rt.timeout(2 * MS, scheduler.next_due()).await {
                Err(_) => assert_eq!(scheduler.len(), 1, "an interrupted wait keeps the payload"),
                // A loaded machine may reach the instant during these waits.
                Ok(got) => {
                    assert!(!rt.is_virtual());
                    assert_eq!(got, Some("kept"));
                    return;
                }
            }
        }
        assert_eq!(scheduler.next_due().await, Some("kept"));
        assert!(rt.wall_now() >= at);
    });
}

#[test]
fn zero_max_sleep_is_a_typed_error_at_build() {
    each_runtime(|rt| async move {
        let err = Scheduler::<u8, _>::builder()
            .max_sleep(Duration::ZERO)
            .runtime(rt.clone())
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::ZeroPeriod);
        // The largest bound is fine: a sleep is clamped to the instant it waits for.
        let mut scheduler = Scheduler::builder()
            .max_sleep(Duration::MAX)
            .runtime(rt.clone())
            .build()
            .unwrap();
        let at = rt.wall_now() + SignedDuration::from_millis(3);
        scheduler.schedule(at, 1).unwrap();
        assert_eq!(scheduler.next().await, Some(1));
        assert!(rt.wall_now() >= at);
    });
}
