//! [`TaskOutput`]: what counts as an error in a task's output.

use wrangle_rt::BoxError;

/// The output of a task whose errors go to an error handler: `()` never fails; `Result<T, E>`
/// fails with its `Err`.
///
/// [`TaskScope`](crate::TaskScope) children, [`BackgroundTask`](crate::BackgroundTask) and
/// [`Supervisor`](crate::Supervisor) tasks return one of these.
///
/// # Examples
///
/// ```
/// use wrangle_task::TaskOutput;
///
/// assert!(().into_error().is_none());
/// assert!(Ok::<u8, std::io::Error>(1).into_error().is_none());
/// assert_eq!(Err::<(), _>("bad").into_error().unwrap().to_string(), "bad");
/// ```
pub trait TaskOutput: Send + 'static {
    /// The error in this output, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_task::TaskOutput;
    /// assert!(Err::<(), _>(std::fmt::Error).into_error().is_some());
    /// ```
    fn into_error(self) -> Option<BoxError>;
}

impl TaskOutput for () {
    fn into_error(self) -> Option<BoxError> {
        None
    }
}

impl<T, E> TaskOutput for Result<T, E>
where
    T: Send + 'static,
    E: Into<BoxError> + Send + 'static,
{
    fn into_error(self) -> Option<BoxError> {
        self.err().map(Into::into)
    }
}
