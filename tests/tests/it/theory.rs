//! The service model against queueing theory's closed forms.
//!
//! Method: independent replications. Each case runs R seeds through the real model and the
//! RON path; each replicate gives one estimate (e.g. its mean time in system); the test
//! builds a 99% Student-t confidence interval over the R estimates and asserts that the
//! closed form lies inside it. Replicates are independent, so the interval is honest even
//! though samples inside one run are autocorrelated. Each case also asserts the interval is
//! narrow (a relative half-width bound), so a test cannot pass by being vague.
//! Seeds are fixed: a failure replays exactly (the message names the seeds).

use sim_core::stats::{ConfidenceInterval, mean_ci};
use sim_models::RunResult;

use crate::support::replicate;

const LEVEL: f64 = 0.99;
const SEEDS: std::ops::Range<u64> = 1..11;

/// One client at `rate_rps` into one service; `service` is the RON of the service's fields
/// after its name.
fn single_queue(
    name: &str,
    rate_rps: f64,
    horizon: &str,
    warmup: &str,
    service: &str,
) -> Vec<RunResult> {
    let text = format!(
        r#"Scenario(
            name: "{name}", seed: 1, horizon: "{horizon}", warmup: "{warmup}",
            clients: [Client(name: "load", target: "server", load: Open(rate_rps: {rate_rps}))],
            services: [Service(name: "server", {service})],
        )"#
    );
    replicate(name, &text, SEEDS)
}

fn ci_of(runs: &[RunResult], f: impl Fn(&RunResult) -> f64) -> ConfidenceInterval {
    mean_ci(&runs.iter().map(f).collect::<Vec<_>>(), LEVEL)
}

/// Asserts `theory` lies in `ci` and that `ci` is at most `max_rel` of `theory` wide (half).
#[track_caller]
fn assert_agrees(what: &str, ci: ConfidenceInterval, theory: f64, max_rel: f64) {
    eprintln!(
        "{what}: theory {theory:.6}, simulated {:.6} ± {:.6} ({:.0}% CI over seeds {SEEDS:?})",
        ci.mean,
        ci.half_width,
        LEVEL * 100.0
    );
    assert!(
        ci.contains(theory),
        "{what}: theory {theory} outside the {LEVEL} CI [{}, {}] over seeds {SEEDS:?}",
        ci.low(),
        ci.high()
    );
    assert!(
        ci.half_width <= max_rel * theory,
        "{what}: CI half-width {} is more than {max_rel} of {theory}: the test would be too weak",
        ci.half_width
    );
}

fn server(_: &[RunResult]) -> fn(&RunResult) -> &sim_models::result::ServiceResult {
    |r| &r.services[0]
}

/// M/M/1: mean time in system W = 1 / (mu - lambda), utilization rho, P(wait) = rho.
#[test]
fn mm1_matches_theory_at_three_loads() {
    let mu = 1000.0; // mean service 1 ms
    for (rho, horizon, max_rel) in [
        (0.5, "800s", 0.01),
        (0.8, "1000s", 0.02),
        (0.95, "3000s", 0.05),
    ] {
        let lambda = rho * mu;
        let runs = single_queue(
            &format!("mm1-rho{rho}"),
            lambda,
            horizon,
            "50s",
            r#"workers: 1, service_time: Exponential(mean: "1ms")"#,
        );
        let s = server(&runs);
        let w_ms = 1000.0 / (mu - lambda);
        assert_agrees(
            &format!("M/M/1 rho={rho} W ms"),
            ci_of(&runs, |r| s(r).latency_ms.mean),
            w_ms,
            max_rel,
        );
        assert_agrees(
            &format!("M/M/1 rho={rho} client W ms"),
            ci_of(&runs, |r| r.totals.latency_ms.mean),
            w_ms,
            max_rel,
        );
        assert_agrees(
            &format!("M/M/1 rho={rho} utilization"),
            ci_of(&runs, |r| s(r).utilization),
            rho,
            0.01,
        );
        assert_agrees(
            &format!("M/M/1 rho={rho} P(wait)"),
            ci_of(&runs, |r| s(r).waited_fraction),
            rho,
            0.01,
        );
    }
}

/// M/M/c with c = 4 at rho = 0.85: Erlang C probability of waiting and mean wait.
#[test]
fn mmc_matches_erlang_c() {
    let (c, mu, rho) = (4u32, 1000.0, 0.85);
    let lambda = rho * mu * f64::from(c);
    let a = lambda / mu;
    let factorial = |n: u32| (1..=n).map(f64::from).product::<f64>();
    let below: f64 = (0..c).map(|k| a.powi(k as i32) / factorial(k)).sum();
    let top = a.powi(c as i32) / factorial(c) / (1.0 - rho);
    let p_wait = top / (below + top);
    let wq_ms = p_wait / (f64::from(c) * mu - lambda) * 1000.0;
    assert!(
        (p_wait - 0.689_316).abs() < 1e-6,
        "Erlang C itself: {p_wait}"
    );

    let runs = single_queue(
        "mmc",
        lambda,
        "300s",
        "20s",
        r#"workers: 4, service_time: Exponential(mean: "1ms")"#,
    );
    let s = server(&runs);
    assert_agrees(
        "M/M/4 P(wait)",
        ci_of(&runs, |r| s(r).waited_fraction),
        p_wait,
        0.01,
    );
    assert_agrees(
        "M/M/4 Wq ms",
        ci_of(&runs, |r| s(r).wait_mean_ms),
        wq_ms,
        0.03,
    );
    assert_agrees(
        "M/M/4 W ms",
        ci_of(&runs, |r| s(r).latency_ms.mean),
        wq_ms + 1.0,
        0.01,
    );
}

/// M/D/1: Pollaczek–Khinchine mean wait Wq = rho / (2 mu (1 - rho)).
#[test]
fn md1_matches_pollaczek_khinchine() {
    let (mu, rho) = (1000.0, 0.8);
    let runs = single_queue(
        "md1",
        rho * mu,
        "400s",
        "20s",
        r#"workers: 1, service_time: Constant("1ms")"#,
    );
    let s = server(&runs);
    let wq_ms = rho / (2.0 * mu * (1.0 - rho)) * 1000.0;
    assert_agrees(
        "M/D/1 Wq ms",
        ci_of(&runs, |r| s(r).wait_mean_ms),
        wq_ms,
        0.02,
    );
    assert_agrees(
        "M/D/1 W ms",
        ci_of(&runs, |r| s(r).latency_ms.mean),
        wq_ms + 1.0,
        0.02,
    );
}

/// M/M/1/K: blocking probability (1 - rho) rho^K / (1 - rho^(K+1)), K counting the one in
/// service (our `Bounded(k)` is the waiting room, so K = k + 1).
#[test]
fn mm1k_matches_blocking_probability() {
    let (mu, rho, waiting_room): (f64, f64, u32) = (1000.0, 0.9, 9);
    let k = f64::from(waiting_room + 1);
    let p_block = (1.0 - rho) * rho.powf(k) / (1.0 - rho.powf(k + 1.0));
    let runs = single_queue(
        "mm1k",
        rho * mu,
        "300s",
        "10s",
        &format!(
            r#"workers: 1, queue: Bounded({waiting_room}), service_time: Exponential(mean: "1ms")"#
        ),
    );
    let s = server(&runs);
    assert_agrees(
        "M/M/1/10 P(block)",
        ci_of(&runs, |r| s(r).rejected as f64 / s(r).attempts as f64),
        p_block,
        0.02,
    );
    // The clients see the rejections as failures, one for one.
    for r in &runs {
        assert_eq!(r.totals.failed.rejected, r.services[0].rejected);
        assert_eq!(
            r.totals.offered,
            r.totals.succeeded + r.totals.failed.total() + r.totals.in_flight_at_end
        );
    }
}

/// Little's law L = lambda W holds on every sample path, whatever the distributions: here a
/// log-normal service with 3 workers and LIFO order. Checked per run, to 1% (the only gap is
/// what is in the system at the edges of the counted period).
#[test]
fn littles_law_holds_per_run() {
    let runs = single_queue(
        "little",
        2500.0,
        "200s",
        "10s",
        r#"workers: 3, discipline: Lifo, service_time: LogNormal(median: "0.8ms", p99: "5ms")"#,
    );
    for r in &runs {
        let s = &r.services[0];
        let l = s.in_flight_mean;
        let lambda_w = s.arrival_rps * s.latency_ms.mean / 1000.0;
        eprintln!("Little seed {}: L {l:.4} vs lambda W {lambda_w:.4}", r.seed);
        assert!(
            (l - lambda_w).abs() <= 0.01 * l,
            "seed {}: L {l} vs lambda W {lambda_w}",
            r.seed
        );
    }
}
