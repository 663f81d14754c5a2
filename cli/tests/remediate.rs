//! `simctl run --plans` and `simctl remediate` end to end: a bad plans file exits 2 with
//! file:line:col; the comparison prints the same bytes at any --jobs; automation (the
//! bundled runbook) lowers MTTR against the human alone with a 95% interval of the paired
//! difference that excludes 0.

#![allow(clippy::disallowed_methods, reason = "tests write plan files")]

use std::path::PathBuf;

mod common;
use common::{simctl, text};

const SCENARIO: &str = "scenarios/remediation/orchestrated.ron";
const RUNBOOK: &str = "scenarios/remediation/orchestrated-runbook.json";

fn plan_file(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("simctl-remediate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path
}

#[test]
fn a_bad_plans_file_exits_2_with_its_position() {
    let cases = [
        (
            "cycle.json",
            r#"{ "plans": [ { "name": "loop", "steps": [
  { "id": "a", "action": { "kind": "drain", "target": "web#1" }, "after": ["b"] },
  { "id": "b", "action": { "kind": "drain", "target": "web#2" }, "after": ["a"] } ] } ] }"#,
            "cycle",
        ),
        (
            "unknown.json",
            r#"{ "plans": [ { "name": "x", "steps": [
  { "id": "a", "action": { "kind": "reboot_everything", "target": "web" } } ] } ] }"#,
            "reboot_everything",
        ),
        (
            "unsafe.json",
            r#"{ "plans": [ { "name": "restart-all", "steps": [
  { "id": "a", "action": { "kind": "restart", "target": "web", "restart_time": "30s" } } ] } ] }"#,
            "max_capacity_fraction",
        ),
    ];
    for (name, body, word) in cases {
        let path = plan_file(name, body);
        let p = path.to_str().unwrap();
        let out = simctl(&["run", SCENARIO, "--plans", p, "--format", "json"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(out.stdout.is_empty(), "{name}");
        assert!(err.contains(word), "{name}: {err}");
        // file:line:col, in the JSON diagnostics.
        let v: serde_json::Value = serde_json::from_str(err.trim()).expect("a JSON error");
        let d = &v["diagnostics"][0];
        assert_eq!(d["file"], p, "{name}: {err}");
        assert!(d["line"].as_u64().unwrap() >= 1 && d["col"].as_u64().unwrap() >= 1);
        let out = simctl(&["remediate", SCENARIO, "--plans", p, "--seeds", "2"]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out.stderr));
    }
}

#[test]
fn run_with_plans_shows_the_remediation_summary() {
    let out = simctl(&["run", SCENARIO, "--plans", RUNBOOK, "--seed", "1"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("remediate 2 incidents"), "{stdout}");
    assert!(
        stdout.contains(&format!("automation plans {RUNBOOK}")),
        "{stdout}"
    );
}

fn comparison(seeds: &str, jobs: &str) -> serde_json::Value {
    let out = simctl(&[
        "remediate",
        SCENARIO,
        "--plans",
        RUNBOOK,
        "--seeds",
        seeds,
        "--jobs",
        jobs,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn remediate_prints_the_same_bytes_at_any_jobs() {
    let one = simctl(&[
        "remediate",
        SCENARIO,
        "--plans",
        RUNBOOK,
        "--seeds",
        "4",
        "--jobs",
        "1",
    ]);
    let two = simctl(&[
        "remediate",
        SCENARIO,
        "--plans",
        RUNBOOK,
        "--seeds",
        "4",
        "--jobs",
        "2",
    ]);
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    assert_eq!(one.stdout, two.stdout);
}

/// The issue's must-show on fewer seeds than README's 100: the interval of the paired MTTR
/// difference lies below 0.
#[test]
fn automation_lowers_mttr_against_the_human_alone() {
    let v = comparison("20", "2");
    let mttr = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "mttr_s")
        .unwrap();
    let high = mttr["difference"]["high"].as_f64().expect("an interval");
    assert!(high < 0.0, "{mttr}");
    assert_eq!(mttr["difference"]["n"], 20);
}
