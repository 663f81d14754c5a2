//! `--series`: the time-series resolution of what simctl writes (JSON on stdout,
//! summary.json, results.json). The run itself, its verdicts and its charts always use the
//! scenario's own `window`; only the saved series is thinned, so a 3-day run at 1 s windows
//! need not write 259,200 rows.
//!
//! Coarser windows are exact for counts (summed), rates (recomputed from the sums) and time
//! averages (weighted by window length); `queue_depth_max` and `faults_active` take the
//! maximum. Latency percentiles do not add up: a coarse window shows the highest
//! percentile of the windows it covers (an upper bound), and README says so.

use std::str::FromStr;

use sim_core::SimDuration;
use sim_models::result::{FailedSeries, Series};

/// What the saved series holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesOut {
    /// Every window of the run.
    Full,
    /// No series at all (the summary only).
    None,
    /// Windows of this length, a whole multiple of the scenario's window.
    Every(SimDuration),
}

impl FromStr for SeriesOut {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "full" => Ok(SeriesOut::Full),
            "none" => Ok(SeriesOut::None),
            _ => match text.parse::<SimDuration>() {
                Ok(d) if !d.is_zero() => Ok(SeriesOut::Every(d)),
                Ok(_) => Err("a series window must be longer than 0s".into()),
                Err(e) => Err(format!(
                    "expected `full`, `none` or a window such as `60s` ({e})"
                )),
            },
        }
    }
}

impl SeriesOut {
    /// Checks the choice against a scenario's window, before anything runs.
    pub fn check(self, window: SimDuration) -> Result<(), String> {
        match self {
            SeriesOut::Every(w) if !w.as_nanos().is_multiple_of(window.as_nanos()) => Err(format!(
                "--series {w}: must be a whole multiple of the scenario's window ({window})"
            )),
            _ => Ok(()),
        }
    }

    /// Runs `f` on `result` with its series at this resolution, then puts the full series
    /// back (swapped, not cloned: a long run's series is the bulk of its memory).
    pub fn with<T>(
        self,
        result: &mut sim_models::RunResult,
        window: SimDuration,
        f: impl FnOnce(&sim_models::RunResult) -> T,
    ) -> T {
        if self == SeriesOut::Full {
            return f(result);
        }
        let full = std::mem::take(&mut result.series);
        result.series = self.apply(&full, window).into();
        let out = f(result);
        result.series = full;
        out
    }

    /// `series` at this resolution (`window` is the scenario's).
    pub fn apply(self, series: &Series, window: SimDuration) -> Series {
        match self {
            SeriesOut::Full => series.clone(),
            SeriesOut::None => Series {
                window_s: series.window_s,
                ..Default::default()
            },
            SeriesOut::Every(w) => {
                let k = (w.as_nanos() / window.as_nanos().max(1)).max(1) as usize;
                coarsen(series, k, w)
            }
        }
    }
}

/// Groups of `k` consecutive windows as one (the last group may be shorter).
fn coarsen(s: &Series, k: usize, width: SimDuration) -> Series {
    let n = s.t_s.len();
    let groups: Vec<std::ops::Range<usize>> =
        (0..n).step_by(k).map(|a| a..(a + k).min(n)).collect();
    // Each fine window's length: from the previous window's end (0 for the first).
    let len: Vec<f64> = (0..n)
        .map(|i| s.t_s[i] - if i == 0 { 0.0 } else { s.t_s[i - 1] })
        .collect();
    let sum =
        |v: &[u64]| -> Vec<u64> { groups.iter().map(|g| v[g.clone()].iter().sum()).collect() };
    let max_f = |v: &[f64]| -> Vec<f64> {
        groups
            .iter()
            .map(|g| v[g.clone()].iter().copied().fold(0.0, f64::max))
            .collect()
    };
    let time_mean = |v: &[f64]| -> Vec<f64> {
        groups
            .iter()
            .map(|g| {
                let span: f64 = len[g.clone()].iter().sum();
                let area: f64 = g.clone().map(|i| v[i] * len[i]).sum();
                if span > 0.0 { area / span } else { 0.0 }
            })
            .collect()
    };
    let span: Vec<f64> = groups.iter().map(|g| len[g.clone()].iter().sum()).collect();
    let succeeded = sum(&s.succeeded);
    let attempts = sum(&s.attempts);
    // Amplification is attempts / expected per window: add up what each window expected.
    let retry_amplification = groups
        .iter()
        .zip(&attempts)
        .map(|(g, &a)| {
            let expected: f64 = g
                .clone()
                .filter(|&i| s.retry_amplification[i] > 0.0)
                .map(|i| s.attempts[i] as f64 / s.retry_amplification[i])
                .sum();
            if expected > 0.0 {
                a as f64 / expected
            } else {
                0.0
            }
        })
        .collect();
    Series {
        window_s: width.as_secs_f64(),
        t_s: groups.iter().map(|g| s.t_s[g.end - 1]).collect(),
        offered: sum(&s.offered),
        goodput_rps: succeeded
            .iter()
            .zip(&span)
            .map(|(&n, &t)| if t > 0.0 { n as f64 / t } else { 0.0 })
            .collect(),
        succeeded,
        failed: sum(&s.failed),
        failed_by_reason: FailedSeries {
            timeout: sum(&s.failed_by_reason.timeout),
            rejected: sum(&s.failed_by_reason.rejected),
            error: sum(&s.failed_by_reason.error),
            circuit_open: sum(&s.failed_by_reason.circuit_open),
        },
        degraded: sum(&s.degraded),
        latency_p50_ms: max_f(&s.latency_p50_ms),
        latency_p99_ms: max_f(&s.latency_p99_ms),
        latency_p999_ms: max_f(&s.latency_p999_ms),
        attempts,
        retry_amplification,
        faults_active: groups
            .iter()
            .map(|g| {
                s.faults_active[g.clone()]
                    .iter()
                    .copied()
                    .max()
                    .unwrap_or(0)
            })
            .collect(),
        slow: sum(&s.slow),
        clients: s
            .clients
            .iter()
            .map(|c| sim_models::result::ClientSeries {
                name: c.name.clone(),
                offered: sum(&c.offered),
                succeeded: sum(&c.succeeded),
                good: sum(&c.good),
                bad: sum(&c.bad),
            })
            .collect(),
        services: s
            .services
            .iter()
            .map(|x| sim_models::result::ServiceSeries {
                name: x.name.clone(),
                attempts: sum(&x.attempts),
                dropped: sum(&x.dropped),
                queue_depth_mean: time_mean(&x.queue_depth_mean),
                queue_depth_max: groups
                    .iter()
                    .map(|g| {
                        x.queue_depth_max[g.clone()]
                            .iter()
                            .copied()
                            .max()
                            .unwrap_or(0)
                    })
                    .collect(),
                utilization: time_mean(&x.utilization),
                rejected: sum(&x.rejected),
            })
            .collect(),
        caches: s
            .caches
            .iter()
            .map(|x| {
                let (lookups, hits, fetches) =
                    (sum(&x.lookups), sum(&x.hits), sum(&x.backend_fetches));
                sim_models::result::CacheSeries {
                    name: x.name.clone(),
                    hit_ratio: hits
                        .iter()
                        .zip(&lookups)
                        .map(|(&h, &n)| if n > 0 { h as f64 / n as f64 } else { 0.0 })
                        .collect(),
                    backend_rps: fetches
                        .iter()
                        .zip(&span)
                        .map(|(&n, &t)| if t > 0.0 { n as f64 / t } else { 0.0 })
                        .collect(),
                    lookups,
                    hits,
                    backend_fetches: fetches,
                    coalesced: sum(&x.coalesced),
                }
            })
            .collect(),
        latency_cdf: s.latency_cdf.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fine() -> Series {
        Series {
            window_s: 1.0,
            t_s: vec![1.0, 2.0, 3.0, 4.0, 5.0],
            offered: vec![10, 10, 10, 10, 10],
            succeeded: vec![10, 8, 6, 10, 10],
            failed: vec![0, 2, 4, 0, 0],
            failed_by_reason: FailedSeries {
                timeout: vec![0, 2, 3, 0, 0],
                rejected: vec![0, 0, 1, 0, 0],
                error: vec![0; 5],
                circuit_open: vec![0; 5],
            },
            degraded: vec![0; 5],
            goodput_rps: vec![10.0, 8.0, 6.0, 10.0, 10.0],
            latency_p50_ms: vec![1.0, 2.0, 3.0, 1.0, 1.0],
            latency_p99_ms: vec![5.0, 9.0, 7.0, 5.0, 5.0],
            latency_p999_ms: vec![5.0, 9.0, 7.0, 5.0, 5.0],
            attempts: vec![10, 20, 10, 10, 10],
            retry_amplification: vec![1.0, 2.0, 1.0, 1.0, 1.0],
            faults_active: vec![0, 1, 0, 0, 0],
            slow: vec![0, 1, 1, 0, 0],
            clients: vec![],
            services: vec![sim_models::result::ServiceSeries {
                name: "s".into(),
                attempts: vec![10, 20, 10, 10, 10],
                dropped: vec![0; 5],
                queue_depth_mean: vec![0.0, 4.0, 2.0, 0.0, 0.0],
                queue_depth_max: vec![0, 9, 3, 0, 0],
                utilization: vec![0.5, 1.0, 0.6, 0.5, 0.5],
                rejected: vec![0; 5],
            }],
            caches: Vec::new(),
            latency_cdf: vec![(0.5, 1.0)],
        }
    }

    #[test]
    fn coarser_windows_sum_counts_and_average_levels() {
        let c =
            SeriesOut::Every(SimDuration::from_secs(2)).apply(&fine(), SimDuration::from_secs(1));
        assert_eq!(c.window_s, 2.0);
        assert_eq!(c.t_s, vec![2.0, 4.0, 5.0]);
        assert_eq!(c.succeeded, vec![18, 16, 10]);
        assert_eq!(c.goodput_rps, vec![9.0, 8.0, 10.0]);
        assert_eq!(c.attempts, vec![30, 20, 10]);
        // Expected 10 + 10 = 20 attempts in the first pair: 30 / 20.
        assert_eq!(c.retry_amplification, vec![1.5, 1.0, 1.0]);
        assert_eq!(c.latency_p99_ms, vec![9.0, 7.0, 5.0]);
        assert_eq!(c.faults_active, vec![1, 0, 0]);
        assert_eq!(c.failed_by_reason.timeout, vec![2, 3, 0]);
        assert_eq!(c.failed_by_reason.rejected, vec![0, 1, 0]);
        let s = &c.services[0];
        assert_eq!(s.queue_depth_mean, vec![2.0, 1.0, 0.0]);
        assert_eq!(s.queue_depth_max, vec![9, 3, 0]);
        assert_eq!(s.utilization, vec![0.75, 0.55, 0.5]);
        // Totals are unchanged by the resolution.
        assert_eq!(
            c.offered.iter().sum::<u64>(),
            fine().offered.iter().sum::<u64>()
        );
    }

    #[test]
    fn none_keeps_no_windows_and_full_keeps_them_all() {
        let w = SimDuration::from_secs(1);
        assert!(SeriesOut::None.apply(&fine(), w).t_s.is_empty());
        assert_eq!(SeriesOut::Full.apply(&fine(), w), fine());
    }

    #[test]
    fn the_choice_is_parsed_and_checked_against_the_window() {
        assert_eq!("none".parse(), Ok(SeriesOut::None));
        assert_eq!(
            "1m".parse(),
            Ok(SeriesOut::Every(SimDuration::from_secs(60)))
        );
        assert!("0s".parse::<SeriesOut>().is_err());
        assert!("sometimes".parse::<SeriesOut>().is_err());
        let every = |ms| SeriesOut::Every(SimDuration::from_millis(ms));
        assert!(every(1500).check(SimDuration::from_secs(1)).is_err());
        assert!(every(3000).check(SimDuration::from_secs(1)).is_ok());
    }
}
