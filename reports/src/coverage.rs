//! A coverage run (orthogonal arrays) as a table (stdout), markdown (`coverage.md`), CSV
//! (`effects.csv`) and main-effects charts: the design and its strength check, the runs a
//! full factorial would have needed, the main effects of each factor on availability, p99
//! and collapse with the factors ranked by effect range, and each design row's means.

use std::fmt::Write;

use sim_models::coverage::{CoverageResult, Method, MetricEffects};

use crate::charts::{Chart, Line, XyChart, xy_chart};

/// How each effect metric is headed and shown.
fn metric_head(name: &str) -> (&'static str, fn(f64) -> String) {
    match name {
        "availability" => ("availability", |x| format!("{x:.4}")),
        "p99_ms" => ("p99 ms", |x| format!("{x:.1}")),
        "metastable" => ("collapse", |x| format!("{x:.2}")),
        _ => ("value", |x| format!("{x:.3}")),
    }
}

fn show(e: &MetricEffects, x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), metric_head(&e.metric).1)
}

/// The design in a few lines: what was run, its strength check, how it was made.
fn header(r: &CoverageResult, replay: &str) -> Vec<String> {
    let d = &r.design;
    let shape: Vec<String> = r
        .factors
        .iter()
        .map(|f| f.levels.len().to_string())
        .collect();
    let mut lines = vec![
        format!(
            "scenario {}   hash {}   seeds {} from {}",
            r.scenario, r.scenario_hash, r.seeds, r.base_seed
        ),
        format!(
            "design   {} ({}): {} rows x {} seeds = {} runs; the full factorial ({}) would need {} rows = {} runs",
            d.name,
            d.construction,
            d.rows.len(),
            r.seeds,
            r.runs,
            shape.join("x"),
            d.full_factorial,
            (d.full_factorial as u128) * u128::from(r.seeds)
        ),
    ];
    let s = &d.strength;
    let verdict = if s.covered() { "passed" } else { "FAILED" };
    let how = if s.balanced {
        "each equally often (balanced)"
    } else if s.proportional {
        "in proportion to their levels' counts (not balanced: dummy levels)"
    } else {
        "not equally often (a covering array, not orthogonal)"
    };
    lines.push(format!(
        "strength 2 check {verdict}: {} of {} level pairs over {} factor pairs run, {how}",
        s.level_pairs - s.missing_count,
        s.level_pairs,
        s.factor_pairs
    ));
    for &(f, a, g, b) in &s.missing {
        lines.push(format!(
            "  never run together: {} = {} with {} = {}",
            r.factors[f].name, r.factors[f].levels[a], r.factors[g].name, r.factors[g].levels[b]
        ));
    }
    if d.method == Method::Covering {
        lines.push("no orthogonal array fits these factors: this is a covering array".into());
    }
    for n in &r.notes {
        lines.push(format!("note: {n}"));
    }
    lines.push(format!("replay   {replay}"));
    lines
}

/// The main-effects table's rows: factor, level, runs, then each metric's level mean; a
/// `range` row closes each factor.
fn effects_rows(r: &CoverageResult) -> (Vec<String>, Vec<Vec<String>>) {
    let mut head = vec!["factor".to_string(), "level".into(), "runs".into()];
    head.extend(
        r.effects
            .iter()
            .map(|e| metric_head(&e.metric).0.to_string()),
    );
    let mut rows = Vec::new();
    for (f, factor) in r.factors.iter().enumerate() {
        for (l, level) in factor.levels.iter().enumerate() {
            let mut row = vec![
                if l == 0 {
                    factor.name.clone()
                } else {
                    String::new()
                },
                level.clone(),
                r.effects
                    .first()
                    .map_or(0, |e| e.factors[f].levels[l].runs)
                    .to_string(),
            ];
            row.extend(
                r.effects
                    .iter()
                    .map(|e| show(e, e.factors[f].levels[l].mean)),
            );
            rows.push(row);
        }
        let mut row = vec![String::new(), "range".into(), String::new()];
        row.extend(r.effects.iter().map(|e| {
            let range = e.factors[f].range;
            // A rank among equal ranges (a metric no factor moves) would mean nothing.
            match rank(e, f) {
                Some(k) => format!("{} (#{k})", show(e, range)),
                None => show(e, range),
            }
        }));
        rows.push(row);
    }
    (head, rows)
}

/// Factor `f`'s place in the ranking of metric `e`, when its range is above zero.
fn rank(e: &MetricEffects, f: usize) -> Option<usize> {
    let range = e.factors[f].range.filter(|&x| x > 0.0)?;
    Some(
        1 + e
            .factors
            .iter()
            .filter(|g| g.range.is_some_and(|x| x > range))
            .count(),
    )
}

/// Per metric, the factors by effect range: which one drives it.
fn drivers(r: &CoverageResult) -> Vec<String> {
    r.effects
        .iter()
        .map(|e| {
            let head = metric_head(&e.metric).0;
            if e.factors.iter().all(|f| f.range.is_none_or(|x| x == 0.0)) {
                return format!("{head}: no factor changes it (every level mean is the same)");
            }
            let ranked: Vec<String> = e
                .ranking
                .iter()
                .map(|&f| format!("{} ({})", r.factors[f].name, show(e, e.factors[f].range)))
                .collect();
            let missing = if e.missing > 0 {
                format!("; {} runs without a value left out", e.missing)
            } else {
                String::new()
            };
            format!("{head}: {}{missing}", ranked.join(", "))
        })
        .collect()
}

/// Each design row: its levels and the mean of each metric over its seeds.
fn design_rows(r: &CoverageResult) -> (Vec<String>, Vec<Vec<String>>) {
    let mut head = vec!["row".to_string()];
    head.extend(r.factors.iter().map(|f| f.name.clone()));
    head.extend(
        r.effects
            .iter()
            .map(|e| metric_head(&e.metric).0.to_string()),
    );
    let rows = r
        .sweep
        .points
        .iter()
        .map(|p| {
            let mut row = vec![(p.point + 1).to_string()];
            row.extend(p.values.iter().cloned());
            row.extend(r.effects.iter().map(|e| {
                let mean = r.sweep.stat(p, &e.metric).and_then(|s| s.mean);
                show(e, mean)
            }));
            row
        })
        .collect();
    (head, rows)
}

fn plain(head: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = head.iter().map(String::len).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = w.saturating_sub(c.chars().count());
                // Names left, numbers right.
                if i < 2 || c.parse::<f64>().is_err() && !c.contains("(#") {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(head);
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

fn markdown(head: &[String], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", head.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(head.len())));
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// The run as a table for stdout.
pub fn coverage_table(r: &CoverageResult, replay: &str) -> String {
    let mut out = String::new();
    for l in header(r, replay) {
        let _ = writeln!(out, "{l}");
    }
    let (head, rows) = effects_rows(r);
    let _ = writeln!(
        out,
        "\nmain effects: mean over the runs at each level; range = highest - lowest level mean (#rank among the factors); collapse = share of runs with a metastable verdict\n"
    );
    out.push_str(&plain(&head, &rows));
    let _ = writeln!(out, "\nwhat drives each metric (factors by effect range):");
    for d in drivers(r) {
        let _ = writeln!(out, "  {d}");
    }
    let (head, rows) = design_rows(r);
    let _ = writeln!(out, "\ndesign rows (means over the seeds):\n");
    out.push_str(&plain(&head, &rows));
    out
}

/// The main-effects table alone, as markdown (README, reports).
pub fn coverage_effects_md(r: &CoverageResult) -> String {
    let (head, rows) = effects_rows(r);
    markdown(&head, &rows)
}

/// The whole run as markdown (`coverage.md`).
pub fn coverage_md(r: &CoverageResult, replay: &str) -> String {
    let mut out = String::from("# Coverage (orthogonal array)\n\n");
    for l in header(r, replay) {
        let _ = writeln!(out, "- {l}");
    }
    let _ = writeln!(
        out,
        "\n## Main effects\n\nMean over the runs at each level; range = highest - lowest level mean (#rank among the factors); collapse = share of runs with a metastable verdict.\n"
    );
    out.push_str(&coverage_effects_md(r));
    let _ = writeln!(out, "\n## What drives each metric\n");
    for d in drivers(r) {
        let _ = writeln!(out, "- {d}");
    }
    let (head, rows) = design_rows(r);
    let _ = writeln!(out, "\n## Design rows (means over the seeds)\n");
    out.push_str(&markdown(&head, &rows));
    out
}

/// `effects.csv`: one line per (metric, factor, level) with the level mean and runs, and
/// the factor's range and rank.
pub fn coverage_effects_csv(r: &CoverageResult) -> String {
    let mut out = String::from("metric,factor,level,runs,mean,range,rank\n");
    let q = |c: &str| {
        if c.contains([',', '"', '\n']) {
            format!("\"{}\"", c.replace('"', "\"\""))
        } else {
            c.to_string()
        }
    };
    let opt = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
    for e in &r.effects {
        for (f, fe) in e.factors.iter().enumerate() {
            let rank = rank(e, f).map(|k| k.to_string()).unwrap_or_default();
            for l in &fe.levels {
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{rank}",
                    e.metric,
                    q(&fe.factor),
                    q(&l.level),
                    l.runs,
                    opt(l.mean),
                    opt(fe.range)
                );
            }
        }
    }
    out
}

/// The main-effects plot of each metric: one panel per factor, its level means against
/// the level's number (1, 2, ...: the labels are in the table).
pub fn coverage_charts(r: &CoverageResult) -> Vec<Chart> {
    r.effects
        .iter()
        .map(|e| {
            let (head, _) = metric_head(&e.metric);
            let name = format!("effects_{}", e.metric);
            let title = format!("Main effects on {head} ({})", r.design.name);
            let y_label = match e.metric.as_str() {
                "availability" => "availability (mean over the runs at the level)",
                "p99_ms" => "p99 latency (ms, mean over the runs at the level)",
                "metastable" => "collapse (share of runs metastable)",
                _ => "mean over the runs at the level",
            };
            let lines = e
                .factors
                .iter()
                .map(|f| Line {
                    label: f.factor.clone(),
                    points: f
                        .levels
                        .iter()
                        .enumerate()
                        .filter_map(|(i, l)| l.mean.map(|m| ((i + 1) as f64, m)))
                        .collect(),
                    band: None,
                })
                .collect();
            xy_chart(&XyChart {
                name: &name,
                title: &title,
                x_label: "level (numbered as in the table)",
                y_label,
                lines,
                markers: true,
                panels: true,
                y_from_zero: e.metric == "metastable",
                ..Default::default()
            })
        })
        .collect()
}
