//! The reliability score: a standard test suite generated per service of a scenario, each
//! test a chaos experiment ([`crate::experiment`]) whose hypothesis is the route SLOs, and
//! a 0-100 score per service and category as Gremlin defines it.
//!
//! # Gremlin's definition
//!
//! Gremlin's Reliability Management docs ("Reliability Score",
//! <https://www.gremlin.com/docs/reliability-management-reliability-score>): each
//! reliability test scores 100 when passed, 50 when failed, 0 when not yet run (and 75
//! when a pass has expired); tests are grouped into categories, each category's score is
//! the mean of its tests, and the service's score is the mean of its categories. A
//! category that does not apply to a service (no dependencies) is not listed and has no
//! impact. A test fails when a health check turns unhealthy while it runs; runs that did
//! not complete ("attempted") do not count. The default suite ("Gremlin Recommended
//! Tests", <https://www.gremlin.com/docs/reliability-management-test-suites>): Redundancy
//! (Host: shut down one host; Zone: one zone unreachable, needs the zone tag), Scalability
//! (CPU and memory consumed in stages), Dependencies (Failure: drop all traffic to the
//! dependency; Latency: delay it by 100 ms). Gremlin publishes no worked example of the
//! arithmetic; the unit tests below work one through by hand.
//!
//! # The suite here, per service S
//!
//! - **Redundancy / host**: one instance of S (`S#0`, or S itself when it has one) crashes,
//!   black-holed (a host that is gone answers nothing).
//! - **Redundancy / zone**: S's instances in its first zone crash, black-holed; *not run*
//!   (0) when S has no zones, as Gremlin's zone test without the zone tag.
//! - **Scalability / 2x load**: every route (client) that reaches S offers twice its load.
//!   Gremlin consumes CPU and memory in stages; a simulated service has no CPU to take, so
//!   the same question (does it keep up when demand outgrows what it was sized for) is
//!   asked with load.
//! - **Dependencies / D down**: for each service D that S calls, no message crosses
//!   between S and D (a partition: Gremlin's failure test drops all traffic to D).
//! - **Dependencies / D slow**: D's work takes 10x as long. Gremlin adds 100 ms of network
//!   latency; simctl has no windowed link-latency fault, so D itself slows, which also
//!   cuts its capacity tenfold and hits D's other callers: a harsher test.
//!
//! Each fault lasts as long as Gremlin's estimate for its counterpart
//! ([`Category::fault`]: 5 minutes, 15 for scalability), from [`SETTLE`] after the
//! warm-up; the run ends [`AFTER`] after the fault. The scenario's own faults and incident processes are removed from both
//! arms, so each test injects one thing.
//!
//! # Hypothesis: the route SLOs
//!
//! Each route's availability objective (the client's `slo`, else the scenario's, else
//! [`Options::default_slo`]) must hold *after* the fault (from [`RECOVERY`] after its end:
//! the system came back, no metastable tail) and *during* it, except, during the fault,
//! for the routes the fault itself touches: a route that visits S and D for `D down`, a
//! route that visits D for `D slow`. A route that cannot work without D failing while D is
//! cut off says D is critical (which `simctl spof` reports), not how the design copes; the
//! routes around it keeping their SLO is what tells a contained failure from a spreading
//! one. Redundancy and scalability tests excuse no route: surviving them is their point.
//!
//! # Where simctl differs from Gremlin
//!
//! - A test's verdict comes from several seeds (control and experiment on the same
//!   seeds): held on all is a pass (100); deviated or aborted is a fail (50); a test that
//!   cannot be set up (no zones) is *not run* (0). An experiment run that collapses
//!   past the in-flight guard (while its control does not) is a fail: its verdict is
//!   undetermined, but no SLO survives it. Any other *undetermined* verdict (a run cut
//!   short by a guard, a control that breaks the SLO with no fault, a probe without
//!   traffic) also scores 0: like Gremlin's attempted runs it gives no evidence either
//!   way, and it is listed with its reason.
//! - Nothing expires: a score is computed from the runs just made (Gremlin's 75).
//! - Only services get tests; caches and brokers are exercised as dependencies'
//!   internals, not as targets.
//! - A system's score per category is the mean over its services of their category
//!   scores (services where the category applies), and its overall score the mean of the
//!   services' scores.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

use crate::experiment::{
    self, BlastRadius, Experiment, Inject, Metric, Outcome, Plan, Probe, ScenarioFaults, Tolerance,
    Verdict, Window,
};
use crate::result::{RunResult, StopKind};
use crate::scenario::{CrashMode, FaultKind, Scenario};

/// From the end of the warm-up to the fault's start.
pub const SETTLE: SimDuration = SimDuration::from_secs(30);
/// After the fault: time allowed to recover before the SLO must hold again.
pub const RECOVERY: SimDuration = SimDuration::from_secs(30);
/// After the fault: the whole stretch read, recovery included.
pub const AFTER: SimDuration = SimDuration::from_secs(90);

impl Category {
    /// How long its tests' faults last: Gremlin's estimated test lengths (host, zone,
    /// dependency failure and latency 5 minutes; CPU and memory 15 minutes, in three
    /// stages of 5).
    pub fn fault(self) -> SimDuration {
        match self {
            Category::Redundancy | Category::Dependencies => SimDuration::from_secs(300),
            Category::Scalability => SimDuration::from_secs(900),
        }
    }
}

/// The load step of the scalability test.
pub const LOAD_FACTOR: f64 = 2.0;
/// The slowdown of the dependency-latency test.
pub const SLOW_FACTOR: f64 = 10.0;
/// The availability objective of a route when neither it nor the scenario has one: the
/// one the ladder's v0.8 and v1.0 declare.
pub const DEFAULT_SLO: f64 = 0.999;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Redundancy,
    Scalability,
    Dependencies,
}

impl Category {
    pub const ALL: [Category; 3] = [
        Category::Redundancy,
        Category::Scalability,
        Category::Dependencies,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::Redundancy => "redundancy",
            Category::Scalability => "scalability",
            Category::Dependencies => "dependencies",
        }
    }
}

/// A test's outcome, as Gremlin scores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    NotRun,
    Undetermined,
}

impl Status {
    /// Gremlin's points: passed 100, failed 50, not run 0; undetermined 0 (no evidence).
    pub fn points(self) -> f64 {
        match self {
            Status::Passed => 100.0,
            Status::Failed => 50.0,
            Status::NotRun | Status::Undetermined => 0.0,
        }
    }

    pub fn of(v: Verdict) -> Status {
        match v {
            Verdict::Held => Status::Passed,
            Verdict::Deviated | Verdict::Aborted => Status::Failed,
            Verdict::Undetermined => Status::Undetermined,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::NotRun => "not run",
            Status::Undetermined => "undetermined",
        }
    }
}

/// How the suite runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Seeds per test (control and experiment on each).
    pub seeds: u32,
    /// Base seed; the scenario's own if `None`.
    pub seed: Option<u64>,
    /// The availability objective of a route when neither it nor the scenario has one.
    pub default_slo: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seeds: 5,
            seed: None,
            default_slo: DEFAULT_SLO,
        }
    }
}

/// One test of the suite: an experiment, or why it was not run.
#[derive(Clone, Debug)]
pub struct Test {
    pub service: String,
    pub category: Category,
    /// `host`, `zone a`, `2x load`, `db down`, `db slow`.
    pub name: String,
    pub setup: Result<Setup, String>,
}

#[derive(Clone, Debug)]
pub struct Setup {
    pub experiment: Experiment,
    pub plan: Plan,
    /// Indices into [`Suite::scenarios`] of the control and the experiment.
    control: usize,
    treatment: usize,
}

/// A route's objective and where it comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteSlo {
    pub route: String,
    pub availability: f64,
    /// `route`, `scenario` or `default`.
    pub from: String,
}

/// The suite for one scenario, and the distinct scenarios its tests run: tests that inject
/// the same fault share runs, and every test shares the one control.
#[derive(Clone, Debug)]
pub struct Suite {
    /// The file (as the user named it) and the scenario's name and hash.
    pub file: String,
    pub scenario: String,
    pub scenario_hash: String,
    pub seeds: Vec<u64>,
    pub slos: Vec<RouteSlo>,
    pub tests: Vec<Test>,
    /// Control first, then each distinct experiment scenario.
    pub scenarios: Vec<Scenario>,
}

/// Builds the suite for `scenario` (already validated), read from `file`.
pub fn suite(file: &str, scenario: &Scenario, opts: &Options) -> Suite {
    let start = scenario.warmup + SETTLE;
    // The scenario each category's tests run on: its horizon AFTER past the fault.
    let base = |c: Category| {
        let mut b = scenario.clone();
        b.horizon = start + c.fault() + AFTER;
        b
    };
    let slos: Vec<RouteSlo> = scenario
        .clients
        .iter()
        .map(|c| {
            let (availability, from) = match (&c.slo, &scenario.slo) {
                (Some(s), _) => (s.availability, "route"),
                (None, Some(s)) => (s.availability, "scenario"),
                (None, None) => (opts.default_slo, "default"),
            };
            RouteSlo {
                route: c.name.clone(),
                availability,
                from: from.into(),
            }
        })
        .collect();
    let visits = crate::topology::expected_visits(scenario);
    // Routes (client indices) that reach service `j`.
    let reach = |j: usize| -> Vec<usize> {
        (0..scenario.clients.len())
            .filter(|&c| {
                visits
                    .get(c)
                    .and_then(|v| v.get(j))
                    .is_some_and(|&x| x > 0.0)
            })
            .collect()
    };
    // Per test: service, category, name, and its faults with the routes they excuse
    // during the fault (client indices), or why it does not run.
    type Spec = (
        String,
        Category,
        String,
        Result<(Vec<Inject>, Vec<usize>), String>,
    );
    let mut specs: Vec<Spec> = Vec::new();
    let inject = |c: Category, kind: FaultKind, blast_radius: BlastRadius| Inject {
        start,
        end: start + c.fault(),
        kind,
        blast_radius,
    };
    for (j, svc) in scenario.services.iter().enumerate() {
        let s = &svc.name;
        let mut add = |cat, name: String, r| specs.push((s.clone(), cat, name, r));
        let one = if svc.instances() > 1 {
            format!("{s}#0")
        } else {
            s.clone()
        };
        let crash = |service: String| FaultKind::Crash {
            service,
            mode: CrashMode::BlackHole,
        };
        add(
            Category::Redundancy,
            "host".into(),
            Ok((
                vec![inject(Category::Redundancy, crash(one), BlastRadius::All)],
                vec![],
            )),
        );
        match svc.zones.first() {
            Some(z) => add(
                Category::Redundancy,
                format!("zone {z}"),
                Ok((
                    vec![inject(
                        Category::Redundancy,
                        crash(s.clone()),
                        BlastRadius::Zone(z.clone()),
                    )],
                    vec![],
                )),
            ),
            None => add(
                Category::Redundancy,
                "zone".into(),
                Err(format!(
                    "`{s}` has no zones (Gremlin's zone test needs the zone tag too)"
                )),
            ),
        }
        let routes = reach(j);
        let load: Vec<Inject> = routes
            .iter()
            .map(|&c| {
                inject(
                    Category::Scalability,
                    FaultKind::Spike {
                        client: scenario.clients[c].name.clone(),
                        factor: LOAD_FACTOR,
                    },
                    BlastRadius::All,
                )
            })
            .collect();
        add(
            Category::Scalability,
            format!("{LOAD_FACTOR}x load"),
            if load.is_empty() {
                Err(format!(
                    "no route reaches `{s}`: there is no load to double"
                ))
            } else {
                Ok((load, vec![]))
            },
        );
        for (d, dep) in scenario.services.iter().enumerate() {
            if !crate::topology::calls(scenario, s, &dep.name) {
                continue;
            }
            let both: Vec<usize> = routes
                .iter()
                .copied()
                .filter(|c| reach(d).contains(c))
                .collect();
            add(
                Category::Dependencies,
                format!("{} down", dep.name),
                Ok((
                    vec![inject(
                        Category::Dependencies,
                        FaultKind::Partition {
                            a: s.clone(),
                            b: dep.name.clone(),
                        },
                        BlastRadius::All,
                    )],
                    both,
                )),
            );
            add(
                Category::Dependencies,
                format!("{} slow", dep.name),
                Ok((
                    vec![inject(
                        Category::Dependencies,
                        FaultKind::Slowdown {
                            service: dep.name.clone(),
                            factor: SLOW_FACTOR,
                        },
                        BlastRadius::All,
                    )],
                    reach(d),
                )),
            );
        }
    }

    let base_seed = opts.seed.unwrap_or(scenario.seed);
    let mut scenarios: Vec<Scenario> = Vec::new();
    let mut hashes: Vec<String> = Vec::new();
    let mut index_of = |s: &Scenario| -> usize {
        let h = s.hash();
        match hashes.iter().position(|x| *x == h) {
            Some(i) => i,
            None => {
                hashes.push(h);
                scenarios.push(s.clone());
                scenarios.len() - 1
            }
        }
    };
    // A control first, whether or not any test could be set up.
    let mut control = base(Category::Redundancy);
    control.faults.clear();
    control.incidents.clear();
    index_of(&control);
    let tests = specs
        .into_iter()
        .map(|(service, category, name, spec)| {
            let setup = spec.and_then(|(method, excused)| {
                let hypothesis = hypothesis(&slos, &excused, scenario);
                let experiment = Experiment {
                    name: format!("score {service} {} {name}", category.name()),
                    description: format!(
                        "reliability score, {} test `{name}` of service `{service}`",
                        category.name()
                    ),
                    scenario: file.to_string(),
                    scenario_faults: ScenarioFaults::Remove,
                    seeds: opts.seeds,
                    seed: Some(base_seed),
                    hypothesis,
                    method,
                    abort: Vec::new(),
                };
                let plan =
                    experiment::prepare(&experiment, &base(category)).map_err(|problems| {
                        let why: Vec<String> = problems
                            .iter()
                            .map(|p| format!("field `{}`: {}", p.path, p.message))
                            .collect();
                        format!("could not be set up on this scenario: {}", why.join("; "))
                    })?;
                Ok(Setup {
                    control: index_of(&plan.control),
                    treatment: index_of(&plan.treatment),
                    experiment,
                    plan,
                })
            });
            Test {
                service,
                category,
                name,
                setup,
            }
        })
        .collect();
    Suite {
        file: file.to_string(),
        scenario: scenario.name.clone(),
        scenario_hash: scenario.hash(),
        seeds: (0..opts.seeds)
            .map(|r| crate::sweep::replicate_seed(base_seed, r))
            .collect(),
        slos,
        tests,
        scenarios,
    }
}

/// The route SLOs as probes: after the fault for every route, during it for the routes
/// it does not touch (`excused`, client indices).
fn hypothesis(slos: &[RouteSlo], excused: &[usize], s: &Scenario) -> Vec<Probe> {
    let mut out = Vec::new();
    for (c, slo) in slos.iter().enumerate() {
        let probe = |window, skip, when: &str| Probe {
            name: format!("{} {when}", s.clients[c].name),
            metric: Metric::Availability,
            of: Some(slo.route.clone()),
            window,
            skip,
            tolerance: Tolerance::AtLeast(slo.availability),
        };
        if !excused.contains(&c) {
            out.push(probe(Window::During, SimDuration::ZERO, "during"));
        }
        out.push(probe(Window::After, RECOVERY, "after"));
    }
    out
}

impl Suite {
    /// Every run the suite needs, in the order [`Suite::judge`] takes their results:
    /// each distinct scenario on each seed.
    pub fn runs(&self) -> Vec<(&Scenario, u64)> {
        self.scenarios
            .iter()
            .flat_map(|s| self.seeds.iter().map(move |&seed| (s, seed)))
            .collect()
    }

    /// Judges every test from the results of [`Suite::runs`] (same order), and scores.
    ///
    /// # Panics
    ///
    /// If `results` does not hold one result per run.
    pub fn judge(&self, results: &[RunResult]) -> (Score, Vec<Option<Outcome>>) {
        let n = self.seeds.len();
        assert_eq!(
            results.len(),
            self.scenarios.len() * n,
            "one result per run"
        );
        let of = |i: usize| &results[i * n..(i + 1) * n];
        let mut tests = Vec::new();
        let mut outcomes = Vec::new();
        for t in &self.tests {
            let (status, reason, method, outcome) = match &t.setup {
                Err(why) => (Status::NotRun, why.clone(), Vec::new(), None),
                Ok(s) => {
                    let (control, treatment) = (of(s.control), of(s.treatment));
                    let o = experiment::evaluate(&s.experiment, &s.plan, control, treatment);
                    let (status, reason) = overflowed(&self.seeds, control, treatment)
                        .filter(|_| o.verdict == Verdict::Undetermined)
                        .map_or_else(
                            || (Status::of(o.verdict), o.reason.clone()),
                            |why| (Status::Failed, why),
                        );
                    (status, reason, o.method.clone(), Some(o))
                }
            };
            tests.push(TestResult {
                service: t.service.clone(),
                category: t.category,
                test: t.name.clone(),
                status,
                points: status.points(),
                method,
                reason,
            });
            outcomes.push(outcome);
        }
        (self.score(tests), outcomes)
    }

    fn score(&self, tests: Vec<TestResult>) -> Score {
        let mut services: Vec<ServiceScore> = Vec::new();
        for t in &tests {
            if !services.iter().any(|s| s.service == t.service) {
                let mine: Vec<(Category, Status)> = tests
                    .iter()
                    .filter(|x| x.service == t.service)
                    .map(|x| (x.category, x.status))
                    .collect();
                let (categories, score) = service_score(&mine);
                services.push(ServiceScore {
                    service: t.service.clone(),
                    categories,
                    score,
                });
            }
        }
        let (categories, overall) = system_score(&services);
        Score {
            file: self.file.clone(),
            scenario: self.scenario.clone(),
            scenario_hash: self.scenario_hash.clone(),
            seeds: self.seeds.clone(),
            slos: self.slos.clone(),
            categories,
            overall,
            services,
            tests,
        }
    }
}

/// Why a test whose verdict is undetermined counts as failed: an experiment run overflowed
/// the in-flight guard (requests piled up without bound) while every control ran to its
/// end. The experiment's verdict is undetermined (its probes would read a cut run), but a
/// collapse that big breaks any SLO: scoring it 0, below a plain failure, would reward
/// the worse design.
fn overflowed(seeds: &[u64], control: &[RunResult], treatment: &[RunResult]) -> Option<String> {
    if !control.iter().all(|r| r.stopped.is_normal()) {
        return None;
    }
    let (seed, r) = seeds
        .iter()
        .zip(treatment)
        .find(|(_, r)| r.stopped.kind == StopKind::InFlightLimit)?;
    Some(format!(
        "the experiment run on seed {seed} collapsed: it stopped at {:.0} s on the in-flight guard ({}) while every control ran to its horizon; counted as failed (the experiment's own verdict is undetermined: its probes would read a cut run)",
        r.simulated_s, r.stopped
    ))
}

/// One test's outcome and its points.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    pub service: String,
    pub category: Category,
    pub test: String,
    pub status: Status,
    pub points: f64,
    /// The faults injected, as run.
    pub method: Vec<String>,
    /// The verdict's reason, or why the test was not run.
    pub reason: String,
}

/// A category's score, or `None` where it does not apply (no test in it).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    pub category: Category,
    pub score: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceScore {
    pub service: String,
    pub categories: Vec<CategoryScore>,
    pub score: f64,
}

/// A scenario's reliability score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub file: String,
    pub scenario: String,
    pub scenario_hash: String,
    pub seeds: Vec<u64>,
    pub slos: Vec<RouteSlo>,
    /// Per category, the mean over the services where it applies.
    pub categories: Vec<CategoryScore>,
    /// The mean of the services' scores.
    pub overall: f64,
    pub services: Vec<ServiceScore>,
    pub tests: Vec<TestResult>,
}

fn mean(xs: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = xs.fold((0.0, 0u32), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}

/// Gremlin's arithmetic for one service: each category the mean of its tests' points,
/// the service the mean of the categories it has tests in (0 with none).
pub fn service_score(tests: &[(Category, Status)]) -> (Vec<CategoryScore>, f64) {
    let categories: Vec<CategoryScore> = Category::ALL
        .iter()
        .map(|&category| CategoryScore {
            category,
            score: mean(
                tests
                    .iter()
                    .filter(|(c, _)| *c == category)
                    .map(|(_, s)| s.points()),
            ),
        })
        .collect();
    let score = mean(categories.iter().filter_map(|c| c.score)).unwrap_or(0.0);
    (categories, score)
}

/// A system's scores: per category the mean over the services where it applies, and
/// overall the mean of the services' scores (0 with no service).
pub fn system_score(services: &[ServiceScore]) -> (Vec<CategoryScore>, f64) {
    let categories = Category::ALL
        .iter()
        .map(|&category| CategoryScore {
            category,
            score: mean(services.iter().filter_map(|s| {
                s.categories
                    .iter()
                    .find(|c| c.category == category)
                    .and_then(|c| c.score)
            })),
        })
        .collect();
    let overall = mean(services.iter().map(|s| s.score)).unwrap_or(0.0);
    (categories, overall)
}

impl Score {
    /// A category's system-wide score.
    pub fn category(&self, c: Category) -> Option<f64> {
        self.categories
            .iter()
            .find(|x| x.category == c)
            .and_then(|x| x.score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::*;
    use Status::*;

    fn of(cats: &[CategoryScore], c: Category) -> Option<f64> {
        cats.iter().find(|x| x.category == c).and_then(|x| x.score)
    }

    #[test]
    fn points_follow_gremlin() {
        assert_eq!(Passed.points(), 100.0);
        assert_eq!(Failed.points(), 50.0);
        assert_eq!(NotRun.points(), 0.0);
        assert_eq!(Undetermined.points(), 0.0);
        assert_eq!(Status::of(Verdict::Held), Passed);
        assert_eq!(Status::of(Verdict::Deviated), Failed);
        assert_eq!(Status::of(Verdict::Aborted), Failed);
        assert_eq!(Status::of(Verdict::Undetermined), Undetermined);
    }

    #[test]
    fn a_worked_example_by_hand() {
        // Gremlin's recommended suite on one service: host passed, zone not run
        // (redundancy (100 + 0) / 2 = 50); CPU passed, memory failed (scalability
        // (100 + 50) / 2 = 75); failure and latency tests on one dependency, both failed,
        // and certificate expiry passed (dependencies (50 + 50 + 100) / 3 = 66.67).
        // Service: (50 + 75 + 66.67) / 3 = 63.89.
        let tests = [
            (Redundancy, Passed),
            (Redundancy, NotRun),
            (Scalability, Passed),
            (Scalability, Failed),
            (Dependencies, Failed),
            (Dependencies, Failed),
            (Dependencies, Passed),
        ];
        let (cats, score) = service_score(&tests);
        assert_eq!(of(&cats, Redundancy), Some(50.0));
        assert_eq!(of(&cats, Scalability), Some(75.0));
        assert!((of(&cats, Dependencies).unwrap() - 200.0 / 3.0).abs() < 1e-9);
        assert!((score - (50.0 + 75.0 + 200.0 / 3.0) / 3.0).abs() < 1e-9);
        assert!((score - 63.888_888).abs() < 1e-4);
    }

    #[test]
    fn a_category_without_tests_has_no_impact() {
        // A service with no dependency: two categories, not three with a zero.
        let (cats, score) = service_score(&[(Redundancy, Failed), (Scalability, Passed)]);
        assert_eq!(of(&cats, Dependencies), None);
        assert_eq!(score, 75.0);
        // Every test unrun: 0, as a new service in Gremlin.
        assert_eq!(service_score(&[(Redundancy, NotRun)]).1, 0.0);
        assert_eq!(service_score(&[]).1, 0.0);
    }

    #[test]
    fn a_system_averages_its_services() {
        let a = ServiceScore {
            service: "a".into(),
            categories: service_score(&[(Redundancy, Passed), (Dependencies, Failed)]).0,
            score: 75.0,
        };
        let b = ServiceScore {
            service: "b".into(),
            categories: service_score(&[(Redundancy, Failed)]).0,
            score: 50.0,
        };
        let (cats, overall) = system_score(&[a, b]);
        assert_eq!(of(&cats, Redundancy), Some(75.0));
        // Only `a` has dependencies.
        assert_eq!(of(&cats, Dependencies), Some(50.0));
        assert_eq!(of(&cats, Scalability), None);
        assert_eq!(overall, 62.5);
    }

    const SCENARIO: &str = r#"Scenario(
    name: "s", seed: 7, horizon: "10m", warmup: "10s",
    clients: [
        Client(name: "c", target: "api", load: Open(rate_rps: 100.0)),
        Client(name: "d", target: "api", endpoint: "other", load: Open(rate_rps: 50.0)),
    ],
    services: [
        Service(name: "api", workers: 4, replicas: 2, zones: ["a", "b"], service_time: Constant("1ms"),
            calls: [Call(to: "db")], endpoints: [(name: "other", service_time: Constant("1ms"))]),
        Service(name: "db", workers: 4, service_time: Constant("1ms")),
    ],
    slo: (availability: 0.99),
    faults: [Fault(start: "5s", end: "6s", kind: Pause(service: "api"))],
)"#;

    fn the_suite() -> Suite {
        let s = crate::load("s.ron", SCENARIO).expect("valid").scenario;
        suite(
            "s.ron",
            &s,
            &Options {
                seeds: 2,
                ..Options::default()
            },
        )
    }

    #[test]
    fn the_suite_has_the_standard_tests_per_service() {
        let s = the_suite();
        let names: Vec<String> = s
            .tests
            .iter()
            .map(|t| format!("{} {} {}", t.service, t.category.name(), t.name))
            .collect();
        assert_eq!(
            names,
            [
                "api redundancy host",
                "api redundancy zone a",
                "api scalability 2x load",
                "api dependencies db down",
                "api dependencies db slow",
                "db redundancy host",
                "db redundancy zone",
                "db scalability 2x load",
            ]
        );
        // db has no zones: not run, and says why.
        let zone = s.tests[6].setup.as_ref().unwrap_err();
        assert!(zone.contains("no zones"), "{zone}");
        // One instance of a replicated service; the whole of a single one.
        let host = |i: usize| s.tests[i].setup.as_ref().unwrap().plan.method.clone();
        assert!(host(0)[0].contains("on api#0"), "{:?}", host(0));
        assert!(host(5)[0].contains("on db "), "{:?}", host(5));
        // The zone test hits api's instances in zone a (#0).
        assert!(host(1)[0].contains("api#0"), "{:?}", host(1));
        // Only route `c` reaches db: db's load step spikes c alone.
        assert_eq!(host(7).len(), 1);
        assert!(host(7)[0].contains("on c "), "{:?}", host(7));
        assert_eq!(host(2).len(), 2);
        // The horizon covers settle, fault and after; scenario faults are gone.
        let plan = &s.tests[0].setup.as_ref().unwrap().plan;
        assert_eq!(plan.method_s, (40.0, 340.0));
        assert_eq!(s.scenarios[0].horizon, SimDuration::from_secs(430));
        // The load step lasts 15 minutes.
        let plan = &s.tests[2].setup.as_ref().unwrap().plan;
        assert_eq!(plan.method_s, (40.0, 940.0));
        assert!(s.scenarios[0].faults.is_empty());
        // The scenario's SLO for both routes.
        assert!(
            s.slos
                .iter()
                .all(|r| r.availability == 0.99 && r.from == "scenario")
        );
    }

    #[test]
    fn a_dependency_test_excuses_the_routes_it_touches_during_the_fault() {
        let s = the_suite();
        let probes = |i: usize| -> Vec<String> {
            let e = &s.tests[i].setup.as_ref().unwrap().experiment;
            e.hypothesis.iter().map(|p| p.name.clone()).collect()
        };
        // db down (api <-> db): route c goes through both, d does not.
        assert_eq!(probes(3), ["c after", "d during", "d after"]);
        // Redundancy excuses nobody.
        assert_eq!(probes(0), ["c during", "c after", "d during", "d after"]);
    }

    #[test]
    fn runs_are_shared_and_one_control_serves_every_test() {
        let s = the_suite();
        // Two controls (the load steps run longer) + 7 tests that run; api's host and zone
        // tests both crash api#0 (zone a holds it alone), so they share their runs.
        assert_eq!(s.scenarios.len(), 8);
        assert_eq!(s.runs().len(), 16);
        let controls: Vec<usize> = s
            .tests
            .iter()
            .filter_map(|t| t.setup.as_ref().ok())
            .map(|x| x.control)
            .collect();
        assert!(controls.iter().all(|&c| c == 0 || c == 2), "{controls:?}");
    }
}
