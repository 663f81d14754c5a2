//! SLO burn-rate alerts over a run's time series: which alerts the standard multiwindow,
//! multi-burn-rate policy (Google SRE Workbook, "Alerting on SLOs") raises, when they fire
//! and resolve, and how long after each fault the first page came.
//!
//! One evaluator, [`BurnRateAlerts`], is fed each series window as it closes, so alerts are
//! known *during* a run (a rule can ask whether `page-fast` is firing now); the post-run
//! report is that evaluator's [`report`](BurnRateAlerts::report), and [`evaluate`] feeds it
//! a whole series. Numbers in, numbers out, no simulation state. Like [`recovery`] it works
//! on the columns of a run's series; fault windows come in as `(start_s, end_s)` spans, so it imports nothing else from the crate.
//!
//! # The SLO
//!
//! An availability objective `A` (e.g. `0.999`) over a period `P` (30 days unless
//! [`SloSpec::period`] says otherwise), on the client-observed outcomes of each series
//! window: *bad* = `failed`, *total* = `succeeded + failed`. Each request counts in the
//! window in which its outcome was observed; a window with total 0 holds no events. The
//! caller chooses what counts as good (e.g. whether fallback answers are passed in with
//! `succeeded`) and which windows to pass (warm-up windows are real traffic and are
//! evaluated if given).
//!
//! The *burn rate* of a stretch of windows is `(bad / total) / (1 - A)`: 1 spends the error
//! budget exactly over the period, 14.4 spends 2% of it in an hour of a 30-day period. A
//! stretch with no events has burn rate 0 (nothing was observed to fail).
//!
//! **Latency.** With `latency` set, the SLI is "answered successfully within `latency`": a
//! success slower than the threshold is a bad event too. The caller counts that exactly per
//! request (the series' p50/p99/p999 could only bound it), and passes good and bad counts.
//!
//! # The rules
//!
//! The three standard rules; each fires when the burn rate over *both* its long and its
//! short window exceeds (`>`) its threshold. The short window (1/12 of the long) makes the
//! alert resolve soon after the errors stop.
//!
//! | rule | severity | long window | short window | burn rate | budget spent in the long window |
//! |---|---|---|---|---|---|
//! | `page-fast` | page | `P / 720` (1 h) | long / 12 (5 m) | 14.4x | 2% |
//! | `page-slow` | page | `P / 120` (6 h) | long / 12 (30 m) | 6x | 5% |
//! | `ticket` | ticket | `P / 10` (3 d) | long / 12 (6 h) | 1x | 10% |
//!
//! The windows in parentheses are the table's, for `P` = 30 days. For another period the
//! windows are the same fractions of it (thresholds and budget fractions unchanged): a
//! 28-day period pages on 14.4x over 56 m / 4.67 m.
//!
//! # Scaling to the run
//!
//! A simulated run is usually far shorter than the 3-day ticket window. Then every window is
//! scaled down by the same factor, so that the longest long window equals the horizon:
//!
//! ```text
//! scale = min(1, horizon / (P / 10))        effective period P' = scale x P = min(P, 10 x horizon)
//! long  = P' / 720, P' / 120, P' / 10       short = long / 12
//! ```
//!
//! The thresholds stay, so each rule still means "2% (5%, 10%) of the budget of the period
//! gone within the long window", for a period compressed to ten times the run. With
//! `P` = 30 days (`scale = horizon / 3 d`):
//!
//! | horizon | scale | page-fast | page-slow | ticket |
//! |---|---|---|---|---|
//! | 10 m | 1/432 | 8.33 s / 0.69 s | 50 s / 4.17 s | 10 m / 50 s |
//! | 1 h | 1/72 | 50 s / 4.17 s | 5 m / 25 s | 1 h / 5 m |
//! | >= 3 d | 1 | 1 h / 5 m | 6 h / 30 m | 3 d / 6 h |
//!
//! **Series windows.** Burn rates are computed from whole series windows of `window_s`, so
//! each rule's windows are then rounded to whole series windows, with a floor that keeps the
//! two windows distinct: the long window is `L = max(12, round(long / window_s))` series
//! windows and the short one `S = max(1, round(L / 12))`. With 1 s series windows the
//! 10-minute run above evaluates page-fast on 12 s / 1 s (raised from 8.33 s), page-slow on
//! 50 s / 4 s and ticket on 10 m / 50 s.
//!
//! **The planned horizon.** The horizon is the one the scenario plans (its `horizon`), the
//! only one known when the run starts and the windows must be set. A run that reaches it
//! (or drains before it) ends there, so its report is the same as one scaled to its actual
//! end. A run stopped early (a guard, the event budget) keeps the planned horizon's windows:
//! its report holds the evaluations up to the last window it closed, as they were made
//! during the run, and [`AlertReport::horizon_s`] is the planned horizon, not the stop.
//!
//! **Said in the output.** Each [`RuleReport`] carries both the windows as evaluated and the
//! standard ones they stand for, [`AlertReport::scale`] the factor, and
//! [`AlertReport::note`] a sentence saying how and why the windows differ from the table
//! (`None` only when the standard windows were used as they are).
//!
//! # Evaluation
//!
//! Rules are evaluated at the end of every series window `i` (time `t_end_s[i]`), in the
//! order the windows close, each evaluation using only the windows up to `i`. The long
//! window is series windows `[i - L + 1, i]` and the short one `[i - S + 1, i]`, cut at the
//! start of the series: early in a run a window holds only the windows that exist (as a
//! range query over a young time series does). A rule *fires* at the first evaluation
//! where both burn rates exceed the threshold and *resolves* at the first later evaluation
//! where either does not; a firing still active at the end of the series has no resolution
//! (`resolved_s: None`). Empty windows read as burn rate 0, so an alert resolves when the
//! traffic stops. Because the long window holds only the run so far, errors in the first
//! minutes of a run alert more readily than later ones (the ticket's long window is always
//! the whole run so far: one bad early window can fire it).
//!
//! [`RuleReport::peak_burn_rate`] is the highest value, over all evaluations, of the lower
//! of the two burn rates: the rule fired if and only if it exceeds the threshold.
//!
//! # Time to detect
//!
//! In [`time_to_detect`], a fault `[start_s, end_s]` is *detected* at the earliest firing of a
//! page rule that fired at or after `start_s` and before `end_s` plus that rule's long
//! window (as evaluated): errors that start late, or a slow burn that needs the long window
//! to fill, still count, but not an alert long after the fault. Ticket rules do not detect.
//! An alert already firing when a fault starts (from an earlier fault or a standing burn)
//! does not detect it: only a new firing does.
//!
//! # Cost
//!
//! Per series window, O(1) per rule: each rule keeps running sums of events and bad events
//! over its long and short windows, adding the window that enters and subtracting the one
//! that leaves. What leaves is read from one ring of the last `L` windows' counts (16 bytes
//! each), `L` the longest long window as evaluated (the ticket's), which grows with the
//! windows pushed and stops at `L`. Memory is therefore bounded by the longest window, not by
//! the run: at most `max(12, horizon / window_s)` (rounded) series windows, the planned
//! run's own length (600 entries for a 10-minute run in 1 s windows; 259 200, 4 MiB, for
//! the standard 3-day ticket window in 1 s windows), plus one [`Firing`] per alert raised.
//!
//! [`recovery`]: crate::recovery

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::path::{FieldPath, Problem};

/// An availability SLO, as written in RON: `(availability: 0.999)` or
/// `(availability: 0.999, period: "28d")`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// The objective: the fraction of requests that must succeed, strictly between 0 and 1
    /// (`0.999` for 99.9%).
    pub availability: f64,
    /// The SLO period the standard alert windows refer to (30 days unless given).
    #[serde(default = "default_period")]
    pub period: SimDuration,
    /// A success slower than this is a bad event too (none: only failures are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<SimDuration>,
}

fn default_period() -> SimDuration {
    SimDuration::from_secs(30 * 86_400)
}

impl SloSpec {
    /// `availability` over the default 30-day period.
    pub fn new(availability: f64) -> Self {
        SloSpec {
            availability,
            period: default_period(),
            latency: None,
        }
    }

    /// The error budget, `1 - availability`.
    pub fn error_budget(&self) -> f64 {
        1.0 - self.availability
    }

    /// What is wrong with this spec, by field path relative to it; empty if nothing.
    /// [`evaluate`] does not panic on a spec with problems, but its numbers mean nothing.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let root = FieldPath::root();
        if self.latency == Some(SimDuration::ZERO) {
            out.push(Problem::new(
                root.field("latency"),
                "must be longer than 0s (leave it out for no latency objective)",
            ));
        }
        let a = self.availability;
        if !(a.is_finite() && a > 0.0 && a < 1.0) {
            let hint = if a.is_finite() && a > 1.0 && a < 100.0 {
                format!(
                    " (a fraction, not a percentage: {} for {a}%)",
                    (a * 1e7).round() / 1e9
                )
            } else if a == 1.0 {
                " (1 leaves no error budget: any failure would burn it at an infinite rate)"
                    .to_string()
            } else {
                String::new()
            };
            out.push(Problem::new(
                root.field("availability"),
                format!("must be a number strictly between 0 and 1, got {a}{hint}"),
            ));
        }
        if self.period.is_zero() {
            out.push(Problem::new(
                root.field("period"),
                "must be longer than 0s (it is usually 30d)",
            ));
        }
        out
    }
}

/// Who an alert goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Wakes someone up.
    Page,
    /// Goes to a queue, handled in working hours.
    Ticket,
}

/// One of the standard rules, before scaling.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StandardRule {
    pub name: &'static str,
    pub severity: Severity,
    /// The long window is the period divided by this (720: 1 h of 30 days).
    pub long_per_period: f64,
    pub burn_rate_threshold: f64,
}

/// The table of the module doc.
pub const STANDARD_RULES: [StandardRule; 3] = [
    StandardRule {
        name: "page-fast",
        severity: Severity::Page,
        long_per_period: 720.0,
        burn_rate_threshold: 14.4,
    },
    StandardRule {
        name: "page-slow",
        severity: Severity::Page,
        long_per_period: 120.0,
        burn_rate_threshold: 6.0,
    },
    StandardRule {
        name: "ticket",
        severity: Severity::Ticket,
        long_per_period: 10.0,
        burn_rate_threshold: 1.0,
    },
];

/// The short window is this fraction of the long one.
const SHORT_PER_LONG: usize = 12;
/// The longest long window is the period divided by this: the scale reference.
const LONGEST_PER_PERIOD: f64 = 10.0;

/// The alerts of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertReport {
    /// The objective evaluated.
    pub availability: f64,
    /// The SLO period, seconds.
    pub period_s: f64,
    /// The run's planned horizon, seconds, which set the scale (also for a run stopped
    /// before it: see the module doc).
    pub horizon_s: f64,
    /// Width of one series window, seconds: the resolution of every window below.
    pub window_s: f64,
    /// Factor applied to every standard window before rounding to series windows:
    /// `min(1, horizon / (period / 10))`; 1 means the standard windows.
    pub scale: f64,
    /// How the evaluated windows differ from the standard table, and why; `None` when they
    /// do not.
    pub note: Option<String>,
    pub rules: Vec<RuleReport>,
}

impl AlertReport {
    /// The rule called `name` (`page-fast`, `page-slow`, `ticket`).
    pub fn rule(&self, name: &str) -> Option<&RuleReport> {
        self.rules.iter().find(|r| r.name == name)
    }
}

/// One rule: its windows as evaluated, and when it fired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleReport {
    pub name: String,
    pub severity: Severity,
    pub burn_rate_threshold: f64,
    /// The long window as evaluated (scaled, in whole series windows), seconds.
    pub long_window_s: f64,
    /// The short window as evaluated, seconds.
    pub short_window_s: f64,
    /// The long window of the standard table for the period (3600 for page-fast over 30
    /// days), seconds.
    pub standard_long_window_s: f64,
    /// The short window of the standard table for the period, seconds.
    pub standard_short_window_s: f64,
    /// Highest, over all evaluations, of the lower of the long and short burn rates: the
    /// rule fired if and only if this exceeds the threshold.
    pub peak_burn_rate: f64,
    pub firings: Vec<Firing>,
}

/// One alert, from firing to resolution.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    /// End of the series window at which both burn rates first exceeded the threshold.
    pub fired_s: f64,
    /// End of the first later series window at which either did not; `None` if the alert
    /// was still firing when the series ended.
    pub resolved_s: Option<f64>,
}

/// How soon a fault was paged for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Index of the fault in the list given to [`time_to_detect`].
    pub fault: usize,
    pub start_s: f64,
    /// The first qualifying page (see the module doc); `None` if no page rule fired for it.
    pub detected_s: Option<f64>,
    /// The page rule that fired first (the earlier in the table on a tie).
    pub rule: Option<String>,
    /// `detected_s - start_s`.
    pub time_to_detect_s: Option<f64>,
}

/// What happened to a rule at one evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transition {
    /// Both burn rates now exceed the threshold; they did not at the previous evaluation.
    Fired,
    /// Either burn rate is now at or under the threshold; both exceeded it before.
    Resolved,
}

/// A rule that fired or resolved at the end of a series window, as [`BurnRateAlerts::push`]
/// reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlertChange {
    /// `page-fast`, `page-slow` or `ticket`.
    pub rule: &'static str,
    pub severity: Severity,
    pub transition: Transition,
    /// End of the series window just evaluated: [`Firing::fired_s`] or
    /// [`Firing::resolved_s`] in the report.
    pub t_s: f64,
    /// Burn rate over the rule's long window at this evaluation.
    pub long_burn_rate: f64,
    /// Burn rate over the rule's short window at this evaluation.
    pub short_burn_rate: f64,
}

/// The burn-rate alerts of one SLO, evaluated at the end of each series window as a run
/// goes (see the module doc): [`push`](Self::push) each window's counts as it closes, ask
/// [`firing`](Self::firing) at any time, take the [`report`](Self::report) at the end.
/// [`evaluate`] is this, fed a whole series.
#[derive(Clone, Debug)]
pub struct BurnRateAlerts {
    availability: f64,
    /// `1 - availability`: a burn rate is the bad fraction over this.
    budget: f64,
    period_s: f64,
    horizon_s: f64,
    window_s: f64,
    scale: f64,
    /// Counts of the last `longest` series windows pushed, oldest first: what each rule's
    /// running sums subtract when a window leaves them.
    recent: VecDeque<Count>,
    /// The longest long window of any rule, in series windows.
    longest: usize,
    rules: [RuleState; STANDARD_RULES.len()],
}

/// Events and bad events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Count {
    events: u64,
    bad: u64,
}

/// The counts of the last `n` series windows (fewer early in a run: the windows that exist).
#[derive(Clone, Copy, Debug)]
struct WindowSum {
    n: usize,
    sum: Count,
}

impl WindowSum {
    fn new(n: usize) -> Self {
        WindowSum {
            n,
            sum: Count::default(),
        }
    }

    /// Moves the window on by one series window: `new` enters, and the oldest of `recent`
    /// (the windows before `new`) leaves if the window was full.
    fn push(&mut self, new: Count, recent: &VecDeque<Count>) {
        self.sum.events += new.events;
        self.sum.bad += new.bad;
        if recent.len() >= self.n {
            let gone = recent[recent.len() - self.n];
            self.sum.events -= gone.events;
            self.sum.bad -= gone.bad;
        }
    }

    /// `(bad / events) / budget`; 0 with no events.
    fn burn_rate(&self, budget: f64) -> f64 {
        if self.sum.events == 0 {
            0.0
        } else {
            self.sum.bad as f64 / self.sum.events as f64 / budget
        }
    }
}

/// One rule as evaluated so far.
#[derive(Clone, Debug)]
struct RuleState {
    rule: StandardRule,
    long: WindowSum,
    short: WindowSum,
    /// Burn rates at the last evaluation (0 before the first).
    long_burn_rate: f64,
    short_burn_rate: f64,
    peak_burn_rate: f64,
    firings: Vec<Firing>,
}

impl RuleState {
    fn firing(&self) -> bool {
        self.firings.last().is_some_and(|f| f.resolved_s.is_none())
    }
}

impl BurnRateAlerts {
    /// An evaluator for `spec` over series windows `window_s` wide, for a run planned to
    /// last `horizon_s` seconds (the scenario's horizon, known before the run starts), which
    /// scales the windows (see the module doc; a negative or NaN horizon reads as 0, which
    /// gives the shortest windows).
    ///
    /// # Panics
    ///
    /// If `window_s` is not a positive finite number.
    pub fn new(spec: &SloSpec, window_s: f64, horizon_s: f64) -> Self {
        assert!(
            window_s.is_finite() && window_s > 0.0,
            "window_s must be a positive finite number, got {window_s}"
        );
        let horizon_s = horizon_s.max(0.0);
        let period_s = spec.period.as_secs_f64();
        let effective_period_s = period_s.min(LONGEST_PER_PERIOD * horizon_s);
        let scale = if period_s > 0.0 {
            effective_period_s / period_s
        } else {
            1.0
        };
        let rules = STANDARD_RULES.map(|rule| {
            let long_s = effective_period_s / rule.long_per_period;
            let long_n = round_index(long_s / window_s).max(SHORT_PER_LONG);
            let short_n = round_index(long_n as f64 / SHORT_PER_LONG as f64).max(1);
            RuleState {
                rule,
                long: WindowSum::new(long_n),
                short: WindowSum::new(short_n),
                long_burn_rate: 0.0,
                short_burn_rate: 0.0,
                peak_burn_rate: 0.0,
                firings: Vec::new(),
            }
        });
        BurnRateAlerts {
            availability: spec.availability,
            budget: spec.error_budget(),
            period_s,
            horizon_s,
            window_s,
            scale,
            recent: VecDeque::new(),
            longest: rules.iter().map(|r| r.long.n).max().unwrap_or(1),
            rules,
        }
    }

    /// Evaluates every rule at the end of a series window, which ended at `t_end_s` and saw
    /// `good` good and `bad` bad outcomes (windows in order, one call each, the last possibly
    /// cut short). Returns the rules that fired or resolved here, in table order. The
    /// evaluation is done by the call: dropping the changes unread loses nothing else.
    pub fn push(
        &mut self,
        t_end_s: f64,
        good: u64,
        bad: u64,
    ) -> impl Iterator<Item = AlertChange> + use<> {
        let new = Count {
            events: good + bad,
            bad,
        };
        let mut changes = [None; STANDARD_RULES.len()];
        for (state, change) in self.rules.iter_mut().zip(&mut changes) {
            state.long.push(new, &self.recent);
            state.short.push(new, &self.recent);
            let long = state.long.burn_rate(self.budget);
            let short = state.short.burn_rate(self.budget);
            (state.long_burn_rate, state.short_burn_rate) = (long, short);
            state.peak_burn_rate = state.peak_burn_rate.max(long.min(short));
            let threshold = state.rule.burn_rate_threshold;
            let on = long > threshold && short > threshold;
            let transition = match (state.firing(), on) {
                (false, true) => {
                    state.firings.push(Firing {
                        fired_s: t_end_s,
                        resolved_s: None,
                    });
                    Transition::Fired
                }
                (true, false) => {
                    if let Some(last) = state.firings.last_mut() {
                        last.resolved_s = Some(t_end_s);
                    }
                    Transition::Resolved
                }
                _ => continue,
            };
            *change = Some(AlertChange {
                rule: state.rule.name,
                severity: state.rule.severity,
                transition,
                t_s: t_end_s,
                long_burn_rate: long,
                short_burn_rate: short,
            });
        }
        self.recent.push_back(new);
        if self.recent.len() > self.longest {
            self.recent.pop_front();
        }
        changes.into_iter().flatten()
    }

    /// Whether the rule called `rule` (`page-fast`, `page-slow`, `ticket`) fired at an
    /// evaluation so far and has not resolved since; false for any other name.
    pub fn firing(&self, rule: &str) -> bool {
        self.state(rule).is_some_and(RuleState::firing)
    }

    /// The (long, short) burn rates of the rule called `rule` at the last evaluation
    /// ((0, 0) before the first); `None` for an unknown name.
    pub fn burn_rates(&self, rule: &str) -> Option<(f64, f64)> {
        self.state(rule)
            .map(|s| (s.long_burn_rate, s.short_burn_rate))
    }

    fn state(&self, rule: &str) -> Option<&RuleState> {
        self.rules.iter().find(|s| s.rule.name == rule)
    }

    /// The alerts of the windows pushed so far; a rule firing now has no resolution yet.
    pub fn report(&self) -> AlertReport {
        let rules: Vec<RuleReport> = self
            .rules
            .iter()
            .map(|s| {
                let standard_long_window_s = self.period_s / s.rule.long_per_period;
                RuleReport {
                    name: s.rule.name.to_string(),
                    severity: s.rule.severity,
                    burn_rate_threshold: s.rule.burn_rate_threshold,
                    long_window_s: s.long.n as f64 * self.window_s,
                    short_window_s: s.short.n as f64 * self.window_s,
                    standard_long_window_s,
                    standard_short_window_s: standard_long_window_s / SHORT_PER_LONG as f64,
                    peak_burn_rate: s.peak_burn_rate,
                    firings: s.firings.clone(),
                }
            })
            .collect();
        let note = note(
            &rules,
            self.scale,
            self.period_s,
            self.horizon_s,
            self.window_s,
        );
        AlertReport {
            availability: self.availability,
            period_s: self.period_s,
            horizon_s: self.horizon_s,
            window_s: self.window_s,
            scale: self.scale,
            note,
            rules,
        }
    }
}

/// The alerts the standard rules raise for `spec` over a whole series: window `i` ends at
/// `t_end_s[i]` and saw `succeeded[i]` good and `failed[i]` bad outcomes. The same as
/// pushing each window into a [`BurnRateAlerts::new`]`(spec, window_s, horizon_s)` and
/// taking its report.
///
/// # Panics
///
/// If the three slices differ in length, or `window_s` is not a positive finite number.
pub fn evaluate(
    spec: &SloSpec,
    t_end_s: &[f64],
    succeeded: &[u64],
    failed: &[u64],
    window_s: f64,
    horizon_s: f64,
) -> AlertReport {
    assert_eq!(t_end_s.len(), succeeded.len(), "one window end per count");
    assert_eq!(t_end_s.len(), failed.len(), "one window end per count");
    let mut alerts = BurnRateAlerts::new(spec, window_s, horizon_s);
    for ((&t, &good), &bad) in t_end_s.iter().zip(succeeded).zip(failed) {
        // The changes are in the report too.
        let _ = alerts.push(t, good, bad);
    }
    alerts.report()
}

/// When each fault was first paged for (see the module doc), one entry per fault window
/// `(start_s, end_s)`, in order.
pub fn time_to_detect(report: &AlertReport, faults: &[(f64, f64)]) -> Vec<Detection> {
    faults
        .iter()
        .enumerate()
        .map(|(fault, &(start_s, end_s))| {
            let end_s = end_s.max(start_s);
            let mut best: Option<(f64, &str)> = None;
            for rule in report.rules.iter().filter(|r| r.severity == Severity::Page) {
                let deadline = end_s + rule.long_window_s;
                let first = rule
                    .firings
                    .iter()
                    .map(|x| x.fired_s)
                    .find(|&t| t >= start_s && t < deadline);
                if let Some(t) = first
                    && best.is_none_or(|(b, _)| t < b)
                {
                    best = Some((t, &rule.name));
                }
            }
            Detection {
                fault,
                start_s,
                detected_s: best.map(|(t, _)| t),
                rule: best.map(|(_, name)| name.to_string()),
                time_to_detect_s: best.map(|(t, _)| t - start_s),
            }
        })
        .collect()
}

/// The sentence of [`AlertReport::note`]: `None` when every rule ran on its standard windows.
fn note(
    rules: &[RuleReport],
    scale: f64,
    period_s: f64,
    horizon_s: f64,
    window_s: f64,
) -> Option<String> {
    let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
    let standard = rules.iter().all(|r| {
        same(r.long_window_s, r.standard_long_window_s)
            && same(r.short_window_s, r.standard_short_window_s)
    });
    if standard {
        return None;
    }
    let mut text = String::new();
    if scale < 1.0 {
        let ratio = if scale > 0.0 {
            format!(" (1/{})", number(1.0 / scale))
        } else {
            String::new()
        };
        text.push_str(&format!(
            "windows scaled down to the {} horizon: the {} SLO period is read as {} \
             (10 x the horizon, so the longest window spans the run), every standard window \
             x {}{ratio}; ",
            duration(horizon_s),
            duration(period_s),
            duration(period_s * scale),
            number(scale),
        ));
    } else {
        text.push_str(&format!(
            "standard windows of the {} SLO period; ",
            duration(period_s)
        ));
    }
    text.push_str(&format!(
        "evaluated in whole {} series windows, long windows at least {SHORT_PER_LONG}:",
        duration(window_s)
    ));
    for (i, r) in rules.iter().enumerate() {
        text.push_str(&format!(
            "{} {} {}/{} -> {}/{}",
            if i == 0 { "" } else { "," },
            r.name,
            duration(r.standard_long_window_s),
            duration(r.standard_short_window_s),
            duration(r.long_window_s),
            duration(r.short_window_s),
        ));
    }
    Some(text)
}

/// Seconds as people write durations (`1h`, `50s`, `4.167s`), to the millisecond.
fn duration(s: f64) -> String {
    SimDuration::from_secs_f64((s * 1000.0).round() / 1000.0).to_string()
}

/// A number to two decimals, or to four significant digits below 1, without trailing zeros.
fn number(x: f64) -> String {
    let text = if x >= 1.0 || x <= 0.0 || !x.is_finite() {
        format!("{x:.2}")
    } else {
        let decimals = ((-x.log10()).ceil() as usize + 3).min(17);
        format!("{x:.decimals$}")
    };
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_string()
}

/// `round(x)` as an index: 0 for negative or NaN values, saturating for huge ones.
fn round_index(x: f64) -> usize {
    // `as` saturates: NaN and negatives become 0, +inf becomes usize::MAX.
    x.round() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: f64 = 86_400.0;

    /// A series of `horizon` seconds in 1 s windows; `f(window start)` gives
    /// (succeeded, failed).
    struct Run {
        t: Vec<f64>,
        ok: Vec<u64>,
        bad: Vec<u64>,
        horizon: f64,
    }

    fn series(horizon: f64, f: impl Fn(f64) -> (u64, u64)) -> Run {
        let n = horizon.ceil() as usize;
        let t = (1..=n).map(|i| (i as f64).min(horizon)).collect();
        let (ok, bad) = (0..n).map(|i| f(i as f64)).unzip();
        Run {
            t,
            ok,
            bad,
            horizon,
        }
    }

    fn eval(spec: &SloSpec, r: &Run) -> AlertReport {
        evaluate(spec, &r.t, &r.ok, &r.bad, 1.0, r.horizon)
    }

    /// 300 rps; all failing during `[from, to)`.
    fn outage(horizon: f64, from: f64, to: f64) -> Run {
        series(horizon, |s| {
            if (from..to).contains(&s) {
                (0, 300)
            } else {
                (300, 0)
            }
        })
    }

    fn fault(start_s: f64, end_s: f64) -> (f64, f64) {
        (start_s, end_s)
    }

    fn firings(report: &AlertReport, name: &str) -> Vec<(f64, Option<f64>)> {
        report
            .rule(name)
            .unwrap()
            .firings
            .iter()
            .map(|f| (f.fired_s, f.resolved_s))
            .collect()
    }

    /// (long, short) windows as evaluated, per rule in table order.
    fn windows(report: &AlertReport) -> Vec<(f64, f64)> {
        report
            .rules
            .iter()
            .map(|r| (r.long_window_s, r.short_window_s))
            .collect()
    }

    #[test]
    fn spec_reads_from_ron() {
        let s: SloSpec = ron::from_str("(availability: 0.999)").unwrap();
        assert_eq!(s, SloSpec::new(0.999));
        assert_eq!(s.period, SimDuration::from_secs(30 * 86_400));
        assert!(s.problems().is_empty());
        let s: SloSpec = ron::from_str(r#"(availability: 0.99, period: "28d")"#).unwrap();
        assert_eq!(s.period, SimDuration::from_secs(28 * 86_400));
        let s2: SloSpec =
            ron::from_str(r#"(availability: 0.999, latency: Some("300ms"))"#).unwrap();
        assert_eq!(s2.latency, Some(SimDuration::from_millis(300)));
        let err = ron::from_str::<SloSpec>(r#"(availability: 0.999, target: 0.99)"#).unwrap_err();
        assert!(err.to_string().contains("target"), "{err}");
        // Round trip.
        let text = ron::to_string(&s).unwrap();
        assert_eq!(ron::from_str::<SloSpec>(&text).unwrap(), s);
    }

    #[test]
    fn problems_name_the_field() {
        for a in [0.0, 1.0, -0.5, 99.9, f64::NAN, f64::INFINITY] {
            let ps = SloSpec::new(a).problems();
            assert_eq!(ps.len(), 1, "{a}: {ps:?}");
            assert_eq!(ps[0].path.to_string(), "availability");
        }
        let ps = SloSpec::new(99.9).problems();
        assert!(ps[0].message.contains("0.999 for 99.9%"), "{ps:?}");
        let ps = SloSpec::new(1.0).problems();
        assert!(ps[0].message.contains("no error budget"), "{ps:?}");
        let s = SloSpec {
            availability: 0.999,
            period: SimDuration::ZERO,
            latency: None,
        };
        let ps = s.problems();
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].path.to_string(), "period");
    }

    #[test]
    fn long_runs_use_the_standard_table() {
        let spec = SloSpec::new(0.999);
        let r = evaluate(&spec, &[], &[], &[], 1.0, 3.0 * DAY);
        assert_eq!(r.scale, 1.0);
        assert_eq!(r.note, None);
        let std = vec![(3600.0, 300.0), (21_600.0, 1800.0), (3.0 * DAY, 21_600.0)];
        assert_eq!(windows(&r), std);
        let thresholds: Vec<f64> = r.rules.iter().map(|x| x.burn_rate_threshold).collect();
        assert_eq!(thresholds, vec![14.4, 6.0, 1.0]);
        let names: Vec<&str> = r.rules.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, vec!["page-fast", "page-slow", "ticket"]);
        // Longer horizons do not stretch them.
        let r = evaluate(&spec, &[], &[], &[], 1.0, 90.0 * DAY);
        assert_eq!((r.scale, windows(&r)), (1.0, std));
    }

    #[test]
    fn scaled_windows_for_10m_and_1h() {
        let spec = SloSpec::new(0.999);

        // 10 minutes: scale 600 / 259200 = 1/432; page-fast 8.33 s raised to 12 windows.
        let r = evaluate(&spec, &[], &[], &[], 1.0, 600.0);
        assert!((r.scale - 1.0 / 432.0).abs() < 1e-15, "{}", r.scale);
        assert_eq!(
            windows(&r),
            vec![(12.0, 1.0), (50.0, 4.0), (600.0, 50.0)],
            "{r:#?}"
        );
        assert_eq!(r.rules[0].standard_long_window_s, 3600.0);
        assert_eq!(r.rules[0].standard_short_window_s, 300.0);
        assert_eq!(
            r.note.as_deref(),
            Some(
                "windows scaled down to the 10m horizon: the 30d SLO period is read as 100m \
                 (10 x the horizon, so the longest window spans the run), every standard \
                 window x 0.002315 (1/432); evaluated in whole 1s series windows, long windows \
                 at least 12: page-fast 1h/5m -> 12s/1s, page-slow 6h/30m -> 50s/4s, \
                 ticket 3d/6h -> 10m/50s"
            )
        );

        // 1 hour: scale 1/72, windows 50 s / 4.17 s (-> 4 s), 5 m / 25 s, 1 h / 5 m.
        let r = evaluate(&spec, &[], &[], &[], 1.0, 3600.0);
        assert!((r.scale - 1.0 / 72.0).abs() < 1e-15);
        assert_eq!(
            windows(&r),
            vec![(50.0, 4.0), (300.0, 25.0), (3600.0, 300.0)]
        );
        let note = r.note.unwrap();
        assert!(note.contains("1h horizon"), "{note}");
        assert!(note.contains("page-fast 1h/5m -> 50s/4s"), "{note}");

        // Finer series windows resolve the scaled windows better.
        let r = evaluate(&spec, &[], &[], &[], 0.1, 600.0);
        let w = windows(&r);
        assert!(
            (w[0].0 - 8.3).abs() < 1e-9 && (w[0].1 - 0.7).abs() < 1e-9,
            "{w:?}"
        );
    }

    #[test]
    fn wide_series_windows_clamp_without_scaling() {
        // A 30-day run in 10-minute windows: no scaling, but page-fast's hour is only six
        // windows, raised to twelve.
        let spec = SloSpec::new(0.999);
        let r = evaluate(&spec, &[], &[], &[], 600.0, 30.0 * DAY);
        assert_eq!(r.scale, 1.0);
        assert_eq!(
            windows(&r),
            vec![(7200.0, 600.0), (21_600.0, 1800.0), (3.0 * DAY, 21_600.0)]
        );
        let note = r.note.unwrap();
        assert!(
            note.starts_with("standard windows of the 30d SLO period; evaluated in whole 10m"),
            "{note}"
        );
        assert!(note.contains("page-fast 1h/5m -> 2h/10m"), "{note}");
    }

    #[test]
    fn other_periods_keep_the_fractions() {
        let spec: SloSpec = ron::from_str(r#"(availability: 0.999, period: "28d")"#).unwrap();
        let r = evaluate(&spec, &[], &[], &[], 1.0, 3.0 * DAY);
        assert_eq!(r.scale, 1.0);
        assert_eq!(
            windows(&r),
            vec![(3360.0, 280.0), (20_160.0, 1680.0), (241_920.0, 20_160.0)]
        );
    }

    #[test]
    fn low_constant_error_rate_never_fires() {
        // 0.05% errors against a 99.9% objective: burn rate 0.5 everywhere.
        let run = series(600.0, |_| (1999, 1));
        let r = eval(&SloSpec::new(0.999), &run);
        for rule in &r.rules {
            assert!(rule.firings.is_empty(), "{rule:?}");
            assert!((rule.peak_burn_rate - 0.5).abs() < 1e-9, "{rule:?}");
        }
        // The same budget spent in bursts of one failure every 10 s at 200 rps: the 1 s
        // short window sees 0.5% (burn 5), still under every threshold that window guards.
        let run = series(600.0, |s| if s % 10.0 == 9.0 { (199, 1) } else { (200, 0) });
        let r = eval(&SloSpec::new(0.999), &run);
        assert!(r.rules.iter().all(|x| x.firings.is_empty()), "{r:#?}");
    }

    #[test]
    fn outage_of_30s_pages_fast_and_resolves() {
        // 10 minutes at 300 rps, every request failing in [200, 230).
        let run = outage(600.0, 200.0, 230.0);
        let r = eval(&SloSpec::new(0.999), &run);
        // page-fast, 12 s / 1 s: the window [200, 201) alone burns 1000x and the 12 s window
        // 300 / 3600 = 8.3% (83x): fires at 201. The first clean window, [230, 231), empties
        // the 1 s window: resolved at 231.
        assert_eq!(firings(&r, "page-fast"), vec![(201.0, Some(231.0))]);
        // page-slow, 50 s / 4 s: fires at 201 too (25% and 2%), resolves once the 4 s window
        // is clean: [230, 234).
        assert_eq!(firings(&r, "page-slow"), vec![(201.0, Some(234.0))]);
        // ticket, 10 m / 50 s: fires at 201 (the 10 m window holds only the 201 s so far:
        // 300 / 60300 = 0.5%, 5x), resolves when the 50 s window is clean, at 280, although
        // the long window still burns 50x.
        assert_eq!(firings(&r, "ticket"), vec![(201.0, Some(280.0))]);
        // All failing in both windows: 100% / 0.1% = 1000x.
        let peak = r.rule("page-fast").unwrap().peak_burn_rate;
        assert!((peak - 1000.0).abs() < 1e-9, "{peak}");

        // Starting mid-window: the fault at 200.5 s still shows in the window ending at 201.
        let d = time_to_detect(&r, &[fault(200.5, 230.0)]);
        assert_eq!(d[0].detected_s, Some(201.0));
        assert_eq!(d[0].time_to_detect_s, Some(0.5));
    }

    #[test]
    fn slow_burn_fires_the_slower_rules_only() {
        // 1% errors for the whole run against 99.9%: burn rate 10 everywhere.
        let run = series(600.0, |_| (297, 3));
        let r = eval(&SloSpec::new(0.999), &run);
        let fast = r.rule("page-fast").unwrap();
        assert!(fast.firings.is_empty());
        assert!((fast.peak_burn_rate - 10.0).abs() < 1e-9, "{fast:?}");
        // 10 > 6 and 10 > 1: fire at the first evaluation and never resolve.
        assert_eq!(firings(&r, "page-slow"), vec![(1.0, None)]);
        assert_eq!(firings(&r, "ticket"), vec![(1.0, None)]);

        // 0.3% (burn 3): only the ticket.
        let run = series(600.0, |_| (997, 3));
        let r = eval(&SloSpec::new(0.999), &run);
        assert!(r.rule("page-fast").unwrap().firings.is_empty());
        assert!(r.rule("page-slow").unwrap().firings.is_empty());
        assert_eq!(firings(&r, "ticket"), vec![(1.0, None)]);
    }

    #[test]
    fn time_to_detect_per_fault() {
        // An outage at [200, 230) and a fault at [400, 420) that caused no errors.
        let run = outage(600.0, 200.0, 230.0);
        let r = eval(&SloSpec::new(0.999), &run);
        let d = time_to_detect(&r, &[fault(200.0, 230.0), fault(400.0, 420.0)]);
        assert_eq!(
            d,
            vec![
                Detection {
                    fault: 0,
                    start_s: 200.0,
                    detected_s: Some(201.0),
                    rule: Some("page-fast".into()),
                    time_to_detect_s: Some(1.0),
                },
                Detection {
                    fault: 1,
                    start_s: 400.0,
                    detected_s: None,
                    rule: None,
                    time_to_detect_s: None,
                },
            ]
        );
        // The ticket alone does not detect a fault: a 0.3% burn is never paged for. The
        // ticket fires once the 10 m window (all of the run so far) passes 0.1%: 51 windows
        // at 0.3% after 100 clean ones, 153 / 151000.
        let run = series(600.0, |s| if s >= 100.0 { (997, 3) } else { (1000, 0) });
        let r = eval(&SloSpec::new(0.999), &run);
        assert!(r.rule("page-slow").unwrap().firings.is_empty());
        assert_eq!(firings(&r, "ticket"), vec![(151.0, None)]);
        assert_eq!(
            time_to_detect(&r, &[fault(100.0, 600.0)])[0].detected_s,
            None
        );
    }

    #[test]
    fn detection_allows_each_rule_its_long_window_after_the_fault() {
        let spec = SloSpec::new(0.999);
        // Errors start 5 s after a fault [100, 110) ends: page-fast fires at 116, within
        // 110 + 12 s.
        let r = eval(&spec, &outage(600.0, 115.0, 125.0));
        let d = &time_to_detect(&r, &[fault(100.0, 110.0)])[0];
        assert_eq!(d.detected_s, Some(116.0));
        assert_eq!(d.rule.as_deref(), Some("page-fast"));
        assert_eq!(d.time_to_detect_s, Some(16.0));
        // Errors 15 s after it ends: too late for page-fast (122) but within page-slow's
        // 110 + 50 s.
        let r = eval(&spec, &outage(600.0, 125.0, 135.0));
        let d = &time_to_detect(&r, &[fault(100.0, 110.0)])[0];
        assert_eq!(firings(&r, "page-fast"), vec![(126.0, Some(136.0))]);
        assert_eq!(d.detected_s, Some(126.0));
        assert_eq!(d.rule.as_deref(), Some("page-slow"));
        // Errors a minute after it ends: not this fault's.
        let r = eval(&spec, &outage(600.0, 170.0, 180.0));
        assert_eq!(
            time_to_detect(&r, &[fault(100.0, 110.0)])[0].detected_s,
            None
        );
        // An alert already firing when a fault starts does not detect it.
        let r = eval(&spec, &outage(600.0, 100.0, 150.0));
        let d = time_to_detect(&r, &[fault(100.0, 150.0), fault(120.0, 130.0)]);
        assert_eq!(d[0].detected_s, Some(101.0));
        assert_eq!(d[1].detected_s, None);
        // A fault ending before it starts counts as ending at its start.
        let d = time_to_detect(&r, &[fault(95.0, 0.0)]);
        assert_eq!(d[0].detected_s, Some(101.0));
    }

    #[test]
    fn windows_without_traffic() {
        let spec = SloSpec::new(0.999);
        // No traffic at all: nothing fires, nothing is NaN.
        let r = eval(&spec, &series(600.0, |_| (0, 0)));
        for rule in &r.rules {
            assert!(rule.firings.is_empty());
            assert_eq!(rule.peak_burn_rate, 0.0);
        }
        // An outage after which the traffic stops: the empty 1 s window resolves page-fast
        // at once; page-slow's 4 s window is empty from 114.
        let run = series(600.0, |s| match s {
            s if s < 100.0 => (300, 0),
            s if s < 110.0 => (0, 300),
            _ => (0, 0),
        });
        let r = eval(&spec, &run);
        assert_eq!(firings(&r, "page-fast"), vec![(101.0, Some(111.0))]);
        assert_eq!(firings(&r, "page-slow"), vec![(101.0, Some(114.0))]);
        // Empty windows inside a window count as no events: one failing window between idle
        // ones burns at 1000x on every window that holds it.
        let run = series(600.0, |s| if s == 300.0 { (0, 5) } else { (0, 0) });
        let r = eval(&spec, &run);
        assert_eq!(firings(&r, "page-fast"), vec![(301.0, Some(302.0))]);
        assert_eq!(firings(&r, "ticket"), vec![(301.0, Some(351.0))]);
        // An empty series.
        let r = evaluate(&spec, &[], &[], &[], 1.0, 0.0);
        assert_eq!(windows(&r)[0], (12.0, 1.0));
        assert!(r.rules.iter().all(|x| x.firings.is_empty()));
    }

    #[test]
    fn firing_times_are_window_ends() {
        // The run ends at 600.5 s: the last window, [600, 600.5), is partial and failing.
        let run = series(600.5, |s| if s >= 600.0 { (0, 150) } else { (300, 0) });
        assert_eq!(run.t.last(), Some(&600.5));
        let r = eval(&SloSpec::new(0.999), &run);
        assert_eq!(firings(&r, "page-fast"), vec![(600.5, None)]);
        // Flapping: two separate bursts give two firings.
        let run = series(600.0, |s| {
            if (100.0..105.0).contains(&s) || (300.0..305.0).contains(&s) {
                (0, 300)
            } else {
                (300, 0)
            }
        });
        let r = eval(&SloSpec::new(0.999), &run);
        assert_eq!(
            firings(&r, "page-fast"),
            vec![(101.0, Some(106.0)), (301.0, Some(306.0))]
        );
    }

    #[test]
    fn large_series_is_linear() {
        // 10^6 one-second windows (11.6 days: standard windows, 259200 long): a scan per
        // window would not finish in test time.
        let n = 1_000_000;
        let run = series(n as f64, |s| {
            if (500_000.0..500_600.0).contains(&s) {
                (0, 100)
            } else {
                (100, 0)
            }
        });
        let r = eval(&SloSpec::new(0.999), &run);
        assert_eq!(r.scale, 1.0);
        // page-fast: 1 h / 5 m, 1.44% errors. The hour fills last: 52 failing windows of
        // 3600 are 1.44(4)%, 51 are 1.42%, so it fires at 500052. After the fault the 5 m
        // window drops to 4 failing windows of 300 (1.33%) at 500896.
        assert_eq!(firings(&r, "page-fast"), vec![(500_052.0, Some(500_896.0))]);
    }

    #[test]
    fn serializes_to_json() {
        let run = outage(600.0, 200.0, 230.0);
        let r = eval(&SloSpec::new(0.999), &run);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["rules"][0]["severity"], "page");
        assert_eq!(json["rules"][2]["severity"], "ticket");
        assert_eq!(json["rules"][0]["long_window_s"], 12.0);
        assert!(json["note"].as_str().unwrap().contains("scaled down"));
        let back: AlertReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
        let slow = eval(&SloSpec::new(0.999), &series(60.0, |_| (297, 3)));
        let json = serde_json::to_string(&slow.rules[1].firings).unwrap();
        assert_eq!(json, r#"[{"fired_s":1.0,"resolved_s":null}]"#);
    }

    /// Feeds `run` window by window and checks every change against the post-run report:
    /// each firing and resolution is reported at the window whose end the report gives, and
    /// `firing` says so from that window on. Returns the changes.
    fn check_online(spec: &SloSpec, run: &Run) -> Vec<AlertChange> {
        let report = eval(spec, run);
        let mut alerts = BurnRateAlerts::new(spec, 1.0, run.horizon);
        let mut all = Vec::new();
        for ((&t, &ok), &bad) in run.t.iter().zip(&run.ok).zip(&run.bad) {
            let changes: Vec<AlertChange> = alerts.push(t, ok, bad).collect();
            for rule in &report.rules {
                let on = rule
                    .firings
                    .iter()
                    .any(|f| f.fired_s <= t && f.resolved_s.is_none_or(|r| t < r));
                assert_eq!(alerts.firing(&rule.name), on, "{} at {t}", rule.name);
                let fired = rule.firings.iter().any(|f| f.fired_s == t);
                let resolved = rule.firings.iter().any(|f| f.resolved_s == Some(t));
                let change = changes.iter().find(|c| c.rule == rule.name);
                let expected = match (fired, resolved) {
                    (true, _) => Some(Transition::Fired),
                    (false, true) => Some(Transition::Resolved),
                    (false, false) => None,
                };
                assert_eq!(
                    change.map(|c| c.transition),
                    expected,
                    "{} at {t}",
                    rule.name
                );
                if let Some(c) = change {
                    assert_eq!((c.t_s, c.severity), (t, rule.severity));
                    let (long, short) = alerts.burn_rates(&rule.name).unwrap();
                    assert_eq!((c.long_burn_rate, c.short_burn_rate), (long, short));
                    let over = long > rule.burn_rate_threshold && short > rule.burn_rate_threshold;
                    assert_eq!(over, c.transition == Transition::Fired, "{c:?}");
                }
            }
            all.extend(changes);
        }
        assert_eq!(alerts.report(), report);
        all
    }

    #[test]
    fn online_changes_come_at_the_windows_of_the_report() {
        let spec = SloSpec::new(0.999);
        let changes = check_online(&spec, &outage(600.0, 200.0, 230.0));
        let seen: Vec<(&str, Transition, f64)> = changes
            .iter()
            .map(|c| (c.rule, c.transition, c.t_s))
            .collect();
        use Transition::{Fired, Resolved};
        assert_eq!(
            seen,
            vec![
                ("page-fast", Fired, 201.0),
                ("page-slow", Fired, 201.0),
                ("ticket", Fired, 201.0),
                ("page-fast", Resolved, 231.0),
                ("page-slow", Resolved, 234.0),
                ("ticket", Resolved, 280.0),
            ]
        );
        // At the firing, [200, 201) alone fills the 1 s window (1000x); the 12 s window
        // holds 300 failures in 3600 requests.
        assert!((changes[0].short_burn_rate - 1000.0).abs() < 1e-9);
        assert!((changes[0].long_burn_rate - 300.0 / 3600.0 / 0.001).abs() < 1e-9);
        // The other series of these tests: flapping, a slow burn never resolved, idle
        // windows, a partial last window.
        check_online(
            &spec,
            &series(600.0, |s| {
                if (100.0..105.0).contains(&s) || (300.0..305.0).contains(&s) {
                    (0, 300)
                } else {
                    (300, 0)
                }
            }),
        );
        let slow = check_online(&spec, &series(600.0, |_| (297, 3)));
        assert_eq!(slow.len(), 2, "{slow:?}");
        check_online(
            &spec,
            &series(600.0, |s| match s {
                s if s < 100.0 => (300, 0),
                s if s < 110.0 => (0, 300),
                _ => (0, 0),
            }),
        );
        check_online(
            &spec,
            &series(600.5, |s| if s >= 600.0 { (0, 150) } else { (300, 0) }),
        );
    }

    #[test]
    fn asking_about_an_unknown_rule() {
        let mut alerts = BurnRateAlerts::new(&SloSpec::new(0.999), 1.0, 600.0);
        assert_eq!(alerts.burn_rates("page-fast"), Some((0.0, 0.0)));
        assert_eq!(alerts.push(1.0, 0, 10).count(), 3);
        assert!(alerts.firing("page-fast") && alerts.firing("ticket"));
        assert!(!alerts.firing("page_fast"));
        assert_eq!(alerts.burn_rates("availability"), None);
    }

    #[test]
    fn a_run_stopped_early_keeps_the_planned_windows() {
        // Planned for 10 minutes, stopped after 100 s: the windows of the 10-minute run, and
        // the evaluations of the 100 windows that closed.
        let spec = SloSpec::new(0.999);
        let run = outage(600.0, 50.0, 60.0);
        let mut alerts = BurnRateAlerts::new(&spec, 1.0, 600.0);
        for i in 0..100 {
            let _ = alerts.push(run.t[i], run.ok[i], run.bad[i]);
        }
        let r = alerts.report();
        assert_eq!(r.horizon_s, 600.0);
        assert_eq!(windows(&r), vec![(12.0, 1.0), (50.0, 4.0), (600.0, 50.0)]);
        assert_eq!(firings(&r, "page-fast"), vec![(51.0, Some(61.0))]);
        assert_eq!(
            firings(&r, "ticket"),
            vec![(51.0, None)],
            "still firing at the stop"
        );
        let t = &run.t[..100];
        assert_eq!(
            r,
            evaluate(&spec, t, &run.ok[..100], &run.bad[..100], 1.0, 600.0)
        );
        // Scaled to the stop instead, every window would be 6 times shorter (this is what
        // the post-run report did before the evaluator ran during the run).
        let at_stop = evaluate(&spec, t, &run.ok[..100], &run.bad[..100], 1.0, 100.0);
        assert_eq!(
            windows(&at_stop),
            vec![(12.0, 1.0), (12.0, 1.0), (100.0, 8.0)]
        );
    }

    #[test]
    fn memory_is_bounded_by_the_longest_window() {
        let spec = SloSpec::new(0.999);
        // 10 minutes in 1 s windows: the ticket's 600 windows, however long the run goes on.
        let mut alerts = BurnRateAlerts::new(&spec, 1.0, 600.0);
        for i in 1..=5000 {
            let _ = alerts.push(i as f64, 100, u64::from(i % 7 == 0));
            assert_eq!(alerts.recent.len(), i.min(600));
        }
        // Standard windows in 1 ms series windows: the ticket's long window is 2.6e8 series
        // windows; the ring holds only those pushed.
        let mut alerts = BurnRateAlerts::new(&spec, 0.001, 90.0 * DAY);
        assert_eq!(alerts.longest, 259_200_000);
        for i in 1..=1000 {
            let _ = alerts.push(i as f64 / 1000.0, 1, 0);
        }
        assert_eq!(alerts.recent.len(), 1000);
    }

    /// The module doc, evaluated the slow way: each burn rate summed from the slice of
    /// windows it covers, at every window. Returns, per rule in table order, the (long,
    /// short) windows in series windows, the peak burn rate, the firings and, per window,
    /// whether the rule was firing after it.
    #[allow(clippy::type_complexity)]
    fn reference(
        spec: &SloSpec,
        ok: &[u64],
        bad: &[u64],
        t: &[f64],
        window_s: f64,
        horizon_s: f64,
    ) -> Vec<((usize, usize), f64, Vec<Firing>, Vec<bool>)> {
        let period = spec.period.as_secs_f64();
        let scale = (horizon_s / (period / 10.0)).min(1.0);
        let burn = |k: usize, i: usize| {
            let from = (i + 1).saturating_sub(k);
            let b: u64 = bad[from..=i].iter().sum();
            let total: u64 = ok[from..=i].iter().sum::<u64>() + b;
            if total == 0 {
                0.0
            } else {
                b as f64 / total as f64 / (1.0 - spec.availability)
            }
        };
        [(720.0, 14.4), (120.0, 6.0), (10.0, 1.0)]
            .iter()
            .map(|&(per, threshold)| {
                let long = ((period * scale / per / window_s).round() as usize).max(12);
                let short = ((long as f64 / 12.0).round() as usize).max(1);
                let (mut peak, mut firings, mut on_after) = (0.0_f64, Vec::new(), Vec::new());
                for (i, &end) in t.iter().enumerate() {
                    let (l, s) = (burn(long, i), burn(short, i));
                    peak = peak.max(l.min(s));
                    let on = l > threshold && s > threshold;
                    let was = on_after.last().copied().unwrap_or(false);
                    if on && !was {
                        firings.push(Firing {
                            fired_s: end,
                            resolved_s: None,
                        });
                    }
                    if !on && was {
                        firings.last_mut().unwrap().resolved_s = Some(end);
                    }
                    on_after.push(on);
                }
                ((long, short), peak, firings, on_after)
            })
            .collect()
    }

    /// Random series of clean, failing, partly failing, slow-burning and idle stretches,
    /// with random objectives, periods, series windows and horizons (shorter and longer
    /// than the series): the evaluator fed window by window agrees with the reference at
    /// every window.
    #[test]
    fn agrees_with_a_reference_on_random_series() {
        use rand::RngExt;
        // (firings, resolutions) per rule over all seeds: the series must exercise both.
        let mut exercised = [(0, 0); 3];
        for seed in 0..60 {
            let mut rng = sim_core::rng::stream(seed, "slo-property");
            let availability = [0.9, 0.99, 0.999, 0.9999][rng.random_range(0..4)];
            let period = [30 * 86_400, 28 * 86_400, 3600, 60][rng.random_range(0..4)];
            let spec = SloSpec {
                availability,
                period: SimDuration::from_secs(period),
                latency: None,
            };
            let window_s = [1.0, 0.5, 2.0, 10.0][rng.random_range(0..4)];
            let n = rng.random_range(1..1500);
            let (mut ok, mut bad) = (Vec::new(), Vec::new());
            while ok.len() < n {
                let len = rng.random_range(1..200);
                let rate = rng.random_range(0..500_u64);
                let kind = rng.random_range(0..5);
                for _ in 0..len {
                    let failing = match kind {
                        0 => 0,
                        1 => rate,
                        2 => rng.random_range(0..=rate),
                        3 => u64::from(rng.random_range(0..100) == 0) * rate / 10,
                        _ => 0,
                    };
                    let total = if kind == 4 { 0 } else { rate };
                    ok.push(total - failing.min(total));
                    bad.push(failing.min(total));
                }
            }
            ok.truncate(n);
            bad.truncate(n);
            let t: Vec<f64> = (1..=n).map(|i| i as f64 * window_s).collect();
            let run_s = n as f64 * window_s;
            let horizon_s = run_s * [1.0, 0.3, 3.0, 1e4][rng.random_range(0..4)];
            let replay =
                format!("seed {seed}: {spec:?}, {n} windows of {window_s}s, horizon {horizon_s}");

            let expected = reference(&spec, &ok, &bad, &t, window_s, horizon_s);
            let mut alerts = BurnRateAlerts::new(&spec, window_s, horizon_s);
            let mut changes = vec![Vec::new(); 3];
            for i in 0..n {
                for c in alerts.push(t[i], ok[i], bad[i]) {
                    let j = STANDARD_RULES
                        .iter()
                        .position(|r| r.name == c.rule)
                        .unwrap();
                    changes[j].push((c.transition, c.t_s));
                }
                for (rule, (_, _, _, on)) in STANDARD_RULES.iter().zip(&expected) {
                    assert_eq!(alerts.firing(rule.name), on[i], "{replay}, window {i}");
                }
            }
            let report = alerts.report();
            assert_eq!(report, evaluate(&spec, &t, &ok, &bad, window_s, horizon_s));
            for (((rule, ((long, short), peak, firings, _)), seen), count) in report
                .rules
                .iter()
                .zip(&expected)
                .zip(&changes)
                .zip(&mut exercised)
            {
                count.0 += firings.len();
                count.1 += firings.iter().filter(|f| f.resolved_s.is_some()).count();
                assert_eq!(rule.long_window_s, *long as f64 * window_s, "{replay}");
                assert_eq!(rule.short_window_s, *short as f64 * window_s, "{replay}");
                assert_eq!(rule.peak_burn_rate, *peak, "{replay}: {}", rule.name);
                assert_eq!(&rule.firings, firings, "{replay}: {}", rule.name);
                let from_report: Vec<(Transition, f64)> = firings
                    .iter()
                    .flat_map(|f| {
                        std::iter::once((Transition::Fired, f.fired_s))
                            .chain(f.resolved_s.map(|r| (Transition::Resolved, r)))
                    })
                    .collect();
                assert_eq!(seen, &from_report, "{replay}: {}", rule.name);
            }
        }
        assert!(
            exercised.iter().all(|&(f, r)| f >= 10 && r >= 5),
            "{exercised:?}"
        );
    }
}
