//! The `simctl` binary end to end: exit codes, streams, byte-identical output.
//! (Here rather than in tests/ because only this package's tests can find its binary.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn simctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simctl"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("simctl runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("simctl-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_json_is_byte_identical_across_runs_and_matches_theory() {
    let args = [
        "run",
        "scenarios/mm1.ron",
        "--seed",
        "42",
        "--format",
        "json",
    ];
    let (a, b) = (simctl(&args), simctl(&args));
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["seed"], 42);
    assert_eq!(v["stopped"], "horizon");
    // One run's mean is an estimate: within 10% of 1/(mu-lambda) = 10 ms. The tight
    // check over many seeds is tests/ theory::mm1_matches_theory_at_three_loads.
    let mean = v["latency_ms"]["mean"].as_f64().unwrap();
    assert!((mean - 10.0).abs() < 1.0, "mean sojourn {mean} ms");
    assert!(
        v["replay"]
            .as_str()
            .unwrap()
            .starts_with("simctl run scenarios/mm1.ron --seed 42")
    );
}

#[test]
fn bad_input_exits_2_with_a_positioned_message_and_no_stdout() {
    let dir = scratch("bad");
    let cases = [
        (
            "syntax.ron",
            "Scenario(name: \"x\" seed: 1)",
            "syntax.ron:1:20: error",
        ),
        (
            "rate.ron",
            "Scenario(name: \"x\", seed: 1, horizon: \"1s\",\n clients: [Client(name: \"c\", target: \"s\", load: Open(rate_rps: -1.0))],\n services: [Service(name: \"s\", workers: 1, service_time: Constant(\"1ms\"))])",
            "rate.ron:2:64: error: field `clients[0].load.rate_rps`",
        ),
    ];
    for (file, body, expected) in cases {
        let path = dir.join(file);
        std::fs::write(&path, body).unwrap();
        for cmd in ["run", "validate"] {
            let out = simctl(&[cmd, path.to_str().unwrap()]);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{cmd} {file}: {}",
                text(&out.stderr)
            );
            assert!(
                text(&out.stderr).contains(expected),
                "{cmd} {file}: {}",
                text(&out.stderr)
            );
            assert!(out.stdout.is_empty());
        }
    }
    let missing = simctl(&["run", "no/such/file.ron"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("cannot read scenario no/such/file.ron"));
    let usage = simctl(&["run", "--frobnicate"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn validate_accepts_the_bundled_scenarios() {
    for file in ["scenarios/mm1.ron", "scenarios/mmc.ron"] {
        let out = simctl(&["validate", file]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("ok"));
    }
}

#[test]
fn out_dir_gets_the_summary_whole() {
    let dir = scratch("out");
    let out = simctl(&[
        "run",
        "scenarios/mmc.ron",
        "--format",
        "json",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = std::fs::read(dir.join("summary.json")).unwrap();
    assert_eq!(written, out.stdout);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
}

#[test]
fn a_guard_stop_is_reported_with_exit_1_and_a_replay_line() {
    let dir = scratch("guard");
    let path = dir.join("overload.ron");
    std::fs::write(
        &path,
        r#"Scenario(name: "overload", seed: 3, horizon: "1h",
            limits: (max_in_flight: 5000),
            clients: [Client(name: "c", target: "s", load: Open(rate_rps: 2000.0))],
            services: [Service(name: "s", workers: 1, service_time: Exponential(mean: "1ms"))])"#,
    )
    .unwrap();
    let out = simctl(&["run", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("warning"),
        "rho 2 with an unbounded queue is warned about: {err}"
    );
    assert!(err.contains("in_flight_limit"), "{err}");
    assert!(err.contains("--seed 3"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["stopped"]
            .as_str()
            .unwrap()
            .starts_with("in_flight_limit")
    );
    assert!(v["simulated_s"].as_f64().unwrap() < 10.0);
}

#[test]
fn bench_prints_its_measurements() {
    let out = simctl(&["bench", "--requests", "20000"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["events", "wall_s", "events_per_sec", "peak_rss_mb"] {
        assert!(!v[key].is_null(), "{key} missing in {v}");
    }
    assert!(v["events"].as_u64().unwrap() > 40_000);
}

#[test]
fn json_format_reports_input_errors_as_json() {
    let dir = scratch("json-errors");
    let path = dir.join("bad.ron");
    std::fs::write(
        &path,
        "Scenario(name: \"x\", seed: 1, horizon: \"1s\",\n clients: [Client(name: \"c\", target: \"s\", load: Open(rate_rps: -1.0))],\n services: [Service(name: \"s\", workers: 0, service_time: Constant(\"1ms\"))])",
    )
    .unwrap();
    let out = simctl(&["run", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err: serde_json::Value =
        serde_json::from_slice(&out.stderr).expect("stderr is one JSON object");
    assert_eq!(err["error"], "input");
    let d = err["diagnostics"].as_array().unwrap();
    assert_eq!(d.len(), 2, "every problem: {err}");
    assert_eq!(
        (d[0]["line"].as_u64(), d[0]["col"].as_u64()),
        (Some(2), Some(64))
    );
    assert_eq!(d[1]["field"], "services[0].workers");
}

#[test]
fn limit_flags_override_the_scenario_and_stop_cleanly() {
    let out = simctl(&[
        "run",
        "scenarios/v0.1.ron",
        "--format",
        "json",
        "--max-in-flight",
        "2000",
    ]);
    assert_eq!(out.status.code(), Some(1), "a guard stop is exit 1");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stopped = v["stopped"].as_str().unwrap();
    assert!(
        stopped.starts_with("in_flight_limit") && stopped.contains("limit 2000"),
        "{stopped}"
    );
    let out = simctl(&[
        "run",
        "scenarios/mm1.ron",
        "--format",
        "json",
        "--max-events",
        "1000",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["stopped"]
            .as_str()
            .unwrap()
            .starts_with("event_budget: 1000 events"),
        "{}",
        v["stopped"]
    );
    assert_eq!(v["events"], 1000);
    let zero = simctl(&["run", "scenarios/mm1.ron", "--max-events", "0"]);
    assert_eq!(zero.status.code(), Some(2));
}
