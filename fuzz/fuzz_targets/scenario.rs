//! Arbitrary bytes through everything a user's file goes through: parse, validate, and a
//! short bounded run. Any panic is a bug: bad input must become a diagnostic, never a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(valid) = sim_models::load("fuzz.ron", text) else {
        return;
    };
    // A valid scenario runs, but briefly: the guards stop it cleanly (that is part of what
    // is tested); the target looks for crashes, not for long runs.
    let mut s = valid.scenario;
    s.limits.max_events = s.limits.max_events.min(20_000);
    s.limits.max_in_flight = s.limits.max_in_flight.min(10_000);
    let _ = sim_models::run(&s, 1, "fuzz.ron");
});
