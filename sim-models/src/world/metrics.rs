//! Counters of a run and its time series. Totals count what happened after warm-up; the
//! series covers the whole run, one row per window.

use sim_core::stats::{LatencyRecorder, TimeWeighted, Welford, WindowLatency};
use sim_core::{SimDuration, SimTime};

use sim_core::queue::EventQueue;

use super::control::{ClientWindow, GroupWindow, p99_ms};
use super::{Failure, Outcome, Parent, World};
use crate::result::series_store::{ClientRow, SeriesStore, ServiceRow, SystemRow};
use crate::result::{ClientSeries, Failed, FailedSeries, Series, ServiceSeries};
use crate::slo::BurnRateAlerts;

/// Request outcomes as one client sees them.
#[derive(Default)]
pub(crate) struct ClientTally {
    pub offered: u64,
    pub succeeded: u64,
    pub degraded: u64,
    pub failed: Failed,
    pub latency: LatencyRecorder,
    pub latency_exact: Welford,
}

/// A service's counters; `*_level` track levels over time for time averages.
pub(crate) struct ServiceStats {
    pub attempts: u64,
    /// Attempts let in (started or queued): the base of `waited_fraction`.
    pub admitted: u64,
    pub rejected: u64,
    pub refused: u64,
    pub dropped: u64,
    /// Of `dropped`: stopped because their caller cancelled them.
    pub cancelled: u64,
    pub errors: u64,
    pub completed: u64,
    pub failed: u64,
    pub waited: u64,
    pub wait_exact: Welford,
    pub latency: LatencyRecorder,
    pub latency_exact: Welford,
    pub busy_level: TimeWeighted,
    pub queue_level: TimeWeighted,
    /// Most attempts in the service (queued + in service) at once; its time average is
    /// busy + queue by linearity, so it needs no accumulator of its own.
    pub in_flight_max: u64,
    pub wasted_work: SimDuration,
    /// Side effects done again for a request that had already had them.
    pub duplicate_side_effects: u64,
    /// Repeated attempts answered from an idempotency record without doing the work.
    pub deduplicated: u64,
    pub window: ServiceWindow,
}

/// A service's counts in the current window (all attempts, warm-up included).
#[derive(Default)]
pub(crate) struct ServiceWindow {
    pub attempts: u64,
    pub rejected: u64,
    pub dropped: u64,
    /// Answered with a failure or refused (for rules' error rate; not in the series).
    pub failed: u64,
}

/// System counts in the current window.
pub(crate) struct WindowCounts {
    pub offered: u64,
    pub client_offered: Vec<u64>,
    pub client_succeeded: Vec<u64>,
    /// Per client: requests that failed (for rules; not in the series).
    pub client_failed: Vec<u64>,
    /// Per client whose p99 a rule watches: the window's success latencies.
    pub client_latency: Vec<Option<WindowLatency>>,
    /// Per client: requests that met / missed the client's SLO (success within its latency).
    pub client_good: Vec<u64>,
    pub client_bad: Vec<u64>,
    /// Successes slower than the scenario SLO's latency threshold.
    pub slow: u64,
    pub succeeded: u64,
    pub degraded: u64,
    pub failed: u64,
    /// `failed` by reason.
    pub failed_by: Failed,
    pub faults_started: u32,
    /// Two significant digits: plenty for a chart, and a tenth of the buckets to scan.
    pub latency: WindowLatency,
}

impl WindowCounts {
    fn new(clients: usize, p99_watched: &[bool]) -> Self {
        WindowCounts {
            offered: 0,
            client_offered: vec![0; clients],
            client_succeeded: vec![0; clients],
            client_failed: vec![0; clients],
            client_latency: p99_watched
                .iter()
                .map(|&w| w.then(|| WindowLatency::with_precision(2)))
                .collect(),
            client_good: vec![0; clients],
            client_bad: vec![0; clients],
            slow: 0,
            succeeded: 0,
            degraded: 0,
            failed: 0,
            failed_by: Failed::default(),
            faults_started: 0,
            latency: WindowLatency::with_precision(2),
        }
    }

    /// Empties the window for the next, in place, keeping the recorders' grown ranges: a
    /// fresh window each second re-grew its histograms (allocation, then zeroing) on its
    /// first answers, and swapping in a spare one copied the whole struct twice. The client
    /// counts the series keeps are taken as their rows are written (`close_window`): a fill
    /// of each again cost a `memset` call apiece.
    fn reset(&mut self) {
        // Every field named, so a field added later cannot be forgotten here.
        let WindowCounts {
            offered,
            client_offered,
            client_succeeded,
            client_failed,
            client_latency,
            client_good,
            client_bad,
            slow,
            succeeded,
            degraded,
            failed,
            failed_by,
            faults_started,
            latency,
        } = self;
        debug_assert!(
            [client_offered, client_succeeded, client_good, client_bad]
                .iter()
                .all(|v| v.iter().all(|&n| n == 0)),
            "taken by the client rows"
        );
        client_failed.fill(0);
        client_latency
            .iter_mut()
            .flatten()
            .for_each(WindowLatency::reset);
        latency.reset();
        for n in [offered, slow, succeeded, degraded, failed] {
            *n = 0;
        }
        *failed_by = Failed::default();
        *faults_started = 0;
    }
}

pub(crate) struct Metrics {
    pub retries: u64,
    pub hedges: u64,
    pub local_rejections: u64,
    pub window: WindowCounts,
    /// The result's series skeleton (names, window, caches' columns); the windows' values
    /// are in `rows` until the run ends (`SeriesStore::fill`).
    pub series: Series,
    pub rows: SeriesStore,
    /// Attempts each service receives per request of each client when nothing fails and
    /// nobody retries: `[client][service]`. Normalises retry amplification.
    pub visits: Vec<Vec<f64>>,
    /// With brokers only (else empty): attempts per delivery to each broker's group
    /// (`topology::visits_by_timing`), so a window's expected attempts count the
    /// deliveries it made, not the publishes it took.
    pub delivery_visits: Vec<Vec<f64>>,
    /// Burn-rate alerts of the scenario's SLO and of each client's own, evaluated at each
    /// window end as the run goes (rules read them; the result reports them).
    pub alerts: Option<BurnRateAlerts>,
    pub client_alerts: Vec<Option<BurnRateAlerts>>,
}

impl Metrics {
    pub fn new(
        series: Series,
        window: SimDuration,
        visits: Vec<Vec<f64>>,
        p99_watched: Vec<bool>,
        alerts: Option<BurnRateAlerts>,
        client_alerts: Vec<Option<BurnRateAlerts>>,
    ) -> Self {
        Metrics {
            alerts,
            client_alerts,
            retries: 0,
            hedges: 0,
            local_rejections: 0,
            window: WindowCounts::new(p99_watched.len(), &p99_watched),
            rows: SeriesStore::new(
                window,
                visits.iter().map(|v| v.iter().sum::<f64>()).collect(),
                series.services.len(),
                false,
            ),
            series,
            visits,
            delivery_visits: Vec::new(),
        }
    }

    /// Records the final outcome of a logical request.
    pub fn record_outcome(
        &mut self,
        tally: &mut ClientTally,
        counted: bool,
        outcome: Outcome,
        latency: SimDuration,
    ) {
        match outcome {
            Outcome::Ok => {
                if counted {
                    tally.succeeded += 1;
                    tally.latency.record(latency);
                    tally.latency_exact.push(latency.as_nanos() as f64);
                }
                self.window.succeeded += 1;
                self.window.latency.record(latency);
            }
            Outcome::Degraded => {
                tally.degraded += u64::from(counted);
                self.window.degraded += 1;
            }
            Outcome::Failed(f) => {
                if counted {
                    count_failure(&mut tally.failed, f);
                }
                count_failure(&mut self.window.failed_by, f);
                self.window.failed += 1;
            }
        }
    }
}

impl ServiceStats {
    pub fn new(start: SimTime) -> Self {
        ServiceStats {
            attempts: 0,
            admitted: 0,
            rejected: 0,
            refused: 0,
            dropped: 0,
            cancelled: 0,
            errors: 0,
            completed: 0,
            failed: 0,
            waited: 0,
            wait_exact: Welford::new(),
            latency: LatencyRecorder::new(),
            latency_exact: Welford::new(),
            busy_level: TimeWeighted::new(start),
            queue_level: TimeWeighted::new(start),
            in_flight_max: 0,
            wasted_work: SimDuration::ZERO,
            duplicate_side_effects: 0,
            deduplicated: 0,
            window: ServiceWindow::default(),
        }
    }

    /// Called whenever the number in the service grows (a start or an enqueue).
    #[inline]
    pub fn note_in_flight(&mut self) {
        let present = self.busy_level.level() + self.queue_level.level();
        self.in_flight_max = self.in_flight_max.max(present);
    }

    /// An attempt dropped because its caller cancelled it (`counted`: after warm-up).
    pub fn note_cancelled(&mut self, counted: bool) {
        self.cancelled += u64::from(counted);
        self.dropped += u64::from(counted);
        self.window.dropped += 1;
    }

    /// Whole-run time averages start over at `now` (end of warm-up), keeping current levels.
    fn restart_levels(&mut self, now: SimTime) {
        self.busy_level.reset_overall(now);
        self.queue_level.reset_overall(now);
        self.in_flight_max = self.busy_level.level() + self.queue_level.level();
    }
}

impl World {
    /// Closes the time-series window ending at `now`, `width` long. With the queue (every
    /// window but the last, partial one), rules then look at the window and may act.
    pub(crate) fn close_window(
        &mut self,
        now: SimTime,
        width: SimDuration,
        mut q: Option<&mut EventQueue<super::Event>>,
    ) {
        if !self.brokers.is_empty() {
            self.close_broker_windows(now, q.as_deref_mut());
        }
        if !self.configs.is_empty() {
            self.close_config_windows();
        }
        let faults_active = self.faults_active();
        let watching = self.watch.is_some() && q.is_some();
        let orchestrating = self.orchestrator.is_some() && q.is_some();
        let control = (!self.rules.is_empty() || watching || orchestrating) && q.is_some();
        let mut watch = self.watch.take();
        let mut groups = vec![GroupWindow::default(); if control { self.groups.len() } else { 0 }];
        let m = &mut self.metrics;
        let w = &mut m.window;
        let clients: Vec<ClientWindow> = if control {
            (0..self.clients.len())
                .map(|c| ClientWindow {
                    finished: w.client_succeeded[c] + w.client_failed[c],
                    failed: w.client_failed[c],
                    succeeded: w.client_succeeded[c],
                    p99_ms: w.client_latency[c].as_ref().and_then(p99_ms),
                    good: w.client_good[c],
                    bad: w.client_bad[c],
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut deliveries = 0.0;
        for (broker, visits) in self.brokers.iter_mut().zip(&m.delivery_visits) {
            for (g, v) in broker.groups.iter_mut().zip(visits) {
                deliveries += std::mem::take(&mut g.first_deliveries) as f64 * v;
            }
        }
        let attempts: u64 = self.services.iter().map(|s| s.stats.window.attempts).sum();
        let secs = width.as_secs_f64().max(1e-12);
        m.rows.push_system(&SystemRow {
            end: now,
            width,
            offered: w.offered,
            succeeded: w.succeeded,
            failed: w.failed,
            failed_by: w.failed_by.clone(),
            degraded: w.degraded,
            latency: w.latency.quantiles([0.5, 0.99, 0.999]),
            attempts,
            faults_active: faults_active.max(w.faults_started),
            slow: w.slow,
            deliveries,
        });
        // The SLOs' alerts, on what the run has seen so far. Degraded answers and successes
        // slower than the SLO's latency burn the error budget too.
        let t_end_s = now.as_secs_f64();
        if let Some(a) = &mut m.alerts {
            let good = w.succeeded - w.slow;
            let _ = a.push(t_end_s, good, w.failed + w.degraded + w.slow);
        }
        for (a, (good, bad)) in m
            .client_alerts
            .iter_mut()
            .zip(w.client_good.iter().zip(&w.client_bad))
        {
            if let Some(a) = a {
                let _ = a.push(t_end_s, *good, *bad);
            }
        }
        // Taken: `WindowCounts::reset` leaves these to the rows.
        for c in 0..self.clients.len() {
            m.rows.push_client(
                c,
                &ClientRow {
                    offered: std::mem::take(&mut w.client_offered[c]),
                    succeeded: std::mem::take(&mut w.client_succeeded[c]),
                    good: std::mem::take(&mut w.client_good[c]),
                    bad: std::mem::take(&mut w.client_bad[c]),
                },
            );
        }
        for (k, svc) in self.services.iter_mut().enumerate() {
            if control {
                // A service's index k is its instance id (services are the only kind).
                let g = self.instances[k].group as usize;
                let gw = &mut groups[g];
                let st = &svc.stats;
                gw.attempts += st.window.attempts;
                gw.failed += st.window.failed + st.window.rejected + st.window.dropped;
                gw.queue_depth += st.queue_level.mean_since_reset(now);
                gw.in_flight += svc.present();
                if self.in_service[k] {
                    gw.busy += st.busy_level.mean_since_reset(now);
                    gw.workers += f64::from(svc.workers);
                }
            }
            if let Some(w) = watch.as_deref_mut() {
                let st = &svc.stats;
                w.closed[k] = super::signals::InstanceWindow {
                    attempts: st.window.attempts,
                    // Errors answered: not attempts dropped (expired, or into a black
                    // hole), which callers see as timeouts.
                    failed: st.window.failed + st.window.rejected,
                    busy: st.busy_level.mean_since_reset(now),
                    queue_depth: st.queue_level.mean_since_reset(now),
                };
            }
            let st = &mut svc.stats;
            m.rows.push_service(
                k,
                &ServiceRow {
                    attempts: st.window.attempts,
                    queue_max: st.queue_level.max_since_reset(),
                    queue: st.queue_level.take_window(now),
                    busy: st.busy_level.take_window(now),
                    workers: svc.workers,
                    rejected: st.window.rejected,
                    dropped: st.window.dropped,
                },
            );
            st.window = ServiceWindow::default();
        }
        for (cache, out) in self.caches.iter_mut().zip(m.series.caches.iter_mut()) {
            cache.close_window(out, secs);
        }
        w.reset();
        // A token auth's peak and mean are over whole windows that start after the warm-up.
        let whole = width == self.window && now.saturating_since(self.warmup) >= width;
        for ta in &mut self.token_auths {
            ta.close_window(now, whole);
        }
        self.watch = watch;
        if let Some(q) = q
            .as_deref_mut()
            .filter(|_| control && !self.rules.is_empty())
        {
            self.evaluate_rules(now, width, &groups, &clients, q);
        }
        if watching {
            self.watch_window(now, width, &groups, &clients);
        }
        // After the watch: the orchestrator reads the signals of this window.
        if let Some(q) = q.filter(|_| orchestrating) {
            self.remediate(now, width, &groups, &clients, q);
        }
    }

    /// Counted requests (issued after warm-up) still unanswered now, per client: what
    /// `offered = succeeded + failed + degraded + in_flight_at_end` needs, counted, not
    /// inferred.
    pub(crate) fn requests_in_flight(&self) -> Vec<u64> {
        let mut n = vec![0; self.clients.len()];
        for (_, call) in &self.calls {
            if let Parent::Request {
                client, counted, ..
            } = call.parent
            {
                n[client as usize] += u64::from(counted);
            }
        }
        n
    }

    /// Counted attempts (arrived after warm-up) queued or holding a worker at service `s`
    /// now: the last term of the service's identity (result.rs, `ServiceResult`). Queue
    /// entries of attempts cancelled while waiting are stale keys: they name no attempt.
    pub(crate) fn attempts_in_flight(&self, s: usize) -> u64 {
        self.services[s]
            .in_service()
            .filter(|&a| self.attempts.get(a).is_some_and(|att| att.counted))
            .count() as u64
    }

    /// Starts the counted period: time averages restart at the current levels.
    pub(super) fn on_warmup_end(&mut self, now: SimTime) {
        for svc in &mut self.services {
            svc.stats.restart_levels(now);
        }
    }
}

/// The empty series of a world with these clients and services (`SeriesStore::fill` fills
/// it when the run ends).
pub(crate) fn empty_series(window: SimDuration, clients: &[String], services: &[String]) -> Series {
    Series {
        window_s: window.as_secs_f64(),
        clients: clients
            .iter()
            .map(|name| ClientSeries {
                name: name.clone(),
                ..ClientSeries::default()
            })
            .collect(),
        services: services
            .iter()
            .map(|name| ServiceSeries {
                name: name.clone(),
                ..ServiceSeries::default()
            })
            .collect(),
        failed_by_reason: FailedSeries::default(),
        ..Series::default()
    }
}

/// Counts one failure under its reason.
fn count_failure(failed: &mut Failed, f: Failure) {
    match f {
        Failure::Timeout => failed.timeout += 1,
        Failure::Rejected => failed.rejected += 1,
        Failure::Error => failed.error += 1,
        Failure::CircuitOpen => failed.circuit_open += 1,
    }
}
