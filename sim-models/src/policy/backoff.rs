//! The delay before a retry: none, constant, or capped exponential (gRPC A6).

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

/// Delay before retry n (n = 1 for the first retry).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Backoff {
    /// Retry at once (eager).
    #[default]
    None,
    Constant(SimDuration),
    /// `initial * multiplier^(n-1)`, capped at `max`.
    Exponential {
        initial: SimDuration,
        max: SimDuration,
        multiplier: f64,
    },
}

/// The delay before retry number `retry` (1 = the first retry; 0 is treated as 1).
///
/// - `None`: 0 (retry at once).
/// - `Constant(d)`: `d`.
/// - `Exponential { initial, max, multiplier }`: `min(max, initial * multiplier^(retry-1))`,
///   gRPC A6's `min(initialBackoff * backoffMultiplier^(n-1), maxBackoff)` (the same curve as
///   resilience4j's `IntervalFunction.ofExponentialBackoff` and Polly's exponential backoff).
///   Huge retry counts saturate at `max`, never overflow; a NaN product also yields `max`.
///
/// # Jitter: the seam
///
/// This is the *un-jittered* delay, deliberately pure so the schedule stays table-testable.
/// Jitter (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015; gRPC A6) will be a
/// separate, seeded step layered on this value, not a change to it:
/// - full: `random(0, d)` with `d = backoff_delay(spec, n)` — gRPC A6's rule;
/// - equal: `d/2 + random(0, d/2)`;
/// - decorrelated: `min(max, random(initial, 3 * previous_delay))` — depends on the previous
///   *drawn* delay rather than on `n`, so it will live in per-request retry state and use
///   [`capped_exponential`]'s parameters, not this function's output.
pub fn backoff_delay(spec: &Backoff, retry: u32) -> SimDuration {
    match *spec {
        Backoff::None => SimDuration::ZERO,
        Backoff::Constant(d) => d,
        Backoff::Exponential {
            initial,
            max,
            multiplier,
        } => capped_exponential(initial, max, multiplier, retry),
    }
}

/// `min(max, initial * multiplier^(retry-1))`, saturating at `max` (see [`backoff_delay`]).
pub fn capped_exponential(
    initial: SimDuration,
    max: SimDuration,
    multiplier: f64,
    retry: u32,
) -> SimDuration {
    let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
    // powi overflows to +inf for huge exponents; `>=` then picks `max`. A NaN (from a NaN
    // multiplier) fails `<`, so it also lands on `max` rather than on 0.
    let ns = initial.as_nanos() as f64 * multiplier.powi(exponent);
    if ns < max.as_nanos() as f64 {
        SimDuration::from_nanos_f64(ns).min(max)
    } else {
        max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_support::{ms, secs};

    #[test]
    fn backoff_delays() {
        let exp = |initial, max, multiplier| Backoff::Exponential {
            initial,
            max,
            multiplier,
        };
        let grpc = exp(ms(100), secs(1), 2.0);
        let cases: &[(Backoff, u32, SimDuration)] = &[
            (Backoff::None, 1, SimDuration::ZERO),
            (Backoff::None, 200, SimDuration::ZERO),
            (Backoff::Constant(ms(50)), 1, ms(50)),
            (Backoff::Constant(ms(50)), 200, ms(50)),
            (grpc.clone(), 0, ms(100)),
            (grpc.clone(), 1, ms(100)),
            (grpc.clone(), 2, ms(200)),
            (grpc.clone(), 3, ms(400)),
            (grpc.clone(), 4, ms(800)),
            (grpc.clone(), 5, secs(1)),
            (grpc.clone(), 200, secs(1)),
            (grpc.clone(), u32::MAX, secs(1)),
            (
                exp(ms(10), secs(10), 1.5),
                3,
                SimDuration::from_micros(22_500),
            ),
            (exp(ms(10), secs(10), 1.0), 200, ms(10)),
            (exp(ms(10), secs(10), 0.5), 2, ms(5)),
            (exp(secs(5), secs(1), 2.0), 1, secs(1)),
            (
                exp(SimDuration(1), SimDuration::MAX, 2.0),
                200,
                SimDuration::MAX,
            ),
            (
                exp(SimDuration(1), SimDuration::MAX, 2.0),
                64,
                SimDuration(1 << 63),
            ),
            (
                exp(SimDuration::MAX, SimDuration::MAX, 2.0),
                2,
                SimDuration::MAX,
            ),
            (exp(ms(1), secs(1), f64::NAN), 2, secs(1)),
            (exp(ms(1), secs(1), f64::INFINITY), 2, secs(1)),
            (exp(ms(1), secs(1), 0.0), 2, SimDuration::ZERO),
        ];
        for (spec, retry, expected) in cases {
            assert_eq!(
                backoff_delay(spec, *retry),
                *expected,
                "{spec:?} retry {retry}"
            );
        }
    }
}
