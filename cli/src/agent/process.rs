//! The agent as a child process (`--agent CMD`, run through `sh -c`): observations go to its
//! stdin, answers come from its stdout, one JSON line each; its stderr is simctl's.
//!
//! Virtual time waits for each answer (the run is paused inside `decide`), so a run depends
//! only on the agent's answers, never on how long it thought. Wall-clock time only bounds
//! the wait: an answer later than the timeout stops the run.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::Duration;

use sim_models::remediation::decide::{Answer, Decider, DecisionPoint};

use super::Trajectory;
use super::protocol::{answer_record, error_record, observe_line, parse_answer};

/// Longest answer line read (a plan of a few hundred steps fits many times over).
const MAX_LINE: u64 = 1 << 20;

/// What the reader thread hands over: a line, or why there is none.
enum Got {
    Line(String),
    TooLong,
    Failed(std::io::Error),
}

pub struct AgentDecider {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Got>,
    /// Lines of the agent's output read so far (for messages).
    line_no: u64,
    max_steps: u64,
    answered: u64,
    timeout: Duration,
    trajectory: Trajectory,
    label: String,
}

impl AgentDecider {
    /// Starts `cmd` and sends it `hello` (a hello line, recorded first).
    pub fn spawn(
        cmd: &str,
        hello: &str,
        max_steps: u64,
        timeout: Duration,
        trajectory: Trajectory,
    ) -> std::io::Result<AgentDecider> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // Its own process group, so that stopping it stops what its shell started too.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        // One line ahead at most: the agent's output is read as it answers.
        let (tx, rx) = sync_channel(1);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut buf = Vec::new();
                let got = reader
                    .by_ref()
                    .take(MAX_LINE + 1)
                    .read_until(b'\n', &mut buf);
                let msg = match got {
                    Ok(0) => return,
                    Ok(_) if buf.len() as u64 > MAX_LINE => Got::TooLong,
                    Ok(_) => Got::Line(String::from_utf8_lossy(&buf).into_owned()),
                    Err(e) => Got::Failed(e),
                };
                let last = !matches!(msg, Got::Line(_));
                if tx.send(msg).is_err() || last {
                    return;
                }
            }
        });
        trajectory.push(hello.to_string());
        let mut agent = AgentDecider {
            child,
            stdin,
            lines: rx,
            line_no: 0,
            max_steps,
            answered: 0,
            timeout,
            trajectory,
            label: format!("agent {cmd}"),
        };
        // A failed write (the agent already exited) shows at the first step, named there.
        let _ = agent.send(hello);
        Ok(agent)
    }

    fn send(&mut self, line: &str) -> std::io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("closed"))?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()
    }

    /// How the agent ended, if it did (waiting a moment for it to finish exiting).
    fn exit_status(&mut self) -> String {
        for _ in 0..50 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return format!("it exited with {status}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        "it closed its output".into()
    }

    fn ask(&mut self, point: &DecisionPoint) -> Result<Answer, String> {
        let step = point.step;
        if self.answered >= self.max_steps {
            return Err(format!(
                "the agent's step budget is spent: it answered {} decision points \
                 (--agent-steps {}), and step {step} came next",
                self.answered, self.max_steps
            ));
        }
        let line = observe_line(point);
        self.trajectory.push(line.clone());
        if self.send(&line).is_err() {
            let status = self.exit_status();
            return Err(format!(
                "the agent stopped reading before step {step} ({status})"
            ));
        }
        loop {
            let got = match self.lines.recv_timeout(self.timeout) {
                Ok(got) => got,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "the agent did not answer step {step} within {} (--agent-timeout)",
                        seconds(self.timeout)
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.exit_status();
                    return Err(format!(
                        "the agent ended without answering step {step} ({status})"
                    ));
                }
            };
            self.line_no += 1;
            let n = self.line_no;
            let text = match got {
                Got::Line(text) => text,
                Got::TooLong => {
                    return Err(format!(
                        "the agent's answer to step {step} (its output line {n}) is longer \
                         than {} MiB",
                        MAX_LINE >> 20
                    ));
                }
                Got::Failed(e) => {
                    return Err(format!(
                        "cannot read the agent's answer to step {step} (its output line {n}): {e}"
                    ));
                }
            };
            let text = text.trim_end_matches(['\n', '\r']);
            // Blank lines carry nothing; an answer is the next line with text.
            if text.trim().is_empty() {
                continue;
            }
            return match parse_answer(text, step) {
                Ok((a, answer)) => {
                    self.answered += 1;
                    self.trajectory.push(answer_record(step, &a));
                    Ok(answer)
                }
                Err(why) => Err(format!(
                    "the agent's answer to step {step} (its output line {n}) is not a valid \
                     answer: {why} (the line: {})",
                    shorten(text)
                )),
            };
        }
    }
}

impl Decider for AgentDecider {
    fn decide(&mut self, point: &DecisionPoint) -> Result<Answer, String> {
        self.ask(point).map_err(|why| {
            let message = format!("agent: {why}");
            self.trajectory.push(error_record(point.step, &message));
            message
        })
    }

    fn label(&self) -> String {
        self.label.clone()
    }
}

impl Drop for AgentDecider {
    /// The run is over: close the agent's input (its cue to exit), give it a moment, then
    /// stop its process group.
    fn drop(&mut self) {
        drop(self.stdin.take());
        for _ in 0..20 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `10s`, `1.5s`, `250ms`.
fn seconds(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// A line as quoted in a message: at most 200 characters.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_models::remediation::class::Signals;
    use sim_models::remediation::decide::Reason;

    fn point(step: u64) -> DecisionPoint {
        DecisionPoint {
            step,
            reason: Reason::Opened,
            signals: Signals::default(),
            incident: None,
        }
    }

    fn agent(script: &str, timeout_ms: u64) -> (AgentDecider, Trajectory) {
        let t = Trajectory::default();
        let a = AgentDecider::spawn(
            script,
            r#"{"type":"hello"}"#,
            3,
            Duration::from_millis(timeout_ms),
            t.clone(),
        )
        .unwrap();
        (a, t)
    }

    #[test]
    fn an_agent_answers_each_observation_and_the_exchange_is_recorded() {
        let (mut a, t) = agent(
            r#"read hello; while read obs; do echo '{"type":"wait"}'; done"#,
            5000,
        );
        for step in 0..3 {
            assert_eq!(a.decide(&point(step)), Ok(Answer::Wait));
        }
        let err = a.decide(&point(3)).unwrap_err();
        assert!(
            err.contains("step budget is spent") && err.contains("step 3"),
            "{err}"
        );
        drop(a);
        let text = t.text();
        let kinds: Vec<&str> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                match v["type"].as_str().unwrap() {
                    "hello" => "h",
                    "observe" => "o",
                    "answer" => "a",
                    _ => "e",
                }
            })
            .collect();
        assert_eq!(kinds.concat(), "hoaoaoae");
    }

    #[test]
    fn garbage_a_late_answer_and_an_exit_name_the_step() {
        let (mut a, _) = agent(r#"read hello; read obs; echo; echo 'restart all'"#, 5000);
        let err = a.decide(&point(0)).unwrap_err();
        assert!(
            err.contains("step 0") && err.contains("output line 2") && err.contains("column 1"),
            "{err}"
        );
        assert!(err.contains("restart all"), "{err}");
        let (mut a, _) = agent("read hello; read obs; exec sleep 30", 200);
        let err = a.decide(&point(0)).unwrap_err();
        assert!(err.contains("did not answer step 0 within 200ms"), "{err}");
        let (mut a, _) = agent("read hello; exit 3", 5000);
        let err = a.decide(&point(0)).unwrap_err();
        assert!(err.contains("step 0") && err.contains("exit"), "{err}");
    }
}
