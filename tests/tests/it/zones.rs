//! Availability zones (`sim_models::zones`): placement, cross-zone links, zone outages and
//! zone-aware routing, against numbers that follow from the semantics.
//!
//! Constant service times and link latencies make latencies exact; where Poisson arrivals
//! remain, the tolerance is derived beside the assertion. Seeds are fixed.

use sim_models::RunResult;
use sim_models::result::{ClientResult, ServiceResult};

use crate::support::load;

fn run(text: &str, seed: u64) -> RunResult {
    sim_models::run(&load("zones.ron", text), seed, "zones.ron")
}

fn service<'a>(r: &'a RunResult, name: &str) -> &'a ServiceResult {
    r.services.iter().find(|s| s.name == name).unwrap()
}

fn client<'a>(r: &'a RunResult, name: &str) -> &'a ClientResult {
    r.clients.iter().find(|c| c.name == name).unwrap()
}

/// Nothing failed (requests still in flight at the horizon are neither).
#[track_caller]
fn no_failures(t: &sim_models::result::Totals) {
    let f = &t.failed;
    assert_eq!(
        f.timeout + f.rejected + f.error + f.circuit_open,
        0,
        "{t:?}"
    );
    assert!(t.in_flight_at_end <= 3, "{t:?}");
}

fn sum<T: Copy + std::iter::Sum>(v: &[T], range: std::ops::Range<usize>) -> T {
    v[range].iter().copied().sum()
}

/// One client at 360 rps on `api`: 3 replicas of 3 workers, 10 ms mean work, so each
/// replica runs at 360 x 0.01 / 9 = 0.4 utilization; zone a's outage from 20 s to 40 s.
/// Health checks every 100 ms take a dead replica out of balancing after two failed probes.
fn outage_scenario(zones: &str) -> String {
    format!(
        r#"Scenario(
    name: "zone-outage", seed: 1, horizon: "60s",
    clients: [Client(name: "users", target: "api", load: Open(rate_rps: 360.0))],
    services: [Service(
        name: "api", workers: 3, replicas: 3, zones: {zones},
        service_time: Exponential(mean: "10ms"),
        health_check: (interval: "100ms"),
    )],
    faults: [(start: "20s", end: "40s", kind: ZoneOutage(zone: "a", mode: Refuse))],
)"#
    )
}

#[test]
fn an_outage_of_the_only_zone_collapses_availability_for_its_window() {
    let r = run(&outage_scenario(r#"["a"]"#), 1);
    let s = &r.series;
    // Every replica is in zone a: from the first full window of the outage to its last,
    // nothing succeeds.
    assert!(sum(&s.offered, 21..39) > 6000, "{:?}", &s.offered[21..39]);
    assert_eq!(sum(&s.succeeded, 21..39), 0);
    // Before and after, at 0.4 utilization with an unbounded queue, nothing fails.
    assert_eq!(sum(&s.failed, 0..19), 0);
    assert_eq!(sum(&s.failed, 42..60), 0);
    assert_eq!(
        r.faults[0].kind.class,
        sim_models::result::FaultClass::ZoneOutage
    );
    assert_eq!(r.faults[0].kind.to_string(), "zone outage (Refuse)");
    assert_eq!(r.faults[0].target, "zone a");
    assert!(r.services.iter().all(|x| x.zone.as_deref() == Some("a")));
    // A third of the run is out: availability is about 2/3 (Poisson counts, sd ~0.2%).
    let a = r.totals.availability;
    assert!((a - 40.0 / 60.0).abs() < 0.01, "availability {a}");
}

#[test]
fn spread_over_three_zones_the_route_survives_on_two_thirds_of_the_capacity() {
    let r = run(&outage_scenario(r#"["a", "b", "c"]"#), 1);
    let s = &r.series;
    // Requests sent to api#0 before the probes catch it (<= 0.2 s) fail; from the next
    // window on, none does.
    assert_eq!(sum(&s.failed, 0..20), 0);
    assert_eq!(sum(&s.failed, 21..60), 0);
    assert!(sum(&s.failed, 20..21) > 0, "the outage was seen");
    let zone_of: Vec<Option<&str>> = r.services.iter().map(|x| x.zone.as_deref()).collect();
    assert_eq!(zone_of, [Some("a"), Some("b"), Some("c")]);
    // The load of three replicas on the two left: each runs at 0.4 x 3/2 = 0.6.
    // Per replica and window the busy fraction has sd ~ 0.4 x sqrt(2 / 120) ~ 0.05; over
    // 18 windows x 2 replicas, ~0.009: 0.03 is over 3 sd.
    let util = |name: &str, w: std::ops::Range<usize>| {
        let x = r.series.services.iter().find(|x| x.name == name).unwrap();
        let n = w.len() as f64;
        sum(&x.utilization, w) / n
    };
    let during = (util("api#1", 21..39) + util("api#2", 21..39)) / 2.0;
    let before = (util("api#0", 1..19) + util("api#1", 1..19) + util("api#2", 1..19)) / 3.0;
    assert!((before - 0.4).abs() < 0.03, "before: {before}");
    assert!((during - 0.6).abs() < 0.03, "during: {during}");
    assert_eq!(util("api#0", 21..39), 0.0);
    let zones: Vec<(&str, u32)> = r
        .zones
        .iter()
        .map(|z| (z.zone.as_str(), z.instances))
        .collect();
    assert_eq!(zones, [("a", 1), ("b", 1), ("c", 1)]);
}

/// Three clients at 100 rps, one per zone; `api` has 6 replicas of 8 workers spread over
/// the zones with 5 ms of constant work (at 50 rps per replica no attempt ever waits: the
/// Erlang-C probability with 8 servers at 0.25 load is ~1e-8). Same-zone links take 0.5 ms
/// one way, cross-zone 2 ms.
fn routing_scenario(zone_aware: bool, faults: &str) -> String {
    let aware = if zone_aware {
        "zone_aware: (min_cluster_size: 6),"
    } else {
        ""
    };
    let client = |z: &str| {
        format!(
            r#"Client(name: "users-{z}", zone: "{z}", target: "api", load: Open(rate_rps: 100.0))"#
        )
    };
    format!(
        r#"Scenario(
    name: "zone-routing", seed: 1, horizon: "62s", warmup: "2s",
    clients: [{}, {}, {}],
    services: [Service(
        name: "api", workers: 8, replicas: 6, zones: ["a", "b", "c"], {aware}
        service_time: Constant("5ms"),
        health_check: (interval: "100ms"),
    )],
    default_link: (latency: Constant("0.5ms")),
    cross_zone: (latency: Constant("2ms")),
    faults: [{faults}],
)"#,
        client("a"),
        client("b"),
        client("c"),
    )
}

#[test]
fn zone_aware_routing_saves_the_cross_zone_round_trip_while_every_zone_is_healthy() {
    let plain = run(&routing_scenario(false, ""), 1);
    let aware = run(&routing_scenario(true, ""), 1);
    for z in ["a", "b", "c"] {
        let name = format!("users-{z}");
        let (p, a) = (client(&plain, &name), client(&aware, &name));
        // Local: 5 ms of work + 2 x 0.5 ms; cross-zone: 5 + 2 x 2 = 9 ms. Round robin over
        // six replicas sends exactly 2 of every 6 attempts to the caller's zone: mean
        // 6 x 1/3 + 9 x 2/3 = 8 ms, median 9 ms. Zone-aware: every attempt local, 6 ms.
        assert!(
            (p.totals.latency_ms.mean - 8.0).abs() < 0.01,
            "{name}: {:?}",
            p.totals.latency_ms
        );
        assert!(
            (p.totals.latency_ms.p50 - 9.0).abs() < 0.1,
            "{name}: {:?}",
            p.totals.latency_ms
        );
        assert!(
            (a.totals.latency_ms.mean - 6.0).abs() < 1e-6,
            "{name}: {:?}",
            a.totals.latency_ms
        );
        assert!(
            (a.totals.latency_ms.p50 - 6.0).abs() < 0.1,
            "{name}: {:?}",
            a.totals.latency_ms
        );
        no_failures(&a.totals);
    }
    // The median falls by the cross-zone round trip's extra: 2 x (2 - 0.5) = 3 ms.
    let drop = plain.totals.latency_ms.p50 - aware.totals.latency_ms.p50;
    assert!((drop - 3.0).abs() < 0.15, "median fell by {drop} ms");
    // Each replica gets only its own zone's client: 50 rps each either way.
    for x in &aware.services {
        assert!(
            (x.arrival_rps - 50.0).abs() < 5.0,
            "{}: {}",
            x.name,
            x.arrival_rps
        );
    }
}

#[test]
fn zone_aware_routing_spills_over_when_the_local_zone_fails() {
    // Zone a's two replicas crash for the whole counted run (its clients live on): users-a
    // spills over to b and c, so its requests all succeed and all cross zones (9 ms); b
    // and c keep half of the healthy replicas for a third of the callers, so stay local.
    let crash = r#"(start: "0s", end: "62s", kind: Crash(service: "api#0", mode: Refuse)),
                   (start: "0s", end: "62s", kind: Crash(service: "api#3", mode: Refuse))"#;
    let r = run(&routing_scenario(true, crash), 1);
    let a = client(&r, "users-a");
    no_failures(&a.totals);
    assert!(
        (a.totals.latency_ms.mean - 9.0).abs() < 1e-6,
        "{:?}",
        a.totals.latency_ms
    );
    for name in ["users-b", "users-c"] {
        let c = client(&r, name);
        assert!(
            (c.totals.latency_ms.mean - 6.0).abs() < 1e-6,
            "{name}: {:?}",
            c.totals.latency_ms
        );
    }
    assert_eq!(
        service(&r, "api#0").attempts + service(&r, "api#3").attempts,
        0
    );
}

#[test]
fn with_one_local_replica_lost_a_zone_keeps_its_healthy_share_local() {
    // api#0 (one of zone a's two) crashes: the healthy upstream share of zone a is 1/5
    // against a caller share of 1/3, so users-a stays local with probability 3/5 (all on
    // api#3) and spills 1/5 to each of zones b and c (Envoy's residual routing).
    let crash = r#"(start: "0s", end: "62s", kind: Crash(service: "api#0", mode: Refuse))"#;
    let r = run(&routing_scenario(true, crash), 1);
    let a = client(&r, "users-a");
    no_failures(&a.totals);
    let local = service(&r, "api#3").attempts as f64 / a.totals.offered as f64;
    // Binomial over ~6000 requests: sd sqrt(0.24 / 6000) ~ 0.0063; 4 sd.
    assert!((local - 0.6).abs() < 0.025, "local share {local}");
    // Mean latency: 3/5 at 6 ms, 2/5 at 9 ms = 7.2 ms (same sd, times 3 ms).
    assert!(
        (a.totals.latency_ms.mean - 7.2).abs() < 0.08,
        "{:?}",
        a.totals.latency_ms
    );
}

#[test]
fn a_zone_outage_stops_its_clients_and_counts_what_they_did_not_issue() {
    let outage = r#"(start: "20s", end: "40s", kind: ZoneOutage(zone: "a", mode: Refuse))"#;
    let r = run(&routing_scenario(true, outage), 1);
    let a = client(&r, "users-a");
    // 20 s of 100 rps not issued (Poisson: sd ~45); the other 40 s issued and served.
    assert!(
        (a.not_issued as f64 - 2000.0).abs() < 200.0,
        "{}",
        a.not_issued
    );
    assert!(
        (a.totals.offered as f64 - 4000.0).abs() < 260.0,
        "{}",
        a.totals.offered
    );
    let za = r.zones.iter().find(|z| z.zone == "a").unwrap();
    assert_eq!(
        (za.instances, za.clients, za.not_issued),
        (2, 1, a.not_issued)
    );
    // Zones b and c keep half the healthy replicas for a third of the callers: direct
    // routing, nothing fails there.
    for name in ["users-b", "users-c"] {
        assert_eq!(client(&r, name).not_issued, 0);
        no_failures(&client(&r, name).totals);
    }
}

#[test]
fn closed_loop_users_of_a_zone_wait_out_its_outage() {
    let text = r#"Scenario(
    name: "closed", seed: 1, horizon: "30s",
    clients: [Client(name: "u", zone: "a", target: "api",
        load: Closed(users: 5, think_time: Constant("97ms")))],
    services: [Service(name: "api", workers: 5, zones: ["a"], service_time: Constant("10ms"))],
    faults: [(start: "10s", end: "20s", kind: ZoneOutage(zone: "a", mode: Refuse))],
)"#;
    let r = run(text, 1);
    let s = &r.series.clients[0];
    // The 5 users move in step (constant times): a request at 97 + 107k ms, so none is in
    // flight when the outage starts (9.941 s done at 9.951 s; the next is due at 10.048 s,
    // when the client is down). They wait the outage out and go on at 20 s: 5 requests
    // per 107 ms, ~467 in 10 s; none fails.
    assert_eq!(sum(&s.offered, 10..20), 0);
    assert!(sum(&s.offered, 20..30) >= 465, "{:?}", &s.offered[20..30]);
    let f = &r.totals.failed;
    assert_eq!(
        f.timeout + f.rejected + f.error + f.circuit_open,
        0,
        "{f:?}"
    );
    assert_eq!(
        client(&r, "u").not_issued,
        0,
        "closed-loop users wait, they skip nothing"
    );
}

#[test]
fn zones_leave_a_run_deterministic() {
    let outage = r#"(start: "20s", end: "40s", kind: ZoneOutage(zone: "b", mode: BlackHole))"#;
    let text = routing_scenario(true, outage);
    let json = |seed| serde_json::to_string(&run(&text, seed)).unwrap();
    assert_eq!(json(3), json(3));
    assert_ne!(json(3), json(4));
}

/// Zones that nothing uses (no `cross_zone`, no `zone_aware`, no zone fault) change no
/// event of a run: the same trace digest and totals as without them.
#[test]
fn unused_zones_change_nothing() {
    let with = outage_scenario(r#"["a", "b", "c"]"#).replace(
        "ZoneOutage(zone: \"a\", mode: Refuse)",
        "Crash(service: \"api#0\", mode: Refuse)",
    );
    let without = with.replace(r#"zones: ["a", "b", "c"],"#, "");
    assert_ne!(with, without);
    let (a, b) = (run(&with, 5), run(&without, 5));
    assert_eq!(a.trace_digest, b.trace_digest);
    assert_eq!(a.totals, b.totals);
    assert!(b.zones.is_empty() && a.zones.len() == 3);
}

/// Every zone mistake is an error (or a warning) at the field, with line:column.
#[test]
fn zone_mistakes_point_at_the_field() {
    let text = r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", zone: "eu-1x", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", workers: 1, replicas: 2, zones: ["eu-1a", "eu-1b", "eu-1a"],
        service_time: Constant("1ms"))],
    cross_zone: (latency: Constant("1ms"), loss: 2.0),
    faults: [(start: "1s", end: "2s", kind: ZoneOutage(zone: "eu-1c", mode: Refuse))],
)"#;
    let d = sim_models::load("z.ron", text).unwrap_err();
    let got: Vec<(usize, usize, &str)> = d
        .items
        .iter()
        .map(|x| (x.at.line, x.at.col, x.field.as_str()))
        .collect();
    insta::assert_snapshot!("zone_diagnostics", d.to_string());
    assert!(got.contains(&(3, 39, "clients[0].zone")), "{got:?}");
    assert!(got.contains(&(6, 50, "cross_zone.loss")), "{got:?}");
    assert!(got.iter().any(|g| g.2 == "services[0].zones[2]"), "{got:?}");
    assert!(got.iter().any(|g| g.2 == "faults[0].kind.zone"), "{got:?}");
    assert!(d.to_string().contains("did you mean `eu-1a`"), "{d}");
}

#[test]
fn a_zone_no_instance_is_in_is_warned_about() {
    let text = r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", workers: 1, replicas: 2, zones: ["a", "b", "c"],
        service_time: Constant("1ms"), zone_aware: ())],
)"#;
    let w = sim_models::load("w.ron", text).unwrap().warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].field, "services[0].zones[2]");
    assert_eq!((w[0].at.line, w[0].at.col), (4, 78));
    assert!(
        w[0].message.contains("gets no instance"),
        "{}",
        w[0].message
    );
    // A ZoneOutage of that zone is an error: it would take nothing down.
    let outage = text.replace(
        "zone_aware: ())],",
        r#"zone_aware: ())],
    faults: [(start: "1s", end: "2s", kind: ZoneOutage(zone: "c", mode: Refuse))],"#,
    );
    let e = sim_models::load("w.ron", &outage).unwrap_err();
    assert_eq!(e.errors().next().unwrap().field, "faults[0].kind.zone");
}

/// scenarios/zones.ron's lesson (README "Zones"): spread over three zones the route rides
/// out zone a's minute; with both tiers in zone a the minute is lost.
#[test]
fn the_bundled_zones_scenario_survives_spread_and_fails_in_one_zone() {
    let text = std::fs::read_to_string(crate::support::scenario_path("zones.ron")).unwrap();
    let spread = load("scenarios/zones.ron", &text);
    let mut single = spread.clone();
    for svc in &mut single.services {
        svc.zones = vec!["a".into()];
    }
    let (a, b) = (
        sim_models::run(&spread, 42, "zones.ron"),
        sim_models::run(&single, 42, "zones.ron"),
    );
    assert!(a.totals.availability > 0.999, "{:?}", a.totals);
    // 60 of the 170 counted seconds are out: 110/170 = 0.647 (Poisson counts: sd ~0.15%).
    assert!(
        (b.totals.availability - 110.0 / 170.0).abs() < 0.005,
        "{:?}",
        b.totals
    );
}

#[test]
fn more_zones_than_a_scenario_may_have_are_refused_where_named() {
    let zones: Vec<String> = (0..17).map(|i| format!("\"z{i}\"")).collect();
    let text = format!(
        r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "c", target: "s", load: Open(rate_rps: 10.0))],
    services: [Service(name: "s", workers: 1, replicas: 17, zones: [{}],
        service_time: Constant("1ms"))],
)"#,
        zones.join(", ")
    );
    let e = sim_models::load("m.ron", &text).unwrap_err();
    let d = e.errors().next().unwrap();
    assert_eq!(d.field, "services[0].zones[16]");
    assert!(d.message.contains("16 distinct zones"), "{}", d.message);
}
