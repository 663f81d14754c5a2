//! The version ladder (scenarios/v*.ron): a snapshot of each summary at seed 42, and the
//! lesson each version must keep teaching, as assertions on the numbers.
//!
//! A changed snapshot is a behaviour change: explain it in the commit message.

use sim_models::result::StopKind;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use sim_models::RunResult;

use crate::support::{load, scenario_path, summary};

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
        assert_eq!(
            r.stopped.kind,
            StopKind::Horizon,
            "{}: {}",
            r.scenario,
            r.replay
        );
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

    // v0.3: bounded concurrency end to end: callers fail fast instead of parking workers,
    // and the tail latency falls.
    assert!(v3.backpressure_rejections > 0 && v2.backpressure_rejections == 0);
    assert!(
        v3.totals.latency_ms.p99 < 0.9 * v2.totals.latency_ms.p99,
        "p99 v0.2 {} v0.3 {}",
        v2.totals.latency_ms.p99,
        v3.totals.latency_ms.p99
    );
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

    // v0.5: idempotency keys: retries stop repeating the payment charge.
    let (v5, v6, v7, v8, v10) = (
        version("0.5"),
        version("0.6"),
        version("0.7"),
        version("0.8"),
        version("1.0"),
    );
    assert!(
        v4.duplicate_side_effects > 1000,
        "v0.4 duplicates {}",
        v4.duplicate_side_effects
    );
    assert_eq!(v5.duplicate_side_effects, 0, "v0.5 charged twice");
    assert!(
        v5.services.iter().any(|s| s.deduplicated > 0),
        "v0.5 answered nothing from its records"
    );

    // v0.6: bounded retries with a budget cap amplification near 1.1 during the incidents.
    assert!(
        v6.retry_amplification_peak <= 1.15,
        "v0.6 peak amplification {}",
        v6.retry_amplification_peak
    );
    assert!(
        v5.retry_amplification_peak > 2.0,
        "v0.5 peak amplification {}",
        v5.retry_amplification_peak
    );

    // v0.7: the breaker contains the slow payment's blast radius: browse, which never calls
    // payment, keeps its goodput, and checkout fails fast.
    let browse = |r: &RunResult, from: usize, to: usize| {
        let c = r
            .series
            .clients
            .iter()
            .find(|c| c.name == "browsers")
            .expect("browsers");
        c.succeeded[from..to].iter().sum::<u64>() as f64 / (to - from) as f64
    };
    let (baseline, during) = ((60, 120), (482, 510)); // payment is slow in [480 s, 510 s)
    let kept = |r: &RunResult| browse(r, during.0, during.1) / browse(r, baseline.0, baseline.1);
    assert!(
        kept(v7) >= 0.97,
        "v0.7 browse kept {:.3} of its goodput",
        kept(v7)
    );
    assert!(
        kept(v7) > kept(v6) && kept(v4) < 0.8,
        "browse kept: v0.4 {:.3} v0.6 {:.3} v0.7 {:.3}",
        kept(v4),
        kept(v6),
        kept(v7)
    );
    assert!(
        v7.breakers
            .iter()
            .any(|b| b.callee == "payment" && !b.transitions.is_empty())
    );
    assert!(v7.totals.latency_ms.p99 < 0.5 * v6.totals.latency_ms.p99);

    // v0.8: every fault is detected by a page, within a few seconds.
    assert_eq!(v8.detections.len(), v8.faults.len());
    for d in &v8.detections {
        let ttd = d
            .time_to_detect_s
            .unwrap_or_else(|| panic!("fault {} not detected", d.fault));
        assert!(ttd <= 5.0, "fault {} detected after {ttd} s", d.fault);
    }

    // v1.0: everything composed: no duplicates, bounded p99, recovers within seconds, and
    // goodput during the spike near what the system can serve.
    assert!(!v10.metastable && v10.duplicate_side_effects == 0);
    assert!(
        v10.recovery_s.is_some_and(|r| r <= 5.0),
        "v1.0 recovery {:?}",
        v10.recovery_s
    );
    assert!(
        v10.totals.latency_ms.p99 < 100.0,
        "v1.0 p99 {}",
        v10.totals.latency_ms.p99
    );
    let spike = |r: &RunResult| r.series.goodput_rps[122..150].iter().sum::<f64>() / 28.0;
    assert!(
        spike(v10) >= 0.95 * spike(v8),
        "spike goodput v0.8 {} v1.0 {}",
        spike(v8),
        spike(v10)
    );
}

/// Every version keeps its books exactly: per client and in total, offered = succeeded +
/// degraded + failed + in flight at the end, and per service, attempts = the sum of their
/// fates (`crate::model::assert_conserved`).
#[test]
fn accounting_identities_hold_on_every_version() {
    for r in ladder().values() {
        crate::model::assert_conserved(r);
    }
    // The ladder ends in overload in v0.1: the identities are not trivially 0 = 0 there.
    let v1 = version("0.1");
    assert!(v1.totals.in_flight_at_end > 0);
    assert!(v1.services.iter().any(|s| s.in_flight_at_end > 0));
}

/// The postmortem of v0.6 (issue 14): one incident per fault, whose numbers are the run's:
/// its failed and offered requests are the series' sums over the incident's span, and
/// agree with the per-route counts, accumulated apart; every fault is in a timeline.
#[test]
fn the_v06_postmortem_is_read_from_its_run() {
    let r = version("0.6");
    let incidents = sim_models::postmortem::postmortem(r);
    assert_eq!(incidents.len(), r.faults.len());
    let s = &r.series;
    let within = |i: &sim_models::postmortem::Incident| -> Vec<usize> {
        (0..s.t_s.len())
            .filter(|&k| s.t_s[k] - s.window_s >= i.from_s - 1e-9 && s.t_s[k] <= i.to_s + 1e-9)
            .collect()
    };
    for (inc, f) in incidents.iter().zip(&r.faults) {
        let ix = within(inc);
        assert_eq!(inc.from_s, f.start_s);
        assert_eq!(inc.to_s, f.end_s + 60.0);
        assert_eq!(inc.failed, ix.iter().map(|&k| s.failed[k]).sum::<u64>());
        assert_eq!(inc.offered, ix.iter().map(|&k| s.offered[k]).sum::<u64>());
        // No client SLO in v0.6: a route's bad requests are its failed and degraded ones,
        // so the routes' counts add up to the system's.
        let routes: u64 = inc.routes_affected.iter().map(|(_, n)| n).sum();
        assert_eq!(routes, inc.failed + inc.degraded, "{inc:?}");
        assert!(
            inc.failed > 1000,
            "each ladder fault fails requests in v0.6: {inc:?}"
        );
        assert_eq!(
            inc.timeline[0],
            (
                f.start_s,
                format!("fault starts: {} on {}", f.kind, f.target)
            )
        );
        assert!(
            inc.timeline
                .iter()
                .any(|(t, what)| *t == f.end_s && what == "fault ends")
        );
        // No SLO in v0.6: no budget to burn, and the action items say to add one.
        assert_eq!(inc.budget_burned_pct, None);
        assert!(inc.action_items.iter().any(|a| a.starts_with("add an SLO")));
    }
    // v0.6 recovers: the last incident's timeline says when, from the run's recovery_s.
    let back = r.faults.last().unwrap().end_s + r.recovery_s.expect("v0.6 recovers");
    assert!(
        incidents
            .last()
            .unwrap()
            .timeline
            .iter()
            .any(|(t, w)| *t == back && w.starts_with("goodput back"))
    );
    // The report of the run carries it.
    let md = reports::report_md(std::slice::from_ref(r), &[]);
    assert!(
        md.contains("## Postmortem")
            && md.contains("### Incident 2: slowdown x100 on db (360.0 s to 450.0 s)"),
        "{md}"
    );
}
