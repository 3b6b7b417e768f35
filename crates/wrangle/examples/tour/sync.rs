use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wrangle::rt::{DefaultRuntime, Runtime};
use wrangle::sync::{Batcher, DualQueue, Lockout, PrioritySemaphore, RateLimiter};

pub(crate) async fn tour(rt: DefaultRuntime) {
    let ms = Duration::from_millis;
    // PrioritySemaphore: lower priority value first, FIFO among equals.
    let sem = Arc::new(PrioritySemaphore::new(1));
    let order = Arc::new(Mutex::new(Vec::new()));
    let held = sem.try_acquire().unwrap();
    let waiters: Vec<_> = [5, 1, 0]
        .map(|p| {
            let (sem, order) = (Arc::clone(&sem), Arc::clone(&order));
            rt.spawn(async move {
                let _permit = sem.acquire().priority(p).await.unwrap();
                order.lock().unwrap().push(p);
            })
        })
        .into();
    while sem.stats().waiting < 3 {
        rt.sleep(ms(1)).await;
    }
    drop(held);
    for w in waiters {
        w.await.unwrap();
    }
    println!(
        "priority semaphore served priorities {:?}",
        order.lock().unwrap()
    );

    // RateLimiter: 2 per 10 ms; acquire waits its turn on the runtime's timer.
    let limiter =
        RateLimiter::with_runtime(rt.clone(), NonZeroU32::new(2).unwrap(), ms(10)).unwrap();
    let start = rt.now();
    let mut at = Vec::new();
    for _ in 0..5 {
        limiter.acquire().await;
        at.push((rt.now() - start).as_millis());
    }
    println!("rate limiter 2 per 10 ms admitted at {at:?} ms (about)");

    // Lockout: lockouts stack; waiting passes when all have expired.
    let lockout = Lockout::with_runtime(rt.clone());
    lockout.lockout_for(ms(6));
    lockout.lockout_for(ms(3));
    let start = rt.now();
    lockout.wait().await;
    println!(
        "lockouts of 6 and 3 ms: passed after {:?}",
        rt.now() - start
    );

    // Batcher: by size or by a deadline from the batch's first item.
    let batches = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&batches);
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
    batcher.stop().await;
    println!("batcher (3 or 5 ms) sent {:?}", batches.lock().unwrap());

    // DualQueue: a thread puts with blocking calls while a task gets asynchronously.
    let q = DualQueue::bounded(NonZeroUsize::new(4).unwrap());
    let producer = rt.spawn_blocking({
        let q = q.clone();
        move || {
            (1..=10).for_each(|i| q.put_blocking(i).unwrap());
            q.close();
        }
    });
    let mut sum = 0;
    while let Ok(i) = q.get().await {
        sum += i;
    }
    producer.await.unwrap();
    println!("dual queue: a blocking thread sent 1..=10 to an async task, sum {sum}");
}
