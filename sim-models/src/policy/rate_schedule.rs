//! An open-loop client's arrival rate over time: [`RateSchedule`].

use rand_distr::Exp;
use serde::{Deserialize, Serialize};
use sim_core::dist::Dist;
use sim_core::{SimDuration, SimTime};

/// How a client generates requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Load {
    /// Open loop: Poisson arrivals at `rate_rps`, shaped over time by `shape`. Arrivals do
    /// not wait for answers, which is how real traffic behaves and what exposes overload.
    Open {
        rate_rps: f64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        shape: Vec<RateChange>,
    },
    /// Closed loop: `users` each send a request, wait for its final outcome, think, repeat.
    /// A closed loop slows down with the system, so it hides overload; use it knowingly.
    Closed {
        users: u32,
        think_time: Dist<SimDuration>,
    },
}

/// A change to an open-loop rate. Later entries apply on top of earlier ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RateChange {
    /// From `at` on, the base rate is `rate_rps`.
    Step { at: SimDuration, rate_rps: f64 },
    /// From `start` to `end` the base rate moves linearly to `rate_rps`, and stays there.
    Ramp {
        start: SimDuration,
        end: SimDuration,
        rate_rps: f64,
    },
    /// From `start` to `end` the rate is multiplied by `factor`.
    Spike {
        start: SimDuration,
        end: SimDuration,
        factor: f64,
    },
}

const NANOS_PER_SEC: f64 = 1e9;

/// One piece of a piecewise-linear rate: linear from `from_rps` at `start` to `to_rps` as `t`
/// approaches `end` (exclusive; the last piece runs to `u64::MAX` and is constant).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Piece {
    start: u64,
    pub(super) end: u64,
    from_rps: f64,
    to_rps: f64,
}

impl Piece {
    /// The value at `t` in `[start, end]` (at `end`, the left limit).
    pub(super) fn value_at(&self, t: u64) -> f64 {
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

    pub(super) fn is_zero(&self) -> bool {
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
    pub(super) gap: Option<Exp<f64>>,
}

impl RateSchedule {
    /// The schedule of a client with base rate `base_rps` and `shape`, with `spikes` extra
    /// multiplicative windows `[start, end)` (from traffic-spike faults). Windows with
    /// `end <= start` are ignored. Rates that come out negative or NaN are taken as 0: the
    /// inputs are meant to have passed [`load_problems`], this only keeps `rate_at >= 0`.
    ///
    /// [`load_problems`]: super::load_problems
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

    pub(super) fn segment_at(&self, t: SimTime) -> &Piece {
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

#[cfg(test)]
mod tests {
    use rand::RngExt;
    use sim_core::rng;

    use super::*;
    use crate::policy::test_support::{at_ms, at_s, ramp, secs, spike, step};

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
}
