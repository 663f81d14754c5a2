//! Single points of failure (`sim_models::spof`, `simctl spof`) on the ladder: v1.0 has the
//! ones its call graph says it has, and the replicated variant removes them.

use sim_models::RunResult;
use sim_models::spof::{self, Failure, Spec, TargetKind, Verdict};

use crate::support::{load, scenario_path};

/// The services of v1.0, each on every path of `shoppers` with one instance.
const SERVICES: [&str; 5] = ["gateway", "orders", "inventory", "payment", "db"];

/// The analysis of a bundled scenario over `only`, on 2 seeds, its runs on 2 threads; the
/// scenario cut to its first 5 minutes (its own faults out) to keep the test short: each
/// failure lasts 30 s from 75 s.
fn analyse(file: &str, only: &[String], failures: &[Failure]) -> spof::Report {
    let text = std::fs::read_to_string(scenario_path(file)).unwrap();
    let mut s = load(file, &text);
    s.faults.clear();
    s.horizon = sim_core::SimDuration::from_secs(300);
    let spec = Spec {
        start: None,
        length: None,
        seed: s.seed,
        seeds: 2,
        failures: failures.to_vec(),
        slow_factor: 10.0,
        only: only.to_vec(),
        objective: None,
    };
    let plan = spof::prepare(&s, &spec).expect("a valid analysis");
    let jobs: Vec<(Option<usize>, u64)> = std::iter::once(None)
        .chain((0..plan.cases.len()).map(Some))
        .flat_map(|c| plan.seeds.iter().map(move |&seed| (c, seed)))
        .collect();
    let run = |&(case, seed): &(Option<usize>, u64)| {
        let s = case.map_or_else(|| plan.baseline.clone(), |i| plan.scenario(i));
        sim_models::run(&s, seed, file)
    };
    let halves: Vec<Vec<(usize, RunResult)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|k| {
                let jobs = &jobs;
                scope.spawn(move || {
                    (k..jobs.len())
                        .step_by(2)
                        .map(|i| (i, run(&jobs[i])))
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut runs: Vec<(usize, RunResult)> = halves.into_iter().flatten().collect();
    runs.sort_by_key(|(i, _)| *i);
    let mut runs = runs.into_iter().map(|(_, r)| r);
    let n = plan.seeds.len();
    let baseline: Vec<RunResult> = runs.by_ref().take(n).collect();
    let cases: Vec<Vec<RunResult>> = (0..plan.cases.len())
        .map(|_| runs.by_ref().take(n).collect())
        .collect();
    spof::evaluate(&plan, file, &baseline, &cases)
}

fn target<'a>(r: &'a spof::Report, name: &str) -> &'a spof::judge::TargetOutcome {
    r.targets
        .iter()
        .find(|t| t.target == name)
        .unwrap_or_else(|| panic!("no target {name}"))
}

/// The acceptance test: `simctl spof` on v1.0 names its single points of failure,
/// and adding replicas (with failover: ejection, health checks, a retry per call) removes
/// them; failing every replica at once still breaks the routes, as common-mode. Crashes
/// only, to keep it short; README's analysis runs every target and failure on the whole
/// horizon (blackholes and slowdowns of single instances survive there too).
#[test]
fn v10_has_single_points_of_failure_and_replicas_remove_them() {
    let names: Vec<String> = SERVICES.iter().map(|s| s.to_string()).collect();
    let v10 = analyse("v1.0.ron", &names, &[Failure::Crash]);
    for name in SERVICES {
        let t = target(&v10, name);
        assert_eq!(t.verdict, Verdict::Spof, "{name}: {t:?}");
        assert!(t.missed.contains(&"shoppers".to_string()), "{name}: {t:?}");
        assert!(t.static_view.spof_for.contains(&"shoppers".to_string()));
    }
    assert_eq!(v10.spofs, SERVICES);
    // browse falls back when inventory fails: statically not its single point, but a
    // degraded answer is bad for the SLO, so the runs disagree and say why.
    let inventory = target(&v10, "inventory");
    assert!(
        !inventory
            .static_view
            .spof_for
            .contains(&"browsers".to_string())
    );
    assert!(inventory.missed.contains(&"browsers".to_string()));
    assert_eq!(inventory.agreement, spof::judge::Agreement::Disagree);
    assert!(inventory.note.contains("fallback"), "{}", inventory.note);

    let mut only = names.clone();
    only.extend(SERVICES.iter().map(|s| format!("{s}#0")));
    let replicated = analyse("replicated-v1.0.ron", &only, &[Failure::Crash]);
    assert!(replicated.spofs.is_empty(), "{:?}", replicated.spofs);
    for name in SERVICES {
        let one = target(&replicated, &format!("{name}#0"));
        assert_eq!(one.kind, TargetKind::Instance);
        assert_eq!(one.verdict, Verdict::Survived, "{name}#0: {one:?}");
        assert!(one.static_view.spof_for.is_empty());
        let all = target(&replicated, name);
        assert_eq!(all.verdict, Verdict::CommonMode, "{name}: {all:?}");
    }
}
