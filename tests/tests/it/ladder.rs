//! The version ladder (scenarios/v*.ron): a snapshot of each summary at seed 42, and the
//! lesson each version must keep teaching, as assertions on the numbers.
//!
//! A changed snapshot is a behaviour change: explain it in the commit message.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use sim_models::RunResult;

use crate::support::{load, scenario_path};

const SEED: u64 = 42;

/// Every ladder file's result at seed 42, computed once (in parallel) for all tests here.
fn ladder() -> &'static BTreeMap<String, RunResult> {
    static RESULTS: OnceLock<BTreeMap<String, RunResult>> = OnceLock::new();
    RESULTS.get_or_init(|| {
        let dir = scenario_path("");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("scenarios/")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|f| f.starts_with('v') && f.ends_with(".ron"))
            .collect();
        files.sort();
        std::thread::scope(|scope| {
            let runs: Vec<_> = files
                .iter()
                .map(|f| {
                    scope.spawn(move || {
                        let text = std::fs::read_to_string(scenario_path(f)).unwrap();
                        let name = format!("scenarios/{f}");
                        (f.clone(), sim_models::run(&load(&name, &text), SEED, &name))
                    })
                })
                .collect();
            runs.into_iter()
                .map(|h| h.join().expect("ladder run"))
                .collect()
        })
    })
}

fn version(v: &str) -> &'static RunResult {
    ladder()
        .get(&format!("v{v}.ron"))
        .unwrap_or_else(|| panic!("scenarios/v{v}.ron missing"))
}

/// The summary without the time series, floats rounded to 6 significant digits so that the
/// snapshot does not depend on the last bits of libm.
fn summary(r: &RunResult) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    v.as_object_mut().unwrap().remove("series");
    round(&mut v);
    v
}

fn round(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap();
            if x != 0.0 && x.is_finite() {
                let digits = 5 - x.abs().log10().floor() as i32;
                let scale = 10f64.powi(digits);
                *v = serde_json::json!((x * scale).round() / scale);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(round),
        serde_json::Value::Object(map) => map.values_mut().for_each(round),
        _ => {}
    }
}

#[test]
fn ladder_snapshots() {
    assert!(ladder().len() >= 4, "ladder files: {:?}", ladder().keys());
    for (file, result) in ladder() {
        insta::assert_json_snapshot!(format!("ladder-{file}"), summary(result));
    }
}

/// Each version keeps teaching its lesson (DESIGN.md's ladder table). Numbers in messages
/// replay with `simctl run scenarios/vX.ron --seed 42`.
#[test]
fn each_version_shows_its_lesson() {
    let (v1, v2, v3, v4) = (
        version("0.1"),
        version("0.2"),
        version("0.3"),
        version("0.4"),
    );
    for r in [v1, v2, v3, v4] {
        assert_eq!(r.stopped, "horizon", "{}: {}", r.scenario, r.replay);
    }

    // v0.1: collapse under the spike, retries sustain it, no recovery.
    assert!(
        v1.metastable && v1.recovery_s.is_none(),
        "v0.1 recovered: {:?}",
        v1.recovery_s
    );
    assert!(
        v1.retry_amplification_peak >= 2.0,
        "v0.1 peak amplification {}",
        v1.retry_amplification_peak
    );
    assert!(
        v1.totals.goodput_rps < 0.5 * v1.baseline_goodput_rps.unwrap(),
        "v0.1 goodput {}",
        v1.totals.goodput_rps
    );

    // v0.2: bounded queues turn overload into fast rejections; the system recovers.
    assert!(
        !v2.metastable && v2.recovery_s.is_some(),
        "v0.2 did not recover"
    );
    assert!(v2.totals.failed.rejected > 0 && v1.totals.failed.rejected == 0);
    let max_queue = |r: &RunResult| r.services.iter().map(|s| s.queue_depth_max).max().unwrap();
    assert!(
        max_queue(v2) <= 64 && max_queue(v1) > 10_000,
        "queues: v0.1 {} v0.2 {}",
        max_queue(v1),
        max_queue(v2)
    );
    assert!(v2.totals.goodput_rps > 3.0 * v1.totals.goodput_rps);

    // v0.3: bounded concurrency end to end: lower tail latency, less amplification at peak.
    assert!(
        v3.totals.latency_ms.p99 < 0.9 * v2.totals.latency_ms.p99,
        "p99 v0.2 {} v0.3 {}",
        v2.totals.latency_ms.p99,
        v3.totals.latency_ms.p99
    );
    assert!(v3.retry_amplification_peak < v2.retry_amplification_peak);
    assert!(!v3.metastable);

    // v0.4: timeouts and deadline propagation: far less work done for nobody.
    assert!(
        v4.wasted_work_s < 0.5 * v3.wasted_work_s,
        "wasted v0.3 {} v0.4 {}",
        v3.wasted_work_s,
        v4.wasted_work_s
    );
    assert!(v4.wasted_work_s < 0.01 * v1.wasted_work_s);
    assert!(!v4.metastable && v4.recovery_s.is_some());
    assert!(
        v4.services.iter().any(|s| s.dropped > 0),
        "v0.4 dropped no expired work"
    );
}
