//! Arbitrary `--param` / `--set` text against a real scenario: parse the values, set each on
//! the ladder's v1.0, validate again. Any panic is a bug: a bad path or value must become an
//! error message (exit 2), never a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sim_models::sweep::{Overrides, Param};

fuzz_target!(|data: &[u8]| {
    let Ok(spec) = std::str::from_utf8(data) else {
        return;
    };
    static BASE: std::sync::OnceLock<Overrides> = std::sync::OnceLock::new();
    let base = BASE.get_or_init(|| {
        let text = include_str!("../../scenarios/v1.0.ron");
        Overrides::new(&sim_models::load("v1.0.ron", text).expect("v1.0 loads").scenario)
    });
    let Ok(param) = Param::parse(spec) else {
        return;
    };
    let _ = base.kind(&param.path);
    for value in param.values.iter().take(4) {
        let _ = base.apply(&[(param.path.as_str(), value.as_str())]);
    }
});
