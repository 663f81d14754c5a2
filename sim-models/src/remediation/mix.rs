//! Generated incidents with their injected truth: a seeded process draws, for each
//! incident, a class, a target fit for that class in the scenario, and the fault(s) that
//! make it; the truth is kept so a classifier can be scored (a confusion matrix) and so the
//! human on call fixes the right thing.

use rand::RngExt;
use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::path::{FieldPath, Problem};
use sim_core::rng::stream;

use super::class::IncidentClass;
use super::spec::IncidentMix;
use crate::scenario::{
    ConfigEffect, ConfigPush, CrashMode, Fault, FaultKind, Load, Scenario, Service, Step,
};

/// What one generated incident is, as injected: the truth a classifier is scored against
/// and the fix the human (or a matching remedy) applies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneratedIncident {
    pub class: IncidentClass,
    /// What it hits, named as a classification names it: a client (overload), a service
    /// (dependency down or slow, a bad deploy, a retry storm's service), `NAME#i`
    /// (instance failure), a config (bad config) or a zone.
    pub target: String,
    pub start_s: f64,
    /// When its faults end unless fixed (`start + unfixed`, cut at the horizon).
    pub end_s: f64,
    /// Its faults: indices in the run's fault list (`RunResult::faults`). A bad config
    /// push is no fault (it is a version in its config's pushes): none then.
    pub faults: Vec<usize>,
    /// The action that ends its faults early, if one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<Remedy>,
}

/// An action that fixes an incident's cause (its faults end), as opposed to one that only
/// mitigates it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Remedy {
    /// Restart this instance (`NAME#i`): a hung or leaking process comes back well.
    Restart { target: String },
    /// Roll this config back: the bad version leaves its instances.
    Rollback { config: String },
}

impl Remedy {
    /// Whether a plan's action is this remedy.
    pub fn matches(&self, action: &super::plan::PlanAction) -> bool {
        use super::plan::PlanAction as A;
        match (self, action) {
            (Remedy::Restart { target }, A::Restart { target: t, .. }) => t == target,
            (Remedy::Rollback { config }, A::Rollback { config: c }) => c == config,
            _ => false,
        }
    }
}

/// A spike (overload, a retry storm's trigger) multiplies its client's rate by this.
pub const SPIKE: f64 = 4.0;
/// A retry storm's trigger lasts this long (or `unfixed`, if shorter).
pub const STORM_TRIGGER: SimDuration = SimDuration::from_secs(5);
/// During a retry storm its service keeps this share of its workers (a degraded capacity,
/// the vulnerability the retries sustain the overload on; the human's fix restores it).
pub const STORM_CAPACITY: f64 = 0.6;
/// A dependency slow's, and a leaking instance's, work takes this many times as long.
pub const SLOW: f64 = 10.0;
pub const LEAK: f64 = 100.0;
/// A bad config version, or a bad deploy, fails this share of attempts.
pub const BAD_P: f64 = 0.5;
/// Incidents one mix generates at most per run (validation refuses one expected to reach
/// half of it).
pub const MAX_INCIDENTS: u64 = 10_000;
/// The mix's own stream: the incidents depend only on (seed, the scenario), never on the
/// world's draws.
pub const STREAM: &str = "remediation/mix";

/// One drawn incident with what makes it, before its faults get their run indices.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    pub incident: GeneratedIncident,
    pub faults: Vec<Fault>,
    /// Config pushes it adds: (config index, push).
    pub pushes: Vec<(usize, ConfigPush)>,
}

/// The targets fit for `class` in `s`, as `target` names them.
pub fn targets(s: &Scenario, class: IncidentClass) -> Vec<String> {
    let open = || {
        s.clients
            .iter()
            .filter(|c| matches!(c.load, Load::Open { .. }))
    };
    let services = || s.services.iter();
    match class {
        IncidentClass::Overload => open().map(|c| c.name.clone()).collect(),
        IncidentClass::DependencyDown | IncidentClass::DependencySlow => services()
            .filter(|x| is_leaf(x) && services().any(|caller| calls_sync(caller, &x.name)))
            .map(|x| x.name.clone())
            .collect(),
        IncidentClass::BadConfig if !s.configs.is_empty() => {
            s.configs.iter().map(|c| c.name.clone()).collect()
        }
        IncidentClass::BadConfig => services().map(|x| x.name.clone()).collect(),
        IncidentClass::InstanceFailure => services()
            .filter(|x| x.replicas >= 2)
            .flat_map(|x| (0..x.replicas).map(move |i| format!("{}#{i}", x.name)))
            .collect(),
        IncidentClass::RetryStorm => open()
            .filter(|c| {
                c.policy.max_attempts >= 2
                    && c.policy.budget.is_none()
                    && s.service_index(&c.target).is_some()
            })
            .map(|c| c.name.clone())
            .collect(),
        IncidentClass::ZoneLoss => {
            let mut zones: Vec<String> = services()
                .flat_map(|x| (0..x.instances()).filter_map(|i| x.zone_of(i).map(str::to_string)))
                .collect();
            zones.sort();
            zones.dedup();
            zones
        }
    }
}

/// A service that calls nothing.
fn is_leaf(x: &Service) -> bool {
    x.calls.is_empty() && x.endpoints.iter().all(|e| e.calls.is_empty())
}

/// Whether `caller` waits on a call to `callee` (an `Async` call is fire and forget: its
/// caller never sees the callee fail).
fn calls_sync(caller: &Service, callee: &str) -> bool {
    std::iter::once(&caller.calls)
        .chain(caller.endpoints.iter().map(|e| &e.calls))
        .flatten()
        .any(|step| match step {
            Step::Call(c) => c.to == callee,
            Step::Parallel(cs) => cs.iter().any(|c| c.to == callee),
            Step::Async(_) | Step::Publish(_) => false,
        })
}

/// Draws the mix's incidents for `seed` (`s` validated): one after another from `start`,
/// a draw of `every` apart (from the end of the previous one), each lasting `unfixed`, to
/// the horizon; each a class drawn by weight and a target fit for it drawn uniformly.
pub fn draw(mix: &IncidentMix, s: &Scenario, seed: u64) -> Vec<Drawn> {
    let every = mix.every.compile().expect("validated every");
    let mut rng = stream(seed, STREAM);
    let classes: Vec<(IncidentClass, f64, Vec<String>)> = mix
        .classes
        .iter()
        .filter(|(_, w)| *w > 0.0)
        .map(|&(c, w)| (c, w, targets(s, c)))
        .collect();
    let total: f64 = classes.iter().map(|(_, w, _)| w).sum();
    let horizon = s.horizon.as_nanos();
    let mut t = mix.start.as_nanos();
    let mut out = Vec::new();
    while (out.len() as u64) < MAX_INCIDENTS && total > 0.0 {
        t = t.saturating_add(every.sample_duration(&mut rng).as_nanos());
        if t >= horizon {
            break;
        }
        let mut pick = rng.random::<f64>() * total;
        let (class, _, fit) = classes
            .iter()
            .find(|(_, w, _)| {
                pick -= w;
                pick < 0.0
            })
            .unwrap_or(classes.last().expect("total > 0"));
        let target = fit[rng.random_range(0..fit.len())].clone();
        // Drawn for every incident, so the next incidents do not depend on this one's class.
        let variant = rng.random::<f64>();
        let end = t.saturating_add(mix.unfixed.as_nanos().max(1)).min(horizon);
        let (start, stop) = (SimDuration::from_nanos(t), SimDuration::from_nanos(end));
        out.push(make(s, *class, target, start, stop, variant));
        t = end;
    }
    out
}

/// The faults (and pushes) of one incident of `class` on `target` from `start` to `end`.
fn make(
    s: &Scenario,
    class: IncidentClass,
    target: String,
    start: SimDuration,
    end: SimDuration,
    variant: f64,
) -> Drawn {
    let fault = |kind: FaultKind| Fault { start, end, kind };
    let mut pushes = Vec::new();
    let mut remedy = None;
    let faults = match class {
        IncidentClass::Overload => vec![fault(FaultKind::Spike {
            client: target.clone(),
            factor: SPIKE,
        })],
        IncidentClass::DependencyDown => vec![fault(FaultKind::Crash {
            service: target.clone(),
            mode: CrashMode::Refuse,
        })],
        IncidentClass::DependencySlow => vec![fault(FaultKind::Slowdown {
            service: target.clone(),
            factor: SLOW,
        })],
        IncidentClass::BadConfig => match s.configs.iter().position(|c| c.name == target) {
            Some(c) => {
                // The bad version, then a good one (the fix rolled forward) at `end`.
                pushes.push((
                    c,
                    ConfigPush {
                        at: start,
                        effect: ConfigEffect::Errors { p: BAD_P },
                    },
                ));
                pushes.push((
                    c,
                    ConfigPush {
                        at: end,
                        effect: ConfigEffect::Good,
                    },
                ));
                remedy = Some(Remedy::Rollback {
                    config: target.clone(),
                });
                Vec::new()
            }
            // A bad deploy of the service.
            None => vec![fault(FaultKind::Errors {
                service: target.clone(),
                p: BAD_P,
            })],
        },
        IncidentClass::InstanceFailure => {
            remedy = Some(Remedy::Restart {
                target: target.clone(),
            });
            // Hung (answers nothing), or leaking (ever slower).
            vec![fault(if variant < 0.5 {
                FaultKind::Crash {
                    service: target.clone(),
                    mode: CrashMode::BlackHole,
                }
            } else {
                FaultKind::Slowdown {
                    service: target.clone(),
                    factor: LEAK,
                }
            })]
        }
        IncidentClass::RetryStorm => {
            let client = s.clients.iter().find(|c| c.name == target).expect("fit");
            let service = &s.services[s.service_index(&client.target).expect("fit")];
            let workers = ((f64::from(service.workers) * STORM_CAPACITY) as u32).max(1);
            let trigger =
                SimDuration::from_nanos(start.as_nanos().saturating_add(STORM_TRIGGER.as_nanos()))
                    .min(end);
            vec![
                Fault {
                    start,
                    end: trigger,
                    kind: FaultKind::Spike {
                        client: target.clone(),
                        factor: SPIKE,
                    },
                },
                fault(FaultKind::CapacityLoss {
                    service: service.name.clone(),
                    workers,
                }),
            ]
        }
        IncidentClass::ZoneLoss => vec![fault(FaultKind::ZoneOutage {
            zone: target.clone(),
            mode: CrashMode::Refuse,
        })],
    };
    // A retry storm is its service's, as the classifier names it.
    let target = match class {
        IncidentClass::RetryStorm => faults[1].kind.target(),
        _ => target,
    };
    Drawn {
        incident: GeneratedIncident {
            class,
            target,
            start_s: start.as_secs_f64(),
            end_s: end.as_secs_f64(),
            faults: Vec::new(),
            remedy,
        },
        faults,
        pushes,
    }
}

/// Problems with the mix's fields: (errors, warnings), paths from the root.
pub fn problems(s: &Scenario) -> (Vec<Problem>, Vec<Problem>) {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let Some(mix) = s.remediation.as_ref().and_then(|r| r.mix.as_ref()) else {
        return (errors, warnings);
    };
    let at = FieldPath::root().field("remediation").field("mix");
    let every_problems = mix.every.problems();
    let every_mean = if every_problems.is_empty() {
        mix.every.compile().map(|d| d.mean()).unwrap_or(0.0)
    } else {
        0.0
    };
    for p in every_problems {
        errors.push(Problem::new(at.field("every").join(&p.path), p.message));
    }
    if every_mean <= 0.0 && errors.is_empty() {
        errors.push(Problem::new(
            at.field("every"),
            "has mean 0: incidents would follow each other without end",
        ));
    }
    if mix.unfixed.is_zero() {
        errors.push(Problem::new(
            at.field("unfixed"),
            "must be above 0: every incident would be over as it starts",
        ));
    }
    if mix.classes.is_empty() {
        errors.push(Problem::new(
            at.field("classes"),
            "is empty: list the classes to generate with weights, e.g. [(Overload, 1.0)]",
        ));
    }
    for (i, &(class, weight)) in mix.classes.iter().enumerate() {
        let here = at.field("classes").index(i);
        if !(weight.is_finite() && weight > 0.0) {
            errors.push(Problem::new(
                here.clone(),
                format!(
                    "weight of {} is {weight}: it must be a number above 0",
                    class.name()
                ),
            ));
        }
        if mix.classes[..i].iter().any(|(c, _)| *c == class) {
            errors.push(Problem::new(
                here.clone(),
                format!("lists {} twice", class.name()),
            ));
        }
        if targets(s, class).is_empty() {
            errors.push(Problem::new(
                here,
                format!(
                    "the scenario has no target for {}: it needs {}",
                    class.name(),
                    needs(class)
                ),
            ));
        }
    }
    if errors.is_empty() {
        let span = s.horizon.as_nanos() as f64 - mix.start.as_nanos() as f64;
        let expected = span / (every_mean + mix.unfixed.as_nanos() as f64);
        if span <= 0.0 {
            warnings.push(Problem::new(
                at.field("start"),
                "is at or after the horizon: no incident will be generated",
            ));
        } else if expected > (MAX_INCIDENTS / 2) as f64 {
            errors.push(Problem::new(
                at.field("every"),
                format!(
                    "gives about {expected:.0} incidents over the horizon, more than {}: lengthen every",
                    MAX_INCIDENTS / 2
                ),
            ));
        }
    }
    (errors, warnings)
}

/// What a scenario needs to hold a target of `class`, for the error that says it has none.
fn needs(class: IncidentClass) -> &'static str {
    match class {
        IncidentClass::Overload => "an open-loop client",
        IncidentClass::DependencyDown | IncidentClass::DependencySlow => {
            "a service that calls nothing and that another service calls (not only Async)"
        }
        IncidentClass::BadConfig => "a config or a service",
        IncidentClass::InstanceFailure => "a service with 2 replicas or more",
        IncidentClass::RetryStorm => {
            "an open-loop client that calls a service with max_attempts of 2 or more and no retry budget"
        }
        IncidentClass::ZoneLoss => "a service with zones",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = include_str!("../../../scenarios/remediation/incidents.ron");

    fn bundled() -> Scenario {
        crate::load("incidents.ron", FILE).expect("valid").scenario
    }

    #[test]
    fn every_class_has_its_targets_in_the_bundled_scenario() {
        let s = bundled();
        let t = |c| targets(&s, c);
        assert_eq!(t(IncidentClass::Overload), ["web", "batch"]);
        assert_eq!(t(IncidentClass::DependencyDown), ["inventory", "payment"]);
        assert_eq!(t(IncidentClass::BadConfig), ["flags"]);
        assert_eq!(t(IncidentClass::InstanceFailure).len(), 6);
        assert_eq!(t(IncidentClass::RetryStorm), ["batch"]);
        assert_eq!(t(IncidentClass::ZoneLoss), ["a", "b", "c"]);
    }

    #[test]
    fn a_remedy_matches_its_own_action_only() {
        use super::super::plan::PlanAction;
        let r = Remedy::Restart {
            target: "orders#1".into(),
        };
        let restart = |t: &str| PlanAction::Restart {
            target: t.into(),
            restart_time: SimDuration::from_secs(10),
        };
        assert!(r.matches(&restart("orders#1")));
        assert!(!r.matches(&restart("orders")));
        assert!(!r.matches(&PlanAction::Rollback {
            config: "flags".into()
        }));
    }

    #[test]
    fn bad_mixes_are_refused_with_their_position() {
        let text = FILE
            .replace(r#"unfixed: "3m""#, r#"unfixed: "0s""#)
            .replace("(overload, 1.0)", "(overload, -1.0)")
            .replace("(zone_loss, 1.0)", "(overload, 1.0)");
        let err = crate::load("incidents.ron", &text)
            .expect_err("refused")
            .to_string();
        for (line, text) in [
            ("unfixed", "must be above 0"),
            ("classes[0]", "weight of overload is -1"),
            ("classes[6]", "lists overload twice"),
        ] {
            assert!(
                err.lines().any(|l| l.contains(line) && l.contains(text)),
                "{line}: {text} in\n{err}"
            );
        }
        assert!(err.contains("incidents.ron:"), "{err}");
        // A class the scenario has no target for.
        let text = FILE.replace(r#"zones: ["a", "b", "c"],"#, "");
        let err = crate::load("incidents.ron", &text)
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("remediation.mix.classes[6]`: the scenario has no target for zone_loss"),
            "{err}"
        );
    }
}
