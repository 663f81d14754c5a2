//! simctl: the command line. The only crate that does IO: it reads scenario files, reads
//! the wall clock for benchmarks, and writes outputs (atomically).
//!
//! Exit codes: 0 success; 1 the run stopped on a guard or an internal error; 2 bad usage or
//! bad input (the scenario file could not be read, parsed or validated); `simctl experiment`
//! adds 3 deviated, 4 aborted, 5 undetermined (0 is held).

#![allow(
    clippy::disallowed_methods,
    reason = "simctl is the one crate that does IO"
)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use sim_models::Validated;
use sim_models::diagnostic::Diagnostics;
use sim_models::metric::MetricRef;
use sim_models::scenario::Scenario;

mod agent;
mod bench;
mod classify;
mod coverage;
mod experiment;
mod exports;
mod journal;
mod output;
mod plans;
mod progress;
mod remediate;
mod score;
mod series;
mod spof;
mod sweep;
mod train;

/// A deterministic discrete-event simulator for the resilience of distributed systems.
///
/// Exit codes: 0 success, 1 a run stopped on a guard or an internal error, 2 bad usage or
/// bad input (unreadable, malformed or invalid scenario). `simctl experiment`: 0 held,
/// 3 deviated, 4 aborted, 5 undetermined.
#[derive(Parser)]
#[command(name = "simctl", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and print its summary.
    Run {
        /// The scenario file (RON).
        file: PathBuf,
        /// Seed of the run (0 to 18446744073709551615); defaults to the scenario's own `seed`.
        #[arg(long, allow_negative_numbers = true, value_parser = seed_arg)]
        seed: Option<u64>,
        /// Summary format on stdout.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also write the full result (summary.json, with the time series), its charts
        /// (PNG and SVG) and report.md into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Stop after this many events (overrides the scenario's `limits.max_events`).
        #[arg(long)]
        max_events: Option<u64>,
        /// Stop when more requests or attempts than this are in flight (overrides
        /// `limits.max_in_flight`): a pile-up is reported, not an out-of-memory kill.
        #[arg(long)]
        max_in_flight: Option<u64>,
        /// Set a field before running, by its path: `--set services.db.workers=4`
        /// (repeatable; paths as in `simctl sweep --param`; values in RON, so
        /// `--set services.db.queue=Bounded(5)` and `--set 'clients.c.policy.retry_on=[Timeout]'`).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Trace about N logical requests (picked from the seed) into --out DIR/trace.json:
        /// every attempt, queue wait, work, retry backoff, hedge and timeout as spans, in the
        /// Chrome trace-event format that Perfetto and chrome://tracing open.
        #[arg(long, value_name = "N", requires = "out", value_parser = clap::value_parser!(u32).range(1..=100_000))]
        trace: Option<u32>,
        /// Write the run's event log here: JSON lines in time order of faults and rule
        /// actions starting and ending, rules firing, alerts firing and resolving, breaker
        /// transitions and outlier ejections (times from --start too).
        #[arg(long, value_name = "FILE")]
        events: Option<PathBuf>,
        /// Also write these exports into --out (repeatable): `openmetrics` writes
        /// metrics.om (every time series, for `promtool tsdb create-blocks-from openmetrics`).
        #[arg(long, value_enum, requires = "out")]
        export: Vec<exports::Export>,
        /// With --export openmetrics: the UTC instant virtual time 0 is mapped onto.
        #[arg(long, default_value = exports::DEFAULT_START, value_parser = exports::start_arg, value_name = "YYYY-MM-DDTHH:MM:SSZ")]
        start: i64,
        /// Time series written with --format json and into summary.json: `full` (every
        /// window), `none`, or a coarser window such as `60s` (a whole multiple of the
        /// scenario's window). Charts and verdicts always use every window.
        #[arg(long, default_value = "full", value_name = "full|none|WINDOW")]
        series: series::SeriesOut,
        /// Decide about the scenario's incidents with this plans file (JSON, plans per
        /// incident class) instead of simctl's planner; checked first (exit 2 with
        /// file:line:col on a cycle, an unknown action or target, an unsafe parameter).
        #[arg(long, value_name = "FILE")]
        plans: Option<PathBuf>,
        #[command(flatten)]
        agent: agent::AgentArgs,
        /// Decide about incidents with a learned policy (`simctl train`'s file) instead of
        /// simctl's planner.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["trace", "plans", "agent", "replay"])]
        policy: Option<PathBuf>,
    },
    /// Automated remediation against the human alone: each seed run with automation
    /// (simctl's planner, or --plans FILE) and with `automation: Off`, paired; MTTD, MTTR,
    /// availability, actions, undone, harmful and escalations with 95% t intervals, and
    /// their paired differences.
    Remediate {
        /// The scenario file (RON), with a `remediation` section.
        file: PathBuf,
        /// Seeds (pairs of runs).
        #[arg(long, default_value_t = 20)]
        seeds: u32,
        /// Base seed; replicate r runs on a seed derived from it (the scenario's by default).
        #[arg(long, allow_negative_numbers = true, value_parser = seed_arg)]
        seed: Option<u64>,
        /// A plans file deciding instead of simctl's planner.
        #[arg(long, value_name = "FILE")]
        plans: Option<PathBuf>,
        /// A learned policy (`simctl train`'s file), evaluated on these seeds against
        /// simctl's planner and the human alone (the seeds must not be training seeds).
        #[arg(long, value_name = "FILE", conflicts_with = "plans")]
        policy: Option<PathBuf>,
        /// Worker threads (the output does not depend on it); the machine's cores by default.
        #[arg(long)]
        jobs: Option<usize>,
        /// Print the comparison (and every seed's totals) as JSON.
        #[arg(long, conflicts_with = "markdown")]
        json: bool,
        /// Print the table as markdown (README's).
        #[arg(long)]
        markdown: bool,
    },
    /// Run a scenario over a grid of parameter values x seeds, in parallel; or, with
    /// --find, search for the smallest value at which the run turns metastable.
    ///
    /// Paths name fields as the file spells them: `services.db.workers`,
    /// `clients.shoppers.load.rate_rps`, `faults.0.kind.factor`. Values: a list `1,2,5`, a
    /// range `200..2000:200` (durations too: `100ms..1s:100ms`), or N log-spaced points
    /// `10..10000:log4`. Replicate 0 uses the base seed; every point uses the same seeds.
    Sweep {
        /// The scenario file (RON); not needed with --resume or --merge.
        #[arg(required_unless_present_any = ["resume", "merge"])]
        file: Option<PathBuf>,
        /// A field to vary and its values, `PATH=VALUES` (repeatable: the grid is the
        /// cartesian product, the first parameter varying slowest).
        /// Without any --param, the sweep is --seeds replicates of the scenario as it is.
        #[arg(long = "param", value_name = "PATH=VALUES")]
        params: Vec<String>,
        /// Set a field for every run first: `--set faults.1.kind.factor=1` (repeatable).
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Replicates per point.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        seeds: u32,
        /// Base seed; defaults to the scenario's own `seed`.
        #[arg(long, allow_negative_numbers = true, value_parser = seed_arg)]
        seed: Option<u64>,
        /// Worker threads (default: the machine's cores; never more than the runs to do).
        /// Output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Start a sweep of more than 1000 runs (the count is stated before anything runs).
        #[arg(long)]
        yes: bool,
        /// Refuse to start a sweep of more than this many runs (and allow one up to it).
        #[arg(long, value_name = "N", conflicts_with = "yes")]
        max_runs: Option<u64>,
        /// Write runs.csv, points.csv, sweep.json, charts and report.md here; finished runs
        /// are saved as they finish, so an interrupted sweep can be resumed.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Finish the interrupted sweep saved in this directory (runs only what is missing).
        #[arg(long, conflicts_with_all = ["file", "params", "sets", "find", "seeds", "seed", "out"])]
        resume: Option<PathBuf>,
        /// Run only the K-th of N disjoint slices of the grid (runs whose index, point x
        /// replicates + replicate, is K-1 modulo N) and save them in --out; join the N
        /// directories with --merge. For a cluster's job array (see docs/cluster/).
        #[arg(long, value_name = "K/N", value_parser = shard_arg, requires = "out", conflicts_with_all = ["resume", "find"])]
        shard: Option<sweep::Shard>,
        /// Join the directories of every shard of one sweep (made with --shard K/N) into
        /// --out: the same files, byte for byte, as the sweep run on one machine.
        #[arg(long, num_args = 1.., value_name = "DIR", requires = "out",
              conflicts_with_all = ["file", "params", "sets", "find", "seeds", "seed", "resume", "shard"])]
        merge: Vec<PathBuf>,
        /// Search `PATH=LO..HI` for the smallest value at which the run turns metastable.
        #[arg(long, value_name = "PATH=LO..HI", conflicts_with = "params")]
        find: Option<String>,
        /// With --find: the condition searched for (the run's verdict: it never recovers after
        /// its faults, or collapses without one; undetermined is neither and stops the search).
        #[arg(long, value_enum, default_value_t = Until::Metastable, requires = "find")]
        until: Until,
        /// With --find: stop the search within this distance (default: 1 for whole-number
        /// fields, 1/100 of the range otherwise).
        #[arg(long, requires = "find")]
        tolerance: Option<f64>,
        /// Also report this metric, by its registry name (repeatable): a service's
        /// `services.db.utilization`, a route's `clients.web.p99_ms`, ... (README, "Metrics").
        #[arg(long = "metric", value_name = "NAME")]
        metrics: Vec<String>,
        /// Output format on stdout.
        #[arg(long, value_enum, default_value_t = SweepFormat::Table)]
        format: SweepFormat,
    },
    /// Run several scenarios (in parallel) and print their headline numbers side by side.
    Compare {
        /// The scenario files (RON), in the order of the rows.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Seed for every run; defaults to each scenario's own `seed`.
        #[arg(long, allow_negative_numbers = true, value_parser = seed_arg)]
        seed: Option<u64>,
        /// Also show this metric, by its registry name (repeatable): a service's
        /// `services.db.utilization`, a route's `clients.web.p99_ms`, ... (README, "Metrics").
        #[arg(long = "metric", value_name = "NAME")]
        metrics: Vec<String>,
        /// Output format on stdout.
        #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
        format: CompareFormat,
        /// Write the results (results.json), overlaid charts and report.md here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write these exports into --out (repeatable): `openmetrics` writes
        /// metrics.om (every time series, for `promtool tsdb create-blocks-from openmetrics`).
        #[arg(long, value_enum, requires = "out")]
        export: Vec<exports::Export>,
        /// With --export openmetrics: the UTC instant virtual time 0 is mapped onto.
        #[arg(long, default_value = exports::DEFAULT_START, value_parser = exports::start_arg, value_name = "YYYY-MM-DDTHH:MM:SSZ")]
        start: i64,
        /// Time series written into results.json: `full`, `none` or a coarser window
        /// such as `60s` (as for `simctl run`).
        #[arg(long, default_value = "full", value_name = "full|none|WINDOW")]
        series: series::SeriesOut,
    },
    /// Redraw the charts and report.md of saved results without running anything: a run's
    /// summary.json, a comparison's results.json or a sweep's sweep.json.
    Chart {
        /// The saved results (JSON).
        results: PathBuf,
        /// Where to write the charts and report.md.
        #[arg(long)]
        out: PathBuf,
    },
    /// Run a chaos experiment: its steady-state hypothesis checked on control and
    /// experiment runs (the method's faults added) on the same seeds, and a verdict.
    ///
    /// Exit codes: 0 the hypothesis held, 3 it deviated, 4 a stop condition aborted the
    /// method, 5 undetermined (a run stopped early, the control breaks the hypothesis, or a
    /// probe could not be evaluated), 2 bad input, 1 internal error.
    Experiment {
        /// The experiment file (RON).
        file: PathBuf,
        /// Run this scenario instead of the one the file names (same hypothesis and method).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// Seeds (replicates) instead of the file's `seeds`.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        seeds: Option<u32>,
        /// Base seed instead of the file's `seed` (or the scenario's).
        #[arg(long, allow_negative_numbers = true, value_parser = seed_arg)]
        seed: Option<u64>,
        /// Worker threads (default: the machine's cores). Output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Output format on stdout.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write experiment.json and experiment.md here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Append this experiment to the journal in this directory (journal.jsonl, one
        /// markdown entry per experiment, and index.md).
        #[arg(long)]
        journal: Option<PathBuf>,
    },
    /// Cover a fault space with a strength-2 orthogonal array (OATS): factors with levels
    /// (fault kind, target, timing, intensity, and scenario fields by path), the smallest
    /// orthogonal array that fits them (or a covering array when none does, said so), its
    /// strength check, every row run on several seeds, and the main effects of each factor
    /// on availability, p99 and collapse, with the run count of the full factorial beside
    /// it. The factors file's schema: `sim_models::coverage` (example:
    /// experiments/coverage-v1.0.ron).
    ///
    /// Exit codes: 0 done, 1 the strength check failed or an internal error, 2 bad input.
    Coverage {
        /// The scenario file (RON).
        file: PathBuf,
        /// The factors file (RON): `Coverage(seeds: .., fault: .., factors: [..])`.
        #[arg(long, required_unless_present = "factor")]
        factors: Option<PathBuf>,
        /// A scenario field as a factor, `PATH=LEVELS` as `simctl sweep --param` takes it
        /// (repeatable; after the file's factors).
        #[arg(long = "factor", value_name = "PATH=LEVELS")]
        factor: Vec<String>,
        /// Seeds (replicates) per row instead of the file's `seeds` (default 3).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        seeds: Option<u32>,
        /// Base seed instead of the file's `seed` (or the scenario's).
        #[arg(long, allow_negative_numbers = true, value_parser = seed_arg)]
        seed: Option<u64>,
        /// Refuse a design of more runs (rows x seeds) than this (instead of the file's
        /// `budget`).
        #[arg(long, value_name = "N")]
        budget: Option<u64>,
        /// Worker threads (default: the machine's cores). Output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Output format on stdout.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write coverage.json, coverage.md, effects.csv, runs.csv, rows.csv and the
        /// main-effects charts (PNG and SVG) here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The reliability score of each scenario, as Gremlin defines it: a standard suite per
    /// service (redundancy: lose one instance, lose a zone; scalability: a 2x load step;
    /// dependencies: each dependency cut off, and slow), each test an experiment whose
    /// hypothesis is the route SLOs, run on several seeds; passed 100, failed 50, not run
    /// or undetermined 0, averaged per category, then across categories and services.
    /// Prints a table (rows: files; columns: categories and overall).
    Score {
        /// The scenario files (RON), e.g. the ladder: scenarios/v0.*.ron scenarios/v1.0.ron.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Seeds per test (control and experiment on each).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        seeds: u32,
        /// Base seed (default: each scenario's own).
        #[arg(long, allow_negative_numbers = true, value_parser = seed_arg)]
        seed: Option<u64>,
        /// The availability objective of a route when neither it nor its scenario declares
        /// an SLO.
        #[arg(long, default_value_t = sim_models::score::DEFAULT_SLO, allow_negative_numbers = true)]
        default_slo: f64,
        /// Worker threads (default: the machine's cores). Output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Output format on stdout.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write score.json, score.md and the chart (score.png, score.svg) here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Record each test in the journal in this directory, like any experiment, and the
        /// scores in its index (the score over time).
        #[arg(long)]
        journal: Option<PathBuf>,
    },
    /// Find single points of failure: fail each service, instance, cache, broker, link and
    /// zone alone (crash, blackhole, slow) for a window on several seeds, rank the failures
    /// by goodput lost, and mark those that make a route miss its SLO, beside the static
    /// view of the call graph.
    Spof {
        /// The scenario file (RON).
        file: PathBuf,
        /// Set a field of the scenario first (`services.db.replicas=3`), as `run --set`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// When each failure starts (default: a quarter into the horizon, after warm-up).
        #[arg(long)]
        start: Option<String>,
        /// How long each failure lasts (default: 30s, or a tenth of a shorter horizon).
        #[arg(long)]
        length: Option<String>,
        /// Seeds (replicates) per failure and for the baseline.
        #[arg(long, default_value_t = 3)]
        seeds: u32,
        /// Base seed (default: the scenario's).
        #[arg(long, allow_negative_numbers = true, value_parser = seed_arg)]
        seed: Option<u64>,
        /// The failures to try, comma-separated: crash, blackhole, slow.
        #[arg(long, default_value = "crash,blackhole,slow")]
        kinds: String,
        /// A slow target's work takes this many times as long.
        #[arg(long, default_value_t = 10.0)]
        slow_factor: f64,
        /// Only this target (as the output names it: `db`, `db#1`, `gateway -> orders`,
        /// `zone a`); repeat for more.
        #[arg(long, value_name = "TARGET")]
        only: Vec<String>,
        /// Judge every route by this availability objective instead of its SLO's.
        #[arg(long)]
        objective: Option<f64>,
        /// Worker threads (default: the machine's cores). Output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Output format on stdout.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write spof.json and spof.md here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Learn a recovery policy from simulated incidents: each episode runs the scenario on
    /// its own seed (never an evaluation seed) with an exploring policy, and the incidents'
    /// outcomes (MTTR, harmful actions, lost requests) train a table of state -> action
    /// values. Same file at any --jobs. Use it with `run --policy` / `remediate --policy`.
    Train {
        /// The scenario file (RON), with a `remediation` section.
        file: PathBuf,
        /// Set a field of the scenario first, as `run --set`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Episodes (simulated runs) to learn from.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        episodes: u64,
        /// Training seed: the episodes' run seeds and exploration draws come from it
        /// (default: the scenario's seed).
        #[arg(long, allow_negative_numbers = true, value_parser = seed_arg)]
        seed: Option<u64>,
        /// Worker threads (default: the machine's cores). The policy does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Write the policy file (JSON) here.
        #[arg(long)]
        out: PathBuf,
    },
    /// Measure the incident classifier: run a scenario whose `remediation.mix` generates
    /// incidents on several seeds with automation off (the classifier only watches), and
    /// print the confusion matrix of its first reading of each incident against the
    /// injected truth, precision and recall per class, and the times to detect and to
    /// classify.
    Classify {
        /// The scenario file (RON), with a `remediation` section and its `mix`.
        file: PathBuf,
        /// Set a field of the scenario first, as `run --set`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Seeds (runs).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        seeds: u32,
        /// Base seed (default: the scenario's).
        #[arg(long, allow_negative_numbers = true, value_parser = seed_arg)]
        seed: Option<u64>,
        /// Worker threads (default: the machine's cores). Output does not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Output format on stdout.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Score the classifier's first reading after detection, not the first one it
        /// gives two window ends in a row.
        #[arg(long)]
        first_reading: bool,
    },
    /// Print the postmortem of a run (markdown): per fault, a timeline, the impact, the
    /// contributing factors read from the metrics and action items. Reads a saved run's
    /// summary.json, or runs a scenario file.
    Postmortem {
        /// A run's summary.json (with its series), or a scenario file (RON) to run.
        file: PathBuf,
        /// Seed, when running a scenario (default: its own).
        #[arg(long, allow_negative_numbers = true, value_parser = seed_arg)]
        seed: Option<u64>,
    },
    /// Check scenario files without running them (every file is checked; exit code 2 if
    /// any is invalid).
    Validate {
        /// The scenario files (RON).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Report format on stdout: a line per file, or a JSON array with each file's
        /// diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Recovery plans (JSON DAGs of remediation actions, see docs/remediation/plan.schema.json).
    Plans {
        #[command(subcommand)]
        command: PlansCommand,
    },
    /// Measure the engine on this machine: a built-in M/M/1 at utilization 0.9 through the
    /// real service model, or many requests in flight with armed timeouts. Prints JSON.
    Bench {
        /// Requests to simulate.
        #[arg(long, default_value_t = 5_000_000)]
        requests: u64,
        /// Instead of M/M/1, keep about this many requests in flight, each with a timeout.
        #[arg(long, conflicts_with = "scenario")]
        in_flight: Option<u64>,
        /// Instead of M/M/1, run this scenario file (`--requests` is then ignored).
        #[arg(long)]
        scenario: Option<PathBuf>,
        /// With --scenario: simulate this long instead of the file's horizon (e.g. "1h").
        #[arg(long, requires = "scenario")]
        horizon: Option<String>,
    },
}

#[derive(Subcommand)]
enum PlansCommand {
    /// Check a plans file against a scenario and its orchestrator limits (unknown actions
    /// and targets, cycles, unsafe parameters; templated plans for every target their class
    /// can have): prints OK, or every problem with file:line:col and exit code 2.
    Check {
        /// The plans file (JSON).
        file: PathBuf,
        /// The scenario the plans would run in (RON).
        #[arg(long)]
        scenario: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Until {
    /// The run's verdict is metastable (or collapsed without a fault); an undetermined
    /// verdict in most runs stops the search and says why.
    Metastable,
}

#[derive(Clone, Copy, ValueEnum)]
enum SweepFormat {
    Table,
    Csv,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum CompareFormat {
    Table,
    Markdown,
    Json,
}

/// Set when the command prints JSON: then warnings, guard stops and errors on stderr are
/// JSON lines too, so a script reads one format.
static JSON_MESSAGES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn json_messages() -> bool {
    JSON_MESSAGES.load(std::sync::atomic::Ordering::Relaxed)
}

/// `--seed`: clap would call `-1` an unexpected argument; say what a seed is instead.
fn seed_arg(text: &str) -> Result<u64, String> {
    text.parse().map_err(|_| {
        format!(
            "the seed must be a non-negative integer, 0 to {}; got `{text}`",
            u64::MAX
        )
    })
}

/// `--shard K/N`.
fn shard_arg(text: &str) -> Result<sweep::Shard, String> {
    sweep::Shard::parse(text)
}

/// A failure that is the input's fault (exit code 2), as opposed to ours (exit code 1);
/// with the scenario's diagnostics when there are any.
#[derive(Debug)]
struct InputError(String, Vec<Diagnostics>);

impl InputError {
    fn msg(text: String) -> Self {
        InputError(text, Vec::new())
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for InputError {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // With JSON output asked for, errors are JSON too (on stderr, like every diagnostic).
    let json = matches!(
        cli.command,
        Command::Run {
            format: Format::Json,
            ..
        } | Command::Compare {
            format: CompareFormat::Json,
            ..
        } | Command::Sweep {
            format: SweepFormat::Json,
            ..
        } | Command::Validate {
            format: Format::Json,
            ..
        } | Command::Experiment {
            format: Format::Json,
            ..
        } | Command::Spof {
            format: Format::Json,
            ..
        } | Command::Classify {
            format: Format::Json,
            ..
        } | Command::Score {
            format: Format::Json,
            ..
        } | Command::Coverage {
            format: Format::Json,
            ..
        } | Command::Remediate { json: true, .. }
    );
    JSON_MESSAGES.store(json, std::sync::atomic::Ordering::Relaxed);
    let (code, kind, message, diagnostics) = match dispatch(cli.command) {
        Ok(code) => return code,
        Err(err) => match err.downcast_ref::<InputError>() {
            Some(InputError(text, d)) => (2, "input", text.clone(), d.clone()),
            None => (1, "internal", format!("simctl: {err:#}"), Vec::new()),
        },
    };
    if json {
        let items = diagnostics_json(&diagnostics);
        let error = serde_json::json!({ "error": kind, "message": message, "diagnostics": items });
        eprintln!("{error}");
    } else {
        eprintln!("{message}");
    }
    ExitCode::from(code)
}

/// Diagnostics as JSON objects, one per problem.
fn diagnostics_json(all: &[Diagnostics]) -> Vec<serde_json::Value> {
    all.iter()
        .flat_map(|d| {
            d.items.iter().map(move |i| {
                serde_json::json!({
                    "file": d.file,
                    "line": i.at.line,
                    "col": i.at.col,
                    "severity": format!("{:?}", i.severity).to_lowercase(),
                    "field": i.field,
                    "message": i.message,
                })
            })
        })
        .collect()
}

/// `--jobs`: at least 1; by default the machine's cores (output never depends on it).
fn worker_threads(jobs: Option<usize>) -> Result<usize> {
    match jobs {
        Some(0) => Err(InputError::msg("simctl: --jobs must be at least 1".into()).into()),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run {
            file,
            seed,
            format,
            out,
            max_events,
            max_in_flight,
            sets,
            series,
            export,
            start,
            events,
            trace,
            agent,
            plans,
            policy,
        } => {
            let limits = Limits {
                max_events,
                max_in_flight,
            };
            let output = RunOutput {
                format,
                out: out.as_deref(),
                series,
                export: (export, start),
                events: events.as_deref(),
                trace,
            };
            run(
                &file,
                seed,
                output,
                limits,
                &sets,
                Deciders {
                    plans: plans.as_deref(),
                    policy: policy.as_deref(),
                    agent: &agent,
                },
            )
        }
        Command::Remediate {
            file,
            seeds,
            seed,
            plans,
            policy,
            jobs,
            json,
            markdown,
        } => remediate::remediate(remediate::Args {
            file,
            seeds,
            seed,
            plans,
            policy,
            jobs: worker_threads(jobs)?,
            json,
            markdown,
        }),
        Command::Sweep {
            file,
            params,
            sets,
            seeds,
            seed,
            jobs,
            yes,
            max_runs,
            out,
            resume,
            shard,
            merge,
            find,
            until: Until::Metastable,
            tolerance,
            metrics,
            format,
        } => {
            let jobs = worker_threads(jobs)?;
            if !merge.is_empty() {
                let out = out.expect("clap requires --out with --merge");
                return sweep_merge(&merge, &out, format);
            }
            if let Some(find) = find {
                let file = file.expect("clap requires a file without --resume");
                let search = Search {
                    find,
                    tolerance,
                    seeds,
                    seed,
                    jobs: jobs.min(seeds as usize),
                };
                return sweep_find(&file, &sets, search, format);
            }
            let (spec, out, resuming) = match resume {
                Some(dir) => (sweep::read_spec(&dir)?, Some(dir), true),
                None => {
                    let file = file.expect("clap requires a file without --resume");
                    let spec = sweep::Spec {
                        // Set from the file's text once it is read.
                        file_hash: String::new(),
                        file,
                        sets,
                        params,
                        seeds,
                        seed,
                        metrics,
                        // Set once the scenario is read (its hash and seed).
                        shard: shard.map(|s| sweep::ShardSpec {
                            index: s.index,
                            count: s.count,
                            scenario_hash: String::new(),
                            base_seed: 0,
                        }),
                    };
                    (spec, out, false)
                }
            };
            let size = sweep::SizeLimit { yes, max_runs };
            sweep_grid(spec, resuming, jobs, size, out.as_deref(), format)
        }
        Command::Validate { files, format } => validate(&files, format),
        Command::Postmortem { file, seed } => postmortem(&file, seed),
        Command::Classify {
            file,
            sets,
            seeds,
            seed,
            jobs,
            format,
            first_reading,
        } => classify::run(classify::Args {
            file,
            sets,
            seeds,
            seed,
            jobs: worker_threads(jobs)?,
            json: matches!(format, Format::Json),
            first_reading,
        }),
        Command::Spof {
            file,
            sets,
            start,
            length,
            seeds,
            seed,
            kinds,
            slow_factor,
            only,
            objective,
            jobs,
            format,
            out,
        } => spof::run(spof::Args {
            file,
            sets,
            start,
            length,
            seeds,
            seed,
            kinds,
            slow_factor,
            only,
            objective,
            jobs: worker_threads(jobs)?,
            json: matches!(format, Format::Json),
            out,
        }),
        Command::Train {
            file,
            sets,
            episodes,
            seed,
            jobs,
            out,
        } => train::run(train::Args {
            file,
            sets,
            episodes,
            seed,
            jobs: worker_threads(jobs)?,
            out,
        }),
        Command::Experiment {
            file,
            scenario,
            seeds,
            seed,
            jobs,
            format,
            out,
            journal,
        } => experiment::run(experiment::Args {
            file,
            scenario,
            seeds,
            seed,
            jobs: worker_threads(jobs)?,
            json: matches!(format, Format::Json),
            out,
            journal,
        }),
        Command::Coverage {
            file,
            factors,
            factor,
            seeds,
            seed,
            budget,
            jobs,
            format,
            out,
        } => coverage::run(coverage::Args {
            file,
            factors,
            factor,
            seeds,
            seed,
            budget,
            jobs: worker_threads(jobs)?,
            json: matches!(format, Format::Json),
            out,
        }),
        Command::Score {
            files,
            seeds,
            seed,
            default_slo,
            jobs,
            format,
            out,
            journal,
        } => score::run(score::Args {
            files,
            seeds,
            seed,
            default_slo,
            jobs: worker_threads(jobs)?,
            json: matches!(format, Format::Json),
            out,
            journal,
        }),
        Command::Compare {
            files,
            seed,
            metrics,
            format,
            out,
            series,
            export,
            start,
        } => compare(
            &files,
            seed,
            &metrics,
            format,
            out.as_deref(),
            series,
            (export, start),
        ),
        Command::Chart { results, out } => chart(&results, &out),
        Command::Plans {
            command: PlansCommand::Check { file, scenario },
        } => plans::check(&file, &scenario),
        Command::Bench {
            requests,
            in_flight,
            scenario,
            horizon,
        } => {
            let case = match (scenario, in_flight) {
                (Some(file), _) => {
                    let mut v = load(&file)?;
                    if let Some(h) = horizon {
                        v.scenario.horizon = h
                            .parse()
                            .map_err(|e| InputError::msg(format!("simctl: --horizon: {e}")))?;
                    }
                    bench::Case::Scenario(Box::new(v.scenario))
                }
                (None, Some(n)) => bench::Case::InFlight(n, requests),
                (None, None) => bench::Case::Mm1(requests),
            };
            println!("{}", bench::run(case));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Run limits given on the command line, overriding the scenario's.
struct Limits {
    max_events: Option<u64>,
    max_in_flight: Option<u64>,
}

/// Where and how `simctl run` writes its result.
struct RunOutput<'a> {
    format: Format,
    out: Option<&'a Path>,
    series: series::SeriesOut,
    /// `--export` and `--start`.
    export: (Vec<exports::Export>, i64),
    /// `--events FILE`.
    events: Option<&'a Path>,
    /// `--trace N`.
    trace: Option<u32>,
}

/// Who decides about incidents in `simctl run` instead of simctl's planner: `--plans`,
/// `--policy` or `--agent`/`--replay` (at most one; clap refuses the rest).
struct Deciders<'a> {
    plans: Option<&'a Path>,
    policy: Option<&'a Path>,
    agent: &'a agent::AgentArgs,
}

fn run(
    file: &Path,
    seed: Option<u64>,
    output: RunOutput,
    limits: Limits,
    sets: &[String],
    deciders: Deciders,
) -> Result<ExitCode> {
    let Deciders {
        plans,
        policy,
        agent,
    } = deciders;
    let RunOutput {
        format,
        out,
        series,
        export,
        events,
        trace,
    } = output;
    let mut v = load(file)?;
    print_warnings(file, &v);
    v.scenario = with_sets(v.scenario, sets)?;
    series
        .check(v.scenario.window)
        .map_err(|e| InputError::msg(format!("simctl: {e}")))?;
    if let Some(dir) = out {
        output::check_out_dir(dir)?;
    }
    for (flag, value) in [
        ("--max-events", limits.max_events),
        ("--max-in-flight", limits.max_in_flight),
    ] {
        if value == Some(0) {
            return Err(InputError::msg(format!("simctl: {flag} must be at least 1")).into());
        }
    }
    let l = &mut v.scenario.limits;
    l.max_events = limits.max_events.unwrap_or(l.max_events);
    l.max_in_flight = limits.max_in_flight.unwrap_or(l.max_in_flight);
    let seed = seed.unwrap_or(v.scenario.seed);
    let plans = match plans {
        Some(p) => Some((p.to_path_buf(), remediate::load_plans(p, &v.scenario)?)),
        None => None,
    };
    let (agent_decider, trajectory) = agent.decider(&v.scenario, seed)?.unzip();
    let decider = match (agent_decider, policy) {
        (Some(a), _) => Some(a),
        (None, Some(p)) => Some(train::policy_decider(p, &v.scenario)?),
        (None, None) => remediate::decider(plans.as_ref(), &v.scenario),
    };
    // The replay line names the scenario as this command did: the file and its --set flags.
    let plans_arg = match (&plans, policy) {
        (Some((p, _)), _) => format!(" --plans {}", p.display()),
        (None, Some(p)) => format!(" --policy {}", p.display()),
        (None, None) => String::new(),
    };
    let source = format!("{}{}{plans_arg}", file.display(), set_args(sets));
    if plans.is_some() && trace.is_some() {
        return Err(InputError::msg(
            "simctl: --trace and --plans together are not supported yet".into(),
        )
        .into());
    }
    let (mut result, traced) = match trace {
        Some(n) => {
            let (r, t) = sim_models::run_traced(&v.scenario, seed, &source, n as usize);
            (r, Some(t))
        }
        None if json_messages() => (
            sim_models::run_with(&v.scenario, seed, &source, decider),
            None,
        ),
        None => {
            let mut progress = progress::RunProgress::new(v.scenario.horizon);
            let mut update = |done: f64| progress.update(done);
            let r = sim_models::run_with_decider_progress(
                &v.scenario,
                seed,
                &source,
                decider,
                &mut update,
            );
            progress.finish();
            (r, None)
        }
    };
    // The exchange is kept whatever happened, a stopped run's most of all.
    if let (Some(file), Some(t)) = (&agent.trajectory, &trajectory) {
        output::write_atomic(file, t.text().as_bytes())?;
    }
    // The JSON (with its series at the chosen resolution) is streamed to where it goes, never
    // held whole: for a long run it is larger than the result it is made from.
    let window = v.scenario.window;
    match format {
        Format::Json => {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            use std::io::Write as _;
            series
                .with(&mut result, window, |r| reports::write_json(r, &mut stdout))
                .and_then(|()| stdout.flush())
                .context("cannot write the JSON to stdout")?;
        }
        Format::Table => print!("{}", reports::table(&result)),
    }
    if let Some(dir) = out {
        output::write_atomic_with(&dir.join("summary.json"), |w| {
            series.with(&mut result, window, |r| reports::write_json(r, w))
        })?;
        write_report(dir, std::slice::from_ref(&result), &[&v.scenario])?;
        exports::write(dir, std::slice::from_ref(&result), &export.0, export.1)?;
    }
    if let (Some(dir), Some(t)) = (out, &traced) {
        output::write_atomic(&dir.join("trace.json"), reports::chrome_trace(t).as_bytes())?;
    }
    if let Some(file) = events {
        let log = reports::events_jsonl(&result, export.1);
        output::write_atomic(file, log.as_bytes())?;
    }
    if !result.stopped.is_normal() {
        if json_messages() {
            let stop = serde_json::json!({
                "stopped": result.stopped,
                "message": format!("the run stopped early: {}", result.stopped),
                "replay": result.replay,
            });
            eprintln!("{stop}");
        } else {
            eprintln!(
                "simctl: the run stopped early: {}\nreplay: {}",
                result.stopped, result.replay
            );
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `simctl validate`: checks every file, reports each, and fails if any is invalid.
fn validate(files: &[PathBuf], format: Format) -> Result<ExitCode> {
    let mut bad = 0;
    let mut report = Vec::new();
    for file in files {
        let name = file.display().to_string();
        match load(file) {
            Ok(v) => {
                let (clients, services) = (v.scenario.clients.len(), v.scenario.services.len());
                if matches!(format, Format::Json) {
                    let warnings = Diagnostics::new(&name, v.warnings);
                    report.push(serde_json::json!({
                        "file": name, "ok": true, "clients": clients, "services": services,
                        "diagnostics": diagnostics_json(std::slice::from_ref(&warnings)),
                    }));
                } else {
                    print_warnings(file, &v);
                    println!("{name}: ok ({clients} clients, {services} services)");
                }
            }
            Err(err) => {
                bad += 1;
                let Some(InputError(text, diagnostics)) = err.downcast_ref::<InputError>() else {
                    return Err(err);
                };
                if matches!(format, Format::Json) {
                    report.push(serde_json::json!({
                        "file": name, "ok": false, "message": text,
                        "diagnostics": diagnostics_json(diagnostics),
                    }));
                } else {
                    eprintln!("{text}");
                }
            }
        }
    }
    if matches!(format, Format::Json) {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else if files.len() > 1 {
        eprintln!(
            "simctl: {} of {} files valid",
            files.len() - bad,
            files.len()
        );
    }
    Ok(ExitCode::from(if bad > 0 { 2 } else { 0 }))
}

/// Charts and report.md of one run (or several compared) into `dir`.
/// `scenarios` (one per run, or none for saved results) give report.md its call graphs.
fn write_report(
    dir: &Path,
    runs: &[sim_models::RunResult],
    scenarios: &[&sim_models::Scenario],
) -> Result<()> {
    // Each chart is written as soon as it is drawn and only its name and title kept (all
    // report.md needs): a long run's charts together are megabytes.
    let mut charts = Vec::new();
    let mut write = |mut c: reports::Chart| -> Result<()> {
        output::write_charts(dir, std::slice::from_ref(&c))?;
        (c.png, c.svg) = (Vec::new(), String::new());
        charts.push(c);
        Ok(())
    };
    if runs.len() == 1 {
        reports::each_run_chart(&runs[0], &mut write)?;
    } else {
        reports::each_compare_chart(runs, &mut write)?;
    }
    output::write_atomic(
        &dir.join("report.md"),
        reports::report_md_with_topology(runs, &charts, scenarios).as_bytes(),
    )
}

/// `simctl postmortem`: a saved run (JSON) or a scenario run now.
fn postmortem(file: &Path, seed: Option<u64>) -> Result<ExitCode> {
    let bad = |e: String| InputError::msg(format!("simctl: {}: {e}", file.display()));
    let result = if file.extension().is_some_and(|e| e == "json") {
        let text = output::read_limited(file, output::MAX_RESULTS_BYTES)
            .map_err(|e| bad(e.to_string()))?;
        serde_json::from_str::<sim_models::RunResult>(&text)
            .map_err(|e| bad(format!("not a run's summary.json ({e})")))?
    } else {
        let v = load(file)?;
        print_warnings(file, &v);
        let name = file.display().to_string();
        sim_models::run(&v.scenario, seed.unwrap_or(v.scenario.seed), &name)
    };
    if result.faults.is_empty() {
        println!("No faults in this run: no incident to review.");
    } else {
        print!("{}", reports::postmortem_md(&result));
    }
    println!("\nReplay: `{}`", result.replay);
    Ok(ExitCode::SUCCESS)
}

/// `simctl chart`: redraws saved results, whichever command saved them.
fn chart(results: &Path, out: &Path) -> Result<ExitCode> {
    let bad = |e: String| InputError::msg(format!("simctl: {}: {e}", results.display()));
    let text =
        output::read_limited(results, output::MAX_RESULTS_BYTES).map_err(|e| bad(e.to_string()))?;
    output::check_out_dir(out)?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let what = "not saved results: expected a run's summary.json, a comparison's results.json or a sweep's sweep.json";
    if value.get("points").is_some() {
        let sweep: sim_models::sweep::SweepResult =
            serde_json::from_value(value).map_err(|e| bad(format!("{what} ({e})")))?;
        write_sweep_report(out, &sweep)?;
    } else if value.is_array() {
        let runs: Vec<sim_models::RunResult> =
            serde_json::from_value(value).map_err(|e| bad(format!("{what} ({e})")))?;
        write_report(out, &runs, &[])?;
    } else {
        let run: sim_models::RunResult =
            serde_json::from_value(value).map_err(|e| bad(format!("{what} ({e})")))?;
        write_report(out, std::slice::from_ref(&run), &[])?;
    }
    eprintln!("simctl: charts and report.md written to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// A sweep's charts and report.md into `dir`.
fn write_sweep_report(dir: &Path, sweep: &sim_models::sweep::SweepResult) -> Result<()> {
    let charts = reports::sweep_charts(sweep);
    output::write_charts(dir, &charts)?;
    output::write_atomic(
        &dir.join("report.md"),
        reports::sweep_report_md(sweep, &charts).as_bytes(),
    )
}

fn compare(
    files: &[PathBuf],
    seed: Option<u64>,
    metrics: &[String],
    format: CompareFormat,
    out: Option<&Path>,
    series: series::SeriesOut,
    export: (Vec<exports::Export>, i64),
) -> Result<ExitCode> {
    let loaded: Vec<(String, Validated)> = files
        .iter()
        .map(|f| f.display().to_string())
        .zip(load_all(files)?.into_iter().map(|(_, v)| v))
        .collect();
    for (_, v) in &loaded {
        series
            .check(v.scenario.window)
            .map_err(|e| InputError::msg(format!("simctl: {e}")))?;
    }
    let scenarios: Vec<&Scenario> = loaded.iter().map(|(_, v)| &v.scenario).collect();
    let extra = metric_refs(metrics, &scenarios)?;
    if let Some(dir) = out {
        output::check_out_dir(dir)?;
    }
    for (f, v) in files.iter().zip(&loaded) {
        print_warnings(f, &v.1);
    }
    // Independent single-threaded runs; joined in input order, so the output is the same
    // whatever finishes first.
    // Progress on stderr, except where stderr speaks JSON.
    let progress = (!json_messages()).then(|| sweep::Progress::new("compare", loaded.len(), 0));
    let mut results: Vec<sim_models::RunResult> = std::thread::scope(|scope| {
        let progress = progress.as_ref();
        let handles: Vec<_> = loaded
            .iter()
            .map(|(name, v)| {
                scope.spawn(move || {
                    let r = sim_models::run(&v.scenario, seed.unwrap_or(v.scenario.seed), name);
                    if let Some(p) = progress {
                        p.tick();
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a simulation thread panicked"))
            .collect()
    });
    if let Some(p) = &progress {
        p.finish();
    }
    match format {
        CompareFormat::Table => print!("{}", reports::compare(&results, false, &extra)),
        CompareFormat::Markdown => print!("{}", reports::compare(&results, true, &extra)),
        CompareFormat::Json => {
            let summaries: Vec<serde_json::Value> = results
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).expect("results serialise");
                    v.as_object_mut().expect("an object").remove("series");
                    v
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&summaries).expect("json")
            );
        }
    }
    if let Some(dir) = out {
        // Each run's series swapped for its saved resolution while writing, then back.
        let full: Vec<sim_models::result::LazySeries> = results
            .iter_mut()
            .zip(&loaded)
            .map(|(r, (_, v))| {
                let saved = series.apply(&r.series, v.scenario.window);
                std::mem::replace(&mut r.series, saved.into())
            })
            .collect();
        let all = serde_json::to_string_pretty(&results).expect("results serialise") + "\n";
        for (r, s) in results.iter_mut().zip(full) {
            r.series = s;
        }
        output::write_atomic(&dir.join("results.json"), all.as_bytes())?;
        let scenarios: Vec<&sim_models::Scenario> =
            loaded.iter().map(|(_, v)| &v.scenario).collect();
        write_report(dir, &results, &scenarios)?;
        exports::write(dir, &results, &export.0, export.1)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Every file read and checked before anything runs, and every bad one reported, not only
/// the first (compare, score); each with its text.
fn load_all(files: &[PathBuf]) -> Result<Vec<(String, Validated)>> {
    let (mut loaded, mut messages, mut diagnostics) = (Vec::new(), Vec::new(), Vec::new());
    for f in files {
        match load_text(f) {
            Ok(x) => loaded.push(x),
            Err(err) => match err.downcast::<InputError>() {
                Ok(InputError(text, d)) => {
                    messages.push(text);
                    diagnostics.extend(d);
                }
                Err(other) => return Err(other),
            },
        }
    }
    if !messages.is_empty() {
        return Err(InputError(messages.join("\n"), diagnostics).into());
    }
    Ok(loaded)
}

/// Reads, parses and validates a scenario file; every problem is an input error.
fn load(file: &Path) -> Result<Validated> {
    Ok(load_text(file)?.1)
}

/// The scenario with `--set PATH=VALUE` overrides applied (and checked).
fn with_sets(scenario: sim_models::Scenario, sets: &[String]) -> Result<sim_models::Scenario> {
    if sets.is_empty() {
        return Ok(scenario);
    }
    let pairs: Vec<(&str, &str)> = sets
        .iter()
        .map(|s| {
            s.split_once('=')
                .ok_or_else(|| InputError::msg(format!("simctl: --set `{s}`: expected PATH=VALUE")))
        })
        .collect::<Result<_, _>>()?;
    let scenario = sim_models::sweep::Overrides::new(&scenario)
        .apply(&pairs)
        .map_err(|e| InputError::msg(format!("simctl: --set {e}")))?;
    Ok(scenario)
}

/// ` --set A --set B` as a command line spells them.
fn set_args(sets: &[String]) -> String {
    sets.iter().map(|s| format!(" --set {s}")).collect()
}

/// [`load`], also giving the file's text.
fn load_text(file: &Path) -> Result<(String, Validated)> {
    let name = file.display().to_string();
    let text = output::read_limited(file, output::MAX_SCENARIO_BYTES)
        .map_err(|e| InputError::msg(format!("simctl: cannot read scenario {name}: {e}")))?;
    let v = sim_models::load(&name, &text).map_err(|d| InputError(d.to_string(), vec![d]))?;
    Ok((text, v))
}

/// `simctl sweep` over a grid: runs (or resumes) it, writes its outputs.
fn sweep_grid(
    mut spec: sweep::Spec,
    resuming: bool,
    jobs: usize,
    size: sweep::SizeLimit,
    out: Option<&Path>,
    format: SweepFormat,
) -> Result<ExitCode> {
    let (text, mut v) = load_text(&spec.file)?;
    print_warnings(&spec.file, &v);
    v.scenario = with_sets(v.scenario, &spec.sets)?;
    // Held until the sweep's outputs are written: a second sweep into DIR is refused.
    let _lock = match out {
        Some(dir) => {
            output::check_out_dir(dir)?;
            Some(sweep::Lock::take(dir)?)
        }
        None => None,
    };
    let hash = sweep::file_hash(&text);
    if !resuming {
        spec.file_hash = hash;
        if let Some(shard) = &mut spec.shard {
            shard.scenario_hash = v.scenario.hash();
            shard.base_seed = spec.seed.unwrap_or(v.scenario.seed);
        }
        // A new sweep into a directory holding another one would mix their runs.
        if let Some(dir) = out.filter(|d| d.join("sweep.spec.json").exists())
            && sweep::read_spec(dir)? != spec
        {
            let msg = format!(
                "simctl: {} holds a different sweep; use a new directory, or --resume it",
                dir.display()
            );
            return Err(InputError::msg(msg).into());
        }
    } else if spec.file_hash != hash {
        let msg = format!(
            "simctl: {} changed since this sweep started; start a new sweep in a new directory",
            spec.file.display()
        );
        return Err(InputError::msg(msg).into());
    }
    sweep::on_interrupt();
    let size = (!resuming).then_some(&size);
    metric_refs(&spec.metrics, &[&v.scenario])?;
    let metrics = sweep::columns(&spec)?;
    let result = match sweep::run(&spec, &metrics, &v.scenario, jobs, size, out)? {
        sweep::Ending::Done(result) => result,
        sweep::Ending::Interrupted { done, total } => {
            match out {
                Some(dir) => eprintln!(
                    "simctl: interrupted: {done} of {total} runs done and saved; finish with: simctl sweep --resume {}",
                    dir.display()
                ),
                None => eprintln!(
                    "simctl: interrupted after {done} of {total} runs (nothing saved: no --out)"
                ),
            }
            return Ok(ExitCode::from(130));
        }
        sweep::Ending::Shard { runs } => {
            let (dir, shard) = (out.expect("clap requires --out with --shard"), spec.shard);
            let shard = shard.expect("a shard's spec");
            eprintln!(
                "simctl: shard {}/{}: {runs} runs saved in {}; when every shard is done: simctl sweep --merge DIR... --out OUT",
                shard.index,
                shard.count,
                dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    sweep_outputs(&result, out, format)
}

/// `simctl sweep --merge DIR... --out OUT`: the shards' runs copied as they are, then every
/// output written from them as a single-machine sweep would.
fn sweep_merge(dirs: &[PathBuf], out: &Path, format: SweepFormat) -> Result<ExitCode> {
    let merged = sweep::merge(dirs)?;
    output::check_out_dir(out)?;
    let _lock = sweep::Lock::take(out)?;
    if out.join("sweep.spec.json").exists() && sweep::read_spec(out)? != merged.spec {
        let msg = format!(
            "simctl: {} holds a different sweep; merge into a new directory",
            out.display()
        );
        return Err(InputError::msg(msg).into());
    }
    for (from, name) in &merged.runs {
        let bytes = std::fs::read(from)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", from.display()))?;
        output::write_atomic(&out.join("runs").join(name), &bytes)?;
    }
    let text = serde_json::to_string_pretty(&merged.spec).expect("a spec serialises");
    output::write_atomic(&out.join("sweep.spec.json"), text.as_bytes())?;
    eprintln!(
        "simctl: merged {} shards, {} runs, into {}",
        dirs.len(),
        merged.runs.len(),
        out.display()
    );
    sweep_outputs(&merged.result, Some(out), format)
}

/// A finished sweep's files in `out` (if any) and its summary on stdout.
fn sweep_outputs(
    result: &sim_models::sweep::SweepResult,
    out: Option<&Path>,
    format: SweepFormat,
) -> Result<ExitCode> {
    let json = format!(
        "{}\n",
        serde_json::to_string_pretty(result).expect("a sweep serialises")
    );
    if let Some(dir) = out {
        output::write_atomic(&dir.join("runs.csv"), result.runs_csv().as_bytes())?;
        output::write_atomic(&dir.join("points.csv"), result.points_csv().as_bytes())?;
        output::write_atomic(&dir.join("sweep.json"), json.as_bytes())?;
        write_sweep_report(dir, result)?;
    }
    match format {
        SweepFormat::Table => print!("{}", reports::sweep_table(result)),
        SweepFormat::Csv => print!("{}", result.points_csv()),
        SweepFormat::Json => print!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The metrics named by `--metric`, checked against the registry and against every
/// scenario (a service or client each must have).
fn metric_refs(names: &[String], scenarios: &[&Scenario]) -> Result<Vec<MetricRef>> {
    let mut refs = Vec::new();
    for name in names {
        let m = MetricRef::parse(name)
            .and_then(|m| scenarios.iter().try_for_each(|s| m.check(s)).map(|()| m))
            .map_err(|e| InputError::msg(format!("simctl: --metric {e}")))?;
        if !refs.contains(&m) {
            refs.push(m);
        }
    }
    Ok(refs)
}

/// What `sweep --find` searches, and how: `simctl sweep --find PATH=LO..HI` bisects for the
/// smallest value at which most of the replicates turn metastable (their verdict, so an
/// undetermined value stops the search with its reason).
struct Search {
    find: String,
    tolerance: Option<f64>,
    seeds: u32,
    seed: Option<u64>,
    jobs: usize,
}

fn sweep_find(
    file: &Path,
    sets: &[String],
    search: Search,
    format: SweepFormat,
) -> Result<ExitCode> {
    let Search {
        find,
        tolerance,
        seeds,
        seed,
        jobs,
    } = search;
    let find = find.as_str();
    use rayon::prelude::*;
    use sim_models::sweep::{FieldKind, Overrides, Tally, bisect, replicate_seed, show_number};

    let input = |m: String| anyhow::Error::from(InputError::msg(format!("simctl: --find {m}")));
    let mut v = load(file)?;
    print_warnings(file, &v);
    v.scenario = with_sets(v.scenario, sets)?;
    let (path, range) = find
        .split_once('=')
        .ok_or_else(|| input(format!("`{find}`: expected PATH=LO..HI")))?;
    let bound = |t: &str| t.trim().parse::<f64>().ok().filter(|x| x.is_finite());
    let (lo, hi) = match range.split_once("..").map(|(a, b)| (bound(a), bound(b))) {
        Some((Some(lo), Some(hi))) if lo < hi => (lo, hi),
        _ => {
            return Err(input(format!(
                "`{find}`: expected PATH=LO..HI with numbers LO < HI"
            )));
        }
    };
    let overrides = Overrides::new(&v.scenario);
    let integer = overrides.kind(path).map_err(input)? == FieldKind::Integer;
    let tolerance = tolerance.unwrap_or(if integer { 1.0 } else { (hi - lo) / 100.0 });
    if tolerance.is_nan() || tolerance <= 0.0 {
        return Err(input("--tolerance must be positive".into()));
    }
    let name = file.display().to_string();
    let base = seed.unwrap_or(v.scenario.seed);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build()?;
    let mut counts = Vec::new();
    let outcome = bisect(lo, hi, tolerance, integer, |x| -> Result<Option<bool>> {
        let value = show_number(x, integer);
        let s = overrides.apply(&[(path, &value)]).map_err(input)?;
        // A run counts as tipped when its verdict is metastable (or collapsed without a
        // fault), as healthy when recovered (or steady); undetermined is neither.
        let tally = pool.install(|| {
            (0..seeds)
                .into_par_iter()
                .map(|r| sim_models::run(&s, replicate_seed(base, r), &name))
                .collect::<Vec<_>>()
                .iter()
                .fold(Tally::default(), |mut t, r| {
                    t.add(r);
                    t
                })
        });
        eprintln!(
            "find: {path}={value}: metastable or collapsed in {}, recovered in {}, undetermined in {} of {seeds} runs{}",
            tally.tipped,
            tally.healthy,
            tally.undetermined,
            tally
                .reason
                .as_ref()
                .map_or(String::new(), |why| format!(" (undetermined: {why})"))
        );
        let outcome = tally.outcome();
        counts.push((value, tally));
        Ok(outcome)
    })?;
    let tried: Vec<serde_json::Value> = counts
        .iter()
        .map(|(x, t)| {
            serde_json::json!({
                "value": x, "metastable_runs": t.tipped, "recovered_runs": t.healthy,
                "undetermined_runs": t.undetermined, "undetermined_reason": t.reason,
                "runs": seeds,
            })
        })
        .collect();
    let (found, message, replay) = match &outcome {
        Ok(b) => {
            let at = show_number(b.at, integer);
            (
                true,
                format!(
                    "smallest {path} at which {name} turns metastable: {at} (it still recovers at {}; {} values tried, tolerance {tolerance})",
                    show_number(b.below, integer),
                    b.tried.len()
                ),
                Some(format!(
                    "simctl run {name} --seed {base}{} --set {path}={at}",
                    set_args(sets)
                )),
            )
        }
        Err(why) => (
            false,
            format!("no tipping point in {lo}..{hi}: {why}"),
            None,
        ),
    };
    match format {
        SweepFormat::Json => println!(
            "{}",
            serde_json::json!({
                "param": path, "found": found, "message": message,
                "below": outcome.as_ref().ok().map(|b| b.below),
                "at": outcome.as_ref().ok().map(|b| b.at),
                "tried": tried, "replay": replay,
            })
        ),
        _ => {
            println!("{message}");
            if let Some(r) = replay {
                println!("replay: {r}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A scenario's warnings on stderr: lines `file:line:col: warning: ...`, or with JSON output
/// one line `{"warnings": [...]}`.
fn print_warnings(file: &Path, v: &Validated) {
    if !v.warnings.is_empty() {
        let d = Diagnostics::new(&file.display().to_string(), v.warnings.clone());
        if json_messages() {
            let items = diagnostics_json(std::slice::from_ref(&d));
            eprintln!("{}", serde_json::json!({ "warnings": items }));
        } else {
            eprintln!("{d}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
