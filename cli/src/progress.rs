//! Progress of one long run, by the share of its horizon simulated: a bar on a terminal;
//! otherwise (CI logs, a pipe) a plain line per tenth, and only once the run has taken
//! `QUIET_FOR` of wall time, so short runs print nothing. Runs never see the clock: the
//! model reports its share of virtual time (`sim_models::run_with_progress`).

use std::io::IsTerminal;

/// Plain lines start after this much wall time.
const QUIET_FOR_S: f64 = 10.0;

pub struct RunProgress {
    bar: Option<indicatif::ProgressBar>,
    horizon: String,
    shown_tenth: u32,
    #[allow(
        clippy::disallowed_types,
        reason = "progress shows wall time; runs never see it"
    )]
    started: std::time::Instant,
}

impl RunProgress {
    #[allow(
        clippy::disallowed_types,
        reason = "progress shows wall time; runs never see it"
    )]
    pub fn new(horizon: sim_core::SimDuration) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(100);
            bar.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "{{bar:40}} {{pos}}% of {horizon} virtual  eta {{eta}}"
                ))
                .expect("a valid template"),
            );
            bar
        });
        RunProgress {
            bar,
            horizon: horizon.to_string(),
            shown_tenth: 0,
            started: std::time::Instant::now(),
        }
    }

    /// `done`: the share of the horizon simulated, in (0, 1).
    pub fn update(&mut self, done: f64) {
        if let Some(bar) = &self.bar {
            bar.set_position((done * 100.0).round() as u64);
            return;
        }
        let tenth = (done * 10.0).floor() as u32;
        let secs = self.started.elapsed().as_secs_f64();
        if tenth > self.shown_tenth && secs >= QUIET_FOR_S {
            self.shown_tenth = tenth;
            let eta = secs / done.max(1e-9) * (1.0 - done);
            eprintln!(
                "run: {:.0}% of {} virtual, {secs:.0}s wall, eta {eta:.0}s",
                done * 100.0,
                self.horizon
            );
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
