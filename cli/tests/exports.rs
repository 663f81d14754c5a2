//! `simctl` end to end for what leaves simctl for other tools: sharded sweeps and their
//! merge, OpenMetrics (with a Prometheus round trip when Prometheus is installed), the
//! Grafana dashboard's queries, the topology diagram and the event log.

#![allow(clippy::disallowed_methods, reason = "tests read what simctl wrote")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn simctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simctl"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("simctl runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("simctl-exports-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Every file under `dir` (recursively), by relative name and bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                all.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    all.sort();
    all
}

/// 4 points x 2 seeds of the v0.6 ladder step.
const SWEEP: [&str; 6] = [
    "sweep",
    "scenarios/v0.6.ron",
    "--param",
    "services.db.workers=6..9:1",
    "--seeds",
    "2",
];

fn sweep(extra: &[&str]) -> Output {
    let mut args: Vec<&str> = SWEEP.to_vec();
    args.extend(extra);
    simctl(&args)
}

#[test]
fn a_merge_of_three_shards_is_the_unsharded_sweep_byte_for_byte() {
    let root = scratch("shards");
    let dir = |n: &str| root.join(n).display().to_string();
    let whole = sweep(&["--out", &dir("whole"), "--jobs", "2"]);
    ok(&whole);
    let mut saved = 0;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let out = sweep(&[
            "--shard",
            &shard,
            "--out",
            &dir(&format!("s{k}")),
            "--jobs",
            "2",
        ]);
        ok(&out);
        assert!(out.stdout.is_empty(), "a shard prints no summary");
        assert!(!root.join(format!("s{k}/runs.csv")).exists());
        saved += std::fs::read_dir(root.join(format!("s{k}/runs")))
            .unwrap()
            .count();
    }
    assert_eq!(saved, 8, "the shards are disjoint and cover the grid");
    // Any order of the directories.
    let merged = simctl(&[
        "sweep",
        "--merge",
        &dir("s3"),
        &dir("s1"),
        &dir("s2"),
        "--out",
        &dir("merged"),
    ]);
    ok(&merged);
    assert_eq!(merged.stdout, whole.stdout);
    let (a, b) = (files(&root.join("whole")), files(&root.join("merged")));
    let names: Vec<&str> = a.iter().map(|f| f.0.as_str()).collect();
    for name in [
        "runs.csv",
        "points.csv",
        "sweep.json",
        "sweep.spec.json",
        "report.md",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert_eq!(names.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0);
        assert!(x.1 == y.1, "{} differs", x.0);
    }
}

#[test]
fn shards_that_do_not_make_one_sweep_are_refused_with_the_reason() {
    let root = scratch("bad-shards");
    let dir = |n: &str| root.join(n).display().to_string();
    // A 1-replicate grid of 2 points keeps this quick.
    let small = |extra: &[&str]| {
        let mut args = vec![
            "sweep",
            "scenarios/mm1.ron",
            "--param",
            "clients.load.load.rate_rps=50,60",
            "--set",
            "horizon=20s",
            "--set",
            "warmup=1s",
        ];
        args.extend(extra);
        simctl(&args)
    };
    ok(&small(&["--shard", "1/2", "--out", &dir("a1")]));
    ok(&small(&["--shard", "2/2", "--out", &dir("a2")]));
    ok(&small(&[
        "--shard",
        "2/2",
        "--out",
        &dir("b2"),
        "--seed",
        "7",
    ]));
    let merge = |dirs: &[String]| {
        let mut args = vec!["sweep", "--merge"];
        args.extend(dirs.iter().map(String::as_str));
        let m = dir("m");
        args.extend(["--out", &m]);
        let out = simctl(&args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(!root.join("m/runs.csv").exists());
        text(&out.stderr)
    };
    let err = merge(&[dir("a1"), dir("b2")]);
    assert!(err.contains("are shards of different sweeps"), "{err}");
    assert!(err.contains("--seed, base seed"), "{err}");
    let err = merge(&[dir("a1")]);
    assert!(err.contains("shard 2/2 missing"), "{err}");
    let err = merge(&[dir("a1"), dir("a1"), dir("a2")]);
    assert!(err.contains("are both shard 1/2"), "{err}");
    std::fs::remove_file(root.join("a2/runs/p00001-r000.json")).unwrap();
    let err = merge(&[dir("a1"), dir("a2")]);
    assert!(
        err.contains("lacks 1 of its 1 runs") && err.contains("simctl sweep --resume"),
        "{err}"
    );
    // Resuming the shard runs only its missing run; then the merge goes through.
    let out = simctl(&["sweep", "--resume", &dir("a2")]);
    ok(&out);
    assert!(
        text(&out.stderr).contains("1 to do"),
        "{}",
        text(&out.stderr)
    );
    ok(&simctl(&[
        "sweep",
        "--merge",
        &dir("a1"),
        &dir("a2"),
        "--out",
        &dir("m"),
    ]));
    let whole = small(&["--out", &dir("w")]);
    ok(&whole);
    assert_eq!(files(&root.join("w")), files(&root.join("m")));
    for bad in ["0/2", "3/2", "2", "a/b"] {
        let out = small(&["--shard", bad, "--out", &dir("x")]);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("expected K/N"), "{bad}");
    }
    let out = simctl(&["sweep", "--merge", &dir("w"), "--out", &dir("y")]);
    assert!(text(&out.stderr).contains("holds a whole sweep, not a shard"));
}
