//! The schema of a config service (`configs: [Config(..)]`): which services read a
//! config, how new versions reach their instances, the pushes of new versions (good or
//! bad) and the rollout strategy. The model and the real systems it follows are described
//! in `world/config.rs`.

use serde::{Deserialize, Serialize};
use sim_core::SimDuration;

/// A config that the instances of `services` read from a central config service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Names the config in the output and in `Rollback(config: ..)` actions.
    pub name: String,
    /// The services whose instances read it (each instance holds one version).
    pub services: Vec<String>,
    /// How a new version reaches an instance.
    pub delivery: Delivery,
    /// New versions, in time order: push k (from 0) makes version k + 1 (version 0 is
    /// what every instance starts with).
    pub pushes: Vec<ConfigPush>,
    /// How each push is rolled out over the instances. Always serialised, so that `--set
    /// configs.NAME.strategy=..` finds it.
    #[serde(default)]
    pub strategy: Strategy,
}

/// How an instance gets the version meant for it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Delivery {
    /// Each instance fetches every `every`, at a phase of its own (uniform over one
    /// interval, drawn from the config's stream `config/NAME/phase`), and takes the
    /// version meant for it then.
    Poll { every: SimDuration },
    /// The config service pushes each change to the instances it is meant for; it
    /// arrives `delay` later (Facebook's Configerator through Zeus, etcd/ZooKeeper watches).
    Push {
        #[serde(default)]
        delay: SimDuration,
    },
}

/// One new version, pushed at `at`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPush {
    pub at: SimDuration,
    /// What the version does to an instance that holds it; `Good` if omitted.
    #[serde(default)]
    pub effect: ConfigEffect,
}

/// What holding a version does to an instance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum ConfigEffect {
    /// Nothing: a good config.
    #[default]
    Good,
    /// Config poisoning: each attempt the instance finishes fails with probability `p`
    /// (an error answer, counted as `failed_by_config` of the config).
    Errors { p: f64 },
    /// The instance crashes and stays down while it holds the version (a crash loop: it
    /// refuses connections, and reads its config again on each restart).
    Crash,
}

impl ConfigEffect {
    pub fn is_bad(self) -> bool {
        !matches!(self, ConfigEffect::Good)
    }
}

/// How a push is rolled out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Strategy {
    /// Every instance is meant to take the new version at once.
    #[default]
    AllAtOnce,
    /// First a `canary` share of each service's instances (rounded up), then `waves`
    /// equal steps up to every instance, each `bake` after the previous step. A rollback
    /// halts the steps still to come (Argo Rollouts' canary steps with an analysis that
    /// aborts).
    Staged {
        canary: f64,
        waves: u32,
        bake: SimDuration,
    },
}

impl Strategy {
    /// The share of each service's instances meant to hold the new version at each step.
    pub fn steps(self) -> Vec<f64> {
        match self {
            Strategy::AllAtOnce => vec![1.0],
            Strategy::Staged { canary, waves, .. } => std::iter::once(canary)
                .chain(
                    (1..=waves).map(|k| canary + (1.0 - canary) * f64::from(k) / f64::from(waves)),
                )
                .collect(),
        }
    }

    /// The time between two steps.
    pub fn bake(self) -> SimDuration {
        match self {
            Strategy::AllAtOnce => SimDuration::ZERO,
            Strategy::Staged { bake, .. } => bake,
        }
    }
}

/// Instances of a service of `n` meant to hold the new version at step share `share`:
/// rounded up (as Kubernetes rounds a percentage `maxSurge`), at least one. The 1e-9 keeps
/// a share like 0.1 + 0.9 / 3 from rounding 4.000000000000001 instances up to 5.
pub fn step_count(share: f64, n: u32) -> u32 {
    ((share * f64::from(n) - 1e-9).ceil() as u32).clamp(1, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_steps_go_from_the_canary_to_every_instance() {
        let s = Strategy::Staged {
            canary: 0.1,
            waves: 3,
            bake: SimDuration::from_secs(60),
        };
        let counts: Vec<u32> = s.steps().iter().map(|&x| step_count(x, 10)).collect();
        assert_eq!(counts, [1, 4, 7, 10]);
        assert_eq!(Strategy::AllAtOnce.steps(), [1.0]);
        assert_eq!(s.bake(), SimDuration::from_secs(60));
    }

    #[test]
    fn step_counts_round_up_and_take_at_least_one() {
        assert_eq!(step_count(0.1, 4), 1); // 0.4 rounds up
        assert_eq!(step_count(0.01, 10), 1); // never an empty canary
        assert_eq!(step_count(0.5, 3), 2);
        assert_eq!(step_count(1.0, 7), 7);
        // 0.1 + 0.9 / 3 is 0.4000000000000001: still 4 of 10.
        assert_eq!(step_count(0.1 + 0.9 / 3.0, 10), 4);
    }
}
