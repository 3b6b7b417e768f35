//! [`Backoff`]: how long to wait before each connection attempt.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wrangle_rt::{DefaultRuntime, Runtime};

use crate::error::InvalidBackoff;
use crate::rng::Rng;

/// How a delay is randomised, so that many clients that lost their server at the same moment
/// do not all come back at the same moment.
///
/// Jitter is applied **after** the cap: a delay never exceeds the policy's maximum, and delays
/// near the cap stay spread instead of piling up on it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_io::{Backoff, Jitter};
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(8))
///     .jitter(Jitter::Full)
///     .seed(7);
/// // Full jitter: attempt k waits a uniform draw from [0, min(8 s, 1 s * 2^k)].
/// for (k, delay) in backoff.schedule_with_runtime(rt).unwrap().take(6).enumerate() {
///     let ceiling = Duration::from_secs(1 << k.min(3));
///     assert!(delay <= ceiling);
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// No randomness: exactly the exponential (or constant) delay.
    None,
    /// "Full jitter": a uniform draw from `[0, ceiling]`, where the ceiling is the capped
    /// exponential delay. The best spread for a crowd reconnecting at once.
    #[default]
    Full,
    /// "Decorrelated jitter": a uniform draw from `[initial, min(max, 3 * previous)]`; the
    /// delays grow on average but each one depends only on the one before it.
    Decorrelated,
}

type CustomFn = dyn Fn(u32) -> Option<Duration> + Send + Sync + 'static;

#[derive(Clone)]
enum Kind {
    Exponential { initial: Duration, max: Duration },
    Constant(Duration),
    Custom(Arc<CustomFn>),
}

/// How long to wait before each connection attempt, and when to give up.
///
/// A policy describes one *cycle* of attempts: the attempts that start when a connection is
/// needed (at open, or after a loss) and end at the first success. Each cycle starts the
/// schedule afresh. By default the wait comes before **every** attempt, the first one
/// included (as the seed library does), so a crowd of clients that lost their server at the
/// same moment spreads out before it reconnects; [`immediate_first`](Backoff::immediate_first)
/// makes the first attempt of a cycle go at once.
///
/// Policies:
///
/// - [`exponential(initial, max)`](Backoff::exponential): `initial * factor^k`, capped at
///   `max`, with [`Jitter::Full`] by default; the default policy of the robust types is
///   `exponential(100 ms, 30 s)`.
/// - [`constant(delay)`](Backoff::constant): the same delay every time, no jitter by default.
/// - [`custom(f)`](Backoff::custom): `f(attempt)` returns the delay before attempt `attempt`
///   (0-based within the cycle), or `None` to give up.
///
/// Limits: [`max_attempts`](Backoff::max_attempts) per cycle, and
/// [`max_elapsed`](Backoff::max_elapsed) since the cycle started, on the runtime's clock.
///
/// Setters never fail; the policy is checked when it is used
/// ([`validate`](Backoff::validate), [`schedule`](Backoff::schedule), or a robust type's
/// `build()`).
///
/// Timing of `exponential(1 s, 4 s).jitter(Jitter::None)` while the server stays down:
///
/// ```text
/// lost  wait 1s  attempt  wait 2s  attempt  wait 4s  attempt  wait 4s  attempt ...
/// |--------------x--------------------x----------------------x-----------------x
/// 0              1                    3                      7                 11 s
/// ```
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_io::{Backoff, Jitter};
/// use wrangle_rt::VirtualRuntime;
///
/// let rt = VirtualRuntime::new();
/// let policy = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1))
///     .jitter(Jitter::None)
///     .max_attempts(6);
/// let delays: Vec<_> = policy.schedule_with_runtime(rt).unwrap().collect();
/// let ms: Vec<u128> = delays.iter().map(|d| d.as_millis()).collect();
/// assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
///
/// // A bad policy is a typed error, not a hang or a panic later.
/// assert!(Backoff::constant(Duration::ZERO).validate().is_err());
/// ```
#[derive(Clone)]
pub struct Backoff {
    kind: Kind,
    factor: Option<f64>,
    jitter: Option<Jitter>,
    max_attempts: Option<u32>,
    max_elapsed: Option<Duration>,
    immediate_first: bool,
    seed: Option<u64>,
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Backoff");
        match &self.kind {
            Kind::Exponential { initial, max } => d
                .field("initial", initial)
                .field("max", max)
                .field("factor", &self.factor_value()),
            Kind::Constant(delay) => d.field("constant", delay),
            Kind::Custom(_) => d.field("custom", &".."),
        };
        d.field("jitter", &self.jitter_kind())
            .field("max_attempts", &self.max_attempts)
            .field("max_elapsed", &self.max_elapsed)
            .field("immediate_first", &self.immediate_first)
            .field("seed", &self.seed)
            .finish()
    }
}

impl Default for Backoff {
    /// `exponential(100 ms, 30 s)` with full jitter, no limits.
    fn default() -> Self {
        Backoff::exponential(Duration::from_millis(100), Duration::from_secs(30))
    }
}

impl Backoff {
    fn with_kind(kind: Kind) -> Self {
        Backoff {
            kind,
            factor: None,
            jitter: None,
            max_attempts: None,
            max_elapsed: None,
            immediate_first: false,
            seed: None,
        }
    }

    /// Exponential backoff: `initial * 2^k` before attempt `k`, capped at `max`, with
    /// [`Jitter::Full`] (change it with [`jitter`](Backoff::jitter), the growth with
    /// [`factor`](Backoff::factor)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_io::Backoff;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let policy = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60)).seed(1);
    /// let first = policy.schedule_with_runtime(VirtualRuntime::new()).unwrap().next().unwrap();
    /// assert!(first <= Duration::from_secs(1)); // the first wait is jittered too
    /// ```
    #[must_use]
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        Backoff::with_kind(Kind::Exponential { initial, max })
    }

    /// The same delay before every attempt ([`Jitter::None`] unless
    /// [`jitter(Jitter::Full)`](Backoff::jitter) asks for a uniform draw from `[0, delay]`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_io::Backoff;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let policy = Backoff::constant(Duration::from_millis(250)).max_attempts(3);
    /// let delays: Vec<_> = policy.schedule_with_runtime(VirtualRuntime::new()).unwrap().collect();
    /// assert_eq!(delays, vec![Duration::from_millis(250); 3]);
    /// ```
    #[must_use]
    pub fn constant(delay: Duration) -> Self {
        Backoff::with_kind(Kind::Constant(delay))
    }

    /// A policy of your own: `f(attempt)` returns the delay before attempt `attempt`
    /// (0-based within a cycle), or `None` to give up.
    ///
    /// The robust types call `f` under `catch_unwind`: a panic is reported to their
    /// error reporter and that attempt waits one second.
    ///
    /// # Examples
    ///
    /// Fibonacci delays, giving up after five attempts:
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_io::Backoff;
    /// use wrangle_rt::VirtualRuntime;
    ///
    /// let policy = Backoff::custom(|attempt| {
    ///     let (mut a, mut b) = (1_u64, 1_u64);
    ///     for _ in 0..attempt {
    ///         (a, b) = (b, a + b);
    ///     }
    ///     (attempt < 5).then(|| Duration::from_millis(100 * a))
    /// });
    /// let ms: Vec<u128> = policy
    ///     .schedule_with_runtime(VirtualRuntime::new())
    ///     .unwrap()
    ///     .map(|d| d.as_millis())
    ///     .collect();
    /// assert_eq!(ms, [100, 100, 200, 300, 500]);
    /// ```
    #[must_use]
    pub fn custom<F>(f: F) -> Self
    where
        F: Fn(u32) -> Option<Duration> + Send + Sync + 'static,
    {
        Backoff::with_kind(Kind::Custom(Arc::new(f)))
    }

    /// The growth factor of an exponential policy (default 2; must be finite and at least 1).
    #[must_use]
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = Some(factor);
        self
    }

    fn factor_value(&self) -> f64 {
        self.factor.unwrap_or(2.0)
    }

    /// How delays are randomised (exponential: [`Jitter::Full`] by default; constant:
    /// [`Jitter::None`] or [`Jitter::Full`]; custom policies take none).
    #[must_use]
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = Some(jitter);
        self
    }

    /// Gives up after `attempts` attempts in one cycle (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Gives up when the next attempt would start more than `elapsed` after the cycle began,
    /// measured on the runtime's monotonic clock (so exactly on virtual time).
    #[must_use]
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = Some(elapsed);
        self
    }

    /// Makes the first attempt of every cycle go at once; the policy's delays then start with
    /// the second attempt (the first *retry*, still jittered).
    #[must_use]
    pub fn immediate_first(mut self, immediate: bool) -> Self {
        self.immediate_first = immediate;
        self
    }

    /// Seeds the jitter, for reproducible delays. Without a seed every schedule draws its
    /// own random seed, so two clients never share a sequence.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    fn jitter_kind(&self) -> Jitter {
        self.jitter.unwrap_or(match self.kind {
            Kind::Exponential { .. } => Jitter::Full,
            Kind::Constant(_) | Kind::Custom(_) => Jitter::None,
        })
    }

    /// Checks the policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_io::{Backoff, InvalidBackoff};
    ///
    /// let bad = Backoff::exponential(Duration::from_secs(2), Duration::from_secs(1));
    /// assert!(matches!(bad.validate(), Err(InvalidBackoff::MaxBelowInitial { .. })));
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidBackoff`] for a zero delay (an exponential's `initial` or a constant's delay:
    /// a zero delay against a server that is down is a busy loop), a `max` below `initial`, a
    /// factor below 1 or not finite, zero `max_attempts` or `max_elapsed`, or a jitter the
    /// policy cannot take.
    pub fn validate(&self) -> Result<(), InvalidBackoff> {
        match &self.kind {
            Kind::Exponential { initial, max } => {
                let factor = self.factor_value();
                if !factor.is_finite() || factor < 1.0 {
                    return Err(InvalidBackoff::Factor(factor));
                }
                if initial.is_zero() {
                    return Err(InvalidBackoff::ZeroDelay);
                }
                if max < initial {
                    return Err(InvalidBackoff::MaxBelowInitial {
                        initial: *initial,
                        max: *max,
                    });
                }
            }
            Kind::Constant(_) | Kind::Custom(_) if self.factor.is_some() => {
                return Err(InvalidBackoff::FactorNotExponential);
            }
            Kind::Constant(delay) => {
                if delay.is_zero() {
                    return Err(InvalidBackoff::ZeroDelay);
                }
                if self.jitter_kind() == Jitter::Decorrelated {
                    return Err(InvalidBackoff::Jitter("constant"));
                }
            }
            Kind::Custom(_) => {
                if self.jitter_kind() != Jitter::None {
                    return Err(InvalidBackoff::Jitter("custom"));
                }
            }
        }
        if self.max_attempts == Some(0) {
            return Err(InvalidBackoff::ZeroMaxAttempts);
        }
        if self.max_elapsed.is_some_and(|d| d.is_zero()) {
            return Err(InvalidBackoff::ZeroMaxElapsed);
        }
        Ok(())
    }

    /// Starts one cycle of this policy on the current runtime
    /// ([`DefaultRuntime::current`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_io::Backoff;
    ///
    /// wrangle_rt::VirtualRuntime::new().block_on(async {
    ///     let mut delays = Backoff::constant(Duration::from_secs(1)).schedule().unwrap();
    ///     assert_eq!(delays.next(), Some(Duration::from_secs(1)));
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// As [`validate`](Backoff::validate).
    ///
    /// # Panics
    ///
    /// As [`DefaultRuntime::current`]: only in a build with no runtime at all.
    pub fn schedule(&self) -> Result<BackoffSchedule, InvalidBackoff> {
        self.schedule_with_runtime(DefaultRuntime::current())
    }

    /// Starts one cycle of this policy, reading time from `rt`.
    ///
    /// # Examples
    ///
    /// A retry loop of your own on any runtime (the robust types run this loop for you):
    ///
    /// ```
    /// use std::time::Duration;
    /// use wrangle_io::Backoff;
    /// use wrangle_rt::{Runtime, VirtualRuntime};
    ///
    /// let rt = VirtualRuntime::new();
    /// let start = rt.now();
    /// let policy = Backoff::constant(Duration::from_secs(2)).max_elapsed(Duration::from_secs(5));
    /// let tries = rt.block_on(async {
    ///     let mut tries = 0;
    ///     for delay in policy.schedule_with_runtime(rt.clone()).unwrap() {
    ///         rt.sleep(delay).await;
    ///         tries += 1; // an attempt that fails
    ///     }
    ///     tries
    /// });
    /// assert_eq!(tries, 2); // a third attempt would start at 6 s, past the 5 s budget
    /// assert_eq!(rt.now() - start, Duration::from_secs(4));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`validate`](Backoff::validate).
    pub fn schedule_with_runtime<R: Runtime>(
        &self,
        rt: R,
    ) -> Result<BackoffSchedule<R>, InvalidBackoff> {
        self.validate()?;
        let seed = self.seed.unwrap_or_else(Rng::random_seed);
        let started = rt.now();
        Ok(BackoffSchedule {
            policy: self.clone(),
            jitter: self.jitter_kind(),
            rng: Rng::new(seed),
            rt,
            started,
            attempt: 0,
            drawn: 0,
            previous: None,
        })
    }
}

/// One cycle of a [`Backoff`] policy: an iterator of the delays before successive attempts,
/// ending when the policy gives up.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use wrangle_io::{Backoff, Jitter};
/// use wrangle_rt::VirtualRuntime;
///
/// let policy = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(10))
///     .jitter(Jitter::Decorrelated)
///     .seed(3)
///     .max_attempts(20);
/// let mut schedule = policy.schedule_with_runtime(VirtualRuntime::new()).unwrap();
/// let mut previous = Duration::from_millis(100);
/// for delay in schedule.by_ref() {
///     // Decorrelated: each delay is drawn from [initial, min(max, 3 * previous)].
///     assert!(delay >= Duration::from_millis(100));
///     assert!(delay <= (previous * 3).min(Duration::from_secs(10)));
///     previous = delay;
/// }
/// assert_eq!(schedule.attempts(), 20);
/// ```
pub struct BackoffSchedule<R: Runtime = DefaultRuntime> {
    policy: Backoff,
    jitter: Jitter,
    rng: Rng,
    rt: R,
    started: Instant,
    attempt: u32,
    drawn: u32,
    previous: Option<Duration>,
}

impl<R: Runtime> fmt::Debug for BackoffSchedule<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackoffSchedule")
            .field("policy", &self.policy)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> BackoffSchedule<R> {
    /// How many delays this cycle has handed out (attempts it has allowed).
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt, before limits are applied.
    fn draw(&mut self) -> Option<Duration> {
        let k = self.drawn;
        self.drawn = self.drawn.saturating_add(1);
        match &self.policy.kind {
            Kind::Exponential { initial, max } => {
                let (initial, max, factor) = (*initial, *max, self.policy.factor_value());
                Some(match self.jitter {
                    Jitter::None => exponential_ceiling(initial, max, factor, k),
                    Jitter::Full => self
                        .rng
                        .between(Duration::ZERO, exponential_ceiling(initial, max, factor, k)),
                    Jitter::Decorrelated => {
                        let previous = self.previous.unwrap_or(initial);
                        let upper = previous.saturating_mul(3).min(max);
                        let delay = self.rng.between(initial, upper);
                        self.previous = Some(delay);
                        delay
                    }
                })
            }
            Kind::Constant(delay) => Some(match self.jitter {
                Jitter::Full => self.rng.between(Duration::ZERO, *delay),
                _ => *delay,
            }),
            Kind::Custom(f) => f(k),
        }
    }
}

/// `min(max, initial * factor^k)`, without overflow or a non-finite float reaching `Duration`.
fn exponential_ceiling(initial: Duration, max: Duration, factor: f64, k: u32) -> Duration {
    let exponent = i32::try_from(k).unwrap_or(i32::MAX);
    let secs = initial.as_secs_f64() * factor.powi(exponent);
    if !secs.is_finite() || secs >= max.as_secs_f64() {
        return max;
    }
    Duration::try_from_secs_f64(secs).map_or(max, |d| d.min(max))
}

impl<R: Runtime> Iterator for BackoffSchedule<R> {
    type Item = Duration;

    /// The delay before the next attempt, or `None` when the policy gives up.
    ///
    /// # Panics
    ///
    /// When a [`custom`](Backoff::custom) policy's function panics.
    fn next(&mut self) -> Option<Duration> {
        if self.policy.max_attempts.is_some_and(|m| self.attempt >= m) {
            return None;
        }
        let delay = if self.attempt == 0 && self.policy.immediate_first {
            Duration::ZERO
        } else {
            self.draw()?
        };
        if let Some(budget) = self.policy.max_elapsed {
            let elapsed = self.rt.now().saturating_duration_since(self.started);
            if elapsed.checked_add(delay).is_none_or(|at| at > budget) {
                return None;
            }
        }
        self.attempt = self.attempt.saturating_add(1);
        Some(delay)
    }
}
