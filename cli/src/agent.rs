//! External SRE agents (`simctl run --agent CMD`): a `Decider` that asks a child process,
//! in JSON lines over its stdin and stdout (`protocol`, docs/agent/protocol.md); the
//! trajectory of the exchange (`--trajectory FILE`), and a decider that replays one without
//! the agent (`--replay FILE`, `replay`). Process I/O lives here, in the cli crate: the
//! model only sees a `Decider`, and the orchestrator runs its plans under the same safety
//! limits as any other decider's.

mod process;
pub mod protocol;
mod replay;

use std::sync::{Arc, Mutex};

use sim_models::remediation::decide::Decider;
use sim_models::scenario::Scenario;

pub use process::AgentDecider;
pub use replay::ReplayDecider;

/// The lines of a trajectory as they happen: the hello, each observation and answer, and
/// the error that stopped the run, if one did. Shared between the decider (owned by the
/// run) and the command, which writes the file whole after the run.
#[derive(Clone, Default)]
pub struct Trajectory(Arc<Mutex<Vec<String>>>);

impl Trajectory {
    pub fn push(&self, line: String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    /// The file's text: one line each.
    pub fn text(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        for line in lines.iter() {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// `--agent-timeout`: a wall-clock duration (`10s`, `500ms`), more than zero.
pub fn timeout_arg(text: &str) -> Result<std::time::Duration, String> {
    let d: sim_core::SimDuration = text.parse().map_err(|e| format!("{e}"))?;
    if d.as_nanos() == 0 {
        return Err("must be more than zero".into());
    }
    Ok(std::time::Duration::from_nanos(d.as_nanos()))
}

/// `simctl run`'s agent options.
#[derive(clap::Args, Debug, Default)]
pub struct AgentArgs {
    /// Let an external agent decide remediation: start CMD (through `sh -c`) and talk to it
    /// in JSON lines over its stdin and stdout (docs/agent/protocol.md). Virtual time waits
    /// for each answer. Needs a scenario with a `remediation` section.
    #[arg(long, value_name = "CMD", conflicts_with_all = ["replay", "trace", "plans"])]
    pub agent: Option<String>,
    /// Decision points the agent may answer; the run stops at the next one.
    #[arg(long, value_name = "N", default_value_t = 1000, requires = "agent",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub agent_steps: u64,
    /// Wall-clock time the agent has for each answer; later, the run stops.
    #[arg(long, value_name = "DURATION", default_value = "10s", requires = "agent",
          value_parser = timeout_arg)]
    pub agent_timeout: Option<std::time::Duration>,
    /// Write the exchange with the agent here (JSON lines: the hello, every observation and
    /// answer, and the error that stopped the run, if any), to replay without the agent.
    #[arg(long, value_name = "FILE")]
    pub trajectory: Option<std::path::PathBuf>,
    /// Answer from this trajectory instead of an agent: each observation must be the
    /// recorded one (a divergence stops the run, naming the step), so the result is the same.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["trace", "plans"])]
    pub replay: Option<std::path::PathBuf>,
}

/// A run's decider from the agent options (none without `--agent` or `--replay`), and the
/// trajectory it records into.
pub type Chosen = Option<(Box<dyn Decider>, Trajectory)>;

impl AgentArgs {
    pub fn decider(&self, s: &Scenario, seed: u64) -> anyhow::Result<Chosen> {
        let input = |m: String| anyhow::Error::from(crate::InputError::msg(m));
        let flag = match (&self.agent, &self.replay) {
            (Some(_), _) => "--agent",
            (None, Some(_)) => "--replay",
            (None, None) if self.trajectory.is_some() => {
                return Err(input(
                    "simctl: --trajectory records an agent's exchange: it needs --agent or --replay"
                        .into(),
                ));
            }
            (None, None) => return Ok(None),
        };
        if s.remediation.is_none() {
            return Err(input(format!(
                "simctl: {flag}: the scenario `{}` has no `remediation` section, so nothing \
                 would ask the agent (see README, automated remediation)",
                s.name
            )));
        }
        let timeout = self
            .agent_timeout
            .unwrap_or(std::time::Duration::from_secs(10));
        let session = protocol::Session {
            command: self.agent.clone().unwrap_or_default(),
            max_steps: self.agent_steps,
            timeout_s: timeout.as_secs_f64(),
        };
        let hello = serde_json::to_string(&protocol::Hello::new(s, seed, session))
            .expect("a hello serialises");
        let trajectory = Trajectory::default();
        let decider: Box<dyn Decider> = match (&self.agent, &self.replay) {
            (Some(cmd), _) => Box::new(
                AgentDecider::spawn(cmd, &hello, self.agent_steps, timeout, trajectory.clone())
                    .map_err(|e| {
                        input(format!("simctl: --agent `{cmd}`: cannot start it ({e})"))
                    })?,
            ),
            (None, Some(file)) => {
                let name = file.display().to_string();
                let text = crate::output::read_limited(file, crate::output::MAX_RESULTS_BYTES)
                    .map_err(|e| input(format!("simctl: --replay {name}: {e}")))?;
                Box::new(
                    ReplayDecider::new(&name, &text, &hello, trajectory.clone())
                        .map_err(|e| input(format!("simctl: --replay {e}")))?,
                )
            }
            (None, None) => unreachable!("returned above"),
        };
        Ok(Some((decider, trajectory)))
    }
}
