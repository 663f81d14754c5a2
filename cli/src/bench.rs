//! `simctl bench`: events per second and peak memory of the real model on this machine.

use sim_models::bench;

#[allow(
    clippy::disallowed_types,
    reason = "the CLI measures wall time; runs never see it"
)]
pub fn run(requests: u64, in_flight: Option<u64>) -> String {
    let (case, scenario) = match in_flight {
        Some(n) => ("in_flight", bench::in_flight(n, requests)),
        None => ("mm1_rho0.9", bench::mm1(requests)),
    };
    let mut engine = sim_models::run::build(&scenario, scenario.seed);
    let started = std::time::Instant::now();
    let stop = engine.run();
    let wall_s = started.elapsed().as_secs_f64();
    let events = engine.events();
    let offered = engine.model.offered();
    serde_json::json!({
        "case": case,
        "requests": offered,
        "in_flight_target": in_flight,
        "stopped": format!("{stop:?}"),
        "events": events,
        "wall_s": wall_s,
        "events_per_sec": events as f64 / wall_s,
        "peak_rss_mb": peak_rss_mb(),
    })
    .to_string()
}

/// Peak resident set size of this process (Linux `VmHWM`), if the OS tells.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
