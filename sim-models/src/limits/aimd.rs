//! AIMD: a loss-based adaptive concurrency limit (Netflix `concurrency-limits` `AIMDLimit`).

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::path::{FieldPath, Problem};

use super::bounds_problems;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::test_support::{ms, paths};

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

    #[test]
    fn aimd_spec_problems_name_the_field() {
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
    }
}
