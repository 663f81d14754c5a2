//! An experiment checked against its scenario, and the two scenarios to run: the control
//! (the scenario, its own faults kept or removed) and the experiment (the control with the
//! method's faults appended and one rule per stop condition that ends them).
//!
//! The method's faults and the stop rules are checked by the scenario's own validation on
//! the experiment scenario; a problem found there is reported at the injection or stop
//! condition of the experiment file it came from.

use sim_core::SimDuration;
use sim_core::path::{FieldPath, PathSeg, Problem};

use super::{BlastRadius, Experiment, Inject, Metric, ScenarioFaults, Tolerance, Window};
use crate::rules::{Action, Rule};
use crate::scenario::{Fault, FaultKind, Scenario};

/// The most seeds an experiment may ask for (as `simctl sweep --seeds`).
pub const MAX_SEEDS: u32 = 10_000;

/// What simctl runs, and what the probes read.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub control: Scenario,
    pub treatment: Scenario,
    pub seeds: Vec<u64>,
    /// The method's span, virtual seconds: its first fault's start to its last one's end.
    pub method_s: (f64, f64),
    /// Per probe, the stretch it reads: `(from_s, to_s)`.
    pub windows: Vec<(f64, f64)>,
    /// The method's faults as run (after the blast radius), one line each.
    pub method: Vec<String>,
    /// The stop rules' names (the stop conditions' names).
    pub stops: Vec<String>,
}

/// Checks `exp` against `scenario` (already validated) and builds the plan; every problem,
/// by field path in the experiment file.
pub fn prepare(exp: &Experiment, scenario: &Scenario) -> Result<Plan, Vec<Problem>> {
    let root = FieldPath::root();
    let mut errors: Vec<Problem> = Vec::new();
    let mut err = |path: FieldPath, msg: String| errors.push(Problem::new(path, msg));

    if exp.name.trim().is_empty() {
        err(root.field("name"), "must not be empty".into());
    }
    if exp.seeds == 0 || exp.seeds > MAX_SEEDS {
        err(
            root.field("seeds"),
            format!("must be 1 to {MAX_SEEDS}, got {}", exp.seeds),
        );
    }
    if exp.hypothesis.is_empty() {
        err(
            root.field("hypothesis"),
            "needs at least one probe: a hypothesis with nothing to check always holds".into(),
        );
    }
    if exp.method.is_empty() {
        err(
            root.field("method"),
            "needs at least one fault to inject: without one the experiment is its control".into(),
        );
    }
    for (i, p) in exp.hypothesis.iter().enumerate() {
        if let Some(first) = exp.hypothesis[..i].iter().position(|q| q.name == p.name) {
            err(
                root.field("hypothesis").index(i).field("name"),
                format!(
                    "probe name `{}` is already used by hypothesis[{first}]",
                    p.name
                ),
            );
        }
    }

    let mut control = scenario.clone();
    if exp.scenario_faults == ScenarioFaults::Remove {
        control.faults.clear();
        // Incident processes are scenario faults too (drawn per seed).
        control.incidents.clear();
    }
    // The method's faults, each with the injection it came from.
    let mut faults: Vec<(usize, Fault)> = Vec::new();
    for (j, inj) in exp.method.iter().enumerate() {
        let at = root.field("method").index(j);
        match expand(inj, scenario) {
            Ok(list) => faults.extend(list.into_iter().map(|f| (j, f))),
            Err((field, msg)) => err(at.join(&field), msg),
        }
    }
    let base_faults = control.faults.len();
    let base_rules = control.rules.len();
    let mut treatment = control.clone();
    treatment
        .faults
        .extend(faults.iter().map(|(_, f)| f.clone()));
    let method_faults: Vec<u32> = (base_faults..treatment.faults.len())
        .map(|i| i as u32)
        .collect();
    for stop in &exp.abort {
        treatment.rules.push(Rule {
            name: stop.name.clone(),
            when: stop.when.clone(),
            after: SimDuration::ZERO,
            action: Action::EndFaults {
                faults: method_faults.clone(),
            },
            duration: None,
            cooldown: SimDuration::ZERO,
            max_actions: 1,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // The scenario's checks on what the method and the stop conditions added.
    let (found, _) = crate::validate::problems(&treatment);
    for p in found {
        errors.push(locate_added(p, base_faults, &faults, base_rules));
    }

    let start = exp.method.iter().map(|i| i.start).min().unwrap_or_default();
    let end = exp.method.iter().map(|i| i.end).max().unwrap_or_default();
    for (j, inj) in exp.method.iter().enumerate() {
        if inj.end > scenario.horizon {
            errors.push(Problem::new(
                root.field("method").index(j).field("end"),
                format!(
                    "is after the horizon ({}): the method must end within the run, or no probe could read what follows it",
                    scenario.horizon
                ),
            ));
        }
    }
    let mut windows = Vec::new();
    for (i, p) in exp.hypothesis.iter().enumerate() {
        let at = root.field("hypothesis").index(i);
        let (from, to) = match p.window {
            Window::Before => (scenario.warmup, start),
            Window::During => (start, end),
            Window::After => (end, scenario.horizon),
            Window::Whole => (scenario.warmup, scenario.horizon),
        };
        let from = SimDuration::from_nanos(from.as_nanos().saturating_add(p.skip.as_nanos()));
        if to <= from || to.as_nanos() - from.as_nanos() < scenario.window.as_nanos() {
            let what = if to <= from {
                "is empty"
            } else {
                "is shorter than one series window"
            };
            let skip = if p.skip.is_zero() {
                String::new()
            } else {
                format!(", after skipping {}", p.skip)
            };
            errors.push(Problem::new(
                at.field("window"),
                format!(
                    "{:?} {what} here ({from} to {to}{skip}): a probe must read at least one series window ({}) of the run (warm-up {}, method {start} to {end}, horizon {})",
                    p.window, scenario.window, scenario.warmup, scenario.horizon
                ),
            ));
        }
        windows.push((from.as_secs_f64(), to.as_secs_f64()));
        errors.extend(probe_problems(exp, i, &control, scenario));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let base = exp.seed.unwrap_or(scenario.seed);
    Ok(Plan {
        seeds: (0..exp.seeds)
            .map(|r| crate::sweep::replicate_seed(base, r))
            .collect(),
        method: faults
            .iter()
            .map(|(_, f)| {
                let w = crate::run::fault_window(f);
                format!("{} on {} from {} to {}", w.kind, w.target, f.start, f.end)
            })
            .collect(),
        stops: exp.abort.iter().map(|s| s.name.clone()).collect(),
        control,
        treatment,
        method_s: (start.as_secs_f64(), end.as_secs_f64()),
        windows,
    })
}

/// What is wrong with probe `i` beyond its window.
fn probe_problems(exp: &Experiment, i: usize, control: &Scenario, s: &Scenario) -> Vec<Problem> {
    let p = &exp.hypothesis[i];
    let at = FieldPath::root().field("hypothesis").index(i);
    let mut out = Vec::new();
    let mut err = |path: FieldPath, msg: String| out.push(Problem::new(path, msg));
    let client = |n: &str| s.clients.iter().any(|c| c.name == n);
    match (&p.metric, &p.of) {
        (Metric::Availability | Metric::Goodput, Some(of)) if !client(of) => err(
            at.field("of"),
            format!(
                "`{of}` is not a client: {} is measured per client (route), or for all of them without `of`",
                p.metric.name()
            ),
        ),
        (Metric::QueueDepth, Some(of)) if s.service_index(of).is_none() => err(
            at.field("of"),
            crate::topology::unknown_service(
                "names",
                of,
                &s.services
                    .iter()
                    .map(|x| x.name.as_str())
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            Metric::P99 | Metric::RetryAmplification | Metric::Duplicates | Metric::RecoveryTime,
            Some(_),
        ) => err(
            at.field("of"),
            format!(
                "{} is measured for the whole system only: leave `of` out (a per-route p99 per window is not recorded; a route's p99 over the whole run is `Registry(\"clients.NAME.p99_ms\")`)",
                p.metric.name()
            ),
        ),
        _ => {}
    }
    match (&p.metric, p.window) {
        (Metric::Duplicates, w) if w != Window::Whole => err(
            at.field("window"),
            "duplicate side effects are counted over the whole run only: use `Whole`".into(),
        ),
        (Metric::RecoveryTime, w) if w != Window::After => err(
            at.field("window"),
            "recovery is measured after the last fault: use `After`".into(),
        ),
        (Metric::Registry(name), w) => {
            if w != Window::Whole {
                err(
                    at.field("window"),
                    "registry metrics are whole-run numbers: use `Whole`".into(),
                );
            }
            match crate::metric::MetricRef::parse(name).and_then(|m| m.check(s)) {
                Err(why) => err(at.field("metric"), why),
                Ok(()) if p.of.is_some() => err(
                    at.field("of"),
                    "a registry metric names its service or client itself: leave `of` out".into(),
                ),
                Ok(()) => {}
            }
        }
        _ => {}
    }
    let finite = |x: f64| x.is_finite();
    match p.tolerance {
        Tolerance::AtLeast(x) | Tolerance::AtMost(x) if !finite(x) => err(
            at.field("tolerance"),
            format!("must be a finite number, got {x}"),
        ),
        Tolerance::Between(lo, hi) if !(finite(lo) && finite(hi) && lo <= hi) => err(
            at.field("tolerance"),
            format!("must be finite bounds, low <= high, got {lo}, {hi}"),
        ),
        Tolerance::WithinControl(x) if !(finite(x) && x >= 0.0) => err(
            at.field("tolerance"),
            format!("must be a finite fraction at least 0 (0.05 for 5%), got {x}"),
        ),
        Tolerance::WithinControl(_) if p.metric == Metric::RecoveryTime && control.faults.is_empty() => {
            err(
                at.field("tolerance"),
                "the control run has no fault to recover from: give recovery an absolute bound (AtMost)".into(),
            )
        }
        _ => {}
    }
    out
}

/// The faults one injection adds, after its blast radius; or the field and message of what
/// is wrong with it (relative to the injection).
fn expand(inj: &Inject, s: &Scenario) -> Result<Vec<Fault>, (FieldPath, String)> {
    let radius = FieldPath::root().field("blast_radius");
    let fault = |kind: FaultKind| Fault {
        start: inj.start,
        end: inj.end,
        kind,
    };
    match &inj.blast_radius {
        BlastRadius::All => Ok(vec![fault(inj.kind.clone())]),
        BlastRadius::Traffic { share } => {
            if !(share.is_finite() && *share > 0.0 && *share <= 1.0) {
                return Err((
                    radius.field("share"),
                    format!("must be a fraction in (0, 1], got {share}"),
                ));
            }
            match &inj.kind {
                FaultKind::Errors { service, p } => Ok(vec![fault(FaultKind::Errors {
                    service: service.clone(),
                    p: p * share,
                })]),
                FaultKind::Loss { a, b, p } => Ok(vec![fault(FaultKind::Loss {
                    a: a.clone(),
                    b: b.clone(),
                    p: p * share,
                })]),
                _ => Err((
                    radius,
                    "a share of traffic applies to faults that act per attempt (Errors, Loss); this fault acts on whole instances: use Instances(percent: ..)".into(),
                )),
            }
        }
        BlastRadius::Instances { .. } | BlastRadius::Zone(_) => {
            if let BlastRadius::Instances { percent } = &inj.blast_radius
                && !(percent.is_finite() && *percent > 0.0 && *percent <= 100.0)
            {
                return Err((
                    radius.field("percent"),
                    format!("must be in (0, 100], got {percent}"),
                ));
            }
            let name = match &inj.kind {
                FaultKind::Crash { service, .. }
                | FaultKind::Errors { service, .. }
                | FaultKind::Slowdown { service, .. }
                | FaultKind::CapacityLoss { service, .. }
                | FaultKind::Pause { service } => service,
                _ => {
                    return Err((
                        radius,
                        "a percentage of instances or a zone applies to faults on a service (a whole zone's outage is the ZoneOutage fault)".into(),
                    ));
                }
            };
            let Some(j) = s.service_index(name) else {
                return Err((
                    FieldPath::root().field("kind").field("service"),
                    format!(
                        "`{name}` is not a service (a blast radius needs the whole service's name)"
                    ),
                ));
            };
            let svc = &s.services[j];
            let n = svc.instances();
            let hit: Vec<u32> = match &inj.blast_radius {
                BlastRadius::Zone(z) => (0..n).filter(|&i| svc.zone_of(i) == Some(z)).collect(),
                BlastRadius::Instances { percent } => {
                    (0..((f64::from(n) * percent / 100.0).ceil() as u32).clamp(1, n)).collect()
                }
                _ => unreachable!("matched above"),
            };
            if hit.is_empty() {
                return Err((
                    radius,
                    format!(
                        "`{name}` has no instance in this zone (its zones: {:?})",
                        svc.zones
                    ),
                ));
            }
            if n == 1 {
                return Ok(vec![fault(inj.kind.clone())]);
            }
            Ok(hit
                .into_iter()
                .map(|i| {
                    let mut kind = inj.kind.clone();
                    if let FaultKind::Crash { service, .. }
                    | FaultKind::Errors { service, .. }
                    | FaultKind::Slowdown { service, .. }
                    | FaultKind::CapacityLoss { service, .. }
                    | FaultKind::Pause { service } = &mut kind
                    {
                        *service = format!("{name}#{i}");
                    }
                    fault(kind)
                })
                .collect())
        }
    }
}

/// A problem the scenario's validation found in the experiment scenario, moved to where the
/// experiment file says it: `faults[k]` of the method to its injection, `rules[k]` of a
/// stop condition to it.
fn locate_added(
    p: Problem,
    base_faults: usize,
    faults: &[(usize, Fault)],
    base_rules: usize,
) -> Problem {
    let segs = &p.path.0;
    let moved = match segs.as_slice() {
        [PathSeg::Field("faults"), PathSeg::Index(k), rest @ ..] if *k >= base_faults => {
            let j = faults[k - base_faults].0;
            Some(
                FieldPath::root()
                    .field("method")
                    .index(j)
                    .join(&FieldPath(rest.to_vec())),
            )
        }
        [PathSeg::Field("rules"), PathSeg::Index(k), rest @ ..] if *k >= base_rules => Some(
            FieldPath::root()
                .field("abort")
                .index(k - base_rules)
                .join(&FieldPath(rest.to_vec())),
        ),
        _ => None,
    };
    match moved {
        Some(path) => Problem::new(path, p.message),
        None => Problem::new(
            FieldPath::root().field("scenario"),
            format!("with the method added, field `{}`: {}", p.path, p.message),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"Scenario(
    name: "s", seed: 7, horizon: "2m", warmup: "10s",
    clients: [Client(name: "c", target: "api", load: Open(rate_rps: 100.0))],
    services: [Service(name: "api", workers: 4, replicas: 4, service_time: Constant("5ms"))],
    faults: [Fault(start: "5s", end: "6s", kind: Pause(service: "api"))],
)"#;

    fn experiment(method: &str) -> Experiment {
        let text = format!(
            r#"Experiment(name: "e", scenario: "s.ron", scenario_faults: Remove, seeds: 3,
                hypothesis: [Probe(name: "a", metric: Availability, window: After, skip: "10s", tolerance: AtLeast(0.99))],
                method: [{method}])"#
        );
        super::super::parse("e.ron", &text).expect("parses")
    }

    fn plan(method: &str) -> Result<Plan, Vec<Problem>> {
        let s = crate::load("s.ron", SCENARIO).expect("valid").scenario;
        prepare(&experiment(method), &s)
    }

    #[test]
    fn a_percentage_of_instances_hits_the_first_ones_rounded_up() {
        let p = plan(
            r#"Inject(start: "30s", end: "60s", kind: Crash(service: "api", mode: Refuse), blast_radius: Instances(percent: 30.0))"#,
        )
        .unwrap();
        // 30% of 4 instances is 1.2: two instances.
        let targets: Vec<String> = p
            .treatment
            .faults
            .iter()
            .map(|f| crate::run::fault_window(f).target)
            .collect();
        assert_eq!(targets, ["api#0", "api#1"]);
        // The scenario's own fault is removed from both arms.
        assert!(p.control.faults.is_empty());
        // And so are its incident processes.
        let mut s = crate::load("s.ron", SCENARIO).expect("valid").scenario;
        s.incidents.push(crate::scenario::Incidents {
            kind: crate::scenario::FaultKind::Pause {
                service: "api".into(),
            },
            mtbf: sim_core::dist::Dist::Constant(sim_core::SimDuration::from_secs(10)),
            mttr: sim_core::dist::Dist::Constant(sim_core::SimDuration::from_secs(1)),
            start: sim_core::SimDuration::ZERO,
        });
        let with = prepare(
            &experiment(
                r#"Inject(start: "30s", end: "60s", kind: Crash(service: "api", mode: Refuse))"#,
            ),
            &s,
        )
        .unwrap();
        assert!(with.control.incidents.is_empty() && with.treatment.incidents.is_empty());
        assert_eq!(p.seeds.len(), 3);
        assert_eq!(p.seeds[0], 7);
        assert_eq!(p.windows, vec![(70.0, 120.0)]);
        assert_eq!(p.method_s, (30.0, 60.0));
    }

    #[test]
    fn a_zone_hits_the_service_instances_in_it() {
        let text = SCENARIO.replace("replicas: 4,", r#"replicas: 4, zones: ["a", "b"],"#);
        let s = crate::load("s.ron", &text).expect("valid").scenario;
        let e = experiment(
            r#"Inject(start: "30s", end: "60s", kind: Crash(service: "api", mode: Refuse), blast_radius: Zone("b"))"#,
        );
        let p = prepare(&e, &s).unwrap();
        let targets: Vec<String> = p
            .treatment
            .faults
            .iter()
            .map(|f| crate::run::fault_window(f).target)
            .collect();
        // Instance i is in zone i mod 2: b holds #1 and #3.
        assert_eq!(targets, ["api#1", "api#3"]);
        let e = experiment(
            r#"Inject(start: "30s", end: "60s", kind: Crash(service: "api", mode: Refuse), blast_radius: Zone("c"))"#,
        );
        let err = prepare(&e, &s).unwrap_err();
        assert!(
            err[0].message.contains("no instance in this zone"),
            "{err:?}"
        );
    }

    #[test]
    fn a_share_of_traffic_scales_a_per_attempt_probability() {
        let p = plan(
            r#"Inject(start: "30s", end: "60s", kind: Errors(service: "api", p: 0.5), blast_radius: Traffic(share: 0.2))"#,
        )
        .unwrap();
        assert_eq!(
            p.treatment.faults[0].kind,
            FaultKind::Errors {
                service: "api".into(),
                p: 0.1
            }
        );
    }

    #[test]
    fn a_stop_condition_becomes_a_rule_ending_the_method_faults_only() {
        let s = crate::load("s.ron", SCENARIO).expect("valid").scenario;
        let mut e = experiment(
            r#"Inject(start: "30s", end: "60s", kind: Pause(service: "api#1")), Inject(start: "40s", end: "50s", kind: Pause(service: "api#2"))"#,
        );
        e.scenario_faults = ScenarioFaults::Keep;
        e.abort = vec![super::super::Stop {
            name: "stop".into(),
            when: crate::rules::Condition::At(SimDuration::from_secs(35)),
        }];
        let p = prepare(&e, &s).unwrap();
        assert_eq!(p.control.faults.len(), 1);
        assert_eq!(p.treatment.faults.len(), 3);
        assert_eq!(
            p.treatment.rules[0].action,
            Action::EndFaults { faults: vec![1, 2] }
        );
        assert!(p.control.rules.is_empty());
    }
}
