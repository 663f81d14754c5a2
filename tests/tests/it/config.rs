//! Config rollouts (`world/config.rs`): a poisoned push all at once hits every instance; a
//! staged push with a rollback rule hits at most the canary share, and the time to roll
//! back follows from the poll interval, the rule's `for` and `after`; mistakes in `configs`
//! get positioned errors.

use sim_models::RunResult;
use sim_models::result::ConfigResult;

use crate::support::load;

fn bundled() -> sim_models::Scenario {
    let text = std::fs::read_to_string(crate::support::scenario_path("config.ron")).unwrap();
    load("config.ron", &text)
}

/// The bundled file with the staged strategy, set as README and the file's header do.
fn staged(bake: &str) -> sim_models::Scenario {
    let value = format!(r#"Staged(canary: 0.1, waves: 3, bake: "{bake}")"#);
    let s = sim_models::sweep::Overrides::new(&bundled())
        .apply(&[("configs.flags.strategy", &value)])
        .unwrap();
    assert_eq!(
        s.configs[0].strategy,
        sim_models::scenario::Strategy::Staged {
            canary: 0.1,
            waves: 3,
            bake: bake.parse().unwrap(),
        }
    );
    s
}

fn config(r: &RunResult) -> &ConfigResult {
    &r.configs[0]
}

/// Attempts each api instance failed (errors), in instance order.
fn errors_per_instance(r: &RunResult) -> Vec<u64> {
    r.services.iter().map(|s| s.errors).collect()
}

/// All at once: every instance takes the bad version before the rule can act, so every
/// instance fails attempts; the failures are about 10 instances x 40-50 s x 100 rps x 0.5.
#[test]
fn all_at_once_poisoning_hits_every_instance() {
    let s = bundled();
    for seed in [11, 12, 13] {
        let r = sim_models::run(&s, seed, "config.ron");
        let c = config(&r);
        let push = &c.pushes[0];
        assert_eq!((push.max_instances, c.instances), (10, 10), "seed {seed}");
        assert_eq!(c.blast_radius, 1.0);
        let errors = errors_per_instance(&r);
        assert!(errors.iter().all(|&e| e > 1000), "seed {seed}: {errors:?}");
        // Each instance holds it 40 s (50 s with a phase under 1 s): 20,000 to 25,000
        // expected, give or take 3 standard deviations of the binomial (~150).
        assert!(
            (19_500..=25_500).contains(&c.failed_by_config),
            "seed {seed}: {}",
            c.failed_by_config
        );
        // Nothing else fails here: the client's errors are the config's.
        assert_eq!(r.totals.failed.error, c.failed_by_config, "seed {seed}");
        assert!(push.time_to_rollback_s.is_some());
    }
}

/// Staged with the rollback rule: only the canary (ceil(0.1 x 10) = 1 instance) ever holds
/// the bad version, later waves never begin, and the time to roll back lies between
/// `for` + `after` (40 s) and that plus one poll interval and one window (51 s); the last
/// instance is off it within one poll of the rollback.
#[test]
fn staged_with_rollback_hits_at_most_the_canary_share() {
    let s = staged("2m");
    for seed in [11, 12, 13, 14, 15] {
        let r = sim_models::run(&s, seed, "config.ron");
        let c = config(&r);
        let push = &c.pushes[0];
        assert_eq!(push.max_instances, 1, "seed {seed}");
        assert!(c.blast_radius <= 0.1, "seed {seed}: {}", c.blast_radius);
        assert_eq!(
            push.steps_s,
            vec![120.0],
            "seed {seed}: later waves must halt"
        );
        let errors = errors_per_instance(&r);
        assert!(errors[0] > 1000, "seed {seed}: {errors:?}");
        assert!(
            errors[1..].iter().all(|&e| e == 0),
            "seed {seed}: {errors:?}"
        );
        let to_rollback = push.time_to_rollback_s.expect("rolled back");
        assert!(
            (40.0..=51.0).contains(&to_rollback),
            "seed {seed}: {to_rollback}"
        );
        let decided = push.rollback_decided_s.unwrap();
        assert_eq!(
            push.rollback_s.unwrap() - decided,
            10.0,
            "the rule's `after`"
        );
        let to_clean = push.time_to_clean_s.expect("cleaned");
        assert!(
            (0.0..=10.0).contains(&(to_clean - to_rollback)),
            "seed {seed}: clean {to_clean} vs rollback {to_rollback}"
        );
        // The canary's failures: 100 rps x 0.5 over 40-50 s.
        assert!(
            (1_800..=2_700).contains(&c.failed_by_config),
            "seed {seed}: {}",
            c.failed_by_config
        );
        // The series agrees: at most one instance on version 1 at any window end.
        assert!(c.series.instances_on[1].iter().all(|&n| n <= 1));
    }
}

/// A bake time shorter than the detection lets waves out before the rollback: more than
/// the canary is hit (what the header of scenarios/config.ron shows).
#[test]
fn a_bake_shorter_than_detection_lets_waves_out() {
    let r = sim_models::run(&staged("20s"), 11, "config.ron");
    let push = &config(&r).pushes[0];
    assert!(push.steps_s.len() >= 3, "{:?}", push.steps_s);
    assert!(push.max_instances > 1, "{}", push.max_instances);
}

/// With pushes instead of polls, every instance leaves the bad version exactly the push
/// delay after the rollback.
#[test]
fn pushed_rollbacks_arrive_after_the_push_delay() {
    let mut s = bundled();
    s.configs[0].delivery = sim_models::scenario::Delivery::Push {
        delay: "1s".parse().unwrap(),
    };
    let r = sim_models::run(&s, 11, "config.ron");
    let push = &config(&r).pushes[0];
    assert_eq!(push.max_instances, 10);
    let (back, clean) = (push.rollback_s.unwrap(), push.last_off_s.unwrap());
    assert!((clean - back - 1.0).abs() < 1e-9, "{back} {clean}");
}

/// A config that crashes its instances: they refuse connections while they hold it, and
/// those refusals are counted as the config's.
#[test]
fn a_crashing_config_is_counted_as_the_configs() {
    let mut s = bundled();
    s.configs[0].pushes[0].effect = sim_models::scenario::ConfigEffect::Crash;
    let r = sim_models::run(&s, 11, "config.ron");
    let c = config(&r);
    let refused: u64 = r.services.iter().map(|x| x.refused).sum();
    assert!(refused > 30_000, "{refused}");
    // Refusals after warm-up are the services' count; the config counts the whole run and
    // none of its refusals fall in the warm-up. Attempts queued at the crash instant are
    // lost, not refused, and not counted.
    assert_eq!(c.failed_by_config, refused);
    assert!(r.totals.failed.error >= c.failed_by_config);
}

/// A good config changes no other component's draws: every client and service number is
/// the one of the same scenario without configs.
#[test]
fn a_good_config_leaves_every_other_draw_alone() {
    let mut with = bundled();
    with.configs[0].pushes[0].effect = sim_models::scenario::ConfigEffect::Good;
    let mut without = with.clone();
    without.configs.clear();
    without.rules.clear();
    let a = sim_models::run(&with, 11, "config.ron");
    let b = sim_models::run(&without, 11, "config.ron");
    assert_eq!(a.clients, b.clients);
    assert_eq!(a.services, b.services);
    assert_eq!(config(&a).pushes[0].max_instances, 10);
    assert_eq!(config(&a).failed_by_config, 0);
    assert!(b.configs.is_empty());
    assert!(!reports_json(&b).contains("\"configs\""));
}

fn reports_json(r: &RunResult) -> String {
    serde_json::to_string(r).unwrap()
}

/// Same seed, same bytes, rollouts included.
#[test]
fn config_runs_are_deterministic() {
    let s = staged("2m");
    let a = reports_json(&sim_models::run(&s, 3, "config.ron"));
    let b = reports_json(&sim_models::run(&s, 3, "config.ron"));
    assert_eq!(a, b);
}

fn bad(config: &str, rest: &str) -> String {
    format!(
        r#"Scenario(
    name: "x", seed: 1, horizon: "10m",
    clients: [Client(name: "web", target: "api", load: Open(rate_rps: 10.0))],
    services: [Service(name: "api", replicas: 4, workers: 1, service_time: Constant("1ms"))],
    configs: [{config}],
    {rest}
)"#
    )
}

/// Every mistake in `configs` is an error at its field with file:line:col.
#[test]
fn config_mistakes_get_a_positioned_error() {
    let cfg = |fields: &str| {
        format!(
            r#"Config(name: "flags", services: ["api"], delivery: Poll(every: "10s"), {fields})"#
        )
    };
    let push = r#"pushes: [ConfigPush(at: "1m", effect: Errors(p: 0.5))]"#;
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "canary above 1",
            bad(
                &cfg(&format!(
                    r#"{push}, strategy: Staged(canary: 1.5, waves: 2, bake: "1m")"#
                )),
                "",
            ),
            "configs[0].strategy.canary",
            "a share above 1",
        ),
        (
            "canary 0",
            bad(
                &cfg(&format!(
                    r#"{push}, strategy: Staged(canary: 0.0, waves: 2, bake: "1m")"#
                )),
                "",
            ),
            "configs[0].strategy.canary",
            "above 0",
        ),
        (
            "no waves",
            bad(
                &cfg(&format!(
                    r#"{push}, strategy: Staged(canary: 0.1, waves: 0, bake: "1m")"#
                )),
                "",
            ),
            "configs[0].strategy.waves",
            "at least 1",
        ),
        (
            "error probability above 1",
            bad(
                &cfg(r#"pushes: [ConfigPush(at: "1m", effect: Errors(p: 2.0))]"#),
                "",
            ),
            "configs[0].pushes[0].effect.p",
            "probability",
        ),
        (
            "poll every 0s",
            bad(
                &format!(
                    r#"Config(name: "flags", services: ["api"], delivery: Poll(every: "0s"), {push})"#
                ),
                "",
            ),
            "configs[0].delivery.every",
            "longer than 0s",
        ),
        (
            "unknown service",
            bad(
                &format!(
                    r#"Config(name: "flags", services: ["apii"], delivery: Poll(every: "10s"), {push})"#
                ),
                "",
            ),
            "configs[0].services[0]",
            "did you mean `api`",
        ),
        (
            "push after the horizon",
            bad(
                &cfg(r#"pushes: [ConfigPush(at: "20m", effect: Crash)]"#),
                "",
            ),
            "configs[0].pushes[0].at",
            "horizon",
        ),
        (
            "pushes out of order",
            bad(
                &cfg(r#"pushes: [ConfigPush(at: "2m"), ConfigPush(at: "1m")]"#),
                "",
            ),
            "configs[0].pushes[1].at",
            "time order",
        ),
        (
            "a service reads two configs",
            bad(
                &format!(
                    r#"{}, Config(name: "other", services: ["api"], delivery: Push(), pushes: [])"#,
                    cfg(push)
                ),
                "",
            ),
            "configs[1].services[0]",
            "at most one config",
        ),
        (
            "rollback of an unknown config",
            bad(
                &cfg(push),
                r#"rules: [Rule(name: "r", when: At("1m"), do: Rollback(config: "flag"))],"#,
            ),
            "rules[0].do.config",
            "did you mean `flags`",
        ),
    ];
    for (case, text, field, words) in cases {
        let err = match sim_models::load("bad.ron", &text) {
            Ok(_) => panic!("case `{case}` loaded but should not"),
            Err(d) => d,
        };
        let d = err
            .items
            .iter()
            .find(|d| d.field == field)
            .unwrap_or_else(|| panic!("{case}: no error at {field}: {err}"));
        assert!(d.message.contains(words), "{case}: {}", d.message);
        assert!(d.at.line >= 1 && d.at.col >= 1, "{case}");
        for line in err.to_string().lines() {
            assert!(line.starts_with("bad.ron:"), "{case}: {line}");
        }
    }
    // One position checked by hand: the canary's value (1.5) on line 5.
    let text = bad(
        &cfg(&format!(
            r#"{push}, strategy: Staged(canary: 1.5, waves: 2, bake: "1m")"#
        )),
        "",
    );
    let err = sim_models::load("bad.ron", &text).unwrap_err();
    let d = &err.items[0];
    let line = text.lines().nth(d.at.line as usize - 1).unwrap();
    assert_eq!(d.at.line, 5);
    assert!(
        line[d.at.col as usize - 1..].starts_with("1.5"),
        "{line} @ {}",
        d.at.col
    );
}

/// A bake no longer than the poll interval is allowed, with a warning.
#[test]
fn a_bake_within_one_poll_is_warned_about() {
    let text = bad(
        r#"Config(name: "flags", services: ["api"], delivery: Poll(every: "10s"), pushes: [ConfigPush(at: "1m", effect: Errors(p: 0.5))], strategy: Staged(canary: 0.25, waves: 1, bake: "5s"))"#,
        "",
    );
    let v = sim_models::load("x.ron", &text).expect("valid");
    let fields: Vec<&str> = v.warnings.iter().map(|w| w.field.as_str()).collect();
    assert_eq!(fields, ["configs[0].strategy.bake"]);
}

/// The rollback can hang on an SLO's burn-rate alert instead of a threshold: the canary's
/// 5% errors burn a 99.9% objective 50 times too fast, so `page-fast` fires, the config
/// rolls back, and only the canary was hit.
#[test]
fn a_burn_rate_alert_can_roll_back_the_canary() {
    let mut s = staged("2m");
    s.slo = Some(sim_models::slo::SloSpec::new(0.999));
    s.rules[0].when = sim_models::rules::Condition::AlertFiring {
        slo: None,
        alert: "page-fast".into(),
    };
    let r = sim_models::run(&s, 11, "config.ron");
    let push = &config(&r).pushes[0];
    assert_eq!(push.max_instances, 1);
    assert_eq!(push.steps_s.len(), 1, "{:?}", push.steps_s);
    let decided = push.rollback_decided_s.expect("the alert rolled it back");
    assert!(decided > 120.0 && decided < 240.0, "{decided}");
}
