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

pub use process::{AgentDecider, seconds};
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
