//! Resilience and load policies as plain state machines on virtual time.
//!
//! | policy | what it does | semantics follow |
//! |---|---|---|
//! | [`backoff_delay`] | delay before retry n: none, constant, capped exponential | gRPC A6 `retryPolicy`, before jitter |
//! | [`RateSchedule`] | an open-loop client's arrival rate over time (steps, ramps, spikes) | the scenario's `Load::Open` |
//! | [`ThinnedPoisson`] | non-homogeneous Poisson arrivals on a [`RateSchedule`] | Lewis & Shedler (1979) thinning |
//! | [`load_problems`] | validation of a client's `Load` | |
//!
//! Everything here is a function of its inputs and `SimTime`: no wall clock, no hashing, and
//! the only randomness is the [`SimRng`] a caller passes in, so a run replays exactly.

use rand::RngExt;
use rand_distr::Exp;
use sim_core::path::{FieldPath, Problem};
use sim_core::rng::SimRng;
use sim_core::{SimDuration, SimTime};

use crate::scenario::{Backoff, Load, RateChange};

const NANOS_PER_SEC: f64 = 1e9;

// ---------------------------------------------------------------------------------------------
// Backoff
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Rate schedule
// ---------------------------------------------------------------------------------------------

/// One piece of a piecewise-linear rate: linear from `from_rps` at `start` to `to_rps` as `t`
/// approaches `end` (exclusive; the last piece runs to `u64::MAX` and is constant).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Piece {
    start: u64,
    end: u64,
    from_rps: f64,
    to_rps: f64,
}

impl Piece {
    /// The value at `t` in `[start, end]` (at `end`, the left limit).
    fn value_at(&self, t: u64) -> f64 {
        if self.from_rps == self.to_rps || t <= self.start {
            return self.from_rps;
        }
        if t >= self.end {
            return self.to_rps;
        }
        let frac = (t - self.start) as f64 / (self.end - self.start) as f64;
        let v = self.from_rps + (self.to_rps - self.from_rps) * frac;
        // Rounding must never take a value outside its endpoints: `max_rate` is built from
        // the endpoints and thinning relies on it being an upper bound.
        v.clamp(
            self.from_rps.min(self.to_rps),
            self.from_rps.max(self.to_rps),
        )
    }

    fn is_zero(&self) -> bool {
        self.from_rps == 0.0 && self.to_rps == 0.0
    }
}

/// An open-loop client's arrival rate over time (requests per second): a base rate shaped by
/// steps and ramps, multiplied by spike windows.
///
/// Meaning of the shape (entries apply in list order, each on top of the earlier ones):
/// - `Step { at, rate_rps }`: from `at` on the base rate is `rate_rps` (this replaces whatever
///   earlier steps or ramps said about times from `at` on).
/// - `Ramp { start, end, rate_rps }`: from `start` the base rate moves linearly from the base
///   rate in force at `start` to `rate_rps` at `end`, and stays there (replacing earlier
///   entries from `start` on). A ramp with `end <= start` acts as a step at `start`.
/// - `Spike { start, end, factor }`: multiplies the rate in `[start, end)`. Spikes multiply
///   whatever base rate is in force, wherever they sit in the list, and overlapping spikes
///   (including traffic-spike faults) multiply each other.
///
/// Scenario times are offsets from the start of the run, i.e. `SimTime(offset)`.
///
/// The result is precomputed as sorted linear segments, so [`RateSchedule::rate_at`] (called
/// per candidate arrival) is a binary search plus one interpolation, and
/// [`RateSchedule::max_rate`] is the exact supremum (the maximum of a piecewise-linear
/// function is at a segment end).
#[derive(Clone, Debug, PartialEq)]
pub struct RateSchedule {
    /// Sorted by `start`, contiguous, the first at 0; the last is constant to `u64::MAX`.
    segments: Vec<Piece>,
    max_rps: f64,
    /// Gaps between thinning candidates, in nanoseconds: `None` unless `max_rps` is positive
    /// and finite. Built once here rather than per arrival.
    gap: Option<Exp<f64>>,
}

impl RateSchedule {
    /// The schedule of a client with base rate `base_rps` and `shape`, with `spikes` extra
    /// multiplicative windows `[start, end)` (from traffic-spike faults). Windows with
    /// `end <= start` are ignored. Rates that come out negative or NaN are taken as 0: the
    /// inputs are meant to have passed [`load_problems`], this only keeps `rate_at >= 0`.
    pub fn new(base_rps: f64, shape: &[RateChange], spikes: &[(SimTime, SimTime, f64)]) -> Self {
        let base = base_pieces(base_rps, shape);

        let mut windows: Vec<(u64, u64, f64)> = Vec::new();
        for change in shape {
            if let RateChange::Spike { start, end, factor } = *change {
                windows.push((start.as_nanos(), end.as_nanos(), factor));
            }
        }
        windows.extend(
            spikes
                .iter()
                .map(|&(s, e, f)| (s.as_nanos(), e.as_nanos(), f)),
        );
        windows.retain(|&(s, e, _)| e > s);

        let mut breaks: Vec<u64> = base.iter().map(|p| p.start).collect();
        for &(s, e, _) in &windows {
            breaks.push(s);
            breaks.push(e);
        }
        breaks.sort_unstable();
        breaks.dedup();

        let mut segments = Vec::with_capacity(breaks.len());
        let mut piece = 0;
        for (i, &start) in breaks.iter().enumerate() {
            while piece + 1 < base.len() && base[piece + 1].start <= start {
                piece += 1;
            }
            let end = breaks.get(i + 1).copied().unwrap_or(u64::MAX);
            // No window boundary lies inside (start, end), so the factor is constant on it.
            // Multiplied in list order: the same inputs give the same bits.
            let factor: f64 = windows
                .iter()
                .filter(|&&(s, e, _)| s <= start && start < e)
                .map(|&(_, _, f)| f)
                .product();
            let last = i + 1 == breaks.len();
            let from_rps = non_negative(base[piece].value_at(start) * factor);
            let to_rps = if last {
                from_rps
            } else {
                non_negative(base[piece].value_at(end) * factor)
            };
            segments.push(Piece {
                start,
                end,
                from_rps,
                to_rps,
            });
        }
        let max_rps = segments
            .iter()
            .map(|s| s.from_rps.max(s.to_rps))
            .fold(0.0, f64::max);
        let gap = if max_rps > 0.0 && max_rps.is_finite() {
            // Rate per nanosecond: gaps come out in nanoseconds.
            Exp::new(max_rps / NANOS_PER_SEC).ok()
        } else {
            None
        };
        RateSchedule {
            segments,
            max_rps,
            gap,
        }
    }

    /// The arrival rate at `t`, in requests per second (>= 0).
    pub fn rate_at(&self, t: SimTime) -> f64 {
        self.segment_at(t).value_at(t.as_nanos())
    }

    /// The supremum of the rate over all time: never below any [`RateSchedule::rate_at`]
    /// value, and equal to the peak (or the limit a ramp approaches).
    pub fn max_rate(&self) -> f64 {
        self.max_rps
    }

    /// The first breakpoint (a point where the rate or its slope may change) after `t`.
    pub fn next_change_after(&self, t: SimTime) -> Option<SimTime> {
        let i = self.segments.partition_point(|s| s.start <= t.as_nanos());
        self.segments.get(i).map(|s| SimTime(s.start))
    }

    /// Whether the rate is the same at all times (no breakpoints).
    pub fn is_constant(&self) -> bool {
        self.segments.len() == 1
    }

    fn segment_at(&self, t: SimTime) -> &Piece {
        // The first segment starts at 0, so the index is at least 1 before subtracting.
        let i = self.segments.partition_point(|s| s.start <= t.as_nanos());
        &self.segments[i - 1]
    }
}

/// 0 for negatives and NaN (`>` is false for NaN).
fn non_negative(x: f64) -> f64 {
    if x > 0.0 { x } else { 0.0 }
}

/// The base rate (steps and ramps, no spikes) as contiguous pieces covering `[0, u64::MAX]`.
fn base_pieces(base_rps: f64, shape: &[RateChange]) -> Vec<Piece> {
    let constant = |start: u64, rps: f64| Piece {
        start,
        end: u64::MAX,
        from_rps: rps,
        to_rps: rps,
    };
    let mut pieces = vec![constant(0, base_rps)];
    for change in shape {
        match *change {
            RateChange::Step { at, rate_rps } => {
                let at = at.as_nanos();
                truncate(&mut pieces, at);
                pieces.push(constant(at, rate_rps));
            }
            RateChange::Ramp {
                start,
                end,
                rate_rps,
            } => {
                let (start, end) = (start.as_nanos(), end.as_nanos());
                if end <= start {
                    truncate(&mut pieces, start);
                    pieces.push(constant(start, rate_rps));
                    continue;
                }
                let from_rps = value_in(&pieces, start);
                truncate(&mut pieces, start);
                pieces.push(Piece {
                    start,
                    end,
                    from_rps,
                    to_rps: rate_rps,
                });
                pieces.push(constant(end, rate_rps));
            }
            RateChange::Spike { .. } => {}
        }
    }
    pieces
}

fn value_in(pieces: &[Piece], t: u64) -> f64 {
    let i = pieces.partition_point(|p| p.start <= t);
    pieces[i - 1].value_at(t)
}

/// Cuts the pieces so they end at `t`, making room for a new piece from `t` on.
fn truncate(pieces: &mut Vec<Piece>, t: u64) {
    pieces.retain(|p| p.start < t);
    if let Some(last) = pieces.last_mut()
        && last.end > t
    {
        last.to_rps = last.value_at(t);
        last.end = t;
    }
}

/// Every problem with a client's `load`, with paths relative to the load value.
///
/// Open loop: `rate_rps` finite and > 0; in `shape`, rates finite and >= 0, ramps and spikes
/// with `end > start`, spike factors finite and >= 0. Closed loop: `users >= 1` and a valid
/// `think_time`.
pub fn load_problems(load: &Load) -> Vec<Problem> {
    let mut out = Vec::new();
    let root = FieldPath::root();
    match load {
        Load::Open { rate_rps, shape } => {
            if !(rate_rps.is_finite() && *rate_rps > 0.0) {
                out.push(Problem::new(
                    root.field("rate_rps"),
                    format!(
                        "must be a finite number above 0 (requests per second), got {rate_rps}"
                    ),
                ));
            }
            for (i, change) in shape.iter().enumerate() {
                let at = root.field("shape").index(i);
                match *change {
                    RateChange::Step { rate_rps, .. } => {
                        check_rate(&mut out, at.field("rate_rps"), rate_rps);
                    }
                    RateChange::Ramp {
                        start,
                        end,
                        rate_rps,
                    } => {
                        check_window(&mut out, at.field("end"), start, end);
                        check_rate(&mut out, at.field("rate_rps"), rate_rps);
                    }
                    RateChange::Spike { start, end, factor } => {
                        check_window(&mut out, at.field("end"), start, end);
                        if !(factor.is_finite() && factor >= 0.0) {
                            out.push(Problem::new(
                                at.field("factor"),
                                format!(
                                    "must be a finite number >= 0 (the rate is multiplied by it), got {factor}"
                                ),
                            ));
                        }
                    }
                }
            }
        }
        Load::Closed { users, think_time } => {
            if *users == 0 {
                out.push(Problem::new(
                    root.field("users"),
                    "must be at least 1, got 0: a closed loop with no users sends nothing",
                ));
            }
            let at = root.field("think_time");
            out.extend(
                think_time
                    .problems()
                    .into_iter()
                    .map(|p| Problem::new(at.join(&p.path), p.message)),
            );
        }
    }
    out
}

fn check_rate(out: &mut Vec<Problem>, path: FieldPath, rate_rps: f64) {
    if !(rate_rps.is_finite() && rate_rps >= 0.0) {
        out.push(Problem::new(
            path,
            format!("must be a finite number >= 0 (requests per second), got {rate_rps}"),
        ));
    }
}

fn check_window(out: &mut Vec<Problem>, path: FieldPath, start: SimDuration, end: SimDuration) {
    if end <= start {
        out.push(Problem::new(
            path,
            format!("must be after start ({start}), got {end}"),
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Non-homogeneous Poisson arrivals
// ---------------------------------------------------------------------------------------------

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
    use super::*;
    use sim_core::dist::Dist;
    use sim_core::rng;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }
    fn secs(n: u64) -> SimDuration {
        SimDuration::from_secs(n)
    }
    fn at_ms(n: u64) -> SimTime {
        SimTime(ms(n).as_nanos())
    }
    fn at_s(n: u64) -> SimTime {
        SimTime(secs(n).as_nanos())
    }

    // --- backoff ---

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

    // --- rate schedule ---

    fn step(at: SimDuration, rate_rps: f64) -> RateChange {
        RateChange::Step { at, rate_rps }
    }
    fn ramp(start: SimDuration, end: SimDuration, rate_rps: f64) -> RateChange {
        RateChange::Ramp {
            start,
            end,
            rate_rps,
        }
    }
    fn spike(start: SimDuration, end: SimDuration, factor: f64) -> RateChange {
        RateChange::Spike { start, end, factor }
    }

    fn assert_close(got: f64, expected: f64, what: &str) {
        assert!(
            (got - expected).abs() <= 1e-9 * expected.abs().max(1.0),
            "{what}: got {got}, expected {expected}"
        );
    }

    #[test]
    fn rate_schedules() {
        type Case = (
            &'static str,
            f64,
            Vec<RateChange>,
            Vec<(SimTime, SimTime, f64)>,
            Vec<(SimTime, f64)>,
            f64,
        );
        let cases: Vec<Case> = vec![
            (
                "constant",
                50.0,
                vec![],
                vec![],
                vec![
                    (SimTime::ZERO, 50.0),
                    (at_s(1000), 50.0),
                    (SimTime::MAX, 50.0),
                ],
                50.0,
            ),
            (
                "step up and down",
                100.0,
                vec![step(secs(10), 400.0), step(secs(20), 50.0)],
                vec![],
                vec![
                    (SimTime(secs(10).as_nanos() - 1), 100.0),
                    (at_s(10), 400.0),
                    (at_s(15), 400.0),
                    (at_s(20), 50.0),
                    (at_s(99), 50.0),
                ],
                400.0,
            ),
            (
                "ramp: midpoint and after its end",
                100.0,
                vec![ramp(secs(10), secs(20), 300.0)],
                vec![],
                vec![
                    (at_s(5), 100.0),
                    (at_s(10), 100.0),
                    (at_s(15), 200.0),
                    (at_ms(17_500), 250.0),
                    (at_s(20), 300.0),
                    (at_s(60), 300.0),
                ],
                300.0,
            ),
            (
                "ramp down starts from the step in force",
                100.0,
                vec![step(secs(5), 500.0), ramp(secs(10), secs(20), 0.0)],
                vec![],
                vec![
                    (at_s(7), 500.0),
                    (at_s(15), 250.0),
                    (at_s(20), 0.0),
                    (at_s(30), 0.0),
                ],
                500.0,
            ),
            (
                "a later step overrides the rest of a ramp",
                100.0,
                vec![ramp(secs(0), secs(10), 200.0), step(secs(5), 20.0)],
                vec![],
                vec![(at_s(4), 140.0), (at_s(5), 20.0), (at_s(12), 20.0)],
                // The ramp's supremum before the step: the limit at 5 s.
                150.0,
            ),
            (
                "spike on top of a step",
                100.0,
                vec![step(secs(10), 200.0), spike(secs(15), secs(25), 3.0)],
                vec![],
                vec![
                    (at_s(12), 200.0),
                    (at_s(15), 600.0),
                    (SimTime(secs(25).as_nanos() - 1), 600.0),
                    (at_s(25), 200.0),
                ],
                600.0,
            ),
            (
                "spike listed before the step still multiplies it",
                100.0,
                vec![spike(secs(5), secs(15), 2.0), step(secs(10), 300.0)],
                vec![],
                vec![(at_s(7), 200.0), (at_s(12), 600.0), (at_s(16), 300.0)],
                600.0,
            ),
            (
                "overlapping spikes multiply",
                10.0,
                vec![
                    spike(secs(10), secs(30), 2.0),
                    spike(secs(20), secs(40), 5.0),
                ],
                vec![],
                vec![
                    (at_s(5), 10.0),
                    (at_s(15), 20.0),
                    (at_s(25), 100.0),
                    (at_s(35), 50.0),
                    (at_s(45), 10.0),
                ],
                100.0,
            ),
            (
                "spike fault combined with a ramp and a shape spike",
                100.0,
                vec![
                    ramp(secs(0), secs(10), 200.0),
                    spike(secs(8), secs(12), 2.0),
                ],
                vec![(at_s(5), at_s(9), 10.0)],
                vec![
                    (at_s(4), 140.0),
                    (at_s(5), 1500.0),
                    (at_s(8), 3600.0),
                    (at_s(9), 380.0),
                    (at_s(11), 400.0),
                    (at_s(12), 200.0),
                ],
                // The ramp approaches 190 as t -> 9 s, under both spikes: 190 * 20.
                3800.0,
            ),
            (
                "a spike to zero silences",
                100.0,
                vec![spike(secs(1), secs(2), 0.0)],
                vec![(at_s(3), at_s(3), 9.0)], // empty window: ignored
                vec![(at_ms(1500), 0.0), (at_s(2), 100.0), (at_s(3), 100.0)],
                100.0,
            ),
        ];
        for (name, base, shape, spikes, samples, peak) in cases {
            let s = RateSchedule::new(base, &shape, &spikes);
            for (t, expected) in samples {
                assert_close(s.rate_at(t), expected, &format!("{name}: rate at {t}"));
            }
            assert_close(s.max_rate(), peak, &format!("{name}: max_rate"));
        }
    }

    #[test]
    fn max_rate_bounds_every_sampled_rate() {
        let shape = vec![
            ramp(secs(0), secs(30), 400.0),
            step(secs(20), 120.0),
            spike(secs(10), secs(50), 1.7),
            ramp(secs(40), secs(70), 900.0),
            spike(secs(60), secs(65), 3.3),
            step(secs(80), 5.0),
            ramp(secs(85), secs(86), 0.0),
        ];
        let faults = [(at_s(25), at_s(62), 2.9), (at_ms(64_999), at_s(90), 0.3)];
        let s = RateSchedule::new(37.0, &shape, &faults);
        let mut rng = rng::stream(7, "policy/max-rate");
        let mut seen_max: f64 = 0.0;
        for _ in 0..10_000 {
            let t = SimTime(rng.random_range(0..100_000_000_000u64));
            let r = s.rate_at(t);
            assert!(
                r >= 0.0 && r <= s.max_rate(),
                "rate {r} at {t} vs max {}",
                s.max_rate()
            );
            seen_max = seen_max.max(r);
        }
        assert!(
            seen_max > 0.5 * s.max_rate(),
            "seen {seen_max}, max {}",
            s.max_rate()
        );
        // Tight: the supremum of a piecewise-linear function is at a breakpoint or just
        // before one, so checking those instants finds it (to within a nanosecond of slope).
        let mut peak = s.rate_at(SimTime::ZERO);
        let mut t = SimTime::ZERO;
        while let Some(next) = s.next_change_after(t) {
            peak = peak
                .max(s.rate_at(next))
                .max(s.rate_at(SimTime(next.as_nanos() - 1)));
            t = next;
        }
        assert_close(
            s.max_rate(),
            peak,
            "max_rate vs the peak found at breakpoints",
        );
    }

    #[test]
    fn next_change_walks_the_breakpoints() {
        let s = RateSchedule::new(
            10.0,
            &[step(secs(10), 20.0), ramp(secs(20), secs(30), 40.0)],
            &[(at_s(25), at_s(27), 2.0)],
        );
        let mut t = SimTime::ZERO;
        let mut seen = Vec::new();
        while let Some(next) = s.next_change_after(t) {
            assert!(next > t);
            seen.push(next.as_secs_f64());
            t = next;
        }
        assert_eq!(seen, [10.0, 20.0, 25.0, 27.0, 30.0]);
        assert_eq!(s.next_change_after(at_s(12)), Some(at_s(20)));
        assert_eq!(s.next_change_after(at_s(30)), None);
        assert!(!s.is_constant());
        assert!(RateSchedule::new(5.0, &[], &[]).is_constant());
    }

    // --- load validation ---

    #[test]
    fn load_problems_point_at_the_field() {
        let open = |rate_rps, shape| Load::Open { rate_rps, shape };
        let cases: Vec<(Load, Vec<(&str, &str)>)> = vec![
            (
                open(
                    100.0,
                    vec![
                        step(secs(1), 0.0),
                        ramp(secs(1), secs(2), 5.0),
                        spike(secs(1), secs(2), 2.0),
                    ],
                ),
                vec![],
            ),
            (
                open(0.0, vec![]),
                vec![("rate_rps", "above 0 (requests per second), got 0")],
            ),
            (open(f64::NAN, vec![]), vec![("rate_rps", "got NaN")]),
            (open(-3.0, vec![]), vec![("rate_rps", "got -3")]),
            (
                open(
                    10.0,
                    vec![
                        step(secs(1), -1.0),
                        ramp(secs(5), secs(5), f64::INFINITY),
                        spike(secs(9), secs(3), -2.0),
                    ],
                ),
                vec![
                    ("shape[0].rate_rps", ">= 0 (requests per second), got -1"),
                    ("shape[1].end", "must be after start (5s), got 5s"),
                    ("shape[1].rate_rps", "got inf"),
                    ("shape[2].end", "must be after start (9s), got 3s"),
                    ("shape[2].factor", "got -2"),
                ],
            ),
            (
                Load::Closed {
                    users: 0,
                    think_time: Dist::Exponential {
                        mean: SimDuration::ZERO,
                    },
                },
                vec![
                    ("users", "at least 1, got 0"),
                    ("think_time.mean", "mean must be > 0"),
                ],
            ),
            (
                Load::Closed {
                    users: 3,
                    think_time: Dist::Constant(ms(10)),
                },
                vec![],
            ),
        ];
        for (load, expected) in cases {
            let got = load_problems(&load);
            let got: Vec<(String, String)> = got
                .into_iter()
                .map(|p| (p.path.to_string(), p.message))
                .collect();
            assert_eq!(got.len(), expected.len(), "{load:?}: {got:?}");
            for ((path, message), (want_path, want_text)) in got.iter().zip(&expected) {
                assert_eq!(path, want_path, "{load:?}");
                assert!(
                    message.contains(want_text),
                    "{path}: {message:?} lacks {want_text:?}"
                );
            }
        }
    }

    // --- thinning ---

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
