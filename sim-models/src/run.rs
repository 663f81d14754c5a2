//! Runs a validated scenario to a [`RunResult`]: value in, value out, no IO.

use sim_core::SimTime;
use sim_core::engine::{Engine, Limits, StopReason};
use sim_core::queue::EventQueue;

use crate::result::{ClientResult, Failed, RunResult, ServiceResult, Totals};
use crate::scenario::Scenario;
use crate::world::{World, latency};

/// Runs `scenario` (which must have passed [`crate::validate`]) with `seed`. `file` is the
/// scenario's path as the user gave it, for the replay line.
pub fn run(scenario: &Scenario, seed: u64, file: &str) -> RunResult {
    let mut engine = build(scenario, seed);
    let stop = engine.run();
    finish(scenario, seed, file, engine, stop)
}

/// The engine for a scenario, ready to run (benchmarks drive it directly).
pub fn build(scenario: &Scenario, seed: u64) -> Engine<World> {
    let mut queue = EventQueue::new();
    let world = World::new(scenario, seed, &mut queue);
    let limits = Limits {
        horizon: SimTime::ZERO + scenario.horizon,
        max_events: scenario.limits.max_events,
    };
    Engine::new(world, queue, limits)
}

fn finish(
    s: &Scenario,
    seed: u64,
    file: &str,
    mut engine: Engine<World>,
    stop: StopReason,
) -> RunResult {
    let horizon = SimTime::ZERO + s.horizon;
    // A run that reached the horizon ends there; one stopped early ends at its last event.
    let end = match stop {
        StopReason::Horizon | StopReason::Drained => horizon,
        _ => engine.queue.now(),
    };
    let world = &mut engine.model;
    // The last, possibly partial, window.
    let last_closed = world.series.t_s.last().copied().unwrap_or(0.0);
    if end.as_secs_f64() > last_closed {
        let width =
            end.saturating_since(SimTime::ZERO + sim_core::SimDuration::from_secs_f64(last_closed));
        world.close_window(end, width);
    }
    let counted_s = end.saturating_since(world.warmup).as_secs_f64();
    let attempts: u64 = world.services.iter().map(|x| x.stats.attempts).sum();

    let clients: Vec<ClientResult> = world
        .clients
        .iter()
        .map(|c| {
            let o = &c.outcome;
            let in_flight = o.offered - o.succeeded - o.failed.total();
            ClientResult {
                name: c.name.clone(),
                target: s.services[c.target as usize].name.clone(),
                totals: totals(
                    o.offered,
                    o.succeeded,
                    o.failed.clone(),
                    in_flight,
                    counted_s,
                    latency(&o.latency, &o.latency_exact),
                ),
            }
        })
        .collect();

    let mut all_latency = sim_core::stats::LatencyRecorder::new();
    let mut all_exact = sim_core::stats::Welford::new();
    for c in &world.clients {
        all_latency.merge(&c.outcome.latency);
        all_exact.merge(&c.outcome.latency_exact);
    }
    let sum = |f: fn(&ClientResult) -> u64| clients.iter().map(f).sum::<u64>();
    let failed = Failed {
        timeout: sum(|c| c.totals.failed.timeout),
        rejected: sum(|c| c.totals.failed.rejected),
    };
    let mut system = totals(
        sum(|c| c.totals.offered),
        sum(|c| c.totals.succeeded),
        failed,
        sum(|c| c.totals.in_flight_at_end),
        counted_s,
        latency(&all_latency, &all_exact),
    );
    system.retry_amplification = ratio(attempts, system.offered);
    system.wasted_work_s = world.wasted_work.as_secs_f64();

    let services = world
        .services
        .iter()
        .map(|svc| {
            let st = &svc.stats;
            let admitted = st.attempts - st.rejected;
            ServiceResult {
                name: svc.name.clone(),
                workers: svc.workers,
                attempts: st.attempts,
                rejected: st.rejected,
                completed: st.completed,
                waited_fraction: ratio(st.waited, admitted),
                wait_mean_ms: st.wait_exact.mean() / 1e6,
                latency_ms: latency(&st.latency, &st.latency_exact),
                utilization: st.busy_level.overall_mean(end) / f64::from(svc.workers),
                queue_depth_mean: st.queue_level.overall_mean(end),
                queue_depth_max: st.queue_level.overall_max(),
                in_flight_mean: st.busy_level.overall_mean(end) + st.queue_level.overall_mean(end),
                in_flight_max: st.in_flight_max,
                arrival_rps: st.attempts as f64 / counted_s.max(1e-12),
            }
        })
        .collect();

    RunResult {
        scenario: s.name.clone(),
        seed,
        scenario_hash: s.hash(),
        stopped: match stop {
            StopReason::Horizon => "horizon".into(),
            StopReason::Drained => "drained".into(),
            StopReason::EventBudget => format!(
                "event_budget: {} events at t={:.3}s",
                engine.events(),
                end.as_secs_f64()
            ),
            StopReason::Guard(why) => why,
        },
        simulated_s: end.as_secs_f64(),
        warmup_s: s.warmup.as_secs_f64(),
        events: engine.events(),
        trace_digest: format!("{:016x}", engine.trace_digest()),
        replay: format!("simctl run {file} --seed {seed} (scenario {})", s.hash()),
        totals: system,
        clients,
        services,
        series: std::mem::take(&mut engine.model.series),
    }
}

fn totals(
    offered: u64,
    succeeded: u64,
    failed: Failed,
    in_flight: u64,
    counted_s: f64,
    latency_ms: crate::result::Latency,
) -> Totals {
    Totals {
        offered,
        succeeded,
        failed,
        in_flight_at_end: in_flight,
        availability: ratio(succeeded, offered),
        goodput_rps: succeeded as f64 / counted_s.max(1e-12),
        latency_ms,
        retry_amplification: 1.0,
        wasted_work_s: 0.0,
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}
