//! Where a response leaves and how the call graph adds latency: chains, Parallel, Async,
//! endpoints, workers held while calling, per-message link latency.

use super::*;

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
