//! Token auth (short-TTL JWTs): the expiry storm of tokens issued together, what TTL
//! jitter and refresh-ahead do to it (the figures derived in `scenarios/auth.ron`'s
//! header), introspection, failed refreshes, and the diagnostics of its fields.

use sim_models::RunResult;
use sim_models::metric::MetricRef;
use sim_models::result::TokenAuthResult;
use sim_models::scenario::{InitialTokens, RefreshAhead, Scenario};

use crate::support::{load, scenario_path};

/// `scenarios/auth.ron` with `edit` applied, run at its own seed.
fn auth_run(edit: impl FnOnce(&mut Scenario)) -> RunResult {
    let text = std::fs::read_to_string(scenario_path("auth.ron")).unwrap();
    let mut s = load("scenarios/auth.ron", &text);
    edit(&mut s);
    sim_models::run(&s, s.seed, "scenarios/auth.ron")
}

fn gw(r: &RunResult) -> &TokenAuthResult {
    &r.token_auths[0]
}

fn ratio(r: &RunResult) -> f64 {
    gw(r).auth_peak_ratio.expect("refreshes happened")
}

/// 10% TTL jitter and a refresh point drawn in [from, to] of each token's lifetime.
fn mitigated(from: f64, to: f64) -> impl FnOnce(&mut Scenario) {
    move |s| {
        s.token_auths[0].ttl_jitter = 0.1;
        s.token_auths[0].refresh_ahead = Some(RefreshAhead { from, to });
    }
}

/// Every token is issued at the start: one TTL (300 s) later every user's next request
/// refreshes. Derived in the header: 6000 (1 - e^-1) = 3,793 refreshes in the window ending
/// at 315 s against a mean of 30,000 / 120 = 250 per window, a ratio of 15.2; the storm
/// recurs one lifetime (315 s) later, a little wider each time.
#[test]
fn synchronized_issue_storms_one_ttl_later() {
    let r = auth_run(|_| {});
    let t = gw(&r);
    assert_eq!(t.refresh_peak_at_s, 315.0, "{t:?}");
    assert!(ratio(&r) >= 5.0, "{t:?}");
    assert!((ratio(&r) - 15.2).abs() < 1.0, "{}", ratio(&r));
    // Users refresh on expiry only, once per lifetime of about 315 s: 5 generations by 30 min.
    assert_eq!(t.refreshes, t.refreshes_on_expiry);
    assert_eq!(t.refreshes, 5 * 6000);
    assert_eq!(t.refresh_failures + t.failed_by_auth, 0);
    // The echo one lifetime later is still a storm.
    let echo = t.series.refreshes[40..48].iter().max().unwrap();
    assert!(
        *echo as f64 >= 5.0 * t.refresh_mean,
        "{echo} vs {}",
        t.refresh_mean
    );
    // The registry reads it under its JSON name.
    let m = MetricRef::parse("token_auths.gw.auth_peak_ratio").unwrap();
    assert_eq!(m.read(&r), t.auth_peak_ratio);
}

/// The steady state the ratio is measured against: tokens issued at random earlier times
/// refresh at N / (T + 15 s) = 6000 / 315 s = 285.7 per 15 s window, and the peak is only
/// the noise of 120 windows (about 3 standard deviations of sqrt(286) = 17: 1.18).
#[test]
fn spread_tokens_refresh_at_the_steady_rate() {
    let r = auth_run(|s| s.token_auths[0].initial_tokens = InitialTokens::Spread);
    let t = gw(&r);
    assert!((t.refresh_mean - 285.7).abs() < 0.05 * 285.7, "{t:?}");
    assert!(ratio(&r) < 1.3, "{t:?}");
}

/// 10% jitter alone spreads one generation's expiries over 30 s (two windows): still a
/// storm (about 8x, derived in the header).
#[test]
fn ttl_jitter_alone_leaves_a_storm() {
    let r = auth_run(|s| s.token_auths[0].ttl_jitter = 0.1);
    assert!(ratio(&r) > 5.0, "{:?}", gw(&r));
}

/// Real clients' refresh points are narrow: kubelet at 80% of the TTL, Vault's lifetime
/// watcher at 0.70-0.73 of the lease. With 10% jitter the storm only moves earlier: the
/// peak stays above 5x.
#[test]
fn a_narrow_refresh_point_only_moves_the_storm() {
    for (from, to) in [(0.8, 0.8), (0.7, 0.733)] {
        let r = auth_run(mitigated(from, to));
        let t = gw(&r);
        assert!(ratio(&r) > 5.0, "[{from}, {to}]: {t:?}");
        assert!(t.refreshes_ahead > 10 * t.refreshes_on_expiry, "{t:?}");
        assert!(t.refresh_peak_at_s < 300.0, "{t:?}");
    }
}

/// The issue's mitigation, 10% jitter plus refresh-ahead, keeps the peak under 1.5x when
/// the refresh point is drawn over a wide share of the lifetime: over [0.25, 0.95] the
/// first generation's refreshes spread over 210 s from the start. Over [0.5, 0.9] (the AWS
/// SDK's expiry window of half the TTL with a jitter fraction of 0.8) they spread over
/// only 135 s: the first generation peaks at 6000 x 15 / (0.4 x 285) = 790 a window against
/// a mean of 395, about 2x; each generation adds its own spread, and after two TTLs
/// (measured from 10 min on) the peak is under 1.5x.
#[test]
fn jitter_and_wide_refresh_ahead_keep_the_peak_low() {
    let wide = auth_run(mitigated(0.25, 0.95));
    assert!(ratio(&wide) < 1.5, "{:?}", gw(&wide));

    let aws = auth_run(mitigated(0.5, 0.9));
    let first = ratio(&aws);
    assert!((1.6..2.5).contains(&first), "{:?}", gw(&aws));
    assert!(
        (gw(&aws).refresh_peak as f64 - 790.0).abs() < 80.0,
        "{:?}",
        gw(&aws)
    );
    let later = auth_run(|s| {
        mitigated(0.5, 0.9)(s);
        s.warmup = sim_core::SimDuration::from_secs(600);
    });
    assert!(ratio(&later) < 1.5, "{:?}", gw(&later));
}

/// A small world: `web` -> `gw` -> `api`, `auth` issuing tokens; `fields` go into the
/// token auth, `extra` into the scenario.
fn small(fields: &str, extra: &str) -> String {
    format!(
        r#"Scenario(
    name: "t", seed: 3, horizon: "30s", window: "1s",
    clients: [Client(name: "web", target: "gw", load: Open(rate_rps: 200.0))],
    services: [
        Service(name: "api", workers: 50, service_time: Exponential(mean: "5ms")),
        Service(name: "auth", workers: 50, service_time: Exponential(mean: "5ms"),
                endpoints: [Endpoint(name: "introspect", service_time: Constant("1ms"))]),
    ],
    token_auths: [TokenAuth(name: "gw", upstream: "api", auth: "auth", users: 100, ttl: "10s", {fields})],
    {extra}
)"#
    )
}

fn run_small(fields: &str, extra: &str) -> RunResult {
    let s = load("small.ron", &small(fields, extra));
    sim_models::run(&s, s.seed, "small.ron")
}

fn service<'a>(r: &'a RunResult, name: &str) -> &'a sim_models::result::ServiceResult {
    r.services.iter().find(|s| s.name == name).unwrap()
}

/// With introspection every request costs the auth service one call besides the
/// refreshes; with local validation only the refreshes reach it.
#[test]
fn introspection_calls_auth_once_per_request() {
    let r = run_small(r#"validation: Introspect(endpoint: "introspect")"#, "");
    let t = gw(&r);
    assert_eq!(t.introspections, t.requests, "{t:?}");
    assert_eq!(t.introspection_failures + t.failed_by_auth, 0);
    // Calls still on the wire at the end have not arrived: at most the requests in flight.
    let in_flight = r.totals.in_flight_at_end;
    let auth_calls = t.introspections + t.refreshes;
    assert!(
        auth_calls - service(&r, "auth").attempts <= in_flight,
        "{t:?}"
    );
    assert!(
        t.requests - service(&r, "api").attempts <= in_flight,
        "{t:?}"
    );
    // 100 users each refresh at their first request after 10 s and 20 s (about 0.5 s each).
    assert_eq!(t.refreshes, 200, "{t:?}");

    let local = run_small("validation: Local", "");
    let l = gw(&local);
    assert_eq!(l.introspections, 0);
    assert!(l.refreshes - service(&local, "auth").attempts <= local.totals.in_flight_at_end);
    assert_eq!(l.requests, t.requests, "same arrivals, same users");
}

/// A refresh that fails fails the requests waiting for it (an expired token is rejected:
/// nothing stale to serve); a background refresh that fails leaves the still valid token in
/// use, and a later request tries again.
#[test]
fn a_failed_refresh_fails_only_requests_with_an_expired_token() {
    // Auth refuses connections from 9 s to 12 s: the tokens expiring at 10 s cannot be
    // refreshed until 12 s.
    let crash =
        r#"faults: [Fault(start: "9s", end: "12s", kind: Crash(service: "auth", mode: Refuse))],"#;
    let r = run_small("", crash);
    let t = gw(&r);
    assert!(t.failed_by_auth > 100, "{t:?}");
    assert_eq!(r.totals.failed.error, t.failed_by_auth);
    assert_eq!(r.totals.failed.total(), t.failed_by_auth);
    assert!(t.refresh_failures >= 100, "{t:?}");
    // Every failed request found its user's token expired between 10 s and 12 s: about
    // 200 rps for 2 s.
    assert!(t.failed_by_auth < 2 * 200 + 60, "{t:?}");

    // Refreshing ahead at half the lifetime (5 s) during a crash from 4 s to 7 s: the
    // refreshes fail, the requests do not, and the tokens are renewed after 7 s.
    let crash =
        r#"faults: [Fault(start: "4s", end: "7s", kind: Crash(service: "auth", mode: Refuse))],"#;
    let r = run_small("refresh_ahead: (from: 0.5, to: 0.5)", crash);
    let t = gw(&r);
    assert!(t.refresh_failures > 100, "{t:?}");
    assert_eq!(t.failed_by_auth, 0, "{t:?}");
    assert_eq!(r.totals.failed.total(), 0);
    // Only a user with no request from 7 s to 10 s (e^-6 of 100 users) finds it expired.
    assert!(t.refreshes_on_expiry <= 3, "{t:?}");
}

/// A revocation (an auth restart that lost its sessions) at 5 s: every user's next
/// request refreshes, so the 100 users' new tokens are issued within a second or so of
/// each other (a request every 0.5 s each) and expire together one TTL (10 s) later.
#[test]
fn a_revocation_issues_a_new_herd() {
    let r = run_small(
        "",
        r#"faults: [Fault(start: "5s", end: "6s", kind: RevokeTokens(token_auth: "gw"))],"#,
    );
    let t = gw(&r);
    assert_eq!(t.revocations, 1);
    let w = &t.series.refreshes;
    // Window k ends at k + 1 s: none before the revocation, then the whole herd.
    assert_eq!(w[..5].iter().sum::<u64>(), 0, "{w:?}");
    assert!(w[5] + w[6] + w[7] >= 95, "{w:?}");
    // The herd issued at 5-8 s expires at 15-18 s and refreshes again; the tokens issued
    // at the start would have expired at 10 s, but were replaced.
    assert!(w[10..15].iter().sum::<u64>() <= 5, "{w:?}");
    assert!(w[15] + w[16] + w[17] >= 95, "{w:?}");
    assert_eq!(r.faults[0].kind.to_string(), "revoke tokens");
}

/// Same seed, same result; the token auth's draws come from its own streams.
#[test]
fn token_auth_runs_are_deterministic() {
    let a = run_small("ttl_jitter: 0.3, refresh_ahead: (from: 0.2, to: 0.9)", "");
    let b = run_small("ttl_jitter: 0.3, refresh_ahead: (from: 0.2, to: 0.9)", "");
    assert_eq!(a, b);
    // Left out of the JSON of a scenario without token auths.
    let json = serde_json::to_string(
        &crate::support::replicate(
            "mm1",
            &std::fs::read_to_string(scenario_path("mm1.ron")).unwrap(),
            1..2,
        )[0],
    )
    .unwrap();
    assert!(!json.contains("token_auths"));
}

/// Each mistake gets an error (or a warning) at its field, with file:line:col.
#[test]
fn token_auth_mistakes_get_a_positioned_error() {
    let cases: &[(&str, String, &str, &str)] = &[
        (
            "ttl 0",
            small(r#"ttl_jitter: 0.0"#, "").replace(r#"ttl: "10s""#, r#"ttl: "0s""#),
            "token_auths[0].ttl",
            "longer than 0s",
        ),
        (
            "jitter 1",
            small("ttl_jitter: 1.0", ""),
            "token_auths[0].ttl_jitter",
            "[0, 1)",
        ),
        (
            "negative jitter",
            small("ttl_jitter: -0.1", ""),
            "token_auths[0].ttl_jitter",
            "[0, 1)",
        ),
        (
            "refresh at 1",
            small("refresh_ahead: (from: 0.5, to: 1.0)", ""),
            "token_auths[0].refresh_ahead.to",
            "[0, 1)",
        ),
        (
            "from after to",
            small("refresh_ahead: (from: 0.9, to: 0.5)", ""),
            "token_auths[0].refresh_ahead.to",
            "at least `from`",
        ),
        (
            "no users",
            small("", "").replace("users: 100", "users: 0"),
            "token_auths[0].users",
            "at least 1",
        ),
        (
            "unknown auth service",
            small("", "").replace(r#"auth: "auth""#, r#"auth: "auht""#),
            "token_auths[0].auth",
            "did you mean `auth`",
        ),
        (
            "unknown upstream",
            small("", "").replace(r#"upstream: "api""#, r#"upstream: "apj""#),
            "token_auths[0].upstream",
            "did you mean `api`",
        ),
        (
            "unknown introspection endpoint",
            small(r#"validation: Introspect(endpoint: "inspect")"#, ""),
            "token_auths[0].validation",
            "inspect",
        ),
        (
            "name of a service",
            small("", "")
                .replace(r#"TokenAuth(name: "gw""#, r#"TokenAuth(name: "api""#)
                .replace(r#"target: "gw""#, r#"target: "api""#),
            "token_auths[0].name",
            "also the name of a service",
        ),
        (
            "revoking an unknown token auth",
            small(
                "",
                r#"faults: [Fault(start: "1s", end: "2s", kind: RevokeTokens(token_auth: "gx"))],"#,
            ),
            "faults[0].kind.token_auth",
            "did you mean `gw`",
        ),
        (
            "fault on a token auth",
            small(
                "",
                r#"faults: [Fault(start: "1s", end: "2s", kind: Crash(service: "gw", mode: Refuse))],"#,
            ),
            "faults[0].kind.service",
            "is a token auth",
        ),
    ];
    for (case, text, field, says) in cases {
        let d = match sim_models::load("bad.ron", text) {
            Ok(_) => panic!("case `{case}` loaded but should not"),
            Err(d) => d,
        };
        let item = d
            .items
            .iter()
            .find(|i| i.field == *field && i.message.contains(says))
            .unwrap_or_else(|| panic!("{case}: no problem at {field} saying {says}:\n{d}"));
        assert!(item.at.line > 0 && item.at.col > 0, "{case}");
        assert!(d.to_string().starts_with("bad.ron:"), "{case}: {d}");
    }
    // The TTL's position, by hand: line 9 of the small scenario, at the value.
    let text = small("", "").replace(r#"ttl: "10s""#, r#"ttl: "0s""#);
    let d = sim_models::load("bad.ron", &text).unwrap_err();
    let item = d
        .items
        .iter()
        .find(|i| i.field == "token_auths[0].ttl")
        .unwrap();
    let line = text.lines().nth(item.at.line - 1).unwrap();
    assert!(
        line[item.at.col - 1..].starts_with(r#""0s""#),
        "{line} @ {}",
        item.at.col
    );
    // A TTL beyond the horizon is a warning: the run goes on.
    let text = small("", "").replace(r#"ttl: "10s""#, r#"ttl: "1m""#);
    let v = sim_models::load("warn.ron", &text).expect("a warning only");
    assert!(
        v.warnings.iter().any(|w| w.field == "token_auths[0].ttl"),
        "{:?}",
        v.warnings
    );
}

/// The topology diagram draws a token auth with its forward and its refreshes.
#[test]
fn the_topology_diagram_draws_a_token_auth() {
    let text = std::fs::read_to_string(scenario_path("auth.ron")).unwrap();
    let m = reports::topology_mermaid(&load("scenarios/auth.ron", &text));
    for line in [
        r#"a0{{"gw<br/>token auth: 6000 users, TTL 5m"}}"#,
        "a0 --> s0",
        r#"a0 -.->|"refresh, timeout 2s"| s1"#,
        r#"c0 -->|"timeout 3s"| a0"#,
    ] {
        assert!(m.contains(line), "{line} not in\n{m}");
    }
}
