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
use sim_models::diagnostic::Diagnostics;

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
        /// Stop after this many events (overrides the scenario's `limits.max_events`).
        #[arg(long)]
        max_events: Option<u64>,
        /// Stop when more requests or attempts than this are in flight (overrides
        /// `limits.max_in_flight`): a pile-up is reported, not an out-of-memory kill.
        #[arg(long)]
        max_in_flight: Option<u64>,
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

/// A failure that is the input's fault (exit code 2), as opposed to ours (exit code 1);
/// with the scenario's diagnostics when there are any.
#[derive(Debug)]
struct InputError(String, Option<Diagnostics>);

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
        }
    );
    let (code, kind, message, diagnostics) = match dispatch(cli.command) {
        Ok(code) => return code,
        Err(err) => match err.downcast_ref::<InputError>() {
            Some(InputError(text, d)) => (2, "input", text.clone(), d.clone()),
            None => (1, "internal", format!("simctl: {err:#}"), None),
        },
    };
    if json {
        let items: Vec<serde_json::Value> = diagnostics
            .iter()
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
            .collect();
        let error = serde_json::json!({ "error": kind, "message": message, "diagnostics": items });
        eprintln!("{error}");
    } else {
        eprintln!("{message}");
    }
    ExitCode::from(code)
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
        } => {
            let limits = Limits {
                max_events,
                max_in_flight,
            };
            run(&file, seed, format, out.as_deref(), limits)
        }
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
                            .map_err(|e| InputError(format!("simctl: --horizon: {e}"), None))?;
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

fn run(
    file: &Path,
    seed: Option<u64>,
    format: Format,
    out: Option<&Path>,
    limits: Limits,
) -> Result<ExitCode> {
    let mut v = load(file)?;
    print_warnings(file, &v);
    for (flag, value) in [
        ("--max-events", limits.max_events),
        ("--max-in-flight", limits.max_in_flight),
    ] {
        if value == Some(0) {
            return Err(InputError(format!("simctl: {flag} must be at least 1"), None).into());
        }
    }
    let l = &mut v.scenario.limits;
    l.max_events = limits.max_events.unwrap_or(l.max_events);
    l.max_in_flight = limits.max_in_flight.unwrap_or(l.max_in_flight);
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
        .map_err(|e| InputError(format!("simctl: cannot read scenario {name}: {e}"), None))?;
    sim_models::load(&name, &text).map_err(|d| InputError(d.to_string(), Some(d)).into())
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
