//! The goodput verdict of a run: did it recover after its faults (`recovery_s`,
//! `metastable`), or, without a fault, did it collapse on its own. Read from the goodput
//! time series.
//!
//! Pure numbers in, numbers out: this module depends on nothing else in sim-models.
//!
//! A verdict needs evidence. Each run gets exactly one [`Verdict`], with a reason in words:
//! `recovered` or `metastable` (with faults), `steady` or `collapsed without a fault`
//! (without), and `undetermined` whenever the series is too short, the rate too low or the
//! load too changed to tell. The reason of an undetermined verdict names what is missing
//! and, where a longer run would settle it, the horizon to run to.
//!
//! # Definition
//!
//! Input: goodput in equal windows of `window_s` seconds. Window `i` starts at
//! `i * window_s`, ends at `t_end_s[i]`, and `goodput_rps[i]` is its successes per second.
//! A window is *full* when `t_end_s[i] >= (i + 1) * window_s`; the series is cut at the
//! first window that is not full (in a simctl series only the last window, ending at the
//! horizon, can be partial). A partial window's rate is measured over too short a time to
//! be trusted, so it is never used below. Times are compared with a slack of
//! `1e-6 * window_s` so that float rounding of `i * window_s` cannot move a window across
//! a boundary. `demand_rps[i]` (optional) is the load offered in window `i` by clients whose
//! load does not depend on the system's answers (open loop), per second.
//!
//! 1. **Faults.** A fault is `(start_s, end_s)`. Faults whose start is not finite or is at or
//!    after the end of the series (they did not happen within the data) are ignored; an
//!    `end_s` before `start_s` counts as `start_s`. No faults left: the run is judged for a
//!    collapse without a fault (rule 7).
//! 2. **Baseline.** `baseline_rps` = the mean of `goodput_rps` over the full windows lying
//!    entirely within `[warmup_s, first fault start)`. If there is no such window, or the
//!    mean is not a positive finite number, there is no baseline: `undetermined`.
//! 3. **Enough successes.** Per-window goodput is noisy (Poisson: `n` successes fluctuate by
//!    `sqrt(n)`). A mean is trusted against a band of `tolerance` (5%) when its noise is at
//!    most a fifth of the band, i.e. when it holds at least `N = 25 / tolerance²` successes
//!    (10,000 at 5%). The baseline must hold `N` successes, or the verdict is `undetermined`
//!    (a noisy baseline could make a healthy run look unrecovered, and the reverse).
//! 4. **Smoothing.** The band is applied to a trailing moving average over
//!    `k = ceil(smoothing_s / window_s)` windows (at least 1), where `smoothing_s` is the
//!    larger of the parameter (10 s) and `N / baseline_rps`, the time a span takes to hold
//!    `N` successes (10 s at 1000 rps, 34 s at 300 rps, 2,500 s at 4 rps). The *span* ending
//!    at window `i` is the full windows `[i - k + 1, i]`; its mean is *in band* when
//!    `|mean - baseline_rps| <= tolerance * baseline_rps`, *below* or *above* otherwise. A
//!    span containing a non-finite value is out of band, neither below nor above.
//! 5. **Recovered.** Let `last_end` be the latest fault end (not the end of the last fault
//!    to start) and `r0` the first window starting at or after `last_end`. A fault still
//!    active when the series ends (`last_end` at or after its end) leaves nothing to judge:
//!    `undetermined`. Goodput has *recovered from window `r`* (`r >= r0`) when every span
//!    made only of windows at index `>= r` (up to the last full window) is in band, and there
//!    is at least one such span. The earliest such `r` wins:
//!    `recovery_s = r * window_s - last_end` (`>= 0`). A return into the band that is lost
//!    again before the end of the series does not count. Fewer than `k` full windows after
//!    `r0`: no span to judge, `undetermined`, and the reason gives the horizon that would
//!    hold two spans.
//! 6. **Metastable** needs all of this evidence; missing any part, the verdict is
//!    `undetermined` with that part as the reason:
//!    - rules 2-3 hold (a baseline of `N` successes) and at least `2k` full windows follow
//!      `r0`: two disjoint spans, so that "not yet" can be told from "not at all";
//!    - the last span is *below* the band (above it is a backlog draining or more load than
//!      before: not a failure to recover);
//!    - goodput is not climbing back: the last span's mean exceeds the lowest span mean
//!      after `r0` by at most the band's half-width (otherwise the reason estimates, from the
//!      climb so far, when it would be back and the horizon to run to);
//!    - the open-loop demand has not changed: its mean over the last span is within the band
//!      (`tolerance * baseline_rps`) of its mean over the baseline windows (a load that stops
//!      or steps down after the faults lowers goodput without any failure).
//! 7. **Without a fault**, goodput is compared with its own early level. The *early baseline*
//!    is the mean over the first full windows after `warmup_s`, as many as it takes to hold
//!    `N` successes and at least the smoothing parameter (10 s); if the series runs out
//!    first, `undetermined`. Spans are taken from the end of the early baseline on (never
//!    overlapping it), with `k` from rule 4. Fewer than `k` windows: `undetermined`. The last
//!    span in band: `steady`. Last span below the band: goodput *left the band* at the end
//!    of the first span of the trailing run of below-band spans (`collapsed_at_s`: the time
//!    at which a trailing moving average first read out of band, for good), and the verdict
//!    is `collapsed without a fault` when, as for `metastable`, the evidence is there: that
//!    trailing run holds two disjoint spans (`2k` windows), the last span is not climbing
//!    back (as in rule 6, from the lowest span of the trailing run), and the open-loop demand over the last span
//!    is within the band of its early level. Otherwise `undetermined`, and above the band it
//!    is `undetermined` too.
//! 8. **With faults, a collapse before the first one** is judged first by rule 7 on the
//!    windows before the first fault: if goodput collapsed there, the verdict is
//!    `collapsed without a fault` (the fault came after; the baseline of rule 2 is then a
//!    mix of before and after and is not used).
//!
//! Consequences worth knowing when quoting the number:
//! - The series cannot tell a metastable failure from a recovery far slower than the
//!   horizon that shows no climb at all; rule 6 only rules out recoveries visibly under way.
//! - The demand check sees open-loop clients only: closed-loop users send less when the
//!   system is slow, which is the collapse itself, not a change of load.
//! - Goodput *above* the band (a backlog draining after the fault) is not recovered:
//!   recovery counts from when goodput is back within the band on both sides.
//! - `recovery_s` is the start of the first span of a run of in-band spans, so it looks
//!   ahead by up to one smoothing span: an abrupt return from a deficit `d` (a fraction of
//!   the baseline) is reported about `smoothing_s * tolerance / d` early (0.5 s for a full
//!   outage with the defaults), and a linear ramp from 0 to the baseline over 30 s reads as
//!   ~24.5 s. Its resolution is one window. `collapsed_at_s` is the end of a span, so it
//!   lags instead (by `smoothing_s * tolerance / d`: 0.6 s for a fall to 20%).
//!
//! Cost: O(n) time and memory in the number of windows.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What the goodput series shows about a run, as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Back within the band after the last fault, to stay.
    Recovered,
    /// Below the band after the last fault, to the end, with the evidence of rule 6.
    Metastable,
    /// No fault, and goodput within the band of its early level at the end.
    Steady,
    /// Goodput left the band of its early level, with no fault active, and never came back.
    CollapsedWithoutFault,
    /// The series cannot tell: the reason says why.
    Undetermined,
}

impl Verdict {
    /// The verdict in words.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Recovered => "recovered",
            Verdict::Metastable => "metastable",
            Verdict::Steady => "steady",
            Verdict::CollapsedWithoutFault => "collapsed without a fault",
            Verdict::Undetermined => "undetermined",
        }
    }

    /// Whether the run failed to come back (metastable, or collapsed without a fault):
    /// `Some(true)`; came back or never left: `Some(false)`; `None` when undetermined.
    pub fn tipped(self) -> Option<bool> {
        match self {
            Verdict::Metastable | Verdict::CollapsedWithoutFault => Some(true),
            Verdict::Recovered | Verdict::Steady => Some(false),
            Verdict::Undetermined => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The verdict on a goodput series, with its evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    pub verdict: Verdict,
    /// The evidence in words; for `undetermined`, what is missing and how to get it.
    pub reason: String,
    /// The level goodput is judged against: mean goodput over the full windows in
    /// `[warmup_s, first fault start)`, or the early baseline without faults.
    pub baseline_rps: Option<f64>,
    /// Seconds from the latest fault end to the start of the window from which the smoothed
    /// goodput stays within the band (only when `recovered`).
    pub recovery_s: Option<f64>,
    /// When the smoothed goodput left the band for good (only when collapsed without a fault).
    pub collapsed_at_s: Option<f64>,
    /// The moving-average span used, seconds (see [`RecoveryParams::smoothing_s`]).
    pub smoothing_s: Option<f64>,
}

impl Recovery {
    /// The verdict is `metastable`.
    pub fn metastable(&self) -> bool {
        self.verdict == Verdict::Metastable
    }

    fn undetermined(reason: String) -> Recovery {
        Recovery {
            verdict: Verdict::Undetermined,
            reason,
            baseline_rps: None,
            recovery_s: None,
            collapsed_at_s: None,
            smoothing_s: None,
        }
    }
}

/// The knobs of the definition (see the module doc). Both must be finite and positive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecoveryParams {
    /// Shortest trailing moving average, seconds (rounded up to whole windows). The span is
    /// lengthened to `25 / (tolerance² x baseline_rps)` when that is longer, so that the band
    /// is at least five standard deviations of the Poisson noise of a span's mean: 10 s at
    /// 1000 rps, 34 s at 300 rps. Without it, noise alone reads as "not recovered".
    pub smoothing_s: f64,
    /// Half-width of the band around the baseline, as a fraction of the baseline.
    pub tolerance: f64,
}

impl Default for RecoveryParams {
    fn default() -> Self {
        Self {
            smoothing_s: 10.0,
            tolerance: 0.05,
        }
    }
}

/// The verdict on the goodput series `goodput_rps` (window `i` ends at `t_end_s[i]`) after
/// `faults`, as defined in the module doc. `demand_rps` is the open-loop offered load per
/// window, or empty when there is none to check.
///
/// # Panics
///
/// If `t_end_s` and `goodput_rps` differ in length, or `demand_rps` is neither empty nor of
/// that length.
pub fn recovery(
    t_end_s: &[f64],
    goodput_rps: &[f64],
    demand_rps: &[f64],
    window_s: f64,
    warmup_s: f64,
    faults: &[(f64, f64)],
    params: RecoveryParams,
) -> Recovery {
    assert_eq!(
        t_end_s.len(),
        goodput_rps.len(),
        "one window end per goodput value"
    );
    assert!(
        demand_rps.is_empty() || demand_rps.len() == goodput_rps.len(),
        "one demand value per window, or none"
    );
    if !(window_s.is_finite() && window_s > 0.0) {
        return Recovery::undetermined("no time series to judge".into());
    }
    let Some(&series_end) = t_end_s.last() else {
        return Recovery::undetermined("no time series to judge".into());
    };
    let slack = window_s * 1e-6;
    // Full windows: the leading windows that span their whole width.
    let n_full = t_end_s
        .iter()
        .enumerate()
        .take_while(|&(i, &end)| end >= (i + 1) as f64 * window_s - slack)
        .count();
    let s = Spans::new(goodput_rps, demand_rps, n_full, window_s, params);

    // 1. Faults that happened within the data: the first start and the latest end.
    let mut first_start = f64::INFINITY;
    let mut last_end = f64::NEG_INFINITY;
    for &(start, end) in faults {
        if start.is_finite() && start < series_end {
            first_start = first_start.min(start);
            last_end = last_end.max(end.max(start));
        }
    }
    let b0 = ceil_index(warmup_s / window_s - 1e-6);
    if first_start == f64::INFINITY {
        return s.without_fault(b0, n_full, None);
    }
    let b1 = floor_index(first_start / window_s + 1e-6).min(n_full);
    // 8. A collapse before the first fault is not the fault's doing.
    let early = s.without_fault(b0, b1, Some(first_start));
    if early.verdict == Verdict::CollapsedWithoutFault {
        return early;
    }
    s.after_faults(b0, b1, (first_start, last_end), series_end)
}

/// Where a span's mean lies against the band.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Band {
    Below,
    In,
    Above,
    /// The span holds a non-finite value.
    Bad,
}

/// Prefix sums over the full windows of a series, for span means in O(1).
struct Spans {
    /// `sum[i]`: sum of the finite goodput values of windows `[0, i)`; `bad[i]`: how many
    /// were not finite.
    sum: Vec<f64>,
    bad: Vec<usize>,
    /// Prefix sums of the demand (all zeros when none is given).
    demand: Vec<f64>,
    window_s: f64,
    params: RecoveryParams,
    /// Successes a mean must hold to be trusted against the band (rule 3).
    need: f64,
}

impl Spans {
    fn new(
        goodput: &[f64],
        demand: &[f64],
        n_full: usize,
        window_s: f64,
        params: RecoveryParams,
    ) -> Spans {
        let mut sum = Vec::with_capacity(n_full + 1);
        let mut bad = Vec::with_capacity(n_full + 1);
        let mut dem = Vec::with_capacity(n_full + 1);
        let (mut s, mut b, mut d) = (0.0_f64, 0_usize, 0.0_f64);
        sum.push(s);
        bad.push(b);
        dem.push(d);
        for (i, &x) in goodput.iter().enumerate().take(n_full) {
            if x.is_finite() {
                s += x;
            } else {
                b += 1;
            }
            d += demand
                .get(i)
                .copied()
                .filter(|x| x.is_finite())
                .unwrap_or(0.0);
            sum.push(s);
            bad.push(b);
            dem.push(d);
        }
        Spans {
            sum,
            bad,
            demand: dem,
            window_s,
            params,
            need: 25.0 / (params.tolerance * params.tolerance),
        }
    }

    /// Mean goodput over windows `[a, b)`, `None` if one of them is not finite.
    fn mean(&self, a: usize, b: usize) -> Option<f64> {
        (self.bad[b] == self.bad[a]).then(|| (self.sum[b] - self.sum[a]) / (b - a) as f64)
    }

    fn demand_mean(&self, a: usize, b: usize) -> f64 {
        (self.demand[b] - self.demand[a]) / (b - a) as f64
    }

    /// The span of `k` windows starting at window `a`, against the band around `baseline`.
    fn band(&self, a: usize, k: usize, baseline: f64) -> Band {
        match self.mean(a, a + k) {
            None => Band::Bad,
            Some(m) if m < baseline - self.half_width(baseline) => Band::Below,
            Some(m) if m > baseline + self.half_width(baseline) => Band::Above,
            Some(_) => Band::In,
        }
    }

    fn half_width(&self, baseline: f64) -> f64 {
        self.params.tolerance * baseline
    }

    /// The span length in windows for `baseline` (rule 4), and in seconds.
    fn span(&self, baseline: f64) -> (usize, f64) {
        let noise_floor_s = self.need / baseline;
        let smoothing_s = if noise_floor_s.is_finite() {
            self.params.smoothing_s.max(noise_floor_s)
        } else {
            self.params.smoothing_s
        };
        let k = ceil_index(smoothing_s / self.window_s - 1e-6).max(1);
        (k, k as f64 * self.window_s)
    }

    fn secs(&self, i: usize) -> f64 {
        i as f64 * self.window_s
    }

    fn pct(&self) -> f64 {
        self.params.tolerance * 100.0
    }

    /// Rules 2-6: the verdict after the faults, given the baseline windows `[b0, b1)`.
    fn after_faults(&self, b0: usize, b1: usize, faults: (f64, f64), series_end: f64) -> Recovery {
        let w = self.window_s;
        let (first_start, last_end) = faults;
        if b0 >= b1 {
            return Recovery::undetermined(format!(
                "no baseline: the first fault starts at {first_start:.1} s, before a full {w} s window after the warm-up ({:.1} s) ends",
                self.secs(b0)
            ));
        }
        let baseline = self.mean(b0, b1).unwrap_or(f64::NAN);
        if !(baseline.is_finite() && baseline > 0.0) {
            return Recovery::undetermined(format!(
                "no baseline: no successes counted between the warm-up and the first fault ({:.1} s to {:.1} s)",
                self.secs(b0),
                self.secs(b1)
            ));
        }
        let (k, smoothing_s) = self.span(baseline);
        let mut out = Recovery {
            baseline_rps: Some(baseline),
            smoothing_s: Some(smoothing_s),
            ..Recovery::undetermined(String::new())
        };
        let mut missing = Vec::new();
        let successes = baseline * (b1 - b0) as f64 * w;
        if successes < self.need {
            missing.push(format!(
                "the baseline ({:.1} s to {:.1} s, before the first fault) holds {successes:.0} successes and telling a {}% change from noise needs {:.0}: start the first fault at least {:.0} s after the warm-up",
                self.secs(b0),
                self.secs(b1),
                self.pct(),
                self.need,
                (self.need / baseline).ceil()
            ));
        }
        let n_full = self.sum.len() - 1;
        let r0 = ceil_index(last_end / w - 1e-6);
        // Two spans after the last fault: enough to tell "not yet" from "not at all".
        let two_spans_at = self.secs(r0) + 2.0 * smoothing_s;
        if last_end >= series_end || r0 >= n_full {
            missing.push(format!(
                "a fault is still active when the run ends at {series_end:.1} s (the last one ends at {last_end:.1} s): run to at least {two_spans_at:.0} s"
            ));
            out.reason = missing.join("; ");
            return out;
        }
        let after = n_full - r0;
        if after < k {
            missing.push(format!(
                "the run ends {:.1} s after the last fault; judging recovery at {baseline:.1} rps needs a {smoothing_s:.0} s smoothing span: run to at least {two_spans_at:.0} s",
                self.secs(n_full) - last_end
            ));
        }
        if !missing.is_empty() {
            out.reason = missing.join("; ");
            return out;
        }
        // 5. The last span out of band: every span starting after it is in band.
        let last_out = (r0..=n_full - k)
            .rev()
            .find(|&a| self.band(a, k, baseline) != Band::In);
        let r = last_out.map_or(r0, |a| a + 1);
        if r + k <= n_full {
            let recovery_s = (self.secs(r) - last_end).max(0.0);
            out.verdict = Verdict::Recovered;
            out.recovery_s = Some(recovery_s);
            out.reason = format!(
                "smoothed goodput back within {}% of the {baseline:.1} rps baseline {recovery_s:.1} s after the last fault ended ({last_end:.1} s), and within it to the end of the run, {:.0} s later ({smoothing_s:.0} s smoothing span)",
                self.pct(),
                self.secs(n_full - r)
            );
            return out;
        }
        // 6. Not back at the end: metastable only with the evidence.
        let last = n_full - k;
        let judged = Judged {
            end: n_full,
            what: "recovery",
            since: "after the last fault",
            baseline,
            baseline_windows: (b0, b1),
            first: r0,
            k,
            smoothing_s,
        };
        match self.not_back(&judged) {
            Ok(last_mean) => {
                let returned = (r0..last).any(|a| self.band(a, k, baseline) == Band::In);
                out.verdict = Verdict::Metastable;
                out.reason = format!(
                    "smoothed goodput is {last_mean:.1} rps over the last {smoothing_s:.0} s span, {:.0}% of the {baseline:.1} rps baseline, {:.1} s after the last fault ended{}, and not climbing back",
                    100.0 * last_mean / baseline,
                    self.secs(n_full) - last_end,
                    if returned {
                        " (it was back in the band for a while, and fell out again)"
                    } else {
                        ""
                    }
                );
            }
            Err(why) => out.reason = why,
        }
        out
    }

    /// Rule 7 on the windows `[b0, end)`: steady or collapsed without a fault, judged against
    /// the early baseline. `first_fault` is where the windows stop, when a fault follows.
    fn without_fault(&self, b0: usize, end: usize, first_fault: Option<f64>) -> Recovery {
        let w = self.window_s;
        let before = first_fault.map_or(String::new(), |t| {
            format!(" before the first fault ({t:.1} s)")
        });
        // The early baseline: enough windows to hold `need` successes and the shortest span.
        let min_k = ceil_index(self.params.smoothing_s / w - 1e-6).max(1);
        let total = |b1: usize| (self.sum[b1] - self.sum[b0]) * w;
        let holds = |b1: usize| b1 - b0 >= min_k && total(b1) >= self.need;
        let mut b1 = b0.min(end);
        while b1 < end && !holds(b1) {
            b1 += 1;
        }
        if b0 >= end || !holds(b1) {
            let (all, seen) = if b0 < end {
                (total(end), self.secs(end - b0))
            } else {
                (0.0, 0.0)
            };
            // The rate goodput started at, over the shortest span (or what there is).
            let first = end.min(b0 + min_k).max(b0);
            let rate = if first > b0 {
                total(first) / self.secs(first - b0)
            } else {
                0.0
            };
            let advice = if rate <= 0.0 {
                String::new()
            } else if rate * seen >= self.need {
                format!(
                    "; at the {rate:.1} rps it started at, that would take {:.0} s: goodput fell before its early level could be measured",
                    self.need / rate
                )
            } else {
                format!(
                    "; at {rate:.1} rps, run to at least {:.0} s (an early baseline and two spans)",
                    self.secs(b0) + 3.0 * self.span(rate).1
                )
            };
            return Recovery::undetermined(format!(
                "without a fault, a collapse is judged against the early goodput; the {seen:.1} s after the warm-up{before} hold {all:.0} successes and an early baseline needs {:.0}{advice}",
                self.need
            ));
        }
        let baseline = self.mean(b0, b1).unwrap_or(f64::NAN);
        if !(baseline.is_finite() && baseline > 0.0) {
            return Recovery::undetermined("goodput after the warm-up is not a number".into());
        }
        let (k, smoothing_s) = self.span(baseline);
        let mut out = Recovery {
            baseline_rps: Some(baseline),
            smoothing_s: Some(smoothing_s),
            ..Recovery::undetermined(String::new())
        };
        let early = format!(
            "its early baseline ({baseline:.1} rps over {:.1} s to {:.1} s)",
            self.secs(b0),
            self.secs(b1)
        );
        if end < b1.saturating_add(k) {
            out.reason = format!(
                "without a fault, a collapse is judged on {smoothing_s:.0} s spans after {early}, and the run{before} ends before one: run to at least {:.0} s",
                self.secs(b1) + 2.0 * smoothing_s
            );
            return out;
        }
        let last = end - k;
        match self.band(last, k, baseline) {
            Band::In => {
                out.verdict = Verdict::Steady;
                out.reason = format!(
                    "no fault{before}, and smoothed goodput within {}% of {early} over the last {smoothing_s:.0} s span",
                    self.pct()
                );
                return out;
            }
            Band::Below => {}
            Band::Above | Band::Bad => {
                let judged = Judged {
                    end,
                    what: "a collapse",
                    since: "after the early baseline",
                    baseline,
                    baseline_windows: (b0, b1),
                    first: b1,
                    k,
                    smoothing_s,
                };
                out.reason = self.not_back(&judged).err().unwrap_or_default();
                return out;
            }
        }
        // The trailing run of below-band spans starts after the last span that is not below.
        let lo = (b1..last)
            .rev()
            .find(|&a| self.band(a, k, baseline) != Band::Below)
            .map_or(b1, |a| a + 1);
        let left_at = self.secs(lo + k);
        let judged = Judged {
            end,
            what: "a collapse",
            since: "after goodput left the band",
            baseline,
            baseline_windows: (b0, b1),
            first: lo,
            k,
            smoothing_s,
        };
        match self.not_back(&judged) {
            Ok(last_mean) => {
                out.verdict = Verdict::CollapsedWithoutFault;
                out.collapsed_at_s = Some(left_at);
                out.reason = format!(
                    "with no fault{before}, smoothed goodput left the {}% band of {early} at {left_at:.1} s and never came back: {last_mean:.1} rps ({:.0}%) over the last {smoothing_s:.0} s span, not climbing back",
                    self.pct(),
                    100.0 * last_mean / baseline
                );
            }
            Err(why) => {
                out.reason = why;
            }
        }
        out
    }

    /// The evidence that goodput, below the band in the last span, is not coming back
    /// (rules 6 and 7): two disjoint spans from `first` on, not climbing, demand unchanged.
    /// `Ok(mean of the last span)`, or the reason it cannot be told.
    fn not_back(&self, j: &Judged) -> Result<f64, String> {
        let (end, k, baseline, s) = (j.end, j.k, j.baseline, j.smoothing_s);
        let last = end - k;
        let last_mean = self.mean(last, end);
        let Some(last_mean) = last_mean else {
            return Err(format!(
                "goodput is not a number in the last {s:.0} s span: {} cannot be judged",
                j.what
            ));
        };
        if last_mean > baseline + self.half_width(baseline) {
            return Err(format!(
                "smoothed goodput ends above the band: {last_mean:.1} rps over the last {s:.0} s span against {baseline:.1} rps (a backlog still draining, or more load than before): {} cannot be judged",
                j.what
            ));
        }
        let two_spans = self.secs(j.first) + 2.0 * s;
        if end < j.first + 2 * k {
            return Err(format!(
                "smoothed goodput is below the band ({last_mean:.1} rps against {baseline:.1}), but only {:.1} s of it can be seen {}; telling a slow return from none needs two {s:.0} s spans: run to at least {two_spans:.0} s",
                self.secs(end - j.first),
                j.since
            ));
        }
        // The lowest span since `first`: climbing means the last one is well above it.
        let (low_at, low) = (j.first..=last)
            .filter_map(|a| Some((a, self.mean(a, a + k)?)))
            .fold((last, last_mean), |lo, x| if x.1 < lo.1 { x } else { lo });
        let climbed = last_mean - low;
        if climbed > self.half_width(baseline) {
            let per_s = climbed / self.secs(last - low_at);
            let to_go = (baseline - self.half_width(baseline) - last_mean) / per_s;
            return Err(format!(
                "smoothed goodput is below the band but climbing back: from {low:.1} rps at {:.1} s to {last_mean:.1} rps at the end (baseline {baseline:.1}); at that pace it is back in about {to_go:.0} s: run to at least {:.0} s",
                self.secs(low_at + k),
                (self.secs(end) + to_go + s).ceil()
            ));
        }
        let (b0, b1) = j.baseline_windows;
        let (d0, d1) = (self.demand_mean(b0, b1), self.demand_mean(last, end));
        if (d1 - d0).abs() > self.half_width(baseline) {
            return Err(format!(
                "the open-loop clients offered {d1:.1} rps over the last {s:.0} s span against {d0:.1} rps in the baseline: the load changed, so goodput cannot be held to its old level"
            ));
        }
        Ok(last_mean)
    }
}

/// What [`Spans::not_back`] judges: spans of `k` windows from window `first` on, against
/// `baseline` (measured over `baseline_windows`).
struct Judged {
    /// One past the last window judged.
    end: usize,
    what: &'static str,
    since: &'static str,
    baseline: f64,
    baseline_windows: (usize, usize),
    first: usize,
    k: usize,
    smoothing_s: f64,
}

/// `ceil(x)` as an index: 0 for negative or NaN values, saturating for huge ones.
fn ceil_index(x: f64) -> usize {
    // `as` saturates: NaN and negatives become 0, +inf becomes usize::MAX.
    x.ceil() as usize
}

/// `floor(x)` as an index: 0 for negative or NaN values, saturating for huge ones.
fn floor_index(x: f64) -> usize {
    x.floor() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: f64 = 1000.0;

    /// Window ends for `n` windows of `w` seconds, the last one cut at `horizon`.
    fn ends(n: usize, w: f64, horizon: f64) -> Vec<f64> {
        (1..=n).map(|i| (i as f64 * w).min(horizon)).collect()
    }

    /// A series of `horizon` seconds in 1 s windows, goodput `f(window start)`.
    fn series(horizon: f64, mut f: impl FnMut(f64) -> f64) -> (Vec<f64>, Vec<f64>) {
        let n = horizon.ceil() as usize;
        let t = ends(n, 1.0, horizon);
        let g = (0..n).map(|i| f(i as f64)).collect();
        (t, g)
    }

    fn run(t: &[f64], g: &[f64], faults: &[(f64, f64)]) -> Recovery {
        recovery(t, g, &[], 1.0, 10.0, faults, RecoveryParams::default())
    }

    #[track_caller]
    fn recovered_after(r: Recovery) -> f64 {
        assert_eq!(r.verdict, Verdict::Recovered, "{r:?}");
        assert!(!r.metastable());
        r.recovery_s.expect("recovered")
    }

    #[track_caller]
    fn assert_metastable(r: &Recovery) {
        assert_eq!(r.verdict, Verdict::Metastable, "{r:?}");
        assert!(r.metastable());
        assert_eq!(r.recovery_s, None);
    }

    /// Asserts an undetermined verdict whose reason says `why`.
    #[track_caller]
    fn assert_undetermined(r: &Recovery, why: &str) {
        assert_eq!(r.verdict, Verdict::Undetermined, "{r:?}");
        assert!(!r.metastable());
        assert_eq!(r.recovery_s, None);
        assert!(
            r.reason.contains(why),
            "reason {:?} lacks {why:?}",
            r.reason
        );
    }

    /// Deterministic pseudo-noise, roughly normal with standard deviation 1 (sum of 12
    /// uniforms from an LCG).
    struct Noise(u64);
    impl Noise {
        fn next_uniform(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn next_normal(&mut self) -> f64 {
            (0..12).map(|_| self.next_uniform()).sum::<f64>() - 6.0
        }
        /// A Poisson count of mean `m` (normal approximation above 30, exact below).
        fn poisson(&mut self, m: f64) -> f64 {
            if m > 30.0 {
                return (m + m.sqrt() * self.next_normal()).round().max(0.0);
            }
            let (limit, mut p, mut k) = ((-m).exp(), 1.0, 0.0);
            loop {
                p *= self.next_uniform();
                if p <= limit {
                    return k;
                }
                k += 1.0;
            }
        }
    }

    #[test]
    fn immediate_return_recovers_at_once() {
        let (t, g) = series(120.0, |s| if (40.0..50.0).contains(&s) { 100.0 } else { B });
        let r = run(&t, &g, &[(40.0, 50.0)]);
        assert_eq!(r.baseline_rps, Some(B));
        assert_eq!(r.recovery_s, Some(0.0));
        assert_eq!(r.verdict, Verdict::Recovered);
        assert!(r.reason.contains("back within 5%"), "{}", r.reason);
    }

    #[test]
    fn fault_ending_mid_window_counts_from_the_next_window() {
        let (t, g) = series(120.0, |s| if (40.0..51.0).contains(&s) { 0.0 } else { B });
        let r = recovered_after(run(&t, &g, &[(40.0, 50.5)]));
        assert!((r - 0.5).abs() < 1e-9, "{r}");
    }

    #[test]
    fn linear_ramp_over_30s() {
        // Goodput climbs linearly from 0 at the fault end (50 s) to the baseline at 80 s.
        // Fine windows so the answer can be compared with the exact one: the first 10 s span
        // with mean >= 0.95 B starts at 30 - sqrt(30) ~ 24.52 s after the fault end
        // (solve ((900 - r^2) / 60 + r - 20) / 10 = 0.95): the average looks ahead.
        let w = 0.1;
        let n = 1500;
        let t = ends(n, w, 150.0);
        let g: Vec<f64> = (0..n)
            .map(|i| {
                let mid = (i as f64 + 0.5) * w;
                if mid < 40.0 {
                    B
                } else if mid < 50.0 {
                    0.0
                } else {
                    B * ((mid - 50.0) / 30.0).min(1.0)
                }
            })
            .collect();
        let r = recovery(
            &t,
            &g,
            &[],
            w,
            10.0,
            &[(40.0, 50.0)],
            RecoveryParams::default(),
        );
        let r = recovered_after(r);
        assert!((r - (30.0 - 30f64.sqrt())).abs() <= w, "{r}");

        // The same ramp in 1 s windows: within one window of the fine answer.
        let (t, g) = series(150.0, |s| {
            if (40.0..50.0).contains(&s) {
                0.0
            } else if s >= 50.0 {
                B * ((s + 0.5 - 50.0) / 30.0).min(1.0)
            } else {
                B
            }
        });
        let r = recovered_after(run(&t, &g, &[(40.0, 50.0)]));
        assert!((r - 24.52).abs() <= 1.0, "{r}");
    }

    #[test]
    fn step_return_after_30s() {
        // Goodput stays at 20% for 30 s after the fault, then returns at once. The look-ahead
        // (10 * 0.05 / 0.8 = 0.625 s) is less than a window: a span holding one window at
        // 20% averages 92%, out of band, so recovery is exactly the return.
        let (t, g) = series(150.0, |s| if (40.0..80.0).contains(&s) { 200.0 } else { B });
        let r = recovered_after(run(&t, &g, &[(40.0, 50.0)]));
        assert_eq!(r, 30.0);
    }

    #[test]
    fn never_returns_is_metastable() {
        let (t, g) = series(300.0, |s| if s >= 40.0 { 0.6 * B } else { B });
        let r = run(&t, &g, &[(40.0, 50.0)]);
        assert_metastable(&r);
        assert_eq!(r.baseline_rps, Some(B));
        assert!(
            r.reason.contains("600.0 rps") && r.reason.contains("60%"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn return_then_relapse_counts_the_later_return() {
        // Back at 60 s, collapses again at 100-130 s, back for good at 130 s.
        let (t, g) = series(200.0, |s| {
            if (40.0..60.0).contains(&s) || (100.0..130.0).contains(&s) {
                0.0
            } else {
                B
            }
        });
        assert_eq!(recovered_after(run(&t, &g, &[(40.0, 50.0)])), 80.0);
    }

    #[test]
    fn return_then_relapse_until_the_end_is_metastable() {
        let (t, g) = series(200.0, |s| {
            if (40.0..60.0).contains(&s) || s >= 100.0 {
                0.0
            } else {
                B
            }
        });
        let r = run(&t, &g, &[(40.0, 50.0)]);
        assert_metastable(&r);
        assert!(r.reason.contains("fell out again"), "{}", r.reason);
    }

    #[test]
    fn poisson_like_noise_does_not_flicker() {
        // sd 3% per window, like Poisson at 1000 successes per window; a 10 s span has
        // sd ~1%, so the 5% band sits ~5 sd out. Several noise streams, 250 s after the fault.
        for seed in 1..=20 {
            let mut noise = Noise(seed);
            let (t, g) = series(300.0, |s| {
                let level = if (40.0..50.0).contains(&s) { 0.0 } else { B };
                level * (1.0 + 0.03 * noise.next_normal())
            });
            // Single windows leave the 5% band often: a per-window rule would flicker.
            let out = g[50..]
                .iter()
                .filter(|&&x| (x / B - 1.0).abs() > 0.05)
                .count();
            assert!(out > 10, "seed {seed}: {out} windows out of band");
            let r = run(&t, &g, &[(40.0, 50.0)]);
            assert!(
                (r.baseline_rps.unwrap() / B - 1.0).abs() < 0.02,
                "seed {seed}: {r:?}"
            );
            assert_eq!(r.recovery_s, Some(0.0), "seed {seed}: {r:?}");
            assert_eq!(r.verdict, Verdict::Recovered);
        }
    }

    #[test]
    fn backlog_draining_above_baseline_is_not_recovered() {
        // After the fault goodput runs 20% above the baseline for 30 s, then settles.
        let (t, g) = series(200.0, |s| {
            if (40.0..50.0).contains(&s) {
                0.0
            } else if (50.0..80.0).contains(&s) {
                1.2 * B
            } else {
                B
            }
        });
        // The first in-band span reaches back 10 * 0.05 / 0.2 = 2.5 s into the surplus.
        let r = recovered_after(run(&t, &g, &[(40.0, 50.0)]));
        assert_eq!(r, 28.0);
    }

    #[test]
    fn ending_above_the_band_is_undetermined_not_metastable() {
        // Goodput 11% above its baseline after the fault, to the end: more load, or a backlog
        // still draining; neither a recovery to the old level nor a failure.
        let (t, g) = series(200.0, |s| {
            if s < 10.0 {
                5.0 * B
            } else if s >= 30.0 {
                B
            } else {
                0.9 * B
            }
        });
        let r = run(&t, &g, &[(30.0, 40.0)]);
        // Warm-up windows and fault-time windows carry junk that must not enter the baseline.
        assert!((r.baseline_rps.unwrap() - 0.9 * B).abs() < 1e-9);
        assert_undetermined(&r, "above the band");
    }

    #[test]
    fn horizon_too_short_after_fault_is_undetermined_with_the_horizon_it_needs() {
        // Horizon 5 s after the fault end, smoothing 10 s: no span to judge.
        let (t, g) = series(55.0, |s| if (40.0..50.0).contains(&s) { 0.0 } else { B });
        let r = run(&t, &g, &[(40.0, 50.0)]);
        assert_undetermined(&r, "run to at least 70 s");
        assert_eq!(r.baseline_rps, Some(B));
        // Exactly 10 full windows after the fault end: one span, in band: recovered.
        let (t, g) = series(60.0, |_| B);
        assert_eq!(recovered_after(run(&t, &g, &[(40.0, 50.0)])), 0.0);
        // One span out of band is not enough for `metastable`: it takes two.
        let (t, g) = series(60.0, |s| if s >= 40.0 { 0.5 * B } else { B });
        let r = run(&t, &g, &[(40.0, 50.0)]);
        assert_undetermined(&r, "two 10 s spans: run to at least 70 s");
        let (t, g) = series(70.0, |s| if s >= 40.0 { 0.5 * B } else { B });
        assert_metastable(&run(&t, &g, &[(40.0, 50.0)]));
    }

    #[test]
    fn fault_still_active_at_the_end_is_undetermined() {
        let (t, g) = series(100.0, |s| if s >= 40.0 { 0.0 } else { B });
        let r = run(&t, &g, &[(40.0, 150.0)]);
        assert_undetermined(&r, "a fault is still active when the run ends at 100.0 s");
    }

    #[test]
    fn climbing_back_slowly_is_undetermined_not_metastable() {
        // From 20% at the fault end, +2% of the baseline per 10 s: back in the band at ~420 s.
        let (t, g) = series(200.0, |s| {
            if s < 40.0 {
                B
            } else if s < 50.0 {
                0.0
            } else {
                B * (0.2 + 0.002 * (s - 50.0)).min(1.0)
            }
        });
        let r = run(&t, &g, &[(40.0, 50.0)]);
        assert_undetermined(&r, "climbing back");
        // Far enough for the climb to end: recovered.
        let (t, g) = series(700.0, |s| {
            if s < 40.0 {
                B
            } else if s < 50.0 {
                0.0
            } else {
                B * (0.2 + 0.002 * (s - 50.0)).min(1.0)
            }
        });
        let r = recovered_after(run(&t, &g, &[(40.0, 50.0)]));
        assert!((370.0..=400.0).contains(&r), "{r}");
    }

    #[test]
    fn load_that_stops_after_the_fault_is_not_metastable() {
        // The open-loop clients stop sending at 60 s: goodput falls to 0 with nothing wrong.
        let (t, g) = series(200.0, |s| if s >= 60.0 { 0.0 } else { B });
        let demand: Vec<f64> = g.clone();
        let r = recovery(
            &t,
            &g,
            &demand,
            1.0,
            10.0,
            &[(40.0, 50.0)],
            RecoveryParams::default(),
        );
        assert_undetermined(&r, "the load changed");
        // The same goodput with the demand unchanged: metastable.
        let r = recovery(
            &t,
            &g,
            &vec![B; g.len()],
            1.0,
            10.0,
            &[(40.0, 50.0)],
            RecoveryParams::default(),
        );
        assert_metastable(&r);
    }

    #[test]
    fn low_rate_run_is_undetermined_and_says_what_it_would_take() {
        // 4 rps of Poisson successes, a 400 s horizon, a fault at 200-280 s that changes
        // nothing: healthy throughout, yet no 5% band can be judged at this rate.
        for seed in 1..=10 {
            let mut noise = Noise(seed);
            let (t, g) = series(400.0, |_| noise.poisson(4.0));
            let r = run(&t, &g, &[(200.0, 280.0)]);
            assert_undetermined(
                &r,
                "successes and telling a 5% change from noise needs 10000",
            );
            assert!(
                r.reason.contains("judging recovery at") && r.reason.contains("run to at least"),
                "seed {seed}: {}",
                r.reason
            );
            let span = r.smoothing_s.unwrap();
            assert!((2000.0..3200.0).contains(&span), "seed {seed}: span {span}");
            // The same at 4 rps without a fault: no verdict on a collapse either.
            let r = run(&t, &g, &[]);
            assert_undetermined(&r, "an early baseline needs 10000");
        }
    }

    #[test]
    fn fault_before_or_at_warmup_end_has_no_baseline() {
        let (t, g) = series(120.0, |_| B);
        assert_undetermined(&run(&t, &g, &[(5.0, 20.0)]), "no baseline");
        assert_undetermined(&run(&t, &g, &[(10.0, 20.0)]), "no baseline");
        // A fault starting mid-window leaves only the windows before that one: 1000
        // successes, too few for a 5% band.
        let r = run(&t, &g, &[(11.5, 20.0)]);
        assert_undetermined(&r, "holds 1000 successes");
        assert_eq!(r.baseline_rps, Some(B));
        // Ten windows before the fault: 10,000 successes, enough.
        assert_eq!(recovered_after(run(&t, &g, &[(20.5, 30.0)])), 0.0);
    }

    #[test]
    fn no_faults_steady() {
        let (t, g) = series(120.0, |_| B);
        let r = run(&t, &g, &[]);
        assert_eq!(r.verdict, Verdict::Steady, "{r:?}");
        assert_eq!(r.baseline_rps, Some(B));
        // A fault scheduled after the series ended did not happen.
        let r = run(&t, &g, &[(120.0, 130.0)]);
        assert_eq!(r.verdict, Verdict::Steady, "{r:?}");
        assert_undetermined(&run(&[], &[], &[(40.0, 50.0)]), "no time series");
    }

    #[test]
    fn collapse_without_a_fault_is_flagged_with_when() {
        // Steady at B, then from 200 s at 20% to the end of a 400 s run.
        let (t, g) = series(400.0, |s| if s >= 200.0 { 0.2 * B } else { B });
        let r = run(&t, &g, &[]);
        assert_eq!(r.verdict, Verdict::CollapsedWithoutFault, "{r:?}");
        assert!(!r.metastable());
        // A trailing 10 s average leaves the band once 0.625 s of it is at 20%: the span
        // ending at 201 s.
        assert_eq!(r.collapsed_at_s, Some(201.0));
        assert!(
            r.reason.contains("left the 5% band") && r.reason.contains("at 201.0 s"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn collapse_before_the_first_fault_is_not_the_faults_doing() {
        let (t, g) = series(400.0, |s| if s >= 100.0 { 0.2 * B } else { B });
        let r = run(&t, &g, &[(300.0, 310.0)]);
        assert_eq!(r.verdict, Verdict::CollapsedWithoutFault, "{r:?}");
        assert!(
            r.reason.contains("before the first fault (300.0 s)"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn a_dip_that_comes_back_is_steady_and_noise_is_not_a_collapse() {
        let (t, g) = series(400.0, |s| {
            if (200.0..230.0).contains(&s) {
                0.2 * B
            } else {
                B
            }
        });
        assert_eq!(run(&t, &g, &[]).verdict, Verdict::Steady);
        for seed in 1..=20 {
            let mut noise = Noise(seed);
            let (t, g) = series(600.0, |_| noise.poisson(B));
            let r = run(&t, &g, &[]);
            assert_eq!(r.verdict, Verdict::Steady, "seed {seed}: {r:?}");
        }
    }

    #[test]
    fn collapse_too_close_to_the_end_or_climbing_back_is_undetermined() {
        // Left the band 5 s before the end: one span below it, not two.
        let (t, g) = series(400.0, |s| if s >= 395.0 { 0.2 * B } else { B });
        assert_undetermined(&run(&t, &g, &[]), "telling a slow return from none");
        // Fell to 20% at 100 s, climbing back by 2% of B per 10 s.
        let (t, g) = series(400.0, |s| {
            if s >= 100.0 {
                B * (0.2 + 0.002 * (s - 100.0))
            } else {
                B
            }
        });
        assert_undetermined(&run(&t, &g, &[]), "climbing back");
    }

    #[test]
    fn load_that_steps_down_without_a_fault_is_not_a_collapse() {
        let (t, g) = series(400.0, |s| if s >= 200.0 { 0.0 } else { B });
        let r = recovery(&t, &g, &g, 1.0, 10.0, &[], RecoveryParams::default());
        assert_undetermined(&r, "the load changed");
    }

    #[test]
    fn partial_last_window_is_ignored() {
        // The run ends at 120.3 s: the last window is 0.3 s long and its rate is junk.
        let t = ends(121, 1.0, 120.3);
        let mut g: Vec<f64> = (0..121)
            .map(|i| if (40..50).contains(&i) { 0.0 } else { B })
            .collect();
        g[120] = 3.0 * B;
        assert_eq!(recovered_after(run(&t, &g, &[(40.0, 50.0)])), 0.0);

        // Nine full windows after the fault end plus a partial one: not observable.
        let t = ends(60, 1.0, 59.5);
        assert_undetermined(&run(&t, &g[..60], &[(40.0, 50.0)]), "smoothing span");
        // Ten full windows plus a partial one: observable.
        let t = ends(61, 1.0, 60.5);
        assert_eq!(recovered_after(run(&t, &g[..61], &[(40.0, 50.0)])), 0.0);
    }

    #[test]
    fn several_faults_measure_from_the_latest_end() {
        // The first fault to start ends last; goodput is down during both.
        let (t, g) = series(200.0, |s| {
            if (30.0..90.0).contains(&s) {
                0.3 * B
            } else {
                B
            }
        });
        let faults = [(60.0, 70.0), (30.0, 90.0), (45.0, 50.0)];
        let r = run(&t, &g, &faults);
        assert_eq!(r.baseline_rps, Some(B));
        assert_eq!(r.recovery_s, Some(0.0));

        // Slow to come back after the latest end: measured from 90 s, not 70 s.
        let (t, g) = series(200.0, |s| {
            if (30.0..105.0).contains(&s) {
                0.3 * B
            } else {
                B
            }
        });
        assert_eq!(recovered_after(run(&t, &g, &faults)), 15.0);
    }

    #[test]
    fn fine_windows_round_consistently() {
        // 0.1 s windows: i * 0.1 is inexact in binary; boundaries must still land right.
        let w = 0.1;
        let n = 1200;
        let t = ends(n, w, 120.0);
        let g: Vec<f64> = (0..n)
            .map(|i| {
                let s = i as f64 * w;
                if (30.0..40.0).contains(&(s + 1e-9)) {
                    0.0
                } else {
                    B
                }
            })
            .collect();
        let r = recovery(
            &t,
            &g,
            &[],
            w,
            10.0,
            &[(30.0, 40.0)],
            RecoveryParams::default(),
        );
        assert_eq!(r.baseline_rps, Some(B));
        assert_eq!(r.recovery_s, Some(0.0));
    }

    #[test]
    fn non_finite_goodput_is_out_of_band() {
        let (t, mut g) = series(200.0, |s| if (40.0..50.0).contains(&s) { 0.0 } else { B });
        g[100] = f64::NAN;
        // Spans containing window 100 are out of band; spans from 101 on are in.
        assert_eq!(recovered_after(run(&t, &g, &[(40.0, 50.0)])), 51.0);
    }

    #[test]
    fn large_series_is_linear() {
        // 10^6 windows: a quadratic scan would not finish in test time.
        let n = 1_000_000;
        let t = ends(n, 1.0, n as f64);
        let g: Vec<f64> = (0..n)
            .map(|i| if (100..200).contains(&i) { 0.0 } else { B })
            .collect();
        assert_eq!(recovered_after(run(&t, &g, &[(100.0, 200.0)])), 0.0);
        let g: Vec<f64> = (0..n)
            .map(|i| if i >= 500_000 { 0.1 * B } else { B })
            .collect();
        assert_eq!(run(&t, &g, &[]).verdict, Verdict::CollapsedWithoutFault);
    }

    #[test]
    fn serializes_verdicts_in_snake_case() {
        let json = serde_json::to_string(&[
            Verdict::Recovered,
            Verdict::Metastable,
            Verdict::Steady,
            Verdict::CollapsedWithoutFault,
            Verdict::Undetermined,
        ])
        .unwrap();
        assert_eq!(
            json,
            r#"["recovered","metastable","steady","collapsed_without_fault","undetermined"]"#
        );
        assert_eq!(
            Verdict::CollapsedWithoutFault.to_string(),
            "collapsed without a fault"
        );
    }
}
