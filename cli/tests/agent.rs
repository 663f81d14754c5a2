//! `simctl run --agent CMD` end to end: the example agent drives remediation through the
//! protocol, runs are byte-identical, a trajectory replays without the agent to the same
//! result, a bad, late, silent or exiting agent stops the run naming the step with its
//! partial results kept, and the orchestrator's limits apply to an agent's plans exactly as
//! to a plans file's. The protocol's JSON Schemas are checked against real trajectories.

#![allow(clippy::disallowed_methods, reason = "tests read what simctl wrote")]

#[path = "agent/schema.rs"]
mod schema;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{scratch, text};

use serde_json::Value;

const SCENARIO: &str = "cli/tests/agent/failing-instance.ron";
const TRIAGE: &str = "python3 examples/agents/triage_agent.py";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn simctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simctl"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("simctl runs")
}

/// `simctl run SCENARIO --format json` with `extra`, its trajectory into `dir/NAME.jsonl`.
fn run(dir: &Path, name: &str, extra: &[&str]) -> (Output, PathBuf) {
    let t = dir.join(format!("{name}.jsonl"));
    let mut args = vec!["run", SCENARIO, "--format", "json"];
    args.extend_from_slice(extra);
    let t_arg = t.to_str().unwrap().to_string();
    if extra.contains(&"--agent") || extra.contains(&"--replay") {
        args.extend_from_slice(&["--trajectory", &t_arg]);
    }
    (simctl(&args), t)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)))
}

fn lines(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every step report of every plan of every incident.
fn steps(result: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for incident in result["remediation"]["incidents"].as_array().unwrap() {
        for plan in incident["plans"].as_array().into_iter().flatten() {
            out.extend(plan["steps"].as_array().unwrap().iter().cloned());
        }
    }
    out
}

#[test]
fn the_example_agent_drives_remediation_identically_and_replays_without_itself() {
    let dir = scratch("triage");
    let (a, ta) = run(&dir, "a", &["--agent", TRIAGE]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    let result = json(&a);
    let rem = &result["remediation"];
    assert_eq!(rem["automation"], format!("agent {TRIAGE}"));
    // Its rule for a failing instance: drain and restart it, as the report shows.
    let actions: Vec<String> = steps(&result)
        .iter()
        .filter(|s| s["outcome"] != "not_started")
        .map(|s| s["action"].as_str().unwrap().to_string())
        .collect();
    assert!(
        actions
            .iter()
            .any(|a| a.contains("drain") && a.contains("api#1"))
            && actions
                .iter()
                .any(|a| a.contains("restart") && a.contains("api#1")),
        "{actions:?}"
    );
    assert!(rem["totals"]["actions"].as_u64().unwrap() >= 2, "{rem}");
    let trajectory = lines(&ta);
    assert!(trajectory.iter().any(|l| l["type"] == "answer"
        && l["answer"]["type"] == "actions"
        && l["answer"]["note"].as_str().unwrap().contains("api#1")));

    // The same run again: the same bytes, result and trajectory.
    let (b, tb) = run(&dir, "b", &["--agent", TRIAGE]);
    assert_eq!(text(&a.stdout), text(&b.stdout));
    assert_eq!(std::fs::read(&ta).unwrap(), std::fs::read(&tb).unwrap());

    // Its trajectory without the agent: the same result bytes, and the same trajectory.
    let ta_arg = ta.to_str().unwrap();
    let (r, tr) = run(&dir, "replayed", &["--replay", ta_arg]);
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    assert_eq!(text(&a.stdout), text(&r.stdout));
    assert_eq!(std::fs::read(&ta).unwrap(), std::fs::read(&tr).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_replay_that_diverges_names_the_step_and_the_field() {
    let dir = scratch("diverge");
    let (a, ta) = run(&dir, "a", &["--agent", TRIAGE]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    // Another seed: the hello differs, refused before the run.
    let ta_arg = ta.to_str().unwrap();
    let out = simctl(&["run", SCENARIO, "--seed", "7", "--replay", ta_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("at seed it has 42, this run 7"),
        "{}",
        text(&out.stderr)
    );
    // A recorded observation edited: the run stops at that step, naming the field.
    let mut records = lines(&ta);
    let at = records.iter().position(|l| l["type"] == "observe").unwrap();
    let step = records[at]["step"].as_u64().unwrap();
    records[at]["signals"]["now_s"] = Value::from(-1.0);
    let edited = dir.join("edited.jsonl");
    let body: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&edited, body.join("\n") + "\n").unwrap();
    let out = simctl(&[
        "run",
        SCENARIO,
        "--format",
        "json",
        "--replay",
        edited.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stopped = json(&out)["stopped"].to_string();
    assert!(
        stopped.contains(&format!("step {step} diverges"))
            && stopped.contains("at signals.now_s it has -1.0"),
        "{stopped}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A failing agent: the run stops (exit 1) naming the step; its result is printed and
/// written whole, and the trajectory ends with the error.
fn fails(name: &str, agent: &str, timeout: &str, expect: &[&str]) {
    let dir = scratch(name);
    let out_dir = dir.join("out");
    let (out, t) = run(
        &dir,
        name,
        &[
            "--agent",
            agent,
            "--agent-timeout",
            timeout,
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stderr));
    let result = json(&out);
    let stopped = result["stopped"].to_string();
    for e in expect {
        assert!(stopped.contains(e), "{name}: {e:?} not in {stopped}");
    }
    assert!(
        text(&out.stderr).contains("stopped early"),
        "{}",
        text(&out.stderr)
    );
    // Partial results: simulated up to the step, not to the horizon, and written.
    let simulated = result["simulated_s"].as_f64().unwrap();
    assert!(simulated > 60.0 && simulated < 360.0, "{name}: {simulated}");
    let saved: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(saved["stopped"], result["stopped"]);
    assert!(result["remediation"]["incidents"].as_array().unwrap().len() == 1);
    let records = lines(&t);
    let last = records.last().unwrap();
    assert_eq!(last["type"], "error", "{name}");
    assert!(stopped.contains(last["message"].as_str().unwrap().split('(').next().unwrap()));
    // The error replays too: the same stop, the same bytes.
    let (r, _) = run(&dir, "replayed", &["--replay", t.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), text(&r.stdout), "{name}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_agent_answering_garbage_stops_the_run_naming_the_step_and_the_line() {
    fails(
        "garbage",
        "read hello; read obs; echo 'restart everything please'",
        "10s",
        &[
            "step 0",
            "output line 1",
            "column 1",
            "restart everything please",
        ],
    );
    fails(
        "unknown-action",
        r#"read hello; read obs; echo '{"type":"actions","actions":[{"kind":"reboot","target":"api#1"}]}'"#,
        "10s",
        &["step 0", "unknown variant `reboot`", "column"],
    );
}

#[test]
fn an_agent_answering_late_or_never_or_exiting_stops_the_run_naming_the_step() {
    fails(
        "late",
        r#"read hello; read obs; sleep 3; echo '{"type":"wait"}'"#,
        "300ms",
        &["did not answer step 0 within 300ms"],
    );
    fails(
        "never",
        "read hello; while read obs; do :; done",
        "300ms",
        &["did not answer step 0 within 300ms"],
    );
    fails(
        "exits",
        "read hello; read obs; exit 3",
        "10s",
        &["ended without answering step 0", "exit status: 3"],
    );
}

#[test]
fn the_step_budget_stops_the_run_at_the_next_step() {
    let dir = scratch("budget");
    let agent = r#"read hello; while read obs; do echo '{"type":"wait"}'; done"#;
    let (out, _) = run(&dir, "budget", &["--agent", agent, "--agent-steps", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stopped = json(&out)["stopped"].to_string();
    assert!(
        stopped.contains("step budget is spent") && stopped.contains("step 1 came next"),
        "{stopped}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// An agent that answers `answer` at its first step, then waits.
fn answering(dir: &Path, answer: &Value) -> String {
    let script = dir.join("agent.sh");
    std::fs::write(
        &script,
        format!(
            "read hello\nread obs\necho '{answer}'\nwhile read obs; do echo '{{\"type\":\"wait\"}}'; done\n"
        ),
    )
    .unwrap();
    format!("sh {}", script.display())
}

fn restart(target: &str, after: &[&str]) -> Value {
    serde_json::json!({
        "id": format!("restart-{target}"),
        "action": { "kind": "restart", "target": target, "restart_time": "20s" },
        "after": after,
    })
}

#[test]
fn the_orchestrators_limits_apply_to_an_agents_plans_as_to_a_plans_files() {
    let dir = scratch("limits");
    let plans_file = |plan: &Value| {
        let file = dir.join("plans.json");
        std::fs::write(&file, serde_json::json!({ "plans": [plan] }).to_string()).unwrap();
        simctl(&[
            "run",
            SCENARIO,
            "--format",
            "json",
            "--plans",
            file.to_str().unwrap(),
        ])
    };
    // Every instance of api at once: a plans file with it is refused before the run; the
    // agent's plan, as a plan or as actions, is rejected by the same check with the same
    // reason, so nothing is restarted and the incident goes to the human.
    let at_once = serde_json::json!({ "name": "restart-everything",
        "steps": [restart("api#0", &[]), restart("api#1", &[]), restart("api#2", &[])] });
    let by_file = plans_file(&at_once);
    assert_eq!(by_file.status.code(), Some(2), "{}", text(&by_file.stderr));
    let error: Value = serde_json::from_slice(&by_file.stderr).unwrap();
    let reason = error["diagnostics"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("max_capacity_fraction"), "{reason}");
    let steps = at_once["steps"].as_array().unwrap();
    let as_actions: Vec<Value> = steps.iter().map(|s| s["action"].clone()).collect();
    // As actions the steps are `a1`, `a2`, ...: the same reason under those names.
    let renamed = reason
        .replace("restart-api#0", "a1")
        .replace("restart-api#1", "a2");
    for (answer, reason) in [
        (
            serde_json::json!({ "type": "plan", "plan": at_once }),
            &reason,
        ),
        (
            serde_json::json!({ "type": "actions", "actions": as_actions }),
            &renamed,
        ),
    ] {
        let (out, _) = run(&dir, "at-once", &["--agent", &answering(&dir, &answer)]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let r = json(&out);
        let plan = &r["remediation"]["incidents"][0]["plans"][0];
        let rejected = plan["rejected"].as_str().unwrap_or_default();
        assert!(
            rejected.ends_with(reason.as_str()),
            "{rejected}\nvs {reason}"
        );
        let actions = r["actions"].as_array().into_iter().flatten();
        assert!(!actions.into_iter().any(|a| a["kind"] == "restart"));
        assert!(r["remediation"]["incidents"][0]["escalation"].is_object());
    }
    // One at a time (each after the one before): the same run from the agent and the file,
    // step for step and action for action, do-no-harm included.
    let in_order = serde_json::json!({ "name": "rolling-restart",
        "steps": [restart("api#0", &[]), restart("api#1", &["restart-api#0"]),
                  restart("api#2", &["restart-api#1"])] });
    let by_file = plans_file(&in_order);
    let answer = serde_json::json!({ "type": "plan", "plan": in_order });
    let (by_agent, _) = run(&dir, "in-order", &["--agent", &answering(&dir, &answer)]);
    for out in [&by_agent, &by_file] {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let (a, f) = (json(&by_agent), json(&by_file));
    let first_plan = |r: &Value| r["remediation"]["incidents"][0]["plans"][0].clone();
    assert_eq!(first_plan(&a), first_plan(&f));
    assert_eq!(a["actions"], f["actions"]);
    // Restarting a healthy api#0 first makes things worse: do-no-harm counts it harmful
    // (a restart cannot be undone) and stops the plan, for either decider.
    let outcomes: Vec<&str> = a["remediation"]["incidents"][0]["plans"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["harmful", "not_started", "not_started"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_protocols_schemas_hold_for_what_simctl_writes_and_refuse_bad_messages() {
    let schemas = schema::Schemas::new(&root().join("docs/agent"));
    let dir = scratch("schema");
    let (a, t) = run(&dir, "a", &["--agent", TRIAGE]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    let records = lines(&t);
    let mut seen = std::collections::BTreeSet::new();
    for r in &records {
        let kind = r["type"].as_str().unwrap();
        seen.insert(kind.to_string());
        if let Some(why) = schemas.check("trajectory.schema.json", r) {
            panic!("a {kind} record does not match trajectory.schema.json: {why}\n{r}");
        }
        let own = match kind {
            "hello" => Some(("hello.schema.json", r.clone())),
            "observe" => Some(("observe.schema.json", r.clone())),
            "answer" => Some(("answer.schema.json", r["answer"].clone())),
            _ => None,
        };
        if let Some((file, v)) = own {
            assert_eq!(schemas.check(file, &v), None, "{file}: {v}");
        }
    }
    assert!(
        ["hello", "observe", "answer"]
            .iter()
            .all(|k| seen.contains(*k)),
        "{seen:?}"
    );
    // An open incident was observed (the incident object's schema was used).
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "observe" && r["incident"].is_object())
    );

    // Every action kind, as serde writes it, matches the answer schema.
    let every = serde_json::json!({ "type": "actions", "step": 0, "note": "all", "actions": [
        { "kind": "restart", "target": "api#1", "restart_time": "20s" },
        { "kind": "scale", "service": "api", "replicas": 4, "provisioning": "30s" },
        { "kind": "failover", "database": "db" },
        { "kind": "rollback", "config": "flags" },
        { "kind": "shed_load", "service": "api", "rps": 50.0 },
        { "kind": "limit", "service": "api", "max_concurrency": 8 },
        { "kind": "drain", "target": "api#1" },
        { "kind": "degrade", "caller": "web", "callee": "api" },
        { "kind": "evacuate_zone", "zone": "a" },
    ]});
    assert_eq!(schemas.check("answer.schema.json", &every), None);
    let plan = serde_json::json!({ "type": "plan", "plan": { "name": "p", "class": "bad_config",
        "steps": [ { "id": "r", "action": { "kind": "rollback", "config": "flags" },
                     "verify": { "signal": "error_rate", "of": "api", "below": 0.01, "within": "60s" } },
                   { "id": "d", "action": { "kind": "drain", "target": "api#1" }, "after": ["r"] } ] } });
    assert_eq!(schemas.check("answer.schema.json", &plan), None);
    // What simctl refuses, the schema refuses too.
    for bad in [
        serde_json::json!({ "type": "reboot" }),
        serde_json::json!({ "type": "wait", "plans": [] }),
        serde_json::json!({ "type": "actions", "actions": [] }),
        serde_json::json!({ "type": "actions", "actions": [{ "kind": "reboot", "target": "a" }] }),
        serde_json::json!({ "type": "actions", "actions": [{ "kind": "drain" }] }),
        serde_json::json!({ "type": "plan" }),
        serde_json::json!({ "type": "wait", "step": -1 }),
    ] {
        assert!(
            schemas.check("answer.schema.json", &bad).is_some(),
            "accepted {bad}"
        );
    }
    let mut hello = records[0].clone();
    hello["topology"]["services"][0]["instances"] = serde_json::json!([{ "name": "x" }]);
    assert!(schemas.check("hello.schema.json", &hello).is_some());
    let _ = std::fs::remove_dir_all(&dir);
}
