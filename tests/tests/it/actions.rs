//! Remediation actions with their real costs (issue 17 item 1): each action, taken by a
//! rule through the path a recovery plan's step takes too (`World::take_action`), costs
//! what `sim-models/src/world/actions.rs` says: a restarted instance refuses for its restart
//! time, again soon it waits a crash-loop back-off first, a restarted cache misses; a
//! scale-in waits for its stabilization window, a scale within the cooldown is refused;
//! shedding caps the admitted rate; evacuating a zone moves its traffic to the other zone;
//! a failover loses the unreplicated writes. Expectations follow from the scenarios'
//! arithmetic, never from a previous run's output.

use sim_models::RunResult;

use crate::support::load;

fn run(text: &str, seed: u64) -> RunResult {
    sim_models::run(&load("actions.ron", text), seed, "actions.ron")
}

fn series_of<'a>(r: &'a RunResult, name: &str) -> &'a sim_models::result::ServiceSeries {
    r.series
        .services
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no series for `{name}`"))
}

/// 200 rps over one service `api` built by `service`, with `rules`.
fn scenario(service: &str, rules: &str) -> String {
    format!(
        r#"Scenario(
    name: "actions", seed: 1, horizon: "3m",
    clients: [Client(name: "c", target: "api", load: Open(rate_rps: 200.0), policy: (timeout: "1s"))],
    services: [Service(name: "api", workers: 4, service_time: Constant("5ms"), {service})],
    rules: [{rules}],
)"#
    )
}

#[test]
fn a_second_restart_within_ten_minutes_waits_the_crash_loop_back_off() {
    let r = run(
        &scenario(
            "replicas: 2",
            r#"Rule(name: "first", when: At("60s"), do: Restart(service: "api#0", restart_time: "10s"), max_actions: 1),
               Rule(name: "again", when: At("100s"), do: Restart(service: "api#0", restart_time: "10s"), max_actions: 1)"#,
        ),
        1,
    );
    let a = &r.actions;
    assert_eq!(a.len(), 2);
    assert_eq!(
        (a[0].kind.as_str(), a[0].start_s, a[0].end_s),
        ("restart", 60.0, 70.0)
    );
    // Up again at 70 s, restarted 30 s later: 10 s of back-off, then its 10 s restart.
    assert_eq!(
        (a[1].kind.as_str(), a[1].start_s, a[1].end_s),
        ("restart after crash-loop back-off 10s", 100.0, 120.0)
    );
    assert_eq!(a[1].target, "api#0");
    // Round robin sends every other attempt to api#0: about half of 30 s x 200 rps are
    // refused (sd ~40), and nothing else fails.
    let errors = r.totals.failed.error;
    assert!((2700..3300).contains(&errors), "errors {errors}");
    assert_eq!(r.totals.failed.total(), errors);
    let f = &r.series.failed;
    let outside = f[..60].iter().chain(&f[71..100]).chain(&f[121..]);
    assert_eq!(outside.sum::<u64>(), 0, "failures only while it is down");
    assert!(
        f[110..120].iter().all(|&n| n > 50),
        "down through the back-off"
    );
}

#[test]
fn a_restarted_cache_refuses_then_comes_back_cold() {
    let text = r#"Scenario(
    name: "actions", seed: 1, horizon: "2m",
    clients: [Client(name: "c", target: "cache", load: Open(rate_rps: 500.0), policy: (timeout: "1s"))],
    services: [Service(name: "db", workers: 64, service_time: Constant("5ms"))],
    caches: [Cache(name: "cache", backend: "db", keys: Zipf(keys: 100, exponent: 1.0))],
    rules: [Rule(name: "restart", when: At("60s"), do: Restart(service: "cache", restart_time: "5s"), max_actions: 1)],
)"#;
    let r = run(text, 1);
    assert_eq!(r.actions[0].target, "cache");
    assert_eq!((r.actions[0].start_s, r.actions[0].end_s), (60.0, 65.0));
    let c = &r.series.caches[0];
    // Warm before: 100 keys, no TTL, no capacity; all but the rarest are held by 50 s.
    assert!(c.hit_ratio[59] > 0.98, "hit ratio {}", c.hit_ratio[59]);
    assert!(c.backend_fetches[55..60].iter().sum::<u64>() < 5);
    // Down 5 s: 500 lookups a second refused (sd ~50 over the 5 s).
    let refused: u64 = r.series.failed[60..65].iter().sum();
    assert!((2250..2750).contains(&refused), "refused {refused}");
    assert_eq!(r.series.failed[66..].iter().sum::<u64>(), 0);
    // Back cold: its first second misses every key it sees (dozens: 500 Zipf draws over
    // 100 keys), where the second before the restart missed almost none.
    assert!(
        c.backend_fetches[65] > 30,
        "fetches {}",
        c.backend_fetches[65]
    );
    assert!(c.hit_ratio[65] < 0.95, "hit ratio {}", c.hit_ratio[65]);
}

#[test]
fn a_scale_in_waits_for_its_stabilization_window_and_a_scale_in_the_cooldown_is_refused() {
    let r = run(
        &scenario(
            "replicas: 1, max_replicas: 4",
            r#"Rule(name: "out", when: At("20s"), do: ScaleTo(service: "api", replicas: 4, cooldown: "30s"), max_actions: 1),
               Rule(name: "too-soon", when: At("30s"), do: ScaleTo(service: "api", replicas: 2, cooldown: "30s"), max_actions: 1),
               Rule(name: "in", when: At("60s"), do: ScaleTo(service: "api", replicas: 1, stabilization: "60s"), max_actions: 1)"#,
        ),
        1,
    );
    let a = &r.actions;
    assert_eq!(a.len(), 3);
    assert_eq!((a[0].start_s, a[0].refused.as_deref()), (20.0, None));
    assert_eq!((a[1].start_s, a[1].end_s), (30.0, 30.0));
    let why = a[1].refused.as_deref().expect("refused in the cooldown");
    assert!(why.starts_with("cooldown"), "{why}");
    assert_eq!(a[2].kind, "scale to 1 after stabilization 1m");
    assert_eq!(
        (a[2].decided_s, a[2].start_s, a[2].end_s),
        (60.0, 120.0, 180.0)
    );
    // Four replicas serve from 20 s (round robin, 50 rps each) until the scale-in takes
    // effect at 120 s, not at 60 s when it was asked for; the refused scale to 2 did nothing.
    let s3 = series_of(&r, "api#3");
    assert_eq!(s3.attempts[..20].iter().sum::<u64>(), 0);
    assert!(
        s3.attempts[21..120].iter().all(|&n| n > 20),
        "{:?}",
        &s3.attempts[21..120]
    );
    assert_eq!(s3.attempts[121..].iter().sum::<u64>(), 0);
    let s1 = series_of(&r, "api#1");
    assert!(s1.attempts[31..120].iter().all(|&n| n > 20));
    assert_eq!(r.totals.failed.total(), 0);
}

#[test]
fn a_scale_out_within_the_window_drops_the_pending_scale_in() {
    let r = run(
        &scenario(
            "replicas: 1, max_replicas: 4",
            r#"Rule(name: "out", when: At("20s"), do: ScaleTo(service: "api", replicas: 4), max_actions: 1),
               Rule(name: "in", when: At("60s"), do: ScaleTo(service: "api", replicas: 1, stabilization: "60s"), max_actions: 1),
               Rule(name: "out-again", when: At("90s"), do: ScaleTo(service: "api", replicas: 4), max_actions: 1)"#,
        ),
        1,
    );
    let s3 = series_of(&r, "api#3");
    assert!(
        s3.attempts[21..179].iter().all(|&n| n > 20),
        "{:?}",
        &s3.attempts[100..140]
    );
}

#[test]
fn shedding_load_caps_the_admitted_rate_and_rejects_the_rest_at_once() {
    let r = run(
        &scenario(
            "",
            r#"Rule(name: "shed", when: At("60s"), do: ShedLoad(service: "api", rps: 50.0), for: "60s")"#,
        ),
        1,
    );
    assert_eq!(r.actions[0].kind, "shed load to 50 rps");
    assert_eq!(r.actions[0].target, "api");
    let s = series_of(&r, "api");
    let admitted = |range: std::ops::Range<usize>| -> u64 {
        range.map(|w| s.attempts[w] - s.rejected[w]).sum()
    };
    // A bucket of 50 tokens a second holding 5: at most 60 x 50 + 5 admitted; 200 rps
    // arriving keep it empty, so hardly fewer.
    let during = admitted(60..120);
    assert!((2900..=3005).contains(&during), "admitted {during}");
    for w in 61..120 {
        assert!(
            admitted(w..w + 1) <= 55,
            "window {w}: {}",
            admitted(w..w + 1)
        );
    }
    // The rest, ~150 rps, rejected; nothing before or after.
    let rejected: u64 = s.rejected[60..120].iter().sum();
    assert!((8400..9600).contains(&rejected), "rejected {rejected}");
    assert_eq!(
        s.rejected[..60]
            .iter()
            .chain(&s.rejected[120..])
            .sum::<u64>(),
        0
    );
    assert_eq!(r.totals.failed.rejected, r.totals.failed.total());
}

#[test]
fn evacuating_a_zone_moves_its_traffic_to_the_other_zone() {
    let r = run(
        &scenario(
            r#"replicas: 4, zones: ["a", "b"]"#,
            r#"Rule(name: "evacuate", when: At("60s"), do: EvacuateZone(zone: "a"), for: "60s")"#,
        ),
        1,
    );
    assert_eq!(
        (r.actions[0].kind.as_str(), r.actions[0].target.as_str()),
        ("evacuate", "zone a")
    );
    // Instances 0 and 2 are in zone a, 1 and 3 in b (round robin over `zones`).
    for name in ["api#0", "api#2"] {
        let s = series_of(&r, name);
        assert_eq!(s.attempts[60..120].iter().sum::<u64>(), 0, "{name}");
        assert!(
            s.attempts[121..179].iter().all(|&n| n > 20),
            "{name} back after"
        );
    }
    for name in ["api#1", "api#3"] {
        // Half the load each while zone a is out, a quarter before.
        let s = series_of(&r, name);
        let during: u64 = s.attempts[60..120].iter().sum();
        let before: u64 = s.attempts[..60].iter().sum();
        assert!((5400..6600).contains(&during), "{name}: {during}");
        assert!((2700..3300).contains(&before), "{name}: {before}");
    }
    assert_eq!(r.totals.failed.total(), 0);
}

const DATABASE: &str = r#"Scenario(
    name: "actions", seed: 1, horizon: "2m",
    clients: [Client(name: "w", target: "app", load: Open(rate_rps: 100.0), policy: (timeout: "2s"))],
    services: [Service(name: "app", workers: 2000, service_time: Constant("1ms"),
        calls: [Call(to: "pg", endpoint: "write")])],
    databases: [Database(name: "pg", replicas: 2, workers: 50, read_time: Constant("2ms"),
        write_time: Constant("5ms"), reads: Replicas, replication: REPLICATION,
        lag: Constant("200ms"), keys: Zipf(keys: 1000, exponent: 1.0),
        failover: (detection: Constant("10s"), promotion: Constant("5s")))],
    rules: [Rule(name: "failover", when: At("60s"), do: Failover(database: "pg"), max_actions: 1)],
)"#;

#[test]
fn a_failover_promotes_a_replica_and_loses_the_unreplicated_writes() {
    let r = run(&DATABASE.replace("REPLICATION", "Async"), 1);
    assert_eq!(
        (r.actions[0].kind.as_str(), r.actions[0].target.as_str()),
        ("failover", "database pg")
    );
    let db = &r.databases[0];
    assert_eq!(db.failovers.len(), 1);
    let f = &db.failovers[0];
    // Forced now: no detection time, then the 5 s promotion; both replicas received the
    // same prefix (a constant lag), so the lower-numbered one is chosen.
    assert_eq!(
        (f.crashed_s, f.detected_s, f.promoted_s),
        (60.0, 60.0, 65.0)
    );
    assert_eq!((f.from.as_str(), f.to.as_str()), ("pg#0", "pg#1"));
    assert_eq!(db.primary_at_end, "pg#1");
    // Lost: the writes acknowledged in the last 200 ms, which no replica had received:
    // 100 rps x 0.2 s = 20 on average (Poisson, sd ~4.5).
    assert!((6..=40).contains(&f.lost_writes), "lost {}", f.lost_writes);
    assert_eq!(db.lost_writes, f.lost_writes);
    // Writes fail from the switchover to the promotion: 5 s x 100 rps.
    let failed: u64 = r.series.failed[60..65].iter().sum();
    assert!((400..600).contains(&failed), "failed {failed}");
    assert_eq!(r.series.failed[66..].iter().sum::<u64>(), 0);

    // Synchronous replication: the same failover loses nothing.
    let r = run(&DATABASE.replace("REPLICATION", "Sync(acks: 1)"), 1);
    assert_eq!(r.databases[0].failovers.len(), 1);
    assert_eq!(r.databases[0].lost_writes, 0);
}

/// A hung primary (a Pause of the database) is what automatic failover misses and a
/// Failover action fixes.
#[test]
fn a_failover_is_the_remedy_for_a_hung_primary() {
    let hung = DATABASE.replace("REPLICATION", "Async").replace(
        "    rules: [",
        "    faults: [Fault(start: \"30s\", end: \"100s\", kind: Pause(service: \"pg\"))],\n    rules: [",
    );
    let without = hung.replace("At(\"60s\")", "At(\"119s\")");
    let with = hung.replace("At(\"60s\")", "At(\"40s\")");
    // Without the action (it comes at 119 s, too late to promote anyone), nothing fails
    // over while the primary hangs: the writes sent from 30 s to 98 s time out at the
    // client 2 s later, ~6,800.
    let r = run(&without, 1);
    assert!(r.databases[0].failovers.is_empty());
    let failed: u64 = r.series.failed[30..100].iter().sum();
    assert!((6300..7700).contains(&failed), "failed {failed}");
    // With it at 40 s: promoted at 45 s, and writes succeed from then on.
    let r = run(&with, 1);
    let f = &r.databases[0].failovers[0];
    assert_eq!((f.crashed_s, f.promoted_s), (40.0, 45.0));
    // It had acknowledged nothing since it hung, and the replicas had the rest by then.
    assert_eq!(f.lost_writes, 0);
    assert!(r.series.failed[30..45].iter().sum::<u64>() > 1000);
    assert_eq!(r.series.failed[46..].iter().sum::<u64>(), 0);
}

/// Every mistake in the new actions is an error at its field, with line:column.
#[test]
fn action_mistakes_point_at_the_field() {
    let text = r#"Scenario(
    name: "x", seed: 1, horizon: "1m",
    clients: [Client(name: "c", target: "api", load: Open(rate_rps: 10.0))],
    services: [Service(name: "api", workers: 1, replicas: 2, zones: ["eu-1a", "eu-1b"],
        service_time: Constant("1ms"))],
    rules: [
        Rule(name: "a", when: At("1s"), do: ShedLoad(service: "api", rps: 0.0)),
        Rule(name: "b", when: At("1s"), do: ShedLoad(service: "c", rps: 5.0)),
        Rule(name: "c", when: At("1s"), do: Failover(database: "pg")),
        Rule(name: "d", when: At("1s"), do: EvacuateZone(zone: "eu-1c")),
        Rule(name: "e", when: At("1s"), do: Restart(service: "apx", restart_time: "5s")),
        Rule(name: "f", when: At("1s"), do: EvacuateZone(zone: "mars")),
    ],
)"#;
    let d = sim_models::load("a.ron", text).unwrap_err();
    insta::assert_snapshot!("action_diagnostics", d.to_string());
    let got: Vec<(usize, &str)> = d
        .items
        .iter()
        .map(|x| (x.at.line, x.field.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (7, "rules[0].do.rps"),
            (8, "rules[1].do.service"),
            (9, "rules[2].do.database"),
            (10, "rules[3].do.zone"),
            (11, "rules[4].do.service"),
            (12, "rules[5].do.zone"),
        ]
    );
}
