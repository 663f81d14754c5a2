//! `simctl classify`: runs a scenario whose remediation section generates incidents
//! (`remediation.mix`) on several seeds with automation off, so the classifier only
//! watches, and scores its first reading of each incident against the injected truth.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use rayon::prelude::*;
use sim_models::remediation::confusion::{ClassifyReport, Confusion};
use sim_models::remediation::spec::Automation;

use crate::InputError;

pub struct Args {
    pub file: PathBuf,
    pub sets: Vec<String>,
    pub seeds: u32,
    pub seed: Option<u64>,
    pub jobs: usize,
    pub json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let (_, v) = crate::load_text(&args.file)?;
    crate::print_warnings(&args.file, &v);
    let mut scenario = crate::with_sets(v.scenario, &args.sets)?;
    let name = args.file.display().to_string();
    let Some(remediation) = scenario.remediation.as_mut().filter(|r| r.mix.is_some()) else {
        return Err(InputError::msg(format!(
            "simctl: classify {name}: the scenario has no `remediation.mix`: no incidents are generated to classify"
        ))
        .into());
    };
    // The classifier only watches: nobody acts but the human.
    remediation.automation = Automation::Off;
    let base = args.seed.unwrap_or(scenario.seed);
    let seeds: Vec<u64> = (0..args.seeds)
        .map(|r| sim_models::sweep::replicate_seed(base, r))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.clamp(1, seeds.len().max(1)))
        .build()?;
    let progress = (!crate::json_messages())
        .then(|| crate::sweep::Progress::new("classify", seeds.len(), 0));
    // Gathered in seed order: the same bytes at any --jobs.
    let logs = pool.install(|| {
        seeds
            .par_iter()
            .map(|&seed| {
                let r = sim_models::run(&scenario, seed, &name);
                if let Some(p) = &progress {
                    p.tick();
                }
                r.incident_log
            })
            .collect::<Vec<_>>()
    });
    if let Some(p) = &progress {
        p.finish();
    }
    let records: Vec<_> = logs.into_iter().flatten().collect();
    let report = ClassifyReport {
        scenario: scenario.name.clone(),
        scenario_hash: scenario.hash(),
        replay: format!(
            "simctl classify {name}{} --seed {base} --seeds {}",
            crate::set_args(&args.sets),
            args.seeds
        ),
        seeds,
        confusion: Confusion::of(&records),
    };
    if args.json {
        print!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serialises") + "\n"
        );
    } else {
        print!("{}", reports::classify_table(&report));
    }
    Ok(ExitCode::SUCCESS)
}
