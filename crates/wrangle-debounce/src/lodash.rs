//! The edge machine of lodash's `debounce(func, wait, {leading, trailing, maxWait})`, as a pure
//! state machine over instants: no timers, no tasks, no arguments (the owner keeps those).
//!
//! It keeps lodash's rules, including how its one timer is re-armed: the timer is set for a
//! whole window when a burst starts and, when it fires early (calls came since), re-armed for
//! what is left. So a burst of any length costs one timer registration per window, and the
//! instants at which the function runs are lodash's. The owner calls [`Edges::expire`] for
//! every timer instant up to "now" before it applies a call made "now" (a timer due at the
//! same instant as a call fires first), which makes the result independent of which task
//! happens to run first when both fall on one instant.

use std::time::{Duration, Instant};

/// lodash's `debounce` edges, without the function.
#[derive(Debug, Clone)]
pub(crate) struct Edges {
    wait: Duration,
    max_wait: Option<Duration>,
    leading: bool,
    trailing: bool,
    last_call: Option<Instant>,
    last_invoke: Option<Instant>,
    timer: Option<Instant>,
    has_args: bool,
}

impl Edges {
    pub(crate) fn new(
        wait: Duration,
        max_wait: Option<Duration>,
        leading: bool,
        trailing: bool,
    ) -> Self {
        Edges {
            wait,
            max_wait,
            leading,
            trailing,
            last_call: None,
            last_invoke: None,
            timer: None,
            has_args: false,
        }
    }

    /// When the timer fires next, if it is armed.
    pub(crate) fn timer(&self) -> Option<Instant> {
        self.timer
    }

    /// Whether arguments are waiting for a run.
    pub(crate) fn has_args(&self) -> bool {
        self.has_args
    }

    fn should_invoke(&self, t: Instant) -> bool {
        let Some(last_call) = self.last_call else {
            return true;
        };
        t.saturating_duration_since(last_call) >= self.wait
            || self.max_wait.is_some_and(|max| {
                let since = self
                    .last_invoke
                    .map_or(Duration::MAX, |i| t.saturating_duration_since(i));
                since >= max
            })
    }

    fn invoke(&mut self, t: Instant) {
        self.last_invoke = Some(t);
        self.has_args = false;
    }

    /// A call at `t`, whose arguments become the waiting ones. Returns `true` when they run
    /// now (a leading edge, or a maximum wait reached inside a tight burst).
    pub(crate) fn call(&mut self, t: Instant) -> bool {
        if self.timer.is_some() && self.last_call == Some(t) {
            // Another call at the same instant as the last one (a stream adaptor reads the
            // clock once per poll): nothing can have changed since that call decided, so it is
            // joined without the instant arithmetic.
            self.has_args = true;
            return false;
        }
        let invoking = self.should_invoke(t);
        self.has_args = true;
        self.last_call = Some(t);
        if invoking {
            if self.timer.is_none() {
                // Leading edge: a burst starts; its first window is timed from here.
                self.last_invoke = Some(t);
                self.timer = Some(t + self.wait);
                if self.leading {
                    self.invoke(t);
                    return true;
                }
                return false;
            }
            if self.max_wait.is_some() {
                // The maximum wait passed while the timer still waits: run now, re-arm.
                self.timer = Some(t + self.wait);
                self.invoke(t);
                return true;
            }
        }
        if self.timer.is_none() {
            self.timer = Some(t + self.wait);
        }
        false
    }

    /// The timer fired at `at` (its armed instant). Returns `true` when the waiting arguments
    /// run now (the trailing edge).
    pub(crate) fn expire(&mut self, at: Instant) -> bool {
        if self.should_invoke(at) {
            self.trailing_edge(at)
        } else {
            self.timer = Some(at + self.remaining(at));
            false
        }
    }

    /// Ends the burst at `at` as if its timer fired now. Returns `true` when waiting arguments
    /// run now.
    pub(crate) fn flush(&mut self, at: Instant) -> bool {
        if self.timer.is_none() {
            return false;
        }
        self.trailing_edge(at)
    }

    /// Forgets everything: the next call starts a new burst.
    pub(crate) fn reset(&mut self) {
        self.last_call = None;
        self.last_invoke = None;
        self.timer = None;
        self.has_args = false;
    }

    fn trailing_edge(&mut self, at: Instant) -> bool {
        self.timer = None;
        if self.trailing && self.has_args {
            self.invoke(at);
            true
        } else {
            self.has_args = false;
            false
        }
    }

    fn remaining(&self, at: Instant) -> Duration {
        // Only called when `should_invoke(at)` is false, so both terms are positive.
        let since_call = self
            .last_call
            .map_or(Duration::ZERO, |c| at.saturating_duration_since(c));
        let left = self.wait.saturating_sub(since_call);
        match (self.max_wait, self.last_invoke) {
            (Some(max), Some(invoked)) => {
                left.min(max.saturating_sub(at.saturating_duration_since(invoked)))
            }
            _ => left,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn trailing_timer_is_re_armed_once_per_window_in_a_burst() {
        let t0 = Instant::now();
        let mut e = Edges::new(ms(10), None, false, true);
        assert!(!e.call(t0));
        assert_eq!(e.timer(), Some(t0 + ms(10)));
        for i in 1..10 {
            assert!(!e.call(t0 + ms(i)));
        }
        // The timer was not touched by the calls; at 10 it re-arms to 9 + 10.
        assert_eq!(e.timer(), Some(t0 + ms(10)));
        assert!(!e.expire(t0 + ms(10)));
        assert_eq!(e.timer(), Some(t0 + ms(19)));
        assert!(e.expire(t0 + ms(19)));
        assert_eq!(e.timer(), None);
    }

    #[test]
    fn max_wait_bounds_a_continuous_burst() {
        let t0 = Instant::now();
        let mut e = Edges::new(ms(10), Some(ms(15)), false, true);
        let mut runs = Vec::new();
        for i in 0..40u64 {
            let t = t0 + ms(i);
            while let Some(at) = e.timer().filter(|&at| at <= t) {
                if e.expire(at) {
                    runs.push(at - t0);
                }
            }
            if e.call(t) {
                runs.push(t - t0);
            }
        }
        assert_eq!(runs, [ms(15), ms(30)]);
    }
}
