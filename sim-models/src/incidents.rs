//! Incident generation: seeded fault processes (MTBF/MTTR) expanded into ordinary faults.
//!
//! Each `Incidents` entry is an alternating renewal process on its fault: up for a draw of
//! `mtbf` (from `start`, or from the end of the last incident), then down (the fault) for a
//! draw of `mttr`, until the horizon. [`expand`] turns the processes into [`Fault`]s, which
//! [`with_incidents`] appends after the scenario's own `faults`; from there on they are
//! faults like any other (effects, windows in the result, SLO detection, postmortems, the
//! event log), and an `EndFaults` rule's indices still name the hand-written faults.
//!
//! Each process draws from its own stream `incidents/TARGET/K` (TARGET as the result names
//! the fault's target, K its ordinal among the processes on that target), so adding a
//! process on one target changes no other process's incidents, and no other component's
//! draws (the incidents are fixed before the run; nothing in the world draws for them).

use std::borrow::Cow;

use sim_core::SimDuration;
use sim_core::dist::Dist;
use sim_core::path::{FieldPath, Problem};
use sim_core::rng::stream;

use crate::scenario::{Fault, Incidents, Scenario};

/// Incidents one process may generate at most. Validation refuses a process expected to
/// reach half of it (horizon / (mean MTBF + mean MTTR)), so with any finite-variance
/// distribution the cap is never reached; expansion stops there regardless, which keeps
/// memory bounded whatever the distributions.
pub const MAX_PER_PROCESS: u64 = 10_000;

/// The scenario with its incident processes expanded for `seed` and appended to `faults`
/// (borrowed unchanged when it has none, so a scenario without incidents pays nothing).
/// The remediation section's incident mix comes after them (`remediation::mix`): its
/// faults appended last, its config pushes merged into their configs in time order.
pub fn with_incidents(s: &Scenario, seed: u64) -> Cow<'_, Scenario> {
    let mix = s.remediation.as_ref().and_then(|r| r.mix.as_ref());
    if s.incidents.is_empty() && mix.is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = s.clone();
    out.faults.extend(expand(s, seed));
    if let Some(mix) = mix {
        for d in crate::remediation::mix::draw(mix, s, seed) {
            out.faults.extend(d.faults);
            for (c, push) in d.pushes {
                out.configs[c].pushes.push(push);
            }
        }
        for c in &mut out.configs {
            c.pushes.sort_by_key(|p| p.at); // stable
        }
    }
    Cow::Owned(out)
}

/// The generated incidents of `s` under `seed` with their faults' indices in the run's
/// fault list (after the scenario's faults and its incident processes'); none without a
/// mix. `s` must have passed validation.
pub fn generated(s: &Scenario, seed: u64) -> Vec<crate::remediation::mix::GeneratedIncident> {
    let Some(mix) = s.remediation.as_ref().and_then(|r| r.mix.as_ref()) else {
        return Vec::new();
    };
    let mut next = s.faults.len() + expand(s, seed).len();
    crate::remediation::mix::draw(mix, s, seed)
        .into_iter()
        .map(|d| {
            let n = d.faults.len();
            let faults = (next..next + n).collect();
            next += n;
            crate::remediation::mix::GeneratedIncident {
                faults,
                ..d.incident
            }
        })
        .collect()
}

/// The faults all of `s`'s incident processes generate under `seed`, in order of start
/// (ties in the order of the processes), so reports list them as they happen. `s` must
/// have passed validation.
pub fn expand(s: &Scenario, seed: u64) -> Vec<Fault> {
    let mut out = Vec::new();
    for (i, p) in s.incidents.iter().enumerate() {
        out.extend(expand_one(s, seed, &stream_key(s, i), p));
    }
    out.sort_by_key(|f| f.start); // stable
    out
}

/// The stream of process `i`: `incidents/TARGET/K`.
pub fn stream_key(s: &Scenario, i: usize) -> String {
    let target = |p: &Incidents| probe(p).kind.target();
    let mine = target(&s.incidents[i]);
    let k = s.incidents[..i]
        .iter()
        .filter(|p| target(p) == mine)
        .count();
    format!("incidents/{mine}/{k}")
}

fn probe(p: &Incidents) -> Fault {
    Fault {
        start: p.start,
        end: p.start,
        kind: p.kind.clone(),
    }
}

fn expand_one(s: &Scenario, seed: u64, key: &str, p: &Incidents) -> Vec<Fault> {
    let up = p.mtbf.compile().expect("validated mtbf");
    let down = p.mttr.compile().expect("validated mttr");
    let mut rng = stream(seed, key);
    let horizon = s.horizon.as_nanos();
    let mut t = p.start.as_nanos();
    let mut out = Vec::new();
    while (out.len() as u64) < MAX_PER_PROCESS {
        t = t.saturating_add(up.sample_duration(&mut rng).as_nanos());
        if t >= horizon {
            break;
        }
        // At least 1 ns, so that the fault has a window; cut at the horizon.
        let repair = down.sample_duration(&mut rng).as_nanos().max(1);
        let end = t.saturating_add(repair).min(horizon);
        out.push(Fault {
            start: SimDuration::from_nanos(t),
            end: SimDuration::from_nanos(end),
            kind: p.kind.clone(),
        });
        t = end;
    }
    out
}

/// Problems with the processes' own fields (the fault kind and its target are checked by
/// validation as a scenario fault's are): (errors, warnings), paths from the root.
pub fn problems(s: &Scenario) -> (Vec<Problem>, Vec<Problem>) {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let horizon = s.horizon.as_nanos() as f64;
    for (i, p) in s.incidents.iter().enumerate() {
        let at = FieldPath::root().field("incidents").index(i);
        let mut means = [0.0; 2];
        for (m, (field, d)) in [("mtbf", &p.mtbf), ("mttr", &p.mttr)]
            .into_iter()
            .enumerate()
        {
            match mean_of(d) {
                Err(problems) => {
                    for p in problems {
                        errors.push(Problem::new(at.field(field).join(&p.path), p.message));
                    }
                }
                Ok(mean) if mean <= 0.0 => errors.push(Problem::new(
                    at.field(field),
                    format!(
                        "has mean 0: {}",
                        if field == "mtbf" {
                            "incidents would follow each other without end"
                        } else {
                            "every incident would be over as it starts"
                        }
                    ),
                )),
                Ok(mean) => means[m] = mean,
            }
        }
        let [mtbf, mttr] = means;
        if mtbf <= 0.0 || mttr <= 0.0 || p.start >= s.horizon {
            continue;
        }
        let span = horizon - p.start.as_nanos() as f64;
        let expected = span / (mtbf + mttr);
        if expected > (MAX_PER_PROCESS / 2) as f64 {
            errors.push(Problem::new(
                at.field("mtbf"),
                format!(
                    "gives about {expected:.0} incidents over the horizon, more than {} \
                     (half the cap of {MAX_PER_PROCESS} per process): lengthen mtbf",
                    MAX_PER_PROCESS / 2
                ),
            ));
        } else if mtbf.is_finite() && mtbf > 3.0 * span {
            // P(no failure before the horizon) is e^(-span/mtbf) > 0.7 for an exponential.
            // (An infinite mean, a Pareto with shape <= 1, says nothing of the first draw.)
            warnings.push(Problem::new(
                at.field("mtbf"),
                format!(
                    "mean {} is over 3x the time the process runs ({}): the run will likely \
                     see no incident",
                    SimDuration::from_nanos_f64(mtbf),
                    SimDuration::from_nanos_f64(span)
                ),
            ));
        }
    }
    (errors, warnings)
}

/// The analytic mean of a duration distribution in ns, or its problems.
fn mean_of(d: &Dist<SimDuration>) -> Result<f64, Vec<Problem>> {
    let problems = d.problems();
    if !problems.is_empty() {
        return Err(problems);
    }
    d.compile().map(|s| s.mean())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(incidents: &str) -> Scenario {
        let text = format!(
            r#"Scenario(name: "t", seed: 1, horizon: "1000h",
    clients: [Client(name: "c", target: "db", load: Open(rate_rps: 1.0))],
    services: [
        Service(name: "db", workers: 1, service_time: Constant("1ms")),
        Service(name: "api", workers: 1, replicas: 2, service_time: Constant("1ms")),
    ],
    incidents: [{incidents}],
)"#
        );
        crate::scenario::parse("t.ron", &text).expect("parses")
    }

    const DB: &str = r#"Incidents(kind: Crash(service: "db", mode: Refuse), mtbf: Exponential(mean: "1h"), mttr: Exponential(mean: "5m"))"#;
    const API: &str = r#"Incidents(kind: Pause(service: "api#1"), mtbf: Exponential(mean: "2h"), mttr: Constant("10m"))"#;

    #[test]
    fn expansion_alternates_up_and_down_within_the_horizon() {
        let s = scenario(DB);
        let f = expand(&s, 7);
        assert!(f.len() > 500, "{} incidents", f.len());
        // One process: its incidents never overlap.
        for w in f.windows(2) {
            assert!(w[0].start < w[0].end && w[0].end <= w[1].start);
        }
        assert!(f.last().unwrap().end <= s.horizon);
    }

    #[test]
    fn same_seed_same_incidents_other_seed_other_ones() {
        let s = scenario(DB);
        assert_eq!(expand(&s, 7), expand(&s, 7));
        assert_ne!(expand(&s, 7), expand(&s, 8));
    }

    #[test]
    fn a_process_is_independent_of_the_others() {
        let alone = expand(&scenario(DB), 3);
        let both = expand(&scenario(&format!("{API}, {DB}")), 3);
        let db: Vec<&Fault> = both
            .iter()
            .filter(|f| matches!(&f.kind, crate::scenario::FaultKind::Crash { .. }))
            .collect();
        assert_eq!(db, alone.iter().collect::<Vec<_>>());
        assert!(both.len() > alone.len());
        assert_eq!(
            stream_key(&scenario(&format!("{API}, {DB}")), 1),
            "incidents/db/0"
        );
        assert_eq!(
            stream_key(&scenario(&format!("{DB}, {DB}")), 1),
            "incidents/db/1"
        );
    }

    #[test]
    fn a_scenario_without_incidents_is_borrowed() {
        let s = scenario("");
        assert!(matches!(with_incidents(&s, 1), Cow::Borrowed(_)));
    }

    #[test]
    fn zero_means_and_too_many_incidents_are_errors_a_rare_process_warns() {
        let s = scenario(
            r#"Incidents(kind: Pause(service: "db"), mtbf: Constant("0s"), mttr: Uniform(min: "0s", max: "0s")),
               Incidents(kind: Pause(service: "db"), mtbf: Constant("1s"), mttr: Constant("1s")),
               Incidents(kind: Pause(service: "db"), mtbf: Constant("10000h"), mttr: Constant("1s")),
               Incidents(kind: Pause(service: "db"), mtbf: Pareto(scale: "1h", shape: 0.5), mttr: Constant("1s"))"#,
        );
        let (errors, warnings) = problems(&s);
        let text: Vec<String> = errors
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect();
        assert_eq!(text.len(), 3, "{text:#?}");
        assert!(text[0].starts_with("incidents[0].mtbf: has mean 0"));
        assert!(text[1].starts_with("incidents[0].mttr: has mean 0"));
        assert!(text[2].starts_with("incidents[1].mtbf: gives about 1800000 incidents"));
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].path.to_string(), "incidents[2].mtbf");
    }

    // The remediation mix's incidents, as `generated` and `with_incidents` place them.
    #[test]
    fn incidents_follow_each_other_within_the_horizon_same_seed_same_truth() {
        let s = crate::load(
            "incidents.ron",
            include_str!("../../scenarios/remediation/incidents.ron"),
        )
        .expect("valid")
        .scenario;
        let a = generated(&s, 3);
        assert_eq!(a, generated(&s, 3));
        assert_ne!(a, generated(&s, 4));
        assert!(a.len() >= 8, "{} incidents", a.len());
        for w in a.windows(2) {
            assert!(w[0].end_s - w[0].start_s <= 180.0 + 1e-9);
            assert!(w[1].start_s - w[0].end_s >= 60.0 - 1e-9);
        }
        // Indices name the incident's faults in the run's list, as with_incidents appends them.
        let run = with_incidents(&s, 3);
        let mut pushes = 0;
        for g in &a {
            for &f in &g.faults {
                let fault = &run.faults[f];
                assert_eq!(fault.start.as_secs_f64(), g.start_s);
            }
            match g.class {
                crate::scenario::IncidentClass::BadConfig => {
                    assert!(g.faults.is_empty());
                    assert_eq!(
                        g.remedy,
                        Some(crate::remediation::mix::Remedy::Rollback {
                            config: "flags".into()
                        })
                    );
                    pushes += 2;
                }
                crate::scenario::IncidentClass::RetryStorm => assert_eq!(g.faults.len(), 2),
                crate::scenario::IncidentClass::InstanceFailure => {
                    assert_eq!(
                        g.remedy,
                        Some(crate::remediation::mix::Remedy::Restart {
                            target: g.target.clone()
                        })
                    );
                }
                _ => assert_eq!((g.faults.len(), &g.remedy), (1, &None)),
            }
        }
        assert_eq!(run.configs[0].pushes.len(), pushes);
        assert_eq!(
            run.faults.len(),
            a.iter().map(|g| g.faults.len()).sum::<usize>()
        );
    }
}
