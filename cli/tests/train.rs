//! `simctl train`, `run --policy` and `remediate --policy` end to end: training is the same
//! file byte for byte run to run and at any --jobs, a bad policy file is refused with its
//! position, and a learned policy's actions go through the orchestrator's limits.

#![allow(clippy::disallowed_methods, reason = "tests read what simctl wrote")]

use std::path::Path;

mod common;
use common::{scratch, simctl, text};

/// The orchestrated scenario cut to 30 minutes (its failing replica, then the database
/// outage): quick episodes with an incident the menu can act on.
const SCENARIO: &str = "scenarios/remediation/orchestrated.ron";
const SHORT: &str = "horizon=\"40m\"";

fn train(out: &Path, jobs: &str, seed: &str) -> Vec<u8> {
    let o = simctl(&[
        "train",
        SCENARIO,
        "--set",
        SHORT,
        "--episodes",
        "18",
        "--seed",
        seed,
        "--jobs",
        jobs,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    std::fs::read(out).unwrap()
}

#[test]
fn training_is_byte_identical_run_to_run_and_at_any_jobs() {
    let dir = scratch("determinism");
    let a = train(&dir.join("a.json"), "1", "7");
    let b = train(&dir.join("b.json"), "1", "7");
    let c = train(&dir.join("c.json"), "2", "7");
    assert_eq!(a, b, "same seed, same file");
    assert_eq!(a, c, "--jobs 1 and --jobs 2 give the same file");
    let other = train(&dir.join("d.json"), "2", "8");
    assert_ne!(a, other, "the training seed matters");
    let policy: serde_json::Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(policy["format"], "simctl-policy");
    assert_eq!(policy["training_seed"], 7);
    assert_eq!(policy["episodes"], 18);
    assert_eq!(policy["version"], 2);
    // Each cell carries the spread of its returns, which the safe choice bounds it with.
    let arms = policy["table"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["arms"].as_array().unwrap().clone());
    for a in arms {
        assert!(a["m2"].as_f64().is_some_and(|m2| m2 >= 0.0), "{a}");
    }
    assert!(
        policy["table"].as_array().is_some_and(|t| !t.is_empty()),
        "the episodes met states"
    );
}

#[test]
fn a_bad_policy_file_exits_2_with_its_position() {
    let dir = scratch("bad");
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        "{\n  \"format\": \"simctl-policy\",\n  \"version\": 9,\n  \"scenario\": \"x\"\n}\n",
    )
    .unwrap();
    let o = simctl(&["run", SCENARIO, "--policy", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("{}:3:", bad.display())) && err.contains("field `version`"),
        "{err}"
    );
    let o = simctl(&[
        "run",
        "scenarios/mm1.ron",
        "--policy",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}

/// A policy that restarts the failing replica at once (its returns beat the planner's by far
/// in every state of the class), handed to a scenario whose limits
/// allow no restart of a third of `web`'s instances: the orchestrator refuses the step as
/// it would the planner's, and pages the human.
#[test]
fn the_learned_policys_actions_go_through_the_orchestrators_limits() {
    let dir = scratch("limits");
    let policy = dir.join("restart.json");
    let mut rows = Vec::new();
    for severity in ["low", "medium", "high", "critical"] {
        for actions in 0..=3 {
            rows.push(format!(
                "{{\"class\": \"instance_failure\", \"severity\": \"{severity}\", \"actions\": {actions}, \"arms\": [{{\"arm\": \"planner\", \"visits\": 3, \"value\": -100.0, \"m2\": 2.0}}, {{\"arm\": \"restart\", \"visits\": 3, \"value\": 0.0, \"m2\": 2.0}}]}}"
            ));
        }
    }
    std::fs::write(
        &policy,
        format!(
            "{{\"format\": \"simctl-policy\", \"version\": 2, \"scenario\": \"x\", \"scenario_hash\": \"0\", \"training_seed\": 0, \"episodes\": 0, \"batch\": 16, \"algorithm\": \"hand-written\", \"reward\": {{\"per_mttr_minute\": 1.0, \"per_harmful\": 60.0, \"per_unavailability\": 100.0}}, \"table\": [{}]}}",
            rows.join(",")
        ),
    )
    .unwrap();
    let run = |limits: &str| {
        let o = simctl(&[
            "run",
            SCENARIO,
            "--set",
            SHORT,
            "--set",
            limits,
            "--policy",
            policy.to_str().unwrap(),
            "--format",
            "json",
            "--series",
            "none",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        r["remediation"].clone()
    };
    let allowed = run("remediation.limits.max_capacity_fraction=0.34");
    let refused = run("remediation.limits.max_capacity_fraction=0.2");
    let first = |r: &serde_json::Value| r["incidents"][0].clone();
    let plan_of = |r: &serde_json::Value| first(r)["plans"][0].clone();
    assert!(
        allowed["automation"]
            .as_str()
            .unwrap()
            .starts_with("policy "),
        "{allowed}"
    );
    assert_eq!(
        plan_of(&allowed)["plan"]["name"],
        "learned-restart",
        "{allowed}"
    );
    assert!(plan_of(&allowed)["rejected"].is_null(), "{allowed}");
    assert!(
        allowed["totals"]["actions"].as_u64().unwrap() >= 1,
        "{allowed}"
    );
    // Beyond max_capacity_fraction: refused before it acts, and the human is paged.
    let rejected = plan_of(&refused)["rejected"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(rejected.contains("max_capacity_fraction"), "{refused}");
    assert_eq!(first(&refused)["actions"], 0, "{refused}");
    assert!(
        first(&refused)["escalation"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("plan rejected")),
        "{refused}"
    );
}
