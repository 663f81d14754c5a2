use super::*;

const SCENARIO: &str = r#"Scenario(
    name: "s", seed: 7, horizon: "2m", warmup: "10s",
    clients: [Client(name: "c", target: "api", load: Open(rate_rps: 100.0),
                     policy: (timeout: "1s", max_attempts: 2))],
    services: [
        Service(name: "api", workers: 4, service_time: Constant("5ms"), calls: [Call(to: "db")]),
        Service(name: "db", workers: 4, service_time: Constant("1ms")),
    ],
    faults: [Fault(start: "5s", end: "6s", kind: Pause(service: "api"))],
)"#;

fn scenario() -> Scenario {
    crate::load("s.ron", SCENARIO).expect("valid").scenario
}

fn cov(text: &str) -> Coverage {
    parse("f.ron", text).unwrap_or_else(|d| panic!("{d}"))
}

fn problems(text: &str) -> Vec<String> {
    prepare(&cov(text), &scenario())
        .expect_err("refused")
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect()
}

const FOUR: &str = r#"Coverage(
    seeds: 2,
    scenario_faults: Remove,
    fault: Fault(start: "30s", end: "40s", kind: Slowdown(service: "db", factor: 10.0)),
    factors: [
        Kind(levels: [Slowdown(service: "db", factor: 10.0), Errors(service: "db", p: 0.5),
                      Crash(service: "db", mode: Refuse)]),
        Target(levels: ["db", "api", "db#0"]),
        Timing(levels: [(start: "30s", end: "35s"), (start: "30s", end: "60s"), (start: "60s", end: "90s")]),
        Set(path: "clients.c.policy.max_attempts", levels: ["1", "2", "3"]),
    ],
)"#;

#[test]
fn four_three_level_factors_get_l9_and_a_scenario_per_row() {
    let text = FOUR.replace(r#", "db#0""#, r#", "api#0""#);
    let text = text.replace(r#""api#0""#, r#""db""#).replace(
        r#"Target(levels: ["db", "api", "db"])"#,
        r#"Intensity(levels: [(factor: 2.0, p: 0.1), (factor: 10.0, p: 0.5), (factor: 100.0, p: 0.9)])"#,
    );
    let plan = prepare(&cov(&text), &scenario()).unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(plan.design.name, "L9(3^4)");
    assert_eq!(plan.design.method, Method::Orthogonal);
    assert!(plan.design.strength.covered() && plan.design.strength.balanced);
    assert_eq!(plan.design.full_factorial, 81);
    assert_eq!(plan.scenarios.len(), 9);
    assert_eq!(plan.seeds, vec![7, replicate_seed(7, 1)]);
    assert_eq!(plan.runs(), 18);
    // Scenario faults removed, one injected per row, as the row's levels say.
    for (row, s) in plan.design.rows.iter().zip(&plan.scenarios) {
        assert_eq!(s.faults.len(), 1);
        let f = &s.faults[0];
        let kind = ["Slowdown", "Errors", "Crash"][row[0]];
        assert_eq!(variant(&f.kind), kind);
        assert_eq!(
            (f.start.as_secs_f64(), f.end.as_secs_f64()),
            [(30.0, 35.0), (30.0, 60.0), (60.0, 90.0)][row[2]]
        );
        match &f.kind {
            FaultKind::Slowdown { factor, .. } => assert_eq!(*factor, [2.0, 10.0, 100.0][row[1]]),
            FaultKind::Errors { p, .. } => assert_eq!(*p, [0.1, 0.5, 0.9][row[1]]),
            _ => {}
        }
        assert_eq!(
            s.clients[0].policy.max_attempts,
            [1, 2, 3][row[3]],
            "the Set factor's level"
        );
    }
    assert_eq!(
        plan.factors[0].levels,
        ["Slowdown db", "Errors db", "Crash db"]
    );
    assert_eq!(
        plan.factors[1].levels,
        ["x2 p=0.1", "x10 p=0.5", "x100 p=0.9"]
    );
    assert_eq!(plan.factors[2].levels, ["30-35s", "30-60s", "60-90s"]);
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("Crash ignores intensity"))
    );
}

#[test]
fn designs_pick_the_smallest_fitting_array() {
    let d = design(&[3, 3, 3, 2]);
    assert_eq!((d.name.as_str(), d.rows.len()), ("L9(3^4)", 9));
    assert_eq!(d.placements[3].fit, Fit::Dummy);
    assert!(d.strength.covered() && !d.strength.balanced && d.strength.proportional);
    let d = design(&[2, 3, 3, 3, 3, 3]);
    assert_eq!(d.name, "L18(2^1 3^7)");
    assert!(d.strength.covered() && d.strength.balanced);
    let d = design(&[2; 7]);
    assert_eq!(d.name, "L8(2^7)");
    let d = design(&[4, 4, 4]);
    assert_eq!(d.name, "L16(4^5)");
    let d = design(&[2, 4, 4]);
    assert_eq!(d.placements[0].fit, Fit::Folded);
    assert!(d.strength.balanced);
    let d = design(&[7, 7, 7]);
    assert_eq!(
        (d.name.as_str(), d.construction.contains("Bose")),
        ("L49(7^8)", true)
    );
    let d = design(&[3; 13]);
    assert_eq!(d.name, "L27(3^13)");
    let d = design(&[3; 14]);
    assert_eq!(d.rows.len(), 81);
    // No smaller OA than the full factorial.
    let d = design(&[2, 3]);
    assert_eq!((d.method, d.rows.len()), (Method::FullFactorial, 6));
    // 2 and 5 levels share no OA column (no field of order 10): a covering array.
    let d = design(&[2, 5, 5, 5, 2, 2]);
    assert_eq!(d.method, Method::Covering);
    assert!(d.strength.covered());
    assert!(d.rows.len() < 100 && d.full_factorial == 1000);
}

#[test]
fn bad_factors_are_refused_at_their_place() {
    // Fewer than two levels; an unknown path (with suggestions); a level that makes the
    // scenario invalid; a target that does not exist (from scenario validation).
    let p = problems(
        r#"Coverage(fault: Fault(start: "30s", end: "40s", kind: Pause(service: "db")), factors: [
            Target(levels: ["db"]),
            Set(path: "clients.c.policy.max_atempts", levels: ["1", "2"]),
            Set(path: "services.db.workers", levels: ["4", "0"]),
        ])"#,
    );
    assert!(
        p[0].starts_with("factors[0].levels: has 1 level(s)"),
        "{p:?}"
    );
    assert!(p[1].starts_with("factors[1].path: unknown path"), "{p:?}");
    assert!(p[1].contains("max_attempts"), "{p:?}");
    assert!(p[2].starts_with("factors[2].levels[1]: "), "{p:?}");
    let p = problems(
        r#"Coverage(fault: Fault(start: "30s", end: "40s", kind: Pause(service: "db")), factors: [
            Target(levels: ["db", "nosuch"]),
            Timing(levels: [(start: "30s", end: "40s"), (start: "50s", end: "40s")]),
        ])"#,
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("factors[0].levels[1]: in design row") && m.contains("nosuch")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.starts_with("factors[1].levels[1]")),
        "{p:?}"
    );
    assert!(
        p.iter().all(|m| !m.starts_with("factors[0].levels[0]")),
        "{p:?}"
    );
}

#[test]
fn a_budget_too_small_and_other_mistakes() {
    let p = problems(&FOUR.replace("seeds: 2,", "seeds: 5, budget: 20,"));
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("budget: the design (L9(3^4)) needs 9 rows x 5 seeds = 45 runs, over the budget of 20 runs"), "{p:?}");
    assert!(p[0].contains("full factorial would be 81 runs"));
    let p =
        problems(r#"Coverage(factors: [Set(path: "services.db.workers", levels: ["1", "2"])])"#);
    assert!(
        p[0].starts_with("factors: needs at least 2 factors"),
        "{p:?}"
    );
    let p = problems(
        r#"Coverage(factors: [Target(levels: ["db", "api"]), Set(path: "services.db.workers", levels: ["1", "2", "1"])])"#,
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("factors: the fault factors change a base fault")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("factors[1].levels[2]: repeats")),
        "{p:?}"
    );
    let p = problems(
        r#"Coverage(fault: Fault(start: "30s", end: "40s", kind: Partition(a: "api", b: "db")),
            factors: [Target(levels: ["db", "api"]), Intensity(levels: [(p: 0.1), (p: 0.2)])])"#,
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("fault.kind: a Partition has two ends")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.starts_with("factors[1]: no fault kind here has an intensity")),
        "{p:?}"
    );
    let p = problems(
        r#"Coverage(factors: [
            Kind(levels: [Slowdown(service: "db", factor: 2.0), Errors(service: "db", p: 0.5)]),
            Timing(levels: [(start: "30s", end: "40s"), (start: "50s", end: "60s")]),
            Intensity(levels: [(factor: 3.0), (factor: 5.0, p: 0.2)])])"#,
    );
    assert_eq!(
        p,
        ["factors[2].levels[0]: gives no `p`, which the Errors at factors[0].levels[1] needs"]
    );
}

#[test]
fn flags_make_set_factors() {
    let f = Factor::from_param("services.db.workers=2,4,8").unwrap();
    assert_eq!(f.count(), 3);
    assert_eq!(f.name(), "services.db.workers");
    assert!(Factor::from_param("nonsense").is_err());
}
