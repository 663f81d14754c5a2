//! Automated remediation as text: a run's summary lines (in `table`), and the comparison of
//! automation with the human alone over many seeds (`simctl remediate`).

use std::fmt::Write;

use sim_models::remediation::compare::{Comparison, Interval};
use sim_models::remediation::report::{RemediationReport, StepOutcome};

/// The run table's lines: one per incident and the totals.
pub fn remediation_lines(r: &RemediationReport) -> Vec<String> {
    let t = &r.totals;
    let opt = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.1}s"));
    let mut out = vec![format!(
        "{} incidents ({} unresolved), automation {}: MTTD {} MTTR {}; {} actions, {} undone, {} harmful, {} escalations",
        t.incidents,
        t.unresolved,
        r.automation,
        opt(t.mttd_s),
        opt(t.mttr_s),
        t.actions,
        t.undone,
        t.harmful,
        t.escalations
    )];
    for i in &r.incidents {
        let class = i
            .classification
            .as_ref()
            .map_or("unclassified".to_string(), |c| {
                format!("{} on {}", c.class.name(), c.target)
            });
        let mut line = format!(
            "#{} from {:.0}s, opened {:.0}s ({}): MTTR {}",
            i.id,
            i.start_s,
            i.opened_s,
            class,
            i.mttr_s
                .map_or("unresolved".to_string(), |m| format!("{m:.0}s"))
        );
        for p in &i.plans {
            let steps: Vec<String> = p
                .steps
                .iter()
                .filter(|s| s.outcome != StepOutcome::NotStarted)
                .map(|s| format!("{} {}", s.action, outcome(s.outcome)))
                .collect();
            let _ = match &p.rejected {
                Some(why) => write!(line, "; plan {} rejected: {why}", p.plan.name),
                None => write!(line, "; plan {}: {}", p.plan.name, steps.join(", ")),
            };
        }
        if let Some(e) = &i.escalation {
            let _ = write!(
                line,
                "; paged at {:.0}s ({}), answered {}, fixed {}",
                e.paged_s,
                e.reason,
                opt(e.answered_s),
                opt(e.fixed_s)
            );
        }
        out.push(line);
    }
    out
}

fn outcome(o: StepOutcome) -> &'static str {
    match o {
        StepOutcome::NotStarted => "not started",
        StepOutcome::Running => "running",
        StepOutcome::Passed => "passed",
        StepOutcome::Failed => "failed",
        StepOutcome::Undone => "undone (harmful)",
        StepOutcome::Harmful => "harmful (a restart cannot be undone)",
    }
}

/// The comparison as a table: each metric's mean [95% interval] with automation, with the
/// human alone, and their paired difference. `markdown` for README.
pub fn remediate_table(c: &Comparison, markdown: bool) -> String {
    let mut out = String::new();
    let head = [
        "metric",
        &format!("automation ({})", c.automation),
        "human only",
        "difference (paired)",
    ];
    let rows: Vec<Vec<String>> = c
        .rows
        .iter()
        .map(|r| {
            vec![
                r.metric.clone(),
                interval(&r.automated, &r.metric),
                interval(&r.human, &r.metric),
                interval(&r.difference, &r.metric),
            ]
        })
        .collect();
    out.push_str(&grid(&head, &rows, markdown));
    let _ = writeln!(
        out,
        "{} seeds of {}, each run with automation and with `automation: Off` (the human only); mean [95% t interval]",
        c.seeds, c.scenario
    );
    out
}

pub(crate) fn interval(i: &Interval, metric: &str) -> String {
    let digits = if metric == "availability" { 4 } else { 1 };
    let f = |x: f64| {
        let text = format!("{x:.digits$}");
        // A mean of -0.0004 reads as 0.0, not -0.0.
        match text.strip_prefix('-') {
            Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
            _ => text,
        }
    };
    match (i.mean, i.low, i.high) {
        (None, _, _) => "-".to_string(),
        (Some(m), Some(l), Some(h)) => format!("{} [{}, {}]", f(m), f(l), f(h)),
        (Some(m), _, _) => format!("{} (n={})", f(m), i.n),
    }
}

/// A table of `head` and `rows`: markdown for README, or columns aligned by two spaces.
pub(crate) fn grid(head: &[&str], rows: &[Vec<String>], markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        let _ = writeln!(out, "| {} |", head.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
        for r in rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        return out;
    }
    let width: Vec<usize> = (0..head.len())
        .map(|k| {
            rows.iter()
                .map(|r| r[k].len())
                .chain([head[k].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (k, c) in cells.enumerate() {
            let _ = write!(l, "{:<w$}  ", c, w = width[k]);
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(&mut head.iter().copied()));
    for r in rows {
        let _ = writeln!(out, "{}", line(&mut r.iter().map(String::as_str)));
    }
    out
}
