//! Request traces (`simctl run --trace N`): for a few logical requests, every attempt, the
//! queue wait and work at the callee, retry backoffs, hedges, timeouts and refusals, as
//! spans. Off unless asked for: the world holds `None` and each hook is one branch.
//!
//! Which requests: every `stride`-th request id from an offset drawn from the seed, the
//! stride chosen so that N + 1 of the run's expected requests (open loops: rate x horizon;
//! closed loops: a request per user per second) qualify, and at most N of them: spread over
//! the whole run and deterministic from the seed. Work a callee does after its caller stopped waiting is not drawn (its
//! answer goes nowhere), so a callee's spans always lie inside the attempt that awaited them.

use sim_core::SimTime;

use super::CallKey;
use crate::trace::TraceSpan;

pub(crate) struct Tracer {
    offset: u64,
    stride: u64,
    most: usize,
    /// Ids of the requests traced so far, increasing (ids are issued in order).
    picked: Vec<u64>,
    /// Requests still open: key, id, issued at.
    requests: Vec<(CallKey, u64, SimTime)>,
    /// Each traced call's lane for its sequential attempts.
    calls: Vec<(CallKey, u32)>,
    /// Attempts awaited: call, attempt number, lane, sent at, name, and once the callee
    /// has answered, when the answer reaches the caller and what it says.
    open: Vec<Open>,
    /// Lane names, by lane number.
    pub lanes: Vec<(u64, String)>,
    pub spans: Vec<TraceSpan>,
}

struct Open {
    call: CallKey,
    number: u32,
    lane: u32,
    sent: SimTime,
    name: String,
    answer: Option<(SimTime, &'static str)>,
}

/// An outcome in a word.
fn outcome_word(o: super::Outcome) -> &'static str {
    use super::{Failure, Outcome};
    match o {
        Outcome::Ok => "ok",
        Outcome::Degraded => "degraded",
        Outcome::Failed(Failure::Timeout) => "timeout",
        Outcome::Failed(Failure::Rejected) => "rejected",
        Outcome::Failed(Failure::Error) => "error",
        Outcome::Failed(Failure::CircuitOpen) => "circuit open",
    }
}

fn mix(mut x: u64) -> u64 {
    // splitmix64's finaliser.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Tracer {
    /// Traces `samples` of about `expected` requests (at most `samples`).
    pub(crate) fn new(seed: u64, samples: usize, expected: u64) -> Tracer {
        let stride = (expected / (samples as u64 + 1)).max(1);
        Tracer {
            offset: mix(seed) % stride,
            stride,
            most: samples,
            picked: Vec::new(),
            requests: Vec::new(),
            calls: Vec::new(),
            open: Vec::new(),
            lanes: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// A request is issued: traced if it is picked.
    #[cold]
    #[inline(never)]
    pub(crate) fn issue(&mut self, r: CallKey, id: u64, now: SimTime, client: &str) {
        if self.picked.len() >= self.most || id % self.stride != self.offset {
            return;
        }
        self.picked.push(id);
        self.requests.push((r, id, now));
        self.lanes.push((id, format!("request from {client}")));
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn traced(&self, request_id: u64) -> bool {
        self.picked.binary_search(&request_id).is_ok()
    }

    fn span(&mut self, request: u64, lane: u32, name: String, start: SimTime, end: SimTime) {
        self.spans.push(TraceSpan {
            request,
            lane,
            name,
            start_s: start.as_secs_f64(),
            end_s: end.as_secs_f64(),
        });
    }

    fn new_lane(&mut self, request: u64, name: String) -> u32 {
        self.lanes.push((request, name));
        (self.lanes.len() - 1) as u32
    }

    /// Attempt `number` of `call` (of traced request `request`) is sent from `from` to
    /// `to`; hedges get a lane of their own.
    #[allow(clippy::too_many_arguments)]
    #[cold]
    #[inline(never)]
    pub(crate) fn send(
        &mut self,
        request: u64,
        call: CallKey,
        number: u32,
        hedge: Option<u32>,
        from: &str,
        to: &str,
        now: SimTime,
    ) {
        let lane = match (hedge, self.calls.iter().find(|c| c.0 == call)) {
            (None, Some(&(_, lane))) => lane,
            (None, None) => {
                let lane = self.new_lane(request, format!("{from} → {to}"));
                self.calls.push((call, lane));
                lane
            }
            (Some(h), _) => self.new_lane(request, format!("{from} → {to} hedge {h}")),
        };
        let name = match hedge {
            Some(h) => format!("hedge {h} → {to}"),
            None => format!("attempt {number} → {to}"),
        };
        self.settle(now);
        self.open.push(Open {
            call,
            number,
            lane,
            sent: now,
            name,
            answer: None,
        });
    }

    /// Ends the span of `open[i]` at `at` with `outcome`.
    fn close(&mut self, i: usize, at: SimTime, outcome: &str) {
        let o = self.open.swap_remove(i);
        let request = self.lanes[o.lane as usize].0;
        let name = format!("{}: {outcome}", o.name);
        self.span(request, o.lane, name, o.sent, at);
    }

    /// Attempts whose answer reached their caller by `now` end when it arrived: the caller
    /// was still waiting (had it stopped, `end_all` would have ended them then).
    fn settle(&mut self, now: SimTime) {
        let mut i = 0;
        while i < self.open.len() {
            match self.open[i].answer {
                Some((at, outcome)) if at <= now => self.close(i, at, outcome),
                _ => i += 1,
            }
        }
    }

    /// The run is over at `end`: answers that arrived by then end their attempts.
    pub(crate) fn finish_run(&mut self, end: SimTime) {
        self.settle(end);
    }

    /// The caller stops awaiting every attempt of `call` still out (`outcome`: why).
    #[cold]
    #[inline(never)]
    pub(crate) fn end_all(&mut self, call: CallKey, now: SimTime, outcome: &str) {
        self.settle(now);
        while let Some(i) = self.open.iter().position(|o| o.call == call) {
            self.close(i, now, outcome);
        }
    }

    /// The callee answers attempt `number` of `call`, awaited: its queue wait and work; the
    /// answer reaches the caller at `answer_at` (`None`: lost on the way).
    #[allow(clippy::too_many_arguments)]
    #[cold]
    #[inline(never)]
    pub(crate) fn hop(
        &mut self,
        call: CallKey,
        number: u32,
        arrived: SimTime,
        started: SimTime,
        now: SimTime,
        answer_at: Option<SimTime>,
        outcome: super::Outcome,
    ) {
        let outcome = outcome_word(outcome);
        self.settle(now);
        if let Some(o) = self
            .open
            .iter_mut()
            .find(|o| o.call == call && o.number == number)
        {
            o.answer = answer_at.map(|t| (t, outcome));
            let (request, lane) = (self.lanes[o.lane as usize].0, o.lane);
            if started > arrived {
                self.span(request, lane, "queue wait".into(), arrived, started);
            }
            self.span(request, lane, "work".into(), started.max(arrived), now);
        }
    }

    /// `call` waits `until` before its next attempt.
    #[cold]
    #[inline(never)]
    pub(crate) fn backoff(&mut self, call: CallKey, now: SimTime, until: SimTime) {
        if let Some(&(_, lane)) = self.calls.iter().find(|c| c.0 == call) {
            let request = self.lanes[lane as usize].0;
            self.span(request, lane, "retry backoff".into(), now, until);
        }
    }

    /// An attempt of `call` is refused at the caller (open breaker, backpressure, no
    /// healthy replica): a span of no length.
    #[cold]
    #[inline(never)]
    pub(crate) fn refused(
        &mut self,
        request: u64,
        call: CallKey,
        why: super::Failure,
        now: SimTime,
    ) {
        let why = outcome_word(super::Outcome::Failed(why));
        let lane = match self.calls.iter().find(|c| c.0 == call) {
            Some(&(_, lane)) => lane,
            None => {
                let lane = self.new_lane(request, "refused at the caller".into());
                self.calls.push((call, lane));
                lane
            }
        };
        self.span(request, lane, format!("refused: {why}"), now, now);
    }

    /// Request `r` ends with `outcome`.
    #[cold]
    #[inline(never)]
    pub(crate) fn finish(&mut self, r: CallKey, now: SimTime, outcome: super::Outcome) {
        let outcome = outcome_word(outcome);
        self.settle(now);
        if let Some(i) = self.requests.iter().position(|x| x.0 == r) {
            let (_, id, issued) = self.requests.swap_remove(i);
            let lane = self
                .lanes
                .iter()
                .position(|l| l.0 == id)
                .expect("a traced request's lane") as u32;
            self.span(id, lane, format!("request: {outcome}"), issued, now);
        }
    }
}
