//! Config rollouts: a central config service holds versions of a config; the instances of
//! the services that read it each hold one version; a push makes a new version, good or
//! bad, and a strategy decides which instances are meant to take it when.
//!
//! # The real systems it follows, and where it differs
//! - **Facebook's Configerator** (Tang et al., "Holistic Configuration Management at
//!   Facebook", SOSP 2015): configs change live, thousands of times a day, and a bad config
//!   is a leading cause of outages; a change goes to a canary set of servers first, then to
//!   everyone; servers get changes pushed through a distribution tree and keep the last
//!   config they received if the config service is away. `Delivery::Push { delay }` is
//!   that push; `Delivery::Poll { every }` is the other common shape (a sidecar or an
//!   agent fetching every interval, each instance at its own phase).
//! - **Kubernetes Deployment rolling updates** and **Argo Rollouts canary steps**: a
//!   rollout is a list of steps, each setting the share of instances on the new version
//!   (`setWeight`), with a pause between them (`pause: {duration}`, the `bake` here);
//!   shares of instances are rounded up as Kubernetes rounds a percentage `maxSurge`.
//!   An Argo `AnalysisTemplate` that fails aborts the rollout and scales the canary back to
//!   the stable version; here the analysis is an ordinary rule (a threshold on a service's
//!   error rate, or an SLO alert) whose action is `Rollback(config: ..)`: the steps still
//!   to come are halted and every instance is meant to hold the stable version again.
//! - **Google SRE Workbook, "Canarying Releases"**: a canary is a partial and time-limited
//!   deployment with an evaluation; it limits the blast radius only if the evaluation
//!   decides before the next step. The numbers here show it: staged with a rollback
//!   affects at most the canary share when fetch interval + alert delay + rule delay is
//!   shorter than the bake time, and more when it is not.
//!
//! Where simctl differs: the config service is not a component that instances call (its
//! load and its outages are not modelled; an instance always keeps the version it holds
//! until it takes another, which is the static stability Configerator relies on). A
//! version's effect is one of three: good, errors with probability `p` on each attempt the
//! instance finishes (callers see an error answer, as with a real 500; the config counts
//! them as `failed_by_config`), or a crash loop (down, refusing connections, while it
//! holds the version). The canary is the first instances of each service (`api#0`, ...),
//! not a random draw, and shares are of every instance built (`max_replicas` of a service
//! that scales), in service or not. Rollback targets the version before the push being
//! rolled out; a later push takes over from an unfinished one.
//!
//! Each instance's poll phase comes from the config's own stream `config/NAME/phase`, so a
//! config leaves every other component's draws unchanged, and a scenario without configs
//! builds nothing here and pays nothing (its hooks are behind `configs.is_empty()`).

use std::ops::Range;

use rand::RngExt;
use sim_core::queue::EventQueue;
use sim_core::rng;
use sim_core::{SimDuration, SimTime};

use super::effects::EffectKind;
use super::{Event, World};
use crate::result::{ConfigResult, ConfigSeries, PushResult};
use crate::scenario::{self, ConfigEffect, ConfigPush, Delivery, Strategy, step_count};

/// A config's own events. Small fields: `Event` stays the size it was.
#[derive(Clone, Copy, Debug)]
pub enum ConfigEvent {
    /// Reader `reader` of config `config` fetches (a poll) or gets a push.
    Fetch { config: u16, reader: u32 },
    /// Step `step` of push `push` begins.
    Step { config: u16, push: u16, step: u16 },
}

/// An instance reading the config.
struct Reader {
    instance: u32,
    /// The version meant for it, and the one it holds.
    target: u32,
    held: u32,
    /// The effect of the bad version it holds, if it holds one.
    effect: Option<u32>,
}

pub(crate) struct ConfigState {
    pub name: String,
    delivery: Delivery,
    strategy: Strategy,
    pushes: Vec<ConfigPush>,
    /// Each service's readers (indices in `readers`).
    services: Vec<Range<u32>>,
    readers: Vec<Reader>,
    /// The version a rollback returns to, and the push being rolled out.
    stable: u32,
    current: Option<u16>,
    halted: Vec<bool>,
    reports: Vec<PushResult>,
    /// Readers holding each version now.
    holding: Vec<u32>,
    /// Some reader held a bad version during the window being filled.
    exposed: bool,
    attempts_exposed: u64,
    failed: u64,
    series: ConfigSeries,
}

impl ConfigState {
    /// Config `spec`; `instances_of(j)` are the instances of the scenario's service `j`.
    pub(crate) fn new(
        s: &scenario::Scenario,
        spec: &scenario::Config,
        instances_of: impl Fn(usize) -> Range<u32>,
    ) -> ConfigState {
        let mut readers = Vec::new();
        let mut services = Vec::new();
        for name in &spec.services {
            let j = s.service_index(name).expect("validated config");
            let first = readers.len() as u32;
            readers.extend(instances_of(j).map(|instance| Reader {
                instance,
                target: 0,
                held: 0,
                effect: None,
            }));
            services.push(first..readers.len() as u32);
        }
        let versions = spec.pushes.len() + 1;
        let mut holding = vec![0; versions];
        holding[0] = readers.len() as u32;
        ConfigState {
            name: spec.name.clone(),
            delivery: spec.delivery,
            strategy: spec.strategy,
            pushes: spec.pushes.clone(),
            services,
            readers,
            stable: 0,
            current: None,
            halted: vec![false; spec.pushes.len()],
            reports: (spec.pushes.iter().enumerate())
                .map(|(k, p)| PushResult {
                    version: k as u32 + 1,
                    at_s: p.at.as_secs_f64(),
                    bad: p.effect.is_bad(),
                    ..Default::default()
                })
                .collect(),
            holding,
            exposed: false,
            attempts_exposed: 0,
            failed: 0,
            series: ConfigSeries {
                instances_on: vec![Vec::new(); versions],
                failed_by_config: Vec::new(),
            },
        }
    }

    /// Its first events: each push's first step, and each reader's first poll.
    pub(crate) fn schedule_first(&self, c: u16, seed: u64, q: &mut EventQueue<Event>) {
        for (p, push) in self.pushes.iter().enumerate() {
            let step = ConfigEvent::Step {
                config: c,
                push: p as u16,
                step: 0,
            };
            q.schedule(SimTime::ZERO.saturating_add(push.at), Event::Config(step));
        }
        if let Delivery::Poll { every } = self.delivery {
            let mut phases = rng::stream(seed, &format!("config/{}/phase", self.name));
            for r in 0..self.readers.len() as u32 {
                let phase = phases.random::<f64>();
                let at =
                    SimTime::ZERO + SimDuration::from_nanos_f64(every.as_nanos() as f64 * phase);
                q.schedule(
                    at,
                    Event::Config(ConfigEvent::Fetch {
                        config: c,
                        reader: r,
                    }),
                );
            }
        }
    }

    /// The bad version's effect on instance `instance`, if `version` is bad.
    fn effect_of(&self, version: u32, instance: u32) -> Option<EffectKind> {
        let push = version.checked_sub(1)?;
        match self.pushes[push as usize].effect {
            ConfigEffect::Good => None,
            ConfigEffect::Errors { p } => Some(EffectKind::ConfigErrors { instance, p }),
            ConfigEffect::Crash => Some(EffectKind::ConfigCrash { instance }),
        }
    }

    fn bad_held(&self) -> bool {
        self.holding
            .iter()
            .enumerate()
            .skip(1)
            .any(|(v, &n)| n > 0 && self.pushes[v - 1].effect.is_bad())
    }

    /// Each reader's instance and the version it holds.
    pub(crate) fn held(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.readers.iter().map(|r| (r.instance, r.held))
    }

    /// The versions pushed at or before `now_s`, with when.
    pub(crate) fn pushes_begun(&self, now_s: f64) -> impl Iterator<Item = (u32, f64)> + '_ {
        (self.reports.iter())
            .filter(move |r| r.at_s <= now_s)
            .map(|r| (r.version, r.at_s))
    }

    pub(crate) fn result(&self) -> ConfigResult {
        let n = self.readers.len() as u32;
        let share = |k: u32| f64::from(k) / f64::from(n.max(1));
        let pushes: Vec<PushResult> = (self.reports.iter())
            .map(|r| PushResult {
                max_share: share(r.max_instances),
                time_to_rollback_s: r.rollback_s.map(|t| t - r.at_s),
                time_to_clean_s: r
                    .last_off_s
                    .filter(|_| r.rollback_s.is_some())
                    .map(|t| t - r.at_s),
                ..r.clone()
            })
            .collect();
        let blast = (pushes.iter().filter(|p| p.bad))
            .map(|p| p.max_share)
            .fold(0.0, f64::max);
        ConfigResult {
            name: self.name.clone(),
            instances: n,
            pushes,
            blast_radius: blast,
            failed_by_config: self.failed,
            attempts_exposed: self.attempts_exposed,
            affected_share: if self.attempts_exposed > 0 {
                self.failed as f64 / self.attempts_exposed as f64
            } else {
                0.0
            },
            series: self.series.clone(),
        }
    }
}

impl World {
    pub(super) fn on_config_event(&mut self, e: ConfigEvent, q: &mut EventQueue<Event>) {
        match e {
            ConfigEvent::Fetch { config, reader } => {
                let cfg = &self.configs[config as usize];
                if let Delivery::Poll { every } = cfg.delivery {
                    let next = ConfigEvent::Fetch { config, reader };
                    q.schedule(q.now() + every, Event::Config(next));
                }
                self.adopt(config as usize, reader as usize, q);
            }
            ConfigEvent::Step { config, push, step } => self.on_step(config, push, step, q),
        }
    }

    /// Step `step` of push `push` of config `c`: the first readers of each service up to
    /// the step's share are meant to hold its version.
    fn on_step(&mut self, c: u16, push: u16, step: u16, q: &mut EventQueue<Event>) {
        let now = q.now();
        let cfg = &mut self.configs[c as usize];
        if step == 0 {
            // A later push takes over from an unfinished one: what it replaces is stable.
            if let Some(prev) = cfg.current
                && !cfg.halted[prev as usize]
            {
                cfg.stable = u32::from(prev) + 1;
            }
            cfg.current = Some(push);
        } else if cfg.current != Some(push) || cfg.halted[push as usize] {
            return; // halted by a rollback, or taken over
        }
        let steps = cfg.strategy.steps();
        let share = steps[step as usize];
        let version = u32::from(push) + 1;
        cfg.reports[push as usize].steps_s.push(now.as_secs_f64());
        let mut changed = Vec::new();
        for range in &cfg.services {
            let meant = step_count(share, range.end - range.start);
            for r in range.start..range.start + meant {
                if cfg.readers[r as usize].target != version {
                    cfg.readers[r as usize].target = version;
                    changed.push(r);
                }
            }
        }
        if (step as usize) + 1 < steps.len() {
            let next = ConfigEvent::Step {
                config: c,
                push,
                step: step + 1,
            };
            q.schedule(now + cfg.strategy.bake(), Event::Config(next));
        }
        self.deliver_changes(c, &changed, q);
    }

    /// Pushes reach the readers whose target changed after the push delay (a poll finds
    /// them at its own time).
    fn deliver_changes(&mut self, c: u16, changed: &[u32], q: &mut EventQueue<Event>) {
        if let Delivery::Push { delay } = self.configs[c as usize].delivery {
            for &reader in changed {
                let e = ConfigEvent::Fetch { config: c, reader };
                q.schedule(q.now() + delay, Event::Config(e));
            }
        }
    }

    /// Reader `r` of config `c` takes the version meant for it, if it holds another.
    fn adopt(&mut self, c: usize, r: usize, q: &mut EventQueue<Event>) {
        let now = q.now();
        let cfg = &mut self.configs[c];
        let reader = &mut cfg.readers[r];
        let (old, new, instance) = (reader.held, reader.target, reader.instance);
        if old == new {
            return;
        }
        reader.held = new;
        let old_effect = reader.effect.take();
        cfg.holding[old as usize] -= 1;
        cfg.holding[new as usize] += 1;
        if old > 0 && cfg.holding[old as usize] == 0 {
            cfg.reports[old as usize - 1].last_off_s = Some(now.as_secs_f64());
        }
        if new > 0 {
            let report = &mut cfg.reports[new as usize - 1];
            report.max_instances = report.max_instances.max(cfg.holding[new as usize]);
            report.last_off_s = None;
        }
        let new_effect = cfg.effect_of(new, instance);
        cfg.exposed |= new_effect.is_some();
        if let Some(f) = old_effect {
            self.end_effect(f, q);
        }
        if let Some(kind) = new_effect {
            let f = self.start_effect(kind, None, q);
            self.configs[c].readers[r].effect = Some(f);
        }
    }

    /// A rule rolls config `name` back (decided at `decided_at`): the push being rolled out
    /// halts and every reader is meant to hold the stable version again.
    pub(super) fn rollback_config(
        &mut self,
        name: &str,
        decided_at: SimTime,
        q: &mut EventQueue<Event>,
    ) {
        let c = (self.configs.iter())
            .position(|x| x.name == name)
            .expect("validated rollback target");
        let cfg = &mut self.configs[c];
        let Some(push) = cfg.current else {
            return; // nothing pushed yet: nothing to roll back
        };
        if !cfg.halted[push as usize] {
            cfg.halted[push as usize] = true;
            let report = &mut cfg.reports[push as usize];
            report.rollback_decided_s = Some(decided_at.as_secs_f64());
            report.rollback_s = Some(q.now().as_secs_f64());
        }
        let stable = cfg.stable;
        let mut changed = Vec::new();
        for (r, reader) in cfg.readers.iter_mut().enumerate() {
            if reader.target != stable {
                reader.target = stable;
                changed.push(r as u32);
            }
        }
        self.deliver_changes(c as u16, &changed, q);
    }

    /// Closes each config's window: versions held, and the attempts of the window at its
    /// services if some reader held a bad version in it. Before the services' windows reset.
    pub(super) fn close_config_windows(&mut self) {
        for cfg in &mut self.configs {
            let mut attempts = 0;
            let mut failed = 0;
            for reader in &cfg.readers {
                let svc =
                    &mut self.services[self.instances[reader.instance as usize].index as usize];
                attempts += svc.stats.window.attempts;
                failed += std::mem::take(&mut svc.config_failed);
            }
            if cfg.exposed || cfg.bad_held() {
                cfg.attempts_exposed += attempts;
            }
            cfg.exposed = false;
            cfg.failed += failed;
            cfg.series.failed_by_config.push(failed);
            for (out, &n) in cfg.series.instances_on.iter_mut().zip(&cfg.holding) {
                out.push(n);
            }
        }
    }
}
