use std::time::Duration;

use wrangle::rt::{CancellationToken, DefaultRuntime, JoinError, Runtime, VirtualRuntime};

pub(crate) async fn tour(rt: DefaultRuntime) {
    // Spawn and join: the same JoinHandle on every runtime.
    let sum = rt.spawn(async { (1..=100u32).sum::<u32>() }).await.unwrap();
    println!("spawned a task on {}; it returned {sum}", rt.name());

    // Panics are captured, never crash the runtime.
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let err = rt
        .spawn(async { panic!("a task panicked on purpose") })
        .await
        .unwrap_err();
    std::panic::set_hook(prev);
    if let JoinError::Panicked(p) = &err {
        println!(
            "a panicking task gave JoinError::Panicked({:?})",
            p.message().unwrap_or("?")
        );
    }

    // Dropping a handle cancels; cancel().await waits until the future is gone.
    let forever = rt.spawn(std::future::pending::<()>());
    let out = forever.cancel().await;
    println!(
        "cancel-and-wait on a never-ending task: {:?}",
        out.map_err(|e| e.to_string())
    );

    // Hierarchical cancellation tokens, no runtime needed.
    let root = CancellationToken::new();
    let worker_token = root.child_token();
    let worker = rt.spawn({
        let rt = rt.clone();
        async move {
            let mut ticks = 0u32;
            while worker_token
                .run_until_cancelled(rt.sleep(Duration::from_millis(2)))
                .await
                .is_some()
            {
                ticks += 1;
            }
            ticks
        }
    });
    rt.sleep(Duration::from_millis(11)).await;
    root.cancel();
    println!(
        "a worker ticking every 2 ms stopped on its parent token after {} ticks",
        worker.await.unwrap()
    );

    // Timeouts with a typed error.
    let r = rt
        .timeout(Duration::from_millis(3), std::future::pending::<()>())
        .await;
    println!(
        "timeout(3 ms, pending) -> {:?}",
        r.map_err(|e| e.to_string())
    );

    // Virtual time: a week of sleeps, exact and instant.
    let vrt = VirtualRuntime::new();
    let (start, real) = (vrt.now(), std::time::Instant::now());
    vrt.block_on(async {
        let daily = vrt.spawn({
            let vrt = vrt.clone();
            async move {
                for _ in 0..7 {
                    vrt.sleep(Duration::from_secs(86_400)).await;
                }
                vrt.wall_now()
            }
        });
        println!(
            "virtual: a daily job ran 7 times; wall clock now {}",
            daily.await.unwrap()
        );
    });
    println!(
        "virtual: {:?} of virtual time passed in {:?} of real time",
        vrt.now() - start,
        real.elapsed()
    );
}
