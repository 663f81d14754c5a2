//! `simctl plans check FILE --scenario SCENARIO`: a plans file (recovery plans as JSON
//! DAGs, see `sim_models::remediation::plan`) checked against a scenario and its
//! orchestrator limits without running it; and the reading of `--plans FILE` for a run.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use sim_models::Scenario;
use sim_models::remediation::plan::{PlanFile, check_plans};
use sim_models::remediation::spec::Limits;

use crate::{InputError, json_messages, load, output};

/// The orchestrator's limits a scenario sets (the defaults without a `remediation` section).
pub fn limits_of(scenario: &Scenario) -> Limits {
    scenario
        .remediation
        .as_ref()
        .map(|r| r.limits)
        .unwrap_or_default()
}

/// Reads and checks a plans file for a run against `scenario` (`--plans FILE`): the plans,
/// or an input error (exit code 2) with every problem at its file:line:col.
#[allow(
    dead_code,
    reason = "for `simctl run --plans FILE`, which the orchestrator work adds"
)]
pub fn read_plans(file: &Path, scenario: &Scenario) -> Result<PlanFile> {
    let name = file.display().to_string();
    let text = output::read_limited(file, output::MAX_SCENARIO_BYTES)
        .map_err(|e| InputError::msg(format!("simctl: cannot read plans {name}: {e}")))?;
    let limits = limits_of(scenario);
    sim_models::remediation::plan::load_plans(&name, &text, scenario, &limits)
        .map_err(|d| InputError(d.to_string(), vec![d]).into())
}

/// `simctl plans check`: OK with the plan count (and any warnings on stderr), or every
/// problem and exit code 2.
pub fn check(file: &Path, scenario: &Path) -> Result<ExitCode> {
    let v = load(scenario)?;
    let name = file.display().to_string();
    let text = output::read_limited(file, output::MAX_SCENARIO_BYTES)
        .map_err(|e| InputError::msg(format!("simctl: cannot read plans {name}: {e}")))?;
    let limits = limits_of(&v.scenario);
    let (plans, warnings) = check_plans(&name, &text, &v.scenario, &limits)
        .map_err(|d| InputError(d.to_string(), vec![d]))?;
    if !warnings.items.is_empty() {
        if json_messages() {
            let items = crate::diagnostics_json(std::slice::from_ref(&warnings));
            eprintln!("{}", serde_json::json!({ "warnings": items }));
        } else {
            eprintln!("{warnings}");
        }
    }
    println!(
        "{name}: OK ({} plans, checked against {})",
        plans.plans.len(),
        scenario.display()
    );
    Ok(ExitCode::SUCCESS)
}
