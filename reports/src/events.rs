//! A run's event log: what happened, one JSON object per line in time order (the run's
//! "structured logging", for jq, Loki or a log viewer). Built from the result after the run:
//! faults and rule actions (effects) starting and ending, rules firing, SLO alerts firing
//! and resolving, circuit breaker transitions and outlier ejections.
//!
//! Each line has `t_s` (virtual seconds), `time` (the instant it maps to from the chosen
//! start, UTC, milliseconds) and `event` first, then the event's own fields. Events at the same
//! virtual time keep the order above.

use serde_json::{Value, json};
use sim_models::RunResult;

/// The event log of `run`, virtual time 0 at `start_unix_s`.
pub fn events_jsonl(run: &RunResult, start_unix_s: i64) -> String {
    let mut events: Vec<(f64, &'static str, Value)> = Vec::new();
    let end = run.simulated_s;
    for (i, f) in run.faults.iter().enumerate() {
        let what = json!({"fault": i, "kind": f.kind, "target": f.target});
        if f.start_s <= end {
            events.push((f.start_s, "fault_start", what.clone()));
        }
        if f.end_s < end {
            events.push((f.end_s, "fault_end", what));
        }
    }
    for (i, a) in run.actions.iter().enumerate() {
        let what = json!({"action": i, "rule": a.rule, "kind": a.kind, "target": a.target});
        let mut fired = what.clone();
        fired["cause"] = json!(a.cause);
        events.push((a.decided_s, "rule_fired", fired));
        events.push((a.start_s, "action_start", what.clone()));
        if a.end_s < end {
            events.push((a.end_s, "action_end", what));
        }
    }
    let slos = std::iter::once(("scenario", &run.alerts))
        .chain(run.clients.iter().map(|c| (c.name.as_str(), &c.alerts)));
    for (slo, report) in slos {
        let Some(report) = report else { continue };
        for rule in &report.rules {
            let what = json!({
                "slo": slo,
                "alert": rule.name,
                "severity": format!("{:?}", rule.severity).to_lowercase(),
            });
            for f in &rule.firings {
                events.push((f.fired_s, "alert_fired", what.clone()));
                if let Some(r) = f.resolved_s {
                    events.push((r, "alert_resolved", what.clone()));
                }
            }
        }
    }
    for b in &run.breakers {
        for (t, from, to) in &b.transitions {
            let what = json!({"caller": b.caller, "callee": b.callee, "from": from, "to": to});
            events.push((*t, "breaker_transition", what));
        }
    }
    for e in &run.ejections {
        for (at, until, replica) in &e.ejections {
            let what = json!({"caller": e.caller, "callee": e.callee, "replica": replica});
            let mut ejected = what.clone();
            ejected["until_s"] = json!(until);
            events.push((*at, "ejection", ejected));
            if *until < end {
                events.push((*until, "ejection_end", what));
            }
        }
    }
    events.push((end, "run_end", json!({"stopped": run.stopped})));
    // Stable: ties keep the order they were gathered in.
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = String::new();
    for (t, event, fields) in events {
        // `t_s`, `time` and `event` first, then the event's own fields.
        let head = format!(
            "{{\"t_s\":{},\"time\":\"{}\",\"event\":\"{event}\"",
            json!(t),
            utc(start_unix_s, t)
        );
        let rest = fields.to_string();
        out.push_str(&head);
        match rest.strip_prefix('{').filter(|r| *r != "}") {
            Some(r) => {
                out.push(',');
                out.push_str(r);
            }
            None => out.push('}'),
        }
        out.push('\n');
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of `start_unix_s` + `t_s`.
pub fn utc(start_unix_s: i64, t_s: f64) -> String {
    let ms = start_unix_s * 1000 + (t_s * 1000.0).round() as i64;
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let s = ms_of_day / 1000;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ms_of_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_utc_dates() {
        assert_eq!(utc(1_767_225_600, 0.0), "2026-01-01T00:00:00.000Z");
        assert_eq!(utc(1_709_209_805, 0.25), "2024-02-29T12:30:05.250Z");
        assert_eq!(utc(0, 86_399.999), "1970-01-01T23:59:59.999Z");
        assert_eq!(utc(951_782_400, 0.0), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn the_log_is_in_time_order_and_ends_with_the_run() {
        let mut run = crate::testing::run("scenarios/v0.6.ron", 20, false);
        run.breakers = vec![sim_models::result::BreakerReport {
            caller: "api".into(),
            callee: "db".into(),
            transitions: vec![(9.5, "Closed".into(), "Open".into())],
        }];
        let text = events_jsonl(&run, 1_767_225_600);
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let t: Vec<f64> = lines.iter().map(|l| l["t_s"].as_f64().unwrap()).collect();
        assert!(t.windows(2).all(|w| w[0] <= w[1]), "{t:?}");
        let kinds: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["fault_start", "breaker_transition", "fault_end", "run_end"]
        );
        assert_eq!(lines[1]["to"], "Open");
        assert_eq!(lines[1]["time"], "2026-01-01T00:00:09.500Z");
        assert_eq!(lines[0]["target"], "db");
    }
}
