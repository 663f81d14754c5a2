//! Retry policy pieces: jittered backoff, a per-caller retry budget, and what may be retried.
//!
//! | item | what it does | semantics follow |
//! |---|---|---|
//! | [`Jitter`], [`retry_delay`] | the seeded delay before retry n: none, full, equal, decorrelated | AWS Architecture Blog, "Exponential Backoff and Jitter" (Brooker, 2015); full jitter is gRPC A6's rule |
//! | [`BudgetSpec`], [`RetryBudget`] | a token bucket per caller that turns retries off under sustained failure | gRPC A6 retry throttling (`retryThrottling`), integer arithmetic as in grpc-java's `Throttle` |
//! | [`Retryable`], [`default_retry_on`] | the failure kinds a policy may retry on | gRPC A6 `retryableStatusCodes`, reduced to the kinds simctl models |
//!
//! Everything here is a function of its inputs: no wall clock, no hashing, and the only
//! randomness is the [`SimRng`] a caller passes in, so a run replays exactly.
//!
//! # Budget vs. Brooker's bucket and Finagle's budget
//!
//! gRPC's throttle debits **every failed attempt** (first tries included) and credits only
//! successes, so once failures exceed `r/(1+r)` of attempts (r = `token_ratio`; 9.1 % with the
//! defaults) the bucket drains to 0 and retries stop altogether: long-run load tends to 1, not
//! to 1 + r. The bucket in Brooker's model (REFERENCES, top section) and Finagle's
//! `RetryBudget` (REFERENCES 3.2) instead credit every *request* and debit only *retries*, so
//! under 100 % failure they still allow retries at ~r of requests (load ~1.1). Finagle's
//! deposits also expire after a `ttl` and it adds a `minRetriesPerSec` reserve, so low-traffic
//! callers keep some retries; that needs a clock and is not what [`RetryBudget`] does.

use rand::RngExt;
use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::path::{FieldPath, Problem};
use sim_core::rng::SimRng;

use crate::policy::backoff_delay;
use crate::scenario::Backoff;

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
// Retry budget
// ---------------------------------------------------------------------------------------------

/// Tokens are counted in thousandths, like grpc-java's `Throttle`
/// (`THREE_DECIMAL_PLACES_SCALE_UP`); A6 gives `tokenRatio` at most 3 decimals.
const MILLI: f64 = 1000.0;
/// One whole token (the cost of a failed attempt), in thousandths.
const ONE_TOKEN: u64 = 1000;
/// The smallest size or ratio that is not zero once counted in thousandths.
const MIN_AMOUNT: f64 = 0.001;

/// A retry budget's parameters (gRPC A6 `retryThrottling { maxTokens, tokenRatio }`).
///
/// Defaults are A6's example: `max_tokens = 10`, `token_ratio = 0.1` (retries stay on while
/// fewer than ~10 % of attempts fail).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetSpec {
    /// Bucket size; the bucket starts full and retries are allowed while it holds more than
    /// half of this.
    pub max_tokens: f64,
    /// Tokens a successful attempt adds back (a failed attempt takes 1).
    pub token_ratio: f64,
}

impl Default for BudgetSpec {
    fn default() -> Self {
        BudgetSpec {
            max_tokens: 10.0,
            token_ratio: 0.1,
        }
    }
}

impl BudgetSpec {
    /// Every problem with the spec, with paths relative to it.
    ///
    /// `max_tokens` finite and at least 0.001; `token_ratio` finite, at least 0.001 and at
    /// most `max_tokens`. The floor of 0.001 (rather than "above 0") is because tokens are
    /// counted in thousandths: anything smaller would round to zero. Digits beyond the third
    /// decimal are rounded away, as gRPC ignores them.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let root = FieldPath::root();
        let max = self.max_tokens;
        let max_ok = max.is_finite() && max >= MIN_AMOUNT;
        if !max_ok {
            out.push(Problem::new(
                root.field("max_tokens"),
                format!(
                    "must be a finite number of at least 0.001 (the bucket's size in tokens), got {max}"
                ),
            ));
        }
        let ratio = self.token_ratio;
        // Compared with max_tokens only when that is valid, so one mistake gives one message.
        let ratio_ok = ratio.is_finite() && ratio >= MIN_AMOUNT && (!max_ok || ratio <= max);
        if !ratio_ok {
            let upper = if max_ok {
                format!("max_tokens ({max})")
            } else {
                "max_tokens".to_string()
            };
            out.push(Problem::new(
                root.field("token_ratio"),
                format!(
                    "must be a finite number from 0.001 to {upper} (tokens a success adds back), got {ratio}"
                ),
            ));
        }
        out
    }
}

/// A retry token bucket for one caller (gRPC A6 retry throttling, per server name there).
///
/// - Starts full at `max_tokens`; the count stays within `[0, max_tokens]`.
/// - [`on_failure`](Self::on_failure): every failed attempt of a kind the policy retries on
///   (first tries included, and the last attempt of a call too) takes 1 token.
/// - [`on_success`](Self::on_success): every successful attempt adds `token_ratio`.
/// - [`can_retry`](Self::can_retry): a retry (or hedge) may be sent only while the count is
///   strictly above `max_tokens / 2`; the check follows the failure's debit.
///
/// With 10 / 0.1 under 100 % failure and 4 attempts per call: the first call makes 4 attempts
/// (10 -> 6), the second 1 (-> 5, not above 5), then 1 per call down to 0; from 0 it takes 51
/// successes to allow retries again. Long run, see the module doc: retries stop entirely
/// once failures exceed `r/(1+r)` of attempts.
///
/// The count is an integer number of thousandths, so those thresholds are exact. In f64 a
/// mix of `+0.1` and `-1` that should come to exactly 5 can come to 5.000000000000001 and
/// allow a retry the spec forbids (grpc-go keeps a float and has that edge; grpc-java keeps
/// thousandths).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryBudget {
    /// All three in thousandths of a token.
    max: u64,
    ratio: u64,
    tokens: u64,
}

impl RetryBudget {
    /// A full bucket. The spec is meant to have passed [`BudgetSpec::problems`]; values are
    /// rounded to thousandths, and negative or NaN ones count as 0 (then retries never pass).
    pub fn new(spec: &BudgetSpec) -> Self {
        let max = milli(spec.max_tokens);
        RetryBudget {
            max,
            ratio: milli(spec.token_ratio),
            tokens: max,
        }
    }

    /// A successful attempt: `+token_ratio`, capped at `max_tokens`.
    pub fn on_success(&mut self) {
        self.tokens = self.tokens.saturating_add(self.ratio).min(self.max);
    }

    /// A failed attempt: `-1`, floored at 0.
    pub fn on_failure(&mut self) {
        self.tokens = self.tokens.saturating_sub(ONE_TOKEN);
    }

    /// Whether a retry may be sent now: tokens strictly above `max_tokens / 2`.
    pub fn can_retry(&self) -> bool {
        // Doubling instead of halving keeps odd thousandths exact; u128 cannot overflow.
        2 * u128::from(self.tokens) > u128::from(self.max)
    }

    /// The tokens in the bucket now.
    pub fn tokens(&self) -> f64 {
        self.tokens as f64 / MILLI
    }
}

/// `x` in thousandths, rounded; negative and NaN give 0, huge values saturate (`as` does both).
fn milli(x: f64) -> u64 {
    (x * MILLI).round() as u64
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

    // --- budget ---

    #[derive(Clone, Copy, Debug)]
    enum Event {
        Success,
        Failure,
    }
    use Event::{Failure as F, Success as S};

    #[test]
    fn budget_follows_its_script() {
        // (spec, [(event, tokens after, can_retry after)])
        type Script = ((f64, f64), &'static [(Event, f64, bool)]);
        let cases: &[(&str, Script)] = &[
            (
                "full bucket stays capped",
                (
                    (10.0, 0.1),
                    &[(S, 10.0, true), (F, 9.0, true), (S, 9.1, true)],
                ),
            ),
            (
                "exactly half is not enough",
                (
                    (4.0, 0.5),
                    &[
                        (F, 3.0, true),
                        (F, 2.0, false),
                        (S, 2.5, true),
                        (F, 1.5, false),
                    ],
                ),
            ),
            (
                "floored at zero, then climbs",
                (
                    (2.0, 0.75),
                    &[
                        (F, 1.0, false),
                        (F, 0.0, false),
                        (F, 0.0, false),
                        (S, 0.75, false),
                        (S, 1.5, true),
                        (S, 2.0, true),
                    ],
                ),
            ),
            (
                "odd thousandths: 0.003 > 0.005 / 2",
                (
                    (0.005, 0.001),
                    &[
                        (F, 0.0, false),
                        (S, 0.001, false),
                        (S, 0.002, false),
                        (S, 0.003, true),
                    ],
                ),
            ),
            (
                "ratio rounded to thousandths",
                ((1.0, 0.1004), &[(F, 0.0, false), (S, 0.1, false)]),
            ),
        ];
        for (name, ((max_tokens, token_ratio), script)) in cases {
            let spec = BudgetSpec {
                max_tokens: *max_tokens,
                token_ratio: *token_ratio,
            };
            assert_eq!(spec.problems(), vec![], "{name}");
            let mut budget = RetryBudget::new(&spec);
            assert_eq!(budget.tokens(), *max_tokens, "{name}: starts full");
            assert!(budget.can_retry(), "{name}: a full bucket allows retries");
            for (i, &(event, tokens, can_retry)) in script.iter().enumerate() {
                match event {
                    Event::Success => budget.on_success(),
                    Event::Failure => budget.on_failure(),
                }
                assert_eq!(
                    (budget.tokens(), budget.can_retry()),
                    (tokens, can_retry),
                    "{name}: step {i} ({event:?})"
                );
            }
        }
    }

    /// One call under the budget: attempts until one succeeds, the attempts run out, or the
    /// budget refuses a retry; `fails()` decides each attempt. Returns the attempts made.
    fn call(budget: &mut RetryBudget, max_attempts: u32, mut fails: impl FnMut() -> bool) -> u32 {
        let mut attempts = 0;
        loop {
            attempts += 1;
            if !fails() {
                budget.on_success();
                return attempts;
            }
            budget.on_failure();
            if attempts == max_attempts || !budget.can_retry() {
                return attempts;
            }
        }
    }

    #[test]
    fn budget_reproduces_the_grpc_worked_example() {
        // REFERENCES 3.3: 10 / 0.1, maxAttempts 4, every attempt fails.
        let mut budget = RetryBudget::new(&BudgetSpec::default());
        let expected: &[(u32, f64)] = &[
            (4, 6.0), // 10 -> 9, 8, 7 (each > 5: retry), -> 6 (attempts exhausted)
            (1, 5.0), // -> 5, not above 5: throttled
            (1, 4.0),
            (1, 3.0),
            (1, 2.0),
            (1, 1.0),
            (1, 0.0),
            (1, 0.0), // floored
        ];
        for (i, &(attempts, tokens)) in expected.iter().enumerate() {
            assert_eq!(call(&mut budget, 4, || true), attempts, "call {}", i + 1);
            assert_eq!(budget.tokens(), tokens, "call {}", i + 1);
        }
        // From 0, retries come back on the 51st success (5.1 > 5), not the 50th (5.0).
        for success in 1..=51 {
            budget.on_success();
            assert_eq!(
                budget.can_retry(),
                success == 51,
                "after {success} successes"
            );
        }
        assert_eq!(budget.tokens(), 5.1);
    }

    #[test]
    fn thousandths_keep_the_threshold_exact() {
        // From a full bucket, 24 failures and 141 successes (the floor at 0 absorbs some of
        // the failures) leave exactly 5 tokens. Summed in f64 the same steps give
        // 5.000000000000001, which would pass the `> 5` check.
        let script = "FSSSFSFSSSFSSSFSSSSSFSSFFFSSSFFSSSSSSSSSSSSSFFSSFSFSSFFSSSSSSSSSSSSFSSSSSSFSF\
                      SSSSFSSSSSSSSSSSSSSSSSSSSSFSSSSSSSSSSSSSSSFSSSSSSSSSSSSSSSSFSSSSSSSSSSSSSSSS\
                      SSSSSSSSSSSS";
        let mut budget = RetryBudget::new(&BudgetSpec::default());
        let mut float = 10.0_f64;
        for step in script.chars() {
            if step == 'F' {
                budget.on_failure();
                float = (float - 1.0).max(0.0);
            } else {
                budget.on_success();
                float = (float + 0.1).min(10.0);
            }
        }
        assert_eq!(budget.tokens(), 5.0);
        assert!(!budget.can_retry());
        assert!(float > 5.0, "the float sum is {float}");
    }

    #[test]
    fn budget_spec_problems() {
        // (max_tokens, token_ratio, fields reported)
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let cases: &[(f64, f64, &[&str])] = &[
            (10.0, 0.1, &[]),
            (10.0, 10.0, &[]),
            (0.001, 0.001, &[]),
            (0.0, 0.1, &["max_tokens"]),
            (-1.0, 0.1, &["max_tokens"]),
            (nan, 0.1, &["max_tokens"]),
            (inf, 0.1, &["max_tokens"]),
            (0.0004, 0.0004, &["max_tokens", "token_ratio"]),
            (10.0, 0.0, &["token_ratio"]),
            (10.0, 0.0004, &["token_ratio"]),
            (10.0, -0.1, &["token_ratio"]),
            (10.0, 10.5, &["token_ratio"]),
            (10.0, nan, &["token_ratio"]),
            (10.0, inf, &["token_ratio"]),
            (nan, nan, &["max_tokens", "token_ratio"]),
        ];
        for &(max_tokens, token_ratio, fields) in cases {
            let spec = BudgetSpec {
                max_tokens,
                token_ratio,
            };
            let got: Vec<String> = spec.problems().iter().map(|p| p.path.to_string()).collect();
            assert_eq!(got, fields, "{spec:?}");
        }
        let message = &BudgetSpec {
            max_tokens: 10.0,
            token_ratio: 11.0,
        }
        .problems()[0]
            .message;
        assert!(
            message.contains("max_tokens (10)") && message.contains("got 11"),
            "{message}"
        );
    }

    #[test]
    fn budget_spec_reads_from_ron_with_defaults() {
        let cases = [
            ("()", BudgetSpec::default()),
            (
                "(max_tokens: 5.0)",
                BudgetSpec {
                    max_tokens: 5.0,
                    token_ratio: 0.1,
                },
            ),
            (
                "(max_tokens: 100.0, token_ratio: 0.5)",
                BudgetSpec {
                    max_tokens: 100.0,
                    token_ratio: 0.5,
                },
            ),
        ];
        for (text, spec) in cases {
            assert_eq!(
                ron::from_str::<BudgetSpec>(text),
                Ok(spec.clone()),
                "{text}"
            );
            let back = ron::to_string(&spec).unwrap();
            assert_eq!(ron::from_str::<BudgetSpec>(&back), Ok(spec), "{back}");
        }
        assert!(ron::from_str::<BudgetSpec>("(max_tokens: 5.0, ttl: \"10s\")").is_err());
    }

    // --- long run: Brooker's model ---

    const MAX_ATTEMPTS: u32 = 4;

    /// Exact expected load (attempts / calls) of one caller making `calls` calls from a full
    /// default bucket, each attempt failing independently with probability `p`.
    ///
    /// An independent re-derivation of the budget as a Markov chain: the token count, in
    /// tenths, is a multiple of 1 in 0..=100 (a success adds 1, a failure takes 10, the
    /// threshold is 50), and the state after each call depends only on the state before it.
    /// The distribution is pushed forward call by call. Returns (mean load over the calls,
    /// expected attempts of the last call = the long-run load when `calls` is large).
    fn exact_load(p: f64, calls: u32) -> (f64, f64) {
        const TOP: usize = 100;
        // outcomes[t] = [(probability, attempts, tokens after)] of a call starting at t.
        let outcomes: Vec<Vec<(f64, f64, usize)>> = (0..=TOP)
            .map(|start| {
                let mut out = Vec::new();
                let (mut reach, mut t) = (1.0, start);
                for attempt in 1..=MAX_ATTEMPTS {
                    out.push((reach * (1.0 - p), f64::from(attempt), (t + 1).min(TOP)));
                    reach *= p;
                    t = t.saturating_sub(10);
                    if attempt == MAX_ATTEMPTS || t <= 50 {
                        out.push((reach, f64::from(attempt), t));
                        break;
                    }
                }
                out
            })
            .collect();
        let mut dist = vec![0.0; TOP + 1];
        dist[TOP] = 1.0;
        let (mut total, mut last) = (0.0, 0.0);
        for _ in 0..calls {
            let mut next = vec![0.0; TOP + 1];
            last = 0.0;
            for (start, &mass) in dist.iter().enumerate() {
                if mass == 0.0 {
                    continue;
                }
                for &(prob, attempts, end) in &outcomes[start] {
                    last += mass * prob * attempts;
                    next[end] += mass * prob;
                }
            }
            total += last;
            dist = next;
        }
        (total / f64::from(calls), last)
    }

    /// Load without a budget: `(1 - p^N) / (1 - p)`, N at p = 1.
    fn unbudgeted_load(p: f64) -> f64 {
        let n = MAX_ATTEMPTS as i32;
        if p == 1.0 {
            f64::from(MAX_ATTEMPTS)
        } else {
            (1.0 - p.powi(n)) / (1.0 - p)
        }
    }

    #[test]
    fn budget_caps_load_in_brookers_model() {
        // Brooker's setup: 100 clients, each with its own budget (10 / 0.1) and 4 attempts
        // per call; every attempt fails independently with probability p. Arrival times do
        // not matter here (no shared state, independent failures), so each client is simply
        // a run of calls; 100 x 1000 = 100k calls per p.
        const CLIENTS: u32 = 100;
        const CALLS: u32 = 1000;
        // Retries are allowed while failures stay under
        // r/(1+r) = 9.1 % of attempts. Below that the budget almost never binds and load is
        // the unbudgeted (1-p^4)/(1-p); above it every failed attempt drains the bucket
        // (first tries included), it sinks to 0 and stays there, and long-run load is 1.
        let cases = [0.0, 0.05, 0.2, 0.5, 1.0];
        for p in cases {
            let mut rng = rng::stream(42, "retry/brooker");
            let loads: Vec<f64> = (0..CLIENTS)
                .map(|_| {
                    let mut budget = RetryBudget::new(&BudgetSpec::default());
                    let attempts: u32 = (0..CALLS)
                        .map(|_| call(&mut budget, MAX_ATTEMPTS, || rng.random::<f64>() < p))
                        .sum();
                    f64::from(attempts) / f64::from(CALLS)
                })
                .collect();
            let n = f64::from(CLIENTS);
            let measured = loads.iter().sum::<f64>() / n;
            let var = loads.iter().map(|l| (l - measured).powi(2)).sum::<f64>() / (n - 1.0);
            let (expected, long_run) = exact_load(p, CALLS);
            let (_, stationary) = exact_load(p, 100_000);
            // Clients are i.i.d., so by the CLT the mean of their loads is within 4 standard
            // errors (sample sd / sqrt(100)) of the exact expectation but with probability
            // ~6e-5; the 1e-9 absorbs float summation when the load is deterministic (p = 0, 1).
            let tolerance = 4.0 * (var / n).sqrt() + 1e-9;
            eprintln!(
                "p = {p}: measured {measured:.5} +- {tolerance:.5}, exact {expected:.5} \
                 (call {CALLS}: {long_run:.5}, stationary {stationary:.5}), \
                 unbudgeted {:.5}",
                unbudgeted_load(p)
            );
            assert!(
                (measured - expected).abs() <= tolerance,
                "p = {p}: measured {measured} vs exact {expected} +- {tolerance}"
            );
            if p < 1.0 / 11.0 {
                // Budget not binding: within 0.1 % of the unbudgeted load, long run included.
                for load in [expected, stationary] {
                    let relative = (load - unbudgeted_load(p)).abs() / unbudgeted_load(p);
                    assert!(
                        relative <= 1e-3,
                        "p = {p}: {load} vs {}",
                        unbudgeted_load(p)
                    );
                }
            } else {
                // Binding: only the start-up, while the full bucket drains to half, allows
                // retries (~5-7 extra attempts per client); the long run is first tries only.
                assert!(measured <= 1.01 && expected <= 1.01, "p = {p}: {measured}");
                assert!((stationary - 1.0).abs() <= 1e-3, "p = {p}: {stationary}");
            }
        }
        // 100 % failure is deterministic: 4 + 1 + 998 attempts per client (call 1, 2, rest).
        assert_eq!(exact_load(1.0, CALLS).0, 1.003);
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
