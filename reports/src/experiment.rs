//! An experiment's outcome as a table (stdout) and as markdown (`experiment.md`, journal
//! entries).

use std::fmt::Write;

use sim_models::experiment::verdict::{Interval, Outcome, ProbeOutcome};

/// Mean of the finite values, or `None`.
fn mean(values: &[Option<f64>]) -> Option<f64> {
    let v: Vec<f64> = values.iter().flatten().copied().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// A number with 4 significant digits or so, compact.
fn num(x: f64) -> String {
    let a = x.abs();
    if x == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 0.1 {
        format!("{x:.3}")
    } else {
        format!("{x:.5}")
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("n/a".into(), num)
}

fn diff(d: Option<Interval>) -> String {
    d.map_or("n/a".into(), |d| {
        format!("{} [{}, {}]", num(d.estimate), num(d.low), num(d.high))
    })
}

fn deviated(p: &ProbeOutcome) -> String {
    match p.deviation_rate {
        Some(w) => format!(
            "{}/{} [{:.2}, {:.2}]",
            p.deviated_seeds.len(),
            p.evaluated,
            w.low,
            w.high
        ),
        None => format!("0/0 ({} unevaluable)", p.unevaluable.len()),
    }
}

/// The columns of one probe's row.
fn row(p: &ProbeOutcome) -> [String; 8] {
    let never = p.experiment.iter().filter(|v| v.is_none()).count();
    let mut exp = opt(mean(&p.experiment));
    if never > 0 && p.metric == "recovery_s" {
        exp = format!("{exp} ({never} never)");
    }
    [
        p.name.clone(),
        match &p.of {
            Some(of) => format!("{} of {of}", p.metric),
            None => p.metric.clone(),
        },
        format!("{:.0}-{:.0} s", p.from_s, p.to_s),
        p.tolerance.clone(),
        opt(mean(&p.control)),
        exp,
        diff(p.difference),
        deviated(p),
    ]
}

const HEADER: [&str; 8] = [
    "probe",
    "metric",
    "window",
    "tolerance",
    "control",
    "experiment",
    "exp - control [95% CI]",
    "deviated [95% CI]",
];

/// The outcome as plain text; `replay` is the command line that reproduces it.
pub fn experiment_table(o: &Outcome, replay: &str) -> String {
    let mut out = String::new();
    let w = &mut out;
    let seeds: Vec<String> = o.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(
        w,
        "experiment  {}   scenario {} (hash {})",
        o.experiment, o.scenario, o.scenario_hash
    );
    let _ = writeln!(
        w,
        "runs        control and experiment on {} seeds: {}",
        o.seeds.len(),
        seeds.join(", ")
    );
    for m in &o.method {
        let _ = writeln!(w, "method      {m}");
    }
    let _ = writeln!(w, "verdict     {}: {}", o.verdict, o.reason);
    let _ = writeln!(w);
    let rows: Vec<[String; 8]> = o.probes.iter().map(row).collect();
    let mut widths = HEADER.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let _ = writeln!(w, "{}", line(&HEADER.map(String::from)));
    for r in &rows {
        let _ = writeln!(w, "{}", line(r));
    }
    for line in unevaluable(o) {
        let _ = writeln!(w, "{line}");
    }
    if !o.aborts.is_empty() {
        let _ = writeln!(w);
        for a in &o.aborts {
            let _ = writeln!(
                w,
                "aborted     seed {}: stop condition `{}` ended the method at {:.1} s ({})",
                a.seed, a.stop, a.at_s, a.cause
            );
        }
    }
    if !o.learning.is_empty() {
        let _ = writeln!(w);
        for l in &o.learning {
            let _ = writeln!(w, "learning    {l}");
        }
    }
    let _ = writeln!(w);
    let _ = writeln!(w, "replay      {replay}");
    out
}

/// One line per probe and reason it could not be evaluated, with the seeds it affects.
fn unevaluable(o: &Outcome) -> Vec<String> {
    let mut out = Vec::new();
    for p in &o.probes {
        let mut reasons: Vec<(&str, Vec<u64>)> = Vec::new();
        for (seed, why) in &p.unevaluable {
            match reasons.iter_mut().find(|(r, _)| r == why) {
                Some((_, seeds)) => seeds.push(*seed),
                None => reasons.push((why, vec![*seed])),
            }
        }
        for (why, seeds) in reasons {
            let list: Vec<String> = seeds.iter().map(u64::to_string).collect();
            out.push(format!(
                "unevaluable `{}` on {} of {} seeds ({}): {why}",
                p.name,
                seeds.len(),
                o.seeds.len(),
                list.join(", ")
            ));
        }
    }
    out
}

/// The outcome as markdown.
pub fn experiment_md(o: &Outcome, replay: &str) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Experiment: {}\n", o.experiment);
    let _ = writeln!(w, "**Verdict: {}.** {}\n", o.verdict, o.reason);
    let _ = writeln!(
        w,
        "Scenario `{}` (hash `{}`); control and experiment on the same {} seeds ({}).\n",
        o.scenario,
        o.scenario_hash,
        o.seeds.len(),
        o.seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(w, "Method:\n");
    for m in &o.method {
        let _ = writeln!(w, "- {m}");
    }
    let _ = writeln!(w, "\n## Hypothesis\n");
    let _ = writeln!(w, "| {} |", HEADER.join(" | "));
    let _ = writeln!(w, "|{}", " --- |".repeat(HEADER.len()));
    for p in &o.probes {
        let _ = writeln!(w, "| {} |", row(p).join(" | "));
    }
    let lines = unevaluable(o);
    if !lines.is_empty() {
        let _ = writeln!(w);
        for l in lines {
            let _ = writeln!(w, "- {l}");
        }
    }
    if !o.aborts.is_empty() {
        let _ = writeln!(w, "\n## Aborted\n");
        for a in &o.aborts {
            let _ = writeln!(
                w,
                "- seed {}: `{}` ended the method at {:.1} s ({})",
                a.seed, a.stop, a.at_s, a.cause
            );
        }
    }
    let _ = writeln!(w, "\nReplay: `{replay}`");
    out
}
