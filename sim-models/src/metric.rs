//! The metric registry: every number of a run that a sweep, the compare table, the report
//! or an experiment's probe can name, with its unit and how to read it from a
//! [`RunResult`]. One list, so a metric added here is a sweep column, a `--metric` of
//! `compare`, a probe, everywhere, under the same name as in the run's JSON.
//!
//! Names:
//! - run-wide metrics ([`RUN`]): `availability`, `p99_ms`, `recovery_s`, ...;
//! - per service ([`SERVICE`]): `services.NAME.FIELD`, e.g. `services.db.utilization`;
//! - per client, i.e. per route ([`CLIENT`]): `clients.NAME.FIELD`, e.g.
//!   `clients.shoppers.p99_ms`.
//!
//! A metric with no value in a run (`recovery_s` of a metastable run, a service the run
//! does not have) reads `None`: it is missing, never zero.

use crate::recovery::Verdict;
use crate::result::{ClientResult, RunResult, ServiceResult};

/// What a metric's number counts, for formatting and for readers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Events, requests, attempts.
    Count,
    /// A share in [0, 1].
    Ratio,
    /// Per second of virtual time.
    PerSecond,
    Millis,
    Seconds,
    /// A multiplier (amplification).
    Factor,
    /// 1 or 0: whether something holds.
    Flag,
}

impl Unit {
    /// The value as a table shows it.
    pub fn format(self, x: f64) -> String {
        match self {
            Unit::Count => format!("{x:.0}"),
            Unit::Ratio => format!("{x:.4}"),
            Unit::PerSecond | Unit::Seconds => format!("{x:.1}"),
            Unit::Millis => millis(x),
            Unit::Factor => format!("{x:.2}"),
            Unit::Flag => format!("{x:.0}"),
        }
    }
}

/// Milliseconds with the precision that suits their size.
pub fn millis(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.3}")
    } else {
        format!("{x:.4}")
    }
}

/// A named number read from some part of a run (`T`: the run, a service, a client).
pub struct Field<T> {
    pub name: &'static str,
    pub unit: Unit,
    pub about: &'static str,
    pub read: fn(&T) -> Option<f64>,
}

/// A run-wide metric.
pub type Metric = Field<RunResult>;

macro_rules! field {
    ($name:literal, $unit:ident, $about:literal, |$r:ident| $e:expr) => {
        Field {
            name: $name,
            unit: Unit::$unit,
            about: $about,
            read: |$r| $e,
        }
    };
}

/// The run-wide metrics, in the order of a sweep's columns. Totals count requests issued
/// after warm-up.
pub const RUN: &[Metric] = &[
    field!("offered", Count, "requests issued", |r| Some(
        r.totals.offered as f64
    )),
    field!("succeeded", Count, "requests answered Ok", |r| Some(
        r.totals.succeeded as f64
    )),
    field!("degraded", Count, "requests answered by a fallback", |r| {
        Some(r.totals.degraded as f64)
    }),
    field!(
        "failed_timeout",
        Count,
        "requests failed by a timeout or deadline",
        |r| Some(r.totals.failed.timeout as f64)
    ),
    field!(
        "failed_rejected",
        Count,
        "requests rejected (admission, backpressure)",
        |r| Some(r.totals.failed.rejected as f64)
    ),
    field!(
        "failed_error",
        Count,
        "requests failed with an error",
        |r| Some(r.totals.failed.error as f64)
    ),
    field!(
        "failed_circuit_open",
        Count,
        "requests refused by an open breaker",
        |r| Some(r.totals.failed.circuit_open as f64)
    ),
    field!(
        "availability",
        Ratio,
        "succeeded / finished requests",
        |r| Some(r.totals.availability)
    ),
    field!("goodput_rps", PerSecond, "successes per second", |r| Some(
        r.totals.goodput_rps
    )),
    field!("p50_ms", Millis, "median latency of successes", |r| Some(
        r.totals.latency_ms.p50
    )),
    field!(
        "p90_ms",
        Millis,
        "90th percentile latency of successes",
        |r| Some(r.totals.latency_ms.p90)
    ),
    field!(
        "p99_ms",
        Millis,
        "99th percentile latency of successes",
        |r| Some(r.totals.latency_ms.p99)
    ),
    field!(
        "p999_ms",
        Millis,
        "99.9th percentile latency of successes",
        |r| Some(r.totals.latency_ms.p999)
    ),
    field!(
        "retry_amplification",
        Factor,
        "attempts per expected visit",
        |r| Some(r.retry_amplification)
    ),
    field!(
        "retry_amplification_peak",
        Factor,
        "highest per-window retry amplification",
        |r| Some(r.retry_amplification_peak)
    ),
    field!(
        "wasted_work_s",
        Seconds,
        "worker time spent on answers nobody waited for",
        |r| Some(r.wasted_work_s)
    ),
    field!(
        "duplicate_side_effects",
        Count,
        "side effects applied more than once",
        |r| Some(r.duplicate_side_effects as f64)
    ),
    field!("retries", Count, "retries sent", |r| Some(r.retries as f64)),
    field!(
        "recovery_s",
        Seconds,
        "time from the last fault's end to goodput back near baseline",
        |r| r.recovery_s
    ),
    field!(
        "metastable",
        Flag,
        "the run did not recover after its faults (none if undetermined)",
        |r| verdict_is(r, Verdict::Metastable)
    ),
    field!(
        "collapsed",
        Flag,
        "the run collapsed without a fault (none if undetermined)",
        |r| verdict_is(r, Verdict::CollapsedWithoutFault)
    ),
    field!(
        "undetermined",
        Flag,
        "the run could not decide its recovery verdict",
        |r| Some(f64::from(u8::from(
            r.recovery_verdict == Verdict::Undetermined
        )))
    ),
    field!("events", Count, "events the engine handled", |r| Some(
        r.events as f64
    )),
];

/// 1 if the run's verdict is `v`, 0 if it is another determined verdict, `None` if it is
/// undetermined (neither).
fn verdict_is(r: &RunResult, v: Verdict) -> Option<f64> {
    (r.recovery_verdict != Verdict::Undetermined)
        .then(|| f64::from(u8::from(r.recovery_verdict == v)))
}

/// Per-service metrics (`services.NAME.FIELD`), all instances of the service together.
pub const SERVICE: &[Field<ServiceResult>] = &[
    field!("attempts", Count, "attempts that arrived", |s| Some(
        s.attempts as f64
    )),
    field!(
        "rejected",
        Count,
        "attempts refused by admission",
        |s| Some(s.rejected as f64)
    ),
    field!("refused", Count, "attempts refused while down", |s| Some(
        s.refused as f64
    )),
    field!(
        "dropped",
        Count,
        "attempts dropped (full queue, expired deadline, crash)",
        |s| Some(s.dropped as f64)
    ),
    field!(
        "errors",
        Count,
        "attempts answered with an error",
        |s| Some(s.errors as f64)
    ),
    field!("completed", Count, "attempts answered Ok", |s| Some(
        s.completed as f64
    )),
    field!(
        "retry_amplification",
        Factor,
        "attempts per expected visit",
        |s| Some(s.retry_amplification)
    ),
    field!(
        "wasted_work_s",
        Seconds,
        "worker time on answers nobody waited for",
        |s| Some(s.wasted_work_s)
    ),
    field!(
        "duplicate_side_effects",
        Count,
        "side effects applied more than once",
        |s| Some(s.duplicate_side_effects as f64)
    ),
    field!("wait_mean_ms", Millis, "mean queue wait", |s| Some(
        s.wait_mean_ms
    )),
    field!("p50_ms", Millis, "median time in the service", |s| Some(
        s.latency_ms.p50
    )),
    field!(
        "p99_ms",
        Millis,
        "99th percentile time in the service",
        |s| Some(s.latency_ms.p99)
    ),
    field!(
        "utilization",
        Ratio,
        "busy workers over workers, time-averaged",
        |s| Some(s.utilization)
    ),
    field!(
        "queue_depth_mean",
        Count,
        "attempts waiting, time-averaged",
        |s| Some(s.queue_depth_mean)
    ),
    field!(
        "queue_depth_max",
        Count,
        "most attempts waiting at once",
        |s| Some(s.queue_depth_max as f64)
    ),
    field!(
        "in_flight_mean",
        Count,
        "attempts queued or in service, time-averaged",
        |s| Some(s.in_flight_mean)
    ),
    field!(
        "in_flight_max",
        Count,
        "most attempts queued or in service at once",
        |s| Some(s.in_flight_max as f64)
    ),
    field!(
        "arrival_rps",
        PerSecond,
        "attempts arriving per second",
        |s| Some(s.arrival_rps)
    ),
];

/// Per-client (per-route) metrics (`clients.NAME.FIELD`).
pub const CLIENT: &[Field<ClientResult>] = &[
    field!("offered", Count, "requests issued", |c| Some(
        c.totals.offered as f64
    )),
    field!("succeeded", Count, "requests answered Ok", |c| Some(
        c.totals.succeeded as f64
    )),
    field!("failed", Count, "requests failed, any reason", |c| Some(
        c.totals.failed.total() as f64
    )),
    field!(
        "availability",
        Ratio,
        "succeeded / finished requests",
        |c| Some(c.totals.availability)
    ),
    field!("goodput_rps", PerSecond, "successes per second", |c| Some(
        c.totals.goodput_rps
    )),
    field!("p50_ms", Millis, "median latency of successes", |c| Some(
        c.totals.latency_ms.p50
    )),
    field!(
        "p99_ms",
        Millis,
        "99th percentile latency of successes",
        |c| Some(c.totals.latency_ms.p99)
    ),
    field!(
        "p999_ms",
        Millis,
        "99.9th percentile latency of successes",
        |c| Some(c.totals.latency_ms.p999)
    ),
];

/// A metric named in a command line or a file, resolved against the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricRef {
    Run(usize),
    Service { name: String, field: usize },
    Client { name: String, field: usize },
}

impl MetricRef {
    /// Resolves `name` (`availability`, `services.db.utilization`, `clients.web.p99_ms`).
    /// Whether the service or client exists is the caller's check ([`MetricRef::check`]);
    /// an unknown field is an error with the names it could have meant.
    pub fn parse(name: &str) -> Result<MetricRef, String> {
        if let Some(i) = RUN.iter().position(|m| m.name == name) {
            return Ok(MetricRef::Run(i));
        }
        // `services.NAME.FIELD`: the name may hold dots, the field does not.
        let (group, rest) = name.split_once('.').unwrap_or((name, ""));
        let (who, field) = match rest.rsplit_once('.') {
            Some((w, f)) => (Some(w), Some(f)),
            None => (None, None),
        };
        let group = Some(group);
        let fields = |names: Vec<&'static str>, who: &str, field: &str, group: &str| {
            format!(
                "unknown {group} metric `{field}` (of `{who}`); known: {}",
                names.join(", ")
            )
        };
        match (group, who, field) {
            (Some("services"), Some(who), Some(f)) if !who.is_empty() => SERVICE
                .iter()
                .position(|m| m.name == f)
                .map(|field| MetricRef::Service {
                    name: who.to_string(),
                    field,
                })
                .ok_or_else(|| fields(SERVICE.iter().map(|m| m.name).collect(), who, f, "service")),
            (Some("clients"), Some(who), Some(f)) if !who.is_empty() => CLIENT
                .iter()
                .position(|m| m.name == f)
                .map(|field| MetricRef::Client {
                    name: who.to_string(),
                    field,
                })
                .ok_or_else(|| fields(CLIENT.iter().map(|m| m.name).collect(), who, f, "client")),
            _ => {
                let known: Vec<&str> = RUN.iter().map(|m| m.name).collect();
                let hint = crate::diagnostic::nearest(name, &known)
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                Err(format!(
                    "unknown metric `{name}`{hint}: a run metric ({}), `services.NAME.FIELD` or `clients.NAME.FIELD`",
                    RUN.iter().map(|m| m.name).collect::<Vec<_>>().join(", ")
                ))
            }
        }
    }

    /// Checks that the service or client it names is in the scenario.
    pub fn check(&self, s: &crate::scenario::Scenario) -> Result<(), String> {
        match self {
            MetricRef::Run(_) => Ok(()),
            MetricRef::Service { name, .. } => match s.service_index(name) {
                Some(_) => Ok(()),
                None => Err(format!(
                    "`{}`: no service `{name}` in {}",
                    self.name(),
                    s.name
                )),
            },
            MetricRef::Client { name, .. } => match s.clients.iter().any(|c| &c.name == name) {
                true => Ok(()),
                false => Err(format!(
                    "`{}`: no client `{name}` in {}",
                    self.name(),
                    s.name
                )),
            },
        }
    }

    /// Its full name.
    pub fn name(&self) -> String {
        match self {
            MetricRef::Run(i) => RUN[*i].name.to_string(),
            MetricRef::Service { name, field } => {
                format!("services.{name}.{}", SERVICE[*field].name)
            }
            MetricRef::Client { name, field } => format!("clients.{name}.{}", CLIENT[*field].name),
        }
    }

    pub fn unit(&self) -> Unit {
        match self {
            MetricRef::Run(i) => RUN[*i].unit,
            MetricRef::Service { field, .. } => SERVICE[*field].unit,
            MetricRef::Client { field, .. } => CLIENT[*field].unit,
        }
    }

    /// Its value in `r`; `None` when the run has no such value.
    pub fn read(&self, r: &RunResult) -> Option<f64> {
        match self {
            MetricRef::Run(i) => (RUN[*i].read)(r),
            MetricRef::Service { name, field } => r
                .services
                .iter()
                .find(|s| &s.name == name)
                .and_then(SERVICE[*field].read),
            MetricRef::Client { name, field } => r
                .clients
                .iter()
                .find(|c| &c.name == name)
                .and_then(CLIENT[*field].read),
        }
    }
}

/// Every run-wide metric, as references.
pub fn run_metrics() -> impl Iterator<Item = MetricRef> {
    (0..RUN.len()).map(MetricRef::Run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for (list, what) in [
            (RUN.iter().map(|m| m.name).collect::<Vec<_>>(), "run"),
            (SERVICE.iter().map(|m| m.name).collect(), "service"),
            (CLIENT.iter().map(|m| m.name).collect(), "client"),
        ] {
            let mut sorted = list.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "a {what} metric name repeats");
        }
        for name in [
            "availability",
            "services.db.utilization",
            "clients.web.p99_ms",
        ] {
            assert_eq!(MetricRef::parse(name).unwrap().name(), name);
        }
        // A service name may hold dots: the field is after the last one.
        let r = MetricRef::parse("services.db.eu.queue_depth_max").unwrap();
        assert_eq!(
            r,
            MetricRef::Service {
                name: "db.eu".into(),
                field: 14
            }
        );
    }

    #[test]
    fn unknown_names_say_what_is_known() {
        let e = MetricRef::parse("availabilty").unwrap_err();
        assert!(e.contains("did you mean `availability`"), "{e}");
        let e = MetricRef::parse("services.db.utilisation").unwrap_err();
        assert!(e.contains("utilization"), "{e}");
        assert!(MetricRef::parse("services..p99_ms").is_err());
    }

    #[test]
    fn formats_by_unit() {
        assert_eq!(Unit::Ratio.format(0.99999), "1.0000");
        assert_eq!(Unit::Millis.format(4.567), "4.567");
        assert_eq!(Unit::Millis.format(456.78), "456.8");
        assert_eq!(Unit::Factor.format(3.456), "3.46");
    }
}
