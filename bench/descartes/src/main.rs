//! simctl vs DesCartes on one retry model (see retry.ron for the model and why `collapsed`
//! collapses), at several horizons, healthy and collapsed.
//!
//!     cargo run --release -- [--horizons 100,1000,10000,100000] [--repeats 5]
//!
//! Each measurement is a fresh child process (`--one TOOL MODE HORIZON`), so peak memory is
//! that run's own; the two tools alternate (interleaved) and each cell is the median wall
//! time of `--repeats` runs. Prints a markdown table. Both tools run the same model; simctl
//! also keeps per-second series, latency histograms and its recovery verdict (its normal
//! output), DesCartes only counters.

use std::collections::{HashMap, VecDeque};
use std::process::Command;
use std::time::{Duration, Instant};

use descartes_core::dists::{
    ArrivalPattern, ExponentialDistribution, PoissonArrivals, ServiceTimeDistribution,
};
use descartes_core::{Component, Executor, Key, Scheduler, SimTime, Simulation, SimulationConfig};

/// Arrivals per second: healthy, collapsed (before and after its spike), during the spike.
const HEALTHY_RATE: f64 = 2.0;
const RATE: f64 = 5.0;
const SPIKE_RATE: f64 = 30.0;
const SPIKE: (u64, u64) = (10, 15);
const SERVICE_RATE: f64 = 10.0;
const TIMEOUT: Duration = Duration::from_secs(1);
const ATTEMPTS: u8 = 4;

/// What one run did, to check that both tools ran the same system.
#[derive(Debug, Default)]
struct Outcome {
    requests: u64,
    succeeded: u64,
}

struct Attempt {
    attempt: u8,
    timed_out: bool,
}

#[derive(Debug)]
enum Event {
    Arrival,
    Timeout { id: u64 },
    Done { id: u64 },
}

struct RetryModel {
    collapsed: bool,
    base: PoissonArrivals,
    spike: PoissonArrivals,
    service: ExponentialDistribution,
    queue: VecDeque<u64>,
    busy: bool,
    next_id: u64,
    attempts: HashMap<u64, Attempt>,
    outcome: Outcome,
}

impl RetryModel {
    fn send(&mut self, me: Key<Event>, s: &mut Scheduler, attempt: u8) {
        let id = self.next_id;
        self.next_id += 1;
        self.attempts.insert(id, Attempt { attempt, timed_out: false });
        self.queue.push_back(id);
        s.schedule(SimTime::from_duration(TIMEOUT), me, Event::Timeout { id });
        self.start(me, s);
    }

    fn start(&mut self, me: Key<Event>, s: &mut Scheduler) {
        if self.busy {
            return;
        }
        if let Some(id) = self.queue.pop_front() {
            self.busy = true;
            let t = self.service.sample();
            s.schedule(SimTime::from_duration(t), me, Event::Done { id });
        }
    }
}

impl Component for RetryModel {
    type Event = Event;

    fn process_event(&mut self, me: Key<Event>, event: &Event, s: &mut Scheduler) {
        match *event {
            Event::Arrival => {
                self.outcome.requests += 1;
                self.send(me, s, 1);
                let now = s.time();
                let spiking = self.collapsed
                    && now >= SimTime::from_secs(SPIKE.0)
                    && now < SimTime::from_secs(SPIKE.1);
                let gap = if spiking {
                    self.spike.next_arrival_time()
                } else {
                    self.base.next_arrival_time()
                };
                s.schedule(SimTime::from_duration(gap), me, Event::Arrival);
            }
            Event::Timeout { id } => {
                let Some(a) = self.attempts.get_mut(&id) else {
                    return; // answered in time
                };
                a.timed_out = true;
                let next = a.attempt + 1;
                if next <= ATTEMPTS {
                    self.send(me, s, next);
                }
            }
            Event::Done { id } => {
                self.busy = false;
                if let Some(a) = self.attempts.remove(&id)
                    && !a.timed_out
                {
                    self.outcome.succeeded += 1;
                }
                self.start(me, s);
            }
        }
    }
}

fn descartes(collapsed: bool, horizon: u64) -> Outcome {
    let mut sim = Simulation::new(SimulationConfig { seed: 1 });
    let model = RetryModel {
        collapsed,
        base: PoissonArrivals::from_config(
            sim.config(),
            if collapsed { RATE } else { HEALTHY_RATE },
        ),
        spike: PoissonArrivals::from_config(sim.config(), SPIKE_RATE),
        service: ExponentialDistribution::from_config(sim.config(), SERVICE_RATE),
        queue: VecDeque::new(),
        busy: false,
        next_id: 0,
        attempts: HashMap::new(),
        outcome: Outcome::default(),
    };
    let key = sim.add_component(model);
    sim.schedule_now(key, Event::Arrival);
    sim.execute(Executor::timed(SimTime::from_secs(horizon)));
    let model: RetryModel = sim.remove_component(key).expect("the model");
    model.outcome
}

fn simctl(collapsed: bool, horizon: u64) -> Outcome {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/retry.ron");
    let mut text = std::fs::read_to_string(path).expect("retry.ron");
    text = text.replace("horizon: \"100s\"", &format!("horizon: \"{horizon}s\""));
    if collapsed {
        text = text.replace(
            &format!("rate_rps: {HEALTHY_RATE:?}"),
            &format!("rate_rps: {RATE:?}"),
        );
        let spike = format!(
            "    faults: [Fault(start: \"{}s\", end: \"{}s\", kind: Spike(client: \"clients\", factor: {}))],\n)",
            SPIKE.0,
            SPIKE.1,
            SPIKE_RATE / RATE
        );
        text = text.trim_end().trim_end_matches(')').to_string() + &spike;
    }
    let scenario = match sim_models::load("retry.ron", &text) {
        Ok(v) => v.scenario,
        Err(d) => panic!("{d}"),
    };
    let r = sim_models::run(&scenario, 1, "retry.ron");
    Outcome {
        requests: r.totals.offered,
        succeeded: r.totals.succeeded,
    }
}

/// Peak resident memory of this process, from /proc (Linux).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    kb / 1024.0
}

/// Runs one measurement in this process and prints `wall_ms rss_mb requests succeeded`.
fn one(tool: &str, mode: &str, horizon: u64) {
    let collapsed = mode == "collapsed";
    let start = Instant::now();
    let o = match tool {
        "simctl" => simctl(collapsed, horizon),
        _ => descartes(collapsed, horizon),
    };
    let wall = start.elapsed().as_secs_f64() * 1e3;
    println!("{wall} {} {} {}", peak_rss_mb(), o.requests, o.succeeded);
}

fn measure(tool: &str, mode: &str, horizon: u64) -> (f64, f64, u64, u64) {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .args(["--one", tool, mode, &horizon.to_string()])
        .output()
        .expect("child run");
    assert!(out.status.success(), "{tool} {mode} {horizon}: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    (
        f[0].parse().unwrap(),
        f[1].parse().unwrap(),
        f[2].parse().unwrap(),
        f[3].parse().unwrap(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--one") {
        return one(&args[2], &args[3], args[4].parse().expect("horizon"));
    }
    let value = |flag: &str, default: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
            .unwrap_or_else(|| default.to_string())
    };
    let horizons: Vec<u64> = value("--horizons", "100,1000,10000,100000")
        .split(',')
        .map(|h| h.parse().expect("horizon in seconds"))
        .collect();
    let repeats: usize = value("--repeats", "5").parse().expect("repeats");
    println!("| horizon s | mode | simctl ms | DesCartes ms | simctl/DesCartes | simctl MB | DesCartes MB | requests | succeeded simctl / DesCartes |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for &h in &horizons {
        for mode in ["healthy", "collapsed"] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let (mut ra, mut rb) = (None, None);
            for _ in 0..repeats {
                let x = measure("simctl", mode, h);
                let y = measure("descartes", mode, h);
                a.push(x.0);
                b.push(y.0);
                ra = Some(x);
                rb = Some(y);
            }
            let median = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let (ma, mb) = (median(&mut a), median(&mut b));
            let (x, y) = (ra.unwrap(), rb.unwrap());
            let share = |s: u64, r: u64| s as f64 / r.max(1) as f64;
            println!(
                "| {h} | {mode} | {ma:.2} | {mb:.2} | {:.2} | {:.1} | {:.1} | {} | {:.3} / {:.3} |",
                ma / mb,
                x.1,
                y.1,
                x.2,
                share(x.3, x.2),
                share(y.3, y.2)
            );
        }
    }
}
