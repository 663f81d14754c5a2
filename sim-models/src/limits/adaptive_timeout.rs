//! An adaptive timeout: a percentile of recent latencies times a multiplier, clamped.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::path::{FieldPath, Problem};

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
    use crate::limits::test_support::{ms, paths};

    const MS: SimDuration = SimDuration::from_millis(1);

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

    #[test]
    fn adaptive_timeout_spec_parses() {
        let t: AdaptiveTimeoutSpec = ron::from_str("(min: \"5ms\")").unwrap();
        assert_eq!(t.min, ms(5));
        assert_eq!(t.window, 1000);
        assert!(ron::from_str::<AdaptiveTimeoutSpec>("(p: 0.5)").is_err());
    }

    #[test]
    fn adaptive_timeout_spec_problems_name_the_field() {
        assert!(AdaptiveTimeoutSpec::default().problems().is_empty());
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
}
