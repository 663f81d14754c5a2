//! `report.md`: what was run, the headline numbers, what changed from one run to the next
//! in plain words, and the charts.

use std::fmt::Write;

use sim_models::RunResult;

use crate::charts::{Chart, number, run_label};

/// A relative change smaller than this is noise for a headline sentence.
const MATERIAL: f64 = 0.10;

/// The markdown report of `runs` (in the order given) with `charts` embedded as
/// `![title](name.png)`, next to the report. Deterministic: same input, same text.
pub fn report_md(runs: &[RunResult], charts: &[Chart]) -> String {
    report_md_with_topology(runs, charts, &[])
}

/// [`report_md`] with a "Topology" section: the call graph of each distinct scenario in
/// `scenarios` (one per run, in the same order; empty when they are not known, as for saved
/// results) as a Mermaid flowchart.
pub fn report_md_with_topology(
    runs: &[RunResult],
    charts: &[Chart],
    scenarios: &[&sim_models::Scenario],
) -> String {
    let labels: Vec<String> = runs.iter().map(run_label).collect();
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Resilience report: {}\n", labels.join(", "));
    if runs.is_empty() {
        let _ = writeln!(w, "No runs.");
        return out;
    }
    let _ = writeln!(
        w,
        "Simulated with simctl: the same scenario, seed and commit give the same numbers.\n"
    );

    let _ = writeln!(w, "## Runs\n");
    let _ = writeln!(
        w,
        "| run | scenario | seed | scenario hash | simulated | stopped |"
    );
    let _ = writeln!(w, "| --- | --- | ---: | --- | ---: | --- |");
    for (r, l) in runs.iter().zip(&labels) {
        let _ = writeln!(
            w,
            "| {l} | {} | {} | `{}` | {:.1} s | {} |",
            r.scenario, r.seed, r.scenario_hash, r.simulated_s, r.stopped
        );
    }
    let _ = writeln!(w, "\nReplay:\n");
    for r in runs {
        let _ = writeln!(w, "- `{}`", r.replay);
    }

    let faults = &runs[0].faults;
    if !faults.is_empty() {
        let same = runs.iter().all(|r| &r.faults == faults);
        let whose = if same {
            "every run".to_string()
        } else {
            format!("{}; the others differ", labels[0])
        };
        let _ = writeln!(w, "\nFaults ({whose}; shaded in the charts):\n");
        for f in faults {
            let _ = writeln!(
                w,
                "- {:.1} s to {:.1} s: {} on {}",
                f.start_s, f.end_s, f.kind, f.target
            );
        }
    }

    if !scenarios.is_empty() {
        let _ = writeln!(w, "\n## Topology\n");
        let mut drawn: Vec<&str> = Vec::new();
        let several = runs
            .iter()
            .any(|r| r.scenario_hash != runs[0].scenario_hash);
        for ((r, s), l) in runs.iter().zip(scenarios).zip(&labels) {
            if drawn.contains(&r.scenario_hash.as_str()) {
                continue;
            }
            drawn.push(&r.scenario_hash);
            if several {
                let _ = writeln!(w, "{l}:\n");
            }
            let _ = writeln!(
                w,
                "```mermaid\n{}```\n",
                crate::topology::topology_mermaid(s)
            );
        }
    }

    let _ = writeln!(w, "\n## Summary\n");
    let _ = write!(w, "{}", crate::compare(runs, true, &[]));

    let _ = writeln!(w, "\n## SLOs\n");
    let _ = writeln!(
        w,
        "Over each run after its warm-up, taken as the SLO window: met or missed, and the error budget consumed (100% spends it exactly; in brackets, the share of a whole period's budget at the run's traffic). Pages and tickets are the multiwindow burn-rate alerts as evaluated during the run.\n"
    );
    for (r, l) in runs.iter().zip(&labels) {
        let lines = crate::slo_lines(r);
        if lines.is_empty() {
            let _ = writeln!(w, "- {l}: no SLO set.");
        }
        for line in lines {
            let _ = writeln!(w, "- {l}: {line}.");
        }
        for d in &r.detections {
            let when = d.time_to_detect_s.map_or("not paged".to_string(), |s| {
                format!(
                    "paged after {s:.1} s ({})",
                    d.rule.as_deref().unwrap_or("?")
                )
            });
            let _ = writeln!(w, "  - fault #{} at {:.1} s: {when}", d.fault, d.start_s);
        }
    }

    if let [r] = runs
        && !r.faults.is_empty()
    {
        let _ = write!(w, "\n{}", postmortem_md(r));
    }

    if runs.len() > 1 {
        let _ = writeln!(w, "\n## What changed\n");
        let _ = writeln!(
            w,
            "Each run against the one before it; only changes over {:.0}% are listed.",
            MATERIAL * 100.0
        );
        for i in 1..runs.len() {
            let (a, b) = (&runs[i - 1], &runs[i]);
            let _ = writeln!(w, "\n### {} → {}\n", labels[i - 1], labels[i]);
            let lines = changes(a, b, &labels[i - 1], &labels[i]);
            if lines.is_empty() {
                let _ = writeln!(w, "- No material change in the headline numbers.");
            }
            for line in lines {
                let _ = writeln!(w, "- {line}.");
            }
        }
    }

    if !charts.is_empty() {
        let _ = writeln!(w, "\n## Charts\n");
        for c in charts {
            let _ = writeln!(w, "![{}]({}.png)\n", c.title, c.name);
        }
    }
    out
}

/// The postmortem of a run with faults (`sim_models::postmortem`): per incident its
/// timeline, impact, contributing factors and action items.
pub fn postmortem_md(r: &RunResult) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "## Postmortem\n");
    let _ = writeln!(
        w,
        "One incident per fault, from its start to {:.0} s after its end (or the next fault); numbers are sums over the series windows in that span, read from this run.",
        sim_models::postmortem::TAIL_S
    );
    for (n, i) in sim_models::postmortem::postmortem(r).iter().enumerate() {
        let _ = writeln!(
            w,
            "\n### Incident {}: {} ({:.1} s to {:.1} s)\n",
            n + 1,
            i.title,
            i.from_s,
            i.to_s
        );
        let _ = writeln!(w, "Timeline:\n");
        for (t, what) in &i.timeline {
            let _ = writeln!(w, "- {t:.1} s: {what}");
        }
        let budget = i
            .budget_burned_pct
            .map_or("no SLO to burn".to_string(), |b| {
                format!("{b:.1}% of the run's error budget burned")
            });
        let routes = if i.routes_affected.is_empty() {
            "none".to_string()
        } else {
            i.routes_affected
                .iter()
                .map(|(c, n)| format!("{c} ({} bad)", number(*n as f64, 0)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            w,
            "\nImpact: {} of {} requests failed, {} degraded; {budget}; routes affected: {routes}.",
            number(i.failed as f64, 0),
            number(i.offered as f64, 0),
            number(i.degraded as f64, 0)
        );
        let _ = writeln!(w, "\nContributing factors:\n");
        if i.factors.is_empty() {
            let _ = writeln!(w, "- none stood out in the metrics");
        }
        for f in &i.factors {
            let _ = writeln!(w, "- {f}");
        }
        let _ = writeln!(w, "\nAction items:\n");
        if i.action_items.is_empty() {
            let _ = writeln!(
                w,
                "- none from the metrics: under 1% of the requests in the span were bad"
            );
        }
        for a in &i.action_items {
            let _ = writeln!(w, "- {a}");
        }
    }
    out
}

/// Is a -> b a change worth a sentence: more than [`MATERIAL`] relative, and at least
/// `floor` in absolute terms (so 0.01 s -> 0.02 s of wasted work is not "doubled").
/// NaN or infinite values never are (every comparison with NaN is false).
fn material(a: f64, b: f64, floor: f64) -> bool {
    let d = (b - a).abs();
    d >= floor && d > MATERIAL * a.abs().max(b.abs())
}

/// (name, before, after, smallest change worth a word, format).
type Metric = (&'static str, f64, f64, f64, fn(f64) -> String);

/// Plain-words sentences for the headline numbers that changed from run `a` to run `b`.
fn changes(a: &RunResult, b: &RunResult, la: &str, lb: &str) -> Vec<String> {
    let mut out = Vec::new();
    let verb = |from: f64, to: f64| if to < from { "cuts" } else { "raises" };

    // Availability near 1 moves little in relative terms: judge the failure fraction.
    let (av_a, av_b) = (a.totals.availability, b.totals.availability);
    if material(1.0 - av_a, 1.0 - av_b, 1e-4) {
        out.push(format!(
            "{lb} {} availability from {av_a:.4} to {av_b:.4}",
            verb(av_a, av_b)
        ));
    }
    let metrics: [Metric; 4] = [
        (
            "goodput",
            a.totals.goodput_rps,
            b.totals.goodput_rps,
            0.1,
            |v| format!("{} requests/s", number(v, 1)),
        ),
        (
            "p99 latency",
            a.totals.latency_ms.p99,
            b.totals.latency_ms.p99,
            0.01,
            |v| format!("{} ms", ms(v)),
        ),
        (
            "peak retry amplification",
            a.retry_amplification_peak,
            b.retry_amplification_peak,
            0.01,
            |v| format!("{v:.2}"),
        ),
        ("wasted work", a.wasted_work_s, b.wasted_work_s, 0.1, |v| {
            format!("{} s", number(v, 1))
        }),
    ];
    for (name, x, y, floor, fmt) in metrics {
        if !material(x, y, floor) {
            continue;
        }
        if y == 0.0 {
            out.push(format!("{lb} removes all {} of {name}", fmt(x)));
        } else {
            out.push(format!(
                "{lb} {} {name} from {} to {}",
                verb(x, y),
                fmt(x),
                fmt(y)
            ));
        }
    }
    let counts = [
        (
            "duplicate side effects",
            a.duplicate_side_effects,
            b.duplicate_side_effects,
        ),
        ("max queue depth", max_queue(a), max_queue(b)),
    ];
    for (name, x, y) in counts {
        if !material(x as f64, y as f64, 1.0) {
            continue;
        }
        let n = |v: u64| number(v as f64, 0);
        if y == 0 {
            out.push(format!("{lb} removes all {} {name}", n(x)));
        } else {
            let v = verb(x as f64, y as f64);
            out.push(format!("{lb} {v} {name} from {} to {}", n(x), n(y)));
        }
    }
    // Recovery only means something when both runs had faults.
    if !a.faults.is_empty() && !b.faults.is_empty() {
        match (a.recovery_s, b.recovery_s) {
            (None, Some(s)) if a.metastable => out.push(format!(
                "{lb} recovers in {s:.1} s where {la} never recovered (metastable)"
            )),
            (Some(s), None) if b.metastable => out.push(format!(
                "{lb} never recovers (metastable) where {la} recovered in {s:.1} s"
            )),
            (Some(x), Some(y)) if material(x, y, 1.0) => out.push(format!(
                "{lb} {} recovery time from {x:.1} s to {y:.1} s",
                verb(x, y)
            )),
            _ => {}
        }
    }
    out
}

fn max_queue(r: &RunResult) -> u64 {
    r.services
        .iter()
        .map(|s| s.queue_depth_max)
        .max()
        .unwrap_or(0)
}

/// Milliseconds with precision that suits their size (as in the tables).
fn ms(x: f64) -> String {
    match x {
        x if x >= 100.0 => number(x, 1),
        x if x >= 1.0 => format!("{x:.2}"),
        x => format!("{x:.3}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn report_names_runs_changes_and_charts() {
        let runs = [
            testing::run("v0.1", 120, true),
            testing::run("v0.2", 120, false),
            testing::run("v0.3", 120, false),
        ];
        let charts = crate::compare_charts(&runs);
        let md = report_md(&runs, &charts);
        for needle in [
            "# Resilience report: v0.1, v0.2, v0.3",
            "| v0.1 | v0.1-synthetic | 42 | `0123456789abcdef` |",
            "simctl run scenarios/v0.2.ron --seed 42",
            "- 48.0 s to 60.0 s: slowdown x100 on db",
            "| scenario ", // the compare table
            "### v0.1 → v0.2",
            "v0.2 cuts peak retry amplification from 3.39 to 1.09",
            "v0.2 removes all 67,319 duplicate side effects",
            "v0.2 recovers in 5.0 s where v0.1 never recovered (metastable)",
            "v0.2 raises availability from",
            "v0.2 cuts p99 latency from 900.0 ms to 40.00 ms",
            "v0.2 cuts wasted work from 250.0 s to 1.0 s",
            "### v0.2 → v0.3\n\n- No material change in the headline numbers.",
            "![p99 latency of successful requests, by run](latency.png)",
            "(queue_depth.png)",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
        assert!(
            md.contains("v0.2 raises goodput from 63.6 requests/s to 90.6"),
            "{md}"
        );
        assert_eq!(md, report_md(&runs, &charts));
    }

    #[test]
    fn worse_runs_are_phrased_as_worse() {
        let (good, bad) = (
            testing::run("v1.0", 60, false),
            testing::run("v1.1", 60, true),
        );
        let lines = changes(&good, &bad, "v1.0", "v1.1");
        assert!(lines.contains(&"v1.1 raises peak retry amplification from 1.09 to 3.39".into()));
        assert!(
            lines
                .contains(&"v1.1 never recovers (metastable) where v1.0 recovered in 5.0 s".into())
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("v1.1 cuts availability"))
        );
    }

    #[test]
    fn report_of_nothing() {
        assert!(report_md(&[], &[]).contains("No runs."));
        let one = report_md(&[testing::run("v0.1", 0, false)], &[]);
        assert!(!one.contains("What changed") && !one.contains("## Charts"));
    }
}
