//! Incident generation (`sim_models::incidents`): over a long run, the count and mean
//! duration of each process's incidents match its MTBF and MTTR; the incidents are the
//! seed's, and one process does not move another's, nor any component's draws.
//!
//! Confidence bounds (derived here, used below). A process is an alternating renewal
//! process: cycles C = U + R, U ~ mtbf, R ~ mttr, independent, mean mu = E[U] + E[R],
//! variance s2 = Var U + Var R. By the renewal central limit theorem the number of failures
//! in a span T is about Normal(T / mu, T s2 / mu^3). The mean of n repair times is about
//! Normal(E[R], Var R / n). Each assertion allows 4 standard deviations (two-sided false
//! alarm about 6e-5 per assertion at a fixed seed; seeds are fixed, so a pass is stable).

use sim_models::RunResult;
use sim_models::result::FaultWindow;

use crate::support::load;

/// 2000 hours with a trickle of load and one-hour windows: the run is about incidents.
fn scenario(incidents: &str) -> String {
    format!(
        r#"Scenario(name: "incidents", seed: 1, horizon: "2000h", window: "1h",
    clients: [Client(name: "c", target: "api", load: Open(rate_rps: 0.01))],
    services: [
        Service(name: "api", workers: 4, replicas: 2, service_time: Constant("1ms"),
            calls: [Call(to: "db")]),
        Service(name: "db", workers: 4, service_time: Constant("1ms")),
    ],
    incidents: [{incidents}],
)"#
    )
}

/// db: up Exponential(1h), down Exponential(30m): mu = 90 min, s2 = 60^2 + 30^2 min^2.
const DB: &str = r#"Incidents(kind: Crash(service: "db", mode: Refuse),
    mtbf: Exponential(mean: "1h"), mttr: Exponential(mean: "30m"))"#;
/// api#1: from 10h, up Exponential(2h), down Uniform(10m, 50m):
/// mu = 150 min, s2 = 120^2 + 40^2/12 min^2.
const API1: &str = r#"Incidents(kind: Pause(service: "api#1"), start: "10h",
    mtbf: Exponential(mean: "2h"), mttr: Uniform(min: "10m", max: "50m"))"#;

fn run(text: &str, seed: u64) -> RunResult {
    sim_models::run(&load("incidents.ron", text), seed, "incidents.ron")
}

fn on<'a>(r: &'a RunResult, target: &str) -> Vec<&'a FaultWindow> {
    r.faults.iter().filter(|f| f.target == target).collect()
}

/// Checks count and mean duration (minutes) of `faults` against the renewal bounds.
#[track_caller]
fn matches_process(
    faults: &[&FaultWindow],
    span_min: f64,
    (up_mean, up_var): (f64, f64),
    (down_mean, down_var): (f64, f64),
) {
    let mu = up_mean + down_mean;
    let expected = span_min / mu;
    let sd = (span_min * (up_var + down_var) / mu.powi(3)).sqrt();
    let n = faults.len() as f64;
    assert!(
        (n - expected).abs() <= 4.0 * sd,
        "{n} incidents, expected {expected:.1} +- {:.1} (4 sd)",
        4.0 * sd
    );
    // The last incident may be cut by the horizon: leave it out of the durations.
    let durations: Vec<f64> = faults[..faults.len() - 1]
        .iter()
        .map(|f| (f.end_s - f.start_s) / 60.0)
        .collect();
    let mean = durations.iter().sum::<f64>() / durations.len() as f64;
    let bound = 4.0 * (down_var / durations.len() as f64).sqrt();
    assert!(
        (mean - down_mean).abs() <= bound,
        "mean duration {mean:.2} min, expected {down_mean} +- {bound:.2} (4 sd)"
    );
}

#[test]
fn counts_and_durations_match_mtbf_and_mttr() {
    let r = run(&scenario(&format!("{DB}, {API1}")), 11);
    let span = 2000.0 * 60.0;
    let db = on(&r, "db");
    let api1 = on(&r, "api#1");
    assert_eq!(db.len() + api1.len(), r.faults.len());
    matches_process(&db, span, (60.0, 3600.0), (30.0, 900.0));
    matches_process(&api1, span - 600.0, (120.0, 14400.0), (30.0, 1600.0 / 12.0));
    assert!(api1.iter().all(|f| f.start_s >= 36000.0));
    // The crashes reach the clients: requests fail during them, and only then, about.
    let failed = &r.clients[0].totals.failed;
    assert!(
        failed.error + failed.rejected + failed.timeout > 0,
        "{failed:?}"
    );
}

#[test]
fn same_seed_same_incidents_other_seed_other_ones() {
    let text = scenario(&format!("{DB}, {API1}"));
    let a = run(&text, 5);
    assert_eq!(a.faults, run(&text, 5).faults);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&run(&text, 5)).unwrap()
    );
    assert_ne!(a.faults, run(&text, 6).faults);
}

#[test]
fn a_process_does_not_move_another_ones_incidents() {
    let alone = run(&scenario(DB), 3);
    let both = run(&scenario(&format!("{API1}, {DB}")), 3);
    assert_eq!(on(&alone, "db"), on(&both, "db"));
}

/// Generated incidents are faults like hand-written ones: writing the same windows as
/// `faults` gives the same run (but for the scenario's hash).
#[test]
fn incidents_run_as_the_faults_they_expand_to() {
    let generated = load("incidents.ron", &scenario(DB));
    let mut written = generated.clone();
    written.faults = sim_models::incidents::expand(&generated, 9);
    written.incidents.clear();
    let json = |mut r: RunResult| {
        for f in &mut r.faults {
            f.incident = false;
        }
        let mut v = serde_json::to_value(r).unwrap();
        for k in ["scenario_hash", "replay"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    let (a, b) = (
        sim_models::run(&generated, 9, "x"),
        sim_models::run(&written, 9, "x"),
    );
    // Marked as incidents in the result, and only there.
    assert!(a.faults.iter().all(|f| f.incident) && !a.faults.is_empty());
    assert!(b.faults.iter().all(|f| !f.incident));
    assert_eq!(json(a), json(b));
}

/// A process that generates no incident changes nothing else: no component's draws moved.
#[test]
fn a_process_without_incidents_changes_no_draw() {
    let quiet = r#"Incidents(kind: Pause(service: "db"), start: "1999h",
        mtbf: Constant("2h"), mttr: Constant("1m"))"#;
    let text = scenario(quiet);
    let with = run(&text, 4);
    assert!(with.faults.is_empty());
    let without = run(&text.replace(quiet, ""), 4);
    assert_eq!(
        serde_json::to_value(&with.clients).unwrap(),
        serde_json::to_value(&without.clients).unwrap()
    );
    assert_eq!(with.series, without.series);
}

#[test]
fn bad_processes_get_positioned_errors() {
    let text = scenario(
        r#"Incidents(kind: Crash(service: "dbb", mode: Refuse), mtbf: Constant("0s"), mttr: Exponential(mean: "0s")),
    Incidents(kind: Flush(cache: "db"), mtbf: Constant("1h"), mttr: Constant("1m")),
    Incidents(kind: Pause(service: "db"), mtbf: Exponential(mean: "1s"), mttr: Constant("1s")),
    Incidents(kind: Pause(service: "db"), mtbf: Exponential(mean: "100000h"), mttr: Constant("1s"))"#,
    );
    let err = match sim_models::load("incidents.ron", &text) {
        Ok(_) => panic!("loaded"),
        Err(d) => d.to_string(),
    };
    for want in [
        "incidents.ron:8:48: error: field `incidents[0].kind.service`: names service `dbb`, \
         which does not exist (did you mean `db`?)",
        "incidents.ron:8:76: error: field `incidents[0].mtbf`: has mean 0",
        "incidents.ron:8:116: error: field `incidents[0].mttr.mean`: mean must be > 0",
        "incidents.ron:9:34: error: field `incidents[1].kind.cache`: cache `db` does not exist",
        "incidents.ron:10:49: error: field `incidents[2].mtbf`: gives about 3600000 incidents",
        "incidents.ron:11:49: warning: field `incidents[3].mtbf`: mean 100000h is over 3x",
    ] {
        assert!(err.contains(want), "missing {want:?} in\n{err}");
    }
}

/// Across seeds, the counts spread as the renewal bound says: over 200 seeds, their mean is
/// within 4 sd / sqrt(200) of T / mu, and their sample variance within [0.6, 1.4] of
/// T s2 / mu^3 (for a normal count, s^2 / sigma^2 has sd sqrt(2 / 199) = 0.10; 4 sd).
#[test]
fn counts_spread_across_seeds_as_the_bound_says() {
    let s = load("incidents.ron", &scenario(DB));
    let counts: Vec<f64> = (0..200)
        .map(|seed| sim_models::incidents::expand(&s, seed).len() as f64)
        .collect();
    let (span, mu, s2): (f64, f64, f64) = (2000.0 * 60.0, 90.0, 3600.0 + 900.0);
    let (expected, var) = (span / mu, span * s2 / mu.powi(3));
    let n = counts.len() as f64;
    let mean = counts.iter().sum::<f64>() / n;
    let sample_var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1.0);
    assert!(
        (mean - expected).abs() <= 4.0 * (var / n).sqrt(),
        "mean count {mean:.1}, expected {expected:.1}"
    );
    let ratio = sample_var / var;
    assert!(
        (0.6..=1.4).contains(&ratio),
        "sample variance {sample_var:.1} against {var:.1} ({ratio:.2})"
    );
}

/// The scenario's own faults come first and keep their numbers (`EndFaults` names them);
/// the drawn ones follow, marked.
#[test]
fn written_faults_come_first_and_keep_their_numbers() {
    let text = scenario(DB).replace(
        "incidents: [",
        r#"faults: [Fault(start: "1500h", end: "1501h", kind: Slowdown(service: "api", factor: 3.0))],
    incidents: ["#,
    );
    let r = run(&text, 2);
    assert_eq!(
        (r.faults[0].start_s, r.faults[0].incident),
        (5_400_000.0, false)
    );
    assert_eq!(r.faults[0].target, "api");
    assert!(r.faults[1..].iter().all(|f| f.incident && f.target == "db"));
    assert!(r.faults.len() > 1000);
}
