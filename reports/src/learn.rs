//! A learned policy's evaluation (`simctl remediate --policy`) as a table: each metric's
//! mean [95% interval] for the policy, simctl's planner and the human alone, the paired
//! difference policy - planner, and the must-show's verdict.

use std::fmt::Write;

use sim_models::remediation::learn::evaluate::Evaluation;

use crate::remediation::interval;

/// The metrics shown (the others are in the JSON).
const SHOWN: [&str; 6] = [
    "mttr_s",
    "availability",
    "harmful",
    "actions",
    "escalations",
    "mttd_s",
];

pub fn policy_table(e: &Evaluation, markdown: bool) -> String {
    let head = [
        "metric",
        "learned policy",
        "planner",
        "human only",
        "policy - planner (paired)",
    ];
    let rows: Vec<[String; 5]> = SHOWN
        .iter()
        .filter_map(|m| e.rows.iter().find(|r| r.metric == *m))
        .map(|r| {
            [
                r.metric.clone(),
                interval(&r.policy, &r.metric),
                interval(&r.planner, &r.metric),
                interval(&r.human, &r.metric),
                interval(&r.policy_minus_planner, &r.metric),
            ]
        })
        .collect();
    let mut out = String::new();
    if markdown {
        let _ = writeln!(out, "| {} |", head.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(head.len()));
        for r in &rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
    } else {
        let width: Vec<usize> = (0..5)
            .map(|k| {
                rows.iter()
                    .map(|r| r[k].len())
                    .chain([head[k].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: [&str; 5]| {
            let mut l = String::new();
            for (k, c) in cells.iter().enumerate() {
                let _ = write!(l, "{:<w$}  ", c, w = width[k]);
            }
            l.trim_end().to_string()
        };
        let _ = writeln!(out, "{}", line(head));
        for r in &rows {
            let _ = writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
        }
    }
    let v = &e.verdict;
    let yes_no = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "undetermined (no incident restored)",
    };
    let _ = writeln!(
        out,
        "{} held-out seeds of {} (policy {} trained on {} episodes from seed {}); mean [95% t interval]",
        e.seeds, e.scenario, e.policy, e.episodes, e.training_seed
    );
    let _ = writeln!(
        out,
        "as good as the planner: MTTR within or below its interval {}, availability within or above it {}; harmful actions {} (policy) vs {} (planner): {}",
        yes_no(v.mttr_as_good),
        yes_no(v.availability_as_good),
        v.harmful.0,
        v.harmful.1,
        if v.harmful.0 <= v.harmful.1 {
            "never more harmful"
        } else {
            "MORE HARMFUL"
        }
    );
    out
}
