//! The judgement of a SPOF analysis from its runs (see the module doc of [`super`]).
//!
//! Per case and route, over the seeds: the SLI (good over good + bad, the series windows
//! after warm-up, as [`crate::slo_status`] counts them) with a Student-t 95% interval; the
//! availability within the failure window (as an experiment's `Availability` probe reads
//! it); the goodput lost, successes of the baseline minus those of the case from the
//! window's start to the end of the run (paired per seed), also as seconds of the route's
//! baseline goodput; and the run's recovery time (goodput back within 5% of its baseline
//! after the failure ends, [`crate::recovery`]). A route
//!
//! - is **undetermined** when a run stopped early, the baseline misses the SLO itself on a
//!   seed, a seed had no request to judge, the seeds disagree, there is one seed (no
//!   interval), or the interval straddles the objective;
//! - **missed** its SLO when the SLI is below the objective on every seed;
//! - **met** it otherwise.
//!
//! Cases are ranked by goodput lost over all routes, the largest first.

use serde::{Deserialize, Serialize};

use super::Plan;
use super::static_view::StaticView;
use super::targets::{Failure, TargetKind};
use crate::experiment::verdict::Interval;
use crate::experiment::{Metric, Probe, Tolerance, Window};
use crate::recovery::Verdict as Recovery;
use crate::result::RunResult;

/// What a target's failure did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// One thing failed and a route missed its SLO.
    Spof,
    /// Several things failing together (every replica) made a route miss its SLO.
    CommonMode,
    /// The runs cannot tell (the reason says why).
    Undetermined,
    /// Every route met its SLO.
    Survived,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Spof => "SPOF",
            Verdict::CommonMode => "common-mode",
            Verdict::Undetermined => "undetermined",
            Verdict::Survived => "survived",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteVerdict {
    Met,
    Missed,
    Undetermined,
}

/// Whether the static view and the runs say the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Agreement {
    Agree,
    Disagree,
    /// The runs could not tell, so there is nothing to compare.
    Undetermined,
}

/// A route without any fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteBaseline {
    pub route: String,
    pub objective: f64,
    /// Per seed.
    pub sli: Vec<Option<f64>>,
    /// Successes per second after warm-up, mean over the seeds.
    pub goodput_rps: f64,
}

/// One route under one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteImpact {
    pub route: String,
    /// Successes over finished requests within the failure window, mean over the seeds.
    pub availability_in_window: Option<f64>,
    /// Per seed, over the run after warm-up.
    pub sli: Vec<Option<f64>>,
    /// Mean SLI with its t 95% interval (two seeds or more).
    pub sli_interval: Option<Interval>,
    /// Baseline successes minus the case's, from the window's start on; mean over seeds.
    pub lost_requests: f64,
    /// The same in seconds of the route's baseline goodput.
    pub lost_s: Option<f64>,
    pub verdict: RouteVerdict,
    pub why: String,
}

/// One target failed one way, over every seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseOutcome {
    /// 1 for the largest goodput lost.
    pub rank: usize,
    pub target: String,
    pub kind: TargetKind,
    pub failure: Failure,
    /// The fault run, as run results name it (`crash (Refuse) on db`).
    pub fault: String,
    pub verdict: Verdict,
    pub reason: String,
    /// Goodput lost over every route, requests (mean over seeds).
    pub lost_requests: f64,
    /// Mean recovery time when every seed recovered.
    pub recovery_s: Option<f64>,
    /// The recovery in words (`1.0 s`, `never: metastable on seed 7`, ...).
    pub recovery: String,
    pub routes: Vec<RouteImpact>,
}

/// One target over its cases, beside its static view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetOutcome {
    pub target: String,
    pub kind: TargetKind,
    pub instances: u32,
    pub verdict: Verdict,
    /// Routes that missed their SLO under some failure of it.
    pub missed: Vec<String>,
    /// The failures that made some route miss.
    pub broken_by: Vec<Failure>,
    #[serde(rename = "static")]
    pub static_view: StaticView,
    pub agreement: Agreement,
    /// Where and why the two views differ (or what they agree on).
    pub note: String,
}

/// The whole analysis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub scenario: String,
    pub scenario_hash: String,
    pub seeds: Vec<u64>,
    pub window_start_s: f64,
    pub window_end_s: f64,
    pub horizon_s: f64,
    pub slow_factor: f64,
    pub routes: Vec<RouteBaseline>,
    /// Ranked by impact.
    pub cases: Vec<CaseOutcome>,
    /// In enumeration order: services, instances, caches, brokers, links, zones.
    pub targets: Vec<TargetOutcome>,
    /// Targets with failures no fault expresses (a link's crash and slow, a zone's slow).
    pub not_run: Vec<NotRun>,
    /// The single points of failure found, common-mode failures, and targets the runs
    /// could not judge.
    pub spofs: Vec<String>,
    pub common_mode: Vec<String>,
    pub undetermined: Vec<String>,
}

/// A target's failures that were not run: no fault expresses them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotRun {
    pub target: String,
    pub kind: TargetKind,
    pub failures: Vec<Failure>,
}

/// Indices of the series windows that start at or after `from_s`.
fn windows_from(r: &RunResult, from_s: f64) -> impl Iterator<Item = usize> + '_ {
    let s = &r.series;
    (0..s.t_s.len()).filter(move |&i| s.t_s[i] - s.window_s >= from_s - 1e-9)
}

fn client<'a>(r: &'a RunResult, route: &str) -> &'a crate::result::ClientSeries {
    r.series
        .clients
        .iter()
        .find(|c| c.name == route)
        .expect("every run has every client's series")
}

/// The route's SLI over the run after warm-up; `None` without requests.
fn sli(r: &RunResult, route: &str) -> Option<f64> {
    let c = client(r, route);
    let (good, bad) =
        windows_from(r, r.warmup_s).fold((0u64, 0u64), |(g, b), i| (g + c.good[i], b + c.bad[i]));
    (good + bad > 0).then(|| good as f64 / (good + bad) as f64)
}

fn succeeded_from(r: &RunResult, route: &str, from_s: f64) -> u64 {
    let c = client(r, route);
    windows_from(r, from_s).map(|i| c.succeeded[i]).sum()
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Judges the runs: `baseline[k]` and `cases[i][k]` ran on `plan.seeds[k]`.
///
/// # Panics
///
/// If the run lists do not match the plan.
pub fn evaluate(
    plan: &Plan,
    scenario: &str,
    baseline: &[RunResult],
    cases: &[Vec<RunResult>],
) -> Report {
    assert_eq!(
        baseline.len(),
        plan.seeds.len(),
        "one baseline run per seed"
    );
    assert_eq!(cases.len(), plan.cases.len(), "runs for every case");
    let (from, to) = plan.window_s;
    let routes: Vec<RouteBaseline> = plan
        .routes
        .iter()
        .map(|route| {
            let rates: Vec<f64> = baseline
                .iter()
                .map(|r| {
                    let span = r.simulated_s - r.warmup_s;
                    succeeded_from(r, &route.name, r.warmup_s) as f64 / span.max(1e-9)
                })
                .collect();
            RouteBaseline {
                route: route.name.clone(),
                objective: route.objective,
                sli: baseline.iter().map(|r| sli(r, &route.name)).collect(),
                goodput_rps: mean(&rates).unwrap_or(0.0),
            }
        })
        .collect();

    let mut outcomes: Vec<CaseOutcome> = plan
        .cases
        .iter()
        .zip(cases)
        .map(|(case, runs)| {
            assert_eq!(runs.len(), plan.seeds.len(), "one run per seed");
            let target = &plan.targets[case.target];
            let impacts: Vec<RouteImpact> = routes
                .iter()
                .map(|b| route_impact(plan, b, baseline, runs, (from, to)))
                .collect();
            let missed: Vec<&RouteImpact> = impacts
                .iter()
                .filter(|x| x.verdict == RouteVerdict::Missed)
                .collect();
            let undetermined: Vec<&RouteImpact> = impacts
                .iter()
                .filter(|x| x.verdict == RouteVerdict::Undetermined)
                .collect();
            let (verdict, reason) = if !missed.is_empty() {
                let what: Vec<String> = missed
                    .iter()
                    .map(|x| format!("{} missed its SLO ({})", x.route, x.why))
                    .collect();
                if target.instances == 1 {
                    (Verdict::Spof, what.join("; "))
                } else {
                    let note = format!(
                        "; all {} instances{} failed at once: replicas do not help",
                        target.instances,
                        if target.kind == TargetKind::Link {
                            " pairs"
                        } else {
                            ""
                        }
                    );
                    (Verdict::CommonMode, what.join("; ") + &note)
                }
            } else if !undetermined.is_empty() {
                let what: Vec<String> = undetermined
                    .iter()
                    .map(|x| format!("{}: {}", x.route, x.why))
                    .collect();
                (Verdict::Undetermined, what.join("; "))
            } else {
                (Verdict::Survived, "every route met its SLO".to_string())
            };
            let (recovery_s, recovery) = recovery(&plan.seeds, runs);
            CaseOutcome {
                rank: 0,
                target: target.name.clone(),
                kind: target.kind,
                failure: case.failure,
                fault: runs
                    .first()
                    .and_then(|r| r.faults.first())
                    .map_or_else(String::new, |f| format!("{} on {}", f.kind, f.target)),
                verdict,
                reason,
                lost_requests: impacts.iter().map(|x| x.lost_requests).sum(),
                recovery_s,
                recovery,
                routes: impacts,
            }
        })
        .collect();

    let targets: Vec<TargetOutcome> = plan
        .targets
        .iter()
        .enumerate()
        .filter(|(i, _)| plan.cases.iter().any(|c| c.target == *i))
        .map(|(i, t)| {
            let mine: Vec<&CaseOutcome> = plan
                .cases
                .iter()
                .zip(&outcomes)
                .filter(|(c, _)| c.target == i)
                .map(|(_, o)| o)
                .collect();
            target_outcome(t, &plan.statics[i], &mine)
        })
        .collect();

    // Rank: the largest loss first; ties keep the enumeration order (a stable sort).
    outcomes.sort_by(|a, b| b.lost_requests.total_cmp(&a.lost_requests));
    for (k, o) in outcomes.iter_mut().enumerate() {
        o.rank = k + 1;
    }
    let named = |v: Verdict| -> Vec<String> {
        targets
            .iter()
            .filter(|t| t.verdict == v)
            .map(|t| t.target.clone())
            .collect()
    };
    Report {
        scenario: scenario.to_string(),
        scenario_hash: baseline
            .first()
            .map_or_else(String::new, |r| r.scenario_hash.clone()),
        seeds: plan.seeds.clone(),
        window_start_s: from,
        window_end_s: to,
        horizon_s: plan.baseline.horizon.as_secs_f64(),
        slow_factor: plan.slow_factor,
        routes,
        spofs: named(Verdict::Spof),
        common_mode: named(Verdict::CommonMode),
        undetermined: named(Verdict::Undetermined),
        cases: outcomes,
        targets,
        not_run: not_run(plan),
    }
}

/// The plan's pairs not run, grouped by target.
fn not_run(plan: &Plan) -> Vec<NotRun> {
    let mut out: Vec<NotRun> = Vec::new();
    for &(i, f) in &plan.not_run {
        let t = &plan.targets[i];
        match out.last_mut() {
            Some(last) if last.target == t.name => last.failures.push(f),
            _ => out.push(NotRun {
                target: t.name.clone(),
                kind: t.kind,
                failures: vec![f],
            }),
        }
    }
    out
}

fn route_impact(
    plan: &Plan,
    b: &RouteBaseline,
    baseline: &[RunResult],
    runs: &[RunResult],
    (from, to): (f64, f64),
) -> RouteImpact {
    let name = &b.route;
    let probe = Probe {
        name: "availability in window".into(),
        metric: Metric::Availability,
        of: Some(name.clone()),
        window: Window::During,
        skip: sim_core::SimDuration::ZERO,
        tolerance: Tolerance::AtLeast(0.0),
    };
    let in_window: Vec<f64> = runs
        .iter()
        .filter_map(|r| crate::experiment::probe::value(&probe, (from, to), r).ok())
        .collect();
    let lost: Vec<f64> = baseline
        .iter()
        .zip(runs)
        .map(|(base, r)| {
            succeeded_from(base, name, from) as f64 - succeeded_from(r, name, from) as f64
        })
        .collect();
    let lost_requests = mean(&lost).unwrap_or(0.0);
    let slis: Vec<Option<f64>> = runs.iter().map(|r| sli(r, name)).collect();
    let values: Vec<f64> = slis.iter().flatten().copied().collect();
    let sli_interval = (values.len() >= 2).then(|| {
        let ci = sim_core::stats::mean_ci(&values, 0.95);
        Interval {
            estimate: ci.mean,
            low: ci.low(),
            high: ci.high(),
        }
    });
    let (verdict, why) = route_verdict(plan, b, baseline, runs, &slis, sli_interval);
    RouteImpact {
        route: name.clone(),
        availability_in_window: mean(&in_window),
        sli: slis,
        sli_interval,
        lost_requests,
        lost_s: (b.goodput_rps > 0.0).then(|| lost_requests / b.goodput_rps),
        verdict,
        why,
    }
}

fn route_verdict(
    plan: &Plan,
    b: &RouteBaseline,
    baseline: &[RunResult],
    runs: &[RunResult],
    slis: &[Option<f64>],
    interval: Option<Interval>,
) -> (RouteVerdict, String) {
    let undetermined = |why: String| (RouteVerdict::Undetermined, why);
    let seeds = &plan.seeds;
    for (which, list) in [("baseline", baseline), ("failure", runs)] {
        if let Some((seed, r)) = seeds.iter().zip(list).find(|(_, r)| !r.stopped.is_normal()) {
            return undetermined(format!(
                "the {which} run on seed {seed} stopped early ({})",
                r.stopped
            ));
        }
    }
    let objective = b.objective;
    let base_missed: Vec<String> = seeds
        .iter()
        .zip(&b.sli)
        .filter(|(_, x)| x.is_some_and(|x| x < objective))
        .map(|(s, _)| s.to_string())
        .collect();
    if !base_missed.is_empty() {
        return undetermined(format!(
            "it misses its SLO without any fault (seeds {})",
            base_missed.join(", ")
        ));
    }
    if let Some((seed, _)) = seeds.iter().zip(slis).find(|(_, x)| x.is_none()) {
        return undetermined(format!("no request of it finished on seed {seed}"));
    }
    let missed = slis.iter().flatten().filter(|&&x| x < objective).count();
    let n = slis.len();
    if missed > 0 && missed < n {
        return undetermined(format!(
            "the seeds disagree: below {objective} on {missed} of {n}"
        ));
    }
    let Some(ci) = interval else {
        return undetermined(format!(
            "one seed gives no interval to judge by (SLI {:.5}); use --seeds 2 or more",
            slis[0].unwrap_or(f64::NAN)
        ));
    };
    let shown = format!("SLI {:.5} [{:.5}, {:.5}]", ci.estimate, ci.low, ci.high);
    if ci.low <= objective && objective <= ci.high {
        return undetermined(format!(
            "{shown}: the 95% interval straddles the objective {objective}"
        ));
    }
    if missed == n {
        (RouteVerdict::Missed, format!("{shown} < {objective}"))
    } else {
        (RouteVerdict::Met, format!("{shown} >= {objective}"))
    }
}

/// The mean recovery time when every seed recovered, and the recovery in words.
fn recovery(seeds: &[u64], runs: &[RunResult]) -> (Option<f64>, String) {
    let metastable: Vec<String> = seeds
        .iter()
        .zip(runs)
        .filter(|(_, r)| r.recovery_verdict == Recovery::Metastable)
        .map(|(s, _)| s.to_string())
        .collect();
    if !metastable.is_empty() {
        return (
            None,
            format!("never: metastable on seeds {}", metastable.join(", ")),
        );
    }
    let mut times = Vec::new();
    for (seed, r) in seeds.iter().zip(runs) {
        match (r.recovery_verdict, r.recovery_s) {
            (Recovery::Recovered, Some(x)) => times.push(x),
            _ => {
                return (
                    None,
                    format!(
                        "undetermined on seed {seed}: {} ({})",
                        r.recovery_verdict, r.recovery_reason
                    ),
                );
            }
        }
    }
    let m = mean(&times);
    (m, m.map_or_else(String::new, |x| format!("{x:.1} s")))
}

fn target_outcome(t: &super::Target, view: &StaticView, cases: &[&CaseOutcome]) -> TargetOutcome {
    let mut missed: Vec<String> = Vec::new();
    let mut broken_by = Vec::new();
    for c in cases {
        for x in c
            .routes
            .iter()
            .filter(|x| x.verdict == RouteVerdict::Missed)
        {
            if !missed.contains(&x.route) {
                missed.push(x.route.clone());
            }
            if !broken_by.contains(&c.failure) {
                broken_by.push(c.failure);
            }
        }
    }
    // In route order, as the cases list their routes.
    if let Some(c) = cases.first() {
        missed.sort_by_key(|m| c.routes.iter().position(|x| &x.route == m));
    }
    let any_undetermined = cases.iter().any(|c| c.verdict == Verdict::Undetermined);
    let verdict = if !missed.is_empty() {
        if t.instances == 1 {
            Verdict::Spof
        } else {
            Verdict::CommonMode
        }
    } else if any_undetermined {
        Verdict::Undetermined
    } else {
        Verdict::Survived
    };
    let (agreement, note) = compare(t, view, cases, verdict, &missed);
    TargetOutcome {
        target: t.name.clone(),
        kind: t.kind,
        instances: t.instances,
        verdict,
        missed,
        broken_by,
        static_view: view.clone(),
        agreement,
        note,
    }
}

/// Where the static view and the runs differ, route by route, and the likely why.
fn compare(
    t: &super::Target,
    view: &StaticView,
    cases: &[&CaseOutcome],
    verdict: Verdict,
    missed: &[String],
) -> (Agreement, String) {
    if verdict == Verdict::CommonMode {
        return (
            Agreement::Agree,
            format!(
                "not a single point ({} instances), but all of them failing together made {} miss",
                t.instances,
                missed.join(", ")
            ),
        );
    }
    let undetermined_for = |route: &str| {
        cases.iter().any(|c| {
            c.routes
                .iter()
                .any(|x| x.route == route && x.verdict == RouteVerdict::Undetermined)
        })
    };
    let mut notes = Vec::new();
    for r in missed.iter().filter(|r| !view.spof_for.contains(r)) {
        let why = if t.kind == TargetKind::Instance {
            "replicated, yet losing this one instance broke it: the others could not take the shared load, or callers kept sending to it".to_string()
        } else if view.reached_by.contains(r) {
            "it reaches the target only through a fallback or asynchronously, yet missed: a fallback's degraded answers count as bad for the SLO, and an async backlog is shared load".to_string()
        } else {
            "it does not call the target, yet missed: shared load (workers, queues, retries or a breaker shared with a route that does)".to_string()
        };
        notes.push(format!("{r}: {why}"));
    }
    for r in view.spof_for.iter().filter(|r| !missed.contains(r)) {
        if undetermined_for(r) {
            notes.push(format!(
                "{r}: static single point; the runs are undetermined"
            ));
        } else {
            notes.push(format!(
                "{r}: static single point, yet {r} met its SLO under every failure tried (retries, timeouts or the window's length absorbed it)"
            ));
        }
    }
    if notes.is_empty() {
        if verdict == Verdict::Undetermined {
            return (
                Agreement::Undetermined,
                "the runs could not tell (see its cases)".to_string(),
            );
        }
        let what = if missed.is_empty() {
            "neither view finds a single point".to_string()
        } else {
            format!("both: a single point of {}", missed.join(", "))
        };
        return (Agreement::Agree, what);
    }
    let only_undetermined = notes.iter().all(|n| n.ends_with("undetermined"));
    let agreement = if only_undetermined {
        Agreement::Undetermined
    } else {
        Agreement::Disagree
    };
    (agreement, notes.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spof::{Spec, prepare};

    /// One client calling one service.
    const TEXT: &str = r#"Scenario(name: "t", seed: 1, horizon: "60s", warmup: "5s",
        clients: [Client(name: "c", target: "api", load: Open(rate_rps: 200.0))],
        services: [Service(name: "api", workers: 8, service_time: Exponential(mean: "1ms"))],
        slo: (availability: 0.99))"#;

    fn judge(seeds: u32) -> Report {
        let s = crate::load("t.ron", TEXT).expect("valid").scenario;
        let spec = Spec {
            start: Some(sim_core::SimDuration::from_secs(20)),
            length: Some(sim_core::SimDuration::from_secs(10)),
            seed: 1,
            seeds,
            failures: vec![Failure::Crash],
            slow_factor: 10.0,
            only: Vec::new(),
            objective: None,
        };
        let plan = prepare(&s, &spec).expect("a valid spec");
        let baseline: Vec<RunResult> = plan
            .seeds
            .iter()
            .map(|&seed| crate::run(&plan.baseline, seed, "t"))
            .collect();
        let cases: Vec<Vec<RunResult>> = (0..plan.cases.len())
            .map(|i| {
                let sc = plan.scenario(i);
                plan.seeds
                    .iter()
                    .map(|&seed| crate::run(&sc, seed, "t"))
                    .collect()
            })
            .collect();
        evaluate(&plan, "t", &baseline, &cases)
    }

    #[test]
    fn a_lone_service_crashing_is_a_spof_and_one_seed_cannot_tell() {
        let r = judge(3);
        let api = &r.cases[0];
        assert_eq!((api.target.as_str(), api.verdict), ("api", Verdict::Spof));
        let c = &api.routes[0];
        assert_eq!(c.verdict, RouteVerdict::Missed, "{}", c.why);
        // 10 s down out of 55 s counted: about 18% bad, about 10 s of goodput lost.
        let sli = c.sli_interval.expect("3 seeds").estimate;
        assert!((0.78..0.86).contains(&sli), "SLI {sli}");
        assert!((9.0..11.5).contains(&c.lost_s.unwrap()), "{:?}", c.lost_s);
        assert_eq!(c.availability_in_window, Some(0.0));
        assert_eq!(r.spofs, ["api"]);
        assert_eq!(r.targets[0].agreement, Agreement::Agree);

        let one = judge(1);
        assert_eq!(one.cases[0].verdict, Verdict::Undetermined);
        assert!(
            one.cases[0].reason.contains("one seed"),
            "{}",
            one.cases[0].reason
        );
        assert_eq!(one.undetermined, ["api"]);
    }
}
