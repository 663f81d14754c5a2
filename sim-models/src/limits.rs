//! Adaptive concurrency limits, admission rate limiters and an adaptive timeout, as plain
//! state machines on virtual time.
//!
//! | policy | what it does | semantics follow |
//! |---|---|---|
//! | [`Aimd`] | concurrency limit, loss-based: +1 while used, ×ratio on a drop or timeout | Netflix `concurrency-limits` `AIMDLimit` |
//! | [`Gradient2`] | concurrency limit, delay-based: shrinks as the latest RTT rises above a long-term average | Netflix `concurrency-limits` `Gradient2Limit` |
//! | [`Adaptive`] | either of the two, built from an [`AdaptiveSpec`] | |
//! | [`TokenBucket`] | admission rate limit: sustained rate, bounded burst | Go's `golang.org/x/time/rate.Limiter` (`Allow`) |
//! | [`LeakyBucket`] | admission rate limit, leaky bucket as a meter | ITU-T I.371 GCRA (continuous-state leaky bucket); same decisions as [`TokenBucket`] |
//! | [`SlidingWindow`] | admission rate limit, sliding-window counter | Cloudflare's sliding window counter (2017 blog post on their rate limiting) |
//! | [`RateLimitKind`], [`RateLimiter`] | one of the three rate limiters, from a scenario's `RateLimit` | |
//! | [`AdaptiveTimeout`] | timeout = a percentile of recent latencies × a multiplier, clamped | no single library (see its docs) |
//!
//! A concurrency limiter owns the current limit: the server admits a request while fewer than
//! `limit()` are in flight, and feeds the limiter one sample per completed request (its round
//! trip time, how many were in flight, and whether it was dropped). Everything here is a
//! function of its inputs and `SimTime`: no wall clock, no hashing, no randomness.
//!
//! One file per concern: `aimd`, `gradient2`, `concurrency` (either of the two, from
//! the scenario's spec), `rate_limit` (the three rate limiters and the choice among them)
//! and `adaptive_timeout`.

use sim_core::path::{FieldPath, Problem};

mod adaptive_timeout;
mod aimd;
mod concurrency;
mod gradient2;
mod rate_limit;

pub use adaptive_timeout::{ADAPTIVE_TIMEOUT_MIN_SAMPLES, AdaptiveTimeout, AdaptiveTimeoutSpec};
pub use aimd::{Aimd, AimdSpec};
pub use concurrency::{Adaptive, AdaptiveSpec};
pub use gradient2::{Gradient2, Gradient2Spec};
pub use rate_limit::{
    LeakyBucket, RateLimit, RateLimitKind, RateLimiter, SlidingWindow, TokenBucket,
};

/// The problems shared by both limit specs: `1 <= min <= initial <= max`.
fn bounds_problems(initial: u32, min: u32, max: u32) -> Vec<Problem> {
    let root = FieldPath::root();
    let mut out = Vec::new();
    if min == 0 {
        out.push(Problem::new(
            root.field("min"),
            "must be at least 1: a limit of 0 admits nothing, so no sample ever raises it",
        ));
    }
    if max < min {
        out.push(Problem::new(
            root.field("max"),
            format!("must be >= min ({min}), got {max}"),
        ));
    } else if !(min..=max).contains(&initial) {
        out.push(Problem::new(
            root.field("initial"),
            format!("must be between min ({min}) and max ({max}), got {initial}"),
        ));
    }
    out
}

#[cfg(test)]
mod test_support {
    //! Helpers the tests of the parts share.

    use sim_core::SimDuration;
    use sim_core::path::Problem;

    pub(super) fn ms(m: u64) -> SimDuration {
        SimDuration::from_millis(m)
    }

    pub(super) fn paths(problems: Vec<Problem>) -> Vec<String> {
        problems.into_iter().map(|p| p.path.to_string()).collect()
    }
}
