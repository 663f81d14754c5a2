//! Runs a validated scenario to a [`RunResult`]: value in, value out, no IO.

use sim_core::engine::{Engine, Limits, StopReason};
use sim_core::queue::EventQueue;
use sim_core::stats::{LatencyRecorder, Welford};
use sim_core::{SimDuration, SimTime};

use crate::recovery::{RecoveryParams, recovery};
use crate::remediation::decide::Decider;
use crate::result::series_store::{client, sys};
use crate::result::{
    ClientResult, Failed, FaultLabel, FaultWindow, Latency, LazySeries, RunResult, ServiceResult,
    StopKind, Stopped, Totals, ZoneResult,
};
use crate::scenario::{FaultKind, Scenario};
use crate::world::World;

/// Runs `scenario` (which must have passed `validate`) with `seed`. `file` names the
/// scenario as the command line did (its path, and any `--set` flags), for the replay line.
pub fn run(scenario: &Scenario, seed: u64, file: &str) -> RunResult {
    run_with(scenario, seed, file, None)
}

/// [`run`], with `decider` deciding about the incidents of a scenario with a `remediation`
/// section (a plans file, a learned policy, an agent); `None`: the scenario's `automation`
/// (simctl's planner). With `automation: Off` only the human acts, whatever `decider` is.
pub fn run_with(
    scenario: &Scenario,
    seed: u64,
    file: &str,
    decider: Option<Box<dyn Decider>>,
) -> RunResult {
    let mut engine = build_with(scenario, seed, decider);
    let stop = engine.run();
    finish(scenario, seed, file, engine, stop)
}

/// [`run`], calling `progress` with the share of the horizon simulated after each hundredth
/// of it. The engine pauses between hundredths and nothing else changes: the same events
/// in the same order, the same result (tested).
pub fn run_with_progress(
    scenario: &Scenario,
    seed: u64,
    file: &str,
    progress: &mut dyn FnMut(f64),
) -> RunResult {
    run_with_decider_progress(scenario, seed, file, None, progress)
}

/// [`run_with`] and [`run_with_progress`] together.
pub fn run_with_decider_progress(
    scenario: &Scenario,
    seed: u64,
    file: &str,
    decider: Option<Box<dyn Decider>>,
    progress: &mut dyn FnMut(f64),
) -> RunResult {
    const STEPS: u64 = 100;
    let mut engine = build_with(scenario, seed, decider);
    let horizon = scenario.horizon.as_nanos();
    let mut stop = StopReason::Horizon;
    for k in 1..=STEPS {
        let until = SimTime::ZERO + SimDuration::from_nanos(horizon / STEPS * k);
        let until = if k == STEPS {
            SimTime::ZERO + scenario.horizon
        } else {
            until
        };
        stop = engine.run_until(until);
        if k == STEPS || !matches!(stop, StopReason::Horizon) {
            break;
        }
        progress(k as f64 / STEPS as f64);
    }
    finish(scenario, seed, file, engine, stop)
}

/// [`run`], tracing about `samples` logical requests picked from the seed (see
/// `world::trace`): every attempt, queue wait, work, retry backoff, hedge and timeout.
pub fn run_traced(
    scenario: &Scenario,
    seed: u64,
    file: &str,
    samples: usize,
) -> (RunResult, crate::trace::Trace) {
    let mut engine = build(scenario, seed);
    let horizon_s = scenario.horizon.as_secs_f64();
    let expected: f64 = scenario
        .clients
        .iter()
        .map(|c| match &c.load {
            crate::policy::Load::Open { rate_rps, .. } => rate_rps * horizon_s,
            crate::policy::Load::Closed { users, .. } => f64::from(*users) * horizon_s,
        })
        .sum();
    engine.model.trace = Some(Box::new(crate::world::trace::Tracer::new(
        seed,
        samples,
        expected as u64,
    )));
    let stop = engine.run();
    let mut tracer = engine.model.trace.take().expect("set above");
    tracer.finish_run(engine.queue.now());
    let trace = crate::trace::Trace {
        lanes: tracer.lanes,
        spans: tracer.spans,
    };
    (finish(scenario, seed, file, engine, stop), trace)
}

/// The engine for a scenario, ready to run (benchmarks drive it directly).
pub fn build(scenario: &Scenario, seed: u64) -> Engine<World> {
    build_with(scenario, seed, None)
}

/// [`build`] with a decider for the scenario's incidents.
pub fn build_with(
    scenario: &Scenario,
    seed: u64,
    decider: Option<Box<dyn Decider>>,
) -> Engine<World> {
    let mut queue = EventQueue::new();
    // Incident processes become faults here and again in `finish` (the same pure
    // expansion), so the world and the result see the same faults.
    let expanded = crate::incidents::with_incidents(scenario, seed);
    let mut world = World::new(&expanded, seed, &mut queue);
    if scenario.remediation.is_some() {
        let truth = crate::incidents::generated(scenario, seed);
        world.watch_incidents(scenario, truth.clone());
        let decider = decider.or_else(|| default_decider(scenario));
        world.attach_orchestrator(&expanded, seed, decider, truth);
    }
    let limits = Limits {
        horizon: SimTime::ZERO + scenario.horizon,
        max_events: scenario.limits.max_events,
        max_events_without_progress: scenario.limits.max_events_without_progress,
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
    let events = engine.events();
    let digest = engine.trace_digest();
    let world = &mut engine.model;
    // The last, possibly partial, window.
    let last_closed = world.metrics.rows.last_end_s();
    if end.as_secs_f64() > last_closed {
        let width = end.saturating_since(SimTime::ZERO + SimDuration::from_secs_f64(last_closed));
        world.close_window(end, width, None);
    }
    let counted_s = end.saturating_since(world.warmup).as_secs_f64();

    let in_flight = world.requests_in_flight();
    let mut clients: Vec<ClientResult> = world
        .clients
        .iter()
        .zip(&s.clients)
        .enumerate()
        .map(|(i, (c, spec))| {
            let o = &c.outcome;
            let latency = Latency::of(&o.latency, &o.latency_exact);
            ClientResult {
                name: c.name.clone(),
                target: spec.target.clone(),
                zone: spec.zone.clone(),
                not_issued: c.not_issued,
                alerts: None,
                detections: Vec::new(),
                totals: totals(
                    o.offered,
                    o.succeeded,
                    o.degraded,
                    o.failed.clone(),
                    in_flight[i],
                    counted_s,
                    latency,
                ),
            }
        })
        .collect();

    // One client's latencies are the system's: borrowed, not copied into a fresh histogram.
    let merged = match world.clients.as_slice() {
        [_] => None,
        all => {
            let mut m = LatencyRecorder::new();
            for c in all {
                m.merge(&c.outcome.latency);
            }
            Some(m)
        }
    };
    let all_latency = merged
        .as_ref()
        .unwrap_or_else(|| &world.clients[0].outcome.latency);
    let mut all_exact = Welford::new();
    for c in &world.clients {
        all_exact.merge(&c.outcome.latency_exact);
    }
    let sum = |f: fn(&ClientResult) -> u64| clients.iter().map(f).sum::<u64>();
    let failed = Failed {
        timeout: sum(|c| c.totals.failed.timeout),
        rejected: sum(|c| c.totals.failed.rejected),
        error: sum(|c| c.totals.failed.error),
        circuit_open: sum(|c| c.totals.failed.circuit_open),
    };
    let system_latency = match clients.as_slice() {
        // `all_latency` is this client's recorder: its quantiles, count and maximum as
        // computed above (each quantile pass copies and partly sorts the values).
        [one] => Latency {
            mean: all_exact.mean() / 1e6,
            ..one.totals.latency_ms.clone()
        },
        _ => Latency::of(all_latency, &all_exact),
    };
    let system = totals(
        sum(|c| c.totals.offered),
        sum(|c| c.totals.succeeded),
        sum(|c| c.totals.degraded),
        failed,
        sum(|c| c.totals.in_flight_at_end),
        counted_s,
        system_latency,
    );

    let visits = &world.metrics.visits;
    let expected_at = |j: usize| -> f64 {
        clients
            .iter()
            .zip(visits)
            .map(|(c, v)| c.totals.offered as f64 * v[j])
            .sum()
    };
    let mut services: Vec<ServiceResult> = world
        .services
        .iter()
        .enumerate()
        .map(|(j, svc)| svc.result(expected_at(j), end, counted_s, world.attempts_in_flight(j)))
        .collect();
    let instance_zones = s
        .services
        .iter()
        .flat_map(|svc| (0..svc.instances()).map(move |i| svc.zone_of(i)));
    for (r, zone) in services.iter_mut().zip(instance_zones) {
        r.zone = zone.map(str::to_string);
    }
    let zones = zone_results(s, &clients);
    let attempts: u64 = services.iter().map(|x| x.attempts).sum();
    let expected: f64 = (0..services.len()).map(expected_at).sum();

    let latency_cdf = all_latency.cdf_points();
    // The scenario's own faults, then those its incident processes drew.
    let faults: Vec<FaultWindow> = crate::incidents::with_incidents(s, seed)
        .faults
        .iter()
        .enumerate()
        .map(|(i, f)| FaultWindow {
            incident: i >= s.faults.len(),
            ..fault_window(f)
        })
        .collect();
    let fault_spans: Vec<(f64, f64)> = faults.iter().map(|f| (f.start_s, f.end_s)).collect();

    // The SLOs' alerts as the world evaluated them window by window during the run (the
    // same evaluator rules read): what an alerting system would have shown at the time.
    let alerts = world.metrics.alerts.as_ref().map(|a| a.report());
    let detections = alerts
        .as_ref()
        .map(|a| crate::slo::time_to_detect(a, &fault_spans))
        .unwrap_or_default();
    for (client, online) in clients.iter_mut().zip(&world.metrics.client_alerts) {
        if let Some(online) = online {
            let a = online.report();
            client.detections = crate::slo::time_to_detect(&a, &fault_spans);
            client.alerts = Some(a);
        }
    }

    let remediation = world.remediation_report(end, system.availability);
    let (retries, hedges) = (world.metrics.retries, world.metrics.hedges);
    let backpressure_rejections = world.metrics.local_rejections;
    let actions = std::mem::take(&mut world.actions);
    let breakers = world.breaker_reports();
    let ejections = world.ejection_reports();
    let caches = world.caches.iter().map(|c| c.result()).collect();
    let brokers = world.brokers.iter_mut().map(|b| b.result()).collect();
    let databases = world.databases.iter().map(|d| d.result()).collect();
    let configs = world.configs.iter().map(|c| c.result()).collect();
    let token_auths = world.token_auths.iter().map(|t| t.result()).collect();
    let incident_log = world.take_incident_log();
    let mut skeleton = std::mem::take(&mut world.metrics.series);
    let rows = world.metrics.rows.take();
    // The world (its side-effect ledger, histograms, slot maps, pending events) goes before
    // the verdict's columns are made.
    drop((engine, merged));
    skeleton.latency_cdf = latency_cdf;
    // The series stays in its logs; only the columns below are decoded.
    let retry_amplification_peak = rows
        .retry_amplification()
        .zip(rows.system(sys::OFFERED))
        .filter(|&(_, offered)| offered > 0)
        .map(|(a, _)| a)
        .fold(0.0, f64::max);
    // The load offered by open-loop clients (it does not depend on the answers), per second:
    // the verdict checks that a lower goodput is not just less load.
    let mut open: Vec<_> = (s.clients.iter().enumerate())
        .filter(|(_, spec)| matches!(spec.load, crate::scenario::Load::Open { .. }))
        .map(|(c, _)| rows.client(c, client::OFFERED))
        .collect();
    let demand_rps: Vec<f64> = (0..rows.windows())
        .map(|_| {
            (open.iter_mut())
                .map(|c| c.next().expect("a window") as f64)
                .sum::<f64>()
                / skeleton.window_s
        })
        .collect();
    drop(open);
    let t_s: Vec<f64> = rows.t_s().collect();
    let goodput_rps: Vec<f64> = rows.goodput_rps().collect();
    let rec = recovery(
        &t_s,
        &goodput_rps,
        &demand_rps,
        skeleton.window_s,
        s.warmup.as_secs_f64(),
        &fault_spans,
        RecoveryParams::default(),
    );
    drop((demand_rps, t_s, goodput_rps));
    let series = LazySeries::new(skeleton, rows);

    let scenario_hash = s.hash();
    RunResult {
        scenario: s.name.clone(),
        seed,
        replay: format!("simctl run {file} --seed {seed} (scenario {scenario_hash})"),
        scenario_hash,
        stopped: match stop {
            StopReason::Horizon => Stopped::new(StopKind::Horizon, ""),
            StopReason::Drained => Stopped::new(StopKind::Drained, ""),
            StopReason::EventBudget => Stopped::new(
                StopKind::EventBudget,
                format!("{events} events at t={:.3}s", end.as_secs_f64()),
            ),
            StopReason::NoProgress { events, from, to } if from == to => Stopped::new(
                StopKind::NoProgress,
                format!(
                    "{events} events at t={:.3}s without virtual time advancing (limits.max_events_without_progress)",
                    from.as_secs_f64()
                ),
            ),
            StopReason::NoProgress { events, from, to } => Stopped::new(
                StopKind::NoProgress,
                format!(
                    "{events} events from t={:.9}s to t={:.9}s, virtual time advancing at most 1ns per event (limits.max_events_without_progress)",
                    from.as_secs_f64(),
                    to.as_secs_f64()
                ),
            ),
            // The model's guards name themselves (`in_flight_limit: ...`).
            StopReason::Guard(why) => Stopped::parse(&why),
        },
        simulated_s: end.as_secs_f64(),
        warmup_s: s.warmup.as_secs_f64(),
        events,
        trace_digest: format!("{digest:016x}"),
        totals: system,
        retry_amplification: ratio(attempts as f64, expected),
        wasted_work_s: services.iter().map(|x| x.wasted_work_s).sum(),
        duplicate_side_effects: services.iter().map(|x| x.duplicate_side_effects).sum(),
        retries,
        backpressure_rejections,
        hedges,
        retry_amplification_peak,
        faults,
        actions,
        breakers,
        ejections,
        alerts,
        detections,
        baseline_goodput_rps: rec.baseline_rps,
        recovery_s: rec.recovery_s,
        recovery_smoothing_s: rec.smoothing_s,
        metastable: rec.metastable(),
        recovery_verdict: rec.verdict,
        recovery_reason: rec.reason,
        collapsed_at_s: rec.collapsed_at_s,
        clients,
        services,
        zones,
        caches,
        brokers,
        databases,
        configs,
        token_auths,
        incident_log,
        remediation,
        series,
    }
}

/// The decider a scenario's `automation` names: simctl's planner.
fn default_decider(s: &Scenario) -> Option<Box<dyn Decider>> {
    Some(Box::new(crate::remediation::decide::Labeled {
        decider: Box::new(crate::remediation::planner::Planner::new(s.clone())),
        label: "planner".into(),
    }))
}

/// Each zone's instances, and its clients' requests.
fn zone_results(s: &Scenario, clients: &[ClientResult]) -> Vec<ZoneResult> {
    let zones = crate::zones::Zones::of(s);
    (0..zones.len())
        .map(|z| {
            let zone = zones.name(z);
            let instances = s
                .services
                .iter()
                .map(|svc| {
                    (0..svc.instances())
                        .filter(|&i| svc.zone_of(i) == Some(zone))
                        .count() as u32
                })
                .sum();
            let here: Vec<&ClientResult> = clients
                .iter()
                .filter(|c| c.zone.as_deref() == Some(zone))
                .collect();
            let offered = here.iter().map(|c| c.totals.offered).sum();
            let succeeded = here.iter().map(|c| c.totals.succeeded).sum();
            ZoneResult {
                zone: zone.to_string(),
                instances,
                clients: here.len() as u32,
                offered,
                succeeded,
                not_issued: here.iter().map(|c| c.not_issued).sum(),
                availability: if offered == 0 {
                    1.0
                } else {
                    succeeded as f64 / offered as f64
                },
            }
        })
        .collect()
}

pub(crate) fn fault_window(f: &crate::scenario::Fault) -> FaultWindow {
    use crate::result::FaultClass as C;
    let (class, rest) = match &f.kind {
        FaultKind::Crash { mode, .. } => (C::Crash, format!("({mode:?})")),
        FaultKind::Errors { p, .. } => (C::Errors, format!("p={p}")),
        FaultKind::Slowdown { factor, .. } => (C::Slowdown, format!("x{factor}")),
        FaultKind::CapacityLoss { workers, .. } => {
            (C::CapacityLoss, format!("to {workers} workers"))
        }
        FaultKind::Pause { .. } => (C::Pause, String::new()),
        FaultKind::Partition { .. } => (C::Partition, String::new()),
        FaultKind::Loss { p, .. } => (C::Loss, format!("p={p}")),
        FaultKind::Spike { factor, .. } => (C::Spike, format!("x{factor}")),
        FaultKind::ZoneOutage { mode, .. } => (C::ZoneOutage, format!("({mode:?})")),
        FaultKind::Flush { .. } => (C::Flush, String::new()),
        FaultKind::RevokeTokens { .. } => (C::RevokeTokens, String::new()),
    };
    let target = f.kind.target();
    let kind = FaultLabel::new(class, &rest);
    FaultWindow {
        kind,
        target,
        start_s: f.start.as_secs_f64(),
        end_s: f.end.as_secs_f64(),
        incident: false,
    }
}

fn totals(
    offered: u64,
    succeeded: u64,
    degraded: u64,
    failed: Failed,
    in_flight_at_end: u64,
    counted_s: f64,
    latency_ms: Latency,
) -> Totals {
    Totals {
        offered,
        in_flight_at_end,
        succeeded,
        degraded,
        failed,
        availability: ratio(succeeded as f64, offered as f64),
        goodput_rps: succeeded as f64 / counted_s.max(1e-12),
        latency_ms,
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}
