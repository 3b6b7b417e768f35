use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wrangle::rt::{DefaultRuntime, Runtime};
use wrangle::sync::{Batcher, DualQueue, Lockout, PrioritySemaphore, RateLimiter};

pub(crate) async fn tour(rt: DefaultRuntime) {
    let ms = Duration::from_millis;
    // PrioritySemaphore: lower value first; waiters queue in the order 5, 1, 0.
    let sem = Arc::new(PrioritySemaphore::new(1));
    let order = Arc::new(Mutex::new(Vec::new()));
    let held = sem.try_acquire().unwrap();
    let mut waiters = Vec::new();
    for p in [5, 1, 0] {
        let (sem2, order) = (Arc::clone(&sem), Arc::clone(&order));
        waiters.push(rt.spawn(async move {
            let _permit = sem2.acquire().priority(p).await.unwrap();
            order.lock().unwrap().push(p); // the order they were served in
        }));
        while sem.stats().queued < waiters.len() {
            rt.sleep(ms(1)).await;
        }
    }
    drop(held);
    for w in waiters {
        w.await.unwrap();
    }
    println!("priority semaphore served {:?}", order.lock().unwrap());

    // RateLimiter (2 per 10 ms) and Lockout (3 and 6 ms stack to 6 ms).
    let limiter =
        RateLimiter::with_runtime(rt.clone(), NonZeroU32::new(2).unwrap(), ms(10)).unwrap();
    let lockout = Lockout::with_runtime(rt.clone());
    let start = rt.now();
    let mut at = Vec::new();
    for _ in 0..5 {
        limiter.acquire().await;
        at.push((rt.now() - start).as_millis());
    }
    lockout.lockout_for(ms(3));
    lockout.lockout_for(ms(6));
    let t = rt.now();
    lockout.wait().await;
    println!(
        "rate limiter admitted at {at:?} ms; lockouts passed after {:?}",
        rt.now() - t
    );

    // Batcher: batches of 3, or 5 ms after a batch's first item.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let batcher = Batcher::with_runtime(
        rt.clone(),
        NonZeroUsize::new(3).unwrap(),
        ms(5),
        move |b: Vec<u32>| {
            sink.lock().unwrap().push(b);
            async {}
        },
    )
    .unwrap();
    (0..7).for_each(|i| batcher.put(i).unwrap());
    rt.sleep(ms(8)).await;
    batcher.shutdown().await;
    println!("batcher sent {:?}", seen.lock().unwrap());

    // DualQueue: a blocking thread puts while this task gets.
    let q = DualQueue::bounded(NonZeroUsize::new(4).unwrap());
    let tx = q.clone();
    let producer = rt.spawn_blocking(move || {
        (1..=10).for_each(|i| tx.put_blocking(i).unwrap());
        tx.close();
    });
    let mut sum = 0;
    while let Ok(i) = q.get().await {
        sum += i;
    }
    producer.await.unwrap();
    println!("dual queue: thread -> task, sum of 1..=10 = {sum}");
}
