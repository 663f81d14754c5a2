//! README.md's scenario example is a real file: the ```ron block in README is
//! scenarios/example.ron, byte for byte, and that file validates cleanly and runs.

use sim_models::result::StopKind;

const FILE: &str = "scenarios/example.ron";

/// The first RON block in README.md that holds a scenario.
fn readme_example() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("```ron\nScenario(")
        .expect("a RON scenario block in README.md")
        + "```ron\n".len();
    let end = start + readme[start..].find("```").expect("the block ends");
    readme[start..end].to_string()
}

fn example_file() -> String {
    std::fs::read_to_string(crate::support::scenario_path("example.ron")).unwrap()
}

#[test]
fn the_readme_scenario_example_is_scenarios_example_ron() {
    let (shown, file) = (readme_example(), example_file());
    if shown != file {
        let (n, (a, b)) = shown
            .lines()
            .chain(std::iter::repeat("(end)"))
            .zip(file.lines().chain(std::iter::repeat("(end)")))
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .unwrap_or((0, ("", "")));
        panic!(
            "README.md's scenario example and {FILE} differ (README shows the file: copy one \
             to the other); first difference at line {} of the block:\n  README: {a}\n  file:   {b}",
            n + 1
        );
    }
}

#[test]
fn scenarios_example_ron_validates_cleanly_and_runs() {
    let validated = match sim_models::load(FILE, &example_file()) {
        Ok(v) => v,
        Err(d) => panic!("{d}"),
    };
    let warnings: Vec<String> = validated
        .warnings
        .iter()
        .map(|w| format!("{}: {}", w.field, w.message))
        .collect();
    assert!(warnings.is_empty(), "{FILE} warns: {warnings:?}");
    let scenario = validated.scenario;
    // As `simctl run scenarios/example.ron` does: the file's own seed, the whole horizon.
    let r = sim_models::run(&scenario, scenario.seed, FILE);
    assert_eq!(r.stopped.kind, StopKind::Horizon);
    assert_eq!(
        r.faults.len(),
        2,
        "both faults of the example are scheduled"
    );
    // The example is a working system hit by two faults, not one that mostly fails: a
    // reader who runs it to learn the format should not meet a broken system.
    assert!(
        r.totals.availability > 0.8,
        "{FILE}: availability {:.4}",
        r.totals.availability
    );
}
