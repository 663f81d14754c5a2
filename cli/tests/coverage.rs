//! `simctl coverage` end to end: the bundled L18 run, determinism across --jobs, and bad
//! input refused with positions.

#![allow(clippy::disallowed_methods, reason = "tests read what simctl wrote")]

use std::path::{Path, PathBuf};

mod common;
use common::{scratch, simctl, text};

/// A small scenario: a client `c` calling `s` calling `db`, for a few seconds.
fn small_scenario(dir: &Path) -> PathBuf {
    let path = dir.join("small.ron");
    std::fs::write(
        &path,
        r#"Scenario(name: "x", seed: 1, horizon: "20s", warmup: "2s",
 clients: [Client(name: "c", target: "s", load: Open(rate_rps: 200.0), policy: (timeout: "200ms", max_attempts: 2))],
 services: [Service(name: "s", workers: 4, service_time: Exponential(mean: "2ms"), calls: [Call(to: "db")]),
            Service(name: "db", workers: 2, service_time: Exponential(mean: "3ms"))])"#,
    )
    .unwrap();
    path
}

#[test]
fn the_bundled_factors_give_l18_with_a_passing_strength_check() {
    let dir = scratch("bundled");
    let d = dir.to_str().unwrap();
    let out = simctl(&[
        "coverage",
        "scenarios/v1.0.ron",
        "--factors",
        "experiments/coverage-v1.0.ron",
        "--seeds",
        "1",
        "--out",
        d,
    ]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("design   L18(2^1 3^7) (Taguchi's standard table): 18 rows x 1 seeds = 18 runs; the full factorial (2x3x3x3x3x3x3) would need 1458 rows = 1458 runs"), "{stdout}");
    assert!(
        stdout.contains("strength 2 check passed: 171 of 171 level pairs over 21 factor pairs run, each equally often (balanced)"),
        "{stdout}"
    );
    assert!(stdout.contains("note: Crash ignores intensity"), "{stdout}");
    assert!(stdout.contains("what drives each metric"), "{stdout}");
    // Progress on stderr (plain lines off a terminal), ending with the count.
    assert!(stderr.contains("coverage: 18 runs in"), "{stderr}");
    // Every level of a 3-level factor runs on 6 rows of L18, of the 2-level one on 9.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("coverage.json")).unwrap()).unwrap();
    let effects = &v["effects"][0];
    assert_eq!(effects["metric"], "availability");
    assert_eq!(effects["factors"][0]["levels"][0]["runs"], 9);
    assert_eq!(effects["factors"][1]["levels"][2]["runs"], 6);
    assert_eq!(v["design"]["strength"]["balanced"], true);
    let runs = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 19);
    let csv = std::fs::read_to_string(dir.join("effects.csv")).unwrap();
    // 3 metrics x (2 + 6 x 3) levels.
    assert_eq!(csv.lines().count(), 1 + 3 * 20);
    for stem in [
        "effects_availability",
        "effects_p99_ms",
        "effects_metastable",
    ] {
        let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
        let c = reports::check_png(&png).unwrap();
        assert!(
            c.colors >= 8 && c.ink > 0.02,
            "{stem}.png looks blank: {c:?}"
        );
        assert!(dir.join(format!("{stem}.svg")).exists());
    }
    let md = std::fs::read_to_string(dir.join("coverage.md")).unwrap();
    assert!(md.contains("| factor | level | runs | availability | p99 ms | collapse |"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_same_bytes_at_any_jobs() {
    let dir = scratch("jobs");
    let scenario = small_scenario(&dir);
    let s = scenario.to_str().unwrap();
    let run = |jobs: &str, out: &str| {
        let o = dir.join(out);
        let r = simctl(&[
            "coverage",
            s,
            "--factor",
            "services.db.workers=1,2,4",
            "--factor",
            "clients.c.load.rate_rps=100,200,400",
            "--factor",
            "clients.c.policy.max_attempts=1,2,3",
            "--seeds",
            "2",
            "--jobs",
            jobs,
            "--out",
            o.to_str().unwrap(),
        ]);
        assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
        (r.stdout, o)
    };
    let (one, d1) = run("1", "one");
    let (two, d2) = run("2", "two");
    assert_eq!(text(&one), text(&two));
    // Three 3-level factors: L9 (four columns, one unused), not the 27-row full factorial.
    assert!(text(&one).contains("design   L9(3^4)"), "{}", text(&one));
    for f in [
        "coverage.json",
        "runs.csv",
        "rows.csv",
        "effects.csv",
        "coverage.md",
        "effects_availability.png",
    ] {
        assert_eq!(
            std::fs::read(d1.join(f)).unwrap(),
            std::fs::read(d2.join(f)).unwrap(),
            "{f}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_factors_are_refused_with_file_line_col() {
    let dir = scratch("bad");
    let scenario = small_scenario(&dir);
    let s = scenario.to_str().unwrap();
    let factors = dir.join("f.ron");
    let write = |body: &str| std::fs::write(&factors, body).unwrap();
    let f = factors.to_str().unwrap();

    write(
        "Coverage(\n  factors: [\n    Set(path: \"services.db.workerz\", levels: [\"1\", \"2\"]),\n    Set(path: \"services.s.workers\", levels: [\"1\"]),\n  ],\n)",
    );
    let out = simctl(&["coverage", s, "--factors", f]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains(&format!(
            "{f}:3:15: error: field `factors[0].path`: unknown path `services.db.workerz`"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("services.db.workers"),
        "suggests the right path: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{f}:4:45: error: field `factors[1].levels`: has 1 level(s): a factor needs at least 2"
        )),
        "{stderr}"
    );

    // A level that fails the scenario's validation, at that level.
    write(
        "Coverage(factors: [\n  Set(path: \"services.db.workers\", levels: [\"1\", \"0\"]),\n  Set(path: \"services.s.workers\", levels: [\"1\", \"2\"])])",
    );
    let out = simctl(&["coverage", s, "--factors", f]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{f}:2:50: error: field `factors[0].levels[1]`: services.db.workers=0: field `services[1].workers`")), "{stderr}");

    // Over the budget: said before anything runs, with the full factorial's count.
    write(
        "Coverage(seeds: 10, budget: 30, factors: [\n  Set(path: \"services.db.workers\", levels: [\"1\", \"2\", \"3\"]),\n  Set(path: \"services.s.workers\", levels: [\"1\", \"2\", \"3\"]),\n  Set(path: \"clients.c.policy.max_attempts\", levels: [\"1\", \"2\", \"3\"])])",
    );
    let out = simctl(&["coverage", s, "--factors", f]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{f}:1:29: error: field `budget`: the design (L9(3^4)) needs 9 rows x 10 seeds = 90 runs, over the budget of 30 runs")), "{stderr}");
    assert!(!stderr.contains("coverage: "), "nothing ran: {stderr}");

    // Flags: named by the flag, no position.
    let out = simctl(&[
        "coverage",
        s,
        "--factor",
        "services.db.workerz=1,2",
        "--factor",
        "services.s.workers=1,2",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("simctl: --factor services.db.workerz=1,2: unknown path"),
        "{stderr}"
    );
    let out = simctl(&["coverage", s, "--factor", "services.db.workers=1,2"]);
    assert!(
        text(&out.stderr).contains("needs at least 2 factors"),
        "{}",
        text(&out.stderr)
    );
    // A syntax error in the file.
    write("Coverage(factors: [Sett(path: \"x\", levels: [])])");
    let out = simctl(&["coverage", s, "--factors", f]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{f}:1:")) && stderr.contains("Sett"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_a_fitting_orthogonal_array_a_covering_array_is_run_and_said_so() {
    let dir = scratch("covering");
    let scenario = small_scenario(&dir);
    // 2 and 5 levels share no orthogonal-array column (there is no field of order 10).
    let out = simctl(&[
        "coverage",
        scenario.to_str().unwrap(),
        "--factor",
        "services.db.workers=1,2",
        "--factor",
        "clients.c.load.rate_rps=50,100,150,200,250",
        "--factor",
        "services.s.workers=1,2,3,4,5",
        "--factor",
        "clients.c.policy.max_attempts=1,2,3,4,5",
        "--seeds",
        "1",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("design   covering array (IPOG) (no orthogonal array fits these levels"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("rows x 1 seeds = 25 runs; the full factorial (2x5x5x5) would need 250 rows"),
        "{stdout}"
    );
    assert!(stdout.contains("strength 2 check passed: 105 of 105 level pairs over 6 factor pairs run, not equally often (a covering array, not orthogonal)"), "{stdout}");
    assert!(
        stdout.contains("no orthogonal array fits these factors: this is a covering array"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
