//! The verdict of an experiment from its control and experiment runs (see the module doc of
//! [`super`] for the rule), with the statistics behind it: per probe, the paired difference
//! experiment - control over the seeds with a Student-t 95% interval, and the deviation rate
//! with a Wilson 95% interval.

use serde::{Deserialize, Serialize};

use super::plan::Plan;
use super::{Experiment, Metric, Tolerance, probe};
use crate::result::RunResult;

/// The normal quantile for a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Held,
    Deviated,
    Aborted,
    Undetermined,
}

impl Verdict {
    /// simctl's exit code for it: 0 held, 3 deviated, 4 aborted, 5 undetermined.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Held => 0,
            Verdict::Deviated => 3,
            Verdict::Aborted => 4,
            Verdict::Undetermined => 5,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Held => "held",
            Verdict::Deviated => "deviated",
            Verdict::Aborted => "aborted",
            Verdict::Undetermined => "undetermined",
        })
    }
}

/// An estimate with a 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// The Wilson score interval (95%) for `k` successes in `n` trials; `None` for `n = 0`.
pub fn wilson(k: u64, n: u64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some(Interval {
        estimate: p,
        low: (center - half).max(0.0),
        high: (center + half).min(1.0),
    })
}

/// The mean of paired differences with its Student-t 95% interval (n - 1 degrees of
/// freedom); `None` with fewer than two pairs (no spread to judge by).
pub fn paired_difference(diffs: &[f64]) -> Option<Interval> {
    if diffs.len() < 2 {
        return None;
    }
    let ci = sim_core::stats::mean_ci(diffs, 0.95);
    Some(Interval {
        estimate: ci.mean,
        low: ci.low(),
        high: ci.high(),
    })
}

/// One probe over every seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeOutcome {
    pub name: String,
    pub metric: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub of: Option<String>,
    /// The stretch read, virtual seconds.
    pub from_s: f64,
    pub to_s: f64,
    pub tolerance: String,
    /// Per seed (in the order of `seeds`): the control's and the experiment's value
    /// (`null` where it could not be computed, or is infinite: never recovered).
    pub control: Vec<Option<f64>>,
    pub experiment: Vec<Option<f64>>,
    /// Seeds on which the experiment broke the tolerance.
    pub deviated_seeds: Vec<u64>,
    /// Seeds on which the experiment's value could be judged.
    pub evaluated: u64,
    /// Seeds on which the control itself broke an absolute tolerance.
    pub control_breached_seeds: Vec<u64>,
    /// Seeds on which a value could not be computed, and why.
    pub unevaluable: Vec<(u64, String)>,
    /// Deviations over evaluated seeds, Wilson 95%.
    pub deviation_rate: Option<Interval>,
    /// Experiment - control, mean over the seeds with both values finite, t 95%.
    pub difference: Option<Interval>,
}

/// A stop condition that ended the method on one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Abort {
    pub seed: u64,
    pub stop: String,
    pub at_s: f64,
    pub cause: String,
}

/// The experiment's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub experiment: String,
    pub scenario: String,
    pub scenario_hash: String,
    pub seeds: Vec<u64>,
    pub method: Vec<String>,
    pub method_start_s: f64,
    pub method_end_s: f64,
    pub verdict: Verdict,
    /// Why, in words.
    pub reason: String,
    pub probes: Vec<ProbeOutcome>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub aborts: Vec<Abort>,
    /// Findings read from the runs' metrics, experiment against control (see [`learning`]).
    pub learning: Vec<String>,
}

fn breaks(tolerance: Tolerance, metric: &Metric, value: f64, control: Option<f64>) -> Option<bool> {
    Some(match tolerance {
        Tolerance::AtLeast(x) => value < x,
        Tolerance::AtMost(x) => value > x,
        Tolerance::Between(lo, hi) => !(lo..=hi).contains(&value),
        Tolerance::WithinControl(frac) => {
            let c = control?;
            let slack = frac * c.abs();
            match metric.higher_is_better() {
                Some(true) => value < c - slack,
                Some(false) => value > c + slack,
                None => (value - c).abs() > slack,
            }
        }
    })
}

fn show_tolerance(t: Tolerance) -> String {
    match t {
        Tolerance::AtLeast(x) => format!(">= {x}"),
        Tolerance::AtMost(x) => format!("<= {x}"),
        Tolerance::Between(a, b) => format!("in [{a}, {b}]"),
        Tolerance::WithinControl(f) => format!("within {}% of control", f * 100.0),
    }
}

/// Judges the runs: `control[i]` and `treatment[i]` ran on `plan.seeds[i]`.
///
/// # Panics
///
/// If the run lists do not match the plan's seeds.
pub fn evaluate(
    exp: &Experiment,
    plan: &Plan,
    control: &[RunResult],
    treatment: &[RunResult],
) -> Outcome {
    assert_eq!(control.len(), plan.seeds.len(), "one control run per seed");
    assert_eq!(
        treatment.len(),
        plan.seeds.len(),
        "one experiment run per seed"
    );
    let seeds = &plan.seeds;
    let probes: Vec<ProbeOutcome> = exp
        .hypothesis
        .iter()
        .zip(&plan.windows)
        .map(|(p, &window)| {
            let mut out = ProbeOutcome {
                name: p.name.clone(),
                metric: p.metric.name().into(),
                of: p.of.clone(),
                from_s: window.0,
                to_s: window.1,
                tolerance: show_tolerance(p.tolerance),
                control: Vec::new(),
                experiment: Vec::new(),
                deviated_seeds: Vec::new(),
                evaluated: 0,
                control_breached_seeds: Vec::new(),
                unevaluable: Vec::new(),
                deviation_rate: None,
                difference: None,
            };
            let mut diffs = Vec::new();
            for ((&seed, c), t) in seeds.iter().zip(control).zip(treatment) {
                let cv = probe::value(p, window, c);
                let tv = probe::value(p, window, t);
                let finite =
                    |v: &Result<f64, String>| v.as_ref().ok().copied().filter(|x| x.is_finite());
                out.control.push(finite(&cv));
                out.experiment.push(finite(&tv));
                // The steady state must hold without the injection (recovery has nothing to
                // recover from in a control without faults, so it is not asked there).
                let absolute = !matches!(p.tolerance, Tolerance::WithinControl(_));
                if absolute && p.metric != Metric::RecoveryTime {
                    match &cv {
                        Ok(v) if breaks(p.tolerance, &p.metric, *v, None) == Some(true) => {
                            out.control_breached_seeds.push(seed)
                        }
                        Ok(_) => {}
                        Err(why) => out.unevaluable.push((seed, format!("control: {why}"))),
                    }
                }
                let needs_control = !absolute;
                match (&tv, &cv) {
                    (Err(why), _) => out.unevaluable.push((seed, format!("experiment: {why}"))),
                    (Ok(_), Err(why)) if needs_control => {
                        out.unevaluable.push((seed, format!("control: {why}")))
                    }
                    (Ok(v), c) => {
                        out.evaluated += 1;
                        if breaks(p.tolerance, &p.metric, *v, c.as_ref().ok().copied())
                            == Some(true)
                        {
                            out.deviated_seeds.push(seed);
                        }
                    }
                }
                if let (Ok(a), Ok(b)) = (&tv, &cv)
                    && a.is_finite()
                    && b.is_finite()
                {
                    diffs.push(a - b);
                }
            }
            out.deviation_rate = wilson(out.deviated_seeds.len() as u64, out.evaluated);
            out.difference = paired_difference(&diffs);
            out
        })
        .collect();

    let aborts: Vec<Abort> = seeds
        .iter()
        .zip(treatment)
        .flat_map(|(&seed, t)| {
            t.actions
                .iter()
                .filter(|a| plan.stops.contains(&a.rule))
                .map(move |a| Abort {
                    seed,
                    stop: a.rule.clone(),
                    at_s: a.start_s,
                    cause: a.cause.clone(),
                })
        })
        .collect();

    let (verdict, reason) = judge(seeds, control, treatment, &probes, &aborts);
    let learning = learning(&probes, control, treatment);
    Outcome {
        experiment: exp.name.clone(),
        scenario: plan.control.name.clone(),
        scenario_hash: plan.control.hash(),
        seeds: seeds.clone(),
        method: plan.method.clone(),
        method_start_s: plan.method_s.0,
        method_end_s: plan.method_s.1,
        verdict,
        reason,
        probes,
        aborts,
        learning,
    }
}

/// Findings from the metrics, each with its numbers (means over the seeds, experiment
/// against control): the probes that broke, then what the experiment runs show that the
/// controls do not (retry amplification, wasted work, recovery, breakers, duplicates).
pub fn learning(
    probes: &[ProbeOutcome],
    control: &[RunResult],
    treatment: &[RunResult],
) -> Vec<String> {
    let mut out = Vec::new();
    let n = treatment.len();
    let mean = |v: &[Option<f64>]| {
        let f: Vec<f64> = v.iter().flatten().copied().collect();
        (!f.is_empty()).then(|| f.iter().sum::<f64>() / f.len() as f64)
    };
    let show = |x: Option<f64>| x.map_or("n/a".to_string(), |x| format!("{x:.4}"));
    for p in probes.iter().filter(|p| !p.deviated_seeds.is_empty()) {
        // A recovery time is missing where the run never recovered (or had nothing to
        // recover from, in a control without faults).
        let show = |x: Option<f64>| match x {
            None if p.metric == "recovery_s" => "none (never recovered, or no fault)".to_string(),
            x => show(x),
        };
        out.push(format!(
            "`{}` broke its tolerance ({}) on {} of {} seeds: {} {} in the experiment against {} in the control ({:.0} s to {:.0} s)",
            p.name,
            p.tolerance,
            p.deviated_seeds.len(),
            p.evaluated,
            p.metric,
            show(mean(&p.experiment)),
            show(mean(&p.control)),
            p.from_s,
            p.to_s
        ));
    }
    if n == 0 {
        return out;
    }
    let avg = |runs: &[RunResult], f: fn(&RunResult) -> f64| {
        runs.iter().map(f).sum::<f64>() / runs.len() as f64
    };
    let (ca, ta) = (
        avg(control, |r| r.retry_amplification_peak),
        avg(treatment, |r| r.retry_amplification_peak),
    );
    if ta >= 1.5 && ta > 1.2 * ca {
        let retries = avg(treatment, |r| r.retries as f64);
        out.push(format!(
            "retry amplification peaked at {ta:.2}x (control {ca:.2}x), {retries:.0} retries per run: retries multiplied the load on the faulty part; a retry budget or fewer attempts bound it"
        ));
    }
    let (cw, tw) = (
        avg(control, |r| r.wasted_work_s),
        avg(treatment, |r| r.wasted_work_s),
    );
    if tw > 2.0 * cw + 1.0 {
        out.push(format!(
            "wasted work rose to {tw:.1} s per run (control {cw:.1} s): services kept working for callers that had given up (work already started runs to its end unless the service honours cancellation)"
        ));
    }
    let metastable = treatment.iter().filter(|r| r.metastable).count();
    if metastable > 0 {
        out.push(format!(
            "{metastable} of {n} experiment runs never recovered after the method (metastable): the overload outlived its cause"
        ));
    } else {
        let rec: Vec<f64> = treatment.iter().filter_map(|r| r.recovery_s).collect();
        if rec.len() == n {
            let worst = rec.iter().copied().fold(0.0, f64::max);
            out.push(format!(
                "every experiment run recovered, in {:.1} s on average (worst {worst:.1} s)",
                rec.iter().sum::<f64>() / n as f64
            ));
        }
    }
    let opened = |runs: &[RunResult]| -> f64 {
        runs.iter()
            .flat_map(|r| &r.breakers)
            .map(|b| b.transitions.iter().filter(|t| t.2 == "Open").count() as f64)
            .sum::<f64>()
            / runs.len() as f64
    };
    let (co, to) = (opened(control), opened(treatment));
    if to > co {
        out.push(format!(
            "circuit breakers opened {to:.1} times per run (control {co:.1}): they shed calls to the faulty part"
        ));
    }
    let (cd, td) = (
        avg(control, |r| r.duplicate_side_effects as f64),
        avg(treatment, |r| r.duplicate_side_effects as f64),
    );
    if td > cd {
        out.push(format!(
            "duplicate side effects rose to {td:.0} per run (control {cd:.0}): retried non-idempotent work; idempotency keys would absorb them"
        ));
    }
    out
}

fn judge(
    seeds: &[u64],
    control: &[RunResult],
    treatment: &[RunResult],
    probes: &[ProbeOutcome],
    aborts: &[Abort],
) -> (Verdict, String) {
    let n = seeds.len();
    let stopped = |r: &RunResult| !r.stopped.is_normal();
    for (which, runs) in [("control", control), ("experiment", treatment)] {
        if let Some((seed, r)) = seeds.iter().zip(runs).find(|(_, r)| stopped(r)) {
            return (
                Verdict::Undetermined,
                format!(
                    "the {which} run on seed {seed} stopped early ({}): its probes would read a cut run",
                    r.stopped
                ),
            );
        }
    }
    let breached: Vec<String> = probes
        .iter()
        .filter(|p| !p.control_breached_seeds.is_empty())
        .map(|p| {
            format!(
                "`{}` on {} of {n} seeds",
                p.name,
                p.control_breached_seeds.len()
            )
        })
        .collect();
    if !breached.is_empty() {
        return (
            Verdict::Undetermined,
            format!(
                "the steady state does not hold without the injection: the control run breaks {}; fix the baseline (or the tolerance) first",
                breached.join(", ")
            ),
        );
    }
    if !aborts.is_empty() {
        let mut on: Vec<u64> = aborts.iter().map(|a| a.seed).collect();
        on.dedup();
        let first = &aborts[0];
        return (
            Verdict::Aborted,
            format!(
                "a stop condition ended the method on {} of {n} seeds (first: `{}` on seed {} at {:.1} s: {})",
                on.len(),
                first.stop,
                first.seed,
                first.at_s,
                first.cause
            ),
        );
    }
    let deviated: Vec<String> = probes
        .iter()
        .filter(|p| !p.deviated_seeds.is_empty())
        .map(|p| {
            let rate = p.deviation_rate.expect("deviations were evaluated");
            format!(
                "`{}` on {} of {} seeds (rate 95% CI {:.2} to {:.2})",
                p.name,
                p.deviated_seeds.len(),
                p.evaluated,
                rate.low,
                rate.high
            )
        })
        .collect();
    if !deviated.is_empty() {
        return (
            Verdict::Deviated,
            format!("the hypothesis broke: {}", deviated.join("; ")),
        );
    }
    if let Some(p) = probes.iter().find(|p| !p.unevaluable.is_empty()) {
        let (seed, why) = &p.unevaluable[0];
        return (
            Verdict::Undetermined,
            format!(
                "probe `{}` could not be evaluated on {} of {n} seeds (seed {seed}, {why})",
                p.name,
                p.unevaluable.len()
            ),
        );
    }
    let upper = wilson(0, n as u64).map_or(1.0, |w| w.high);
    (
        Verdict::Held,
        format!(
            "every probe within tolerance on all {n} seeds (deviation rate 0, 95% upper bound {upper:.2})"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn wilson_matches_published_values() {
        // 0 of 10: [0, 0.2775]; 5 of 10: [0.2366, 0.7634] (Wilson 1927; Newcombe 1998).
        let w = wilson(0, 10).unwrap();
        assert!(close(w.low, 0.0) && close(w.high, 0.2775), "{w:?}");
        let w = wilson(5, 10).unwrap();
        assert!(close(w.low, 0.2366) && close(w.high, 0.7634), "{w:?}");
        let w = wilson(10, 10).unwrap();
        assert!(close(w.low, 0.7225) && close(w.high, 1.0), "{w:?}");
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn paired_difference_is_a_t_interval() {
        // Mean 2, sd 1, n 3: half width t(0.975, 2) / sqrt(3) = 4.302653 / 1.732051.
        let d = paired_difference(&[1.0, 2.0, 3.0]).unwrap();
        assert!(close(d.estimate, 2.0));
        assert!(close(d.high - d.estimate, 2.484138), "{d:?}");
        assert_eq!(paired_difference(&[1.0]), None);
    }

    #[test]
    fn a_registry_metric_within_control_is_judged_either_way() {
        let within = Tolerance::WithinControl(0.1);
        let m = Metric::Registry("services.db.utilization".into());
        assert_eq!(breaks(within, &m, 0.56, Some(0.5)), Some(true));
        assert_eq!(breaks(within, &m, 0.44, Some(0.5)), Some(true));
        assert_eq!(breaks(within, &m, 0.54, Some(0.5)), Some(false));
    }

    #[test]
    fn tolerances_read_the_metric_direction() {
        let within = Tolerance::WithinControl(0.1);
        assert_eq!(
            breaks(within, &Metric::Goodput, 89.0, Some(100.0)),
            Some(true)
        );
        assert_eq!(
            breaks(within, &Metric::Goodput, 91.0, Some(100.0)),
            Some(false)
        );
        assert_eq!(breaks(within, &Metric::P99, 111.0, Some(100.0)), Some(true));
        assert_eq!(breaks(within, &Metric::P99, 50.0, Some(100.0)), Some(false));
        assert_eq!(breaks(within, &Metric::P99, 50.0, None), None);
        assert_eq!(
            breaks(Tolerance::Between(1.0, 2.0), &Metric::P99, 2.0, None),
            Some(false)
        );
        assert_eq!(
            breaks(
                Tolerance::AtMost(30.0),
                &Metric::RecoveryTime,
                f64::INFINITY,
                None
            ),
            Some(true)
        );
    }
}
