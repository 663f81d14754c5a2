//! Virtual time: integer nanoseconds, never the wall clock.
//!
//! `SimTime` is an instant since the start of a run, `SimDuration` a span. Both are `u64`
//! nanoseconds (enough for 584 years), so arithmetic is exact and ordering is total.
//! In scenario files durations are written the way people say them (`"250ms"`, `"1.5s"`,
//! `"1h"`) and parsed once at the boundary; output prints them the same way.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Nanoseconds per unit, longest suffix first so that `ms` is not read as `m` + `s`.
const UNITS: [(&str, u64); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
];

/// An instant of virtual time, in nanoseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

/// A span of virtual time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// Time elapsed since `earlier`; zero if `earlier` is later (never wraps).
    pub fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    #[inline]
    pub fn checked_add(self, d: SimDuration) -> Option<SimTime> {
        self.0.checked_add(d.0).map(SimTime)
    }
    /// `self + d`, clamped at `SimTime::MAX` (an event that far away never fires).
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000_000)
    }
    /// Rounds to the nearest nanosecond; negative and NaN become zero, huge values saturate.
    pub fn from_secs_f64(s: f64) -> Self {
        Self::from_nanos_f64(s * 1e9)
    }
    /// Rounds to the nearest nanosecond; negative and NaN become zero, huge values saturate.
    #[inline]
    pub fn from_nanos_f64(ns: f64) -> Self {
        // Round half up by hand: `f64::round` is a libm call on the sampling hot path. `as`
        // saturates, and NaN fails the comparison, which is exactly the clamp we want. Below
        // 2^63 the signed conversion gives the same value in fewer instructions (x86 has no
        // unsigned one: 15 against 19 for this function).
        let x = ns + 0.5;
        if ns > 0.0 {
            if x < 9_223_372_036_854_775_808.0 {
                SimDuration(x as i64 as u64)
            } else {
                SimDuration(x as u64)
            }
        } else {
            SimDuration(0)
        }
    }
    pub fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    /// Saturates at [`SimTime::MAX`]: "later than any run can reach" (horizons are exclusive
    /// and at most `MAX`), so an event scheduled there never happens. A scenario can ask for
    /// that (a 500-year timeout 300 years in, a heavy-tailed draw): it must not crash the run.
    #[inline]
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub for SimTime {
    type Output = SimDuration;
    /// Panics if `rhs` is later: time never runs backwards in a run.
    #[inline]
    fn sub(self, rhs: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(rhs.0)
                .unwrap_or_else(|| panic!("negative duration: {self} - {rhs}")),
        )
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    /// Saturates, like time: a sum past the end of virtual time is "never".
    #[inline]
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(rhs.0))
    }
}

/// Why a duration string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration: expected a number and a unit, like \"250ms\"")]
    Empty,
    #[error(
        "duration `{0}` has no unit: write it with one of ns, us, ms, s, m, h, d (e.g. \"250ms\")"
    )]
    NoUnit(String),
    #[error("duration `{0}` has an unknown unit: expected one of ns, us, ms, s, m, h, d")]
    UnknownUnit(String),
    #[error("duration `{0}` is not a non-negative number followed by a unit")]
    BadNumber(String),
    #[error("duration `{0}` is too long for virtual time (at most 584 years)")]
    Overflow(String),
}

impl FromStr for SimDuration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let s = text.trim();
        if s.is_empty() {
            return Err(DurationError::Empty);
        }
        // The unit is the trailing run of letters, so an exponent (`1e400s`) stays part of
        // the number and is judged as one.
        let split = s
            .rfind(|c: char| !c.is_ascii_alphabetic())
            .map_or(0, |i| i + 1);
        if split == s.len() {
            return Err(DurationError::NoUnit(text.to_string()));
        }
        let (number, unit) = (s[..split].trim(), s[split..].trim());
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, ns)| ns)
            .ok_or_else(|| DurationError::UnknownUnit(text.to_string()))?;
        let bad = || DurationError::BadNumber(text.to_string());
        if number.is_empty() || number.starts_with(['-', '+']) {
            return Err(bad());
        }
        // Integers are parsed exactly; decimals go through f64 (exact to the nanosecond below ~104 days).
        if let Ok(n) = number.parse::<u64>() {
            return n
                .checked_mul(scale)
                .map(SimDuration)
                .ok_or_else(|| DurationError::Overflow(text.to_string()));
        }
        let x: f64 = number.parse().map_err(|_| bad())?;
        if x.is_nan() || x < 0.0 {
            return Err(bad());
        }
        let ns = x * scale as f64;
        if ns >= u64::MAX as f64 {
            return Err(DurationError::Overflow(text.to_string()));
        }
        Ok(SimDuration(ns.round() as u64))
    }
}

impl fmt::Display for SimDuration {
    /// The largest unit that shows the value exactly with at most 3 decimals, e.g. `250ms`,
    /// `1.5s`, `90s` is printed `1.5m`. Round-trips through `FromStr` to the nanosecond
    /// whenever the value is a whole number of the printed unit's thousandths.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return f.write_str("0s");
        }
        let exact = |scale: u64| (ns as u128 * 1000).is_multiple_of(scale as u128);
        let (name, scale) = UNITS
            .iter()
            .rev()
            .find(|&&(_, scale)| ns >= scale && exact(scale))
            .copied()
            .unwrap_or(UNITS[0]);
        write_scaled(f, ns, scale, name)
    }
}

fn write_scaled(f: &mut fmt::Formatter<'_>, ns: u64, scale: u64, unit: &str) -> fmt::Result {
    let whole = ns / scale;
    let frac = ns % scale;
    if frac == 0 {
        return write!(f, "{whole}{unit}");
    }
    let milli = (frac as u128 * 1000 / scale as u128) as u64;
    let text = format!("{milli:03}");
    write!(f, "{whole}.{}{unit}", text.trim_end_matches('0'))
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={:.3}s", self.as_secs_f64())
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SimDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"250ms\", \"2s\" or \"1h\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SimDuration, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_units_people_write() {
        let cases = [
            ("250ms", 250_000_000),
            ("2s", 2_000_000_000),
            ("1h", 3_600_000_000_000),
            ("1.5s", 1_500_000_000),
            ("100us", 100_000),
            ("7ns", 7),
            ("10m", 600_000_000_000),
            ("0s", 0),
            (" 3 ms ", 3_000_000),
            ("0.25ms", 250_000),
        ];
        for (text, ns) in cases {
            assert_eq!(text.parse::<SimDuration>(), Ok(SimDuration(ns)), "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in ["", "5", "-5ms", "5 parsecs", "ms", "1e400s", "nans", "+3s"] {
            assert!(bad.parse::<SimDuration>().is_err(), "{bad:?} parsed");
        }
        assert!(matches!(
            "600000y".parse::<SimDuration>(),
            Err(DurationError::UnknownUnit(_))
        ));
        assert!(matches!(
            "999999999999d".parse::<SimDuration>(),
            Err(DurationError::Overflow(_))
        ));
        // The unit is fine here; the number is out of range (it said "unknown unit").
        for huge in ["1e400s", "1e30ms", "1E20d"] {
            assert!(
                matches!(huge.parse::<SimDuration>(), Err(DurationError::Overflow(_))),
                "{huge}: {:?}",
                huge.parse::<SimDuration>()
            );
        }
        assert_eq!(
            "2.5e3ms".parse::<SimDuration>(),
            Ok(SimDuration::from_millis(2500))
        );
        for bad in ["1e5", "1.5.s", "1 2s", "nan s"] {
            assert!(
                !matches!(
                    bad.parse::<SimDuration>(),
                    Err(DurationError::UnknownUnit(_)) | Ok(_)
                ),
                "{bad}: {:?}",
                bad.parse::<SimDuration>()
            );
        }
    }

    #[test]
    fn displays_in_the_largest_exact_unit_and_round_trips() {
        let cases = [
            (250_000_000, "250ms"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1.5m"),
            (3_600_000_000_000, "1h"),
            (1_234, "1.234us"),
            (7, "7ns"),
            (0, "0s"),
        ];
        for (ns, text) in cases {
            let d = SimDuration(ns);
            assert_eq!(d.to_string(), text);
            assert_eq!(text.parse::<SimDuration>(), Ok(d));
        }
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(SimTime(5) + SimDuration(3), SimTime(8));
        assert_eq!(SimTime(8) - SimTime(5), SimDuration(3));
        assert_eq!(SimTime::MAX.checked_add(SimDuration(1)), None);
        assert_eq!(SimTime(1).saturating_since(SimTime(5)), SimDuration::ZERO);
        assert!(std::panic::catch_unwind(|| SimTime(1) - SimTime(2)).is_err());
    }

    #[test]
    fn sums_past_the_end_of_virtual_time_saturate() {
        let late = SimTime(u64::MAX - 5);
        assert_eq!(late + SimDuration::from_nanos(10), SimTime::MAX);
        assert_eq!(
            SimDuration::MAX + SimDuration::from_nanos(1),
            SimDuration::MAX
        );
    }
}
