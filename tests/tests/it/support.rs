//! Helpers shared by the integration tests.

use sim_models::RunResult;

/// Loads a scenario from RON text through the same path as `simctl run` (parse + validate),
/// panicking with the diagnostics if it is invalid.
pub fn load(name: &str, text: &str) -> sim_models::Scenario {
    match sim_models::load(name, text) {
        Ok(v) => v.scenario,
        Err(d) => panic!("{d}"),
    }
}

/// Runs `text` once per seed in `seeds`.
pub fn replicate(name: &str, text: &str, seeds: std::ops::Range<u64>) -> Vec<RunResult> {
    let scenario = load(name, text);
    seeds
        .map(|seed| sim_models::run(&scenario, seed, name))
        .collect()
}

/// The path of a bundled scenario file.
pub fn scenario_path(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(file)
}
