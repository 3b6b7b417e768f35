//! Parsing one field of a cron expression into a bit set.

use crate::CronError;

/// The allowed values and names of one field.
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) min: u8,
    pub(crate) max: u8,
    /// Names for `min`, `min + 1`... (month and weekday names).
    pub(crate) names: &'static [&'static str],
    /// A value just above `max` that is an alias of `min` (`7` for Sunday).
    pub(crate) alias: Option<u8>,
}

pub(crate) const SECOND: Spec = Spec {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
    alias: None,
};
pub(crate) const MINUTE: Spec = Spec {
    name: "minute",
    ..SECOND
};
pub(crate) const HOUR: Spec = Spec {
    name: "hour",
    min: 0,
    max: 23,
    names: &[],
    alias: None,
};
pub(crate) const DAY: Spec = Spec {
    name: "day of month",
    min: 1,
    max: 31,
    names: &[],
    alias: None,
};
pub(crate) const MONTH: Spec = Spec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    alias: None,
};
pub(crate) const WEEKDAY: Spec = Spec {
    name: "day of week",
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    alias: Some(7),
};

/// A parsed field: the set of allowed values, and whether it was written as `*` or `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) bits: u64,
    pub(crate) star: bool,
}

impl Field {
    pub(crate) fn has(self, value: u8) -> bool {
        self.bits & (1 << value) != 0
    }

    /// The smallest allowed value at or above `from`.
    pub(crate) fn next_from(self, from: u8) -> Option<u8> {
        if from >= 64 {
            return None;
        }
        let rest = self.bits >> from;
        (rest != 0).then(|| from + rest.trailing_zeros() as u8)
    }
}

fn error(spec: &Spec, text: &str, reason: &'static str) -> CronError {
    CronError::Field {
        field: spec.name,
        text: text.to_owned(),
        reason,
    }
}

fn value(spec: &Spec, field: &str, s: &str) -> Result<u8, CronError> {
    let lower = s.to_ascii_lowercase();
    if let Some(i) = spec.names.iter().position(|n| *n == lower) {
        return Ok(spec.min + i as u8);
    }
    let v: u8 = s
        .parse()
        .map_err(|_| error(spec, field, "not a number or a known name"))?;
    if spec.alias == Some(v) {
        // Folded into `min` once the field's bits are known, so that `5-7` works.
        return Ok(v);
    }
    if v < spec.min || v > spec.max {
        return Err(error(spec, field, out_of_range(spec)));
    }
    Ok(v)
}

fn out_of_range(spec: &Spec) -> &'static str {
    match (spec.min, spec.max) {
        (0, 59) => "value out of range 0-59",
        (0, 23) => "value out of range 0-23",
        (1, 31) => "value out of range 1-31",
        (1, 12) => "value out of range 1-12",
        _ => "value out of range 0-7",
    }
}

/// Parses one field: a comma-separated list of `*`, `?`, `a`, `a-b`, each optionally `/step`.
pub(crate) fn parse(spec: &Spec, field: &str) -> Result<Field, CronError> {
    let star = field.starts_with('*') || field.starts_with('?');
    let mut bits = 0u64;
    for item in field.split(',') {
        if item.is_empty() {
            return Err(error(spec, field, "empty list item"));
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u8 = s.parse().map_err(|_| error(spec, field, "invalid step"))?;
                if step == 0 {
                    return Err(error(spec, field, "step must be at least 1"));
                }
                (r, Some(step))
            }
            None => (item, None),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (spec.min, spec.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, mut b) = (value(spec, field, a)?, value(spec, field, b)?);
            if let Some(alias) = spec.alias {
                // `sat-sun`: a range may end on the alias of its first value.
                if b == spec.min && a > b {
                    b = alias;
                }
            }
            if a > b {
                return Err(error(spec, field, "range start after its end"));
            }
            (a, b)
        } else {
            let a = value(spec, field, range)?;
            // `a/step` means from `a` to the end of the range.
            (a, if step.is_some() { spec.max } else { a })
        };
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v = match v.checked_add(step) {
                Some(n) => n,
                None => break,
            };
        }
    }
    if let Some(alias) = spec.alias
        && bits & (1 << alias) != 0
    {
        bits = (bits & !(1 << alias)) | (1 << spec.min);
    }
    Ok(Field { bits, star })
}
