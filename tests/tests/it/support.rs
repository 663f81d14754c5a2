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

/// The summary without the time series, floats rounded to 6 significant digits so that the
/// snapshot does not depend on the last bits of libm.
pub fn summary(r: &RunResult) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap();
    v.as_object_mut().unwrap().remove("series");
    round(&mut v);
    v
}

fn round(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap();
            if x != 0.0 && x.is_finite() {
                let digits = 5 - x.abs().log10().floor() as i32;
                let scale = 10f64.powi(digits);
                *v = serde_json::json!((x * scale).round() / scale);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(round),
        serde_json::Value::Object(map) => map.values_mut().for_each(round),
        _ => {}
    }
}
