//! R16 / issue 11 defect 2: the supervisor's hooks are user code. A panicking `on_stop`
//! closure (before it returns its future, or while it runs), startup hook or join hook never
//! unwinds out of `run`: a startup hook's panic fails the run with the panic as its error; a
//! stop or join hook's panic (the stop already under way) is reported, and the run ends as it
//! would have.

use wrangle_rt::PanicPayload;
use wrangle_rt::testing::each_runtime;
use wrangle_task::{Supervisor, SupervisorError};

#[test]
fn a_stop_hook_panicking_before_its_future_does_not_escape_run() {
    each_runtime(|rt| async move {
        let out = Supervisor::with_runtime(rt.clone())
            .on_stop(|_| -> std::future::Ready<()> { panic!("stop boom") })
            .run(|sup| async move {
                sup.shutdown_handle().close();
                Ok::<_, std::io::Error>(1)
            })
            .await;
        assert_eq!(out.unwrap(), 1);
    });
}

#[test]
fn a_stop_hook_panicking_while_it_runs_does_not_escape_run() {
    each_runtime(|rt| async move {
        let out = Supervisor::with_runtime(rt.clone())
            .on_stop(|_| async { panic!("stop boom") })
            .run(|sup| async move {
                sup.shutdown_handle().close();
                Ok::<_, std::io::Error>(2)
            })
            .await;
        assert_eq!(out.unwrap(), 2);
    });
}

#[test]
fn a_panicking_startup_hook_fails_the_run_with_its_panic() {
    each_runtime(|rt| async move {
        let out = Supervisor::with_runtime(rt.clone())
            .on_startup(async { panic!("startup boom") })
            .on_join(async { panic!("join boom") })
            .run(|_sup| async move { Ok::<_, std::io::Error>(3) })
            .await;
        match out {
            Err(SupervisorError::Failed(e)) => {
                let p = e.downcast_ref::<PanicPayload>().expect("the panic itself");
                assert_eq!(p.message(), Some("startup boom"));
            }
            other => panic!("unexpected {other:?}"),
        }
    });
}
