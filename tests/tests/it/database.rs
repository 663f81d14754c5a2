//! The replicated database against its arithmetic: an asynchronous failover loses about
//! write rate x mean lag acknowledged writes (Little's law), a synchronous one none at a
//! write latency that pays for the lag, failover time = detection + promotion, stale reads
//! and read-your-writes violations; and its input errors.

use sim_core::SimDuration;
use sim_core::dist::Dist;
use sim_models::Scenario;
use sim_models::result::DatabaseResult;
use sim_models::scenario::{Failover, Replication};

use crate::support::load;

/// The bundled scenario (`scenarios/database.ron`): 100 writes/s, lag Uniform(150, 250 ms),
/// a primary crash from 60 s to 100 s, detection 10 s, promotion 5 s.
fn bundled() -> Scenario {
    let path = crate::support::scenario_path("database.ron");
    load("database.ron", &std::fs::read_to_string(path).unwrap())
}

fn pg(s: &Scenario, seed: u64) -> DatabaseResult {
    sim_models::run(s, seed, "database.ron").databases.remove(0)
}

/// Mean and standard error of `xs`.
fn mean_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Writes per second of the bundled scenario (the `shop` client's orders).
const WRITE_RPS: f64 = 100.0;

/// With one replica, the writes lost in an asynchronous failover are those committed and
/// not yet received when the primary crashed: by Little's law, on average write rate x
/// mean lag (the lag a write sees, measured over the run: 220 ms by the header's formula,
/// so 22 writes). Over 30 seeds the mean is within 4 standard errors (from the seeds' own
/// variance, about Poisson's: 22) of both.
#[test]
fn async_failover_loses_about_write_rate_times_mean_lag() {
    let mut s = bundled();
    s.databases[0].replicas = 1;
    let runs: Vec<DatabaseResult> = (1..=30).map(|seed| pg(&s, seed)).collect();
    let lost: Vec<f64> = runs.iter().map(|d| d.lost_writes as f64).collect();
    let lags: Vec<f64> = runs.iter().map(|d| d.replication_lag_ms).collect();
    let (mean, se) = mean_se(&lost);
    let (lag_ms, _) = mean_se(&lags);
    let little = WRITE_RPS * lag_ms / 1e3;
    eprintln!("lost {mean:.2} +- {se:.2} (se); write rate x mean lag {little:.2}; by hand 22.0");
    assert!((lag_ms - 220.4).abs() < 2.0, "mean lag {lag_ms} ms");
    assert!((mean - little).abs() <= 4.0 * se, "{mean} vs {little}");
    assert!((mean - 22.0).abs() <= 4.0 * se, "{mean} vs 22");
    // Each failover's loss is what the result sums.
    for d in &runs {
        assert_eq!(d.failovers.len(), 1);
        assert_eq!(d.failovers[0].lost_writes, d.lost_writes);
    }
}

/// With two replicas the better one is promoted: it lacks no more than one replica does on
/// average, and still loses some in every seed (a Poisson count of mean ~20 is 0 with
/// probability e^-20).
#[test]
fn two_replicas_promote_the_more_up_to_date() {
    let s = bundled();
    let mut one = s.clone();
    one.databases[0].replicas = 1;
    let (mut two_sum, mut one_sum) = (0, 0);
    for seed in 1..=20 {
        let two = pg(&s, seed);
        assert!(two.lost_writes > 0, "seed {seed}: {two:?}");
        two_sum += two.lost_writes;
        one_sum += pg(&one, seed).lost_writes;
    }
    assert!(two_sum <= one_sum, "{two_sum} vs {one_sum}");
}

/// `Sync` and `SemiSync` with one acknowledgement lose no acknowledged write in any seed,
/// and a write now waits for the faster replica: its mean latency rises from the ~5 ms
/// commit by at least the smallest lag (150 ms) and by no more than the largest (250 ms)
/// plus the commit and queueing.
#[test]
fn sync_failover_loses_nothing_at_a_higher_write_latency() {
    let base = bundled();
    for replication in [
        Replication::Sync { acks: 1 },
        Replication::SemiSync { acks: 1 },
    ] {
        let mut s = base.clone();
        s.databases[0].replication = replication;
        for seed in 1..=10 {
            let a = pg(&base, seed);
            let d = pg(&s, seed);
            assert!(a.lost_writes > 0, "seed {seed}");
            assert_eq!(d.lost_writes, 0, "{replication:?} seed {seed}");
            assert_eq!(d.failovers.len(), 1);
            let (async_ms, sync_ms) = (a.write_latency_ms.mean, d.write_latency_ms.mean);
            assert!(async_ms < 10.0, "{async_ms}");
            assert!(
                sync_ms >= async_ms + 150.0 && sync_ms <= 250.0 + 20.0,
                "{replication:?} seed {seed}: {sync_ms} ms"
            );
        }
    }
}

/// Failover time is detection + promotion, drawn per failover; writes fail for exactly
/// that long (about write rate x failover time of them, within 4 Poisson sd).
#[test]
fn failover_time_is_detection_plus_promotion() {
    let mut s = bundled();
    s.databases[0].failover = Failover {
        detection: Dist::Uniform {
            min: SimDuration::from_secs(20),
            max: SimDuration::from_secs(30),
        },
        promotion: Dist::Constant(SimDuration::from_secs(3)),
    };
    let mut seen = Vec::new();
    for seed in 1..=5 {
        let d = pg(&s, seed);
        let f = &d.failovers[0];
        let detection = f.detected_s - f.crashed_s;
        assert!((20.0..=30.0).contains(&detection), "{f:?}");
        assert!((f.promoted_s - f.detected_s - 3.0).abs() < 1e-9, "{f:?}");
        assert!((f.failover_s - detection - 3.0).abs() < 1e-9, "{f:?}");
        assert_eq!(d.failover_s, Some(f.failover_s));
        let expected = WRITE_RPS * f.failover_s;
        assert!(
            (d.failed_writes as f64 - expected).abs() <= 4.0 * expected.sqrt(),
            "{} failed writes in a {:.1} s failover",
            d.failed_writes,
            f.failover_s
        );
        seen.push(f.failover_s);
    }
    // Detection is drawn, not fixed.
    assert!(seen.windows(2).any(|w| w[0] != w[1]), "{seen:?}");
}

/// A primary back before its crash is detected keeps its role: no failover, nothing lost,
/// writes failed only while it was down.
#[test]
fn a_primary_back_before_detection_is_not_replaced() {
    let mut s = bundled();
    s.faults[0].end = SimDuration::from_secs(65);
    let d = pg(&s, 1);
    assert!(d.failovers.is_empty() && d.failover_s.is_none(), "{d:?}");
    assert_eq!(d.lost_writes, 0);
    assert_eq!(d.primary_at_end, "pg#0");
    let expected = WRITE_RPS * 5.0;
    assert!((d.failed_writes as f64 - expected).abs() <= 4.0 * expected.sqrt());
}

/// Stale reads: a read of key k on a replica is stale when k's latest write is less than
/// the lag old, so the share of `browse`'s reads that are stale is about sum_k p_k (1 -
/// exp(-l p_k E[V])) = 0.30 (Zipf(1.0) over 1,000 keys, l = 100/s, E[V] = 0.22 s). A
/// request reading right after its own write always misses it on a replica in `Async`;
/// `Sync(acks: 2)` (every replica replays before the ack) leaves no stale read and no
/// violation.
#[test]
fn stale_reads_and_read_your_writes() {
    let base = bundled();
    let d = pg(&base, 1);
    let plain_reads = (d.reads - d.session_reads) as f64;
    let plain_stale = (d.stale_reads - d.ryw_violations) as f64;
    let share = plain_stale / plain_reads;
    // Binomial sd of a share of ~44,000 reads is 0.002; the formula's approximations
    // (Poisson writes, a lag taken as its mean) are what the 0.02 allows for.
    assert!((share - 0.30).abs() < 0.02, "stale share {share}");
    // Every session read before the failover and after it on a replica violates.
    assert!(
        d.ryw_violations as f64 >= 0.99 * d.session_reads as f64,
        "{d:?}"
    );
    let mut all = base.clone();
    all.databases[0].replication = Replication::Sync { acks: 2 };
    let d = pg(&all, 1);
    assert!(d.session_reads > 1000);
    assert_eq!((d.stale_reads, d.ryw_violations), (0, 0), "{d:?}");
}

/// Same seed, same bytes.
#[test]
fn database_runs_are_deterministic() {
    let s = bundled();
    let a = reports::json(&sim_models::run(&s, 3, "database.ron"));
    let b = reports::json(&sim_models::run(&s, 3, "database.ron"));
    assert_eq!(a, b);
}

/// A scenario around one database entry `db` (RON), read by a client.
fn with_database(db: &str, rest: &str) -> String {
    format!(
        r#"Scenario(name: "x", seed: 1, horizon: "60s",
    clients: [Client(name: "c", target: "pg", load: Open(rate_rps: 10.0))],
    services: [],
    databases: [
        {db}
    ],
{rest})"#
    )
}

const GOOD: &str = r#"Database(name: "pg", replicas: 2, workers: 4, read_time: Constant("1ms"), write_time: Constant("2ms"), replication: Async, lag: Constant("100ms"), keys: Zipf(keys: 100, exponent: 0.0), failover: (detection: Constant("10s"), promotion: Constant("5s")))"#;

/// Each database mistake gets an error (or a warning) at its field, with file:line:col.
#[test]
fn database_mistakes_get_a_positioned_error() {
    assert!(sim_models::load("ok.ron", &with_database(GOOD, "")).is_ok());
    let cases: &[(&str, String, &str, &str)] = &[
        (
            "lag above the horizon",
            with_database(
                &GOOD.replace(r#"lag: Constant("100ms")"#, r#"lag: Constant("2m")"#),
                "",
            ),
            "databases[0].lag",
            "at or above the horizon",
        ),
        (
            "more acks than replicas",
            with_database(&GOOD.replace("Async", "Sync(acks: 3)"), ""),
            "databases[0].replication.acks",
            "must be within 1..=2",
        ),
        (
            "reads from replicas without replicas",
            with_database(&GOOD.replace("replicas: 2", "replicas: 0"), ""),
            "databases[0].reads",
            "there are none",
        ),
        (
            "no workers",
            with_database(&GOOD.replace("workers: 4", "workers: 0"), ""),
            "databases[0].workers",
            "at least 1",
        ),
        (
            "no keys",
            with_database(&GOOD.replace("keys: 100", "keys: 0"), ""),
            "databases[0].keys.keys",
            "must be within",
        ),
        (
            "unknown operation",
            with_database(GOOD, "")
                .replace(r#"target: "pg","#, r#"target: "pg", endpoint: "delete","#),
            "clients[0].endpoint",
            "its endpoints are `read`",
        ),
        (
            // A Pause applies (a hung primary); a slowdown does not.
            "slowdown on a database",
            with_database(
                GOOD,
                r#"    faults: [Fault(start: "10s", end: "20s", kind: Slowdown(service: "pg", factor: 2.0))],"#,
            ),
            "faults[0].kind.service",
            "is a database",
        ),
        (
            "name shared with a client",
            with_database(&GOOD.replace(r#"name: "pg""#, r#"name: "c""#), "")
                .replace(r#"target: "pg""#, r#"target: "c""#),
            "databases[0].name",
            "unique across them",
        ),
    ];
    for (case, text, field, words) in cases {
        let err = match sim_models::load("bad.ron", text) {
            Ok(_) => panic!("case `{case}` loaded but should not"),
            Err(d) => d,
        };
        let shown = err.to_string();
        let item = err
            .items
            .iter()
            .find(|d| d.field == *field)
            .unwrap_or_else(|| panic!("{case}: no error at {field}: {shown}"));
        assert!(item.message.contains(words), "{case}: {}", item.message);
        assert!(item.at.line >= 1 && item.at.col >= 1, "{case}: {shown}");
        let prefix = format!(
            "bad.ron:{}:{}: error: field `{field}`",
            item.at.line, item.at.col
        );
        assert!(shown.contains(&prefix), "{case}: {shown}");
    }
    // The lag error points at the lag field's own line and column.
    let text = with_database(
        &GOOD.replace(r#"lag: Constant("100ms")"#, r#"lag: Constant("2m")"#),
        "",
    );
    let d = sim_models::load("bad.ron", &text).unwrap_err();
    let item = d
        .items
        .iter()
        .find(|d| d.field == "databases[0].lag")
        .unwrap();
    let line = text.lines().nth(item.at.line - 1).unwrap();
    assert!(
        line[item.at.col - 1..].starts_with(r#"Constant("2m")"#),
        "{line}"
    );
    // A failover longer than the run is a warning: the scenario still runs.
    let slow = GOOD.replace(
        r#"detection: Constant("10s")"#,
        r#"detection: Constant("90s")"#,
    );
    let v = sim_models::load("x.ron", &with_database(&slow, "")).expect("valid");
    assert_eq!(v.warnings.len(), 1, "{:?}", v.warnings);
    assert_eq!(v.warnings[0].field, "databases[0].failover");
}

/// A database draws from its own streams: putting one behind a service leaves the
/// clients' arrivals and the service's work unchanged.
#[test]
fn a_database_leaves_other_components_draws_alone() {
    let plain = r#"Scenario(name: "x", seed: 1, horizon: "20s",
    clients: [Client(name: "web", target: "api", load: Open(rate_rps: 200.0))],
    services: [Service(name: "api", workers: 100, service_time: Exponential(mean: "5ms"))])"#;
    let with_db = plain.replace(
        r#"service_time: Exponential(mean: "5ms"))])"#,
        &format!(
            r#"service_time: Exponential(mean: "5ms"), calls: [Call(to: "pg", endpoint: "write")])],
    databases: [{}])"#,
            GOOD.replace("workers: 4", "workers: 50")
        ),
    );
    let a = sim_models::run(&load("a.ron", plain), 1, "a.ron");
    let b = sim_models::run(&load("b.ron", &with_db), 1, "b.ron");
    assert_eq!(a.series.offered, b.series.offered);
    assert_eq!(a.services[0].attempts, b.services[0].attempts);
    assert!(b.databases[0].writes > 3000, "{:?}", b.databases[0]);
}
