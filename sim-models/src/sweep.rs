//! Parameter sweeps as values: which scenario fields vary (`Param`), the grid of points, a
//! scenario with a point's values set (`Overrides`), each run's metrics as a `Row`, and
//! per-point aggregates with 95% confidence intervals. Running the grid (threads, progress,
//! files) is simctl's job; nothing here does IO.
//!
//! A path names a field as the scenario file spells it: `services.db.workers`,
//! `clients.shoppers.load.rate_rps`, `faults.0.kind.factor`. List elements are picked by
//! their `name` (or a call's `to`) or by index, and enum variants are stepped through
//! (`load.rate_rps` reaches into `Open(rate_rps: ..)`).
//!
//! A value is typed by the field it replaces (`4`, `2.5`, `250ms`, `Refuse`), or written in
//! RON for anything with structure: an enum variant with its content (`Bounded(5)`,
//! `Exponential(mean: "2ms")`), a list (`[Timeout, Error]`), a struct (`(delay: "10ms",
//! max_hedges: 1)`). RON values are read by [`ron_value`] into the JSON tree in serde's
//! form, then the whole scenario is deserialised and validated as a file would be.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sim_core::stats::mean_ci;
use sim_core::time::SimDuration;

use crate::diagnostic::edit_distance;
use crate::metric::MetricRef;
use crate::result::RunResult;
use crate::scenario::Scenario;

/// Most points one parameter may expand to: a typo in a step should not start a week-long run.
const MAX_VALUES: usize = 10_000;

/// One swept field and the values it takes, as text (typed when set, by the field's type).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Param {
    pub path: String,
    pub values: Vec<String>,
}

impl Param {
    /// Parses `PATH=VALUES`: a list `1,2,5`, a range with a step `200..2000:200` (durations
    /// too: `100ms..1s:100ms`), or a log range of N points `10..10000:log4`.
    pub fn parse(spec: &str) -> Result<Param, String> {
        let (path, values) = spec.split_once('=').ok_or_else(|| {
            format!("`{spec}`: expected PATH=VALUES, e.g. services.db.workers=4,8,16")
        })?;
        let path = path.trim();
        if path.is_empty() {
            return Err(format!("`{spec}`: the path is empty"));
        }
        let values = parse_values(values.trim()).map_err(|e| format!("`{spec}`: {e}"))?;
        Ok(Param {
            path: path.to_string(),
            values,
        })
    }
}

fn parse_values(text: &str) -> Result<Vec<String>, String> {
    let Some((start, rest)) = text.split_once("..") else {
        let values: Vec<String> = text.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(String::is_empty) {
            return Err("an empty value in the list".into());
        }
        return Ok(values);
    };
    let (end, step) = rest.split_once(':').ok_or(
        "a range needs a step: START..END:STEP, or START..END:logN for N log-spaced points",
    )?;
    let (start, end, step) = (start.trim(), end.trim(), step.trim());
    if let Some(n) = step.strip_prefix("log") {
        let n: usize = n
            .parse()
            .map_err(|_| format!("`{step}`: expected logN with N a whole number of points"))?;
        return log_range(
            number(start)?,
            number(end)?,
            n,
            is_integer(start) && is_integer(end),
        );
    }
    match (number(start), number(end), number(step)) {
        (Ok(a), Ok(b), Ok(s)) => {
            let integer = is_integer(start) && is_integer(end) && is_integer(step);
            linear_range(
                a,
                b,
                s,
                |x| {
                    if integer { format!("{x:.0}") } else { tidy(x) }
                },
            )
        }
        _ => {
            let d = |t: &str| {
                t.parse::<SimDuration>()
                    .map(|d| d.as_nanos() as f64)
                    .map_err(|e| format!("`{t}`: not a number or a duration ({e})"))
            };
            linear_range(d(start)?, d(end)?, d(step)?, |ns| {
                SimDuration::from_nanos(ns.round() as u64).to_string()
            })
        }
    }
}

fn number(t: &str) -> Result<f64, String> {
    t.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("`{t}`: not a finite number"))
}

fn is_integer(t: &str) -> bool {
    !t.is_empty()
        && t.trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit())
}

/// A value as set in a scenario: whole for integer fields, else as [`tidy`] prints it.
pub fn show_number(x: f64, integer: bool) -> String {
    if integer {
        format!("{:.0}", x.round())
    } else {
        tidy(x)
    }
}

/// `x` to 10 significant digits, so that 0.1 + 0.2 prints as 0.3.
fn tidy(x: f64) -> String {
    let rounded: f64 = format!("{x:.9e}").parse().unwrap_or(x);
    rounded.to_string()
}

fn linear_range(
    a: f64,
    b: f64,
    step: f64,
    show: impl Fn(f64) -> String,
) -> Result<Vec<String>, String> {
    if step <= 0.0 {
        return Err("the step must be positive".into());
    }
    if b < a {
        return Err("the range ends before it starts".into());
    }
    let count = ((b - a) / step * (1.0 + 1e-12)).floor() + 1.0;
    if count > MAX_VALUES as f64 {
        return Err(format!(
            "{count} values: at most {MAX_VALUES} per parameter"
        ));
    }
    Ok((0..count as usize)
        .map(|i| show(a + step * i as f64))
        .collect())
}

fn log_range(a: f64, b: f64, n: usize, integer: bool) -> Result<Vec<String>, String> {
    if !(a > 0.0 && b > a) {
        return Err("a log range needs 0 < START < END".into());
    }
    if !(2..=MAX_VALUES).contains(&n) {
        return Err(format!("a log range needs 2 to {MAX_VALUES} points"));
    }
    let mut values: Vec<String> = (0..n)
        .map(|i| {
            let x = a * (b / a).powf(i as f64 / (n - 1) as f64);
            if integer {
                format!("{:.0}", x.round())
            } else {
                tidy(x)
            }
        })
        .collect();
    values.dedup();
    Ok(values)
}

/// Every combination of the parameters' values, the first parameter varying slowest.
pub fn grid(params: &[Param]) -> Vec<Vec<String>> {
    params.iter().fold(vec![Vec::new()], |points, p| {
        points
            .iter()
            .flat_map(|point| {
                p.values.iter().map(move |v| {
                    let mut next = point.clone();
                    next.push(v.clone());
                    next
                })
            })
            .collect()
    })
}

/// A scenario as a JSON tree, ready to have fields set by path.
#[derive(Clone, Debug)]
pub struct Overrides {
    base: Value,
}

/// What a path ends at: decides how a value is typed and how a search steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Integer,
    Number,
    Text,
    /// An optional field left out: the value's own form decides.
    Unset,
}

impl Overrides {
    pub fn new(scenario: &Scenario) -> Self {
        Overrides {
            base: serde_json::to_value(scenario).expect("a scenario always serialises"),
        }
    }

    /// The kind of the field at `path`, or why the path names no field.
    pub fn kind(&self, path: &str) -> Result<FieldKind, String> {
        let mut root = self.base.clone();
        let leaf = walk(&mut root, path)?;
        Ok(match leaf {
            Value::Number(n) if n.is_u64() || n.is_i64() => FieldKind::Integer,
            Value::Number(_) => FieldKind::Number,
            Value::Null => FieldKind::Unset,
            _ => FieldKind::Text,
        })
    }

    /// The scenario with each `(path, value)` set, checked as a loaded file would be.
    pub fn apply(&self, sets: &[(&str, &str)]) -> Result<Scenario, String> {
        let mut root = self.base.clone();
        for &(path, raw) in sets {
            if looks_structured(raw) {
                let node = walk_node(&mut root, path)?;
                let value = ron_value(raw).map_err(|e| format!("{path}={raw}: {e}"))?;
                *node = fit(value, node);
            } else {
                let leaf = walk(&mut root, path)?;
                *leaf = typed(leaf, raw).map_err(|e| format!("{path}={raw}: {e}"))?;
            }
        }
        let scenario: Scenario = serde_path_to_error::deserialize(root).map_err(|e| {
            let at = e.path().to_string();
            format!("{}: field `{at}`: {}", describe(sets), e.into_inner())
        })?;
        let (errors, _) = crate::validate::problems(&scenario);
        if !errors.is_empty() {
            let list: Vec<String> = errors
                .iter()
                .map(|p| format!("field `{}`: {}", p.path, p.message))
                .collect();
            return Err(format!("{}: {}", describe(sets), list.join("; ")));
        }
        Ok(scenario)
    }
}

fn describe(sets: &[(&str, &str)]) -> String {
    let parts: Vec<String> = sets.iter().map(|(p, v)| format!("{p}={v}")).collect();
    parts.join(" ")
}

/// The value `raw` in the form of the field it replaces.
fn typed(old: &Value, raw: &str) -> Result<Value, String> {
    let raw = raw.trim();
    let unquoted = raw.trim_matches('"');
    Ok(match old {
        Value::Number(n) if n.is_u64() => Value::from(
            raw.parse::<u64>()
                .map_err(|_| "expected a whole number (0 or more)".to_string())?,
        ),
        Value::Number(n) if n.is_i64() => Value::from(
            raw.parse::<i64>()
                .map_err(|_| "expected a whole number".to_string())?,
        ),
        Value::Number(_) => Value::from(number(raw)?),
        Value::Bool(_) => Value::Bool(
            raw.parse::<bool>()
                .map_err(|_| "expected true or false".to_string())?,
        ),
        Value::String(_) => Value::String(unquoted.to_string()),
        Value::Null => {
            if let Ok(i) = raw.parse::<u64>() {
                Value::from(i)
            } else if let Ok(x) = number(raw) {
                Value::from(x)
            } else {
                Value::String(unquoted.to_string())
            }
        }
        Value::Object(_) | Value::Array(_) => {
            return Err(
                "this field holds a structure: write it in RON (e.g. `Bounded(5)`, `[Timeout]`, `(delay: \"10ms\")`) or set one of its fields".into(),
            );
        }
    })
}

/// A value written in RON rather than as a plain number, duration or name: a list, a
/// tuple or struct, or a variant with content (`Bounded(5)`). A quoted string never is.
fn looks_structured(raw: &str) -> bool {
    let raw = raw.trim();
    raw.starts_with(['[', '(', '{'])
        || (raw.starts_with(|c: char| c.is_ascii_uppercase())
            && raw.ends_with(')')
            && raw.contains('('))
}

/// The node at `path`, stepping through enum variants and picking list elements by name;
/// a path ending at a variant that wraps one value (`queue` of `Bounded(64)`) gives that
/// value.
fn walk<'a>(root: &'a mut Value, path: &str) -> Result<&'a mut Value, String> {
    let node = walk_node(root, path)?;
    let wraps_value = matches!(&*node, Value::Object(map)
        if is_variant(map) && !map.values().next().is_some_and(is_structured));
    Ok(if wraps_value {
        variant_content(node)
    } else {
        node
    })
}

/// The node at `path` itself (a variant stays whole, to be replaced by another).
fn walk_node<'a>(root: &'a mut Value, path: &str) -> Result<&'a mut Value, String> {
    let all = leaf_paths(root);
    // Suggestions: paths under the part that resolved, those containing the unknown part
    // first, then by edit distance.
    let unknown = |at: &str, why: String| {
        let prefix = if at.is_empty() {
            String::new()
        } else {
            format!("{at}.")
        };
        let rest = &path[prefix.len()..];
        let first = rest.split('.').next().unwrap_or(rest);
        let mut near: Vec<(bool, bool, usize, &String)> = all
            .iter()
            .map(|p| {
                let (under, tail) = match p.strip_prefix(&prefix) {
                    Some(tail) => (true, tail),
                    None => (false, p.as_str()),
                };
                (!under, !tail.contains(first), edit_distance(rest, tail), p)
            })
            .collect();
        near.sort();
        let near: Vec<&str> = near.iter().take(3).map(|n| n.3.as_str()).collect();
        format!(
            "unknown path `{path}`: {why}; nearest valid paths: {}",
            near.join(", ")
        )
    };
    let mut node = root;
    let mut done = String::new();
    for seg in path.split('.') {
        node = unwrap_variant(node, seg);
        let here = done.clone();
        node = match node {
            Value::Object(map) => {
                if !map.contains_key(seg) {
                    return Err(unknown(&here, format!("`{here}` has no field `{seg}`")));
                }
                map.get_mut(seg).expect("checked above")
            }
            Value::Array(items) => {
                let i = match seg.parse::<usize>() {
                    Ok(i) if i < items.len() => i,
                    _ => items
                        .iter()
                        .position(|item| element_name(item) == Some(seg))
                        .ok_or_else(|| {
                            unknown(&here, format!("`{here}` has no element `{seg}`"))
                        })?,
                };
                &mut items[i]
            }
            _ => {
                return Err(unknown(
                    &here,
                    format!("`{here}` is a value, not a structure"),
                ));
            }
        };
        if !done.is_empty() {
            done.push('.');
        }
        done.push_str(seg);
    }
    Ok(node)
}

/// `new` shaped like `old` where RON and serde's JSON differ: RON may name a struct
/// (`Client(name: ..)`), which JSON does not; a named struct is unwrapped where the field
/// it replaces holds a plain struct.
fn fit(new: Value, old: &Value) -> Value {
    match (new, old) {
        (Value::Object(map), Value::Object(old_map))
            if is_variant(&map)
                && !is_variant(old_map)
                && map.values().next().is_some_and(Value::is_object) =>
        {
            let (_, inner) = map.into_iter().next().expect("a variant has one entry");
            fit(inner, old)
        }
        (Value::Object(map), Value::Object(old_map)) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match old_map.get(&k) {
                        Some(o) => fit(v, o),
                        None => v,
                    };
                    (k, v)
                })
                .collect(),
        ),
        (Value::Array(items), Value::Array(old_items)) => match old_items.first() {
            Some(o) => Value::Array(items.into_iter().map(|v| fit(v, o)).collect()),
            None => Value::Array(items),
        },
        (new, _) => new,
    }
}

/// A RON value as serde's JSON form of the same thing (externally tagged enums):
/// `Bounded(5)` -> `{"Bounded": 5}`, `Call(to: "db")` -> `{"Call": {"to": "db"}}`,
/// `Timeout` -> `"Timeout"`, `(a: 1)` -> `{"a": 1}`, `(1, "x")` and `[1, 2]` -> arrays,
/// `Some(x)` -> `x`, `None` -> `null`.
pub fn ron_value(text: &str) -> Result<Value, String> {
    let mut p = RonReader {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.space();
    if p.i < p.s.len() {
        return Err(format!("unexpected `{}` after the value", &text[p.i..]));
    }
    Ok(v)
}

struct RonReader<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl RonReader<'_> {
    fn space(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.space();
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn text(&self, a: usize) -> &str {
        std::str::from_utf8(&self.s[a..self.i]).unwrap_or("")
    }
    fn value(&mut self) -> Result<Value, String> {
        self.depth += 1;
        if self.depth > 64 {
            return Err("the value nests too deeply".into());
        }
        let v = match self.peek() {
            None => Err("a value is missing".into()),
            Some(b'"') => self.string(),
            Some(b'[') => {
                self.i += 1;
                self.items(b']').map(Value::Array)
            }
            Some(b'(') => {
                self.i += 1;
                self.group()
            }
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => self.named(),
            Some(_) => self.number(),
        };
        self.depth -= 1;
        v
    }
    fn string(&mut self) -> Result<Value, String> {
        let a = self.i;
        self.i += 1;
        while self.i < self.s.len() && self.s[self.i] != b'"' {
            self.i += if self.s[self.i] == b'\\' { 2 } else { 1 };
        }
        self.i += 1;
        if self.i > self.s.len() {
            return Err("a string is not closed".into());
        }
        serde_json::from_str(self.text(a)).map_err(|e| format!("a bad string ({e})"))
    }
    fn number(&mut self) -> Result<Value, String> {
        let a = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || b"+-._".contains(&self.s[self.i]))
        {
            self.i += 1;
        }
        let t = self.text(a).replace('_', "");
        if let Ok(n) = t.parse::<u64>() {
            return Ok(Value::from(n));
        }
        if let Ok(n) = t.parse::<i64>() {
            return Ok(Value::from(n));
        }
        match t.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Value::from(x)),
            _ => Err(format!("`{t}` is not a value")),
        }
    }
    /// Items up to `close`, separated by commas (a trailing comma allowed).
    fn items(&mut self, close: u8) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        while !self.eat(close) {
            out.push(self.value()?);
            if !self.eat(b',') {
                if self.eat(close) {
                    break;
                }
                return Err(format!("expected `,` or `{}`", close as char));
            }
        }
        Ok(out)
    }
    /// After `(`: named fields (a struct) or values (a tuple).
    fn group(&mut self) -> Result<Value, String> {
        let start = self.i;
        if let Some(c) = self.peek()
            && (c.is_ascii_alphabetic() || c == b'_')
        {
            let a = self.i;
            while self.i < self.s.len()
                && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
            {
                self.i += 1;
            }
            let key = self.text(a).to_string();
            if self.eat(b':') {
                let mut map = serde_json::Map::new();
                map.insert(key, self.value()?);
                while self.eat(b',') {
                    if self.peek() == Some(b')') {
                        break;
                    }
                    let a = self.i;
                    while self.i < self.s.len()
                        && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
                    {
                        self.i += 1;
                    }
                    let key = self.text(a).to_string();
                    if key.is_empty() || !self.eat(b':') {
                        return Err("expected `name: value` in a struct".into());
                    }
                    map.insert(key, self.value()?);
                }
                if !self.eat(b')') {
                    return Err("expected `,` or `)`".into());
                }
                return Ok(Value::Object(map));
            }
            self.i = start;
        }
        self.items(b')').map(Value::Array)
    }
    /// `true`, `None`, `Some(x)`, a unit variant `Timeout`, or `Name(..)`.
    fn named(&mut self) -> Result<Value, String> {
        let a = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        let name = self.text(a).to_string();
        if self.peek() != Some(b'(') {
            return Ok(match name.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "None" => Value::Null,
                _ => Value::String(name),
            });
        }
        self.i += 1;
        let content = match self.group()? {
            // One value in parentheses is the variant's content, not a 1-tuple.
            Value::Array(mut items) if items.len() == 1 => items.pop().expect("one item"),
            other => other,
        };
        if name == "Some" {
            return Ok(content);
        }
        let mut map = serde_json::Map::new();
        map.insert(name, content);
        Ok(Value::Object(map))
    }
}

/// Steps into `{"Variant": content}` unless `seg` names the variant itself.
fn unwrap_variant<'a>(node: &'a mut Value, seg: &str) -> &'a mut Value {
    let step = matches!(&*node, Value::Object(map) if is_variant(map) && !map.contains_key(seg));
    if step {
        unwrap_variant(variant_content(node), seg)
    } else {
        node
    }
}

/// The content of a `{"Variant": content}` node.
fn variant_content(node: &mut Value) -> &mut Value {
    match node {
        Value::Object(map) => map.values_mut().next().expect("a variant has one entry"),
        _ => unreachable!("only called on variants"),
    }
}

/// Serde's external tagging: one entry whose key is a capitalised variant name.
fn is_variant(map: &serde_json::Map<String, Value>) -> bool {
    map.len() == 1
        && map
            .keys()
            .all(|k| k.starts_with(|c: char| c.is_ascii_uppercase()))
}

fn is_structured(v: &Value) -> bool {
    matches!(v, Value::Object(_) | Value::Array(_))
}

/// The name a list element is picked by: its `name`, or a call's `to`.
fn element_name(item: &Value) -> Option<&str> {
    let mut item = item;
    while let Value::Object(map) = item {
        if let Some(Value::String(n)) = map.get("name").or_else(|| map.get("to")) {
            return Some(n);
        }
        if !is_variant(map) {
            return None;
        }
        item = map.values().next().expect("one entry");
    }
    None
}

/// Every settable path of the tree, as a user would write it.
fn leaf_paths(root: &Value) -> Vec<String> {
    fn go(v: &Value, prefix: &str, out: &mut Vec<String>) {
        let join = |seg: &str| {
            if prefix.is_empty() {
                seg.to_string()
            } else {
                format!("{prefix}.{seg}")
            }
        };
        match v {
            Value::Object(map) if is_variant(map) => {
                let inner = map.values().next().expect("one entry");
                if is_structured(inner) {
                    go(inner, prefix, out);
                } else {
                    out.push(prefix.to_string());
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    go(v, &join(k), out);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let seg = element_name(item).map_or_else(|| i.to_string(), str::to_string);
                    go(item, &join(&seg), out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    go(root, "", &mut out);
    out
}

/// The seed of replicate `r`: the base seed itself first (so one replicate replays as
/// `simctl run --seed BASE`), then derived ones. The same for every point: common random
/// numbers make neighbouring points differ by the parameter, not by luck.
pub fn replicate_seed(base: u64, r: u32) -> u64 {
    if r == 0 {
        base
    } else {
        sim_core::rng::derive_seed(base, u64::from(r))
    }
}

/// One run of a sweep: a point's values, a replicate, and the run's metrics in the sweep's
/// column order ([`SweepResult::metrics`]; `None` where the metric has no value, e.g.
/// `recovery_s` of a metastable run; see [`crate::metric`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub point: usize,
    pub replicate: u32,
    pub seed: u64,
    pub values: Vec<String>,
    pub scenario_hash: String,
    pub stopped: String,
    pub metrics: Vec<Option<f64>>,
}

impl Row {
    /// The row of run `r`: `metrics` read through the registry, in the sweep's column order.
    pub fn new(
        point: usize,
        replicate: u32,
        values: Vec<String>,
        r: &RunResult,
        metrics: &[MetricRef],
    ) -> Row {
        Row {
            point,
            replicate,
            seed: r.seed,
            values,
            scenario_hash: r.scenario_hash.clone(),
            stopped: r.stopped.to_string(),
            metrics: metrics.iter().map(|m| m.read(r)).collect(),
        }
    }
}

/// A metric over a point's replicates: mean and 95% t interval (bounds `None` with fewer
/// than two values); `n` counts the replicates that had a value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub n: usize,
}

/// One point of the grid, aggregated over its replicates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PointSummary {
    pub point: usize,
    pub values: Vec<String>,
    pub replicates: usize,
    /// One per entry of the sweep's [`SweepResult::metrics`].
    pub stats: Vec<Stat>,
}

/// A whole sweep: what was varied and every run, in (point, replicate) order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    pub scenario: String,
    /// Hash of the scenario before any parameter was set.
    pub scenario_hash: String,
    pub base_seed: u64,
    pub seeds: u32,
    pub params: Vec<Param>,
    /// The metric of each column, by registry name ([`crate::metric`]): the run-wide
    /// metrics, then any the user asked for.
    pub metrics: Vec<String>,
    pub rows: Vec<Row>,
    pub points: Vec<PointSummary>,
}

impl SweepResult {
    /// Gathers rows (any order) into a result; the output depends only on the rows' content.
    pub fn new(
        scenario: &str,
        hash: &str,
        base_seed: u64,
        seeds: u32,
        params: Vec<Param>,
        metrics: &[MetricRef],
        mut rows: Vec<Row>,
    ) -> Self {
        rows.sort_by_key(|r| (r.point, r.replicate));
        let mut points: Vec<PointSummary> = Vec::new();
        for chunk in rows.chunk_by(|a, b| a.point == b.point) {
            let stats = (0..metrics.len())
                .map(|m| {
                    let xs: Vec<f64> = chunk
                        .iter()
                        .filter_map(|r| r.metrics[m])
                        .filter(|x| x.is_finite())
                        .collect();
                    aggregate(&xs)
                })
                .collect();
            points.push(PointSummary {
                point: chunk[0].point,
                values: chunk[0].values.clone(),
                replicates: chunk.len(),
                stats,
            });
        }
        SweepResult {
            scenario: scenario.to_string(),
            scenario_hash: hash.to_string(),
            base_seed,
            seeds,
            params,
            metrics: metrics.iter().map(MetricRef::name).collect(),
            rows,
            points,
        }
    }

    /// The statistic of metric `name` at point `p`, if the sweep has that column.
    pub fn stat<'a>(&self, p: &'a PointSummary, name: &str) -> Option<&'a Stat> {
        let i = self.metrics.iter().position(|m| m == name)?;
        p.stats.get(i)
    }

    /// One line per run: point, replicate, seed, the parameters, then every metric.
    pub fn runs_csv(&self) -> String {
        let mut head = vec!["point".to_string(), "replicate".into(), "seed".into()];
        head.extend(self.params.iter().map(|p| p.path.clone()));
        head.extend(["scenario_hash".to_string(), "stopped".into()]);
        head.extend(self.metrics.iter().cloned());
        let mut out = csv_line(&head);
        for r in &self.rows {
            let mut cells = vec![
                r.point.to_string(),
                r.replicate.to_string(),
                r.seed.to_string(),
            ];
            cells.extend(r.values.iter().cloned());
            cells.extend([r.scenario_hash.clone(), r.stopped.clone()]);
            cells.extend(r.metrics.iter().map(|m| opt(*m)));
            out.push_str(&csv_line(&cells));
        }
        out
    }

    /// One line per point: the parameters, the replicate count, then each metric's mean and
    /// 95% interval.
    pub fn points_csv(&self) -> String {
        let mut head = vec!["point".to_string()];
        head.extend(self.params.iter().map(|p| p.path.clone()));
        head.push("replicates".into());
        for m in &self.metrics {
            head.extend([
                format!("{m}_mean"),
                format!("{m}_ci_low"),
                format!("{m}_ci_high"),
            ]);
        }
        let mut out = csv_line(&head);
        for p in &self.points {
            let mut cells = vec![p.point.to_string()];
            cells.extend(p.values.iter().cloned());
            cells.push(p.replicates.to_string());
            for s in &p.stats {
                cells.extend([opt(s.mean), opt(s.ci_low), opt(s.ci_high)]);
            }
            out.push_str(&csv_line(&cells));
        }
        out
    }
}

fn aggregate(xs: &[f64]) -> Stat {
    if xs.is_empty() {
        return Stat {
            mean: None,
            ci_low: None,
            ci_high: None,
            n: 0,
        };
    }
    let ci = mean_ci(xs, 0.95);
    let bound = |x: f64| x.is_finite().then_some(x);
    Stat {
        mean: Some(ci.mean),
        ci_low: bound(ci.low()),
        ci_high: bound(ci.high()),
        n: xs.len(),
    }
}

/// A number as CSV text: Rust's shortest form that reads back exactly; empty for none.
fn opt(x: Option<f64>) -> String {
    x.map(|x| x.to_string()).unwrap_or_default()
}

fn csv_line(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}

/// How the runs at one value of a tipping-point search came out, by verdict
/// ([`crate::recovery::Verdict::tipped`]): metastable or collapsed, recovered or steady, or undetermined.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub tipped: usize,
    pub healthy: usize,
    pub undetermined: usize,
    /// The reason of the first undetermined run, if any.
    pub reason: Option<String>,
}

impl Tally {
    pub fn add(&mut self, r: &RunResult) {
        match r.recovery_verdict.tipped() {
            Some(true) => self.tipped += 1,
            Some(false) => self.healthy += 1,
            None => {
                self.undetermined += 1;
                self.reason.get_or_insert_with(|| r.recovery_reason.clone());
            }
        }
    }

    pub fn runs(&self) -> usize {
        self.tipped + self.healthy + self.undetermined
    }

    /// `Some(true)` when most runs tipped, `Some(false)` when most came back, `None` when
    /// neither has a majority: the value is undetermined, neither tipped nor healthy.
    pub fn outcome(&self) -> Option<bool> {
        let runs = self.runs();
        if self.tipped * 2 > runs {
            Some(true)
        } else if self.healthy * 2 > runs {
            Some(false)
        } else {
            None
        }
    }
}

/// The outcome of a search for the smallest value at which a condition turns true.
#[derive(Clone, Debug, PartialEq)]
pub struct Bisection {
    /// Largest value seen without the condition, and smallest with it.
    pub below: f64,
    pub at: f64,
    /// Every value tried, in order, and whether the condition held there.
    pub tried: Vec<(f64, bool)>,
}

/// Bisects `[lo, hi]` for the smallest value where `holds` is true, to within `tolerance`
/// (whole numbers when `integer`). Assumes the condition is monotone in the value; checks
/// the ends first and says so when it does not hold at `hi` or already holds at `lo`.
/// `holds` answers `None` when it cannot tell at a value: the search stops there and says
/// so, rather than guess which side the value is on.
pub fn bisect<E>(
    lo: f64,
    hi: f64,
    tolerance: f64,
    integer: bool,
    mut holds: impl FnMut(f64) -> Result<Option<bool>, E>,
) -> Result<Result<Bisection, String>, E> {
    let mut tried = Vec::new();
    let mut test = |x: f64| -> Result<Option<bool>, E> {
        let h = holds(x)?;
        if let Some(h) = h {
            tried.push((x, h));
        }
        Ok(h)
    };
    let undetermined = |x: f64| {
        Ok(Err(format!(
            "the outcome at {x} is undetermined (neither most runs tipped nor most came back), so the search cannot tell which side of the tipping point it is on"
        )))
    };
    let Some(at_lo) = test(lo)? else {
        return undetermined(lo);
    };
    if at_lo {
        return Ok(Err(format!(
            "the condition already holds at the low end, {lo}"
        )));
    }
    let Some(at_hi) = test(hi)? else {
        return undetermined(hi);
    };
    if !at_hi {
        return Ok(Err(format!(
            "the condition does not hold even at the high end, {hi}"
        )));
    }
    let (mut below, mut at) = (lo, hi);
    let tolerance = if integer {
        tolerance.max(1.0)
    } else {
        tolerance
    };
    while at - below > tolerance {
        let mut mid = below + (at - below) / 2.0;
        if integer {
            mid = mid.floor();
            if mid <= below {
                break;
            }
        }
        let Some(h) = test(mid)? else {
            return undetermined(mid);
        };
        if h {
            at = mid;
        } else {
            below = mid;
        }
    }
    Ok(Ok(Bisection { below, at, tried }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v06() -> Scenario {
        let text = include_str!("../../scenarios/v0.6.ron");
        crate::load("v0.6.ron", text).unwrap().scenario
    }

    #[test]
    fn values_parse_as_lists_ranges_and_log_ranges() {
        let p = |s: &str| Param::parse(s).map(|p| p.values);
        assert_eq!(p("a=1,2,5").unwrap(), ["1", "2", "5"]);
        assert_eq!(
            p("a=200..1000:200").unwrap(),
            ["200", "400", "600", "800", "1000"]
        );
        assert_eq!(
            p("a=0.1..0.5:0.1").unwrap(),
            ["0.1", "0.2", "0.3", "0.4", "0.5"]
        );
        assert_eq!(p("a=10..1000:log3").unwrap(), ["10", "100", "1000"]);
        assert_eq!(
            p("a=100ms..300ms:100ms").unwrap(),
            ["100ms", "200ms", "300ms"]
        );
        assert!(p("a=5..1:1").unwrap_err().contains("ends before"));
        assert!(p("a=1..5:0").unwrap_err().contains("positive"));
        assert!(p("a=1..5").unwrap_err().contains("step"));
        assert!(p("a=0..1000000:1").unwrap_err().contains("at most"));
        assert!(p("novalue").unwrap_err().contains("PATH=VALUES"));
    }

    #[test]
    fn grid_is_the_cartesian_product_first_param_slowest() {
        let a = Param::parse("a=1,2").unwrap();
        let b = Param::parse("b=x,y,z").unwrap();
        let g = grid(&[a, b]);
        assert_eq!(g.len(), 6);
        assert_eq!(g[0], ["1", "x"]);
        assert_eq!(g[1], ["1", "y"]);
        assert_eq!(g[3], ["2", "x"]);
    }

    #[test]
    fn a_scenario_survives_the_json_round_trip_unchanged() {
        let s = v06();
        assert_eq!(Overrides::new(&s).apply(&[]).unwrap(), s);
    }

    #[test]
    fn paths_reach_named_elements_variants_and_calls() {
        let s = v06();
        let o = Overrides::new(&s);
        let t = o
            .apply(&[
                ("services.db.workers", "4"),
                ("clients.shoppers.load.rate_rps", "123.5"),
                ("faults.0.kind.factor", "5"),
                ("services.orders.calls.0.payment.policy.timeout", "300ms"),
                ("services.db.queue", "8"),
            ])
            .unwrap();
        let db = &t.services[t.service_index("db").unwrap()];
        assert_eq!(db.workers, 4);
        assert_eq!(db.queue, crate::scenario::QueueSpec::Bounded(8));
        assert!(format!("{:?}", t.clients[0].load).contains("123.5"));
        assert!(format!("{:?}", t.faults[0].kind).contains("5.0"));
        assert_ne!(t.hash(), s.hash());
        assert_eq!(o.kind("services.db.workers").unwrap(), FieldKind::Integer);
        assert_eq!(
            o.kind("clients.shoppers.load.rate_rps").unwrap(),
            FieldKind::Number
        );
    }

    #[test]
    fn ron_values_set_variants_lists_and_structs() {
        let o = Overrides::new(&v06());
        let s = o.apply(&[("services.db.queue", "Bounded(5)")]).unwrap();
        let db = s.services.iter().find(|x| x.name == "db").unwrap();
        assert_eq!(db.queue, crate::scenario::QueueSpec::Bounded(5));
        let s = o
            .apply(&[("clients.shoppers.policy.retry_on", "[Timeout]")])
            .unwrap();
        assert_eq!(
            serde_json::to_value(&s.clients[0].policy.retry_on).unwrap(),
            serde_json::json!(["Timeout"])
        );
        let s = o
            .apply(&[("services.db.service_time", "Exponential(mean: \"2ms\")")])
            .unwrap();
        let db = s.services.iter().find(|x| x.name == "db").unwrap();
        assert_eq!(
            serde_json::to_value(&db.service_time).unwrap(),
            serde_json::json!({"Exponential": {"mean": "2ms"}})
        );
        // A plain value still goes into the variant it replaces.
        let s = o.apply(&[("services.db.queue", "7")]).unwrap();
        let db = s.services.iter().find(|x| x.name == "db").unwrap();
        assert_eq!(db.queue, crate::scenario::QueueSpec::Bounded(7));
        // Wrong RON is an error naming the field, not a silent change.
        let e = o
            .apply(&[("services.db.queue", "Bounded(x: 1")])
            .unwrap_err();
        assert!(e.contains("services.db.queue=Bounded(x: 1"), "{e}");
        let e = o
            .apply(&[("services.db.queue", "Boundless(5)")])
            .unwrap_err();
        assert!(e.contains("Boundless"), "{e}");
    }

    #[test]
    fn ron_values_read_as_serde_json() {
        let cases = [
            ("Bounded(5)", serde_json::json!({"Bounded": 5})),
            ("[Timeout, Error]", serde_json::json!(["Timeout", "Error"])),
            (
                "(delay: \"10ms\", max_hedges: 2,)",
                serde_json::json!({"delay": "10ms", "max_hedges": 2}),
            ),
            (
                "Mixture([(0.5, Constant(\"1ms\"))])",
                serde_json::json!({"Mixture": [[0.5, {"Constant": "1ms"}]]}),
            ),
            ("Some(3)", serde_json::json!(3)),
            ("None", serde_json::Value::Null),
            ("-2.5", serde_json::json!(-2.5)),
        ];
        for (text, want) in cases {
            assert_eq!(ron_value(text), Ok(want), "{text}");
        }
        for bad in ["[1, 2", "(a: )", "Bounded(5) x", "\"open"] {
            assert!(ron_value(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_paths_and_values_are_clear_errors() {
        let o = Overrides::new(&v06());
        let e = o.apply(&[("clients.shoppers.rate", "5")]).unwrap_err();
        assert!(e.contains("unknown path `clients.shoppers.rate`"), "{e}");
        assert!(e.contains("clients.shoppers.load.rate_rps"), "{e}");
        let e = o.apply(&[("services.dbb.workers", "5")]).unwrap_err();
        assert!(
            e.contains("no element `dbb`") && e.contains("services.db.workers"),
            "{e}"
        );
        let e = o.apply(&[("services.db.workers", "2.5")]).unwrap_err();
        assert!(e.contains("whole number"), "{e}");
        let e = o.apply(&[("services.db.workers", "0")]).unwrap_err();
        assert!(e.contains("services[4].workers"), "{e}");
        let e = o.apply(&[("faults.0.kind.factor", "-1")]).unwrap_err();
        assert!(e.contains("faults[0]"), "{e}");
    }

    #[test]
    fn aggregates_give_mean_and_interval_per_point() {
        let row = |point, replicate, p99: f64| Row {
            point,
            replicate,
            seed: 1,
            values: vec![point.to_string()],
            scenario_hash: "h".into(),
            stopped: "horizon".into(),
            metrics: crate::metric::RUN
                .iter()
                .map(|m| match m.name {
                    "p99_ms" => Some(p99),
                    "recovery_s" => None,
                    _ => Some(1.0),
                })
                .collect(),
        };
        let rows = vec![
            row(1, 1, 12.0),
            row(0, 0, 10.0),
            row(0, 1, 14.0),
            row(1, 0, 12.0),
        ];
        let params = vec![Param::parse("x=0,1").unwrap()];
        let metrics: Vec<MetricRef> = crate::metric::run_metrics().collect();
        let s = SweepResult::new("f", "h", 42, 2, params, &metrics, rows);
        assert_eq!((s.rows[0].point, s.rows[1].replicate), (0, 1));
        let p99 = s.stat(&s.points[0], "p99_ms").unwrap();
        assert_eq!(p99.mean, Some(12.0));
        // t(0.975, 1 dof) = 12.706; standard error 2.
        assert!((p99.ci_high.unwrap() - (12.0 + 12.706 * 2.0)).abs() < 0.01);
        assert_eq!(s.stat(&s.points[0], "recovery_s").unwrap().n, 0);
        let csv = s.points_csv();
        assert!(csv.starts_with("point,x,replicates,offered_mean,"));
        assert_eq!(csv.lines().count(), 3);
        assert_eq!(s.runs_csv().lines().count(), 5);
    }

    #[test]
    fn bisection_finds_the_threshold_within_tolerance() {
        let found = bisect::<()>(0.0, 100.0, 0.5, false, |x| Ok(Some(x >= 37.2)))
            .unwrap()
            .unwrap();
        assert!(found.below < 37.2 && found.at >= 37.2 && found.at - found.below <= 0.5);
        let found = bisect::<()>(1.0, 64.0, 1.0, true, |x| Ok(Some(x >= 20.0)))
            .unwrap()
            .unwrap();
        assert_eq!((found.below, found.at), (19.0, 20.0));
        assert!(
            bisect::<()>(0.0, 1.0, 0.1, false, |_| Ok(Some(true)))
                .unwrap()
                .is_err()
        );
        assert!(
            bisect::<()>(0.0, 1.0, 0.1, false, |_| Ok(Some(false)))
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn bisection_stops_at_an_undetermined_value_and_says_so() {
        // Undetermined between 40 and 60: the search must not take it for either side.
        let mut seen = Vec::new();
        let found = bisect::<()>(0.0, 100.0, 0.5, false, |x| {
            seen.push(x);
            Ok(if (40.0..60.0).contains(&x) {
                None
            } else {
                Some(x >= 50.0)
            })
        })
        .unwrap();
        let why = found.unwrap_err();
        assert!(why.contains("the outcome at 50 is undetermined"), "{why}");
        assert_eq!(seen, vec![0.0, 100.0, 50.0]);
        // Undetermined at an end.
        let why = bisect::<()>(0.0, 100.0, 0.5, false, |x| Ok((x < 90.0).then_some(false)))
            .unwrap()
            .unwrap_err();
        assert!(why.contains("the outcome at 100 is undetermined"), "{why}");
    }

    #[test]
    fn a_tally_is_undetermined_without_a_majority() {
        let t = |tipped, healthy, undetermined| Tally {
            tipped,
            healthy,
            undetermined,
            reason: None,
        };
        assert_eq!(t(2, 1, 0).outcome(), Some(true));
        assert_eq!(t(2, 0, 1).outcome(), Some(true));
        assert_eq!(t(0, 2, 1).outcome(), Some(false));
        assert_eq!(t(1, 1, 1).outcome(), None);
        assert_eq!(t(1, 1, 0).outcome(), None);
        assert_eq!(t(0, 0, 3).outcome(), None);
    }
}
