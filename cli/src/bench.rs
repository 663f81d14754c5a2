//! `simctl bench`: events per second and peak memory of the real model on this machine.

use sim_models::{Scenario, bench};

/// What to measure.
pub enum Case {
    /// The built-in M/M/1 at rho 0.9, about this many requests.
    Mm1(u64),
    /// About `.0` requests in flight with armed timeouts, `.1` requests in all.
    InFlight(u64, u64),
    /// A scenario file.
    Scenario(Box<Scenario>),
}

#[allow(
    clippy::disallowed_types,
    reason = "the CLI measures wall time; runs never see it"
)]
pub fn run(case: Case) -> String {
    let (name, in_flight, scenario) = match case {
        Case::Mm1(requests) => ("mm1_rho0.9".to_string(), None, bench::mm1(requests)),
        Case::InFlight(n, requests) => (
            "in_flight".to_string(),
            Some(n),
            bench::in_flight(n, requests),
        ),
        Case::Scenario(s) => (s.name.clone(), None, *s),
    };
    let mut engine = sim_models::run::build(&scenario, scenario.seed);
    let started = std::time::Instant::now();
    let stop = engine.run();
    let wall_s = started.elapsed().as_secs_f64();
    let events = engine.events();
    let offered = engine.model.offered();
    serde_json::json!({
        "case": name,
        "simulated_s": scenario.horizon.as_secs_f64(),
        "requests": offered,
        "in_flight_target": in_flight,
        "stopped": format!("{stop:?}"),
        "events": events,
        "wall_s": wall_s,
        "events_per_sec": events as f64 / wall_s,
        "requests_per_sec": offered as f64 / wall_s,
        // Tools count events differently (DESIGN.md "Performance budgets"): compare
        // requests/s, with this beside events/s.
        "events_per_request": events as f64 / offered.max(1) as f64,
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
