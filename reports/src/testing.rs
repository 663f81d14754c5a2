//! Synthetic results for the tests: shaped like a ladder run (a fault, a latency spike, a
//! queue that builds and drains) without running a simulation.

use sim_models::result::{
    FaultWindow, Latency, RunResult, Series, ServiceResult, ServiceSeries, Totals,
};

/// A run of `windows` one-second windows over a call chain `api -> db`; `bad` makes it
/// retry-storm and never recover.
pub(crate) fn run(file: &str, windows: usize, bad: bool) -> RunResult {
    let t_s: Vec<f64> = (1..=windows).map(|i| i as f64).collect();
    // Fault from 40% to 50% of the horizon.
    let (f0, f1) = (windows as f64 * 0.4, windows as f64 * 0.5);
    let hot = |t: f64| t > f0 && (bad || t <= f1 + 5.0);
    let offered: Vec<u64> = t_s.iter().map(|_| 100).collect();
    let failed: Vec<u64> = t_s.iter().map(|&t| if hot(t) { 60 } else { 1 }).collect();
    let succeeded: Vec<u64> = failed.iter().map(|f| 100 - f).collect();
    let p50: Vec<f64> = t_s
        .iter()
        .map(|&t| if hot(t) { 800.0 } else { 4.0 + (t % 7.0) * 0.1 })
        .collect();
    let amp: Vec<f64> = t_s
        .iter()
        .map(|&t| if hot(t) { 3.4 } else { 1.0 })
        .collect();
    let queue = |scale: f64| -> Vec<f64> {
        t_s.iter()
            .map(|&t| if hot(t) { 3000.0 * scale } else { 0.0 })
            .collect()
    };
    let service_series = |name: &str, scale: f64| ServiceSeries {
        name: name.to_string(),
        attempts: offered.clone(),
        queue_depth_mean: queue(scale),
        queue_depth_max: queue(scale).iter().map(|&q| q as u64).collect(),
        utilization: t_s.iter().map(|_| 0.5).collect(),
        ..ServiceSeries::default()
    };
    let cdf: Vec<(f64, f64)> = (0..90)
        .map(|i| f64::from(i) / 100.0)
        .chain((20..=100).map(|i| 1.0 - 10f64.powf(-f64::from(i) / 20.0)))
        .map(|q| (q, 4.0 / (1.0 - q).powf(if bad { 0.9 } else { 0.4 })))
        .collect();
    let total: u64 = offered.iter().sum();
    let fails: u64 = failed.iter().sum();
    let latency = Latency {
        count: total - fails,
        mean: 30.0,
        p50: 4.2,
        p90: 9.0,
        p99: if bad { 900.0 } else { 40.0 },
        p999: 1200.0,
        max: 3000.0,
    };
    let service = |name: &str| ServiceResult {
        name: name.to_string(),
        zone: None,
        workers: 8,
        attempts: total,
        rejected: 0,
        refused: 0,
        dropped: 0,
        cancelled: 0,
        errors: 0,
        completed: total,
        failed: 0,
        retry_amplification: 1.0,
        duplicate_side_effects: if bad { 67_319 } else { 0 },
        deduplicated: 0,
        wasted_work_s: 0.0,
        waited_fraction: 0.1,
        wait_mean_ms: 1.0,
        latency_ms: latency.clone(),
        utilization: 0.5,
        queue_depth_mean: 1.0,
        queue_depth_max: if bad { 3000 } else { 40 },
        in_flight_at_end: 0,
        in_flight_mean: 1.0,
        in_flight_max: 10,
        arrival_rps: 100.0,
    };
    let services = vec![service("api"), service("db")];
    let service_series = vec![service_series("api", 0.01), service_series("db", 1.0)];
    RunResult {
        scenario: format!("{file}-synthetic"),
        seed: 42,
        scenario_hash: "0123456789abcdef".to_string(),
        stopped: sim_models::result::Stopped::new(sim_models::result::StopKind::Horizon, ""),
        simulated_s: windows as f64,
        warmup_s: 0.0,
        events: 1000,
        trace_digest: "feed".to_string(),
        replay: format!("simctl run scenarios/{file}.ron --seed 42 (scenario 0123456789abcdef)"),
        totals: Totals {
            offered: total,
            succeeded: total - fails,
            degraded: 0,
            failed: sim_models::result::Failed {
                timeout: fails,
                ..Default::default()
            },
            in_flight_at_end: 0,
            availability: (total - fails) as f64 / total.max(1) as f64,
            goodput_rps: (total - fails) as f64 / windows.max(1) as f64,
            latency_ms: latency,
        },
        retry_amplification: if bad { 1.8 } else { 1.05 },
        wasted_work_s: if bad { 250.0 } else { 1.0 },
        duplicate_side_effects: if bad { 67_319 } else { 0 },
        retries: 10,
        hedges: 0,
        backpressure_rejections: 0,
        retry_amplification_peak: if bad { 3.39 } else { 1.09 },
        faults: vec![FaultWindow {
            kind: sim_models::result::FaultLabel::new(
                sim_models::result::FaultClass::Slowdown,
                "x100",
            ),
            target: "db".to_string(),
            start_s: f0,
            end_s: f1,
            incident: false,
        }],
        actions: Vec::new(),
        breakers: Vec::new(),
        ejections: Vec::new(),
        alerts: None,
        detections: Vec::new(),
        baseline_goodput_rps: Some(99.0),
        recovery_s: (!bad).then_some(5.0),
        recovery_smoothing_s: Some(10.0),
        metastable: bad,
        recovery_verdict: if bad {
            sim_models::recovery::Verdict::Metastable
        } else {
            sim_models::recovery::Verdict::Recovered
        },
        recovery_reason: "synthetic".to_string(),
        collapsed_at_s: None,
        clients: Vec::new(),
        services,
        zones: Vec::new(),
        caches: Vec::new(),
        brokers: Vec::new(),
        databases: Vec::new(),
        configs: Vec::new(),
        token_auths: Vec::new(),
        incident_log: Vec::new(),
        remediation: None,
        series: Series {
            window_s: 1.0,
            goodput_rps: succeeded.iter().map(|&s| s as f64).collect(),
            latency_p99_ms: p50.iter().map(|v| v * 5.0).collect(),
            latency_p999_ms: p50.iter().map(|v| v * 20.0).collect(),
            latency_p50_ms: p50,
            attempts: offered
                .iter()
                .zip(&amp)
                .map(|(&o, a)| (o as f64 * a) as u64)
                .collect(),
            retry_amplification: amp,
            faults_active: t_s.iter().map(|&t| u32::from(t > f0 && t <= f1)).collect(),
            slow: t_s.iter().map(|_| 0).collect(),
            degraded: t_s.iter().map(|_| 0).collect(),
            t_s,
            offered,
            succeeded,
            failed_by_reason: sim_models::result::FailedSeries {
                timeout: failed.clone(),
                rejected: vec![0; failed.len()],
                error: vec![0; failed.len()],
                circuit_open: vec![0; failed.len()],
            },
            failed,
            clients: Vec::new(),
            services: service_series,
            caches: Vec::new(),
            latency_cdf: if windows == 0 { Vec::new() } else { cdf },
        }
        .into(),
    }
}
