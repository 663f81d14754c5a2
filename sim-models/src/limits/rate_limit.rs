//! Adaptive concurrency limits, more admission rate limiters and an adaptive timeout, as
//! plain state machines on virtual time.
//!
//! | policy | what it does | semantics follow |
//! |---|---|---|
//! | [`Aimd`] | concurrency limit, loss-based: +1 while used, ×ratio on a drop or timeout | Netflix `concurrency-limits` `AIMDLimit` |
//! | [`Gradient2`] | concurrency limit, delay-based: shrinks as the latest RTT rises above a long-term average | Netflix `concurrency-limits` `Gradient2Limit` |
//! | [`Adaptive`] | either of the two, built from an [`AdaptiveSpec`] | |
//! | [`LeakyBucket`] | admission rate limit, leaky bucket as a meter | ITU-T I.371 GCRA (continuous-state leaky bucket); same decisions as [`TokenBucket`] |
//! | [`SlidingWindow`] | admission rate limit, sliding-window counter | Cloudflare's sliding window counter (2017 blog post on their rate limiting) |
//! | [`RateLimitKind`], [`RateLimiter`] | one of the three rate limiters, from a scenario's `RateLimit` | |
//! | [`AdaptiveTimeout`] | timeout = a percentile of recent latencies × a multiplier, clamped | no single library (see its docs) |
//!
//! A concurrency limiter owns the current limit: the server admits a request while fewer than
//! `limit()` are in flight, and feeds the limiter one sample per completed request (its round
//! trip time, how many were in flight, and whether it was dropped). Everything here is a
//! function of its inputs and `SimTime`: no wall clock, no hashing, no randomness.

use serde::{Deserialize, Serialize};
use sim_core::path::{FieldPath, Problem};
use sim_core::{SimDuration, SimTime};

use crate::policy::TokenBucket;
use crate::scenario::RateLimit;

const NANOS_PER_SEC: f64 = 1e9;

// ---------------------------------------------------------------------------------------------
// AIMD
// ---------------------------------------------------------------------------------------------

/// A loss-based adaptive concurrency limit (additive increase, multiplicative decrease).
///
/// Semantics and the defaults of `initial`, `backoff_ratio` and `timeout` follow Netflix
/// `concurrency-limits`' `AIMDLimit` (`initialLimit = 10`, `backoffRatio = 0.9`, `timeout =
/// 5 s`, in the versions before `minLimit`/`maxLimit` were added, whose decrease was
/// `max(1, min(limit - 1, (int)(limit * backoffRatio)))`: `min = 1` is that floor). `max =
/// 1000` is ours (it matches `VegasLimit`'s `maxConcurrency`). Today's `AIMDLimit` defaults to
/// `initialLimit = 20, minLimit = 20, maxLimit = 200`; write `Aimd((initial: 20, min: 20,
/// max: 200))` for those.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AimdSpec {
    /// The limit before any sample. Default 10 (`AIMDLimit` `initialLimit`).
    pub initial: u32,
    /// A drop multiplies the limit by this (rounded down). Default 0.9 (`backoffRatio`;
    /// `AIMDLimit` requires `[0.5, 1)`).
    pub backoff_ratio: f64,
    /// A sample with an RTT strictly longer than this counts as a drop. Default 5 s.
    pub timeout: SimDuration,
    /// The limit never goes below this. Default 1.
    pub min: u32,
    /// The limit never goes above this. Default 1000.
    pub max: u32,
}

impl Default for AimdSpec {
    fn default() -> Self {
        AimdSpec {
            initial: 10,
            backoff_ratio: 0.9,
            timeout: SimDuration::from_secs(5),
            min: 1,
            max: 1000,
        }
    }
}

impl AimdSpec {
    /// Every problem with this spec, with paths relative to it.
    pub fn problems(&self) -> Vec<Problem> {
        let root = FieldPath::root();
        let mut out = bounds_problems(self.initial, self.min, self.max);
        // Positive range check, so NaN fails it.
        if !(0.5..1.0).contains(&self.backoff_ratio) {
            out.push(Problem::new(
                root.field("backoff_ratio"),
                format!(
                    "must be in [0.5, 1) (as AIMDLimit requires), got {}",
                    self.backoff_ratio
                ),
            ));
        }
        if self.timeout.is_zero() {
            out.push(Problem::new(
                root.field("timeout"),
                "must be above 0: every sample would count as a drop",
            ));
        }
        out
    }
}

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

/// The state of an [`AimdSpec`] limit. See [`AimdSpec`] for the source of the rules.
#[derive(Clone, Debug, PartialEq)]
pub struct Aimd {
    limit: u32,
    backoff_ratio: f64,
    timeout: SimDuration,
    min: u32,
    max: u32,
}

impl Aimd {
    /// The limit at `spec.initial`, brought into `[min, max]` if it is outside.
    pub fn new(spec: &AimdSpec) -> Self {
        Aimd {
            limit: spec.initial.max(spec.min).min(spec.max),
            backoff_ratio: spec.backoff_ratio,
            timeout: spec.timeout,
            min: spec.min,
            max: spec.max,
        }
    }

    /// The current concurrency limit.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Feeds one completed request (`AIMDLimit._update`):
    /// - dropped, or `rtt > timeout` (strict): `limit = max(min, min(limit - 1,
    ///   floor(limit * backoff_ratio)))`;
    /// - else if `inflight * 2 >= limit` (the limit is being used): `limit = min(max, limit + 1)`;
    /// - else (the caller is app-limited): unchanged.
    pub fn on_sample(&mut self, rtt: SimDuration, inflight: u32, dropped: bool) {
        if dropped || rtt > self.timeout {
            // `as` floors positive values and sends NaN to 0; the `min` keeps the decrease
            // strict whatever the ratio.
            let backed_off = (f64::from(self.limit) * self.backoff_ratio) as u32;
            self.limit = backed_off
                .min(self.limit.saturating_sub(1))
                .max(self.min)
                .min(self.max);
        } else if u64::from(inflight) * 2 >= u64::from(self.limit) {
            self.limit = self.limit.saturating_add(1).min(self.max).max(self.min);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gradient2
// ---------------------------------------------------------------------------------------------

/// How much `Gradient2Limit` shrinks the long-term RTT when it is over twice the latest one.
const LONG_RTT_DECAY: f64 = 0.95;

/// Samples averaged plainly before the long-term RTT becomes an exponential average
/// (`Gradient2Limit` builds `new ExpAvgMeasurement(longWindow, 10)`).
const LONG_RTT_WARMUP: u32 = 10;

/// A delay-based adaptive concurrency limit.
///
/// Semantics and defaults follow Netflix `concurrency-limits`' `Gradient2Limit` (`initialLimit
/// = 20`, `minLimit = 20`, `maxConcurrency = 200`, `smoothing = 0.2`, `queueSize = 4`,
/// `longWindow = 600`, `rttTolerance = 1.5`). Per sample:
///
/// - `shortRtt` = this sample's RTT; `longRtt` = an exponential moving average of all RTTs
///   with factor `2 / (long_window + 1)`, a plain average over the first 10 samples.
/// - If `longRtt / shortRtt > 2`, the stored long-term average is multiplied by 0.95 (it
///   recovers faster after an overload); this sample still uses the undecayed value.
/// - If `inflight < limit / 2` (app-limited): unchanged.
/// - `gradient = clamp(rtt_tolerance * longRtt / shortRtt, 0.5, 1)`,
///   `new = limit * gradient + queue_size`,
///   `limit = clamp(limit * (1 - smoothing) + new * smoothing, min, max)`.
///
/// The project's notes (`REFERENCES.md` 3.5) give a decay of 0.9 and no tolerance;
/// `Gradient2Limit.java` as read for this module has 0.95 and `rttTolerance`, which we follow.
/// `rtt_tolerance: 1.0` gives the tolerance-free gradient. An RTT of 0 is taken as 1 ns (the
/// source would divide by zero).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gradient2Spec {
    /// The limit before any sample. Default 20 (`initialLimit`).
    pub initial: u32,
    /// Default 20 (`minLimit`).
    pub min: u32,
    /// Default 200 (`maxConcurrency`).
    pub max: u32,
    /// The weight of each new estimate, in (0, 1]. Default 0.2 (`smoothing`).
    pub smoothing: f64,
    /// How far the limit may grow past the gradient's estimate while latency is steady.
    /// Default 4 (`queueSize`).
    pub queue_size: u32,
    /// Samples in the long-term RTT average. Default 600 (`longWindow`).
    pub long_window: u32,
    /// How much of a rise of the latest RTT over the long-term average is tolerated before
    /// the limit shrinks (>= 1). Default 1.5 (`rttTolerance`).
    pub rtt_tolerance: f64,
}

impl Default for Gradient2Spec {
    fn default() -> Self {
        Gradient2Spec {
            initial: 20,
            min: 20,
            max: 200,
            smoothing: 0.2,
            queue_size: 4,
            long_window: 600,
            rtt_tolerance: 1.5,
        }
    }
}

impl Gradient2Spec {
    /// Every problem with this spec, with paths relative to it.
    pub fn problems(&self) -> Vec<Problem> {
        let root = FieldPath::root();
        let mut out = bounds_problems(self.initial, self.min, self.max);
        if !(self.smoothing > 0.0 && self.smoothing <= 1.0) {
            out.push(Problem::new(
                root.field("smoothing"),
                format!(
                    "must be in (0, 1] (0 would freeze the limit), got {}",
                    self.smoothing
                ),
            ));
        }
        if self.long_window == 0 {
            out.push(Problem::new(
                root.field("long_window"),
                "must be at least 1 sample, got 0",
            ));
        }
        if !(self.rtt_tolerance.is_finite() && self.rtt_tolerance >= 1.0) {
            out.push(Problem::new(
                root.field("rtt_tolerance"),
                format!(
                    "must be a finite number >= 1 (as Gradient2Limit requires), got {}",
                    self.rtt_tolerance
                ),
            ));
        }
        out
    }
}

/// `ExpAvgMeasurement`: a plain average over the first `warmup` samples, then an exponential
/// moving average with factor `2 / (window + 1)`.
#[derive(Clone, Debug, PartialEq)]
struct ExpAvg {
    value: f64,
    sum: f64,
    count: u32,
    factor: f64,
}

impl ExpAvg {
    fn new(window: u32) -> Self {
        ExpAvg {
            value: 0.0,
            sum: 0.0,
            count: 0,
            factor: 2.0 / (f64::from(window) + 1.0),
        }
    }

    fn add(&mut self, sample: f64) -> f64 {
        if self.count < LONG_RTT_WARMUP {
            self.count += 1;
            self.sum += sample;
            self.value = self.sum / f64::from(self.count);
        } else {
            self.value = self.value * (1.0 - self.factor) + sample * self.factor;
        }
        self.value
    }
}

/// The state of a [`Gradient2Spec`] limit. The limit is kept as `f64`, as the source does.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradient2 {
    estimated: f64,
    long_rtt: ExpAvg,
    min: f64,
    max: f64,
    smoothing: f64,
    queue_size: f64,
    rtt_tolerance: f64,
}

impl Gradient2 {
    /// The limit at `spec.initial`, brought into `[min, max]` if it is outside.
    pub fn new(spec: &Gradient2Spec) -> Self {
        let (min, max) = (f64::from(spec.min), f64::from(spec.max));
        Gradient2 {
            estimated: f64::from(spec.initial).max(min).min(max),
            long_rtt: ExpAvg::new(spec.long_window),
            min,
            max,
            smoothing: spec.smoothing,
            queue_size: f64::from(spec.queue_size),
            rtt_tolerance: spec.rtt_tolerance,
        }
    }

    /// The current concurrency limit: the estimate rounded down, at least 1.
    pub fn limit(&self) -> u32 {
        // `as` saturates and sends NaN to 0.
        (self.estimated as u32).max(1)
    }

    /// The unrounded limit.
    pub fn estimate(&self) -> f64 {
        self.estimated
    }

    /// The long-term RTT average (0 before any sample).
    pub fn long_rtt(&self) -> SimDuration {
        SimDuration::from_nanos_f64(self.long_rtt.value)
    }

    /// Feeds one completed request (`Gradient2Limit._update`; see [`Gradient2Spec`]).
    /// `dropped` is ignored, as in the source: only latency moves this limit.
    pub fn on_sample(&mut self, rtt: SimDuration, inflight: u32, _dropped: bool) {
        let short = rtt.as_nanos().max(1) as f64;
        let long = self.long_rtt.add(short);
        if long / short > 2.0 {
            self.long_rtt.value *= LONG_RTT_DECAY;
        }
        if f64::from(inflight) < self.estimated / 2.0 {
            return;
        }
        let gradient = (self.rtt_tolerance * long / short).clamp(0.5, 1.0);
        let new = self.estimated * gradient + self.queue_size;
        let new = self.estimated * (1.0 - self.smoothing) + new * self.smoothing;
        self.estimated = new.max(self.min).min(self.max);
    }
}

// ---------------------------------------------------------------------------------------------
// Either limit
// ---------------------------------------------------------------------------------------------

/// An adaptive concurrency limit, as written in a scenario file, e.g. `Aimd(())` or
/// `Gradient2((max: 500))`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AdaptiveSpec {
    Aimd(AimdSpec),
    Gradient2(Gradient2Spec),
}

impl AdaptiveSpec {
    /// Every problem with this spec, with paths relative to it (a newtype variant is
    /// transparent to field paths).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            AdaptiveSpec::Aimd(s) => s.problems(),
            AdaptiveSpec::Gradient2(s) => s.problems(),
        }
    }
}

/// The state of an [`AdaptiveSpec`].
#[derive(Clone, Debug, PartialEq)]
pub enum Adaptive {
    Aimd(Aimd),
    Gradient2(Gradient2),
}

impl Adaptive {
    pub fn new(spec: &AdaptiveSpec) -> Self {
        match spec {
            AdaptiveSpec::Aimd(s) => Adaptive::Aimd(Aimd::new(s)),
            AdaptiveSpec::Gradient2(s) => Adaptive::Gradient2(Gradient2::new(s)),
        }
    }

    /// The current concurrency limit (>= 1 for a valid spec).
    pub fn limit(&self) -> u32 {
        match self {
            Adaptive::Aimd(l) => l.limit(),
            Adaptive::Gradient2(l) => l.limit(),
        }
    }

    /// Feeds one completed request: its round-trip time, the requests in flight when it
    /// completed (itself included, as `concurrency-limits` counts them), and whether it was
    /// dropped (timed out, shed or failed by overload).
    pub fn on_sample(&mut self, rtt: SimDuration, inflight: u32, dropped: bool) {
        match self {
            Adaptive::Aimd(l) => l.on_sample(rtt, inflight, dropped),
            Adaptive::Gradient2(l) => l.on_sample(rtt, inflight, dropped),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Leaky bucket (GCRA)
// ---------------------------------------------------------------------------------------------

/// An admission rate limit: a leaky bucket used as a meter, i.e. the GCRA of ITU-T I.371 in
/// its continuous-state form.
///
/// Each admitted request pours `T = 1 / rate_rps` seconds of work into a bucket that drains at
/// one second per second; a request is admitted iff the bucket holds at most the tolerance
/// `tau = (burst - 1) * T`, so at most `burst` back to back from idle and `rate_rps`
/// sustained. This is the virtual-scheduling GCRA with the bucket level = `TAT - now`. A
/// refusal pours nothing, so the meter never delays or queues.
///
/// **Equivalence**: a token bucket of rate `r` and size `b` starting full holds `b - level / T`
/// tokens, and "at least one token" is "level <= (b - 1) * T", so this admits exactly the
/// requests that [`TokenBucket::new(r, b, now)`](TokenBucket::new) admits (up to float
/// rounding at exact ties); the test `leaky_bucket_decides_like_a_token_bucket` checks it.
/// nginx's `limit_req ... nodelay` meters the same way (its `burst` counts the requests
/// beyond the first). As in [`TokenBucket`], a `now` earlier than one already seen is taken
/// as that later time; a rate that is not a number above 0 never drains (`burst` admissions,
/// then none); `burst = 0` admits nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct LeakyBucket {
    /// `T`, in nanoseconds; infinite for a zero rate.
    interval_ns: f64,
    /// `tau = (burst - 1) * T`, in nanoseconds (finite rates only).
    tolerance_ns: f64,
    /// The bucket's content at `updated`, in nanoseconds of work (`TAT - updated`, >= 0).
    level_ns: f64,
    burst: u32,
    /// Admissions so far; only consulted when the rate is zero.
    admitted: u64,
    updated: SimTime,
}

impl LeakyBucket {
    /// An empty (idle) meter at `now`.
    pub fn new(rate_rps: f64, burst: u32, now: SimTime) -> Self {
        // `>` is false for NaN, so NaN joins the negatives at 0.
        let interval_ns = if rate_rps > 0.0 {
            NANOS_PER_SEC / rate_rps
        } else {
            f64::INFINITY
        };
        LeakyBucket {
            interval_ns,
            tolerance_ns: f64::from(burst.saturating_sub(1)) * interval_ns,
            level_ns: 0.0,
            burst,
            admitted: 0,
            updated: now,
        }
    }

    /// Admits one request at `now` if the bucket would not overflow, pouring it in.
    pub fn try_take(&mut self, now: SimTime) -> bool {
        if now > self.updated {
            self.level_ns = (self.level_ns - (now - self.updated).as_nanos() as f64).max(0.0);
            self.updated = now;
        }
        if self.burst == 0 {
            return false;
        }
        if !self.interval_ns.is_finite() {
            // Nothing ever drains: `burst` requests fit, then none.
            let fits = self.admitted < u64::from(self.burst);
            self.admitted += u64::from(fits);
            return fits;
        }
        if self.level_ns <= self.tolerance_ns {
            self.level_ns += self.interval_ns;
            self.admitted += 1;
            true
        } else {
            false
        }
    }

    /// The earliest time at or after `now` when a request would be admitted (`TAT - tau`), or
    /// `None` if never.
    pub fn next_admission(&self, now: SimTime) -> Option<SimTime> {
        if self.burst == 0 || !self.interval_ns.is_finite() {
            return (self.burst > 0 && self.admitted < u64::from(self.burst))
                .then_some(now.max(self.updated));
        }
        let wait = SimDuration::from_nanos_f64((self.level_ns - self.tolerance_ns).ceil());
        Some(now.max(self.updated.saturating_add(wait)))
    }
}

// ---------------------------------------------------------------------------------------------
// Sliding window
// ---------------------------------------------------------------------------------------------

/// An admission rate limit: a sliding-window counter, as Cloudflare describes its rate
/// limiting ("How we built rate limiting capable of scaling to millions of domains", 2017).
///
/// Time is cut into fixed windows of length `W` starting at the limiter's creation. A request
/// at offset `e` into the current window is admitted iff
/// `previous * (W - e) / W + current < limit`, where `previous` and `current` count the
/// requests admitted in the previous and current windows: the previous window's count is
/// weighted by how much of it the sliding window `[now - W, now]` still overlaps, as if its
/// requests were spread evenly. Refusals are not counted (like [`TokenBucket`], a refusal
/// takes nothing). The test is done in exact integer arithmetic. An idle stretch of two
/// windows or more forgets everything. A `now` earlier than one already seen is taken as that
/// later time; `limit = 0` admits nothing; a zero window is taken as 1 ns.
#[derive(Clone, Debug, PartialEq)]
pub struct SlidingWindow {
    limit: u64,
    window_ns: u64,
    start: SimTime,
    /// The index of the current window (`(now - start) / W`).
    index: u64,
    current: u64,
    previous: u64,
    updated: SimTime,
}

impl SlidingWindow {
    /// An idle limiter whose first window starts at `now`.
    pub fn new(limit: u32, window: SimDuration, now: SimTime) -> Self {
        SlidingWindow {
            limit: u64::from(limit),
            window_ns: window.as_nanos().max(1),
            start: now,
            index: 0,
            current: 0,
            previous: 0,
            updated: now,
        }
    }

    /// The limiter a scenario's `RateLimit { rate_rps, burst }` maps to: `limit = burst`
    /// over a window of `burst / rate_rps` seconds (at least 1 ns). It admits the same
    /// sustained rate and the same largest burst from idle as the [`TokenBucket`] of that
    /// `RateLimit`; a 1 s window holding `rate_rps` would instead allow a whole second's
    /// worth at once. A rate that is not a number above 0 gives an endless window: `burst`
    /// admissions, then none.
    pub fn from_limit(limit: &RateLimit, now: SimTime) -> Self {
        let window = if limit.rate_rps > 0.0 {
            SimDuration::from_secs_f64(f64::from(limit.burst) / limit.rate_rps)
        } else {
            SimDuration::MAX
        };
        Self::new(limit.burst, window, now)
    }

    /// Admits one request at `now` if the weighted count is below the limit, counting it.
    pub fn try_take(&mut self, now: SimTime) -> bool {
        let now = now.max(self.updated);
        self.updated = now;
        let since = (now - self.start).as_nanos();
        let index = since / self.window_ns;
        let into = since % self.window_ns;
        if index != self.index {
            self.previous = if index == self.index + 1 {
                self.current
            } else {
                0
            };
            self.current = 0;
            self.index = index;
        }
        let w = u128::from(self.window_ns);
        let weighted =
            u128::from(self.previous) * (w - u128::from(into)) + u128::from(self.current) * w;
        if weighted < u128::from(self.limit) * w {
            self.current += 1;
            true
        } else {
            false
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Choosing a rate limiter
// ---------------------------------------------------------------------------------------------

/// Which algorithm enforces a `RateLimit { rate_rps, burst }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RateLimitKind {
    /// [`TokenBucket`]: bucket of `burst` tokens refilled at `rate_rps` (the default).
    #[default]
    TokenBucket,
    /// [`LeakyBucket`]: GCRA with rate `rate_rps` and tolerance `burst`; the same decisions
    /// as the token bucket, kept for naming and as a cross-check.
    LeakyBucket,
    /// [`SlidingWindow`]: `burst` per window of `burst / rate_rps` seconds (see
    /// [`SlidingWindow::from_limit`]).
    SlidingWindow,
}

/// A rate limiter of any [`RateLimitKind`].
#[derive(Clone, Debug, PartialEq)]
pub enum RateLimiter {
    TokenBucket(TokenBucket),
    LeakyBucket(LeakyBucket),
    SlidingWindow(SlidingWindow),
}

impl RateLimiter {
    /// The limiter of `kind` for `limit`, idle at `now`.
    pub fn new(kind: RateLimitKind, limit: &RateLimit, now: SimTime) -> Self {
        match kind {
            RateLimitKind::TokenBucket => {
                RateLimiter::TokenBucket(TokenBucket::from_limit(limit, now))
            }
            RateLimitKind::LeakyBucket => {
                RateLimiter::LeakyBucket(LeakyBucket::new(limit.rate_rps, limit.burst, now))
            }
            RateLimitKind::SlidingWindow => {
                RateLimiter::SlidingWindow(SlidingWindow::from_limit(limit, now))
            }
        }
    }

    /// Admits one request at `now` or refuses it.
    pub fn try_take(&mut self, now: SimTime) -> bool {
        match self {
            RateLimiter::TokenBucket(l) => l.try_take(now),
            RateLimiter::LeakyBucket(l) => l.try_take(now),
            RateLimiter::SlidingWindow(l) => l.try_take(now),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Adaptive timeout
// ---------------------------------------------------------------------------------------------

/// Below this many observed latencies an [`AdaptiveTimeout`] answers `max`.
pub const ADAPTIVE_TIMEOUT_MIN_SAMPLES: usize = 10;

/// A timeout that follows observed latency: `clamp(percentile(last window latencies) *
/// multiplier, min, max)`, and `max` until 10 latencies have been observed.
///
/// No resilience library ships this exact policy (resilience4j's `TimeLimiter`, Polly's
/// timeout and gRPC deadlines are fixed); its shape is the usual practice of setting a
/// timeout at a high percentile of recent latency plus headroom, the same signal Finagle's
/// `BackupRequestFilter` uses to time backup requests and "The Tail at Scale" (Dean and
/// Barroso, 2013) uses to hedge. The defaults (p99 × 1.5 over the last 1000 latencies,
/// between 10 ms and 10 s) are ours.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptiveTimeoutSpec {
    /// The percentile, as a fraction in (0, 1]. Default 0.99.
    pub percentile: f64,
    /// Headroom over the percentile. Default 1.5.
    pub multiplier: f64,
    /// The timeout never goes below this. Default 10 ms.
    pub min: SimDuration,
    /// The timeout never goes above this, and is this until enough latencies are seen.
    /// Default 10 s.
    pub max: SimDuration,
    /// How many of the most recent latencies the percentile is taken over. Default 1000.
    pub window: u32,
}

impl Default for AdaptiveTimeoutSpec {
    fn default() -> Self {
        AdaptiveTimeoutSpec {
            percentile: 0.99,
            multiplier: 1.5,
            min: SimDuration::from_millis(10),
            max: SimDuration::from_secs(10),
            window: 1000,
        }
    }
}

impl AdaptiveTimeoutSpec {
    /// Every problem with this spec, with paths relative to it.
    pub fn problems(&self) -> Vec<Problem> {
        let root = FieldPath::root();
        let mut out = Vec::new();
        if !(self.percentile > 0.0 && self.percentile <= 1.0) {
            out.push(Problem::new(
                root.field("percentile"),
                format!(
                    "must be a fraction in (0, 1], e.g. 0.99 for p99, got {}",
                    self.percentile
                ),
            ));
        }
        if !(self.multiplier.is_finite() && self.multiplier > 0.0) {
            out.push(Problem::new(
                root.field("multiplier"),
                format!("must be a finite number above 0, got {}", self.multiplier),
            ));
        }
        if self.min.is_zero() {
            out.push(Problem::new(
                root.field("min"),
                "must be above 0: a zero timeout fails every request",
            ));
        }
        if self.max < self.min {
            out.push(Problem::new(
                root.field("max"),
                format!("must be >= min ({}), got {}", self.min, self.max),
            ));
        }
        if (self.window as usize) < ADAPTIVE_TIMEOUT_MIN_SAMPLES {
            out.push(Problem::new(
                root.field("window"),
                format!(
                    "must be at least {ADAPTIVE_TIMEOUT_MIN_SAMPLES}: the timeout stays at max until that many latencies are observed, got {}",
                    self.window
                ),
            ));
        }
        out
    }
}

/// The state of an [`AdaptiveTimeoutSpec`]: the last `window` latencies, in arrival order (a
/// ring) and sorted, so an observation costs O(window) (one insertion and one removal in the
/// sorted copy) and reading the timeout O(1).
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveTimeout {
    spec: AdaptiveTimeoutSpec,
    /// Latencies in nanoseconds; once full, `ring[next]` is the oldest.
    ring: Vec<u64>,
    next: usize,
    sorted: Vec<u64>,
    timeout: SimDuration,
}

impl AdaptiveTimeout {
    /// No latencies yet: the timeout is `max`.
    pub fn new(spec: &AdaptiveTimeoutSpec) -> Self {
        AdaptiveTimeout {
            spec: spec.clone(),
            ring: Vec::new(),
            next: 0,
            sorted: Vec::new(),
            timeout: spec.max,
        }
    }

    /// Records one latency, forgetting the oldest once `window` are held.
    pub fn observe(&mut self, latency: SimDuration) {
        let ns = latency.as_nanos();
        let window = (self.spec.window as usize).max(1);
        if self.ring.len() < window {
            self.ring.push(ns);
        } else {
            let old = std::mem::replace(&mut self.ring[self.next], ns);
            self.next = (self.next + 1) % window;
            // `old` is in `sorted`: it was inserted when observed and not removed since.
            if let Ok(i) = self.sorted.binary_search(&old) {
                self.sorted.remove(i);
            }
        }
        let at = self.sorted.partition_point(|&x| x <= ns);
        self.sorted.insert(at, ns);
        self.timeout = self.compute();
    }

    /// The current timeout.
    pub fn timeout(&self) -> SimDuration {
        self.timeout
    }

    /// The configured percentile of the held latencies (nearest rank), or `None` while fewer
    /// than [`ADAPTIVE_TIMEOUT_MIN_SAMPLES`] are held.
    pub fn percentile(&self) -> Option<SimDuration> {
        let n = self.sorted.len();
        if n < ADAPTIVE_TIMEOUT_MIN_SAMPLES {
            return None;
        }
        // Nearest rank: the smallest value with at least `p * n` values at or below it. The
        // epsilon keeps `0.99 * 1000` from rounding up to rank 991.
        let rank = (self.spec.percentile * n as f64 - 1e-9).ceil();
        let i = if rank >= 1.0 { rank as usize - 1 } else { 0 };
        Some(SimDuration::from_nanos(self.sorted[i.min(n - 1)]))
    }

    /// How many latencies are held.
    pub fn samples(&self) -> usize {
        self.sorted.len()
    }

    fn compute(&self) -> SimDuration {
        match self.percentile() {
            None => self.spec.max,
            Some(p) => SimDuration::from_nanos_f64(p.as_nanos() as f64 * self.spec.multiplier)
                .max(self.spec.min)
                .min(self.spec.max),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::RngExt;
    use sim_core::rng;

    use super::*;

    const MS: SimDuration = SimDuration::from_millis(1);

    fn ms(m: u64) -> SimDuration {
        SimDuration::from_millis(m)
    }
    fn at_ms(m: u64) -> SimTime {
        SimTime(ms(m).as_nanos())
    }

    // --- AIMD ---

    #[test]
    fn aimd_follows_aimdlimit() {
        let d = AimdSpec::default();
        let floor5 = AimdSpec {
            min: 5,
            ..d.clone()
        };
        let half = AimdSpec {
            backoff_ratio: 0.5,
            ..d.clone()
        };
        let capped = AimdSpec {
            max: 12,
            ..d.clone()
        };
        let timeout = SimDuration::from_secs(5);
        let late = timeout + SimDuration::from_nanos(1);
        // (spec, starting limit, rtt, inflight, dropped, expected limit)
        #[rustfmt::skip]
        let cases: &[(&AimdSpec, u32, SimDuration, u32, bool, u32)] = &[
            // Decrease on a drop: floor(limit * 0.9), always by at least 1, never below min.
            (&d, 10, ms(1), 10, true, 9),
            (&d, 100, ms(1), 100, true, 90),
            (&d, 15, ms(1), 15, true, 13),
            (&d, 2, ms(1), 2, true, 1),
            (&d, 1, ms(1), 1, true, 1),
            (&floor5, 5, ms(1), 5, true, 5),
            (&floor5, 6, ms(1), 6, true, 5),
            (&half, 10, ms(1), 10, true, 5),
            // A drop decreases even when the limit is not in use.
            (&d, 10, ms(1), 0, true, 9),
            // An rtt strictly above the timeout is a drop; at the timeout it is not.
            (&d, 10, late, 10, false, 9),
            (&d, 10, timeout, 10, false, 11),
            // Increase only when inflight * 2 >= limit.
            (&d, 10, ms(1), 5, false, 11),
            (&d, 10, ms(1), 4, false, 10),
            (&d, 11, ms(1), 6, false, 12),
            (&d, 11, ms(1), 5, false, 11),
            (&d, 10, ms(1), 0, false, 10),
            // Capped at max.
            (&capped, 12, ms(1), 12, false, 12),
            (&capped, 11, ms(1), 12, false, 12),
        ];
        for &(spec, start, rtt, inflight, dropped, want) in cases {
            let mut l = Aimd::new(&AimdSpec {
                initial: start,
                ..spec.clone()
            });
            assert_eq!(l.limit(), start);
            l.on_sample(rtt, inflight, dropped);
            assert_eq!(
                l.limit(),
                want,
                "{spec:?} from {start}: rtt {rtt}, inflight {inflight}, dropped {dropped}"
            );
        }
    }

    #[test]
    fn aimd_starts_at_initial_within_bounds() {
        assert_eq!(Aimd::new(&AimdSpec::default()).limit(), 10);
        let low = AimdSpec {
            initial: 1,
            min: 4,
            ..AimdSpec::default()
        };
        assert_eq!(Aimd::new(&low).limit(), 4);
        let high = AimdSpec {
            initial: 50,
            max: 20,
            ..AimdSpec::default()
        };
        assert_eq!(Aimd::new(&high).limit(), 20);
    }

    /// The RTT of a server that serves `capacity` requests at once in `base` and queues the
    /// rest: by Little's law its latency grows as `inflight / capacity` past capacity.
    fn server_rtt(base: SimDuration, capacity: u32, inflight: u32) -> SimDuration {
        if inflight <= capacity {
            base
        } else {
            SimDuration::from_nanos(base.as_nanos() * u64::from(inflight) / u64::from(capacity))
        }
    }

    #[test]
    fn aimd_oscillates_around_a_servers_capacity() {
        let base = ms(100);
        for capacity in [7, 50, 300] {
            // Any queueing is a timeout; demand always exceeds the limit.
            let mut l = Aimd::new(&AimdSpec {
                timeout: base,
                ..AimdSpec::default()
            });
            let (mut low, mut high, mut sum_limit, mut sum_throughput, mut n) =
                (u32::MAX, 0, 0.0, 0.0, 0.0);
            for i in 0..20_000 {
                let inflight = l.limit();
                let rtt = server_rtt(base, capacity, inflight);
                if i >= 5_000 {
                    low = low.min(inflight);
                    high = high.max(inflight);
                    sum_limit += f64::from(inflight);
                    sum_throughput += f64::from(inflight) / rtt.as_secs_f64();
                    n += 1.0;
                }
                l.on_sample(rtt, inflight, false);
            }
            let (mean_limit, throughput) = (sum_limit / n, sum_throughput / n);
            let cap = f64::from(capacity);
            assert_eq!(high, capacity + 1, "capacity {capacity}");
            assert!(
                f64::from(low) >= (0.9 * (cap + 1.0)).floor() - 1.0,
                "capacity {capacity}: fell to {low}"
            );
            assert!(
                (mean_limit - cap).abs() <= 0.1 * cap + 1.0,
                "capacity {capacity}: mean limit {mean_limit}"
            );
            // Little's law: the throughput is the limit over the RTT, close to the server's
            // capacity / base.
            let best = cap / base.as_secs_f64();
            assert!(
                throughput <= best * 1.0001 && throughput >= 0.88 * best,
                "capacity {capacity}: throughput {throughput} of {best}"
            );
        }
    }

    // --- Gradient2 ---

    fn busy(l: &mut Gradient2, rtt: SimDuration, samples: u32) {
        for _ in 0..samples {
            let inflight = l.limit();
            l.on_sample(rtt, inflight, false);
        }
    }

    #[test]
    fn gradient2_grows_by_queue_size_times_smoothing_while_latency_is_steady() {
        let mut l = Gradient2::new(&Gradient2Spec::default());
        assert_eq!(l.limit(), 20);
        // gradient = 1: limit += queue_size * smoothing = 0.8 per sample.
        for i in 1..=225u32 {
            busy(&mut l, ms(10), 1);
            let want = (20.0 + 0.8 * f64::from(i)).min(200.0);
            assert!(
                (l.estimate() - want).abs() < 1e-9,
                "sample {i}: {} != {want}",
                l.estimate()
            );
        }
        assert_eq!(l.limit(), 200);
        busy(&mut l, ms(10), 100);
        assert_eq!(l.limit(), 200, "capped at max");
    }

    #[test]
    fn gradient2_long_rtt_warms_up_then_averages_exponentially() {
        let mut l = Gradient2::new(&Gradient2Spec::default());
        for (i, rtt) in (1..=10u64).map(|m| ms(m * 10)).enumerate() {
            l.on_sample(rtt, 0, false);
            // The plain average of 10, 20, ..., 10 * (i + 1) ms.
            let want = 5.0 * (i as f64 + 2.0);
            assert!((l.long_rtt().as_millis_f64() - want).abs() < 1e-6, "{i}");
        }
        // Then an exponential average with factor 2 / 601.
        let before = l.long_rtt().as_nanos() as f64;
        l.on_sample(ms(100), 0, false);
        let f = 2.0 / 601.0;
        let want = before * (1.0 - f) + 1e8 * f;
        assert!((l.long_rtt().as_nanos() as f64 - want).abs() <= 1.0);
        // A sample under half the average decays the stored average by 0.95.
        let before = l.long_rtt().as_nanos() as f64;
        l.on_sample(ms(1), 0, false);
        let want = (before * (1.0 - f) + 1e6 * f) * 0.95;
        assert!((l.long_rtt().as_nanos() as f64 - want).abs() <= 1.0);
    }

    #[test]
    fn gradient2_leaves_an_app_limited_limit_alone() {
        let spec = Gradient2Spec {
            initial: 40,
            ..Gradient2Spec::default()
        };
        let mut l = Gradient2::new(&spec);
        // inflight < limit / 2: unchanged, whatever the latency.
        for (rtt, inflight) in [(ms(10), 19), (ms(1000), 19), (ms(1), 0), (ms(10), 10)] {
            l.on_sample(rtt, inflight, false);
            assert_eq!(l.estimate(), 40.0, "rtt {rtt}, inflight {inflight}");
        }
        // inflight == limit / 2: not app-limited.
        let mut l = Gradient2::new(&spec);
        l.on_sample(ms(10), 20, false);
        assert!((l.estimate() - 40.8).abs() < 1e-9);
        // A drop alone does not move it either (only latency does).
        let mut l = Gradient2::new(&spec);
        l.on_sample(ms(10), 0, true);
        assert_eq!(l.estimate(), 40.0);
    }

    /// Runs at `base` until the limit is at max, then at `slow` for `samples`: the limits.
    fn slowdown(
        spec: &Gradient2Spec,
        base: SimDuration,
        slow: SimDuration,
        samples: usize,
    ) -> (Gradient2, Vec<u32>) {
        let mut l = Gradient2::new(spec);
        busy(&mut l, base, 400);
        assert_eq!(l.limit(), spec.max);
        let trace = (0..samples)
            .map(|_| {
                busy(&mut l, slow, 1);
                l.limit()
            })
            .collect();
        (l, trace)
    }

    #[test]
    fn gradient2_shrinks_toward_min_when_latency_rises() {
        let default = Gradient2Spec::default();
        let strict = Gradient2Spec {
            rtt_tolerance: 1.0,
            ..default.clone()
        };
        // Without tolerance a doubling gives gradient 0.5: limit <- 0.9 limit + 0.8, whose
        // fixed point (8) is under min, so the limit falls steadily to min and stays there
        // while the long-term average (600 samples) slowly catches up.
        let (mut l, trace) = slowdown(&strict, ms(10), ms(20), 150);
        assert!(trace.windows(2).all(|w| w[1] <= w[0]), "{trace:?}");
        assert!(trace[20] <= 40, "{trace:?}");
        assert_eq!(trace[149], 20, "{trace:?}");
        // Back to the old latency: growth resumes, 0.8 per sample.
        busy(&mut l, ms(10), 300);
        assert_eq!(l.limit(), 200);

        // The default tolerance of 1.5 absorbs half of a doubling (gradient 0.75): the limit
        // still falls fast, to about a fifth, then creeps back up as the long-term average
        // absorbs the new latency (Gradient2Limit's documented drift).
        let (_, trace) = slowdown(&default, ms(10), ms(20), 150);
        let lowest = trace.iter().copied().min().unwrap();
        let at = trace.iter().position(|&x| x == lowest).unwrap();
        assert!(trace[..=at].windows(2).all(|w| w[1] <= w[0]), "{trace:?}");
        assert!(lowest <= 45 && at >= 50, "{trace:?}");
        assert!(trace[149] > lowest, "{trace:?}");
        // A tripling (gradient 0.5) takes it to min, where it stays until the long-term
        // average has moved about a third of the way.
        let (_, trace) = slowdown(&default, ms(10), ms(30), 150);
        assert!(trace[..100].windows(2).all(|w| w[1] <= w[0]), "{trace:?}");
        assert!(trace[30..100].iter().all(|&x| x == 20), "{trace:?}");
    }

    #[test]
    fn gradient2_limit_is_the_floor_and_at_least_one() {
        let mut l = Gradient2::new(&Gradient2Spec {
            initial: 1,
            min: 1,
            ..Gradient2Spec::default()
        });
        assert_eq!(l.limit(), 1);
        l.on_sample(ms(10), 1, false);
        assert!((l.estimate() - 1.8).abs() < 1e-9);
        assert_eq!(l.limit(), 1);
        // A zero RTT is taken as 1 ns, not a division by zero.
        l.on_sample(SimDuration::ZERO, 1, false);
        assert!(l.estimate().is_finite());
    }

    // --- Adaptive ---

    #[test]
    fn adaptive_dispatches_and_parses() {
        let spec: AdaptiveSpec = ron::from_str("Aimd((backoff_ratio: 0.5, initial: 8))").unwrap();
        assert_eq!(
            spec,
            AdaptiveSpec::Aimd(AimdSpec {
                backoff_ratio: 0.5,
                initial: 8,
                ..AimdSpec::default()
            })
        );
        let mut a = Adaptive::new(&spec);
        assert_eq!(a.limit(), 8);
        a.on_sample(ms(1), 8, true);
        assert_eq!(a.limit(), 4);

        let spec: AdaptiveSpec = ron::from_str("Gradient2(())").unwrap();
        assert_eq!(spec, AdaptiveSpec::Gradient2(Gradient2Spec::default()));
        let mut g = Adaptive::new(&spec);
        assert_eq!(g.limit(), 20);
        for _ in 0..6 {
            g.on_sample(ms(5), 20, false);
        }
        assert_eq!(g.limit(), 24);

        assert!(ron::from_str::<AdaptiveSpec>("Aimd((ratio: 0.5))").is_err());
        assert!(ron::from_str::<AdaptiveSpec>("Vegas(())").is_err());
        let t: AdaptiveTimeoutSpec = ron::from_str("(min: \"5ms\")").unwrap();
        assert_eq!(t.min, ms(5));
        assert_eq!(t.window, 1000);
        assert!(ron::from_str::<AdaptiveTimeoutSpec>("(p: 0.5)").is_err());
    }

    fn paths(problems: Vec<Problem>) -> Vec<String> {
        problems.into_iter().map(|p| p.path.to_string()).collect()
    }

    #[test]
    fn problems_name_the_field() {
        assert!(
            AdaptiveSpec::Aimd(AimdSpec::default())
                .problems()
                .is_empty()
        );
        assert!(
            AdaptiveSpec::Gradient2(Gradient2Spec::default())
                .problems()
                .is_empty()
        );
        assert!(AdaptiveTimeoutSpec::default().problems().is_empty());
        #[rustfmt::skip]
        let aimd: &[(AimdSpec, &[&str])] = &[
            (AimdSpec { backoff_ratio: 1.0, ..AimdSpec::default() }, &["backoff_ratio"]),
            (AimdSpec { backoff_ratio: 0.4, ..AimdSpec::default() }, &["backoff_ratio"]),
            (AimdSpec { backoff_ratio: f64::NAN, ..AimdSpec::default() }, &["backoff_ratio"]),
            (AimdSpec { timeout: SimDuration::ZERO, ..AimdSpec::default() }, &["timeout"]),
            (AimdSpec { min: 0, initial: 0, ..AimdSpec::default() }, &["min"]),
            (AimdSpec { min: 20, max: 10, ..AimdSpec::default() }, &["max"]),
            (AimdSpec { initial: 2000, ..AimdSpec::default() }, &["initial"]),
        ];
        for (spec, want) in aimd {
            assert_eq!(paths(spec.problems()), *want, "{spec:?}");
        }
        #[rustfmt::skip]
        let gradient: &[(Gradient2Spec, &[&str])] = &[
            (Gradient2Spec { smoothing: 0.0, ..Gradient2Spec::default() }, &["smoothing"]),
            (Gradient2Spec { smoothing: 1.5, ..Gradient2Spec::default() }, &["smoothing"]),
            (Gradient2Spec { long_window: 0, ..Gradient2Spec::default() }, &["long_window"]),
            (Gradient2Spec { rtt_tolerance: 0.9, ..Gradient2Spec::default() }, &["rtt_tolerance"]),
            (Gradient2Spec { initial: 10, ..Gradient2Spec::default() }, &["initial"]),
        ];
        for (spec, want) in gradient {
            assert_eq!(paths(spec.problems()), *want, "{spec:?}");
        }
        #[rustfmt::skip]
        let timeout: &[(AdaptiveTimeoutSpec, &[&str])] = &[
            (AdaptiveTimeoutSpec { percentile: 0.0, ..AdaptiveTimeoutSpec::default() }, &["percentile"]),
            (AdaptiveTimeoutSpec { percentile: 99.0, ..AdaptiveTimeoutSpec::default() }, &["percentile"]),
            (AdaptiveTimeoutSpec { multiplier: f64::INFINITY, ..AdaptiveTimeoutSpec::default() }, &["multiplier"]),
            (AdaptiveTimeoutSpec { min: SimDuration::ZERO, ..AdaptiveTimeoutSpec::default() }, &["min"]),
            (AdaptiveTimeoutSpec { max: MS, ..AdaptiveTimeoutSpec::default() }, &["max"]),
            (AdaptiveTimeoutSpec { window: 9, ..AdaptiveTimeoutSpec::default() }, &["window"]),
        ];
        for (spec, want) in timeout {
            assert_eq!(paths(spec.problems()), *want, "{spec:?}");
        }
    }

    // --- Leaky bucket ---

    #[test]
    fn leaky_bucket_admits_a_burst_then_the_rate() {
        // 10 rps (T = 100 ms), burst 3.
        let mut b = LeakyBucket::new(10.0, 3, SimTime::ZERO);
        let t0 = at_ms(1000);
        assert_eq!(b.next_admission(t0), Some(t0));
        assert!(b.try_take(t0) && b.try_take(t0) && b.try_take(t0));
        assert!(!b.try_take(t0));
        // The level is 300 ms of work; the tolerance is 200 ms: the next fits at +100 ms.
        assert_eq!(b.next_admission(t0), Some(at_ms(1100)));
        assert!(!b.try_take(at_ms(1099)));
        assert!(b.try_take(at_ms(1100)));
        assert!(!b.try_take(at_ms(1199)));
        assert!(b.try_take(at_ms(1200)));
        // A long idle empties it: a full burst again, never more.
        let later = at_ms(60_000);
        assert_eq!((0..10).filter(|_| b.try_take(later)).count(), 3);
        // An earlier `now` is taken as the latest seen.
        assert!(!b.try_take(at_ms(1000)));
    }

    #[test]
    fn leaky_bucket_degenerate_rates() {
        let mut zero_rate = LeakyBucket::new(0.0, 2, SimTime::ZERO);
        let mut nan_rate = LeakyBucket::new(f64::NAN, 2, SimTime::ZERO);
        for b in [&mut zero_rate, &mut nan_rate] {
            assert!(b.try_take(SimTime::ZERO) && b.try_take(at_ms(5)));
            assert!(!b.try_take(at_ms(1_000_000)));
            assert_eq!(b.next_admission(SimTime::ZERO), None);
        }
        let mut no_burst = LeakyBucket::new(100.0, 0, SimTime::ZERO);
        assert!((0..100).all(|i| !no_burst.try_take(at_ms(i * 100))));
        assert_eq!(no_burst.next_admission(SimTime::ZERO), None);
    }

    #[test]
    fn leaky_bucket_decides_like_a_token_bucket() {
        // Including rates whose emission interval is not a whole number of nanoseconds.
        for (seed, rate, burst) in [
            (1, 100.0, 1),
            (2, 100.0, 10),
            (3, 3.0, 5),
            (4, 1000.0, 50),
            (5, 7.3, 2),
            (6, 0.5, 3),
        ] {
            let mut rng = rng::stream(seed, "limits/gcra");
            let start = SimTime(rng.random_range(0..1_000_000_000u64));
            let mut gcra = LeakyBucket::new(rate, burst, start);
            let mut bucket = TokenBucket::new(rate, burst, start);
            // Arrivals at about 1.5x the rate, in bursts and lulls: gaps uniform in
            // [0, 2 / (1.5 rate)) most of the time, with an occasional long pause.
            let mean_gap_ns = (1e9 / (1.5 * rate)) as u64;
            let mut t = start;
            let (mut admitted, mut refused) = (0, 0);
            for i in 0..20_000 {
                let gap = if rng.random_range(0..100u32) == 0 {
                    rng.random_range(0..50 * mean_gap_ns)
                } else {
                    rng.random_range(0..2 * mean_gap_ns)
                };
                t = t.saturating_add(SimDuration::from_nanos(gap));
                let (g, b) = (gcra.try_take(t), bucket.try_take(t));
                assert_eq!(g, b, "rate {rate}, burst {burst}: arrival {i} at {t}");
                if g {
                    admitted += 1;
                } else {
                    refused += 1;
                }
            }
            assert!(admitted > 1000 && refused > 1000, "{admitted} / {refused}");
        }
    }

    // --- Sliding window ---

    #[test]
    fn sliding_window_admits_the_limit_in_a_window_from_idle() {
        let start = at_ms(500);
        let mut w = SlidingWindow::new(10, ms(1000), start);
        let admitted: Vec<bool> = (0..15).map(|i| w.try_take(at_ms(500 + i * 10))).collect();
        assert_eq!(admitted.iter().filter(|&&a| a).count(), 10);
        assert!(admitted[..10].iter().all(|&a| a) && admitted[10..].iter().all(|&a| !a));
        // Still full at the last nanosecond of the window.
        assert!(!w.try_take(SimTime(at_ms(1500).as_nanos() - 1)));
    }

    #[test]
    fn sliding_window_carries_over_the_previous_window_by_overlap() {
        let mut w = SlidingWindow::new(10, ms(1000), SimTime::ZERO);
        assert_eq!((0..20).filter(|_| w.try_take(at_ms(100))).count(), 10);
        // Halfway through the next window, the previous 10 weigh 5: 5 more fit.
        assert_eq!((0..20).filter(|_| w.try_take(at_ms(1500))).count(), 5);
        // At 3/4 the previous window weighs 2.5; with 5 current, 7.5 < 10 admits 3 more.
        assert_eq!((0..20).filter(|_| w.try_take(at_ms(1750))).count(), 3);
        // Next window: the previous 8 weigh 8 at its start, 4 halfway.
        assert_eq!((0..20).filter(|_| w.try_take(at_ms(2000))).count(), 2);
        // 8 * 0.5 + 2 = 6: 4 more; at 9/10, 8 * 0.1 + 6 = 6.8: 4 more (9.8 < 10).
        assert_eq!((0..20).filter(|_| w.try_take(at_ms(2500))).count(), 4);
        assert_eq!((0..20).filter(|_| w.try_take(at_ms(2900))).count(), 4);
        // The next window opens with the previous 10 at full weight: nothing until it slides.
        assert!(!w.try_take(at_ms(3000)));
        assert!(w.try_take(at_ms(3001)));
        assert!(!w.try_take(at_ms(3001)));
    }

    #[test]
    fn sliding_window_forgets_after_a_long_idle() {
        for idle_until in [2000, 2001, 3500, 1_000_000] {
            let mut w = SlidingWindow::new(4, ms(1000), SimTime::ZERO);
            assert_eq!((0..9).filter(|_| w.try_take(at_ms(999))).count(), 4);
            assert_eq!(
                (0..9).filter(|_| w.try_take(at_ms(idle_until))).count(),
                4,
                "{idle_until}"
            );
        }
        // One window later is not idle enough: the previous window still weighs in.
        let mut w = SlidingWindow::new(4, ms(1000), SimTime::ZERO);
        assert_eq!((0..9).filter(|_| w.try_take(at_ms(999))).count(), 4);
        assert_eq!((0..9).filter(|_| w.try_take(at_ms(1000))).count(), 0);
        assert_eq!((0..9).filter(|_| w.try_take(at_ms(1500))).count(), 2);
        // Degenerate: limit 0 admits nothing.
        let mut none = SlidingWindow::new(0, ms(1000), SimTime::ZERO);
        assert!(!none.try_take(SimTime::ZERO));
    }

    // --- Rate limiter kinds ---

    #[test]
    fn every_rate_limiter_kind_holds_the_rate_and_the_burst() {
        let limit = RateLimit {
            rate_rps: 100.0,
            burst: 10,
            kind: Default::default(),
        };
        assert_eq!(RateLimitKind::default(), RateLimitKind::TokenBucket);
        let kind: RateLimitKind = ron::from_str("SlidingWindow").unwrap();
        assert_eq!(kind, RateLimitKind::SlidingWindow);
        for kind in [
            RateLimitKind::TokenBucket,
            RateLimitKind::LeakyBucket,
            RateLimitKind::SlidingWindow,
        ] {
            let mut l = RateLimiter::new(kind, &limit, SimTime::ZERO);
            // From idle: the burst at once.
            assert_eq!(
                (0..50).filter(|_| l.try_take(at_ms(5))).count(),
                10,
                "{kind:?}"
            );
            // Overloaded at 1000 rps for 10 s: about the rate.
            let admitted = (1..=10_000u64)
                .filter(|&i| l.try_take(at_ms(5 + i)))
                .count();
            assert!(
                (990..=1010).contains(&admitted),
                "{kind:?}: {admitted} in 10 s"
            );
        }
        let w = SlidingWindow::from_limit(&limit, SimTime::ZERO);
        assert_eq!((w.limit, w.window_ns), (10, ms(100).as_nanos()));
        let stuck = SlidingWindow::from_limit(
            &RateLimit {
                rate_rps: 0.0,
                burst: 3,
                kind: Default::default(),
            },
            SimTime::ZERO,
        );
        assert_eq!(stuck.window_ns, u64::MAX);
    }

    // --- Adaptive timeout ---

    #[test]
    fn adaptive_timeout_starts_at_max_until_enough_samples() {
        let spec = AdaptiveTimeoutSpec::default();
        let mut t = AdaptiveTimeout::new(&spec);
        assert_eq!(t.timeout(), spec.max);
        for i in 1..ADAPTIVE_TIMEOUT_MIN_SAMPLES {
            t.observe(ms(100));
            assert_eq!(t.timeout(), spec.max, "after {i}");
            assert_eq!(t.percentile(), None);
        }
        t.observe(ms(100));
        assert_eq!(t.percentile(), Some(ms(100)));
        assert_eq!(t.timeout(), ms(150));
    }

    #[test]
    fn adaptive_timeout_is_p99_times_multiplier_over_the_window() {
        let mut t = AdaptiveTimeout::new(&AdaptiveTimeoutSpec::default());
        // 1..=1000 ms in a scrambled order (371 is coprime with 1000): p99 = 990 ms.
        for i in 0..1000u64 {
            t.observe(ms(i * 371 % 1000 + 1));
        }
        assert_eq!(t.samples(), 1000);
        assert_eq!(t.percentile(), Some(ms(990)));
        assert_eq!(t.timeout(), ms(1485));
        // The window slides: 1000 newer latencies of 20 ms replace them all.
        for i in 0..1000 {
            t.observe(ms(20));
            if i == 10 {
                // The 11 fast ones are all below p99 still.
                assert_eq!(t.percentile(), Some(ms(990)));
            }
        }
        assert_eq!(t.samples(), 1000);
        assert_eq!(t.timeout(), ms(30));
        // Other percentiles and multipliers, nearest rank.
        let mut t = AdaptiveTimeout::new(&AdaptiveTimeoutSpec {
            percentile: 0.5,
            multiplier: 2.0,
            window: 100,
            ..AdaptiveTimeoutSpec::default()
        });
        for i in (1..=100u64).rev() {
            t.observe(ms(i));
        }
        assert_eq!(t.percentile(), Some(ms(50)));
        assert_eq!(t.timeout(), ms(100));
    }

    #[test]
    fn adaptive_timeout_converges_on_a_known_distribution() {
        // Uniform on [0, 100) ms: p99 = 99 ms, the timeout 148.5 ms.
        let mut rng = rng::stream(7, "limits/timeout");
        let mut t = AdaptiveTimeout::new(&AdaptiveTimeoutSpec::default());
        for _ in 0..5000 {
            t.observe(SimDuration::from_nanos(rng.random_range(0..100_000_000u64)));
        }
        let got = t.timeout().as_millis_f64();
        assert!((got - 148.5).abs() < 148.5 * 0.02, "{got} ms");
    }

    #[test]
    fn adaptive_timeout_clamps() {
        let spec = AdaptiveTimeoutSpec::default();
        let mut fast = AdaptiveTimeout::new(&spec);
        let mut slow = AdaptiveTimeout::new(&spec);
        for _ in 0..100 {
            fast.observe(MS);
            slow.observe(SimDuration::from_secs(20));
        }
        assert_eq!(fast.percentile(), Some(MS));
        assert_eq!(fast.timeout(), spec.min);
        assert_eq!(slow.timeout(), spec.max);
    }
}
