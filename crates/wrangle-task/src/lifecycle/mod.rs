//! Tasks with a lifecycle of their own: [`BackgroundTask`](crate::BackgroundTask),
//! [`RestartableTask`](crate::RestartableTask) and the async [`ExitStack`](crate::ExitStack).

pub(crate) mod background;
pub(crate) mod exit_group;
pub(crate) mod exit_outcome;
pub(crate) mod exit_stack;
pub(crate) mod restartable;
