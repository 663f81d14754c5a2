//! `simctl sweep`: runs a grid of scenario variants x replicates on a rayon pool.
//!
//! Each finished run is saved at once as `DIR/runs/pPPPPP-rRRR.json` (atomically), so an
//! interrupted sweep (Ctrl-C, a kill) keeps every finished run and `--resume DIR` runs only
//! the missing ones. The outputs are built from the saved rows in (point, replicate) order,
//! so they are the same bytes whatever the thread count or the interruptions.
//!
//! Before anything runs, the run count is stated, and a sweep of more than
//! [`CONFIRM_ABOVE`] runs needs `--yes` (or `--max-runs N`). A sweep writing into a
//! directory holds `DIR/.sweep.lock` (its PID) so that two sweeps never share one.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sim_models::Scenario;
use sim_models::metric::MetricRef;
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
    /// `--metric` names reported beside the run-wide metrics.
    #[serde(default)]
    pub metrics: Vec<String>,
}

pub enum Ending {
    Done(Box<SweepResult>),
    /// Ctrl-C: this many runs of the total were finished and saved.
    Interrupted {
        done: usize,
        total: usize,
    },
}

/// A sweep of more runs than this is stated and needs `--yes` or `--max-runs` to start.
pub const CONFIRM_ABOVE: u64 = 1_000;
/// No sweep may have more runs than this, even with `--yes`.
pub const MOST_RUNS: u64 = 10_000_000;

/// The user's consent to a large sweep.
pub struct SizeLimit {
    pub yes: bool,
    pub max_runs: Option<u64>,
}

/// Checks the run count against the limits; the message says what to do.
fn check_size(points: u64, seeds: u32, size: &SizeLimit) -> Result<u64> {
    let total = points.saturating_mul(u64::from(seeds));
    let what = format!("{total} runs ({points} points x {seeds} replicates)");
    let refuse =
        |why: String| Err(InputError::msg(format!("simctl: this sweep is {what}: {why}")).into());
    if total > MOST_RUNS {
        return refuse(format!("at most {MOST_RUNS} runs may be asked for"));
    }
    match size.max_runs {
        Some(most) if total > most => refuse(format!("more than --max-runs {most}")),
        None if !size.yes && total > CONFIRM_ABOVE => refuse(format!(
            "more than {CONFIRM_ABOVE} runs starts only with --yes (or --max-runs {total})"
        )),
        _ => Ok(total),
    }
}

/// `DIR/.sweep.lock`, holding the PID of the sweep writing into DIR; removed when dropped.
/// A lock whose process is gone (a killed sweep) is taken over.
pub struct Lock(PathBuf);

impl Lock {
    pub fn take(dir: &Path) -> Result<Lock> {
        let path = dir.join(".sweep.lock");
        for _ in 0..3 {
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path);
            match created {
                Ok(mut f) => {
                    use std::io::Write;
                    writeln!(f, "{}", std::process::id())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    return Ok(Lock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<u32>().ok());
                    if let Some(pid) = holder.filter(|&p| crate::output::pid_alive(p)) {
                        return Err(InputError::msg(format!(
                            "simctl: another sweep (process {pid}) is writing into {}; wait for it to finish, or use another directory",
                            dir.display()
                        ))
                        .into());
                    }
                    // Stale (its process is gone) or half-written: take it over.
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()));
                }
            }
        }
        anyhow::bail!("cannot take the lock {}", path.display())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
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

/// Runs (or resumes) the sweep `spec` with at most `jobs` threads, saving runs under `dir`.
/// `size` is checked for a new sweep (`None` when resuming: it was checked at the start).
pub fn run(
    spec: &Spec,
    metrics: &[MetricRef],
    base: &Scenario,
    jobs: usize,
    size: Option<&SizeLimit>,
    dir: Option<&Path>,
) -> Result<Ending> {
    let bad_param = |e: String| InputError::msg(format!("simctl: --param {e}"));
    let params: Vec<Param> = spec
        .params
        .iter()
        .map(|p| Param::parse(p).map_err(bad_param))
        .collect::<Result<_, _>>()?;
    for (i, p) in params.iter().enumerate() {
        if params[..i].iter().any(|q| q.path == p.path) {
            return Err(bad_param(format!(
                "`{}` is given twice: list all its values in one --param",
                p.path
            ))
            .into());
        }
    }
    let count = params
        .iter()
        .fold(1u64, |n, p| n.saturating_mul(p.values.len() as u64));
    let total = match size {
        Some(size) => check_size(count, spec.seeds, size)?,
        None => count * u64::from(spec.seeds),
    };
    let overrides = Overrides::new(base);
    // Each value is checked on its own before anything runs, so a bad value fails in a
    // second (the points themselves are built as they run: a grid can be large).
    for p in &params {
        for v in &p.values {
            overrides
                .apply(&[(p.path.as_str(), v.as_str())])
                .map_err(bad_param)?;
        }
    }
    let points = grid(&params);
    let scenario = |point: usize| -> Result<Scenario> {
        let sets: Vec<(&str, &str)> = params
            .iter()
            .zip(&points[point])
            .map(|(p, v)| (p.path.as_str(), v.as_str()))
            .collect();
        Ok(overrides.apply(&sets).map_err(bad_param)?)
    };
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
    let total = total as usize;
    let jobs = jobs.clamp(1, todo.len().max(1));
    eprintln!(
        "sweep: {total} runs ({} points x {} replicates); {} to do on {jobs} threads",
        points.len(),
        spec.seeds,
        todo.len()
    );
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
                let result = sim_models::run(&scenario(job.point)?, job.seed, &file);
                let values = points[job.point].clone();
                let row = Row::new(job.point, job.replicate, values, &result, metrics);
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
        metrics,
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
        InputError::msg(format!(
            "simctl: --resume {}: no sweep to resume here ({e})",
            dir.display()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| {
        InputError::msg(format!("simctl: {}: not a sweep spec: {e}", path.display())).into()
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
