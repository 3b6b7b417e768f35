use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use wrangle::cache::{Cache, Memoized, Policy};
use wrangle::rt::{DefaultRuntime, Runtime};

pub(crate) async fn tour(rt: DefaultRuntime) {
    let ms = Duration::from_millis;
    // Single flight: 50 concurrent requests for one missing key make one load, even though
    // the first caller is cancelled halfway (a waiter takes the load over).
    let cache: Cache<&str, String> = Cache::builder()
        .max_entries(100)
        .time_to_live(ms(50))
        .runtime(rt.clone())
        .build()
        .unwrap();
    let loads = Arc::new(AtomicU32::new(0));
    let request = |cache: Cache<&'static str, String>| {
        let (rt, loads) = (rt.clone(), Arc::clone(&loads));
        async move {
            cache
                .get_or_insert_with("user:7", || async move {
                    loads.fetch_add(1, Ordering::Relaxed);
                    rt.sleep(Duration::from_millis(5)).await; // the database
                    "Ada".to_string()
                })
                .await
                .unwrap()
        }
    };
    let first = rt.spawn(request(cache.clone()));
    rt.sleep(ms(1)).await;
    let rest: Vec<_> = (0..49).map(|_| rt.spawn(request(cache.clone()))).collect();
    rt.sleep(ms(1)).await;
    drop(first); // cancelled mid-load
    for r in rest {
        r.await.unwrap();
    }
    let s = cache.stats();
    println!(
        "50 callers, leader cancelled: {} loads ({} cancelled, {} completed), {} misses",
        s.started, s.cancelled, s.completed, s.misses
    );
    rt.sleep(ms(50)).await;
    println!("after the 50 ms time to live: {:?}", cache.get(&"user:7"));

    // Exact LRU for memoized functions (the seeds' maxsize): calls 1, 2, 1, 3, 2, 2 run the
    // function 1, 2, 2, 3, 4, 4 times.
    let runs = Arc::new(AtomicU32::new(0));
    let square = Memoized::builder({
        let runs = Arc::clone(&runs);
        move |x: u64| {
            runs.fetch_add(1, Ordering::Relaxed);
            async move { Ok::<_, Infallible>(x * x) }
        }
    })
    .max_entries(2)
    .policy(Policy::Lru)
    .runtime(rt.clone())
    .build()
    .unwrap();
    let mut counts = Vec::new();
    for x in [1, 2, 1, 3, 2, 2] {
        square.call(x).await.unwrap();
        counts.push(runs.load(Ordering::Relaxed));
    }
    println!("memoized with maxsize 2, calls 1 2 1 3 2 2: runs after each {counts:?}");

    // Refresh-ahead: in the last 20 ms of a 50 ms life, a hit is served at once and a reload
    // runs in the background.
    let version = Arc::new(AtomicU32::new(0));
    let config = Memoized::builder({
        let (rt, version) = (rt.clone(), Arc::clone(&version));
        move |()| {
            let (rt, version) = (rt.clone(), Arc::clone(&version));
            async move {
                rt.sleep(Duration::from_millis(5)).await;
                Ok::<_, Infallible>(version.fetch_add(1, Ordering::Relaxed))
            }
        }
    })
    .time_to_live(ms(50))
    .refresh_ahead(ms(20))
    .runtime(rt.clone())
    .build()
    .unwrap();
    let v0 = config.call(()).await.unwrap();
    rt.sleep(ms(35)).await;
    let stale = config.call(()).await.unwrap();
    rt.sleep(ms(10)).await;
    let fresh = config.call(()).await.unwrap();
    println!(
        "refresh-ahead: v{v0}, then v{stale} served while reloading, then v{fresh} ({} refresh)",
        config.stats().refreshes
    );
}
