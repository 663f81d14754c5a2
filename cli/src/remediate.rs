//! `simctl run --plans FILE` and `simctl remediate`: who decides about a scenario's
//! incidents (simctl's planner, or a plans file), and automation against the human alone
//! over many seeds, paired by seed, run on a rayon pool and gathered in seed order (the same
//! bytes at any `--jobs`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use rayon::prelude::*;
use sim_models::Scenario;
use sim_models::remediation::compare::{Pair, compare};
use sim_models::remediation::decide::{Decider, Labeled};
use sim_models::remediation::plan::PlanFile;
use sim_models::remediation::spec::Automation;

use crate::{InputError, output};

/// A plans file, checked against the scenario and its limits (errors exit 2 with
/// file:line:col).
pub(crate) fn load_plans(file: &Path, scenario: &Scenario) -> Result<PlanFile> {
    let name = file.display().to_string();
    let Some(r) = &scenario.remediation else {
        return Err(InputError::msg(format!(
            "simctl: --plans {name}: the scenario has no `remediation` section to run plans in"
        ))
        .into());
    };
    let text = output::read_limited(file, output::MAX_SCENARIO_BYTES)
        .map_err(|e| InputError::msg(format!("simctl: cannot read plans {name}: {e}")))?;
    sim_models::remediation::plan::load_plans(&name, &text, scenario, &r.limits)
        .map_err(|d| InputError(d.to_string(), vec![d]).into())
}

/// The decider of a run: the plans file's runbook, or `None` (the scenario's own
/// automation: simctl's planner).
pub(crate) fn decider(
    plans: Option<&(PathBuf, PlanFile)>,
    scenario: &Scenario,
) -> Option<Box<dyn Decider>> {
    let (file, plans) = plans?;
    let runbook = sim_models::remediation::runbook::Runbook::new(plans.clone(), scenario.clone());
    Some(Box::new(Labeled {
        decider: Box::new(runbook),
        label: format!("plans {}", file.display()),
    }))
}

pub(crate) struct Args {
    pub file: PathBuf,
    pub seeds: u32,
    pub seed: Option<u64>,
    pub plans: Option<PathBuf>,
    /// A learned policy: evaluated against the planner and the human instead.
    pub policy: Option<PathBuf>,
    pub jobs: usize,
    pub json: bool,
    pub markdown: bool,
}

/// `simctl remediate`.
pub(crate) fn remediate(args: Args) -> Result<ExitCode> {
    if let Some(policy) = args.policy {
        return crate::train::evaluate(crate::train::EvalArgs {
            file: args.file,
            seeds: args.seeds,
            seed: args.seed,
            policy,
            jobs: args.jobs,
            json: args.json,
            markdown: args.markdown,
        });
    }
    let v = crate::load(&args.file)?;
    crate::print_warnings(&args.file, &v);
    let name = args.file.display().to_string();
    let automated = v.scenario;
    let Some(r) = &automated.remediation else {
        return Err(InputError::msg(format!(
            "simctl: {name} has no `remediation` section: nothing to compare"
        ))
        .into());
    };
    if r.automation == Automation::Off {
        return Err(InputError::msg(format!(
            "simctl: {name} has `automation: Off`: both sides would be the human alone"
        ))
        .into());
    }
    if args.seeds == 0 {
        return Err(InputError::msg("simctl: --seeds must be at least 1".into()).into());
    }
    let plans = match &args.plans {
        Some(p) => Some((p.clone(), load_plans(p, &automated)?)),
        None => None,
    };
    let mut human = automated.clone();
    human
        .remediation
        .as_mut()
        .expect("checked above")
        .automation = Automation::Off;
    let base = args.seed.unwrap_or(automated.seed);
    let seeds: Vec<u64> = (0..args.seeds)
        .map(|r| sim_models::sweep::replicate_seed(base, r))
        .collect();
    // Runs in (seed, side) order: automated then human for each seed.
    let jobs: Vec<(u64, bool)> = seeds
        .iter()
        .flat_map(|&s| [(s, true), (s, false)])
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.clamp(1, jobs.len()))
        .build()?;
    let progress = (!crate::json_messages() && !args.json)
        .then(|| crate::sweep::Progress::new("remediate", jobs.len(), 0));
    let results = pool.install(|| {
        jobs.par_iter()
            .map(|&(seed, auto)| {
                let r = if auto {
                    sim_models::run_with(
                        &automated,
                        seed,
                        &name,
                        decider(plans.as_ref(), &automated),
                    )
                } else {
                    sim_models::run_with(&human, seed, &name, None)
                };
                if let Some(p) = &progress {
                    p.tick();
                }
                r
            })
            .collect::<Vec<_>>()
    });
    if let Some(p) = &progress {
        p.finish();
    }
    let mut label = String::new();
    let mut pairs = Vec::new();
    for (k, pair) in results.chunks(2).enumerate() {
        for r in pair {
            if !r.stopped.is_normal() {
                return Err(anyhow::anyhow!(
                    "the run stopped early: {}\nreplay: {}",
                    r.stopped,
                    r.replay
                ));
            }
        }
        let a = pair[0].remediation.as_ref().expect("a remediation section");
        let h = pair[1].remediation.as_ref().expect("a remediation section");
        label.clone_from(&a.automation);
        pairs.push(Pair {
            seed: seeds[k],
            automated: a.totals.clone(),
            human: h.totals.clone(),
        });
    }
    let comparison = compare(&name, &label, pairs);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&comparison)?);
    } else {
        print!("{}", reports::remediate_table(&comparison, args.markdown));
        let plans_arg = args
            .plans
            .as_ref()
            .map_or(String::new(), |p| format!(" --plans {}", p.display()));
        println!(
            "replay: simctl remediate {name} --seeds {} --seed {base}{plans_arg}",
            args.seeds
        );
    }
    Ok(ExitCode::SUCCESS)
}
