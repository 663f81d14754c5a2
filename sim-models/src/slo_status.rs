//! SLO validation of a finished run: for the scenario's SLO (all routes) and each client's
//! own, whether it was met over the run and how much error budget the run consumed, beside
//! the alerts it raised. Read from the run's result (its series and alert reports), so
//! saved results validate the same way.
//!
//! **The evaluation window is the run after its warm-up**, taken as the SLO's window:
//! outcomes of the series windows that start at or after the warm-up (each request counts
//! in the window in which it finished, as for the alerts), good and bad as the alerts count
//! them (bad: failed, degraded, or slower than the SLO's latency). Then
//!
//! ```text
//! SLI = good / (good + bad)                     met  <=>  SLI >= objective
//! budget consumed = (bad / (good + bad)) / (1 - objective)    (100% spends it exactly)
//! period budget consumed = bad / ((1 - objective) x events over the period at the run's rate)
//!                        = budget consumed x run / period
//! ```
//!
//! The first budget treats the run as the whole SLO period (the run's own budget); the
//! second is the share of a full period's budget (30 days unless the SLO says otherwise)
//! that the run's bad events would take, if the traffic went on at the run's rate: what an
//! incident like this one costs.

use serde::{Deserialize, Serialize};

use crate::result::{ClientCount, Count, RunResult};
use crate::slo::{AlertReport, Severity};

/// One SLO of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloStatus {
    /// The client (route) whose SLO it is, or `all` for the scenario's.
    pub route: String,
    pub objective: f64,
    pub good: u64,
    pub bad: u64,
    /// `good / (good + bad)`; `None` without events.
    pub sli: Option<f64>,
    /// `sli >= objective`; `None` without events (nothing to judge).
    pub met: Option<bool>,
    /// Bad fraction over the error budget, percent (see the module doc).
    pub budget_consumed_pct: f64,
    /// The run's bad events as a share of a whole period's budget, percent.
    pub period_budget_consumed_pct: f64,
    pub period_s: f64,
    /// Alerts raised: (rule, times fired), rules that fired only.
    pub alerts: Vec<(String, usize)>,
    /// Pages (page-severity firings) in all.
    pub pages: usize,
}

/// Every SLO of `r`: the scenario's first (route `all`), then each client's, in file order.
pub fn slo_status(r: &RunResult) -> Vec<SloStatus> {
    // Column by column: a result not yet decoded stays so (see `LazySeries`).
    let s = &r.series;
    let (t_s, window_s) = (s.t_s(), s.window_s());
    let counted: Vec<usize> = (0..t_s.len())
        .filter(|&i| t_s[i] - window_s >= r.warmup_s - 1e-9)
        .collect();
    let sum = |v: &[u64]| counted.iter().map(|&i| v[i]).sum::<u64>();
    let run_s = counted
        .first()
        .map_or(0.0, |&i| r.simulated_s - (t_s[i] - window_s));
    let mut out = Vec::new();
    if let Some(a) = &r.alerts {
        let slow = sum(&s.counts(Count::Slow));
        let good = sum(&s.counts(Count::Succeeded)) - slow;
        let bad = sum(&s.counts(Count::Failed)) + sum(&s.counts(Count::Degraded)) + slow;
        out.push(status("all", a, good, bad, run_s));
    }
    for c in &r.clients {
        let Some(a) = &c.alerts else { continue };
        let Some(k) = s.client_names().position(|name| name == c.name) else {
            continue;
        };
        let good = sum(&s.client_counts(k, ClientCount::Good));
        let bad = sum(&s.client_counts(k, ClientCount::Bad));
        out.push(status(&c.name, a, good, bad, run_s));
    }
    out
}

fn status(route: &str, a: &AlertReport, good: u64, bad: u64, run_s: f64) -> SloStatus {
    let events = good + bad;
    let budget = 1.0 - a.availability;
    let bad_fraction = if events > 0 {
        bad as f64 / events as f64
    } else {
        0.0
    };
    let consumed = 100.0 * bad_fraction / budget;
    SloStatus {
        route: route.to_string(),
        objective: a.availability,
        good,
        bad,
        sli: (events > 0).then(|| good as f64 / events as f64),
        met: (events > 0).then_some(bad_fraction <= budget),
        budget_consumed_pct: consumed,
        period_budget_consumed_pct: if a.period_s > 0.0 {
            consumed * run_s / a.period_s
        } else {
            0.0
        },
        period_s: a.period_s,
        alerts: a
            .rules
            .iter()
            .filter(|x| !x.firings.is_empty())
            .map(|x| (x.name.clone(), x.firings.len()))
            .collect(),
        pages: a
            .rules
            .iter()
            .filter(|x| x.severity == Severity::Page)
            .map(|x| x.firings.len())
            .sum(),
    }
}

impl SloStatus {
    /// `met` / `MISSED` / `no events`, for tables.
    pub fn verdict(&self) -> &'static str {
        match self.met {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "no events",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::SloSpec;

    #[test]
    fn budget_is_the_bad_fraction_over_the_allowance() {
        let spec = SloSpec::new(0.99);
        let a = crate::slo::evaluate(&spec, &[1.0], &[990], &[10], 1.0, 1.0);
        // 1% bad against a 1% budget: exactly spent, and met (SLI = objective).
        let s = status("c", &a, 990, 10, 86_400.0);
        assert_eq!(s.met, Some(true));
        assert!((s.budget_consumed_pct - 100.0).abs() < 1e-9);
        // A day of a 30-day period: 1/30 of the period's budget.
        assert!((s.period_budget_consumed_pct - 100.0 / 30.0).abs() < 1e-9);
        let s = status("c", &a, 980, 20, 86_400.0);
        assert_eq!(s.met, Some(false));
        assert!((s.budget_consumed_pct - 200.0).abs() < 1e-9);
        let s = status("c", &a, 0, 0, 1.0);
        assert_eq!((s.met, s.sli), (None, None));
    }
}
