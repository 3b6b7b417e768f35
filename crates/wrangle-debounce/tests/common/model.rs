//! Reference models of every mode, written as plain simulations over a list of calls (times
//! in whole milliseconds, in order). Each returns the runs (start, argument) and, for each
//! call, the argument of the run that served it (`None`: served by no run).
//!
//! Ties follow the crate's documented rule: an edge due at or before a call's instant fires
//! before the call.

#![allow(dead_code, unreachable_pub)]

/// Which modes to model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelMode {
    Eager,
    Lazy,
    EagerLazy,
    /// `AsyncDebouncer`: leading edge, trailing run a window after the first deferred call.
    Deferred,
    /// lodash `debounce` with these options (trailing always on for a `Debouncer`).
    Lodash {
        leading: bool,
        trailing: bool,
        max_wait: Option<u64>,
    },
}

/// One step of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A call with this argument.
    Call(u32),
    /// `flush()`: the pending run starts now.
    Flush,
}

/// Turns a list of calls into a schedule of ops.
pub fn calls_to_ops(calls: &[(u64, u32)]) -> Vec<(u64, Op)> {
    calls.iter().map(|&(t, a)| (t, Op::Call(a))).collect()
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub runs: Vec<(u64, u32)>,
    pub served_by: Vec<Option<u32>>,
}

/// A pending run: the calls waiting for it and its edge.
struct Waiting {
    calls: Vec<usize>,
    arg: u32,
    deadline: u64,
}

/// The `Debouncer` / `AsyncDebouncer` model for the seed modes and lodash.
pub fn debouncer(mode: ModelMode, window: u64, calls: &[(u64, u32)]) -> Outcome {
    debouncer_ops(mode, window, &calls_to_ops(calls))
}

/// [`debouncer`] over a schedule with flushes; `served_by` has one entry per call.
pub fn debouncer_ops(mode: ModelMode, window: u64, ops: &[(u64, Op)]) -> Outcome {
    if let ModelMode::Lodash { .. } = mode {
        return lodash_ops(mode, window, ops, None);
    }
    let n_calls = ops
        .iter()
        .filter(|(_, op)| matches!(op, Op::Call(_)))
        .count();
    let mut out = Outcome {
        runs: Vec::new(),
        served_by: vec![None; n_calls],
    };
    let mut last_start: Option<u64> = None;
    let mut last_arg = 0;
    let mut waiting: Option<Waiting> = None;
    let run = |out: &mut Outcome, at: u64, arg: u32, who: &[usize]| {
        out.runs.push((at, arg));
        for &i in who {
            out.served_by[i] = Some(arg);
        }
    };
    let mut i = 0;
    for &(t, op) in ops {
        if let Some(w) = waiting.take_if(|w| w.deadline <= t) {
            run(&mut out, w.deadline, w.arg, &w.calls);
            last_start = Some(w.deadline);
        }
        let arg = match op {
            Op::Call(arg) => arg,
            Op::Flush => {
                if let Some(w) = waiting.take() {
                    run(&mut out, t, w.arg, &w.calls);
                    last_start = Some(t);
                }
                continue;
            }
        };
        let i = {
            i += 1;
            i - 1
        };
        let inside = last_start.is_some_and(|s| t - s < window);
        if let Some(w) = waiting.as_mut() {
            // A run is waiting: join it (every mode but Eager, which never waits).
            w.calls.push(i);
            w.arg = arg;
            continue;
        }
        match mode {
            ModelMode::Eager => {
                if inside {
                    out.served_by[i] = Some(last_arg);
                } else {
                    run(&mut out, t, arg, &[i]);
                    last_start = Some(t);
                    last_arg = arg;
                }
            }
            ModelMode::Lazy => {
                waiting = Some(Waiting {
                    calls: vec![i],
                    arg,
                    deadline: t + window,
                });
            }
            ModelMode::EagerLazy | ModelMode::Deferred => {
                if inside {
                    let anchor = if mode == ModelMode::EagerLazy {
                        last_start.unwrap_or(t)
                    } else {
                        t
                    };
                    waiting = Some(Waiting {
                        calls: vec![i],
                        arg,
                        deadline: anchor + window,
                    });
                } else {
                    run(&mut out, t, arg, &[i]);
                    last_start = Some(t);
                }
            }
            ModelMode::Lodash { .. } => unreachable!(),
        }
    }
    if let Some(w) = waiting {
        run(&mut out, w.deadline, w.arg, &w.calls);
    }
    out
}

/// lodash's `debounce`, transcribed as a timer simulation: `setTimeout` becomes an instant,
/// `Date.now()` the call's time. With `end = Some(t)`, the input ends at `t` and what is
/// waiting is flushed there (the stream adaptors' rule); otherwise the last timer runs out.
pub fn lodash(mode: ModelMode, wait: u64, calls: &[(u64, u32)], end: Option<u64>) -> Outcome {
    lodash_ops(mode, wait, &calls_to_ops(calls), end)
}

/// [`lodash`] over a schedule with flushes (lodash's `flush()`).
pub fn lodash_ops(mode: ModelMode, wait: u64, ops: &[(u64, Op)], end: Option<u64>) -> Outcome {
    let ModelMode::Lodash {
        leading,
        trailing,
        max_wait,
    } = mode
    else {
        panic!("not a lodash mode");
    };
    let n_calls = ops
        .iter()
        .filter(|(_, op)| matches!(op, Op::Call(_)))
        .count();
    let mut out = Outcome {
        runs: Vec::new(),
        served_by: vec![None; n_calls],
    };
    let mut last_call: Option<u64> = None;
    let mut last_invoke: u64 = 0;
    let mut timer: Option<u64> = None;
    // lodash's `lastArgs`, with the calls that set them.
    let mut args: Option<(u32, Vec<usize>)> = None;

    let should_invoke = |time: u64, last_call: Option<u64>, last_invoke: u64| match last_call {
        None => true,
        Some(lc) => time - lc >= wait || max_wait.is_some_and(|m| time - last_invoke >= m),
    };
    let invoke = |out: &mut Outcome, time: u64, args: &mut Option<(u32, Vec<usize>)>| {
        let (arg, who) = args.take().expect("invoke without arguments");
        out.runs.push((time, arg));
        for i in who {
            out.served_by[i] = Some(arg);
        }
    };
    // timerExpired, for every timer due by `until`.
    let expire_until = |until: u64,
                        out: &mut Outcome,
                        timer: &mut Option<u64>,
                        args: &mut Option<(u32, Vec<usize>)>,
                        last_call: Option<u64>,
                        last_invoke: &mut u64| {
        while let Some(at) = timer.filter(|&at| at <= until) {
            if should_invoke(at, last_call, *last_invoke) {
                *timer = None;
                if trailing && args.is_some() {
                    *last_invoke = at;
                    invoke(out, at, args);
                } else {
                    *args = None;
                }
            } else {
                let lc = last_call.expect("timer without a call");
                let mut remaining = wait - (at - lc);
                if let Some(m) = max_wait {
                    remaining = remaining.min(m - (at - *last_invoke));
                }
                *timer = Some(at + remaining);
            }
        }
    };
    let mut i = 0;
    for &(t, op) in ops {
        expire_until(
            t,
            &mut out,
            &mut timer,
            &mut args,
            last_call,
            &mut last_invoke,
        );
        let arg = match op {
            Op::Call(arg) => arg,
            Op::Flush => {
                if timer.take().is_some() {
                    if trailing && args.is_some() {
                        last_invoke = t;
                        invoke(&mut out, t, &mut args);
                    } else {
                        args = None;
                    }
                }
                continue;
            }
        };
        let i = {
            i += 1;
            i - 1
        };
        let invoking = should_invoke(t, last_call, last_invoke);
        match args.as_mut() {
            Some((a, who)) => {
                *a = arg;
                who.push(i);
            }
            None => args = Some((arg, vec![i])),
        }
        last_call = Some(t);
        if invoking {
            if timer.is_none() {
                last_invoke = t;
                timer = Some(t + wait);
                if leading {
                    invoke(&mut out, t, &mut args);
                }
                continue;
            }
            if max_wait.is_some() {
                timer = Some(t + wait);
                last_invoke = t;
                invoke(&mut out, t, &mut args);
                continue;
            }
        }
        if timer.is_none() {
            timer = Some(t + wait);
        }
    }
    match end {
        None => expire_until(
            u64::MAX,
            &mut out,
            &mut timer,
            &mut args,
            last_call,
            &mut last_invoke,
        ),
        Some(end) => {
            expire_until(
                end,
                &mut out,
                &mut timer,
                &mut args,
                last_call,
                &mut last_invoke,
            );
            // flush(): the trailing edge now, if a timer is armed.
            if timer.is_some() && trailing && args.is_some() {
                invoke(&mut out, end, &mut args);
            }
        }
    }
    out
}
