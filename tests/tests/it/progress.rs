//! Runs whose virtual time stands still or crawls stop with `no_progress` after
//! `limits.max_events_without_progress` events, not at the 2-billion event budget (issue 21).

use sim_models::RunResult;
use sim_models::result::StopKind;

use crate::support::load;

fn run(text: &str) -> RunResult {
    sim_models::run(&load("progress.ron", text), 1, "progress.ron")
}

/// One worker, no queue, 10 s of work: the first request takes the worker, every other one
/// is rejected at once, and a user with zero think time asks again at the same instant.
const ZERO_THINK: &str = r#"Scenario(
    name: "spin", seed: 1, horizon: "10m",
    clients: [Client(name: "users", target: "api", load: Closed(users: 2, think_time: Constant("0ms")))],
    services: [Service(name: "api", workers: 1, queue: Bounded(0), service_time: Constant("10s"))],
)"#;

#[test]
fn a_closed_loop_with_zero_think_time_against_instant_rejection_stops_at_t0() {
    let r = run(ZERO_THINK);
    let limit = 10_000_000;
    assert_eq!(
        r.stopped.to_string(),
        format!(
            "no_progress: {limit} events at t=0.000s without virtual time advancing (limits.max_events_without_progress)"
        )
    );
    assert_eq!(
        r.events, limit,
        "stops after one block of the default limit"
    );
    assert_eq!(r.simulated_s, 0.0);
    assert!(
        r.totals.failed.rejected > 1_000_000,
        "the metrics up to the stop are kept: {:?}",
        r.totals.failed
    );
}

#[test]
fn a_lower_limit_stops_it_sooner_and_a_think_time_lets_it_run() {
    let lower = ZERO_THINK.replace(
        r#"horizon: "10m","#,
        r#"horizon: "10m", limits: (max_events_without_progress: 1000),"#,
    );
    let r = run(&lower);
    assert!(
        r.stopped
            .to_string()
            .starts_with("no_progress: 1000 events at t=0.000s"),
        "{}",
        r.stopped
    );
    assert_eq!(r.events, 1000);
    // With 1 ms of thinking the same loop runs to the horizon.
    let thinking = ZERO_THINK.replace(r#"Constant("0ms")"#, r#"Constant("1ms")"#);
    assert_eq!(run(&thinking).stopped.kind, StopKind::Horizon);
}

/// A probe every nanosecond: virtual time advances, one nanosecond per event.
#[test]
fn a_one_nanosecond_health_check_interval_stops_early() {
    let r = run(r#"Scenario(
        name: "probe", seed: 1, horizon: "10m",
        clients: [Client(name: "users", target: "api", load: Open(rate_rps: 100.0))],
        services: [
            Service(name: "api", workers: 10, service_time: Constant("1ms"), calls: [Call(to: "db")]),
            Service(name: "db", workers: 10, replicas: 2, service_time: Constant("1ms"),
                health_check: (interval: "1ns")),
        ],
    )"#);
    assert!(
        r.stopped
            .to_string()
            .starts_with("no_progress: 10000000 events from t="),
        "{}",
        r.stopped
    );
    assert!(
        r.stopped.detail.contains("at most 1ns per event"),
        "{}",
        r.stopped
    );
    assert_eq!(r.events, 10_000_000, "stops after the first block");
    assert!(r.simulated_s < 0.011, "{} s", r.simulated_s);
}

/// No bundled scenario comes near the limit: with a tenth of the default, each still makes
/// progress (the ladder's same-instant bursts are a few events; storm.ron's 131,070, once
/// per round of 1.01 ms).
#[test]
fn the_bundled_scenarios_make_progress() {
    let dir = crate::support::scenario_path("");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.ends_with(".ron"))
        .collect();
    files.sort();
    assert!(files.len() >= 11, "{files:?}");
    for f in files {
        let text = std::fs::read_to_string(dir.join(&f)).unwrap();
        let mut s = load(&f, &text);
        s.limits.max_events_without_progress = 1_000_000;
        s.horizon = s.horizon.min(sim_core::SimDuration::from_secs(20));
        let r = sim_models::run(&s, s.seed, &f);
        assert!(r.stopped.kind != StopKind::NoProgress, "{f}: {}", r.stopped);
    }
}

/// A crashed service refuses at once and its caller retries at once, over a link of zero
/// latency: the attempts and refusals are hops delivered without events of their own
/// (issue 20), but at most 64 per event, so the loop is still seen by the progress guard
/// instead of spinning inside one event for its billion attempts.
#[test]
fn a_zero_latency_retry_loop_is_still_seen_by_the_progress_guard() {
    let r = run(r#"Scenario(
        name: "hop-loop", seed: 1, horizon: "10m",
        limits: (max_events_without_progress: 1000),
        clients: [Client(name: "c", target: "api", load: Open(rate_rps: 1.0),
            policy: (max_attempts: 1000000000, retry_on: [Error]))],
        services: [Service(name: "api", workers: 1, service_time: Constant("1ms"))],
        faults: [Fault(start: "0s", end: "10m", kind: Crash(service: "api", mode: Refuse))],
    )"#);
    assert!(
        r.stopped
            .to_string()
            .starts_with("no_progress: 1000 events"),
        "{}",
        r.stopped
    );
    assert!(r.events <= 2000, "within two blocks: {}", r.events);
    // 64 hops an event, an attempt there and its refusal back: ~32 retries per event.
    assert!(r.retries > 20 * 1000, "retries: {}", r.retries);
}
