//! `--replay FILE`: a decider answering from a trajectory, without the agent. Each
//! observation must be the recorded one, byte for byte; the recorded answer (or the recorded
//! error that stopped the run) is given back, so the run ends the same: the same result bytes.

use serde_json::Value;
use sim_models::remediation::decide::{Answer, Decider, DecisionPoint};

use super::Trajectory;
use super::protocol::{observe_line, parse_answer};

/// One line of a trajectory file, with its line number.
struct Record {
    line: usize,
    text: String,
    value: Value,
}

pub struct ReplayDecider {
    file: String,
    records: Vec<Record>,
    /// The next record to read.
    next: usize,
    trajectory: Trajectory,
    /// The recorded agent's name, so the report reads as the recorded run's.
    label: String,
}

impl ReplayDecider {
    /// Reads trajectory `text` (from `file`) for a run whose hello line is `hello`: the
    /// recorded hello must describe the same run (its `agent` session settings aside).
    pub fn new(
        file: &str,
        text: &str,
        hello: &str,
        trajectory: Trajectory,
    ) -> Result<ReplayDecider, String> {
        let mut records = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(line)
                .map_err(|e| format!("{file}:{}: not a JSON line: {e}", i + 1))?;
            let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
            let first = records.is_empty();
            let known = if first {
                kind == "hello"
            } else {
                matches!(kind, "observe" | "answer" | "error")
            };
            if !known {
                let want = if first {
                    "`hello` first"
                } else {
                    "`observe`, `answer` or `error`"
                };
                return Err(format!(
                    "{file}:{}: a record of type `{kind}`, expected {want}",
                    i + 1
                ));
            }
            records.push(Record {
                line: i + 1,
                text: line.to_string(),
                value,
            });
        }
        let Some(recorded) = records.first() else {
            return Err(format!("{file}: empty, not a trajectory"));
        };
        let command = recorded.value["agent"]["command"].as_str().unwrap_or("");
        let label = format!("agent {command}");
        let mut then = recorded.value.clone();
        let mut now: Value = serde_json::from_str(hello).expect("our hello is JSON");
        for v in [&mut then, &mut now] {
            if let Some(map) = v.as_object_mut() {
                map.remove("agent");
            }
        }
        if let Some((at, was, is)) = first_difference(&then, &now, String::new()) {
            return Err(format!(
                "{file}:1: the trajectory was recorded for another run: at {at} it has {was}, \
                 this run {is}"
            ));
        }
        trajectory.push(recorded.text.clone());
        Ok(ReplayDecider {
            file: file.to_string(),
            records,
            next: 1,
            trajectory,
            label,
        })
    }

    fn take(&mut self) -> Option<&Record> {
        let r = self.records.get(self.next)?;
        self.next += 1;
        self.trajectory.push(r.text.clone());
        Some(r)
    }

    fn replay(&mut self, point: &DecisionPoint) -> Result<Answer, String> {
        let step = point.step;
        let file = self.file.clone();
        let ends = || format!("replay {file}: the trajectory ends before step {step}");
        let line = observe_line(point);
        let observed = self.take().ok_or_else(ends)?;
        if observed.text != line {
            let now: Value = serde_json::from_str(&line).expect("our observation is JSON");
            let at = match first_difference(&observed.value, &now, String::new()) {
                Some((at, was, is)) => format!("at {at} it has {was}, this run {is}"),
                None => "they differ".into(),
            };
            return Err(format!(
                "replay {file}: step {step} diverges from the trajectory's observation \
                 (line {}): {at}",
                observed.line
            ));
        }
        let record = self.take().ok_or_else(ends)?;
        let at = record.line;
        // An error record carries its step; an answer record, inside the answer.
        let recorded_step = record
            .value
            .get("step")
            .or_else(|| record.value.get("answer")?.get("step"))
            .and_then(Value::as_u64);
        if recorded_step != Some(step) {
            return Err(format!(
                "replay {file}:{at}: expected the answer to step {step}"
            ));
        }
        match record.value.get("type").and_then(Value::as_str) {
            Some("error") => Err(record
                .value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the recorded run stopped here")
                .to_string()),
            Some("answer") => {
                let answer = record.value.get("answer").cloned().unwrap_or(Value::Null);
                parse_answer(&answer.to_string(), step)
                    .map(|(_, a)| a)
                    .map_err(|why| format!("replay {file}:{at}: {why}"))
            }
            _ => Err(format!(
                "replay {file}:{at}: expected the answer to step {step}"
            )),
        }
    }
}

impl Decider for ReplayDecider {
    fn decide(&mut self, point: &DecisionPoint) -> Result<Answer, String> {
        self.replay(point)
    }

    fn label(&self) -> String {
        self.label.clone()
    }
}

/// The first place two JSON values differ: its path (`signals.services[2].utilization`),
/// and the value on each side.
fn first_difference(a: &Value, b: &Value, at: String) -> Option<(String, String, String)> {
    let here = || {
        let name = if at.is_empty() { "the top" } else { &at };
        Some((name.to_string(), short(a), short(b)))
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match y.get(k) {
                    Some(w) => {
                        if let Some(d) = first_difference(v, w, path) {
                            return Some(d);
                        }
                    }
                    None => return Some((path, short(v), "nothing".into())),
                }
            }
            let extra = y.keys().find(|k| !x.contains_key(*k))?;
            let path = if at.is_empty() {
                extra.clone()
            } else {
                format!("{at}.{extra}")
            };
            Some((path, "nothing".into(), short(&y[extra])))
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                if let Some(d) = first_difference(v, w, format!("{at}[{i}]")) {
                    return Some(d);
                }
            }
            if x.len() != y.len() {
                return Some((
                    at.clone(),
                    format!("{} items", x.len()),
                    format!("{} items", y.len()),
                ));
            }
            None
        }
        _ if a == b => None,
        _ => here(),
    }
}

/// A value as quoted in a message: at most 80 characters of its JSON.
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_is_named_by_its_path() {
        let a: Value = serde_json::from_str(r#"{"x":1,"s":[{"u":0.5},{"u":0.7}]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"x":1,"s":[{"u":0.5},{"u":0.6}]}"#).unwrap();
        let (at, was, is) = first_difference(&a, &b, String::new()).unwrap();
        assert_eq!(
            (at.as_str(), was.as_str(), is.as_str()),
            ("s[1].u", "0.7", "0.6")
        );
        assert!(first_difference(&a, &a, String::new()).is_none());
        let c: Value = serde_json::from_str(r#"{"x":1}"#).unwrap();
        assert_eq!(first_difference(&a, &c, String::new()).unwrap().0, "s");
        assert_eq!(first_difference(&c, &a, String::new()).unwrap().0, "s");
    }

    #[test]
    fn a_trajectory_for_another_run_is_refused() {
        let hello = r#"{"type":"hello","seed":1,"agent":{"max_steps":5}}"#;
        let t = Trajectory::default();
        let text = "{\"type\":\"hello\",\"seed\":2,\"agent\":{\"max_steps\":9}}\n";
        let err = ReplayDecider::new("t.jsonl", text, hello, t.clone())
            .err()
            .unwrap();
        assert!(
            err.contains("t.jsonl:1") && err.contains("at seed it has 2"),
            "{err}"
        );
        // The session settings may differ: a replay answers from the file.
        let same = "{\"type\":\"hello\",\"seed\":1,\"agent\":{\"max_steps\":9}}\n";
        assert!(ReplayDecider::new("t.jsonl", same, hello, t.clone()).is_ok());
        let bad = format!("{}not json\n", same);
        let err = ReplayDecider::new("t.jsonl", &bad, hello, t).err().unwrap();
        assert!(err.starts_with("t.jsonl:2: not a JSON line"), "{err}");
    }
}
