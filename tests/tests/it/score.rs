//! The reliability score on the ladder (issue 15): the suite detects what the versions add,
//! so the score rises from v0.1 to v1.0.

use sim_models::score::{self, Category, Options, Score, Status};

use crate::support::{load, scenario_path};

/// Scores a bundled scenario: every run of its suite, on a few threads.
fn score_of(file: &str, seeds: u32) -> Score {
    let path = scenario_path(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let s = load(file, &text);
    let suite = score::suite(
        file,
        &s,
        &Options {
            seeds,
            ..Options::default()
        },
    );
    let runs = suite.runs();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let results: Vec<sim_models::RunResult> = std::thread::scope(|scope| {
        let chunks: Vec<_> = runs
            .chunks(runs.len().div_ceil(threads))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|&(sc, seed)| sim_models::run(sc, seed, file))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks
            .into_iter()
            .flat_map(|h| h.join().expect("runs"))
            .collect()
    });
    suite.judge(&results).0
}

fn status(s: &Score, service: &str, test: &str) -> Status {
    s.tests
        .iter()
        .find(|t| t.service == service && t.test == test)
        .unwrap_or_else(|| panic!("no test `{test}` of `{service}`"))
        .status
}

#[test]
fn the_ladder_score_rises_from_v01_to_v10() {
    let (v01, v10) = (score_of("v0.1.ron", 2), score_of("v1.0.ron", 2));
    assert!(
        v10.overall > v01.overall,
        "v0.1 {} v1.0 {}",
        v01.overall,
        v10.overall
    );
    // What moves it: v0.1's workers wait forever on a cut-off dependency (no timeouts
    // inside), so it never comes back; v1.0 times out, and its breaker sheds payment.
    assert_eq!(status(&v01, "gateway", "orders down"), Status::Failed);
    assert_eq!(status(&v10, "gateway", "orders down"), Status::Passed);
    // A 15-minute 2x step holds db at utilization 1.0: v0.1's queues grow without bound
    // until the in-flight guard stops the run, which counts as a fail, not as no evidence.
    let step = v01
        .tests
        .iter()
        .find(|t| t.service == "gateway" && t.test == "2x load")
        .unwrap();
    assert_eq!(step.status, Status::Failed);
    assert!(step.reason.contains("collapsed"), "{}", step.reason);
    let deps = |s: &Score| s.category(Category::Dependencies).unwrap();
    assert!(deps(&v10) > deps(&v01), "{} {}", deps(&v01), deps(&v10));
    // The ladder has no replicas and no zones: losing a host fails every service in both,
    // and no zone test runs.
    for s in [&v01, &v10] {
        assert_eq!(s.category(Category::Redundancy), Some(25.0));
        assert!(
            s.tests
                .iter()
                .filter(|t| t.test == "zone")
                .all(|t| t.status == Status::NotRun)
        );
    }
}
