//! `simctl sweep`: runs a grid of scenario variants x replicates on a rayon pool.
//!
//! Each finished run is saved at once as `DIR/runs/pPPPPP-rRRR.json` (atomically), so an
//! interrupted sweep (Ctrl-C, a kill) keeps every finished run and `--resume DIR` runs only
//! the missing ones. The outputs are built from the saved rows in (point, replicate) order,
//! so they are the same bytes whatever the thread count or the interruptions.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sim_models::Scenario;
use sim_models::sweep::{Overrides, Param, Row, SweepResult, grid, replicate_seed};

use crate::InputError;
use crate::output::write_atomic;

/// Set by Ctrl-C: runs not yet started are skipped; runs in progress finish and are kept.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// What a sweep is, as saved in `DIR/sweep.spec.json` for `--resume`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub file: PathBuf,
    /// FNV-1a of the scenario file's bytes: a resumed sweep must run the same file.
    pub file_hash: String,
    /// `--set` overrides applied before the parameters.
    pub sets: Vec<String>,
    pub params: Vec<String>,
    pub seeds: u32,
    pub seed: Option<u64>,
}

pub enum Ending {
    Done(Box<SweepResult>),
    /// Ctrl-C: this many runs of the total were finished and saved.
    Interrupted {
        done: usize,
        total: usize,
    },
}

/// One run to do.
struct Job {
    point: usize,
    replicate: u32,
    seed: u64,
}

pub fn file_hash(text: &str) -> String {
    format!("{:016x}", sim_core::rng::fnv1a64(text.as_bytes()))
}

/// Runs (or resumes) the sweep `spec` with `jobs` threads, saving runs under `dir`.
pub fn run(spec: &Spec, base: &Scenario, jobs: usize, dir: Option<&Path>) -> Result<Ending> {
    let params: Vec<Param> = spec
        .params
        .iter()
        .map(|p| Param::parse(p).map_err(|e| InputError(format!("simctl: --param {e}"), None)))
        .collect::<Result<_, _>>()?;
    let overrides = Overrides::new(base);
    let points = grid(&params);
    // Every point is built and checked before anything runs: a bad value fails in a second.
    let scenarios: Vec<Scenario> = points
        .iter()
        .map(|values| {
            let sets: Vec<(&str, &str)> = params
                .iter()
                .zip(values)
                .map(|(p, v)| (p.path.as_str(), v.as_str()))
                .collect();
            overrides
                .apply(&sets)
                .map_err(|e| InputError(format!("simctl: --param {e}"), None))
        })
        .collect::<Result<_, _>>()?;
    let base_seed = spec.seed.unwrap_or(base.seed);
    let file = spec.file.display().to_string();

    let mut rows: Vec<Row> = Vec::new();
    let mut todo: Vec<Job> = Vec::new();
    for point in 0..points.len() {
        for replicate in 0..spec.seeds {
            let saved = dir.map(|d| run_path(d, point, replicate));
            match saved.filter(|p| p.exists()) {
                Some(path) => rows.push(read_row(&path)?),
                None => todo.push(Job {
                    point,
                    replicate,
                    seed: replicate_seed(base_seed, replicate),
                }),
            }
        }
    }
    let total = points.len() * spec.seeds as usize;
    if let Some(d) = dir {
        std::fs::create_dir_all(d.join("runs"))
            .with_context(|| format!("cannot create {}", d.join("runs").display()))?;
        let text = serde_json::to_string_pretty(spec).expect("a spec serialises");
        write_atomic(&d.join("sweep.spec.json"), text.as_bytes())?;
    }

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("cannot start the worker threads")?;
    let progress = Progress::new(total, rows.len());
    let new_rows: Vec<Option<Row>> = pool.install(|| {
        todo.par_iter()
            .map(|job| {
                if INTERRUPTED.load(Ordering::SeqCst) {
                    return Ok(None);
                }
                let result = sim_models::run(&scenarios[job.point], job.seed, &file);
                let row = Row::new(job.point, job.replicate, points[job.point].clone(), &result);
                if let Some(d) = dir {
                    let text = serde_json::to_string(&row).expect("a row serialises");
                    write_atomic(&run_path(d, job.point, job.replicate), text.as_bytes())?;
                }
                progress.tick();
                Ok(Some(row))
            })
            .collect::<Result<_>>()
    })?;
    progress.finish();
    rows.extend(new_rows.into_iter().flatten());
    if rows.len() < total {
        return Ok(Ending::Interrupted {
            done: rows.len(),
            total,
        });
    }
    Ok(Ending::Done(Box::new(SweepResult::new(
        &file,
        &base.hash(),
        base_seed,
        spec.seeds,
        params,
        rows,
    ))))
}

/// Stops the sweep gracefully on the first Ctrl-C, at once on the second.
pub fn on_interrupt() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nsimctl: stopping after the runs in progress (Ctrl-C again to quit now)");
    });
}

fn run_path(dir: &Path, point: usize, replicate: u32) -> PathBuf {
    dir.join("runs")
        .join(format!("p{point:05}-r{replicate:03}.json"))
}

fn read_row(path: &Path) -> Result<Row> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a saved run", path.display()))
}

/// Reads the spec of the sweep saved in `dir`.
pub fn read_spec(dir: &Path) -> Result<Spec> {
    let path = dir.join("sweep.spec.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        InputError(
            format!(
                "simctl: --resume {}: no sweep to resume here ({e})",
                dir.display()
            ),
            None,
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        InputError(
            format!("simctl: {}: not a sweep spec: {e}", path.display()),
            None,
        )
        .into()
    })
}

/// A bar on a terminal; a plain line per tenth of the work otherwise (CI logs).
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    state: Mutex<(usize, usize)>,
    total: usize,
    already: usize,
    #[allow(
        clippy::disallowed_types,
        reason = "progress shows wall time; runs never see it"
    )]
    started: std::time::Instant,
}

impl Progress {
    #[allow(
        clippy::disallowed_types,
        reason = "progress shows wall time; runs never see it"
    )]
    fn new(total: usize, already: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} runs  {per_sec}  eta {eta}",
                )
                .expect("a valid template"),
            );
            bar.set_position(already as u64);
            bar
        });
        Progress {
            bar,
            state: Mutex::new((already, 0)),
            total,
            already,
            started: std::time::Instant::now(),
        }
    }

    fn tick(&self) {
        let mut state = self.state.lock().expect("progress lock");
        state.0 += 1;
        let (done, shown) = *state;
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            return;
        }
        let tenth = done * 10 / self.total.max(1);
        if tenth > shown || done == self.total {
            state.1 = tenth;
            let secs = self.started.elapsed().as_secs_f64();
            let rate = (done - self.already) as f64 / secs.max(1e-9);
            let eta = (self.total - done) as f64 / rate.max(1e-9);
            eprintln!(
                "sweep: {done}/{} runs, {rate:.2} runs/s, eta {eta:.0}s",
                self.total
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let (done, _) = *self.state.lock().expect("progress lock");
        let secs = self.started.elapsed().as_secs_f64();
        eprintln!(
            "sweep: {} runs in {secs:.1}s wall ({:.2} runs/s)",
            done - self.already,
            (done - self.already) as f64 / secs.max(1e-9)
        );
    }
}
