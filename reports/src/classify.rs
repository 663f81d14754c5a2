//! `simctl classify`'s confusion matrix, per-class precision and recall, and the times to
//! detect and to classify, as a plain table.

use std::fmt::Write;

use sim_models::remediation::class::IncidentClass;
use sim_models::remediation::confusion::{ClassifyReport, Times};

/// Column heads, short enough for a terminal.
fn short(c: IncidentClass) -> &'static str {
    match c {
        IncidentClass::Overload => "overload",
        IncidentClass::DependencyDown => "dep_down",
        IncidentClass::DependencySlow => "dep_slow",
        IncidentClass::BadConfig => "bad_cfg",
        IncidentClass::InstanceFailure => "instance",
        IncidentClass::RetryStorm => "storm",
        IncidentClass::ZoneLoss => "zone",
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{:.0}%", 100.0 * x))
}

fn secs(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.0}s"))
}

fn times(t: &Times) -> String {
    format!("{} / {}", secs(t.mean_s), secs(t.p90_s))
}

/// The report as a table: truth rows, guessed columns.
pub fn classify_table(r: &ClassifyReport) -> String {
    let c = &r.confusion;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "classify {} ({} seeds): {} incidents, {} detected, {} classified right ({} with the right target)",
        r.scenario,
        r.seeds.len(),
        c.incidents,
        c.detected,
        c.correct,
        c.correct_target
    );
    let _ = writeln!(out);
    let mut head = format!("{:<17}", "truth \\ guessed");
    for class in IncidentClass::ALL {
        let _ = write!(head, " {:>8}", short(class));
    }
    let _ = write!(
        head,
        " {:>8} {:>8} {:>6} {:>7} {:>9} {:>13} {:>13}",
        "not_det", "unclass", "total", "recall", "precision", "detect mean/p90", "classify mean/p90"
    );
    let _ = writeln!(out, "{head}");
    for row in &c.rows {
        let mut line = format!("{:<17}", row.truth.name());
        for n in &row.guessed {
            let _ = write!(line, " {n:>8}");
        }
        let _ = write!(
            line,
            " {:>8} {:>8} {:>6} {:>7} {:>9} {:>15} {:>17}",
            row.not_detected,
            row.unclassified,
            row.incidents,
            pct(row.recall),
            pct(row.precision),
            times(&row.time_to_detect),
            times(&row.time_to_classify)
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "time to detect: mean {}, p90 {} ({} detected); to classify: mean {}, p90 {} ({} classified)",
        secs(c.time_to_detect.mean_s),
        secs(c.time_to_detect.p90_s),
        c.time_to_detect.n,
        secs(c.time_to_classify.mean_s),
        secs(c.time_to_classify.p90_s),
        c.time_to_classify.n
    );
    let _ = writeln!(out, "replay: {}", r.replay);
    out
}
