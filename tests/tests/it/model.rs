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

// ---------------------------------------------------------------------------------------------
// 1. Conservation
// ---------------------------------------------------------------------------------------------

/// Every kind of fault, links with loss and jitter, retries, backoff, a deadline honoured
/// by one service, bounded queues, a rate limit and an async call. Load stops at 30 s;
/// every wait is bounded (the longest is web's 3 x 300 ms + 2 x 20 ms), so by 40 s all has
/// drained.
const EVERYTHING: &str = r#"Scenario(
    name: "everything", seed: 1, horizon: "40s",
    clients: [
        Client(name: "web", target: "gw",
            load: Open(rate_rps: 80.0, shape: [Step(at: "30s", rate_rps: 0.0)]),
            policy: (timeout: "300ms", max_attempts: 3, backoff: Constant("20ms"))),
        Client(name: "batch", target: "db",
            load: Open(rate_rps: 20.0, shape: [Step(at: "30s", rate_rps: 0.0)]),
            policy: (timeout: "500ms", max_attempts: 2), deadline: "800ms"),
    ],
    services: [
        Service(name: "gw", workers: 8, queue: Bounded(20), service_time: Exponential(mean: "5ms"),
            calls: [Call(to: "db", policy: (timeout: "100ms", max_attempts: 2)), Async(to: "audit")]),
        Service(name: "db", workers: 2, queue: Bounded(10), service_time: Exponential(mean: "10ms"),
            honor_deadline: true),
        Service(name: "audit", workers: 1, service_time: Constant("5ms"),
            admission: (rate_limit: (rate_rps: 50.0, burst: 5))),
    ],
    links: [Link(from: "gw", to: "db", latency: Uniform(min: "1ms", max: "3ms"), loss: 0.01)],
    default_link: (latency: Constant("1ms")),
    faults: [
        Fault(start: "3s", end: "5s", kind: Crash(service: "db", mode: Refuse)),
        Fault(start: "6s", end: "8s", kind: Crash(service: "db", mode: BlackHole)),
        Fault(start: "9s", end: "11s", kind: Errors(service: "gw", p: 0.5)),
        Fault(start: "12s", end: "14s", kind: Slowdown(service: "db", factor: 4.0)),
        Fault(start: "15s", end: "17s", kind: CapacityLoss(service: "gw", workers: 1)),
        Fault(start: "18s", end: "19s", kind: Pause(service: "db")),
        Fault(start: "20s", end: "22s", kind: Partition(a: "gw", b: "db")),
        Fault(start: "23s", end: "25s", kind: Loss(a: "web", b: "gw", p: 0.3)),
        Fault(start: "26s", end: "28s", kind: Spike(client: "web", factor: 3.0)),
    ],
)"#;

#[test]
fn conservation_holds_through_every_kind_of_fault() {
    for seed in [1, 2, 3] {
        let r = run("everything.ron", EVERYTHING, seed);
        assert_drained(&r);
        // The case must exercise what it claims to: retries, and each failure reason
        // (Refuse => error, BlackHole/Partition => timeout, gw's bounded queue during the
        // capacity loss => rejected).
        assert!(r.retries > 0, "seed {seed}: no retries");
        let f = &r.totals.failed;
        assert!(
            f.error > 0 && f.timeout > 0 && f.rejected > 0,
            "seed {seed}: {f:?}"
        );
        assert!(service(&r, "db").refused > 0 && service(&r, "db").dropped > 0);
        assert!(
            service(&r, "audit").rejected > 0,
            "the rate limit never bit"
        );
    }
}

/// The same with cancellation honoured at gw and db, and hedged calls from gw to db: the
/// cancels cross the same lossy, partitioned and crashing links and services, and every
/// attempt is still accounted for exactly once.
#[test]
fn conservation_holds_with_cancellation_through_every_kind_of_fault() {
    let text = EVERYTHING
        .replace(
            r#"Service(name: "gw", workers: 8,"#,
            r#"Service(name: "gw", workers: 8, honor_cancellation: true, cancel_cost: "2ms","#,
        )
        .replace(
            "honor_deadline: true),",
            r#"honor_deadline: true, honor_cancellation: true, cancel_cost: "1ms"),"#,
        )
        .replace(
            r#"policy: (timeout: "100ms", max_attempts: 2)"#,
            r#"policy: (timeout: "100ms", max_attempts: 2, hedge: (delay: "15ms"))"#,
        );
    assert_ne!(text, EVERYTHING);
    for seed in [1, 2, 3] {
        let r = run("everything-cancel.ron", &text, seed);
        assert_drained(&r);
        assert!(r.hedges > 0, "seed {seed}: no hedges");
        for name in ["gw", "db"] {
            assert!(
                service(&r, name).cancelled > 0,
                "seed {seed}: nothing cancelled at {name}"
            );
        }
    }
}

/// Cut off in overload (capacity 100/s, offered 200/s plus retries), with a warm-up:
/// requests and attempts are still in flight at the end, and conservation must account for
/// them rather than lose them.
#[test]
fn conservation_holds_when_the_run_ends_in_overload() {
    let text = r#"Scenario(
        name: "overload", seed: 1, horizon: "20s", warmup: "5s",
        clients: [Client(name: "c", target: "a", load: Open(rate_rps: 200.0),
            policy: (timeout: "500ms", max_attempts: 3))],
        services: [Service(name: "a", workers: 1, service_time: Exponential(mean: "10ms"))],
    )"#;
    let r = run("overload.ron", text, 4);
    assert_conserved(&r);
    assert!(r.totals.in_flight_at_end > 0);
    let a = service(&r, "a");
    let present = a.in_flight_at_end;
    // Still queued or in service at the end: there must be some (the queue grows by ~100/s
    // plus retries), and no more than the most ever present.
    assert!(present > 0, "an overloaded queue is empty at the end");
    assert!(
        present <= a.in_flight_max,
        "{present} > {}",
        a.in_flight_max
    );
    // Warm-up: ~15 s of 200/s are counted, not 20 s (Poisson sd of 3000 is 55).
    assert_near(
        "offered after warm-up",
        r.totals.offered as f64,
        3000.0,
        5.0 * 55.0,
    );
    assert!(sum(&r.series.offered, 0..20) > r.totals.offered);
}

/// An outcome at the very end of the run must be counted the same way in the totals and
/// in the time series. One closed-loop user thinks 1 s and each request takes 1 s: requests
/// at 1 s and 3 s, answered at 2 s and 4 s = the horizon.
#[test]
fn outcome_at_the_horizon_is_in_the_series() {
    let text = r#"Scenario(
        name: "edge", seed: 1, horizon: "4s",
        clients: [Client(name: "c", target: "a",
            load: Closed(users: 1, think_time: Constant("1s")))],
        services: [Service(name: "a", workers: 1, service_time: Constant("1s"))],
    )"#;
    let r = run("edge.ron", text, 1);
    assert_eq!(r.totals.offered, 2);
    assert_eq!(sum(&r.series.offered, 0..4), 2);
    // Regression (found in review, fixed in issue 3): expected the totals and the series to agree (2 and 2, or 1 and 1 if an event at
    // the horizon is outside the run); observed succeeded = 2 but the series holds 1: the
    // engine handles events at t = horizon, but the WindowEnd at the horizon (scheduled
    // earlier, so handled first) has already closed the last window, and `finish` closes
    // no further window because `end` is not after the last `t_s`.
    assert_eq!(
        sum(&r.series.succeeded, 0..r.series.t_s.len()),
        r.totals.succeeded,
        "series {:?} vs totals",
        r.series.succeeded
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Where a response leaves: the chain's latency
// ---------------------------------------------------------------------------------------------

/// client -> a -> b with constant work and links and idle services (64 workers at 20 rps):
/// latency = a's work 3 + b's work 11 + 2 x 5 (client <-> a) + 2 x 7 (a <-> b) = 38 ms,
/// exactly. A response sent when work is enqueued rather than done would show 24 ms.
#[test]
fn chain_latency_is_work_plus_four_link_traversals() {
    let text = r#"Scenario(
        name: "chain", seed: 1, horizon: "20s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 20.0, shape: [Step(at: "19s", rate_rps: 0.0)]))],
        services: [
            Service(name: "a", workers: 64, service_time: Constant("3ms"), calls: [Call(to: "b")]),
            Service(name: "b", workers: 64, service_time: Constant("11ms")),
        ],
        links: [
            Link(from: "c", to: "a", latency: Constant("5ms")),
            Link(from: "a", to: "b", latency: Constant("7ms")),
        ],
    )"#;
    let r = run("chain.ron", text, 1);
    assert_drained(&r);
    assert_eq!(r.totals.succeeded, r.totals.offered);
    let l = &r.totals.latency_ms;
    assert_near("client mean", l.mean, 38.0, 1e-6);
    // Percentiles come from an HDR histogram with 3 significant digits.
    assert_near("client p50", l.p50, 38.0, 0.05);
    assert_near("client max", l.max, 38.0, 0.05);
    // Per-service latency is arrival to answer: b = its work; a = 3 + 7 + 11 + 7.
    assert_near("b mean", service(&r, "b").latency_ms.mean, 11.0, 1e-6);
    assert_near("a mean", service(&r, "a").latency_ms.mean, 28.0, 1e-6);
    assert_eq!(
        service(&r, "b").wait_mean_ms,
        0.0,
        "idle services never queue"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Parallel and Async
// ---------------------------------------------------------------------------------------------

/// a (2 ms) then Parallel(b 10 ms, c 30 ms), zero latency links: latency = 2 + max(10, 30)
/// = 32 ms, not 2 + 10 + 30 = 42 ms; each branch gets one attempt per request.
#[test]
fn parallel_waits_for_the_slowest_branch_only() {
    let text = r#"Scenario(
        name: "parallel", seed: 1, horizon: "20s",
        clients: [Client(name: "users", target: "a",
            load: Open(rate_rps: 30.0, shape: [Step(at: "19s", rate_rps: 0.0)]))],
        services: [
            Service(name: "a", workers: 64, service_time: Constant("2ms"),
                calls: [Parallel([(to: "b"), (to: "c")])]),
            Service(name: "b", workers: 64, service_time: Constant("10ms")),
            Service(name: "c", workers: 64, service_time: Constant("30ms")),
        ],
    )"#;
    let r = run("parallel.ron", text, 1);
    assert_drained(&r);
    assert_near("latency", r.totals.latency_ms.mean, 32.0, 1e-6);
    assert_near("latency max", r.totals.latency_ms.max, 32.0, 0.05);
    let n = r.totals.offered;
    assert_eq!(service(&r, "b").attempts, n);
    assert_eq!(service(&r, "c").attempts, n);
}

/// Async is fire and forget: with a (2 ms) calling Async(d 50 ms) and Call(b 10 ms), in
/// either order, the latency is 2 + 10 = 12 ms; d still receives (and completes) one
/// attempt per request.
#[test]
fn async_call_adds_no_latency_but_reaches_the_callee() {
    for calls in [
        r#"[Async(to: "d"), Call(to: "b")]"#,
        r#"[Call(to: "b"), Async(to: "d")]"#,
    ] {
        let text = format!(
            r#"Scenario(
            name: "async", seed: 1, horizon: "20s",
            clients: [Client(name: "c", target: "a",
                load: Open(rate_rps: 30.0, shape: [Step(at: "19s", rate_rps: 0.0)]))],
            services: [
                Service(name: "a", workers: 64, service_time: Constant("2ms"), calls: {calls}),
                Service(name: "b", workers: 64, service_time: Constant("10ms")),
                Service(name: "d", workers: 64, service_time: Constant("50ms")),
            ],
        )"#
        );
        let r = run("async.ron", &text, 1);
        assert_drained(&r);
        assert_near(calls, r.totals.latency_ms.mean, 12.0, 1e-6);
        let n = r.totals.offered;
        assert_eq!(service(&r, "d").attempts, n, "{calls}");
        assert_eq!(service(&r, "d").completed, n, "{calls}");
        assert_eq!(service(&r, "b").completed, n, "{calls}");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Retries
// ---------------------------------------------------------------------------------------------

/// Errors(p = 1) on a leaf in [10 s, 20 s), 3 attempts, no backoff, 10 ms constant work
/// and idle workers: a request whose first attempt ends in the window also ends its second
/// and third there (10 and 20 ms later) and fails after exactly 3; one whose first attempt
/// ends outside succeeds at once. No arrivals in [19.9 s, 20.1 s) so no request straddles the
/// window's end (its start is harmless: all 3 attempts of a request end within 20 ms).
#[test]
fn errors_fault_makes_each_failed_request_try_max_attempts_times() {
    let text = r#"Scenario(
        name: "retries", seed: 1, horizon: "30s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 50.0, shape: [
                Step(at: "19.9s", rate_rps: 0.0), Step(at: "20.1s", rate_rps: 50.0),
                Step(at: "28s", rate_rps: 0.0)]),
            policy: (max_attempts: 3))],
        services: [Service(name: "a", workers: 64, service_time: Constant("10ms"))],
        faults: [Fault(start: "10s", end: "20s", kind: Errors(service: "a", p: 1.0))],
    )"#;
    let r = run("retries.ron", text, 1);
    assert_drained(&r);
    let failed = r.totals.failed.error;
    assert_eq!(r.totals.failed.total(), failed, "only error failures");
    assert_eq!(r.retries, 2 * failed, "2 retries per failed request");
    let a = service(&r, "a");
    assert_eq!(
        a.errors,
        3 * failed,
        "3 errored attempts per failed request"
    );
    assert_eq!(a.failed, a.errors);
    assert_eq!(a.completed, r.totals.succeeded, "one attempt per success");
    assert_eq!(a.attempts, r.totals.succeeded + 3 * failed);
    // Failed requests are those issued in ~[9.99 s, 19.9 s): 50/s x 9.91 s = 495.5, Poisson
    // sd 22; all their failures are reported in windows 10..19.
    assert_near("failed requests", failed as f64, 495.5, 5.0 * 22.3);
    assert_eq!(sum(&r.series.failed, 10..20), failed);
    // System amplification = attempts / offered = (n + 2 failed) / n.
    let n = r.totals.offered as f64;
    assert_near(
        "retry amplification",
        r.retry_amplification,
        (n + 2.0 * failed as f64) / n,
        1e-9,
    );
}

/// A baseline `error_rate` on a service (every endpoint) and on an endpoint (on top of the
/// service's), composing with an Errors fault: each independent, the chances of no error
/// multiply. No retries, so each client's error fraction is a binomial proportion: it must
/// lie within 4.5 standard errors of p (two-sided, ~7e-6 per check).
#[test]
fn baseline_error_rates_compose_with_errors_faults() {
    let scenario = |fault: &str| {
        format!(
            r#"Scenario(
            name: "error-rate", seed: 1, horizon: "200s",
            clients: [
                Client(name: "base", target: "a",
                    load: Open(rate_rps: 200.0, shape: [Step(at: "198s", rate_rps: 0.0)])),
                Client(name: "route", target: "a", endpoint: "e",
                    load: Open(rate_rps: 200.0, shape: [Step(at: "198s", rate_rps: 0.0)])),
            ],
            services: [Service(name: "a", workers: 64, service_time: Constant("1ms"),
                error_rate: 0.01,
                endpoints: [(name: "e", service_time: Constant("1ms"), error_rate: 0.05)])],
            faults: [{fault}],
        )"#
        )
    };
    let cases = [
        ("", 0.01, 1.0 - 0.99 * 0.95),
        (
            r#"Fault(start: "0s", end: "200s", kind: Errors(service: "a", p: 0.5))"#,
            1.0 - 0.99 * 0.5,
            1.0 - 0.99 * 0.95 * 0.5,
        ),
    ];
    for (fault, p_base, p_route) in cases {
        let r = run("error-rate.ron", &scenario(fault), 1);
        assert_drained(&r);
        for (name, p) in [("base", p_base), ("route", p_route)] {
            let t = &client(&r, name).totals;
            let n = t.offered as f64;
            assert_eq!(t.failed.total(), t.failed.error, "{name}: only errors");
            let se = (p * (1.0 - p) / n).sqrt();
            assert_near(
                &format!("{name} error fraction ({fault})"),
                t.failed.error as f64 / n,
                p,
                4.5 * se,
            );
        }
        let a = service(&r, "a");
        assert_eq!(
            a.errors, r.totals.failed.error,
            "each error is the service's"
        );
    }
    // `error_rate: 0` is the default: same run, draw for draw.
    let plain = scenario("").replace("error_rate: 0.01,", "");
    let plain = plain.replace(", error_rate: 0.05", "");
    let zero = scenario("").replace("error_rate: 0.01", "error_rate: 0.0");
    let zero = zero.replace("error_rate: 0.05", "error_rate: 0.0");
    let (a, b) = (run("plain.ron", &plain, 1), run("zero.ron", &zero, 1));
    assert_eq!(a.totals.failed.error, 0);
    assert_eq!(a.scenario_hash, b.scenario_hash);
    assert_eq!(a.trace_digest, b.trace_digest);
}

/// Backoff timing, made exact with one closed-loop user: it thinks 1 s, sends, and with
/// Errors(p = 1) all run long each request takes 3 x 10 ms of work plus the two backoff
/// delays before it fails. Requests are issued at 1 s + k x cycle while before the 100 s
/// horizon, i.e. floor(99 s / cycle) + 1 of them.
#[test]
fn backoff_delays_show_in_the_cycle_of_a_closed_loop_user() {
    for (backoff, cycle_s, expected) in [
        // cycle 1 + 0.03 = 1.03 s: 99 / 1.03 = 96.1 -> 97 requests.
        ("None", 1.03, 97),
        // + 2 x 100 ms = 1.23 s: 99 / 1.23 = 80.5 -> 81 requests.
        (r#"Constant("100ms")"#, 1.23, 81),
        // + 100 ms + 200 ms = 1.33 s: 99 / 1.33 = 74.4 -> 75 requests.
        (
            r#"Exponential(initial: "100ms", max: "1s", multiplier: 2.0)"#,
            1.33,
            75,
        ),
    ] {
        assert_eq!((99.0_f64 / cycle_s).floor() as u64 + 1, expected);
        let text = format!(
            r#"Scenario(
            name: "backoff", seed: 1, horizon: "100s",
            clients: [Client(name: "c", target: "a",
                load: Closed(users: 1, think_time: Constant("1s")),
                policy: (max_attempts: 3, backoff: {backoff}))],
            services: [Service(name: "a", workers: 1, service_time: Constant("10ms"))],
            faults: [Fault(start: "0s", end: "100s", kind: Errors(service: "a", p: 1.0))],
        )"#
        );
        let r = run("backoff.ron", &text, 1);
        assert_conserved(&r);
        assert_eq!(r.totals.offered, expected, "{backoff}");
        // The last request ends (fails) before the horizon in every case.
        assert_eq!(r.totals.failed.error, expected, "{backoff}");
        assert_eq!(r.retries, 2 * expected, "{backoff}");
    }
}

/// The two retry budget kinds under total failure (Errors p = 1 all run, 4 attempts per call,
/// retries at once). gRPC throttling debits every failed attempt: after the first calls
/// drain it, no retry passes and the load is exactly 1. Finagle's budget credits each call
/// and debits each retry: the long-run load is 1 + percent_can_retry + min_retries_per_sec
/// / rate (REFERENCES 3.2: 1.3 at 100 calls/s, 2.2 at 10).
///
/// Tolerance: given the arrivals the budget is deterministic, so with N calls in the
/// counted T = 600 s the retries are 0.2 N + 10 T up to the window's edges: at most one
/// window's allowance, (0.2 rate + 10) x 10 s, at each end of the counted span.
#[test]
fn finagle_budget_keeps_retrying_at_its_percentage_where_grpc_stops() {
    for rate in [100.0, 10.0] {
        let scenario = |budget: &str| {
            format!(
                r#"Scenario(
                name: "budget", seed: 1, horizon: "660s", warmup: "60s",
                clients: [Client(name: "c", target: "a", load: Open(rate_rps: {rate}),
                    policy: (max_attempts: 4, budget: {budget}))],
                services: [Service(name: "a", workers: 64, service_time: Constant("1ms"))],
                faults: [Fault(start: "0s", end: "660s", kind: Errors(service: "a", p: 1.0))],
            )"#
            )
        };
        let load = |r: &RunResult| service(r, "a").attempts as f64 / r.totals.offered as f64;
        let grpc = run(
            "grpc.ron",
            &scenario("(max_tokens: 10, token_ratio: 0.1)"),
            1,
        );
        assert_eq!(load(&grpc), 1.0, "gRPC at {rate}/s");
        let finagle = run("finagle.ron", &scenario("Finagle"), 1);
        let n = finagle.totals.offered as f64;
        let expected = 1.0 + 0.2 + 10.0 * 600.0 / n;
        let edges = 2.0 * (0.2 * rate + 10.0) * 10.0 / n;
        assert_near("Finagle load", load(&finagle), expected, edges);
        // N is Poisson(600 rate): 10 T / N is 10 / rate within 5 sd of N's relative error.
        let sd = 10.0 / rate / (600.0 * rate).sqrt();
        assert_near(
            "Finagle load, the formula",
            expected,
            1.2 + 10.0 / rate,
            5.0 * sd,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Timeouts, wasted work, deadlines
// ---------------------------------------------------------------------------------------------

/// Timeout 40 ms < work 100 ms, 2 attempts (the retry leaves at the first timeout), idle
/// workers so each attempt starts on arrival: every request times out; the naive service
/// still completes every attempt, the last 100 - 40 = 60 ms of each for nobody.
#[test]
fn timeout_shorter_than_work_wastes_the_rest_of_every_attempt() {
    let text = r#"Scenario(
        name: "wasted", seed: 1, horizon: "30s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 20.0, shape: [Step(at: "25s", rate_rps: 0.0)]),
            policy: (timeout: "40ms", max_attempts: 2))],
        services: [Service(name: "a", workers: 64, service_time: Constant("100ms"))],
    )"#;
    let r = run("wasted.ron", text, 1);
    assert_drained(&r);
    let n = r.totals.offered;
    assert_eq!(r.totals.succeeded, 0);
    assert_eq!(r.totals.failed.timeout, n);
    assert_eq!(r.retries, n);
    let a = service(&r, "a");
    assert_eq!(a.attempts, 2 * n);
    assert_eq!(
        a.completed,
        2 * n,
        "a naive service finishes abandoned work"
    );
    let expected = 0.060 * a.completed as f64;
    assert_near("wasted work s", a.wasted_work_s, expected, 1e-9 * expected);
    assert_near(
        "system wasted work s",
        r.wasted_work_s,
        expected,
        1e-9 * expected,
    );
}

/// One worker, 100 ms of work, 20 rps for 10 s (twice the capacity), a 300 ms deadline.
/// A naive service serves its whole backlog for nobody; one honouring deadlines drops what
/// expired in the queue, so it wastes far less and answers at least as many in time.
#[test]
fn honoring_deadlines_drops_expired_queued_work() {
    let result = |honor: bool| {
        let text = format!(
            r#"Scenario(
            name: "deadline", seed: 1, horizon: "30s",
            clients: [Client(name: "c", target: "a",
                load: Open(rate_rps: 20.0, shape: [Step(at: "10s", rate_rps: 0.0)]),
                deadline: "300ms")],
            services: [Service(name: "a", workers: 1, service_time: Constant("100ms"),
                honor_deadline: {honor})],
        )"#
        );
        run("deadline.ron", &text, 1)
    };
    let (naive, honor) = (result(false), result(true));
    // ~200 requests of 100 ms each: the naive backlog takes ~20 s, done before 30 s.
    assert_drained(&naive);
    assert_drained(&honor);
    for r in [&naive, &honor] {
        assert_eq!(
            r.totals.failed.timeout,
            r.totals.offered - r.totals.succeeded
        );
    }
    let (a_naive, a_honor) = (service(&naive, "a"), service(&honor, "a"));
    assert_eq!(a_naive.dropped, 0, "a naive service drops nothing");
    assert!(a_honor.dropped > 0, "expired queued attempts are dropped");
    // Honouring: an attempt starts only before its deadline, so only one that completes
    // after it (a success's does not) wastes anything, and less than its 100 ms of work.
    // That is < 10 s for the ~100 attempts (10/s for 10 s) the worker gets to start, about
    // half that on average. Naive: ~100 ms for each of ~200 completions, ~20 s.
    let late = a_honor.completed - honor.totals.succeeded;
    assert!(
        a_honor.wasted_work_s <= 0.1 * late as f64,
        "honouring wasted {} s over {late} late completions",
        a_honor.wasted_work_s
    );
    assert!(
        a_naive.wasted_work_s > 15.0,
        "naive wasted {}",
        a_naive.wasted_work_s
    );
    assert!(
        a_honor.wasted_work_s < a_naive.wasted_work_s / 2.0,
        "honouring wasted {} s, naive {} s",
        a_honor.wasted_work_s,
        a_naive.wasted_work_s
    );
    assert!(honor.totals.succeeded >= naive.totals.succeeded);
}

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

#[test]
fn deadline_ends_a_retry_loop_during_backoff() {
    let r = deadline_retry_run();
    assert_conserved(&r);
    assert_eq!(r.totals.offered, 80);
    assert_eq!(r.totals.failed.timeout, 80, "{:?}", r.totals.failed);
    assert_eq!(service(&r, "a").attempts, 3 * 80);
    assert_eq!(service(&r, "a").errors, 3 * 80);
}

/// `retries` counts "retries made": each is one more attempt, so attempts = offered +
/// retries when nothing is lost on the way.
#[test]
fn retries_count_only_retries_made() {
    let r = deadline_retry_run();
    let made = service(&r, "a").attempts - r.totals.offered;
    // Regression (found in review, fixed in issue 3): expected 160 retries (2 per request); observed 240: `attempt_failed` counts a
    // retry when it schedules it, and the third one, scheduled for 330 ms, is cancelled by
    // the 250 ms deadline and never made.
    assert_eq!(r.retries, made, "retries counted vs retries made");
}

// ---------------------------------------------------------------------------------------------
// 6. Crash: Refuse and BlackHole
// ---------------------------------------------------------------------------------------------

/// a: 5 workers x 10 ms at 400 rps (4 erlangs), crashed in [30 s, 35 s); the client waits 2 s
/// per attempt and does not retry; links are instant. The 30 s before the crash hold
/// ~12,000 successes, enough for a baseline that a 5% band can be held to.
fn crash_run(mode: &str) -> RunResult {
    let text = format!(
        r#"Scenario(
        name: "crash", seed: 1, horizon: "80s",
        clients: [Client(name: "c", target: "a", load: Open(rate_rps: 400.0),
            policy: (timeout: "2s"))],
        services: [Service(name: "a", workers: 5, service_time: Constant("10ms"))],
        faults: [Fault(start: "30s", end: "35s", kind: Crash(service: "a", mode: {mode}))],
    )"#
    );
    run("crash.ron", &text, 1)
}

#[test]
fn crash_refuse_answers_errors_at_once() {
    let r = crash_run("Refuse");
    assert_conserved(&r);
    let a = service(&r, "a");
    // Arrivals during the crash are refused: 400/s x 5 s = 2000, Poisson sd 45.
    assert_near("refused", a.refused as f64, 2000.0, 5.0 * 45.0);
    // Work in progress at the crash (~4 attempts in service) is lost, and the host resets
    // those connections: each refusal and each lost attempt is an error answer, at once.
    assert!(a.dropped > 0, "work in progress at the crash is lost");
    assert_eq!(
        r.totals.failed.error,
        a.refused + a.dropped,
        "each refusal and reset is an error answer"
    );
    assert_eq!(r.totals.failed.timeout, 0, "nobody waits for a timeout");
    // Errors come back at once: the first crash second already has ~400 failures.
    assert!(r.series.failed[30] > 300, "{:?}", &r.series.failed[29..33]);
    assert_crash_then_recovery(&r);
}

#[test]
fn crash_black_hole_leaves_callers_to_time_out() {
    let r = crash_run("BlackHole");
    assert_conserved(&r);
    let a = service(&r, "a");
    assert_eq!(a.refused, 0);
    assert_eq!(
        r.totals.failed.error, 0,
        "nothing answers from a black hole"
    );
    // Arrivals during the crash (~2000) and the work in progress vanish; each caller finds
    // out only by its 2 s timeout.
    assert_near("dropped", a.dropped as f64, 2000.0, 5.0 * 45.0);
    assert_eq!(r.totals.failed.timeout, a.dropped);
    // The first failure comes 2 s after an attempt was sent; nothing sent before 30 s is
    // more than a few ms old at the crash: no failure before 31.9 s.
    assert_eq!(
        sum(&r.series.failed, 0..31),
        0,
        "{:?}",
        &r.series.failed[29..33]
    );
    assert_crash_then_recovery(&r);
}

/// Nothing completes during the crash, goodput returns after it, and recovery is reported.
#[track_caller]
fn assert_crash_then_recovery(r: &RunResult) {
    let ok = &r.series.succeeded;
    assert_eq!(
        sum(ok, 30..35),
        0,
        "successes during the crash: {:?}",
        &ok[29..36]
    );
    // 400/s: Poisson sd 20 per window.
    for (i, &n) in ok.iter().enumerate().take(80).skip(36) {
        assert_near(
            &format!("successes in window {i}"),
            n as f64,
            400.0,
            5.0 * 20.0,
        );
    }
    // Smoothing at 400 rps is 25 / (0.05^2 x 400) = 25 s, so 45 s after the fault suffices;
    // an abrupt return reads as (about) 0 s.
    assert!(!r.metastable);
    let rec = r.recovery_s.expect("recovered");
    assert!((0.0..=5.0).contains(&rec), "recovery_s {rec}");
}

/// A crash loses the work in progress, including attempts waiting on a downstream call:
/// their calls are abandoned, and the callee's work on them becomes waste. a (no work)
/// calls b (1 s of work); when a crashes at 10 s, the ~20 b attempts started in (9 s, 10 s)
/// are orphans, each wasting (start + 1 s) - 10 s, i.e. between 0 and 1 s.
#[test]
fn crash_orphans_downstream_work() {
    let text = r#"Scenario(
        name: "orphans", seed: 1, horizon: "30s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 20.0, shape: [Step(at: "25s", rate_rps: 0.0)]),
            policy: (timeout: "3s"))],
        services: [
            Service(name: "a", workers: 64, service_time: Constant("0ms"), calls: [Call(to: "b")]),
            Service(name: "b", workers: 64, service_time: Constant("1s")),
        ],
        faults: [Fault(start: "10s", end: "11s", kind: Crash(service: "a", mode: Refuse))],
    )"#;
    let r = run("orphans.ron", text, 1);
    assert_drained(&r);
    let (a, b) = (service(&r, "a"), service(&r, "b"));
    assert_near("lost at the crash", a.dropped as f64, 20.0, 5.0 * 4.5);
    // Refuse mode resets the connections: the clients of lost attempts get errors at once,
    // as do those arriving while it is down (refused).
    assert_eq!(r.totals.failed.error, a.dropped + a.refused);
    assert_eq!(r.totals.failed.timeout, 0);
    assert!(b.wasted_work_s > 0.0, "orphaned downstream work is wasted");
    assert!(b.wasted_work_s < a.dropped as f64, "{} s", b.wasted_work_s);
    assert_eq!(a.wasted_work_s, 0.0, "a does no work");
}

// ---------------------------------------------------------------------------------------------
// 7. Pause: a stall, not a drop
// ---------------------------------------------------------------------------------------------

/// a: 2 workers x 10 ms at 100 rps, paused in [10 s, 12 s), no timeouts. Arrivals queue
/// (~200 of them), nothing completes, nothing is rejected or dropped, and afterwards every
/// request succeeds.
#[test]
fn pause_is_a_stall_not_a_drop() {
    let text = r#"Scenario(
        name: "pause", seed: 1, horizon: "30s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 100.0, shape: [Step(at: "25s", rate_rps: 0.0)]))],
        services: [Service(name: "a", workers: 2, service_time: Constant("10ms"))],
        faults: [Fault(start: "10s", end: "12s", kind: Pause(service: "a"))],
    )"#;
    let r = run("pause.ron", text, 1);
    assert_drained(&r);
    assert_eq!(r.totals.failed.total(), 0);
    assert_eq!(r.totals.succeeded, r.totals.offered);
    let a = service(&r, "a");
    assert_eq!((a.rejected, a.dropped, a.refused), (0, 0, 0));
    assert_eq!(a.completed, a.attempts);
    assert_eq!(sum(&r.series.succeeded, 10..12), 0, "served during a pause");
    let s = &r.series.services[series_index(&r, "a")];
    assert_eq!(sum(&s.dropped, 0..30) + sum(&s.rejected, 0..30), 0);
    // 2 s x 100/s arrivals queue up: 200, Poisson sd 14.
    assert!(s.queue_depth_max[10] > 0);
    assert!(s.queue_depth_max[11] >= s.queue_depth_max[10]);
    assert_near(
        "queue at the end of the pause",
        s.queue_depth_max[11] as f64,
        200.0,
        5.0 * 14.2,
    );
    // Early pause arrivals wait out (most of) the 2 s.
    assert!(r.totals.latency_ms.max >= 1900.0);
    // Capacity 200/s against 100/s drains the backlog in ~2 s.
    assert!(
        s.queue_depth_max[15] < 20,
        "{:?}",
        &s.queue_depth_max[10..16]
    );
}

/// A paused service waiting on a downstream call must not answer during the pause either:
/// "nothing is served". a (1 ms, 100 workers) calls b (3 s); a is paused in [10 s, 15 s).
/// Requests sent in (7 s, 10 s) are waiting on b at 10 s; b answers during the pause.
/// Expected: a's answers wait for the end of the pause (no success in windows 10..14), and
/// a sends no new call during the pause (b gets no attempts in windows 10..14).
#[test]
fn paused_service_answers_nothing_from_downstream() {
    let text = r#"Scenario(
        name: "pause-calls", seed: 1, horizon: "30s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 10.0, shape: [Step(at: "20s", rate_rps: 0.0)]))],
        services: [
            Service(name: "a", workers: 100, service_time: Constant("1ms"), calls: [Call(to: "b")]),
            Service(name: "b", workers: 100, service_time: Constant("3s")),
        ],
        faults: [Fault(start: "10s", end: "15s", kind: Pause(service: "a"))],
    )"#;
    let r = run("pause-calls.ron", text, 1);
    assert_drained(&r);
    assert_eq!(
        r.totals.succeeded, r.totals.offered,
        "a stall drops nothing"
    );
    let b = series_index(&r, "b");
    assert_eq!(
        sum(&r.series.services[b].attempts, 10..15),
        0,
        "a paused service sent calls"
    );
    // Regression (found in review, fixed in issue 3): expected 0 successes while a is paused (windows 10..14); observed 25 (8, 8, 9
    // in windows 10..12): attempts of a that were waiting on b when the pause began finish
    // and answer as soon as b's responses arrive, during the pause. `freeze` only stops
    // attempts in local work (`Phase::Working`); `on_child_done` -> `advance` ->
    // `finish_attempt` runs regardless of `paused_since`.
    assert_eq!(
        sum(&r.series.succeeded, 10..15),
        0,
        "a paused service answered: successes per window {:?}",
        &r.series.succeeded[9..16]
    );
}

/// A paused service's timers stop too: a (100 workers) calls b (3 s of work) with a 1 s
/// timeout and 2 attempts; a is paused in [10 s, 15 s). Calls waiting at 10 s time out
/// during the pause; their retries (and a's failure answers) must wait for its end, so b
/// receives no attempt and the client no answer in windows 10..14.
#[test]
fn paused_service_does_not_retry_downstream() {
    let text = r#"Scenario(
        name: "pause-retry", seed: 1, horizon: "40s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 10.0, shape: [Step(at: "20s", rate_rps: 0.0)]))],
        services: [
            Service(name: "a", workers: 100, service_time: Constant("1ms"),
                calls: [Call(to: "b", policy: (timeout: "1s", max_attempts: 2))]),
            Service(name: "b", workers: 100, service_time: Constant("3s")),
        ],
        faults: [Fault(start: "10s", end: "15s", kind: Pause(service: "a"))],
    )"#;
    let r = run("pause-retry.ron", text, 1);
    assert_drained(&r);
    // Every call times out twice (3 s of work > 1 s): every request fails.
    assert_eq!(r.totals.failed.timeout, r.totals.offered);
    let b = &r.series.services[series_index(&r, "b")];
    // Regression (found in review, fixed in issue 3): expected no attempt at b and no answer at the client while a is paused;
    // observed 9 retries into b (window 10) and 17 failure answers (8 and 9 in windows 10
    // and 11): a's attempt timeouts fire during the pause, and it retries and answers
    // anyway (`on_attempt_timeout` and `attempt_failed` ignore the caller's
    // `paused_since`).
    assert_eq!(
        (sum(&b.attempts, 10..15), sum(&r.series.failed, 10..15)),
        (0, 0),
        "b attempts {:?}, client failures {:?} in windows 9..16",
        &b.attempts[9..16],
        &r.series.failed[9..16]
    );
}

// ---------------------------------------------------------------------------------------------
// 8. Capacity loss
// ---------------------------------------------------------------------------------------------

/// a: 4 workers x 10 ms at 200 rps (rho 0.5); in [10 s, 12 s) only 1 worker (100/s < 200/s):
/// the queue grows by ~100/s to ~200, then drains at 400 - 200 = 200/s in ~1 s.
#[test]
fn capacity_loss_queues_then_drains() {
    let text = r#"Scenario(
        name: "capacity", seed: 1, horizon: "20s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 200.0, shape: [Step(at: "18s", rate_rps: 0.0)]))],
        services: [Service(name: "a", workers: 4, service_time: Constant("10ms"))],
        faults: [Fault(start: "10s", end: "12s", kind: CapacityLoss(service: "a", workers: 1))],
    )"#;
    let r = run("capacity.ron", text, 1);
    assert_drained(&r);
    assert_eq!(r.totals.succeeded, r.totals.offered);
    let s = &r.series.services[series_index(&r, "a")];
    // Throughout [11 s, 12 s) exactly one of four workers is busy (the queue never empties).
    assert_near("utilization in the fault", s.utilization[11], 0.25, 1e-6);
    // Arrivals 2 s x 200/s (sd 20) minus 2 s x 100/s served.
    assert_near(
        "queue at the fault's end",
        s.queue_depth_max[11] as f64,
        200.0,
        5.0 * 20.0,
    );
    // Draining the backlog (>= 100 of it, 5 sd below 200) takes >= 0.5 s at full use; the
    // rest of the window runs at 0.5.
    assert!(
        s.utilization[12] > 0.7,
        "draining uses all 4 workers: {}",
        s.utilization[12]
    );
    for i in (0..10).chain(14..18) {
        // M/D/4 at rho 0.5 hardly queues; P(queue >= 20) is negligible.
        assert!(
            s.queue_depth_max[i] < 20,
            "window {i}: {}",
            s.queue_depth_max[i]
        );
        assert_near(&format!("utilization {i}"), s.utilization[i], 0.5, 0.15);
    }
}

/// Slowdown x3 in [10 s, 20 s) on 10 ms constant work with idle workers: work started in
/// the window takes 30 ms, the rest 10 ms.
#[test]
fn slowdown_multiplies_work_started_during_the_fault() {
    let text = r#"Scenario(
        name: "slowdown", seed: 1, horizon: "30s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 50.0, shape: [Step(at: "28s", rate_rps: 0.0)]))],
        services: [Service(name: "a", workers: 64, service_time: Constant("10ms"))],
        faults: [Fault(start: "10s", end: "20s", kind: Slowdown(service: "a", factor: 3.0))],
    )"#;
    let r = run("slowdown.ron", text, 1);
    assert_drained(&r);
    assert_near("max", r.totals.latency_ms.max, 30.0, 0.05);
    // Window percentiles keep 2 significant digits.
    for i in (0..10).chain(21..28) {
        assert_near(&format!("p50 {i}"), r.series.latency_p50_ms[i], 10.0, 0.1);
    }
    for i in 11..19 {
        assert_near(&format!("p50 {i}"), r.series.latency_p50_ms[i], 30.0, 0.3);
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Partition and loss
// ---------------------------------------------------------------------------------------------

/// c1 -> a -> b and c2 -> b; a gives b 100 ms. `fault` cuts a <-> b in [10 s, 20 s).
fn cut_run(fault: &str) -> RunResult {
    let text = format!(
        r#"Scenario(
        name: "cut", seed: 1, horizon: "30s",
        clients: [
            Client(name: "c1", target: "a",
                load: Open(rate_rps: 50.0, shape: [Step(at: "28s", rate_rps: 0.0)]),
                policy: (timeout: "1s")),
            Client(name: "c2", target: "b",
                load: Open(rate_rps: 50.0, shape: [Step(at: "28s", rate_rps: 0.0)]),
                policy: (timeout: "1s")),
        ],
        services: [
            Service(name: "a", workers: 64, service_time: Constant("1ms"),
                calls: [Call(to: "b", policy: (timeout: "100ms"))]),
            Service(name: "b", workers: 64, service_time: Constant("5ms")),
        ],
        faults: [Fault(start: "10s", end: "20s", kind: {fault})],
    )"#
    );
    run("cut.ron", &text, 1)
}

#[test]
fn partition_times_out_only_calls_across_it() {
    let r = cut_run(r#"Partition(a: "a", b: "b")"#);
    assert_drained(&r);
    let (c1, c2) = (&client(&r, "c1").totals, &client(&r, "c2").totals);
    // The other path is unaffected.
    assert_eq!(c2.failed.total(), 0);
    assert_eq!(c2.succeeded, c2.offered);
    // a's calls across the cut get no answer: a times out after 100 ms and answers with a
    // timeout. ~10 s x 50/s = 500 requests, Poisson sd 22.
    assert_eq!(c1.failed.total(), c1.failed.timeout);
    assert_near("c1 timeouts", c1.failed.timeout as f64, 500.0, 5.0 * 22.4);
    assert_eq!(service(&r, "a").failed, c1.failed.timeout);
    // ... all of them reported between 10.1 s and 20.1 s.
    assert_eq!(sum(&r.series.failed, 10..21), c1.failed.timeout);
    // b hears from a only for c1's successes (give or take a response cut on its way back
    // at 10 s: ~50/s x 6 ms = 0.3 expected).
    let b = service(&r, "b").attempts;
    let heard = c2.offered + c1.succeeded;
    assert!(
        (heard..=heard + 3).contains(&b),
        "b attempts {b}, expected ~{heard}"
    );
}

/// Loss with p = 1 is a partition: the same arrivals meet the same fate.
#[test]
fn loss_of_one_behaves_like_a_partition() {
    let cut = cut_run(r#"Partition(a: "a", b: "b")"#);
    let lossy = cut_run(r#"Loss(a: "a", b: "b", p: 1.0)"#);
    assert_drained(&lossy);
    for name in ["c1", "c2"] {
        assert_eq!(
            client(&lossy, name).totals,
            client(&cut, name).totals,
            "{name}"
        );
    }
    assert_eq!(service(&lossy, "b").attempts, service(&cut, "b").attempts);
    assert_eq!(service(&lossy, "a").failed, service(&cut, "a").failed);
}

/// Loss p = 0.5 on client <-> a all run, 4 attempts with a 50 ms timeout: an attempt
/// succeeds when both its request and its response cross, p = 0.25; a request succeeds
/// with 1 - 0.75^4 = 0.68359375 and sends sum_{k<4} 0.75^k = 2.734375 attempts on average.
#[test]
fn half_loss_with_retries_matches_the_binomial() {
    let text = r#"Scenario(
        name: "loss", seed: 1, horizon: "60s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 100.0, shape: [Step(at: "59s", rate_rps: 0.0)]),
            policy: (timeout: "50ms", max_attempts: 4))],
        services: [Service(name: "a", workers: 64, service_time: Constant("1ms"))],
        faults: [Fault(start: "0s", end: "60s", kind: Loss(a: "c", b: "a", p: 0.5))],
    )"#;
    let r = run("loss.ron", text, 1);
    assert_drained(&r);
    let n = r.totals.offered as f64;
    let p = 1.0 - 0.75_f64.powi(4);
    let se = (p * (1.0 - p) / n).sqrt();
    assert_near("success rate", r.totals.succeeded as f64 / n, p, 5.0 * se);
    assert_eq!(r.totals.failed.total(), r.totals.failed.timeout);
    let sent = n + r.retries as f64;
    // Attempts per request: 1 + Geometric-ish, sd ~1.2 per request.
    assert_near(
        "attempts per request",
        sent / n,
        2.734375,
        5.0 * 1.2 / n.sqrt(),
    );
    // Half the attempts reach a (binomial, sd sqrt(sent / 4)).
    let a = service(&r, "a");
    assert_near(
        "attempts reaching a",
        a.attempts as f64,
        sent / 2.0,
        5.0 * (sent / 4.0).sqrt(),
    );
    assert_eq!(a.completed, a.attempts);
}

// ---------------------------------------------------------------------------------------------
// 10. Admission control
// ---------------------------------------------------------------------------------------------

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

/// `queue: Bounded(0)` with one worker is M/M/1/1, a loss system: blocking = Erlang B with
/// c = 1 = rho / (1 + rho); rho = 150/s x 10 ms = 1.5 -> 0.6.
#[test]
fn bounded_zero_queue_is_an_erlang_loss_system() {
    let text = r#"Scenario(
        name: "mm11", seed: 1, horizon: "100s",
        clients: [Client(name: "c", target: "a", load: Open(rate_rps: 150.0))],
        services: [Service(name: "a", workers: 1, queue: Bounded(0),
            service_time: Exponential(mean: "10ms"))],
    )"#;
    let blocking = ci("mm11.ron", text, |r| {
        let a = service(r, "a");
        assert_eq!(r.totals.failed.rejected, a.rejected);
        assert_eq!(a.queue_depth_max, 0);
        assert!(a.in_flight_max <= 1);
        a.rejected as f64 / a.attempts as f64
    });
    assert_ci_holds("M/M/1/1 blocking", &blocking, 1.5 / 2.5);
}

/// Token bucket 50/s, burst 20, against 200 rps for 30 s: it starts full, is emptied in
/// ~0.1 s and, with arrivals 4x faster than its refill, never fills again, so it admits
/// burst + rate x t = 20 + 50 x t tokens by time t: at most 1520 by 30 s, and at least
/// 20 + 50 x 29.9 - 1 (the last arrival comes after 29.9 s: P(not) = e^-20).
#[test]
fn token_bucket_admits_rate_times_duration_plus_burst() {
    let text = r#"Scenario(
        name: "bucket", seed: 1, horizon: "31s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 200.0, shape: [Step(at: "30s", rate_rps: 0.0)]))],
        services: [Service(name: "a", workers: 16, service_time: Constant("1ms"),
            admission: (rate_limit: (rate_rps: 50.0, burst: 20)))],
    )"#;
    let r = run("bucket.ron", text, 1);
    assert_drained(&r);
    let a = service(&r, "a");
    let admitted = a.attempts - a.rejected;
    assert!((1514..=1520).contains(&admitted), "admitted {admitted}");
    assert_eq!(r.totals.succeeded, admitted);
    assert_eq!(r.totals.failed.rejected, a.rejected);
    // Each full second after the first admits its 50 refilled tokens, give or take the
    // fraction of a token carried across a window edge.
    let s = &r.series.services[series_index(&r, "a")];
    for i in 1..30 {
        let admitted = s.attempts[i] - s.rejected[i];
        assert!((49..=51).contains(&admitted), "window {i}: {admitted}");
    }
}

/// max_concurrency 3 on 8 workers: at most 3 attempts present, never a queue; arrivals
/// finding 3 present are rejected: Erlang B(c = 3, A = 200/s x 20 ms = 4) = 0.4507
/// (insensitive to the service distribution).
#[test]
fn max_concurrency_caps_in_flight() {
    let text = r#"Scenario(
        name: "concurrency", seed: 1, horizon: "60s",
        clients: [Client(name: "c", target: "a", load: Open(rate_rps: 200.0))],
        services: [Service(name: "a", workers: 8, service_time: Exponential(mean: "20ms"),
            admission: (max_concurrency: 3))],
    )"#;
    let erlang_b = |c: u32, a: f64| (1..=c).fold(1.0, |b, k| a * b / (f64::from(k) + a * b));
    let b = erlang_b(3, 4.0);
    assert_near("Erlang B(3, 4)", b, 0.450704, 1e-6);
    let blocking = ci("concurrency.ron", text, |r| {
        let a = service(r, "a");
        assert!(a.in_flight_max <= 3, "in flight {}", a.in_flight_max);
        assert_eq!(a.queue_depth_max, 0);
        assert!(a.utilization <= 3.0 / 8.0);
        a.rejected as f64 / a.attempts as f64
    });
    assert_ci_holds("max_concurrency blocking", &blocking, b);
}

// ---------------------------------------------------------------------------------------------
// 11. Backpressure
// ---------------------------------------------------------------------------------------------

/// a calls b with max_outstanding 1: the call site is a one-server loss system. b does
/// 50 ms at 40 rps (rho 2): blocking = rho / (1 + rho) = 2/3 (Erlang B, c = 1, insensitive
/// to the constant service time). b never holds more than one attempt, so its utilization
/// stays within 1 of its 4 workers: (1/3) x 2 / 4 = 1/6.
#[test]
fn max_outstanding_one_fails_fast_and_caps_the_callee() {
    let text = r#"Scenario(
        name: "backpressure", seed: 1, horizon: "60s",
        clients: [Client(name: "c", target: "a", load: Open(rate_rps: 40.0))],
        services: [
            Service(name: "a", workers: 64, service_time: Constant("0ms"),
                calls: [Call(to: "b", policy: (max_outstanding: 1))]),
            Service(name: "b", workers: 4, service_time: Constant("50ms")),
        ],
    )"#;
    let rejected = ci("backpressure.ron", text, |r| {
        let b = service(r, "b");
        assert!(b.in_flight_max <= 1, "b held {}", b.in_flight_max);
        assert!(b.utilization <= 0.25, "b utilization {}", b.utilization);
        assert_eq!(b.rejected, 0, "the callee never sees the excess");
        // Each rejection is a failed attempt at a and a rejected request at the client.
        assert_eq!(r.totals.failed.total(), r.totals.failed.rejected);
        assert_eq!(service(r, "a").failed, r.totals.failed.rejected);
        assert_eq!(b.attempts, r.totals.succeeded + r.totals.in_flight_at_end);
        r.totals.failed.rejected as f64 / r.totals.offered as f64
    });
    assert_ci_holds("rejected fraction", &rejected, 2.0 / 3.0);
    let utilization = ci("backpressure.ron", text, |r| service(r, "b").utilization);
    assert_ci_holds("b utilization", &utilization, 1.0 / 6.0);
}

// ---------------------------------------------------------------------------------------------
// 12. Spike
// ---------------------------------------------------------------------------------------------

/// Spike x3 in [10 s, 20 s) on 100 rps: ~3000 requests in the spike (sd 55) against ~1000
/// (sd 32) in each 10 s around it.
#[test]
fn spike_multiplies_offered_load_in_its_window() {
    let text = r#"Scenario(
        name: "spike", seed: 1, horizon: "30s",
        clients: [Client(name: "c", target: "a", load: Open(rate_rps: 100.0))],
        services: [Service(name: "a", workers: 64, service_time: Constant("1ms"))],
        faults: [Fault(start: "10s", end: "20s", kind: Spike(client: "c", factor: 3.0))],
    )"#;
    let r = run("spike.ron", text, 1);
    assert_conserved(&r);
    let o = &r.series.offered;
    assert_near("before", sum(o, 0..10) as f64, 1000.0, 5.0 * 31.6);
    assert_near("during", sum(o, 10..20) as f64, 3000.0, 5.0 * 54.8);
    assert_near("after", sum(o, 20..30) as f64, 1000.0, 5.0 * 31.6);
}

// ---------------------------------------------------------------------------------------------
// 13. Closed loop
// ---------------------------------------------------------------------------------------------

/// 10 users, 80 ms think (constant), R = 10 ms work + 2 x 5 ms link = 20 ms: each user
/// issues at 80 ms + k x 100 ms; before the 20.05 s horizon that is k = 0..=199, 200 each,
/// the last answered at 20.00 s. Throughput N / (Z + R) = 100/s exactly.
#[test]
fn closed_loop_with_constant_think_time_is_exact() {
    let text = r#"Scenario(
        name: "closed", seed: 1, horizon: "20.05s",
        clients: [Client(name: "c", target: "a",
            load: Closed(users: 10, think_time: Constant("80ms")))],
        services: [Service(name: "a", workers: 64, service_time: Constant("10ms"))],
        links: [Link(from: "c", to: "a", latency: Constant("5ms"))],
    )"#;
    let r = run("closed.ron", text, 1);
    assert_drained(&r);
    assert_eq!(r.totals.offered, 2000);
    assert_eq!(r.totals.succeeded, 2000);
    assert_near("R", r.totals.latency_ms.mean, 20.0, 1e-6);
}

/// Interactive response time law X = N / (Z + R): 10 users, exponential think 200 ms,
/// R = 20 ms as above: X = 45.45/s. Over 200 s a user completes ~909 cycles with sd
/// sqrt(200 x 0.2^2 / 0.22^3) = 27, so the total's relative sd is ~1%.
#[test]
fn closed_loop_follows_the_response_time_law() {
    let text = r#"Scenario(
        name: "closed-exp", seed: 1, horizon: "200s",
        clients: [Client(name: "c", target: "a",
            load: Closed(users: 10, think_time: Exponential(mean: "200ms")))],
        services: [Service(name: "a", workers: 64, service_time: Constant("10ms"))],
        links: [Link(from: "c", to: "a", latency: Constant("5ms"))],
    )"#;
    let r = run("closed-exp.ron", text, 1);
    assert_conserved(&r);
    assert!(
        r.totals.in_flight_at_end <= 10,
        "one request per user at most"
    );
    assert_near("R", r.totals.latency_ms.mean, 20.0, 1e-6);
    let x = r.totals.offered as f64 / 200.0;
    assert_near("throughput", x, 10.0 / 0.22, 0.05 * 10.0 / 0.22);
}

// ---------------------------------------------------------------------------------------------
// 14. Retry amplification
// ---------------------------------------------------------------------------------------------

/// a -> Parallel(b, c); b -> d; c -> d: d receives 2 attempts per request, but that is the
/// call graph's fan-out, not amplification: with no failures every ratio is exactly 1.
#[test]
fn fan_out_without_failures_has_no_retry_amplification() {
    let text = r#"Scenario(
        name: "fanout", seed: 1, horizon: "20s",
        clients: [Client(name: "users", target: "a",
            load: Open(rate_rps: 50.0, shape: [Step(at: "18s", rate_rps: 0.0)]),
            policy: (timeout: "1s", max_attempts: 3))],
        services: [
            Service(name: "a", workers: 64, service_time: Exponential(mean: "1ms"),
                calls: [Parallel([(to: "b"), (to: "c")])]),
            Service(name: "b", workers: 64, service_time: Exponential(mean: "2ms"),
                calls: [Call(to: "d")]),
            Service(name: "c", workers: 64, service_time: Exponential(mean: "2ms"),
                calls: [Call(to: "d")]),
            Service(name: "d", workers: 64, service_time: Exponential(mean: "1ms")),
        ],
    )"#;
    let r = run("fanout.ron", text, 1);
    assert_drained(&r);
    assert_eq!(r.retries, 0);
    let n = r.totals.offered;
    assert_eq!(service(&r, "d").attempts, 2 * n);
    for s in &r.services {
        assert_near(&s.name, s.retry_amplification, 1.0, 1e-12);
    }
    assert_near("system", r.retry_amplification, 1.0, 1e-12);
}

/// Warm-up: only requests issued (and attempts arriving) after it count, consistently at the
/// clients and the services; the series covers the whole run.
#[test]
fn warmup_counts_requests_and_attempts_consistently() {
    let text = r#"Scenario(
        name: "warmup", seed: 1, horizon: "30s", warmup: "10s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 100.0, shape: [Step(at: "28s", rate_rps: 0.0)]))],
        services: [Service(name: "a", workers: 64, service_time: Constant("1ms"))],
    )"#;
    let r = run("warmup.ron", text, 1);
    assert_drained(&r);
    let a = service(&r, "a");
    // Zero latency links: an attempt arrives when its request is issued.
    assert_eq!(a.attempts, r.totals.offered);
    assert_eq!(a.completed, r.totals.succeeded);
    assert_eq!(sum(&r.series.offered, 10..30), r.totals.offered);
    assert_near("retry amplification", a.retry_amplification, 1.0, 1e-12);
    // 18 s x 100/s counted, Poisson sd 42.
    assert_near("offered", r.totals.offered as f64, 1800.0, 5.0 * 42.4);
}

// ---------------------------------------------------------------------------------------------
// Further probes: errors at a rate, queue discipline, in-flight accounting
// ---------------------------------------------------------------------------------------------

/// Errors(p = 0.5) all run, 2 attempts: each attempt fails with 0.5, a request with 0.25.
#[test]
fn errors_fault_fails_each_attempt_with_its_probability() {
    let text = r#"Scenario(
        name: "errors-half", seed: 1, horizon: "60s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 100.0, shape: [Step(at: "59s", rate_rps: 0.0)]),
            policy: (max_attempts: 2))],
        services: [Service(name: "a", workers: 64, service_time: Constant("1ms"))],
        faults: [Fault(start: "0s", end: "60s", kind: Errors(service: "a", p: 0.5))],
    )"#;
    let r = run("errors-half.ron", text, 1);
    assert_drained(&r);
    let a = service(&r, "a");
    let m = a.attempts as f64;
    assert_near(
        "attempt error rate",
        a.errors as f64 / m,
        0.5,
        5.0 * (0.25 / m).sqrt(),
    );
    let n = r.totals.offered as f64;
    assert_near(
        "request failure rate",
        r.totals.failed.error as f64 / n,
        0.25,
        5.0 * (0.25 * 0.75 / n).sqrt(),
    );
    assert_eq!(r.retries, a.attempts - r.totals.offered);
}

/// FIFO and LIFO reorder the same work: with constant service times every work-conserving,
/// non-preemptive order has the same departure instants, so on the same arrivals (same
/// seed) the sum of the latencies, hence their mean, is the same; LIFO moves waiting from
/// the many to the few, so its maximum is higher. M/D/1 at rho 0.9.
#[test]
fn lifo_reorders_waiting_but_conserves_it() {
    let result = |discipline: &str| {
        let text = format!(
            r#"Scenario(
            name: "discipline", seed: 1, horizon: "60s",
            clients: [Client(name: "c", target: "a",
                load: Open(rate_rps: 90.0, shape: [Step(at: "55s", rate_rps: 0.0)]))],
            services: [Service(name: "a", workers: 1, discipline: {discipline},
                service_time: Constant("10ms"))],
        )"#
        );
        run("discipline.ron", &text, 1)
    };
    let (fifo, lifo) = (result("Fifo"), result("Lifo"));
    assert_drained(&fifo);
    assert_drained(&lifo);
    assert_eq!(fifo.totals.offered, lifo.totals.offered, "same arrivals");
    let (f, l) = (&fifo.totals.latency_ms, &lifo.totals.latency_ms);
    assert_near("mean latency", l.mean, f.mean, 1e-9 * f.mean);
    assert!(l.max > f.max, "LIFO max {} vs FIFO max {}", l.max, f.max);
    assert!(l.p50 <= f.p50, "LIFO p50 {} vs FIFO p50 {}", l.p50, f.p50);
}

/// What is in a service (queued + in service) is never less than what is queued:
/// `in_flight_max >= queue_depth_max`, strictly while a worker is busy. a's only worker
/// hangs from ~5 s on a call into a black hole (no timeout), so a's queue grows by ~10/s
/// to ~150 by 20 s (Poisson sd 12), all the while with that worker busy.
#[test]
fn in_flight_max_sees_queue_growth_while_workers_are_stuck() {
    let text = r#"Scenario(
        name: "stuck", seed: 1, horizon: "20s",
        clients: [Client(name: "c", target: "a", load: Open(rate_rps: 10.0),
            policy: (timeout: "1s"))],
        services: [
            Service(name: "a", workers: 1, service_time: Constant("1ms"), calls: [Call(to: "b")]),
            Service(name: "b", workers: 4, service_time: Constant("1ms")),
        ],
        faults: [Fault(start: "5s", end: "20s", kind: Crash(service: "b", mode: BlackHole))],
    )"#;
    let r = run("stuck.ron", text, 1);
    assert_conserved(&r);
    let a = service(&r, "a");
    assert_near("a's queue", a.queue_depth_max as f64, 150.0, 5.0 * 12.2);
    // Regression (found in review, fixed in issue 3): expected in_flight_max >= queue_depth_max + 1; observed in_flight_max 1 against
    // queue_depth_max 126: `note_in_flight` runs only when a worker takes an attempt
    // (`start_work`), never when an attempt joins the queue, so a queue that grows while no
    // worker frees up is missed.
    assert!(
        a.in_flight_max > a.queue_depth_max,
        "in_flight_max {} < queue_depth_max {}",
        a.in_flight_max,
        a.queue_depth_max
    );
}

/// `waited_fraction` is "the fraction of admitted attempts that found every worker busy";
/// arrivals swallowed by a black hole were never admitted. a: M/D/1 at rho 0.5 (P(wait) =
/// rho by PASTA), black-holed for the second half of the run: the admitted half still
/// waits with probability 0.5.
#[test]
fn waited_fraction_excludes_black_holed_arrivals() {
    let text = r#"Scenario(
        name: "waited", seed: 1, horizon: "200s",
        clients: [Client(name: "c", target: "a", load: Open(rate_rps: 50.0),
            policy: (timeout: "1s"))],
        services: [Service(name: "a", workers: 1, service_time: Constant("10ms"))],
        faults: [Fault(start: "100s", end: "200s", kind: Crash(service: "a", mode: BlackHole))],
    )"#;
    let r = run("waited.ron", text, 1);
    assert_conserved(&r);
    let a = service(&r, "a");
    assert_near("black-holed half", a.dropped as f64, 5000.0, 5.0 * 70.7);
    // Regression (found in review, fixed in issue 3): expected ~0.5; observed 0.2501: `run::finish` divides `waited` by
    // attempts - rejected - refused, which still counts the ~5000 black-holed arrivals.
    // ~5000 admitted; the indicator is autocorrelated, so allow 10 binomial SE (0.07).
    assert_near("P(wait)", a.waited_fraction, 0.5, 0.07);
}

/// Parallel fails if any branch fails, but still waits for all: Errors(p = 1) on c makes
/// every request fail with an error, while b completes every attempt.
#[test]
fn parallel_fails_if_any_branch_fails() {
    let text = r#"Scenario(
        name: "parallel-error", seed: 1, horizon: "20s",
        clients: [Client(name: "users", target: "a",
            load: Open(rate_rps: 30.0, shape: [Step(at: "19s", rate_rps: 0.0)]))],
        services: [
            Service(name: "a", workers: 64, service_time: Constant("2ms"),
                calls: [Parallel([(to: "b"), (to: "c")])]),
            Service(name: "b", workers: 64, service_time: Constant("10ms")),
            Service(name: "c", workers: 64, service_time: Constant("1ms")),
        ],
        faults: [Fault(start: "0s", end: "20s", kind: Errors(service: "c", p: 1.0))],
    )"#;
    let r = run("parallel-error.ron", text, 1);
    assert_drained(&r);
    let n = r.totals.offered;
    assert_eq!(r.totals.failed.error, n);
    assert_eq!(service(&r, "a").failed, n);
    assert_eq!(service(&r, "b").completed, n);
    assert_eq!(service(&r, "c").errors, n);
}

/// The deadline is propagated through a service that does not act on it to one that does:
/// c (deadline 300 ms) -> a (naive, instant) -> b (honours, 1 worker x 100 ms, offered
/// 20 rps = twice its capacity for 10 s). b drops what expired in its queue and so wastes
/// less than 100 ms per completion.
#[test]
fn deadline_propagates_through_a_naive_service() {
    let text = r#"Scenario(
        name: "propagate", seed: 1, horizon: "30s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 20.0, shape: [Step(at: "10s", rate_rps: 0.0)]),
            deadline: "300ms")],
        services: [
            Service(name: "a", workers: 1000, service_time: Constant("0ms"), calls: [Call(to: "b")]),
            Service(name: "b", workers: 1, service_time: Constant("100ms"), honor_deadline: true),
        ],
    )"#;
    let r = run("propagate.ron", text, 1);
    assert_conserved(&r);
    let b = service(&r, "b");
    assert!(b.dropped > 0, "b never saw the deadline");
    // b is never idle while work waits, and starts ~10/s: ~100 of ~200 attempts.
    assert_eq!(b.attempts, b.completed + b.dropped);
    assert!(b.wasted_work_s <= 0.1 * b.completed as f64);
    assert_eq!(
        r.totals.failed.timeout,
        r.totals.offered - r.totals.succeeded
    );
}

/// Overlapping faults compose, and ending one never undoes another: two Errors(p = 0.5)
/// make each attempt fail with 1 - 0.5 x 0.5 = 0.75; crashes over [10 s, 20 s) and
/// [15 s, 25 s) keep the service down until 25 s.
#[test]
fn overlapping_faults_compose() {
    let text = r#"Scenario(
        name: "overlap", seed: 1, horizon: "60s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 100.0, shape: [Step(at: "59s", rate_rps: 0.0)]))],
        services: [Service(name: "a", workers: 64, service_time: Constant("1ms"))],
        faults: [
            Fault(start: "30s", end: "60s", kind: Errors(service: "a", p: 0.5)),
            Fault(start: "30s", end: "60s", kind: Errors(service: "a", p: 0.5)),
            Fault(start: "10s", end: "20s", kind: Crash(service: "a", mode: Refuse)),
            Fault(start: "15s", end: "25s", kind: Crash(service: "a", mode: Refuse)),
        ],
    )"#;
    let r = run("overlap.ron", text, 1);
    assert_drained(&r);
    assert_eq!(sum(&r.series.succeeded, 10..25), 0, "served while down");
    // Refused: 15 s x 100/s = 1500, sd 39.
    let a = service(&r, "a");
    assert_near("refused", a.refused as f64, 1500.0, 5.0 * 38.7);
    // Errors: ~2900 attempts in [30 s, 59 s) fail with 0.75 (binomial sd ~23).
    assert_near(
        "errored",
        a.errors as f64,
        0.75 * 2900.0,
        5.0 * (2900.0 * 0.75 * 0.25_f64).sqrt() + 5.0 * 0.75 * 53.9,
    );
    for i in 30..59 {
        let ok = r.series.succeeded[i] as f64 / r.series.offered[i].max(1) as f64;
        assert!(ok < 0.5, "window {i}: success {ok}, expected ~0.25");
    }
}

/// A worker is held from dequeue until its answer leaves, including while it waits on a
/// downstream call: a (1 worker, no local work) calls b (10 ms, many workers) over a 1 ms
/// link, so a holds its worker a constant 12 ms per attempt: a is an M/D/1 queue with
/// rho = 50/s x 12 ms = 0.6, Wq = rho x D / (2 (1 - rho)) = 9 ms, W = 21 ms (were the
/// worker freed during the call, a would hardly queue: W = 12 ms, utilization ~0).
#[test]
fn a_worker_is_held_while_calling_downstream() {
    let text = r#"Scenario(
        name: "held", seed: 1, horizon: "400s", warmup: "10s",
        clients: [Client(name: "c", target: "a", load: Open(rate_rps: 50.0))],
        services: [
            Service(name: "a", workers: 1, service_time: Constant("0ms"), calls: [Call(to: "b")]),
            Service(name: "b", workers: 64, service_time: Constant("10ms")),
        ],
        links: [Link(from: "a", to: "b", latency: Constant("1ms"))],
    )"#;
    let utilization = ci("held.ron", text, |r| service(r, "a").utilization);
    assert_ci_holds("a utilization", &utilization, 0.6);
    let w = ci("held.ron", text, |r| service(r, "a").latency_ms.mean);
    assert_ci_holds("a W ms", &w, 21.0);
}

/// Deep orphans are wasted work too: the client gives up after 50 ms; a (no local work)
/// holds its worker for the whole 200 ms call to b, and b works 200 ms, so from the
/// abandonment on both spend 150 ms per request for nobody: 0.15 s x n each, exactly.
#[test]
fn deep_orphans_count_as_wasted_work() {
    let text = r#"Scenario(
        name: "deep", seed: 1, horizon: "30s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 20.0, shape: [Step(at: "25s", rate_rps: 0.0)]),
            policy: (timeout: "50ms"))],
        services: [
            Service(name: "a", workers: 64, service_time: Constant("0ms"), calls: [Call(to: "b")]),
            Service(name: "b", workers: 64, service_time: Constant("200ms")),
        ],
    )"#;
    let r = run("deep.ron", text, 1);
    assert_drained(&r);
    let n = r.totals.offered;
    assert_eq!(r.totals.failed.timeout, n);
    let expected = 0.150 * n as f64;
    for name in ["a", "b"] {
        assert_eq!(service(&r, name).completed, n, "{name}");
        assert_near(
            name,
            service(&r, name).wasted_work_s,
            expected,
            1e-9 * expected,
        );
    }
    assert_near("system", r.wasted_work_s, 2.0 * expected, 2e-9 * expected);
}

/// Link latency is drawn per message, requests and responses alike: Uniform(0, 10 ms) on
/// c <-> a and 5 ms of work give a mean of 5 + 2 x 5 = 15 ms; the sum of two draws has sd
/// sqrt(2 x 100 / 12) = 4.1 ms, so over ~2000 requests the mean's SE is 0.09 ms.
#[test]
fn link_latency_is_drawn_per_message() {
    let text = r#"Scenario(
        name: "jitter", seed: 1, horizon: "100s",
        clients: [Client(name: "c", target: "a", load: Open(rate_rps: 20.0))],
        services: [Service(name: "a", workers: 64, service_time: Constant("5ms"))],
        links: [Link(from: "c", to: "a", latency: Uniform(min: "0ms", max: "10ms"))],
    )"#;
    let r = run("jitter.ron", text, 1);
    assert_conserved(&r);
    assert_near("mean", r.totals.latency_ms.mean, 15.0, 5.0 * 0.092);
    assert!(r.totals.latency_ms.max <= 25.0 + 0.05);
    assert_near(
        "a's own latency",
        service(&r, "a").latency_ms.mean,
        5.0,
        1e-6,
    );
}

/// Endpoints are routes with their own work and calls: "fast" clients hit a's default
/// endpoint (2 ms); "slow" clients hit a's "report" endpoint (20 ms, then a call to b,
/// 5 ms). Only the report route reaches b, and the fan-out is divided out exactly.
#[test]
fn endpoints_have_their_own_work_and_calls() {
    let text = r#"Scenario(
        name: "endpoints", seed: 1, horizon: "20s",
        clients: [
            Client(name: "fast", target: "a",
                load: Open(rate_rps: 40.0, shape: [Step(at: "19s", rate_rps: 0.0)])),
            Client(name: "slow", target: "a", endpoint: "report",
                load: Open(rate_rps: 10.0, shape: [Step(at: "19s", rate_rps: 0.0)])),
        ],
        services: [
            Service(name: "a", workers: 64, service_time: Constant("2ms"),
                endpoints: [(name: "report", service_time: Constant("20ms"),
                    calls: [Call(to: "b")])]),
            Service(name: "b", workers: 64, service_time: Constant("5ms")),
        ],
    )"#;
    let r = run("endpoints.ron", text, 1);
    assert_drained(&r);
    assert_near("fast", client(&r, "fast").totals.latency_ms.mean, 2.0, 1e-6);
    assert_near(
        "slow",
        client(&r, "slow").totals.latency_ms.mean,
        25.0,
        1e-6,
    );
    assert_eq!(service(&r, "b").attempts, client(&r, "slow").totals.offered);
    for s in &r.services {
        assert_near(&s.name, s.retry_amplification, 1.0, 1e-12);
    }
}

// ---------------------------------------------------------------------------------------------
// 15. Determinism
// ---------------------------------------------------------------------------------------------

/// Faults, lossy jittery links, retries with backoff: the same seed twice gives the same
/// bytes; another seed does not.
#[test]
fn same_seed_gives_identical_json_with_faults_loss_and_retries() {
    let s = load("everything.ron", EVERYTHING);
    let json = |seed| reports::json(&sim_models::run(&s, seed, "everything.ron"));
    let a = json(9);
    assert!(
        a == json(9),
        "two runs of everything.ron with seed 9 differ"
    );
    assert_ne!(a, json(10), "the seed has no effect");
}

/// Retries at every layer multiply (REFERENCES: "3 tries at each of 5 layers is 243x at the
/// bottom"): users -> a -> b -> c, every caller makes up to 3 attempts and retries errors at
/// once, c always fails. Each request makes 3 attempts at a, each of those 3 at b, each of
/// those 3 at c: 3, 9, 27 attempts per request, exactly.
#[test]
fn retries_multiply_through_the_depth_of_the_call_graph() {
    let text = r#"Scenario(
        name: "depth", seed: 1, horizon: "20s",
        clients: [Client(name: "users", target: "a",
            load: Open(rate_rps: 10.0, shape: [Step(at: "10s", rate_rps: 0.0)]),
            policy: (max_attempts: 3))],
        services: [
            Service(name: "a", workers: 100, service_time: Constant("1ms"),
                calls: [Call(to: "b", policy: (max_attempts: 3))]),
            Service(name: "b", workers: 100, service_time: Constant("1ms"),
                calls: [Call(to: "c", policy: (max_attempts: 3))]),
            Service(name: "c", workers: 100, service_time: Constant("1ms")),
        ],
        faults: [Fault(start: "0s", end: "20s", kind: Errors(service: "c", p: 1.0))],
    )"#;
    let r = run("depth.ron", text, 1);
    assert_drained(&r);
    let n = r.totals.offered;
    assert!(n > 50);
    assert_eq!(r.totals.failed.error, n, "every request fails");
    for (name, per_request) in [("a", 3), ("b", 9), ("c", 27)] {
        let s = service(&r, name);
        assert_eq!(s.attempts, per_request * n, "{name}");
        assert!(
            (s.retry_amplification - per_request as f64).abs() < 1e-9,
            "{name}: {}",
            s.retry_amplification
        );
    }
}

/// A bulkhead keeps one route from taking every worker: a service with 10 workers serves a
/// fast route (1 ms, 100 rps) and a slow one (1 s, 50 rps: it alone would need 50 workers).
/// Without a bulkhead the slow route fills every worker and the fast route queues behind it
/// for seconds; with `bulkhead: 4` on the slow route it holds at most 4 workers (rejecting
/// the rest at once) and the fast route keeps its millisecond latency.
#[test]
fn a_bulkhead_keeps_a_slow_route_from_starving_a_fast_one() {
    let scenario = |bulkhead: &str| {
        format!(
            r#"Scenario(
            name: "bulkhead", seed: 1, horizon: "30s",
            clients: [
                Client(name: "fast-users", target: "s", load: Open(rate_rps: 100.0, shape: [Step(at: "20s", rate_rps: 0.0)])),
                Client(name: "slow-users", target: "s", endpoint: "slow",
                    load: Open(rate_rps: 50.0, shape: [Step(at: "20s", rate_rps: 0.0)])),
            ],
            services: [Service(name: "s", workers: 10, queue: Bounded(1000), service_time: Constant("1ms"),
                endpoints: [(name: "slow", service_time: Constant("1s"){bulkhead})])],
        )"#
        )
    };
    let client = |r: &RunResult, name: &str| {
        r.clients
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .totals
            .clone()
    };
    let open = run("bulkhead.ron", &scenario(""), 1);
    let guarded = run("bulkhead.ron", &scenario(", bulkhead: 4"), 1);
    let (fast_open, fast_guarded) = (client(&open, "fast-users"), client(&guarded, "fast-users"));
    assert!(
        fast_open.latency_ms.p99 > 1000.0,
        "without a bulkhead: fast p99 {} ms",
        fast_open.latency_ms.p99
    );
    assert!(
        fast_guarded.latency_ms.p99 < 50.0,
        "with a bulkhead: fast p99 {} ms",
        fast_guarded.latency_ms.p99
    );
    assert_eq!(
        fast_guarded.succeeded, fast_guarded.offered,
        "no fast request fails"
    );
    // The slow route gets at most 4 workers: about 4 successes per second, the rest rejected.
    let slow = client(&guarded, "slow-users");
    assert!(
        slow.failed.rejected > slow.succeeded,
        "slow: {} rejected, {} succeeded",
        slow.failed.rejected,
        slow.succeeded
    );
    assert!(
        slow.succeeded <= 4 * 21,
        "slow succeeded {}",
        slow.succeeded
    );
}

/// Replicas behind a balancer, with one replica failing: a service with 3 replicas, one of
/// which (`db#1`) answers every attempt with an error for a while. Round robin sends it a
/// third of the attempts; with outlier ejection (5 consecutive failures eject it for 30 s)
/// the callers stop sending to it after a handful of failures, so almost every request
/// succeeds. Faults name one replica as `NAME#i`; results list replicas by that name.
#[test]
fn ejection_routes_around_a_failing_replica() {
    let scenario = |ejection: &str| {
        format!(
            r#"Scenario(
            name: "replicas", seed: 1, horizon: "30s",
            clients: [Client(name: "users", target: "api", load: Open(rate_rps: 200.0, shape: [Step(at: "25s", rate_rps: 0.0)]))],
            services: [
                Service(name: "api", workers: 50, service_time: Constant("1ms"), calls: [Call(to: "db")]),
                Service(name: "db", workers: 10, replicas: 3, balance: RoundRobin{ejection}, service_time: Constant("2ms")),
            ],
            faults: [Fault(start: "5s", end: "20s", kind: Errors(service: "db#1", p: 1.0))],
        )"#
        )
    };
    let plain = run("replicas.ron", &scenario(""), 1);
    let ejecting = run(
        "replicas.ron",
        &scenario(", ejection: (consecutive_failures: 5)"),
        1,
    );
    let names: Vec<&str> = plain.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["api", "db#0", "db#1", "db#2"]);
    // Round robin over 3: the failing replica gets a third of 15 s x 200 rps = 1000 attempts.
    let failed = |r: &RunResult| r.totals.failed.error as f64;
    assert!(
        (failed(&plain) - 1000.0).abs() < 5.0 * 1000f64.sqrt(),
        "plain: {} errors",
        failed(&plain)
    );
    // Ejected after 5 failures for 30 s (longer than the fault): ~5 errors in all.
    assert!(
        failed(&ejecting) <= 10.0,
        "with ejection: {} errors",
        failed(&ejecting)
    );
    assert_eq!(
        ejecting.totals.succeeded + ejecting.totals.failed.total(),
        ejecting.totals.offered
    );
}

/// An adaptive concurrency limit (AIMD) sheds an overload that an unbounded queue would
/// absorb as latency: 4 workers x 10 ms (capacity 400/s) offered 800 rps. Without a limit
/// the queue grows by ~400/s for 10 s; with AIMD (rtt above 50 ms counts as a drop) the
/// limit settles near what 4 workers turn around within 50 ms, so the queue stays short and
/// the excess is rejected at the door.
#[test]
fn an_adaptive_limit_sheds_overload_instead_of_queueing_it() {
    let scenario = |admission: &str| {
        format!(
            r#"Scenario(
            name: "aimd", seed: 1, horizon: "12s",
            clients: [Client(name: "users", target: "s", load: Open(rate_rps: 800.0, shape: [Step(at: "10s", rate_rps: 0.0)]))],
            services: [Service(name: "s", workers: 4, service_time: Constant("10ms"){admission})],
        )"#
        )
    };
    let open = run("aimd.ron", &scenario(""), 1);
    let limited = run(
        "aimd.ron",
        &scenario(r#", admission: (adaptive: Aimd(initial: 10, timeout: "50ms"))"#),
        1,
    );
    let (o, l) = (&open.services[0], &limited.services[0]);
    assert!(
        o.queue_depth_max > 3000,
        "unlimited queue max {}",
        o.queue_depth_max
    );
    assert!(
        l.queue_depth_max < 50,
        "limited queue max {}",
        l.queue_depth_max
    );
    assert!(l.rejected > 3000, "limited rejected {}", l.rejected);
    assert!(
        l.utilization > 0.75,
        "the limit keeps the workers busy: {}",
        l.utilization
    );
    // Latency stays near the limiter's 50 ms target instead of growing with the backlog.
    let (p99_open, p99_limited) = (open.totals.latency_ms.p99, limited.totals.latency_ms.p99);
    assert!(p99_open > 5000.0, "unlimited p99 {p99_open} ms");
    assert!(
        p99_limited < p99_open / 20.0,
        "limited p99 {p99_limited} ms vs unlimited {p99_open} ms"
    );
}

/// An adaptive timeout follows observed latency: work takes a constant 20 ms (links instant),
/// the timeout is p99 x 1.5 = 30 ms once 10 samples are in. Nothing times out in steady
/// state; during a x2 slowdown (40 ms > 30 ms) attempts time out, where the static 1 s
/// timeout would have waited.
#[test]
fn an_adaptive_timeout_follows_observed_latency() {
    let text = r#"Scenario(
        name: "adaptive-timeout", seed: 1, horizon: "20s",
        clients: [Client(name: "users", target: "api", load: Open(rate_rps: 50.0, shape: [Step(at: "18s", rate_rps: 0.0)]))],
        services: [
            Service(name: "api", workers: 100, service_time: Constant("0ms"),
                calls: [Call(to: "db", policy: (timeout: "1s", adaptive_timeout: (percentile: 0.99, multiplier: 1.5, min: "10ms", max: "10s", window: 100)))]),
            Service(name: "db", workers: 100, service_time: Constant("20ms")),
        ],
        faults: [Fault(start: "10s", end: "12s", kind: Slowdown(service: "db", factor: 2.0))],
    )"#;
    let r = run("adaptive-timeout.ron", text, 1);
    let failed_in = |from: usize, to: usize| r.series.failed[from..to].iter().sum::<u64>();
    assert_eq!(failed_in(0, 10), 0, "steady state: nothing times out");
    assert!(
        failed_in(10, 13) > 50,
        "slowdown: attempts time out at ~30 ms ({} failures)",
        failed_in(10, 13)
    );
    assert_eq!(r.totals.failed.timeout, r.totals.failed.total());
}

/// Hedged requests cut the tail: the callee answers in 10 ms 95% of the time and in 1 s
/// otherwise. Without hedging about 5% of requests take ~1 s, so the p99 is ~1 s. With one
/// hedge after 50 ms, a slow first attempt is raced by a second that is slow only with
/// probability 0.05: a request is slow only if both are (0.25%), so the p99 falls to about
/// 50 + 10 ms. Hedges go out for ~5% of requests, and the cancelled losers' work is wasted.
#[test]
fn hedging_cuts_the_tail_and_cancels_the_loser() {
    let scenario = |hedge: &str| {
        format!(
            r#"Scenario(
            name: "hedge", seed: 1, horizon: "60s",
            clients: [Client(name: "users", target: "api", load: Open(rate_rps: 100.0, shape: [Step(at: "55s", rate_rps: 0.0)]))],
            services: [
                Service(name: "api", workers: 200, service_time: Constant("0ms"), calls: [Call(to: "db"{hedge})]),
                Service(name: "db", workers: 200, service_time: Mixture([(0.95, Constant("10ms")), (0.05, Constant("1s"))])),
            ],
        )"#
        )
    };
    let plain = run("hedge.ron", &scenario(""), 1);
    let hedged = run(
        "hedge.ron",
        &scenario(r#", policy: (hedge: (delay: "50ms"))"#),
        1,
    );
    assert_drained(&hedged);
    assert!(
        plain.totals.latency_ms.p99 >= 1000.0,
        "plain p99 {}",
        plain.totals.latency_ms.p99
    );
    assert!(
        hedged.totals.latency_ms.p99 <= 61.0,
        "hedged p99 {}",
        hedged.totals.latency_ms.p99
    );
    let n = hedged.totals.offered as f64;
    // Hedges for the ~5% slow first attempts: binomial, 5 standard deviations.
    let sd = (n * 0.05 * 0.95).sqrt();
    assert!(
        (hedged.hedges as f64 - 0.05 * n).abs() < 5.0 * sd,
        "{} hedges for {n} requests",
        hedged.hedges
    );
    assert_eq!(
        hedged.totals.succeeded, hedged.totals.offered,
        "every request succeeds"
    );
    // The cancelled slow attempts keep db busy for nobody: ~(1 s - 60 ms) each.
    assert!(
        hedged.wasted_work_s > 0.5 * hedged.hedges as f64,
        "wasted {} s",
        hedged.wasted_work_s
    );
    assert_eq!(plain.wasted_work_s, 0.0);
}

/// Hedges and retries are counted like requests and attempts: from the end of the warm-up
/// on. Links are instant and nothing fails at the caller, so every attempt sent after the
/// warm-up arrives at db after it: db's attempts = offered + retries + hedges, exactly.
/// Counting the warm-up's hedges too (as before) breaks the equality by about 5% of the
/// 1,000 warm-up requests.
#[test]
fn hedges_and_retries_count_from_the_end_of_the_warm_up() {
    let text = r#"Scenario(
        name: "hedge-warmup", seed: 1, horizon: "40s", warmup: "10s",
        clients: [Client(name: "users", target: "db",
            load: Open(rate_rps: 100.0, shape: [Step(at: "35s", rate_rps: 0.0)]),
            policy: (max_attempts: 2, retry_on: [Error], hedge: (delay: "50ms")))],
        services: [Service(name: "db", workers: 200,
            service_time: Mixture([(0.95, Constant("10ms")), (0.05, Constant("1s"))]))],
        faults: [Fault(start: "5s", end: "20s", kind: Errors(service: "db", p: 0.2))],
    )"#;
    for seed in 1..=3 {
        let r = run("hedge-warmup.ron", text, seed);
        assert_drained(&r);
        let db = service(&r, "db");
        assert!(
            r.hedges > 0 && r.retries > 0,
            "seed {seed}: nothing to count"
        );
        assert_eq!(
            db.attempts,
            r.totals.offered + r.retries + r.hedges,
            "seed {seed}: attempts = offered + retries + hedges"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Cancellation: the caller stops waiting vs the callee stops working
// ---------------------------------------------------------------------------------------------

/// One request down client -> api -> db, every link 10 ms, api 0 ms of work, db 1 s; the
/// client gives up after 100 ms (t = 10.100 s). Without cancellation only the client stops
/// waiting: db works until 11.020 and api holds its worker until db's answer is back at
/// 11.030, both for nobody since 10.100 (920 and 930 ms wasted). When api honours
/// cancellation the client's cancel reaches it at 10.110; it cancels its call to db and
/// stops after its `cancel_cost` of 5 ms (15 ms wasted). db, if it honours too, gets api's
/// cancel at 10.120 and stops at once (20 ms wasted); if not, it works on (920 ms). A cancel
/// lost on the way (a partition when it is sent) stops nothing.
#[test]
fn cancellation_stops_the_work_down_the_chain() {
    let scenario = |api: &str, db: &str, faults: &str| {
        format!(
            r#"Scenario(
            name: "cancel-chain", seed: 1, horizon: "15s",
            clients: [Client(name: "c", target: "api",
                load: Closed(users: 1, think_time: Constant("10s")), policy: (timeout: "100ms"))],
            services: [
                Service(name: "api", workers: 1, service_time: Constant("0ms"),
                    calls: [Call(to: "db")]{api}),
                Service(name: "db", workers: 1, service_time: Constant("1s"){db}),
            ],
            default_link: (latency: Constant("10ms")),
            faults: [{faults}],
        )"#
        )
    };
    let honour = ", honor_cancellation: true, cancel_cost: \"5ms\"";
    let honour_free = ", honor_cancellation: true";
    let lost = r#"Fault(start: "10.05s", end: "10.2s", kind: Partition(a: "c", b: "api"))"#;
    // (case, api, db, faults, [api wasted, db wasted] in ms, [api, db] cancelled)
    let cases = [
        ("nobody honours", "", "", "", [930.0, 920.0], [0, 0]),
        (
            "api and db honour",
            honour,
            honour_free,
            "",
            [15.0, 20.0],
            [1, 1],
        ),
        ("only api honours", honour, "", "", [15.0, 920.0], [1, 0]),
        (
            "only db honours",
            "",
            honour_free,
            "",
            [930.0, 920.0],
            [0, 0],
        ),
        (
            "the cancel is lost",
            honour,
            honour_free,
            lost,
            [930.0, 920.0],
            [0, 0],
        ),
    ];
    for (case, api, db, faults, wasted_ms, cancelled) in cases {
        let r = run("cancel-chain.ron", &scenario(api, db, faults), 1);
        assert_drained(&r);
        assert_eq!(
            (r.totals.offered, r.totals.failed.timeout),
            (1, 1),
            "{case}"
        );
        for (i, name) in ["api", "db"].into_iter().enumerate() {
            let s = service(&r, name);
            assert_near(
                &format!("{case}: {name} wasted ms"),
                s.wasted_work_s * 1e3,
                wasted_ms[i],
                1e-6,
            );
            assert_eq!(s.cancelled, cancelled[i], "{case}: {name} cancelled");
            assert_eq!(s.dropped, cancelled[i], "{case}: {name} dropped");
        }
    }
}

/// A cancel drops a waiting attempt from the queue: one worker, 1 s of work; a patient
/// client's attempt takes the worker at 10.010, a hasty one's (100 ms timeout) queues behind
/// it and its cancel arrives at 10.110. Honouring it, the service never works for nobody
/// (busy 1 s in all); without, it works the abandoned attempt from 11.010 to 12.010.
#[test]
fn cancellation_drops_a_queued_attempt() {
    let scenario = |honour: &str| {
        format!(
            r#"Scenario(
            name: "cancel-queue", seed: 1, horizon: "15s",
            clients: [
                Client(name: "patient", target: "a", load: Closed(users: 1, think_time: Constant("10s"))),
                Client(name: "hasty", target: "a", load: Closed(users: 1, think_time: Constant("10s")),
                    policy: (timeout: "100ms")),
            ],
            services: [Service(name: "a", workers: 1, service_time: Constant("1s"){honour})],
            default_link: (latency: Constant("10ms")),
        )"#
        )
    };
    let naive = run("cancel-queue.ron", &scenario(""), 1);
    let honours = run(
        "cancel-queue.ron",
        &scenario(", honor_cancellation: true, cancel_cost: \"50ms\""),
        1,
    );
    for r in [&naive, &honours] {
        assert_drained(r);
        assert_eq!(client(r, "patient").totals.succeeded, 1);
        assert_eq!(client(r, "hasty").totals.failed.timeout, 1);
    }
    let (a, b) = (service(&naive, "a"), service(&honours, "a"));
    assert_eq!((a.completed, a.cancelled), (2, 0));
    assert_near("naive wasted s", a.wasted_work_s, 1.0, 1e-9);
    // Dropped from the queue: no worker time, and the cancel cost is for work in progress.
    assert_eq!((b.completed, b.cancelled, b.dropped), (1, 1, 1));
    assert_eq!(b.wasted_work_s, 0.0);
    // Busy 1 s of the 15 s; the queue held one attempt from 10.010 to 10.110 only.
    assert_near("utilization", b.utilization, 1.0 / 15.0, 1e-9);
    assert_near("queue depth", b.queue_depth_mean, 0.1 / 15.0, 1e-9);
}

/// A cancel can overtake its attempt (each message draws its own latency): then the
/// attempt is dropped when it arrives, as if the cancel had come right behind it. The link
/// c <-> a takes 1 ms or 100 ms (even odds, each message); every attempt times out at
/// 20 ms, a works 1 s, and honours cancellation at no cost. Per attempt, the worker time
/// spent after the caller gave up is 1 ms or 100 ms if the attempt took 1 ms (it works
/// until its cancel arrives at 21 or 120 ms), 20 ms if both took 100 ms (it arrives at 100,
/// the cancel at 120), and 0 if the attempt took 100 ms and its cancel 1 ms: the cancel is
/// there first (at 21 ms). Mean 30.25 ms, sd 41 ms per attempt.
#[test]
fn cancellation_that_overtakes_its_attempt_drops_it_on_arrival() {
    let text = r#"Scenario(
        name: "cancel-overtakes", seed: 1, horizon: "60s",
        clients: [Client(name: "c", target: "a",
            load: Open(rate_rps: 100.0, shape: [Step(at: "55s", rate_rps: 0.0)]),
            policy: (timeout: "20ms"))],
        services: [Service(name: "a", workers: 1000, service_time: Constant("1s"),
            honor_cancellation: true)],
        default_link: (latency: Mixture([(0.5, Constant("1ms")), (0.5, Constant("100ms"))])),
    )"#;
    let r = run("cancel-overtakes.ron", text, 1);
    assert_drained(&r);
    let a = service(&r, "a");
    assert_eq!(a.cancelled, a.attempts, "every attempt is cancelled");
    assert_eq!(a.completed, 0);
    let n = a.attempts as f64;
    assert_near(
        "wasted ms per attempt",
        a.wasted_work_s * 1e3 / n,
        30.25,
        5.0 * 41.05 / n.sqrt(),
    );
}

/// The hedging overload of issue 21: 2% of requests take 1 s at db (10 workers, 98% take
/// 10 ms, so 0.745 utilised at 250 rps), one hedge after 20 ms (just above the unhedged
/// p95 of 12 ms), links 1 ms.
/// When only the client stops waiting, every losing attempt still runs to its end: the
/// hedges add load, queueing pushes more requests past 20 ms, those are hedged too, and the
/// server saturates (~2 attempts per request, seconds of latency). When db honours
/// cancellation (1 ms to stop), a loser stops ~2 ms after the race is decided: ~2-3% of
/// requests are hedged, utilisation falls below the unhedged 0.745, and the p50 is the
/// 10 ms of work plus 2 ms of links.
#[test]
fn cancelling_hedge_losers_keeps_hedging_from_overloading_the_server() {
    let scenario = |honour: &str| {
        format!(
            r#"Scenario(
            name: "hedge-cancel", seed: 1, horizon: "120s", warmup: "20s",
            clients: [Client(name: "users", target: "db", load: Open(rate_rps: 250.0),
                policy: (hedge: (delay: "20ms", max_hedges: 1)))],
            services: [Service(name: "db", workers: 10{honour},
                service_time: Mixture([(0.98, Constant("10ms")), (0.02, Constant("1s"))]))],
            default_link: (latency: Constant("1ms")),
        )"#
        )
    };
    let naive = run("hedge-cancel.ron", &scenario(""), 1);
    let honours = run(
        "hedge-cancel.ron",
        &scenario(", honor_cancellation: true, cancel_cost: \"1ms\""),
        1,
    );
    for r in [&naive, &honours] {
        assert_conserved(r);
    }
    let (a, b) = (service(&naive, "db"), service(&honours, "db"));
    // Only the client stops waiting: overloaded.
    assert!(
        a.retry_amplification >= 1.5,
        "naive: {}",
        a.retry_amplification
    );
    assert!(a.utilization >= 0.99, "naive: {}", a.utilization);
    assert!(naive.totals.latency_ms.p50 >= 1000.0);
    // The server stops working too: attempts fall by at least a third, the p50 recovers to
    // the work plus the links, and wasted work falls a hundredfold.
    assert!(
        b.retry_amplification <= 1.05,
        "honours: {}",
        b.retry_amplification
    );
    assert!(b.attempts as f64 <= 0.67 * a.attempts as f64);
    assert!(b.utilization < 0.745, "honours: {}", b.utilization);
    assert_near("p50 ms", honours.totals.latency_ms.p50, 12.0, 0.1);
    assert!(b.wasted_work_s <= 0.01 * a.wasted_work_s);
    // Each hedge's loser is cancelled unless it finished first (fast, before the cancel).
    assert!(b.cancelled > 0 && b.cancelled <= honours.hedges);
}

/// An SLO per route, with a latency objective: a slowdown makes every answer slow without
/// failing any. The route whose SLO says "successful within 50 ms" burns its budget and
/// pages (and the fault is detected); an availability-only SLO, scenario-wide, sees nothing.
#[test]
fn a_latency_slo_per_route_detects_a_slowdown_that_fails_nothing() {
    let text = r#"Scenario(
        name: "latency-slo", seed: 1, horizon: "10m",
        clients: [
            Client(name: "checkout", target: "api", load: Open(rate_rps: 100.0),
                slo: (availability: 0.99, latency: "50ms")),
            Client(name: "browse", target: "api", load: Open(rate_rps: 100.0)),
        ],
        services: [Service(name: "api", workers: 100, service_time: Constant("10ms"))],
        slo: (availability: 0.99),
        faults: [Fault(start: "300s", end: "330s", kind: Slowdown(service: "api", factor: 10.0))],
    )"#;
    let r = run("latency-slo.ron", text, 1);
    assert_eq!(r.totals.failed.total(), 0, "a slowdown fails nothing");
    let checkout = r.clients.iter().find(|c| c.name == "checkout").unwrap();
    let ttd = checkout.detections[0]
        .time_to_detect_s
        .expect("the latency SLO pages");
    assert!(ttd <= 5.0, "detected after {ttd} s");
    let browse = r.clients.iter().find(|c| c.name == "browse").unwrap();
    assert!(browse.alerts.is_none(), "browse has no SLO of its own");
    assert!(
        r.detections.iter().all(|d| d.time_to_detect_s.is_none()),
        "availability-only SLO fired"
    );
}

/// Active health checks catch a replica that answers nothing: 3 replicas behind round robin,
/// `db#1` black-holed from 5 s to 20 s, callers time out after 200 ms and do not retry.
/// Without health checks a third of the requests in the window time out (~1000). Probing
/// every second and taking a replica out after 2 failed probes, round robin skips it within
/// about 2 s (~130 timeouts), and sends to it again once it answers probes after 20 s.
#[test]
fn health_checks_take_a_silent_replica_out_and_back() {
    let scenario = |check: &str| {
        format!(
            r#"Scenario(
            name: "health", seed: 1, horizon: "30s",
            clients: [Client(name: "users", target: "api", load: Open(rate_rps: 200.0, shape: [Step(at: "28s", rate_rps: 0.0)]))],
            services: [
                Service(name: "api", workers: 100, service_time: Constant("1ms"),
                    calls: [Call(to: "db", policy: (timeout: "200ms"))]),
                Service(name: "db", workers: 20, replicas: 3{check}, service_time: Constant("2ms")),
            ],
            faults: [Fault(start: "5s", end: "20s", kind: Crash(service: "db#1", mode: BlackHole))],
        )"#
        )
    };
    let plain = run("health.ron", &scenario(""), 1);
    let checked = run(
        "health.ron",
        &scenario(r#", health_check: (interval: "1s", unhealthy_threshold: 2)"#),
        1,
    );
    let failed = |r: &RunResult| r.totals.failed.total() as f64;
    assert!(
        (failed(&plain) - 1000.0).abs() < 5.0 * 1000f64.sqrt(),
        "plain: {} failures",
        failed(&plain)
    );
    assert!(
        failed(&checked) > 0.0 && failed(&checked) < 300.0,
        "checked: {} failures",
        failed(&checked)
    );
    let db1 = &checked.series.services[series_index(&checked, "db#1")];
    assert!(
        db1.attempts[22..28].iter().sum::<u64>() > 100,
        "db#1 back in rotation: {:?}",
        &db1.attempts[19..28]
    );
}
