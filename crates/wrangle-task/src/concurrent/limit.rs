//! [`Limit`]: how many futures a runner keeps in flight.

use std::num::{NonZeroUsize, TryFromIntError};

/// How many futures [`Concurrent`](crate::Concurrent) and
/// [`ConcurrentInline`](crate::ConcurrentInline) keep in flight at once.
///
/// A limit of zero cannot be expressed: [`Limit::try_from`] turns it into std's
/// [`TryFromIntError`] (as `NonZeroUsize::try_from` does) at construction, instead of a runner
/// that never starts anything.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroUsize;
/// use wrangle_task::Limit;
///
/// assert_eq!(Limit::Max(NonZeroUsize::new(8).unwrap()).get(), Some(8));
/// assert_eq!(Limit::Unlimited.get(), None);
/// assert!(Limit::Default.get().unwrap() >= 5);
/// assert!(Limit::try_from(0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Limit {
    /// `min(32, available cores + 4)`.
    #[default]
    Default,
    /// No limit: everything the input yields is started at once.
    Unlimited,
    /// At most this many at a time.
    Max(NonZeroUsize),
}

impl Limit {
    /// The number of futures allowed in flight, or `None` when unlimited.
    #[must_use]
    pub fn get(self) -> Option<usize> {
        match self {
            Limit::Default => {
                let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
                Some((cores + 4).min(32))
            }
            Limit::Unlimited => None,
            Limit::Max(n) => Some(n.get()),
        }
    }
}

impl From<NonZeroUsize> for Limit {
    fn from(n: NonZeroUsize) -> Self {
        Limit::Max(n)
    }
}

impl TryFrom<usize> for Limit {
    type Error = TryFromIntError;

    /// A positive number becomes [`Limit::Max`]; zero is the error of
    /// `NonZeroUsize::try_from(0)`.
    fn try_from(n: usize) -> Result<Self, TryFromIntError> {
        NonZeroUsize::try_from(n).map(Limit::Max)
    }
}
