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
    assert!(got.contains("restarts 3 of `api`'s 3 instances at once (100%), more than `limits.max_capacity_fraction` (0.34) allows: 1 at a time"), "{got}");
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
    assert!(got.contains("warning: field `plans[0].steps[0].action.target`: for a `instance_failure` on `auth#0` (and 1 more of its 5 targets)"), "{got}");

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
