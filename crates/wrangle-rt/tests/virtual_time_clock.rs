//! Exact-time behaviour of the virtual runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::SignedDuration;
use wrangle_rt::{Runtime, Sleep, VirtualRuntime, virtual_time::BlockOnError};

const SEC: Duration = Duration::from_secs(1);

#[test]
fn a_virtual_week_passes_at_once_with_exact_instants() {
    let rt = VirtualRuntime::new();
    let start = rt.now();
    let wall_start = rt.wall_now();
    let week = 7 * 24 * 3600 * SEC;
    let real = std::time::Instant::now();
    rt.block_on(async {
        for day in 1..=7u32 {
            rt.sleep(24 * 3600 * SEC).await;
            assert_eq!(rt.now() - start, day * 24 * 3600 * SEC);
        }
    });
    assert_eq!(rt.now() - start, week);
    assert_eq!(
        rt.wall_now().duration_since(wall_start),
        SignedDuration::from_hours(7 * 24)
    );
    // Not a timing assertion on the code under test: a virtual week must not take a real one.
    assert!(real.elapsed() < Duration::from_secs(60));
}

#[test]
fn the_fast_clock_is_the_virtual_clock() {
    let rt = VirtualRuntime::new();
    assert_eq!(rt.monotonic_nanos(), 0);
    rt.block_on(async {
        rt.sleep(3 * SEC).await;
        assert_eq!(rt.monotonic_nanos(), 3_000_000_000);
    });
    rt.block_on(rt.advance(Duration::from_nanos(7)));
    assert_eq!(rt.monotonic_nanos(), 3_000_000_007);
}

#[test]
fn timers_fire_in_deadline_order_at_their_exact_instants() {
    let rt = VirtualRuntime::builder().seed(3).build();
    let start = rt.now();
    let log = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        let mut handles = Vec::new();
        for ms in [50_u64, 10, 30, 10, 20] {
            let (rt2, log) = (rt.clone(), log.clone());
            handles.push(rt.spawn(async move {
                rt2.sleep(Duration::from_millis(ms)).await;
                log.lock().unwrap().push((ms, rt2.now() - start));
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    let log = log.lock().unwrap();
    let times: Vec<_> = log
        .iter()
        .map(|(ms, at)| (*ms, at.as_millis() as u64))
        .collect();
    assert_eq!(log.len(), 5);
    for (ms, at) in &times {
        assert_eq!(ms, at, "a timer fired at the wrong instant");
    }
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "timers fired out of order");
}

#[test]
fn manual_advance_fires_timers_on_the_way_and_stops_at_the_target() {
    let rt = VirtualRuntime::builder().auto_advance(false).build();
    let start = rt.now();
    let log = Arc::new(Mutex::new(Vec::new()));
    rt.block_on(async {
        for ms in [100_u64, 250, 900] {
            let (rt2, log) = (rt.clone(), log.clone());
            rt.spawn(async move {
                rt2.sleep(Duration::from_millis(ms)).await;
                log.lock().unwrap().push(rt2.now() - start);
            })
            .detach();
        }
        rt.advance(Duration::from_millis(250)).await;
        assert_eq!(rt.now() - start, Duration::from_millis(250));
        // The task woken exactly at the target has run before advance returned.
        assert_eq!(
            *log.lock().unwrap(),
            [Duration::from_millis(100), Duration::from_millis(250)]
        );
        assert_eq!(rt.pending_timers(), 1);
        let at = rt.advance_to_next().await.unwrap();
        assert_eq!(at - start, Duration::from_millis(900));
        assert_eq!(rt.advance_to_next().await, None);
    });
    assert_eq!(log.lock().unwrap().len(), 3);
}

#[test]
fn without_auto_advance_a_lone_sleep_stalls_instead_of_skipping_time() {
    let rt = VirtualRuntime::builder()
        .auto_advance(false)
        .stall_grace(Duration::ZERO)
        .build();
    let r = rt.try_block_on(rt.sleep(SEC));
    assert_eq!(r, Err(BlockOnError::Stalled));
    assert_eq!(rt.elapsed(), Duration::ZERO);
}

#[test]
fn a_stall_is_reported_not_hung() {
    let rt = VirtualRuntime::builder()
        .stall_grace(Duration::from_millis(10))
        .build();
    assert_eq!(
        rt.try_block_on(std::future::pending::<()>()),
        Err(BlockOnError::Stalled)
    );
    let msg = std::panic::catch_unwind(|| rt.block_on(std::future::pending::<()>()))
        .unwrap_err()
        .downcast::<String>()
        .unwrap();
    assert!(msg.contains("stalled"), "{msg}");
}

#[test]
fn time_does_not_advance_while_blocking_work_is_outstanding() {
    let rt = VirtualRuntime::new();
    let start = rt.now();
    rt.block_on(async {
        let sleeper = rt.spawn({
            let rt = rt.clone();
            async move {
                rt.sleep(SEC).await;
                rt.now()
            }
        });
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // The blocking job waits for a real thread that the test releases only after it has
        // checked that virtual time stood still.
        let blocking = rt.spawn_blocking(move || rx.recv().unwrap());
        let releaser = {
            let rt = rt.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    std::thread::yield_now();
                }
                let seen = rt.now();
                tx.send(()).unwrap();
                seen
            })
        };
        blocking.await.unwrap();
        assert_eq!(
            releaser.join().unwrap(),
            start,
            "time moved while blocking work ran"
        );
        assert_eq!(sleeper.await.unwrap() - start, SEC);
    });
}

#[test]
fn hold_guard_keeps_the_clock_still() {
    let rt = VirtualRuntime::new();
    let start = rt.now();
    let guard = rt.hold();
    let (tx, rx) = async_channel_like();
    let other = std::thread::spawn({
        let rt = rt.clone();
        move || {
            let _ = rx.recv();
            let seen = rt.now();
            drop(guard);
            seen
        }
    });
    rt.block_on(async {
        let sleeper = rt.spawn({
            let rt = rt.clone();
            async move { rt.sleep(SEC).await }
        });
        tx.send(()).unwrap();
        sleeper.await.unwrap();
    });
    assert_eq!(other.join().unwrap(), start);
    assert_eq!(rt.now() - start, SEC);
}

fn async_channel_like() -> (std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>) {
    std::sync::mpsc::channel()
}

#[test]
fn wall_clock_jumps_and_suspend_leave_monotonic_time_alone() {
    let start_wall: jiff::Timestamp = "2024-10-27T00:30:00Z".parse().unwrap();
    let rt = VirtualRuntime::builder().wall_start(start_wall).build();
    let mono = rt.now();
    rt.jump_wall(SignedDuration::from_hours(1));
    assert_eq!(rt.wall_now(), "2024-10-27T01:30:00Z".parse().unwrap());
    rt.jump_wall(SignedDuration::from_hours(-2));
    assert_eq!(rt.wall_now(), "2024-10-26T23:30:00Z".parse().unwrap());
    rt.suspend(Duration::from_secs(3600));
    assert_eq!(rt.wall_now(), "2024-10-27T00:30:00Z".parse().unwrap());
    rt.set_wall("2030-01-01T00:00:00Z".parse().unwrap());
    assert_eq!(rt.wall_now(), "2030-01-01T00:00:00Z".parse().unwrap());
    assert_eq!(
        rt.now(),
        mono,
        "the monotonic clock moved with the wall clock"
    );
    // Monotonic sleeps still move both clocks together.
    rt.block_on(rt.sleep(SEC));
    assert_eq!(rt.wall_now(), "2030-01-01T00:00:01Z".parse().unwrap());
}

#[test]
fn the_same_seed_gives_the_same_interleaving() {
    fn order(seed: u64) -> Vec<u32> {
        let rt = VirtualRuntime::builder().seed(seed).build();
        let log = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            let handles: Vec<_> = (0..20)
                .map(|i| {
                    let log = log.clone();
                    rt.spawn(async move {
                        wrangle_rt::yield_now().await;
                        log.lock().unwrap().push(i);
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        });
        log.lock().unwrap().clone()
    }
    assert_eq!(order(11), order(11));
    let fifo = {
        let rt = VirtualRuntime::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        rt.block_on(async {
            let handles: Vec<_> = (0..20)
                .map(|i| {
                    let log = log.clone();
                    rt.spawn(async move { log.lock().unwrap().push(i) })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        });
        log.lock().unwrap().clone()
    };
    assert_eq!(
        fifo,
        (0..20).collect::<Vec<_>>(),
        "unseeded runtime is not FIFO"
    );
    // Some seed among a few must reorder 20 tasks, or the seed does nothing.
    assert!((1..5).any(|s| order(s) != fifo));
}

#[test]
fn reset_moves_a_waiting_sleep_both_ways() {
    let rt = VirtualRuntime::new();
    let start = rt.now();
    rt.block_on(async {
        let mut sleep = Box::pin(rt.sleep(10 * SEC));
        assert!(
            futures_lite::future::poll_once(sleep.as_mut())
                .await
                .is_none()
        );
        sleep.as_mut().reset(start + 3 * SEC);
        sleep.as_mut().await;
        assert_eq!(rt.now() - start, 3 * SEC);
        sleep.as_mut().reset(start + 20 * SEC);
        sleep.as_mut().await;
        assert_eq!(rt.now() - start, 20 * SEC);
    });
}

#[test]
fn timeout_elapses_exactly_at_its_deadline() {
    let rt = VirtualRuntime::new();
    let start = rt.now();
    let r = rt.block_on(rt.timeout(Duration::from_millis(1500), std::future::pending::<()>()));
    assert!(r.is_err());
    assert_eq!(rt.now() - start, Duration::from_millis(1500));
}

#[test]
fn sleep_of_an_unrepresentable_duration_saturates_and_deadline_after_reports_it() {
    let rt = VirtualRuntime::new();
    let err = rt.deadline_after(Duration::MAX).unwrap_err();
    assert_eq!(err.duration(), Duration::MAX);
    assert!(err.to_string().contains("deadline overflow"));
    // The saturated sleep is far away, not immediate.
    let sleep = rt.sleep(Duration::MAX);
    assert!(sleep.deadline() > rt.now() + Duration::from_secs(86_400 * 365 * 20));
}

#[test]
fn cancel_before_start_never_runs_the_body() {
    let rt = VirtualRuntime::new();
    let ran = Arc::new(Mutex::new(false));
    rt.block_on(async {
        let handle = rt.spawn({
            let ran = ran.clone();
            async move { *ran.lock().unwrap() = true }
        });
        assert!(handle.cancel().await.unwrap_err().is_cancelled());
    });
    assert!(!*ran.lock().unwrap());
}

#[test]
fn shutdown_drops_pending_tasks() {
    struct Probe(Arc<Mutex<bool>>);
    impl Drop for Probe {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = true;
        }
    }
    let rt = VirtualRuntime::new();
    let dropped = Arc::new(Mutex::new(false));
    let probe = Probe(dropped.clone());
    let rt2 = rt.clone();
    rt.spawn(async move {
        let _p = probe;
        rt2.sleep(Duration::from_secs(3600)).await;
    })
    .detach();
    rt.block_on(wrangle_rt::yield_now());
    assert!(!*dropped.lock().unwrap());
    rt.abort();
    assert!(*dropped.lock().unwrap());
}

/// A detached task pending with no waker stored anywhere (its handle detached while it was being
/// polled) is still reached: dropped by `shutdown`, or when the runtime itself is dropped.
#[test]
fn a_task_nothing_refers_to_is_dropped_by_shutdown_and_with_the_runtime() {
    struct Probe(Arc<Mutex<bool>>);
    impl Drop for Probe {
        fn drop(&mut self) {
            *self.0.lock().unwrap() = true;
        }
    }
    for shut_down in [true, false] {
        let rt = VirtualRuntime::new();
        let dropped = Arc::new(Mutex::new(false));
        let probe = Probe(dropped.clone());
        let own_handle: Arc<Mutex<Option<wrangle_rt::JoinHandle<()>>>> = Arc::default();
        let slot = own_handle.clone();
        let handle = rt.spawn(std::future::poll_fn(move |_| {
            let _p = &probe;
            // Detaches its own handle while being polled, and stores no waker.
            if let Some(h) = slot.lock().unwrap().take() {
                h.detach();
            }
            std::task::Poll::<()>::Pending
        }));
        *own_handle.lock().unwrap() = Some(handle);
        rt.block_on(wrangle_rt::yield_now());
        assert!(own_handle.lock().unwrap().is_none(), "the task was polled");
        assert!(!*dropped.lock().unwrap());
        if shut_down {
            rt.abort();
        } else {
            drop(rt);
        }
        assert!(*dropped.lock().unwrap(), "shut down: {shut_down}");
    }
}

#[test]
fn block_on_is_not_reentrant() {
    let rt = VirtualRuntime::new();
    let inner = rt.clone();
    let r = rt.block_on(async move { inner.try_block_on(async {}) });
    assert_eq!(r, Err(BlockOnError::AlreadyRunning));
}

#[test]
fn an_outside_thread_can_wake_an_otherwise_stalled_runtime_within_the_grace() {
    let rt = VirtualRuntime::new();
    let token = wrangle_rt::CancellationToken::new();
    let t2 = token.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    // The outside thread cancels once the main future has started waiting.
    let outside = std::thread::spawn(move || {
        ready_rx.recv().unwrap();
        t2.cancel();
    });
    rt.block_on(async {
        ready_tx.send(()).unwrap();
        token.cancelled().await;
    });
    outside.join().unwrap();
    assert_eq!(rt.elapsed(), Duration::ZERO);
}
