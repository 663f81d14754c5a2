//! Validation of a client's `Load`: [`load_problems`].

use sim_core::SimDuration;
use sim_core::path::{FieldPath, Problem};

use super::{Load, RateChange};

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

#[cfg(test)]
mod tests {
    use sim_core::dist::Dist;

    use super::*;
    use crate::policy::test_support::{ms, ramp, secs, spike, step};

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
}
