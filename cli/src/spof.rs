//! `simctl spof`: reads a scenario, fails each target alone (sim_models::spof plans it) on
//! every seed on a rayon pool, judges the runs and prints the ranking beside the static
//! view; `--out DIR` gets spof.json and spof.md.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use rayon::prelude::*;
use sim_models::spof::{self, Failure};

use crate::{InputError, output};

/// What the command line asked for.
pub struct Args {
    pub file: PathBuf,
    pub sets: Vec<String>,
    pub start: Option<String>,
    pub length: Option<String>,
    pub seeds: u32,
    pub seed: Option<u64>,
    pub kinds: String,
    pub slow_factor: f64,
    pub only: Vec<String>,
    pub objective: Option<f64>,
    pub jobs: usize,
    pub json: bool,
    pub out: Option<PathBuf>,
}

fn duration(option: &str, text: &Option<String>) -> Result<Option<sim_core::SimDuration>> {
    text.as_deref()
        .map(|t| {
            t.parse().map_err(|e| {
                InputError::msg(format!(
                    "simctl: {option} `{t}`: {e} (e.g. \"150s\", \"2m\")"
                ))
                .into()
            })
        })
        .transpose()
}

fn kinds(text: &str) -> Result<Vec<Failure>> {
    let mut out = Vec::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let f = Failure::parse(word).ok_or_else(|| {
            InputError::msg(format!(
                "simctl: --kinds: unknown failure `{word}`; the failures are crash, blackhole, slow"
            ))
        })?;
        if !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out)
}

pub fn run(args: Args) -> Result<ExitCode> {
    let (_, v) = crate::load_text(&args.file)?;
    crate::print_warnings(&args.file, &v);
    let scenario = crate::with_sets(v.scenario, &args.sets)?;
    let spec = spof::Spec {
        start: duration("--start", &args.start)?,
        length: duration("--length", &args.length)?,
        seed: args.seed.unwrap_or(scenario.seed),
        seeds: args.seeds,
        failures: kinds(&args.kinds)?,
        slow_factor: args.slow_factor,
        only: args.only.clone(),
        objective: args.objective,
    };
    let name = args.file.display().to_string();
    let plan = spof::prepare(&scenario, &spec).map_err(|problems| {
        let text = problems
            .iter()
            .map(|p| format!("simctl: spof {name}: {p}"))
            .collect::<Vec<_>>()
            .join("\n");
        InputError::msg(text)
    })?;
    if let Some(dir) = &args.out {
        output::check_out_dir(dir)?;
    }

    // Job 0..seeds is the baseline; then each case on each seed, collected in order, so the
    // output does not depend on --jobs.
    let n_seeds = plan.seeds.len();
    let jobs: Vec<(Option<usize>, u64)> = std::iter::once(None)
        .chain((0..plan.cases.len()).map(Some))
        .flat_map(|c| plan.seeds.iter().map(move |&s| (c, s)))
        .collect();
    if !crate::json_messages() {
        eprintln!(
            "spof: {} targets, {} failures x {} seeds + {} baseline runs = {} runs",
            plan.cases
                .iter()
                .map(|c| c.target)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            plan.cases.len(),
            n_seeds,
            n_seeds,
            jobs.len()
        );
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.clamp(1, jobs.len()))
        .build()?;
    let progress =
        (!crate::json_messages()).then(|| crate::sweep::Progress::new("spof", jobs.len(), 0));
    let results = pool.install(|| {
        jobs.par_iter()
            .map(|&(case, seed)| {
                let s = match case {
                    None => plan.baseline.clone(),
                    Some(i) => plan.scenario(i),
                };
                let r = sim_models::run(&s, seed, &name);
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
    let mut runs = results.into_iter();
    let baseline: Vec<_> = runs.by_ref().take(n_seeds).collect();
    let cases: Vec<Vec<_>> = (0..plan.cases.len())
        .map(|_| runs.by_ref().take(n_seeds).collect())
        .collect();
    let report = spof::evaluate(&plan, &name, &baseline, &cases);

    let mut replay = format!(
        "simctl spof {name}{} --seed {} --seeds {} --start {} --length {} --kinds {} --slow-factor {}",
        crate::set_args(&args.sets),
        plan.seeds[0],
        n_seeds,
        plan.cases[0].fault.start,
        sim_core::SimDuration::from_nanos(
            plan.cases[0].fault.end.as_nanos() - plan.cases[0].fault.start.as_nanos()
        ),
        spec.failures
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(","),
        spec.slow_factor
    );
    for o in &args.only {
        replay.push_str(&format!(" --only '{o}'"));
    }
    if let Some(x) = args.objective {
        replay.push_str(&format!(" --objective {x}"));
    }
    let json = serde_json::to_string_pretty(&report).expect("a report serialises") + "\n";
    let md = reports::spof_md(&report, &replay);
    if args.json {
        print!("{json}");
    } else {
        print!("{}", reports::spof_table(&report, &replay));
    }
    if let Some(dir) = &args.out {
        output::write_atomic(&dir.join("spof.json"), json.as_bytes())?;
        output::write_atomic(&dir.join("spof.md"), md.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
