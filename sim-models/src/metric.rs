//! The metric registry: every number of a run that a sweep, the compare table, the report
//! or an experiment's probe can name, with its unit and how to read it from a
//! [`RunResult`]. One list, so a metric added here is a sweep column, a `--metric` of
//! `compare`, a probe, everywhere, under the same name as in the run's JSON.
//!
//! Names:
//! - run-wide metrics ([`RUN`]): `availability`, `p99_ms`, `recovery_s`, ...;
//! - per service ([`SERVICE`]): `services.NAME.FIELD`, e.g. `services.db.utilization`;
//! - per client, i.e. per route ([`CLIENT`]): `clients.NAME.FIELD`, e.g.
//!   `clients.shoppers.p99_ms`;
//! - per cache ([`CACHE`]): `caches.NAME.FIELD`, e.g. `caches.redis.hit_ratio`;
//! - per broker ([`BROKER`]): `brokers.NAME.FIELD`, e.g. `brokers.jobs.lag_max_s`;
//! - per database ([`DATABASE`]): `databases.NAME.FIELD`, e.g. `databases.pg.lost_writes`.
//! - per config ([`CONFIG`]): `configs.NAME.FIELD`, e.g. `configs.flags.blast_radius`.
//! - per token auth ([`TOKEN_AUTH`]): `token_auths.NAME.FIELD`, e.g.
//!   `token_auths.gw.auth_peak_ratio`.
//!
//! A metric with no value in a run (`recovery_s` of a metastable run, a service the run
//! does not have) reads `None`: it is missing, never zero.

use crate::recovery::Verdict;
use crate::result::{
    BrokerResult, CacheResult, ClientResult, ConfigResult, DatabaseResult, PushResult, RunResult,
    ServiceResult, TokenAuthResult,
};

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

/// Per-cache metrics (`caches.NAME.FIELD`), after warm-up.
pub const CACHE: &[Field<CacheResult>] = &[
    field!("lookups", Count, "lookups answered", |c| Some(
        c.lookups as f64
    )),
    field!("hits", Count, "lookups answered from the cache", |c| Some(
        c.hits as f64
    )),
    field!("hit_ratio", Ratio, "hits over lookups", |c| Some(
        c.hit_ratio
    )),
    field!(
        "backend_fetches",
        Count,
        "fetches sent to the backend",
        |c| Some(c.backend_fetches as f64)
    ),
    field!("failed_fetches", Count, "fetches that failed", |c| Some(
        c.failed_fetches as f64
    )),
    field!(
        "coalesced",
        Count,
        "misses that waited on a fetch in flight (single-flight)",
        |c| Some(c.coalesced as f64)
    ),
    field!("evictions", Count, "keys evicted for room", |c| Some(
        c.evictions as f64
    )),
    field!("expirations", Count, "keys found expired", |c| Some(
        c.expirations as f64
    )),
];

/// Per-broker metrics (`brokers.NAME.FIELD`), over all its consumer groups and the whole
/// run (so that conservation holds exactly).
pub const BROKER: &[Field<BrokerResult>] = &[
    field!(
        "published",
        Count,
        "messages put on its groups' queues",
        |b| Some(sum(b, |g| g.published))
    ),
    field!("acked", Count, "messages acked", |b| Some(
        sum(b, |g| g.acked)
    )),
    field!(
        "rejected",
        Count,
        "publishes refused by a full queue",
        |b| Some(b.rejected as f64)
    ),
    field!(
        "dropped",
        Count,
        "messages dropped from the head of a full queue",
        |b| Some(sum(b, |g| g.dropped))
    ),
    field!(
        "dead_lettered",
        Count,
        "messages whose last allowed delivery failed",
        |b| Some(sum(b, |g| g.dead_lettered))
    ),
    field!(
        "redeliveries",
        Count,
        "deliveries beyond the first of a message",
        |b| Some(sum(b, |g| g.redeliveries))
    ),
    field!(
        "duplicates_processed",
        Count,
        "handler completions beyond the first of a message",
        |b| Some(sum(b, |g| g.duplicates_processed))
    ),
    field!(
        "backlog_max",
        Count,
        "most ready messages in one group at a window end",
        |b| b
            .groups
            .iter()
            .flat_map(|g| g.series.backlog.iter())
            .max()
            .map(|&m| m as f64)
    ),
    field!(
        "lag_max_s",
        Seconds,
        "oldest ready message's greatest age at a window end",
        |b| b
            .groups
            .iter()
            .flat_map(|g| g.series.lag_s.iter())
            .copied()
            .reduce(f64::max)
    ),
    field!(
        "publish_to_ack_p99_ms",
        Millis,
        "99th percentile from publish to ack",
        |b| b
            .groups
            .iter()
            .map(|g| g.publish_to_ack_ms.p99)
            .reduce(f64::max)
    ),
];

/// Per-database metrics (`databases.NAME.FIELD`): operations after warm-up, failovers and
/// lost writes over the whole run.
pub const DATABASE: &[Field<DatabaseResult>] = &[
    field!("reads", Count, "reads answered", |d| Some(d.reads as f64)),
    field!("writes", Count, "writes acknowledged", |d| Some(
        d.writes as f64
    )),
    field!(
        "failed_writes",
        Count,
        "writes failed (no primary, or lost with it)",
        |d| Some(d.failed_writes as f64)
    ),
    field!(
        "lost_writes",
        Count,
        "acknowledged writes the promoted replica lacked",
        |d| Some(d.lost_writes as f64)
    ),
    field!(
        "stale_reads",
        Count,
        "replica reads missing the key's latest acknowledged write",
        |d| Some(d.stale_reads as f64)
    ),
    field!("stale_read_ratio", Ratio, "stale reads over reads", |d| {
        Some(d.stale_read_ratio)
    }),
    field!(
        "ryw_violations",
        Count,
        "reads that missed the request's own write",
        |d| Some(d.ryw_violations as f64)
    ),
    field!("failovers", Count, "primaries replaced", |d| Some(
        d.failovers.len() as f64
    )),
    field!(
        "failover_s",
        Seconds,
        "mean time from a primary's crash to a promotion",
        |d| d.failover_s
    ),
    field!(
        "replication_lag_ms",
        Millis,
        "mean time from commit to replay on a replica",
        |d| Some(d.replication_lag_ms)
    ),
    field!(
        "write_mean_ms",
        Millis,
        "mean time to acknowledge a write",
        |d| Some(d.write_latency_ms.mean)
    ),
    field!(
        "write_p99_ms",
        Millis,
        "99th percentile time to acknowledge a write",
        |d| Some(d.write_latency_ms.p99)
    ),
    field!(
        "read_p99_ms",
        Millis,
        "99th percentile read time",
        |d| Some(d.read_latency_ms.p99)
    ),
];

/// Per-config metrics (`configs.NAME.FIELD`), over the whole run; the times are of its
/// first push that was rolled back.
pub const CONFIG: &[Field<ConfigResult>] = &[
    field!(
        "blast_radius",
        Ratio,
        "largest share of its instances on a bad version at once",
        |c| Some(c.blast_radius)
    ),
    field!(
        "affected_share",
        Ratio,
        "share of its services' attempts a bad version failed, while one was held",
        |c| Some(c.affected_share)
    ),
    field!(
        "failed_by_config",
        Count,
        "attempts a bad version failed",
        |c| Some(c.failed_by_config as f64)
    ),
    field!(
        "time_to_rollback_s",
        Seconds,
        "from the push to its rollback",
        |c| rolled_back(c).and_then(|p| p.time_to_rollback_s)
    ),
    field!(
        "time_to_clean_s",
        Seconds,
        "from the push to the last instance off it, after its rollback",
        |c| rolled_back(c).and_then(|p| p.time_to_clean_s)
    ),
];

/// A config's first push that was rolled back.
fn rolled_back(c: &ConfigResult) -> Option<&PushResult> {
    c.pushes.iter().find(|p| p.rollback_s.is_some())
}

/// Per-token-auth metrics (`token_auths.NAME.FIELD`), after warm-up.
pub const TOKEN_AUTH: &[Field<TokenAuthResult>] = &[
    field!("requests", Count, "requests that arrived", |t| Some(
        t.requests as f64
    )),
    field!(
        "refreshes",
        Count,
        "token refreshes sent to the auth service",
        |t| Some(t.refreshes as f64)
    ),
    field!(
        "refreshes_on_expiry",
        Count,
        "refreshes of an expired token (the request waits)",
        |t| Some(t.refreshes_on_expiry as f64)
    ),
    field!(
        "refreshes_ahead",
        Count,
        "background refreshes ahead of expiry",
        |t| Some(t.refreshes_ahead as f64)
    ),
    field!(
        "refresh_failures",
        Count,
        "refreshes that failed",
        |t| Some(t.refresh_failures as f64)
    ),
    field!(
        "introspections",
        Count,
        "introspection calls to the auth service",
        |t| Some(t.introspections as f64)
    ),
    field!(
        "failed_by_auth",
        Count,
        "requests failed by a failed refresh or introspection",
        |t| Some(t.failed_by_auth as f64)
    ),
    field!("refresh_peak", Count, "most refreshes in one window", |t| {
        Some(t.refresh_peak as f64)
    }),
    field!(
        "refresh_mean",
        Count,
        "mean refreshes per window (the steady rate)",
        |t| Some(t.refresh_mean)
    ),
    field!(
        "auth_peak_ratio",
        Factor,
        "most refreshes in one window over the mean per window",
        |t| t.auth_peak_ratio
    ),
];

/// A count summed over a broker's groups.
fn sum(b: &BrokerResult, count: fn(&crate::result::BrokerGroupResult) -> u64) -> f64 {
    b.groups.iter().map(count).sum::<u64>() as f64
}

/// The parts of a run that have metrics of their own, named `PREFIX.NAME.FIELD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Service,
    Client,
    Cache,
    Broker,
    Database,
    Config,
    TokenAuth,
}

impl Part {
    const ALL: [Part; 7] = [
        Part::Service,
        Part::Client,
        Part::Cache,
        Part::Broker,
        Part::Database,
        Part::Config,
        Part::TokenAuth,
    ];

    /// The first segment of its metrics' names.
    pub fn prefix(self) -> &'static str {
        match self {
            Part::Service => "services",
            Part::Client => "clients",
            Part::Cache => "caches",
            Part::Broker => "brokers",
            Part::Database => "databases",
            Part::Config => "configs",
            Part::TokenAuth => "token_auths",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Part::Service => "service",
            Part::Client => "client",
            Part::Cache => "cache",
            Part::Broker => "broker",
            Part::Database => "database",
            Part::Config => "config",
            Part::TokenAuth => "token auth",
        }
    }

    /// Its fields' names and units, in registry order.
    fn fields(self) -> Vec<(&'static str, Unit)> {
        fn of<T>(list: &[Field<T>]) -> Vec<(&'static str, Unit)> {
            list.iter().map(|f| (f.name, f.unit)).collect()
        }
        match self {
            Part::Service => of(SERVICE),
            Part::Client => of(CLIENT),
            Part::Cache => of(CACHE),
            Part::Broker => of(BROKER),
            Part::Database => of(DATABASE),
            Part::Config => of(CONFIG),
            Part::TokenAuth => of(TOKEN_AUTH),
        }
    }

    /// Field `field` of the part called `name` in `r`.
    fn read(self, r: &RunResult, name: &str, field: usize) -> Option<f64> {
        fn find<T>(list: &[T], named: impl Fn(&T) -> bool) -> Option<&T> {
            list.iter().find(|x| named(x))
        }
        match self {
            Part::Service => find(&r.services, |x| x.name == name).and_then(SERVICE[field].read),
            Part::Client => find(&r.clients, |x| x.name == name).and_then(CLIENT[field].read),
            Part::Cache => find(&r.caches, |x| x.name == name).and_then(CACHE[field].read),
            Part::Broker => find(&r.brokers, |x| x.name == name).and_then(BROKER[field].read),
            Part::Database => find(&r.databases, |x| x.name == name).and_then(DATABASE[field].read),
            Part::Config => find(&r.configs, |x| x.name == name).and_then(CONFIG[field].read),
            Part::TokenAuth => {
                find(&r.token_auths, |x| x.name == name).and_then(TOKEN_AUTH[field].read)
            }
        }
    }

    /// Whether the scenario has a part of this kind called `name`.
    fn exists(self, s: &crate::scenario::Scenario, name: &str) -> bool {
        match self {
            Part::Service => s.service_index(name).is_some(),
            Part::Client => s.clients.iter().any(|c| c.name == name),
            Part::Cache => s.cache_index(name).is_some(),
            Part::Broker => s.broker_index(name).is_some(),
            Part::Database => s.database_index(name).is_some(),
            Part::Config => s.configs.iter().any(|c| c.name == name),
            Part::TokenAuth => s.token_auth_index(name).is_some(),
        }
    }
}

/// A metric named in a command line or a file, resolved against the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricRef {
    Run(usize),
    /// Field `field` (an index in the part's list) of the part called `name`.
    Of {
        part: Part,
        name: String,
        field: usize,
    },
}

impl MetricRef {
    /// Resolves `name` (`availability`, `services.db.utilization`, `clients.web.p99_ms`,
    /// `caches.redis.hit_ratio`). Whether the part exists is the caller's check
    /// ([`MetricRef::check`]); an unknown field is an error listing the known ones.
    pub fn parse(name: &str) -> Result<MetricRef, String> {
        if let Some(i) = RUN.iter().position(|m| m.name == name) {
            return Ok(MetricRef::Run(i));
        }
        // `services.NAME.FIELD`: the name may hold dots, the field does not.
        let (prefix, rest) = name.split_once('.').unwrap_or((name, ""));
        let part = Part::ALL.into_iter().find(|p| p.prefix() == prefix);
        match (part, rest.rsplit_once('.')) {
            (Some(part), Some((who, f))) if !who.is_empty() => {
                let fields = part.fields();
                match fields.iter().position(|(n, _)| *n == f) {
                    Some(field) => Ok(MetricRef::Of {
                        part,
                        name: who.to_string(),
                        field,
                    }),
                    None => Err(format!(
                        "unknown {} metric `{f}` (of `{who}`); known: {}",
                        part.noun(),
                        fields
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
            _ => {
                let known: Vec<&str> = RUN.iter().map(|m| m.name).collect();
                let hint = crate::diagnostic::nearest(name, &known)
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                let parts: Vec<String> = Part::ALL
                    .iter()
                    .map(|p| format!("`{}.NAME.FIELD`", p.prefix()))
                    .collect();
                Err(format!(
                    "unknown metric `{name}`{hint}: a run metric ({}), or {}",
                    known.join(", "),
                    parts.join(", ")
                ))
            }
        }
    }

    /// Checks that the part it names is in the scenario.
    pub fn check(&self, s: &crate::scenario::Scenario) -> Result<(), String> {
        match self {
            MetricRef::Of { part, name, .. } if !part.exists(s, name) => Err(format!(
                "`{}`: no {} `{name}` in {}",
                self.name(),
                part.noun(),
                s.name
            )),
            _ => Ok(()),
        }
    }

    /// Its full name.
    pub fn name(&self) -> String {
        match self {
            MetricRef::Run(i) => RUN[*i].name.to_string(),
            MetricRef::Of { part, name, field } => {
                format!("{}.{name}.{}", part.prefix(), part.fields()[*field].0)
            }
        }
    }

    pub fn unit(&self) -> Unit {
        match self {
            MetricRef::Run(i) => RUN[*i].unit,
            MetricRef::Of { part, field, .. } => part.fields()[*field].1,
        }
    }

    /// Its value in `r`; `None` when the run has no such value.
    pub fn read(&self, r: &RunResult) -> Option<f64> {
        match self {
            MetricRef::Run(i) => (RUN[*i].read)(r),
            MetricRef::Of { part, name, field } => part.read(r, name, *field),
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
            (CACHE.iter().map(|m| m.name).collect(), "cache"),
            (BROKER.iter().map(|m| m.name).collect(), "broker"),
            (DATABASE.iter().map(|m| m.name).collect(), "database"),
            (CONFIG.iter().map(|m| m.name).collect(), "config"),
            (TOKEN_AUTH.iter().map(|m| m.name).collect(), "token auth"),
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
            MetricRef::Of {
                part: Part::Service,
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
