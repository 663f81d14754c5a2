//! A circuit breaker as a plain state machine on virtual time.
//!
//! Semantics follow **resilience4j**'s `CircuitBreaker` (`CircuitBreakerConfig`,
//! `CircuitBreakerMetrics`, `CircuitBreakerStateMachine`), including its defaults:
//!
//! - **Closed** admits every call and records each outcome in a sliding window, either the
//!   last N outcomes (`COUNT_BASED`) or one-second buckets over the last D (`TIME_BASED`), with
//!   running totals, so recording and evaluating are O(1) (amortised for time windows).
//! - After each recorded outcome, once the window holds at least `minimum_calls`, it opens if
//!   the failure rate is **>=** `failure_rate` **or** the slow-call rate is **>=**
//!   `slow_call_rate`. A call is slow iff its duration is **strictly** longer than `slow_call`;
//!   a slow failure counts as both failed and slow.
//! - **Open** refuses calls (not permitted, not recorded) until `wait_in_open` has elapsed,
//!   then moves to half-open *lazily*, on the next [`Breaker::try_acquire`]
//!   (`automaticTransitionFromOpenToHalfOpenEnabled = false`).
//! - **Half-open** admits `permitted_in_half_open` calls in total and records them in a fresh
//!   count window of that size. It decides once it holds `min(minimum_calls,
//!   permitted_in_half_open)` outcomes (resilience4j's half-open metrics are `COUNT_BASED`, so
//!   the minimum is capped at the window size): over a threshold reopens (new wait), else
//!   closes with a fresh window.
//!
//! Where it differs from resilience4j:
//! - Only `CLOSED`, `OPEN` and `HALF_OPEN`: no `DISABLED`, `FORCED_OPEN` or `METRICS_ONLY`, no
//!   `maxWaitDurationInHalfOpenState` (its default, 0, is what we model: a half-open breaker
//!   whose probes never report stays half-open), no `IntervalFunction` for the open wait, and
//!   the caller says what a failure is (no exception predicates).
//! - A time window is given as a duration and holds `ceil(D / 1s)` buckets (resilience4j takes
//!   a whole number of seconds). Buckets are keyed by the second of *virtual* time since the
//!   run started (`now / 1s`), not the Unix epoch.
//! - Outcomes reported while open are ignored; resilience4j records them into metrics that
//!   are thrown away at the next transition, so nothing observable changes.
//! - Rates may be 0 (resilience4j requires `(0, 100]`): 0 means "open as soon as the window
//!   holds `minimum_calls`".
//!
//! Polly v8's circuit breaker is expressible too (see the `polly_like` test): a time window of
//! `SamplingDuration`, `failure_rate = 100 · FailureRatio` (Polly also compares with `>=`),
//! `minimum_calls = MinimumThroughput`, `wait_in_open = BreakDuration` and
//! `permitted_in_half_open = 1`, so one probe decides. Polly's sampling window is split into
//! tenths of `SamplingDuration` rather than one-second buckets, so the edges of its window
//! move in coarser steps for long windows.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize, Serializer};
use sim_core::path::{FieldPath, Problem};
use sim_core::{SimDuration, SimTime};

/// At most this many transitions are kept by [`Breaker::transitions`] (the first ones);
/// [`Breaker::transition_count`] keeps counting. A flapping breaker over a long run would
/// otherwise grow without bound.
pub const MAX_STORED_TRANSITIONS: usize = 10_000;

const SECOND: SimDuration = SimDuration::from_secs(1);

/// A circuit breaker's configuration, as written in a scenario file. Every field may be left
/// out and then takes resilience4j's default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerSpec {
    /// The sliding window that closed-state rates are computed over. Default `Count(100)`
    /// (resilience4j: `slidingWindowType = COUNT_BASED`, `slidingWindowSize = 100`).
    pub window: Window,
    /// Open when at least this percentage of the window's calls failed. Default 50
    /// (resilience4j `failureRateThreshold`).
    pub failure_rate: f64,
    /// Open when at least this percentage of the window's calls were slow. Default 100
    /// (resilience4j `slowCallRateThreshold`).
    pub slow_call_rate: f64,
    /// A call is slow iff it took strictly longer than this. Default 60s (resilience4j
    /// `slowCallDurationThreshold`).
    pub slow_call: SimDuration,
    /// No decision until the window holds this many calls. Default 100 (resilience4j
    /// `minimumNumberOfCalls`). For a `Count` window it is capped at the window size, as
    /// resilience4j does; for a `Time` window it is not.
    pub minimum_calls: u32,
    /// How long the breaker stays open before it lets probes through. Default 60s
    /// (resilience4j `waitDurationInOpenState`).
    pub wait_in_open: SimDuration,
    /// How many calls half-open admits; their outcomes decide. Default 10 (resilience4j
    /// `permittedNumberOfCallsInHalfOpenState`).
    pub permitted_in_half_open: u32,
}

/// The window closed-state failure and slow-call rates are computed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Window {
    /// The last N recorded calls (resilience4j `COUNT_BASED`).
    Count(u32),
    /// Calls recorded in the last `ceil(D / 1s)` one-second buckets, the current one included
    /// (resilience4j `TIME_BASED`).
    Time(SimDuration),
}

impl Default for Window {
    fn default() -> Self {
        Window::Count(100)
    }
}

impl Default for BreakerSpec {
    /// resilience4j's `CircuitBreakerConfig.ofDefaults()`.
    fn default() -> Self {
        BreakerSpec {
            window: Window::default(),
            failure_rate: 50.0,
            slow_call_rate: 100.0,
            slow_call: SimDuration::from_secs(60),
            minimum_calls: 100,
            wait_in_open: SimDuration::from_secs(60),
            permitted_in_half_open: 10,
        }
    }
}

impl BreakerSpec {
    /// Every problem with this spec, with paths relative to it.
    pub fn problems(&self) -> Vec<Problem> {
        let root = FieldPath::root();
        let mut out = Vec::new();
        match self.window {
            Window::Count(0) => out.push(Problem::new(
                root.field("window"),
                "a count window must hold at least 1 call, got Count(0)",
            )),
            Window::Time(d) if d < SECOND => out.push(Problem::new(
                root.field("window"),
                format!(
                    "a time window must be at least 1s (it is kept in one-second buckets), got {d}"
                ),
            )),
            _ => {}
        }
        for (name, rate) in [
            ("failure_rate", self.failure_rate),
            ("slow_call_rate", self.slow_call_rate),
        ] {
            // Written as a positive range check so that NaN fails it.
            if !((0.0..=100.0).contains(&rate)) {
                out.push(Problem::new(
                    root.field(name),
                    format!("must be a percentage between 0 and 100, got {rate}"),
                ));
            }
        }
        if self.minimum_calls == 0 {
            out.push(Problem::new(
                root.field("minimum_calls"),
                "must be at least 1, got 0",
            ));
        }
        if self.permitted_in_half_open == 0 {
            out.push(Problem::new(
                root.field("permitted_in_half_open"),
                "must be at least 1, got 0: a half-open breaker that admits no calls never closes",
            ));
        }
        out
    }
}

/// Where a breaker is in its cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

/// One change of state. Serialized with the time as `at_s`, in seconds, like the run results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Transition {
    #[serde(rename = "at_s", serialize_with = "secs")]
    pub at: SimTime,
    pub from: State,
    pub to: State,
}

fn secs<S: Serializer>(t: &SimTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(t.as_secs_f64())
}

/// What the current window holds: calls, and how many of them failed or were slow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub calls: u64,
    pub failed: u64,
    pub slow: u64,
}

impl Snapshot {
    fn add(&mut self, o: Outcome) {
        self.calls += 1;
        self.failed += u64::from(o.failed);
        self.slow += u64::from(o.slow);
    }
    fn remove(&mut self, o: Outcome) {
        self.calls -= 1;
        self.failed -= u64::from(o.failed);
        self.slow -= u64::from(o.slow);
    }
    fn remove_all(&mut self, other: Snapshot) {
        self.calls -= other.calls;
        self.failed -= other.failed;
        self.slow -= other.slow;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Outcome {
    failed: bool,
    slow: bool,
}

/// The last `size` outcomes. The ring grows as outcomes arrive rather than up front, so a
/// huge configured size costs only what is actually recorded.
#[derive(Clone, Debug)]
struct CountWindow {
    size: usize,
    ring: Vec<Outcome>,
    /// The oldest entry once the ring is full.
    next: usize,
    totals: Snapshot,
}

impl CountWindow {
    fn new(size: u32) -> Self {
        CountWindow {
            size: size.max(1) as usize,
            ring: Vec::new(),
            next: 0,
            totals: Snapshot::default(),
        }
    }
    fn record(&mut self, o: Outcome) {
        if self.ring.len() < self.size {
            self.ring.push(o);
        } else {
            self.totals.remove(self.ring[self.next]);
            self.ring[self.next] = o;
            self.next = (self.next + 1) % self.size;
        }
        self.totals.add(o);
    }
}

/// One-second buckets over the last `secs` seconds. Only seconds that saw a call have a
/// bucket, oldest first, so the deque never holds more than `secs` entries and an idle
/// stretch costs nothing.
#[derive(Clone, Debug)]
struct TimeWindow {
    secs: u64,
    buckets: VecDeque<(u64, Snapshot)>,
    totals: Snapshot,
}

impl TimeWindow {
    fn new(d: SimDuration) -> Self {
        TimeWindow {
            secs: d.as_nanos().div_ceil(SECOND.as_nanos()).max(1),
            buckets: VecDeque::new(),
            totals: Snapshot::default(),
        }
    }
    /// Drops the buckets that are out of the window at `epoch`, which covers seconds
    /// `epoch - secs + 1 ..= epoch`.
    fn advance(&mut self, epoch: u64) {
        while let Some(&(first, counts)) = self.buckets.front() {
            if first.saturating_add(self.secs) > epoch {
                break;
            }
            self.totals.remove_all(counts);
            self.buckets.pop_front();
        }
    }
    fn record(&mut self, epoch: u64, o: Outcome) {
        // Virtual time never runs backwards; if a caller's does, the outcome goes into the
        // newest bucket rather than reopening an old one.
        let epoch = self
            .buckets
            .back()
            .map_or(epoch, |&(last, _)| epoch.max(last));
        self.advance(epoch);
        match self.buckets.back_mut() {
            Some((last, counts)) if *last == epoch => counts.add(o),
            _ => {
                let mut counts = Snapshot::default();
                counts.add(o);
                self.buckets.push_back((epoch, counts));
            }
        }
        self.totals.add(o);
    }
}

#[derive(Clone, Debug)]
enum Metrics {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Metrics {
    fn record(&mut self, now: SimTime, o: Outcome) {
        match self {
            Metrics::Count(w) => w.record(o),
            Metrics::Time(w) => w.record(epoch(now), o),
        }
    }
    fn snapshot(&mut self, now: SimTime) -> Snapshot {
        match self {
            Metrics::Count(w) => w.totals,
            Metrics::Time(w) => {
                w.advance(epoch(now));
                w.totals
            }
        }
    }
}

fn epoch(now: SimTime) -> u64 {
    now.as_nanos() / SECOND.as_nanos()
}

/// A circuit breaker: ask [`try_acquire`](Self::try_acquire) before a call, report its
/// outcome with [`on_result`](Self::on_result).
#[derive(Clone, Debug)]
pub struct Breaker {
    spec: BreakerSpec,
    state: State,
    /// The current state's window: the configured one when closed, a count window of
    /// `permitted_in_half_open` when half-open (kept, unused, when open).
    metrics: Metrics,
    /// Outcomes the current window needs before it decides anything.
    minimum: u64,
    opened_at: SimTime,
    /// Calls admitted since the breaker went half-open.
    half_open_admitted: u32,
    not_permitted: u64,
    transitions: Vec<Transition>,
    transition_count: u64,
}

impl Breaker {
    /// A closed breaker with an empty window. Expects a spec without [`BreakerSpec::problems`];
    /// a zero size, minimum or permit count is read as 1.
    pub fn new(spec: &BreakerSpec) -> Breaker {
        let mut b = Breaker {
            spec: spec.clone(),
            state: State::Closed,
            metrics: Metrics::Count(CountWindow::new(1)),
            minimum: 1,
            opened_at: SimTime::ZERO,
            half_open_admitted: 0,
            not_permitted: 0,
            transitions: Vec::new(),
            transition_count: 0,
        };
        b.reset_closed_window();
        b
    }

    /// Whether a call may go ahead at `now`. A refusal is counted in
    /// [`not_permitted`](Self::not_permitted) and is not an outcome: don't report it.
    pub fn try_acquire(&mut self, now: SimTime) -> bool {
        match self.state {
            State::Closed => true,
            State::Open => {
                if now >= self.opened_at.saturating_add(self.spec.wait_in_open) {
                    // Lazily, on the first call after the wait, as resilience4j does by default.
                    self.transition(now, State::HalfOpen);
                    self.half_open_admitted = 1;
                    true
                } else {
                    self.not_permitted += 1;
                    false
                }
            }
            State::HalfOpen => {
                if self.half_open_admitted < self.permitted() {
                    self.half_open_admitted += 1;
                    true
                } else {
                    self.not_permitted += 1;
                    false
                }
            }
        }
    }

    /// Records the outcome of an admitted call that finished at `now` after `duration`, and
    /// moves to another state if the window now says so. Outcomes go into the current
    /// state's window whichever state admitted the call (as in resilience4j); while open
    /// they are ignored.
    pub fn on_result(&mut self, now: SimTime, success: bool, duration: SimDuration) {
        if self.state == State::Open {
            return;
        }
        let outcome = Outcome {
            failed: !success,
            slow: duration > self.spec.slow_call,
        };
        self.metrics.record(now, outcome);
        let Some(over) = self.verdict(now) else {
            return;
        };
        match (self.state, over) {
            (_, true) => {
                self.transition(now, State::Open);
                self.opened_at = now;
            }
            (State::HalfOpen, false) => {
                self.transition(now, State::Closed);
                self.reset_closed_window();
            }
            _ => {}
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Every transition so far, in order, up to the first [`MAX_STORED_TRANSITIONS`].
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    /// How many transitions happened, including any not stored.
    pub fn transition_count(&self) -> u64 {
        self.transition_count
    }

    /// How many calls were refused (resilience4j's `numberOfNotPermittedCalls`).
    pub fn not_permitted(&self) -> u64 {
        self.not_permitted
    }

    /// What the current window holds at `now` (a time window first forgets what is too old).
    pub fn snapshot(&mut self, now: SimTime) -> Snapshot {
        self.metrics.snapshot(now)
    }

    fn permitted(&self) -> u32 {
        self.spec.permitted_in_half_open.max(1)
    }

    /// `None` below the minimum number of calls, else whether a threshold is reached.
    fn verdict(&mut self, now: SimTime) -> Option<bool> {
        let s = self.metrics.snapshot(now);
        if s.calls == 0 || s.calls < self.minimum {
            return None;
        }
        // `count · 100 >= rate · calls` rather than comparing quotients: exact at the
        // threshold for integer percentages, where a quotient could round just below it.
        let reached = |count: u64, rate: f64| count as f64 * 100.0 >= rate * s.calls as f64;
        Some(reached(s.failed, self.spec.failure_rate) || reached(s.slow, self.spec.slow_call_rate))
    }

    fn reset_closed_window(&mut self) {
        let minimum = self.spec.minimum_calls.max(1);
        (self.metrics, self.minimum) = match self.spec.window {
            Window::Count(n) => {
                let w = CountWindow::new(n);
                let minimum = minimum.min(w.size as u32);
                (Metrics::Count(w), u64::from(minimum))
            }
            Window::Time(d) => (Metrics::Time(TimeWindow::new(d)), u64::from(minimum)),
        };
    }

    fn transition(&mut self, at: SimTime, to: State) {
        let from = self.state;
        self.state = to;
        self.transition_count += 1;
        if self.transitions.len() < MAX_STORED_TRANSITIONS {
            self.transitions.push(Transition { at, from, to });
        }
        if to == State::HalfOpen {
            let permitted = self.permitted();
            self.metrics = Metrics::Count(CountWindow::new(permitted));
            // Half-open metrics are count-based, so the minimum is capped at their size.
            self.minimum = u64::from(self.spec.minimum_calls.clamp(1, permitted));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimTime {
        SimTime(SimDuration::from_secs(s).as_nanos())
    }
    fn ms(m: u64) -> SimTime {
        SimTime(SimDuration::from_millis(m).as_nanos())
    }

    /// A small spec: count window of `n`, minimum `n`, 50 % failures, 1s slow calls, 10s wait.
    fn small(n: u32) -> BreakerSpec {
        BreakerSpec {
            window: Window::Count(n),
            minimum_calls: n,
            slow_call: SimDuration::from_secs(1),
            wait_in_open: SimDuration::from_secs(10),
            permitted_in_half_open: 4,
            ..BreakerSpec::default()
        }
    }

    const FAST: SimDuration = SimDuration::from_millis(10);
    const SLOW: SimDuration = SimDuration::from_secs(2);

    /// Runs one admitted call per character at `now`: `o` fast success, `x` fast failure,
    /// `O` slow success, `X` slow failure. Panics if a call is refused.
    fn calls(b: &mut Breaker, now: SimTime, pattern: &str) {
        for c in pattern.chars() {
            assert!(b.try_acquire(now), "call {c:?} refused at {now}");
            let (success, duration) = match c {
                'o' => (true, FAST),
                'x' => (false, FAST),
                'O' => (true, SLOW),
                'X' => (false, SLOW),
                _ => panic!("bad pattern char {c:?}"),
            };
            b.on_result(now, success, duration);
        }
    }

    /// Trips a `small(n)` breaker at `now` with `n` failures.
    fn tripped(spec: &BreakerSpec, now: SimTime) -> Breaker {
        let mut b = Breaker::new(spec);
        let n = spec.minimum_calls as usize;
        calls(&mut b, now, &"x".repeat(n));
        assert_eq!(b.state(), State::Open);
        b
    }

    #[test]
    fn defaults_follow_resilience4j() {
        let d = BreakerSpec::default();
        assert_eq!(d.window, Window::Count(100));
        assert_eq!(d.failure_rate, 50.0);
        assert_eq!(d.slow_call_rate, 100.0);
        assert_eq!(d.slow_call, SimDuration::from_secs(60));
        assert_eq!(d.minimum_calls, 100);
        assert_eq!(d.wait_in_open, SimDuration::from_secs(60));
        assert_eq!(d.permitted_in_half_open, 10);
        assert!(d.problems().is_empty());
        assert_eq!(ron::from_str::<BreakerSpec>("()").unwrap(), d);
    }

    #[test]
    fn parses_from_ron_with_duration_strings() {
        let spec: BreakerSpec = ron::from_str(
            r#"(window: Time("30s"), failure_rate: 10, slow_call: "250ms", wait_in_open: "5s")"#,
        )
        .unwrap();
        assert_eq!(spec.window, Window::Time(SimDuration::from_secs(30)));
        assert_eq!(spec.failure_rate, 10.0);
        assert_eq!(spec.slow_call, SimDuration::from_millis(250));
        assert_eq!(spec.wait_in_open, SimDuration::from_secs(5));
        assert_eq!(spec.minimum_calls, 100);
        let count: BreakerSpec = ron::from_str("(window: Count(20))").unwrap();
        assert_eq!(count.window, Window::Count(20));
        assert!(ron::from_str::<BreakerSpec>("(failure_ratio: 0.5)").is_err());
    }

    #[test]
    fn problems_name_the_field() {
        let cases: [(BreakerSpec, &[&str]); 7] = [
            (
                BreakerSpec {
                    window: Window::Count(0),
                    ..BreakerSpec::default()
                },
                &["window"],
            ),
            (
                BreakerSpec {
                    window: Window::Time(SimDuration::from_millis(999)),
                    ..BreakerSpec::default()
                },
                &["window"],
            ),
            (
                BreakerSpec {
                    failure_rate: 100.5,
                    slow_call_rate: -1.0,
                    ..BreakerSpec::default()
                },
                &["failure_rate", "slow_call_rate"],
            ),
            (
                BreakerSpec {
                    failure_rate: f64::NAN,
                    ..BreakerSpec::default()
                },
                &["failure_rate"],
            ),
            (
                BreakerSpec {
                    minimum_calls: 0,
                    permitted_in_half_open: 0,
                    ..BreakerSpec::default()
                },
                &["minimum_calls", "permitted_in_half_open"],
            ),
            (
                BreakerSpec {
                    window: Window::Time(SimDuration::from_secs(1)),
                    failure_rate: 0.0,
                    slow_call_rate: 100.0,
                    ..BreakerSpec::default()
                },
                &[],
            ),
            (small(1), &[]),
        ];
        for (spec, want) in cases {
            let got: Vec<String> = spec.problems().iter().map(|p| p.path.to_string()).collect();
            assert_eq!(got, want, "{spec:?}");
        }
        let msg = &BreakerSpec {
            window: Window::Time(SimDuration::from_millis(500)),
            ..BreakerSpec::default()
        }
        .problems()[0]
            .message;
        assert!(
            msg.contains("at least 1s") && msg.contains("500ms"),
            "{msg}"
        );
    }

    #[test]
    fn no_decision_below_minimum_calls() {
        let spec = BreakerSpec {
            window: Window::Count(20),
            minimum_calls: 10,
            ..small(10)
        };
        let mut b = Breaker::new(&spec);
        calls(&mut b, secs(1), &"x".repeat(9));
        assert_eq!(
            b.state(),
            State::Closed,
            "9 of 9 failed, but 9 < minimum 10"
        );
        calls(&mut b, secs(1), "x");
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn trips_at_the_threshold_not_below() {
        // (pattern over a window of 10, failure %, slow %, expected state)
        let cases = [
            ("xxxxoooooo", 50.0, 100.0, State::Closed), // 40 % < 50 %
            ("xxxxxooooo", 50.0, 100.0, State::Open),   // 50 % >= 50 %
            ("xxxxxxoooo", 50.0, 100.0, State::Open),
            ("Xooooooooo", 10.0, 100.0, State::Open), // exactly 10 %
            ("oooooooooo", 0.0, 100.0, State::Open),  // 0 % >= 0 %
            ("OOOooooooo", 100.0, 30.0, State::Open), // slow 30 % >= 30 %
            ("OOoooooooo", 100.0, 30.0, State::Closed),
            ("xxxxxxxxxx", 100.0, 100.0, State::Open), // 100 % failed
            ("xxxxxxxxxo", 100.0, 100.0, State::Closed),
        ];
        for (pattern, failure_rate, slow_call_rate, want) in cases {
            let spec = BreakerSpec {
                failure_rate,
                slow_call_rate,
                ..small(10)
            };
            let mut b = Breaker::new(&spec);
            // The minimum equals the window, so only the full window is ever evaluated.
            calls(&mut b, secs(1), pattern);
            assert_eq!(
                b.state(),
                want,
                "{pattern} at {failure_rate}% / {slow_call_rate}%"
            );
        }
    }

    #[test]
    fn slow_successes_alone_trip_the_slow_call_rate() {
        let spec = BreakerSpec {
            slow_call_rate: 100.0,
            ..small(5)
        };
        let mut b = Breaker::new(&spec);
        calls(&mut b, secs(1), "OOOO");
        assert_eq!(b.state(), State::Closed);
        calls(&mut b, secs(1), "O");
        assert_eq!(b.state(), State::Open, "5 of 5 slow, no failures");
        assert_eq!(b.transitions()[0].at, secs(1));
    }

    #[test]
    fn slow_means_strictly_longer_than_the_threshold() {
        let threshold = SimDuration::from_secs(1);
        for (duration, slow) in [
            (threshold, false),
            (SimDuration(threshold.as_nanos() + 1), true),
            (SimDuration(threshold.as_nanos() - 1), false),
        ] {
            let spec = BreakerSpec {
                slow_call: threshold,
                ..small(3)
            };
            let mut b = Breaker::new(&spec);
            for _ in 0..3 {
                assert!(b.try_acquire(secs(1)));
                b.on_result(secs(1), true, duration);
            }
            let want = if slow { State::Open } else { State::Closed };
            assert_eq!(b.state(), want, "duration {duration}");
        }
    }

    #[test]
    fn a_slow_failure_counts_as_failed_and_slow() {
        let spec = BreakerSpec {
            failure_rate: 100.0,
            ..small(4)
        };
        let mut b = Breaker::new(&spec);
        calls(&mut b, secs(1), "Xoo");
        let s = b.snapshot(secs(1));
        assert_eq!(
            s,
            Snapshot {
                calls: 3,
                failed: 1,
                slow: 1
            }
        );
    }

    #[test]
    fn open_rejects_until_the_wait_then_half_open_admits_exactly_the_permitted_calls() {
        let spec = small(4); // wait 10s, 4 permitted in half-open
        let mut b = tripped(&spec, secs(5));
        for t in [secs(5), secs(10), SimTime(secs(15).as_nanos() - 1)] {
            assert!(!b.try_acquire(t), "admitted at {t}");
            assert_eq!(b.state(), State::Open, "moved before the wait at {t}");
        }
        assert_eq!(b.not_permitted(), 3);
        // The wait has elapsed, but nothing moves until someone asks.
        assert_eq!(b.state(), State::Open);
        let admitted: Vec<bool> = (0..6).map(|_| b.try_acquire(secs(20))).collect();
        assert_eq!(admitted, [true, true, true, true, false, false]);
        assert_eq!(b.state(), State::HalfOpen);
        assert_eq!(b.not_permitted(), 5);
        assert_eq!(
            b.transitions().last(),
            Some(&Transition {
                at: secs(20),
                from: State::Open,
                to: State::HalfOpen
            }),
            "the transition is stamped with the call that caused it"
        );
    }

    #[test]
    fn half_open_successes_close_with_a_fresh_window() {
        let spec = small(4);
        let mut b = tripped(&spec, secs(0));
        for _ in 0..4 {
            assert!(b.try_acquire(secs(10)));
        }
        for i in 0..4 {
            b.on_result(secs(11), true, FAST);
            let want = if i < 3 {
                State::HalfOpen
            } else {
                State::Closed
            };
            assert_eq!(b.state(), want, "after {} successes", i + 1);
        }
        assert_eq!(
            b.snapshot(secs(11)),
            Snapshot::default(),
            "old failures are gone"
        );
        // Three failures in a fresh window of 4 are below the minimum...
        calls(&mut b, secs(12), "xxx");
        assert_eq!(b.state(), State::Closed);
        // ...and the fourth decides.
        calls(&mut b, secs(12), "o");
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn half_open_decides_on_the_probes_at_the_same_threshold() {
        // (outcomes of the 4 probes, expected state) at failure_rate 50.
        let cases = [
            ("oooo", State::Closed),
            ("xooo", State::Closed),
            ("xxoo", State::Open),
            ("ooxx", State::Open),
            ("xxxx", State::Open),
            ("OOOO", State::Open), // slow_call_rate 100 %
            ("OOOo", State::Closed),
        ];
        for (probes, want) in cases {
            let spec = small(4);
            let mut b = tripped(&spec, secs(0));
            calls(&mut b, secs(10), probes);
            assert_eq!(b.state(), want, "{probes}");
            if want == State::Open {
                assert!(!b.try_acquire(secs(19)), "{probes}: a new wait from t=10s");
                assert!(
                    b.try_acquire(secs(20)),
                    "{probes}: half-open again at t=20s"
                );
                assert_eq!(b.state(), State::HalfOpen);
            }
        }
    }

    #[test]
    fn half_open_minimum_is_capped_at_the_permitted_calls_and_can_be_lower() {
        // resilience4j's half-open metrics are COUNT_BASED of size permitted_in_half_open, so
        // their minimum is min(minimum_calls, permitted_in_half_open).
        let spec = BreakerSpec {
            window: Window::Count(10),
            minimum_calls: 2,
            permitted_in_half_open: 5,
            ..small(2)
        };
        let mut b = tripped(&spec, secs(0));
        calls(&mut b, secs(10), "o");
        assert_eq!(b.state(), State::HalfOpen);
        calls(&mut b, secs(10), "o");
        assert_eq!(b.state(), State::Closed, "2 outcomes meet the minimum of 2");
    }

    #[test]
    fn count_window_keeps_the_last_n_outcomes() {
        let spec = small(4);
        let mut b = Breaker::new(&spec);
        // (outcome, failed in window after it, state)
        let steps = [
            ('x', 1, State::Closed),
            ('o', 1, State::Closed),
            ('o', 1, State::Closed),
            ('o', 1, State::Closed), // full: 25 %
            ('o', 0, State::Closed), // the x is evicted
            ('x', 1, State::Closed),
            ('x', 2, State::Open), // [o o x x]: 50 % of the last 4
        ];
        for (i, (c, failed, state)) in steps.into_iter().enumerate() {
            calls(&mut b, secs(1), &c.to_string());
            let s = b.snapshot(secs(1));
            assert_eq!(
                (s.calls, s.failed, b.state()),
                ((i + 1).min(4) as u64, failed, state),
                "step {i}"
            );
        }
    }

    #[test]
    fn time_window_forgets_calls_older_than_the_window() {
        let spec = BreakerSpec {
            window: Window::Time(SimDuration::from_secs(10)),
            minimum_calls: 20,
            ..small(20)
        };
        // 10 failures at t=0, then 10 successes at `later`; the window at `later` covers
        // seconds floor(later)-9 ..= floor(later).
        let cases = [
            (ms(9_999), 20, State::Open), // second 9: second 0 still in; 10 of 20 failed
            (secs(10), 10, State::Closed), // second 10 covers 1..=10
            (secs(11), 10, State::Closed),
        ];
        for (later, calls_in_window, want) in cases {
            let mut b = Breaker::new(&spec);
            calls(&mut b, SimTime::ZERO, &"x".repeat(10));
            calls(&mut b, later, &"o".repeat(10));
            assert_eq!(b.state(), want, "second batch at {later}");
            if want == State::Closed {
                assert_eq!(b.snapshot(later).calls, calls_in_window);
            }
        }
    }

    #[test]
    fn time_window_evicts_on_evaluation_too() {
        let spec = BreakerSpec {
            window: Window::Time(SimDuration::from_millis(2_500)), // 3 buckets
            ..small(100)
        };
        let mut b = Breaker::new(&spec);
        calls(&mut b, secs(0), "xx");
        calls(&mut b, ms(1_500), "o");
        calls(&mut b, secs(2), "x");
        let calls_at = |b: &mut Breaker, t| b.snapshot(t).calls;
        assert_eq!(calls_at(&mut b, ms(2_999)), 4);
        assert_eq!(calls_at(&mut b, secs(3)), 2, "second 0 has left");
        assert_eq!(calls_at(&mut b, secs(4)), 1, "second 1 has left");
        assert_eq!(calls_at(&mut b, secs(100)), 0);
        calls(&mut b, secs(100), "o");
        assert_eq!(
            b.snapshot(secs(100)),
            Snapshot {
                calls: 1,
                failed: 0,
                slow: 0
            }
        );
    }

    #[test]
    fn minimum_calls_is_capped_at_a_count_window_but_not_a_time_window() {
        let count = BreakerSpec {
            window: Window::Count(5),
            minimum_calls: 100,
            ..small(5)
        };
        let mut b = Breaker::new(&count);
        calls(&mut b, secs(1), "xxxxx");
        assert_eq!(
            b.state(),
            State::Open,
            "minimum 100 capped at the window of 5"
        );

        let time = BreakerSpec {
            window: Window::Time(SimDuration::from_secs(5)),
            ..count
        };
        let mut b = Breaker::new(&time);
        calls(&mut b, secs(1), &"x".repeat(99));
        assert_eq!(b.state(), State::Closed, "99 < minimum 100");
        calls(&mut b, secs(1), "x");
        assert_eq!(b.state(), State::Open);
    }

    #[test]
    fn transitions_are_recorded_with_their_times() {
        let spec = small(2);
        let mut b = Breaker::new(&spec);
        calls(&mut b, secs(3), "xx");
        calls(&mut b, secs(30), "xx"); // half-open at 30s, reopens at 30s
        calls(&mut b, secs(45), "oo"); // half-open at 45s, closes after min(2, 4) probes
        let t = |at, from, to| Transition { at, from, to };
        use State::*;
        assert_eq!(
            b.transitions(),
            [
                t(secs(3), Closed, Open),
                t(secs(30), Open, HalfOpen),
                t(secs(30), HalfOpen, Open),
                t(secs(45), Open, HalfOpen),
                t(secs(45), HalfOpen, Closed),
            ]
        );
        assert_eq!(b.transition_count(), 5);
        let json = serde_json::to_string(&b.transitions()[0]).unwrap();
        assert_eq!(json, r#"{"at_s":3.0,"from":"Closed","to":"Open"}"#);
    }

    #[test]
    fn stored_transitions_are_capped_but_counted() {
        let spec = BreakerSpec {
            wait_in_open: SimDuration::ZERO,
            permitted_in_half_open: 1,
            ..small(1)
        };
        let mut b = Breaker::new(&spec);
        // Each round: Closed -> Open on a failure, then Open -> HalfOpen -> Closed on a probe.
        for i in 0..4_000 {
            calls(&mut b, secs(i), "x");
            calls(&mut b, secs(i), "o");
        }
        assert_eq!(b.transition_count(), 12_000);
        assert_eq!(b.transitions().len(), MAX_STORED_TRANSITIONS);
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn outcomes_reported_while_open_are_ignored() {
        let spec = small(2);
        let mut b = tripped(&spec, secs(0));
        b.on_result(secs(1), true, FAST); // a call admitted before the trip, finishing late
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.transition_count(), 1);
    }

    #[test]
    fn polly_like_configuration_one_probe_decides() {
        // Polly v8 defaults: FailureRatio 0.1, MinimumThroughput 100, SamplingDuration 30s,
        // BreakDuration 5s, one probe after the break.
        let spec: BreakerSpec = ron::from_str(
            r#"(window: Time("30s"), failure_rate: 10, minimum_calls: 100, wait_in_open: "5s",
                permitted_in_half_open: 1)"#,
        )
        .unwrap();
        assert!(spec.problems().is_empty());
        let mut b = Breaker::new(&spec);
        calls(&mut b, secs(1), &"o".repeat(90));
        calls(&mut b, secs(2), &"x".repeat(9));
        assert_eq!(
            b.state(),
            State::Closed,
            "99 calls: below the minimum throughput"
        );
        calls(&mut b, secs(3), "x");
        assert_eq!(b.state(), State::Open, "10 of 100 failed: 10 % >= 10 %");

        assert!(!b.try_acquire(ms(7_999)));
        assert!(b.try_acquire(secs(8)), "the probe");
        assert!(!b.try_acquire(secs(8)), "only one probe");
        b.on_result(secs(9), false, FAST);
        assert_eq!(b.state(), State::Open, "a failed probe breaks again");
        assert!(!b.try_acquire(ms(13_999)), "for a new 5s");
        assert!(b.try_acquire(secs(14)));
        b.on_result(secs(14), true, FAST);
        assert_eq!(b.state(), State::Closed, "a good probe closes");
        assert_eq!(b.snapshot(secs(14)).calls, 0);
    }
}
