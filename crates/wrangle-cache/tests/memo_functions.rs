//! Memoized functions: the seeds' cases, errors cached only when asked, keys, preemptive
//! starts, refresh-ahead, and the memoizer owning its tasks.

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{assert_quiescent, eventually};
use wrangle_cache::{InvalidCacheConfig, LoadError, Memoized};
use wrangle_rt::testing::{each_runtime, virtual_time};
use wrangle_rt::{ErrorReporter, Runtime, Unhandled};

const MS: Duration = Duration::from_millis(1);
const NS: Duration = Duration::from_nanos(1);

fn counter() -> Arc<AtomicU32> {
    Arc::new(AtomicU32::new(0))
}

#[test]
fn seed_lru_cache_maxsize_2_execution_counts_are_1_2_2_3_4_4() {
    each_runtime(|rt| async move {
        let runs = counter();
        let memo = Memoized::builder({
            let runs = runs.clone();
            move |x: u32| {
                runs.fetch_add(1, Ordering::SeqCst);
                async move { Ok::<_, Infallible>(x) }
            }
        })
        .max_entries(2)
        .runtime(rt.clone())
        .build()
        .unwrap();
        let mut counts = Vec::new();
        for x in [1, 2, 1, 3, 2, 2] {
            assert_eq!(memo.call(x).await.unwrap(), x);
            counts.push(runs.load(Ordering::SeqCst));
        }
        assert_eq!(counts, [1, 2, 2, 3, 4, 4]);
        let s = memo.stats();
        assert_eq!((s.entries, s.hits, s.misses), (2, 2, 4));
        memo.clear();
        memo.call(1).await.unwrap();
        memo.call(3).await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 6);
    });
}

#[test]
fn seed_expire_after_one_run_a_hit_then_a_rerun() {
    virtual_time(|rt| async move {
        let runs = counter();
        let memo = Memoized::builder({
            let runs = runs.clone();
            move |()| {
                runs.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, Infallible>(()) }
            }
        })
        .time_to_live(50 * MS)
        .runtime(rt.clone())
        .build()
        .unwrap();
        memo.call(()).await.unwrap();
        memo.call(()).await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        rt.sleep(50 * MS - NS).await;
        memo.call(()).await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        rt.sleep(NS).await;
        memo.call(()).await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn errors_are_not_cached_unless_asked_and_then_for_their_own_ttl() {
    virtual_time(|rt| async move {
        let build = |error_ttl: Option<Duration>| {
            let runs = counter();
            let mut b = Memoized::builder({
                let runs = runs.clone();
                move |x: u32| {
                    let n = runs.fetch_add(1, Ordering::SeqCst);
                    async move {
                        if x == 0 {
                            Err(format!("failure {n}"))
                        } else {
                            Ok(x)
                        }
                    }
                }
            })
            .time_to_live(Duration::from_secs(60))
            .runtime(rt.clone());
            if let Some(ttl) = error_ttl {
                b = b.cache_errors_for(ttl);
            }
            (b.build().unwrap(), runs)
        };
        let (plain, runs) = build(None);
        for _ in 0..3 {
            plain.call(0).await.unwrap_err();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 3, "errors are not cached");

        let (caching, runs) = build(Some(10 * MS));
        for _ in 0..3 {
            match caching.call(0).await {
                Err(LoadError::Failed(e)) => assert_eq!(e, "failure 0"),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        rt.sleep(10 * MS - NS).await;
        caching.call(0).await.unwrap_err();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        rt.sleep(NS).await;
        assert!(matches!(caching.call(0).await, Err(LoadError::Failed(e)) if e == "failure 1"));
        // Values keep the normal time to live.
        caching.call(5).await.unwrap();
        rt.sleep(Duration::from_secs(59)).await;
        caching.call(5).await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn a_panicking_function_is_an_error_and_is_never_cached() {
    each_runtime(|rt| async move {
        let memo = Memoized::builder(|x: u32| async move {
            if x == 0 {
                panic!("zero");
            }
            Ok::<_, String>(x)
        })
        .cache_errors_for(Duration::from_secs(60))
        .runtime(rt.clone())
        .build()
        .unwrap();
        for _ in 0..2 {
            match memo.call(0).await {
                Err(LoadError::Panicked(p)) => assert_eq!(p.message(), Some("zero")),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(memo.stats().panicked, 2, "never cached");
        assert_eq!(memo.call(1).await.unwrap(), 1);
    });
}

#[test]
fn the_key_function_decides_what_shares_an_entry() {
    each_runtime(|rt| async move {
        let memo = Memoized::keyed_builder(
            |(user, _request_id): &(u32, u64)| *user,
            |(user, request_id): (u32, u64)| async move { Ok::<_, Infallible>((user, request_id)) },
        )
        .runtime(rt.clone())
        .build()
        .unwrap();
        assert_eq!(memo.call((7, 1)).await.unwrap(), (7, 1));
        assert_eq!(
            memo.call((7, 2)).await.unwrap(),
            (7, 1),
            "same key, cached result"
        );
        assert_eq!(memo.call((8, 3)).await.unwrap(), (8, 3));
        assert!(memo.invalidate(&(7, 99)));
        assert_eq!(memo.call((7, 4)).await.unwrap(), (7, 4));
    });
}

#[test]
fn concurrent_calls_share_one_run_and_a_dropped_caller_hands_it_over() {
    each_runtime(|rt| async move {
        let runs = counter();
        let (open, gate) = async_channel::bounded::<()>(1);
        let memo = Memoized::builder({
            let (runs, gate) = (runs.clone(), gate.clone());
            move |x: u32| {
                let (runs, gate) = (runs.clone(), gate.clone());
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let _ = gate.recv().await;
                    Ok::<_, Infallible>(x)
                }
            }
        })
        .runtime(rt.clone())
        .build()
        .unwrap();
        let memo2 = memo.clone();
        let first = rt.spawn(async move { memo2.call(1).await });
        eventually(&rt, || runs.load(Ordering::SeqCst) == 1).await;
        let others: Vec<_> = (0..10)
            .map(|_| {
                let memo = memo.clone();
                rt.spawn(async move { memo.call(1).await })
            })
            .collect();
        eventually(&rt, || memo.stats().misses == 11).await;
        first.cancel().await.unwrap_err();
        eventually(&rt, || runs.load(Ordering::SeqCst) == 2).await;
        drop(open);
        for o in others {
            assert_eq!(o.await.unwrap().unwrap(), 1);
        }
        let s = memo.stats();
        assert_eq!((s.started, s.cancelled, s.completed), (2, 1, 1));
        assert_quiescent(&s);
    });
}

#[test]
fn start_runs_the_function_at_once_even_if_nobody_awaits() {
    each_runtime(|rt| async move {
        let runs = counter();
        let (done_tx, done_rx) = async_channel::unbounded::<u32>();
        let memo = Memoized::builder({
            let runs = runs.clone();
            move |x: u32| {
                let (runs, done_tx) = (runs.clone(), done_tx.clone());
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let _ = done_tx.send(x).await;
                    Ok::<_, Infallible>(x * 2)
                }
            }
        })
        .runtime(rt.clone())
        .build()
        .unwrap();
        drop(memo.start(21));
        assert_eq!(
            done_rx.recv().await.unwrap(),
            21,
            "ran without being awaited"
        );
        eventually(&rt, || memo.stats().completed == 1).await;
        assert_eq!(memo.call(21).await.unwrap(), 42);
        // A start on a cached key, and one while the key loads, run nothing more.
        assert_eq!(memo.start(21).await.unwrap(), 42);
        let (a, b) = futures_lite::future::zip(memo.start(5), memo.start(5)).await;
        assert_eq!((a.unwrap(), b.unwrap()), (10, 10));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_quiescent(&memo.stats());
    });
}

/// Counts how many of the function's futures are alive.
struct Alive(Arc<AtomicU32>);

impl Alive {
    fn new(n: &Arc<AtomicU32>) -> Self {
        n.fetch_add(1, Ordering::SeqCst);
        Alive(n.clone())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_the_memoizer_cancels_its_tasks() {
    each_runtime(|rt| async move {
        let alive = counter();
        let memo = Memoized::builder({
            let alive = alive.clone();
            move |x: u32| {
                let guard = Alive::new(&alive);
                async move {
                    let _guard = guard;
                    futures_lite::future::pending::<()>().await;
                    Ok::<_, Infallible>(x)
                }
            }
        })
        .runtime(rt.clone())
        .build()
        .unwrap();
        for x in 0..5 {
            drop(memo.start(x));
        }
        eventually(&rt, || alive.load(Ordering::SeqCst) == 5).await;
        let stats = memo.stats();
        assert_eq!(stats.running, 5);
        drop(memo);
        eventually(&rt, || alive.load(Ordering::SeqCst) == 0).await;
    });
}

fn reporter() -> (ErrorReporter, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let reporter =
        ErrorReporter::new(move |u: Unhandled| sink.lock().unwrap().push(u.error().to_string()));
    (reporter, seen)
}

#[test]
fn refresh_ahead_serves_the_stale_value_while_one_reload_runs() {
    virtual_time(|rt| async move {
        let runs = counter();
        let memo = Memoized::builder({
            let (runs, rt) = (runs.clone(), rt.clone());
            move |()| {
                let (runs, rt) = (runs.clone(), rt.clone());
                async move {
                    let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    rt.sleep(10 * MS).await;
                    Ok::<_, Infallible>(n)
                }
            }
        })
        .time_to_live(100 * MS)
        .refresh_ahead(30 * MS)
        .runtime(rt.clone())
        .build()
        .unwrap();
        assert_eq!(memo.call(()).await.unwrap(), 1);
        let loaded = rt.now();
        rt.sleep(70 * MS - NS).await;
        assert_eq!(memo.call(()).await.unwrap(), 1);
        assert_eq!(memo.stats().refreshes, 0, "not yet in the refresh window");
        rt.sleep(NS).await; // t + ttl - refresh_ahead
        let before = rt.now();
        for _ in 0..5 {
            assert_eq!(
                memo.call(()).await.unwrap(),
                1,
                "stale value served at once"
            );
        }
        assert_eq!(rt.now(), before);
        assert_eq!(memo.stats().refreshes, 1, "one reload per key");
        rt.sleep(10 * MS + NS).await; // the reload ended at loaded + 80 ms
        assert_eq!(memo.call(()).await.unwrap(), 2);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // The new value's life counts from the end of its reload: its refresh window opens
        // at loaded + 80 + 70 ms.
        rt.sleep_until(loaded + 150 * MS - NS).await;
        assert_eq!(memo.call(()).await.unwrap(), 2);
        assert_eq!(memo.stats().refreshes, 1);
        rt.sleep(NS).await;
        assert_eq!(memo.call(()).await.unwrap(), 2);
        let s = memo.stats();
        assert_eq!((s.started, s.refreshes, s.completed), (3, 2, 2), "{s:?}");
    });
}

#[test]
fn a_failed_refresh_keeps_the_stale_value_until_it_expires_and_is_reported() {
    virtual_time(|rt| async move {
        let runs = counter();
        let (reporter, seen) = reporter();
        let memo = Memoized::builder({
            let runs = runs.clone();
            move |()| {
                let n = runs.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n == 0 {
                        Ok(7)
                    } else {
                        Err(format!("refresh {n} failed"))
                    }
                }
            }
        })
        .time_to_live(100 * MS)
        .refresh_ahead(50 * MS)
        .cache_errors_for(Duration::from_secs(1))
        .error_reporter(reporter)
        .runtime(rt.clone())
        .build()
        .unwrap();
        memo.call(()).await.unwrap();
        rt.sleep(60 * MS).await;
        assert_eq!(memo.call(()).await.unwrap(), 7); // starts a refresh
        rt.sleep(MS).await;
        assert_eq!(seen.lock().unwrap().as_slice(), ["refresh 1 failed"]);
        assert_eq!(memo.call(()).await.unwrap(), 7, "the stale value stays");
        rt.sleep(39 * MS - NS).await;
        assert_eq!(memo.call(()).await.unwrap(), 7, "until t + ttl - 1 ns");
        rt.sleep(NS).await;
        // Expired: a caller now loads (and this error is cached, as configured).
        assert!(memo.call(()).await.is_err());
        let s = memo.stats();
        assert!(s.refreshes >= 1 && s.failed >= 2, "{s:?}");
    });
}

#[test]
fn a_panicking_refresh_is_reported_and_the_memoizer_keeps_working() {
    virtual_time(|rt| async move {
        let runs = counter();
        let (reporter, seen) = reporter();
        let memo = Memoized::builder({
            let runs = runs.clone();
            move |()| {
                let n = runs.fetch_add(1, Ordering::SeqCst);
                if n == 1 {
                    panic!("refresh panicked");
                }
                async move { Ok::<_, Infallible>(n) }
            }
        })
        .time_to_live(100 * MS)
        .refresh_ahead(50 * MS)
        .error_reporter(reporter)
        .runtime(rt.clone())
        .build()
        .unwrap();
        memo.call(()).await.unwrap();
        rt.sleep(50 * MS).await;
        assert_eq!(memo.call(()).await.unwrap(), 0);
        rt.sleep(MS).await;
        assert_eq!(
            seen.lock().unwrap().as_slice(),
            ["task panicked: refresh panicked"]
        );
        // The stale value is still served, and this hit starts a new refresh, which works.
        assert_eq!(memo.call(()).await.unwrap(), 0);
        rt.sleep(MS).await;
        assert_eq!(memo.call(()).await.unwrap(), 2);
        assert_eq!(memo.stats().panicked, 1);
    });
}

#[test]
fn bad_configurations_are_typed_errors() {
    virtual_time(|rt| async move {
        let b =
            || Memoized::builder(|x: u8| async move { Ok::<_, Infallible>(x) }).runtime(rt.clone());
        let e = b().refresh_ahead(MS).build().unwrap_err();
        assert_eq!(
            e,
            InvalidCacheConfig::RefreshAhead {
                refresh_ahead: MS,
                time_to_live: None
            }
        );
        let e = b().time_to_live(MS).refresh_ahead(MS).build().unwrap_err();
        assert_eq!(
            e.to_string(),
            "refresh_ahead (1ms) must be shorter than time_to_live (1ms)"
        );
        let e = b()
            .time_to_live(2 * MS)
            .refresh_ahead(MS)
            .time_to_idle(MS)
            .build()
            .unwrap_err();
        assert_eq!(e, InvalidCacheConfig::RefreshWithIdle);
        let e = b().cache_errors_for(Duration::ZERO).build().unwrap_err();
        assert_eq!(e, InvalidCacheConfig::ZeroDuration("cache_errors_for"));
        let e = b().refresh_ahead(Duration::ZERO).build().unwrap_err();
        assert_eq!(e, InvalidCacheConfig::ZeroDuration("refresh_ahead"));
        assert!(
            b().time_to_live(Duration::MAX)
                .refresh_ahead(Duration::MAX - NS)
                .build()
                .is_ok()
        );
    });
}

#[test]
fn a_panicking_key_function_is_an_error_and_the_memoizer_keeps_working() {
    each_runtime(|rt| async move {
        let (reporter, seen) = reporter();
        let memo = Memoized::keyed_builder(
            |x: &u32| {
                assert!(*x != 0, "no key for zero");
                *x
            },
            |x: u32| async move { Ok::<_, Infallible>(x) },
        )
        .error_reporter(reporter)
        .runtime(rt.clone())
        .build()
        .unwrap();
        for call in [memo.call(0), memo.start(0)] {
            match call.await {
                Err(LoadError::Panicked(p)) => assert_eq!(p.message(), Some("no key for zero")),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(!memo.invalidate(&0));
        assert_eq!(
            seen.lock().unwrap().len(),
            1,
            "invalidate reports the key's panic"
        );
        assert_eq!(memo.call(4).await.unwrap(), 4);
        let s = memo.stats();
        assert_eq!(s.started, 1, "nothing ran for the keys that panicked");
    });
}

#[test]
fn refresh_ahead_on_every_runtime_serves_stale_while_one_reload_is_held() {
    each_runtime(|rt| async move {
        let (open, gate) = async_channel::bounded::<()>(1);
        let version = counter();
        let memo = Memoized::builder({
            let (version, gate) = (version.clone(), gate.clone());
            move |()| {
                let (version, gate) = (version.clone(), gate.clone());
                async move {
                    let v = version.fetch_add(1, Ordering::SeqCst);
                    if v > 0 {
                        // Reloads wait until the test lets them finish.
                        let _ = gate.recv().await;
                    }
                    Ok::<_, Infallible>(v)
                }
            }
        })
        // The refresh window opens 1 ms after a load and the value lives 60 s.
        .time_to_live(Duration::from_secs(60))
        .refresh_ahead(Duration::from_secs(60) - MS)
        .runtime(rt.clone())
        .build()
        .unwrap();
        assert_eq!(memo.call(()).await.unwrap(), 0);
        rt.sleep(2 * MS).await;
        assert_eq!(
            memo.call(()).await.unwrap(),
            0,
            "stale, and a reload starts"
        );
        eventually(&rt, || memo.stats().refreshes == 1).await;
        for _ in 0..5 {
            assert_eq!(
                memo.call(()).await.unwrap(),
                0,
                "stale while the reload is held"
            );
        }
        assert_eq!(memo.stats().refreshes, 1, "at most one reload per key");
        drop(open);
        let mut latest = 0;
        for _ in 0..20_000 {
            latest = memo.call(()).await.unwrap();
            if latest > 0 {
                break;
            }
            rt.sleep(Duration::from_micros(100)).await;
        }
        assert_eq!(latest, 1, "the reload's value replaces the stale one");
    });
}
