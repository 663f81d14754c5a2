//! sim-core: the engine of simctl. It knows nothing about services: it moves virtual time,
//! orders events, hands out random streams, samples distributions and keeps statistics.
//!
//! | module | what it holds |
//! |---|---|
//! | [`time`] | `SimTime`/`SimDuration`: integer nanoseconds; `"250ms"` parsing and display |
//! | [`queue`] | `EventQueue`: pending events ordered by (time, insertion sequence), O(1) cancel |
//! | [`engine`] | `Model` trait and `Engine`: pop, dispatch, repeat, within a horizon, an event budget and a progress guard |
//! | [`rng`] | one ChaCha8 stream per component, derived from (run seed, component key) |
//! | [`dist`] | serde-friendly distributions, validated once and compiled into samplers |
//! | [`stats`] | HDR latency recorder, Welford, time-weighted levels, t confidence intervals |
//! | [`path`] | field paths (`services[1].workers`) for validation problems |
//!
//! **Ordering guarantee:** events fire in increasing virtual time; events at the same time
//! fire in the order they were scheduled. Nothing reads the wall clock, the environment or
//! OS entropy, so a run is a pure function of its inputs and seed.
//!
//! # Example: an M/M/1 queue in forty lines
//!
//! A model is a plain state machine. This one is a single-server queue with Poisson
//! arrivals (rate 800/s) and exponential service (mean 1 ms); queueing theory says the mean
//! time in system is 1 / (mu - lambda) = 5 ms.
//!
//! ```
//! use std::collections::VecDeque;
//! use std::ops::ControlFlow;
//! use sim_core::dist::Dist;
//! use sim_core::engine::{Engine, Limits, Model, StopReason};
//! use sim_core::queue::EventQueue;
//! use sim_core::{rng, stats::Welford, SimDuration, SimTime};
//!
//! enum Ev { Arrive, Depart }
//!
//! struct Mm1 {
//!     arrivals: sim_core::dist::Sampler,
//!     service: sim_core::dist::Sampler,
//!     rng: rng::SimRng,
//!     waiting: VecDeque<SimTime>, // arrival times; the front one is in service
//!     sojourn: Welford,
//! }
//!
//! impl Model for Mm1 {
//!     type Event = Ev;
//!     fn handle(&mut self, ev: Ev, q: &mut EventQueue<Ev>) -> ControlFlow<Box<str>> {
//!         let now = q.now();
//!         match ev {
//!             Ev::Arrive => {
//!                 q.schedule(now + self.arrivals.sample_duration(&mut self.rng), Ev::Arrive);
//!                 self.waiting.push_back(now);
//!                 if self.waiting.len() == 1 {
//!                     q.schedule(now + self.service.sample_duration(&mut self.rng), Ev::Depart);
//!                 }
//!             }
//!             Ev::Depart => {
//!                 let arrived = self.waiting.pop_front().expect("someone was in service");
//!                 self.sojourn.push((now - arrived).as_secs_f64());
//!                 if !self.waiting.is_empty() {
//!                     q.schedule(now + self.service.sample_duration(&mut self.rng), Ev::Depart);
//!                 }
//!             }
//!         }
//!         ControlFlow::Continue(())
//!     }
//! }
//!
//! let exp = |mean| Dist::Exponential { mean: SimDuration::from_micros(mean) }.compile().unwrap();
//! let model = Mm1 {
//!     arrivals: exp(1250), // 800/s
//!     service: exp(1000),  // 1000/s
//!     rng: rng::stream(42, "example"),
//!     waiting: VecDeque::new(),
//!     sojourn: Welford::new(),
//! };
//! let mut queue = EventQueue::new();
//! queue.schedule(SimTime::ZERO, Ev::Arrive);
//! let limits = Limits {
//!     horizon: SimTime::ZERO + SimDuration::from_secs(300),
//!     max_events: u64::MAX,
//!     max_events_without_progress: 10_000_000,
//! };
//! let mut engine = Engine::new(model, queue, limits);
//! assert_eq!(engine.run(), StopReason::Horizon);
//!
//! let ci = engine.model.sojourn.ci(0.999);
//! assert!(ci.n > 200_000);
//! assert!((ci.mean - 0.005).abs() < 0.0005, "mean sojourn {} s, expected 0.005", ci.mean);
//! ```
//! (A single run's interval understates the error of autocorrelated samples, so the
//! example checks a 10% band; tests/ does the rigorous multi-seed comparison.)

pub mod dist;
pub mod engine;
pub mod path;
pub mod queue;
pub mod rng;
pub mod stats;
pub mod time;

pub use time::{SimDuration, SimTime};
