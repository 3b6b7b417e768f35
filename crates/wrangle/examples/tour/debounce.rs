use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::{StreamExt, stream};
use wrangle::debounce::{AsyncDebouncer, DebounceStreamExt, Debouncer};
use wrangle::rt::DefaultRuntime;

pub(crate) async fn tour(rt: DefaultRuntime) {
    let ms = Duration::from_millis;
    // Debouncer, eager + lazy: the first call runs at once, the rest of the window shares
    // one trailing run with the latest arguments; every caller gets the result of its run.
    let runs = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&runs);
    let lookup = Debouncer::builder(ms(30))
        .eager(true)
        .lazy(true)
        .runtime(rt.clone())
        .build(move |key: &'static str| {
            log.lock().unwrap().push(key);
            async move { Ok::<_, String>(key.len()) }
        })
        .unwrap();
    let calls: Vec<_> = ["a", "ab", "abc"]
        .into_iter()
        .map(|k| lookup.call(k))
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    lookup.shutdown().await;
    println!(
        "debouncer (eager + lazy): ran {:?}, callers got {answers:?}",
        runs.lock().unwrap()
    );

    // AsyncDebouncer: fire-and-forget; a call says whether it ran or was deferred.
    let saved = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&saved);
    let autosave = AsyncDebouncer::with_runtime(rt.clone(), ms(20), move |doc: u32| {
        sink.lock().unwrap().push(doc);
        async { Ok::<(), std::io::Error>(()) }
    })
    .unwrap();
    let said: Vec<_> = (1..=3).map(|v| autosave.call(v)).collect();
    autosave.shutdown().await;
    println!(
        "async debouncer: calls said {said:?}; saved versions {:?}",
        saved.lock().unwrap()
    );

    // Stream adaptors: a ready burst of 1,000 items debounces to its last one, and throttles
    // to its first and last.
    let last: Vec<u32> = stream::iter(0..1000)
        .debounce(ms(5))
        .unwrap()
        .collect()
        .await;
    let ends: Vec<u32> = stream::iter(0..1000)
        .throttle(ms(5))
        .unwrap()
        .collect()
        .await;
    println!("debounce stream of 0..1000 -> {last:?}; throttle -> {ends:?}");
}
