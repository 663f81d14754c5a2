//! Retry policy pieces: jittered backoff and what may be retried (the retry budget is
//! [`crate::budget`]).
//!
//! | item | what it does | semantics follow |
//! |---|---|---|
//! | [`Jitter`], [`retry_delay`] | the seeded delay before retry n: none, full, equal, decorrelated | AWS Architecture Blog, "Exponential Backoff and Jitter" (Brooker, 2015); full jitter is gRPC A6's rule |
//! | [`Retryable`], [`default_retry_on`] | the failure kinds a policy may retry on | gRPC A6 `retryableStatusCodes`, reduced to the kinds simctl models |
//!
//! Everything here is a function of its inputs: no wall clock, no hashing, and the only
//! randomness is the [`SimRng`] a caller passes in, so a run replays exactly.

use rand::RngExt;
use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::rng::SimRng;

use crate::policy::Backoff;
use crate::policy::backoff_delay;

// ---------------------------------------------------------------------------------------------
// Jitter
// ---------------------------------------------------------------------------------------------

/// How the delay before a retry is randomised around the [`Backoff`] schedule.
///
/// Names and formulas are those of AWS's "Exponential Backoff and Jitter" (2015); `cap` is
/// [`backoff_delay`]`(backoff, retry)`. See [`retry_delay`] for the exact intervals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Jitter {
    /// Exactly `cap`; draws nothing.
    #[default]
    None,
    /// Uniform in `[0, cap]` (gRPC A6's rule). Spreads retries most; mean `cap/2`.
    Full,
    /// `cap/2 + uniform[0, cap/2]`: keeps at least half the backoff; mean `3cap/4`.
    Equal,
    /// `min(max, uniform[base, 3 * previous])`: each delay grows from the previous *drawn*
    /// one rather than from the retry number.
    Decorrelated,
}

/// The delay before retry number `retry` (1 = the first retry), with `jitter` applied.
///
/// With `cap = backoff_delay(backoff, retry)`:
/// - `None`: `cap`, and `rng` is not touched, so a scenario without jitter keeps the random
///   stream it had before jitter existed.
/// - `Full`: uniform in `[0, cap]`.
/// - `Equal`: `h + uniform[0, cap - h]` with `h = cap/2` rounded up to the nanosecond, i.e.
///   uniform in `[ceil(cap/2), cap]`.
/// - `Decorrelated`: `min(max, uniform[base, 3 * previous])`, where `base` is the backoff's
///   initial delay (`Constant(d)`: `d`; `Exponential`: `initial`; `None`: 0), `max` its ceiling
///   (`Constant(d)`: `d`; `Exponential`: `max`; `None`: 0), and `previous` the delay returned
///   for the previous retry of the same request. A `previous` below `base` counts as `base`,
///   so the first retry may pass `base` or `SimDuration::ZERO` alike. `retry` and the
///   exponential multiplier are not used (AWS fixes the growth factor at 3). The result is
///   never above `max`, and at least `base` unless `base > max` (then it is `max`).
///
/// Every jitter except `None` draws exactly one `u64` word from `rng` per call, even when the
/// interval is a single point. Besides replaying exactly, that keeps the streams of two
/// scenarios aligned when only their backoff differs: the same draw `u` then gives
/// proportional delays (common random numbers), which makes comparisons fair. Intervals are
/// closed; the upper end is reached only through rounding to the nanosecond.
pub fn retry_delay(
    backoff: &Backoff,
    jitter: Jitter,
    retry: u32,
    previous: SimDuration,
    rng: &mut SimRng,
) -> SimDuration {
    match jitter {
        Jitter::None => backoff_delay(backoff, retry),
        Jitter::Full => {
            let cap = backoff_delay(backoff, retry).as_nanos();
            uniform(0, cap, rng)
        }
        Jitter::Equal => {
            let cap = backoff_delay(backoff, retry).as_nanos();
            uniform(cap.div_ceil(2), cap, rng)
        }
        Jitter::Decorrelated => {
            let (base, max) = match *backoff {
                Backoff::None => (SimDuration::ZERO, SimDuration::ZERO),
                Backoff::Constant(d) => (d, d),
                Backoff::Exponential { initial, max, .. } => (initial, max),
            };
            let base = base.as_nanos();
            let previous = previous.as_nanos().max(base);
            // `previous >= base`, so the interval is never empty; saturating keeps a huge
            // previous delay at the end of virtual time instead of wrapping.
            let drawn = uniform(base, previous.saturating_mul(3), rng);
            drawn.min(max)
        }
    }
}

/// Uniform in `[lo, hi]` nanoseconds (`lo <= hi`) from exactly one `u64` word of `rng`.
fn uniform(lo: u64, hi: u64, rng: &mut SimRng) -> SimDuration {
    // One f64 draw (53 random bits from one word) rather than an integer range: integer
    // sampling rejects and redraws a variable number of words, which would shift every later
    // draw of the stream whenever a backoff parameter changes.
    let u: f64 = rng.random();
    let ns = lo as f64 + u * (hi - lo) as f64;
    // Rounding (and f64's 53-bit mantissa above ~104 days) may step just outside [lo, hi].
    SimDuration(SimDuration::from_nanos_f64(ns).as_nanos().clamp(lo, hi))
}

// ---------------------------------------------------------------------------------------------
// Retryability
// ---------------------------------------------------------------------------------------------

/// A kind of failed attempt that a policy may retry on (gRPC A6's `retryableStatusCodes`,
/// reduced to the failures simctl models).
///
/// Client errors (4xx: bad request, not found, ...) are not modelled: a simulated request is
/// always well formed, so every failure is one of these three.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Retryable {
    /// No answer in time: the attempt's timeout (or the deadline) fired first.
    Timeout,
    /// Refused by overload protection: 503 / gRPC `UNAVAILABLE` from admission control, a
    /// rate limit, a full queue or an open circuit breaker.
    Rejected,
    /// The callee failed: other 5xx, and connection refused (the service is down).
    Error,
}

impl Retryable {
    /// Every kind, in order.
    pub const ALL: [Retryable; 3] = [Retryable::Timeout, Retryable::Rejected, Retryable::Error];
}

/// What a policy retries on when the scenario does not say: every kind of failure.
pub fn default_retry_on() -> Vec<Retryable> {
    Retryable::ALL.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use sim_core::rng;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    fn exponential(initial: SimDuration, max: SimDuration, multiplier: f64) -> Backoff {
        Backoff::Exponential {
            initial,
            max,
            multiplier,
        }
    }

    /// Backoffs the jitter tests run over: the usual shape, one with odd nanosecond counts
    /// (rounding edges), a constant, none, and a misconfigured `initial > max`.
    fn backoffs() -> Vec<Backoff> {
        vec![
            exponential(ms(100), ms(1000), 2.0),
            exponential(SimDuration(3), SimDuration(1001), 1.5),
            Backoff::Constant(ms(250)),
            Backoff::None,
            exponential(ms(500), ms(200), 2.0),
        ]
    }

    const DRAWS: usize = 10_000;

    // --- jitter ---

    #[test]
    fn no_jitter_is_the_backoff_and_draws_nothing() {
        for backoff in backoffs() {
            let mut rng = rng::stream(1, "retry/none");
            let fresh = rng.clone();
            for retry in 0..=8 {
                let got = retry_delay(&backoff, Jitter::None, retry, ms(7), &mut rng);
                assert_eq!(
                    got,
                    backoff_delay(&backoff, retry),
                    "{backoff:?} retry {retry}"
                );
            }
            assert_eq!(rng, fresh, "{backoff:?}: Jitter::None consumed randomness");
            assert_eq!(rng.next_u64(), fresh.clone().next_u64());
        }
    }

    #[test]
    fn every_jittered_delay_draws_exactly_one_word() {
        for backoff in backoffs() {
            for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
                let mut rng = rng::stream(2, "retry/one-word");
                let mut reference = rng.clone();
                for retry in 1..=5 {
                    retry_delay(&backoff, jitter, retry, ms(300), &mut rng);
                    reference.next_u64();
                    assert_eq!(rng, reference, "{backoff:?} {jitter:?} retry {retry}");
                }
            }
        }
    }

    #[test]
    fn full_and_equal_stay_in_their_intervals_and_cover_them() {
        for backoff in backoffs() {
            for retry in 1..=6 {
                let cap = backoff_delay(&backoff, retry).as_nanos();
                // (jitter, documented interval in ns)
                let cases = [
                    (Jitter::Full, 0, cap),
                    (Jitter::Equal, cap.div_ceil(2), cap),
                ];
                for (jitter, lo, hi) in cases {
                    let mut rng = rng::stream(u64::from(retry), "retry/bounds");
                    let (mut seen_lo, mut seen_hi) = (u64::MAX, 0);
                    for _ in 0..DRAWS {
                        let d = retry_delay(&backoff, jitter, retry, ms(1), &mut rng).as_nanos();
                        assert!(
                            (lo..=hi).contains(&d),
                            "{backoff:?} {jitter:?} retry {retry}: {d} outside [{lo}, {hi}]"
                        );
                        seen_lo = seen_lo.min(d);
                        seen_hi = seen_hi.max(d);
                    }
                    // 10k uniform draws all missing the outer 1 % at one end: p = 0.99^10000.
                    let slack = (hi - lo) / 100;
                    assert!(
                        seen_lo <= lo + slack && seen_hi >= hi - slack,
                        "{backoff:?} {jitter:?} retry {retry}: saw [{seen_lo}, {seen_hi}] of [{lo}, {hi}]"
                    );
                }
            }
        }
    }

    #[test]
    fn full_and_equal_have_the_documented_means() {
        // cap = 100 ms * 2^3 = 800 ms. Full is U[0, cap]: mean cap/2, sd cap/sqrt(12). Equal is
        // U[cap/2, cap]: mean 3cap/4, sd (cap/2)/sqrt(12). The mean of n = 10k draws is within
        // 4 standard errors (sd/sqrt(n)) except with probability ~6e-5 (CLT).
        let backoff = exponential(ms(100), ms(10_000), 2.0);
        let cap = backoff_delay(&backoff, 4).as_nanos() as f64;
        assert_eq!(cap, 800e6);
        let n = DRAWS as f64;
        let cases = [
            (Jitter::Full, cap / 2.0, cap / 12f64.sqrt()),
            (Jitter::Equal, 0.75 * cap, cap / 2.0 / 12f64.sqrt()),
        ];
        for (jitter, mean, sd) in cases {
            let mut rng = rng::stream(3, "retry/means");
            let sum: f64 = (0..DRAWS)
                .map(|_| retry_delay(&backoff, jitter, 4, ms(1), &mut rng).as_nanos() as f64)
                .sum();
            let got = sum / n;
            let tolerance = 4.0 * sd / n.sqrt();
            assert!(
                (got - mean).abs() <= tolerance,
                "{jitter:?}: mean {got} vs {mean} +- {tolerance}"
            );
        }
    }

    #[test]
    fn decorrelated_stays_within_base_and_max() {
        for backoff in backoffs() {
            let (base, max) = match backoff {
                Backoff::None => (0, 0),
                Backoff::Constant(d) => (d.as_nanos(), d.as_nanos()),
                Backoff::Exponential { initial, max, .. } => (initial.as_nanos(), max.as_nanos()),
            };
            let lo = base.min(max);
            let mut rng = rng::stream(4, "retry/decorrelated");
            let mut previous = SimDuration::ZERO;
            let mut seen_hi = 0;
            for retry in 1..=DRAWS as u32 {
                let d = retry_delay(&backoff, Jitter::Decorrelated, retry, previous, &mut rng);
                let ns = d.as_nanos();
                // Within [base, max], and within this step's own [base, 3 * previous].
                let step_hi = previous.as_nanos().max(base).saturating_mul(3).min(max);
                assert!(
                    (lo..=step_hi).contains(&ns),
                    "{backoff:?} retry {retry}: {ns} outside [{lo}, {step_hi}]"
                );
                seen_hi = seen_hi.max(ns);
                previous = d;
            }
            // The chain climbs to the cap: it is reachable and is hit by every draw above it.
            assert_eq!(seen_hi, max, "{backoff:?}");
        }
    }

    #[test]
    fn decorrelated_first_retry_treats_zero_previous_as_base() {
        let backoff = exponential(ms(100), ms(10_000), 2.0);
        for seed in 0..50 {
            let mut a = rng::stream(seed, "retry/first");
            let mut b = a.clone();
            let zero = retry_delay(&backoff, Jitter::Decorrelated, 1, SimDuration::ZERO, &mut a);
            let base = retry_delay(&backoff, Jitter::Decorrelated, 1, ms(100), &mut b);
            assert_eq!(zero, base);
            assert!((ms(100)..=ms(300)).contains(&zero), "{zero}");
        }
    }

    #[test]
    fn the_same_draw_scales_with_the_backoff() {
        // Common random numbers: doubling every delay of the schedule doubles each full-jitter
        // delay drawn from the same stream (up to the nanosecond rounding).
        let short = exponential(ms(100), ms(1000), 2.0);
        let long = exponential(ms(200), ms(2000), 2.0);
        let mut a = rng::stream(5, "retry/crn");
        let mut b = a.clone();
        for retry in 1..=200 {
            let d1 = retry_delay(&short, Jitter::Full, retry % 6 + 1, ms(0), &mut a).as_nanos();
            let d2 = retry_delay(&long, Jitter::Full, retry % 6 + 1, ms(0), &mut b).as_nanos();
            assert!(d2.abs_diff(2 * d1) <= 1, "{d1} vs {d2}");
        }
    }

    #[test]
    fn jitter_reads_from_ron() {
        let cases = [
            ("None", Jitter::None),
            ("Full", Jitter::Full),
            ("Equal", Jitter::Equal),
            ("Decorrelated", Jitter::Decorrelated),
        ];
        for (text, jitter) in cases {
            assert_eq!(ron::from_str::<Jitter>(text), Ok(jitter));
            // RON writes `None` as the raw identifier `r#None`; either reads back.
            let back = ron::to_string(&jitter).unwrap();
            assert_eq!(ron::from_str::<Jitter>(&back), Ok(jitter), "{back}");
        }
        assert!(ron::from_str::<Jitter>("Random").is_err());
    }

    // --- retryability ---

    #[test]
    fn default_retry_on_is_every_kind_in_order() {
        let all = default_retry_on();
        assert_eq!(
            all,
            [Retryable::Timeout, Retryable::Rejected, Retryable::Error]
        );
        assert!(all.is_sorted());
        assert_eq!(ron::to_string(&all).unwrap(), "[Timeout,Rejected,Error]");
        assert_eq!(
            ron::from_str::<Vec<Retryable>>("[Error, Timeout]"),
            Ok(vec![Retryable::Error, Retryable::Timeout])
        );
        assert!(ron::from_str::<Retryable>("ClientError").is_err());
    }
}
