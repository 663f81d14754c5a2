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

/// A run reported in hundredths of its horizon (`run_with_progress`, what `simctl run`
/// shows as progress) is the same run: the same bytes as `run`, for a run to the horizon,
/// a run a guard stops early (v0.1's in-flight limit, shortened), and one that drains; the
/// shares reported only grow, and stop where the run stopped.
#[test]
fn progress_reporting_changes_nothing_in_the_run() {
    let v01 = std::fs::read_to_string(scenario_path("v0.1.ron")).unwrap();
    let guarded = v01.replace("seed: 42,", "seed: 42, limits: (max_in_flight: 20000),");
    let drained = r#"Scenario(name: "d", seed: 1, horizon: "10s",
        clients: [Client(name: "c", target: "s", load: Open(rate_rps: 50.0,
            shape: [Step(at: "2s", rate_rps: 0.0)]))],
        services: [Service(name: "s", workers: 1, service_time: Constant("1ms"))])"#;
    for (name, text) in [
        (
            "v0.6.ron",
            std::fs::read_to_string(scenario_path("v0.6.ron")).unwrap(),
        ),
        ("guarded.ron", guarded),
        ("drained.ron", drained.to_string()),
    ] {
        let s = load(name, &text);
        let plain = sim_models::run(&s, 42, name);
        let mut shares = Vec::new();
        let reported = sim_models::run_with_progress(&s, 42, name, &mut |d| shares.push(d));
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            serde_json::to_string(&reported).unwrap(),
            "{name}"
        );
        assert!(shares.windows(2).all(|w| w[0] < w[1]), "{name}: {shares:?}");
        assert!(shares.iter().all(|&d| d > 0.0 && d < 1.0), "{name}");
        let ran = plain.simulated_s / s.horizon.as_secs_f64();
        assert!(
            shares.last().is_none_or(|&d| d <= ran + 1e-9),
            "{name}: {ran}"
        );
        if name == "guarded.ron" {
            assert!(!plain.stopped.is_normal(), "the guard must stop it");
            assert!(shares.len() < 99, "{name}: progress went past the stop");
        }
    }
}
