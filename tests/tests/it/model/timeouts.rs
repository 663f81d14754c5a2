//! Timeouts, deadlines, wasted work and cancellation: what a caller that stops waiting
//! leaves behind, and what a callee that stops working saves.

use super::*;

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

#[test]
fn deadline_ends_a_retry_loop_during_backoff() {
    let r = deadline_retry_run();
    assert_conserved(&r);
    assert_eq!(r.totals.offered, 80);
    assert_eq!(r.totals.failed.timeout, 80, "{:?}", r.totals.failed);
    assert_eq!(service(&r, "a").attempts, 3 * 80);
    assert_eq!(service(&r, "a").errors, 3 * 80);
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
