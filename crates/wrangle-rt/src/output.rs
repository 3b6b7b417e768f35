//! [`TaskOutput`]: what counts as a failure in the output of a user's future.

use crate::BoxError;

/// The output of a user's future whose failures nobody awaits: `()` always succeeds,
/// `Result<T, E>` fails with its `Err`.
///
/// Every wrangle component that runs user futures on its own (scope children, supervised and
/// background tasks, periodic calls, schedules, debounced calls) accepts any `TaskOutput`,
/// reports the failures to its owner's [`ErrorReporter`](crate::ErrorReporter) and counts them
/// in its stats. A success value (`T`) is dropped.
///
/// # Examples
///
/// A helper that runs a future and logs its failure, the way a wrangle component does:
///
/// ```
/// use wrangle_rt::TaskOutput;
///
/// async fn run_logged<F: std::future::Future<Output: TaskOutput>>(fut: F) -> bool {
///     match fut.await.into_result() {
///         Ok(()) => true,
///         Err(error) => {
///             eprintln!("task failed: {error}");
///             false
///         }
///     }
/// }
///
/// wrangle_rt::block_on(async {
///     assert!(run_logged(async {}).await);
///     assert!(run_logged(async { Ok::<u32, std::io::Error>(7) }).await);
///     assert!(!run_logged(async { Err::<(), _>("disk full") }).await);
/// });
/// ```
pub trait TaskOutput: Send + 'static {
    /// The failure in this output, boxed; `Ok(())` when it succeeded.
    ///
    /// # Errors
    ///
    /// The output's error, converted into a [`BoxError`].
    fn into_result(self) -> Result<(), BoxError>;
}

impl TaskOutput for () {
    fn into_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<T, E> TaskOutput for Result<T, E>
where
    T: Send + 'static,
    E: Into<BoxError> + Send + 'static,
{
    fn into_result(self) -> Result<(), BoxError> {
        self.map(drop).map_err(Into::into)
    }
}
