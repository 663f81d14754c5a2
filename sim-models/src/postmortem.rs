//! A postmortem of a finished run, read from its result: one incident per fault, with a
//! timeline (fault start, first page, actions rules took, breaker transitions, fault end,
//! recovery), its impact (failed and degraded requests, error budget burned, routes
//! affected), contributing factors read from the metrics (retry amplification, queue growth,
//! dropped work, breaker transitions) and action items tied to that evidence.
//!
//! **The incident's span** runs from its fault's start to 60 s after its end, cut at the
//! next fault's start and at the end of the run; its numbers are sums over the series
//! windows that lie in it, and "before" is the same length of time just before the fault
//! (cut at the warm-up and at the previous incident), for comparison.

use serde::{Deserialize, Serialize};

use crate::result::RunResult;

/// How long after its fault's end an incident's span lasts (unless another fault starts).
pub const TAIL_S: f64 = 60.0;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Index of the fault in the run's `faults`.
    pub fault: usize,
    pub title: String,
    pub from_s: f64,
    pub to_s: f64,
    /// (virtual seconds, what happened), in time order.
    pub timeline: Vec<(f64, String)>,
    pub failed: u64,
    pub degraded: u64,
    pub offered: u64,
    /// The span's bad requests over the run's error budget (the scenario SLO's), percent.
    pub budget_burned_pct: Option<f64>,
    /// Clients whose failures in the span were more than before it: (name, failed).
    pub routes_affected: Vec<(String, u64)>,
    pub factors: Vec<String>,
    pub action_items: Vec<String>,
}

/// The incidents of `r`, one per fault, in the order of its faults.
pub fn postmortem(r: &RunResult) -> Vec<Incident> {
    let s = &r.series;
    let idx = |from: f64, to: f64| -> Vec<usize> {
        (0..s.t_s.len())
            .filter(|&i| s.t_s[i] - s.window_s >= from - 1e-9 && s.t_s[i] <= to + 1e-9)
            .collect()
    };
    let sum = |v: &[u64], ix: &[usize]| ix.iter().map(|&i| v[i]).sum::<u64>();
    // The run's SLO budget: bad events allowed over the whole run (as slo_status counts).
    let budget = crate::slo_status::slo_status(r)
        .into_iter()
        .find(|x| x.route == "all")
        .map(|x| (1.0 - x.objective) * (x.good + x.bad) as f64);
    let mut out = Vec::new();
    for (k, f) in r.faults.iter().enumerate() {
        let next = r
            .faults
            .iter()
            .map(|g| g.start_s)
            .filter(|&t| t > f.start_s)
            .fold(f64::INFINITY, f64::min);
        let to = (f.end_s + TAIL_S).min(next).min(r.simulated_s);
        let from = f.start_s;
        let prev_end = out.last().map_or(r.warmup_s, |i: &Incident| i.to_s);
        let before_from = (from - (to - from)).max(r.warmup_s).max(prev_end);
        let (span, before) = (idx(from, to), idx(before_from, from));
        let failed = sum(&s.failed, &span);
        let degraded = sum(&s.degraded, &span);
        let bad = failed + degraded + sum(&s.slow, &span);

        let mut timeline = vec![(
            f.start_s,
            format!("fault starts: {} on {}", f.kind, f.target),
        )];
        match r.detections.get(k) {
            Some(d) => match (d.detected_s, &d.rule) {
                (Some(t), Some(rule)) => timeline.push((t, format!("first page: {rule}"))),
                _ => timeline.push((f.start_s, "no page fired for this fault".into())),
            },
            None => timeline.push((f.start_s, "no SLO, so nothing could page".into())),
        }
        for a in r
            .actions
            .iter()
            .filter(|a| a.start_s >= from && a.start_s < to)
        {
            timeline.push((
                a.start_s,
                format!(
                    "action: {} on {} (rule {}: {})",
                    a.kind, a.target, a.rule, a.cause
                ),
            ));
        }
        let mut transitions = 0;
        for b in &r.breakers {
            for (t, a, z) in b
                .transitions
                .iter()
                .filter(|x| x.0 >= from && x.0 < to)
                .map(|x| (x.0, &x.1, &x.2))
            {
                transitions += 1;
                // The first opening per breaker says enough in the timeline.
                if z == "Open" && a == "Closed" {
                    timeline.push((t, format!("breaker {} -> {} opens", b.caller, b.callee)));
                }
            }
        }
        timeline.push((f.end_s, "fault ends".into()));
        let last = k + 1 == r.faults.len();
        if last {
            match r.recovery_s {
                Some(x) => {
                    timeline.push((f.end_s + x, "goodput back within 5% of baseline".into()))
                }
                None => timeline.push((to, format!("not recovered: {}", r.recovery_verdict))),
            }
        }
        timeline.sort_by(|a, b| a.0.total_cmp(&b.0));
        timeline.dedup();

        let routes_affected: Vec<(String, u64)> = s
            .clients
            .iter()
            .map(|c| (c.name.clone(), sum(&c.bad, &span), sum(&c.bad, &before)))
            .filter(|(_, in_span, before)| in_span > before)
            .map(|(n, in_span, _)| (n, in_span))
            .collect();

        let mut factors = Vec::new();
        let mut items = Vec::new();
        let peak = |ix: &[usize]| {
            ix.iter()
                .filter(|&&i| s.offered[i] > 0)
                .map(|&i| s.retry_amplification[i])
                .fold(0.0, f64::max)
        };
        let (amp, amp_before) = (peak(&span), peak(&before));
        if amp > 1.2 && amp > 1.1 * amp_before {
            factors.push(format!(
                "retry amplification peaked at {amp:.2}x (before: {amp_before:.2}x): retries added load to a system already short of capacity"
            ));
            items.push(format!(
                "bound retries (a retry budget, fewer attempts, backoff with jitter): amplification reached {amp:.2}x"
            ));
        }
        for svc in &s.services {
            let q = |ix: &[usize]| {
                ix.iter()
                    .map(|&i| svc.queue_depth_max[i])
                    .max()
                    .unwrap_or(0)
            };
            let (qs, qb) = (q(&span), q(&before));
            if qs >= 10 && qs > 2 * qb.max(1) {
                factors.push(format!("queue at {} grew to {qs} (before: {qb})", svc.name));
                items.push(format!(
                    "{}: its queue reached {qs} waiting attempts (before: {qb}); shed load before it queues (admission, backpressure) or add capacity there",
                    svc.name
                ));
            }
            let (ds, db) = (sum(&svc.dropped, &span), sum(&svc.dropped, &before));
            if ds > 2 * db + 10 {
                factors.push(format!(
                    "{} dropped {ds} attempts (before: {db}): work lost or abandoned",
                    svc.name
                ));
            }
        }
        if transitions > 0 {
            factors.push(format!(
                "{transitions} circuit breaker transitions: calls to the faulty part were shed"
            ));
        }
        let offered = sum(&s.offered, &span);
        let share = if offered > 0 {
            bad as f64 / offered as f64
        } else {
            0.0
        };
        if share > 0.01 {
            let kind = f.kind.to_string();
            let what = if kind.contains("spike") {
                "for a surge: load shed at the door, sized to capacity, refuses it in microseconds"
            } else if kind.contains("slowdown") || kind.contains("pause") {
                "for a slow dependency: timeouts on calls to it, a breaker, a fallback where a route can degrade"
            } else {
                "for a failing dependency: a breaker or a fallback on calls to it, replicas behind a balancer"
            };
            items.push(format!(
                "{:.1}% of the requests offered in the span were bad, on {} route(s): review the protection against this fault on {} (the run shows the cost, not which protection is in place; {what})",
                100.0 * share,
                routes_affected.len(),
                f.target
            ));
        }
        if r.detections.get(k).is_none() {
            items.push("add an SLO: no alert could page for this incident".into());
        } else if r.detections.get(k).is_some_and(|d| d.detected_s.is_none()) && failed > 0 {
            items.push(format!(
                "no page fired although {failed} requests failed: review the SLO and its alert windows"
            ));
        }
        if last && r.metastable {
            items.push(
                "the system never recovered after the fault: remove what sustains the overload (retries, unbounded queues, work for callers that gave up)".into(),
            );
        }
        out.push(Incident {
            fault: k,
            title: format!("{} on {}", f.kind, f.target),
            from_s: from,
            to_s: to,
            timeline,
            failed,
            degraded,
            offered,
            budget_burned_pct: budget.filter(|&b| b > 0.0).map(|b| 100.0 * bad as f64 / b),
            routes_affected,
            factors,
            action_items: items,
        });
    }
    out
}
