//! `simctl coverage`: reads a scenario and its factors (a file and/or `--factor` flags),
//! builds the strength-2 design, runs every row on every seed on a rayon pool (gathered in
//! (row, seed) order, so the output is the same bytes at any `--jobs`), prints the
//! main-effects table and writes the outputs. Exit code 1 if the strength check fails.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use rayon::prelude::*;
use sim_core::path::{PathSeg, Problem};
use sim_models::coverage::{self, Coverage, Factor};
use sim_models::diagnostic::{Diagnostic, Diagnostics};
use sim_models::locate::Locator;
use sim_models::sweep::Row;

use crate::{InputError, output};

/// What the command line asked for.
pub struct Args {
    pub file: PathBuf,
    pub factors: Option<PathBuf>,
    pub factor: Vec<String>,
    pub seeds: Option<u32>,
    pub seed: Option<u64>,
    pub budget: Option<u64>,
    pub jobs: usize,
    pub json: bool,
    pub out: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let (_, v) = crate::load_text(&args.file)?;
    crate::print_warnings(&args.file, &v);
    let (factors_text, mut cov) = match &args.factors {
        Some(path) => {
            let name = path.display().to_string();
            let text = output::read_limited(path, output::MAX_SCENARIO_BYTES)
                .map_err(|e| InputError::msg(format!("simctl: cannot read factors {name}: {e}")))?;
            let cov =
                coverage::parse(&name, &text).map_err(|d| InputError(d.to_string(), vec![d]))?;
            (Some(text), cov)
        }
        None => (None, Coverage::default()),
    };
    let from_file = cov.factors.len();
    for spec in &args.factor {
        let f = Factor::from_param(spec)
            .map_err(|e| InputError::msg(format!("simctl: --factor {e}")))?;
        cov.factors.push(f);
    }
    if let Some(n) = args.seeds {
        cov.seeds = n;
    }
    if args.seed.is_some() {
        cov.seed = args.seed;
    }
    if args.budget.is_some() {
        cov.budget = args.budget;
    }
    let plan = coverage::prepare(&cov, &v.scenario)
        .map_err(|problems| refusal(problems, &args, factors_text.as_deref(), from_file))?;
    if let Some(dir) = &args.out {
        output::check_out_dir(dir)?;
    }

    let scenario_name = args.file.display().to_string();
    let d = &plan.design;
    eprintln!(
        "coverage: {} ({} factors): {} rows x {} seeds = {} runs; the full factorial would be {} rows",
        d.name,
        plan.factors.len(),
        d.rows.len(),
        plan.seeds.len(),
        plan.runs(),
        d.full_factorial
    );
    let jobs: Vec<(usize, u32)> = (0..plan.scenarios.len())
        .flat_map(|row| (0..plan.seeds.len() as u32).map(move |r| (row, r)))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.clamp(1, jobs.len().max(1)))
        .build()
        .context("cannot start the worker threads")?;
    let metrics = coverage::columns();
    let progress =
        (!crate::json_messages()).then(|| crate::sweep::Progress::new("coverage", jobs.len(), 0));
    let rows: Vec<Row> = pool.install(|| {
        jobs.par_iter()
            .map(|&(row, r)| {
                let result =
                    sim_models::run(&plan.scenarios[row], plan.seeds[r as usize], &scenario_name);
                if let Some(p) = &progress {
                    p.tick();
                }
                let values = plan
                    .factors
                    .iter()
                    .zip(&d.rows[row])
                    .map(|(f, &l)| f.levels[l].clone())
                    .collect();
                Row::new(row, r, values, &result, &metrics)
            })
            .collect()
    });
    if let Some(p) = &progress {
        p.finish();
    }
    let result = coverage::evaluate(&plan, &scenario_name, &v.scenario.hash(), rows);
    let replay = replay(&args, &plan);
    let json = serde_json::to_string_pretty(&result).expect("a coverage result serialises") + "\n";
    if args.json {
        print!("{json}");
    } else {
        print!("{}", reports::coverage_table(&result, &replay));
    }
    if let Some(dir) = &args.out {
        let charts = reports::coverage_charts(&result);
        output::write_atomic(&dir.join("coverage.json"), json.as_bytes())?;
        output::write_atomic(&dir.join("runs.csv"), result.sweep.runs_csv().as_bytes())?;
        output::write_atomic(&dir.join("rows.csv"), result.sweep.points_csv().as_bytes())?;
        output::write_atomic(
            &dir.join("effects.csv"),
            reports::coverage_effects_csv(&result).as_bytes(),
        )?;
        output::write_atomic(
            &dir.join("coverage.md"),
            reports::coverage_md(&result, &replay).as_bytes(),
        )?;
        output::write_charts(dir, &charts)?;
    }
    if !result.design.strength.covered() {
        eprintln!(
            "simctl: the strength check failed: {} pairs of levels never run together",
            result.design.strength.missing_count
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The command line that replays this run.
fn replay(args: &Args, plan: &coverage::Plan) -> String {
    let mut line = format!("simctl coverage {}", args.file.display());
    if let Some(f) = &args.factors {
        line.push_str(&format!(" --factors {}", f.display()));
    }
    for f in &args.factor {
        line.push_str(&format!(" --factor {f}"));
    }
    line.push_str(&format!(
        " --seeds {} --seed {}",
        plan.seeds.len(),
        plan.base_seed
    ));
    line
}

/// The plan's problems as an input error: positioned in the factors file, or naming the
/// `--factor` flag (or the option) they came from.
fn refusal(
    problems: Vec<Problem>,
    args: &Args,
    text: Option<&str>,
    from_file: usize,
) -> anyhow::Error {
    let mut lines = Vec::new();
    let mut items = Vec::new();
    let locator = text.map(Locator::new);
    for p in problems {
        let flag = match p.path.0.as_slice() {
            [PathSeg::Field("factors"), PathSeg::Index(i), ..] if *i >= from_file => {
                Some(format!("--factor {}", args.factor[i - from_file]))
            }
            _ if text.is_none() => Some(match p.path.0.first() {
                Some(PathSeg::Field("budget")) => "--budget".to_string(),
                Some(PathSeg::Field("seeds")) => "--seeds".to_string(),
                _ => "--factor".to_string(),
            }),
            _ => None,
        };
        match (flag, &locator) {
            (Some(flag), _) => lines.push(format!("simctl: {flag}: {}", p.message)),
            (None, Some(locator)) => items.push(Diagnostic::error(
                locator.locate(&p.path),
                p.path.to_string(),
                p.message,
            )),
            (None, None) => unreachable!("without a file every problem names a flag"),
        }
    }
    let mut diagnostics = Vec::new();
    if !items.is_empty() {
        let name = args
            .factors
            .as_deref()
            .map_or_else(String::new, |p: &Path| p.display().to_string());
        let d = Diagnostics::new(&name, items);
        lines.insert(0, d.to_string().trim_end().to_string());
        diagnostics.push(d);
    }
    InputError(lines.join("\n"), diagnostics).into()
}
