//! Orthogonal-array coverage (OATS): factors with levels (a fault's kind, target, timing
//! and intensity, and any scenario field set by path), a strength-2 design that runs every
//! pair of levels of every pair of factors, and the main effects of each factor on
//! availability, p99 latency and collapse (the metastable verdict's share).
//!
//! ```ron
//! Coverage(
//!     seeds: 3,                     // replicates per row; `seed:` sets the base seed
//!     scenario_faults: Remove,      // or Keep (the default): the scenario's own faults
//!     budget: 100,                  // optional: refuse a design of more runs (rows x seeds)
//!     // The fault each run injects; the fault factors each replace one part of it.
//!     fault: Fault(start: "200s", end: "230s", kind: Slowdown(service: "db", factor: 10.0)),
//!     factors: [
//!         Kind(levels: [Crash(service: "db", mode: Refuse), Slowdown(service: "db", factor: 10.0),
//!                       Errors(service: "db", p: 0.5)]),
//!         Target(levels: ["db", "payment", "inventory"]),
//!         Timing(levels: [(start: "200s", end: "210s"), (start: "200s", end: "260s")]),
//!         Intensity(levels: [(factor: 5.0, p: 0.2), (factor: 50.0, p: 0.8)]),
//!         Set(path: "clients.shoppers.policy.max_attempts", levels: ["1", "3", "5"]),
//!     ],
//! )
//! ```
//!
//! - `Kind`: the fault, in the scenario's fault schema (its target and intensity are used
//!   unless a `Target` or `Intensity` factor replaces them).
//! - `Target`: the component the fault acts on (a fault's `service`, a `Spike`'s `client`,
//!   a `Flush`'s `cache`, a `ZoneOutage`'s `zone`).
//! - `Timing`: the fault's window.
//! - `Intensity`: the fault's strength, in the fields of the scenario's schema: `factor`
//!   (Slowdown, Spike), `p` (Errors, Loss), `workers` (CapacityLoss); a level gives the
//!   field of every kind it may meet. Kinds without one (Crash, Pause, ...) ignore it.
//! - `Set`: a scenario field by path, values as `simctl run --set` takes them.
//!
//! The design ([`design`]): the smallest orthogonal array of [`orthogonal`] that the
//! factors fit (with Taguchi's dummy levels where needed, and said so), or the full
//! factorial when that is no larger, or else a covering array ([`covering`]), and always
//! the strength check ([`orthogonal::check`]). Each row becomes a scenario (validated as a
//! file would be: a level that makes an invalid scenario is an error at that level's line
//! and column); simctl runs every row on the seeds; [`evaluate`] gathers the runs into
//! main effects ([`effects`]). Nothing here runs a simulation or does IO.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;
use sim_core::path::{FieldPath, PathSeg, Problem};

use crate::diagnostic::Diagnostics;
use crate::experiment::ScenarioFaults;
use crate::metric::MetricRef;
use crate::scenario::{Fault, FaultKind, Scenario};
use crate::sweep::{Overrides, Param, Row, SweepResult, replicate_seed};

pub mod covering;
pub mod effects;
pub mod gf;
pub mod orthogonal;

pub use effects::{FactorEffect, LevelMean, MetricEffects, main_effects};
pub use orthogonal::{Fit, Strength};

/// The most seeds (as `simctl sweep --seeds`).
pub const MAX_SEEDS: u32 = 10_000;
/// The most factors, and levels per factor.
pub const MAX_FACTORS: usize = 64;
pub const MAX_LEVELS: usize = 64;
/// The most runs (rows x seeds) of any design, budget or not.
pub const MAX_RUNS: u64 = 1_000_000;
/// The metrics whose main effects are reported, by registry name.
pub const EFFECT_METRICS: [&str; 3] = ["availability", "p99_ms", "metastable"];

/// A factors file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default = "default_seeds")]
    pub seeds: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default)]
    pub scenario_faults: ScenarioFaults,
    /// The base fault that the fault factors change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    #[serde(default)]
    pub factors: Vec<Factor>,
    /// The most runs (rows x seeds) the design may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<u64>,
}

fn default_seeds() -> u32 {
    3
}

/// No factors yet, the file's defaults otherwise (for factors given only as flags).
impl Default for Coverage {
    fn default() -> Self {
        Coverage {
            description: String::new(),
            seeds: default_seeds(),
            seed: None,
            scenario_faults: ScenarioFaults::default(),
            fault: None,
            factors: Vec::new(),
            budget: None,
        }
    }
}

/// One factor and its levels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Factor {
    Kind {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        levels: Vec<FaultKind>,
    },
    Target {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        levels: Vec<String>,
    },
    Timing {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        levels: Vec<Window>,
    },
    Intensity {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        levels: Vec<Intensity>,
    },
    Set {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        levels: Vec<String>,
    },
}

/// A fault's window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub start: SimDuration,
    pub end: SimDuration,
}

/// A fault's strength, per kind of fault.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Intensity {
    /// Slowdown, Spike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// Errors, Loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    /// CapacityLoss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
}

/// Parses a factors file, with positioned syntax and type errors.
pub fn parse(file: &str, text: &str) -> Result<Coverage, Diagnostics> {
    crate::scenario::parse_ron(file, text, "Coverage")
}

impl Factor {
    /// `PATH=VALUES` as `simctl sweep --param` takes it, as a `Set` factor.
    pub fn from_param(spec: &str) -> Result<Factor, String> {
        let p = Param::parse(spec)?;
        Ok(Factor::Set {
            path: p.path,
            name: None,
            levels: p.values,
        })
    }

    fn count(&self) -> usize {
        match self {
            Factor::Kind { levels, .. } => levels.len(),
            Factor::Target { levels, .. } | Factor::Set { levels, .. } => levels.len(),
            Factor::Timing { levels, .. } => levels.len(),
            Factor::Intensity { levels, .. } => levels.len(),
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Factor::Kind { .. } => "Kind",
            Factor::Target { .. } => "Target",
            Factor::Timing { .. } => "Timing",
            Factor::Intensity { .. } => "Intensity",
            Factor::Set { .. } => "Set",
        }
    }

    fn name(&self) -> String {
        let (given, default) = match self {
            Factor::Kind { name, .. } => (name, "fault kind"),
            Factor::Target { name, .. } => (name, "target"),
            Factor::Timing { name, .. } => (name, "timing"),
            Factor::Intensity { name, .. } => (name, "intensity"),
            Factor::Set { name, path, .. } => (name, path.as_str()),
        };
        given.clone().unwrap_or_else(|| default.to_string())
    }
}

/// A factor as the outputs name it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactorInfo {
    pub name: String,
    pub levels: Vec<String>,
}

/// How the rows were chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Orthogonal,
    /// Every combination: no orthogonal array is smaller.
    FullFactorial,
    /// No orthogonal array fits: a covering array (every pair run, not equally often).
    Covering,
}

/// Where a factor sits in an orthogonal array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub column: usize,
    pub column_levels: usize,
    pub fit: Fit,
}

/// The rows to run, how they were chosen, and their strength check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Design {
    pub method: Method,
    /// `L9(3^4)`, `full factorial 2x3`, `covering array (IPOG)`.
    pub name: String,
    pub construction: String,
    /// Per factor (orthogonal arrays only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placements: Vec<Placement>,
    /// `rows[r][f]`: the level of factor f in row r, from 0.
    pub rows: Vec<Vec<usize>>,
    pub strength: Strength,
    /// Runs of the full factorial (saturating at u64::MAX).
    pub full_factorial: u64,
}

/// The design for factors of `levels` levels each (at least two factors).
pub fn design(levels: &[usize]) -> Design {
    let full = levels
        .iter()
        .fold(1u64, |acc, &s| acc.saturating_mul(s as u64));
    let oa = orthogonal::candidates()
        .into_iter()
        .find_map(|c| orthogonal::assign(levels, &c.columns).map(|a| (c, a)));
    let full_fits = |runs: usize| full <= runs as u64;
    let (method, name, construction, placements, rows) = match oa {
        Some((c, _)) if full_fits(c.runs) => full_factorial(levels),
        Some((c, a)) => {
            let table = c.build();
            let rows = table
                .iter()
                .map(|r| {
                    a.iter()
                        .zip(levels)
                        .map(|(&(col, _), &s)| r[col] % s)
                        .collect()
                })
                .collect();
            let placements = a
                .iter()
                .map(|&(column, fit)| Placement {
                    column,
                    column_levels: c.columns[column],
                    fit,
                })
                .collect();
            (Method::Orthogonal, c.name, c.construction, placements, rows)
        }
        None => {
            let rows = covering::ipog(levels);
            if full_fits(rows.len()) {
                full_factorial(levels)
            } else {
                (
                    Method::Covering,
                    "covering array (IPOG)".into(),
                    "no orthogonal array fits these levels: a greedy strength-2 covering array (Lei and Tai's IPOG)".into(),
                    Vec::new(),
                    rows,
                )
            }
        }
    };
    let strength = orthogonal::check(&rows, levels);
    Design {
        method,
        name,
        construction,
        placements,
        rows,
        strength,
        full_factorial: full,
    }
}

type Chosen = (Method, String, String, Vec<Placement>, Vec<Vec<usize>>);

fn full_factorial(levels: &[usize]) -> Chosen {
    let rows = levels.iter().fold(vec![Vec::new()], |rows, &s| {
        rows.iter()
            .flat_map(|r| {
                (0..s).map(move |l| {
                    let mut next: Vec<usize> = r.clone();
                    next.push(l);
                    next
                })
            })
            .collect()
    });
    let shape: Vec<String> = levels.iter().map(usize::to_string).collect();
    (
        Method::FullFactorial,
        format!("full factorial {}", shape.join("x")),
        "every combination: no orthogonal array of strength 2 is smaller".into(),
        Vec::new(),
        rows,
    )
}

/// What simctl runs: a scenario per row of the design, and the seeds.
#[derive(Clone, Debug)]
pub struct Plan {
    pub factors: Vec<FactorInfo>,
    pub design: Design,
    pub scenarios: Vec<Scenario>,
    pub seeds: Vec<u64>,
    pub base_seed: u64,
    /// What the outputs should say about how the design was made (dummy levels, folds,
    /// a covering array, factors some kinds ignore).
    pub notes: Vec<String>,
}

impl Plan {
    pub fn runs(&self) -> u64 {
        self.scenarios.len() as u64 * self.seeds.len() as u64
    }
}

/// Checks the factors against `scenario` (validated) and builds the plan; every problem by
/// its path in the factors file (`factors[i]...` for factor i; factors given on the
/// command line come after the file's).
pub fn prepare(cov: &Coverage, scenario: &Scenario) -> Result<Plan, Vec<Problem>> {
    let root = FieldPath::root();
    let mut errors: Vec<Problem> = Vec::new();
    let mut err = |path: FieldPath, msg: String| errors.push(Problem::new(path, msg));
    let at = |i: usize| root.field("factors").index(i);

    if cov.seeds == 0 || cov.seeds > MAX_SEEDS {
        err(
            root.field("seeds"),
            format!("must be 1 to {MAX_SEEDS}, got {}", cov.seeds),
        );
    }
    if cov.factors.len() < 2 {
        err(
            root.field("factors"),
            format!(
                "needs at least 2 factors to cover pairs of them, got {} (one factor alone is a sweep: simctl sweep --param)",
                cov.factors.len()
            ),
        );
    }
    if cov.factors.len() > MAX_FACTORS {
        err(
            root.field("factors"),
            format!("at most {MAX_FACTORS} factors, got {}", cov.factors.len()),
        );
    }
    let mut base = scenario.clone();
    if cov.scenario_faults == ScenarioFaults::Remove {
        base.faults.clear();
        base.incidents.clear();
    }
    let overrides = Overrides::new(&base);
    let mut kinds_seen: Vec<(&'static str, usize)> = Vec::new();
    for (i, f) in cov.factors.iter().enumerate() {
        let n = f.count();
        if n < 2 {
            err(
                at(i).field("levels"),
                format!("has {n} level(s): a factor needs at least 2"),
            );
        }
        if n > MAX_LEVELS {
            err(
                at(i).field("levels"),
                format!("at most {MAX_LEVELS} levels per factor, got {n}"),
            );
        }
        if let Some(j) = duplicate_level(f) {
            err(
                at(i).field("levels").index(j),
                "repeats an earlier level of this factor".into(),
            );
        }
        match f {
            Factor::Set { path, levels, .. } => {
                if let Some(&(_, k)) = kinds_seen.iter().find(
                    |(_, k)| matches!(&cov.factors[*k], Factor::Set { path: p, .. } if p == path),
                ) {
                    err(
                        at(i).field("path"),
                        format!("`{path}` is already set by factors[{k}]"),
                    );
                    continue;
                }
                kinds_seen.push(("Set", i));
                if let Err(e) = overrides.kind(path) {
                    err(at(i).field("path"), e);
                    continue;
                }
                for (j, v) in levels.iter().enumerate() {
                    if let Err(e) = overrides.apply(&[(path, v)]) {
                        err(at(i).field("levels").index(j), e);
                    }
                }
            }
            other => {
                let what = other.what();
                if let Some(&(_, k)) = kinds_seen.iter().find(|(w, _)| *w == what) {
                    err(
                        at(i),
                        format!(
                            "a second {what} factor (the first is factors[{k}]): the injected fault has one {}",
                            what.to_lowercase()
                        ),
                    );
                }
                kinds_seen.push((what, i));
            }
        }
    }
    let find = |what: &str| cov.factors.iter().position(|f| f.what() == what);
    let (kind_f, target_f, timing_f, intensity_f) = (
        find("Kind"),
        find("Target"),
        find("Timing"),
        find("Intensity"),
    );
    let fault_factors = [kind_f, target_f, timing_f, intensity_f]
        .iter()
        .any(Option::is_some);
    if fault_factors && cov.fault.is_none() && (kind_f.is_none() || timing_f.is_none()) {
        err(
            root.field("factors"),
            "the fault factors change a base fault: give `fault: Fault(start: .., end: .., kind: ..)`, or both a Kind and a Timing factor".into(),
        );
    }
    // The kinds a run may inject, with where each is written.
    let kinds: Vec<(FieldPath, &FaultKind)> = match (kind_f, &cov.fault) {
        (Some(k), _) => match &cov.factors[k] {
            Factor::Kind { levels, .. } => levels
                .iter()
                .enumerate()
                .map(|(j, l)| (at(k).field("levels").index(j), l))
                .collect(),
            _ => unreachable!("found as a Kind factor"),
        },
        (None, Some(f)) => vec![(root.field("fault").field("kind"), &f.kind)],
        (None, None) => Vec::new(),
    };
    let mut notes = Vec::new();
    if let Some(t) = target_f {
        for (path, k) in &kinds {
            if target_of(k).is_none() {
                errors.push(Problem::new(
                    path.clone(),
                    format!(
                        "a {} has two ends (`a` and `b`), so factors[{t}] (Target) cannot say which to move: leave it out of the Kind levels, or drop the Target factor",
                        variant(k)
                    ),
                ));
            }
        }
    }
    if let Some(t) = intensity_f {
        let Factor::Intensity { levels, .. } = &cov.factors[t] else {
            unreachable!("found as an Intensity factor")
        };
        let strong: Vec<&(FieldPath, &FaultKind)> = kinds
            .iter()
            .filter(|(_, k)| intensity_field(k).is_some())
            .collect();
        if strong.is_empty() && !kinds.is_empty() {
            errors.push(Problem::new(
                at(t),
                "no fault kind here has an intensity (only Slowdown, Spike, Errors, Loss and CapacityLoss do): this factor would change nothing",
            ));
        }
        for (j, level) in levels.iter().enumerate() {
            for (path, k) in &strong {
                if with_intensity(k, level).is_none() {
                    errors.push(Problem::new(
                        at(t).field("levels").index(j),
                        format!(
                            "gives no `{}`, which the {} at {path} needs",
                            intensity_field(k).expect("kept for having one"),
                            variant(k)
                        ),
                    ));
                }
            }
        }
        let weak: Vec<&str> = kinds
            .iter()
            .filter(|(_, k)| intensity_field(k).is_none())
            .map(|(_, k)| variant(k))
            .collect();
        if !weak.is_empty() {
            notes.push(format!(
                "{} ignores {}: it has no intensity, so those rows run it as it is",
                weak.join(", "),
                cov.factors[t].name()
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let levels: Vec<usize> = cov.factors.iter().map(Factor::count).collect();
    let design = design(&levels);
    let runs = design.rows.len() as u64 * u64::from(cov.seeds);
    let budget = cov.budget.unwrap_or(MAX_RUNS).min(MAX_RUNS);
    if runs > budget {
        let (path, what) = match cov.budget {
            Some(b) if b <= MAX_RUNS => (root.field("budget"), format!("the budget of {b} runs")),
            _ => (
                root.field("factors"),
                format!("the most any design may take ({MAX_RUNS})"),
            ),
        };
        return Err(vec![Problem::new(
            path,
            format!(
                "the design ({}) needs {} rows x {} seeds = {runs} runs, over {what}: lower `seeds`, or drop factors or levels (the full factorial would be {} runs)",
                design.name,
                design.rows.len(),
                cov.seeds,
                design.full_factorial
            ),
        )]);
    }
    let factors: Vec<FactorInfo> = cov
        .factors
        .iter()
        .map(|f| FactorInfo {
            name: f.name(),
            levels: labels(f, target_f.is_some(), intensity_f.is_some()),
        })
        .collect();
    notes.extend(design_notes(&design, &factors));

    // A scenario per row; a problem the scenario's validation finds is reported at the
    // level of the row that caused it.
    let mut scenarios = Vec::with_capacity(design.rows.len());
    for row in &design.rows {
        let sets: Vec<(&str, &str)> = cov
            .factors
            .iter()
            .zip(row)
            .filter_map(|(f, &l)| match f {
                Factor::Set { path, levels, .. } => Some((path.as_str(), levels[l].as_str())),
                _ => None,
            })
            .collect();
        let level_at = |f: Option<usize>| f.map(|f| at(f).field("levels").index(row[f]));
        let first_set = cov
            .factors
            .iter()
            .position(|f| matches!(f, Factor::Set { .. }));
        let mut s = if sets.is_empty() {
            base.clone()
        } else {
            match overrides.apply(&sets) {
                Ok(s) => s,
                Err(e) => {
                    push_once(
                        &mut errors,
                        Problem::new(
                            level_at(first_set).expect("a Set factor gave the sets"),
                            format!(
                                "with the other levels of design row {}: {e}",
                                row_label(row)
                            ),
                        ),
                    );
                    continue;
                }
            }
        };
        if fault_factors || cov.fault.is_some() {
            let fault = row_fault(cov, row, kind_f, target_f, timing_f, intensity_f);
            let index = s.faults.len();
            s.faults.push(fault);
            let (found, _) = crate::validate::problems(&s);
            for p in found {
                let moved = match p.path.0.as_slice() {
                    [PathSeg::Field("faults"), PathSeg::Index(k), rest @ ..] if *k == index => {
                        let part = match rest {
                            [PathSeg::Field("start" | "end"), ..] => timing_f,
                            [PathSeg::Field("kind"), PathSeg::Field(field), ..]
                                if ["service", "client", "cache", "zone"].contains(field) =>
                            {
                                target_f
                            }
                            [PathSeg::Field("kind"), PathSeg::Field(field), ..]
                                if ["factor", "p", "workers"].contains(field) =>
                            {
                                intensity_f
                            }
                            _ => None,
                        };
                        level_at(part.or(kind_f))
                            .unwrap_or_else(|| root.field("fault").join(&FieldPath(rest.to_vec())))
                    }
                    _ => level_at(first_set).unwrap_or_else(|| root.field("fault")),
                };
                push_once(
                    &mut errors,
                    Problem::new(
                        moved,
                        format!(
                            "in design row {} the scenario is invalid: field `{}`: {}",
                            row_label(row),
                            p.path,
                            p.message
                        ),
                    ),
                );
            }
        }
        scenarios.push(s);
    }
    if !errors.is_empty() {
        errors.truncate(20);
        return Err(errors);
    }
    let base_seed = cov.seed.unwrap_or(scenario.seed);
    Ok(Plan {
        factors,
        design,
        scenarios,
        seeds: (0..cov.seeds)
            .map(|r| replicate_seed(base_seed, r))
            .collect(),
        base_seed,
        notes,
    })
}

fn push_once(errors: &mut Vec<Problem>, p: Problem) {
    if !errors.iter().any(|q| q.path == p.path) {
        errors.push(p);
    }
}

/// A row's levels from 1, as the tables print them: `(1, 3, 2)`.
fn row_label(row: &[usize]) -> String {
    let parts: Vec<String> = row.iter().map(|l| (l + 1).to_string()).collect();
    format!("({})", parts.join(", "))
}

fn duplicate_level(f: &Factor) -> Option<usize> {
    fn first_repeat<T: PartialEq>(xs: &[T]) -> Option<usize> {
        (1..xs.len()).find(|&j| xs[..j].contains(&xs[j]))
    }
    match f {
        Factor::Kind { levels, .. } => first_repeat(levels),
        Factor::Target { levels, .. } | Factor::Set { levels, .. } => first_repeat(levels),
        Factor::Timing { levels, .. } => first_repeat(levels),
        Factor::Intensity { levels, .. } => first_repeat(levels),
    }
}

/// The fault of one row: the base fault (or the first Kind and Timing levels), each part
/// replaced by its factor's level.
fn row_fault(
    cov: &Coverage,
    row: &[usize],
    kind_f: Option<usize>,
    target_f: Option<usize>,
    timing_f: Option<usize>,
    intensity_f: Option<usize>,
) -> Fault {
    let level = |f: Option<usize>| f.map(|f| (&cov.factors[f], row[f]));
    let mut fault = cov.fault.clone().unwrap_or(Fault {
        start: SimDuration::ZERO,
        end: SimDuration::ZERO,
        kind: FaultKind::Pause {
            service: String::new(),
        },
    });
    if let Some((Factor::Kind { levels, .. }, l)) = level(kind_f) {
        fault.kind = levels[l].clone();
    }
    if let Some((Factor::Target { levels, .. }, l)) = level(target_f)
        && let Some(t) = target_field(&mut fault.kind)
    {
        *t = levels[l].clone();
    }
    if let Some((Factor::Timing { levels, .. }, l)) = level(timing_f) {
        fault.start = levels[l].start;
        fault.end = levels[l].end;
    }
    if let Some((Factor::Intensity { levels, .. }, l)) = level(intensity_f)
        && let Some(k) = with_intensity(&fault.kind, &levels[l])
    {
        fault.kind = k;
    }
    fault
}

/// The one target field of a fault kind, to read or set (none for a pair's two ends).
fn target_field(kind: &mut FaultKind) -> Option<&mut String> {
    match kind {
        FaultKind::Crash { service, .. }
        | FaultKind::Errors { service, .. }
        | FaultKind::Slowdown { service, .. }
        | FaultKind::CapacityLoss { service, .. }
        | FaultKind::Pause { service } => Some(service),
        FaultKind::Spike { client, .. } => Some(client),
        FaultKind::Flush { cache } => Some(cache),
        FaultKind::RevokeTokens { token_auth } => Some(token_auth),
        FaultKind::ZoneOutage { zone, .. } => Some(zone),
        FaultKind::Partition { .. } | FaultKind::Loss { .. } => None,
    }
}

/// A fault kind's one target, if it has one.
fn target_of(kind: &FaultKind) -> Option<String> {
    target_field(&mut kind.clone()).cloned()
}

/// The intensity field a kind has, by its name in the schema.
fn intensity_field(kind: &FaultKind) -> Option<&'static str> {
    match kind {
        FaultKind::Slowdown { .. } | FaultKind::Spike { .. } => Some("factor"),
        FaultKind::Errors { .. } | FaultKind::Loss { .. } => Some("p"),
        FaultKind::CapacityLoss { .. } => Some("workers"),
        _ => None,
    }
}

/// `kind` at intensity `level`: itself for a kind without one; `None` when the level does
/// not give the field the kind needs.
fn with_intensity(kind: &FaultKind, level: &Intensity) -> Option<FaultKind> {
    let mut k = kind.clone();
    match &mut k {
        FaultKind::Slowdown { factor, .. } | FaultKind::Spike { factor, .. } => {
            *factor = level.factor?;
        }
        FaultKind::Errors { p, .. } | FaultKind::Loss { p, .. } => *p = level.p?,
        FaultKind::CapacityLoss { workers, .. } => *workers = level.workers?,
        _ => {}
    }
    Some(k)
}

/// A fault kind's variant name, as the schema spells it.
fn variant(kind: &FaultKind) -> &'static str {
    match kind {
        FaultKind::Crash { .. } => "Crash",
        FaultKind::Errors { .. } => "Errors",
        FaultKind::Slowdown { .. } => "Slowdown",
        FaultKind::CapacityLoss { .. } => "CapacityLoss",
        FaultKind::Pause { .. } => "Pause",
        FaultKind::Partition { .. } => "Partition",
        FaultKind::Loss { .. } => "Loss",
        FaultKind::Spike { .. } => "Spike",
        FaultKind::ZoneOutage { .. } => "ZoneOutage",
        FaultKind::Flush { .. } => "Flush",
        FaultKind::RevokeTokens { .. } => "RevokeTokens",
    }
}

/// Each level's label: short, and unique within the factor.
fn labels(f: &Factor, has_target: bool, has_intensity: bool) -> Vec<String> {
    let num = |x: f64| crate::sweep::show_number(x, false);
    let mut out: Vec<String> = match f {
        Factor::Kind { levels, .. } => levels
            .iter()
            .map(|k| {
                let mut s = variant(k).to_string();
                if !has_target && let Some(t) = target_of(k) {
                    s.push(' ');
                    s.push_str(&t);
                }
                if !has_intensity {
                    match k {
                        FaultKind::Slowdown { factor, .. } | FaultKind::Spike { factor, .. } => {
                            s.push_str(&format!(" x{}", num(*factor)));
                        }
                        FaultKind::Errors { p, .. } | FaultKind::Loss { p, .. } => {
                            s.push_str(&format!(" p={}", num(*p)));
                        }
                        FaultKind::CapacityLoss { workers, .. } => {
                            s.push_str(&format!(" {workers} workers"));
                        }
                        _ => {}
                    }
                }
                s
            })
            .collect(),
        Factor::Target { levels, .. } | Factor::Set { levels, .. } => levels.clone(),
        Factor::Timing { levels, .. } => levels
            .iter()
            .map(|w| {
                format!(
                    "{}-{}s",
                    num(w.start.as_secs_f64()),
                    num(w.end.as_secs_f64())
                )
            })
            .collect(),
        Factor::Intensity { levels, .. } => levels
            .iter()
            .map(|l| {
                let mut parts = Vec::new();
                if let Some(x) = l.factor {
                    parts.push(format!("x{}", num(x)));
                }
                if let Some(p) = l.p {
                    parts.push(format!("p={}", num(p)));
                }
                if let Some(w) = l.workers {
                    parts.push(format!("{w} workers"));
                }
                parts.join(" ")
            })
            .collect(),
    };
    for j in 1..out.len() {
        if out[..j].contains(&out[j]) {
            out[j] = format!("{} #{}", out[j], j + 1);
        }
    }
    out
}

/// What the outputs say about the design beyond its name.
fn design_notes(d: &Design, factors: &[FactorInfo]) -> Vec<String> {
    let mut notes = Vec::new();
    for (p, f) in d.placements.iter().zip(factors) {
        let s = f.levels.len();
        match p.fit {
            Fit::Exact => {}
            Fit::Folded => notes.push(format!(
                "{}: {s} levels in a {}-level column, folded (column level j runs as level j mod {s}); still balanced",
                f.name, p.column_levels
            )),
            Fit::Dummy => notes.push(format!(
                "{}: {s} levels in a {}-level column, with a dummy level (the column's last level runs as `{}`, so it runs twice as often); pairs stay covered and in proportion, but not balanced",
                f.name, p.column_levels, f.levels[0]
            )),
        }
    }
    if d.method == Method::Covering {
        notes.push(format!(
            "{}: so every pair of levels is run, but not equally often, and main effects may carry some of the other factors' effects",
            d.construction
        ));
    }
    notes
}

/// A finished coverage run: the design, every run, and the main effects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageResult {
    pub scenario: String,
    pub scenario_hash: String,
    pub base_seed: u64,
    pub seeds: u32,
    pub factors: Vec<FactorInfo>,
    pub design: Design,
    /// Rows x seeds.
    pub runs: u64,
    pub notes: Vec<String>,
    /// Main effects of each of [`EFFECT_METRICS`].
    pub effects: Vec<MetricEffects>,
    /// Every run's metrics, one point per design row (its runs.csv and points.csv).
    pub sweep: SweepResult,
}

/// The metric columns each run records: every run-wide metric of the registry.
pub fn columns() -> Vec<MetricRef> {
    crate::metric::run_metrics().collect()
}

/// Gathers the runs (a row per run, any order; `point` is the design row) into the result.
pub fn evaluate(plan: &Plan, scenario: &str, hash: &str, rows: Vec<Row>) -> CoverageResult {
    let metrics = columns();
    let params: Vec<Param> = plan
        .factors
        .iter()
        .map(|f| Param {
            path: f.name.clone(),
            values: f.levels.clone(),
        })
        .collect();
    let sweep = SweepResult::new(
        scenario,
        hash,
        plan.base_seed,
        plan.seeds.len() as u32,
        params,
        &metrics,
        rows,
    );
    let names: Vec<String> = plan.factors.iter().map(|f| f.name.clone()).collect();
    let labels: Vec<Vec<String>> = plan.factors.iter().map(|f| f.levels.clone()).collect();
    let effects = EFFECT_METRICS
        .iter()
        .map(|m| {
            let col = sweep
                .metrics
                .iter()
                .position(|c| c == m)
                .expect("effect metrics are run-wide metrics");
            let mut values = vec![Vec::new(); plan.design.rows.len()];
            for r in &sweep.rows {
                values[r.point].push(r.metrics[col]);
            }
            main_effects(m, &names, &labels, &plan.design.rows, &values)
        })
        .collect();
    CoverageResult {
        scenario: scenario.to_string(),
        scenario_hash: hash.to_string(),
        base_seed: plan.base_seed,
        seeds: plan.seeds.len() as u32,
        factors: plan.factors.clone(),
        design: plan.design.clone(),
        runs: plan.runs(),
        notes: plan.notes.clone(),
        effects,
        sweep,
    }
}

#[cfg(test)]
mod tests;
