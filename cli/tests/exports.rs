//! `simctl` end to end for what leaves simctl for other tools: sharded sweeps and their
//! merge, OpenMetrics (with a Prometheus round trip when Prometheus is installed), the
//! Grafana dashboard's queries, the topology diagram, the event log, and progress.

#![allow(clippy::disallowed_methods, reason = "tests read what simctl wrote")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{scratch, text};

fn simctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simctl"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("simctl runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Every file under `dir` (recursively), by relative name and bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                all.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    all.sort();
    all
}

/// 4 points x 2 seeds of the v0.6 ladder step.
const SWEEP: [&str; 6] = [
    "sweep",
    "scenarios/v0.6.ron",
    "--param",
    "services.db.workers=6..9:1",
    "--seeds",
    "2",
];

fn sweep(extra: &[&str]) -> Output {
    let mut args: Vec<&str> = SWEEP.to_vec();
    args.extend(extra);
    simctl(&args)
}

#[test]
fn a_merge_of_three_shards_is_the_unsharded_sweep_byte_for_byte() {
    let root = scratch("shards");
    let dir = |n: &str| root.join(n).display().to_string();
    let whole = sweep(&["--out", &dir("whole"), "--jobs", "2"]);
    ok(&whole);
    let mut saved = 0;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let out = sweep(&[
            "--shard",
            &shard,
            "--out",
            &dir(&format!("s{k}")),
            "--jobs",
            "2",
        ]);
        ok(&out);
        assert!(out.stdout.is_empty(), "a shard prints no summary");
        assert!(!root.join(format!("s{k}/runs.csv")).exists());
        saved += std::fs::read_dir(root.join(format!("s{k}/runs")))
            .unwrap()
            .count();
    }
    assert_eq!(saved, 8, "the shards are disjoint and cover the grid");
    // Any order of the directories.
    let merged = simctl(&[
        "sweep",
        "--merge",
        &dir("s3"),
        &dir("s1"),
        &dir("s2"),
        "--out",
        &dir("merged"),
    ]);
    ok(&merged);
    assert_eq!(merged.stdout, whole.stdout);
    let (a, b) = (files(&root.join("whole")), files(&root.join("merged")));
    let names: Vec<&str> = a.iter().map(|f| f.0.as_str()).collect();
    for name in [
        "runs.csv",
        "points.csv",
        "sweep.json",
        "sweep.spec.json",
        "report.md",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert_eq!(names.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0);
        assert!(x.1 == y.1, "{} differs", x.0);
    }
}

#[test]
fn shards_that_do_not_make_one_sweep_are_refused_with_the_reason() {
    let root = scratch("bad-shards");
    let dir = |n: &str| root.join(n).display().to_string();
    // A 1-replicate grid of 2 points keeps this quick.
    let small = |extra: &[&str]| {
        let mut args = vec![
            "sweep",
            "scenarios/mm1.ron",
            "--param",
            "clients.load.load.rate_rps=50,60",
            "--set",
            "horizon=20s",
            "--set",
            "warmup=1s",
        ];
        args.extend(extra);
        simctl(&args)
    };
    ok(&small(&["--shard", "1/2", "--out", &dir("a1")]));
    ok(&small(&["--shard", "2/2", "--out", &dir("a2")]));
    ok(&small(&[
        "--shard",
        "2/2",
        "--out",
        &dir("b2"),
        "--seed",
        "7",
    ]));
    let merge = |dirs: &[String]| {
        let mut args = vec!["sweep", "--merge"];
        args.extend(dirs.iter().map(String::as_str));
        let m = dir("m");
        args.extend(["--out", &m]);
        let out = simctl(&args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(!root.join("m/runs.csv").exists());
        text(&out.stderr)
    };
    let err = merge(&[dir("a1"), dir("b2")]);
    assert!(err.contains("are shards of different sweeps"), "{err}");
    assert!(err.contains("--seed, base seed"), "{err}");
    let err = merge(&[dir("a1")]);
    assert!(err.contains("shard 2/2 missing"), "{err}");
    let err = merge(&[dir("a1"), dir("a1"), dir("a2")]);
    assert!(err.contains("are both shard 1/2"), "{err}");
    std::fs::remove_file(root.join("a2/runs/p00001-r000.json")).unwrap();
    let err = merge(&[dir("a1"), dir("a2")]);
    assert!(
        err.contains("lacks 1 of its 1 runs") && err.contains("simctl sweep --resume"),
        "{err}"
    );
    // Resuming the shard runs only its missing run; then the merge goes through.
    let out = simctl(&["sweep", "--resume", &dir("a2")]);
    ok(&out);
    assert!(
        text(&out.stderr).contains("1 to do"),
        "{}",
        text(&out.stderr)
    );
    ok(&simctl(&[
        "sweep",
        "--merge",
        &dir("a1"),
        &dir("a2"),
        "--out",
        &dir("m"),
    ]));
    let whole = small(&["--out", &dir("w")]);
    ok(&whole);
    assert_eq!(files(&root.join("w")), files(&root.join("m")));
    for bad in ["0/2", "3/2", "2", "a/b"] {
        let out = small(&["--shard", bad, "--out", &dir("x")]);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("expected K/N"), "{bad}");
    }
    let out = simctl(&["sweep", "--merge", &dir("w"), "--out", &dir("y")]);
    assert!(text(&out.stderr).contains("holds a whole sweep, not a shard"));
}

/// Whether `tool --version` runs.
fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// GET `path` from 127.0.0.1:`port`, the body if the answer is 200.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.1 200").then(|| body.to_string()))
}

/// A query string's value, percent-encoded.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prometheus killed when the test ends, whatever way it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The export backfilled by promtool and read back from a real Prometheus over its HTTP
/// API: counters, gauges, a fault's 0/1 series and an alert's, against simctl's own JSON.
#[test]
fn openmetrics_round_trips_through_promtool_and_prometheus() {
    if !installed("promtool") || !installed("prometheus") {
        eprintln!(
            "SKIPPED openmetrics_round_trips_through_promtool_and_prometheus: promtool or prometheus is not installed (Debian: apt-get install prometheus; .ci/run installs it where it can)"
        );
        return;
    }
    let root = scratch("prometheus");
    let out = root.join("run");
    let o = simctl(&[
        "run",
        "scenarios/example.ron",
        "--out",
        out.to_str().unwrap(),
        "--export",
        "openmetrics",
        "--start",
        "2026-03-01T12:00:00Z",
    ]);
    ok(&o);
    let start = 1_772_366_400.0; // 2026-03-01T12:00:00Z
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let blocks = root.join("data");
    let backfill = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(out.join("metrics.om"))
        .arg(&blocks)
        .output()
        .unwrap();
    assert!(backfill.status.success(), "{}", text(&backfill.stderr));

    let config = root.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1h\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = Server(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", blocks.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=100y")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(root.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let mut ready = false;
    for _ in 0..300 {
        if http_get(port, "/-/ready").is_some() {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        ready,
        "prometheus did not become ready: {}",
        std::fs::read_to_string(root.join("prometheus.log")).unwrap_or_default()
    );
    let query = |q: &str, t_s: f64| -> Vec<(serde_json::Value, f64)> {
        let path = format!("/api/v1/query?query={}&time={:.3}", encode(q), start + t_s);
        let body = http_get(port, &path).unwrap_or_else(|| panic!("query {q} failed"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "success", "{body}");
        v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let x: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
                (r["metric"].clone(), x)
            })
            .collect()
    };
    let series = &run["series"];
    let t_s: Vec<f64> = series["t_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let u = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let last = *t_s.last().unwrap();
    let mid = t_s.len() / 2;

    // A counter at the end: the sum of the client's windows.
    let client = &series["clients"][0];
    let name = client["name"].as_str().unwrap();
    let got = query(
        &format!("simctl_requests_offered_total{{client=\"{name}\"}}"),
        last,
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, u(&client["offered"]).iter().sum::<f64>());
    assert_eq!(got[0].0["run"], "example");
    // The counter part way through, and its increase over a window.
    let upto: f64 = u(&client["succeeded"])[..=mid].iter().sum();
    let got = query(
        &format!("simctl_requests_succeeded_total{{client=\"{name}\"}}"),
        t_s[mid],
    );
    assert_eq!(got[0].1, upto);
    // A per-service gauge at one window, for every service.
    for s in series["services"].as_array().unwrap() {
        let service = s["name"].as_str().unwrap();
        let got = query(
            &format!("simctl_service_queue_depth{{service=\"{service}\"}}"),
            t_s[mid],
        );
        assert_eq!(got.len(), 1, "{service}");
        let want = u(&s["queue_depth_mean"])[mid];
        assert!(
            (got[0].1 - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{service}: {} vs {want}",
            got[0].1
        );
    }
    // Latency in seconds, not ms.
    let got = query(
        "simctl_request_latency_seconds{quantile=\"0.99\"}",
        t_s[mid],
    );
    let want = u(&series["latency_p99_ms"])[mid] / 1000.0;
    assert!((got[0].1 - want).abs() <= 1e-12, "{} vs {want}", got[0].1);
    // A fault is 1 inside its window and 0 well before it.
    let fault = &run["faults"][0];
    let (f0, f1) = (
        fault["start_s"].as_f64().unwrap(),
        fault["end_s"].as_f64().unwrap(),
    );
    let inside = *t_s.iter().find(|&&t| t > f0 && t <= f1).unwrap();
    let q = "simctl_fault_active{fault=\"0\"}";
    assert_eq!(query(q, inside)[0].1, 1.0);
    let before = *t_s.iter().rev().find(|&&t| t < f0).unwrap();
    assert_eq!(query(q, before)[0].1, 0.0);
    // An alert that fired is 1 after it fired (and 0 before the first firing).
    let firing = run["alerts"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|r| {
            let f = r["firings"].as_array()?.first()?;
            Some((r["name"].as_str()?.to_string(), f["fired_s"].as_f64()?))
        });
    if let Some((rule, fired)) = firing {
        let q = format!("simctl_alert_firing{{slo=\"scenario\",alert=\"{rule}\"}}");
        let at = *t_s.iter().find(|&&t| t >= fired).unwrap();
        assert_eq!(query(&q, at)[0].1, 1.0, "{rule} fired at {fired}");
        assert_eq!(query(&q, t_s[0])[0].1, 0.0);
    } else {
        panic!("example.ron's alerts should fire during its faults");
    }
    // Every query of the Grafana dashboard is valid PromQL and finds data at some time of
    // the run (but the rule actions': example.ron has no rules).
    for q in dashboard_queries() {
        let over_run = format!("count_over_time(({})[{}s:1s])", concrete(&q), last.ceil());
        let got = query(&over_run, last);
        assert!(
            !got.is_empty() || q.contains("simctl_action_active"),
            "`{q}` found nothing"
        );
    }
}

/// Every PromQL expression of the Grafana dashboard (panels, annotations, variables).
fn dashboard_queries() -> Vec<String> {
    let path = repo().join("docs/grafana/simctl-run.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut found = Vec::new();
    let mut todo = vec![&v];
    while let Some(v) = todo.pop() {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("expr" | "definition", serde_json::Value::String(q)) => {
                            found.push(q.clone())
                        }
                        _ => todo.push(x),
                    }
                }
            }
            serde_json::Value::Array(xs) => todo.extend(xs),
            _ => {}
        }
    }
    found.sort();
    found
}

/// The `simctl_...` names a query reads.
fn metric_names(query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = query;
    while let Some(i) = rest.find("simctl_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// A dashboard query made concrete for Prometheus's API: Grafana's variables filled in,
/// and its `label_values(METRIC, LABEL)` asked as `count by (LABEL) (METRIC)`.
fn concrete(query: &str) -> String {
    let query = match query
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .and_then(|q| q.split_once(','))
    {
        Some((metric, label)) => format!("count by ({}) ({metric})", label.trim()),
        None => query.to_string(),
    };
    query
        .replace("$__rate_interval", "1m")
        .replace("$__range", "10m")
        .replace("$run", ".*")
}

#[test]
fn every_dashboard_query_names_a_metric_the_export_produces() {
    let dir = scratch("dashboard");
    // Between them: faults, alerts, breakers (example) and a rule's action (autoscale).
    let o = simctl(&[
        "compare",
        "scenarios/example.ron",
        "scenarios/autoscale.ron",
        "--out",
        dir.to_str().unwrap(),
        "--export",
        "openmetrics",
    ]);
    ok(&o);
    // report.md draws each scenario's call graph.
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert_eq!(
        report.matches("```mermaid\nflowchart LR\n").count(),
        2,
        "{report}"
    );
    for service in ["gateway", "orders", "payment", "audit", "db"] {
        assert!(
            report.contains(&format!("[\"{service}<br/>service: ")),
            "{service}"
        );
    }
    let om = std::fs::read_to_string(dir.join("metrics.om")).unwrap();
    let produced: std::collections::BTreeSet<&str> = om
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(['{', ' ']).next().unwrap())
        .collect();
    let queries = dashboard_queries();
    assert!(queries.len() >= 12, "{queries:?}");
    let mut used = std::collections::BTreeSet::new();
    for q in &queries {
        let names = metric_names(q);
        assert!(!names.is_empty(), "`{q}` reads no simctl metric");
        for n in names {
            assert!(
                produced.contains(n.as_str()),
                "`{q}` reads {n}, which the export does not produce (it does: {produced:?})"
            );
            used.insert(n);
        }
    }
    // What the issue asks the dashboard to show.
    for needed in [
        "simctl_requests_succeeded_total",
        "simctl_requests_failed_total",
        "simctl_request_latency_seconds",
        "simctl_retry_amplification_ratio",
        "simctl_service_queue_depth",
        "simctl_fault_active",
        "simctl_action_active",
    ] {
        assert!(used.contains(needed), "the dashboard shows no {needed}");
    }
}

#[test]
fn the_event_log_holds_what_the_run_recorded_in_time_order() {
    let dir = scratch("events");
    let log = dir.join("events.jsonl");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "scenarios/example.ron", "--format", "json"];
        args.extend(extra);
        let out = simctl(&args);
        ok(&out);
        out
    };
    let out = run(&["--events", log.to_str().unwrap()]);
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bytes = std::fs::read(&log).unwrap();
    let events: Vec<serde_json::Value> = text(&bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    let t: Vec<f64> = events.iter().map(|e| e["t_s"].as_f64().unwrap()).collect();
    assert!(t.windows(2).all(|w| w[0] <= w[1]), "time order");
    let array = |v: &serde_json::Value| v.as_array().cloned().unwrap_or_default();
    let transitions: usize = array(&result["breakers"])
        .iter()
        .map(|b| array(&b["transitions"]).len())
        .sum();
    assert!(transitions > 0);
    assert_eq!(count("breaker_transition"), transitions);
    let ejections: usize = array(&result["ejections"])
        .iter()
        .map(|e| array(&e["ejections"]).len())
        .sum();
    assert!(ejections > 0);
    assert_eq!(count("ejection"), ejections);
    let mut firings = array(&result["alerts"]["rules"]);
    for c in array(&result["clients"]) {
        firings.extend(array(&c["alerts"]["rules"]));
    }
    let fired: usize = firings.iter().map(|r| array(&r["firings"]).len()).sum();
    assert!(fired > 0);
    assert_eq!(count("alert_fired"), fired);
    assert_eq!(count("fault_start"), array(&result["faults"]).len());
    assert_eq!(events.last().unwrap()["event"], "run_end");
    // The first fault's start, at the default start instant.
    let f0 = events.iter().find(|e| e["event"] == "fault_start").unwrap();
    assert_eq!(f0["t_s"], result["faults"][0]["start_s"]);
    assert_eq!(f0["time"], "2026-01-01T00:02:00.000Z");
    // Same run, same bytes.
    let again = dir.join("again.jsonl");
    run(&["--events", again.to_str().unwrap()]);
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
}

/// Progress of a comparison: plain lines when stderr is not a terminal, none where stderr
/// speaks JSON.
#[test]
fn compare_reports_progress_in_plain_lines_off_a_terminal() {
    let out = simctl(&["compare", "scenarios/mm1.ron", "scenarios/mmc.ron"]);
    ok(&out);
    let err = text(&out.stderr);
    assert!(err.contains("compare: 1/2 runs"), "{err}");
    assert!(err.contains("compare: 2/2 runs"), "{err}");
    assert!(err.contains("compare: 2 runs in "), "{err}");
    let out = simctl(&[
        "compare",
        "scenarios/mm1.ron",
        "scenarios/mmc.ron",
        "--format",
        "json",
    ]);
    ok(&out);
    assert!(
        !text(&out.stderr).contains("compare:"),
        "{}",
        text(&out.stderr)
    );
}

/// `--trace N`: N requests of the naive ladder step (shoppers retrying after 50 ms), read back from the Chrome trace-event
/// JSON: spans nest (a callee's queue wait and work inside the attempt that awaited them,
/// every span of a request from its start on), and their times agree with the scenario (a
/// client attempt that timed out lasted the client's 1 s timeout; a retry starts as the
/// attempt before it ends, or its backoff if any; a request ends when its last client
/// attempt does).
#[test]
fn a_trace_nests_and_keeps_the_scenario_timing() {
    let dir = scratch("trace");
    let run = |d: &Path| {
        let o = simctl(&[
            "run",
            "scenarios/v0.1.ron",
            "--set",
            "clients.shoppers.policy.backoff=Constant(\"50ms\")",
            "--out",
            d.to_str().unwrap(),
            "--trace",
            "40",
        ]);
        ok(&o);
        std::fs::read(d.join("trace.json")).unwrap()
    };
    let bytes = run(&dir);
    assert_eq!(run(&dir.join("again")), bytes, "same run, same trace");
    // Tracing changes nothing in the run.
    let plain = dir.join("plain");
    ok(&simctl(&[
        "run",
        "scenarios/v0.1.ron",
        "--set",
        "clients.shoppers.policy.backoff=Constant(\"50ms\")",
        "--out",
        plain.to_str().unwrap(),
    ]));
    assert!(
        std::fs::read(plain.join("summary.json")).unwrap()
            == std::fs::read(dir.join("summary.json")).unwrap(),
        "the traced run's summary.json differs"
    );
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let events = doc["traceEvents"].as_array().unwrap();
    let meta = |name: &str| -> Vec<&serde_json::Value> {
        events
            .iter()
            .filter(|e| e["ph"] == "M" && e["name"] == name)
            .collect()
    };
    assert_eq!(meta("process_name").len(), 40, "40 requests traced");
    // Client lanes: `shoppers → gateway`, `browsers → gateway`.
    let client_lanes: Vec<(u64, u64)> = meta("thread_name")
        .iter()
        .filter(|e| {
            let n = e["args"]["name"].as_str().unwrap();
            n.starts_with("shoppers → ") || n.starts_with("browsers → ")
        })
        .map(|e| (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()))
        .collect();
    struct Span {
        pid: u64,
        tid: u64,
        name: String,
        start: f64,
        end: f64,
    }
    let spans: Vec<Span> = events
        .iter()
        .filter(|e| e["ph"] == "X")
        .map(|e| {
            let start = e["ts"].as_f64().unwrap();
            let dur = e["dur"].as_f64().unwrap();
            assert!(dur >= 0.0);
            Span {
                pid: e["pid"].as_u64().unwrap(),
                tid: e["tid"].as_u64().unwrap(),
                name: e["name"].as_str().unwrap().to_string(),
                start,
                end: start + dur,
            }
        })
        .collect();
    let eps = 1e-3; // a nanosecond, in microseconds
    let (mut timeouts, mut retries, mut backoffs, mut nested) = (0, 0, 0, 0);
    for r in spans.iter().filter(|s| s.name.starts_with("request: ")) {
        let mine: Vec<&Span> = spans.iter().filter(|s| s.pid == r.pid).collect();
        assert!(
            mine.iter().all(|s| s.start >= r.start - eps),
            "from its start on"
        );
        let mut client: Vec<&&Span> = mine
            .iter()
            .filter(|s| client_lanes.contains(&(s.pid, s.tid)))
            .filter(|s| s.name.starts_with("attempt "))
            .collect();
        client.sort_by(|a, b| a.start.total_cmp(&b.start));
        let last = client.last().expect("a request has a client attempt");
        if r.name == "request: ok" {
            assert!((last.end - r.end).abs() < eps, "ends with its last attempt");
        }
        for a in &client {
            if a.name.ends_with(": timeout") {
                assert!((a.end - a.start - 1e6).abs() < eps, "{}: 1 s", a.name);
                timeouts += 1;
            }
        }
        // Each retry follows the attempt before it at once, or when its backoff ends.
        for w in client.windows(2) {
            let (prev, next) = (w[0], w[1]);
            if prev.tid != next.tid {
                continue;
            }
            let backoff = mine.iter().find(|b| {
                b.name == "retry backoff" && b.tid == prev.tid && (b.start - prev.end).abs() < eps
            });
            let due = backoff.map_or(prev.end, |b| b.end);
            backoffs += usize::from(backoff.is_some());
            assert!(
                (next.start - due).abs() < eps,
                "{} at {} follows at {due}",
                next.name,
                next.start
            );
            retries += 1;
        }
        for w in mine
            .iter()
            .filter(|s| s.name == "work" || s.name == "queue wait")
        {
            let around = mine.iter().any(|a| {
                a.tid == w.tid
                    && (a.name.starts_with("attempt ") || a.name.starts_with("hedge "))
                    && a.start <= w.start + eps
                    && w.end <= a.end + eps
            });
            assert!(around, "{} at {} inside its attempt", w.name, w.start);
            nested += 1;
        }
    }
    assert!(
        nested > 0 && timeouts > 0 && retries > backoffs && backoffs > 0,
        "{nested} {timeouts} {retries} {backoffs}"
    );
}

/// Broker and cache series go into the export too: one sample per window, and the values
/// the run's JSON holds (a group's published count, a cache's hit ratio per window).
#[test]
fn component_kinds_are_in_the_export() {
    let dir = scratch("om-kinds");
    for (file, family, json_series) in [
        ("broker", "simctl_broker_published_total{", "published"),
        ("cache", "simctl_cache_hit_ratio{", "hit_ratio"),
        ("auth", "simctl_token_auth_refreshes_total{", "refreshes"),
        (
            "config",
            "simctl_config_failed_attempts_total{",
            "failed_by_config",
        ),
    ] {
        let out_dir = dir.join(file);
        let scenario = repo().join(format!("scenarios/{file}.ron"));
        let out = simctl(&[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--export",
            "openmetrics",
        ]);
        ok(&out);
        let om = std::fs::read_to_string(out_dir.join("metrics.om")).unwrap();
        let values: Vec<f64> = om
            .lines()
            .filter(|l| l.starts_with(family))
            .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
            .collect();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
                .unwrap();
        let series = match file {
            "broker" => &json["brokers"][0]["groups"][0]["series"][json_series],
            "auth" => &json["token_auths"][0]["series"][json_series],
            "config" => &json["configs"][0]["series"][json_series],
            _ => &json["series"]["caches"][0][json_series],
        };
        let per_window = series
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap());
        // Counts per window are exported as counters: their running sums.
        let expected: Vec<f64> = match file {
            "auth" | "config" => per_window
                .scan(0.0, |sum, x| {
                    *sum += x;
                    Some(*sum)
                })
                .collect(),
            _ => per_window.collect(),
        };
        let windows = json["series"]["t_s"].as_array().unwrap().len();
        assert_eq!(values.len(), windows, "{file}: one sample per window");
        assert_eq!(values, expected, "{file}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn traces_name_caches_and_brokers_on_their_hops() {
    // Lanes are `caller → callee`: a cache or a broker is named as itself, not as the
    // service whose table index it shares. A traced publish ends at the broker's confirm:
    // deliveries to consumers are not part of the request.
    let dir = scratch("trace-kinds");
    for (file, lanes) in [
        ("cache", &["web → api", "api → redis"][..]),
        ("broker", &["producer → jobs"][..]),
    ] {
        let out_dir = dir.join(file);
        let scenario = repo().join(format!("scenarios/{file}.ron"));
        ok(&simctl(&[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--trace",
            "5",
        ]));
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out_dir.join("trace.json")).unwrap()).unwrap();
        let names: Vec<&str> = doc["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"] == "thread_name")
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        for lane in lanes {
            assert!(names.contains(lane), "{file}: no lane {lane} in {names:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
