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
        "requests  offered {}  succeeded {}  failed {} (timeout {}, rejected {})  in flight at end {}",
        t.offered,
        t.succeeded,
        t.failed.total(),
        t.failed.timeout,
        t.failed.rejected,
        t.in_flight_at_end
    );
    let _ = writeln!(
        w,
        "          availability {:.4}  goodput {:.1} rps  retry amplification {:.3}  wasted work {:.3}s",
        t.availability, t.goodput_rps, t.retry_amplification, t.wasted_work_s
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
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "{:<16} {:>7} {:>10} {:>9} {:>7} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "service",
        "workers",
        "attempts",
        "rejected",
        "util",
        "queue avg",
        "queue max",
        "waited",
        "wait ms",
        "p99 ms"
    );
    for s in &r.services {
        let _ = writeln!(
            w,
            "{:<16} {:>7} {:>10} {:>9} {:>7.3} {:>9.2} {:>9} {:>9.3} {:>10} {:>10}",
            s.name,
            s.workers,
            s.attempts,
            s.rejected,
            s.utilization,
            s.queue_depth_mean,
            s.queue_depth_max,
            s.waited_fraction,
            ms(s.wait_mean_ms),
            ms(s.latency_ms.p99)
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
