//! A sweep's points as a table: one line per point, its parameters, then the headline
//! metrics as mean ± 95% half-width over the replicates.

use sim_models::metric::{MetricRef, Unit};
use sim_models::sweep::{PointSummary, Stat, SweepResult};

use crate::charts::{Chart, Line, XyChart, xy_chart};

pub fn sweep_table(s: &SweepResult) -> String {
    let mut header: Vec<String> = s.params.iter().map(|p| p.path.clone()).collect();
    let mut metrics = vec![
        ("availability", "availability", 4),
        ("goodput_rps", "goodput rps", 1),
        ("p99_ms", "p99 ms", 1),
        ("retry_amplification_peak", "peak ampl.", 2),
        ("wasted_work_s", "wasted s", 1),
        ("recovery_s", "recovery s", 1),
        ("metastable", "metastable", 2),
    ];
    // The other verdicts get a column only when some run has them: `metastable` is the
    // share of the runs with a verdict, `undetermined` the share of all runs.
    for (name, label) in [("collapsed", "collapsed"), ("undetermined", "undetermined")] {
        let seen = s.points.iter().any(|p| {
            s.stat(p, name)
                .and_then(|st| st.mean)
                .is_some_and(|m| m > 0.0)
        });
        if seen {
            metrics.push((name, label, 2));
        }
    }
    // Then the metrics the user asked for (`--metric`), under their registry names.
    let extra: Vec<(String, usize)> = s.metrics[sim_models::metric::RUN.len()..]
        .iter()
        .map(|name| {
            let unit = MetricRef::parse(name).map_or(Unit::Factor, |m| m.unit());
            (name.clone(), digits(unit))
        })
        .collect();
    let mut metrics: Vec<(&str, &str, usize)> = metrics;
    metrics.extend(extra.iter().map(|(n, d)| (n.as_str(), n.as_str(), *d)));
    header.push("runs".into());
    header.extend(metrics.iter().map(|m| m.1.to_string()));
    let rows: Vec<Vec<String>> = s
        .points
        .iter()
        .map(|p| {
            let mut row = p.values.clone();
            row.push(p.replicates.to_string());
            for &(name, _, digits) in &metrics {
                row.push(
                    s.stat(p, name)
                        .map_or_else(String::new, |st| cell(st, digits)),
                );
            }
            row
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&header);
    for row in &rows {
        out.push_str(&line(row));
    }
    out.push_str(&format!(
        "\n{} points x {} seeds from base seed {} (scenario {}); ± is a 95% t interval\n",
        s.points.len(),
        s.seeds,
        s.base_seed,
        s.scenario_hash
    ));
    out
}

/// Decimals a sweep cell shows for a metric of `unit`.
fn digits(unit: Unit) -> usize {
    match unit {
        Unit::Ratio => 4,
        Unit::Factor | Unit::Flag => 2,
        Unit::Count | Unit::PerSecond | Unit::Millis | Unit::Seconds => 1,
    }
}

/// `mean ± half-width`, the mean alone with one replicate, `-` with none (e.g. no recovery).
fn cell(st: &Stat, digits: usize) -> String {
    match (st.mean, st.ci_high) {
        (None, _) => "-".into(),
        (Some(m), Some(hi)) if hi - m > 0.0 => format!("{m:.digits$} ± {:.digits$}", hi - m),
        (Some(m), _) => format!("{m:.digits$}"),
    }
}

/// Charts of a sweep against its first parameter, one line per combination of the others
/// with a marker on each point, and 95% bands when replicated: p99 and goodput (the hockey stick when the parameter is
/// the load), peak retry amplification, availability.
pub fn sweep_charts(s: &SweepResult) -> Vec<Chart> {
    let Some(first) = s.params.first() else {
        return Vec::new();
    };
    // x: the first value as a number (durations in ms), else its position in the list.
    let numeric: Option<Vec<f64>> = first.values.iter().map(|v| as_number(v)).collect();
    let x_of = |value: &str| -> f64 {
        match &numeric {
            Some(_) => as_number(value).expect("checked numeric"),
            None => first.values.iter().position(|v| v == value).unwrap_or(0) as f64,
        }
    };
    let x_label = match &numeric {
        Some(_) if first.values.iter().any(|v| v.parse::<f64>().is_err()) => {
            format!("{} (ms)", first.path)
        }
        Some(_) => first.path.clone(),
        None => format!("{} (position in {})", first.path, first.values.join(", ")),
    };
    let charts = [
        (
            "sweep_p99",
            "p99 latency of successful requests",
            "p99 latency (ms, log scale)",
            "p99_ms",
            true,
            false,
        ),
        (
            "sweep_goodput",
            "Goodput",
            "goodput (successful requests/s)",
            "goodput_rps",
            false,
            true,
        ),
        (
            "sweep_amplification",
            "Peak retry amplification",
            "peak retry amplification (attempts / offered, 1 = none)",
            "retry_amplification_peak",
            false,
            false,
        ),
        (
            "sweep_availability",
            "Availability",
            "availability (succeeded / offered)",
            "availability",
            false,
            true,
        ),
    ];
    charts
        .iter()
        .map(|&(name, what, y_label, metric, log_y, from_zero)| {
            let title = format!(
                "{what} against {} ({} seeds per point)",
                first.path, s.seeds
            );
            xy_chart(&XyChart {
                name,
                title: &title,
                x_label: &x_label,
                y_label,
                lines: lines(s, metric, &x_of),
                log_y,
                y_from_zero: from_zero,
                markers: true,
                ..Default::default()
            })
        })
        .collect()
}

/// One line per combination of the parameters after the first.
fn lines(s: &SweepResult, metric: &str, x_of: &dyn Fn(&str) -> f64) -> Vec<Line> {
    let mut out: Vec<Line> = Vec::new();
    for p in &s.points {
        let label = if s.params.len() == 1 {
            s.scenario.clone()
        } else {
            let rest: Vec<String> = s.params[1..]
                .iter()
                .zip(&p.values[1..])
                .map(|(param, v)| format!("{}={v}", short(&param.path)))
                .collect();
            rest.join(", ")
        };
        let index = match out.iter().position(|l| l.label == label) {
            Some(i) => i,
            None => {
                out.push(Line {
                    label,
                    ..Default::default()
                });
                out.len() - 1
            }
        };
        let line = &mut out[index];
        let x = x_of(&p.values[0]);
        let Some(st) = s.stat(p, metric) else {
            continue;
        };
        if let Some(mean) = st.mean {
            line.points.push((x, mean));
        }
        if let (Some(lo), Some(hi)) = (st.ci_low, st.ci_high) {
            line.band.get_or_insert_with(Vec::new).push((x, lo, hi));
        }
    }
    out
}

/// The last two segments of a path (`db.workers`): enough to tell lines apart in a legend.
fn short(path: &str) -> &str {
    match path.rmatch_indices('.').nth(1) {
        Some((i, _)) => &path[i + 1..],
        None => path,
    }
}

/// A swept value as a number: plain numbers as they are, durations in milliseconds.
fn as_number(v: &str) -> Option<f64> {
    v.parse::<f64>().ok().or_else(|| {
        v.parse::<sim_core::time::SimDuration>()
            .ok()
            .map(|d| d.as_nanos() as f64 / 1e6)
    })
}

/// report.md of a sweep: what was varied, the points table, the charts, and where the
/// numbers turn (the first point that goes metastable, the best goodput).
pub fn sweep_report_md(s: &SweepResult, charts: &[Chart]) -> String {
    let mut out = format!("# Sweep of {}\n\n", s.scenario);
    out.push_str(&format!(
        "Scenario hash `{}` (before the swept values were set), base seed {}, {} seeds per point. \
         Replicate 0 runs at the base seed; every point uses the same seeds, so neighbouring \
         points differ by the parameter, not by luck.\n\n",
        s.scenario_hash, s.base_seed, s.seeds
    ));
    out.push_str("Varied:\n\n");
    for p in &s.params {
        out.push_str(&format!("- `{}`: {}\n", p.path, p.values.join(", ")));
    }
    out.push_str(&format!("\n## Points\n\n```\n{}```\n\n", sweep_table(s)));
    let metastable = s.points.iter().find(|p| {
        s.stat(p, "metastable")
            .and_then(|st| st.mean)
            .is_some_and(|m| m > 0.0)
    });
    match metastable {
        Some(p) => out.push_str(&format!(
            "The first point with a metastable run is {}.\n\n",
            describe(s, &p.values)
        )),
        None => out.push_str("No run with a verdict turned metastable.\n\n"),
    }
    let undetermined: Vec<String> = s
        .points
        .iter()
        .filter(|p| {
            s.stat(p, "undetermined")
                .and_then(|st| st.mean)
                .is_some_and(|m| m > 0.0)
        })
        .map(|p| describe(s, &p.values))
        .collect();
    if !undetermined.is_empty() {
        out.push_str(&format!(
            "Runs whose verdict is undetermined (neither metastable nor recovered: too short a horizon, too low a rate, or a changed load; `simctl run` on one prints why) are left out of the metastable column, at {}.\n\n",
            undetermined.join("; ")
        ));
    }
    let best = s.points.iter().max_by(|a, b| {
        let g = |p: &PointSummary| {
            s.stat(p, "goodput_rps")
                .and_then(|st| st.mean)
                .unwrap_or(0.0)
        };
        g(a).total_cmp(&g(b))
    });
    if let Some(p) = best {
        let g = s
            .stat(p, "goodput_rps")
            .and_then(|st| st.mean)
            .unwrap_or(0.0);
        out.push_str(&format!(
            "The highest goodput, {g:.1} rps, is at {}.\n\n",
            describe(s, &p.values)
        ));
    }
    out.push_str("## Charts\n\n");
    for c in charts {
        out.push_str(&format!("![{}]({}.png)\n\n", c.title, c.name));
    }
    out
}

fn describe(s: &SweepResult, values: &[String]) -> String {
    let parts: Vec<String> = s
        .params
        .iter()
        .zip(values)
        .map(|(p, v)| format!("`{}={v}`", p.path))
        .collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_models::metric::RUN;
    use sim_models::sweep::{Param, Row};

    /// A run at `point` whose verdict metrics are `metastable` / `undetermined`.
    fn row(point: usize, replicate: u32, metastable: Option<f64>, undetermined: f64) -> Row {
        Row {
            point,
            replicate,
            seed: 1,
            values: vec![point.to_string()],
            scenario_hash: "h".into(),
            stopped: "horizon".into(),
            metrics: RUN
                .iter()
                .map(|m| match m.name {
                    "metastable" => metastable,
                    "collapsed" => metastable.map(|_| 0.0),
                    "undetermined" => Some(undetermined),
                    "recovery_s" => None,
                    _ => Some(1.0),
                })
                .collect(),
        }
    }

    #[test]
    fn undetermined_runs_are_neither_metastable_nor_healthy() {
        let rows = vec![
            row(0, 0, Some(0.0), 0.0),
            row(0, 1, Some(0.0), 0.0),
            row(1, 0, Some(1.0), 0.0),
            row(1, 1, None, 1.0),
        ];
        let params = vec![Param::parse("x=0,1").unwrap()];
        let metrics: Vec<_> = sim_models::metric::run_metrics().collect();
        let s = SweepResult::new("f", "h", 42, 2, params, &metrics, rows);
        let table = sweep_table(&s);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].ends_with("metastable  undetermined"), "{table}");
        assert!(!lines[0].contains("collapsed"), "{table}");
        // Point 1: its one run with a verdict is metastable (1.00, not 0.50), and half of
        // its runs are undetermined.
        assert!(lines[2].ends_with("1.00   0.50 ± 6.35"), "{table}");
        assert!(lines[1].ends_with("0.00          0.00"), "{table}");
        let md = sweep_report_md(&s, &[]);
        assert!(
            md.contains("The first point with a metastable run is `x=1`"),
            "{md}"
        );
        assert!(
            md.contains("left out of the metastable column, at `x=1`."),
            "{md}"
        );
    }
}
