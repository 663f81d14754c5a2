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
//!
//! A sweep can be split over machines: `--shard K/N` runs only the runs whose index
//! (point x replicates + replicate) is K-1 modulo N, and saves them; [`merge`] joins the
//! shards' saved runs into the outputs a single-machine sweep would have written.

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
    /// Set when this directory holds one shard of a sweep split over machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardSpec>,
}

/// Which slice of the grid a shard runs, and what it must agree on with the other shards
/// to be merged with them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardSpec {
    /// K of K/N, from 1.
    pub index: u32,
    pub count: u32,
    /// The scenario's hash after `--set`, before any parameter.
    pub scenario_hash: String,
    pub base_seed: u64,
}

/// `--shard K/N`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}`: expected K/N with 1 <= K <= N, e.g. 2/8");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            k.trim().parse::<u32>().map_err(|_| bad())?,
            n.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl ShardSpec {
    /// Whether run `index` of the grid (point x replicates + replicate) is this shard's:
    /// round robin, so that each shard gets a share of every part of the grid.
    fn holds(&self, index: u64) -> bool {
        index % u64::from(self.count) == u64::from(self.index - 1)
    }
}

pub enum Ending {
    Done(Box<SweepResult>),
    /// Ctrl-C: this many runs of the total were finished and saved.
    Interrupted {
        done: usize,
        total: usize,
    },
    /// A shard's runs are all done and saved (its outputs come from `--merge`).
    Shard {
        runs: usize,
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

/// The metric of each column of the sweep `spec`: the run-wide metrics, then each
/// `--metric` that is not one of them (whether its service or client exists is checked
/// against the scenario before a sweep runs).
pub fn columns(spec: &Spec) -> Result<Vec<MetricRef>> {
    let mut metrics: Vec<MetricRef> = sim_models::metric::run_metrics().collect();
    for name in &spec.metrics {
        let m =
            MetricRef::parse(name).map_err(|e| InputError::msg(format!("simctl: --metric {e}")))?;
        if !metrics.contains(&m) {
            metrics.push(m);
        }
    }
    Ok(metrics)
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
    let mut mine = 0usize;
    for point in 0..points.len() {
        for replicate in 0..spec.seeds {
            let index = point as u64 * u64::from(spec.seeds) + u64::from(replicate);
            if spec.shard.as_ref().is_some_and(|s| !s.holds(index)) {
                continue;
            }
            mine += 1;
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
    let jobs = jobs.clamp(1, todo.len().max(1));
    let slice = match &spec.shard {
        Some(s) => format!("; shard {}/{}: {mine} runs", s.index, s.count),
        None => String::new(),
    };
    eprintln!(
        "sweep: {total} runs ({} points x {} replicates){slice}; {} to do on {jobs} threads",
        points.len(),
        spec.seeds,
        todo.len()
    );
    let total = mine;
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
    let progress = Progress::new("sweep", total, rows.len());
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
    if spec.shard.is_some() {
        return Ok(Ending::Shard { runs: rows.len() });
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
    read_spec_for(dir, "--resume", "no sweep to resume here")
}

fn read_spec_for(dir: &Path, flag: &str, missing: &str) -> Result<Spec> {
    let path = dir.join("sweep.spec.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        InputError::msg(format!("simctl: {flag} {}: {missing} ({e})", dir.display()))
    })?;
    serde_json::from_str(&text).map_err(|e| {
        InputError::msg(format!("simctl: {}: not a sweep spec: {e}", path.display())).into()
    })
}

/// The shards of one sweep, joined: the spec of the whole sweep, its result, and each saved
/// run's file (to be copied as it is: `(from, name under runs/)`).
pub struct Merged {
    pub spec: Spec,
    pub result: SweepResult,
    pub runs: Vec<(PathBuf, String)>,
}

/// Joins the shards saved in `dirs` (each made by `--shard K/N`, in any order). Refused with
/// the reason when they are not all the shards of one sweep, or a run is missing.
pub fn merge(dirs: &[PathBuf]) -> Result<Merged> {
    let input = |m: String| anyhow::Error::from(InputError::msg(format!("simctl: --merge: {m}")));
    let mut shards: Vec<(&PathBuf, Spec, ShardSpec)> = Vec::new();
    for dir in dirs {
        let mut spec = read_spec_for(dir, "--merge", "no sweep shard here")?;
        let Some(shard) = spec.shard.take() else {
            return Err(input(format!(
                "{} holds a whole sweep, not a shard (made with --shard K/N)",
                dir.display()
            )));
        };
        shards.push((dir, spec, shard));
    }
    let (first_dir, spec, first) = shards.first().cloned().expect("clap asks for a directory");
    for (dir, other, shard) in &shards[1..] {
        let differ: Vec<&str> = [
            ("scenario file", spec.file != other.file),
            (
                "scenario file's contents",
                spec.file_hash != other.file_hash,
            ),
            ("--set", spec.sets != other.sets),
            ("--param", spec.params != other.params),
            ("--seeds", spec.seeds != other.seeds),
            ("--seed", spec.seed != other.seed),
            ("--metric", spec.metrics != other.metrics),
            ("shard count N", first.count != shard.count),
            ("scenario hash", first.scenario_hash != shard.scenario_hash),
            ("base seed", first.base_seed != shard.base_seed),
        ]
        .into_iter()
        .filter_map(|(what, differs)| differs.then_some(what))
        .collect();
        if !differ.is_empty() {
            return Err(input(format!(
                "{} and {} are shards of different sweeps (their {} differ); merge the shards of one sweep",
                first_dir.display(),
                dir.display(),
                differ.join(", ")
            )));
        }
    }
    let n = first.count;
    let mut by_index: Vec<Option<&PathBuf>> = vec![None; n as usize];
    for (dir, _, shard) in &shards {
        let slot = &mut by_index[shard.index as usize - 1];
        if let Some(earlier) = slot {
            return Err(input(format!(
                "{} and {} are both shard {}/{n}",
                earlier.display(),
                dir.display(),
                shard.index
            )));
        }
        *slot = Some(dir);
    }
    let absent: Vec<String> = (1..=n)
        .filter(|k| by_index[*k as usize - 1].is_none())
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !absent.is_empty() {
        return Err(input(format!(
            "shard {} missing: give the directory of every shard 1..{n}",
            absent.join(", ")
        )));
    }
    let params: Vec<Param> = spec
        .params
        .iter()
        .map(|p| Param::parse(p).map_err(|e| input(format!("--param {e}"))))
        .collect::<Result<_>>()?;
    let points = grid(&params);
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    for (dir, _, shard) in &shards {
        let mut missing = Vec::new();
        let mut expected = 0usize;
        for point in 0..points.len() {
            for replicate in 0..spec.seeds {
                let index = point as u64 * u64::from(spec.seeds) + u64::from(replicate);
                if !shard.holds(index) {
                    continue;
                }
                expected += 1;
                let path = run_path(dir, point, replicate);
                if path.exists() {
                    rows.push(read_row(&path)?);
                    let name = path.file_name().expect("a run file").to_string_lossy();
                    runs.push((path.clone(), name.into_owned()));
                } else {
                    missing.push(path);
                }
            }
        }
        if let Some(path) = missing.first() {
            return Err(input(format!(
                "shard {}/{n} in {} lacks {} of its {expected} runs (the first: {}); finish it with: simctl sweep --resume {}",
                shard.index,
                dir.display(),
                missing.len(),
                path.display(),
                dir.display()
            )));
        }
    }
    runs.sort_by(|a, b| a.1.cmp(&b.1));
    let result = SweepResult::new(
        &spec.file.display().to_string(),
        &first.scenario_hash,
        first.base_seed,
        spec.seeds,
        params,
        &columns(&spec)?,
        rows,
    );
    Ok(Merged { spec, result, runs })
}

/// A bar on a terminal; a plain line per tenth of the work otherwise (CI logs). Shared by
/// the commands that run many simulations (`sweep`, `compare`, `experiment`).
pub struct Progress {
    /// The command, at the start of each plain line.
    what: &'static str,
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
    pub fn new(what: &'static str, total: usize, already: usize) -> Self {
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
            what,
            bar,
            state: Mutex::new((already, 0)),
            total,
            already,
            started: std::time::Instant::now(),
        }
    }

    pub fn tick(&self) {
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
                "{}: {done}/{} runs, {rate:.2} runs/s, eta {eta:.0}s",
                self.what, self.total
            );
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let (done, _) = *self.state.lock().expect("progress lock");
        let secs = self.started.elapsed().as_secs_f64();
        eprintln!(
            "{}: {} runs in {secs:.1}s wall ({:.2} runs/s)",
            self.what,
            done - self.already,
            (done - self.already) as f64 / secs.max(1e-9)
        );
    }
}
