//! Semantic checks a scenario must pass before it runs: what serde types cannot express.
//!
//! Every problem is collected (not just the first), with the field path and its
//! line:column in the source, so a user fixes a file in one round.

use sim_core::SimDuration;
use sim_core::path::{FieldPath, Problem};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::locate::locate;
use crate::scenario::{QueueSpec, Scenario};

/// A scenario that passed validation, with the warnings found on the way.
#[derive(Clone, Debug)]
pub struct Validated {
    pub scenario: Scenario,
    pub warnings: Vec<Diagnostic>,
}

/// Parses and validates `text` (from `file`, used in messages).
pub fn load(file: &str, text: &str) -> Result<Validated, Diagnostics> {
    let scenario = crate::scenario::parse(file, text)?;
    validate(file, text, scenario)
}

/// Checks a parsed scenario. `text` is its source, used to point at fields.
pub fn validate(file: &str, text: &str, scenario: Scenario) -> Result<Validated, Diagnostics> {
    let (errors, warnings) = problems(&scenario);
    let at = |p: Problem, error: bool| {
        let pos = locate(text, &p.path);
        let field = p.path.to_string();
        if error {
            Diagnostic::error(pos, field, p.message)
        } else {
            Diagnostic::warning(pos, field, p.message)
        }
    };
    let warnings: Vec<Diagnostic> = warnings.into_iter().map(|p| at(p, false)).collect();
    if errors.is_empty() {
        return Ok(Validated { scenario, warnings });
    }
    let mut all: Vec<Diagnostic> = errors.into_iter().map(|p| at(p, true)).collect();
    all.extend(warnings);
    Err(Diagnostics::new(file, all))
}

/// (errors, warnings) of a scenario, by field path.
pub fn problems(s: &Scenario) -> (Vec<Problem>, Vec<Problem>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let root = FieldPath::root();
    let mut err = |path: FieldPath, msg: String| errors.push(Problem::new(path, msg));

    if s.horizon.is_zero() {
        err(
            root.field("horizon"),
            "must be longer than 0s: nothing would be simulated".into(),
        );
    }
    if s.warmup >= s.horizon && !s.horizon.is_zero() {
        err(
            root.field("warmup"),
            format!(
                "must end before the horizon ({}), got {}: nothing would be counted",
                s.horizon, s.warmup
            ),
        );
    }
    if s.window.is_zero() {
        err(root.field("window"), "must be longer than 0s".into());
    } else if s.horizon.as_nanos() / s.window.as_nanos() > MAX_WINDOWS {
        err(
            root.field("window"),
            format!(
                "{} windows of {} over a {} horizon is more than the {MAX_WINDOWS} a time series may hold: use a wider window",
                s.horizon.as_nanos() / s.window.as_nanos(),
                s.window,
                s.horizon
            ),
        );
    }
    if s.limits.max_events == 0 {
        err(
            root.field("limits").field("max_events"),
            "must be at least 1".into(),
        );
    }
    if s.limits.max_in_flight == 0 {
        err(
            root.field("limits").field("max_in_flight"),
            "must be at least 1".into(),
        );
    }

    let service_names: Vec<&str> = s.services.iter().map(|x| x.name.as_str()).collect();
    check_names(&root.field("services"), &service_names, "service", &mut err);
    let client_names: Vec<&str> = s.clients.iter().map(|x| x.name.as_str()).collect();
    check_names(&root.field("clients"), &client_names, "client", &mut err);
    if s.clients.is_empty() {
        err(
            root.field("clients"),
            "no clients: nothing would send a request".into(),
        );
    }

    for (i, c) in s.clients.iter().enumerate() {
        let at = root.field("clients").index(i);
        if !(c.rate_rps.is_finite() && c.rate_rps > 0.0) {
            err(
                at.field("rate_rps"),
                format!(
                    "must be a number above 0 (requests per second), got {}",
                    c.rate_rps
                ),
            );
        }
        if s.service_index(&c.target).is_none() {
            err(
                at.field("target"),
                unknown_service(&c.target, &service_names),
            );
        }
        if c.timeout == Some(SimDuration::ZERO) {
            err(
                at.field("timeout"),
                "must be longer than 0s (leave it out for no timeout)".into(),
            );
        }
    }

    for (i, svc) in s.services.iter().enumerate() {
        let at = root.field("services").index(i);
        if svc.workers == 0 {
            err(
                at.field("workers"),
                "must be at least 1: a service with no workers serves nothing and its utilization is undefined".into(),
            );
        }
        let dist_at = at.field("service_time");
        for p in svc.service_time.problems() {
            err(dist_at.join(&p.path), p.message);
        }
    }
    overload_warnings(s, &root, &mut warnings);
    (errors, warnings)
}

/// A time series holds at most this many windows (bounds memory whatever the input).
pub const MAX_WINDOWS: u64 = 10_000_000;

fn check_names(
    at: &FieldPath,
    names: &[&str],
    kind: &str,
    err: &mut impl FnMut(FieldPath, String),
) {
    for (i, name) in names.iter().enumerate() {
        if name.trim().is_empty() {
            err(at.index(i).field("name"), format!("a {kind} needs a name"));
        } else if let Some(first) = names[..i].iter().position(|n| n == name) {
            err(
                at.index(i).field("name"),
                format!("{kind} name `{name}` is already used by {kind} #{first}"),
            );
        }
    }
}

fn unknown_service(name: &str, known: &[&str]) -> String {
    let mut msg = format!("calls service `{name}`, which does not exist");
    if let Some(close) = nearest(name, known) {
        msg.push_str(&format!(" (did you mean `{close}`?)"));
    }
    if known.is_empty() {
        msg.push_str("; the scenario defines no services");
    } else {
        msg.push_str(&format!("; services are: {}", known.join(", ")));
    }
    msg
}

/// The known name closest to `name` by edit distance, if it is plausibly a typo.
pub fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|&(d, k)| d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Offered load at or above capacity with an unbounded queue and nobody giving up: legal
/// (it is how naive systems fail) but the queue grows for the whole run.
fn overload_warnings(s: &Scenario, root: &FieldPath, warnings: &mut Vec<Problem>) {
    for (i, svc) in s.services.iter().enumerate() {
        let Ok(sampler) = svc.service_time.compile() else {
            continue;
        };
        let clients: Vec<_> = s.clients.iter().filter(|c| c.target == svc.name).collect();
        let rate: f64 = clients.iter().map(|c| c.rate_rps).sum();
        let rho = rate * sampler.mean() / 1e9 / f64::from(svc.workers.max(1));
        let nobody_gives_up = clients.iter().all(|c| c.timeout.is_none());
        if rho >= 1.0 && svc.queue == QueueSpec::Unbounded && nobody_gives_up {
            warnings.push(Problem::new(
                root.field("services").index(i),
                format!(
                    "offered utilization is {rho:.2} (>= 1) with an unbounded queue and no timeouts: \
                     the queue will grow without bound until the run's in-flight limit stops it"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_names_catch_typos_only() {
        let known = ["gateway", "orders", "payment"];
        assert_eq!(nearest("paymnet", &known), Some("payment"));
        assert_eq!(nearest("order", &known), Some("orders"));
        assert_eq!(nearest("database", &known), None);
    }
}
