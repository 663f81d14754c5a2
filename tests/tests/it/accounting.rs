//! The accounting identities on generated scenarios: per client and in total, offered =
//! succeeded + degraded + failed + in flight at the end; per service, attempts = completed +
//! failed + rejected + refused + dropped + deduplicated + in flight at the end (cancelled
//! attempts are among the dropped). Each case
//! draws a topology, policies, a load, a warm-up and a fault from a seeded generator, and
//! is cut off at a horizon where work is usually still in flight.

use crate::model::assert_conserved;
use crate::support::load;

/// A tiny deterministic generator (an LCG): the cases are the same on every machine.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn coin(&mut self) -> bool {
        self.below(2) == 0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A call policy: some of timeout, retries, hedge, backpressure, fallback.
fn policy(d: &mut Draw) -> String {
    let mut parts = vec![format!("max_attempts: {}", 1 + d.below(4))];
    if d.coin() {
        parts.push(format!("timeout: \"{}ms\"", 20 + d.below(400)));
    }
    if d.below(3) == 0 {
        parts.push(format!("hedge: (delay: \"{}ms\")", 5 + d.below(50)));
    }
    if d.below(3) == 0 {
        parts.push(format!("max_outstanding: {}", 1 + d.below(20)));
    }
    if d.below(4) == 0 {
        parts.push("fallback: true".into());
    }
    if d.coin() {
        parts.push("retry_on: [Timeout, Rejected, Error]".into());
    }
    format!("({})", parts.join(", "))
}

fn service(d: &mut Draw, name: &str, calls: &str) -> String {
    let queue = d.pick(&["Unbounded", "Bounded(0)", "Bounded(5)", "Bounded(50)"]);
    let mut extra = String::new();
    if d.coin() {
        extra.push_str(", honor_deadline: true");
    }
    if d.below(3) == 0 {
        extra.push_str(", honor_cancellation: true");
    }
    if d.below(3) == 0 {
        extra.push_str(", side_effect: true, idempotency: (ttl: \"10s\")");
    }
    if d.below(4) == 0 {
        extra.push_str(&format!(
            ", admission: (rate_limit: (rate_rps: {}.0, burst: 10))",
            20 + d.below(200)
        ));
    }
    format!(
        "Service(name: \"{name}\", workers: {}, queue: {queue}, service_time: Exponential(mean: \"{}ms\"){extra}, calls: [{calls}])",
        2 + d.below(7),
        1 + d.below(30)
    )
}

/// One generated scenario.
fn scenario(case: u64) -> String {
    let d = &mut Draw(case.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xACC0);
    let load = if d.below(4) == 0 {
        format!(
            "Closed(users: {}, think_time: Exponential(mean: \"{}ms\"))",
            1 + d.below(50),
            1 + d.below(100)
        )
    } else {
        format!("Open(rate_rps: {}.0)", 20 + d.below(400))
    };
    let deadline = if d.coin() {
        format!(", deadline: \"{}ms\"", 50 + d.below(1000))
    } else {
        String::new()
    };
    let c = policy(d);
    let gw_calls = if d.coin() {
        format!(
            "Parallel([(to: \"a\", policy: {}), (to: \"b\", policy: {})])",
            policy(d),
            policy(d)
        )
    } else {
        format!("Call(to: \"a\", policy: {})", policy(d))
    };
    let a_calls = format!("Call(to: \"b\", policy: {})", policy(d));
    let (gw, a, b) = (
        service(d, "gw", &gw_calls),
        service(d, "a", &a_calls),
        service(d, "b", ""),
    );
    let target = d.pick(&["gw", "a", "b"]);
    let fault = match d.below(7) {
        0 => "Crash(service: \"a\", mode: Refuse)".to_string(),
        1 => "Crash(service: \"b\", mode: BlackHole)".to_string(),
        2 => format!("Errors(service: \"{target}\", p: 0.{})", 1 + d.below(9)),
        3 => format!(
            "Slowdown(service: \"{target}\", factor: {}.0)",
            2 + d.below(20)
        ),
        4 => format!("Pause(service: \"{target}\")"),
        5 => "Partition(a: \"gw\", b: \"a\")".to_string(),
        _ => format!("CapacityLoss(service: \"{target}\", workers: 1)"),
    };
    let start = d.below(15);
    format!(
        r#"Scenario(
    name: "case-{case}", seed: {case}, horizon: "20s", warmup: "{}s",
    clients: [Client(name: "c", target: "gw", load: {load}, policy: {c}{deadline})],
    services: [{gw}, {a}, {b}],
    faults: [Fault(start: "{start}s", end: "{}s", kind: {fault})],
)"#,
        d.below(8),
        start + 1 + d.below(5)
    )
}

#[test]
fn identities_hold_on_generated_scenarios() {
    let (mut in_flight, mut services_in_flight, mut degraded, mut cancelled) = (0, 0, 0, 0);
    for case in 0..60 {
        let text = scenario(case);
        let name = format!("case-{case}.ron");
        let scenario = load(&name, &text);
        let r = sim_models::run(&scenario, case, &name);
        // The scenario in the message: a failure replays from it.
        let result = std::panic::catch_unwind(|| assert_conserved(&r));
        if result.is_err() {
            panic!("identity broken in generated case {case}:\n{text}");
        }
        in_flight += u64::from(r.totals.in_flight_at_end > 0);
        services_in_flight += u64::from(r.services.iter().any(|s| s.in_flight_at_end > 0));
        degraded += u64::from(r.totals.degraded > 0);
        cancelled += u64::from(r.services.iter().any(|s| s.cancelled > 0));
    }
    // The cases must exercise what the identities are about: work cut off by the horizon,
    // degraded answers, cancelled attempts.
    assert!(
        in_flight >= 10,
        "{in_flight} cases end with requests in flight"
    );
    assert!(
        services_in_flight >= 10,
        "{services_in_flight} cases end with attempts in flight"
    );
    assert!(degraded >= 5, "{degraded} cases have degraded answers");
    assert!(cancelled >= 5, "{cancelled} cases cancel attempts");
}

/// Per window, the failures by reason add up to the failures, and over the run (after the
/// warm-up, whose windows they also count) to at least the run's totals by reason.
#[test]
fn failures_by_reason_add_up_per_window() {
    let text = std::fs::read_to_string(crate::support::scenario_path("v0.1.ron")).unwrap();
    let r = sim_models::run(&crate::support::load("v0.1.ron", &text), 42, "v0.1.ron");
    let s = &r.series;
    let by = &s.failed_by_reason;
    for i in 0..s.t_s.len() {
        let sum = by.timeout[i] + by.rejected[i] + by.error[i] + by.circuit_open[i];
        assert_eq!(sum, s.failed[i], "window {i}");
    }
    let total = |v: &[u64]| v.iter().sum::<u64>();
    assert!(total(&by.timeout) >= r.totals.failed.timeout && r.totals.failed.timeout > 0);
    assert!(total(&by.rejected) >= r.totals.failed.rejected);
}
