//! Conservation: every request and attempt has exactly one fate, through every fault, at
//! the horizon and in overload; warm-up and the series agree with the totals.

use super::*;

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
