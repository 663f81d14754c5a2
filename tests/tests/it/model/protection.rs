//! Protection at the callee and across replicas: admission control, backpressure,
//! bulkheads, adaptive limits, outlier ejection and health checks.

use super::*;

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
