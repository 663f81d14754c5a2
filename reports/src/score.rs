//! Reliability scores (`simctl score`) as a table (stdout), markdown (`score.md`) and a
//! chart of the score by scenario.

use std::fmt::Write;

use sim_models::score::{Category, Score, Status};

use crate::charts::{Chart, Line, XyChart, xy_chart};

fn cell(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |x| format!("{x:.1}"))
}

/// The short name of a score's file: its stem (`v0.6` for `scenarios/v0.6.ron`).
pub fn score_label(s: &Score) -> String {
    let name = s.file.rsplit(['/', '\\']).next().unwrap_or(&s.file);
    name.strip_suffix(".ron").unwrap_or(name).to_string()
}

/// Rows: the scenarios; columns: each category, overall, and the tests passed, failed,
/// not run and undetermined. `markdown` for a pipe table.
pub fn score_table(scores: &[Score], markdown: bool) -> String {
    let mut header = vec!["scenario".to_string()];
    header.extend(Category::ALL.iter().map(|c| c.name().to_string()));
    header.extend(["overall", "passed", "failed", "not run", "undetermined"].map(String::from));
    let rows: Vec<Vec<String>> = scores
        .iter()
        .map(|s| {
            let mut row = vec![score_label(s)];
            row.extend(Category::ALL.iter().map(|&c| cell(s.category(c))));
            row.push(format!("{:.1}", s.overall));
            for status in [
                Status::Passed,
                Status::Failed,
                Status::NotRun,
                Status::Undetermined,
            ] {
                row.push(
                    s.tests
                        .iter()
                        .filter(|t| t.status == status)
                        .count()
                        .to_string(),
                );
            }
            row
        })
        .collect();
    let mut out = String::new();
    if markdown {
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let align: Vec<&str> = (0..header.len())
            .map(|i| if i == 0 { "---" } else { "---:" })
            .collect();
        let _ = writeln!(out, "| {} |", align.join(" | "));
        for r in &rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        return out;
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| -> String {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(&header));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r));
    }
    out
}

/// `score.md`: the table, then per scenario each service's scores and every test that did
/// not pass, with its reason.
pub fn score_md(scores: &[Score], command: &str) -> String {
    let mut out = String::from("# Reliability score\n\n");
    let _ = writeln!(out, "```\n{command}\n```\n");
    out.push_str(
        "Per test: passed 100, failed 50, not run 0, undetermined 0 (Gremlin's points); a \
         category is the mean of its tests, a service the mean of its categories, a \
         scenario the mean of its services.\n\n",
    );
    out.push_str(&score_table(scores, true));
    for s in scores {
        let _ = write!(
            out,
            "\n## {} (`{}`, scenario hash `{}`)\n\nSeeds: {:?}. Route SLOs: ",
            score_label(s),
            s.scenario,
            s.scenario_hash,
            s.seeds
        );
        let slos: Vec<String> = s
            .slos
            .iter()
            .map(|r| format!("{} {} ({})", r.route, r.availability, r.from))
            .collect();
        let _ = writeln!(out, "{}.\n", slos.join(", "));
        let mut header = vec!["service"];
        header.extend(Category::ALL.iter().map(|c| c.name()));
        header.push("score");
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let _ = writeln!(out, "|---{}|", "|---:".repeat(header.len() - 1));
        for svc in &s.services {
            let cats: Vec<String> = Category::ALL
                .iter()
                .map(|&c| {
                    cell(
                        svc.categories
                            .iter()
                            .find(|x| x.category == c)
                            .and_then(|x| x.score),
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {:.1} |",
                svc.service,
                cats.join(" | "),
                svc.score
            );
        }
        out.push_str("\n| service | category | test | status | why |\n|---|---|---|---|---|\n");
        for t in &s.tests {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                t.service,
                t.category.name(),
                t.test,
                t.status.name(),
                t.reason.replace('|', "\\|")
            );
        }
    }
    out
}

/// The x of each score: the version in its label (`v0.6` -> 0.6) when every label has
/// one, else its position (1, 2, ...).
fn xs(scores: &[Score]) -> (Vec<f64>, &'static str) {
    let version = |s: &Score| {
        let l = score_label(s);
        l.strip_prefix('v').unwrap_or(&l).parse::<f64>().ok()
    };
    let v: Vec<Option<f64>> = scores.iter().map(version).collect();
    if v.iter().all(Option::is_some) {
        (
            v.into_iter().flatten().collect(),
            "version (from the file name)",
        )
    } else {
        (
            (1..=scores.len()).map(|i| i as f64).collect(),
            "scenario, in the order given",
        )
    }
}

/// The lines of the chart: overall, then each category (a category with no score in some
/// scenario leaves a gap there).
pub fn score_lines(scores: &[Score]) -> Vec<Line> {
    let (x, _) = xs(scores);
    let mut lines = vec![Line {
        label: "overall".into(),
        points: x.iter().zip(scores).map(|(&x, s)| (x, s.overall)).collect(),
        band: None,
    }];
    for c in Category::ALL {
        lines.push(Line {
            label: c.name().into(),
            points: x
                .iter()
                .zip(scores)
                .map(|(&x, s)| (x, s.category(c).unwrap_or(f64::NAN)))
                .collect(),
            band: None,
        });
    }
    lines
}

/// The score by scenario, overall and per category.
pub fn score_chart(scores: &[Score]) -> Chart {
    let (_, x_label) = xs(scores);
    xy_chart(&XyChart {
        name: "score",
        title: "Reliability score (Gremlin's points: pass 100, fail 50, not run 0)",
        x_label,
        y_label: "score (0-100)",
        lines: score_lines(scores),
        y_from_zero: true,
        markers: true,
        ..Default::default()
    })
}
