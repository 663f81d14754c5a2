//! Single points of failure (`simctl spof`): fail each thing alone and see which routes
//! miss their SLO.
//!
//! Every target ([`targets`]: each service, instance of a replicated service, cache,
//! broker, link and zone) is failed alone, once per failure it supports (crash, blackhole,
//! slow), over one window, on several seeds; the *baseline* is the same scenario without
//! any fault (its own faults and incident processes taken out) on the same seeds, so the
//! difference per seed is the failure's (common random numbers, as an experiment's control).
//! Per route (a client) the judge ([`judge`]) reads the SLI over the run after warm-up (as
//! [`crate::slo_status`] does), the availability within the window, the goodput lost from
//! the window's start on, and the run's recovery time; a route *misses* when its SLI is
//! below its objective on every seed with the 95% interval below too. A target whose
//! failure makes some route miss is a **single point of failure** when it is one thing (one
//! instance, one link between single instances, one zone); when it is several failing
//! together (every replica of a service, every pair of a link between replicated services)
//! the failure is **common-mode**: real, but not one that replicas remove. Seeds that
//! disagree, or an interval that straddles the objective, make it **undetermined**, and the
//! report says why. The static view ([`static_view`]) is beside it, and where the two
//! disagree the report says how.
//!
//! Running the cases is simctl's job; this module plans them and judges the results.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

use crate::scenario::{Fault, Scenario};

pub mod judge;
pub mod static_view;
pub mod targets;

pub use judge::{Report, Verdict, evaluate};
pub use static_view::StaticView;
pub use targets::{Failure, Target, TargetKind};

/// The most seeds (as `simctl sweep --seeds`).
pub const MAX_SEEDS: u32 = 10_000;

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// When each failure starts; default: a quarter into the horizon, and not before the
    /// warm-up ends.
    pub start: Option<SimDuration>,
    /// How long it lasts; default 30 s (a tenth of the horizon when that is shorter).
    pub length: Option<SimDuration>,
    pub seed: u64,
    pub seeds: u32,
    pub failures: Vec<Failure>,
    /// Work takes this many times as long in a `slow` failure.
    pub slow_factor: f64,
    /// Only the targets named (as the output names them); every target if empty.
    pub only: Vec<String>,
    /// Every route's SLO objective instead of the scenario's (or its client's).
    pub objective: Option<f64>,
}

/// One target failed one way.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// Index into [`Plan::targets`].
    pub target: usize,
    pub failure: Failure,
    pub fault: Fault,
}

/// A route and the objective it is judged by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub name: String,
    pub objective: f64,
}

/// What simctl runs: the baseline and each case on every seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub baseline: Scenario,
    pub targets: Vec<Target>,
    pub statics: Vec<StaticView>,
    pub cases: Vec<Case>,
    /// Target and failure pairs no fault expresses (not run), e.g. a slow link.
    pub not_run: Vec<(usize, Failure)>,
    pub routes: Vec<Route>,
    pub seeds: Vec<u64>,
    /// The failure window, virtual seconds.
    pub window_s: (f64, f64),
    pub slow_factor: f64,
}

impl Plan {
    /// The scenario of case `i`: the baseline with that one fault.
    pub fn scenario(&self, i: usize) -> Scenario {
        let mut s = self.baseline.clone();
        s.faults = vec![self.cases[i].fault.clone()];
        s
    }
}

/// Checks `spec` against `s` (already validated) and lists the runs; every problem as a
/// sentence naming the option at fault.
pub fn prepare(s: &Scenario, spec: &Spec) -> Result<Plan, Vec<String>> {
    let mut errors = Vec::new();
    let horizon = s.horizon;
    let start = spec
        .start
        .unwrap_or_else(|| SimDuration::from_nanos(horizon.as_nanos() / 4).max(s.warmup));
    let length = spec.length.unwrap_or_else(|| {
        SimDuration::from_secs(30).min(SimDuration::from_nanos(horizon.as_nanos() / 10))
    });
    let end = SimDuration::from_nanos(start.as_nanos().saturating_add(length.as_nanos()));
    if length.is_zero() {
        errors.push("--length: the failure window must last longer than 0s".to_string());
    }
    if start < s.warmup {
        errors.push(format!(
            "--start {start}: the window starts during the warm-up ({}), which the SLO does not count; start at {} or later",
            s.warmup, s.warmup
        ));
    }
    if end > horizon {
        errors.push(format!(
            "--start {start} --length {length}: the window ends at {}, after the horizon ({horizon}); \
             shorten it or start earlier",
            end
        ));
    }
    if spec.seeds == 0 || spec.seeds > MAX_SEEDS {
        errors.push(format!(
            "--seeds: must be 1 to {MAX_SEEDS}, got {}",
            spec.seeds
        ));
    }
    if spec.failures.is_empty() {
        errors.push("--kinds: name at least one of crash, blackhole, slow".to_string());
    }
    if !(spec.slow_factor.is_finite() && spec.slow_factor > 1.0) {
        errors.push(format!(
            "--slow-factor: must be a number above 1 (work takes that many times as long), got {}",
            spec.slow_factor
        ));
    }
    if let Some(x) = spec.objective
        && !(x > 0.0 && x < 1.0)
    {
        errors.push(format!(
            "--objective: must be within (0, 1), e.g. 0.999, got {x}"
        ));
    }

    let all = targets::targets(s);
    for name in &spec.only {
        if !all.iter().any(|t| &t.name == name) {
            let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
            let mut msg = format!("--only `{name}`: no such target");
            if let Some(close) = crate::diagnostic::nearest(name, &names) {
                msg.push_str(&format!(" (did you mean `{close}`?)"));
            }
            msg.push_str(&format!("; targets are: {}", names.join(", ")));
            errors.push(msg);
        }
    }

    let mut routes = Vec::new();
    for c in &s.clients {
        let objective = spec
            .objective
            .or(c.slo.as_ref().map(|x| x.availability))
            .or(s.slo.as_ref().map(|x| x.availability));
        match objective {
            Some(objective) => routes.push(Route {
                name: c.name.clone(),
                objective,
            }),
            None => errors.push(format!(
                "route `{}` has no SLO to judge it by: give the scenario (or the client) an `slo`, or pass --objective",
                c.name
            )),
        }
    }

    let mut baseline = s.clone();
    baseline.faults.clear();
    baseline.incidents.clear();
    let mut cases = Vec::new();
    let mut not_run = Vec::new();
    for (i, t) in all.iter().enumerate() {
        if !spec.only.is_empty() && !spec.only.contains(&t.name) {
            continue;
        }
        for &failure in &spec.failures {
            match t.fault(failure, spec.slow_factor) {
                Some(kind) => cases.push(Case {
                    target: i,
                    failure,
                    fault: Fault { start, end, kind },
                }),
                None => not_run.push((i, failure)),
            }
        }
    }
    if errors.is_empty() && cases.is_empty() {
        let kinds: Vec<&str> = spec.failures.iter().map(|f| f.name()).collect();
        errors.push(format!(
            "--kinds {}: no target asked for can fail that way (links only blackhole, zones crash or blackhole, caches and brokers crash or blackhole)",
            kinds.join(",")
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let statics = static_view::static_views(s, &all);
    let plan = Plan {
        baseline,
        targets: all,
        statics,
        cases,
        not_run,
        routes,
        seeds: (0..spec.seeds)
            .map(|r| crate::sweep::replicate_seed(spec.seed, r))
            .collect(),
        window_s: (start.as_secs_f64(), end.as_secs_f64()),
        slow_factor: spec.slow_factor,
    };
    // What was taken out or added must leave a valid scenario; a problem here is ours.
    for i in std::iter::once(None).chain((0..plan.cases.len()).map(Some)) {
        let scenario = match i {
            None => plan.baseline.clone(),
            Some(i) => plan.scenario(i),
        };
        let (found, _) = crate::validate::problems(&scenario);
        if let Some(p) = found.first() {
            let what = match i {
                None => "the scenario without its faults".to_string(),
                Some(i) => format!(
                    "{} failing as {}",
                    plan.targets[plan.cases[i].target].name, plan.cases[i].failure
                ),
            };
            return Err(vec![format!(
                "{what} is not a valid scenario: {}: {}",
                p.path, p.message
            )]);
        }
    }
    Ok(plan)
}
