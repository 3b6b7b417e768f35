//! [`Outcome`]: what a periodic call returns, and how its failures are treated.

use wrangle_rt::BoxError;

/// The output of a call made by a periodic task, timer or schedule: `()` always succeeds,
/// `Result<(), E>` fails with `E`.
///
/// Failures (and panics) are sent to the owner's [`ErrorReporter`](wrangle_rt::ErrorReporter).
///
/// # Examples
///
/// ```
/// use wrangle_timer::Outcome;
///
/// assert!(().into_result().is_ok());
/// assert!(Err::<(), _>("boom").into_result().is_err());
/// ```
pub trait Outcome: Send + 'static {
    /// Converts the output into a result.
    ///
    /// # Errors
    ///
    /// The call's error, boxed.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_timer::Outcome;
    /// assert!(Ok::<(), std::io::Error>(()).into_result().is_ok());
    /// ```
    fn into_result(self) -> Result<(), BoxError>;
}

impl Outcome for () {
    fn into_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError> + Send + 'static> Outcome for Result<(), E> {
    fn into_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

/// What a periodic task or schedule does after a call fails or panics.
///
/// The failure is always reported to the owner's error reporter first.
///
/// # Examples
///
/// ```
/// use wrangle_timer::ErrorPolicy;
/// assert_eq!(ErrorPolicy::default(), ErrorPolicy::Continue);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum ErrorPolicy {
    /// Keep calling on schedule (the default).
    #[default]
    Continue,
    /// Stop for good after the first failure.
    Stop,
}
