//! Incident classes, and the online signals an incident is classified from.
//!
//! `Signals` is what the orchestrator, a learned policy and an external agent all see at a
//! window end: nothing a real on-call engineer could not read off their dashboards (no
//! fault schedule, no injected truth).

use serde::{Deserialize, Serialize};

/// What kind of incident it is: the classifier's answer, and a generated incident's truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentClass {
    /// More offered load than the capacity (a spike).
    Overload,
    /// A dependency fails fast (crashed, refusing).
    DependencyDown,
    /// A dependency answers slowly (timeouts at its callers).
    DependencySlow,
    /// A bad config version or deploy: errors on the instances that took it.
    BadConfig,
    /// One instance of a replicated service failing or hung while its peers are fine.
    InstanceFailure,
    /// Retries keeping a service saturated after its trigger has passed.
    RetryStorm,
    /// Every instance in one zone failing.
    ZoneLoss,
}

impl IncidentClass {
    pub const ALL: [IncidentClass; 7] = [
        IncidentClass::Overload,
        IncidentClass::DependencyDown,
        IncidentClass::DependencySlow,
        IncidentClass::BadConfig,
        IncidentClass::InstanceFailure,
        IncidentClass::RetryStorm,
        IncidentClass::ZoneLoss,
    ];

    /// Its name in output and in plan files (`dependency_down`).
    pub fn name(self) -> &'static str {
        match self {
            IncidentClass::Overload => "overload",
            IncidentClass::DependencyDown => "dependency_down",
            IncidentClass::DependencySlow => "dependency_slow",
            IncidentClass::BadConfig => "bad_config",
            IncidentClass::InstanceFailure => "instance_failure",
            IncidentClass::RetryStorm => "retry_storm",
            IncidentClass::ZoneLoss => "zone_loss",
        }
    }
}

/// What can be read at a window end, over the window just closed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    /// The window's end, seconds of virtual time.
    pub now_s: f64,
    pub window_s: f64,
    /// Burn-rate alerts firing now: `page-fast`, or `CLIENT:page-fast` for a client's SLO.
    pub alerts: Vec<String>,
    pub clients: Vec<ClientSignals>,
    pub services: Vec<ServiceSignals>,
    /// Config pushes begun in the last 10 minutes.
    pub recent_pushes: Vec<PushSignal>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientSignals {
    pub name: String,
    /// Requests issued per second over the window, and over the minutes before the
    /// current incident's first alert (its baseline).
    pub offered_rps: f64,
    pub baseline_rps: f64,
    /// Failed / finished over the window (none without finishes).
    pub error_rate: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Attempts sent / requests issued over the window.
    pub retry_amplification: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceSignals {
    pub name: String,
    /// Failed / received attempts over the window, all instances in service.
    pub error_rate: Option<f64>,
    pub utilization: f64,
    pub queue_depth: f64,
    /// Its callees (services, caches, databases, brokers, token auths by name).
    pub callees: Vec<String>,
    /// Call sites to it whose breaker is open now.
    pub breakers_open: u32,
    /// Timeouts of calls to it over the window, all callers.
    pub timeouts: u64,
    pub instances: Vec<InstanceSignals>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceSignals {
    /// `NAME#i`.
    pub name: String,
    pub zone: Option<String>,
    /// Answers its health check (a crashed, hung or paused instance does not).
    pub healthy: bool,
    pub error_rate: Option<f64>,
    pub utilization: f64,
    /// The config version it holds per config, when it reads any.
    pub config_versions: Vec<(String, u32)>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PushSignal {
    pub config: String,
    pub version: u32,
    pub began_s: f64,
}

/// The classifier's answer: a class, the component it points at (a service, `NAME#i`, a
/// zone, a config or a client), and the evidence in words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub class: IncidentClass,
    pub target: String,
    pub evidence: String,
}

/// Classifies an incident from the signals (none while nothing looks wrong).
/// (Skeleton: the classifier lands with the "classify" work.)
pub fn classify(_signals: &Signals) -> Option<Classification> {
    None
}
