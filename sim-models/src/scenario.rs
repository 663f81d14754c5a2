//! The scenario schema: what a RON file says, as serde types.
//!
//! Loading is two steps: [`parse`] turns text into a [`Scenario`] (syntax and type errors,
//! with ron's own position and the field path), then `validate` checks what types
//! cannot say (rates > 0, names that resolve, ...) and points at the field in the file.
//! Runs only ever see a scenario that passed both.
//!
//! Entities are lists of named entries rather than maps so that the file's order is the
//! run's order (no hashing) and two entries with the same name are caught, not merged.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::dist::Dist;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::locate::Position;

mod broker;
mod token_auth;
pub use broker::{Broker, ConsumerGroup, Overflow, PublishSpec};
mod database;
pub use database::{Database, DatabaseKeys, Failover, ReadFrom, Replication};
mod config;
mod remediation;
pub use config::{Config, ConfigEffect, ConfigPush, Delivery, Strategy, step_count};
pub use remediation::{Automation, IncidentClass, IncidentMix, Limits, Pager, Remediation};
pub use token_auth::{InitialTokens, RefreshAhead, TokenAuth, Validation};

/// A whole simulation: who sends what to whom, for how long.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The seed used when the command line gives none (never the clock).
    pub seed: u64,
    /// Virtual time simulated.
    pub horizon: SimDuration,
    /// Requests issued before this instant are not counted (lets queues reach steady state).
    #[serde(default)]
    pub warmup: SimDuration,
    /// Width of one time-series window.
    #[serde(default = "default_window")]
    pub window: SimDuration,
    #[serde(default)]
    pub limits: RunLimits,
    pub clients: Vec<Client>,
    pub services: Vec<Service>,
    /// Look-aside caches (Redis-like) in front of a service: called like a service
    /// (`Call(to: "redis")`), a miss fetches from the backend and fills the cache.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caches: Vec<Cache>,
    /// Links with their own latency and loss; pairs not listed use `default_link`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    #[serde(default)]
    pub default_link: LinkSpec,
    /// Latency and loss between two nodes in different zones, where no `links` entry
    /// names the pair; same-zone pairs and nodes without a zone use `default_link`
    /// (see the `zones` module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_zone: Option<LinkSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
    /// Seeded fault processes (MTBF/MTTR): each expands, per seed, into faults appended
    /// after `faults` (see the `incidents` module).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<Incidents>,
    /// Availability objective over all clients' requests: burn-rate alerts and the time to
    /// detect each fault are reported when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<crate::slo::SloSpec>,
    /// Rules that act during the run (scale, restart, drain, limit, fallback, spike) when a
    /// condition holds: see [`crate::rules`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<crate::rules::Rule>,
    /// Message brokers: `Publish` steps (or clients targeting one) put messages on them,
    /// consumer groups of services take them off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brokers: Vec<Broker>,
    /// Replicated databases (a primary and read replicas, with failover): called like a
    /// service, `endpoint: "write"` for writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<Database>,
    /// Configs that services read from a config service, with pushes of new versions and
    /// their rollout (see `world/config.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<Config>,
    /// Token auth (short-TTL JWTs) in front of a service: called like a service, it
    /// refreshes its users' tokens from an auth service, then forwards each request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_auths: Vec<TokenAuth>,
    /// Automated remediation: detection, classification, plans, the safe orchestrator and
    /// the human on call (see the `remediation` module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Remediation>,
}

fn default_window() -> SimDuration {
    SimDuration::from_secs(1)
}

/// Guards on a run: hitting one stops it cleanly and says why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunLimits {
    /// Events handled at most.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// Requests in flight (queued or in service anywhere) at most.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: u64,
    /// The run stops (`no_progress`) when this many consecutive events advance virtual time
    /// by at most this many nanoseconds (one event per ns or more): time that stands still
    /// (a closed loop with zero think time against a service that rejects at once) or
    /// crawls (a 1 ns health-check interval).
    // Left out of the canonical form (the scenario hash) at its default, like the two
    // limits below, so that adding it changed no existing scenario's hash.
    #[serde(
        default = "default_max_events_without_progress",
        skip_serializing_if = "is_default_max_events_without_progress"
    )]
    pub max_events_without_progress: u64,
    /// Clients + service instances (each replica one) at most; more is refused by validation.
    // Left out of the canonical form at their defaults, so that adding them changed no
    // scenario's hash.
    #[serde(
        default = "default_max_nodes",
        skip_serializing_if = "is_default_max_nodes"
    )]
    pub max_nodes: u64,
    /// Memory a run may need at start-up, in MiB, as estimated by `footprint`; a
    /// scenario estimated above it is refused by validation before anything is allocated.
    #[serde(
        default = "default_max_memory_mb",
        skip_serializing_if = "is_default_max_memory_mb"
    )]
    pub max_memory_mb: u64,
}

fn is_default_max_events_without_progress(n: &u64) -> bool {
    *n == default_max_events_without_progress()
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            max_events: default_max_events(),
            max_in_flight: default_max_in_flight(),
            max_events_without_progress: default_max_events_without_progress(),
            max_nodes: default_max_nodes(),
            max_memory_mb: default_max_memory_mb(),
        }
    }
}

fn default_max_events() -> u64 {
    2_000_000_000
}
fn default_max_in_flight() -> u64 {
    1_000_000
}
/// Ten times the events of a million requests in flight at one instant, each a few events:
/// no bundled scenario comes near it, and it stops a spinning run in seconds of wall time.
fn default_max_events_without_progress() -> u64 {
    10_000_000
}
/// The default and the most `limits.max_nodes` may be. Links are stored per call-site
/// target now, not per pair of nodes, so memory no longer needs this cap (the estimate in
/// `footprint` bounds it); raising it is left for when a larger design has been tried end to
/// end.
pub const NODE_CEILING: u64 = u16::MAX as u64;

fn default_max_nodes() -> u64 {
    NODE_CEILING
}
fn default_max_memory_mb() -> u64 {
    4096
}
fn is_default_max_nodes(n: &u64) -> bool {
    *n == default_max_nodes()
}
fn is_default_max_memory_mb(n: &u64) -> bool {
    *n == default_max_memory_mb()
}

/// A group of users sending one kind of request to one entry service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    pub name: String,
    /// The entry service the requests go to.
    pub target: String,
    /// Endpoint of the target (its route); the target's default endpoint if omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub load: Load,
    /// How the client treats each attempt: timeout, retries, backoff.
    #[serde(default)]
    pub policy: CallPolicy,
    /// This route's own SLO (availability and, optionally, latency): alerts and time to
    /// detect are reported for the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<crate::slo::SloSpec>,
    /// Overall deadline of a logical request, across all its attempts. Propagated to every
    /// service the request reaches; only services with `honor_deadline` act on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<SimDuration>,
    /// The availability zone its traffic comes from: it sets which links are cross-zone,
    /// which zone a zone-aware callee prefers, and a `ZoneOutage` of this zone stops it
    /// issuing (see the `zones` module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// A service: `workers` serve attempts one at a time each; the rest wait in the queue.
/// An attempt holds its worker for its local work and then for each downstream call
/// (synchronous calls, as in thread-per-request servers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    /// Attempts served at once.
    pub workers: u32,
    /// Waiting room, not counting attempts in service.
    #[serde(default)]
    pub queue: QueueSpec,
    /// Which waiting attempt a free worker takes.
    #[serde(default)]
    pub discipline: Discipline,
    /// Local work of the default endpoint: time one attempt holds a worker before its calls.
    pub service_time: Dist<SimDuration>,
    /// Downstream calls of the default endpoint, made in order after the local work.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<Step>,
    /// Further endpoints (routes) with their own work and calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<Endpoint>,
    /// Admission control: what is refused at the door.
    #[serde(default)]
    pub admission: Admission,
    /// Drop attempts whose propagated deadline has passed (at dequeue and before each
    /// downstream call) instead of working on them for nobody.
    #[serde(default)]
    pub honor_deadline: bool,
    /// Stop working for a caller that gave up. A caller that abandons an attempt (a lost
    /// hedge, a timeout, a deadline) sends a cancel over the link; when it arrives, a service
    /// that honours it drops the attempt from its queue, or stops its work in progress and
    /// cancels that attempt's downstream calls in turn (gRPC's RST_STREAM, Finagle's
    /// interrupts). Without it only the caller stops waiting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub honor_cancellation: bool,
    /// How long a worker takes to stop work in progress once the cancel arrives (unwinding,
    /// cleanup): it stays busy that long, for nobody.
    #[serde(default, skip_serializing_if = "is_zero_duration")]
    pub cancel_cost: SimDuration,
    /// The default endpoint's work has a side effect that must happen once per request (a
    /// payment charge): doing it again for the same request is a duplicate side effect.
    #[serde(default)]
    pub side_effect: bool,
    /// Baseline probability that an attempt's work ends in an error answer (a 5xx), for
    /// every endpoint, all run long. Independent of an endpoint's own `error_rate` and of
    /// Errors faults: the chances of no error multiply.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error_rate: f64,
    /// Identical instances of this service, each with its own workers and queue, named
    /// `NAME#0` .. `NAME#N-1` in results and fault targets (`NAME` alone means all of them).
    /// Each caller spreads its attempts over them with `balance`.
    #[serde(default = "one")]
    pub replicas: u32,
    /// The most instances rules may scale it to. Instances, their random streams and links
    /// are built for this maximum up front (those beyond `replicas` start out of service),
    /// so scaling during a run leaves every other component's draws unchanged. With it,
    /// instances are named `NAME#i` even when `replicas` is 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<u32>,
    /// How callers choose a replica.
    #[serde(default)]
    pub balance: crate::balancer::Balance,
    /// Outlier ejection: callers stop sending to a replica that keeps failing (Envoy-like).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ejection: Option<crate::balancer::EjectionSpec>,
    /// Active health checks: callers probe each replica and skip the ones that fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<crate::balancer::HealthCheckSpec>,
    /// Bulkhead for the default endpoint: at most this many of its attempts in the service
    /// (queued + in service) at once; more are rejected, so one route cannot take every
    /// worker (resilience4j's semaphore Bulkhead with no wait).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulkhead: Option<u32>,
    /// Idempotency keys: the service remembers each request's outcome for `ttl` and answers
    /// a repeated attempt from that record instead of doing the work again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency: Option<Idempotency>,
    /// Availability zones its instances are spread over, round robin: instance `i` (those
    /// up to `max_replicas` included) is in `zones[i % len]`, as a Kubernetes topology
    /// spread with `maxSkew: 1` places them. None: no zone (see the `zones` module).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
    /// Zone-aware routing: callers prefer instances in their own zone while it has enough
    /// healthy ones (Envoy's zone-aware load balancing; [`crate::balancer::ZoneAware`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_aware: Option<crate::balancer::ZoneAwareSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Idempotency {
    pub ttl: SimDuration,
}

/// A named route of a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub name: String,
    pub service_time: Dist<SimDuration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<Step>,
    /// This endpoint's work has a side effect that must happen once per request.
    #[serde(default)]
    pub side_effect: bool,
    /// Bulkhead: at most this many of this endpoint's attempts in the service at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulkhead: Option<u32>,
    /// Baseline error probability of this endpoint's work, on top of the service's
    /// `error_rate` (independent: the chances of no error multiply).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error_rate: f64,
}

/// One step of an endpoint's downstream work.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// Call and wait for the outcome; a failure fails the attempt.
    Call(CallSpec),
    /// Call all at once and wait for all; any failure fails the attempt.
    Parallel(Vec<CallSpec>),
    /// Call and do not wait (fire and forget).
    Async(CallSpec),
    /// Put a message on a broker and wait for its confirm.
    Publish(PublishSpec),
}

/// A call to another service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSpec {
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub policy: CallPolicy,
}

/// What a caller does per call: the same shape for clients and services.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallPolicy {
    /// Give up on an attempt after this long (none: wait forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<SimDuration>,
    /// Attempts in all, the first included (1 = no retries).
    #[serde(default = "one")]
    pub max_attempts: u32,
    /// Wait before each retry.
    #[serde(default)]
    pub backoff: Backoff,
    /// Backpressure: at most this many attempts outstanding on this call at once; more fail
    /// fast at the caller (`rejected`) instead of piling up at the callee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_outstanding: Option<u32>,
    /// Randomises each backoff delay (AWS "Exponential Backoff and Jitter").
    #[serde(default)]
    pub jitter: crate::retry::Jitter,
    /// Failures worth retrying (default: all of `Timeout`, `Rejected`, `Error`). An open
    /// circuit is never retried.
    #[serde(default = "crate::retry::default_retry_on")]
    pub retry_on: Vec<crate::retry::Retryable>,
    /// Retry budget shared by every call on this call site: gRPC retry throttling
    /// `(max_tokens: .., token_ratio: ..)` or Finagle's `Finagle(ttl: .., ..)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::retry_budget::BudgetSpec>,
    /// Timeout from observed latencies instead of `timeout`: a percentile of recent
    /// successful attempts times a multiplier, clamped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive_timeout: Option<crate::limits::AdaptiveTimeoutSpec>,
    /// Hedged requests: after `delay` without an answer, send another attempt racing the
    /// first (up to `max_hedges` per call); the first success wins and the caller stops
    /// waiting for the others, which their service stops only if it `honor_cancellation`
    /// (gRPC A6 hedging, Polly's hedging strategy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hedge: Option<HedgeSpec>,
    /// Circuit breaker on this call site (resilience4j semantics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<crate::breaker::BreakerSpec>,
    /// On final failure, answer with a degraded fallback instead of failing: the caller goes
    /// on, and the request counts as `degraded`, never as a success.
    #[serde(default)]
    pub fallback: bool,
}

impl Default for CallPolicy {
    fn default() -> Self {
        CallPolicy {
            timeout: None,
            max_attempts: 1,
            backoff: Backoff::None,
            max_outstanding: None,
            jitter: Default::default(),
            retry_on: crate::retry::default_retry_on(),
            budget: None,
            adaptive_timeout: None,
            hedge: None,
            breaker: None,
            fallback: false,
        }
    }
}

fn is_zero_duration(d: &SimDuration) -> bool {
    d.is_zero()
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn one() -> u32 {
    1
}

/// When to send hedged attempts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HedgeSpec {
    /// Wait this long for an answer before each hedge (e.g. the callee's p95).
    pub delay: SimDuration,
    /// Extra attempts per call at most (Polly's MaxHedgedAttempts, default 1).
    #[serde(default = "one")]
    pub max_hedges: u32,
}

/// Admission control at a service's door.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admission {
    /// Token bucket: sustained `rate_rps`, bursts of up to `burst` attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimit>,
    /// At most this many attempts in the service (queued + in service) at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// An adaptive concurrency limit (Netflix concurrency-limits' AIMD or Gradient2), fed
    /// by each attempt's time in the service; applies on top of `max_concurrency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<crate::limits::AdaptiveSpec>,
}

/// Defined beside the rate limiters it configures.
pub use crate::limits::RateLimit;
pub use crate::policy::{Backoff, Load, RateChange};

/// The network between two endpoints (a client or service, and a service).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub from: String,
    pub to: String,
    pub latency: Dist<SimDuration>,
    /// Probability that a message is lost.
    #[serde(default)]
    pub loss: f64,
}

impl Link {
    pub fn spec(&self) -> LinkSpec {
        LinkSpec {
            latency: self.latency.clone(),
            loss: self.loss,
        }
    }
}

/// One-way latency and loss, applied to requests and responses alike.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub latency: Dist<SimDuration>,
    /// Probability that a message is lost.
    #[serde(default)]
    pub loss: f64,
}

impl Default for LinkSpec {
    fn default() -> Self {
        LinkSpec {
            latency: Dist::Constant(SimDuration::ZERO),
            loss: 0.0,
        }
    }
}

/// Something going wrong from `start` to `end`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub start: SimDuration,
    pub end: SimDuration,
    pub kind: FaultKind,
}

/// A fault process on one target: up for a draw of `mtbf`, then the fault `kind` for a draw
/// of `mttr`, again and again from `start` to the horizon (see the `incidents`
/// module).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incidents {
    /// The fault each incident is, with its target (`Crash(service: "db", mode: Refuse)`).
    pub kind: FaultKind,
    /// Up time from the end of one incident (or `start`) to the next failure: the MTBF of a
    /// repairable system (total up time / failures), so a cycle lasts `mtbf + mttr`.
    pub mtbf: Dist<SimDuration>,
    /// How long each incident lasts (time to repair).
    pub mttr: Dist<SimDuration>,
    /// When the process starts (up at first).
    #[serde(default)]
    pub start: SimDuration,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FaultKind {
    /// The service is down; its queue and work in progress are lost. `Refuse`: callers get
    /// an immediate error (connection refused); `BlackHole`: messages vanish.
    Crash { service: String, mode: CrashMode },
    /// Each attempt fails with an error with probability `p` after its local work.
    Errors { service: String, p: f64 },
    /// Local work takes `factor` times as long (work started during the fault).
    Slowdown { service: String, factor: f64 },
    /// Only `workers` workers are left (busy ones beyond finish their attempt).
    CapacityLoss { service: String, workers: u32 },
    /// Stop the world: arrivals keep queueing, nothing is served; work in progress resumes
    /// after the pause.
    Pause { service: String },
    /// No message crosses between `a` and `b`, either way.
    Partition { a: String, b: String },
    /// Extra loss probability `p` between `a` and `b`, either way.
    Loss { a: String, b: String, p: f64 },
    /// The client's arrival rate is multiplied by `factor`.
    Spike { client: String, factor: f64 },
    /// Every instance in availability zone `zone` is down (a `Crash` with `mode` each),
    /// and every client in it stops issuing: a zone outage takes its callers too.
    ZoneOutage { zone: String, mode: CrashMode },
    /// The cache is emptied at `start` (FLUSHALL): every key misses until filled again.
    /// `end` only bounds the fault's window in reports.
    Flush { cache: String },
    /// Every token the token auth holds is revoked at `start` (an auth restart that lost
    /// its sessions, a signing-key rotation without overlap): each user's next request
    /// refreshes first, so the new tokens are issued together. `end` only bounds the
    /// fault's window in reports.
    RevokeTokens { token_auth: String },
}

impl FaultKind {
    /// What the fault acts on, as reports name it: a service or instance (`db`, `api#1`), a
    /// client, a cache, `a <-> b` for a pair, `zone NAME`.
    pub fn target(&self) -> String {
        match self {
            FaultKind::Crash { service, .. }
            | FaultKind::Errors { service, .. }
            | FaultKind::Slowdown { service, .. }
            | FaultKind::CapacityLoss { service, .. }
            | FaultKind::Pause { service } => service.clone(),
            FaultKind::Partition { a, b } | FaultKind::Loss { a, b, .. } => format!("{a} <-> {b}"),
            FaultKind::Spike { client, .. } => client.clone(),
            FaultKind::ZoneOutage { zone, .. } => format!("zone {zone}"),
            FaultKind::Flush { cache } => cache.clone(),
            FaultKind::RevokeTokens { token_auth } => token_auth.clone(),
        }
    }
}

/// A look-aside cache in front of `backend` (see `world::components::cache` for what it
/// follows and where it differs from Redis).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    pub name: String,
    /// The service a miss fetches from.
    pub backend: String,
    /// Its endpoint; the backend's default endpoint if omitted.
    // Always written, so that `--set caches.NAME.FIELD=..` finds it.
    #[serde(default)]
    pub backend_endpoint: Option<String>,
    /// How the cache calls its backend (timeout, retries, breaker, ...).
    #[serde(default)]
    pub policy: CallPolicy,
    /// Which key each lookup asks for.
    pub keys: CacheKeys,
    /// Keys held at most; the least recently used is evicted to make room (none: every key
    /// fits).
    // Always written, so that `--set caches.NAME.FIELD=..` finds it.
    #[serde(default)]
    pub capacity: Option<u64>,
    /// A filled key expires this long after its fill (a hit does not extend it).
    // Always written, so that `--set caches.NAME.FIELD=..` finds it.
    #[serde(default)]
    pub ttl: Option<SimDuration>,
    /// Concurrent misses on one key wait for the one fetch in flight (request coalescing,
    /// Go's singleflight) instead of each fetching.
    // Always written, so that `--set caches.NAME.FIELD=..` finds it.
    #[serde(default)]
    pub single_flight: bool,
    /// Time to answer a lookup (no queue: it serves any number at once).
    #[serde(default = "default_lookup_time")]
    pub lookup_time: Dist<SimDuration>,
}

fn default_lookup_time() -> Dist<SimDuration> {
    Dist::Constant(SimDuration::ZERO)
}

/// The keys lookups ask for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CacheKeys {
    /// `keys` keys, key k (1-based) asked with probability proportional to 1 / k^exponent
    /// (independent requests: the independent reference model).
    Zipf { keys: u64, exponent: f64 },
    /// Each lookup hits with this probability, with no keys, capacity or TTL (a simple model).
    HitRatio(f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrashMode {
    Refuse,
    BlackHole,
}

/// Capacity of a service's waiting room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueueSpec {
    /// No bound: overload shows up as latency and memory, as in a naive server.
    #[default]
    Unbounded,
    /// At most this many waiting; arrivals beyond are rejected at once.
    Bounded(u64),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Discipline {
    #[default]
    Fifo,
    Lifo,
}

impl Service {
    /// The step list of its default endpoint, then of each of its `endpoints`, each with
    /// its field path under `at` (the service's own path): what every check of steps walks.
    pub fn step_lists(
        &self,
        at: &sim_core::path::FieldPath,
    ) -> impl Iterator<Item = (&[Step], sim_core::path::FieldPath)> {
        let endpoints = at.field("endpoints");
        std::iter::once((&self.calls[..], at.field("calls"))).chain(
            self.endpoints
                .iter()
                .enumerate()
                .map(move |(e, ep)| (&ep.calls[..], endpoints.index(e).field("calls"))),
        )
    }

    /// Instances built for it: its replicas, or its `max_replicas` when more.
    pub fn instances(&self) -> u32 {
        self.replicas.max(self.max_replicas.unwrap_or(0)).max(1)
    }

    /// The zone of its instance `i` (round robin over `zones`), if it has zones.
    pub fn zone_of(&self, i: u32) -> Option<&str> {
        let n = self.zones.len();
        (n > 0).then(|| self.zones[i as usize % n].as_str())
    }
}

impl Scenario {
    /// A stable fingerprint of what the scenario means (not of its whitespace or comments):
    /// FNV-1a 64 of its canonical RON form (`ron::to_string`), as 16 hex digits. The form
    /// is hashed as it is written, never held: the same bytes, no string to grow.
    pub fn hash(&self) -> String {
        let mut h = sim_core::rng::Fnv1a64::default();
        ron::Options::default()
            .to_writer(&mut h, self)
            .expect("a scenario always serialises");
        format!("{:016x}", h.finish())
    }

    pub fn service_index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == name)
    }

    pub fn cache_index(&self, name: &str) -> Option<usize> {
        self.caches.iter().position(|c| c.name == name)
    }

    /// The index of the token auth called `name`.
    pub fn token_auth_index(&self, name: &str) -> Option<usize> {
        self.token_auths.iter().position(|t| t.name == name)
    }

    /// The index of the broker called `name`.
    pub fn broker_index(&self, name: &str) -> Option<usize> {
        self.brokers.iter().position(|b| b.name == name)
    }

    /// The index of the database called `name`.
    pub fn database_index(&self, name: &str) -> Option<usize> {
        self.databases.iter().position(|d| d.name == name)
    }

    /// The service and replica a fault or partition names: `NAME` is every replica (None),
    /// `NAME#i` replica i of a replicated service.
    pub fn replica_target(&self, name: &str) -> Option<(usize, Option<u32>)> {
        if let Some(j) = self.service_index(name) {
            return Some((j, None));
        }
        let (base, index) = name.rsplit_once('#')?;
        let j = self.service_index(base)?;
        let i: u32 = index.parse().ok()?;
        let n = self.services[j].instances();
        (i < n && n > 1).then_some((j, Some(i)))
    }
}

/// Parses RON text into a scenario, without semantic checks. `file` names the source in
/// messages.
pub fn parse(file: &str, text: &str) -> Result<Scenario, Diagnostics> {
    parse_ron(file, text, "Scenario")
}

/// Parses RON text into any of the input types (a scenario, an experiment); `what` names
/// the type in the message about trailing text.
pub(crate) fn parse_ron<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
    what: &str,
) -> Result<T, Diagnostics> {
    let fail = |position: ron::error::Position, field: String, message: String| {
        let at = Position {
            line: position.line,
            col: position.col,
        };
        Diagnostics::new(file, vec![Diagnostic::error(at, field, message)])
    };
    // `implicit_some`: optional fields are written plainly (`timeout: "20ms"`), not `Some(..)`;
    // `unwrap_variant_newtypes`: `Call(to: "db")` rather than `Call((to: "db"))`.
    let options = ron::Options::default().with_default_extension(
        ron::extensions::Extensions::IMPLICIT_SOME
            | ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES,
    );
    // A file that parses needs no field paths: parse it plainly (half the instructions, and
    // far less code to page in on a short run's cold start). Only a file with an error is
    // parsed again, tracking the path to the error.
    if let Ok(value) = parse_plain(text, &options) {
        return Ok(value);
    }
    let mut de = ron::Deserializer::from_str_with_options(text, &options)
        .map_err(|e| fail(e.span.start, String::new(), syntax_message(&e.code, what)))?;
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        // serde_path_to_error says `.` for the root and `?` where it could not tell.
        let field = if field == "." || field == "?" {
            String::new()
        } else {
            field
        };
        let spanned = de.span_error(e.into_inner());
        fail(
            spanned.span.start,
            field,
            syntax_message(&spanned.code, what),
        )
    })?;
    de.end().map_err(|e| {
        let spanned = de.span_error(e);
        fail(
            spanned.span.start,
            String::new(),
            syntax_message(&spanned.code, what),
        )
    })?;
    Ok(value)
}

/// `text` as a `T`, or an error without a position or a path: the fast path of `parse_ron`.
fn parse_plain<T: serde::de::DeserializeOwned>(
    text: &str,
    options: &ron::Options,
) -> Result<T, ron::Error> {
    let mut de = ron::Deserializer::from_str_with_options(text, options).map_err(|e| e.code)?;
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// ron's messages, with the wording tuned where it would puzzle a user.
fn syntax_message(code: &ron::Error, what: &str) -> String {
    match code {
        ron::Error::TrailingCharacters => format!(
            "unexpected text after the {}: a file holds exactly one {what}(...)",
            what.to_lowercase()
        ),
        // ron's own text tells a Rust programmer to raise `ron::Options::recursion_limit`.
        ron::Error::ExceededRecursionLimit => {
            format!(
                "the file nests too deeply here (more than 128 levels): no {} needs that many",
                what.to_lowercase()
            )
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILES: [&str; 3] = [
        include_str!("../../scenarios/v0.4.ron"),
        include_str!("../../scenarios/v1.0.ron"),
        include_str!("../../scenarios/platform/platform.ron"),
    ];

    #[test]
    fn hash_is_fnv_of_the_canonical_text() {
        for text in FILES {
            let s = parse("s.ron", text).unwrap();
            let canonical = ron::to_string(&s).unwrap();
            let fnv = sim_core::rng::fnv1a64(canonical.as_bytes());
            assert_eq!(s.hash(), format!("{fnv:016x}"));
        }
    }

    #[test]
    fn plain_and_path_tracking_parses_agree() {
        let options = ron::Options::default().with_default_extension(
            ron::extensions::Extensions::IMPLICIT_SOME
                | ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES,
        );
        for text in FILES {
            let plain: Scenario = parse_plain(text, &options).unwrap();
            let mut de = ron::Deserializer::from_str_with_options(text, &options).unwrap();
            let tracked: Scenario = serde_path_to_error::deserialize(&mut de).unwrap();
            assert_eq!(
                ron::to_string(&plain).unwrap(),
                ron::to_string(&tracked).unwrap()
            );
        }
        // A file the plain parse refuses is refused with its position and field.
        let bad = FILES[0].replacen("workers: ", "workers: -", 1);
        assert!(parse_plain::<Scenario>(&bad, &options).is_err());
        let d = parse("s.ron", &bad).unwrap_err().to_string();
        assert!(d.contains("s.ron:") && d.contains("workers"), "{d}");
    }
}
