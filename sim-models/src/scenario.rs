//! The scenario schema: what a RON file says, as serde types.
//!
//! Loading is two steps: [`parse`] turns text into a [`Scenario`] (syntax and type errors,
//! with ron's own position and the field path), then [`crate::validate`] checks what types
//! cannot say (rates > 0, names that resolve, ...) and points at the field in the file.
//! Runs only ever see a scenario that passed both.
//!
//! Entities are lists of named entries rather than maps so that the file's order is the
//! run's order (no hashing) and two entries with the same name are caught, not merged.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::dist::Dist;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::locate::Position;

/// A whole simulation: who sends what to whom, for how long.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The seed used when the command line gives none (never the clock).
    pub seed: u64,
    /// Virtual time simulated.
    pub horizon: SimDuration,
    /// Requests issued before this instant are not counted (lets queues reach steady state).
    #[serde(default)]
    pub warmup: SimDuration,
    /// Width of one time-series window.
    #[serde(default = "default_window")]
    pub window: SimDuration,
    #[serde(default)]
    pub limits: RunLimits,
    pub clients: Vec<Client>,
    pub services: Vec<Service>,
}

fn default_window() -> SimDuration {
    SimDuration::from_secs(1)
}

/// Guards on a run: hitting one stops it cleanly and says why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunLimits {
    /// Events handled at most.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// Requests in flight (queued or in service anywhere) at most.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: u64,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            max_events: default_max_events(),
            max_in_flight: default_max_in_flight(),
        }
    }
}

fn default_max_events() -> u64 {
    2_000_000_000
}
fn default_max_in_flight() -> u64 {
    1_000_000
}

/// A source of requests. Open loop: Poisson arrivals that do not wait for answers, which is
/// how real traffic behaves and what exposes overload (a closed loop would slow down with it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub name: String,
    /// The service the requests go to.
    pub target: String,
    /// Mean arrival rate, requests per second of virtual time.
    pub rate_rps: f64,
    /// The client gives up on a request after this long (counted as `failed.timeout`);
    /// the service, being naive, still does the work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<SimDuration>,
}

/// A service: `workers` serve attempts one at a time each; the rest wait in the queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    /// Attempts served at once.
    pub workers: u32,
    /// Waiting room, not counting attempts in service.
    #[serde(default)]
    pub queue: QueueSpec,
    /// Which waiting attempt a free worker takes.
    #[serde(default)]
    pub discipline: Discipline,
    /// Time one attempt holds a worker.
    pub service_time: Dist<SimDuration>,
}

/// Capacity of a service's waiting room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueueSpec {
    /// No bound: overload shows up as latency and memory, as in a naive server.
    #[default]
    Unbounded,
    /// At most this many waiting; arrivals beyond are rejected at once.
    Bounded(u64),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Discipline {
    #[default]
    Fifo,
    Lifo,
}

impl Scenario {
    /// A stable fingerprint of what the scenario means (not of its whitespace or comments):
    /// FNV-1a 64 of its canonical RON form, as 16 hex digits.
    pub fn hash(&self) -> String {
        let canonical = ron::to_string(self).expect("a scenario always serialises");
        format!("{:016x}", sim_core::rng::fnv1a64(canonical.as_bytes()))
    }

    pub fn service_index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }
}

/// Parses RON text into a scenario, without semantic checks. `file` names the source in
/// messages.
pub fn parse(file: &str, text: &str) -> Result<Scenario, Diagnostics> {
    let fail = |position: ron::error::Position, field: String, message: String| {
        let at = Position {
            line: position.line,
            col: position.col,
        };
        Diagnostics::new(file, vec![Diagnostic::error(at, field, message)])
    };
    // `implicit_some`: optional fields are written plainly (`timeout: "20ms"`), not `Some(..)`.
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let mut de = ron::Deserializer::from_str_with_options(text, &options)
        .map_err(|e| fail(e.span.start, String::new(), syntax_message(&e.code)))?;
    let scenario: Scenario = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        // serde_path_to_error says `.` for the root and `?` where it could not tell.
        let field = if field == "." || field == "?" {
            String::new()
        } else {
            field
        };
        let spanned = de.span_error(e.into_inner());
        fail(spanned.span.start, field, syntax_message(&spanned.code))
    })?;
    de.end().map_err(|e| {
        let spanned = de.span_error(e);
        fail(
            spanned.span.start,
            String::new(),
            syntax_message(&spanned.code),
        )
    })?;
    Ok(scenario)
}

/// ron's messages, with the wording tuned where it would puzzle a user.
fn syntax_message(code: &ron::Error) -> String {
    match code {
        ron::Error::TrailingCharacters => {
            "unexpected text after the scenario: a file holds exactly one Scenario(...)".into()
        }
        other => other.to_string(),
    }
}
