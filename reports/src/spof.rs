//! A SPOF analysis as a table (stdout) and as markdown (`spof.md`): the cases ranked by
//! impact with each route's availability in the window, goodput lost and the recovery; then
//! each target's verdict beside its static view, and where they disagree.

use std::fmt::Write;

use sim_models::spof::judge::{CaseOutcome, Report, TargetOutcome};

fn num(x: f64, digits: usize) -> String {
    format!("{x:.digits$}")
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map_or("n/a".into(), |x| num(x, digits))
}

/// The ranked cases: a header row and a row per case.
fn case_rows(r: &Report) -> Vec<Vec<String>> {
    let mut head: Vec<String> = ["rank", "target", "failure", "verdict"]
        .map(String::from)
        .to_vec();
    for route in &r.routes {
        head.push(format!("{} avail", route.route));
        head.push(format!("{} lost s", route.route));
    }
    head.push("recovery".into());
    let mut rows = vec![head];
    for c in &r.cases {
        let mut row = vec![
            c.rank.to_string(),
            c.target.clone(),
            c.failure.to_string(),
            c.verdict.to_string(),
        ];
        for x in &c.routes {
            row.push(opt(x.availability_in_window, 4));
            row.push(opt(x.lost_s, 1));
        }
        row.push(if c.recovery.is_empty() {
            "n/a".into()
        } else {
            c.recovery.clone()
        });
        rows.push(row);
    }
    rows
}

fn static_text(t: &TargetOutcome) -> String {
    if t.static_view.spof_for.is_empty() {
        "no".into()
    } else {
        format!("SPOF of {}", t.static_view.spof_for.join(", "))
    }
}

fn runs_text(t: &TargetOutcome) -> String {
    if t.missed.is_empty() {
        t.verdict.to_string()
    } else {
        let by: Vec<&str> = t.broken_by.iter().map(|f| f.name()).collect();
        format!(
            "{} of {} ({})",
            t.verdict,
            t.missed.join(", "),
            by.join(", ")
        )
    }
}

fn target_rows(r: &Report) -> Vec<Vec<String>> {
    let mut rows = vec![
        ["target", "kind", "runs", "static view", "agreement"]
            .map(String::from)
            .to_vec(),
    ];
    for t in &r.targets {
        rows.push(vec![
            t.target.clone(),
            t.kind.name().to_string(),
            runs_text(t),
            static_text(t),
            format!("{:?}", t.agreement).to_lowercase(),
        ]);
    }
    rows
}

/// Columns padded to their widest cell, two spaces apart.
fn aligned(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|j| {
            rows.iter()
                .filter_map(|r| r.get(j))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (j, cell) in row.iter().enumerate() {
            if j + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[j] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn markdown(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if i == 0 {
            let _ = writeln!(out, "|{}", "---|".repeat(row.len()));
        }
    }
    out
}

fn header(r: &Report) -> String {
    let seeds: Vec<String> = r.seeds.iter().map(u64::to_string).collect();
    format!(
        "each failure {:.1} s .. {:.1} s of {:.0} s, seeds {} ({}), slow x{}",
        r.window_start_s,
        r.window_end_s,
        r.horizon_s,
        r.seeds.len(),
        seeds.join(", "),
        r.slow_factor
    )
}

fn baseline_lines(r: &Report) -> Vec<String> {
    r.routes
        .iter()
        .map(|b| {
            let slis: Vec<String> = b.sli.iter().map(|x| opt(*x, 5)).collect();
            format!(
                "{}: objective {}, SLI without faults {}, goodput {:.1} rps",
                b.route,
                b.objective,
                slis.join(" "),
                b.goodput_rps
            )
        })
        .collect()
}

fn listing(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The failures not run, by kind of target: `crash, slow of 7 links; slow of 2 zones`.
fn not_run(r: &Report) -> String {
    let mut groups: Vec<(String, String, usize)> = Vec::new();
    for n in &r.not_run {
        let failures: Vec<&str> = n.failures.iter().map(|f| f.name()).collect();
        let failures = failures.join(", ");
        let kind = n.kind.name().to_string();
        match groups
            .iter_mut()
            .find(|(k, f, _)| *k == kind && *f == failures)
        {
            Some(g) => g.2 += 1,
            None => groups.push((kind, failures, 1)),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(kind, failures, n)| {
            let plural = if *n == 1 { "" } else { "s" };
            format!("{failures} of {n} {kind}{plural}")
        })
        .collect();
    parts.join("; ")
}

/// Why each undetermined case is undetermined, one line each.
fn undetermined_cases(r: &Report) -> Vec<&CaseOutcome> {
    r.cases
        .iter()
        .filter(|c| c.verdict == sim_models::spof::Verdict::Undetermined)
        .collect()
}

/// The analysis as text for a terminal.
pub fn spof_table(r: &Report, replay: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "spof      {} (scenario {})",
        r.scenario, r.scenario_hash
    );
    let _ = writeln!(out, "          {}", header(r));
    for line in baseline_lines(r) {
        let _ = writeln!(out, "baseline  {line}");
    }
    out.push('\n');
    out.push_str(&aligned(&case_rows(r)));
    out.push('\n');
    out.push_str(&aligned(&target_rows(r)));
    out.push('\n');
    let _ = writeln!(out, "SPOF          {}", listing(&r.spofs));
    let _ = writeln!(out, "common-mode   {}", listing(&r.common_mode));
    let _ = writeln!(out, "undetermined  {}", listing(&r.undetermined));
    for c in undetermined_cases(r) {
        let _ = writeln!(out, "  {} {}: {}", c.target, c.failure, c.reason);
    }
    for t in r
        .targets
        .iter()
        .filter(|t| t.agreement == sim_models::spof::judge::Agreement::Disagree)
    {
        let _ = writeln!(out, "disagree  {}: {}", t.target, t.note);
    }
    if !r.not_run.is_empty() {
        let _ = writeln!(out, "not run   {} (no fault expresses them)", not_run(r));
    }
    let _ = writeln!(out, "replay    {replay}");
    out
}

/// The analysis as markdown (`spof.md`).
pub fn spof_md(r: &Report, replay: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Single points of failure: {}\n", r.scenario);
    let _ = writeln!(
        out,
        "Scenario hash `{}`; {}. Each target fails alone; the baseline runs the same seeds without any fault.\n",
        r.scenario_hash,
        header(r)
    );
    for line in baseline_lines(r) {
        let _ = writeln!(out, "- baseline {line}");
    }
    let _ = writeln!(
        out,
        "\n**Single points of failure:** {}  ",
        listing(&r.spofs)
    );
    let _ = writeln!(out, "**Common-mode:** {}  ", listing(&r.common_mode));
    let _ = writeln!(out, "**Undetermined:** {}\n", listing(&r.undetermined));
    let _ = writeln!(out, "## Failures ranked by goodput lost\n");
    out.push_str(&markdown(&case_rows(r)));
    let _ = writeln!(out, "\n## Runs beside the static view\n");
    let mut rows = target_rows(r);
    rows[0].push("note".into());
    for (row, t) in rows.iter_mut().skip(1).zip(&r.targets) {
        row.push(t.note.clone());
    }
    out.push_str(&markdown(&rows));
    let _ = writeln!(out, "\n## Why\n");
    for c in &r.cases {
        let _ = writeln!(
            out,
            "- **{} {}** ({}): {}: {}",
            c.target, c.failure, c.fault, c.verdict, c.reason
        );
    }
    if !r.not_run.is_empty() {
        let _ = writeln!(out, "\nNot run (no fault expresses them): {}.", not_run(r));
    }
    let _ = writeln!(out, "\nReplay: `{replay}`");
    out
}
