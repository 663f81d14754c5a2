//! The driver: pop the next event, hand it to the model, repeat, within limits.
//!
//! Models are plain state machines: `handle` gets one event and the queue to schedule or
//! cancel follow-ups. No async, no threads, no wall clock. Every run has a horizon and an
//! event budget ("put a limit on everything"); hitting one is a reported outcome.

use std::ops::ControlFlow;

use crate::queue::EventQueue;
use crate::time::SimTime;

/// A simulated world.
pub trait Model {
    /// The model's own closed set of events.
    type Event;

    /// Handles one event at `queue.now()`. `Break(reason)` stops the run: a guard tripped
    /// (e.g. too many requests in flight), reported as [`StopReason::Guard`].
    fn handle(
        &mut self,
        event: Self::Event,
        queue: &mut EventQueue<Self::Event>,
    ) -> ControlFlow<String>;
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
}

/// A model together with its pending events.
pub struct Engine<M: Model> {
    pub model: M,
    pub queue: EventQueue<M::Event>,
    limits: Limits,
    events: u64,
    digest: u64,
}

const DIGEST_PRIME: u64 = 0x0000_0100_0000_01b3;

impl<M: Model> Engine<M> {
    pub fn new(model: M, queue: EventQueue<M::Event>, limits: Limits) -> Self {
        Engine {
            model,
            queue,
            limits,
            events: 0,
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
        if self.events >= self.limits.max_events {
            return Err(StopReason::EventBudget);
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
            ControlFlow::Break(why) => Err(StopReason::Guard(why)),
        }
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
        fn handle(&mut self, _: (), q: &mut EventQueue<()>) -> ControlFlow<String> {
            self.ticks += 1;
            if self.ticks == self.stop_after {
                return ControlFlow::Break(format!("stopped after {} ticks", self.ticks));
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
}
