//! Admission rate limiters: a token bucket, a leaky bucket (GCRA) and a sliding-window
//! counter, and [`RateLimiter`], the one a scenario's `RateLimit` chooses.

use serde::{Deserialize, Serialize};
use sim_core::{SimDuration, SimTime};

const NANOS_PER_SEC: f64 = 1e9;

// ---------------------------------------------------------------------------------------------
// Token bucket
// ---------------------------------------------------------------------------------------------

/// A token bucket admission limit: sustained `rate_rps`, bursts of up to `burst`.
///
/// Semantics follow Go's `golang.org/x/time/rate.Limiter` (`NewLimiter(r, b)` + `Allow`): the
/// bucket holds at most `burst` tokens, starts full, refills continuously at `rate_rps` tokens
/// per second, and an admission takes one whole token or is refused (a refusal takes nothing
/// and never waits). resilience4j's `RateLimiter` differs: it refreshes `limitForPeriod`
/// permits at fixed period boundaries, so its bursts are aligned to the period; a continuous
/// bucket has no such edges, which keeps results independent of where a run's clock starts.
///
/// Tokens are `f64` and the refill is computed from the elapsed nanoseconds at each call, so
/// the state is exact up to float rounding and identical on every replay.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBucket {
    rate_rps: f64,
    burst: f64,
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: SimTime,
}

impl TokenBucket {
    /// A full bucket at `now`. A rate that is not a number above 0 never refills (the bucket
    /// admits `burst` and then nothing); `burst = 0` admits nothing.
    pub fn new(rate_rps: f64, burst: u32, now: SimTime) -> Self {
        // `>` is false for NaN, so NaN joins the negatives at 0.
        let rate_rps = if rate_rps > 0.0 { rate_rps } else { 0.0 };
        let burst = f64::from(burst);
        TokenBucket {
            rate_rps,
            burst,
            tokens: burst,
            updated: now,
        }
    }

    /// The bucket a service's `admission.rate_limit` describes, full at `now`.
    pub fn from_limit(limit: &RateLimit, now: SimTime) -> Self {
        Self::new(limit.rate_rps, limit.burst, now)
    }

    /// Admits one request at `now` if a whole token is available, taking it.
    pub fn try_take(&mut self, now: SimTime) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Tokens available at `now` (fractional), without taking any.
    pub fn available(&self, now: SimTime) -> f64 {
        let mut probe = self.clone();
        probe.refill(now);
        probe.tokens
    }

    fn refill(&mut self, now: SimTime) {
        // An earlier `now` than the last update refills nothing and does not move the clock
        // back, so a late-delivered call cannot mint tokens twice for the same span.
        if now <= self.updated {
            return;
        }
        let elapsed_ns = (now - self.updated).as_nanos() as f64;
        // ns * rate first, then / 1e9: exact for whole-number rates over whole-ms spans.
        let refill = elapsed_ns * self.rate_rps / NANOS_PER_SEC;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.updated = now;
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

/// A service's admission rate limit, as written in a scenario file (`admission.rate_limit`):
/// `rate_rps` sustained, bursts of up to `burst`, enforced by the algorithm `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub rate_rps: f64,
    pub burst: u32,
    /// Token bucket (default), leaky bucket (GCRA: the same decisions) or sliding window.
    #[serde(default)]
    pub kind: RateLimitKind,
}

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

#[cfg(test)]
mod tests {
    use rand::RngExt;
    use sim_core::rng;

    use super::*;
    use crate::limits::test_support::ms;

    fn at_ms(m: u64) -> SimTime {
        SimTime(ms(m).as_nanos())
    }
    fn at_s(n: u64) -> SimTime {
        SimTime(SimDuration::from_secs(n).as_nanos())
    }

    // --- token bucket ---

    #[test]
    fn token_bucket_follows_its_script() {
        // (rate, burst, [(request at ms, admitted?)]): requests in time order.
        type Script = (f64, u32, &'static [(u64, bool)]);
        let cases: &[(&str, Script)] = &[
            (
                "burst then refusal",
                (
                    10.0,
                    3,
                    &[(0, true), (0, true), (0, true), (0, false), (50, false)],
                ),
            ),
            (
                "refill after 1/rate",
                (
                    10.0,
                    1,
                    &[
                        (0, true),
                        (99, false),
                        (100, true),
                        (100, false),
                        (200, true),
                    ],
                ),
            ),
            (
                "long idle refills only to burst",
                (
                    10.0,
                    2,
                    &[
                        (0, true),
                        (0, true),
                        (3_600_000, true),
                        (3_600_000, true),
                        (3_600_000, false),
                    ],
                ),
            ),
            (
                "fractional tokens accumulate across calls",
                (
                    4.0,
                    1,
                    &[(0, true), (100, false), (200, false), (250, true)],
                ),
            ),
            (
                "burst 0 admits nothing",
                (10.0, 0, &[(0, false), (10_000, false)]),
            ),
            (
                "rate 0 admits the burst once",
                (0.0, 2, &[(0, true), (1, true), (100_000, false)]),
            ),
            (
                "time going back mints nothing",
                (
                    10.0,
                    1,
                    &[(100, true), (0, false), (150, false), (200, true)],
                ),
            ),
        ];
        for (name, (rate, burst, script)) in cases {
            let mut bucket = TokenBucket::new(*rate, *burst, SimTime::ZERO);
            for (i, &(t, expected)) in script.iter().enumerate() {
                assert_eq!(
                    bucket.try_take(at_ms(t)),
                    expected,
                    "{name}: request #{i} at {t}ms"
                );
            }
        }
    }

    #[test]
    fn token_bucket_sustains_its_rate() {
        // Offered far above the limit for 10 s: admitted = rate * 10 + burst, within 1.
        for (rate, burst, step_us) in [(100.0, 10, 1_000), (7.3, 3, 100), (250.0, 1, 500)] {
            let mut bucket = TokenBucket::new(rate, burst, SimTime::ZERO);
            let admitted = (0..=10_000_000 / step_us)
                .filter(|&k| bucket.try_take(SimTime(k * step_us * 1_000)))
                .count() as f64;
            let expected = rate * 10.0 + f64::from(burst);
            assert!(
                (admitted - expected).abs() <= 1.0,
                "rate {rate} burst {burst}: admitted {admitted}, expected {expected}"
            );
        }
    }

    #[test]
    fn token_bucket_from_limit_starts_full() {
        let limit = RateLimit {
            rate_rps: 5.0,
            burst: 4,
            kind: Default::default(),
        };
        let bucket = TokenBucket::from_limit(&limit, at_s(3));
        assert_eq!(bucket.available(at_s(3)), 4.0);
        assert_eq!(bucket.available(at_s(100)), 4.0);
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
}
