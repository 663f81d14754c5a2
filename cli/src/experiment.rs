//! `simctl experiment`: reads an experiment file and its scenario, runs control and
//! experiment on every seed on a rayon pool, prints the verdict, writes the outputs and the
//! journal. The verdict's exit code: 0 held, 3 deviated, 4 aborted, 5 undetermined.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use rayon::prelude::*;
use sim_models::diagnostic::{Diagnostic, Diagnostics};
use sim_models::experiment::{self, Experiment};
use sim_models::locate::Locator;

use crate::{InputError, output};

/// What the command line asked for.
pub struct Args {
    pub file: PathBuf,
    pub scenario: Option<PathBuf>,
    pub seeds: Option<u32>,
    pub seed: Option<u64>,
    pub jobs: usize,
    pub json: bool,
    pub out: Option<PathBuf>,
    pub journal: Option<PathBuf>,
}

/// Reads and parses an experiment file; problems are input errors with file:line:col.
fn read(file: &Path) -> Result<(String, Experiment)> {
    let name = file.display().to_string();
    let text = output::read_limited(file, output::MAX_SCENARIO_BYTES)
        .map_err(|e| InputError::msg(format!("simctl: cannot read experiment {name}: {e}")))?;
    let exp = experiment::parse(&name, &text).map_err(|d| InputError(d.to_string(), vec![d]))?;
    Ok((text, exp))
}

pub fn run(args: Args) -> Result<ExitCode> {
    let (text, mut exp) = read(&args.file)?;
    let name = args.file.display().to_string();
    // The scenario: --scenario as given, or the file's path relative to the experiment.
    let scenario_path = match &args.scenario {
        Some(p) => p.clone(),
        None => args
            .file
            .parent()
            .unwrap_or(Path::new("."))
            .join(&exp.scenario),
    };
    if let Some(n) = args.seeds {
        exp.seeds = n;
    }
    if args.seed.is_some() {
        exp.seed = args.seed;
    }
    let (scenario_text, v) = crate::load_text(&scenario_path)?;
    crate::print_warnings(&scenario_path, &v);
    let plan = experiment::prepare(&exp, &v.scenario).map_err(|problems| {
        let locator = Locator::new(&text);
        let items = problems
            .into_iter()
            .map(|p| Diagnostic::error(locator.locate(&p.path), p.path.to_string(), p.message))
            .collect();
        let d = Diagnostics::new(&name, items);
        InputError(d.to_string(), vec![d])
    })?;
    for dir in [&args.out, &args.journal].into_iter().flatten() {
        output::check_out_dir(dir)?;
    }

    let scenario_name = scenario_path.display().to_string();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.clamp(1, 2 * plan.seeds.len()))
        .build()?;
    // Every (seed, arm) is an independent run; collected in order, so the output does not
    // depend on --jobs.
    let jobs: Vec<(u64, bool)> = plan
        .seeds
        .iter()
        .flat_map(|&s| [(s, false), (s, true)])
        .collect();
    let progress =
        (!crate::json_messages()).then(|| crate::sweep::Progress::new("experiment", jobs.len(), 0));
    let results = pool.install(|| {
        jobs.par_iter()
            .map(|&(seed, treated)| {
                let s = if treated {
                    &plan.treatment
                } else {
                    &plan.control
                };
                let r = sim_models::run(s, seed, &scenario_name);
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
    let (mut control, mut treatment) = (Vec::new(), Vec::new());
    for (r, &(_, treated)) in results.into_iter().zip(&jobs) {
        if treated {
            treatment.push(r);
        } else {
            control.push(r);
        }
    }
    let outcome = experiment::evaluate(&exp, &plan, &control, &treatment);

    let mut replay = format!(
        "simctl experiment {name} --seed {} --seeds {}",
        plan.seeds[0],
        plan.seeds.len()
    );
    if let Some(s) = &args.scenario {
        replay.push_str(&format!(" --scenario {}", s.display()));
    }
    let json = serde_json::to_string_pretty(&outcome).expect("an outcome serialises") + "\n";
    if args.json {
        print!("{json}");
    } else {
        print!("{}", reports::experiment_table(&outcome, &replay));
    }
    if let Some(dir) = &args.out {
        output::write_atomic(&dir.join("experiment.json"), json.as_bytes())?;
        output::write_atomic(
            &dir.join("experiment.md"),
            reports::experiment_md(&outcome, &replay).as_bytes(),
        )?;
    }
    if let Some(dir) = &args.journal {
        crate::journal::append(dir, &exp, &outcome, &scenario_text, &replay)?;
    }
    Ok(ExitCode::from(outcome.verdict.exit_code()))
}
