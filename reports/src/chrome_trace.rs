//! Traced requests as Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and
//! chrome://tracing open: one process per request, one thread per lane (the request's own,
//! one per call and one per hedge), a complete event (`"ph": "X"`) per span, times in
//! virtual microseconds.

use serde_json::{Value, json};
use sim_models::trace::Trace;

/// The trace-event JSON of `trace`, ending in a newline.
pub fn chrome_trace(trace: &Trace) -> String {
    let mut events: Vec<Value> = Vec::new();
    for (lane, (request, name)) in trace.lanes.iter().enumerate() {
        if let Some(client) = name.strip_prefix("request from ") {
            events.push(json!({
                "name": "process_name", "ph": "M", "pid": request,
                "args": {"name": format!("request {request} ({client})")},
            }));
        }
        events.push(json!({
            "name": "thread_name", "ph": "M", "pid": request, "tid": lane,
            "args": {"name": name},
        }));
    }
    let mut spans: Vec<_> = trace.spans.iter().collect();
    // Per lane, outer spans before the spans they hold.
    spans.sort_by(|a, b| {
        (a.request, a.lane)
            .cmp(&(b.request, b.lane))
            .then(a.start_s.total_cmp(&b.start_s))
            .then(b.end_s.total_cmp(&a.end_s))
    });
    for s in spans {
        events.push(json!({
            "name": s.name, "cat": "simctl", "ph": "X",
            "ts": micros(nanos(s.start_s)), "dur": micros(nanos(s.end_s) - nanos(s.start_s)),
            "pid": s.request, "tid": s.lane,
        }));
    }
    let doc = json!({"displayTimeUnit": "ms", "traceEvents": events});
    let mut text = serde_json::to_string(&doc).expect("a trace serialises");
    text.push('\n');
    text
}

/// Virtual seconds as whole nanoseconds (what the run counts in).
fn nanos(s: f64) -> i64 {
    (s * 1e9).round() as i64
}

/// Nanoseconds as microseconds, written in the shortest form that reads back exactly.
fn micros(ns: i64) -> f64 {
    ns as f64 / 1e3
}
