//! The policy file: JSON, versioned, with what it was trained on (scenario name and hash,
//! training seed, episodes) and the table. Written by `simctl train`, read by `--policy`.
//!
//! ```json
//! { "format": "simctl-policy", "version": 2,
//!   "scenario": "platform", "scenario_hash": "9f2c...", "training_seed": 1, "episodes": 400,
//!   "batch": 16, "algorithm": "...", "reward": { "per_mttr_minute": 1.0, ... },
//!   "table": [
//!     { "class": "instance_failure", "severity": "high", "actions": 0,
//!       "arms": [ { "arm": "restart", "visits": 31, "value": -2.4, "m2": 310.5 }, ... ] } ] }
//! ```
//! `value` is the mean of the returns credited, `m2` the sum of their squared deviations
//! from it (the variance that `safe.rs` bounds the mean with). `class` is null for an
//! incident the classifier could not read. A file that does not
//! parse, or breaks a rule below, is refused with `file:line:col: error: field `path`: ...`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::reward::Weights;
use super::table::{Cell, QTable};
use super::train::BATCH;
use super::{Arm, MAX_ACTIONS_BUCKET, Severity, State};
use crate::remediation::class::IncidentClass;

pub const FORMAT: &str = "simctl-policy";
/// 2: cells carry `m2`, and the policy departs from the planner only with confidence.
pub const VERSION: u32 = 2;
pub const ALGORITHM: &str = "tabular every-visit Monte Carlo control, epsilon-greedy, gamma 1; \
     safe improvement over the planner (Welch lower bound > 0 at 95%, Bonferroni per state)";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub format: Format,
    pub version: Version,
    /// The scenario it was trained on: its name and hash.
    pub scenario: String,
    pub scenario_hash: String,
    pub training_seed: u64,
    pub episodes: u64,
    pub batch: u64,
    pub algorithm: String,
    pub reward: Weights,
    pub table: Table,
}

/// Always [`FORMAT`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Format;

impl TryFrom<String> for Format {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s == FORMAT {
            Ok(Format)
        } else {
            Err(format!(
                "not a simctl policy file: format is {s:?}, not {FORMAT:?}"
            ))
        }
    }
}

impl From<Format> for String {
    fn from(_: Format) -> String {
        FORMAT.to_string()
    }
}

/// Always [`VERSION`]: a file of another version is refused, not guessed at.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Version;

impl TryFrom<u32> for Version {
    type Error = String;
    fn try_from(v: u32) -> Result<Self, String> {
        if v == VERSION {
            Ok(Version)
        } else {
            Err(format!(
                "policy file version {v}; this simctl reads version {VERSION} (train it again)"
            ))
        }
    }
}

impl From<Version> for u32 {
    fn from(_: Version) -> u32 {
        VERSION
    }
}

/// The table's rows: each state once, in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Row>")]
pub struct Table(pub Vec<Row>);

impl TryFrom<Vec<Row>> for Table {
    type Error = String;
    fn try_from(rows: Vec<Row>) -> Result<Self, String> {
        let mut states: Vec<State> = rows.iter().map(Row::state).collect();
        states.sort();
        if let Some(w) = states.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("the state {} appears twice", describe(&w[0])));
        }
        Ok(Table(rows))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawRow")]
pub struct Row {
    pub class: Option<IncidentClass>,
    pub severity: Severity,
    pub actions: u8,
    pub arms: Vec<ArmValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    class: Option<IncidentClass>,
    severity: Severity,
    actions: u8,
    arms: Vec<ArmValue>,
}

impl TryFrom<RawRow> for Row {
    type Error = String;
    fn try_from(r: RawRow) -> Result<Self, String> {
        if r.actions > MAX_ACTIONS_BUCKET {
            return Err(format!(
                "actions is {}: at most {MAX_ACTIONS_BUCKET} (it stands for {MAX_ACTIONS_BUCKET} or more)",
                r.actions
            ));
        }
        let mut arms: Vec<Arm> = r.arms.iter().map(|a| a.arm).collect();
        arms.sort();
        if let Some(w) = arms.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("the arm {} appears twice", w[0].name()));
        }
        Ok(Row {
            class: r.class,
            severity: r.severity,
            actions: r.actions,
            arms: r.arms,
        })
    }
}

impl Row {
    fn state(&self) -> State {
        State {
            class: self.class,
            severity: self.severity,
            actions: self.actions,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawArmValue")]
pub struct ArmValue {
    pub arm: Arm,
    pub visits: u64,
    pub value: f64,
    pub m2: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArmValue {
    arm: Arm,
    visits: u64,
    value: f64,
    m2: f64,
}

impl TryFrom<RawArmValue> for ArmValue {
    type Error = String;
    fn try_from(a: RawArmValue) -> Result<Self, String> {
        if a.visits == 0 {
            return Err(format!(
                "arm {} has 0 visits: an arm never tried has no row",
                a.arm.name()
            ));
        }
        if a.m2 < 0.0 {
            return Err(format!(
                "arm {} has m2 {}: a sum of squares is at least 0",
                a.arm.name(),
                a.m2
            ));
        }
        Ok(ArmValue {
            arm: a.arm,
            visits: a.visits,
            value: a.value,
            m2: a.m2,
        })
    }
}

fn describe(s: &State) -> String {
    format!(
        "(class {}, severity {}, actions {})",
        s.class.map_or("null", IncidentClass::name),
        serde_json::to_string(&s.severity).unwrap_or_default(),
        s.actions
    )
}

impl PolicyFile {
    pub fn new(
        scenario: &str,
        scenario_hash: &str,
        training_seed: u64,
        episodes: u64,
        table: &QTable,
    ) -> PolicyFile {
        let mut rows: Vec<Row> = Vec::new();
        for (s, arm, c) in table.iter() {
            if rows.last().is_none_or(|r| r.state() != *s) {
                rows.push(Row {
                    class: s.class,
                    severity: s.severity,
                    actions: s.actions,
                    arms: Vec::new(),
                });
            }
            rows.last_mut().expect("pushed").arms.push(ArmValue {
                arm,
                visits: c.visits,
                value: c.value,
                m2: c.m2,
            });
        }
        PolicyFile {
            format: Format,
            version: Version,
            scenario: scenario.to_string(),
            scenario_hash: scenario_hash.to_string(),
            training_seed,
            episodes,
            batch: BATCH,
            algorithm: ALGORITHM.to_string(),
            reward: Weights::CURRENT,
            table: Table(rows),
        }
    }

    pub fn table(&self) -> QTable {
        QTable::from_cells(self.table.0.iter().flat_map(|r| {
            r.arms.iter().map(move |a| {
                (
                    r.state(),
                    a.arm,
                    Cell {
                        visits: a.visits,
                        value: a.value,
                        m2: a.m2,
                    },
                )
            })
        }))
    }

    /// The file's text: pretty JSON and a final newline; the same table gives the same bytes.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a policy always serialises");
        s.push('\n');
        s
    }

    /// Reads a policy file's text; `file` names it in the error.
    pub fn parse(text: &str, file: &str) -> Result<PolicyFile, PolicyError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let policy: PolicyFile =
            serde_path_to_error::deserialize(&mut de).map_err(|e| PolicyError::new(file, e))?;
        de.end()
            .map_err(|e| PolicyError::from_json(file, String::new(), e))?;
        Ok(policy)
    }
}

/// A policy file that cannot be used: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// The field's path, e.g. `table[2].arms[0].visits` (empty for syntax errors).
    pub field: String,
    pub message: String,
}

impl PolicyError {
    fn new(file: &str, e: serde_path_to_error::Error<serde_json::Error>) -> PolicyError {
        let path = e.path().to_string();
        let field = if path == "." { String::new() } else { path };
        PolicyError::from_json(file, field, e.into_inner())
    }

    fn from_json(file: &str, field: String, e: serde_json::Error) -> PolicyError {
        // serde_json's message ends with " at line L column C": kept apart here.
        let full = e.to_string();
        let message = match full.rfind(" at line ") {
            Some(i) => full[..i].to_string(),
            None => full,
        };
        PolicyError {
            file: file.to_string(),
            line: e.line(),
            col: e.column(),
            field,
            message,
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: error: ", self.file, self.line, self.col)?;
        if !self.field.is_empty() {
            write!(f, "field `{}`: ", self.field)?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for PolicyError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PolicyFile {
        let mut t = QTable::new();
        let s = State::new(Some(IncidentClass::InstanceFailure), Severity::High, 0);
        t.credit(s, Arm::Restart, -2.5);
        t.credit(s, Arm::Wait, -9.0);
        t.credit(State::new(None, Severity::Low, 1), Arm::Escalate, -4.0);
        PolicyFile::new("demo", "00ff", 7, 32, &t)
    }

    #[test]
    fn a_policy_round_trips_to_the_same_bytes_and_table() {
        let p = sample();
        let text = p.to_json();
        let back = PolicyFile::parse(&text, "p.json").unwrap();
        assert_eq!(back, p);
        assert_eq!(back.to_json(), text);
        assert_eq!(back.table(), p.table());
        assert!(text.contains("\"format\": \"simctl-policy\""));
        assert!(text.contains("\"class\": null"));
    }

    fn error_of(edit: impl Fn(String) -> String) -> String {
        let text = edit(sample().to_json());
        PolicyFile::parse(&text, "p.json").unwrap_err().to_string()
    }

    #[test]
    fn bad_files_are_refused_with_line_column_and_field() {
        let e = error_of(|t| t.replace("\"version\": 2", "\"version\": 1"));
        assert!(e.starts_with("p.json:3:"), "{e}");
        assert!(e.contains("field `version`: policy file version 1"), "{e}");

        let e = error_of(|t| t.replacen("\"m2\": 0.0", "\"m2\": -1.0", 1));
        assert!(
            e.contains("arm escalate has m2 -1: a sum of squares"),
            "{e}"
        );

        let e = error_of(|t| t.replace("\"restart\"", "\"reboot\""));
        assert!(e.contains("field `table[1].arms[0].arm`"), "{e}");
        assert!(e.contains("unknown variant `reboot`"), "{e}");

        let e = error_of(|t| t.replacen("\"visits\": 1", "\"visits\": 0", 1));
        assert!(
            e.contains("field `table[0].arms[0]`: arm escalate has 0 visits"),
            "{e}"
        );

        let e = error_of(|t| t.replacen("\"actions\": 1", "\"actions\": 4", 1));
        assert!(e.contains("actions is 4: at most 3"), "{e}");

        let e = error_of(|t| t.replace("\"arm\": \"wait\"", "\"arm\": \"restart\""));
        assert!(e.contains("the arm restart appears twice"), "{e}");

        let e = error_of(|t| t.replace("\"format\": \"simctl-policy\"", "\"format\": \"x\""));
        assert!(
            e.contains("field `format`: not a simctl policy file"),
            "{e}"
        );

        let e = error_of(|t| t.replace("\"episodes\": 32,", "\"episodes\": 32"));
        assert!(e.starts_with("p.json:"), "{e}");
        assert!(!e.contains(" at line "), "{e}");

        let e = error_of(|t| format!("{t}{{}}"));
        assert!(e.contains("trailing characters"), "{e}");
    }

    #[test]
    fn a_state_twice_is_refused() {
        let mut p = sample();
        let first = p.table.0[0].clone();
        p.table.0.push(first);
        let text = serde_json::to_string_pretty(&p).unwrap();
        let e = PolicyFile::parse(&text, "p.json").unwrap_err().to_string();
        assert!(e.contains("field `table`: the state (class null"), "{e}");
    }
}
