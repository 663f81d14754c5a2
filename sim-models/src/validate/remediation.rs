//! Checks of the `remediation` section: incidents open on an SLO's page alerts and close
//! within its error budget, so it needs one; the pager's distributions; the safety limits
//! in range. (The incident `mix` is checked with the mix.)

use sim_core::path::{FieldPath, Problem};

use crate::scenario::Scenario;

/// Every problem of `s`'s remediation section.
pub(super) fn problems(s: &Scenario) -> Vec<Problem> {
    let Some(r) = &s.remediation else {
        return Vec::new();
    };
    let at = FieldPath::root().field("remediation");
    let mut out = Vec::new();
    let mut err = |path: FieldPath, msg: &str| out.push(Problem::new(path, msg.to_string()));
    if s.slo.is_none() && s.clients.iter().all(|c| c.slo.is_none()) {
        err(
            at.clone(),
            "needs an SLO (`slo`, or a client's): incidents open on its page alerts and close \
             when failures are back within its error budget",
        );
    }
    let limits = at.field("limits");
    if r.limits.max_concurrent == 0 {
        err(limits.field("max_concurrent"), "must be at least 1");
    }
    if r.limits.max_per_minute == 0 {
        err(limits.field("max_per_minute"), "must be at least 1");
    }
    let f = r.limits.max_capacity_fraction;
    if !(f > 0.0 && f <= 1.0) {
        out.push(Problem::new(
            limits.field("max_capacity_fraction"),
            format!("must be more than 0 and at most 1, got {f}"),
        ));
    }
    let mut err = |path: FieldPath, msg: &str| out.push(Problem::new(path, msg.to_string()));
    if r.limits.budget == 0 {
        err(
            limits.field("budget"),
            "must be at least 1 (use `automation: Off` for none)",
        );
    }
    if r.verify_within.is_zero() {
        err(at.field("verify_within"), "must be longer than 0s");
    }
    if r.max_failed_verifications == 0 {
        err(at.field("max_failed_verifications"), "must be at least 1");
    }
    if r.restored_for < s.window {
        out.push(Problem::new(
            at.field("restored_for"),
            format!(
                "must be at least one window ({}), got {}: restoration is read per window",
                s.window, r.restored_for
            ),
        ));
    }
    let pager = at.field("pager");
    for (name, d) in [("response", &r.pager.response), ("fix", &r.pager.fix)] {
        out.extend(
            d.problems()
                .into_iter()
                .map(|p| Problem::new(pager.field(name).join(&p.path), p.message)),
        );
    }
    out
}
