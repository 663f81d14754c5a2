//! The world as a state machine: clients issue requests, services queue and serve them.
//!
//! Semantics (DESIGN.md "Model semantics"):
//! - a response leaves a service when its work completes, never when it is enqueued;
//! - a client that times out stops waiting, but the naive service still does the work
//!   (counted as `wasted_work_s`);
//! - only requests issued after warm-up count towards totals; time series cover the whole run.
//!
//! Memory is bounded by what is in flight plus one small row per window: no per-request log.

use std::collections::VecDeque;
use std::ops::ControlFlow;

use rand_distr::{Distribution, Exp};
use sim_core::dist::Sampler;
use sim_core::queue::{EventKey, EventQueue};
use sim_core::rng::{self, SimRng};
use sim_core::stats::{LatencyRecorder, TimeWeighted, Welford};
use sim_core::{SimDuration, SimTime};

use crate::result::{Failed, Latency};
use crate::scenario::{Discipline, QueueSpec, Scenario};

/// Everything that can happen.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// Client `client` issues its next request.
    Arrival { client: u32 },
    /// Worker `worker` of service `service` finishes its attempt.
    Completion { service: u32, worker: u32 },
    /// The client of request `slot`/`id` stops waiting.
    Timeout { slot: u32, id: u64 },
    /// Close the current time-series window.
    WindowEnd,
    /// Start counting.
    WarmupEnd,
}

/// A logical request while it is in flight.
struct Request {
    id: u64,
    client: u32,
    sent_at: SimTime,
    timeout: Option<EventKey>,
    gave_up_at: Option<SimTime>,
    counted: bool,
}

/// An attempt inside a service.
#[derive(Clone, Copy)]
struct Job {
    slot: u32,
    arrived: SimTime,
}

#[derive(Clone, Copy)]
struct Busy {
    job: Job,
    started: SimTime,
}

pub(crate) struct ClientState {
    pub name: String,
    pub target: u32,
    interarrival: Exp<f64>,
    timeout: Option<SimDuration>,
    rng: SimRng,
    pub outcome: Outcome,
}

/// Request outcomes as the client sees them.
#[derive(Default)]
pub(crate) struct Outcome {
    pub offered: u64,
    pub succeeded: u64,
    pub failed: Failed,
    pub latency: LatencyRecorder,
    pub latency_exact: Welford,
}

pub(crate) struct ServiceState {
    pub name: String,
    pub workers: u32,
    busy: Vec<Option<Busy>>,
    idle: Vec<u32>,
    queue: VecDeque<Job>,
    capacity: u64,
    lifo: bool,
    service_time: Sampler,
    rng: SimRng,
    pub stats: ServiceStats,
}

/// A service's counters; `*_level` track levels over time for time averages.
pub(crate) struct ServiceStats {
    pub attempts: u64,
    pub rejected: u64,
    pub completed: u64,
    pub waited: u64,
    pub wait_exact: Welford,
    pub latency: LatencyRecorder,
    pub latency_exact: Welford,
    pub busy_level: TimeWeighted,
    pub queue_level: TimeWeighted,
    /// Most attempts in the service (queued + in service) at once; its time average is
    /// busy + queue by linearity, so it needs no accumulator of its own.
    pub in_flight_max: u64,
    pub window_rejected: u64,
}

/// Counters of the current time-series window.
struct WindowCounts {
    offered: u64,
    succeeded: u64,
    failed: u64,
    /// Two significant digits: plenty for a chart, and a tenth of the buckets to scan.
    latency: LatencyRecorder,
}

impl Default for WindowCounts {
    fn default() -> Self {
        WindowCounts {
            offered: 0,
            succeeded: 0,
            failed: 0,
            latency: LatencyRecorder::with_precision(2),
        }
    }
}

/// The simulated world: every client and service of a scenario.
pub struct World {
    pub(crate) clients: Vec<ClientState>,
    pub(crate) services: Vec<ServiceState>,
    requests: Vec<Request>,
    free_requests: Vec<u32>,
    next_request_id: u64,
    in_flight: u64,
    max_in_flight: u64,
    pub(crate) warmup: SimTime,
    window: SimDuration,
    pub(crate) wasted_work: SimDuration,
    window_counts: WindowCounts,
    pub(crate) series: crate::result::Series,
}

impl World {
    /// Builds the world of a validated scenario and schedules its first events.
    pub fn new(s: &Scenario, seed: u64, queue: &mut EventQueue<Event>) -> World {
        let start = SimTime::ZERO;
        let services: Vec<ServiceState> = s
            .services
            .iter()
            .map(|svc| ServiceState {
                name: svc.name.clone(),
                workers: svc.workers,
                busy: vec![None; svc.workers as usize],
                // Reversed so that worker 0 is taken first: order is part of the replay.
                idle: (0..svc.workers).rev().collect(),
                queue: VecDeque::new(),
                capacity: match svc.queue {
                    QueueSpec::Unbounded => u64::MAX,
                    QueueSpec::Bounded(n) => n,
                },
                lifo: svc.discipline == Discipline::Lifo,
                service_time: svc.service_time.compile().expect("validated scenario"),
                rng: rng::stream(seed, &format!("service/{}/service_time", svc.name)),
                stats: ServiceStats::new(start),
            })
            .collect();
        let clients = s
            .clients
            .iter()
            .map(|c| ClientState {
                name: c.name.clone(),
                target: s.service_index(&c.target).expect("validated scenario") as u32,
                // Rate per nanosecond: samples come out in nanoseconds.
                interarrival: Exp::new(c.rate_rps / 1e9).expect("validated rate"),
                timeout: c.timeout,
                rng: rng::stream(seed, &format!("client/{}/arrivals", c.name)),
                outcome: Outcome::default(),
            })
            .collect();
        let mut world = World {
            clients,
            services,
            requests: Vec::new(),
            free_requests: Vec::new(),
            next_request_id: 0,
            in_flight: 0,
            max_in_flight: s.limits.max_in_flight,
            warmup: SimTime::ZERO + s.warmup,
            window: s.window,
            wasted_work: SimDuration::ZERO,
            window_counts: WindowCounts::default(),
            series: crate::result::Series {
                window_s: s.window.as_secs_f64(),
                services: s
                    .services
                    .iter()
                    .map(|svc| crate::result::ServiceSeries {
                        name: svc.name.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        };
        for c in 0..world.clients.len() {
            let first = world.clients[c].next_gap();
            queue.schedule(start + first, Event::Arrival { client: c as u32 });
        }
        queue.schedule(start + s.window, Event::WindowEnd);
        if !s.warmup.is_zero() {
            queue.schedule(world.warmup, Event::WarmupEnd);
        }
        world
    }

    /// Requests in flight anywhere.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Requests issued so far (after warm-up).
    pub fn offered(&self) -> u64 {
        self.clients.iter().map(|c| c.outcome.offered).sum()
    }

    fn on_arrival(&mut self, c: u32, q: &mut EventQueue<Event>) -> ControlFlow<String> {
        let now = q.now();
        let client = &mut self.clients[c as usize];
        let gap = client.next_gap();
        q.schedule(now + gap, Event::Arrival { client: c });
        let counted = now >= self.warmup;
        if counted {
            client.outcome.offered += 1;
        }
        self.window_counts.offered += 1;

        let id = self.next_request_id;
        self.next_request_id += 1;
        let slot = self.alloc_request(id, c, now, counted);
        if let Some(t) = self.clients[c as usize].timeout {
            let key = q.schedule(now + t, Event::Timeout { slot, id });
            self.requests[slot as usize].timeout = Some(key);
        }
        let target = self.clients[c as usize].target;
        self.deliver(target, Job { slot, arrived: now }, q);
        self.check_in_flight(now)
    }

    /// An attempt reaches service `s`: served now, queued, or rejected.
    fn deliver(&mut self, s: u32, job: Job, q: &mut EventQueue<Event>) {
        let now = q.now();
        let svc = &mut self.services[s as usize];
        let counted = job.arrived >= self.warmup;
        if counted {
            svc.stats.attempts += 1;
        }
        if let Some(w) = svc.idle.pop() {
            if counted {
                svc.stats.wait_exact.push(0.0);
            }
            svc.start(w, job, now, s, q);
            svc.stats.busy_level.add(now, 1);
            svc.stats.note_in_flight();
        } else if (svc.queue.len() as u64) < svc.capacity {
            if counted {
                svc.stats.waited += 1;
            }
            svc.queue.push_back(job);
            svc.stats.queue_level.add(now, 1);
            svc.stats.note_in_flight();
        } else {
            if counted {
                svc.stats.rejected += 1;
            }
            svc.stats.window_rejected += 1;
            self.respond(job.slot, now, Response::Rejected, q);
        }
    }

    fn on_completion(&mut self, s: u32, w: u32, q: &mut EventQueue<Event>) {
        let now = q.now();
        let warmup = self.warmup;
        let svc = &mut self.services[s as usize];
        let done = svc.busy[w as usize]
            .take()
            .expect("completion of an idle worker");
        if done.job.arrived >= warmup {
            let sojourn = now - done.job.arrived;
            svc.stats.completed += 1;
            svc.stats.latency.record(sojourn);
            svc.stats.latency_exact.push(sojourn.as_nanos() as f64);
        }
        match svc.next_waiting() {
            Some(next) => {
                svc.stats.queue_level.add(now, -1);
                if next.arrived >= warmup {
                    svc.stats
                        .wait_exact
                        .push((now - next.arrived).as_nanos() as f64);
                }
                svc.start(w, next, now, s, q);
            }
            None => {
                svc.idle.push(w);
                svc.stats.busy_level.add(now, -1);
            }
        }
        let req = &self.requests[done.job.slot as usize];
        if let Some(gave_up) = req.gave_up_at {
            // Work done after the caller stopped waiting was for nobody.
            self.wasted_work = self.wasted_work + now.saturating_since(gave_up.max(done.started));
        }
        self.respond(done.job.slot, now, Response::Served, q);
    }

    fn on_timeout(&mut self, slot: u32, id: u64, now: SimTime) {
        let req = &mut self.requests[slot as usize];
        if req.id != id || req.gave_up_at.is_some() {
            return;
        }
        req.gave_up_at = Some(now);
        req.timeout = None;
        let (client, counted) = (req.client, req.counted);
        if counted {
            self.clients[client as usize].outcome.failed.timeout += 1;
        }
        self.window_counts.failed += 1;
    }

    /// The service is done with request `slot`: answer the client (unless it gave up) and
    /// free the request.
    fn respond(&mut self, slot: u32, now: SimTime, response: Response, q: &mut EventQueue<Event>) {
        let req = &self.requests[slot as usize];
        if req.gave_up_at.is_none() {
            if let Some(key) = req.timeout {
                q.cancel(key);
            }
            let latency = now - req.sent_at;
            let outcome = &mut self.clients[req.client as usize].outcome;
            match response {
                Response::Served => {
                    if req.counted {
                        outcome.succeeded += 1;
                        outcome.latency.record(latency);
                        outcome.latency_exact.push(latency.as_nanos() as f64);
                    }
                    self.window_counts.succeeded += 1;
                    self.window_counts.latency.record(latency);
                }
                Response::Rejected => {
                    if req.counted {
                        outcome.failed.rejected += 1;
                    }
                    self.window_counts.failed += 1;
                }
            }
        }
        self.free_requests.push(slot);
        self.in_flight -= 1;
    }

    fn alloc_request(&mut self, id: u64, client: u32, now: SimTime, counted: bool) -> u32 {
        let req = Request {
            id,
            client,
            sent_at: now,
            timeout: None,
            gave_up_at: None,
            counted,
        };
        self.in_flight += 1;
        match self.free_requests.pop() {
            Some(slot) => {
                self.requests[slot as usize] = req;
                slot
            }
            None => {
                self.requests.push(req);
                (self.requests.len() - 1) as u32
            }
        }
    }

    fn check_in_flight(&self, now: SimTime) -> ControlFlow<String> {
        if self.in_flight <= self.max_in_flight {
            return ControlFlow::Continue(());
        }
        let worst = self
            .services
            .iter()
            .max_by_key(|s| s.queue.len())
            .expect("a request in flight is at some service");
        ControlFlow::Break(format!(
            "in_flight_limit: {} requests in flight at t={:.3}s (limit {}), largest queue: service={} queue={}",
            self.in_flight,
            now.as_secs_f64(),
            self.max_in_flight,
            worst.name,
            worst.queue.len()
        ))
    }

    /// Closes the time-series window ending at `now`.
    pub fn close_window(&mut self, now: SimTime, width: SimDuration) {
        let series = &mut self.series;
        let w = std::mem::take(&mut self.window_counts);
        series.t_s.push(now.as_secs_f64());
        series.offered.push(w.offered);
        series.succeeded.push(w.succeeded);
        series.failed.push(w.failed);
        series
            .goodput_rps
            .push(w.succeeded as f64 / width.as_secs_f64().max(1e-12));
        series
            .latency_p50_ms
            .push(w.latency.quantile(0.5).as_millis_f64());
        series
            .latency_p99_ms
            .push(w.latency.quantile(0.99).as_millis_f64());
        series
            .latency_p999_ms
            .push(w.latency.quantile(0.999).as_millis_f64());
        for (svc, out) in self.services.iter_mut().zip(series.services.iter_mut()) {
            let st = &mut svc.stats;
            out.queue_depth_mean
                .push(st.queue_level.mean_since_reset(now));
            out.queue_depth_max.push(st.queue_level.max_since_reset());
            out.utilization
                .push(st.busy_level.mean_since_reset(now) / f64::from(svc.workers));
            out.rejected.push(std::mem::take(&mut st.window_rejected));
            st.queue_level.reset(now);
            st.busy_level.reset(now);
        }
    }

    /// Starts the counted period: time averages restart at the current levels.
    fn on_warmup_end(&mut self, now: SimTime) {
        for svc in &mut self.services {
            svc.stats.restart_levels(now);
        }
    }
}

enum Response {
    Served,
    Rejected,
}

impl ClientState {
    fn next_gap(&mut self) -> SimDuration {
        SimDuration::from_nanos_f64(self.interarrival.sample(&mut self.rng))
    }
}

impl ServiceState {
    /// Worker `w` takes `job` at `now`.
    #[inline]
    fn start(&mut self, w: u32, job: Job, now: SimTime, s: u32, q: &mut EventQueue<Event>) {
        let took = self.service_time.sample_duration(&mut self.rng);
        self.busy[w as usize] = Some(Busy { job, started: now });
        q.schedule(
            now + took,
            Event::Completion {
                service: s,
                worker: w,
            },
        );
    }

    fn next_waiting(&mut self) -> Option<Job> {
        if self.lifo {
            self.queue.pop_back()
        } else {
            self.queue.pop_front()
        }
    }
}

impl ServiceStats {
    fn new(start: SimTime) -> Self {
        ServiceStats {
            attempts: 0,
            rejected: 0,
            completed: 0,
            waited: 0,
            wait_exact: Welford::new(),
            latency: LatencyRecorder::new(),
            latency_exact: Welford::new(),
            busy_level: TimeWeighted::new(start),
            queue_level: TimeWeighted::new(start),
            in_flight_max: 0,
            window_rejected: 0,
        }
    }

    #[inline]
    fn note_in_flight(&mut self) {
        self.in_flight_max = self
            .in_flight_max
            .max(self.busy_level.level() + self.queue_level.level());
    }

    /// Whole-run time averages start over at `now` (end of warm-up), keeping current levels.
    fn restart_levels(&mut self, now: SimTime) {
        self.busy_level.reset_overall(now);
        self.queue_level.reset_overall(now);
        self.in_flight_max = self.busy_level.level() + self.queue_level.level();
    }
}

impl sim_core::engine::Model for World {
    type Event = Event;

    #[inline]
    fn handle(&mut self, event: Event, q: &mut EventQueue<Event>) -> ControlFlow<String> {
        match event {
            Event::Arrival { client } => return self.on_arrival(client, q),
            Event::Completion { service, worker } => self.on_completion(service, worker, q),
            Event::Timeout { slot, id } => self.on_timeout(slot, id, q.now()),
            Event::WindowEnd => {
                let now = q.now();
                self.close_window(now, self.window);
                q.schedule(now + self.window, Event::WindowEnd);
            }
            Event::WarmupEnd => self.on_warmup_end(q.now()),
        }
        ControlFlow::Continue(())
    }
}

/// A latency recorder and exact mean as the result's `Latency`.
pub(crate) fn latency(hist: &LatencyRecorder, exact: &Welford) -> Latency {
    Latency {
        count: hist.count(),
        mean: exact.mean() / 1e6,
        p50: hist.quantile(0.5).as_millis_f64(),
        p90: hist.quantile(0.9).as_millis_f64(),
        p99: hist.quantile(0.99).as_millis_f64(),
        p999: hist.quantile(0.999).as_millis_f64(),
        max: hist.max().as_millis_f64(),
    }
}
