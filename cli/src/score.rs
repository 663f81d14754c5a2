//! `simctl score FILE...`: the reliability score of each scenario (see
//! `sim_models::score`). Reads and checks every file first, then runs every suite's
//! distinct runs on one rayon pool (joined in order: the output does not depend on
//! `--jobs`), prints the table, writes `--out` and appends each test to `--journal`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use rayon::prelude::*;
use sim_models::score::{self, Options, Score, Suite};

use crate::{InputError, output};

pub struct Args {
    pub files: Vec<PathBuf>,
    pub seeds: u32,
    pub seed: Option<u64>,
    pub default_slo: f64,
    pub jobs: usize,
    pub json: bool,
    pub out: Option<PathBuf>,
    pub journal: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if !(args.default_slo > 0.0 && args.default_slo < 1.0) {
        return Err(InputError::msg(format!(
            "simctl: --default-slo must be an availability strictly between 0 and 1 (0.999 for 99.9%), got {}",
            args.default_slo
        ))
        .into());
    }
    let loaded: Vec<_> = args
        .files
        .iter()
        .zip(crate::load_all(&args.files)?)
        .collect();
    for dir in [&args.out, &args.journal].into_iter().flatten() {
        output::check_out_dir(dir)?;
    }
    let opts = Options {
        seeds: args.seeds,
        seed: args.seed,
        default_slo: args.default_slo,
    };
    let suites: Vec<Suite> = loaded
        .iter()
        .map(|(f, (_, v))| {
            crate::print_warnings(f, v);
            score::suite(&f.display().to_string(), &v.scenario, &opts)
        })
        .collect();
    for s in suites.iter().filter(|_| !crate::json_messages()) {
        let not_run = s.tests.iter().filter(|t| t.setup.is_err()).count();
        eprintln!(
            "simctl: {}: {} tests over {} services ({not_run} not run), {} runs ({} distinct scenarios x {} seeds)",
            s.file,
            s.tests.len(),
            s.tests
                .iter()
                .map(|t| &t.service)
                .fold(Vec::new(), |mut v: Vec<&String>, x| {
                    if !v.contains(&x) {
                        v.push(x);
                    }
                    v
                })
                .len(),
            s.runs().len(),
            s.scenarios.len(),
            s.seeds.len()
        );
    }

    // Every run of every suite, in (suite, scenario, seed) order.
    let jobs: Vec<(usize, &sim_models::Scenario, u64)> = suites
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.runs().into_iter().map(move |(sc, seed)| (i, sc, seed)))
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.clamp(1, jobs.len().max(1)))
        .build()?;
    let progress =
        (!crate::json_messages()).then(|| crate::sweep::Progress::new("score", jobs.len(), 0));
    let results: Vec<sim_models::RunResult> = pool.install(|| {
        jobs.par_iter()
            .map(|&(i, sc, seed)| {
                let r = sim_models::run(sc, seed, &suites[i].file);
                if let Some(p) = &progress {
                    p.tick();
                }
                r
            })
            .collect()
    });
    if let Some(p) = &progress {
        p.finish();
    }
    let mut scores: Vec<Score> = Vec::new();
    let mut outcomes = Vec::new();
    let mut at = 0;
    for s in &suites {
        let n = s.runs().len();
        let (score, o) = s.judge(&results[at..at + n]);
        at += n;
        scores.push(score);
        outcomes.push(o);
    }

    let files: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
    let mut command = format!("simctl score {} --seeds {}", files.join(" "), args.seeds);
    if let Some(seed) = args.seed {
        command.push_str(&format!(" --seed {seed}"));
    }
    if args.default_slo != score::DEFAULT_SLO {
        command.push_str(&format!(" --default-slo {}", args.default_slo));
    }
    let json = serde_json::to_string_pretty(&scores).expect("scores serialise") + "\n";
    if args.json {
        print!("{json}");
    } else {
        print!("{}", reports::score_table(&scores, false));
        println!("replay: {command}");
    }
    if let Some(dir) = &args.out {
        output::write_atomic(&dir.join("score.json"), json.as_bytes())?;
        output::write_atomic(
            &dir.join("score.md"),
            reports::score_md(&scores, &command).as_bytes(),
        )?;
        output::write_charts(dir, &[reports::score_chart(&scores)])?;
    }
    if let Some(dir) = &args.journal {
        for (((s, score), o), (_, (text, _))) in
            suites.iter().zip(&scores).zip(&outcomes).zip(&loaded)
        {
            for (t, outcome) in s.tests.iter().zip(o) {
                if let (Ok(setup), Some(outcome)) = (&t.setup, outcome) {
                    crate::journal::append(dir, &setup.experiment, outcome, text, &command)?;
                }
            }
            crate::journal::append_score(dir, score, text, &command)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
