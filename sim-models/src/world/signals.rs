//! The online signals of the window just closed, as remediation's deciders see them
//! ([`crate::remediation::class::Signals`]): what dashboards show, never the fault schedule.
//!
//! A scenario with a `remediation` section gets a [`Watch`]: the few counts per window the
//! signals need beyond the time series (attempts per call site, timeouts per instance), each
//! instance's numbers of the window just closed, each client's baseline load, and the record
//! of each generated incident (detected, classified). Without the section there is no
//! watch and the hooks are one branch each.

use sim_core::{SimDuration, SimTime};

use super::World;
use super::control::{ClientWindow, GroupWindow};
use crate::remediation::class::{
    ClientSignals, InstanceSignals, PushSignal, ServiceSignals, Signals, classify,
};
use crate::remediation::mix::GeneratedIncident;
use crate::remediation::record::IncidentRecord;

/// A client's baseline load is an exponentially weighted mean of its offered rate over
/// about this long (long enough that the minute or so a surge takes to page moves it
/// little), frozen while a page alert fires (so an incident does not become its
/// own baseline).
const BASELINE_TAU_S: f64 = 900.0;
/// Pushes begun this long ago at most are "recent".
const RECENT_PUSH_S: f64 = 600.0;
/// The alerts that page.
const PAGES: [&str; 2] = ["page-fast", "page-slow"];

/// An instance's numbers over the window just closed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct InstanceWindow {
    pub attempts: u64,
    pub failed: u64,
    pub busy: f64,
    pub queue_depth: f64,
}

pub(crate) struct Watch {
    /// Per call site, attempts sent in the window being filled.
    pub edge_attempts: Vec<u64>,
    /// Per instance, timeouts of calls to it in the window being filled.
    pub timeouts: Vec<u64>,
    /// Per service instance, the window just closed (filled by `close_window`), and the
    /// timeouts of that window.
    pub closed: Vec<InstanceWindow>,
    closed_timeouts: Vec<u64>,
    /// Per client, the baseline offered rate (none before the first window).
    baseline_rps: Vec<Option<f64>>,
    /// Per service group, the names of what its instances call (file order, once each).
    callees: Vec<Vec<String>>,
    /// Per service instance, its zone.
    zones: Vec<Option<String>>,
    /// Each generated incident's record.
    pub records: Vec<IncidentRecord>,
    /// Whether a page alert was firing at the window end before.
    paged_before: bool,
}

impl Watch {
    pub(crate) fn new(world: &World, s: &crate::scenario::Scenario) -> Watch {
        let n_clients = world.clients.len() as u32;
        let callees =
            (world.groups.iter())
                .map(|g| {
                    let mut out: Vec<String> = Vec::new();
                    for e in world.edges.iter().filter(|e| {
                        e.from >= n_clients && g.instances.contains(&(e.from - n_clients))
                    }) {
                        if !out.contains(&e.callee) {
                            out.push(e.callee.clone());
                        }
                    }
                    out
                })
                .collect();
        Watch {
            edge_attempts: vec![0; world.edges.len()],
            timeouts: vec![0; world.instances.len()],
            closed: vec![InstanceWindow::default(); world.services.len()],
            closed_timeouts: vec![0; world.instances.len()],
            baseline_rps: vec![None; world.clients.len()],
            callees,
            zones: (s.services.iter())
                .flat_map(|svc| (0..svc.instances()).map(|i| svc.zone_of(i).map(str::to_string)))
                .collect(),
            records: Vec::new(),
            paged_before: false,
        }
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

impl World {
    /// Starts watching: the generated incidents' truth is what records are kept for.
    pub(crate) fn watch_incidents(
        &mut self,
        s: &crate::scenario::Scenario,
        truth: Vec<GeneratedIncident>,
    ) {
        let mut watch = Watch::new(self, s);
        watch.records = truth.into_iter().map(IncidentRecord::new).collect();
        self.watch = Some(Box::new(watch));
    }

    /// The records of the generated incidents (empty without a watch).
    pub(crate) fn take_incident_log(&mut self) -> Vec<IncidentRecord> {
        self.watch
            .as_mut()
            .map(|w| std::mem::take(&mut w.records))
            .unwrap_or_default()
    }

    /// Whether a page alert of the scenario's SLO or of a client's is firing now.
    fn paging(&self) -> bool {
        let m = &self.metrics;
        std::iter::once(&m.alerts)
            .chain(&m.client_alerts)
            .flatten()
            .any(|a| PAGES.iter().any(|p| a.firing(p)))
    }

    /// At the end of each window (`close_window`, after the rules): the signals, each
    /// incident's record, then the baselines; the window's counts start over.
    pub(super) fn watch_window(
        &mut self,
        now: SimTime,
        width: SimDuration,
        groups: &[GroupWindow],
        clients: &[ClientWindow],
    ) {
        let Some(mut watch) = self.watch.take() else {
            return;
        };
        std::mem::swap(&mut watch.timeouts, &mut watch.closed_timeouts);
        self.watch = Some(watch);
        let signals = self.signals(now, width, groups, clients);
        let paging = self.paging();
        let watch = self.watch.as_deref_mut().expect("put back above");
        let mut answer = None;
        let paged_before = watch.paged_before;
        for r in &mut watch.records {
            r.observe(signals.now_s, paging, paged_before, &mut || {
                answer.get_or_insert_with(|| classify(&signals)).clone()
            });
        }
        watch.paged_before = paging;
        if !paging {
            let alpha = 1.0 - (-width.as_secs_f64() / BASELINE_TAU_S).exp();
            for (b, c) in watch.baseline_rps.iter_mut().zip(&signals.clients) {
                *b = Some(b.map_or(c.offered_rps, |b| b + alpha * (c.offered_rps - b)));
            }
        }
        watch.edge_attempts.fill(0);
        watch.timeouts.fill(0);
    }

    /// The signals at window end `now`, from the window just closed (a scenario with a
    /// `remediation` section only: the watch holds what they need beyond the series).
    pub(super) fn signals(
        &self,
        now: SimTime,
        width: SimDuration,
        _groups: &[GroupWindow],
        clients: &[ClientWindow],
    ) -> Signals {
        let mut out = Signals {
            now_s: now.as_secs_f64(),
            window_s: width.as_secs_f64(),
            ..Signals::default()
        };
        let Some(watch) = self.watch.as_deref() else {
            return out;
        };
        let secs = width.as_secs_f64().max(1e-12);
        let m = &self.metrics;
        for (alerts, who) in std::iter::once((&m.alerts, None))
            .chain((m.client_alerts.iter()).zip(self.clients.iter().map(|c| Some(c.name.as_str()))))
        {
            let Some(alerts) = alerts else { continue };
            for name in crate::slo::STANDARD_RULES.iter().map(|r| r.name) {
                if alerts.firing(name) {
                    out.alerts.push(match who {
                        Some(c) => format!("{c}:{name}"),
                        None => name.to_string(),
                    });
                }
            }
        }
        for (c, client) in self.clients.iter().enumerate() {
            let offered = m.rows.last_offered[c];
            let window = clients.get(c).copied().unwrap_or_default();
            let edge = &self.edges[client.edge as usize];
            let offered_rps = offered as f64 / secs;
            out.clients.push(ClientSignals {
                name: client.name.clone(),
                target: edge.callee.clone(),
                offered_rps,
                baseline_rps: watch.baseline_rps[c].unwrap_or(offered_rps),
                error_rate: ratio(window.failed, window.finished),
                p99_ms: window.p99_ms,
                retry_amplification: ratio(watch.edge_attempts[client.edge as usize], offered),
            });
        }
        // Versions held per instance, for the configs' readers.
        let mut held: Vec<Vec<(String, u32)>> = vec![Vec::new(); self.instances.len()];
        for cfg in &self.configs {
            for (instance, version) in cfg.held() {
                held[instance as usize].push((cfg.name.clone(), version));
            }
            for (version, at_s) in cfg.pushes_begun(out.now_s) {
                if out.now_s - at_s <= RECENT_PUSH_S {
                    out.recent_pushes.push(PushSignal {
                        config: cfg.name.clone(),
                        version,
                        began_s: at_s,
                    });
                }
            }
        }
        for (g, group) in self.groups.iter().enumerate() {
            let (mut attempts, mut failed, mut busy, mut workers, mut queue, mut timeouts) =
                (0, 0, 0.0, 0.0, 0.0, 0);
            let mut instances = Vec::new();
            for i in group.instances.clone() {
                if !self.in_service[i as usize] {
                    continue;
                }
                let k = self.instances[i as usize].index as usize;
                let w = watch.closed[k];
                let svc = &self.services[k];
                let capacity = f64::from(svc.capacity().max(1));
                let t = watch.closed_timeouts[i as usize];
                attempts += w.attempts;
                failed += w.failed;
                busy += w.busy;
                workers += capacity;
                queue += w.queue_depth;
                timeouts += t;
                instances.push(InstanceSignals {
                    name: self.instance_name(i).to_string(),
                    zone: watch.zones[k].clone(),
                    healthy: self.answers_probes(i),
                    error_rate: ratio(w.failed, w.attempts),
                    timeout_rate: ratio(t, w.attempts),
                    utilization: w.busy / capacity,
                    config_versions: std::mem::take(&mut held[i as usize]),
                });
            }
            let breakers_open = (self.edges.iter())
                .filter(|e| e.callee == group.name)
                .filter(|e| {
                    e.breaker
                        .as_ref()
                        .is_some_and(|b| b.state() == crate::breaker::State::Open)
                })
                .count() as u32;
            out.services.push(ServiceSignals {
                name: group.name.clone(),
                error_rate: ratio(failed, attempts),
                utilization: if workers > 0.0 { busy / workers } else { 0.0 },
                queue_depth: queue,
                callees: watch.callees[g].clone(),
                breakers_open,
                timeouts,
                attempts,
                instances,
            });
        }
        out
    }
}
