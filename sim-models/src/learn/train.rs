//! Training: episodes in batches, epsilon-greedy choices from a stream per episode, and the
//! batch's returns credited in episode order once the whole batch is in.
//!
//! An episode is one simulated run; what runs it (the world with an `Explorer` (`decider.rs`),
//! or a synthetic bandit in the tests) is the caller's, given as a function of the table
//! before the batch and the batch's episodes. The result depends only on (training seed,
//! episodes): the batch size is fixed here, never taken from the thread count.

use rand::RngExt;
use sim_core::rng::{SimRng, derive_seed, fnv1a64, stream};

use super::table::QTable;
use super::{Arm, State};

/// Episodes per batch: each sees the table as it was before its batch.
pub const BATCH: u64 = 16;

/// Exploration: epsilon falls linearly from `EPSILON_START` at the first episode to
/// `EPSILON_END` at `EPSILON_DECAY` of the episodes, then stays there.
pub const EPSILON_START: f64 = 1.0;
pub const EPSILON_END: f64 = 0.05;
pub const EPSILON_DECAY: f64 = 0.7;

/// One episode: its index, the seed of its run, and its exploration rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Episode {
    pub index: u64,
    pub run_seed: u64,
    pub epsilon: f64,
}

impl Episode {
    pub fn new(training_seed: u64, index: u64, episodes: u64) -> Episode {
        let decay = (episodes as f64 * EPSILON_DECAY).max(1.0);
        let share = (index as f64 / decay).min(1.0);
        Episode {
            index,
            run_seed: run_seed(training_seed, index),
            epsilon: EPSILON_START + (EPSILON_END - EPSILON_START) * share,
        }
    }
}

/// The seed of episode `index`'s run. Evaluation must use other seeds (held out):
/// [`training_seeds`] lists them. Drawn under a base of its own, so that training and an
/// evaluation (`remediate`'s replicate seeds) from the same seed do not share runs.
pub fn run_seed(training_seed: u64, index: u64) -> u64 {
    derive_seed(training_seed ^ fnv1a64(b"learn/train"), index)
}

/// Every run seed a training used, sorted.
pub fn training_seeds(training_seed: u64, episodes: u64) -> Vec<u64> {
    let mut seeds: Vec<u64> = (0..episodes).map(|i| run_seed(training_seed, i)).collect();
    seeds.sort_unstable();
    seeds
}

/// Epsilon-greedy choices of one episode, from its own stream.
pub struct Chooser {
    rng: SimRng,
    epsilon: f64,
}

impl Chooser {
    pub fn new(training_seed: u64, episode: &Episode) -> Chooser {
        Chooser {
            rng: stream(training_seed, &format!("learn/episode/{}", episode.index)),
            epsilon: episode.epsilon,
        }
    }

    /// With probability epsilon an arm of `menu` at random; otherwise an arm never tried in
    /// `state` if there is one (so each is tried once), else the safe choice (the one the
    /// trained policy will make, `safe.rs`), so that the returns credited to earlier
    /// decisions are those of the policy that will be used. Always two draws, so the
    /// stream's position depends only on how many choices were made.
    pub fn choose(&mut self, table: &QTable, state: &State, menu: &[Arm]) -> Arm {
        assert!(!menu.is_empty(), "a menu offers at least one arm");
        let u: f64 = self.rng.random();
        let k = self.rng.random_range(0..menu.len());
        if u < self.epsilon {
            return menu[k];
        }
        table
            .untried(state, menu)
            .unwrap_or_else(|| super::safe::safe_arm(table, state, menu))
    }
}

/// One incident's decisions, in order, and its return.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentTrace {
    pub steps: Vec<(State, Arm)>,
    pub ret: f64,
}

/// What an episode gives back.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeResult {
    pub index: u64,
    pub incidents: Vec<IncidentTrace>,
}

/// Training in progress.
pub struct Trainer {
    seed: u64,
    episodes: u64,
    done: u64,
    table: QTable,
}

impl Trainer {
    pub fn new(training_seed: u64, episodes: u64) -> Trainer {
        Trainer {
            seed: training_seed,
            episodes,
            done: 0,
            table: QTable::new(),
        }
    }

    pub fn finished(&self) -> bool {
        self.done >= self.episodes
    }

    pub fn table(&self) -> &QTable {
        &self.table
    }

    pub fn into_table(self) -> QTable {
        self.table
    }

    /// The next batch's episodes (empty when finished).
    pub fn next_batch(&self) -> Vec<Episode> {
        let end = (self.done + BATCH).min(self.episodes);
        (self.done..end)
            .map(|i| Episode::new(self.seed, i, self.episodes))
            .collect()
    }

    /// Credits a batch's results, in episode order whatever order they come in; then every
    /// decision of each incident with the incident's return.
    pub fn apply(&mut self, mut results: Vec<EpisodeResult>) {
        results.sort_by_key(|r| r.index);
        let expected: Vec<u64> = self.next_batch().iter().map(|e| e.index).collect();
        let got: Vec<u64> = results.iter().map(|r| r.index).collect();
        assert_eq!(got, expected, "a batch's results are its episodes'");
        for r in &results {
            for inc in &r.incidents {
                for &(state, arm) in &inc.steps {
                    self.table.credit(state, arm, inc.ret);
                }
            }
        }
        self.done += results.len() as u64;
    }
}

/// Trains for `episodes` episodes: `run_batch` runs a batch's episodes (in any order, on any
/// number of threads) against the table as it is before the batch.
pub fn train(
    training_seed: u64,
    episodes: u64,
    mut run_batch: impl FnMut(&QTable, &[Episode]) -> Vec<EpisodeResult>,
) -> QTable {
    let mut trainer = Trainer::new(training_seed, episodes);
    while !trainer.finished() {
        let batch = trainer.next_batch();
        let results = run_batch(trainer.table(), &batch);
        trainer.apply(results);
    }
    trainer.into_table()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::Severity;
    use crate::learn::safe::safe_arm;
    use crate::remediation::class::IncidentClass;

    /// A synthetic contextual bandit: two states, five arms, each arm's return a fixed mean
    /// plus noise from the run seed (as a simulated run's outcome depends on its seed). The
    /// best arm differs by state, and beats the planner's.
    const MENU: [Arm; 5] = [
        Arm::Planner,
        Arm::Wait,
        Arm::Restart,
        Arm::ScaleOut,
        Arm::Escalate,
    ];
    fn states() -> [State; 2] {
        [
            State::new(Some(IncidentClass::Overload), Severity::High, 0),
            State::new(Some(IncidentClass::InstanceFailure), Severity::Medium, 0),
        ]
    }
    fn mean(state: usize, arm: Arm) -> f64 {
        match (state, arm) {
            (0, Arm::ScaleOut) => -2.0,
            (1, Arm::Restart) => -1.5,
            (_, Arm::Planner) => -3.5,
            (_, Arm::Escalate) => -4.0,
            _ => -6.0,
        }
    }

    fn bandit_episode(seed: u64, table: &QTable, e: &Episode) -> EpisodeResult {
        let mut chooser = Chooser::new(seed, e);
        let mut noise = stream(e.run_seed, "bandit/noise");
        let incidents = (0..2)
            .map(|k| {
                let which = (e.index as usize + k) % 2;
                let state = states()[which];
                let arm = chooser.choose(table, &state, &MENU);
                let ret = mean(which, arm) + noise.random_range(-3.0..3.0);
                IncidentTrace {
                    steps: vec![(state, arm)],
                    ret,
                }
            })
            .collect();
        EpisodeResult {
            index: e.index,
            incidents,
        }
    }

    fn serial(seed: u64) -> impl FnMut(&QTable, &[Episode]) -> Vec<EpisodeResult> {
        move |t, batch| batch.iter().map(|e| bandit_episode(seed, t, e)).collect()
    }

    /// Two threads, each taking every other episode, results in the order they finish.
    fn threaded(seed: u64) -> impl FnMut(&QTable, &[Episode]) -> Vec<EpisodeResult> {
        move |t, batch| {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..2)
                    .map(|w| {
                        scope.spawn(move || {
                            batch
                                .iter()
                                .skip(w)
                                .step_by(2)
                                .map(|e| bandit_episode(seed, t, e))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                let mut all: Vec<EpisodeResult> = handles
                    .into_iter()
                    .rev()
                    .flat_map(|h| h.join().unwrap())
                    .collect();
                all.reverse();
                all
            })
        }
    }

    #[test]
    fn the_learner_finds_the_best_arm_of_each_state() {
        let table = train(7, 400, serial(7));
        let [a, b] = states();
        assert_eq!(safe_arm(&table, &a, &MENU), Arm::ScaleOut);
        assert_eq!(safe_arm(&table, &b, &MENU), Arm::Restart);
        // Exploitation dominates once epsilon has decayed: the best arm is the most tried.
        let visits = |s: &State, arm| table.cell(s, arm).map_or(0, |c| c.visits);
        for arm in [Arm::Planner, Arm::Wait, Arm::Restart, Arm::Escalate] {
            assert!(visits(&a, Arm::ScaleOut) > visits(&a, arm));
        }
    }

    #[test]
    fn the_learner_keeps_the_planner_where_nothing_beats_it() {
        // The same bandit, with the planner's arm the best by a hair in state 0 and
        // another arm better by a hair in state 1: neither is a confident improvement.
        let close = |seed: u64| {
            move |t: &QTable, batch: &[Episode]| -> Vec<EpisodeResult> {
                batch
                    .iter()
                    .map(|e| {
                        let mut r = bandit_episode(seed, t, e);
                        for inc in &mut r.incidents {
                            let (state, arm) = inc.steps[0];
                            let which = usize::from(state != states()[0]);
                            let new_mean = match (which, arm) {
                                (_, Arm::Planner) => -3.0,
                                (1, Arm::Restart) => -2.9,
                                _ => -6.0,
                            };
                            inc.ret += new_mean - mean(which, arm);
                        }
                        r
                    })
                    .collect()
            }
        };
        let table = train(9, 400, close(9));
        for s in states() {
            assert_eq!(safe_arm(&table, &s, &MENU), Arm::Planner);
        }
    }

    #[test]
    fn training_is_the_same_on_any_number_of_threads() {
        let one = train(11, 100, serial(11));
        let two = train(11, 100, threaded(11));
        assert_eq!(one, two);
        let other_seed = train(12, 100, serial(12));
        assert_ne!(one, other_seed, "the training seed matters");
    }

    #[test]
    fn epsilon_decays_to_its_floor() {
        assert_eq!(Episode::new(1, 0, 100).epsilon, EPSILON_START);
        assert!((Episode::new(1, 70, 100).epsilon - EPSILON_END).abs() < 1e-12);
        assert!((Episode::new(1, 99, 100).epsilon - EPSILON_END).abs() < 1e-12);
        let mid = Episode::new(1, 35, 100).epsilon;
        assert!(mid < EPSILON_START && mid > EPSILON_END);
    }

    #[test]
    fn training_seeds_are_the_episodes_run_seeds() {
        let seeds = training_seeds(3, 50);
        assert_eq!(seeds.len(), 50);
        for i in 0..50 {
            assert!(
                seeds
                    .binary_search(&Episode::new(3, i, 50).run_seed)
                    .is_ok()
            );
        }
    }

    #[test]
    #[should_panic(expected = "a batch's results are its episodes'")]
    fn a_short_batch_is_refused() {
        let mut t = Trainer::new(1, 40);
        t.apply(vec![EpisodeResult {
            index: 0,
            incidents: vec![],
        }]);
    }
}
