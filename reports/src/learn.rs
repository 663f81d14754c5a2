//! A learned policy's evaluation (`simctl remediate --policy`) as a table: each metric's
//! mean [95% interval] for the policy, simctl's planner and the human alone, the paired
//! difference policy - planner, and the must-show's verdict.

use std::fmt::Write;

use sim_models::learn::evaluate::Evaluation;

use crate::remediation::{grid, interval};

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
    let rows: Vec<Vec<String>> = SHOWN
        .iter()
        .filter_map(|m| e.rows.iter().find(|r| r.metric == *m))
        .map(|r| {
            vec![
                r.metric.clone(),
                interval(&r.policy, &r.metric),
                interval(&r.planner, &r.metric),
                interval(&r.human, &r.metric),
                interval(&r.policy_minus_planner, &r.metric),
            ]
        })
        .collect();
    let mut out = grid(&head, &rows, markdown);
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
