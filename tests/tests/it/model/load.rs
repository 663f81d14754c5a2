//! Load: open-loop spikes and closed-loop users.

use super::*;

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
