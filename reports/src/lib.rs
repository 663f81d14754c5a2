//! reports: results rendered for people and programs. Renders to strings; never runs a
//! simulation and never touches the filesystem (`simctl` decides where bytes go).
//!
//! - [`table`]: the human summary of a run;
//! - [`json`]: the machine summary, with DESIGN.md's metric names.

use std::fmt::Write;

use sim_models::RunResult;

/// A run as pretty JSON (deterministic: same result, same bytes), ending in a newline.
pub fn json(result: &RunResult) -> String {
    let mut text = serde_json::to_string_pretty(result).expect("results always serialise");
    text.push('\n');
    text
}

/// A run as a human-readable table.
pub fn table(r: &RunResult) -> String {
    let t = &r.totals;
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "scenario  {}   seed {}   hash {}",
        r.scenario, r.seed, r.scenario_hash
    );
    let _ = writeln!(
        w,
        "run       {:.3}s virtual (warm-up {:.3}s not counted), {} events, stopped: {}",
        r.simulated_s, r.warmup_s, r.events, r.stopped
    );
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "requests  offered {}  succeeded {}  failed {} (timeout {}, rejected {}, error {})  in flight at end {}",
        t.offered,
        t.succeeded,
        t.failed.total(),
        t.failed.timeout,
        t.failed.rejected,
        t.failed.error,
        t.in_flight_at_end
    );
    let _ = writeln!(
        w,
        "          availability {:.4}  goodput {:.1} rps  retries {}  retry amplification {:.3} (peak {:.2})  wasted work {:.3}s",
        t.availability,
        t.goodput_rps,
        r.retries,
        r.retry_amplification,
        r.retry_amplification_peak,
        r.wasted_work_s
    );
    let l = &t.latency_ms;
    let _ = writeln!(
        w,
        "latency   mean {}  p50 {}  p90 {}  p99 {}  p999 {}  max {} (ms, successful requests)",
        ms(l.mean),
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.p999),
        ms(l.max)
    );
    if !r.faults.is_empty() {
        let recovery = match (r.recovery_s, r.metastable) {
            (Some(s), _) => format!("recovered {s:.1}s after the last fault"),
            (None, true) => "did NOT recover within the horizon (metastable)".to_string(),
            (None, false) => "recovery undetermined".to_string(),
        };
        let baseline = r
            .baseline_goodput_rps
            .map_or("n/a".to_string(), |b| format!("{b:.1} rps"));
        let _ = writeln!(
            w,
            "faults    {} scheduled; baseline goodput {baseline}; {recovery}",
            r.faults.len()
        );
        for f in &r.faults {
            let _ = writeln!(
                w,
                "          {:>8.1}s .. {:>8.1}s  {} on {}",
                f.start_s, f.end_s, f.kind, f.target
            );
        }
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "{:<12} {:>7} {:>9} {:>8} {:>8} {:>8} {:>6} {:>6} {:>8} {:>7} {:>8} {:>8} {:>9}",
        "service",
        "workers",
        "attempts",
        "rejected",
        "dropped",
        "errors",
        "ampl",
        "util",
        "queue",
        "q max",
        "wait ms",
        "p99 ms",
        "wasted s"
    );
    for s in &r.services {
        let _ = writeln!(
            w,
            "{:<12} {:>7} {:>9} {:>8} {:>8} {:>8} {:>6.2} {:>6.3} {:>8.2} {:>7} {:>8} {:>8} {:>9.2}",
            s.name,
            s.workers,
            s.attempts,
            s.rejected,
            s.dropped,
            s.errors + s.refused,
            s.retry_amplification,
            s.utilization,
            s.queue_depth_mean,
            s.queue_depth_max,
            ms(s.wait_mean_ms),
            ms(s.latency_ms.p99),
            s.wasted_work_s
        );
    }
    if r.clients.len() > 1 {
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "{:<16} {:<16} {:>10} {:>10} {:>8} {:>10} {:>10}",
            "client", "target", "offered", "succeeded", "failed", "mean ms", "p99 ms"
        );
        for c in &r.clients {
            let ct = &c.totals;
            let _ = writeln!(
                w,
                "{:<16} {:<16} {:>10} {:>10} {:>8} {:>10} {:>10}",
                c.name,
                c.target,
                ct.offered,
                ct.succeeded,
                ct.failed.total(),
                ms(ct.latency_ms.mean),
                ms(ct.latency_ms.p99)
            );
        }
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "replay    {}", r.replay);
    out
}

/// Milliseconds with precision that suits their size.
fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.4}")
    }
}
