//! README.md's scenario example stays valid: it is extracted, the services it elides with
//! `// ...` are filled in, and it must load without errors and run.

#[test]
fn the_readme_scenario_example_loads_and_runs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("```ron\nScenario(")
        .expect("a RON scenario block in README.md")
        + "```ron\n".len();
    let end = start + readme[start..].find("```").expect("the block ends");
    let elided = "        // ...\n";
    assert!(
        readme[start..end].contains(elided),
        "the example elides services with `// ...`"
    );
    let filled = readme[start..end].replace(
        elided,
        r#"        Service(name: "orders", workers: 8, service_time: Constant("1ms")),
        Service(name: "inventory", workers: 8, service_time: Constant("1ms"), calls: [Call(to: "db")]),
        Service(name: "payment", workers: 8, service_time: Constant("1ms")),
        Service(name: "audit", workers: 8, service_time: Constant("1ms")),
        Service(name: "db", workers: 8, service_time: Constant("1ms")),
"#,
    );
    let scenario = crate::support::load("README.md example", &filled);
    let mut short = scenario.clone();
    short.horizon = sim_core::SimDuration::from_secs(60);
    short.faults.retain(|f| f.end <= short.horizon);
    let r = sim_models::run(&short, 1, "README.md");
    assert_eq!(r.stopped, "horizon");
    assert!(r.totals.succeeded > 0);
}
