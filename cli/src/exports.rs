//! What `simctl run` and `compare` write for other tools: OpenMetrics for Prometheus
//! (`--export openmetrics`, with `--start`) and the event log (`--events FILE`).

use std::path::Path;

use anyhow::Result;
use clap::ValueEnum;

use crate::output::write_atomic;

/// Where virtual time 0 lands unless `--start` says otherwise: fixed, so the export of a
/// run is the same bytes every time.
pub const DEFAULT_START: &str = "2026-01-01T00:00:00Z";

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum Export {
    /// `metrics.om`: every time series of the run in the OpenMetrics text format, for
    /// `promtool tsdb create-blocks-from openmetrics` (then Prometheus, Grafana).
    Openmetrics,
}

/// `--start`: an instant `YYYY-MM-DDTHH:MM:SSZ` (UTC), as Unix seconds.
pub fn start_arg(text: &str) -> Result<i64, String> {
    let bad =
        || format!("`{text}`: expected a UTC instant YYYY-MM-DDTHH:MM:SSZ, e.g. {DEFAULT_START}");
    let b = text.as_bytes();
    let shape = b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return Err(bad());
    }
    let n = |a: usize, z: usize| text[a..z].parse::<i64>().expect("digits");
    let (y, m, d, hh, mm, ss) = (n(0, 4), n(5, 7), n(8, 10), n(11, 13), n(14, 16), n(17, 19));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m)
        || d < 1
        || d > month_days[m as usize - 1]
        || hh > 23
        || mm > 59
        || ss > 59
    {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Writes the asked-for exports of `runs` into `dir`.
pub fn write(
    dir: &Path,
    runs: &[sim_models::RunResult],
    export: &[Export],
    start: i64,
) -> Result<()> {
    for e in export {
        match e {
            Export::Openmetrics => write_atomic(
                &dir.join("metrics.om"),
                reports::openmetrics(runs, start).as_bytes(),
            )?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_instants_are_unix_seconds() {
        assert_eq!(start_arg(DEFAULT_START), Ok(1_767_225_600));
        assert_eq!(start_arg("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(start_arg("2024-02-29T12:30:05Z"), Ok(1_709_209_805));
        for bad in [
            "2025-02-29T00:00:00Z",
            "2026-01-01",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00+01:00",
        ] {
            assert!(start_arg(bad).is_err(), "{bad}");
        }
    }
}
