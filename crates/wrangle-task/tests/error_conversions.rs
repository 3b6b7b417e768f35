//! wrangle-task's errors convert with `?` into the error types applications use:
//! `anyhow::Error` and `Box<dyn Error + Send + Sync>`, also when they wrap an `anyhow::Error`.
#![cfg(not(loom))]

use std::error::Error;

use wrangle_rt::testing::each_runtime;
use wrangle_task::{ConcurrentError, RaceError, ScopeError, TaskScope, race};

fn is_error<E: Error + Send + Sync + 'static>() {}

#[test]
fn generic_errors_are_errors_for_any_displayable_inner_error() {
    is_error::<ScopeError<anyhow::Error>>();
    is_error::<RaceError<anyhow::Error>>();
    is_error::<ConcurrentError<anyhow::Error>>();
    is_error::<ScopeError<std::io::Error>>();
    is_error::<ScopeError<String>>();
}

async fn failing_scope() -> anyhow::Result<()> {
    TaskScope::new()
        .run(|_scope| async { Err::<(), _>(anyhow::anyhow!("disk full")) })
        .await?;
    Ok(())
}

async fn failing_race() -> Result<u32, Box<dyn Error + Send + Sync>> {
    let futures: Vec<std::pin::Pin<Box<dyn Future<Output = anyhow::Result<u32>> + Send>>> =
        vec![Box::pin(async { Err(anyhow::anyhow!("upstream refused")) })];
    let (winner, _earlier_errors) = race(futures).await?;
    Ok(winner)
}

#[test]
fn question_mark_keeps_the_inner_message() {
    each_runtime(|_rt| async move {
        let e = failing_scope().await.unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
        assert!(e.downcast_ref::<ScopeError<anyhow::Error>>().is_some());

        let e = failing_race().await.unwrap_err();
        assert!(e.to_string().contains("upstream refused"), "{e}");
    });
}
