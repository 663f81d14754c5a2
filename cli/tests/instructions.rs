//! The instruction-count guard: two small benches run under valgrind (cachegrind, no cache
//! simulation), and each must stay within 5% of the count kept in
//! `cli/tests/instructions/baseline.txt`. Instruction counts do not depend on the machine's
//! load, so a noisy machine cannot fool this check the way it fools a timer; the same
//! toolchain and code give the same count to a few instructions.
//!
//! A change that moves a count by more than 5% either way fails here: if it was meant
//! (a feature that costs, a speed-up), update the baseline on purpose and say why in the
//! commit:
//!
//! ```sh
//! SIMCTL_UPDATE_INSTRUCTIONS=1 cargo test --release -p simctl --test instructions
//! ```
//!
//! Without valgrind the check is skipped and says so. A debug build is not measured (its
//! counts mean nothing for the release).

#![allow(
    clippy::disallowed_methods,
    reason = "the test reads and writes its baseline file"
)]

use std::path::PathBuf;
use std::process::Command;

/// The benches: a name and simctl's arguments.
const BENCHES: &[(&str, &[&str])] = &[
    // M/M/1 at rho 0.9 through the real service model: the cost per request.
    ("mm1_200k_requests", &["bench", "--requests", "200000"]),
    // The ladder's v0.4 for 20 s: five services, retries, windows, SLO alerts.
    (
        "v0.4_20s",
        &[
            "bench",
            "--scenario",
            "../scenarios/v0.4.ron",
            "--horizon",
            "20s",
        ],
    ),
];

/// Growth (or shrinkage) beyond this share fails.
const TOLERANCE: f64 = 0.05;

fn baseline_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/instructions/baseline.txt")
}

/// The instructions simctl executes with `args`, counted by cachegrind.
fn instructions(args: &[&str]) -> u64 {
    let out = Command::new("valgrind")
        .args([
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
        ])
        .arg(env!("CARGO_BIN_EXE_simctl"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("valgrind starts");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "simctl {args:?} under valgrind failed:\n{err}"
    );
    let line = err
        .lines()
        .find(|l| l.contains("I refs:") || l.contains("I   refs:"))
        .unwrap_or_else(|| panic!("no instruction count in valgrind's output:\n{err}"));
    let digits: String = line
        .rsplit(':')
        .next()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().expect("a count")
}

fn valgrind_missing() -> Option<String> {
    match Command::new("valgrind").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!("valgrind --version failed: {}", o.status)),
        Err(e) => Some(format!("valgrind not found ({e})")),
    }
}

#[test]
fn instruction_counts_stay_within_five_percent_of_the_baseline() {
    if cfg!(debug_assertions) {
        eprintln!("skipped: instruction counts are checked on the release build only");
        return;
    }
    if let Some(why) = valgrind_missing() {
        eprintln!("skipped: {why}; install valgrind to run the instruction-count guard");
        return;
    }
    let measured: Vec<(&str, u64)> = BENCHES
        .iter()
        .map(|(name, args)| (*name, instructions(args)))
        .collect();
    if std::env::var_os("SIMCTL_UPDATE_INSTRUCTIONS").is_some() {
        let mut text = String::from(
            "# Instructions per bench (cachegrind I refs), see cli/tests/instructions.rs\n",
        );
        for (name, n) in &measured {
            text.push_str(&format!("{name} {n}\n"));
        }
        std::fs::write(baseline_path(), text).expect("the baseline is writable");
        eprintln!("baseline updated: {measured:?}");
        return;
    }
    let baseline = std::fs::read_to_string(baseline_path()).expect("the baseline file");
    let expected = |name: &str| -> u64 {
        baseline
            .lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no baseline for `{name}` in {}", baseline_path().display()))
    };
    let mut failures = Vec::new();
    for (name, n) in &measured {
        let base = expected(name);
        let change = *n as f64 / base as f64 - 1.0;
        eprintln!(
            "{name}: {n} instructions, baseline {base} ({:+.2}%)",
            change * 100.0
        );
        if change.abs() > TOLERANCE {
            failures.push(format!(
                "{name}: {n} instructions vs baseline {base} ({:+.2}%, limit ±{:.0}%)",
                change * 100.0,
                TOLERANCE * 100.0
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nif this change is meant, update the baseline on purpose and say why in the commit:\n  \
         SIMCTL_UPDATE_INSTRUCTIONS=1 cargo test --release -p simctl --test instructions",
        failures.join("\n")
    );
}
