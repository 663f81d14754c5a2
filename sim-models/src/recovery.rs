//! Recovery time after faults (`recovery_s`, `metastable`), from a goodput time series.
//!
//! Pure numbers in, numbers out: this module depends on nothing else in sim-models.
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
//! a boundary.
//!
//! 1. **Faults.** A fault is `(start_s, end_s)`. Faults whose start is not finite or is at or
//!    after the end of the series (they did not happen within the data) are ignored; an
//!    `end_s` before `start_s` counts as `start_s`. No faults left: nothing to report
//!    (`None`).
//! 2. **Baseline.** `baseline_rps` = the mean of `goodput_rps` over the full windows lying
//!    entirely within `[warmup_s, first fault start)`. If there is no such window (the first
//!    fault starts at or before the end of warm-up, or too soon after it), or the mean is not
//!    a positive finite number, there is no baseline and recovery is undetermined (`None`).
//! 3. **Smoothing.** Per-window goodput is noisy (Poisson: at ~1000 successes per window
//!    it fluctuates ~3%), so a 5% band on single windows would flicker in and out. The band
//!    is applied to a trailing moving average over `k = ceil(smoothing_s / window_s)`
//!    windows (at least 1): the *span* ending at window `i` is the full windows
//!    `[i - k + 1, i]`, and its mean is *in band* when
//!    `|mean - baseline_rps| <= tolerance * baseline_rps`. A span containing a non-finite
//!    value is out of band.
//! 4. **Recovery.** Let `last_end` be the latest fault end (not the end of the last fault
//!    to start) and `r0` the first window starting at or after `last_end`. Goodput has
//!    *recovered from window `r`* (`r >= r0`) when every span made only of windows at index
//!    `>= r` (spans `[i - k + 1, i]` with `i - k + 1 >= r` and `i` up to the last full
//!    window) is in band, and there is at least one such span. The earliest such `r` wins:
//!    `recovery_s = r * window_s - last_end` (`>= 0`), `metastable = false`. A return into
//!    the band that is lost again before the end of the series does not count: only a
//!    return that lasts to the end of the series does.
//! 5. **Not recovered.** If no `r` qualifies, `recovery_s = None` and `metastable = true`:
//!    goodput was not back within the band, to stay, within the horizon. The series cannot
//!    tell a metastable failure from a recovery slower than the horizon, nor from a fault
//!    still active when the run ended; all three read as `metastable`.
//!
//! A horizon must extend at least `smoothing_s` (k full windows) past the last fault end for
//! a recovery to be observable at all: with fewer full windows after `last_end` there is no
//! span to judge, and the answer is `metastable`.
//!
//! Consequences worth knowing when quoting the number:
//! - The smoothing only tames noise if a span holds enough successes. Poisson noise on a
//!   span mean is about `1 / sqrt(baseline_rps * smoothing_s)` of the baseline (1% at
//!   1000 rps over 10 s, 3% at 100 rps); since the band must hold for every span to the end
//!   of the series, the span is lengthened until the band is five times that noise
//!   (`smoothing_s >= 25 / (tolerance² x baseline_rps)`), or noise alone would delay
//!   recovery or read as `metastable`. The span used is reported.
//! - Goodput *above* the band (a backlog draining after the fault) is not recovered:
//!   recovery counts from when goodput is back within the band on both sides.
//! - `recovery_s` is the start of the first span of a run of in-band spans, so it looks
//!   ahead by up to one smoothing span: an abrupt return from a deficit `d` (a fraction of
//!   the baseline) is reported about `smoothing_s * tolerance / d` early (0.5 s for a full
//!   outage with the defaults), and a linear ramp from 0 to the baseline over 30 s reads as
//!   ~24.5 s. Its resolution is one window.
//!
//! Cost: O(n) time and memory in the number of windows.

use serde::{Deserialize, Serialize};

/// How goodput recovered after the faults of a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// Mean goodput over the full windows in `[warmup_s, first fault start)`.
    pub baseline_rps: f64,
    /// Seconds from the latest fault end to the start of the window from which the smoothed
    /// goodput stays within the band; `None` when that does not happen within the horizon.
    pub recovery_s: Option<f64>,
    /// Goodput did not return to the band, to stay, within the horizon.
    pub metastable: bool,
    /// The moving-average span actually used, seconds (see [`RecoveryParams::smoothing_s`]).
    pub smoothing_s: f64,
}

/// The knobs of the definition (see the module doc). Both must be finite and non-negative.
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

/// Recovery after `faults` of the goodput series `goodput_rps` (window `i` ends at
/// `t_end_s[i]`), as defined in the module doc. `None` when there is nothing to report: no
/// fault within the series, no baseline, or `window_s` not a positive finite number.
///
/// # Panics
///
/// If `t_end_s` and `goodput_rps` differ in length.
pub fn recovery(
    t_end_s: &[f64],
    goodput_rps: &[f64],
    window_s: f64,
    warmup_s: f64,
    faults: &[(f64, f64)],
    params: RecoveryParams,
) -> Option<Recovery> {
    assert_eq!(
        t_end_s.len(),
        goodput_rps.len(),
        "one window end per goodput value"
    );
    if !(window_s.is_finite() && window_s > 0.0) {
        return None;
    }
    let slack = window_s * 1e-6;
    let series_end = *t_end_s.last()?;

    // 1. Faults that happened within the data: the first start and the latest end.
    let mut first_start = f64::INFINITY;
    let mut last_end = f64::NEG_INFINITY;
    for &(start, end) in faults {
        if start.is_finite() && start < series_end {
            first_start = first_start.min(start);
            last_end = last_end.max(end.max(start));
        }
    }
    if first_start == f64::INFINITY {
        return None;
    }

    // Full windows: the leading windows that span their whole width.
    let n_full = t_end_s
        .iter()
        .enumerate()
        .take_while(|&(i, &end)| end >= (i + 1) as f64 * window_s - slack)
        .count();

    // 2. Baseline over windows [b0, b1): start >= warmup_s and end <= first_start.
    let b0 = ceil_index(warmup_s / window_s - 1e-6);
    let b1 = floor_index(first_start / window_s + 1e-6).min(n_full);
    if b0 >= b1 {
        return None;
    }
    let base = &goodput_rps[b0..b1];
    let baseline = base.iter().sum::<f64>() / base.len() as f64;
    if !(baseline.is_finite() && baseline > 0.0) {
        return None;
    }

    // 3. and 4. Spans of k windows, all within [r0, n_full).
    let noise_floor_s = 25.0 / (params.tolerance.powi(2) * baseline);
    let smoothing_s = if noise_floor_s.is_finite() {
        params.smoothing_s.max(noise_floor_s)
    } else {
        params.smoothing_s
    };
    let k = ceil_index(smoothing_s / window_s - 1e-6).max(1);
    let r0 = ceil_index(last_end / window_s - 1e-6);
    let smoothing_s = k as f64 * window_s;
    let not_recovered = Recovery {
        baseline_rps: baseline,
        recovery_s: None,
        metastable: true,
        smoothing_s,
    };
    if r0 >= n_full || n_full - r0 < k {
        return Some(not_recovered);
    }
    let after = &goodput_rps[r0..n_full];
    // Prefix sums of the finite values and prefix counts of the non-finite ones.
    let mut sum = Vec::with_capacity(after.len() + 1);
    let mut bad = Vec::with_capacity(after.len() + 1);
    sum.push(0.0_f64);
    bad.push(0_usize);
    for &x in after {
        let (s, b) = (sum[sum.len() - 1], bad[bad.len() - 1]);
        if x.is_finite() {
            sum.push(s + x);
            bad.push(b);
        } else {
            sum.push(s);
            bad.push(b + 1);
        }
    }
    let band = params.tolerance * baseline;
    let in_band = |end: usize| {
        // The span of `after` ending at index `end` (inclusive).
        let start = end + 1 - k;
        bad[end + 1] == bad[start]
            && ((sum[end + 1] - sum[start]) / k as f64 - baseline).abs() <= band
    };
    // The last span out of band: every span ending after it is in band, so the earliest
    // qualifying start is the first one that leaves it out.
    let last_out = (k - 1..after.len()).rev().find(|&end| !in_band(end));
    let r = match last_out {
        None => 0,
        Some(end) => end + 2 - k,
    };
    if r + k > after.len() {
        return Some(not_recovered);
    }
    let start_s = (r0 + r) as f64 * window_s;
    Some(Recovery {
        baseline_rps: baseline,
        recovery_s: Some((start_s - last_end).max(0.0)),
        metastable: false,
        smoothing_s,
    })
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

    fn run(t: &[f64], g: &[f64], faults: &[(f64, f64)]) -> Option<Recovery> {
        recovery(t, g, 1.0, 10.0, faults, RecoveryParams::default())
    }

    fn recovered_after(r: Option<Recovery>) -> f64 {
        let r = r.expect("a report");
        assert!(!r.metastable, "{r:?}");
        r.recovery_s.expect("recovered")
    }

    fn assert_metastable(r: Option<Recovery>) {
        let r = r.expect("a report");
        assert!(r.metastable, "{r:?}");
        assert_eq!(r.recovery_s, None);
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
    }

    #[test]
    fn immediate_return_recovers_at_once() {
        let (t, g) = series(120.0, |s| if (40.0..50.0).contains(&s) { 100.0 } else { B });
        let r = run(&t, &g, &[(40.0, 50.0)]).unwrap();
        assert_eq!(r.baseline_rps, B);
        assert_eq!(r.recovery_s, Some(0.0));
        assert!(!r.metastable);
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
        let r = recovery(&t, &g, w, 10.0, &[(40.0, 50.0)], RecoveryParams::default());
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
        assert_metastable(r);
        assert_eq!(r.unwrap().baseline_rps, B);
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
        assert_metastable(run(&t, &g, &[(40.0, 50.0)]));
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
            let r = run(&t, &g, &[(40.0, 50.0)]).unwrap();
            assert!(
                (r.baseline_rps / B - 1.0).abs() < 0.02,
                "seed {seed}: {r:?}"
            );
            assert_eq!(r.recovery_s, Some(0.0), "seed {seed}: {r:?}");
            assert!(!r.metastable);
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
    fn horizon_too_short_after_fault_is_metastable() {
        // Horizon 5 s after the fault end, smoothing 10 s: no span to judge.
        let (t, g) = series(55.0, |_| B);
        assert_metastable(run(&t, &g, &[(40.0, 50.0)]));
        // Exactly 10 full windows after the fault end: one span, observable.
        let (t, g) = series(60.0, |_| B);
        assert_eq!(recovered_after(run(&t, &g, &[(40.0, 50.0)])), 0.0);
    }

    #[test]
    fn fault_before_or_at_warmup_end_has_no_baseline() {
        let (t, g) = series(120.0, |_| B);
        assert_eq!(run(&t, &g, &[(5.0, 20.0)]), None);
        assert_eq!(run(&t, &g, &[(10.0, 20.0)]), None);
        // A fault starting mid-window leaves only the windows before that one.
        let r = run(&t, &g, &[(11.5, 20.0)]).unwrap();
        assert_eq!(r.baseline_rps, B);
        assert_eq!(r.recovery_s, Some(0.0));
    }

    #[test]
    fn baseline_uses_only_warmed_up_windows_before_the_first_fault() {
        // Warm-up windows and fault-time windows carry junk that must not enter the baseline.
        let (t, g) = series(120.0, |s| {
            if s < 10.0 {
                5.0 * B
            } else if s >= 30.0 {
                B
            } else {
                0.9 * B
            }
        });
        let r = run(&t, &g, &[(30.0, 40.0)]).unwrap();
        assert!((r.baseline_rps - 0.9 * B).abs() < 1e-9);
        // Goodput at 100/90 of the baseline after the fault is out of the 5% band.
        assert!(r.metastable);
    }

    #[test]
    fn no_faults_nothing_to_report() {
        let (t, g) = series(120.0, |_| B);
        assert_eq!(run(&t, &g, &[]), None);
        // A fault scheduled after the series ended did not happen.
        assert_eq!(run(&t, &g, &[(120.0, 130.0)]), None);
        assert_eq!(run(&[], &[], &[(40.0, 50.0)]), None);
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
        let r = run(&t, &g, &faults).unwrap();
        assert_eq!(r.baseline_rps, B);
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
        assert_metastable(run(&t, &g[..60], &[(40.0, 50.0)]));
        // Ten full windows plus a partial one: observable.
        let t = ends(61, 1.0, 60.5);
        assert_eq!(recovered_after(run(&t, &g[..61], &[(40.0, 50.0)])), 0.0);
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
        let r = recovery(&t, &g, w, 10.0, &[(30.0, 40.0)], RecoveryParams::default()).unwrap();
        assert_eq!(r.baseline_rps, B);
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
    }

    #[test]
    fn serializes_null_when_not_recovered() {
        let r = Recovery {
            baseline_rps: 1000.0,
            smoothing_s: 10.0,
            recovery_s: None,
            metastable: true,
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"baseline_rps":1000.0,"recovery_s":null,"metastable":true,"smoothing_s":10.0}"#
        );
        assert_eq!(serde_json::from_str::<Recovery>(&json).unwrap(), r);
    }
}
