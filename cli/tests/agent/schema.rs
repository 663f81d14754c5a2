//! A JSON Schema validator for the keywords docs/agent/*.schema.json use (draft 2020-12):
//! enough to keep the documented protocol true against what simctl writes. A keyword it
//! does not know fails the test, so a schema cannot say more than is checked.

use std::path::{Path, PathBuf};

use serde_json::Value;

pub struct Schemas {
    dir: PathBuf,
}

/// Keywords that check nothing here. `pattern` (durations in plan.schema.json) is left to
/// that schema's own test, which runs it through serde both ways.
const ANNOTATIONS: [&str; 6] = ["$schema", "$id", "title", "description", "$defs", "pattern"];

impl Schemas {
    pub fn new(dir: &Path) -> Schemas {
        Schemas {
            dir: dir.to_path_buf(),
        }
    }

    fn load(&self, file: &str) -> Value {
        let text = std::fs::read(self.dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    /// Why `v` does not match schema file `file` (none: it matches).
    pub fn check(&self, file: &str, v: &Value) -> Option<String> {
        let root = self.load(file);
        self.at(file, &root, &root, v, "$")
    }

    fn resolve(&self, file: &str, root: &Value, r: &str) -> (String, Value, Value) {
        let (f, pointer) = r.split_once('#').unwrap_or((r, ""));
        let (file, root) = if f.is_empty() {
            (file.to_string(), root.clone())
        } else {
            (f.to_string(), self.load(f))
        };
        let target = root
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{file}: no {pointer}"))
            .clone();
        (file, root, target)
    }

    fn at(
        &self,
        file: &str,
        root: &Value,
        schema: &Value,
        v: &Value,
        path: &str,
    ) -> Option<String> {
        let s = schema.as_object().expect("a schema is an object");
        let fail = |why: String| Some(format!("{path}: {why}"));
        for (k, rule) in s {
            let bad =
                match k.as_str() {
                    k if ANNOTATIONS.contains(&k) => None,
                    "$ref" => {
                        let (f, r, target) = self.resolve(file, root, rule.as_str().unwrap());
                        self.at(&f, &r, &target, v, path)
                    }
                    "type" => {
                        let types: Vec<&str> = match rule {
                            Value::String(t) => vec![t],
                            Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
                            _ => panic!("type {rule}"),
                        };
                        (!types.iter().any(|t| is(t, v)))
                            .then(|| format!("{path}: not {types:?}: {v}"))
                    }
                    "const" => (v != rule).then(|| format!("{path}: {v} is not {rule}")),
                    "enum" => (!rule.as_array().unwrap().contains(v))
                        .then(|| format!("{path}: {v} is none of {rule}")),
                    "minimum" => v
                        .as_f64()
                        .filter(|x| *x < rule.as_f64().unwrap())
                        .and_then(|x| fail(format!("{x} below {rule}"))),
                    "exclusiveMinimum" => v
                        .as_f64()
                        .filter(|x| *x <= rule.as_f64().unwrap())
                        .and_then(|x| fail(format!("{x} not above {rule}"))),
                    "minLength" => v
                        .as_str()
                        .filter(|x| (x.chars().count() as u64) < rule.as_u64().unwrap())
                        .and_then(|_| fail(format!("shorter than {rule}"))),
                    "not" => self
                        .at(file, root, rule, v, path)
                        .is_none()
                        .then(|| format!("{path}: matches what `not` forbids: {v}")),
                    "minItems" => v
                        .as_array()
                        .filter(|a| (a.len() as u64) < rule.as_u64().unwrap())
                        .and_then(|_| fail(format!("fewer than {rule} items"))),
                    "maxItems" => v
                        .as_array()
                        .filter(|a| (a.len() as u64) > rule.as_u64().unwrap())
                        .and_then(|_| fail(format!("more than {rule} items"))),
                    "required" => v.as_object().and_then(|o| {
                        let missing = rule
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|k| !o.contains_key(k.as_str().unwrap()))?;
                        fail(format!("{missing} is required"))
                    }),
                    "properties" => v.as_object().and_then(|o| {
                        o.iter().find_map(|(k, x)| {
                            let sub = rule.get(k)?;
                            self.at(file, root, sub, x, &format!("{path}.{k}"))
                        })
                    }),
                    "additionalProperties" => v.as_object().and_then(|o| {
                        let known = s.get("properties").and_then(Value::as_object);
                        let extra = o
                            .iter()
                            .filter(|(k, _)| known.is_none_or(|p| !p.contains_key(*k)));
                        for (k, x) in extra {
                            let bad = match rule {
                                Value::Bool(false) => Some(format!("{path}: unknown field {k}")),
                                _ => self.at(file, root, rule, x, &format!("{path}.{k}")),
                            };
                            if bad.is_some() {
                                return bad;
                            }
                        }
                        None
                    }),
                    "items" => v.as_array().and_then(|a| {
                        let skip = s
                            .get("prefixItems")
                            .and_then(Value::as_array)
                            .map_or(0, Vec::len);
                        a.iter().enumerate().skip(skip).find_map(|(i, x)| {
                            self.at(file, root, rule, x, &format!("{path}[{i}]"))
                        })
                    }),
                    "prefixItems" => v.as_array().and_then(|a| {
                        rule.as_array().unwrap().iter().zip(a).enumerate().find_map(
                            |(i, (sub, x))| self.at(file, root, sub, x, &format!("{path}[{i}]")),
                        )
                    }),
                    "allOf" => rule
                        .as_array()
                        .unwrap()
                        .iter()
                        .find_map(|sub| self.at(file, root, sub, v, path)),
                    "oneOf" | "anyOf" => {
                        let results: Vec<Option<String>> = rule
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|sub| self.at(file, root, sub, v, path))
                            .collect();
                        let ok = results.iter().filter(|r| r.is_none()).count();
                        match (k.as_str(), ok) {
                            (_, 0) => {
                                let why: Vec<String> = results.into_iter().flatten().collect();
                                fail(format!("matches none of {k}: {}", why.join(" | ")))
                            }
                            ("oneOf", n) if n > 1 => fail(format!("matches {n} of oneOf")),
                            _ => None,
                        }
                    }
                    other => panic!("{file}: keyword {other} is not checked by this validator"),
                };
            if bad.is_some() {
                return bad;
            }
        }
        None
    }
}

fn is(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_u64() || v.is_i64(),
        _ => panic!("type {t}"),
    }
}
