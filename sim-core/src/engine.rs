//! The driver: pop the next event, hand it to the model, repeat, within limits.
//!
//! Models are plain state machines: `handle` gets one event and the queue to schedule or
//! cancel follow-ups. No async, no threads, no wall clock. Every run has a horizon, an
//! event budget and a progress guard ("put a limit on everything"); hitting one is a reported
//! outcome.

use std::ops::ControlFlow;

use crate::queue::EventQueue;
use crate::time::SimTime;

/// A simulated world.
pub trait Model {
    /// The model's own closed set of events.
    type Event;

    /// Handles one event at `queue.now()`. `Break(reason)` stops the run: a guard tripped
    /// (e.g. too many requests in flight), reported as [`StopReason::Guard`]. A `Box<str>`
    /// rather than a `String`: the result fits in two registers, where a `String`'s goes
    /// through memory on every event.
    fn handle(
        &mut self,
        event: Self::Event,
        queue: &mut EventQueue<Self::Event>,
    ) -> ControlFlow<Box<str>>;
}

/// Why a run stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// No events left.
    Drained,
    /// The next event lies at or beyond the horizon.
    Horizon,
    /// The event budget is spent.
    EventBudget,
    /// Virtual time stopped advancing, or crawls: `events` consecutive events, handled from
    /// `from` to `to`, advanced it by at most `events` ns (see
    /// [`Limits::max_events_without_progress`]).
    NoProgress {
        events: u64,
        from: SimTime,
        to: SimTime,
    },
    /// The model stopped the run, saying why.
    Guard(String),
}

/// Limits every run has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events at or after this instant are not handled: a run covers `[0, horizon)`, so an
    /// outcome at exactly the horizon cannot land after the last window has closed.
    pub horizon: SimTime,
    /// At most this many events are handled.
    pub max_events: u64,
    /// The run stops with [`StopReason::NoProgress`] when this many consecutive events
    /// (counted in blocks from the start) advance virtual time by at most this many
    /// nanoseconds: one event per nanosecond or more, a density at which no event budget
    /// reaches a useful horizon. Catches a model whose time stands still (zero-delay loops)
    /// or crawls (nanosecond timers) after this many events instead of `max_events`. A finite
    /// burst at one instant (many users at once) trips it only if it is this large.
    /// At least 1.
    pub max_events_without_progress: u64,
}

/// A model together with its pending events.
pub struct Engine<M: Model> {
    pub model: M,
    pub queue: EventQueue<M::Event>,
    limits: Limits,
    events: u64,
    /// The next event count at which `check` must run (budget or progress block end).
    next_check: u64,
    /// The event count that ends the current progress block, and the time it started at.
    block_end: u64,
    block_start: SimTime,
    digest: u64,
}

const DIGEST_PRIME: u64 = 0x0000_0100_0000_01b3;

impl<M: Model> Engine<M> {
    pub fn new(model: M, queue: EventQueue<M::Event>, limits: Limits) -> Self {
        assert!(
            limits.max_events_without_progress > 0,
            "max_events_without_progress must be at least 1"
        );
        let block_end = limits.max_events_without_progress;
        Engine {
            model,
            queue,
            limits,
            events: 0,
            next_check: block_end.min(limits.max_events),
            block_end,
            block_start: SimTime::ZERO,
            digest: 0xcbf2_9ce4_8422_2325,
        }
    }

    /// Events handled so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// A digest of the (time, insertion sequence) of every event handled so far: two runs
    /// with equal digests handled the same events in the same order at the same times.
    pub fn trace_digest(&self) -> u64 {
        self.digest
    }

    /// Handles one event, or says why it cannot.
    #[inline]
    pub fn step(&mut self) -> Result<(), StopReason> {
        self.step_until(self.limits.horizon)
    }

    /// Runs until a limit, the end of events, or `until` (whichever comes first).
    pub fn run_until(&mut self, until: SimTime) -> StopReason {
        let until = until.min(self.limits.horizon);
        loop {
            if let Err(reason) = self.step_until(until) {
                return reason;
            }
        }
    }

    /// Runs to the horizon (or another limit).
    pub fn run(&mut self) -> StopReason {
        self.run_until(self.limits.horizon)
    }

    #[inline]
    fn step_until(&mut self, until: SimTime) -> Result<(), StopReason> {
        // One comparison per event covers both counted limits.
        if self.events >= self.next_check {
            self.check()?;
        }
        match self.queue.peek_time() {
            None => return Err(StopReason::Drained),
            Some(t) if t >= until => return Err(StopReason::Horizon),
            Some(_) => {}
        }
        let (time, event) = self.queue.pop().expect("peeked a live event");
        self.events += 1;
        self.digest = (self.digest ^ time.0).wrapping_mul(DIGEST_PRIME);
        self.digest = (self.digest ^ self.queue.last_seq()).wrapping_mul(DIGEST_PRIME);
        match self.model.handle(event, &mut self.queue) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(why) => Err(StopReason::Guard(why.into())),
        }
    }

    /// The event budget, and at the end of each progress block whether virtual time moved
    /// more than one nanosecond per event during it.
    #[cold]
    fn check(&mut self) -> Result<(), StopReason> {
        if self.events >= self.limits.max_events {
            return Err(StopReason::EventBudget);
        }
        if self.events >= self.block_end {
            let n = self.limits.max_events_without_progress;
            let now = self.queue.now();
            if now.saturating_since(self.block_start).as_nanos() <= n {
                return Err(StopReason::NoProgress {
                    events: n,
                    from: self.block_start,
                    to: now,
                });
            }
            self.block_start = now;
            self.block_end = self.block_end.saturating_add(n);
        }
        self.next_check = self.block_end.min(self.limits.max_events);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;

    /// Ticks every second and stops itself after `stop_after` ticks.
    struct Ticker {
        ticks: u32,
        stop_after: u32,
    }

    impl Model for Ticker {
        type Event = ();
        fn handle(&mut self, _: (), q: &mut EventQueue<()>) -> ControlFlow<Box<str>> {
            self.ticks += 1;
            if self.ticks == self.stop_after {
                return ControlFlow::Break(format!("stopped after {} ticks", self.ticks).into());
            }
            q.schedule(q.now() + SimDuration::from_secs(1), ());
            ControlFlow::Continue(())
        }
    }

    fn engine(stop_after: u32, horizon_s: u64, max_events: u64) -> Engine<Ticker> {
        let mut q = EventQueue::new();
        q.schedule(SimTime::ZERO, ());
        let limits = Limits {
            horizon: SimTime(horizon_s * 1_000_000_000),
            max_events,
            max_events_without_progress: 1_000,
        };
        Engine::new(
            Ticker {
                ticks: 0,
                stop_after,
            },
            q,
            limits,
        )
    }

    #[test]
    fn each_limit_is_a_reported_stop() {
        let mut e = engine(u32::MAX, 10, u64::MAX);
        assert_eq!(e.run(), StopReason::Horizon);
        assert_eq!(
            e.model.ticks, 10,
            "ticks at 0..10 s: the horizon is exclusive"
        );
        assert_eq!(engine(u32::MAX, 100, 5).run(), StopReason::EventBudget);
        assert_eq!(
            engine(3, 100, u64::MAX).run(),
            StopReason::Guard("stopped after 3 ticks".into())
        );
        let mut drained = Engine::new(
            Ticker {
                ticks: 0,
                stop_after: 1,
            },
            EventQueue::new(),
            Limits {
                horizon: SimTime::MAX,
                max_events: 10,
                max_events_without_progress: 1_000,
            },
        );
        assert_eq!(drained.run(), StopReason::Drained);
    }

    #[test]
    fn run_until_resumes_where_it_stopped() {
        let mut e = engine(u32::MAX, 10, u64::MAX);
        assert_eq!(e.run_until(SimTime(4_500_000_000)), StopReason::Horizon);
        assert_eq!(e.model.ticks, 5);
        e.run();
        let mut whole = engine(u32::MAX, 10, u64::MAX);
        whole.run();
        assert_eq!(e.trace_digest(), whole.trace_digest());
        assert_eq!(e.events(), whole.events());
    }

    /// Each event schedules the next `delay_ns` later (`burst` chains, all from t=0).
    struct Spinner {
        delay_ns: u64,
    }

    impl Model for Spinner {
        type Event = ();
        fn handle(&mut self, _: (), q: &mut EventQueue<()>) -> ControlFlow<Box<str>> {
            q.schedule(q.now() + SimDuration::from_nanos(self.delay_ns), ());
            ControlFlow::Continue(())
        }
    }

    fn spinner(delay_ns: u64, burst: u32, limit: u64) -> Engine<Spinner> {
        let mut q = EventQueue::new();
        for _ in 0..burst {
            q.schedule(SimTime::ZERO, ());
        }
        let limits = Limits {
            horizon: SimTime(1_000_000_000),
            max_events: 1_000_000,
            max_events_without_progress: limit,
        };
        Engine::new(Spinner { delay_ns }, q, limits)
    }

    #[test]
    fn time_standing_still_stops_after_the_limit() {
        let mut e = spinner(0, 1, 1_000);
        assert_eq!(
            e.run(),
            StopReason::NoProgress {
                events: 1_000,
                from: SimTime::ZERO,
                to: SimTime::ZERO
            }
        );
        assert_eq!(e.events(), 1_000);
    }

    #[test]
    fn time_crawling_at_one_event_per_ns_stops_too() {
        // 1 ns per event: block 1 ends at t=999 ns (from 0, 999 ns), block 2 at 1999 ns.
        let mut e = spinner(1, 1, 1_000);
        assert_eq!(
            e.run(),
            StopReason::NoProgress {
                events: 1_000,
                from: SimTime::ZERO,
                to: SimTime(999)
            }
        );
        assert_eq!(e.events(), 1_000);
        // Three events per 2 ns: stops too, in the first block.
        let mut dense = spinner(2, 3, 1_000);
        assert!(matches!(dense.run(), StopReason::NoProgress { .. }));
        assert_eq!(dense.events(), 1_000);
    }

    #[test]
    fn time_advancing_faster_than_one_ns_per_event_runs_on() {
        // 2 ns per event: each block of 1,000 events spans 2,000 ns.
        let mut e = spinner(2, 1, 1_000);
        assert_eq!(e.run(), StopReason::EventBudget);
        assert_eq!(e.events(), 1_000_000);
    }

    #[test]
    fn a_burst_at_one_instant_below_the_limit_runs_on() {
        // 999 events at t=0, again every 1 ms: no block of 1,000 fits in 1,000 ns.
        let mut e = spinner(1_000_000, 999, 1_000);
        assert_eq!(e.run(), StopReason::Horizon);
        assert_eq!(e.events(), 999 * 1_000);
        // 2,000 at once trip it, after exactly one block.
        let mut big = spinner(1_000_000, 2_000, 1_000);
        assert!(matches!(big.run(), StopReason::NoProgress { .. }));
        assert_eq!(big.events(), 1_000);
    }

    #[test]
    fn the_progress_guard_is_the_same_when_resumed() {
        let mut e = spinner(1, 1, 1_000);
        assert_eq!(e.run_until(SimTime(500)), StopReason::Horizon);
        assert_eq!(e.events(), 500);
        assert_eq!(e.run(), spinner(1, 1, 1_000).run());
        assert_eq!(e.events(), 1_000);
    }
}
