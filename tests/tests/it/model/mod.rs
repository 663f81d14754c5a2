//! Behaviour tests of the world model against its documented semantics (DESIGN.md "Model
//! semantics", the module docs of `sim_models::world`, and the field docs of the scenario).
//!
//! Method: small scenarios built so that the expected number follows from the semantics
//! and simple arithmetic, never from a previous run's output. Constant service times and
//! link latencies make many expectations exact; where randomness remains (Poisson arrivals,
//! exponential service), the tolerance is stated in standard errors and derived in the
//! comment next to it. Seeds are fixed: a failure replays exactly.
//!
//! Unless a test says otherwise, a scenario "drains": its load steps to 0 well before the
//! horizon so that every request has its final outcome and every attempt has left its
//! service when the run ends, which turns the conservation laws into equalities.
//!
//! Tests marked `// Regression` pin bugs this suite found (pause handling, retry counting,
//! the horizon window, in-flight maxima, the waited fraction): each says what was observed.
//!
//! One file per behaviour: `conservation`, `request_path` (chains, Parallel, Async,
//! endpoints), `retries` (and budgets, hedges), `timeouts` (deadlines, wasted work,
//! cancellation), `faults`, `protection` (admission, backpressure, bulkheads, ejection,
//! health checks) and `load` (spikes, closed loops); the helpers below are shared.

use sim_core::stats::mean_ci;
use sim_models::RunResult;
use sim_models::result::{ClientResult, ServiceResult, Totals};

use crate::support::load;

/// Parses, validates and runs `text` with `seed`.
fn run(name: &str, text: &str, seed: u64) -> RunResult {
    sim_models::run(&load(name, text), seed, name)
}

fn service<'a>(r: &'a RunResult, name: &str) -> &'a ServiceResult {
    r.services
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no service `{name}` in {}", r.scenario))
}

fn client<'a>(r: &'a RunResult, name: &str) -> &'a ClientResult {
    r.clients
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no client `{name}` in {}", r.scenario))
}

fn series_index(r: &RunResult, name: &str) -> usize {
    r.series
        .services
        .iter()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("no series for `{name}`"))
}

/// Sum of `v[from..to]` (window indices; window `i` covers `[i, i + 1)` s with 1 s windows).
fn sum(v: &[u64], range: std::ops::Range<usize>) -> u64 {
    v[range].iter().sum()
}

/// Asserts `|x - expected| <= tol`, naming the quantity.
#[track_caller]
fn assert_near(what: &str, x: f64, expected: f64, tol: f64) {
    assert!(
        (x - expected).abs() <= tol,
        "{what}: got {x}, expected {expected} ± {tol}"
    );
}

/// One client's (or the system's) outcomes add up, exactly: `in_flight_at_end` counts the
/// requests still unanswered at the end (it is not a difference).
#[track_caller]
fn assert_totals_add_up(who: &str, t: &Totals) {
    assert_eq!(
        t.offered,
        t.succeeded + t.degraded + t.failed.total() + t.in_flight_at_end,
        "{who}: offered = succeeded + degraded + failed + in flight at the end ({t:?})"
    );
    assert_eq!(
        t.latency_ms.count, t.succeeded,
        "{who}: one latency per success"
    );
}

/// Each counted attempt at a service has exactly one fate (result.rs, `ServiceResult`).
#[track_caller]
pub(crate) fn assert_service_identity(s: &ServiceResult) {
    assert_eq!(
        s.attempts,
        s.completed
            + s.failed
            + s.rejected
            + s.refused
            + s.dropped
            + s.deduplicated
            + s.in_flight_at_end,
        "{}: attempts = completed + failed + rejected + refused + dropped + deduplicated + in flight at the end ({s:?})",
        s.name
    );
    assert!(
        s.errors <= s.failed,
        "{}: injected errors are failures",
        s.name
    );
}

/// Conservation: per client and in total, offered = succeeded + degraded + failed + in
/// flight; the system is the sum of its clients; without warm-up the time series sums to
/// the totals; per service, attempts = the sum of their fates, and the series agrees.
#[track_caller]
pub(crate) fn assert_conserved(r: &RunResult) {
    for c in &r.clients {
        assert_totals_add_up(&c.name, &c.totals);
    }
    assert_totals_add_up("system", &r.totals);
    let total = |f: fn(&Totals) -> u64| r.clients.iter().map(|c| f(&c.totals)).sum::<u64>();
    assert_eq!(r.totals.offered, total(|t| t.offered));
    assert_eq!(r.totals.succeeded, total(|t| t.succeeded));
    assert_eq!(r.totals.degraded, total(|t| t.degraded));
    assert_eq!(r.totals.failed.timeout, total(|t| t.failed.timeout));
    assert_eq!(r.totals.failed.rejected, total(|t| t.failed.rejected));
    assert_eq!(r.totals.failed.error, total(|t| t.failed.error));
    assert_eq!(r.totals.in_flight_at_end, total(|t| t.in_flight_at_end));
    let all = 0..r.series.t_s.len();
    if r.warmup_s == 0.0 {
        assert_eq!(sum(&r.series.offered, all.clone()), r.totals.offered);
        assert_eq!(sum(&r.series.succeeded, all.clone()), r.totals.succeeded);
        assert_eq!(sum(&r.series.failed, all.clone()), r.totals.failed.total());
    }
    for (s, ss) in r.services.iter().zip(&r.series.services) {
        assert_service_identity(s);
        if r.warmup_s == 0.0 {
            assert_eq!(sum(&ss.attempts, all.clone()), s.attempts, "{}", s.name);
            assert_eq!(sum(&ss.rejected, all.clone()), s.rejected, "{}", s.name);
            assert_eq!(sum(&ss.dropped, all.clone()), s.dropped, "{}", s.name);
        }
    }
}

/// For a run that drained: nothing in flight at the clients or at any service.
#[track_caller]
fn assert_drained(r: &RunResult) {
    assert_conserved(r);
    assert_eq!(r.totals.in_flight_at_end, 0, "the scenario should drain");
    for s in &r.services {
        assert_eq!(
            s.in_flight_at_end, 0,
            "{}: still in flight at the end",
            s.name
        );
    }
}

mod conservation;
mod faults;
mod load;
mod protection;
mod request_path;
mod retries;
mod timeouts;

/// The overall deadline cuts a retry loop short: Errors(p = 1) all run, 10 ms of work, up
/// to 10 attempts 100 ms apart, deadline 250 ms. Attempts fail at 10, 120 and 230 ms; the
/// next would start at 330 ms, so the request fails as a timeout at 250 ms, during the
/// backoff. One closed-loop user thinking 1 s: a cycle of 1.25 s, so requests at
/// 1 s + k x 1.25 s; the horizon of 100.1 s keeps the last one's end (100 s) inside it:
/// floor(99.1 / 1.25) + 1 = 80 requests, 3 attempts each.
fn deadline_retry_run() -> RunResult {
    let text = r#"Scenario(
        name: "deadline-retry", seed: 1, horizon: "100.1s",
        clients: [Client(name: "c", target: "a",
            load: Closed(users: 1, think_time: Constant("1s")),
            policy: (max_attempts: 10, backoff: Constant("100ms")), deadline: "250ms")],
        services: [Service(name: "a", workers: 1, service_time: Constant("10ms"))],
        faults: [Fault(start: "0s", end: "100.1s", kind: Errors(service: "a", p: 1.0))],
    )"#;
    run("deadline-retry.ron", text, 1)
}

/// Runs `text` over seeds 1..=10 and returns a 99% CI of `f` over them.
fn ci(
    name: &str,
    text: &str,
    f: impl Fn(&RunResult) -> f64,
) -> sim_core::stats::ConfidenceInterval {
    let samples: Vec<f64> = (1..=10)
        .map(|seed| {
            let r = run(name, text, seed);
            assert_conserved(&r);
            f(&r)
        })
        .collect();
    mean_ci(&samples, 0.99)
}

#[track_caller]
fn assert_ci_holds(what: &str, ci: &sim_core::stats::ConfidenceInterval, theory: f64) {
    assert!(
        ci.contains(theory),
        "{what}: theory {theory} outside the 99% CI [{}, {}]",
        ci.low(),
        ci.high()
    );
    assert!(ci.half_width < 0.05 * theory, "{what}: CI too wide: {ci:?}");
}
