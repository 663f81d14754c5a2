//! simctl: the command line. The only crate that does IO: it reads scenario files, reads
//! the wall clock for benchmarks, and writes outputs (atomically).
//!
//! Exit codes: 0 success; 1 the run stopped on a guard or an internal error; 2 bad usage or
//! bad input (the scenario file could not be read, parsed or validated).

#![allow(
    clippy::disallowed_methods,
    reason = "simctl is the one crate that does IO"
)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use sim_models::Validated;

mod bench;
mod output;

/// A deterministic discrete-event simulator for the resilience of distributed systems.
///
/// Exit codes: 0 success, 1 a run stopped on a guard or an internal error, 2 bad usage or
/// bad input (unreadable, malformed or invalid scenario).
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
        /// Seed of the run; defaults to the scenario's own `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Summary format on stdout.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also write the summary (summary.json) into this directory.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run several scenarios (in parallel) and print their headline numbers side by side.
    Compare {
        /// The scenario files (RON), in the order of the rows.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Seed for every run; defaults to each scenario's own `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Output format on stdout.
        #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
        format: CompareFormat,
    },
    /// Check a scenario file without running it.
    Validate {
        /// The scenario file (RON).
        file: PathBuf,
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

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum CompareFormat {
    Table,
    Markdown,
    Json,
}

/// A failure that is the input's fault (exit code 2), as opposed to ours (exit code 1).
#[derive(Debug)]
struct InputError(String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for InputError {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => {
            if let Some(input) = err.downcast_ref::<InputError>() {
                eprintln!("{input}");
                ExitCode::from(2)
            } else {
                eprintln!("simctl: {err:#}");
                ExitCode::from(1)
            }
        }
    }
}

fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run {
            file,
            seed,
            format,
            out,
        } => run(&file, seed, format, out.as_deref()),
        Command::Validate { file } => {
            let v = load(&file)?;
            print_warnings(&file, &v);
            println!(
                "{}: ok ({} clients, {} services)",
                file.display(),
                v.scenario.clients.len(),
                v.scenario.services.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare {
            files,
            seed,
            format,
        } => compare(&files, seed, format),
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
                            .map_err(|e| InputError(format!("simctl: --horizon: {e}")))?;
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

fn run(file: &Path, seed: Option<u64>, format: Format, out: Option<&Path>) -> Result<ExitCode> {
    let v = load(file)?;
    print_warnings(file, &v);
    let seed = seed.unwrap_or(v.scenario.seed);
    let result = sim_models::run(&v.scenario, seed, &file.display().to_string());
    let json = reports::json(&result);
    match format {
        Format::Json => print!("{json}"),
        Format::Table => print!("{}", reports::table(&result)),
    }
    if let Some(dir) = out {
        output::write_atomic(&dir.join("summary.json"), json.as_bytes())?;
    }
    if result.stopped != "horizon" && result.stopped != "drained" {
        eprintln!(
            "simctl: the run stopped early: {}\nreplay: {}",
            result.stopped, result.replay
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(files: &[PathBuf], seed: Option<u64>, format: CompareFormat) -> Result<ExitCode> {
    let loaded: Vec<(String, Validated)> = files
        .iter()
        .map(|f| Ok((f.display().to_string(), load(f)?)))
        .collect::<Result<_>>()?;
    for (f, v) in files.iter().zip(&loaded) {
        print_warnings(f, &v.1);
    }
    // Independent single-threaded runs; joined in input order, so the output is the same
    // whatever finishes first.
    let results: Vec<sim_models::RunResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = loaded
            .iter()
            .map(|(name, v)| {
                scope.spawn(move || {
                    sim_models::run(&v.scenario, seed.unwrap_or(v.scenario.seed), name)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a simulation thread panicked"))
            .collect()
    });
    match format {
        CompareFormat::Table => print!("{}", reports::compare(&results, false)),
        CompareFormat::Markdown => print!("{}", reports::compare(&results, true)),
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
    Ok(ExitCode::SUCCESS)
}

/// Reads, parses and validates a scenario file; every problem is an input error.
fn load(file: &Path) -> Result<Validated> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError(format!("simctl: cannot read scenario {name}: {e}")))?;
    sim_models::load(&name, &text).map_err(|d| InputError(d.to_string()).into())
}

fn print_warnings(file: &Path, v: &Validated) {
    if !v.warnings.is_empty() {
        let d = sim_models::diagnostic::Diagnostics::new(
            &file.display().to_string(),
            v.warnings.clone(),
        );
        eprintln!("{d}");
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
