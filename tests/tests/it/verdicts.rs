//! The goodput verdict of real runs (`sim_models::recovery` states the rule): a verdict
//! needs evidence, and a run that cannot give it says `undetermined` and why.

use sim_models::RunResult;
use sim_models::recovery::Verdict;

use crate::support::replicate;

/// A healthy run at 4 rps over a 400 s horizon, with a fault that ends 120 s before the end.
/// At this rate a 5% band needs a ~2,500 s smoothing span: nothing can be judged, and the
/// run must say so rather than call itself metastable.
const LOW_RATE: &str = r#"Scenario(
    name: "low-rate", seed: 1, horizon: "400s", warmup: "10s",
    clients: [Client(name: "c", target: "a", load: Open(rate_rps: 4.0),
        policy: (timeout: "1s", max_attempts: 3))],
    services: [Service(name: "a", workers: 4, service_time: Exponential(mean: "10ms"))],
    faults: [Fault(start: "200s", end: "280s", kind: Slowdown(service: "a", factor: 2.0))],
)"#;

#[test]
fn a_healthy_low_rate_run_is_undetermined_not_metastable() {
    for r in replicate("low-rate.ron", LOW_RATE, 1..6) {
        assert!(r.totals.availability > 0.999, "{}", r.replay);
        assert_eq!(r.recovery_verdict, Verdict::Undetermined, "{}", r.replay);
        assert!(!r.metastable && r.recovery_s.is_none(), "{}", r.replay);
        let why = &r.recovery_reason;
        for needle in [
            "the run ends 120.0 s after the last fault",
            "smoothing span: run to at least",
            "successes and telling a 5% change from noise needs 10000",
        ] {
            assert!(why.contains(needle), "{}: {why}", r.replay);
        }
        let span = r.recovery_smoothing_s.expect("a span");
        assert!(
            (2000.0..3500.0).contains(&span),
            "span {span}: {}",
            r.replay
        );
        // The table prints the verdict and its reason.
        let table = reports::table(&r);
        assert!(
            table.contains("verdict   undetermined: the baseline"),
            "{table}"
        );
        assert!(!table.contains("metastable"), "{table}");
    }
}

/// One server at 95% utilisation behind a client with a 1 s timeout and eager retries
/// (5 attempts, no backoff) and a naive server that works on abandoned attempts: once a
/// queue excursion passes the timeout, retries push the load past capacity and goodput
/// never comes back, with no fault at all. When it happens is up to the seed.
const EAGER: &str = r#"Scenario(
    name: "eager", seed: 1, horizon: "600s", warmup: "10s",
    clients: [Client(name: "c", target: "a", load: Open(rate_rps: 95.0),
        policy: (timeout: "1s", max_attempts: 5))],
    services: [Service(name: "a", workers: 1, service_time: Exponential(mean: "10ms"))],
)"#;

/// Goodput over the windows ending in `(from, to]` seconds, per second.
fn goodput_between(r: &RunResult, from: f64, to: f64) -> f64 {
    let (mut n, mut secs) = (0, 0.0);
    for (i, &t) in r.series.t_s.iter().enumerate() {
        if t > from && t <= to {
            n += r.series.succeeded[i];
            secs += r.series.window_s;
        }
    }
    n as f64 / secs
}

#[test]
fn a_spontaneous_collapse_is_flagged_and_a_calm_run_is_not() {
    let runs = replicate("eager.ron", EAGER, 1..9);
    let mut collapsed = 0;
    for r in &runs {
        assert!(r.faults.is_empty() && !r.metastable, "{}", r.replay);
        match r.recovery_verdict {
            Verdict::CollapsedWithoutFault => {
                collapsed += 1;
                // The evidence: from when it left the band to the end, goodput is far
                // below what the client offers, and the reason says when.
                let at = r.collapsed_at_s.expect("when it left the band");
                assert!(at > 100.0 && at < 600.0, "{at}: {}", r.replay);
                let after = goodput_between(r, at, 600.0);
                assert!(
                    after < 0.5 * 95.0,
                    "goodput {after} after {at}: {}",
                    r.replay
                );
                assert!(
                    r.recovery_reason
                        .contains("left the 5% band of its early baseline"),
                    "{}",
                    r.recovery_reason
                );
                assert!(r.retries > 1000, "a collapse without retries? {}", r.replay);
                let table = reports::table(r);
                assert!(
                    table.contains("verdict   collapsed without a fault: "),
                    "{table}"
                );
            }
            Verdict::Steady => {
                assert!(r.totals.availability > 0.99, "{}", r.replay);
                assert!(r.collapsed_at_s.is_none());
            }
            Verdict::Undetermined => {
                // Only a collapse too early (before an early baseline) or too late (less
                // than two spans before the end) to judge.
                assert!(r.totals.availability < 0.99, "{}", r.replay);
            }
            v => panic!("{v} without a fault: {}", r.replay),
        }
    }
    assert!(collapsed >= 1, "no seed collapsed");

    // The same system without retries cannot amplify its load: it stays steady.
    let calm = EAGER.replace("max_attempts: 5", "max_attempts: 1");
    for r in replicate("calm.ron", &calm, 1..9) {
        assert_eq!(r.recovery_verdict, Verdict::Steady, "{}", r.replay);
        assert!(
            r.recovery_reason.starts_with("no fault"),
            "{}",
            r.recovery_reason
        );
    }
}
