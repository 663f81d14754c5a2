//! Every class of bad scenario gets a clear error naming file, line:column and field, and
//! nothing panics. The diagnostics themselves are snapshotted: a wording change shows in review.

use sim_models::result::StopKind;
use std::fmt::Write;

/// (case, file text). Each must fail to load.
const CASES: &[(&str, &str)] = &[
    (
        "syntax: missing comma",
        r#"Scenario(
    name: "x" seed: 1, horizon: "1s",
    clients: [], services: [],
)"#,
    ),
    (
        "syntax: unclosed",
        r#"Scenario(name: "x", seed: 1, horizon: "1s", clients: [], services: ["#,
    ),
    ("empty file", ""),
    (
        "unknown field",
        r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", worker: 1, service_time: Constant("1ms"))],
)"#,
    ),
    (
        "missing field",
        r#"Scenario(
    name: "x", seed: 1,
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", workers: 1, service_time: Constant("1ms"))],
)"#,
    ),
    (
        "wrong type",
        r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", workers: "two", service_time: Constant("1ms"))],
)"#,
    ),
    (
        "bad duration",
        r#"Scenario(
    name: "x", seed: 1, horizon: "10 parsecs",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", workers: 1, service_time: Constant("1ms"))],
)"#,
    ),
    (
        "negative duration",
        r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0), policy: (timeout: "-5ms"))],
    services: [Service(name: "s", workers: 1, service_time: Constant("1ms"))],
)"#,
    ),
    (
        "negative rate",
        r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: -5.0))],
    services: [Service(name: "s", workers: 1, service_time: Constant("1ms"))],
)"#,
    ),
    (
        "zero workers (utilization undefined)",
        r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", workers: 0, service_time: Exponential(mean: "1ms"))],
)"#,
    ),
    (
        "probability above 1",
        r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", workers: 1,
        service_time: Empirical([(0.0, "1ms"), (0.5, "2ms"), (1.5, "9ms")]))],
)"#,
    ),
    (
        "unknown service",
        r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "paymnet", load: Open(rate_rps: 10.0))],
    services: [Service(name: "payment", workers: 1, service_time: Constant("1ms"))],
)"#,
    ),
    (
        "loss probability above 1, unknown link end, fault ends before it starts",
        r#"Scenario(
    name: "x", seed: 1, horizon: "60s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", workers: 1, service_time: Constant("1ms"))],
    links: [Link(from: "c", to: "z", latency: Constant("1ms"), loss: 1.5)],
    faults: [
        Fault(start: "20s", end: "10s", kind: Crash(service: "s", mode: Refuse)),
        Fault(start: "5s", end: "9s", kind: Errors(service: "q", p: 2.0)),
    ],
)"#,
    ),
    (
        "call graph: cycle and unreachable service",
        r#"Scenario(
    name: "x", seed: 1, horizon: "60s",
    clients: [Client(name: "c", target: "a", load: Open(rate_rps: 10.0))],
    services: [
        Service(name: "a", workers: 1, service_time: Constant("1ms"), calls: [Call(to: "b")]),
        Service(name: "b", workers: 1, service_time: Constant("1ms"), calls: [Call(to: "a")]),
        Service(name: "orphan", workers: 1, service_time: Constant("1ms")),
    ],
)"#,
    ),
    (
        "several problems at once",
        r#"Scenario(
    name: "x", seed: 1, horizon: "10s", warmup: "20s",
    clients: [
        Client(name: "c", target: "s", load: Open(rate_rps: 0.0)),
        Client(name: "c", target: "s", load: Open(rate_rps: 10.0)),
    ],
    services: [
        Service(name: "s", workers: 1, service_time: LogNormal(median: "10ms", p99: "5ms")),
        Service(name: "s", workers: 1, service_time: Normal(mean: "1ms", std_dev: "0ms")),
    ],
)"#,
    ),
];

/// A scenario around `clients` and `services` (RON list contents), one entry a line.
fn scenario(extra: &str, clients: &[String], services: &[String]) -> String {
    format!(
        "Scenario(\n    name: \"x\", seed: 1, horizon: \"10s\",{extra}\n    clients: [\n{}\n    ],\n    services: [\n{}\n    ],\n)",
        clients.join(",\n"),
        services.join(",\n")
    )
}

fn client(name: &str, target: &str, load: &str) -> String {
    format!(r#"        Client(name: "{name}", target: "{target}", load: {load})"#)
}

fn service(name: &str, extra: &str) -> String {
    format!(r#"        Service(name: "{name}", workers: 1, service_time: Constant("1ms"){extra})"#)
}

/// One service `s` with `extra` fields (and `leaf`, if it calls it), one open-loop client.
fn one_service(extra: &str) -> String {
    let open = "Open(rate_rps: 10.0)";
    let mut services = vec![service("s", extra)];
    if extra.contains("leaf") {
        services.push(service("leaf", ""));
    }
    scenario("", &[client("c", "s", open)], &services)
}

/// Counts past what the model holds or what memory allows (issue "Hardening"): each was a
/// panic, an abort on a huge allocation, minutes of building, or a silently wrong run.
fn large_cases() -> Vec<(&'static str, String)> {
    let open = "Open(rate_rps: 10.0)";
    let calls = |n: usize, one: &str, sep: &str| vec![one; n].join(sep);
    vec![
        (
            "70,000 replicas: more nodes than limits.max_nodes (was an overflow panic)",
            one_service(", replicas: 70000"),
        ),
        (
            "4294967295 replicas (was an overflow panic)",
            one_service(", replicas: 4294967295"),
        ),
        (
            "10,000,000 replicas (was an abort on a multi-GB allocation)",
            one_service(", replicas: 10000000"),
        ),
        (
            "40,000 replicas: over the memory budget (30,000 was 14.7 GB; with links stored per call-site target it fits)",
            one_service(", replicas: 40000"),
        ),
        (
            "100,000,000 closed-loop users (was an abort on a multi-GB allocation)",
            scenario(
                "",
                &[client(
                    "c",
                    "s",
                    r#"Closed(users: 100000000, think_time: Constant("1s"))"#,
                )],
                &[service("s", "")],
            ),
        ),
        (
            "10,000 services and 10,000 clients: over the memory budget (was 8.9 GB)",
            scenario(
                "",
                &(0..10_000)
                    .map(|i| client(&format!("c{i}"), &format!("s{i}"), open))
                    .collect::<Vec<_>>(),
                &(0..10_000)
                    .map(|i| service(&format!("s{i}"), ""))
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "a call chain 40,000 deep: over the memory budget (20,000 was 9 GB; with links stored per call-site target it fits)",
            scenario(
                "",
                &[client("c", "s0", open)],
                &(0..40_000)
                    .map(|i| {
                        let calls = if i + 1 < 40_000 {
                            format!(r#", calls: [Call(to: "s{}")]"#, i + 1)
                        } else {
                            String::new()
                        };
                        service(&format!("s{i}"), &calls)
                    })
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "a Parallel of 65,536 calls (was a subtract-overflow panic)",
            one_service(&format!(
                ", calls: [Parallel([{}])]",
                calls(65_536, r#"(to: "leaf")"#, ",")
            )),
        ),
        (
            "a Parallel of 65,537 calls (silently succeeded with calls still queued)",
            one_service(&format!(
                ", calls: [Parallel([{}])]",
                calls(65_537, r#"(to: "leaf")"#, ",")
            )),
        ),
        (
            "65,536 sequential calls (was an overflow panic)",
            one_service(&format!(
                ", calls: [{}]",
                calls(65_536, r#"Call(to: "leaf")"#, ",")
            )),
        ),
        (
            "a client targeting the 65,536th endpoint (silently got endpoint 0)",
            scenario(
                "",
                &[format!(
                    r#"        Client(name: "c", target: "s", endpoint: "e65535", load: {open})"#
                )],
                &[service(
                    "s",
                    &format!(
                        ", endpoints: [{}]",
                        (0..65_536)
                            .map(|e| format!(r#"(name: "e{e}", service_time: Constant("1ms"))"#))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                )],
            ),
        ),
        (
            "a huge max_hedges (reached 5 M attempts against the 1 M limit)",
            scenario(
                "",
                &[client(
                    "c",
                    "s",
                    r#"Open(rate_rps: 10.0), policy: (hedge: (delay: "0ms", max_hedges: 4294967295))"#,
                )],
                &[service("s", "")],
            ),
        ),
        (
            "rates above one per nanosecond",
            scenario(
                "",
                &[
                    client("c", "s", "Open(rate_rps: 1e12)"),
                    client(
                        "d",
                        "s",
                        r#"Open(rate_rps: 1e6, shape: [Spike(start: "1s", end: "2s", factor: 1e6)])"#,
                    ),
                ],
                &[service(
                    "s",
                    ", admission: (rate_limit: (rate_rps: 1e300, burst: 1))",
                )],
            ),
        ),
        (
            "limits out of range",
            scenario(
                "\n    limits: (max_nodes: 0, max_memory_mb: 0),",
                &[client("c", "s", open)],
                &[service("s", "")],
            ),
        ),
    ]
}

#[test]
fn each_bad_scenario_gets_a_positioned_error() {
    let mut all = String::new();
    let large = large_cases();
    let cases = CASES
        .iter()
        .map(|&(case, text)| (case, text))
        .chain(large.iter().map(|(case, text)| (*case, text.as_str())));
    for (case, text) in cases {
        let file = "bad.ron";
        let err = match sim_models::load(file, text) {
            Ok(_) => panic!("case `{case}` loaded but should not"),
            Err(d) => d,
        };
        assert!(err.has_errors(), "{case}");
        let shown = err.to_string();
        // Every line names the file and a line:column inside the text.
        for line in shown.lines() {
            let rest = line
                .strip_prefix("bad.ron:")
                .unwrap_or_else(|| panic!("{case}: no file in {line:?}"));
            let mut parts = rest.splitn(3, ':');
            let l: usize = parts
                .next()
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("{case}: no line in {line:?}"));
            let _c: usize = parts
                .next()
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("{case}: no col in {line:?}"));
            assert!(
                l >= 1 && l <= text.lines().count().max(1),
                "{case}: line {l} outside the file"
            );
        }
        writeln!(all, "== {case}\n{shown}\n").unwrap();
    }
    insta::assert_snapshot!("bad_input_diagnostics", all);
}

/// Semantic errors point at the offending field, not somewhere near it.
#[test]
fn semantic_errors_point_at_the_field() {
    let case = |name: &str| CASES.iter().find(|(c, _)| *c == name).unwrap().1;
    let first = |name: &str| sim_models::load("bad.ron", case(name)).unwrap_err().items[0].clone();
    let d = first("zero workers (utilization undefined)");
    assert_eq!(
        (d.at.line, d.at.col, d.field.as_str()),
        (4, 44, "services[0].workers")
    );
    let d = first("negative rate");
    assert_eq!(
        (d.at.line, d.at.col, d.field.as_str()),
        (3, 67, "clients[0].load.rate_rps")
    );
    let d = first("unknown service");
    assert_eq!(d.field, "clients[0].target");
    assert!(
        d.message.contains("did you mean `payment`"),
        "{}",
        d.message
    );
    let d = first("probability above 1");
    assert_eq!(
        (d.at.line, d.at.col, d.field.as_str()),
        (5, 63, "services[0].service_time[2][0]")
    );
    let all = sim_models::load("bad.ron", case("several problems at once")).unwrap_err();
    assert!(
        all.errors().count() >= 5,
        "collects every problem, got:\n{all}"
    );
}

/// A retry budget of either kind: a type error inside `Finagle(..)` names the budget and
/// says what was expected; out-of-range values point at their own field.
#[test]
fn retry_budget_mistakes_point_at_the_field() {
    let scenario = |budget: &str| {
        format!(
            r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0),
                     policy: (max_attempts: 3, budget: {budget}))],
    services: [Service(name: "s", workers: 1, service_time: Constant("1ms"))],
)"#
        )
    };
    let errors = |budget: &str| -> Vec<(usize, usize, String, String)> {
        sim_models::load("bad.ron", &scenario(budget))
            .unwrap_err()
            .items
            .into_iter()
            .map(|d| (d.at.line, d.at.col, d.field, d.message))
            .collect()
    };
    // Parse errors: at the budget (ron stops after reading it whole), naming the kind.
    let e = errors(r#"Finagle(ttl: 10)"#);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].0, e[0].2.as_str()), (4, "clients[0].policy.budget"));
    assert!(
        e[0].3.contains("Finagle budget") && e[0].3.contains("duration"),
        "{e:?}"
    );
    let e = errors(r#"(ttl: "10s")"#);
    assert!(e[0].3.contains("Finagle(ttl: .."), "{e:?}");
    let e = errors(r#"Finagel(ttl: "10s")"#);
    assert!(
        e[0].3.contains("unknown retry budget kind `Finagel`"),
        "{e:?}"
    );
    // Validation errors: at the value of the field inside `Finagle(..)`.
    let e = errors(r#"Finagle(ttl: "90s", min_retries_per_sec: 1, percent_can_retry: 2000)"#);
    let at: Vec<_> = e.iter().map(|x| (x.0, x.1, x.2.as_str())).collect();
    assert_eq!(
        at,
        [
            (4, 69, "clients[0].policy.budget.ttl"),
            (4, 119, "clients[0].policy.budget.percent_can_retry"),
        ],
        "{e:?}"
    );
    assert!(e[0].3.contains("from 1s to 60s"), "{e:?}");
    // And the gRPC kind, written as before.
    let e = errors("(max_tokens: 0, token_ratio: 0.1)");
    assert_eq!(
        (e[0].0, e[0].1, e[0].2.as_str()),
        (4, 69, "clients[0].policy.budget.max_tokens")
    );
}

/// A baseline `error_rate` is a probability, on a service and on an endpoint.
#[test]
fn error_rate_outside_zero_to_one_points_at_the_field() {
    let text = r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", workers: 1, service_time: Constant("1ms"), error_rate: 1.5,
                       endpoints: [(name: "e", service_time: Constant("1ms"), error_rate: -0.1)])],
)"#;
    let got: Vec<_> = sim_models::load("bad.ron", text)
        .unwrap_err()
        .items
        .into_iter()
        .map(|d| (d.at.line, d.at.col, d.field, d.message))
        .collect();
    let at: Vec<_> = got.iter().map(|x| (x.0, x.1, x.2.as_str())).collect();
    assert_eq!(
        at,
        [
            (4, 90, "services[0].error_rate"),
            (5, 91, "services[0].endpoints[0].error_rate"),
        ],
        "{got:?}"
    );
    assert!(got[0].3.contains("probability"), "{got:?}");
}

/// `cancel_cost` without `honor_cancellation` loads, with a warning at the field.
#[test]
fn cancel_cost_without_honouring_cancellation_is_warned_about() {
    let text = r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", workers: 1, service_time: Constant("1ms"), cancel_cost: "1ms")],
)"#;
    let warnings = sim_models::load("w.ron", text).unwrap().warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert_eq!(
        (w.at.line, w.at.col, w.field.as_str()),
        (4, 91, "services[0].cancel_cost")
    );
    assert!(w.message.contains("honor_cancellation"), "{}", w.message);
}

/// No input makes the loader panic: every prefix of the bundled scenarios, and a few
/// byte-level mutations of them.
#[test]
fn no_input_panics() {
    for file in ["mm1.ron", "mmc.ron", "v0.4.ron"] {
        let text = std::fs::read_to_string(crate::support::scenario_path(file)).unwrap();
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        for &(i, _) in &chars {
            let _ = sim_models::load(file, &text[..i]);
        }
        for (k, &(i, c)) in chars.iter().enumerate().step_by(7) {
            for replacement in ["", "(", ")", "\"", "-", "9", "[", "/*"] {
                let mut mutated = String::with_capacity(text.len() + 2);
                mutated.push_str(&text[..i]);
                mutated.push_str(replacement);
                mutated.push_str(&text[i + c.len_utf8()..]);
                let _ = sim_models::load(file, &mutated);
            }
            let _ = k;
        }
    }
}

/// Durations that reach past the end of virtual time are legal input, not a crash: a
/// 5,000,000 h timeout set late in a 2,500,000 h run lands after u64 nanoseconds (found in
/// review; it panicked with "virtual time overflow"). Such an event is "never" and the run
/// ends at its horizon. A horizon past half of virtual time, where arrivals stop, is an error
/// (it silently lost the load of its last years).
#[test]
fn durations_past_the_end_of_virtual_time_neither_crash_nor_truncate() {
    let text = r#"Scenario(name: "x", seed: 1, horizon: "2500000h", window: "1000h", warmup: "0s",
        clients: [Client(name: "c", target: "s", load: Open(rate_rps: 0.0000001),
                         policy: (timeout: "5000000h"))],
        services: [Service(name: "s", workers: 1, service_time: Constant("1ms"))])"#;
    let scenario = crate::support::load("extreme.ron", text);
    let r = sim_models::run(&scenario, 1, "extreme.ron");
    assert_eq!(r.stopped.kind, StopKind::Horizon);
    // 2.5 M h x 1e-7 rps = 900 requests expected (sd 30).
    assert!(
        (780..1020).contains(&r.totals.succeeded),
        "{}",
        r.totals.succeeded
    );
    assert_eq!(r.totals.failed.timeout, 0);

    let too_long = text.replace("\"2500000h\"", "\"5000000h\"");
    let err = sim_models::load("extreme.ron", &too_long)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("extreme.ron:1:")
            && err.contains("field `horizon`")
            && err.contains("a run may simulate"),
        "{err}"
    );
}

/// Hardening (issue 21): inputs whose diagnostics used to mislead (an "unknown unit" for a
/// number out of range, ron's advice to raise its recursion limit, control characters
/// echoed raw) or that passed validation and then exhausted memory (a 1 us window).
/// A list of its own, with its own snapshot.
fn hardening_cases() -> Vec<(&'static str, String)> {
    let scenario = |horizon: &str, extra: &str, service_name: &str| {
        format!(
            "Scenario(\n    name: \"x\", seed: 1, horizon: \"{horizon}\",{extra}\n    clients: [Client(name: \"c\", target: \"{service_name}\", load: Open(rate_rps: 10.0))],\n    services: [Service(name: \"{service_name}\", workers: 1, service_time: Constant(\"1ms\"))],\n)"
        )
    };
    let deep = format!(
        "Scenario(\n    name: \"x\", seed: 1, horizon: \"10s\",\n    clients: [Client(name: \"c\", target: \"s\", load: Open(rate_rps: 10.0))],\n    services: [Service(name: \"s\", workers: 1, service_time: {}Constant(\"1ms\"){})],\n)",
        "Mixture([(1.0, ".repeat(60),
        ")])".repeat(60)
    );
    vec![
        ("duration out of range", scenario("1e400s", "", "s")),
        ("nested too deeply", deep),
        (
            "control characters in a name",
            scenario("10s", "", "db\u{1b}[2J\nforged"),
        ),
        (
            "a 1 us window (4.4 GB of series)",
            scenario("10s", " window: \"1us\",", "s"),
        ),
    ]
}

#[test]
fn hardening_inputs_get_a_clear_positioned_error() {
    let mut all = String::new();
    for (case, text) in hardening_cases() {
        let err = match sim_models::load("bad.ron", &text) {
            Ok(_) => panic!("case `{case}` loaded but should not"),
            Err(d) => d,
        };
        let shown = err.to_string();
        assert!(
            !shown.contains('\u{1b}') && shown.lines().all(|l| l.starts_with("bad.ron:")),
            "{case}: a control character reached the output:\n{shown}"
        );
        assert!(!shown.contains("recursion_limit"), "{case}: {shown}");
        assert!(!shown.contains("unknown unit"), "{case}: {shown}");
        writeln!(all, "== {case}\n{shown}\n").unwrap();
    }
    insta::assert_snapshot!("bad_input_hardening", all);
}

/// Mixture weights are relative (documented), so weights that do not add up to 1 still
/// run; when every weight is below 1 they look like probabilities with a typo, and a
/// warning says which probabilities will really be drawn.
#[test]
fn mixture_weights_that_look_like_a_typo_get_a_warning() {
    let text = |weights: (f64, f64)| {
        format!(
            r#"Scenario(name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", workers: 1,
        service_time: Mixture([({}, Constant("1ms")), ({}, Constant("10ms"))]))])"#,
            weights.0, weights.1
        )
    };
    let warnings = |w| sim_models::load("m.ron", &text(w)).unwrap().warnings;
    let typo = warnings((0.99, 0.1));
    assert_eq!(typo.len(), 1, "{typo:?}");
    assert_eq!(
        (typo[0].at.line, typo[0].field.as_str()),
        (4, "services[0].service_time")
    );
    assert!(
        typo[0].message.contains("add up to 1.09") && typo[0].message.contains("0.9083, 0.0917"),
        "{}",
        typo[0].message
    );
    assert!(warnings((0.99, 0.01)).is_empty());
    assert!(warnings((3.0, 1.0)).is_empty(), "relative weights are fine");
}
