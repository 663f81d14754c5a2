//! reports: results rendered for people and programs. Renders to strings and bytes in
//! memory; never runs a simulation and never touches the filesystem (`simctl` decides
//! where bytes go).
//!
//! - [`table`]: the human summary of a run;
//! - [`json`]: the machine summary, with DESIGN.md's metric names;
//! - [`compare`]: several runs side by side, one row each (plain text or markdown);
//! - [`sweep_table`]: a sweep's points with means and confidence intervals;
//! - [`run_charts`], [`compare_charts`]: charts as PNG bytes and SVG text, built on the
//!   generic [`xy_chart`]; [`check_png`] tells a drawn chart from a blank one;
//! - [`report_md`]: the markdown report, with plain-words changes between runs;
//! - [`experiment_table`], [`experiment_md`]: a chaos experiment's verdict and probes.
//! - [`coverage_table`], [`coverage_md`], [`coverage_effects_csv`], [`coverage_charts`]: an
//!   orthogonal-array coverage run: design, strength check, main effects and their plots;
//! - [`score_table`], [`score_md`], [`score_chart`]: reliability scores by scenario;
//! - [`openmetrics`]: a run's time series as OpenMetrics text, for Prometheus;
//! - [`chrome_trace`]: traced requests as Chrome trace-event JSON (Perfetto);
//! - [`events_jsonl`]: a run's event log, JSON lines in time order;
//! - [`topology_mermaid`]: a scenario's call graph as a Mermaid flowchart (in report.md);
//! - [`classify_table`]: the classifier's confusion matrix against generated incidents.

use std::fmt::Write;

mod sweep;
pub use sweep::{sweep_charts, sweep_report_md, sweep_table};

mod charts;
mod chrome_trace;
mod classify;
mod coverage;
mod events;
mod experiment;
mod learn;
mod openmetrics;
mod remediation;
mod report;
mod score;
mod spof;
#[cfg(test)]
mod testing;
mod topology;

pub use charts::{
    Chart, Line, PngCheck, Shade, XyChart, check_png, compare_charts, each_compare_chart,
    each_run_chart, run_charts, run_label, xy_chart,
};
pub use chrome_trace::chrome_trace;
pub use classify::classify_table;
pub use coverage::{
    coverage_charts, coverage_effects_csv, coverage_effects_md, coverage_md, coverage_table,
};
pub use events::{events_jsonl, utc};
pub use experiment::{experiment_md, experiment_table};
pub use learn::policy_table;
pub use openmetrics::openmetrics;
pub use remediation::{remediate_table, remediation_lines};
pub use report::{postmortem_md, report_md, report_md_with_topology};
pub use score::{score_chart, score_label, score_lines, score_md, score_table};
pub use spof::{spof_md, spof_table};
pub use topology::topology_mermaid;

use sim_models::RunResult;
use sim_models::metric::{MetricRef, millis as ms};
use sim_models::recovery::Verdict;

/// A run as pretty JSON (deterministic: same result, same bytes), ending in a newline.
pub fn json(result: &RunResult) -> String {
    let mut text = serde_json::to_string_pretty(result).expect("results always serialise");
    text.push('\n');
    text
}

/// The bytes of [`json`], written to `w` as they are made: a long run's JSON is larger than
/// its result, so it is never held whole in memory.
pub fn write_json(result: &RunResult, mut w: impl std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut w, result)?;
    w.write_all(b"\n")
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
        "requests  offered {}  succeeded {}  degraded {}  failed {} (timeout {}, rejected {}, error {}, circuit open {})  in flight at end {}",
        t.offered,
        t.succeeded,
        t.degraded,
        t.failed.total(),
        t.failed.timeout,
        t.failed.rejected,
        t.failed.error,
        t.failed.circuit_open,
        t.in_flight_at_end
    );
    let _ = writeln!(
        w,
        "          availability {:.4}  goodput {:.1} rps  retries {}  retry amplification {:.3} (peak {:.2})  wasted work {:.3}s  duplicate side effects {}",
        t.availability,
        t.goodput_rps,
        r.retries,
        r.retry_amplification,
        r.retry_amplification_peak,
        r.wasted_work_s,
        r.duplicate_side_effects
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
    let baseline = r
        .baseline_goodput_rps
        .map_or("n/a".to_string(), |b| format!("{b:.1} rps"));
    let _ = writeln!(w, "verdict   {}: {}", r.recovery_verdict, r.recovery_reason);
    if !r.faults.is_empty() {
        let _ = writeln!(
            w,
            "faults    {} scheduled; baseline goodput {baseline}",
            r.faults.len()
        );
        for f in &r.faults {
            let _ = writeln!(
                w,
                "          {:>8.1}s .. {:>8.1}s  {} on {}{}",
                f.start_s,
                f.end_s,
                f.kind,
                f.target,
                if f.incident { "  (incident)" } else { "" }
            );
        }
    }
    if !r.actions.is_empty() {
        let _ = writeln!(w, "actions   {} taken by rules", r.actions.len());
        for a in &r.actions {
            let _ = writeln!(
                w,
                "          {:>8.1}s .. {:>8.1}s  {} on {} (rule {}, decided at {:.1}s: {})",
                a.start_s, a.end_s, a.kind, a.target, a.rule, a.decided_s, a.cause
            );
        }
    }
    for b in &r.breakers {
        let opened = b.transitions.iter().filter(|t| t.2 == "Open").count();
        let _ = writeln!(
            w,
            "breaker   {} -> {}: {} transitions, opened {} times",
            b.caller,
            b.callee,
            b.transitions.len(),
            opened
        );
    }
    if let Some(a) = &r.alerts {
        for rule in &a.rules {
            let _ = writeln!(
                w,
                "alert     {} ({:.0}s/{:.0}s windows, {}x): fired {} times",
                rule.name,
                rule.long_window_s,
                rule.short_window_s,
                rule.burn_rate_threshold,
                rule.firings.len()
            );
        }
        for d in &r.detections {
            let when = d.time_to_detect_s.map_or("not detected".to_string(), |s| {
                format!("detected after {s:.1}s")
            });
            let _ = writeln!(
                w,
                "detect    fault #{} at {:.1}s: {when}",
                d.fault, d.start_s
            );
        }
        if let Some(note) = &a.note {
            let _ = writeln!(w, "          ({note})");
        }
    }
    let slo = slo_lines(r);
    if slo.is_empty() {
        let _ = writeln!(
            w,
            "slo       none set (an `slo` on the scenario or on a client states met or missed, and the error budget consumed)"
        );
    }
    for line in slo {
        let _ = writeln!(w, "slo       {line}");
    }
    if let Some(rem) = &r.remediation {
        for line in remediation_lines(rem) {
            let _ = writeln!(w, "remediate {line}");
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
    if !r.caches.is_empty() {
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "{:<12} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9} {:>8} {:>7} {:>12}",
            "cache",
            "lookups",
            "hits",
            "ratio",
            "fetches",
            "coalesced",
            "evicted",
            "expired",
            "flushes",
            "peak fetch/s"
        );
        for c in &r.caches {
            // The highest backend load of a window after the warm-up (which holds the cold
            // start), and when: the stampede after a flush.
            let peak = r
                .series
                .caches
                .iter()
                .find(|s| s.name == c.name)
                .and_then(|s| {
                    s.backend_rps
                        .iter()
                        .zip(&r.series.t_s)
                        .filter(|&(_, &t)| t > r.warmup_s)
                        .fold(None, |best: Option<(f64, f64)>, (&x, &t)| match best {
                            Some((b, _)) if b >= x => best,
                            _ => Some((x, t)),
                        })
                })
                .map_or("-".to_string(), |(x, t)| format!("{x:.0} @{t:.0}s"));
            let _ = writeln!(
                w,
                "{:<12} {:>9} {:>9} {:>6.3} {:>9} {:>9} {:>9} {:>8} {:>7} {:>12}",
                c.name,
                c.lookups,
                c.hits,
                c.hit_ratio,
                c.backend_fetches,
                c.coalesced,
                c.evictions,
                c.expirations,
                c.flushes,
                peak
            );
        }
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
    zone_table(w, r);
    broker_table(w, r);
    database_table(w, r);
    config_table(w, r);
    token_auth_table(w, r);
    let _ = writeln!(w);
    let _ = writeln!(w, "replay    {}", r.replay);
    out
}

/// One line per SLO of the run (the scenario's, then each route's): met or missed, the
/// SLI, the error budget consumed, and the alerts raised.
pub fn slo_lines(r: &RunResult) -> Vec<String> {
    sim_models::slo_status::slo_status(r)
        .iter()
        .map(|s| {
            let sli = s.sli.map_or("n/a".to_string(), |x| format!("{x:.5}"));
            let alerts = if s.alerts.is_empty() {
                "no alerts".to_string()
            } else {
                let list: Vec<String> = s
                    .alerts
                    .iter()
                    .map(|(name, n)| format!("{name} x{n}"))
                    .collect();
                format!("alerts {}", list.join(", "))
            };
            format!(
                "{} {} objective {}: {} (SLI {sli}), error budget consumed {:.0}% over the run ({:.2}% of a {} period's), {alerts}",
                s.route,
                if s.route == "all" { "requests" } else { "route" },
                s.objective,
                s.verdict(),
                s.budget_consumed_pct,
                s.period_budget_consumed_pct,
                period(s.period_s),
            )
        })
        .collect()
}

/// An SLO period in its largest whole unit: `30d`, `12h`, `90m`, `45s`.
fn period(secs: f64) -> String {
    for (unit, size) in [("d", 86_400.0), ("h", 3_600.0), ("m", 60.0)] {
        if secs >= size && (secs / size).fract() == 0.0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// One row per consumer group of each broker (nothing without brokers). Lag is the age of
/// the oldest waiting message: its peak over the run.
fn broker_table(w: &mut String, r: &RunResult) {
    if r.brokers.is_empty() {
        return;
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "{:<12} {:<12} {:>9} {:>9} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "broker",
        "group",
        "published",
        "acked",
        "backlog",
        "max back.",
        "max lag",
        "redeliv.",
        "dlq",
        "dropped",
        "dupl.",
        "p99 ack"
    );
    for b in &r.brokers {
        for g in &b.groups {
            let max_backlog = g.series.backlog.iter().max().copied().unwrap_or(0);
            let max_lag = g.series.lag_s.iter().copied().fold(0.0, f64::max);
            let _ = writeln!(
                w,
                "{:<12} {:<12} {:>9} {:>9} {:>8} {:>9} {:>7.1}s {:>8} {:>8} {:>8} {:>9} {:>8}s",
                b.name,
                g.service,
                g.published,
                g.acked,
                g.backlog_at_end,
                max_backlog,
                max_lag,
                g.redeliveries,
                g.dead_lettered,
                g.dropped,
                g.duplicates_processed,
                format!("{:.1}", g.publish_to_ack_ms.p99 / 1e3)
            );
        }
        if b.rejected + b.refused > 0 {
            let _ = writeln!(
                w,
                "{:<12} publishes rejected (queue full) {}, refused (broker down) {}",
                b.name, b.rejected, b.refused
            );
        }
    }
}

/// One row per database, then a line per failover (nothing without databases).
fn database_table(w: &mut String, r: &RunResult) {
    if r.databases.is_empty() {
        return;
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "{:<10} {:<16} {:>8} {:>8} {:>7} {:>6} {:>7} {:>6} {:>8} {:>9} {:>9}",
        "database",
        "replication",
        "writes",
        "reads",
        "failed",
        "lost",
        "stale",
        "ryw",
        "lag ms",
        "write p99",
        "failover"
    );
    for d in &r.databases {
        let _ = writeln!(
            w,
            "{:<10} {:<16} {:>8} {:>8} {:>7} {:>6} {:>7} {:>6} {:>8} {:>9} {:>9}",
            d.name,
            d.replication,
            d.writes,
            d.reads,
            d.failed_writes + d.failed_reads,
            d.lost_writes,
            d.stale_reads,
            d.ryw_violations,
            ms(d.replication_lag_ms),
            ms(d.write_latency_ms.p99),
            d.failover_s.map_or("-".into(), |s| format!("{s:.1}s"))
        );
        for f in &d.failovers {
            let _ = writeln!(
                w,
                "{:<10} failover {} -> {}: crash {:.1}s, detected {:.1}s, promoted {:.1}s, {} acknowledged writes lost",
                d.name, f.from, f.to, f.crashed_s, f.detected_s, f.promoted_s, f.lost_writes
            );
        }
    }
}

/// One row per token auth (nothing without them): its refreshes, failures, and the peak of
/// refreshes in one window over their mean per window (an expiry storm is a multiple).
fn token_auth_table(w: &mut String, r: &RunResult) {
    if r.token_auths.is_empty() {
        return;
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "{:<12} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9} {:>16}",
        "token auth",
        "requests",
        "refreshes",
        "expired",
        "ahead",
        "failed",
        "introsp.",
        "auth fail",
        "mean/win",
        "peak/win (ratio)"
    );
    for t in &r.token_auths {
        let peak = match t.auth_peak_ratio {
            Some(x) => format!("{} @{:.0}s ({x:.2}x)", t.refresh_peak, t.refresh_peak_at_s),
            None => "-".to_string(),
        };
        let _ = writeln!(
            w,
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9.1} {:>16}",
            t.name,
            t.requests,
            t.refreshes,
            t.refreshes_on_expiry,
            t.refreshes_ahead,
            t.refresh_failures,
            t.introspections,
            t.failed_by_auth,
            t.refresh_mean,
            peak
        );
    }
}

/// One row per push of each config (nothing without configs): when, how far it got, the
/// most instances on it, and its rollback; then the config's blast radius.
fn config_table(w: &mut String, r: &RunResult) {
    if r.configs.is_empty() {
        return;
    }
    let secs = |t: Option<f64>| t.map_or("-".to_string(), |t| format!("{t:.1}s"));
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "{:<12} {:>7} {:>8} {:<4} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "config",
        "version",
        "at",
        "bad",
        "steps",
        "max inst.",
        "decided",
        "rollback",
        "to rollb.",
        "to clean"
    );
    for c in &r.configs {
        for p in &c.pushes {
            let _ = writeln!(
                w,
                "{:<12} {:>7} {:>7.1}s {:<4} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10}",
                c.name,
                p.version,
                p.at_s,
                if p.bad { "yes" } else { "no" },
                p.steps_s.len(),
                format!("{}/{}", p.max_instances, c.instances),
                secs(p.rollback_decided_s),
                secs(p.rollback_s),
                secs(p.time_to_rollback_s),
                secs(p.time_to_clean_s)
            );
        }
        let _ = writeln!(
            w,
            "{:<12} blast radius {:.0}% of instances; {} attempts failed by config, {:.1}% of {} while a bad version was held",
            c.name,
            c.blast_radius * 100.0,
            c.failed_by_config,
            c.affected_share * 100.0,
            c.attempts_exposed
        );
    }
}

/// Several runs side by side: one row per metric, one column per run (labelled by its file
/// stem, e.g. `v0.6`), as aligned plain text or a markdown table. The headline rows, then
/// `extra` metrics from the registry (`--metric services.db.utilization`).
pub fn compare(runs: &[RunResult], markdown: bool, extra: &[MetricRef]) -> String {
    let metric = |name: &str| MetricRef::parse(name).expect("a registry name");
    let headline = [
        ("availability", metric("availability")),
        ("goodput rps", metric("goodput_rps")),
        ("p99 ms", metric("p99_ms")),
        ("peak retry ampl.", metric("retry_amplification_peak")),
        ("wasted work s", metric("wasted_work_s")),
        ("duplicates", metric("duplicate_side_effects")),
    ];
    let cell = |m: &MetricRef, r: &RunResult| m.read(r).map_or("-".into(), |x| m.unit().format(x));
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |name: String, cells: Vec<String>| {
        let mut row = vec![name];
        row.extend(cells);
        rows.push(row);
    };
    for (label, m) in &headline {
        row(label.to_string(), runs.iter().map(|r| cell(m, r)).collect());
    }
    // The deepest queue of any service, and the recovery in words where it has no time.
    let max_queue = |r: &RunResult| {
        let max = r.services.iter().map(|s| s.queue_depth_max).max();
        max.unwrap_or(0).to_string()
    };
    row("max queue".into(), runs.iter().map(max_queue).collect());
    let recovery = |r: &RunResult| match (r.recovery_s, r.recovery_verdict) {
        (Some(s), _) => format!("{s:.1} s"),
        (None, Verdict::Steady) => "no faults".to_string(),
        (None, Verdict::CollapsedWithoutFault) => "collapsed".to_string(),
        (None, v) => v.to_string(),
    };
    row("recovery".into(), runs.iter().map(recovery).collect());
    for m in extra {
        row(m.name(), runs.iter().map(|r| cell(m, r)).collect());
    }
    // One row per SLO any run has (the scenario's `all`, then routes, by first appearance):
    // met or MISSED, with the error budget the run consumed.
    let slos: Vec<Vec<sim_models::slo_status::SloStatus>> = runs
        .iter()
        .map(sim_models::slo_status::slo_status)
        .collect();
    let mut routes: Vec<&str> = Vec::new();
    for s in slos.iter().flatten() {
        if !routes.contains(&s.route.as_str()) {
            routes.push(&s.route);
        }
    }
    for route in routes {
        let cells = slos.iter().map(|list| {
            list.iter()
                .find(|s| s.route == route)
                .map_or("-".to_string(), |s| {
                    format!("{} {:.0}%", s.verdict(), s.budget_consumed_pct)
                })
        });
        row(format!("SLO {route} (budget)"), cells.collect());
    }
    row(
        "seed".into(),
        runs.iter().map(|r| r.seed.to_string()).collect(),
    );
    let mut header = vec!["metric".to_string()];
    header.extend(runs.iter().map(run_label));
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        if markdown {
            format!("| {} |\n", padded.join(" | "))
        } else {
            format!("{}\n", padded.join("  "))
        }
    };
    let mut out = line(&header);
    if markdown {
        let rule: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    "-".repeat(*w)
                } else {
                    format!("{}:", "-".repeat(w - 1))
                }
            })
            .collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
    }
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}
/// Each zone's instances and its clients' requests, where the scenario has zones.
fn zone_table(w: &mut String, r: &RunResult) {
    if r.zones.is_empty() {
        return;
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "{:<12} {:>9} {:>7} {:>10} {:>10} {:>10} {:>12}",
        "zone", "instances", "clients", "offered", "succeeded", "not issued", "availability"
    );
    for z in &r.zones {
        let availability = if z.clients == 0 {
            "-".to_string()
        } else {
            format!("{:.4}", z.availability)
        };
        let _ = writeln!(
            w,
            "{:<12} {:>9} {:>7} {:>10} {:>10} {:>10} {:>12}",
            z.zone, z.instances, z.clients, z.offered, z.succeeded, z.not_issued, availability
        );
    }
}
