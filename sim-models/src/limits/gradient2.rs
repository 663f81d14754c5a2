//! Gradient2: a delay-based adaptive concurrency limit (Netflix `concurrency-limits`
//! `Gradient2Limit`).

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::path::{FieldPath, Problem};

use super::bounds_problems;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::test_support::{ms, paths};

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

    #[test]
    fn gradient2_spec_problems_name_the_field() {
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
    }
}
