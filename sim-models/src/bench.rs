//! Built-in scenarios for `simctl bench`: the engine measured through the real model.

use sim_core::SimDuration;
use sim_core::dist::Dist;

use crate::scenario::{
    CallPolicy, Client, Discipline, Load, QueueSpec, RunLimits, Scenario, Service,
};

/// M/M/1 at utilization 0.9 (lambda 900/s, mean service 1 ms), long enough to issue about
/// `requests` requests.
pub fn mm1(requests: u64) -> Scenario {
    let rate = 900.0;
    one_service(
        "bench-mm1-rho0.9",
        rate,
        requests,
        1,
        SimDuration::from_millis(1),
        None,
    )
}

/// About `in_flight` requests in flight at once, each with an armed client timeout that is
/// nearly always cancelled: arrivals at `in_flight`/s, 1 s mean service, twice as many
/// workers as needed (so nobody queues), 5 s timeout (fires for the e^-5 = 0.7% slowest).
pub fn in_flight(in_flight: u64, requests: u64) -> Scenario {
    let mut s = one_service(
        "bench-in-flight",
        in_flight as f64,
        requests,
        u32::try_from(in_flight.saturating_mul(2)).unwrap_or(u32::MAX),
        SimDuration::from_secs(1),
        Some(SimDuration::from_secs(5)),
    );
    s.limits.max_in_flight = in_flight.saturating_mul(10);
    s
}

/// Time-series windows in a benchmark run.
const BENCH_WINDOWS: u64 = 1000;

fn one_service(
    name: &str,
    rate_rps: f64,
    requests: u64,
    workers: u32,
    mean: SimDuration,
    timeout: Option<SimDuration>,
) -> Scenario {
    let horizon = SimDuration::from_secs_f64(requests as f64 / rate_rps);
    Scenario {
        name: name.into(),
        description: String::new(),
        seed: 1,
        horizon,
        warmup: SimDuration::ZERO,
        // A fixed number of windows, so that peak memory measures the engine and the model,
        // not the length of the time series (about 100 bytes per window, see README).
        window: SimDuration::from_nanos((horizon.as_nanos() / BENCH_WINDOWS).max(1_000_000_000)),
        limits: RunLimits {
            max_events: u64::MAX,
            ..RunLimits::default()
        },
        clients: vec![Client {
            name: "load".into(),
            target: "server".into(),
            endpoint: None,
            load: Load::Open {
                rate_rps,
                shape: Vec::new(),
            },
            slo: None,
            policy: CallPolicy {
                timeout,
                ..CallPolicy::default()
            },
            deadline: None,
            zone: None,
        }],
        services: vec![Service {
            name: "server".into(),
            workers,
            queue: QueueSpec::Unbounded,
            discipline: Discipline::Fifo,
            service_time: Dist::Exponential { mean },
            calls: Vec::new(),
            endpoints: Vec::new(),
            admission: Default::default(),
            honor_deadline: false,
            honor_cancellation: false,
            cancel_cost: SimDuration::ZERO,
            side_effect: false,
            error_rate: 0.0,
            replicas: 1,
            max_replicas: None,
            balance: Default::default(),
            ejection: None,
            health_check: None,
            bulkhead: None,
            idempotency: None,
            zones: Vec::new(),
            zone_aware: None,
        }],
        caches: Vec::new(),
        links: Vec::new(),
        default_link: Default::default(),
        cross_zone: None,
        faults: Vec::new(),
        incidents: Vec::new(),
        slo: None,
        rules: Vec::new(),
        brokers: Vec::new(),
        databases: Vec::new(),
        configs: Vec::new(),
        token_auths: Vec::new(),
        remediation: None,
    }
}
