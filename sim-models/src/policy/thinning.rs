//! Non-homogeneous Poisson arrivals on a [`RateSchedule`], by thinning: [`ThinnedPoisson`].

use rand::RngExt;
use sim_core::rng::SimRng;
use sim_core::{SimDuration, SimTime};

use super::RateSchedule;

/// Arrivals of a non-homogeneous Poisson process by thinning (Lewis & Shedler, "Simulation of
/// nonhomogeneous Poisson processes by thinning", 1979): candidates come from a homogeneous
/// process at the schedule's [`RateSchedule::max_rate`], and a candidate at `t` is kept with
/// probability `rate_at(t) / max_rate`.
///
/// Two exact shortcuts keep the random stream lean without changing the distribution:
/// - a candidate where the rate is at its maximum is kept without drawing the acceptance
///   uniform (probability 1), so a constant-rate schedule draws exactly one number per arrival;
/// - a stretch where the rate is identically 0 is skipped to its end (by memorylessness, the
///   process restarted there has the same law), so a rate that drops to 0 for good ends the
///   arrivals instead of spinning through rejected candidates.
///
/// A unit struct: the sampler has no state of its own (the schedule and the stream are the
/// caller's), so callers write `ThinnedPoisson.next_arrival(..)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThinnedPoisson;

impl ThinnedPoisson {
    /// Candidates drawn at most per call (a limit on everything): reaching it means the rate
    /// stayed below `max_rate / MAX_CANDIDATES` for a long stretch, and the call answers `None`.
    pub const MAX_CANDIDATES: u32 = 1 << 20;

    /// The first arrival after `now` (at `now` only if the gap rounds to 0 ns), or `None` if
    /// the rate is 0 from `now` on, no arrival comes before `SimTime::MAX / 2`, or
    /// [`ThinnedPoisson::MAX_CANDIDATES`] candidates were all rejected.
    pub fn next_arrival(
        &self,
        schedule: &RateSchedule,
        now: SimTime,
        rng: &mut SimRng,
    ) -> Option<SimTime> {
        next_arrival_within(schedule, now, rng, Self::MAX_CANDIDATES)
    }
}

fn next_arrival_within(
    schedule: &RateSchedule,
    now: SimTime,
    rng: &mut SimRng,
    max_candidates: u32,
) -> Option<SimTime> {
    let max_rps = schedule.max_rate();
    let gap = schedule.gap?;
    let horizon = SimTime(u64::MAX / 2);
    if schedule.is_constant() && max_candidates > 0 {
        // The rate is at its maximum everywhere: the loop below would keep its first
        // candidate, with the same draw. Taken apart because it is the common case (one
        // arrival per request: M/M/1 spent ~150 instructions a request in this function).
        let t = now.saturating_add(SimDuration::from_nanos_f64(rng.sample(gap)));
        return (t <= horizon).then_some(t);
    }
    let mut t = now;
    // The segment holding `t`, carried from one candidate to the next.
    let mut segment = schedule.segment_at(t);
    for _ in 0..max_candidates {
        if segment.is_zero() {
            if segment.end == u64::MAX {
                return None;
            }
            t = SimTime(segment.end);
            if t > horizon {
                return None;
            }
            segment = schedule.segment_at(t);
            continue;
        }
        t = t.saturating_add(SimDuration::from_nanos_f64(rng.sample(gap)));
        if t > horizon {
            return None;
        }
        segment = schedule.segment_at(t);
        let rate = segment.value_at(t.as_nanos());
        if rate >= max_rps || (rate > 0.0 && rng.random::<f64>() * max_rps < rate) {
            return Some(t);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use rand_distr::Exp;
    use sim_core::rng;

    use super::*;
    use crate::policy::test_support::{at_s, ramp, secs, step};

    fn arrivals(schedule: &RateSchedule, until: SimTime, seed: u64) -> Vec<SimTime> {
        let mut rng = rng::stream(seed, "policy/thinning");
        let poisson = ThinnedPoisson;
        let mut out = Vec::new();
        let mut t = SimTime::ZERO;
        while let Some(next) = poisson.next_arrival(schedule, t, &mut rng) {
            if next >= until {
                break;
            }
            out.push(next);
            t = next;
        }
        out
    }

    fn count_in(times: &[SimTime], from: SimTime, to: SimTime) -> usize {
        times.iter().filter(|&&t| from <= t && t < to).count()
    }

    fn assert_poisson_count(count: usize, mean: f64, what: &str) {
        let z = (count as f64 - mean) / mean.sqrt();
        assert!(
            z.abs() < 4.0,
            "{what}: {count} arrivals, expected {mean} (z = {z:.2})"
        );
    }

    #[test]
    fn thinning_follows_a_step() {
        let s = RateSchedule::new(100.0, &[step(secs(10), 400.0)], &[]);
        for seed in [1, 2, 3] {
            let times = arrivals(&s, at_s(20), seed);
            assert!(times.windows(2).all(|w| w[0] <= w[1]));
            assert_poisson_count(
                count_in(&times, at_s(0), at_s(10)),
                1000.0,
                "before the step",
            );
            assert_poisson_count(
                count_in(&times, at_s(10), at_s(20)),
                4000.0,
                "after the step",
            );
        }
    }

    #[test]
    fn thinning_follows_a_ramp() {
        // 100 -> 500 over [5 s, 15 s): the integral is (100 + 500) / 2 * 10 = 3000.
        let s = RateSchedule::new(100.0, &[ramp(secs(5), secs(15), 500.0)], &[]);
        for seed in [4, 5, 6] {
            let times = arrivals(&s, at_s(15), seed);
            assert_poisson_count(count_in(&times, at_s(5), at_s(15)), 3000.0, "over the ramp");
            // The first and second halves: (100+300)/2*5 = 1000 and (300+500)/2*5 = 2000.
            assert_poisson_count(count_in(&times, at_s(5), at_s(10)), 1000.0, "first half");
            assert_poisson_count(count_in(&times, at_s(10), at_s(15)), 2000.0, "second half");
        }
    }

    #[test]
    fn constant_rate_draws_one_number_per_arrival() {
        let s = RateSchedule::new(250.0, &[], &[]);
        let mut rng = rng::stream(9, "policy/constant");
        let mut reference = rng.clone();
        let gap = Exp::new(250.0 / 1e9).unwrap();
        let mut t = SimTime::ZERO;
        let mut expected = SimTime::ZERO;
        for _ in 0..1000 {
            t = ThinnedPoisson.next_arrival(&s, t, &mut rng).unwrap();
            expected = expected.saturating_add(SimDuration::from_nanos_f64(reference.sample(gap)));
            assert_eq!(t, expected);
        }
    }

    #[test]
    fn thinning_ends_when_the_rate_drops_to_zero() {
        let mut rng = rng::stream(11, "policy/zero");
        let poisson = ThinnedPoisson;
        let stopped = RateSchedule::new(100.0, &[step(secs(1), 0.0)], &[]);
        assert_eq!(poisson.next_arrival(&stopped, at_s(2), &mut rng), None);
        let times = arrivals(&stopped, SimTime::MAX, 11);
        assert!(times.iter().all(|&t| t < at_s(1)));
        assert_poisson_count(times.len(), 100.0, "before the stop");

        let silent = RateSchedule::new(0.0, &[], &[]);
        assert_eq!(poisson.next_arrival(&silent, SimTime::ZERO, &mut rng), None);

        // A quiet stretch is skipped, not sampled through: arrivals resume after it.
        let gap = RateSchedule::new(100.0, &[], &[(at_s(1), at_s(1_000_000), 0.0)]);
        let next = poisson.next_arrival(&gap, at_s(2), &mut rng).unwrap();
        assert!(next >= at_s(1_000_000) && next < at_s(1_000_001), "{next}");
    }

    #[test]
    fn thinning_gives_up_past_half_of_virtual_time() {
        let mut rng = rng::stream(12, "policy/far");
        let s = RateSchedule::new(100.0, &[], &[]);
        let poisson = ThinnedPoisson;
        assert_eq!(
            poisson.next_arrival(&s, SimTime(u64::MAX / 2), &mut rng),
            None
        );
        assert_eq!(next_arrival_within(&s, SimTime::ZERO, &mut rng, 0), None);
        // A rate a millionth of the peak, with a budget of 1000 candidates: gives up.
        let faint = RateSchedule::new(1e-3, &[], &[(at_s(0), at_s(1), 1e6)]);
        assert_eq!(next_arrival_within(&faint, at_s(2), &mut rng, 1000), None);
    }
}
