//! The safe orchestrator of automated remediation (REMEDIATION.md steps 3 and 5-9), run at
//! every window end of a scenario with a `remediation` section (a scenario without one
//! builds none of this and pays nothing for it):
//!
//! - **detection**: an incident opens when a page alert (`page-fast`, `page-slow`, of the
//!   scenario's SLO or a client's) starts firing and none is open; alerts still firing from
//!   the previous incident do not open another. Its faults are the scheduled faults active
//!   then (or that ended since the last incident closed) and those that start while it is
//!   open; its start is the earliest of theirs (MTTD = opened - start);
//! - **classification**: the classifier's first answer after it opens, and when;
//! - **decision**: the decider is asked when it opens, when a step fails its verification
//!   or is undone, and every [`DECIDE_EVERY`] windows while it is open; a plan it answers is
//!   checked ([`World::check_plan`]) and replaces the steps of the previous one not started;
//! - **acting**: a step is ready when every step in its `after` passed; it starts when the
//!   limits allow (`max_concurrent` steps being judged, `max_per_minute` starts in any
//!   60 s, at most `max_capacity_fraction` of a service's instances restarted or drained at
//!   once, one plan acting on a target, the incident's `budget` of actions); its action
//!   is taken by [`World::take_action`], the path rules take (an action the world refuses,
//!   a scale within its cooldown, fails its step);
//! - **verification**: at window ends, once its action has taken effect (a restart is
//!   back), the step's signal must reach its level within `verify.within`: passed, else
//!   failed. A step without a verification passes after [`HARM_WINDOWS`] windows unharmed;
//! - **do no harm**: a step whose signal is worse than before it started (by more than
//!   [`HARM_RELATIVE`] of that value and the metric's [`harm_floor`]) at [`HARM_WINDOWS`]
//!   consecutive window ends is harmful: its effects end (undone) and its plan stops; a
//!   restart cannot be undone: it is counted harmful and its plan stops;
//! - **remedy**: a step whose action is the incident's remedy ends its faults;
//! - **escalation**: after `max_failed_verifications` failed verifications, when a step is
//!   ready but the budget is spent, when the decider answers `Escalate`, when its plan is
//!   rejected, or when no step has been running or waiting to start for [`ACT_WITHIN`]
//!   (from the opening on), the human is paged (at
//!   detection without automation): they answer after a draw of `pager.response` and fix
//!   the cause after a draw of `pager.fix` (stream `pager`): the incident's faults end, and
//!   so do its steps' effects still active;
//! - **closing**: the incident closes once every client's bad answers (failed, degraded or
//!   slower than its own SLO allows: a fallback is not the service back) have stayed within
//!   its SLO's error budget for `restored_for`; MTTR = start of that stretch - start.

use std::collections::VecDeque;

use sim_core::dist::Sampler;
use sim_core::queue::EventQueue;
use sim_core::rng::{SimRng, stream};
use sim_core::{SimDuration, SimTime};

use super::actions::Taken;
use super::control::{ClientWindow, GroupWindow};
use super::{Event, World};
use crate::remediation::class::{Classification, Signals, classify};
use crate::remediation::decide::{Answer, Decider, DecisionPoint, IncidentView, Reason};
use crate::remediation::mix::{GeneratedIncident, Remedy};
use crate::remediation::plan::Plan;
use crate::remediation::report::{
    Escalation, IncidentReport, PlanReport, RemediationReport, RemediationTotals, StepOutcome,
    StepReport,
};
use crate::remediation::spec::{Automation, Remediation};
use crate::rules::{Action, Metric};
use crate::scenario::Scenario;

/// Do no harm: worse means moved the bad way by more than this fraction of the value
/// before the step started...
pub const HARM_RELATIVE: f64 = 0.25;
/// ... for this many consecutive window ends.
pub const HARM_WINDOWS: u32 = 2;
/// Without a step started this long after an incident opened, the human is paged.
pub const ACT_WITHIN: SimDuration = SimDuration::from_secs(120);
/// While an incident is open, its decider is asked again every this many windows.
pub const DECIDE_EVERY: u32 = 10;

/// ... and by more than this absolute amount, so that noise around a small value is not
/// harm: 5 points of error ratio, 10 of utilization, 50 ms of p99, 5 queued or in flight.
pub fn harm_floor(metric: Metric) -> f64 {
    match metric {
        Metric::ErrorRate => 0.05,
        Metric::Utilization => 0.10,
        Metric::P99 => 50.0,
        Metric::QueueDepth | Metric::InFlight | Metric::Backlog => 5.0,
        Metric::Goodput => 1.0,
        Metric::ConsumerLag => 1.0,
    }
}

/// The orchestrator's state through a run.
pub(crate) struct Orchestrator {
    spec: Remediation,
    label: String,
    /// None: automation is off (the human only).
    decider: Option<Box<dyn Decider>>,
    pager: SimRng,
    response: Sampler,
    fix: Sampler,
    /// Per client: the failure ratio its SLO allows (its own SLO's, else the scenario's).
    budget: Vec<f64>,
    incidents: Vec<Incident>,
    open: Option<usize>,
    /// Start times of the steps started in the last minute.
    recent: VecDeque<SimTime>,
    /// Decision points so far.
    points: u64,
    /// When the last incident closed; alerts still firing then, until they resolve.
    last_closed: SimTime,
    acknowledged: Vec<String>,
    /// The scenario as run, which plans are checked against.
    scenario: Scenario,
    /// The generated incidents, and whether an incident has claimed each.
    truth: Vec<(GeneratedIncident, bool)>,
    /// A decider's error: the run stops with it.
    pub error: Option<String>,
}

struct Incident {
    id: u32,
    start: SimTime,
    opened: SimTime,
    alerts: Vec<String>,
    classification: Option<(Classification, SimTime)>,
    /// Indices in the run's fault list.
    faults: Vec<u32>,
    truth: Option<(crate::remediation::class::IncidentClass, String)>,
    /// What ends its faults early, if any action does.
    remedy: Option<Remedy>,
    /// When its cause ends by itself (a generated incident's end: a bad config's good
    /// push), after which the human has nothing left to fix.
    cause_end: Option<SimTime>,
    plans: Vec<PlanRun>,
    actions: u32,
    failed: u32,
    undone: u32,
    harmful: u32,
    escalation: Option<Escalation>,
    remedied: Option<SimTime>,
    restored_since: Option<SimTime>,
    restored: Option<SimTime>,
    closed: Option<SimTime>,
    windows: u32,
    /// Since when no step of it is running or waiting to start.
    idle_since: Option<SimTime>,
}

struct PlanRun {
    decided: SimTime,
    plan: Plan,
    rejected: Option<String>,
    stopped: Option<String>,
    steps: Vec<StepRun>,
}

struct StepRun {
    action: Option<Action>,
    label: String,
    outcome: StepOutcome,
    start: Option<SimTime>,
    end: Option<SimTime>,
    /// When its action has taken effect (a restarted instance is back).
    effective: SimTime,
    /// What taking its action did, and its entry in the run's `actions`.
    taken: Option<Taken>,
    listed: usize,
    watch: Option<Watch>,
    before: Option<f64>,
    after: Option<f64>,
    worse: u32,
    windows: u32,
}

/// The signal a step is judged on.
#[derive(Clone, Copy)]
struct Watch {
    of: Of,
    metric: Metric,
    /// The level its verification asks for: below (true) or above it.
    below: bool,
    level: Option<f64>,
    within: SimDuration,
}

#[derive(Clone, Copy)]
enum Of {
    Group(u32),
    Client(u32),
    /// The highest failure ratio of any client: a step without a verification.
    WorstClient,
}

impl Orchestrator {
    /// The orchestrator of `s` (which has a remediation section) with `decider` (`None`:
    /// the scenario's `automation`; `planner` stands for simctl's planner there), named
    /// `label` in the report.
    pub(crate) fn new(
        s: &Scenario,
        seed: u64,
        decider: Option<Box<dyn Decider>>,
        label: String,
    ) -> Self {
        let spec = s.remediation.clone().expect("a remediation section");
        let decider = match spec.automation {
            Automation::Off => None,
            Automation::Planner => decider,
        };
        let label = if decider.is_none() {
            "off".to_string()
        } else {
            label
        };
        let slo_budget = |slo: &crate::slo::SloSpec| 1.0 - slo.availability;
        let budget = s
            .clients
            .iter()
            .map(|c| c.slo.as_ref().or(s.slo.as_ref()).map_or(0.001, slo_budget))
            .collect();
        Orchestrator {
            response: spec.pager.response.compile().expect("validated pager"),
            fix: spec.pager.fix.compile().expect("validated pager"),
            spec,
            label,
            decider,
            pager: stream(seed, "pager"),
            budget,
            incidents: Vec::new(),
            open: None,
            recent: VecDeque::new(),
            points: 0,
            last_closed: SimTime::ZERO,
            acknowledged: Vec::new(),
            truth: Vec::new(),
            scenario: s.clone(),
            error: None,
        }
    }
}

impl World {
    /// Runs remediation in this world (its scenario `s` has a `remediation` section).
    pub(crate) fn attach_orchestrator(
        &mut self,
        s: &Scenario,
        seed: u64,
        decider: Option<Box<dyn Decider>>,
        truth: Vec<GeneratedIncident>,
    ) {
        let label = decider
            .as_ref()
            .map_or_else(|| "off".to_string(), |d| d.label());
        let mut o = Orchestrator::new(s, seed, decider, label);
        o.truth = truth.into_iter().map(|t| (t, false)).collect();
        self.orchestrator = Some(Box::new(o));
    }

    /// Whether the run must stop: the decider failed.
    pub(super) fn remediation_error(&self) -> Option<String> {
        self.orchestrator.as_ref()?.error.clone()
    }

    /// The orchestrator's turn at window end `now`, over the window just closed.
    pub(super) fn remediate(
        &mut self,
        now: SimTime,
        width: SimDuration,
        groups: &[GroupWindow],
        clients: &[ClientWindow],
        q: &mut EventQueue<Event>,
    ) {
        let mut o = self
            .orchestrator
            .take()
            .expect("called with an orchestrator");
        if o.error.is_none() {
            self.orchestrate(&mut o, now, width, groups, clients, q);
        }
        self.orchestrator = Some(o);
    }

    fn orchestrate(
        &mut self,
        o: &mut Orchestrator,
        now: SimTime,
        width: SimDuration,
        groups: &[GroupWindow],
        clients: &[ClientWindow],
        q: &mut EventQueue<Event>,
    ) {
        while o
            .recent
            .front()
            .is_some_and(|&t| now.saturating_since(t) >= SimDuration::from_secs(60))
        {
            o.recent.pop_front();
        }
        let firing = self.page_alerts();
        o.acknowledged.retain(|a| firing.contains(a));
        let mut signals: Option<Signals> = None;
        let mut reasons: Vec<Reason> = Vec::new();
        if o.open.is_none() && firing.iter().any(|a| !o.acknowledged.contains(a)) {
            self.open_incident(o, now, firing.clone(), q);
            reasons.push(Reason::Opened);
        }
        let Some(i) = o.open else { return };
        self.note_faults(o, i);
        o.incidents[i].windows += 1;
        if o.incidents[i].classification.is_none() {
            let s = signals.get_or_insert_with(|| self.signals(now, width, groups, clients));
            if let Some(c) = classify(s) {
                o.incidents[i].classification = Some((c, now));
            }
        }
        if self.judge_steps(o, i, now, width, groups, clients, q) {
            reasons.push(Reason::VerificationFailed);
        }
        // Restored: every client's bad answers (failed or degraded: a fallback is not the
        // service back) within its error budget over the window.
        let within = clients.iter().zip(&o.budget).all(|(c, &b)| {
            let answered = c.good + c.bad;
            answered == 0 || c.bad as f64 / answered as f64 <= b
        });
        let inc = &mut o.incidents[i];
        if within {
            let since = *inc
                .restored_since
                .get_or_insert(SimTime::ZERO + now.saturating_since(SimTime::ZERO + width));
            if now.saturating_since(since) >= o.spec.restored_for {
                self.close_incident(
                    o,
                    i,
                    since,
                    now,
                    firing,
                    &mut signals,
                    width,
                    groups,
                    clients,
                );
                return;
            }
        } else {
            inc.restored_since = None;
        }
        let automated = o.decider.is_some();
        let inc = &mut o.incidents[i];
        let busy = inc.plans.iter().any(|p| {
            p.steps.iter().any(|s| {
                s.outcome == StepOutcome::Running
                    || (s.outcome == StepOutcome::NotStarted
                        && p.rejected.is_none()
                        && p.stopped.is_none())
            })
        });
        if busy {
            inc.idle_since = None;
        } else {
            inc.idle_since.get_or_insert(now);
        }
        let inc = &o.incidents[i];
        if inc.escalation.is_none() && automated {
            let why = if inc.failed >= o.spec.max_failed_verifications {
                Some(format!("{} failed verifications", inc.failed))
            } else if inc
                .idle_since
                .is_some_and(|t| now.saturating_since(t) >= ACT_WITHIN)
            {
                Some(format!("no action for {ACT_WITHIN}"))
            } else {
                None
            };
            if let Some(why) = why {
                self.page(o, i, now, why, q);
            }
        }
        if o.incidents[i].escalation.is_none() && automated {
            if reasons.is_empty() && o.incidents[i].windows.is_multiple_of(DECIDE_EVERY) {
                reasons.push(Reason::Periodic);
            }
            // One question per window: the most pressing reason.
            if let Some(&reason) = reasons.last() {
                let s = signals.get_or_insert_with(|| self.signals(now, width, groups, clients));
                self.ask(o, i, reason, s.clone(), now, q);
            }
        }
        if o.error.is_none() {
            self.start_ready_steps(o, i, now, groups, clients, q);
        }
    }

    /// Page alerts firing now: `page-fast`, `page-slow` of the scenario's SLO, and
    /// `CLIENT:page-fast` of a client's.
    fn page_alerts(&self) -> Vec<String> {
        let mut out = Vec::new();
        let page = ["page-fast", "page-slow"];
        if let Some(a) = &self.metrics.alerts {
            out.extend(page.iter().filter(|r| a.firing(r)).map(|r| r.to_string()));
        }
        for (c, a) in self.clients.iter().zip(&self.metrics.client_alerts) {
            if let Some(a) = a {
                out.extend(
                    page.iter()
                        .filter(|r| a.firing(r))
                        .map(|r| format!("{}:{r}", c.name)),
                );
            }
        }
        out
    }

    fn open_incident(
        &mut self,
        o: &mut Orchestrator,
        now: SimTime,
        alerts: Vec<String>,
        q: &mut EventQueue<Event>,
    ) {
        let id = o.incidents.len() as u32 + 1;
        o.incidents.push(Incident {
            id,
            start: now,
            opened: now,
            alerts,
            classification: None,
            faults: Vec::new(),
            truth: None,
            remedy: None,
            cause_end: None,
            plans: Vec::new(),
            actions: 0,
            failed: 0,
            undone: 0,
            harmful: 0,
            escalation: None,
            remedied: None,
            restored_since: None,
            restored: None,
            closed: None,
            windows: 0,
            idle_since: Some(now),
        });
        let i = o.incidents.len() - 1;
        o.open = Some(i);
        // Its faults: those active now, or ended since the last incident closed.
        let last = o.last_closed;
        let mut start = now;
        for def in &self.effects {
            if let Some(f) = def.fault
                && def.start <= now
                && def.end > last
                && def.start >= last
            {
                start = start.min(def.start);
                if !o.incidents[i].faults.contains(&f) {
                    o.incidents[i].faults.push(f);
                }
            }
        }
        o.incidents[i].start = start;
        // A generated incident under way and not claimed yet is this one: its truth.
        let now_s = now.as_secs_f64();
        if let Some((t, claimed)) = o
            .truth
            .iter_mut()
            .find(|(t, claimed)| !claimed && t.start_s <= now_s && t.end_s > last.as_secs_f64())
        {
            *claimed = true;
            let inc = &mut o.incidents[i];
            inc.truth = Some((t.class, t.target.clone()));
            inc.start = SimTime::ZERO + SimDuration::from_secs_f64(t.start_s);
            inc.faults = t.faults.iter().map(|&f| f as u32).collect();
            inc.remedy = t.remedy.clone();
            inc.cause_end = Some(SimTime::ZERO + SimDuration::from_secs_f64(t.end_s));
        }
        if o.decider.is_none() {
            self.page(o, i, now, "automation off".into(), q);
        }
    }

    /// Faults that started while incident `i` is open are its own too.
    fn note_faults(&self, o: &mut Orchestrator, i: usize) {
        let inc = &mut o.incidents[i];
        for (def, on) in self.effects.iter().zip(&self.effect_active) {
            if let Some(f) = def.fault
                && *on
                && !inc.faults.contains(&f)
            {
                inc.faults.push(f);
            }
        }
    }

    /// Pages the human for incident `i`.
    fn page(
        &mut self,
        o: &mut Orchestrator,
        i: usize,
        now: SimTime,
        reason: String,
        q: &mut EventQueue<Event>,
    ) {
        let inc = &mut o.incidents[i];
        if inc.escalation.is_some() {
            return;
        }
        inc.escalation = Some(Escalation {
            paged_s: now.as_secs_f64(),
            reason: reason.clone(),
            answered_s: None,
            fixed_s: None,
        });
        // The human owns it now: steps not started never will.
        for p in &mut inc.plans {
            if p.steps.iter().any(|s| s.outcome == StepOutcome::NotStarted) && p.stopped.is_none() {
                p.stopped = Some(format!("escalated: {reason}"));
            }
        }
        let response = o.response.sample_duration(&mut o.pager);
        q.schedule(
            now.saturating_add(response),
            Event::Pager {
                incident: i as u32,
                fixed: false,
            },
        );
    }

    /// The human answers incident `incident`'s page (`answered` false), or has fixed its
    /// cause (true).
    pub(super) fn on_pager(&mut self, incident: u32, fixed: bool, q: &mut EventQueue<Event>) {
        let Some(mut o) = self.orchestrator.take() else {
            return;
        };
        let now = q.now();
        let i = incident as usize;
        if !fixed {
            if let Some(e) = &mut o.incidents[i].escalation {
                e.answered_s = Some(now.as_secs_f64());
            }
            let fix = o.fix.sample_duration(&mut o.pager);
            q.schedule(
                now.saturating_add(fix),
                Event::Pager {
                    incident,
                    fixed: true,
                },
            );
        } else {
            if let Some(e) = &mut o.incidents[i].escalation {
                e.fixed_s = Some(now.as_secs_f64());
            }
            let faults = o.incidents[i].faults.clone();
            self.end_faults(&faults, q);
            // A bad version is no fault: the human rolls its config back, unless a good
            // push has replaced it already (rolling back then would bring it back).
            if let Some(Remedy::Rollback { config }) = &o.incidents[i].remedy
                && o.incidents[i].remedied.is_none()
                && o.incidents[i].cause_end.is_none_or(|end| now < end)
            {
                let config = config.clone();
                self.rollback_config(&config, now, q);
            }
            // The cause is gone: the mitigations still in place end too.
            let taken: Vec<Taken> = o.incidents[i]
                .plans
                .iter()
                .flat_map(|p| &p.steps)
                .filter_map(|s| s.taken.clone())
                .collect();
            for t in &taken {
                self.undo_action(t, q);
            }
        }
        self.orchestrator = Some(o);
    }

    #[allow(clippy::too_many_arguments)]
    fn close_incident(
        &mut self,
        o: &mut Orchestrator,
        i: usize,
        since: SimTime,
        now: SimTime,
        firing: Vec<String>,
        signals: &mut Option<Signals>,
        width: SimDuration,
        groups: &[GroupWindow],
        clients: &[ClientWindow],
    ) {
        let inc = &mut o.incidents[i];
        inc.restored = Some(since);
        inc.closed = Some(now);
        for p in &mut inc.plans {
            for s in &mut p.steps {
                if s.outcome == StepOutcome::Running {
                    // Restored while it was being judged: it did no harm and the service
                    // level is back.
                    s.outcome = StepOutcome::Passed;
                    s.end = Some(now);
                }
            }
            if p.stopped.is_none() && p.steps.iter().any(|s| s.outcome == StepOutcome::NotStarted) {
                p.stopped = Some("the incident closed".into());
            }
        }
        o.open = None;
        o.last_closed = now;
        o.acknowledged = firing;
        if let Some(decider) = &mut o.decider {
            let s = signals
                .get_or_insert_with(|| self.signals(now, width, groups, clients))
                .clone();
            // The decider hears that it is over; what it answers has nothing left to act on.
            let point = DecisionPoint {
                step: o.points,
                reason: Reason::Resolved,
                signals: s,
                incident: Some(view(&o.incidents[i])),
            };
            o.points += 1;
            if let Err(e) = decider.decide(&point) {
                o.error = Some(format!("decider: {e}"));
            }
        }
    }

    /// Asks the decider about incident `i`, and takes its answer.
    fn ask(
        &mut self,
        o: &mut Orchestrator,
        i: usize,
        reason: Reason,
        signals: Signals,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) {
        let point = DecisionPoint {
            step: o.points,
            reason,
            signals,
            incident: Some(view(&o.incidents[i])),
        };
        o.points += 1;
        let answer = match o.decider.as_mut().expect("automated").decide(&point) {
            Ok(a) => a,
            Err(e) => {
                o.error = Some(format!("decider: {e}"));
                return;
            }
        };
        match answer {
            Answer::Wait => {}
            Answer::Escalate => self.page(o, i, now, "the decider escalated".into(), q),
            Answer::Plan(plan) => {
                let checked = self.check_plan(&plan, &o.spec, &o.scenario);
                let inc = &mut o.incidents[i];
                let rejected = checked.as_ref().err().cloned();
                let steps = match &checked {
                    Ok(checked) => plan
                        .steps
                        .iter()
                        .zip(checked)
                        .map(|(s, (a, w))| new_step(Some((a.clone(), *w)), s))
                        .collect(),
                    Err(_) => plan.steps.iter().map(|s| new_step(None, s)).collect(),
                };
                if rejected.is_none() {
                    for p in &mut inc.plans {
                        if p.stopped.is_none()
                            && p.steps.iter().any(|s| s.outcome == StepOutcome::NotStarted)
                        {
                            p.stopped = Some(format!("replaced by plan `{}`", plan.name));
                        }
                    }
                }
                inc.plans.push(PlanRun {
                    decided: now,
                    plan,
                    rejected: rejected.clone(),
                    stopped: None,
                    steps,
                });
                if let Some(why) = rejected {
                    self.page(o, i, now, format!("plan rejected: {why}"), q);
                }
            }
        }
    }

    /// Judges incident `i`'s running steps at this window end. Returns whether one failed
    /// its verification or was harmful (a decision point).
    #[allow(clippy::too_many_arguments)]
    fn judge_steps(
        &mut self,
        o: &mut Orchestrator,
        i: usize,
        now: SimTime,
        _width: SimDuration,
        groups: &[GroupWindow],
        clients: &[ClientWindow],
        q: &mut EventQueue<Event>,
    ) -> bool {
        let mut decide = false;
        let mut undo: Vec<(usize, usize)> = Vec::new();
        let inc = &mut o.incidents[i];
        for (p, plan) in inc.plans.iter_mut().enumerate() {
            for (k, s) in plan.steps.iter_mut().enumerate() {
                if s.outcome != StepOutcome::Running {
                    continue;
                }
                let Some(w) = s.watch else { continue };
                let v = value(w.of, w.metric, groups, clients);
                s.after = v;
                s.windows += 1;
                let worse = match (s.before, v) {
                    (Some(b), Some(v)) => {
                        let delta = if w.below { v - b } else { b - v };
                        delta > HARM_RELATIVE * b.abs() && delta > harm_floor(w.metric)
                    }
                    _ => false,
                };
                s.worse = if worse { s.worse + 1 } else { 0 };
                if s.worse >= HARM_WINDOWS {
                    s.end = Some(now);
                    inc.harmful += 1;
                    decide = true;
                    if matches!(s.action, Some(Action::Restart { .. })) {
                        s.outcome = StepOutcome::Harmful;
                        plan.stopped = Some(format!(
                            "step `{}` made {} worse and a restart cannot be undone",
                            plan.plan.steps[k].id,
                            w.metric.name()
                        ));
                    } else {
                        s.outcome = StepOutcome::Undone;
                        inc.undone += 1;
                        undo.push((p, k));
                        plan.stopped = Some(format!(
                            "step `{}` made {} worse: undone",
                            plan.plan.steps[k].id,
                            w.metric.name()
                        ));
                    }
                    continue;
                }
                if now < s.effective {
                    continue;
                }
                let reached = match (w.level, v) {
                    (None, _) => s.windows >= HARM_WINDOWS,
                    (Some(l), Some(v)) => {
                        if w.below {
                            v < l
                        } else {
                            v > l
                        }
                    }
                    (Some(_), None) => false,
                };
                if reached {
                    s.outcome = StepOutcome::Passed;
                    s.end = Some(now);
                } else if now.saturating_since(s.start.expect("running")) >= w.within {
                    s.outcome = StepOutcome::Failed;
                    s.end = Some(now);
                    inc.failed += 1;
                    decide = true;
                    plan.stopped = Some(format!(
                        "step `{}` failed its verification",
                        plan.plan.steps[k].id
                    ));
                }
            }
        }
        for (p, k) in undo {
            let s = &o.incidents[i].plans[p].steps[k];
            let (taken, listed) = (s.taken.clone().expect("started"), s.listed);
            self.undo_action(&taken, q);
            let a = &mut self.actions[listed];
            a.end_s = a.end_s.min(now.as_secs_f64());
        }
        decide
    }

    /// Starts every ready step of incident `i` the limits allow, in plan then step order.
    fn start_ready_steps(
        &mut self,
        o: &mut Orchestrator,
        i: usize,
        now: SimTime,
        groups: &[GroupWindow],
        clients: &[ClientWindow],
        q: &mut EventQueue<Event>,
    ) {
        if o.incidents[i].escalation.is_some() {
            return;
        }
        let limits = o.spec.limits;
        loop {
            let inc = &o.incidents[i];
            let running: Vec<(usize, String)> = (inc.plans.iter().enumerate())
                .flat_map(|(p, plan)| {
                    plan.steps
                        .iter()
                        .filter(|s| s.outcome == StepOutcome::Running)
                        .map(move |s| (p, target_of(s.action.as_ref())))
                })
                .collect();
            if running.len() as u32 >= limits.max_concurrent
                || o.recent.len() as u32 >= limits.max_per_minute
            {
                return;
            }
            // The first ready step that fits.
            let mut pick = None;
            'plans: for (p, plan) in inc.plans.iter().enumerate() {
                if plan.rejected.is_some() || plan.stopped.is_some() {
                    continue;
                }
                for (k, s) in plan.steps.iter().enumerate() {
                    if s.outcome != StepOutcome::NotStarted {
                        continue;
                    }
                    let ready = plan.plan.steps[k].after.iter().all(|id| {
                        plan.plan
                            .steps
                            .iter()
                            .position(|x| &x.id == id)
                            .is_some_and(|j| plan.steps[j].outcome == StepOutcome::Passed)
                    });
                    let target = target_of(s.action.as_ref());
                    let other_plan = running.iter().any(|(q, t)| *q != p && *t == target);
                    if ready && !other_plan && self.capacity_allows(inc, s.action.as_ref(), &limits)
                    {
                        pick = Some((p, k));
                        break 'plans;
                    }
                }
            }
            let Some((p, k)) = pick else { return };
            if inc.actions >= limits.budget {
                self.page(
                    o,
                    i,
                    now,
                    format!("action budget spent ({} actions)", limits.budget),
                    q,
                );
                return;
            }
            self.start_step(o, i, p, k, now, groups, clients, q);
        }
    }

    /// Whether restarting or draining as `action` says keeps the instances of its service
    /// restarted or drained by running steps at most `max_capacity_fraction` of those in
    /// service (at least one).
    fn capacity_allows(
        &self,
        inc: &Incident,
        action: Option<&Action>,
        limits: &crate::remediation::spec::Limits,
    ) -> bool {
        let Some((g, n)) = action.and_then(|a| self.instances_acted_on(a)) else {
            return true;
        };
        let busy: u32 = inc
            .plans
            .iter()
            .flat_map(|p| &p.steps)
            .filter(|s| s.outcome == StepOutcome::Running)
            .filter_map(|s| s.action.as_ref().and_then(|a| self.instances_acted_on(a)))
            .filter(|(x, _)| *x == g)
            .map(|(_, n)| n)
            .sum();
        busy + n <= allowed(self.groups[g].wanted, limits.max_capacity_fraction)
    }

    /// The service group a restart or drain acts on, and on how many of its instances.
    fn instances_acted_on(&self, a: &Action) -> Option<(usize, u32)> {
        let (Action::Restart { service, .. } | Action::Drain { service }) = a else {
            return None;
        };
        if let Some(g) = self.groups.iter().position(|g| &g.name == service) {
            return Some((g, self.groups[g].wanted));
        }
        let (base, _) = service.rsplit_once('#')?;
        let g = self.groups.iter().position(|g| g.name == base)?;
        Some((g, 1))
    }

    #[allow(clippy::too_many_arguments)]
    fn start_step(
        &mut self,
        o: &mut Orchestrator,
        i: usize,
        p: usize,
        k: usize,
        now: SimTime,
        groups: &[GroupWindow],
        clients: &[ClientWindow],
        q: &mut EventQueue<Event>,
    ) {
        let inc = &mut o.incidents[i];
        let plan = &inc.plans[p];
        let step = &plan.plan.steps[k];
        let action = plan.steps[k].action.clone().expect("checked plan");
        let by = format!(
            "plan {} step {} (incident {})",
            plan.plan.name, step.id, inc.id
        );
        let cause = match &inc.classification {
            Some((c, _)) => format!("incident {}: {} on {}", inc.id, c.class.name(), c.target),
            None => format!("incident {}: {}", inc.id, inc.alerts.join(", ")),
        };
        let decided = plan.decided;
        let remedies = inc.remedy.as_ref().is_some_and(|r| r.matches(&step.action));
        inc.actions += 1;
        o.recent.push_back(now);
        let listed = self.actions.len();
        let taken = self.take_action(&action, None, decided, q);
        self.record_action(by, cause, &action, decided, &taken);
        let end = taken.end;
        let effective = match action {
            Action::Restart { .. } | Action::ScaleTo { .. } => end.min(match action {
                Action::ScaleTo { provisioning, .. } => now.saturating_add(provisioning),
                _ => end,
            }),
            _ => now,
        };
        let inc = &mut o.incidents[i];
        let refused = taken.refused.clone();
        let s = &mut inc.plans[p].steps[k];
        s.outcome = StepOutcome::Running;
        s.start = Some(now);
        s.effective = effective;
        s.listed = listed;
        s.before = s.watch.and_then(|w| value(w.of, w.metric, groups, clients));
        s.taken = Some(taken);
        if let Some(why) = refused {
            // The world would not take it (a scale within its cooldown): a failed step.
            s.outcome = StepOutcome::Failed;
            s.end = Some(now);
            inc.failed += 1;
            let id = &inc.plans[p].plan.steps[k].id;
            inc.plans[p].stopped = Some(format!("step `{id}` refused: {why}"));
            return;
        }
        // The remedy: its faults end now (a rollback has ended a bad version itself).
        if remedies && inc.remedied.is_none() {
            inc.remedied = Some(now);
            let faults = inc.faults.clone();
            self.end_faults(&faults, q);
        }
    }

    /// Checks `plan` against the world and the limits: unique step ids, known `after`s, no
    /// cycle, known targets, parameters within the limits, verifications that can be read.
    /// Returns each step's action and the signal it is judged on, or the first problem.
    fn check_plan(
        &self,
        plan: &Plan,
        spec: &Remediation,
        scenario: &Scenario,
    ) -> Result<Vec<(Action, Watch)>, String> {
        // The plans validator first (its words), then what running it needs.
        let problems = crate::remediation::plan::problems(
            plan,
            scenario,
            &spec.limits,
            crate::remediation::plan::Templates::Resolved,
        );
        if !problems.is_empty() {
            let all: Vec<String> = problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect();
            return Err(all.join("; "));
        }
        if plan.steps.is_empty() {
            return Err(format!("plan `{}` has no steps", plan.name));
        }
        let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
        for (k, id) in ids.iter().enumerate() {
            if ids[..k].contains(id) {
                return Err(format!("step id `{id}` is used twice"));
            }
        }
        for s in &plan.steps {
            for a in &s.after {
                if !ids.contains(&a.as_str()) {
                    return Err(format!("step `{}`: `after` names no step `{a}`", s.id));
                }
            }
        }
        // Kahn: a step whose `after`s are all placed is placed; what is left is a cycle.
        let mut placed = vec![false; ids.len()];
        loop {
            let next = (0..ids.len()).find(|&k| {
                !placed[k]
                    && plan.steps[k]
                        .after
                        .iter()
                        .all(|a| placed[ids.iter().position(|x| x == a).expect("checked")])
            });
            match next {
                Some(k) => placed[k] = true,
                None => break,
            }
        }
        if let Some(k) = placed.iter().position(|p| !p) {
            return Err(format!("steps form a cycle through `{}`", ids[k]));
        }
        let mut out = Vec::new();
        for s in &plan.steps {
            let at = |m: String| format!("step `{}`: {m}", s.id);
            let action = s.action.to_action();
            self.check_target(&action).map_err(at)?;
            let watch = match &s.verify {
                Some(v) => self.watch_of(v).map_err(at)?,
                None => Watch {
                    of: Of::WorstClient,
                    metric: Metric::ErrorRate,
                    below: true,
                    level: None,
                    within: spec.verify_within,
                },
            };
            out.push((action, watch));
        }
        Ok(out)
    }

    fn check_target(&self, a: &Action) -> Result<(), String> {
        let group = |name: &str| self.groups.iter().position(|g| g.name == name);
        let instance = |name: &str| -> bool {
            group(name).is_some()
                || name.rsplit_once('#').is_some_and(|(b, i)| {
                    group(b).zip(i.parse::<u32>().ok()).is_some_and(|(g, i)| {
                        let g = &self.groups[g];
                        i < g.instances.end - g.instances.start
                    })
                })
        };
        let unknown = |what: &str, name: &str| Err(format!("unknown {what} `{name}`"));
        match a {
            Action::Restart {
                service,
                restart_time,
            } => {
                if !instance(service) {
                    return unknown("service or instance", service);
                }
                if restart_time.is_zero() {
                    return Err("restart_time must be longer than 0s".into());
                }
            }
            Action::Drain { service } if !instance(service) => {
                return unknown("service or instance", service);
            }
            Action::Limit {
                service,
                max_concurrency,
            } => {
                if group(service).is_none() {
                    return unknown("service", service);
                }
                if *max_concurrency == 0 {
                    return Err("max_concurrency must be at least 1".into());
                }
            }
            Action::ScaleTo {
                service, replicas, ..
            } => {
                let Some(g) = group(service) else {
                    return unknown("service", service);
                };
                let g = &self.groups[g];
                let max = g.instances.end - g.instances.start;
                if *replicas == 0 || *replicas > max {
                    return Err(format!(
                        "replicas must be between 1 and {max} (the service's max_replicas), got {replicas}"
                    ));
                }
            }
            Action::Rollback { config } if !self.configs.iter().any(|c| &c.name == config) => {
                return unknown("config", config);
            }
            Action::Fallback { caller, callee } => {
                let n_clients = self.clients.len() as u32;
                let from: Vec<u32> = match self.clients.iter().position(|c| &c.name == caller) {
                    Some(c) => vec![c as u32],
                    None if instance(caller) => self
                        .action_instances(caller)
                        .into_iter()
                        .map(|i| n_clients + i)
                        .collect(),
                    None => return unknown("caller", caller),
                };
                if !self
                    .edges
                    .iter()
                    .any(|e| from.contains(&e.from) && &e.callee == callee)
                {
                    return Err(format!("`{caller}` does not call `{callee}`"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The instances a `NAME` or `NAME#i` names.
    fn action_instances(&self, name: &str) -> Vec<u32> {
        if let Some(g) = self.groups.iter().find(|g| g.name == name) {
            return g.instances.clone().collect();
        }
        name.rsplit_once('#')
            .and_then(|(b, i)| {
                let g = self.groups.iter().find(|g| g.name == b)?;
                Some(vec![g.instances.start + i.parse::<u32>().ok()?])
            })
            .unwrap_or_default()
    }

    fn watch_of(&self, v: &crate::remediation::plan::Verify) -> Result<Watch, String> {
        let of = if let Some(g) = self.groups.iter().position(|g| g.name == v.of) {
            if !v.signal.of_service() {
                return Err(format!("verify: a service has no {}", v.signal.name()));
            }
            Of::Group(g as u32)
        } else if let Some(c) = self.clients.iter().position(|c| c.name == v.of) {
            if !v.signal.of_client() {
                return Err(format!("verify: a client has no {}", v.signal.name()));
            }
            Of::Client(c as u32)
        } else {
            return Err(format!("verify: unknown service or client `{}`", v.of));
        };
        let (below, level) = match (v.below, v.above) {
            (Some(l), None) => (true, l),
            (None, Some(l)) => (false, l),
            _ => return Err("verify: give exactly one of `below` and `above`".into()),
        };
        if !level.is_finite() {
            return Err(format!(
                "verify: the level must be a finite number, got {level}"
            ));
        }
        if v.within.is_zero() {
            return Err("verify: `within` must be longer than 0s".into());
        }
        Ok(Watch {
            of,
            metric: v.signal,
            below,
            level: Some(level),
            within: v.within,
        })
    }

    /// The report at the end of the run (`end`), with the run's availability.
    pub(crate) fn remediation_report(
        &self,
        end: SimTime,
        availability: f64,
    ) -> Option<RemediationReport> {
        let o = self.orchestrator.as_ref()?;
        let incidents: Vec<IncidentReport> = o.incidents.iter().map(report).collect();
        let n = incidents.len();
        let mean =
            |xs: Vec<f64>| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
        let totals = RemediationTotals {
            incidents: n as u32,
            unresolved: incidents.iter().filter(|x| x.mttr_s.is_none()).count() as u32,
            mttd_s: mean(incidents.iter().map(|x| x.mttd_s).collect()),
            mttr_s: mean(
                incidents
                    .iter()
                    .map(|x| x.mttr_s.unwrap_or(end.as_secs_f64() - x.start_s))
                    .collect(),
            ),
            actions: incidents.iter().map(|x| x.actions).sum(),
            undone: incidents.iter().map(|x| x.undone).sum(),
            harmful: incidents.iter().map(|x| x.harmful).sum(),
            escalations: incidents.iter().filter(|x| x.escalation.is_some()).count() as u32,
            availability,
        };
        Some(RemediationReport {
            automation: o.label.clone(),
            incidents,
            totals,
        })
    }
}

/// Instances of a service of `n` steps may restart or drain at once (as the plans
/// validator counts them: a lone instance never).
fn allowed(n: u32, fraction: f64) -> u32 {
    (f64::from(n) * fraction).floor() as u32
}

fn target_of(a: Option<&Action>) -> String {
    a.map(|a| a.describe().1).unwrap_or_default()
}

fn new_step(checked: Option<(Action, Watch)>, s: &crate::remediation::plan::Step) -> StepRun {
    let (action, watch) = match checked {
        Some((a, w)) => (Some(a), Some(w)),
        None => (None, None),
    };
    let label = match &action {
        Some(a) => {
            let (kind, target) = a.describe();
            format!("{kind} {target}")
        }
        None => format!("{:?}", s.action),
    };
    StepRun {
        action,
        label,
        outcome: StepOutcome::NotStarted,
        start: None,
        end: None,
        effective: SimTime::ZERO,
        taken: None,
        listed: 0,
        watch,
        before: None,
        after: None,
        worse: 0,
        windows: 0,
    }
}

/// The value of `metric` of `of` over the window just closed.
fn value(of: Of, metric: Metric, groups: &[GroupWindow], clients: &[ClientWindow]) -> Option<f64> {
    match of {
        Of::Group(g) => groups[g as usize].value(metric),
        // Window width only matters for goodput, which the caller's windows share.
        Of::Client(c) => clients[c as usize].value(metric, 1.0),
        Of::WorstClient => clients
            .iter()
            .filter(|c| c.finished > 0)
            .map(|c| c.failed as f64 / c.finished as f64)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x)))),
    }
}

fn view(inc: &Incident) -> IncidentView {
    let text = match &inc.classification {
        Some((c, _)) => format!(
            "{} firing since {:.0}s: {} on {} ({})",
            inc.alerts.join(", "),
            inc.opened.as_secs_f64(),
            c.class.name(),
            c.target,
            c.evidence
        ),
        None => format!(
            "{} firing since {:.0}s",
            inc.alerts.join(", "),
            inc.opened.as_secs_f64()
        ),
    };
    IncidentView {
        id: inc.id,
        opened_s: inc.opened.as_secs_f64(),
        classification: inc.classification.as_ref().map(|(c, _)| c.clone()),
        text,
        actions_taken: inc.actions,
        failed_verifications: inc.failed,
        recent_actions: {
            let started: Vec<StepReport> = inc
                .plans
                .iter()
                .flat_map(|p| p.plan.steps.iter().zip(&p.steps))
                .filter(|(_, st)| st.start.is_some())
                .map(|(spec, st)| step_report(spec, st))
                .collect();
            let skip = started.len().saturating_sub(RECENT_ACTIONS);
            started.into_iter().skip(skip).collect()
        },
    }
}

/// Steps an observation shows of its incident (the latest started).
const RECENT_ACTIONS: usize = 10;

fn step_report(spec: &crate::remediation::plan::Step, st: &StepRun) -> StepReport {
    let s = |t: SimTime| t.as_secs_f64();
    StepReport {
        id: spec.id.clone(),
        action: st.label.clone(),
        outcome: st.outcome,
        start_s: st.start.map(s),
        end_s: st.end.map(s),
        signal: st.watch.map(|w| w.metric.name().to_string()),
        before: st.before,
        after: st.after,
    }
}

fn report(inc: &Incident) -> IncidentReport {
    let s = |t: SimTime| t.as_secs_f64();
    IncidentReport {
        id: inc.id,
        truth: inc.truth.clone(),
        start_s: s(inc.start),
        opened_s: s(inc.opened),
        alerts: inc.alerts.clone(),
        classification: inc.classification.as_ref().map(|(c, _)| c.clone()),
        classified_s: inc.classification.as_ref().map(|(_, t)| s(*t)),
        plans: inc
            .plans
            .iter()
            .map(|p| PlanReport {
                decided_s: s(p.decided),
                plan: p.plan.clone(),
                rejected: p.rejected.clone(),
                stopped: p.stopped.clone(),
                steps: p
                    .plan
                    .steps
                    .iter()
                    .zip(&p.steps)
                    .map(|(spec, st)| step_report(spec, st))
                    .collect(),
            })
            .collect(),
        escalation: inc.escalation.clone(),
        remedied_s: inc.remedied.map(s),
        restored_s: inc.restored.map(s),
        closed_s: inc.closed.map(s),
        mttd_s: s(inc.opened) - s(inc.start),
        mttr_s: inc.restored.map(|r| s(r) - s(inc.start)),
        actions: inc.actions,
        failed_verifications: inc.failed,
        undone: inc.undone,
        harmful: inc.harmful,
    }
}
