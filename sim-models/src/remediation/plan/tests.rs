//! Plans files: parsing with positions, the checks, templates.

use super::*;
use crate::Scenario;
use crate::remediation::class::{Classification, IncidentClass};
use crate::remediation::spec::Limits;

const SCENARIO: &str = r#"Scenario(
    name: "plans",
    seed: 1,
    horizon: "10m",
    clients: [
        Client(name: "web", target: "api", load: Open(rate_rps: 100.0)),
        Client(name: "cron", target: "solo", load: Open(rate_rps: 1.0)),
    ],
    services: [
        Service(name: "api", replicas: 3, max_replicas: 6, zones: ["a", "b", "c"], workers: 8,
            service_time: Constant("10ms"), calls: [Call(to: "auth"), Call(to: "pg")]),
        Service(name: "auth", replicas: 2, workers: 4, service_time: Constant("5ms")),
        Service(name: "solo", workers: 4, service_time: Constant("5ms")),
    ],
    databases: [Database(name: "pg", replicas: 2, workers: 4, read_time: Constant("1ms"), write_time: Constant("2ms"),
        reads: Replicas, replication: Async, lag: Constant("2ms"), keys: Zipf(keys: 100, exponent: 1.0),
        failover: (detection: Constant("20s"), promotion: Constant("5s")))],
    configs: [Config(name: "flags", services: ["api"], delivery: Poll(every: "10s"), pushes: [], strategy: AllAtOnce)],
)"#;

fn scenario() -> Scenario {
    crate::load("t.ron", SCENARIO)
        .expect("the test scenario is valid")
        .scenario
}

/// `file:line:col: error: field ...: message` lines for a plans file, or "OK".
fn check(text: &str) -> String {
    match check_plans("p.json", text, &scenario(), &Limits::default()) {
        Ok(_) => "OK".into(),
        Err(d) => d.to_string(),
    }
}

fn file(steps: &str) -> String {
    format!("{{\"plans\": [{{\"name\": \"p\", \"steps\": [\n{steps}\n]}}]}}")
}

#[test]
fn a_good_plan_passes_and_round_trips() {
    let text = file(
        r#"{"id": "drain", "action": {"kind": "drain", "target": "api#1"}},
{"id": "restart", "after": ["drain"], "action": {"kind": "restart", "target": "api#1", "restart_time": "20s"},
 "verify": {"signal": "error_rate", "of": "api", "below": 0.01, "within": "1m"}}"#,
    );
    assert_eq!(check(&text), "OK");
    let plans = parse("p.json", &text).unwrap();
    let again = serde_json::to_string(&plans).unwrap();
    assert_eq!(parse("p.json", &again).unwrap(), plans);
    assert!(again.contains("\"signal\":\"error_rate\""), "{again}");
}

#[test]
fn a_syntax_error_names_its_line_and_column() {
    let got = check("{\"plans\": [\n  {\"name\": \"p\",, }]}");
    assert!(got.starts_with("p.json:2:16: error: "), "{got}");
}

#[test]
fn every_type_error_is_reported_where_it_is() {
    let text = file(
        r#"{"id": "a", "action": {"kind": "rstart", "target": "api#1"}},
{"id": "b", "action": {"kind": "drain", "target": 7}},
{"id": "c", "aftr": ["a"], "action": {"kind": "drain", "target": "api#0"},
 "verify": {"signal": "errors", "of": "api", "below": 0.1, "within": "1m"}}"#,
    );
    let got = check(&text);
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 4, "{got}");
    assert!(lines[0].starts_with("p.json:2:32: error: field `plans[0].steps[0].action.kind`: unknown action kind `rstart`"), "{got}");
    assert!(lines[0].contains("did you mean `restart`?"), "{got}");
    assert!(
        lines[1].starts_with("p.json:3:23: error: field `plans[0].steps[1].action"),
        "{got}"
    );
    assert!(
        lines[2].starts_with(
            "p.json:4:21: error: field `plans[0].steps[2].aftr`: unknown field `aftr`"
        ),
        "{got}"
    );
    assert!(lines[2].contains("did you mean `after`?"), "{got}");
    assert!(
        lines[3].starts_with("p.json:5:23: error: field `plans[0].steps[2].verify.signal`"),
        "{got}"
    );
    assert!(lines[3].contains("unknown signal `errors`"), "{got}");
}

#[test]
fn unknown_targets_are_named_with_what_exists() {
    let text = file(
        r#"{"id": "a", "action": {"kind": "restart", "target": "apii", "restart_time": "5s"}},
{"id": "b", "action": {"kind": "drain", "target": "api#6"}},
{"id": "c", "action": {"kind": "rollback", "config": "flagz"}},
{"id": "d", "action": {"kind": "evacuate_zone", "zone": "d"}},
{"id": "e", "action": {"kind": "degrade", "caller": "auth", "callee": "pg"}},
{"id": "f", "action": {"kind": "failover", "database": "api"}}"#,
    );
    let got = check(&text);
    for want in [
        "p.json:2:53: error: field `plans[0].steps[0].action.target`: names service `apii`, which does not exist (did you mean `api`?)",
        "field `plans[0].steps[1].action.target`: `api#6` is not an instance of `api`: it has 6, `api#0` .. `api#5`",
        "field `plans[0].steps[2].action.config`: no config `flagz` in the scenario (did you mean `flags`?)",
        "field `plans[0].steps[3].action.zone`: no zone `d` in the scenario",
        "field `plans[0].steps[4].action.callee`: `auth` never calls `pg`",
        "field `plans[0].steps[5].action.database`: no database `api`",
    ] {
        assert!(got.contains(want), "missing {want:?} in\n{got}");
    }
    assert_eq!(got.lines().count(), 6, "{got}");
}

#[test]
fn ids_after_and_cycles_are_checked() {
    let text = file(
        r#"{"id": "a", "after": ["c"], "action": {"kind": "drain", "target": "api#0"}},
{"id": "b", "after": ["a"], "action": {"kind": "drain", "target": "api#0"}},
{"id": "c", "after": ["b"], "action": {"kind": "drain", "target": "api#0"}},
{"id": "b", "after": ["x"], "action": {"kind": "drain", "target": "api#0"}}"#,
    );
    let got = check(&text);
    assert!(
        got.contains("field `plans[0].steps[3].id`: step id `b` is steps[1]'s too"),
        "{got}"
    );
    assert!(
        got.contains("field `plans[0].steps[3].after[0]`: no step `x` in this plan"),
        "{got}"
    );
    assert!(
        got.contains(
            "the steps `a`, `c`, `b` wait for each other in a cycle (`a` -> `c` -> `b` -> `a`)"
        ),
        "{got}"
    );
}

#[test]
fn capacity_is_checked_per_step_and_for_steps_that_can_run_together() {
    // api has 3 replicas: one at a time is 33% (allowed at 34%), two at once is not.
    let whole = file(
        r#"{"id": "all", "action": {"kind": "restart", "target": "api", "restart_time": "5s"}}"#,
    );
    let got = check(&whole);
    assert!(got.contains("restarts 3 of `api`'s 3 instances at once (100%), more than `limits.max_capacity_fraction` (0.34) allows (1 at a time)"), "{got}");
    let parallel = file(
        r#"{"id": "r0", "action": {"kind": "restart", "target": "api#0", "restart_time": "5s"}},
{"id": "r1", "action": {"kind": "restart", "target": "api#1", "restart_time": "5s"}}"#,
    );
    let got = check(&parallel);
    assert!(
        got.contains(
            "field `plans[0].steps[1].action.target`: the steps `r0`, `r1` can run at the same time"
        ),
        "{got}"
    );
    let in_sequence = file(
        r#"{"id": "r0", "action": {"kind": "restart", "target": "api#0", "restart_time": "5s"}},
{"id": "r1", "after": ["r0"], "action": {"kind": "restart", "target": "api#1", "restart_time": "5s"}},
{"id": "r2", "after": ["r1"], "action": {"kind": "drain", "target": "api#2"}}"#,
    );
    assert_eq!(check(&in_sequence), "OK");
    // The same instance twice at once is still one instance out.
    let same = file(
        r#"{"id": "d", "action": {"kind": "drain", "target": "api#0"}},
{"id": "r", "action": {"kind": "restart", "target": "api#0", "restart_time": "5s"}}"#,
    );
    assert_eq!(check(&same), "OK");
    // auth has 2: one of them is already 50%.
    let auth = file(r#"{"id": "d", "action": {"kind": "drain", "target": "auth#0"}}"#);
    assert!(check(&auth).contains("drains 1 of `auth`'s 2 instances at once (50%)"));
}

#[test]
fn unsafe_parameters_are_refused() {
    let text = file(
        r#"{"id": "a", "action": {"kind": "scale", "service": "api", "replicas": 0}},
{"id": "b", "action": {"kind": "scale", "service": "api", "replicas": 7}},
{"id": "c", "action": {"kind": "shed_load", "service": "api", "rps": -1.0}},
{"id": "d", "action": {"kind": "limit", "service": "api", "max_concurrency": 0}},
{"id": "e", "action": {"kind": "rollback", "config": "flags"}, "verify": {"signal": "error_rate", "of": "api", "within": "1m"}},
{"id": "f", "action": {"kind": "rollback", "config": "flags"}, "verify": {"signal": "error_rate", "of": "api", "below": 1, "above": 0, "within": "0s"}},
{"id": "g", "action": {"kind": "rollback", "config": "flags"}, "verify": {"signal": "p99_ms", "of": "api", "below": 1, "within": "11m"}}"#,
    );
    let got = check(&text);
    for want in [
        "steps[0].action.replicas`: must be at least 1",
        "steps[1].action.replicas`: would scale `api` to 7, past the 6 instances",
        "steps[2].action.rps`: must be a finite rate above 0",
        "steps[3].action.max_concurrency`: must be at least 1",
        "steps[4].verify`: gives neither `below` nor `above`",
        "steps[5].verify`: gives both `below` and `above`",
        "steps[5].verify.within`: must be longer than 0s",
        "steps[6].verify.within`: 11m is longer than the run (10m)",
        "steps[6].verify.signal`: `api` is a service, which has no `p99_ms`",
    ] {
        assert!(got.contains(want), "missing {want:?} in\n{got}");
    }
}

#[test]
fn templates_are_checked_statically_then_for_each_target() {
    let text = r#"{"plans": [
  {"name": "restart-one", "class": "instance_failure", "steps": [
    {"id": "drain", "action": {"kind": "drain", "target": "$target"}},
    {"id": "restart", "after": ["drain"], "action": {"kind": "restart", "target": "$target", "restart_time": "20s"},
     "verify": {"signal": "error_rate", "of": "$service", "below": 0.01, "within": "1m"}}]},
  {"name": "typo", "class": "zone_loss", "steps": [
    {"id": "go", "action": {"kind": "evacuate_zone", "zone": "$zone"}}]},
  {"name": "restart-all", "class": "overload", "steps": [
    {"id": "all", "action": {"kind": "restart", "target": "$service", "restart_time": "20s"}}]}
]}"#;
    let got = check(text);
    assert!(
        got.contains("field `plans[1].steps[0].action.zone`: unknown template `$zone`"),
        "{got}"
    );
    // Restarting a whole service is refused for every service the overload can hit.
    assert!(got.contains("field `plans[2].steps[0].action.target`: for every `overload` target in the scenario (3), e.g. `api`: restarts 3 of `api`'s 3 instances"), "{got}");
    // One of auth's two instances is over the limit, api's are not: a warning.
    assert!(got.contains("warning: field `plans[0].steps[0].action.target`: for class `instance_failure` on `auth#0` (and 1 more of its 5 targets)"), "{got}");

    let plans = parse("p.json", text).unwrap();
    let incident = Classification {
        class: IncidentClass::InstanceFailure,
        target: "api#2".into(),
        evidence: String::new(),
    };
    let plan = plans.plans[0].instantiate(&incident, &scenario());
    assert!(!plan.has_templates());
    assert_eq!(plan.steps[1].verify.as_ref().unwrap().of, "api");
    assert!(
        matches!(&plan.steps[1].action, PlanAction::Restart { target, .. } if target == "api#2")
    );
}

#[test]
fn a_caller_template_copies_the_step_per_caller() {
    let text = r#"{"plans": [{"name": "degrade", "class": "dependency_down", "steps": [
    {"id": "degrade", "action": {"kind": "degrade", "caller": "$caller", "callee": "$target"}},
    {"id": "then", "after": ["degrade"], "action": {"kind": "rollback", "config": "flags"}}]}]}"#;
    let plans = parse("p.json", text).unwrap();
    let incident = Classification {
        class: IncidentClass::DependencyDown,
        target: "api".into(),
        evidence: String::new(),
    };
    let plan = plans.plans[0].instantiate(&incident, &scenario());
    let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["degrade-web", "then"]);
    assert_eq!(plan.steps[1].after, ["degrade-web"]);
    let s = scenario();
    assert!(problems(&plan, &s, &Limits::default(), Templates::Resolved).is_empty());
}

/// docs/remediation/plan.schema.json and the Rust types agree: every action kind and
/// field the schema names is accepted by serde, every field it marks required is
/// required, and every kind and field the types write is in the schema.
mod schema {
    use serde_json::{Map, Value, json};

    use super::super::{PlanAction, PlanFile, signal_names};
    use crate::remediation::class::IncidentClass;

    fn schema() -> Value {
        serde_json::from_str(include_str!(
            "../../../../docs/remediation/plan.schema.json"
        ))
        .expect("the schema is JSON")
    }

    fn def<'a>(root: &'a Value, name: &str) -> &'a Value {
        &root["$defs"][name]
    }

    /// A value for a property schema: every property filled, the first alternative.
    fn sample(root: &Value, s: &Value) -> Value {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            return sample(root, def(root, r.trim_start_matches("#/$defs/")));
        }
        if let Some(c) = s.get("const") {
            return c.clone();
        }
        if let Some(e) = s.get("enum") {
            return e[0].clone();
        }
        if let Some(alts) = s.get("oneOf").filter(|_| s.get("properties").is_none()) {
            return sample(root, &alts[0]);
        }
        if s.get("pattern").is_some() {
            return json!("20s");
        }
        match s["type"].as_str() {
            Some("object") => {
                let props = s["properties"].as_object().unwrap();
                Value::Object(
                    props
                        .iter()
                        .map(|(k, p)| (k.clone(), sample(root, p)))
                        .collect(),
                )
            }
            Some("array") => json!([]),
            Some("string") => json!("x"),
            Some("integer") => json!(1),
            Some("number") => json!(1.5),
            other => panic!("no sample for {other:?} in {s}"),
        }
    }

    fn required(s: &Value) -> Vec<String> {
        s["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    /// Every property accepted, only the required ones accepted, each required one required.
    fn agrees<T: serde::de::DeserializeOwned>(root: &Value, s: &Value, what: &str) {
        let full = sample(root, s);
        serde_json::from_value::<T>(full.clone())
            .unwrap_or_else(|e| panic!("{what}: the schema's fields {full} are refused: {e}"));
        let need = required(s);
        let only: Map<String, Value> = full
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| need.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        serde_json::from_value::<T>(Value::Object(only.clone())).unwrap_or_else(|e| {
            panic!("{what}: a field the schema calls optional is required: {e}")
        });
        for k in need.iter().filter(|k| *k != "kind") {
            let mut less = only.clone();
            less.remove(k);
            assert!(
                serde_json::from_value::<T>(Value::Object(less)).is_err(),
                "{what}: `{k}` is required in the schema but not in the type"
            );
        }
        let mut more = full.as_object().unwrap().clone();
        more.insert("surplus".into(), json!(1));
        assert!(
            serde_json::from_value::<T>(Value::Object(more)).is_err(),
            "{what}: unknown fields pass"
        );
    }

    /// One of each action, as the types write it.
    fn every_action() -> Vec<PlanAction> {
        let d = sim_core::SimDuration::from_secs(1);
        let all = vec![
            PlanAction::Restart {
                target: "a".into(),
                restart_time: d,
            },
            PlanAction::Scale {
                service: "a".into(),
                replicas: 2,
                provisioning: d,
                stabilization: d,
                cooldown: d,
            },
            PlanAction::Failover {
                database: "a".into(),
            },
            PlanAction::Rollback { config: "a".into() },
            PlanAction::ShedLoad {
                service: "a".into(),
                rps: 1.0,
            },
            PlanAction::Limit {
                service: "a".into(),
                max_concurrency: 1,
            },
            PlanAction::Drain { target: "a".into() },
            PlanAction::Degrade {
                caller: "a".into(),
                callee: "b".into(),
            },
            PlanAction::EvacuateZone { zone: "a".into() },
        ];
        // Fails to compile when a kind is added and not listed above.
        for a in &all {
            match a {
                PlanAction::Restart { .. }
                | PlanAction::Scale { .. }
                | PlanAction::Failover { .. }
                | PlanAction::Rollback { .. }
                | PlanAction::ShedLoad { .. }
                | PlanAction::Limit { .. }
                | PlanAction::Drain { .. }
                | PlanAction::Degrade { .. }
                | PlanAction::EvacuateZone { .. } => {}
            }
        }
        all
    }

    #[test]
    fn every_kind_and_field_of_the_schema_is_in_the_types_and_back() {
        let root = schema();
        assert_eq!(
            root["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        let kinds = def(&root, "action")["oneOf"].as_array().unwrap();
        for k in kinds {
            agrees::<PlanAction>(&root, k, k["properties"]["kind"]["const"].as_str().unwrap());
        }
        for a in every_action() {
            let v = serde_json::to_value(&a).unwrap();
            let kind = v["kind"].as_str().unwrap();
            let s = kinds
                .iter()
                .find(|k| k["properties"]["kind"]["const"] == kind)
                .unwrap_or_else(|| panic!("action kind `{kind}` is not in the schema"));
            for key in v.as_object().unwrap().keys() {
                assert!(
                    s["properties"].get(key).is_some(),
                    "`{kind}` writes `{key}`, which the schema lacks"
                );
            }
        }
        assert_eq!(kinds.len(), every_action().len());
        agrees::<super::super::Step>(&root, def(&root, "step"), "step");
        agrees::<super::super::Verify>(&root, def(&root, "verify"), "verify");
        agrees::<super::super::Plan>(&root, def(&root, "plan"), "plan");
        agrees::<PlanFile>(&root, &root, "file");
        let classes: Vec<&str> = IncidentClass::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(def(&root, "class")["enum"], json!(classes));
        assert_eq!(
            def(&root, "verify")["properties"]["signal"]["enum"],
            json!(signal_names())
        );
    }

    #[test]
    fn the_bundled_plan_files_parse() {
        for (name, text) in [
            (
                "runbook.json",
                include_str!("../../../../remediation/runbook.json"),
            ),
            (
                "harmful-restart-all.json",
                include_str!("../../../../remediation/harmful-restart-all.json"),
            ),
            (
                "harmful-restart-sequential.json",
                include_str!("../../../../remediation/harmful-restart-sequential.json"),
            ),
        ] {
            if let Err(e) = crate::remediation::plan::parse(name, text) {
                panic!("{e}");
            }
        }
    }
}

mod planner {
    use super::scenario;
    use crate::remediation::class::{Classification, IncidentClass};
    use crate::remediation::plan::{PlanAction, Templates, problems};
    use crate::remediation::planner::{follow_up, plan};
    use crate::remediation::spec::Limits;

    fn incident(class: IncidentClass, target: &str) -> Classification {
        Classification {
            class,
            target: target.into(),
            evidence: String::new(),
        }
    }

    #[test]
    fn every_class_gets_a_valid_verified_plan() {
        let s = scenario();
        for (class, target) in [
            (IncidentClass::InstanceFailure, "api#1"),
            (IncidentClass::Overload, "api"),
            (IncidentClass::DependencyDown, "pg"),
            (IncidentClass::DependencySlow, "auth"),
            (IncidentClass::BadConfig, "flags"),
            (IncidentClass::RetryStorm, "api"),
            (IncidentClass::ZoneLoss, "b"),
        ] {
            let p = plan(&incident(class, target), &s);
            assert!(!p.steps.is_empty(), "{class:?}");
            assert!(
                p.steps.iter().all(|st| st.verify.is_some()),
                "{class:?}: {p:?}"
            );
            let found = problems(&p, &s, &Limits::default(), Templates::Resolved);
            assert!(found.is_empty(), "{class:?}: {found:?}");
            assert!(p.description.is_some());
        }
    }

    #[test]
    fn plans_follow_the_runbook() {
        let s = scenario();
        let p = plan(&incident(IncidentClass::InstanceFailure, "api#1"), &s);
        assert!(matches!(&p.steps[0].action, PlanAction::Drain { target } if target == "api#1"));
        assert!(
            matches!(&p.steps[1].action, PlanAction::Restart { target, .. } if target == "api#1")
        );
        assert_eq!(p.steps[1].after, ["drain"]);
        // One of auth's two instances is over the capacity limit: nothing to do, escalate.
        assert!(
            plan(&incident(IncidentClass::InstanceFailure, "auth#1"), &s)
                .steps
                .is_empty()
        );
        // Overload: out to max_replicas, then shedding load as the second stage.
        let p = plan(&incident(IncidentClass::Overload, "api"), &s);
        assert!(matches!(
            &p.steps[0].action,
            PlanAction::Scale { replicas: 6, .. }
        ));
        let more = follow_up(&incident(IncidentClass::Overload, "api"), &s).unwrap();
        // 8 workers over 10 ms: 800/s per instance, shed at 80% of it.
        assert!(
            matches!(&more.steps[0].action, PlanAction::ShedLoad { rps, .. } if *rps == 640.0),
            "{more:?}"
        );
        // A dependency: every caller degraded.
        let p = plan(&incident(IncidentClass::DependencyDown, "pg"), &s);
        assert!(
            matches!(&p.steps[0].action, PlanAction::Degrade { caller, callee } if caller == "api" && callee == "pg")
        );
        // A retry storm: shed, then lift above the capacity.
        let p = plan(&incident(IncidentClass::RetryStorm, "api"), &s);
        assert!(matches!(&p.steps[1].action, PlanAction::ShedLoad { rps, .. } if *rps == 1600.0));
        assert_eq!(p.steps[1].after, ["shed"]);
    }
}

mod deciders {
    use super::scenario;
    use crate::remediation::class::{Classification, IncidentClass, Signals};
    use crate::remediation::decide::{Answer, Decider, DecisionPoint, IncidentView, Reason};
    use crate::remediation::planner::Planner;
    use crate::remediation::runbook::Runbook;

    fn point(reason: Reason, class: IncidentClass, target: &str) -> DecisionPoint {
        DecisionPoint {
            step: 0,
            reason,
            signals: Signals::default(),
            incident: Some(IncidentView {
                id: 1,
                opened_s: 60.0,
                classification: Some(Classification {
                    class,
                    target: target.into(),
                    evidence: String::new(),
                }),
                text: String::new(),
                actions_taken: 0,
                failed_verifications: 0,
                recent_actions: Vec::new(),
            }),
        }
    }

    #[test]
    fn the_planner_plans_then_follows_up_then_escalates() {
        let mut p = Planner::new(scenario());
        let o = IncidentClass::Overload;
        assert!(matches!(
            p.decide(&point(Reason::Opened, o, "api")),
            Ok(Answer::Plan(_))
        ));
        assert_eq!(
            p.decide(&point(Reason::Periodic, o, "api")),
            Ok(Answer::Wait)
        );
        let Ok(Answer::Plan(shed)) = p.decide(&point(Reason::VerificationFailed, o, "api")) else {
            panic!("no follow-up");
        };
        assert_eq!(shed.name, "overload-api-shed");
        assert_eq!(
            p.decide(&point(Reason::VerificationFailed, o, "api")),
            Ok(Answer::Escalate)
        );
    }

    #[test]
    fn a_runbook_instantiates_its_plan_for_the_class_or_escalates() {
        let text = r#"{"plans": [{"name": "r", "class": "instance_failure", "steps": [
            {"id": "restart", "action": {"kind": "restart", "target": "$target", "restart_time": "20s"}}]}]}"#;
        let file = crate::remediation::plan::parse("r.json", text).unwrap();
        let mut r = Runbook::new(file, scenario());
        let Ok(Answer::Plan(plan)) = r.decide(&point(
            Reason::Opened,
            IncidentClass::InstanceFailure,
            "api#2",
        )) else {
            panic!("no plan");
        };
        assert!(!plan.has_templates());
        let mut r2 = Runbook::new(
            crate::remediation::plan::parse("r.json", text).unwrap(),
            scenario(),
        );
        assert_eq!(
            r2.decide(&point(Reason::Opened, IncidentClass::ZoneLoss, "a")),
            Ok(Answer::Escalate)
        );
        assert_eq!(
            r.decide(&point(
                Reason::VerificationFailed,
                IncidentClass::InstanceFailure,
                "api#2"
            )),
            Ok(Answer::Escalate)
        );
    }
}

// Every plan action is a rule action.

fn action(json: &str) -> Action {
    serde_json::from_str::<PlanAction>(json)
        .expect("a valid plan action")
        .to_action()
}

#[test]
fn every_plan_action_is_a_rule_action() {
    let d = SimDuration::from_secs;
    assert_eq!(
        action(r#"{"kind": "restart", "target": "api#1", "restart_time": "20s"}"#),
        Action::Restart {
            service: "api#1".into(),
            restart_time: d(20)
        }
    );
    // A plan's scale gets the HPA's stabilization and cooldown unless it says otherwise.
    assert_eq!(
        action(r#"{"kind": "scale", "service": "api", "replicas": 4}"#),
        Action::ScaleTo {
            service: "api".into(),
            replicas: 4,
            provisioning: SimDuration::ZERO,
            stabilization: d(300),
            cooldown: d(180)
        }
    );
    assert_eq!(
        action(
            r#"{"kind": "scale", "service": "api", "replicas": 1, "provisioning": "30s", "stabilization": "0s", "cooldown": "1m"}"#
        ),
        Action::ScaleTo {
            service: "api".into(),
            replicas: 1,
            provisioning: d(30),
            stabilization: SimDuration::ZERO,
            cooldown: d(60)
        }
    );
    assert_eq!(
        action(r#"{"kind": "failover", "database": "pg"}"#),
        Action::Failover {
            database: "pg".into()
        }
    );
    assert_eq!(
        action(r#"{"kind": "rollback", "config": "flags"}"#),
        Action::Rollback {
            config: "flags".into()
        }
    );
    assert_eq!(
        action(r#"{"kind": "shed_load", "service": "api", "rps": 50.0}"#),
        Action::ShedLoad {
            service: "api".into(),
            rps: 50.0
        }
    );
    assert_eq!(
        action(r#"{"kind": "limit", "service": "api", "max_concurrency": 8}"#),
        Action::Limit {
            service: "api".into(),
            max_concurrency: 8
        }
    );
    assert_eq!(
        action(r#"{"kind": "drain", "target": "api#0"}"#),
        Action::Drain {
            service: "api#0".into()
        }
    );
    assert_eq!(
        action(r#"{"kind": "degrade", "caller": "web", "callee": "recs"}"#),
        Action::Fallback {
            caller: "web".into(),
            callee: "recs".into()
        }
    );
    assert_eq!(
        action(r#"{"kind": "evacuate_zone", "zone": "b"}"#),
        Action::EvacuateZone { zone: "b".into() }
    );
}
