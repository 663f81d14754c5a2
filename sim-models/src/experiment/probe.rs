//! A probe's value in one run, read from the run's time series over the probe's window.
//!
//! A series window `(t - w, t]` belongs to a probe window `[from, to]` when it lies inside
//! it. Requests count in the window in which they finished (as the series counts them).
//! A value that cannot be computed (no finished request, no success, no traffic in the
//! window; a recovery verdict that cannot tell) is an `Err` with the reason: the probe is
//! then undetermined on that seed, never guessed.

use super::{Metric, Probe};
use crate::recovery::Verdict;
use crate::result::RunResult;

/// The value of `probe` over `window` (`(from_s, to_s)`) in run `r`.
pub fn value(probe: &Probe, window: (f64, f64), r: &RunResult) -> Result<f64, String> {
    let s = &r.series;
    let eps = 1e-9;
    let idx: Vec<usize> = (0..s.t_s.len())
        .filter(|&i| s.t_s[i] - s.window_s >= window.0 - eps && s.t_s[i] <= window.1 + eps)
        .collect();
    let (Some(&first), Some(&last)) = (idx.first(), idx.last()) else {
        return Err(format!(
            "no series window lies within {:.1} s to {:.1} s (the run ended at {:.1} s)",
            window.0, window.1, r.simulated_s
        ));
    };
    let span_s = s.t_s[last] - (s.t_s[first] - s.window_s);
    let sum = |v: &[u64]| idx.iter().map(|&i| v[i]).sum::<u64>();
    let client = |name: &str| {
        s.clients
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("the run has no client `{name}`"))
    };
    match &probe.metric {
        Metric::Availability => {
            let (ok, finished) = match &probe.of {
                None => {
                    let ok = sum(&s.succeeded);
                    (ok, ok + sum(&s.failed) + sum(&s.degraded))
                }
                // A client's good and bad requests are its finished ones.
                Some(c) => {
                    let c = client(c)?;
                    (sum(&c.succeeded), sum(&c.good) + sum(&c.bad))
                }
            };
            if finished == 0 {
                return Err("no request finished in the window".into());
            }
            Ok(ok as f64 / finished as f64)
        }
        Metric::Goodput => {
            let ok = match &probe.of {
                None => sum(&s.succeeded),
                Some(c) => sum(&client(c)?.succeeded),
            };
            Ok(ok as f64 / span_s)
        }
        Metric::P99 => idx
            .iter()
            .filter(|&&i| s.succeeded[i] > 0)
            .map(|&i| s.latency_p99_ms[i])
            .reduce(f64::max)
            .ok_or_else(|| "no successful request in the window".into()),
        Metric::QueueDepth => {
            let of = |name: &str| match &probe.of {
                None => true,
                Some(g) => name == g || name.rsplit_once('#').is_some_and(|(base, _)| base == g),
            };
            s.services
                .iter()
                .filter(|x| of(&x.name))
                .flat_map(|x| idx.iter().map(|&i| x.queue_depth_max[i]))
                .max()
                .map(|q| q as f64)
                .ok_or_else(|| "no service to read a queue from".into())
        }
        Metric::RetryAmplification => idx
            .iter()
            .filter(|&&i| s.offered[i] > 0)
            .map(|&i| s.retry_amplification[i])
            .reduce(f64::max)
            .ok_or_else(|| "no request offered in the window".into()),
        Metric::Duplicates => Ok(r.duplicate_side_effects as f64),
        Metric::Registry(name) => crate::metric::MetricRef::parse(name)?
            .read(r)
            .ok_or_else(|| format!("the run has no value for `{name}`")),
        Metric::RecoveryTime => match (r.recovery_verdict, r.recovery_s) {
            (Verdict::Recovered, Some(x)) => Ok(x),
            (Verdict::Metastable, _) => Ok(f64::INFINITY),
            (_, _) => Err(format!(
                "recovery {}: {}",
                r.recovery_verdict, r.recovery_reason
            )),
        },
    }
}
