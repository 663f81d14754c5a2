//! The experiment journal (`--journal DIR`): `journal.jsonl` gets one JSON record per
//! experiment run, `entries/NNNN-NAME.md` its markdown entry, and `index.md` the history
//! rebuilt from every record, with the score over time. `simctl score` records each test
//! as an experiment, then one score record per scenario (`"kind": "score"`), which the
//! index lists as the reliability score over time. The date is the wall clock's, read
//! here: the simulation never sees it.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use sim_models::experiment::{Experiment, Outcome, Verdict};

use crate::output;

/// Gremlin's reliability score convention (`sim_models::score`): a passed test 100, a
/// failed one 50, one that did not run 0. Here: held 100, deviated or aborted 50,
/// undetermined 0.
fn score(v: Verdict) -> u32 {
    sim_models::score::Status::of(v).points() as u32
}

/// Today's UTC date and time, `YYYY-MM-DD HH:MM UTC`.
#[allow(
    clippy::disallowed_types,
    reason = "the journal's date is the wall clock's, read by simctl, never by a run"
)]
fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // `YYYY-MM-DDTHH:MM:SS.mmmZ` to the minute, as `YYYY-MM-DD HH:MM UTC`.
    let iso = reports::utc(secs as i64, 0.0);
    format!("{} {} UTC", &iso[..10], &iso[11..16])
}

/// Appends `outcome` to the journal in `dir`.
pub fn append(
    dir: &Path,
    exp: &Experiment,
    outcome: &Outcome,
    scenario_text: &str,
    replay: &str,
) -> Result<()> {
    let log = dir.join("journal.jsonl");
    let (previous, number) = read_log(&log)?;
    let date = now_utc();
    let slug: String = exp
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let entry = format!("entries/{number:04}-{slug}.md");
    let record = serde_json::json!({
        "number": number,
        "date": date,
        "experiment": exp.name,
        "description": exp.description,
        "scenario": outcome.scenario,
        "scenario_hash": outcome.scenario_hash,
        "scenario_file_hash": crate::sweep::file_hash(scenario_text),
        "hypothesis": exp.hypothesis,
        "method": outcome.method,
        "verdict": outcome.verdict,
        "score": score(outcome.verdict),
        "reason": outcome.reason,
        "probes": outcome.probes,
        "aborts": outcome.aborts,
        "learning": outcome.learning,
        "replay": replay,
        "entry": entry,
    });
    let mut md = format!("_{date}, journal entry {number}_\n\n");
    md.push_str(&reports::experiment_md(outcome, replay));
    if !exp.description.is_empty() {
        md.push_str(&format!("\n## Why\n\n{}\n", exp.description));
    }
    md.push_str("\n## Learning\n\n");
    if outcome.learning.is_empty() {
        md.push_str("- Nothing beyond the probes: the experiment runs look like the controls.\n");
    }
    for l in &outcome.learning {
        md.push_str(&format!("- {l}\n"));
    }
    output::write_atomic(&dir.join(&entry), md.as_bytes())?;
    // The record goes last: a journal line always has its entry.
    append_record(dir, &log, &previous, &record)
}

/// Appends `record` to the log (after its entry files, so a line always has them), then
/// rewrites the index from every record.
fn append_record(dir: &Path, log: &Path, previous: &str, record: &serde_json::Value) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot write {}", log.display()))?;
    writeln!(f, "{record}").with_context(|| format!("cannot write {}", log.display()))?;
    f.sync_all()?;
    let all = format!("{previous}{record}\n");
    output::write_atomic(&dir.join("index.md"), index(&all).as_bytes())
}

/// The journal's log so far, and the number of the next record.
fn read_log(log: &Path) -> Result<(String, usize)> {
    let previous = if log.exists() {
        output::read_limited(log, output::MAX_RESULTS_BYTES)
            .with_context(|| format!("cannot read {}", log.display()))?
    } else {
        String::new()
    };
    let number = previous.lines().filter(|l| !l.trim().is_empty()).count() + 1;
    Ok((previous, number))
}

/// Appends a scenario's reliability score (`simctl score`) to the journal in `dir`.
pub fn append_score(
    dir: &Path,
    s: &sim_models::score::Score,
    scenario_text: &str,
    replay: &str,
) -> Result<()> {
    let log = dir.join("journal.jsonl");
    let (previous, number) = read_log(&log)?;
    let record = serde_json::json!({
        "kind": "score",
        "number": number,
        "date": now_utc(),
        "file": s.file,
        "scenario": s.scenario,
        "scenario_hash": s.scenario_hash,
        "scenario_file_hash": crate::sweep::file_hash(scenario_text),
        "seeds": s.seeds,
        "categories": s.categories,
        "overall": s.overall,
        "services": s.services,
        "replay": replay,
    });
    append_record(dir, &log, &previous, &record)
}

/// The history page from every record of `journal.jsonl`.
fn index(log: &str) -> String {
    let records: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mut out = String::from("# Reliability journal\n\n");
    out.push_str(
        "Score: held 100, deviated or aborted 50, undetermined 0 (Gremlin's pass / fail / not run); \
         the running score is the mean over the latest record of each experiment on each scenario.\n\n",
    );
    out.push_str(
        "| # | date | experiment | scenario | verdict | score | running score | entry |\n",
    );
    out.push_str("| ---: | --- | --- | --- | --- | ---: | ---: | --- |\n");
    let mut latest: Vec<(String, u64)> = Vec::new();
    let is_score = |r: &serde_json::Value| r["kind"] == "score";
    for r in records.iter().filter(|r| !is_score(r)) {
        let name = r["experiment"].as_str().unwrap_or("?").to_string();
        let s = r["score"].as_u64().unwrap_or(0);
        // One score per experiment and scenario: the latest.
        let key = format!("{name} on {}", r["scenario_hash"]);
        match latest.iter_mut().find(|(k, _)| *k == key) {
            Some(e) => e.1 = s,
            None => latest.push((key, s)),
        }
        let running = latest.iter().map(|(_, s)| *s).sum::<u64>() as f64 / latest.len() as f64;
        let entry = r["entry"].as_str().unwrap_or("");
        out.push_str(&format!(
            "| {} | {} | {name} | {} (`{}`) | {} | {s} | {running:.0} | [{entry}]({entry}) |\n",
            r["number"],
            r["date"].as_str().unwrap_or("?"),
            r["scenario"].as_str().unwrap_or("?"),
            r["scenario_hash"].as_str().unwrap_or("?"),
            r["verdict"].as_str().unwrap_or("?"),
        ));
    }
    let scores: Vec<&serde_json::Value> = records.iter().filter(|r| is_score(r)).collect();
    if !scores.is_empty() {
        out.push_str(
            "\n## Reliability score over time\n\n\
             `simctl score`: per test passed 100, failed 50, not run or undetermined 0; a \
             category is the mean of its tests, a service the mean of its categories, the \
             scenario the mean of its services. The change is against the previous score of \
             the same file.\n\n\
             | # | date | file | scenario | redundancy | scalability | dependencies | overall | change |\n\
             | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
        );
        let mut last: Vec<(String, f64)> = Vec::new();
        for r in scores {
            let file = r["file"].as_str().unwrap_or("?").to_string();
            let overall = r["overall"].as_f64().unwrap_or(0.0);
            let category = |name: &str| {
                r["categories"]
                    .as_array()
                    .and_then(|cs| cs.iter().find(|c| c["category"] == name))
                    .and_then(|c| c["score"].as_f64())
                    .map_or("n/a".to_string(), |x| format!("{x:.1}"))
            };
            let change = match last.iter_mut().find(|(f, _)| *f == file) {
                Some(e) => {
                    let d = overall - e.1;
                    e.1 = overall;
                    format!("{d:+.1}")
                }
                None => {
                    last.push((file.clone(), overall));
                    "first".to_string()
                }
            };
            out.push_str(&format!(
                "| {} | {} | {file} | {} (`{}`) | {} | {} | {} | {overall:.1} | {change} |\n",
                r["number"],
                r["date"].as_str().unwrap_or("?"),
                r["scenario"].as_str().unwrap_or("?"),
                r["scenario_hash"].as_str().unwrap_or("?"),
                category("redundancy"),
                category("scalability"),
                category("dependencies"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_keeps_the_latest_score_per_experiment() {
        let log = [
            r#"{"number":1,"date":"d1","experiment":"a","scenario":"s","scenario_hash":"h","verdict":"deviated","score":50,"entry":"entries/0001-a.md"}"#,
            r#"{"number":2,"date":"d2","experiment":"b","scenario":"s","scenario_hash":"h","verdict":"held","score":100,"entry":"entries/0002-b.md"}"#,
            r#"{"number":3,"date":"d3","experiment":"a","scenario":"s","scenario_hash":"h","verdict":"held","score":100,"entry":"entries/0003-a.md"}"#,
        ]
        .join("\n");
        let md = index(&log);
        assert!(
            md.contains("| 1 | d1 | a | s (`h`) | deviated | 50 | 50 |"),
            "{md}"
        );
        assert!(
            md.contains("| 2 | d2 | b | s (`h`) | held | 100 | 75 |"),
            "{md}"
        );
        assert!(
            md.contains("| 3 | d3 | a | s (`h`) | held | 100 | 100 |"),
            "{md}"
        );
    }

    #[test]
    fn index_shows_the_score_over_time() {
        let log = [
            r#"{"number":1,"date":"d1","experiment":"a","scenario":"s","scenario_hash":"h","verdict":"held","score":100,"entry":"entries/0001-a.md"}"#,
            r#"{"kind":"score","number":2,"date":"d2","file":"v.ron","scenario":"s","scenario_hash":"h","categories":[{"category":"redundancy","score":50.0},{"category":"scalability","score":null},{"category":"dependencies","score":75.0}],"overall":62.5}"#,
            r#"{"kind":"score","number":3,"date":"d3","file":"v.ron","scenario":"s","scenario_hash":"h2","categories":[{"category":"redundancy","score":100.0}],"overall":70.0}"#,
        ]
        .join("\n");
        let md = index(&log);
        // The score records are not experiments.
        assert_eq!(md.matches("entries/").count(), 2, "{md}");
        assert!(
            md.contains("| 2 | d2 | v.ron | s (`h`) | 50.0 | n/a | 75.0 | 62.5 | first |"),
            "{md}"
        );
        assert!(
            md.contains("| 3 | d3 | v.ron | s (`h2`) | 100.0 | n/a | n/a | 70.0 | +7.5 |"),
            "{md}"
        );
    }

    #[test]
    fn dates_are_civil() {
        let d = now_utc();
        assert_eq!(d.len(), "2026-01-01 00:00 UTC".len(), "{d}");
        assert!(d.starts_with("20"), "{d}");
    }
}
