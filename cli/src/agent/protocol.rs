//! The agent protocol's messages (docs/agent/protocol.md, one JSON Schema per message in
//! docs/agent/): simctl writes a `hello` line, then an `observe` line per decision point;
//! the agent answers each observation with one answer line. A trajectory file holds the
//! same lines (hello, observe, answer, and the `error` that stopped the run, if any).

use serde::{Deserialize, Serialize};
use sim_models::remediation::decide::{Answer, DecisionPoint};
use sim_models::remediation::plan::{Plan, PlanAction, Step};
use sim_models::remediation::spec::Limits;
use sim_models::scenario::Scenario;

/// Bumped when a message changes incompatibly.
pub const PROTOCOL: u32 = 1;

/// The `kind` of every action an agent may use (PlanAction's variants).
pub const ACTIONS: [&str; 9] = [
    "restart",
    "scale",
    "failover",
    "rollback",
    "shed_load",
    "limit",
    "drain",
    "degrade",
    "evacuate_zone",
];

/// The first line: what the agent is acting on, and under which limits.
#[derive(Debug, Serialize)]
pub struct Hello {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub protocol: u32,
    pub scenario: String,
    pub seed: u64,
    pub horizon_s: f64,
    pub window_s: f64,
    pub topology: Topology,
    pub actions: Vec<&'static str>,
    pub limits: HelloLimits,
    /// How this session is run (not part of what a replay checks: it answers from the file).
    pub agent: Session,
}

#[derive(Debug, Serialize)]
pub struct Topology {
    pub clients: Vec<ClientNode>,
    pub services: Vec<ServiceNode>,
    pub caches: Vec<Named>,
    pub databases: Vec<DatabaseNode>,
    pub configs: Vec<ConfigNode>,
    pub zones: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ClientNode {
    pub name: String,
    pub target: String,
    pub zone: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ServiceNode {
    pub name: String,
    /// Instances running at the start.
    pub replicas: u32,
    /// Most a `scale` may ask for.
    pub max_replicas: u32,
    /// Every instance that can run (`NAME#i`, or `NAME` for a single one) with its zone.
    pub instances: Vec<InstanceNode>,
    /// What it calls directly: services, caches, databases, token auths.
    pub callees: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct InstanceNode {
    pub name: String,
    pub zone: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Named {
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct DatabaseNode {
    pub name: String,
    pub replicas: u32,
}

#[derive(Debug, Serialize)]
pub struct ConfigNode {
    pub name: String,
    pub services: Vec<String>,
}

/// The orchestrator's limits (every decider's plans go through them) and the remediation
/// section's verification and escalation settings.
#[derive(Debug, Serialize)]
pub struct HelloLimits {
    pub max_concurrent: u32,
    pub max_per_minute: u32,
    pub max_capacity_fraction: f64,
    pub budget: u32,
    pub verify_within_s: f64,
    pub max_failed_verifications: u32,
}

#[derive(Debug, Serialize)]
pub struct Session {
    /// The agent's command line (a replay names its decider after it).
    pub command: String,
    /// Decision points the agent may answer; the run stops at the next one.
    pub max_steps: u64,
    /// Wall-clock seconds the agent has for each answer.
    pub timeout_s: f64,
}

impl Hello {
    pub fn new(s: &Scenario, seed: u64, session: Session) -> Hello {
        let remediation = s.remediation.as_ref();
        let limits = remediation.map(|r| r.limits).unwrap_or_default();
        let Limits {
            max_concurrent,
            max_per_minute,
            max_capacity_fraction,
            budget,
        } = limits;
        Hello {
            kind: "hello",
            protocol: PROTOCOL,
            scenario: s.name.clone(),
            seed,
            horizon_s: s.horizon.as_secs_f64(),
            window_s: s.window.as_secs_f64(),
            topology: Topology::of(s),
            actions: ACTIONS.to_vec(),
            limits: HelloLimits {
                max_concurrent,
                max_per_minute,
                max_capacity_fraction,
                budget,
                verify_within_s: remediation.map_or(60.0, |r| r.verify_within.as_secs_f64()),
                max_failed_verifications: remediation.map_or(2, |r| r.max_failed_verifications),
            },
            agent: session,
        }
    }
}

impl Topology {
    fn of(s: &Scenario) -> Topology {
        // Everything a service can call by name, in file order by kind.
        let callable: Vec<&str> = s
            .services
            .iter()
            .map(|x| x.name.as_str())
            .chain(s.caches.iter().map(|x| x.name.as_str()))
            .chain(s.databases.iter().map(|x| x.name.as_str()))
            .chain(s.token_auths.iter().map(|x| x.name.as_str()))
            .collect();
        let services = s
            .services
            .iter()
            .map(|svc| {
                let n = svc.instances();
                let instances = (0..n)
                    .map(|i| InstanceNode {
                        name: if n > 1 {
                            format!("{}#{i}", svc.name)
                        } else {
                            svc.name.clone()
                        },
                        zone: svc.zone_of(i).map(str::to_string),
                    })
                    .collect();
                ServiceNode {
                    name: svc.name.clone(),
                    replicas: svc.replicas.max(1),
                    max_replicas: n,
                    instances,
                    callees: callable
                        .iter()
                        .filter(|c| sim_models::topology::calls(s, &svc.name, c))
                        .map(|c| c.to_string())
                        .collect(),
                }
            })
            .collect();
        let zones = sim_models::zones::Zones::of(s);
        Topology {
            clients: s
                .clients
                .iter()
                .map(|c| ClientNode {
                    name: c.name.clone(),
                    target: c.target.clone(),
                    zone: c.zone.clone(),
                })
                .collect(),
            services,
            caches: s
                .caches
                .iter()
                .map(|c| Named {
                    name: c.name.clone(),
                })
                .collect(),
            databases: s
                .databases
                .iter()
                .map(|d| DatabaseNode {
                    name: d.name.clone(),
                    replicas: d.replicas,
                })
                .collect(),
            configs: s
                .configs
                .iter()
                .map(|c| ConfigNode {
                    name: c.name.clone(),
                    services: c.services.clone(),
                })
                .collect(),
            zones: (0..zones.len())
                .map(|z| zones.name(z).to_string())
                .collect(),
        }
    }
}

/// An observation: the decision point, as the orchestrator hands it over.
#[derive(Serialize)]
struct Observe<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    point: &'a DecisionPoint,
}

/// The `observe` line of a decision point.
pub fn observe_line(point: &DecisionPoint) -> String {
    serde_json::to_string(&Observe {
        kind: "observe",
        point,
    })
    .expect("a decision point always serialises")
}

/// What an answer line says to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    Wait,
    Escalate,
    Actions,
    Plan,
}

/// An answer line, as the agent writes it and as the trajectory keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerLine {
    #[serde(rename = "type")]
    pub kind: AnswerKind,
    /// The step answered; when given it must be the step asked (catches an agent that
    /// fell out of step with the observations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// With `actions`: run these, each as one step of a plan (no order among them: the
    /// orchestrator's limits decide when each starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<PlanAction>>,
    /// With `plan`: run this plan DAG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// The agent's reasoning, kept in the trajectory; simctl does not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Reads one answer line for decision point `step`: the answer, or what is wrong with it.
pub fn parse_answer(line: &str, step: u64) -> Result<(AnswerLine, Answer), String> {
    let a: AnswerLine = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if let Some(s) = a.step
        && s != step
    {
        return Err(format!("it answers step {s}, but step {step} was asked"));
    }
    let answer = match (a.kind, &a.actions, &a.plan) {
        (AnswerKind::Wait, None, None) => Answer::Wait,
        (AnswerKind::Escalate, None, None) => Answer::Escalate,
        (AnswerKind::Actions, Some(actions), None) if !actions.is_empty() => Answer::Plan(Plan {
            name: format!("agent step {step}"),
            class: None,
            description: Some("the agent's actions, one step each".into()),
            steps: actions
                .iter()
                .enumerate()
                .map(|(i, action)| Step {
                    id: format!("a{}", i + 1),
                    action: action.clone(),
                    after: Vec::new(),
                    verify: None,
                })
                .collect(),
        }),
        (AnswerKind::Actions, Some(_), None) => {
            return Err("`actions` is empty (answer `wait` to do nothing)".into());
        }
        (AnswerKind::Plan, None, Some(plan)) => Answer::Plan(plan.clone()),
        (kind, _, _) => {
            let want = match kind {
                AnswerKind::Wait | AnswerKind::Escalate => "neither `actions` nor `plan`",
                AnswerKind::Actions => "`actions` (and no `plan`)",
                AnswerKind::Plan => "`plan` (and no `actions`)",
            };
            let name = serde_json::to_value(kind).expect("a kind serialises");
            return Err(format!("an answer of type {name} takes {want}"));
        }
    };
    Ok((a, answer))
}

/// The trajectory's record of an answer: the agent's line as simctl read it, with its step.
pub fn answer_record(step: u64, a: &AnswerLine) -> String {
    #[derive(Serialize)]
    struct Record<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        answer: &'a AnswerLine,
    }
    let answer = AnswerLine {
        step: Some(step),
        ..a.clone()
    };
    serde_json::to_string(&Record {
        kind: "answer",
        answer: &answer,
    })
    .expect("a record serialises")
}

/// The trajectory's record of the error that stopped the run.
pub fn error_record(step: u64, message: &str) -> String {
    serde_json::json!({ "type": "error", "step": step, "message": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_each_type_are_read() {
        assert_eq!(
            parse_answer(r#"{"type":"wait"}"#, 0).unwrap().1,
            Answer::Wait
        );
        assert_eq!(
            parse_answer(r#"{"type":"escalate","step":4,"note":"no idea"}"#, 4)
                .unwrap()
                .1,
            Answer::Escalate
        );
        let line = r#"{"type":"actions","actions":[{"kind":"drain","target":"api#1"},
            {"kind":"restart","target":"api#1","restart_time":"20s"}]}"#
            .replace('\n', "");
        let Answer::Plan(plan) = parse_answer(&line, 2).unwrap().1 else {
            panic!("actions are a plan")
        };
        assert_eq!(plan.name, "agent step 2");
        let ids: Vec<_> = plan.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a1", "a2"]);
        assert!(plan.steps.iter().all(|s| s.after.is_empty()));
        let plan_line = r#"{"type":"plan","plan":{"name":"p","steps":[{"id":"x","action":{"kind":"rollback","config":"flags"}}]}}"#;
        let Answer::Plan(plan) = parse_answer(plan_line, 0).unwrap().1 else {
            panic!("a plan")
        };
        assert_eq!(plan.name, "p");
    }

    #[test]
    fn bad_answers_say_what_is_wrong() {
        let err = |line: &str| parse_answer(line, 3).unwrap_err();
        assert!(
            err("restart everything").contains("column 1"),
            "{}",
            err("x")
        );
        let e = err(r#"{"type":"actions","actions":[{"kind":"reboot","target":"a"}]}"#);
        assert!(
            e.contains("unknown variant `reboot`") && e.contains("column"),
            "{e}"
        );
        assert!(err(r#"{"type":"wait","step":2}"#).contains("step 3 was asked"));
        assert!(err(r#"{"type":"wait","plans":[]}"#).contains("unknown field `plans`"));
        assert!(err(r#"{"type":"actions","actions":[]}"#).contains("empty"));
        assert!(err(r#"{"type":"plan"}"#).contains("takes `plan`"));
        assert!(err(r#"{"type":"wait","actions":[]}"#).contains("neither"));
    }

    #[test]
    fn an_answer_record_reads_back_to_the_same_answer() {
        let line =
            r#"{"type":"actions","note":"hung","actions":[{"kind":"drain","target":"api#1"}]}"#;
        let (a, answer) = parse_answer(line, 7).unwrap();
        let record = answer_record(7, &a);
        let v: serde_json::Value = serde_json::from_str(&record).unwrap();
        assert_eq!(v["type"], "answer");
        let again = parse_answer(&v["answer"].to_string(), 7).unwrap().1;
        assert_eq!(again, answer);
    }
}
