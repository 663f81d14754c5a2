//! The message broker (issue 12, item 1): backlog growth at the rate difference,
//! conservation at every window end, redelivery after a consumer crash or pause with the
//! duplicates counted, the dead-letter queue, and the two overflow policies. Expectations
//! come from each scenario's arithmetic, never from a previous run's output.

use sim_models::RunResult;
use sim_models::result::BrokerGroupResult;

use crate::support::{load, scenario_path};

fn run(text: &str, seed: u64) -> RunResult {
    sim_models::run(&load("broker.ron", text), seed, "broker.ron")
}

/// A scenario: `producer` publishes `rate` messages/s to `jobs` (optionally through
/// `client_extra`), `worker` (`workers` at a constant `work`, `service_extra`) consumes
/// with the group `group`, and `broker_extra` fields on the broker.
struct Setup<'a> {
    horizon: &'a str,
    rate: &'a str,
    workers: u32,
    work: &'a str,
    service_extra: &'a str,
    group: &'a str,
    broker_extra: &'a str,
    faults: &'a str,
}

impl Setup<'_> {
    fn text(&self) -> String {
        format!(
            r#"Scenario(
    name: "broker-test",
    seed: 1,
    horizon: "{horizon}",
    clients: [
        Client(name: "producer", target: "jobs", load: Open(rate_rps: {rate})),
    ],
    services: [
        Service(name: "worker", workers: {workers}, service_time: Constant("{work}"), {service_extra}),
    ],
    brokers: [
        Broker(
            name: "jobs",
            groups: [{group}],
            {broker_extra}
        ),
    ],
    faults: [{faults}],
)"#,
            horizon = self.horizon,
            rate = self.rate,
            workers = self.workers,
            work = self.work,
            service_extra = self.service_extra,
            group = self.group,
            broker_extra = self.broker_extra,
            faults = self.faults,
        )
    }
}

fn group(r: &RunResult) -> &BrokerGroupResult {
    &r.brokers[0].groups[0]
}

/// published = acked + backlog + in flight + dead-lettered + dropped, at every window end
/// and at the end of the run; counts never go down.
fn assert_conserved(r: &RunResult) {
    for b in &r.brokers {
        for g in &b.groups {
            let s = &g.series;
            assert_eq!(s.published.len(), r.series.t_s.len(), "one row per window");
            for i in 0..s.published.len() {
                assert_eq!(
                    s.published[i],
                    s.acked[i] + s.backlog[i] + s.in_flight[i] + s.dead_lettered[i] + s.dropped[i],
                    "conservation at t={}s",
                    r.series.t_s[i]
                );
                if i > 0 {
                    assert!(s.published[i] >= s.published[i - 1]);
                    assert!(s.acked[i] >= s.acked[i - 1]);
                }
            }
            assert_eq!(
                g.published,
                g.acked + g.backlog_at_end + g.in_flight_at_end + g.dead_lettered + g.dropped
            );
        }
    }
}

/// Least-squares slope of `ys` over `xs`.
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    sxy / sxx
}

/// The issue's first "must show": consumers slower than publishers. 1,000 messages/s come
/// in; 80 workers at 100 ms take 800/s (the group's 20 x 4 delivery slots keep every worker
/// busy and none waiting). The backlog grows at 1,000 - 800 = 200 messages/s and the lag (age
/// of the oldest waiting message) at 1 - 800/1,000 = 0.2 s/s; both within 5% on each seed.
#[test]
fn backlog_and_lag_grow_at_the_rate_difference() {
    let (lambda, workers, work_s) = (1000.0, 80.0, 0.1);
    let mu = workers / work_s;
    let text = Setup {
        horizon: "100s",
        rate: "1000.0",
        workers: 80,
        work: "100ms",
        service_extra: "",
        group: "Group(service: \"worker\", consumers: 20, prefetch: 4)",
        broker_extra: "visibility_timeout: \"30s\", max_deliveries: 5,",
        faults: "",
    }
    .text();
    for seed in 1..=3 {
        let r = run(&text, seed);
        assert_conserved(&r);
        let g = group(&r);
        // From 10 s on (past the start), to the end.
        let from = 10;
        let t = &r.series.t_s[from..];
        let backlog: Vec<f64> = g.series.backlog[from..].iter().map(|&b| b as f64).collect();
        let growth = slope(t, &backlog);
        let want = lambda - mu;
        assert!(
            (growth - want).abs() / want < 0.05,
            "seed {seed}: backlog grows {growth:.1}/s, theory {want}/s"
        );
        let lag = slope(t, &g.series.lag_s[from..]);
        let want = 1.0 - mu / lambda;
        assert!(
            (lag - want).abs() / want < 0.05,
            "seed {seed}: lag grows {lag:.3} s/s, theory {want}"
        );
        assert_eq!(g.in_flight_at_end, 80, "every delivery slot in use");
        assert_eq!((g.redeliveries, g.duplicates_processed), (0, 0));
    }
}

/// The bundled scenario does what its comment says: ~200/s of growth for 60 s, then the
/// backlog drains at ~600/s and is empty by ~80 s; nothing lost, nothing redelivered.
#[test]
fn the_bundled_scenario_grows_then_drains() {
    let text = std::fs::read_to_string(scenario_path("broker.ron")).expect("bundled scenario");
    let r = run(&text, 42);
    assert_conserved(&r);
    let g = group(&r);
    let at = |t: f64| r.series.t_s.iter().position(|&x| x >= t).unwrap();
    let t = &r.series.t_s[at(10.0)..at(60.0)];
    let backlog: Vec<f64> = g.series.backlog[at(10.0)..at(60.0)]
        .iter()
        .map(|&b| b as f64)
        .collect();
    let growth = slope(t, &backlog);
    assert!((growth - 200.0).abs() < 10.0, "growth {growth:.1}/s");
    let drained = g.series.backlog.iter().rposition(|&b| b > 0).unwrap() + 1;
    let empty_at = r.series.t_s[drained];
    assert!(
        (78.0..=84.0).contains(&empty_at),
        "empty at {empty_at}s, ~80 s expected"
    );
    assert_eq!(g.backlog_at_end, 0);
    assert_eq!((g.redeliveries, g.dead_lettered, g.dropped), (0, 0, 0));
    // No retry and no redelivery: amplification is 1 over the run and in every window,
    // the drain included (each window counts the deliveries it made, not the publishes it
    // took; it read 4.62 when deliveries were set against the window's publishes).
    assert!(
        (r.retry_amplification - 1.0).abs() < 1e-9,
        "{}",
        r.retry_amplification
    );
    assert!(
        (r.retry_amplification_peak - 1.0).abs() < 1e-9,
        "peak {}",
        r.retry_amplification_peak
    );
}

/// A consumer replica crashes (its process gone, messages to it vanish) from 10 s to 30 s.
/// Each delivery lost with it comes back after the 2 s visibility timeout and goes to a
/// replica (round robin still picks the dead one half the time, so the group's 8 slots
/// spend most of the crash waiting and the backlog grows). No message is lost: after the
/// crash the backlog drains at 160 - 100 = 60 messages/s and by the horizon everything is
/// acked but what is in flight; and since a crashed handler never finishes, nothing is
/// processed twice.
#[test]
fn a_consumer_crash_loses_no_message() {
    let text = Setup {
        horizon: "90s",
        rate: "100.0",
        workers: 4,
        work: "50ms",
        service_extra: "replicas: 2",
        group: "Group(service: \"worker\", consumers: 4, prefetch: 2)",
        broker_extra: "visibility_timeout: \"2s\", max_deliveries: 100,",
        faults: "Fault(start: \"10s\", end: \"30s\", kind: Crash(service: \"worker#0\", mode: BlackHole))",
    }
    .text();
    let r = run(&text, 3);
    assert_conserved(&r);
    let g = group(&r);
    assert!(g.redeliveries > 0, "lost deliveries come back");
    assert_eq!(g.dead_lettered + g.dropped, 0);
    assert_eq!(
        g.duplicates_processed, 0,
        "a crashed handler never finishes"
    );
    // Everything published is acked, in flight at the horizon, or waiting: none vanished.
    assert_eq!(g.published, g.acked + g.backlog_at_end + g.in_flight_at_end);
    assert!(
        g.series.backlog[25] > 500,
        "the crash leaves a backlog: {}",
        g.series.backlog[25]
    );
    assert_eq!(g.backlog_at_end, 0, "caught up by the end");
    assert!(g.in_flight_at_end <= 8);
}

/// A stop-the-world pause of one consumer replica for 10 s, with a 2 s visibility timeout:
/// the broker gives up on the deliveries the paused replica holds and redelivers them, but
/// the frozen handlers finish when the pause ends. Publishers outpace consumers, so the
/// replica's 4 workers are all busy when the pause starts: those 4 messages at least are
/// processed twice.
#[test]
fn a_paused_consumer_processes_redelivered_messages_twice() {
    let text = Setup {
        horizon: "40s",
        rate: "200.0",
        workers: 4,
        work: "50ms",
        service_extra: "replicas: 2",
        group: "Group(service: \"worker\", consumers: 4, prefetch: 2)",
        broker_extra: "visibility_timeout: \"2s\", max_deliveries: 100,",
        faults: "Fault(start: \"10s\", end: \"20s\", kind: Pause(service: \"worker#0\"))",
    }
    .text();
    let r = run(&text, 5);
    assert_conserved(&r);
    let g = group(&r);
    assert!(
        g.duplicates_processed >= 4,
        "at least the 4 frozen handlers finish twice-delivered messages, got {}",
        g.duplicates_processed
    );
    assert!(
        g.duplicates_processed <= g.redeliveries,
        "a duplicate needs a redelivery"
    );
    assert_eq!(g.dead_lettered + g.dropped, 0);
}

/// A consumer whose handler always fails: each message is delivered `max_deliveries` = 3
/// times (nacked, requeued at once), then dead-lettered; none is acked.
#[test]
fn an_always_failing_consumer_dead_letters_after_max_deliveries() {
    let text = Setup {
        horizon: "20s",
        rate: "50.0",
        workers: 4,
        work: "10ms",
        service_extra: "error_rate: 1.0",
        group: "Group(service: \"worker\", consumers: 2, prefetch: 2)",
        broker_extra: "visibility_timeout: \"5s\", max_deliveries: 3,",
        faults: "",
    }
    .text();
    let r = run(&text, 1);
    assert_conserved(&r);
    let g = group(&r);
    assert_eq!(g.acked, 0);
    assert!(
        g.dead_lettered > 800,
        "~1,000 published, got {}",
        g.dead_lettered
    );
    let live = g.backlog_at_end + g.in_flight_at_end;
    assert_eq!(g.published, g.dead_lettered + live);
    // Each dead-lettered message was delivered exactly 3 times; a live one at most 3.
    assert!(g.redeliveries >= 2 * g.dead_lettered);
    assert!(g.redeliveries <= 2 * (g.dead_lettered + live));
}

/// A bounded queue of 100 with consumers at half the publish rate: `RejectPublish` refuses
/// the publishes beyond (the producer sees each as `Rejected`), `DropOldest` accepts them
/// and drops the head; the backlog never exceeds the capacity either way, and the overflow
/// is the rate difference: ~100 of the 200 messages/s.
#[test]
fn a_full_queue_rejects_publishes_or_drops_the_oldest() {
    let setup = |overflow: &'static str| Setup {
        horizon: "60s",
        rate: "200.0",
        workers: 10,
        work: "100ms",
        service_extra: "",
        group: "Group(service: \"worker\", consumers: 10, prefetch: 1)",
        broker_extra: match overflow {
            "RejectPublish" => {
                "visibility_timeout: \"30s\", max_deliveries: 5, capacity: 100, overflow: RejectPublish,"
            }
            _ => {
                "visibility_timeout: \"30s\", max_deliveries: 5, capacity: 100, overflow: DropOldest,"
            }
        },
        faults: "",
    };
    let reject = run(&setup("RejectPublish").text(), 2);
    let drop = run(&setup("DropOldest").text(), 2);
    for r in [&reject, &drop] {
        assert_conserved(r);
        assert!(group(r).series.backlog.iter().all(|&b| b <= 100));
    }
    let (b, g) = (&reject.brokers[0], group(&reject));
    assert_eq!(g.dropped, 0);
    assert_eq!(
        reject.totals.failed.rejected, b.rejected,
        "every refused publish is a rejected request"
    );
    let overflow_rate = b.rejected as f64 / 60.0;
    assert!(
        (overflow_rate - 100.0).abs() < 10.0,
        "rejected {overflow_rate:.1}/s"
    );
    let (b, g) = (&drop.brokers[0], group(&drop));
    assert_eq!((b.rejected, drop.totals.failed.rejected), (0, 0));
    let overflow_rate = g.dropped as f64 / 60.0;
    assert!(
        (overflow_rate - 100.0).abs() < 10.0,
        "dropped {overflow_rate:.1}/s"
    );
}

/// A service endpoint that publishes (`Publish(to: ..)`) waits for the confirm like a call,
/// and a broker crash refuses publishes (`Refuse`: an error at once) while keeping its
/// messages: the ones published before the crash are all delivered after it.
#[test]
fn publishing_from_a_service_and_a_broker_crash() {
    let text = r#"Scenario(
    name: "broker-publish-step",
    seed: 1,
    horizon: "30s",
    clients: [Client(name: "users", target: "api", load: Open(rate_rps: 50.0))],
    services: [
        Service(name: "api", workers: 8, service_time: Constant("5ms"), calls: [Publish(to: "jobs")]),
        Service(name: "worker", workers: 2, service_time: Constant("20ms")),
    ],
    brokers: [
        Broker(
            name: "jobs",
            visibility_timeout: "10s",
            max_deliveries: 5,
            groups: [Group(service: "worker", consumers: 2, prefetch: 1)],
        ),
    ],
    faults: [Fault(start: "10s", end: "15s", kind: Crash(service: "jobs", mode: Refuse))],
)"#;
    let r = run(text, 4);
    assert_conserved(&r);
    let (b, g) = (&r.brokers[0], group(&r));
    assert!(
        b.refused > 150,
        "~250 publishes during the crash, got {}",
        b.refused
    );
    assert_eq!(
        r.totals.failed.error, b.refused,
        "each refused publish fails its request"
    );
    // One publish per request: a confirmed one is a success.
    assert!(r.totals.succeeded <= g.published);
    assert!(g.published <= r.totals.succeeded + r.totals.in_flight_at_end);
    assert_eq!(g.dead_lettered + g.dropped, 0);
    assert!(g.backlog_at_end + g.in_flight_at_end <= 2 + 2, "caught up");
}

/// Two consumer groups each get every message (fanout); conservation holds per group.
#[test]
fn every_group_gets_every_message() {
    let text = r#"Scenario(
    name: "broker-fanout",
    seed: 1,
    horizon: "20s",
    clients: [Client(name: "producer", target: "jobs", load: Open(rate_rps: 100.0))],
    services: [
        Service(name: "mailer", workers: 4, service_time: Constant("10ms")),
        Service(name: "indexer", workers: 2, service_time: Constant("30ms")),
    ],
    brokers: [
        Broker(
            name: "jobs",
            visibility_timeout: "10s",
            max_deliveries: 5,
            groups: [
                Group(service: "mailer", consumers: 4, prefetch: 1),
                Group(service: "indexer", consumers: 2, prefetch: 1),
            ],
        ),
    ],
)"#;
    let r = run(text, 1);
    assert_conserved(&r);
    let b = &r.brokers[0];
    assert_eq!(b.groups[0].published, b.groups[1].published);
    assert!(b.groups[0].published > 1800);
    // A publish is one visit to each group's service: no retries, no amplification at
    // the mailer, which keeps up (the indexer, 2 workers at 30 ms for 100/s, does not).
    let mailer = r.services.iter().find(|s| s.name == "mailer").unwrap();
    assert!(
        (mailer.retry_amplification - 1.0).abs() < 0.01,
        "{}",
        mailer.retry_amplification
    );
    assert!(b.groups[1].backlog_at_end > 500, "the indexer falls behind");
    let svc = |name: &str| r.services.iter().find(|s| s.name == name).unwrap();
    // Every acked message was one completed attempt at the group's service (no failures,
    // no timeouts); an answer may still be on its way at the horizon.
    for (k, name) in [(0, "mailer"), (1, "indexer")] {
        let (completed, g) = (svc(name).completed, &b.groups[k]);
        assert!(completed >= g.acked && completed <= g.acked + g.in_flight_at_end);
        assert_eq!(g.redeliveries, 0);
    }
}

/// Same file and seed, same bytes.
#[test]
fn broker_runs_are_deterministic() {
    let text = std::fs::read_to_string(scenario_path("broker.ron")).expect("bundled scenario");
    let a = serde_json::to_string(&run(&text, 9)).unwrap();
    let b = serde_json::to_string(&run(&text, 9)).unwrap();
    assert_eq!(a, b);
}

/// Every broker field is validated with file, line:column and field.
#[test]
fn bad_broker_fields_point_at_the_field() {
    let base = Setup {
        horizon: "10s",
        rate: "10.0",
        workers: 1,
        work: "10ms",
        service_extra: "",
        group: "Group(service: \"worker\", consumers: 1, prefetch: 1)",
        broker_extra: "visibility_timeout: \"30s\", max_deliveries: 5,",
        faults: "",
    };
    let cases: Vec<(String, &str, &str)> = vec![
        (
            base.text().replace("consumers: 1", "consumers: 0"),
            "brokers[0].groups[0].consumers",
            "at least 1",
        ),
        (
            base.text().replace("prefetch: 1", "prefetch: 0"),
            "brokers[0].groups[0].prefetch",
            "at least 1",
        ),
        (
            base.text()
                .replace("max_deliveries: 5,", "max_deliveries: 5, capacity: 0,"),
            "brokers[0].capacity",
            "at least 1",
        ),
        (
            base.text().replace("\"30s\"", "\"0s\""),
            "brokers[0].visibility_timeout",
            "longer than 0s",
        ),
        (
            base.text().replace("max_deliveries: 5", "max_deliveries: 0"),
            "brokers[0].max_deliveries",
            "at least 1",
        ),
        (
            base.text().replace("Group(service: \"worker\"", "Group(service: \"wroker\""),
            "brokers[0].groups[0].service",
            "did you mean `worker`",
        ),
        (
            base.text()
                .replace("consumers: 1,", "endpoint: \"nope\", consumers: 1,"),
            "brokers[0].groups[0].endpoint",
            "has no endpoint `nope`",
        ),
        (
            base.text().replace("name: \"jobs\"", "name: \"worker\""),
            "brokers[0].name",
            "also the name of a service",
        ),
        (
            base.text().replace(
                "service_time: Constant(\"10ms\"), ",
                "service_time: Constant(\"10ms\"), calls: [Publish(to: \"jbos\")]",
            ),
            "services[0].calls[0].to",
            "did you mean `jobs`",
        ),
        (
            // A consumer publishing to its own queue: each message makes another, forever.
            base.text().replace(
                "service_time: Constant(\"10ms\"), ",
                "service_time: Constant(\"10ms\"), calls: [Publish(to: \"jobs\")]",
            ),
            "services[0].calls[0].to",
            "closes a cycle",
        ),
        (
            base.text().replace(
                "faults: []",
                "faults: [Fault(start: \"1s\", end: \"2s\", kind: Errors(service: \"jobs\", p: 0.5))]",
            ),
            "faults[0].kind.service",
            "only Crash and Pause",
        ),
    ];
    for (text, field, words) in cases {
        let d = match sim_models::load("bad.ron", &text) {
            Ok(_) => panic!("accepted, expected an error at {field}:\n{text}"),
            Err(d) => d,
        };
        let item = d
            .items
            .iter()
            .find(|i| i.field == field)
            .unwrap_or_else(|| panic!("no error at {field}, got:\n{d}"));
        assert!(item.message.contains(words), "{field}: {}", item.message);
        assert!(item.at.line > 1 && item.at.col > 1, "{field} is located");
        // The position points at the field's value or name, on the line that holds it.
        let line = text.lines().nth(item.at.line as usize - 1).unwrap();
        let last = field.rsplit('.').next().unwrap();
        assert!(
            line.contains(last),
            "{field} at line {}: {line}",
            item.at.line
        );
    }
}

/// A rule on the broker's backlog scales the consumer service out (as KEDA scales on queue
/// length): the bundled scenario's 200/s of growth crosses 2,000 messages at ~10 s; the rule
/// holds 3 s, acts, and the second replica (20 more consumers) is up 5 s later, near 18 s
/// with ~3,600 waiting. 1,600 messages/s then drain them at 600/s: empty near 24 s, where
/// without the rule the backlog reaches ~12,000 at 60 s.
#[test]
fn a_backlog_rule_scales_the_consumers_out() {
    let text = std::fs::read_to_string(scenario_path("broker.ron")).expect("bundled scenario");
    let text = text.replace("workers: 80,", "workers: 80, max_replicas: 2,");
    let i = text.rfind(')').unwrap();
    let text = format!(
        "{}    rules: [
        Rule(
            name: \"scale-workers\",
            when: Above(metric: Backlog, of: \"jobs\", threshold: 2000.0, for: \"3s\"),
            do: ScaleTo(service: \"worker\", replicas: 2, provisioning: \"5s\"),
            cooldown: \"5m\",
        ),
    ],
)",
        &text[..i]
    );
    let r = run(&text, 42);
    assert_conserved(&r);
    assert_eq!(r.actions.len(), 1, "{:?}", r.actions);
    let a = &r.actions[0];
    assert!((12.0..=15.0).contains(&a.start_s), "acted at {}", a.start_s);
    let g = group(&r);
    let peak = g.series.backlog.iter().max().copied().unwrap();
    assert!((3000..4500).contains(&peak), "peak backlog {peak}");
    let at = |t: f64| r.series.t_s.iter().position(|&x| x >= t).unwrap();
    assert_eq!(g.series.backlog[at(30.0)], 0, "drained by 30 s");
    assert!(g.series.lag_s.iter().copied().fold(0.0, f64::max) < 6.0);
}

/// A broker metric on a service, or a service metric on a broker, is refused where it is
/// written.
#[test]
fn broker_metrics_apply_to_brokers_only() {
    let text = std::fs::read_to_string(scenario_path("broker.ron")).expect("bundled scenario");
    let i = text.rfind(')').unwrap();
    for (when, words) in [
        (
            "Above(metric: Backlog, of: \"worker\", threshold: 1.0)",
            "is a metric of a broker",
        ),
        (
            "Above(metric: QueueDepth, of: \"jobs\", threshold: 1.0)",
            "a broker has Backlog and ConsumerLag",
        ),
    ] {
        let text = format!(
            "{}    rules: [Rule(name: \"r\", when: {when}, do: Drain(service: \"worker\"))],\n)",
            &text[..i]
        );
        let d = sim_models::load("bad.ron", &text).unwrap_err();
        let item = d
            .items
            .iter()
            .find(|i| i.field == "rules[0].when.metric")
            .unwrap_or_else(|| panic!("{d}"));
        assert!(item.message.contains(words), "{}", item.message);
        assert!(item.at.line > 40);
    }
}

/// A broker beside a cache and a token auth: its deliveries are answered to the broker, not
/// to the component before it in the instance table (a cache's instance used to receive
/// them, and a consumer's answer indexed the brokers past their end).
#[test]
fn a_broker_beside_a_cache_and_a_token_auth_gets_its_answers() {
    let text = r#"Scenario(name: "mixed", seed: 1, horizon: "20s",
    clients: [
        Client(name: "readers", target: "api", load: Open(rate_rps: 100.0)),
        Client(name: "producer", target: "edge", load: Open(rate_rps: 100.0)),
    ],
    services: [
        Service(name: "api", replicas: 2, workers: 8, service_time: Constant("1ms"),
                calls: [Call(to: "redis")]),
        Service(name: "db", workers: 8, service_time: Constant("1ms")),
        Service(name: "auth", workers: 2, service_time: Constant("1ms")),
        Service(name: "front", workers: 8, service_time: Constant("1ms"),
                calls: [Publish(to: "jobs")]),
        Service(name: "worker", replicas: 2, workers: 4, service_time: Constant("10ms")),
    ],
    caches: [Cache(name: "redis", backend: "db", keys: HitRatio(0.5), capacity: 10,
                   lookup_time: Constant("0.1ms"))],
    brokers: [Broker(name: "jobs", visibility_timeout: "5s", max_deliveries: 3,
                     groups: [Group(service: "worker", consumers: 2, prefetch: 2)])],
    token_auths: [TokenAuth(name: "edge", upstream: "front", auth: "auth", users: 10,
                            ttl: "5s", validation: Local, initial_tokens: Spread)],
)"#;
    let r = run(text, 1);
    let g = group(&r);
    assert_eq!(
        g.dead_lettered + g.redeliveries + g.duplicates_processed,
        0,
        "{g:?}"
    );
    assert!(g.acked > 1800 && g.published - g.acked < 20, "{g:?}");
    assert_conserved(&r);
}
