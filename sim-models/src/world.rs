//! The world as a state machine: clients issue logical requests; each try is an attempt that
//! crosses a link to a service, waits in its queue, holds a worker for its local work and
//! then for its downstream calls, and answers back across the link.
//!
//! Semantics (DESIGN.md "Model semantics"):
//! - a response leaves a service when its work completes, never when it is enqueued;
//! - a caller that times out stops waiting, but a naive service still does the work, and
//!   its own downstream calls; that busy time is `wasted_work_s`. A service that honours
//!   deadlines drops expired attempts at dequeue and before each downstream call;
//! - a stall (pause) is not a drop: during a pause arrivals queue and nothing is served;
//! - only requests issued (attempts arriving) after warm-up count towards totals; the time
//!   series covers the whole run.
//!
//! Memory is bounded by what is in flight plus one small row per window.
//!
//! Submodules: [`build`] compiles a scenario into the tables below, [`client`] is the caller
//! side (requests, calls, retries, timeouts), [`components`] the registry of component
//! kinds and one module per kind (the callee side: for a service, admission, queue, work,
//! steps), [`network`] the links every message crosses, [`effects`] the faults and actions
//! on targets over windows, [`side_effects`] the side-effect ledger and idempotency
//! records, [`metrics`] the counters.

use std::ops::ControlFlow;

use sim_core::dist::Sampler;
use sim_core::queue::{EventKey, EventQueue};
use sim_core::rng::SimRng;
use sim_core::{SimDuration, SimTime};
use slotmap::{SecondaryMap, SlotMap, new_key_type};

use crate::policy::RateSchedule;
use crate::scenario::Backoff;

mod actions;
pub(crate) mod build;
mod client;
pub(crate) mod components;
mod config;
mod control;
mod effects;
pub(crate) mod metrics;
mod network;
mod orchestrator;
mod ring;
mod side_effects;
pub(crate) mod signals;
pub(crate) mod trace;

use components::Instance;
use components::broker::BrokerState;
pub use components::cache::CacheEvent;
use components::cache::CacheState;
pub use components::database::DatabaseEvent;
use components::database::DatabaseState;
pub use components::service::ServiceEvent;
use components::service::ServiceState;
use components::token_auth::TokenAuthState;
pub use config::ConfigEvent;
use config::ConfigState;

new_key_type! {
    /// A caller waiting on a callee, across retries.
    pub struct CallKey;
    /// One try: a message to a service and the work on it.
    pub struct AttemptKey;
}

/// Everything that can happen.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// Open-loop client `client` issues its next request.
    Arrival {
        client: u32,
    },
    /// Rule `rule` acts (its delay after deciding is over).
    RuleActs {
        rule: u32,
    },
    /// A provisioned instance may enter service.
    InService {
        instance: u32,
    },
    /// Closed-loop user `user` of `client` is done thinking.
    UserReady {
        client: u32,
        user: u32,
    },
    /// An attempt reaches its service.
    AttemptArrives(AttemptKey),
    /// A caller's cancel of an attempt it abandoned reaches the attempt's service.
    CancelArrives(AttemptKey),
    /// A service's own event.
    Service(ServiceEvent),
    /// A cache's own event.
    Cache(CacheEvent),
    /// A database's own event.
    Database(DatabaseEvent),
    /// A config rollout's own event.
    Config(ConfigEvent),
    /// An answer reaches the caller of attempt `number` of `call`.
    Response {
        call: CallKey,
        number: u32,
        outcome: Outcome,
    },
    /// The caller stops waiting for attempt `number` of `call`.
    AttemptTimeout {
        call: CallKey,
        number: u32,
    },
    /// Backoff over: the next attempt of `call`.
    RetryDue(CallKey),
    /// Still no answer to attempt `number` of `call`: send a hedge.
    HedgeDue {
        call: CallKey,
        number: u32,
    },
    /// The client's overall deadline for a request (its call) passed.
    DeadlineExpired(CallKey),
    /// Effect `n` (a fault or an action) starts or ends.
    EffectStart(u32),
    EffectEnd(u32),
    /// Call site `edge` probes its callee's replicas.
    HealthCheck {
        edge: u32,
    },
    WindowEnd,
    WarmupEnd,
    /// The human on call answers incident `incident`'s page, or (`fixed`) has fixed its
    /// cause (remediation's pager).
    Pager {
        incident: u32,
        fixed: bool,
    },
}

/// What an answer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Answered by a fallback somewhere on the path: the caller goes on, but it is not a
    /// success.
    Degraded,
    Failed(Failure),
}

/// Why a call failed, as the caller sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No answer in time (attempt timeout, or the overall deadline).
    Timeout,
    /// Refused by admission control or backpressure (a fast 503).
    Rejected,
    /// An error answer: error fault, connection refused, or a failed downstream call.
    Error,
    /// Refused at the caller by an open circuit breaker (never retried).
    CircuitOpen,
}

/// Who is waiting for a call.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Parent {
    /// A logical request of client `client` (user `user` of a closed loop): the request is
    /// its call (one entry, not two: a request lives exactly as long as its call), with the
    /// call's `made_at` and `deadline_timer`. `counted`: issued after warm-up.
    Request {
        client: u32,
        user: u32,
        counted: bool,
    },
    /// Attempt waiting on its current step's calls.
    Attempt(AttemptKey),
    /// A component's own call (a cache's backend fetch, a broker's delivery): the answer
    /// goes to instance `instance`'s kind with the kind's own `token`.
    Component { instance: u32, token: u32 },
    /// Fire and forget: nobody.
    Nobody,
}

pub(crate) struct Call {
    parent: Parent,
    edge: u32,
    /// The logical request this call serves (the idempotency key's first half).
    request_id: u64,
    /// When the call was made (a request's issue time).
    made_at: SimTime,
    /// When the current attempt was sent (for the breaker's call duration).
    sent_at: SimTime,
    /// Which of the edge's targets the current attempt went to.
    replica: u32,
    /// Hedging's and decorrelated jitter's state, made when first needed.
    policy: Option<Box<CallPolicy>>,
    /// Attempts made so far (the current one's number).
    attempts: u32,
    /// The attempt being waited for, if one is outstanding.
    current: Option<AttemptKey>,
    /// Attempt timeout while waiting, or backoff timer between attempts.
    timer: Option<EventKey>,
    deadline: Option<SimTime>,
    /// A request's overall deadline (`Parent::Request` only).
    deadline_timer: Option<EventKey>,
}

// Larger, inserting a call is a `memcpy` call (measured: ~29 instructions a call).
const _: () = assert!(std::mem::size_of::<Call>() <= 128);

/// What only hedging and decorrelated jitter use, boxed apart so that a call stays within
/// 128 bytes.
#[derive(Default)]
pub(crate) struct CallPolicy {
    /// Hedged attempts racing the current one.
    hedges: Vec<Hedge>,
    /// Hedges sent so far for this call.
    hedges_sent: u32,
    /// The last backoff delay (decorrelated jitter grows from it; only it reads it).
    last_delay: SimDuration,
}

impl Call {
    /// Hedged attempts racing the current one (none unless the call site hedges).
    #[inline(always)]
    fn hedges(&self) -> &[Hedge] {
        self.policy.as_deref().map_or(&[], |p| &p.hedges)
    }

    #[inline(always)]
    fn hedges_sent(&self) -> u32 {
        self.policy.as_deref().map_or(0, |p| p.hedges_sent)
    }

    #[inline(always)]
    fn last_delay(&self) -> SimDuration {
        self.policy
            .as_deref()
            .map_or(SimDuration::ZERO, |p| p.last_delay)
    }

    fn policy(&mut self) -> &mut CallPolicy {
        self.policy.get_or_insert_with(Box::default)
    }
}

/// An extra attempt racing a call's current one. Its number is `HEDGE_BASE` + its ordinal,
/// so answers to hedges and to the current attempt never collide.
pub(crate) struct Hedge {
    attempt: AttemptKey,
    number: u32,
    replica: u32,
    sent_at: SimTime,
}

pub(crate) const HEDGE_BASE: u32 = 1 << 31;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// On the wire to the service.
    Transit,
    Queued,
    /// Holding a worker: local work until `done_at`.
    Working,
    /// Holding a worker, waiting for `pending` downstream calls of step `step`.
    Calling,
    /// Its cancel arrived first (cancels travel on their own): dropped when it arrives.
    CancelledInTransit,
    /// Cancelled while holding a worker: the worker stops it (`cancel_cost`), then is free.
    Stopping,
}

pub(crate) struct Attempt {
    call: CallKey,
    number: u32,
    request_id: u64,
    edge: u32,
    /// A downstream call of this attempt was answered by a fallback.
    degraded: bool,
    /// The instance it was sent to, its index in its kind's table, and the network pair
    /// its messages cross.
    target: u32,
    local: u32,
    pair: u32,
    endpoint: u16,
    step: u16,
    pending: u16,
    phase: Phase,
    /// The first failure among the current step's calls.
    failed: Option<Failure>,
    deadline: Option<SimTime>,
    /// When its caller stopped waiting for it, if it did.
    abandoned_at: Option<SimTime>,
    arrived: SimTime,
    started: SimTime,
    done_at: SimTime,
    done_key: Option<EventKey>,
    /// Index in its service's `active` list while holding a worker.
    active_idx: u32,
    counted: bool,
}

/// A call site: a client's route or one call of a service's endpoint.
pub(crate) struct Edge {
    /// Calling node: clients first, then service instances.
    from: u32,
    /// Whether the caller acts on propagated deadlines (clients always do).
    caller_honors_deadline: bool,
    /// The callee's instances (one unless it has replicas), the network pair joining the
    /// caller to each, and the callee's name.
    targets: Vec<u32>,
    pairs: Vec<u32>,
    callee: String,
    balancer: crate::balancer::Balancer,
    detector: Option<crate::balancer::OutlierDetector>,
    health: Option<crate::balancer::HealthChecker>,
    lb_rng: SimRng,
    /// Zone-aware routing, if the callee has it and the caller is in a zone.
    zone_aware: Option<Box<crate::balancer::ZoneAware>>,
    endpoint: u16,
    timeout: Option<SimDuration>,
    max_attempts: u32,
    backoff: Backoff,
    max_outstanding: u32,
    outstanding: u32,
    jitter: crate::retry::Jitter,
    retry_on: Vec<crate::retry::Retryable>,
    budget: Option<crate::retry_budget::RetryBudget>,
    adaptive_timeout: Option<crate::limits::AdaptiveTimeout>,
    hedge: Option<crate::scenario::HedgeSpec>,
    breaker: Option<crate::breaker::Breaker>,
    /// Answers with a fallback on final failure: its policy's `fallback`, or an effect.
    fallback: bool,
    fallback_spec: bool,
    /// Jitter draws of this call site.
    rng: SimRng,
}

pub(crate) enum LoadGen {
    Open {
        schedule: RateSchedule,
        /// The pending arrival, so that a live spike can draw it again.
        next: Option<EventKey>,
        /// What the schedule is built from, to build it again with a live spike.
        base_rps: f64,
        shape: Vec<crate::scenario::RateChange>,
        spikes: Vec<(SimTime, SimTime, f64)>,
    },
    Closed {
        think: Sampler,
    },
}

pub(crate) struct ClientState {
    pub name: String,
    /// Successes slower than this are bad events for the client's own SLO.
    slo_latency: Option<SimDuration>,
    edge: u32,
    deadline: Option<SimDuration>,
    load: LoadGen,
    rng: SimRng,
    pub outcome: metrics::ClientTally,
    /// Down with its zone: it issues nothing; its closed-loop users wait in `parked`
    /// until it is up again.
    down: bool,
    parked: Vec<u32>,
    /// Requests it would have issued (after warm-up) while down.
    pub not_issued: u64,
}

/// A service of the scenario: its instances (`NAME#i` for a replicated one) and how many
/// of them should be in service now.
pub(crate) struct Group {
    name: String,
    instances: std::ops::Range<u32>,
    /// Its own `replicas`, and the count wanted now (changed by scaling effects).
    replicas: u32,
    wanted: u32,
}

/// The simulated world: every client, service and link of a scenario.
pub struct World {
    pub(crate) clients: Vec<ClientState>,
    /// Every component instance, in file order: its kind and its index in its kind's table.
    instances: Vec<Instance>,
    /// Each service of the scenario (file order): its instances and how many should run.
    groups: Vec<Group>,
    /// Per instance: in service (scaled in), and accepting new attempts (in service and not
    /// drained); how many instances are not accepting (0 keeps balancing's fast path).
    in_service: Vec<bool>,
    accepting: Vec<bool>,
    not_accepting: u32,
    pub(crate) services: Vec<ServiceState>,
    /// Each cache of the scenario (file order); its instances come after every service's.
    pub(crate) caches: Vec<CacheState>,
    /// Message brokers (instances after every service instance).
    pub(crate) brokers: Vec<BrokerState>,
    /// Replicated databases (instances after every broker).
    pub(crate) databases: Vec<DatabaseState>,
    /// Configs the services read (empty: nothing of `config` runs).
    pub(crate) configs: Vec<ConfigState>,
    /// Token auths (instances after every broker's), and the instance number of the first.
    pub(crate) token_auths: Vec<TokenAuthState>,
    token_auth_first: u32,
    edges: Vec<Edge>,
    net: network::Network,
    /// Requests in flight: calls whose parent is `Parent::Request`.
    requests: usize,
    next_request_id: u64,
    /// The traced requests' spans (`--trace N`); `None`, and one branch per hook, unless asked.
    pub(crate) trace: Option<Box<trace::Tracer>>,
    /// Side effects done, to count duplicates.
    ledger: side_effects::Ledger,
    calls: SlotMap<CallKey, Call>,
    attempts: SlotMap<AttemptKey, Attempt>,
    /// Live attempts whose caller stopped waiting: while there are none, no worker works for
    /// nobody and releasing one skips the walk up its chain of callers. Exact because attempts
    /// are marked abandoned only in `cancel_racing` and removed only in `remove_attempt`.
    abandoned: u32,
    /// Whether any instance honours cancellation: if none does, callers send no cancels.
    cancellation: bool,
    /// The downstream calls of each attempt at a service that honours cancellation, to
    /// cancel them with it (only such attempts have an entry; stale call keys are harmless).
    children: SecondaryMap<AttemptKey, Vec<CallKey>>,
    /// Reused by `cancel_racing` for the attempts whose callees are told.
    scratch_cancels: Vec<AttemptKey>,
    /// Messages that crossed their link in zero time, delivered in order right after the
    /// event being handled instead of as events of their own (`network::post`); its length is
    /// the number sent in this event. A `Vec` read from the front and cleared when done: a
    /// `VecDeque`'s push was not inlined (measured: 50 instructions a hop).
    hops: Vec<Event>,
    /// Every effect so far (scheduled faults first), and whether each is active now.
    effects: Vec<effects::EffectDef>,
    effect_active: Vec<bool>,
    /// Services paused now (so that the common case skips the per-event pause check).
    paused: u32,
    /// Reused by replica picking, so that balancing allocates nothing per attempt.
    scratch_outstanding: Vec<u32>,
    scratch_healthy: Vec<bool>,
    max_in_flight: u64,
    /// Set when an insertion takes requests or attempts past `max_in_flight` (checked in
    /// `issue` and `dispatch`, the only places they are made): only then does the guard
    /// after an event count them (see `check_in_flight`).
    past_limit: bool,
    /// The scenario's rules (empty: no control runs) and the actions they took.
    rules: Vec<control::CompiledRule>,
    pub(crate) actions: Vec<crate::result::ActionWindow>,
    /// Automated remediation (`None`, and one branch per window, without a `remediation`
    /// section).
    orchestrator: Option<Box<orchestrator::Orchestrator>>,
    /// Per-target state of the actions taken (crash loops, scale gates).
    acting: actions::ActionState,
    /// The zones, and the zone of every node (clients, then instances).
    zones: crate::zones::Zones,
    node_zone: Vec<Option<usize>>,
    horizon: SimTime,
    pub(crate) warmup: SimTime,
    /// Successes slower than this are bad events for the scenario's SLO.
    slo_latency: Option<SimDuration>,
    window: SimDuration,
    pub(crate) metrics: metrics::Metrics,
    /// What remediation watches, with a `remediation` section only (else `None`: one
    /// branch per hook).
    pub(crate) watch: Option<Box<signals::Watch>>,
}

impl World {
    /// Ejections by every call site's outlier detection, in call-site order (sites that
    /// ejected nothing left out).
    pub(crate) fn ejection_reports(&self) -> Vec<crate::result::EjectionReport> {
        let n_clients = self.clients.len() as u32;
        let name = |n: u32| {
            if n < n_clients {
                self.clients[n as usize].name.clone()
            } else {
                // A caller may be any kind (a token auth forwarding to its upstream).
                self.instance_name(n - n_clients).to_string()
            }
        };
        self.edges
            .iter()
            .filter_map(|e| {
                let d = e.detector.as_ref().filter(|d| !d.ejections().is_empty())?;
                Some(crate::result::EjectionReport {
                    caller: name(e.from),
                    callee: e.callee.clone(),
                    ejections: d
                        .ejections()
                        .iter()
                        .map(|j| {
                            let replica = name(n_clients + e.targets[j.replica]);
                            (j.at.as_secs_f64(), j.until.as_secs_f64(), replica)
                        })
                        .collect(),
                })
            })
            .collect()
    }

    /// Transitions of every call site's breaker, in call-site order.
    pub(crate) fn breaker_reports(&self) -> Vec<crate::result::BreakerReport> {
        let n_clients = self.clients.len() as u32;
        let name = |n: u32| {
            if n < n_clients {
                &self.clients[n as usize].name
            } else {
                self.instance_name(n - n_clients)
            }
        };
        self.edges
            .iter()
            .filter_map(|e| {
                let b = e.breaker.as_ref()?;
                Some(crate::result::BreakerReport {
                    caller: name(e.from).to_string(),
                    callee: e.callee.clone(),
                    transitions: b
                        .transitions()
                        .iter()
                        .map(|t| {
                            (
                                t.at.as_secs_f64(),
                                format!("{:?}", t.from),
                                format!("{:?}", t.to),
                            )
                        })
                        .collect(),
                })
            })
            .collect()
    }

    /// Forgets attempt `a` (every attempt leaves through here, to keep `abandoned` exact).
    /// Always inlined: once per attempt, and out of line it cost 1.9% of v0.4's
    /// instructions (the Attempt is returned by value).
    #[inline(always)]
    fn remove_attempt(&mut self, a: AttemptKey) -> Option<Attempt> {
        let att = self.attempts.remove(a)?;
        if att.abandoned_at.is_some() {
            self.abandoned -= 1;
        }
        if !self.children.is_empty() {
            self.children.remove(a);
        }
        Some(att)
    }

    /// Requests in flight anywhere.
    pub fn in_flight(&self) -> u64 {
        self.requests as u64
    }

    /// Requests issued so far (after warm-up).
    pub fn offered(&self) -> u64 {
        self.clients.iter().map(|c| c.outcome.offered).sum()
    }

    /// A paused process handles nothing: an answer, timeout or retry for a call made by a
    /// paused service waits until the pause ends (a stall, not a drop).
    #[inline(always)]
    fn defer_if_paused(&mut self, call: CallKey, event: Event) -> bool {
        if self.paused == 0 {
            return false;
        }
        let Some(c) = self.calls.get(call) else {
            return false;
        };
        let caller = self.edges[c.edge as usize].from;
        let Some(i) = caller.checked_sub(self.clients.len() as u32) else {
            return false;
        };
        match self.paused_instance(i) {
            Some(deferred) => {
                deferred.push(event);
                true
            }
            None => false,
        }
    }

    /// The in-flight guard, after every event: requests and attempts are created by open-
    /// and closed-loop clients, retries, hedges, fan-out and the end of a pause alike, so
    /// checking only after arrivals let closed loops, retries and hedges run past it. One
    /// test of `past_limit` per event: the counts can be over the limit after an event only
    /// if an insertion during it took them past (they were not over after the one before);
    /// they are counted then, out of line, and the flag is cleared if they came back down.
    #[inline(always)]
    fn check_in_flight(&mut self, now: SimTime) -> ControlFlow<Box<str>> {
        if !self.past_limit {
            return ControlFlow::Continue(());
        }
        self.in_flight_stop(now)
    }

    /// Notes whether the requests or attempts just inserted took their count past the limit.
    #[inline(always)]
    fn note_in_flight(&mut self, count: usize) {
        self.past_limit |= count as u64 > self.max_in_flight;
    }

    #[cold]
    #[inline(never)]
    fn in_flight_stop(&mut self, now: SimTime) -> ControlFlow<Box<str>> {
        if (self.attempts.len() as u64) <= self.max_in_flight
            && (self.requests as u64) <= self.max_in_flight
        {
            self.past_limit = false;
            return ControlFlow::Continue(());
        }
        let worst = self
            .services
            .iter()
            .max_by_key(|s| s.queued())
            .expect("attempts are at services");
        ControlFlow::Break(format!(
            "in_flight_limit: {} requests and {} attempts in flight at t={:.3}s (limit {}), largest queue: service={} queue={}",
            self.requests,
            self.attempts.len(),
            now.as_secs_f64(),
            self.max_in_flight,
            worst.name,
            worst.queued()
        ).into())
    }
}

impl sim_core::engine::Model for World {
    type Event = Event;

    /// Handles `event`, then the zero-latency hops it sent (and those they send), each
    /// exactly where it would have come as an event of its own (see `network::post`).
    /// After a guard trips the run is over: the hops left are dropped with the queue.
    #[inline]
    fn handle(&mut self, mut event: Event, q: &mut EventQueue<Event>) -> ControlFlow<Box<str>> {
        // The hops are read from the front by a local index: an event that sent none (every
        // event over links with latency) pays one comparison and one store here.
        let mut next = 0;
        loop {
            let flow = self.handle_one(event, q);
            match self.hops.get(next) {
                Some(&hop) if flow.is_continue() => {
                    event = hop;
                    next += 1;
                }
                _ => {
                    self.hops.clear();
                    return flow;
                }
            }
        }
    }
}

impl World {
    /// One event, or one hop, and the in-flight guard after it.
    #[inline(always)]
    fn handle_one(&mut self, event: Event, q: &mut EventQueue<Event>) -> ControlFlow<Box<str>> {
        match event {
            Event::Arrival { client } => self.on_arrival(client, q),
            Event::UserReady { client, user } => self.issue(client, user, q),
            Event::AttemptArrives(a) => self.deliver(a, q),
            Event::CancelArrives(a) => self.deliver_cancel(a, q),
            Event::Service(ServiceEvent::WorkDone(a)) => self.on_work_done(a, q),
            Event::Service(ServiceEvent::Stopped(a)) => self.on_stopped(a, q),
            Event::Cache(e) => self.on_cache_event(e, q),
            Event::Database(e) => self.on_database_event(e, q),
            Event::Config(e) => self.on_config_event(e, q),
            Event::Response { call, .. }
            | Event::AttemptTimeout { call, .. }
            | Event::RetryDue(call)
            | Event::HedgeDue { call, .. }
                if self.defer_if_paused(call, event) => {}
            Event::Response {
                call,
                number,
                outcome,
            } => self.on_response(call, number, outcome, q),
            Event::AttemptTimeout { call, number } => self.on_attempt_timeout(call, number, q),
            Event::RetryDue(call) => self.on_retry_due(call, q),
            Event::HedgeDue { call, number } => self.on_hedge_due(call, number, q),
            Event::DeadlineExpired(r) => self.on_deadline(r, q),
            Event::HealthCheck { edge } => self.on_health_check(edge, q),
            Event::RuleActs { rule } => self.on_rule_acts(rule, q),
            Event::InService { instance } => self.on_in_service(instance),
            Event::EffectStart(f) => self.on_effect(f, true, q),
            Event::EffectEnd(f) => self.on_effect(f, false, q),
            Event::WindowEnd => {
                let now = q.now();
                self.close_window(now, self.window, Some(q));
                q.schedule(now + self.window, Event::WindowEnd);
                if self.orchestrator.is_some()
                    && let Some(why) = self.remediation_error()
                {
                    return ControlFlow::Break(why.into());
                }
            }
            Event::Pager { incident, fixed } => self.on_pager(incident, fixed, q),
            Event::WarmupEnd => self.on_warmup_end(q.now()),
        }
        self.check_in_flight(q.now())
    }
}
