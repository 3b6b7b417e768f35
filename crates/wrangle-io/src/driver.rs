//! The connect loop: one task per robust stream or sink, alive until it is closed.
//!
//! It sleeps while a connection is up, and wakes when a read, write or send finds the
//! connection lost. Then it runs one cycle of the backoff policy: wait, attempt, wait,
//! attempt... until an attempt connects (or the policy gives up, which closes the stream).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use futures_lite::FutureExt;
use wrangle_rt::{PanicPayload, Runtime, Unhandled};

use crate::config::Config;
use crate::connector::Connector;
use crate::core::{Core, emit};
use crate::error::CloseReason;
use crate::event::{AttemptError, Event, SharedError};

/// What a panicking custom backoff policy waits instead.
const PANICKED_POLICY_DELAY: Duration = Duration::from_secs(1);

/// Starts the connect loop of `core` on the configured runtime and hands its handle to the
/// core, so that a close (or the owner's drop) cancels it.
pub(crate) fn start<K, R>(core: &Arc<Core<K::Connection>>, connector: K, config: Config<R>)
where
    K: Connector,
    R: Runtime,
{
    let rt = config.rt.clone();
    let handle = rt.spawn(run(core.clone(), connector, config));
    core.lock().driver = Some(handle);
}

async fn run<K, R>(core: Arc<Core<K::Connection>>, mut connector: K, config: Config<R>)
where
    K: Connector,
    R: Runtime,
{
    loop {
        // Sleep until a connection is needed.
        loop {
            let listener = core.listen();
            {
                let st = core.lock();
                if st.closed.is_some() {
                    return;
                }
                if st.conn.is_none() {
                    break;
                }
            }
            listener.await;
        }
        if !cycle(&core, &mut connector, &config).await {
            return;
        }
    }
}

/// One cycle of attempts. Returns `false` when the loop must end (closed, or gave up).
async fn cycle<K, R>(core: &Core<K::Connection>, connector: &mut K, config: &Config<R>) -> bool
where
    K: Connector,
    R: Runtime,
{
    let Ok(mut schedule) = config.backoff.schedule_with_runtime(config.rt.clone()) else {
        // Validated when the stream was built; a policy cannot become invalid.
        core.close(CloseReason::GaveUp { attempts: 0 }, false);
        return false;
    };
    let mut attempt: u32 = 0;
    loop {
        let delay = match catch_unwind(AssertUnwindSafe(|| schedule.next())) {
            Ok(Some(delay)) => delay,
            Ok(None) => {
                core.close(CloseReason::GaveUp { attempts: attempt }, false);
                return false;
            }
            Err(payload) => {
                let panic = Arc::new(PanicPayload::new(payload));
                core.reporter
                    .report(Unhandled::new(core.name.clone(), Arc::clone(&panic)));
                PANICKED_POLICY_DELAY
            }
        };
        if !delay.is_zero() {
            config.rt.sleep(delay).await;
        }
        attempt = attempt.saturating_add(1);
        {
            let mut st = core.lock();
            if st.closed.is_some() {
                return false;
            }
            st.stats.started += 1;
            st.stats.running = 1;
        }
        let outcome = attempt_once(connector, config).await;
        let mut st = core.lock();
        if st.closed.is_some() {
            // The close counted this attempt as cancelled; the connection, if any, is dropped.
            return false;
        }
        st.stats.running = 0;
        match outcome {
            Ok(conn) => {
                st.stats.completed += 1;
                st.stats.connected = true;
                st.connection += 1;
                st.unflushed = 0;
                st.conn = Some(conn);
                let connection = st.connection;
                emit(&mut st, Event::Connected { connection });
                drop(st);
                core.notify();
                return true;
            }
            Err(error) => {
                match &error {
                    AttemptError::TimedOut(_) => st.stats.timed_out += 1,
                    AttemptError::Panicked(panic) => {
                        st.stats.failed += 1;
                        st.stats.panicked += 1;
                        core.reporter
                            .report(Unhandled::new(core.name.clone(), Arc::clone(panic)));
                    }
                    AttemptError::Connect(_) => st.stats.failed += 1,
                }
                emit(&mut st, Event::AttemptFailed { attempt, error });
            }
        }
    }
}

/// Runs one attempt under the connect timeout, with the connector's panics caught both while
/// it builds its future and while the future runs.
async fn attempt_once<K, R>(
    connector: &mut K,
    config: &Config<R>,
) -> Result<K::Connection, AttemptError>
where
    K: Connector,
    R: Runtime,
{
    let future = catch_unwind(AssertUnwindSafe(|| connector.connect()))
        .map_err(|p| AttemptError::Panicked(Arc::new(PanicPayload::new(p))))?;
    let timeout = config.connect_timeout;
    match config
        .rt
        .timeout(timeout, AssertUnwindSafe(future).catch_unwind())
        .await
    {
        Err(_elapsed) => Err(AttemptError::TimedOut(timeout)),
        Ok(Err(p)) => Err(AttemptError::Panicked(Arc::new(PanicPayload::new(p)))),
        Ok(Ok(Err(e))) => {
            let e: SharedError = Arc::from(e.into());
            Err(AttemptError::Connect(e))
        }
        Ok(Ok(Ok(conn))) => Ok(conn),
    }
}
