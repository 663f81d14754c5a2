//! The `simctl` binary end to end: exit codes, streams, byte-identical output.
//! (Here rather than in tests/ because only this package's tests can find its binary.)

#![allow(clippy::disallowed_methods, reason = "tests read what simctl wrote")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{scratch, simctl, text};

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
    let names = file_names(&dir);
    assert!(
        !names.iter().any(|n| n.contains(".tmp")),
        "no temporary files left: {names:?}"
    );
    let charts = check_charts(
        &dir,
        &[
            "latency",
            "load",
            "amplification",
            "latency_cdf",
            "queue_depth",
        ],
    );
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("![") && report.contains("latency.png"),
        "{report}"
    );

    // `simctl chart` redraws the same charts from the saved summary alone.
    let again = scratch("out-again");
    let redraw = simctl(&[
        "chart",
        dir.join("summary.json").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(redraw.status.code(), Some(0), "{}", text(&redraw.stderr));
    for name in charts {
        assert_eq!(
            std::fs::read(dir.join(&name)).unwrap(),
            std::fs::read(again.join(&name)).unwrap(),
            "{name}"
        );
    }
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Each chart exists as a 1200x800 PNG with something drawn on it, and as an SVG with its
/// text; returns the file names checked.
fn check_charts(dir: &Path, stems: &[&str]) -> Vec<String> {
    let mut checked = Vec::new();
    for stem in stems {
        let png = std::fs::read(dir.join(format!("{stem}.png")))
            .unwrap_or_else(|e| panic!("{stem}.png: {e}"));
        let c = reports::check_png(&png).unwrap_or_else(|e| panic!("{stem}.png: {e}"));
        assert_eq!((c.width, c.height), (1200, 800), "{stem}.png");
        assert!(
            c.colors >= 8 && c.ink > 0.02,
            "{stem}.png looks blank: {c:?}"
        );
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("width=\"1200\""),
            "{stem}.svg"
        );
        assert!(
            svg.matches("<text").count() >= 10,
            "{stem}.svg has its labels"
        );
        assert!(
            svg.contains("<polyline") || svg.contains("<path"),
            "{stem}.svg has lines"
        );
        checked.extend([format!("{stem}.png"), format!("{stem}.svg")]);
    }
    checked
}

#[test]
fn compare_out_writes_results_overlaid_charts_and_a_report() {
    let dir = scratch("compare");
    let out = simctl(&[
        "compare",
        "scenarios/v0.1.ron",
        "scenarios/v0.2.ron",
        "--seed",
        "42",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    check_charts(
        &dir,
        &[
            "latency",
            "load",
            "amplification",
            "latency_cdf",
            "queue_depth",
        ],
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(results.as_array().unwrap().len(), 2);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("v0.1") && report.contains("v0.2"),
        "{report}"
    );
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
    for key in [
        "events",
        "wall_s",
        "events_per_sec",
        "requests_per_sec",
        "events_per_request",
        "peak_rss_mb",
    ] {
        assert!(!v[key].is_null(), "{key} missing in {v}");
    }
    assert!(v["events"].as_u64().unwrap() > 39_000);
    // Its link has zero latency: a request is its arrival and its work done (the hops
    // there and back are not events), plus a few window ends.
    let per_request = v["events_per_request"].as_f64().unwrap();
    assert!((1.99..2.01).contains(&per_request), "{v}");
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

/// A sweep small enough for a test: 4 points x 2 seeds of the v0.6 ladder step.
const SWEEP: [&str; 6] = [
    "sweep",
    "scenarios/v0.6.ron",
    "--param",
    "services.db.workers=6..9:1",
    "--seeds",
    "2",
];

fn sweep_into(dir: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&str> = SWEEP.to_vec();
    args.extend(["--out", dir.to_str().unwrap()]);
    args.extend(extra);
    simctl(&args)
}

/// The files a finished sweep leaves, by name and bytes (the saved runs included).
fn sweep_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for sub in [dir.to_path_buf(), dir.join("runs")] {
        for e in std::fs::read_dir(&sub).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                files.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn sweep_output_is_byte_identical_for_one_and_two_jobs() {
    let (one, two) = (scratch("sweep-j1"), scratch("sweep-j2"));
    let a = sweep_into(&one, &["--jobs", "1", "--format", "csv"]);
    let b = sweep_into(&two, &["--jobs", "2", "--format", "csv"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b.stderr));
    assert_eq!(a.stdout, b.stdout);
    let files = sweep_files(&one);
    assert_eq!(files, sweep_files(&two));
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    for name in ["runs.csv", "points.csv", "sweep.json"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    check_charts(
        &one,
        &[
            "sweep_p99",
            "sweep_goodput",
            "sweep_amplification",
            "sweep_availability",
        ],
    );
    let runs = std::fs::read_to_string(one.join("runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 1 + 4 * 2);
    // Replicate 0 of each point runs at the base seed: it is `simctl run --set` exactly.
    let single = simctl(&[
        "run",
        "scenarios/v0.6.ron",
        "--set",
        "services.db.workers=7",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&single.stdout).unwrap();
    let row = runs.lines().find(|l| l.starts_with("1,0,42,7,")).unwrap();
    assert!(row.contains(&format!(",{},", v["goodput_rps"])), "{row}");
}

#[test]
fn a_killed_sweep_resumes_to_the_same_bytes() {
    let (whole, cut) = (scratch("sweep-whole"), scratch("sweep-cut"));
    let out = sweep_into(&whole, &["--jobs", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let mut args: Vec<&str> = SWEEP.to_vec();
    args.extend(["--out", cut.to_str().unwrap(), "--jobs", "1"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_simctl"))
        .args(&args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let saved = |dir: &Path| {
        std::fs::read_dir(dir.join("runs"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .count()
            })
            .unwrap_or(0)
    };
    while saved(&cut) < 3 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended before it was killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = saved(&cut);
    assert!(before < 8, "killed part way: {before} of 8 runs saved");
    assert!(!cut.join("runs.csv").exists());

    let out = simctl(&["sweep", "--resume", cut.to_str().unwrap(), "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("sweep: {} runs in", 8 - before)),
        "only the missing runs ran: {err}"
    );
    let strip_tmp = |files: Vec<(String, Vec<u8>)>| -> Vec<(String, Vec<u8>)> {
        files
            .into_iter()
            .filter(|f| !f.0.contains(".tmp."))
            .collect()
    };
    assert_eq!(strip_tmp(sweep_files(&cut)), sweep_files(&whole));
}

#[test]
fn ctrl_c_stops_a_sweep_after_the_runs_in_progress_and_keeps_them() {
    let dir = scratch("sweep-int");
    let mut args: Vec<&str> = SWEEP.to_vec();
    args.extend(["--out", dir.to_str().unwrap(), "--jobs", "1"]);
    let child = Command::new(env!("CARGO_BIN_EXE_simctl"))
        .args(&args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while !dir.join("runs").join("p00000-r000.json").exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains(&format!("simctl sweep --resume {}", dir.display())),
        "{err}"
    );
    let saved = std::fs::read_dir(dir.join("runs")).unwrap().count();
    assert!((1..8).contains(&saved), "{saved} runs kept");
    assert!(!dir.join("points.csv").exists(), "no partial outputs");
}

#[test]
fn sweep_input_errors_name_the_path_and_exit_2() {
    let out = simctl(&[
        "sweep",
        "scenarios/v0.6.ron",
        "--param",
        "services.db.wrkers=1,2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("unknown path `services.db.wrkers`"), "{err}");
    assert!(err.contains("services.db.workers"), "nearest paths: {err}");
    let out = simctl(&[
        "sweep",
        "scenarios/v0.6.ron",
        "--param",
        "services.db.workers=0,1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("services[4].workers"),
        "{}",
        text(&out.stderr)
    );
    let out = simctl(&["sweep", "--resume", "/nonexistent-sweep-dir"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn find_brackets_the_spike_size_that_tips_v01_into_metastability() {
    let out = simctl(&[
        "sweep",
        "scenarios/v0.1.ron",
        "--set",
        "faults.1.kind.factor=1",
        "--set",
        "faults.2.kind.factor=1",
        "--find",
        "faults.0.kind.factor=1..3",
        "--tolerance",
        "0.25",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["found"], true, "{v}");
    let (below, at) = (v["below"].as_f64().unwrap(), v["at"].as_f64().unwrap());
    assert!(at - below <= 0.25 && 1.0 < at && at < 3.0, "{v}");
    // The replay line reproduces the verdict at the threshold.
    let replay = v["replay"].as_str().unwrap();
    let args: Vec<&str> = replay
        .split_whitespace()
        .skip(1)
        .chain(["--format", "json"])
        .collect();
    let run: serde_json::Value = serde_json::from_slice(&simctl(&args).stdout).unwrap();
    assert_eq!(run["metastable"], true, "{replay}");
}

/// A search whose runs cannot be judged stops and says so, rather than take an undetermined
/// value for healthy or tipped: at 2-8 rps over 400 s no run has a verdict.
#[test]
fn find_stops_at_an_undetermined_value_and_says_why() {
    let dir = scratch("find-undetermined");
    let file = dir.join("low.ron");
    std::fs::write(
        &file,
        r#"Scenario(
    name: "low-rate", seed: 1, horizon: "400s", warmup: "10s",
    clients: [Client(name: "c", target: "a", load: Open(rate_rps: 4.0),
        policy: (timeout: "1s", max_attempts: 3))],
    services: [Service(name: "a", workers: 4, service_time: Exponential(mean: "10ms"))],
    faults: [Fault(start: "200s", end: "280s", kind: Slowdown(service: "a", factor: 2.0))],
)"#,
    )
    .unwrap();
    let out = simctl(&[
        "sweep",
        file.to_str().unwrap(),
        "--find",
        "clients.c.load.rate_rps=2..8",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["found"], false, "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains("the outcome at 2 is undetermined"), "{v}");
    let tried = &v["tried"][0];
    assert_eq!(tried["undetermined_runs"], 1, "{v}");
    assert!(
        tried["undetermined_reason"]
            .as_str()
            .unwrap()
            .contains("run to at least"),
        "{v}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("undetermined in 1 of 1 runs (undetermined: "),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small scenario file in `dir`, with a service `s` and a client `c`.
fn small_scenario(dir: &Path, name: &str, rate: f64, extra: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "Scenario(name: \"x\", seed: 1, horizon: \"2s\",{extra}\n clients: [Client(name: \"c\", target: \"s\", load: Open(rate_rps: {rate:?}))],\n services: [Service(name: \"s\", workers: 1, service_time: Constant(\"1ms\"))])"
        ),
    )
    .unwrap();
    path
}

#[test]
fn sweep_with_seeds_alone_replicates_the_scenario_as_it_is() {
    let dir = scratch("replicates");
    let file = small_scenario(&dir, "s.ron", 100.0, "");
    let out = simctl(&[
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "3",
        "--jobs",
        "100000",
        "--format",
        "csv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    // The run count is stated up front, and the threads are clamped to the runs.
    assert!(
        err.contains("sweep: 3 runs (1 points x 3 replicates); 3 to do on 3 threads"),
        "{err}"
    );
    let csv = text(&out.stdout);
    assert_eq!(csv.lines().count(), 2, "a header and one point: {csv}");
    assert!(csv.lines().nth(1).unwrap().starts_with("0,3,"), "{csv}");
}

#[test]
fn large_or_ambiguous_sweeps_are_refused_before_anything_runs() {
    let dir = scratch("large");
    let file = small_scenario(&dir, "s.ron", 100.0, "");
    let sweep = |extra: &[&str]| {
        let mut args = vec!["sweep", file.to_str().unwrap()];
        args.extend(extra);
        simctl(&args)
    };
    let out = sweep(&[
        "--param",
        "services.s.workers=1,2",
        "--param",
        "services.s.workers=3",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`services.s.workers` is given twice"));

    // A 20,000-value list: refused at once with the count, not built first.
    let values: Vec<String> = (1..=20_000).map(|i| i.to_string()).collect();
    let param = format!("services.s.workers={}", values.join(","));
    let out = sweep(&["--param", &param]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("this sweep is 20000 runs (20000 points x 1 replicates)")
            && err.contains("--yes"),
        "{err}"
    );
    let out = sweep(&[
        "--param",
        "services.s.workers=1..2000:1",
        "--seeds",
        "2",
        "--max-runs",
        "3000",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("more than --max-runs 3000"));
    assert!(out.stdout.is_empty());
}

#[test]
fn out_is_checked_before_the_run() {
    let dir = scratch("out-check");
    let not_a_dir = dir.join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    for cmd in [
        vec!["run", "scenarios/mm1.ron"],
        vec!["compare", "scenarios/mm1.ron", "scenarios/mmc.ron"],
        vec!["sweep", "scenarios/mm1.ron", "--seeds", "2"],
    ] {
        let mut args = cmd.clone();
        args.extend(["--out", not_a_dir.to_str().unwrap()]);
        let out = simctl(&args);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        assert!(out.stdout.is_empty(), "{cmd:?}: nothing ran");
        assert!(
            text(&out.stderr).contains("exists and is not a directory"),
            "{cmd:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn temporaries_of_a_killed_run_are_cleaned_up_by_the_next_write() {
    let dir = scratch("stale-tmp");
    // A PID above the kernel's maximum is never alive: a killed writer's leftovers.
    let stale = dir.join(".summary.json.tmp.4999999");
    std::fs::write(&stale, b"half").unwrap();
    let file = small_scenario(&dir, "s.ron", 50.0, "");
    let out = simctl(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.join("summary.json").exists());
    assert!(!stale.exists(), "the stale temporary is gone");
}

#[test]
fn a_sweep_directory_is_locked_while_a_sweep_writes_into_it() {
    let dir = scratch("lock");
    let file = small_scenario(&dir, "s.ron", 50.0, "");
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let lock = out_dir.join(".sweep.lock");
    let sweep = || {
        simctl(&[
            "sweep",
            file.to_str().unwrap(),
            "--seeds",
            "2",
            "--out",
            out_dir.to_str().unwrap(),
        ])
    };
    // A live holder (this test process) keeps it.
    std::fs::write(&lock, format!("{}\n", std::process::id())).unwrap();
    let out = sweep();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("another sweep (process {})", std::process::id())),
        "{err}"
    );
    assert!(!out_dir.join("runs").exists(), "nothing ran");
    // A dead holder's lock is taken over, and released at the end.
    std::fs::write(&lock, "4999999\n").unwrap();
    let out = sweep();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out_dir.join("points.csv").exists());
    assert!(!lock.exists(), "released");
}

#[test]
fn with_json_output_warnings_and_guard_stops_are_json_too() {
    let dir = scratch("json-messages");
    // Offered utilization 2 with an unbounded queue: a warning, then an in-flight stop.
    let file = small_scenario(&dir, "hot.ron", 2000.0, " limits: (max_in_flight: 100),");
    let out = simctl(&["run", file.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?} ({e})")))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["warnings"][0]["severity"], "warning");
    assert_eq!(lines[0]["warnings"][0]["field"], "services[0]");
    assert!(
        lines[1]["stopped"].as_str().unwrap().contains("in flight"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1]["replay"]
            .as_str()
            .unwrap()
            .starts_with("simctl run ")
    );
}

#[test]
fn validate_checks_every_file_and_speaks_json() {
    let dir = scratch("validate-many");
    let good = small_scenario(&dir, "good.ron", 10.0, "");
    let bad = small_scenario(&dir, "bad.ron", -1.0, "");
    let files = [
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        "scenarios/mm1.ron",
    ];
    let mut args = vec!["validate"];
    args.extend(files);
    let out = simctl(&args);
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("good.ron: ok") && stdout.contains("mm1.ron: ok"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("bad.ron:2:"),
        "{}",
        text(&out.stderr)
    );
    args.extend(["--format", "json"]);
    let out = simctl(&args);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ok: Vec<bool> = (0..3).map(|i| v[i]["ok"].as_bool().unwrap()).collect();
    assert_eq!(ok, [true, false, true]);
    assert_eq!(v[1]["diagnostics"][0]["field"], "clients[0].load.rate_rps");
    let out = simctl(&["validate", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn compare_reports_every_bad_file() {
    let dir = scratch("compare-bad");
    let a = small_scenario(&dir, "a.ron", -1.0, "");
    let b = dir.join("b.ron");
    std::fs::write(&b, "Scenario(").unwrap();
    let out = simctl(&[
        "compare",
        a.to_str().unwrap(),
        "scenarios/mm1.ron",
        b.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(
        err.contains("a.ron:2:") && err.contains("b.ron:1:"),
        "{err}"
    );
}

#[test]
fn wording_of_bad_seeds_and_unbounded_inputs() {
    let out = simctl(&["run", "scenarios/mm1.ron", "--seed", "-1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("the seed must be a non-negative integer"),
        "{err}"
    );
    assert!(!err.contains("unexpected argument"), "{err}");
    if Path::new("/dev/zero").exists() {
        let out = simctl(&["run", "/dev/zero"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("64 MiB limit"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn series_resolution_of_the_output_is_chosen_and_totals_stay() {
    let dir = scratch("series");
    let file = small_scenario(&dir, "s.ron", 100.0, " window: \"100ms\",");
    let run = |series: &str| {
        let out = simctl(&[
            "run",
            file.to_str().unwrap(),
            "--format",
            "json",
            "--series",
            series,
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{series}: {}",
            text(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let (full, coarse, none) = (run("full"), run("500ms"), run("none"));
    let windows = |v: &serde_json::Value| v["series"]["t_s"].as_array().unwrap().len();
    assert_eq!(
        (windows(&full), windows(&coarse), windows(&none)),
        (20, 4, 0)
    );
    let offered = |v: &serde_json::Value| -> u64 {
        v["series"]["offered"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .sum()
    };
    assert_eq!(offered(&full), offered(&coarse));
    assert_eq!(
        full["offered"], none["offered"],
        "the summary does not change"
    );
    let out = simctl(&["run", file.to_str().unwrap(), "--series", "150ms"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("whole multiple"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn set_takes_ron_values_for_variants_and_lists() {
    let dir = scratch("set-ron");
    let file = small_scenario(&dir, "s.ron", 3000.0, "");
    let run = |sets: &[&str]| {
        let mut args = vec!["run", file.to_str().unwrap(), "--format", "json"];
        for s in sets {
            args.extend(["--set", s]);
        }
        simctl(&args)
    };
    // Overloaded 3x with a queue of 5: most requests are rejected, none waits long.
    let out = run(&[
        "services.s.queue=Bounded(5)",
        "clients.c.policy.retry_on=[Timeout]",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rejected = v["failed"]["rejected"].as_u64().unwrap();
    let offered = v["offered"].as_u64().unwrap();
    assert!(rejected * 2 > offered, "{rejected} of {offered} rejected");
    assert!(
        v["latency_ms"]["p99"].as_f64().unwrap() <= 7.0,
        "{}",
        v["latency_ms"]
    );
    let out = run(&["services.s.queue=Bounded(five)"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("services.s.queue=Bounded(five)"),
        "{}",
        text(&out.stderr)
    );
}

/// The issue's acceptance test: the same experiment file holds on v1.0 and deviates on v0.1
/// (only the scenario differs), the exit codes say so, and each run gets a journal entry.
#[test]
fn the_ladder_experiment_holds_on_v10_and_deviates_on_v01() {
    let journal = scratch("journal");
    let j = journal.to_str().unwrap();
    let file = "experiments/ladder-db-slowdown.ron";
    let held = simctl(&["experiment", file, "--seeds", "3", "--journal", j]);
    assert_eq!(held.status.code(), Some(0), "{}", text(&held.stderr));
    let out = text(&held.stdout);
    assert!(
        out.contains("verdict     held: every probe within tolerance on all 3 seeds"),
        "{out}"
    );
    let dev = simctl(&[
        "experiment",
        file,
        "--seeds",
        "3",
        "--journal",
        j,
        "--scenario",
        "scenarios/v0.1.ron",
        "--format",
        "json",
    ]);
    assert_eq!(dev.status.code(), Some(3), "{}", text(&dev.stderr));
    let v: serde_json::Value = serde_json::from_slice(&dev.stdout).unwrap();
    assert_eq!(v["verdict"], "deviated");
    assert_eq!(v["scenario"], "v0.1-naive");
    // v0.1 never recovers from the slowdown: after it, nothing succeeds on any seed.
    let after = v["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "availability after")
        .unwrap();
    assert_eq!(after["deviated_seeds"].as_array().unwrap().len(), 3);
    assert!(after["deviation_rate"]["low"].as_f64().unwrap() > 0.4);
    assert!(
        after["difference"]["high"].as_f64().unwrap() < -0.5,
        "{after}"
    );

    let log = std::fs::read_to_string(journal.join("journal.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["verdict"], "held");
    assert_eq!(records[1]["verdict"], "deviated");
    assert!(
        records[1]["replay"]
            .as_str()
            .unwrap()
            .contains("--scenario scenarios/v0.1.ron")
    );
    let learning = records[1]["learning"].as_array().unwrap();
    assert!(
        learning
            .iter()
            .any(|l| l.as_str().unwrap().contains("never recovered")),
        "{learning:?}"
    );
    let index = std::fs::read_to_string(journal.join("index.md")).unwrap();
    assert!(
        index.contains("| ladder-db-slowdown | v1.0-composed"),
        "{index}"
    );
    // Held on v1.0 (100) and deviated on v0.1 (50), each scenario counted: 75.
    assert!(index.contains("| deviated | 50 | 75 |"), "{index}");
    for r in &records {
        let entry = journal.join(r["entry"].as_str().unwrap());
        let md = std::fs::read_to_string(&entry).unwrap();
        assert!(
            md.contains(&format!("**Verdict: {}.**", r["verdict"].as_str().unwrap())),
            "{md}"
        );
        assert!(md.contains("## Learning"));
    }
}

#[test]
fn a_stop_condition_aborts_the_experiment_with_exit_4() {
    let dir = scratch("abort");
    let out = simctl(&[
        "experiment",
        "experiments/ladder-db-outage.ron",
        "--seeds",
        "2",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("experiment.json")).unwrap())
            .unwrap();
    assert_eq!(v["verdict"], "aborted");
    let aborts = v["aborts"].as_array().unwrap();
    assert_eq!(aborts.len(), 2);
    // The page fires within seconds of the outage's start at 200 s, long before its end.
    for a in aborts {
        let at = a["at_s"].as_f64().unwrap();
        assert!((200.0..230.0).contains(&at), "{a}");
    }
    let md = std::fs::read_to_string(dir.join("experiment.md")).unwrap();
    assert!(md.contains("## Aborted"), "{md}");
}

/// Writes an experiment on v1.0 (in `dir`, naming the bundled scenario by absolute path)
/// with `body` as its hypothesis, method and anything else.
fn experiment_file(dir: &Path, body: &str) -> PathBuf {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/v1.0.ron");
    let path = dir.join("e.ron");
    std::fs::write(
        &path,
        format!(
            "Experiment(\n    name: \"e\",\n    scenario: {:?},\n{body}\n)\n",
            scenario.display().to_string()
        ),
    )
    .unwrap();
    path
}

#[test]
fn bad_experiment_files_get_file_line_col_errors_and_exit_2() {
    let dir = scratch("bad-experiment");
    let probe = r#"    hypothesis: [Probe(name: "a", metric: Availability, window: After, tolerance: AtLeast(0.9))],"#;
    let method = r#"    method: [Inject(start: "100s", end: "130s", kind: Slowdown(service: "db", factor: 10.0))],"#;
    let cases = [
        // A typo in a field name: the parser's position.
        (
            format!("{probe}\n    methd: [],"),
            "e.ron:5:5: error: ",
            "Unexpected field named `methd`",
        ),
        // An unknown service in the method: the scenario's check, at the injection.
        (
            format!(
                "{probe}\n    method: [Inject(start: \"100s\", end: \"130s\", kind: Slowdown(service: \"dbx\", factor: 10.0))],"
            ),
            "e.ron:5:",
            "field `method[0].kind.service`",
        ),
        // A window outside the horizon: the method ends at the horizon, After is empty.
        (
            format!(
                "{probe}\n    method: [Inject(start: \"500s\", end: \"600s\", kind: Slowdown(service: \"db\", factor: 10.0))],"
            ),
            "e.ron:4:",
            "field `hypothesis[0].window`: After is empty here (10m to 10m)",
        ),
        (
            format!(
                "{probe}\n    method: [Inject(start: \"500s\", end: \"700s\", kind: Slowdown(service: \"db\", factor: 10.0))],"
            ),
            "e.ron:5:",
            "field `method[0].end`: is after the horizon (10m)",
        ),
        // A probe of a client that does not exist.
        (
            format!(
                "    hypothesis: [Probe(name: \"a\", metric: Goodput, of: \"nobody\", window: After, tolerance: AtLeast(1.0))],\n{method}"
            ),
            "e.ron:4:",
            "field `hypothesis[0].of`: `nobody` is not a client",
        ),
        // A zone the service has no instance in.
        (
            format!(
                "{probe}\n    method: [Inject(start: \"100s\", end: \"130s\", kind: Slowdown(service: \"db\", factor: 10.0), blast_radius: Zone(\"a\"))],"
            ),
            "e.ron:5:",
            "field `method[0].blast_radius`: `db` has no instance in this zone",
        ),
        // A share of traffic only where the fault acts per attempt.
        (
            format!(
                "{probe}\n    method: [Inject(start: \"100s\", end: \"130s\", kind: Slowdown(service: \"db\", factor: 10.0), blast_radius: Traffic(share: 0.5))],"
            ),
            "e.ron:5:",
            "a share of traffic applies to faults that act per attempt",
        ),
        // A stop condition on a client that does not exist: at the condition.
        (
            format!(
                "{probe}\n{method}\n    abort: [Stop(name: \"s\", when: Above(metric: ErrorRate, of: \"nobody\", threshold: 0.5))],"
            ),
            "e.ron:6:",
            "field `abort[0].when.of`",
        ),
    ];
    for (body, at, message) in cases {
        let file = experiment_file(&dir, &body);
        let out = simctl(&["experiment", file.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{body}\n{err}");
        assert!(out.stdout.is_empty(), "{body}");
        assert!(
            err.contains(at) && err.contains(message),
            "{body}\nexpected {at} .. {message} in:\n{err}"
        );
    }
}

/// `--metric` names any registry metric: a per-service one becomes a sweep column (equal to
/// the run's own JSON value) and a compare row; an unknown name or service is an input error.
#[test]
fn metric_flag_adds_registry_metrics_to_sweeps_and_compare() {
    let dir = scratch("metric-flag");
    let file = small_scenario(&dir, "s.ron", 500.0, "");
    let f = file.to_str().unwrap();
    let out = simctl(&[
        "sweep",
        f,
        "--param",
        "services.s.workers=1,2",
        "--metric",
        "services.s.utilization",
        "--metric",
        "clients.c.p99_ms",
        "--format",
        "csv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = head
        .iter()
        .position(|h| *h == "services.s.utilization_mean")
        .unwrap_or_else(|| panic!("no utilization column: {csv}"));
    assert!(head.contains(&"clients.c.p99_ms_mean"), "{csv}");
    // rho = 500 rps x 1 ms / workers: 0.5 with one worker, 0.25 with two.
    let util = |line: usize| -> f64 {
        csv.lines()
            .nth(line)
            .unwrap()
            .split(',')
            .nth(col)
            .unwrap()
            .parse()
            .unwrap()
    };
    let run = simctl(&["run", f, "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        util(1),
        json["services"][0]["utilization"].as_f64().unwrap()
    );
    assert!(
        (util(1) - 0.5).abs() < 0.05 && (util(2) - 0.25).abs() < 0.03,
        "{csv}"
    );

    let out = simctl(&["compare", f, f, "--metric", "services.s.queue_depth_max"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("services.s.queue_depth_max"));

    for (bad, says) in [
        ("services.nope.utilization", "no service `nope`"),
        ("services.s.utilisation", "known: attempts"),
        ("availabilty", "did you mean `availability`"),
    ] {
        let out = simctl(&["compare", f, "--metric", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            text(&out.stderr).contains(says),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn postmortem_reads_a_saved_run_or_runs_a_scenario_to_the_same_text() {
    let dir = scratch("postmortem");
    let out = simctl(&["run", "scenarios/v0.6.ron", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let saved = simctl(&["postmortem", dir.join("summary.json").to_str().unwrap()]);
    let fresh = simctl(&["postmortem", "scenarios/v0.6.ron"]);
    assert_eq!(saved.status.code(), Some(0), "{}", text(&saved.stderr));
    assert_eq!(saved.stdout, fresh.stdout);
    let md = text(&saved.stdout);
    assert!(
        md.contains("### Incident 3: slowdown x100 on payment"),
        "{md}"
    );
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains(md.split("\nReplay:").next().unwrap()),
        "{report}"
    );
}

/// A small system for `simctl score`: a replicated api over two zones calling a db.
const SCORE_TINY: &str = r#"Scenario(
    name: "tiny", seed: 3, horizon: "1m", warmup: "5s",
    clients: [Client(name: "c", target: "api", load: Open(rate_rps: 20.0), policy: (timeout: "1s", max_attempts: 2))],
    services: [
        Service(name: "api", workers: 4, queue: Bounded(8), replicas: 2, zones: ["a", "b"],
                service_time: Exponential(mean: "2ms"), calls: [Call(to: "db", policy: (timeout: "100ms"))]),
        Service(name: "db", workers: 2, service_time: Exponential(mean: "2ms")),
    ],
)"#;

#[test]
fn score_is_byte_identical_at_any_jobs_and_writes_table_chart_and_journal() {
    let dir = scratch("score");
    let file = dir.join("tiny.ron");
    std::fs::write(&file, SCORE_TINY).unwrap();
    let f = file.to_str().unwrap();
    let (o1, o2, j) = (dir.join("o1"), dir.join("o2"), dir.join("journal"));
    let (o1s, o2s, js) = (
        o1.to_str().unwrap(),
        o2.to_str().unwrap(),
        j.to_str().unwrap(),
    );
    let a = simctl(&[
        "score",
        f,
        "--seeds",
        "2",
        "--jobs",
        "1",
        "--out",
        o1s,
        "--journal",
        js,
    ]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    let b = simctl(&["score", f, "--seeds", "2", "--jobs", "2", "--out", o2s]);
    assert_eq!(b.status.code(), Some(0), "{}", text(&b.stderr));
    assert_eq!(a.stdout, b.stdout);
    for name in ["score.json", "score.md", "score.png", "score.svg"] {
        assert_eq!(
            std::fs::read(o1.join(name)).unwrap(),
            std::fs::read(o2.join(name)).unwrap(),
            "{name}"
        );
    }
    check_charts(&o1, &["score"]);
    // The table: a row for the file, the categories and overall as columns.
    let out = text(&a.stdout);
    assert!(
        out.starts_with("scenario  redundancy  scalability  dependencies  overall"),
        "{out}"
    );
    assert!(out.lines().nth(1).unwrap().starts_with("tiny "), "{out}");
    // Progress went to stderr.
    assert!(text(&a.stderr).contains("score: "), "{}", text(&a.stderr));
    // api: host, zone a, 2x load, db down, db slow; db: host, zone (not run), 2x load.
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(o1.join("score.json")).unwrap()).unwrap();
    let tests = v[0]["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 8);
    assert_eq!(tests[6]["status"], "not_run");
    // Gremlin's arithmetic over what was reported.
    for s in v[0]["services"].as_array().unwrap() {
        let cats: Vec<f64> = s["categories"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["score"].as_f64())
            .collect();
        let mean = cats.iter().sum::<f64>() / cats.len() as f64;
        assert!((s["score"].as_f64().unwrap() - mean).abs() < 1e-9, "{s}");
    }
    // The journal: each of the 7 tests that ran as an experiment, then the score.
    let log = std::fs::read_to_string(j.join("journal.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 8, "{log}");
    assert!(log.lines().last().unwrap().contains("\"kind\":\"score\""));
    let index = std::fs::read_to_string(j.join("index.md")).unwrap();
    assert!(index.contains("## Reliability score over time"), "{index}");
    assert!(index.contains("| first |"), "{index}");
}

#[test]
fn score_refuses_bad_input_with_exit_2() {
    let dir = scratch("score-bad");
    let bad = dir.join("bad.ron");
    std::fs::write(
        &bad,
        "Scenario(name: \"x\", seed: 1, horizon: \"1s\",\n clients: [Client(name: \"c\", target: \"s\", load: Open(rate_rps: -1.0))],\n services: [Service(name: \"s\", workers: 1, service_time: Constant(\"1ms\"))])",
    )
    .unwrap();
    let b = bad.to_str().unwrap();
    let not_a_dir = dir.join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["score"], "FILES"),
        (
            vec!["score", "no/such/file.ron", b],
            "cannot read scenario no/such/file.ron",
        ),
        (
            vec!["score", "scenarios/mm1.ron", b],
            "bad.ron:2:64: error: field `clients[0].load.rate_rps`",
        ),
        (
            vec!["score", "scenarios/mm1.ron", "--default-slo", "1.5"],
            "--default-slo must be an availability strictly between 0 and 1",
        ),
        (
            vec!["score", "scenarios/mm1.ron", "--seeds", "0"],
            "--seeds",
        ),
        (
            vec!["score", "scenarios/mm1.ron", "--jobs", "0"],
            "--jobs must be at least 1",
        ),
        (
            vec![
                "score",
                "scenarios/mm1.ron",
                "--out",
                not_a_dir.to_str().unwrap(),
            ],
            "exists and is not a directory",
        ),
    ];
    for (args, expected) in cases {
        let out = simctl(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // Both bad files are reported, not only the first.
    let both = simctl(&["score", b, "no/such/file.ron"]);
    assert!(text(&both.stderr).contains("bad.ron:2:64"));
    assert!(text(&both.stderr).contains("no/such/file.ron"));
}

/// `simctl spof` refuses bad options with exit code 2, a message naming the option and no
/// output, before running anything.
#[test]
fn spof_refuses_bad_input_with_clear_errors() {
    let cases: [(&[&str], &str); 8] = [
        (
            &["--only", "dbx"],
            "--only `dbx`: no such target (did you mean `db`?)",
        ),
        (
            &["--start", "590s", "--length", "30s"],
            "the window ends at 620s, after the horizon (10m)",
        ),
        (&["--start", "10s"], "starts during the warm-up (30s)"),
        (&["--length", "0s"], "must last longer than 0s"),
        (&["--start", "soon"], "--start `soon`"),
        (&["--kinds", "crash,melt"], "unknown failure `melt`"),
        (
            &["--slow-factor", "0.5"],
            "--slow-factor: must be a number above 1",
        ),
        (&["--seeds", "0"], "--seeds: must be 1 to 10000"),
    ];
    for (extra, wanted) in cases {
        let mut args = vec!["spof", "scenarios/v1.0.ron"];
        args.extend_from_slice(extra);
        let out = simctl(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(wanted), "{args:?}: wanted {wanted:?} in {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // A scenario without an SLO has nothing to judge routes by.
    let out = simctl(&["spof", "scenarios/mm1.ron"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("has no SLO to judge it by"),
        "{}",
        text(&out.stderr)
    );
    // Links only blackhole.
    let out = simctl(&[
        "spof",
        "scenarios/v1.0.ron",
        "--only",
        "gateway -> orders",
        "--kinds",
        "slow",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no target asked for can fail that way"));
}

/// The same analysis gives the same bytes at any --jobs, and --out gets spof.json and
/// spof.md.
#[test]
fn spof_output_does_not_depend_on_jobs() {
    let dir = scratch("spof");
    let d = dir.to_str().unwrap();
    let args = |jobs: &'static str| {
        vec![
            "spof",
            "scenarios/v1.0.ron",
            "--set",
            "faults=[]",
            "--set",
            "horizon=2m",
            "--start",
            "60s",
            "--length",
            "10s",
            "--only",
            "db",
            "--only",
            "gateway -> orders",
            "--seeds",
            "2",
            "--jobs",
            jobs,
        ]
    };
    let one = simctl(&args("1"));
    assert_eq!(one.status.code(), Some(0), "{}", text(&one.stderr));
    let mut with_out = args("2");
    with_out.extend(["--out", d]);
    let two = simctl(&with_out);
    assert_eq!(two.status.code(), Some(0), "{}", text(&two.stderr));
    assert_eq!(one.stdout, two.stdout);
    let table = text(&one.stdout);
    assert!(
        table.contains("SPOF          db, gateway -> orders"),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("spof.json")).unwrap()).unwrap();
    assert_eq!(
        json["spofs"],
        serde_json::json!(["db", "gateway -> orders"])
    );
    // db: crash, blackhole, slow; the link: blackhole only.
    assert_eq!(json["cases"].as_array().unwrap().len(), 4);
    let md = std::fs::read_to_string(dir.join("spof.md")).unwrap();
    assert!(md.starts_with("# Single points of failure"), "{md}");
    assert_eq!(file_names(&dir), ["spof.json", "spof.md"]);
}

#[test]
fn plans_check_accepts_the_runbook_and_names_each_bad_file_s_problem() {
    let scenario = "scenarios/platform/platform.ron";
    let ok = simctl(&[
        "plans",
        "check",
        "remediation/runbook.json",
        "--scenario",
        scenario,
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("remediation/runbook.json: OK (7 plans"));
    let sequential = simctl(&[
        "plans",
        "check",
        "remediation/harmful-restart-sequential.json",
        "--scenario",
        scenario,
    ]);
    assert_eq!(
        sequential.status.code(),
        Some(0),
        "{}",
        text(&sequential.stderr)
    );
    for (file, want) in [
        (
            "remediation/bad/cycle.json",
            "remediation/bad/cycle.json:9:38: error: field `plans[0].steps[1].after[0]`: the steps `drain`, `verify-traffic`, `restart` wait for each other in a cycle",
        ),
        (
            "remediation/bad/unknown-action.json",
            "remediation/bad/unknown-action.json:8:47: error: field `plans[0].steps[0].action.kind`: unknown action kind `reboot`",
        ),
        (
            "remediation/bad/unsafe-parameter.json",
            "remediation/bad/unsafe-parameter.json:8:88: error: field `plans[0].steps[0].action.replicas`: must be at least 1",
        ),
        (
            "remediation/bad/unknown-target.json",
            "remediation/bad/unknown-target.json:8:65: error: field `plans[0].steps[0].action.target`: names service `gatway`, which does not exist (did you mean `gateway`?)",
        ),
        (
            "remediation/harmful-restart-all.json",
            "remediation/harmful-restart-all.json:10:71: error: field `plans[0].steps[1].action.target`: for every `overload` target in the scenario (7), e.g. `gateway`: the steps `restart-0`, `restart-1` can run at the same time",
        ),
    ] {
        let out = simctl(&["plans", "check", file, "--scenario", scenario]);
        assert_eq!(out.status.code(), Some(2), "{file}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{file}");
        let err = text(&out.stderr);
        assert!(err.contains(want), "{file}: want {want:?}\n got {err}");
    }
}

#[test]
fn classify_prints_the_same_matrix_at_any_jobs_and_refuses_a_scenario_without_a_mix() {
    let args = |jobs: &'static str| {
        [
            "classify",
            "scenarios/remediation/incidents.ron",
            "--set",
            "horizon=20m",
            "--seeds",
            "2",
            "--jobs",
            jobs,
            "--format",
            "json",
        ]
    };
    let one = simctl(&args("1"));
    assert!(one.status.success(), "{}", text(&one.stderr));
    let two = simctl(&args("2"));
    assert_eq!(text(&one.stdout), text(&two.stdout));
    let report: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 7);
    let total: u64 = rows.iter().map(|r| r["incidents"].as_u64().unwrap()).sum();
    assert_eq!(total, report["incidents"].as_u64().unwrap());
    assert!(total > 0);
    let table = simctl(&[
        "classify",
        "scenarios/remediation/incidents.ron",
        "--set",
        "horizon=20m",
        "--seeds",
        "2",
    ]);
    let shown = text(&table.stdout);
    assert!(
        shown.contains("truth \\ guessed") && shown.contains("zone_loss"),
        "{shown}"
    );
    let none = simctl(&["classify", "scenarios/v1.0.ron", "--seeds", "1"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        text(&none.stderr).contains("no `remediation.mix`"),
        "{}",
        text(&none.stderr)
    );
}
