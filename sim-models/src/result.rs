//! What a run reports, named as DESIGN.md's metrics. Value types only: `reports` renders
//! them, `simctl` writes them. Deserialize too, so saved results can be re-rendered.

use serde::{Deserialize, Serialize};

mod config;
mod labels;
mod lazy_series;
pub(crate) mod series_store;
pub use config::{ConfigResult, ConfigSeries, PushResult};
pub use labels::{FaultClass, FaultLabel, StopKind, Stopped};
pub use lazy_series::{ClientCount, Count, LazySeries};

/// The outcome of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub scenario: String,
    pub seed: u64,
    pub scenario_hash: String,
    /// Why the run ended: `horizon`, `drained`, `event_budget`, or a guard's own words.
    pub stopped: Stopped,
    /// Virtual seconds simulated (the horizon unless a guard stopped the run earlier).
    pub simulated_s: f64,
    /// Requests issued before this many seconds are left out of every total below.
    pub warmup_s: f64,
    pub events: u64,
    /// Digest of the event trace: equal digests mean the same events at the same times.
    pub trace_digest: String,
    /// The command that replays this run.
    pub replay: String,
    #[serde(flatten)]
    pub totals: Totals,
    /// Attempts received by all services / attempts the offered load would cause without
    /// retries (1.0 means no amplification; the call graph's fan-out is divided out).
    pub retry_amplification: f64,
    /// Worker time, all services, spent on attempts nobody was waiting for any more: their
    /// caller, or a caller further up the chain, had given up.
    pub wasted_work_s: f64,
    /// Non-idempotent operations done more than once for one request.
    pub duplicate_side_effects: u64,
    /// Retries made by every caller (clients and services), from the end of the warm-up on
    /// (like `offered` and each service's `attempts`).
    pub retries: u64,
    /// Hedged attempts sent (extra attempts racing a slow one), from the end of the warm-up
    /// on.
    pub hedges: u64,
    /// Attempts failed at the caller by a `max_outstanding` limit, never sent (from the end
    /// of the warm-up on).
    pub backpressure_rejections: u64,
    /// Highest per-window retry amplification (windows with traffic).
    pub retry_amplification_peak: f64,
    /// The fault schedule, as run.
    pub faults: Vec<FaultWindow>,
    /// The actions rules took, in the order they started (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionWindow>,
    /// Circuit breaker transitions, per call site that has a breaker.
    pub breakers: Vec<BreakerReport>,
    /// Outlier ejections, per call site that ejects (absent when none happened).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ejections: Vec<EjectionReport>,
    /// Burn-rate alerts of the scenario's SLO (windows scaled to the horizon, as `note` says).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alerts: Option<crate::slo::AlertReport>,
    /// For each fault, when a page alert first fired for it (needs an SLO).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub detections: Vec<crate::slo::Detection>,
    /// The level goodput is judged against (see `recovery_verdict`): mean goodput before the
    /// first fault (after warm-up), or without faults its early level; null when there is
    /// none.
    pub baseline_goodput_rps: Option<f64>,
    /// Seconds from the end of the last fault until goodput stays within 5% of the baseline
    /// (moving average over `recovery_smoothing_s`); null unless `recovery_verdict` is
    /// `recovered`.
    pub recovery_s: Option<f64>,
    /// The moving-average span used for the verdict: at least 10 s, longer at low rates so
    /// that Poisson noise stays under a fifth of the 5% band.
    pub recovery_smoothing_s: Option<f64>,
    /// The run did not recover after its faults, with the evidence the rule asks for:
    /// `recovery_verdict` is `metastable`.
    pub metastable: bool,
    /// What the goodput series shows: `recovered` or `metastable` after faults, `steady` or
    /// `collapsed_without_fault` without, `undetermined` when it cannot tell
    /// (`sim_models::recovery` states the rule).
    pub recovery_verdict: crate::recovery::Verdict,
    /// The evidence for the verdict in words; for `undetermined`, what is missing and the
    /// horizon that would settle it.
    pub recovery_reason: String,
    /// When goodput left the band of its early level for good (only when collapsed without
    /// a fault).
    pub collapsed_at_s: Option<f64>,
    pub clients: Vec<ClientResult>,
    pub services: Vec<ServiceResult>,
    /// Per availability zone, where the scenario has zones (see the `zones` module).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<ZoneResult>,
    /// Each cache's lookups, hits and backend fetches (absent without caches).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caches: Vec<CacheResult>,
    /// Message brokers, in file order (absent when the scenario has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brokers: Vec<BrokerResult>,
    /// Replicated databases, in file order (absent when the scenario has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<DatabaseResult>,
    /// Configs and their rollouts, in file order (absent when the scenario has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<ConfigResult>,
    /// Token auths, in file order (absent when the scenario has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_auths: Vec<TokenAuthResult>,
    /// Each incident the remediation section's mix generated, with its truth, when it was
    /// detected and how it was classified (absent without a mix).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incident_log: Vec<crate::remediation::record::IncidentRecord>,
    /// What automated remediation did (absent without a `remediation` section).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<crate::remediation::report::RemediationReport>,
    /// Read as a [`Series`]; kept compact, and written to JSON without decoding it whole.
    pub series: LazySeries,
}

/// A replicated database: operations after the warm-up; failovers and lost writes over the
/// whole run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DatabaseResult {
    pub name: String,
    /// Read replicas besides the primary.
    pub replicas: u32,
    /// `Async`, `Sync(acks: k)` or `SemiSync(acks: k)`.
    pub replication: String,
    /// Reads answered, and writes acknowledged.
    pub reads: u64,
    pub writes: u64,
    /// Operations that found no node up for them (writes during a failover) or were lost
    /// with a crashed primary.
    pub failed_reads: u64,
    pub failed_writes: u64,
    /// Reads on a replica that had not replayed the latest acknowledged write of the key.
    pub stale_reads: u64,
    pub stale_read_ratio: f64,
    /// Reads by a request that wrote here before (of the key it wrote), and those that a
    /// replica answered without that write: read-your-writes violations.
    pub session_reads: u64,
    pub ryw_violations: u64,
    /// Acknowledged writes that the promoted replica had not received.
    pub lost_writes: u64,
    /// Mean time from a primary's crash to its replacement's promotion (null without a
    /// failover).
    pub failover_s: Option<f64>,
    pub failovers: Vec<FailoverReport>,
    /// From a write's commit until a replica replays it, over every (write, replica).
    pub replication_lag_ms: f64,
    pub replication_lag_max_ms: f64,
    /// At the database, from arrival to answer: reads answered, writes acknowledged.
    pub read_latency_ms: Latency,
    pub write_latency_ms: Latency,
    pub primary_at_end: String,
}

/// One failover: crash, detection, promotion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailoverReport {
    /// The crashed primary and the promoted replica (`NAME#i`).
    pub from: String,
    pub to: String,
    pub crashed_s: f64,
    pub detected_s: f64,
    pub promoted_s: f64,
    /// `promoted_s - crashed_s`: detection + promotion.
    pub failover_s: f64,
    pub lost_writes: u64,
}

/// A token auth's counts, from the end of the warm-up on (requests that arrived after it,
/// calls to the auth service started after it), and its refreshes per window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenAuthResult {
    pub name: String,
    /// Requests that arrived.
    pub requests: u64,
    /// Token refreshes sent to the auth service (`on_expiry + ahead`).
    pub refreshes: u64,
    /// Refreshes of an expired token, which the request waits for.
    pub refreshes_on_expiry: u64,
    /// Refreshes ahead of expiry, in the background.
    pub refreshes_ahead: u64,
    /// Refreshes that failed (the token is left as it was).
    pub refresh_failures: u64,
    /// Requests that waited for a refresh (their own or one in flight for their user).
    pub waited_for_refresh: u64,
    /// Introspection calls (one per request with `Introspect` validation).
    pub introspections: u64,
    pub introspection_failures: u64,
    /// Requests answered with an error because their refresh or introspection failed.
    pub failed_by_auth: u64,
    /// `RevokeTokens` faults (whole run).
    pub revocations: u64,
    /// Most refreshes started in one window after the warm-up, and when that window ended.
    pub refresh_peak: u64,
    pub refresh_peak_at_s: f64,
    /// Mean refreshes per window after the warm-up: the steady rate (over whole lifetimes
    /// each user refreshes once per lifetime, whether the herd is synchronized or not).
    pub refresh_mean: f64,
    /// `refresh_peak / refresh_mean`: 1 for perfectly spread refreshes; an expiry storm
    /// is a multiple. None without refreshes.
    pub auth_peak_ratio: Option<f64>,
    pub series: TokenAuthSeries,
}

/// A token auth's calls to the auth service per window (the whole run, warm-up included).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenAuthSeries {
    /// Refreshes started in the window.
    pub refreshes: Vec<u64>,
    /// Refreshes and introspections started in the window: the load on the auth service.
    pub auth_calls: Vec<u64>,
    /// Requests failed by auth in the window.
    pub failed_by_auth: Vec<u64>,
}

/// A cache's counts, from the end of the warm-up on (lookups that arrived after it;
/// fetches, evictions and expirations that happened after it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheResult {
    pub name: String,
    /// Keys looked up (`hits + misses`); lookups that found it down are not among them.
    pub lookups: u64,
    pub hits: u64,
    pub misses: u64,
    /// hits / lookups.
    pub hit_ratio: f64,
    /// Calls to the backend: one per miss, or one per key in flight with `single_flight`.
    pub backend_fetches: u64,
    /// Fetches that failed (nothing filled; the waiting lookups failed too).
    pub failed_fetches: u64,
    /// Misses that waited for a fetch already in flight (`single_flight`).
    pub coalesced: u64,
    /// Keys evicted to make room (least recently used).
    pub evictions: u64,
    /// Keys found expired when looked up (lazy expiry).
    pub expirations: u64,
    /// Flush faults (whole run).
    pub flushes: u64,
    /// Lookups refused or lost because it was down.
    pub unavailable: u64,
    pub keys_held_at_end: u64,
}

/// A cache's lookups per window (the whole run, warm-up included).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheSeries {
    pub name: String,
    pub lookups: Vec<u64>,
    pub hits: Vec<u64>,
    /// hits / lookups in the window (0 without lookups).
    pub hit_ratio: Vec<f64>,
    /// Backend fetches started in the window, and per second: the load the cache passes on.
    pub backend_fetches: Vec<u64>,
    pub backend_rps: Vec<f64>,
    pub coalesced: Vec<u64>,
}

/// Request outcomes at the clients, for the whole system or one client: requests issued
/// after the warm-up. Exactly `offered = succeeded + degraded + failed.total() +
/// in_flight_at_end`: every counted request has one final outcome, or is still unanswered
/// when the run ends (counted as such, not inferred).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Logical requests issued.
    pub offered: u64,
    pub succeeded: u64,
    /// Answered by a fallback: the user got something, but not what they asked for.
    pub degraded: u64,
    pub failed: Failed,
    /// Counted requests still unanswered when the run ended.
    pub in_flight_at_end: u64,
    /// succeeded / offered.
    pub availability: f64,
    /// Successes per virtual second (after warm-up).
    pub goodput_rps: f64,
    /// Client-side latency of successful requests, first send to final answer.
    pub latency_ms: Latency,
}

/// Failed requests by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    /// No answer in time (an attempt timeout after the last retry, or the deadline).
    pub timeout: u64,
    /// Refused by admission control or backpressure somewhere on the path.
    pub rejected: u64,
    /// An error answer: error faults, connection refused, failed downstream calls.
    pub error: u64,
    /// Refused by an open circuit breaker.
    pub circuit_open: u64,
}

/// Failed requests by reason, per window (the reasons of [`Failed`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailedSeries {
    pub timeout: Vec<u64>,
    pub rejected: Vec<u64>,
    pub error: Vec<u64>,
    pub circuit_open: Vec<u64>,
}

impl Failed {
    pub fn total(&self) -> u64 {
        self.timeout + self.rejected + self.error + self.circuit_open
    }
}

/// A circuit breaker's state changes on one call site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BreakerReport {
    pub caller: String,
    pub callee: String,
    /// Every transition: (virtual seconds, from, to).
    pub transitions: Vec<(f64, String, String)>,
}

/// The replicas one call site's outlier detection ejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EjectionReport {
    pub caller: String,
    pub callee: String,
    /// Every ejection, up to the first `balancer::outlier_ejection::MAX_STORED_EJECTIONS`:
    /// (virtual seconds ejected, virtual seconds back, replica instance `NAME#i`).
    pub ejections: Vec<(f64, f64, String)>,
}

/// A fault as scheduled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    pub kind: FaultLabel,
    pub target: String,
    pub start_s: f64,
    pub end_s: f64,
    /// Drawn by one of the scenario's `incidents` processes rather than written in its
    /// `faults` (left out when false, so results without incidents keep their bytes).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incident: bool,
}

/// An action a rule took: an effect started during the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionWindow {
    /// The rule that took it.
    pub rule: String,
    pub kind: String,
    pub target: String,
    /// What the rule saw when it decided (e.g. `queue_depth of api was 31.2 > 20 for 10s`).
    pub cause: String,
    /// When the rule decided, and when its effect started and ended (the end of the run if
    /// it lasts that long).
    pub decided_s: f64,
    pub start_s: f64,
    pub end_s: f64,
    /// Why the action did nothing, if it did nothing (a scale within its cooldown, a
    /// failover with no replica up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// A latency distribution in milliseconds. Percentiles come from an HDR histogram (3
/// significant digits); `mean` is exact.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Latency {
    /// A latency recorder and exact mean, in milliseconds.
    pub fn of(
        hist: &sim_core::stats::LatencyRecorder,
        exact: &sim_core::stats::Welford,
    ) -> Latency {
        let [p50, p90, p99, p999] = hist.usual_quantiles().map(|d| d.as_millis_f64());
        Latency {
            count: hist.count(),
            mean: exact.mean() / 1e6,
            p50,
            p90,
            p99,
            p999,
            max: hist.max().as_millis_f64(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientResult {
    pub name: String,
    pub target: String,
    /// The zone its traffic comes from, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Requests it would have issued after warm-up while its zone was out (not offered).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_issued: u64,
    #[serde(flatten)]
    pub totals: Totals,
    /// Burn-rate alerts of this route's own SLO, if it has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub alerts: Option<crate::slo::AlertReport>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub detections: Vec<crate::slo::Detection>,
}

/// One service, counting attempts that arrived after warm-up. Each counted attempt has
/// exactly one fate, so
/// `attempts = completed + failed + rejected + refused + dropped + deduplicated +
/// in_flight_at_end` exactly (`errors` are among `failed`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceResult {
    pub name: String,
    /// The zone of this instance, if its service has zones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    pub workers: u32,
    /// Attempts that arrived.
    pub attempts: u64,
    /// Attempts refused by admission control (queue full, rate limit, concurrency limit).
    pub rejected: u64,
    /// Attempts refused while the service was down (connection refused).
    pub refused: u64,
    /// Attempts dropped without an answer: expired deadline, black hole, lost in a crash,
    /// cancelled by their caller.
    pub dropped: u64,
    /// Of `dropped`: attempts the service stopped because their caller cancelled them
    /// (`honor_cancellation`), whether queued or in progress.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cancelled: u64,
    /// Attempts answered with an injected error (a part of `failed`).
    pub errors: u64,
    /// Attempts answered successfully.
    pub completed: u64,
    /// Attempts answered with a failure (errors, failed downstream calls).
    pub failed: u64,
    /// Attempts received / attempts expected from the offered load without retries.
    pub retry_amplification: f64,
    /// Side effects done again for a request that had already had them.
    pub duplicate_side_effects: u64,
    /// Repeated attempts answered from an idempotency record without doing the work.
    pub deduplicated: u64,
    /// Worker time spent on attempts nobody was waiting for any more.
    pub wasted_work_s: f64,
    /// Fraction of admitted attempts that found every worker busy and had to queue.
    pub waited_fraction: f64,
    /// Mean time admitted attempts spent queued before a worker took them (exact).
    pub wait_mean_ms: f64,
    /// Time from arrival to completion (queueing + service), per attempt.
    pub latency_ms: Latency,
    /// Busy worker time / (workers x time).
    pub utilization: f64,
    /// Time-averaged number waiting in the queue, and its maximum.
    pub queue_depth_mean: f64,
    pub queue_depth_max: u64,
    /// Counted attempts queued or in service when the run ended.
    pub in_flight_at_end: u64,
    /// Time-averaged number in the service (queued + in service), and its maximum.
    pub in_flight_mean: f64,
    pub in_flight_max: u64,
    /// Measured arrival rate (attempts per virtual second after warm-up).
    pub arrival_rps: f64,
}

/// One availability zone: its instances, and the requests of the clients in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ZoneResult {
    pub zone: String,
    /// Service instances placed in it (every instance built, `max_replicas` included).
    pub instances: u32,
    /// Clients in it, and their requests after warm-up.
    pub clients: u32,
    pub offered: u64,
    pub succeeded: u64,
    /// Requests its clients would have issued while it was out.
    pub not_issued: u64,
    /// succeeded / offered of its clients (1 when they offered nothing).
    pub availability: f64,
}

/// Time series, one entry per window of virtual time (columns, not rows, to keep JSON small).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub window_s: f64,
    /// End of each window, virtual seconds.
    pub t_s: Vec<f64>,
    pub offered: Vec<u64>,
    pub succeeded: Vec<u64>,
    pub failed: Vec<u64>,
    /// `failed` by reason, per window (the four add up to it).
    #[serde(default)]
    pub failed_by_reason: FailedSeries,
    pub degraded: Vec<u64>,
    pub goodput_rps: Vec<f64>,
    pub latency_p50_ms: Vec<f64>,
    pub latency_p99_ms: Vec<f64>,
    pub latency_p999_ms: Vec<f64>,
    /// Attempts received by all services.
    pub attempts: Vec<u64>,
    /// Attempts / attempts expected from the window's offered load without retries.
    pub retry_amplification: Vec<f64>,
    /// Faults active during the window.
    pub faults_active: Vec<u32>,
    /// Successes slower than the scenario SLO's latency threshold (bad events for it).
    pub slow: Vec<u64>,
    pub clients: Vec<ClientSeries>,
    pub services: Vec<ServiceSeries>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caches: Vec<CacheSeries>,
    /// Chart data beside the windows: the latency distribution of all successful requests
    /// as (fraction of requests, ms) points, dense in the tail (up to p99.999).
    #[serde(default)]
    pub latency_cdf: Vec<(f64, f64)>,
}

/// One client's outcomes per window (by the window in which each request ended).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientSeries {
    pub name: String,
    pub offered: Vec<u64>,
    pub succeeded: Vec<u64>,
    /// Requests that met the client's SLO (succeeded, within its latency if it has one),
    /// and those that did not (failed, degraded, or too slow).
    pub good: Vec<u64>,
    pub bad: Vec<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceSeries {
    pub name: String,
    pub attempts: Vec<u64>,
    pub dropped: Vec<u64>,
    pub queue_depth_mean: Vec<f64>,
    pub queue_depth_max: Vec<u64>,
    pub utilization: Vec<f64>,
    pub rejected: Vec<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A message broker over the whole run (warm-up included, so that each group's
/// conservation holds exactly).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerResult {
    pub name: String,
    /// Publishes refused because a queue was full (`RejectPublish`).
    pub rejected: u64,
    /// Publishes that found the broker down (crashed).
    pub refused: u64,
    pub groups: Vec<BrokerGroupResult>,
}

/// One consumer group of a broker. Exactly `published = acked + backlog_at_end +
/// in_flight_at_end + dead_lettered + dropped`, and so at every window end of `series`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerGroupResult {
    pub service: String,
    pub consumers: u32,
    pub prefetch: u32,
    /// Messages put on this group's queue.
    pub published: u64,
    /// Messages whose handler answered Ok (or degraded) in time.
    pub acked: u64,
    /// Ready messages when the run ended.
    pub backlog_at_end: u64,
    /// Delivered, not yet acked or given up on, when the run ended.
    pub in_flight_at_end: u64,
    /// Messages whose last allowed delivery failed.
    pub dead_lettered: u64,
    /// Messages dropped from the head of a full queue (`DropOldest`).
    pub dropped: u64,
    /// Deliveries beyond the first of a message.
    pub redeliveries: u64,
    /// Handler completions beyond the first for one message (at-least-once at work).
    pub duplicates_processed: u64,
    /// From publish to ack, acked messages only.
    pub publish_to_ack_ms: Latency,
    pub series: BrokerGroupSeries,
}

/// A group's state at each window end (the run's `series.t_s`): levels, and counts since
/// the start of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BrokerGroupSeries {
    pub published: Vec<u64>,
    pub acked: Vec<u64>,
    pub backlog: Vec<u64>,
    pub in_flight: Vec<u64>,
    pub dead_lettered: Vec<u64>,
    pub dropped: Vec<u64>,
    /// Consumer lag: age of the oldest ready message, in seconds (0 with none).
    pub lag_s: Vec<f64>,
}
