//! A plans file from JSON text, with every problem at `file:line:col` and its field, as
//! scenario files report theirs.
//!
//! serde stops at the first error of a value. To report them all, the text is read as a
//! JSON value first (a syntax error is the one problem then), and each level is decoded
//! by its own Rust type on its own: the file with its plans emptied, each plan with its
//! steps emptied, each step, and a step's action and verification apart. Where each
//! problem is comes from the located path (`locate::Locator`: JSON is RON's syntax for
//! maps, lists, strings and numbers).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{PlanAction, PlanFile, Step, Verify, check_file};
use crate::Scenario;
use crate::diagnostic::{Diagnostic, Diagnostics, nearest};
use crate::locate::{Key, Locator, Position};
use crate::remediation::spec::Limits;

/// A step of a path into the file, named as the file names it.
#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Field(String),
    Index(usize),
}

/// A problem at a path.
struct Found {
    path: Vec<Seg>,
    message: String,
}

/// Parses a plans file, without checking it against a scenario. `file` names the source
/// in messages.
pub fn parse(file: &str, text: &str) -> Result<PlanFile, Diagnostics> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let at = Position {
            line: e.line().max(1),
            col: e.column().max(1),
        };
        let full = e.to_string();
        // serde_json appends " at line L column C", which the position already says.
        let message = full
            .rfind(" at line ")
            .map_or(full.as_str(), |i| &full[..i])
            .to_string();
        Diagnostics::new(file, vec![Diagnostic::error(at, "", message)])
    })?;
    let found = decode_all(&value);
    if found.is_empty()
        && let Ok(plans) = serde_json::from_value::<PlanFile>(value)
    {
        return Ok(plans);
    }
    let locator = Locator::new(text);
    let items = found
        .into_iter()
        .map(|f| {
            let keys: Vec<Key<'_>> = f
                .path
                .iter()
                .map(|s| match s {
                    Seg::Field(name) => Key::Field(name),
                    Seg::Index(n) => Key::Index(*n),
                })
                .collect();
            Diagnostic::error(locator.locate_keys(&keys), display(&f.path), f.message)
        })
        .collect();
    Err(Diagnostics::new(file, items))
}

/// Parses a plans file and checks every plan against the scenario and the orchestrator's
/// limits (see `check_file`): the plans, or every problem. For `simctl run --plans FILE`.
pub fn load_plans(
    file: &str,
    text: &str,
    scenario: &Scenario,
    limits: &Limits,
) -> Result<PlanFile, Diagnostics> {
    check_plans(file, text, scenario, limits).map(|(plans, _)| plans)
}

/// [`load_plans`], also giving the warnings (problems for some of a class's targets).
pub fn check_plans(
    file: &str,
    text: &str,
    scenario: &Scenario,
    limits: &Limits,
) -> Result<(PlanFile, Diagnostics), Diagnostics> {
    let plans = parse(file, text)?;
    let (errors, warnings) = check_file(&plans, scenario, limits);
    let locator = Locator::new(text);
    let diagnostic = |p: sim_core::path::Problem, error: bool| {
        let at = locator.locate(&p.path);
        let field = p.path.to_string();
        if error {
            Diagnostic::error(at, field, p.message)
        } else {
            Diagnostic::warning(at, field, p.message)
        }
    };
    let warned: Vec<Diagnostic> = warnings.into_iter().map(|p| diagnostic(p, false)).collect();
    if errors.is_empty() {
        return Ok((plans, Diagnostics::new(file, warned)));
    }
    let mut items: Vec<Diagnostic> = errors.into_iter().map(|p| diagnostic(p, true)).collect();
    items.extend(warned);
    Err(Diagnostics::new(file, items))
}

/// Every syntax-free problem of the file, level by level.
fn decode_all(value: &Value) -> Vec<Found> {
    let mut found = Vec::new();
    let Value::Object(top) = value else {
        found.push(Found {
            path: Vec::new(),
            message: "a plans file is a JSON object: {\"plans\": [ ... ]}".into(),
        });
        return found;
    };
    let mut shell = top.clone();
    let plans = shell.get_mut("plans").map(std::mem::take);
    if let Some(p) = &plans {
        shell.insert("plans".into(), empty_like(p));
    }
    decode::<PlanFile>(&Value::Object(shell), &[], &mut found);
    let Some(Value::Array(plans)) = plans else {
        return found;
    };
    for (i, plan) in plans.iter().enumerate() {
        let at = vec![Seg::Field("plans".into()), Seg::Index(i)];
        let Value::Object(fields) = plan else {
            decode::<super::Plan>(plan, &at, &mut found);
            continue;
        };
        let mut shell = fields.clone();
        let steps = shell.get_mut("steps").map(std::mem::take);
        if let Some(s) = &steps {
            shell.insert("steps".into(), empty_like(s));
        }
        decode::<super::Plan>(&Value::Object(shell), &at, &mut found);
        let Some(Value::Array(steps)) = steps else {
            continue;
        };
        for (j, step) in steps.iter().enumerate() {
            let mut at = at.clone();
            at.extend([Seg::Field("steps".into()), Seg::Index(j)]);
            decode_step(step, &at, &mut found);
        }
    }
    found
}

/// A step, and its action and verification on their own when the step's first problem
/// is elsewhere (so a bad `after` does not hide a bad action).
fn decode_step(step: &Value, at: &[Seg], found: &mut Vec<Found>) {
    let before = found.len();
    decode::<Step>(step, at, found);
    let Some(first) = found.get(before) else {
        return;
    };
    let under = |field: &str| first.path.get(at.len()) == Some(&Seg::Field(field.into()));
    let (in_action, in_verify) = (under("action"), under("verify"));
    if let Value::Object(fields) = step {
        if let Some(action) = fields.get("action")
            && !in_action
        {
            let mut at = at.to_vec();
            at.push(Seg::Field("action".into()));
            decode::<PlanAction>(action, &at, found);
        }
        if let Some(verify) = fields.get("verify").filter(|v| !v.is_null())
            && !in_verify
        {
            let mut at = at.to_vec();
            at.push(Seg::Field("verify".into()));
            decode::<Verify>(verify, &at, found);
        }
    }
}

/// An empty list where a list was, so the level around it decodes on its own; anything
/// else stays for serde to call it the wrong type.
fn empty_like(v: &Value) -> Value {
    match v {
        Value::Array(_) => Value::Array(Vec::new()),
        other => other.clone(),
    }
}

/// Decodes `value` as a `T`, or records where and why not.
fn decode<T: DeserializeOwned>(value: &Value, at: &[Seg], found: &mut Vec<Found>) -> Option<T> {
    let err = match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(t) => return Some(t),
        Err(e) => e,
    };
    let mut path = at.to_vec();
    for seg in err.path().iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => path.push(Seg::Index(*index)),
            serde_path_to_error::Segment::Map { key } => path.push(Seg::Field(key.clone())),
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    let mut message = err.into_inner().to_string();
    // Point at the unknown field itself, and suggest the field or kind meant.
    if let Some(name) = quoted_after(&message, "unknown field `") {
        if path.last() != Some(&Seg::Field(name.clone())) {
            path.push(Seg::Field(name.clone()));
        }
        suggest(&mut message, &name);
    } else if let Some(name) = quoted_after(&message, "unknown variant `") {
        if at_action(&path) {
            path.push(Seg::Field("kind".into()));
        }
        if path.ends_with(&[Seg::Field("action".into()), Seg::Field("kind".into())]) {
            message = message.replacen("unknown variant", "unknown action kind", 1);
        }
        suggest(&mut message, &name);
    } else if message.starts_with("missing field `kind`") && at_action(&path) {
        message = "missing field `kind`: say which action (restart, scale, ...)".into();
    }
    found.push(Found { path, message });
    None
}

fn at_action(path: &[Seg]) -> bool {
    path.last() == Some(&Seg::Field("action".into()))
}

/// The text between `prefix` and the next backtick, if `message` starts with `prefix`.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    Some(rest[..rest.find('`')?].to_string())
}

/// Adds "did you mean" from serde's "expected one of `a`, `b`" list.
fn suggest(message: &mut String, name: &str) {
    let Some(i) = message.find("expected") else {
        return;
    };
    let known: Vec<&str> = message[i..].split('`').skip(1).step_by(2).collect();
    if let Some(close) = nearest(name, &known) {
        let close = close.to_string();
        message.push_str(&format!(" (did you mean `{close}`?)"));
    }
}

/// A path as scenario diagnostics print it: `plans[0].steps[1].action.kind`.
fn display(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Field(name) if out.is_empty() => out.push_str(name),
            Seg::Field(name) => {
                out.push('.');
                out.push_str(name);
            }
            Seg::Index(n) => out.push_str(&format!("[{n}]")),
        }
    }
    out
}
