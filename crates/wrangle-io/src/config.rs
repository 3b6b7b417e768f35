//! The settings shared by both robust types and their builders.

use std::borrow::Cow;
use std::time::Duration;

use wrangle_rt::ErrorReporter;

use crate::backoff::Backoff;
use crate::error::InvalidReconnectConfig;

/// Default per-attempt connect timeout.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub(crate) struct Config<R> {
    pub(crate) rt: R,
    pub(crate) backoff: Backoff,
    pub(crate) connect_timeout: Duration,
    pub(crate) name: Cow<'static, str>,
    pub(crate) reporter: ErrorReporter,
}

impl<R> Config<R> {
    pub(crate) fn new(rt: R, name: &'static str) -> Self {
        Config {
            rt,
            backoff: Backoff::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            name: Cow::Borrowed(name),
            reporter: ErrorReporter::global(),
        }
    }

    pub(crate) fn with_runtime<R2>(self, rt: R2) -> Config<R2> {
        Config {
            rt,
            backoff: self.backoff,
            connect_timeout: self.connect_timeout,
            name: self.name,
            reporter: self.reporter,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), InvalidReconnectConfig> {
        self.backoff.validate()?;
        if self.connect_timeout.is_zero() {
            return Err(InvalidReconnectConfig::ZeroConnectTimeout);
        }
        Ok(())
    }
}
