//! A second error while stopping is only reported (to the process-wide handler). Alone in its
//! binary because it sets the process-wide handler.

mod common;

use std::sync::{Arc, Mutex};

use wrangle_rt::testing::each_runtime;
use wrangle_rt::{Unhandled, reset_global_error_handler, set_global_error_handler};
use wrangle_task::{Supervisor, SupervisorError};

#[test]
fn second_error_while_stopping_is_only_reported() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    set_global_error_handler(move |u: Unhandled| sink.lock().unwrap().push(u.error().to_string()));
    each_runtime(|rt| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().clear();
            let r = Supervisor::with_runtime(rt.clone())
                .run(move |sup| async move {
                    let h = sup.shutdown_handle();
                    h.report("first");
                    h.report("second");
                    Err::<(), _>("body error while stopping")
                })
                .await;
            assert!(matches!(r, Err(SupervisorError::Failed(e)) if e.to_string() == "first"));
            assert_eq!(
                *seen.lock().unwrap(),
                ["second", "body error while stopping"]
            );
        }
    });
    reset_global_error_handler();
}
