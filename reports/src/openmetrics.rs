//! A run's time series in the OpenMetrics text format, for `promtool tsdb
//! create-blocks-from openmetrics` (then Prometheus and Grafana).
//!
//! One sample per series window, stamped with the window's end: virtual seconds after a
//! start instant the caller chooses (Unix seconds), so the same run gives the same bytes.
//! Names follow Prometheus conventions: a `simctl_` prefix, counters ending in `_total`
//! (cumulative from the first window), base units (`_seconds`, `_ratio`). Every series has
//! a `run` label (the run's label in charts), so several runs can share one file.
//! Faults, rule actions, SLO alerts and breaker states are 0/1 gauges: 1 at a window's end
//! when the thing was active at any time during that window.

use std::fmt::Write;

use sim_models::RunResult;

/// One metric family: name (without `_total`), type, unit, help, and its series.
struct Family {
    name: &'static str,
    kind: Kind,
    unit: Option<&'static str>,
    help: &'static str,
    series: Vec<Series>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Gauge,
}

/// Labels and one value per window.
struct Series {
    labels: Vec<(&'static str, String)>,
    values: Vec<f64>,
    /// Window end times of the run, virtual seconds (same length as `values`).
    t_s: Vec<f64>,
}

/// The OpenMetrics text of `runs`, with virtual time 0 at `start_unix_s`.
pub fn openmetrics(runs: &[RunResult], start_unix_s: i64) -> String {
    let mut out = String::new();
    for f in families(runs) {
        if f.series.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "# TYPE {} {}",
            f.name,
            match f.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            }
        );
        if let Some(u) = f.unit {
            let _ = writeln!(out, "# UNIT {} {u}", f.name);
        }
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let sample = match f.kind {
            Kind::Counter => format!("{}_total", f.name),
            Kind::Gauge => f.name.to_string(),
        };
        for s in &f.series {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let labels = labels.join(",");
            for (v, t) in s.values.iter().zip(&s.t_s) {
                let _ = writeln!(
                    out,
                    "{sample}{{{labels}}} {} {}",
                    number(*v),
                    timestamp(start_unix_s, *t)
                );
            }
        }
    }
    out.push_str("# EOF\n");
    out
}

/// Label values escape backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A value: integers without a fraction, others in Rust's shortest exact form; NaN and
/// infinities as OpenMetrics spells them.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Unix seconds with milliseconds (Prometheus keeps milliseconds), from whole milliseconds
/// so no float rounding shows.
fn timestamp(start_unix_s: i64, t_s: f64) -> String {
    let ms = start_unix_s * 1000 + (t_s * 1000.0).round() as i64;
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Running sums of per-window counts.
fn cumulative<T: Copy + Into<f64>>(xs: &[T]) -> Vec<f64> {
    xs.iter()
        .scan(0.0, |sum, &x| {
            *sum += x.into();
            Some(*sum)
        })
        .collect()
}

fn u64s(xs: &[u64]) -> Vec<f64> {
    xs.iter().map(|&x| x as f64).collect()
}

/// 1 at each window end when `[start, end)` overlapped the window `(previous end, end]`.
fn active(t_s: &[f64], spans: &[(f64, f64)]) -> Vec<f64> {
    let mut previous = 0.0;
    t_s.iter()
        .map(|&t| {
            let on = spans.iter().any(|&(a, b)| a <= t && b > previous);
            previous = t;
            f64::from(u8::from(on))
        })
        .collect()
}

fn families(runs: &[RunResult]) -> Vec<Family> {
    let labels = crate::charts::run_labels(runs);
    let family = |name, kind, unit, help| Family {
        name,
        kind,
        unit,
        help,
        series: Vec::new(),
    };
    use Kind::{Counter, Gauge};
    let mut fams = vec![
        family(
            "simctl_requests_offered",
            Counter,
            None,
            "Logical requests issued, per client.",
        ),
        family(
            "simctl_requests_succeeded",
            Counter,
            None,
            "Requests answered successfully, per client.",
        ),
        family(
            "simctl_requests_slo_good",
            Counter,
            None,
            "Requests that met their client's SLO (success within its latency), per client.",
        ),
        family(
            "simctl_requests_slo_bad",
            Counter,
            None,
            "Requests that missed their client's SLO (failed, degraded or too slow), per client.",
        ),
        family(
            "simctl_requests_failed",
            Counter,
            None,
            "Requests that failed, all clients, by reason (`timeout`, `rejected`, `error`, `circuit_open`).",
        ),
        family(
            "simctl_requests_degraded",
            Counter,
            None,
            "Requests answered by a fallback, all clients.",
        ),
        family(
            "simctl_requests_slow",
            Counter,
            None,
            "Successes slower than the scenario SLO's latency threshold.",
        ),
        family(
            "simctl_request_latency_seconds",
            Gauge,
            Some("seconds"),
            "Latency of the window's successful requests at a quantile, first send to final answer.",
        ),
        family(
            "simctl_attempts",
            Counter,
            None,
            "Attempts received by all services (retries and hedges included).",
        ),
        family(
            "simctl_retry_amplification_ratio",
            Gauge,
            Some("ratio"),
            "Attempts received / attempts the window's offered load would cause without retries.",
        ),
        family(
            "simctl_faults_active",
            Gauge,
            None,
            "Faults active during the window.",
        ),
        family(
            "simctl_service_attempts",
            Counter,
            None,
            "Attempts that arrived at a service.",
        ),
        family(
            "simctl_service_rejected",
            Counter,
            None,
            "Attempts a service refused by admission control.",
        ),
        family(
            "simctl_service_dropped",
            Counter,
            None,
            "Attempts a service dropped without an answer.",
        ),
        family(
            "simctl_service_queue_depth",
            Gauge,
            None,
            "Time-averaged number of attempts waiting in a service's queue over the window.",
        ),
        family(
            "simctl_service_queue_depth_max",
            Gauge,
            None,
            "Most attempts waiting in a service's queue during the window.",
        ),
        family(
            "simctl_service_utilization_ratio",
            Gauge,
            Some("ratio"),
            "Busy worker time / (workers x window) of a service.",
        ),
        family(
            "simctl_cache_lookups",
            Counter,
            None,
            "Lookups a cache answered.",
        ),
        family(
            "simctl_cache_hits",
            Counter,
            None,
            "Lookups a cache answered from its keys.",
        ),
        family(
            "simctl_cache_hit_ratio",
            Gauge,
            Some("ratio"),
            "Hits / lookups of a cache in the window (0 without lookups).",
        ),
        family(
            "simctl_cache_backend_fetches",
            Counter,
            None,
            "Fetches a cache sent to its backend: the load it passes on.",
        ),
        family(
            "simctl_broker_published",
            Counter,
            None,
            "Messages put on a broker's consumer group queue.",
        ),
        family(
            "simctl_broker_acked",
            Counter,
            None,
            "Messages a consumer group acked.",
        ),
        family(
            "simctl_broker_backlog",
            Gauge,
            None,
            "Ready messages on a consumer group's queue at the window's end.",
        ),
        family(
            "simctl_broker_in_flight",
            Gauge,
            None,
            "Messages delivered to a consumer group and not yet acked, at the window's end.",
        ),
        family(
            "simctl_broker_lag_seconds",
            Gauge,
            Some("seconds"),
            "Consumer lag: age of the oldest ready message of a group at the window's end.",
        ),
        family(
            "simctl_broker_dead_lettered",
            Counter,
            None,
            "Messages of a group whose last allowed delivery failed.",
        ),
        family(
            "simctl_config_instances",
            Gauge,
            None,
            "Instances holding a config version at the window's end.",
        ),
        family(
            "simctl_config_failed_attempts",
            Counter,
            None,
            "Attempts a bad config version failed.",
        ),
        family(
            "simctl_token_auth_refreshes",
            Counter,
            None,
            "Token refreshes a token auth sent to its auth service.",
        ),
        family(
            "simctl_token_auth_calls",
            Counter,
            None,
            "Refreshes and introspections a token auth sent: the load on its auth service.",
        ),
        family(
            "simctl_token_auth_failed_requests",
            Counter,
            None,
            "Requests a token auth failed because a refresh or introspection failed.",
        ),
        family(
            "simctl_fault_active",
            Gauge,
            None,
            "1 while a scheduled fault is active (at any time in the window), else 0.",
        ),
        family(
            "simctl_action_active",
            Gauge,
            None,
            "1 while an effect started by a rule is active (at any time in the window), else 0.",
        ),
        family(
            "simctl_alert_firing",
            Gauge,
            None,
            "1 while a burn-rate alert of an SLO fires, else 0 (slo is `scenario` or a client).",
        ),
        family(
            "simctl_breaker_state",
            Gauge,
            None,
            "1 for a circuit breaker's state at the window's end, 0 for its other states.",
        ),
        family(
            "simctl_run_requests_failed",
            Gauge,
            None,
            "The run's failed requests by reason, after warm-up (one sample, at the end of the run).",
        ),
    ];
    for (r, run) in runs.iter().zip(&labels) {
        let s = &r.series;
        let t = &s.t_s;
        let mut add = |name: &str, extra: Vec<(&'static str, String)>, values: Vec<f64>| {
            let f = fams
                .iter_mut()
                .find(|f| f.name == name)
                .expect("a declared family");
            let mut labels = vec![("run", run.clone())];
            labels.extend(extra);
            f.series.push(Series {
                labels,
                t_s: t.clone(),
                values,
            });
        };
        for c in &s.clients {
            let client = || vec![("client", c.name.clone())];
            add(
                "simctl_requests_offered",
                client(),
                cumulative(&u64s(&c.offered)),
            );
            add(
                "simctl_requests_succeeded",
                client(),
                cumulative(&u64s(&c.succeeded)),
            );
            add(
                "simctl_requests_slo_good",
                client(),
                cumulative(&u64s(&c.good)),
            );
            add(
                "simctl_requests_slo_bad",
                client(),
                cumulative(&u64s(&c.bad)),
            );
        }
        let by = &s.failed_by_reason;
        for (reason, n) in [
            ("timeout", &by.timeout),
            ("rejected", &by.rejected),
            ("error", &by.error),
            ("circuit_open", &by.circuit_open),
        ] {
            let labels = vec![("reason", reason.to_string())];
            add("simctl_requests_failed", labels, cumulative(&u64s(n)));
        }
        add(
            "simctl_requests_degraded",
            vec![],
            cumulative(&u64s(&s.degraded)),
        );
        add("simctl_requests_slow", vec![], cumulative(&u64s(&s.slow)));
        for (q, ms) in [
            ("0.5", &s.latency_p50_ms),
            ("0.99", &s.latency_p99_ms),
            ("0.999", &s.latency_p999_ms),
        ] {
            let secs = ms.iter().map(|x| x / 1000.0).collect();
            add(
                "simctl_request_latency_seconds",
                vec![("quantile", q.into())],
                secs,
            );
        }
        add("simctl_attempts", vec![], cumulative(&u64s(&s.attempts)));
        add(
            "simctl_retry_amplification_ratio",
            vec![],
            s.retry_amplification.clone(),
        );
        add(
            "simctl_faults_active",
            vec![],
            s.faults_active.iter().map(|&x| f64::from(x)).collect(),
        );
        for v in &s.services {
            let service = || vec![("service", v.name.clone())];
            add(
                "simctl_service_attempts",
                service(),
                cumulative(&u64s(&v.attempts)),
            );
            add(
                "simctl_service_rejected",
                service(),
                cumulative(&u64s(&v.rejected)),
            );
            add(
                "simctl_service_dropped",
                service(),
                cumulative(&u64s(&v.dropped)),
            );
            add(
                "simctl_service_queue_depth",
                service(),
                v.queue_depth_mean.clone(),
            );
            add(
                "simctl_service_queue_depth_max",
                service(),
                u64s(&v.queue_depth_max),
            );
            add(
                "simctl_service_utilization_ratio",
                service(),
                v.utilization.clone(),
            );
        }
        for c in &s.caches {
            let cache = || vec![("cache", c.name.clone())];
            add(
                "simctl_cache_lookups",
                cache(),
                cumulative(&u64s(&c.lookups)),
            );
            add("simctl_cache_hits", cache(), cumulative(&u64s(&c.hits)));
            add("simctl_cache_hit_ratio", cache(), c.hit_ratio.clone());
            let fetches = cumulative(&u64s(&c.backend_fetches));
            add("simctl_cache_backend_fetches", cache(), fetches);
        }
        // A group's series are levels and counts since the start, at each window end.
        for b in &r.brokers {
            for g in &b.groups {
                let group = || vec![("broker", b.name.clone()), ("group", g.service.clone())];
                let gs = &g.series;
                add("simctl_broker_published", group(), u64s(&gs.published));
                add("simctl_broker_acked", group(), u64s(&gs.acked));
                add("simctl_broker_backlog", group(), u64s(&gs.backlog));
                add("simctl_broker_in_flight", group(), u64s(&gs.in_flight));
                add("simctl_broker_lag_seconds", group(), gs.lag_s.clone());
                add(
                    "simctl_broker_dead_lettered",
                    group(),
                    u64s(&gs.dead_lettered),
                );
            }
        }
        for c in &r.configs {
            for (v, on) in c.series.instances_on.iter().enumerate() {
                let labels = vec![("config", c.name.clone()), ("version", v.to_string())];
                let on = on.iter().map(|&n| f64::from(n)).collect();
                add("simctl_config_instances", labels, on);
            }
            let failed = cumulative(&u64s(&c.series.failed_by_config));
            add(
                "simctl_config_failed_attempts",
                vec![("config", c.name.clone())],
                failed,
            );
        }
        for a in &r.token_auths {
            let auth = || vec![("token_auth", a.name.clone())];
            let s = &a.series;
            add(
                "simctl_token_auth_refreshes",
                auth(),
                cumulative(&u64s(&s.refreshes)),
            );
            add(
                "simctl_token_auth_calls",
                auth(),
                cumulative(&u64s(&s.auth_calls)),
            );
            let failed = cumulative(&u64s(&s.failed_by_auth));
            add("simctl_token_auth_failed_requests", auth(), failed);
        }
        for (i, f) in r.faults.iter().enumerate() {
            let labels = vec![
                ("fault", i.to_string()),
                ("kind", f.kind.to_string()),
                ("target", f.target.clone()),
            ];
            add(
                "simctl_fault_active",
                labels,
                active(t, &[(f.start_s, f.end_s)]),
            );
        }
        for (i, a) in r.actions.iter().enumerate() {
            let labels = vec![
                ("action", i.to_string()),
                ("rule", a.rule.clone()),
                ("kind", a.kind.clone()),
                ("target", a.target.clone()),
            ];
            add(
                "simctl_action_active",
                labels,
                active(t, &[(a.start_s, a.end_s)]),
            );
        }
        let slos = std::iter::once(("scenario".to_string(), &r.alerts))
            .chain(r.clients.iter().map(|c| (c.name.clone(), &c.alerts)));
        for (slo, report) in slos {
            let Some(report) = report else { continue };
            for rule in &report.rules {
                let spans: Vec<(f64, f64)> = rule
                    .firings
                    .iter()
                    .map(|f| (f.fired_s, f.resolved_s.unwrap_or(f64::INFINITY)))
                    .collect();
                let labels = vec![
                    ("slo", slo.clone()),
                    ("alert", rule.name.clone()),
                    ("severity", format!("{:?}", rule.severity).to_lowercase()),
                ];
                add("simctl_alert_firing", labels, active(t, &spans));
            }
        }
        for b in &r.breakers {
            for state in ["Closed", "Open", "HalfOpen"] {
                // The state at each window end: the last transition at or before it.
                let values = t
                    .iter()
                    .map(|&end| {
                        let now = b
                            .transitions
                            .iter()
                            .rev()
                            .find(|(at, _, _)| *at <= end)
                            .map_or("Closed", |(_, _, to)| to.as_str());
                        f64::from(u8::from(now == state))
                    })
                    .collect();
                let labels = vec![
                    ("caller", b.caller.clone()),
                    ("callee", b.callee.clone()),
                    ("state", state.to_string()),
                ];
                add("simctl_breaker_state", labels, values);
            }
        }
        // The run's totals by reason, one sample at the end of the run.
        let failed = &r.totals.failed;
        let f = fams
            .iter_mut()
            .find(|f| f.name == "simctl_run_requests_failed")
            .expect("a declared family");
        for (reason, n) in [
            ("timeout", failed.timeout),
            ("rejected", failed.rejected),
            ("error", failed.error),
            ("circuit_open", failed.circuit_open),
        ] {
            f.series.push(Series {
                labels: vec![("run", run.clone()), ("reason", reason.into())],
                values: vec![n as f64],
                t_s: vec![r.simulated_s],
            });
        }
    }
    fams
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_accumulate_and_timestamps_start_at_the_chosen_instant() {
        let mut run = crate::testing::run("scenarios/v0.6.ron", 12, false);
        let s = &run.series;
        run.series.clients = vec![sim_models::result::ClientSeries {
            name: "shoppers".into(),
            offered: s.offered.clone(),
            succeeded: s.succeeded.clone(),
            good: s.succeeded.clone(),
            bad: s.failed.clone(),
        }];
        let text = openmetrics(std::slice::from_ref(&run), 1_767_225_600);
        assert!(text.ends_with("# EOF\n"));
        assert!(text.contains("# TYPE simctl_requests_offered counter\n"));
        assert!(text.contains("# UNIT simctl_request_latency_seconds seconds\n"));
        let s = &run.series;
        let client = &s.clients[0];
        let last = client.offered.iter().sum::<u64>();
        let t_last = *s.t_s.last().unwrap();
        let line = format!(
            "simctl_requests_offered_total{{run=\"{}\",client=\"{}\"}} {last} {}",
            crate::run_label(&run),
            client.name,
            timestamp(1_767_225_600, t_last)
        );
        assert!(text.contains(&line), "{line}");
        // Every family's samples are together, and each series is in time order.
        let mut seen: Vec<String> = Vec::new();
        let mut last_t: std::collections::BTreeMap<String, f64> = Default::default();
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, rest) = l.rsplit_once('}').unwrap();
            let name = series.split('{').next().unwrap().trim_end_matches("_total");
            if seen.last().map(String::as_str) != Some(name) {
                assert!(!seen.iter().any(|n| n == name), "{name} interleaved");
                seen.push(name.into());
            }
            let t: f64 = rest.split_whitespace().nth(1).unwrap().parse().unwrap();
            let before = last_t.insert(series.to_string(), t);
            assert!(before.is_none_or(|b| b < t), "{l}");
        }
    }

    #[test]
    fn numbers_and_timestamps_are_exact_text() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(timestamp(1_767_225_600, 0.5), "1767225600.500");
        assert_eq!(timestamp(10, 1.0004), "11.000");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn an_active_span_marks_each_window_it_overlaps() {
        let t = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(active(&t, &[(1.5, 2.5)]), [0.0, 1.0, 1.0, 0.0]);
        assert_eq!(active(&t, &[(3.0, f64::INFINITY)]), [0.0, 0.0, 1.0, 1.0]);
    }
}
