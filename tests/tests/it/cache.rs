//! The cache kind against theory: hit ratios of a TTL cache and of an LRU cache (Che's
//! approximation) under independent Poisson requests with Zipf popularity, the backend load
//! spike after a flush, and what single-flight does to it.

use std::fmt::Write;

use sim_models::RunResult;

use crate::support::load;

/// Zipf popularity of `k` keys with exponent `s`: p_i proportional to i^-s.
fn zipf(k: usize, s: f64) -> Vec<f64> {
    let w: Vec<f64> = (1..=k).map(|i| (i as f64).powf(-s)).collect();
    let h: f64 = w.iter().sum();
    w.into_iter().map(|x| x / h).collect()
}

/// TTL cache, entry not refreshed on a hit, Poisson requests of rate l_i per key: a miss
/// fills, then every request within T hits, so a renewal cycle holds 1 + l_i T requests of
/// which l_i T hit.
fn ttl_hit_ratio(p: &[f64], rate: f64, ttl_s: f64) -> f64 {
    p.iter()
        .map(|&pi| {
            let lt = rate * pi * ttl_s;
            pi * lt / (1.0 + lt)
        })
        .sum()
}

/// Che's approximation for LRU of capacity `c`: the characteristic time t_C solves
/// sum_i (1 - exp(-l_i t_C)) = C (bisection; the sum grows with t), and key i is held
/// with probability 1 - exp(-l_i t_C).
fn che_hit_ratio(p: &[f64], rate: f64, c: f64) -> f64 {
    let held = |t: f64| -> f64 { p.iter().map(|&pi| 1.0 - (-rate * pi * t).exp()).sum() };
    let (mut lo, mut hi) = (0.0, 1.0);
    while held(hi) < c {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if held(mid) < c {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let t = 0.5 * (lo + hi);
    p.iter()
        .map(|&pi| pi * (1.0 - (-rate * pi * t).exp()))
        .sum()
}

/// A client at `rate` rps calling cache `redis` (with `cache_fields`) in front of a fast db.
fn scenario(
    rate: f64,
    horizon: &str,
    warmup: &str,
    window: &str,
    cache_fields: &str,
    extra: &str,
) -> String {
    format!(
        r#"Scenario(
    name: "cache",
    seed: 1,
    horizon: "{horizon}",
    warmup: "{warmup}",
    window: "{window}",
    clients: [Client(name: "web", target: "redis", load: Open(rate_rps: {rate}))],
    services: [Service(name: "db", workers: 1000, service_time: Constant("1us"))],
    caches: [Cache(name: "redis", backend: "db", {cache_fields})],
    {extra}
)"#
    )
}

fn run(text: &str, seed: u64) -> RunResult {
    sim_models::run(&load("cache.ron", text), seed, "cache.ron")
}

fn assert_within(what: &str, got: f64, theory: f64, max_rel: f64) {
    let rel = (got - theory).abs() / theory;
    eprintln!(
        "{what}: simulated {got:.5}, theory {theory:.5}, relative error {:.3}%",
        rel * 100.0
    );
    assert!(
        rel <= max_rel,
        "{what}: simulated {got}, theory {theory}: {:.2}% off (max {:.2}%)",
        rel * 100.0,
        max_rel * 100.0
    );
}

/// 2000 rps over 10,000 keys (Zipf 0.8), TTL 1 s, no capacity bound, for 400 s: about
/// 760,000 counted lookups, so the sampling error of the ratio (about 0.06% absolute) is far
/// below the 2% asked.
#[test]
fn ttl_cache_matches_the_renewal_hit_ratio() {
    let (rate, keys, s, ttl) = (2000.0, 10_000, 0.8, 1.0);
    let text = scenario(
        rate,
        "400s",
        "20s",
        "1s",
        &format!("keys: Zipf(keys: {keys}, exponent: {s}), ttl: \"{ttl}s\""),
        "",
    );
    let r = run(&text, 1);
    let c = &r.caches[0];
    assert!(c.lookups > 700_000, "{} lookups", c.lookups);
    assert!(c.expirations > 0 && c.evictions == 0);
    let theory = ttl_hit_ratio(&zipf(keys, s), rate, ttl);
    assert_within("TTL hit ratio", c.hit_ratio, theory, 0.02);
}

/// 2000 rps over 10,000 keys (Zipf 0.8), LRU holding 1,000, for 400 s.
#[test]
fn lru_cache_matches_ches_approximation() {
    let (rate, keys, s, capacity) = (2000.0, 10_000, 0.8, 1000);
    let text = scenario(
        rate,
        "400s",
        "20s",
        "1s",
        &format!("keys: Zipf(keys: {keys}, exponent: {s}), capacity: {capacity}"),
        "",
    );
    let r = run(&text, 1);
    let c = &r.caches[0];
    assert!(c.lookups > 700_000, "{} lookups", c.lookups);
    assert_eq!(c.keys_held_at_end, capacity);
    assert!(c.evictions > 0 && c.expirations == 0);
    let theory = che_hit_ratio(&zipf(keys, s), rate, capacity as f64);
    assert_within("LRU hit ratio (Che)", c.hit_ratio, theory, 0.02);
}

/// The backend fetches of the first window after each flush, and of the windows of the
/// second before it, per window; the steady hit ratio.
fn spike(r: &RunResult, flushes: &[f64]) -> (f64, f64) {
    let series = &r.series;
    let fetches = &series.caches[0].backend_fetches;
    let w = series.window_s;
    let (mut after, mut before, mut n_before) = (0u64, 0u64, 0u64);
    for &f in flushes {
        for (i, &t) in series.t_s.iter().enumerate() {
            if (t - (f + w)).abs() < w / 2.0 {
                after += fetches[i];
            } else if t > f - 1.0 + w / 2.0 && t < f + w / 2.0 {
                before += fetches[i];
                n_before += 1;
            }
        }
    }
    let after = after as f64 / flushes.len() as f64;
    let before = before as f64 / n_before as f64;
    (after, before)
}

/// A hot cache (every key equally popular, LRU holding 90% of them: hit ratio exactly 0.9)
/// flushed 20 times: right after a flush every lookup misses, so backend load jumps from
/// l (1 - h) to l, a factor 1/(1 - h) = 10. Over a window w the cache refills meanwhile:
/// key i is fetched at most once, so the window's fetches are sum_i (1 - exp(-l_i w)), and
/// with l w / K = 0.1 the factor is (1 - e^-0.1) / 0.1 / (1 - h) = 9.52.
#[test]
fn a_flush_spikes_backend_load_by_about_one_over_the_miss_ratio() {
    let (rate, keys, capacity, w) = (10_000.0, 1000, 900, 0.01);
    let flushes: Vec<f64> = (0..20).map(|i| 5.0 + 2.0 * f64::from(i)).collect();
    let faults: Vec<String> = flushes
        .iter()
        .map(|f| {
            format!(
                r#"Fault(start: "{f}s", end: "{}s", kind: Flush(cache: "redis"))"#,
                f + w
            )
        })
        .collect();
    let text = scenario(
        rate,
        "45s",
        "4s",
        "10ms",
        &format!("keys: Zipf(keys: {keys}, exponent: 0.0), capacity: {capacity}"),
        &format!("faults: [{}],", faults.join(", ")),
    );
    let r = run(&text, 1);
    let (after, before) = spike(&r, &flushes);
    let h = f64::from(capacity) / f64::from(keys);
    let x = rate * w / f64::from(keys);
    let expected = (1.0 - (-x).exp()) / x / (1.0 - h);
    eprintln!(
        "flush spike: {before:.2} fetches per 10 ms window before, {after:.2} in the first \
         window after: x{:.2} (expected x{expected:.2}; 1/(1-h) = x{:.2})",
        after / before,
        1.0 / (1.0 - h)
    );
    assert_eq!(r.caches[0].flushes, 20);
    assert_within(
        "backend load after a flush / before",
        after / before,
        expected,
        0.06,
    );
    assert_within("steady backend load", before, rate * w * (1.0 - h), 0.06);
}

/// Zipf popularity and a backend taking 50 ms: after a flush, every lookup of a hot key
/// during its fetch misses too. Without single-flight each makes its own fetch (the
/// stampede); with it they wait for the one in flight.
#[test]
fn single_flight_reduces_the_flush_spike() {
    let flushes = [10.0, 20.0, 30.0];
    let faults: Vec<String> = flushes
        .iter()
        .map(|f| {
            format!(
                r#"Fault(start: "{f}s", end: "{}s", kind: Flush(cache: "redis"))"#,
                f + 0.1
            )
        })
        .collect();
    let text = |sf: bool| {
        format!(
            r#"Scenario(
    name: "stampede",
    seed: 1,
    horizon: "35s",
    warmup: "5s",
    window: "100ms",
    clients: [Client(name: "web", target: "redis", load: Open(rate_rps: 5000))],
    services: [Service(name: "db", workers: 2000, service_time: Constant("50ms"))],
    caches: [Cache(name: "redis", backend: "db", keys: Zipf(keys: 10000, exponent: 1.0),
        capacity: 2000, single_flight: {sf})],
    faults: [{}],
)"#,
            faults.join(", ")
        )
    };
    let plain = run(&text(false), 1);
    let coalesced = run(&text(true), 1);
    let (a0, b0) = spike(&plain, &flushes);
    let (a1, b1) = spike(&coalesced, &flushes);
    eprintln!(
        "first 100 ms after a flush: {a0:.0} fetches without single-flight (x{:.2} the {b0:.0} before), \
         {a1:.0} with it (x{:.2} the {b1:.0} before); coalesced {} lookups",
        a0 / b0,
        a1 / b1,
        coalesced.caches[0].coalesced
    );
    assert_eq!(plain.caches[0].coalesced, 0);
    assert!(coalesced.caches[0].coalesced > 0);
    // Hot keys are fetched once instead of once per lookup during the fetch.
    assert!(a1 < 0.8 * a0, "single-flight spike {a1} vs {a0}");
    assert!(coalesced.caches[0].backend_fetches < plain.caches[0].backend_fetches);
    // Same lookups either way (own stream): only what reaches the backend changes.
    assert_eq!(plain.caches[0].lookups, coalesced.caches[0].lookups);
}

/// A cache scenario with `cache` as its cache entry, and `rest` for extra top-level fields.
fn bad(services: &str, cache: &str, rest: &str) -> String {
    format!(
        r#"Scenario(
    name: "x", seed: 1, horizon: "10s",
    clients: [Client(name: "web", target: "redis", load: Open(rate_rps: 10.0))],
    services: [{services}],
    caches: [{cache}],
    {rest}
)"#
    )
}

const DB: &str = r#"Service(name: "db", workers: 1, service_time: Constant("1ms"))"#;

fn cache_bad_cases() -> Vec<(&'static str, String)> {
    let zipf = r#"keys: Zipf(keys: 100, exponent: 1.0)"#;
    let cache = |fields: &str| format!(r#"Cache(name: "redis", backend: "db", {fields})"#);
    vec![
        (
            "capacity 0",
            bad(DB, &cache(&format!("{zipf}, capacity: 0")), ""),
        ),
        (
            "ttl 0",
            bad(DB, &cache(&format!(r#"{zipf}, ttl: "0s""#)), ""),
        ),
        (
            "no keys",
            bad(DB, &cache("keys: Zipf(keys: 0, exponent: 1.0)"), ""),
        ),
        (
            "negative exponent",
            bad(DB, &cache("keys: Zipf(keys: 10, exponent: -0.5)"), ""),
        ),
        (
            "hit ratio above 1",
            bad(DB, &cache("keys: HitRatio(1.5)"), ""),
        ),
        (
            "unknown backend",
            bad(
                DB,
                &format!(r#"Cache(name: "redis", backend: "dbb", {zipf})"#),
                "",
            ),
        ),
        (
            "unknown backend endpoint",
            bad(
                DB,
                &cache(&format!(r#"backend_endpoint: "get", {zipf}"#)),
                "",
            ),
        ),
        (
            "name clashes with a service",
            bad(
                &format!(
                    r#"{DB}, Service(name: "redis", workers: 1, service_time: Constant("1ms"))"#
                ),
                &cache(zipf),
                "",
            ),
        ),
        (
            "cache calls itself through its backend",
            bad(
                r#"Service(name: "db", workers: 1, service_time: Constant("1ms"), calls: [Call(to: "redis")])"#,
                &cache(zipf),
                "",
            ),
        ),
        (
            "cache is its own backend",
            bad(
                DB,
                &format!(r#"Cache(name: "redis", backend: "redis", {zipf})"#),
                "",
            ),
        ),
        (
            "endpoint on a cache",
            bad(
                r#"Service(name: "db", workers: 1, service_time: Constant("1ms"), calls: [Call(to: "l2", endpoint: "get")])"#,
                &format!(
                    r#"{}, Cache(name: "l2", backend: "db", {zipf})"#,
                    cache(zipf)
                ),
                "",
            ),
        ),
        (
            "duplicate cache",
            bad(DB, &format!("{}, {}", cache(zipf), cache(zipf)), ""),
        ),
        (
            "flush of an unknown cache",
            bad(
                DB,
                &cache(zipf),
                r#"faults: [Fault(start: "1s", end: "2s", kind: Flush(cache: "rediss"))],"#,
            ),
        ),
        (
            "service fault on a cache",
            bad(
                DB,
                &cache(zipf),
                r#"faults: [Fault(start: "1s", end: "2s", kind: Slowdown(service: "redis", factor: 2.0))],"#,
            ),
        ),
    ]
}

/// Every cache mistake of the issue's list gets an error at its field, with file:line:col.
#[test]
fn cache_mistakes_get_a_positioned_error() {
    let mut all = String::new();
    for (case, text) in cache_bad_cases() {
        let err = match sim_models::load("bad.ron", &text) {
            Ok(_) => panic!("case `{case}` loaded but should not"),
            Err(d) => d,
        };
        assert!(err.has_errors(), "{case}");
        let shown = err.to_string();
        for line in shown.lines() {
            assert!(line.starts_with("bad.ron:"), "{case}: {line}");
        }
        writeln!(all, "== {case}\n{shown}\n").unwrap();
    }
    insta::assert_snapshot!("cache_bad_input", all);
    // A few positions checked by hand.
    let first = |case: &str| {
        let text = &cache_bad_cases()
            .into_iter()
            .find(|c| c.0 == case)
            .unwrap()
            .1;
        sim_models::load("bad.ron", text).unwrap_err().items[0].clone()
    };
    let d = first("capacity 0");
    assert_eq!(
        (d.at.line, d.at.col, d.field.as_str()),
        (5, 98, "caches[0].capacity")
    );
    let d = first("negative exponent");
    assert_eq!(d.field, "caches[0].keys.exponent");
    let d = first("unknown backend");
    assert_eq!(d.field, "caches[0].backend");
    assert!(d.message.contains("did you mean `db`"), "{}", d.message);
    let d = first("cache calls itself through its backend");
    assert!(d.message.contains("closes a cycle"), "{}", d.message);
}

/// Settings a `HitRatio` cache ignores are warned about, and the scenario still runs.
#[test]
fn settings_a_hit_ratio_cache_ignores_are_warned_about() {
    let text = bad(
        DB,
        r#"Cache(name: "redis", backend: "db", keys: HitRatio(0.5), ttl: "1s", single_flight: true)"#,
        "",
    );
    let v = sim_models::load("x.ron", &text).expect("valid");
    let fields: Vec<&str> = v.warnings.iter().map(|w| w.field.as_str()).collect();
    assert_eq!(fields, ["caches[0].ttl", "caches[0].single_flight"]);
    let r = sim_models::run(&v.scenario, 1, "x.ron");
    let c = &r.caches[0];
    assert!(c.lookups > 50 && (c.hit_ratio - 0.5).abs() < 0.2, "{c:?}");
    assert_eq!(c.backend_fetches, c.misses);
}

/// The bundled stampede scenario teaches what its comment says: without single-flight the
/// flush saturates db for much longer, and clients retry; with it, nobody does.
#[test]
fn the_bundled_stampede_scenario_shows_its_lesson() {
    let text = std::fs::read_to_string(crate::support::scenario_path("cache.ron")).unwrap();
    let base = load("cache.ron", &text);
    let mut sf = base.clone();
    sf.caches[0].single_flight = true;
    let saturated = |r: &RunResult| {
        let db = r.series.services.iter().find(|s| s.name == "db").unwrap();
        r.series
            .t_s
            .iter()
            .zip(&db.utilization)
            .filter(|&(&t, &u)| t > 90.0 && u >= 0.99)
            .count()
    };
    let plain = sim_models::run(&base, base.seed, "cache.ron");
    let coalesced = sim_models::run(&sf, sf.seed, "cache.ron");
    let (s0, s1) = (saturated(&plain), saturated(&coalesced));
    eprintln!(
        "db saturated {s0} s without single-flight, {s1} s with it; retries {} vs {}",
        plain.retries, coalesced.retries
    );
    assert!(s0 >= 15 && s1 <= 8, "{s0} vs {s1}");
    assert!(plain.retries > 1000 && coalesced.retries == 0);
    assert!(coalesced.caches[0].coalesced > 0);
}

/// A crashed cache refuses lookups (errors at the caller) and comes back empty: a cold
/// start, whose misses all go to the backend.
#[test]
fn a_crashed_cache_refuses_then_comes_back_cold() {
    let text = scenario(
        1000.0,
        "60s",
        "5s",
        "1s",
        "keys: Zipf(keys: 1000, exponent: 0.0), capacity: 900",
        r#"faults: [Fault(start: "30s", end: "32s", kind: Crash(service: "redis", mode: Refuse))],"#,
    );
    let r = run(&text, 1);
    let c = &r.caches[0];
    // About 2 s x 1000 rps refused, each an error at the client.
    assert!((1800..2200).contains(&c.unavailable), "{c:?}");
    assert_eq!(r.totals.failed.error, c.unavailable);
    let s = &r.series.caches[0];
    let at = |t: f64| {
        r.series
            .t_s
            .iter()
            .position(|&x| (x - t).abs() < 1e-9)
            .unwrap()
    };
    // Warm before (hit ratio 0.9 = 900 of 1000 equally popular keys), cold after.
    assert!((s.hit_ratio[at(29.0)] - 0.9).abs() < 0.05);
    assert_eq!(s.lookups[at(31.0)], 0);
    assert!(s.hit_ratio[at(33.0)] < 0.7, "{}", s.hit_ratio[at(33.0)]);
    assert!((s.hit_ratio[at(50.0)] - 0.9).abs() < 0.05);
}

/// A cache draws its keys from its own stream: adding one in front of a service leaves
/// the clients' arrivals unchanged.
#[test]
fn a_cache_leaves_other_components_draws_alone() {
    let direct = r#"Scenario(name: "x", seed: 1, horizon: "20s",
    clients: [Client(name: "web", target: "db", load: Open(rate_rps: 500.0))],
    services: [Service(name: "db", workers: 100, service_time: Exponential(mean: "10ms"))])"#;
    let cached = scenario(
        500.0,
        "20s",
        "0s",
        "1s",
        "keys: Zipf(keys: 100, exponent: 1.0), single_flight: true",
        "",
    );
    let a = run(direct, 1);
    let b = run(&cached, 1);
    assert_eq!(a.series.offered, b.series.offered);
    assert!(b.caches[0].hits > 0);
}

/// Behind a `HitRatio(p)` cache the backend expects 1 - p visits per lookup, so its retry
/// amplification reads 1 when nobody retries; with `Zipf` keys every lookup is counted as
/// a possible miss.
#[test]
fn expected_visits_behind_a_cache() {
    let text = |keys: &str| {
        format!(
            r#"Scenario(name: "x", seed: 1, horizon: "60s", warmup: "5s",
    clients: [Client(name: "web", target: "api", load: Open(rate_rps: 1000.0))],
    services: [
        Service(name: "api", workers: 100, service_time: Constant("1ms"), calls: [Call(to: "redis")]),
        Service(name: "db", workers: 100, service_time: Constant("1ms")),
    ],
    caches: [Cache(name: "redis", backend: "db", keys: {keys})])"#
        )
    };
    let s = load("x.ron", &text("HitRatio(0.75)"));
    let v = sim_models::topology::expected_visits(&s);
    assert_eq!(v, vec![vec![1.0, 0.25]]);
    let r = sim_models::run(&s, 1, "x.ron");
    let db = &r.services[1];
    assert!(
        (db.retry_amplification - 1.0).abs() < 0.03,
        "{}",
        db.retry_amplification
    );
    let s = load("x.ron", &text("Zipf(keys: 100, exponent: 1.0)"));
    assert_eq!(
        sim_models::topology::expected_visits(&s),
        vec![vec![1.0, 1.0]]
    );
}

/// Same file and seed, same bytes: with single-flight, a crash and a flush.
#[test]
fn cache_runs_are_deterministic() {
    let text = scenario(
        2000.0,
        "30s",
        "2s",
        "1s",
        "keys: Zipf(keys: 5000, exponent: 0.9), capacity: 500, ttl: \"2s\", single_flight: true, lookup_time: Exponential(mean: \"1ms\")",
        r#"faults: [Fault(start: "10s", end: "12s", kind: Crash(service: "redis", mode: BlackHole)),
                   Fault(start: "20s", end: "21s", kind: Flush(cache: "redis"))],"#,
    );
    let a = serde_json::to_string(&run(&text, 3)).unwrap();
    let b = serde_json::to_string(&run(&text, 3)).unwrap();
    assert_eq!(a, b);
    let c = serde_json::to_string(&run(&text, 4)).unwrap();
    assert_ne!(a, c);
}
