//! `simctl train`: learns a recovery policy on a scenario with a `remediation` section
//! (`sim_models::learn`), running each batch's episodes on a rayon pool, and
//! writes the policy file; `--policy FILE` (run, remediate) loads one as the decider.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use rayon::prelude::*;
use sim_models::Scenario;
use sim_models::learn::decider::{Explorer, LearnedPolicy, PlannerFn, simctl_planner};
use sim_models::learn::menu::Menu;
use sim_models::learn::policy::PolicyFile;
use sim_models::learn::reward::{outcomes, reward};
use sim_models::learn::table::QTable;
use sim_models::learn::train::{Episode, EpisodeResult, IncidentTrace, train};
use sim_models::remediation::decide::Decider;

use crate::{InputError, output};

/// Policy files are small: a table of at most a few hundred rows.
const MAX_POLICY_BYTES: u64 = 16 << 20;

/// What the command line asked for.
pub struct Args {
    pub file: PathBuf,
    pub sets: Vec<String>,
    pub episodes: u64,
    pub seed: Option<u64>,
    pub jobs: usize,
    pub out: PathBuf,
}

/// The planner's plan, for the `planner` arm.
fn planner(scenario: &Scenario) -> PlannerFn {
    simctl_planner(scenario)
}

/// A scenario that training and `--policy` can act on: it has a remediation section
/// whose automation is on.
fn check_remediation(scenario: &Scenario, name: &str) -> Result<()> {
    use sim_models::remediation::spec::Automation;
    match &scenario.remediation {
        None => Err(InputError::msg(format!(
            "simctl: {name} has no `remediation` section: there are no incidents to decide about"
        ))
        .into()),
        Some(r) if r.automation == Automation::Off => Err(InputError::msg(format!(
            "simctl: {name} has `automation: Off`: only the human acts, so a policy would never be asked"
        ))
        .into()),
        Some(_) => Ok(()),
    }
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.episodes == 0 {
        return Err(InputError::msg("simctl: train: --episodes must be at least 1".into()).into());
    }
    let (_, v) = crate::load_text(&args.file)?;
    crate::print_warnings(&args.file, &v);
    let scenario = crate::with_sets(v.scenario, &args.sets)?;
    let name = format!("{}{}", args.file.display(), crate::set_args(&args.sets));
    check_remediation(&scenario, &name)?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let menu = Arc::new(Menu::new(&scenario));
    let planner = planner(&scenario);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.max(1))
        .build()?;
    let progress = (!crate::json_messages())
        .then(|| crate::sweep::Progress::new("train", args.episodes as usize, 0));
    let table = train(seed, args.episodes, |table, batch| {
        let table = Arc::new(table.clone());
        pool.install(|| {
            batch
                .par_iter()
                .map(|e| {
                    let r = episode(&scenario, &name, seed, e, &table, &menu, &planner);
                    if let Some(p) = &progress {
                        p.tick();
                    }
                    r
                })
                .collect()
        })
    });
    if let Some(p) = &progress {
        p.finish();
    }
    let policy = PolicyFile::new(
        &scenario.name,
        &scenario.hash(),
        seed,
        args.episodes,
        &table,
    );
    output::write_atomic(&args.out, policy.to_json().as_bytes())?;
    if !crate::json_messages() {
        eprintln!(
            "train: {} episodes, {} states, policy written to {}",
            args.episodes,
            table.states(),
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One episode: a run on the episode's seed with an exploring decider, each incident's
/// decisions credited with its return.
fn episode(
    scenario: &Scenario,
    name: &str,
    training_seed: u64,
    e: &Episode,
    table: &Arc<QTable>,
    menu: &Arc<Menu>,
    planner: &PlannerFn,
) -> EpisodeResult {
    let decisions = Arc::new(Mutex::new(BTreeMap::new()));
    let explorer = Explorer::new(
        table.clone(),
        training_seed,
        e,
        menu.clone(),
        planner.clone(),
        decisions.clone(),
    );
    let result = sim_models::run::run_with(scenario, e.run_seed, name, Some(Box::new(explorer)));
    let mut decisions = std::mem::take(&mut *decisions.lock().expect("the run has ended"));
    let incidents = outcomes(&result)
        .into_iter()
        .filter_map(|(id, o)| {
            let steps = decisions.remove(&id)?;
            Some(IncidentTrace {
                steps,
                ret: reward(&o),
            })
        })
        .collect();
    EpisodeResult {
        index: e.index,
        incidents,
    }
}

/// The policy in `path` as the decider of runs of `scenario` (`--policy FILE`).
pub fn policy_decider(path: &Path, scenario: &Scenario) -> Result<Box<dyn Decider>> {
    let (policy, label) = read_policy(path, scenario)?;
    Ok(Box::new(LearnedPolicy::new(
        policy.table(),
        Arc::new(Menu::new(scenario)),
        planner(scenario),
        label,
    )))
}

/// Reads a policy file, refusing a bad one with its position; warns when it was trained
/// on another scenario.
pub fn read_policy(path: &Path, scenario: &Scenario) -> Result<(PolicyFile, String)> {
    let name = path.display().to_string();
    let text = output::read_limited(path, MAX_POLICY_BYTES)
        .map_err(|e| InputError::msg(format!("simctl: cannot read policy {name}: {e}")))?;
    let policy = PolicyFile::parse(&text, &name).map_err(|e| InputError::msg(e.to_string()))?;
    check_remediation(scenario, &scenario.name)?;
    if policy.scenario_hash != scenario.hash() && !crate::json_messages() {
        eprintln!(
            "simctl: warning: policy {name} was trained on scenario `{}` (hash {}), not this one (hash {})",
            policy.scenario,
            policy.scenario_hash,
            scenario.hash()
        );
    }
    Ok((policy, format!("policy {name}")))
}

/// What `simctl remediate --policy` asked for.
pub struct EvalArgs {
    pub file: PathBuf,
    pub seeds: u32,
    pub seed: Option<u64>,
    pub policy: PathBuf,
    pub jobs: usize,
    pub json: bool,
    pub markdown: bool,
}

/// `simctl remediate --policy FILE`: each held-out seed run with the policy, with simctl's
/// planner and with the human alone, gathered in (seed, side) order (same bytes at any
/// `--jobs`).
pub fn evaluate(args: EvalArgs) -> Result<ExitCode> {
    use sim_models::learn::evaluate::{Triple, evaluate};
    use sim_models::learn::train::training_seeds;
    use sim_models::remediation::spec::Automation;

    let v = crate::load(&args.file)?;
    crate::print_warnings(&args.file, &v);
    let name = args.file.display().to_string();
    let scenario = v.scenario;
    check_remediation(&scenario, &name)?;
    if args.seeds == 0 {
        return Err(InputError::msg("simctl: --seeds must be at least 1".into()).into());
    }
    let (policy, label) = read_policy(&args.policy, &scenario)?;
    let base = args.seed.unwrap_or(scenario.seed);
    let seeds: Vec<u64> = (0..args.seeds)
        .map(|r| sim_models::sweep::replicate_seed(base, r))
        .collect();
    // Held out: no evaluation seed was a training run's seed.
    let trained = training_seeds(policy.training_seed, policy.episodes);
    if let Some(s) = seeds.iter().find(|s| trained.binary_search(s).is_ok()) {
        return Err(InputError::msg(format!(
            "simctl: seed {s} was one of {}'s training runs: evaluate on held-out seeds (another --seed)",
            args.policy.display()
        ))
        .into());
    }
    let mut human = scenario.clone();
    human
        .remediation
        .as_mut()
        .expect("checked above")
        .automation = Automation::Off;
    let table = policy.table();
    let menu = Arc::new(Menu::new(&scenario));
    // Runs in (seed, side) order: policy, planner, human.
    let jobs: Vec<(u64, u8)> = seeds
        .iter()
        .flat_map(|&s| [(s, 0), (s, 1), (s, 2)])
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.clamp(1, jobs.len()))
        .build()?;
    let progress = (!crate::json_messages() && !args.json)
        .then(|| crate::sweep::Progress::new("remediate", jobs.len(), 0));
    let results = pool.install(|| {
        jobs.par_iter()
            .map(|&(seed, side)| {
                let r = match side {
                    0 => {
                        let d = LearnedPolicy::new(
                            table.clone(),
                            menu.clone(),
                            planner(&scenario),
                            label.clone(),
                        );
                        sim_models::run_with(&scenario, seed, &name, Some(Box::new(d)))
                    }
                    1 => {
                        let d = sim_models::remediation::planner::Planner::new(scenario.clone());
                        sim_models::run_with(&scenario, seed, &name, Some(Box::new(d)))
                    }
                    _ => sim_models::run_with(&human, seed, &name, None),
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
    let mut triples = Vec::new();
    for (k, three) in results.chunks(3).enumerate() {
        for r in three {
            if !r.stopped.is_normal() {
                return Err(anyhow::anyhow!(
                    "the run stopped early: {}\nreplay: {}",
                    r.stopped,
                    r.replay
                ));
            }
        }
        let totals = |r: &sim_models::RunResult| {
            r.remediation
                .as_ref()
                .expect("a remediation section")
                .totals
                .clone()
        };
        triples.push(Triple {
            seed: seeds[k],
            policy: totals(&three[0]),
            planner: totals(&three[1]),
            human: totals(&three[2]),
        });
    }
    let e = evaluate(
        &name,
        &args.policy.display().to_string(),
        policy.training_seed,
        policy.episodes,
        triples,
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        print!("{}", reports::policy_table(&e, args.markdown));
        println!(
            "replay: simctl remediate {name} --seeds {} --seed {base} --policy {}",
            args.seeds,
            args.policy.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
