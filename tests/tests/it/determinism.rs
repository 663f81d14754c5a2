//! Same scenario + seed => same bytes; components draw from their own streams.

use crate::support::{load, scenario_path};

fn json_of(file: &str, seed: u64) -> String {
    let path = scenario_path(file);
    let text = std::fs::read_to_string(&path).expect("bundled scenario");
    let scenario = load(file, &text);
    reports::json(&sim_models::run(&scenario, seed, file))
}

#[test]
fn same_file_and_seed_give_identical_bytes() {
    for file in ["mm1.ron", "mmc.ron", "autoscale.ron"] {
        let a = json_of(file, 42);
        let b = json_of(file, 42);
        assert!(
            a == b,
            "{file}: two runs with seed 42 differ: replay with `simctl run scenarios/{file} --seed 42`"
        );
        assert_ne!(a, json_of(file, 43), "{file}: the seed has no effect");
    }
}

const ONE: &str = r#"Scenario(
    name: "crn", seed: 7, horizon: "60s",
    clients: [Client(name: "load", target: "server", load: Open(rate_rps: 800.0), policy: (timeout: "20ms"))],
    services: [Service(name: "server", workers: 1, queue: Bounded(50), service_time: Exponential(mean: "1ms"))],
)"#;

const TWO: &str = r#"Scenario(
    name: "crn", seed: 7, horizon: "60s",
    clients: [
        Client(name: "other", target: "audit", load: Open(rate_rps: 300.0)),
        Client(name: "load", target: "server", load: Open(rate_rps: 800.0), policy: (timeout: "20ms")),
    ],
    services: [
        Service(name: "audit", workers: 2, service_time: LogNormal(median: "2ms", p99: "30ms")),
        Service(name: "server", workers: 1, queue: Bounded(50), service_time: Exponential(mean: "1ms")),
    ],
)"#;

/// Common random numbers: adding an unrelated client and service (listed first, so that
/// indices shift too) leaves the first service's arrivals and service times, hence every
/// one of its numbers, exactly unchanged.
#[test]
fn an_unrelated_service_leaves_other_draws_unchanged() {
    let one = sim_models::run(&load("one.ron", ONE), 42, "one.ron");
    let two = sim_models::run(&load("two.ron", TWO), 42, "two.ron");
    let client = |r: &sim_models::RunResult, name: &str| {
        serde_json::to_string(&r.clients.iter().find(|c| c.name == name).unwrap().totals).unwrap()
    };
    let service = |r: &sim_models::RunResult, name: &str| {
        serde_json::to_string(r.services.iter().find(|s| s.name == name).unwrap()).unwrap()
    };
    assert_eq!(client(&one, "load"), client(&two, "load"));
    assert_eq!(service(&one, "server"), service(&two, "server"));
    assert!(
        one.clients[0].totals.failed.total() > 0,
        "the case should exercise timeouts or rejections"
    );
    let series =
        |r: &sim_models::RunResult, i: usize| serde_json::to_string(&r.series.services[i]).unwrap();
    assert_eq!(series(&one, 0), series(&two, 1));
}

const SCALED: &str = r#"Scenario(
    name: "crn", seed: 7, horizon: "60s",
    clients: [
        Client(name: "other", target: "audit", load: Open(rate_rps: 300.0)),
        Client(name: "load", target: "server", load: Open(rate_rps: 800.0), policy: (timeout: "20ms")),
    ],
    services: [
        Service(name: "audit", workers: 2, replicas: 2, max_replicas: 4, service_time: LogNormal(median: "2ms", p99: "30ms")),
        Service(name: "server", workers: 1, queue: Bounded(50), service_time: Exponential(mean: "1ms")),
    ],
    rules: [Rule(name: "grow", when: At("20s"), do: ScaleTo(service: "audit", replicas: 4, provisioning: "3s"))],
)"#;

/// Replica headroom: scaling one service during the run leaves every other component's
/// draws, hence its numbers, exactly unchanged (instances and streams exist from the start).
#[test]
fn scaling_a_service_leaves_other_draws_unchanged() {
    let scaled = load("scaled.ron", SCALED);
    let mut fixed = scaled.clone();
    fixed.rules.clear();
    let a = sim_models::run(&scaled, 42, "scaled.ron");
    let b = sim_models::run(&fixed, 42, "fixed.ron");
    assert_eq!(a.actions.len(), 1);
    let server = |r: &sim_models::RunResult| {
        serde_json::to_string(r.services.iter().find(|s| s.name == "server").unwrap()).unwrap()
    };
    assert_eq!(server(&a), server(&b));
    // ... while the scaled service did change: its new replicas took work.
    let took = |r: &sim_models::RunResult| {
        r.services
            .iter()
            .find(|s| s.name == "audit#3")
            .unwrap()
            .attempts
    };
    assert_eq!(took(&b), 0);
    assert!(took(&a) > 1000, "{}", took(&a));
}

/// The event trace digest tells two runs apart, and agrees for replays.
#[test]
fn trace_digest_identifies_the_run() {
    let s = load("one.ron", ONE);
    let a = sim_models::run(&s, 1, "one.ron");
    assert_eq!(
        a.trace_digest,
        sim_models::run(&s, 1, "one.ron").trace_digest
    );
    assert_ne!(
        a.trace_digest,
        sim_models::run(&s, 2, "one.ron").trace_digest
    );
}
