//! [`TaskPanicked`]: a panic reported as an error.

use std::fmt;

use wrangle_rt::PanicPayload;

/// A task panicked; sent to error handlers in place of an error value.
///
/// # Examples
///
/// ```
/// use wrangle_rt::{Runtime, VirtualRuntime};
/// use wrangle_task::TaskPanicked;
///
/// let rt = VirtualRuntime::new();
/// let err = rt.block_on(rt.spawn(async { panic!("oops") })).unwrap_err();
/// let panicked = TaskPanicked::new(err.into_panic().unwrap());
/// assert_eq!(panicked.to_string(), "task panicked: oops");
/// ```
#[derive(Debug)]
pub struct TaskPanicked {
    payload: PanicPayload,
}

impl TaskPanicked {
    /// Wraps a panic payload.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let err = rt.block_on(rt.spawn(async { panic!("x") })).unwrap_err();
    /// let p = wrangle_task::TaskPanicked::new(err.into_panic().unwrap());
    /// assert_eq!(p.payload().message(), Some("x"));
    /// ```
    pub fn new(payload: PanicPayload) -> Self {
        TaskPanicked { payload }
    }

    /// The payload of the panic.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let err = rt.block_on(rt.spawn(async { panic!("y") })).unwrap_err();
    /// let p = wrangle_task::TaskPanicked::new(err.into_panic().unwrap());
    /// assert_eq!(p.into_payload().message(), Some("y"));
    /// ```
    pub fn payload(&self) -> &PanicPayload {
        &self.payload
    }

    /// Unwraps the payload.
    ///
    /// # Examples
    ///
    /// ```
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let err = rt.block_on(rt.spawn(async { panic!("z") })).unwrap_err();
    /// let payload = wrangle_task::TaskPanicked::new(err.into_panic().unwrap()).into_payload();
    /// assert_eq!(payload.message(), Some("z"));
    /// ```
    pub fn into_payload(self) -> PanicPayload {
        self.payload
    }
}

impl fmt::Display for TaskPanicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.payload, f)
    }
}

impl std::error::Error for TaskPanicked {}
