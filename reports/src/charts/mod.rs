//! Charts of runs, rendered in memory as PNG bytes and SVG text (1200 x 800).
//!
//! [`run_charts`] draws one run, [`compare_charts`] several overlaid; both are built from
//! [`xy_chart`], a generic x/y chart with optional confidence bands and shaded fault windows.
//! Same input, same bytes: no timestamps, a bundled font, deterministic encoders.

mod bitmap;
mod draw;

pub use bitmap::{PngCheck, check_png};
pub(crate) use draw::number;

use std::convert::Infallible;

use sim_models::RunResult;

/// One rendered chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chart {
    /// File stem, e.g. `latency` (the writer adds `.png` / `.svg`).
    pub name: String,
    pub title: String,
    pub png: Vec<u8>,
    pub svg: String,
}

/// A labelled line of (x, y) points; non-finite points (or ones the axis scale cannot
/// show, such as 0 on a log axis) are skipped and break the line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Line {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// A shaded band around the line, e.g. a confidence interval: (x, low, high).
    pub band: Option<Vec<(f64, f64, f64)>>,
}

/// A shaded x range, e.g. a fault window, with a short label drawn at its top if it fits.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shade {
    pub start: f64,
    pub end: f64,
    pub label: String,
    /// An action a rule took (shaded green, its label at the bottom) rather than a fault
    /// (red, label at the top).
    pub action: bool,
}

/// What [`xy_chart`] draws. Lines take the palette's colours in order (ten hues, then
/// repeated), and after the fourth line a dashed, then dotted stroke as well; the legend
/// sits in a column right of the plot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct XyChart<'a> {
    pub name: &'a str,
    pub title: &'a str,
    /// Axis descriptions: say the unit, and the scale if it is not linear.
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub lines: Vec<Line>,
    /// Log10 axes, ticks at powers of ten; values <= 0 are skipped.
    pub log_y: bool,
    pub log_x: bool,
    /// y values are fractions q in [0, 1), drawn at -log10(1 - q) so the tail gets the
    /// room: ticks read p50, p90, p99, p99.9... Takes precedence over `log_y`.
    pub quantile_y: bool,
    /// The x axis spans at least this range, e.g. a run's 0 s to its horizon, even where
    /// the lines have no data.
    pub x_span: Option<(f64, f64)>,
    /// A linear y axis includes zero (counts and rates) instead of fitting the data.
    pub y_from_zero: bool,
    /// x ranges shaded under the data (fault windows), clipped to the data's x range.
    pub shades: Vec<Shade>,
    /// A marker on every point, its shape different for each line: for lines of a few
    /// measured points (sweeps), where a straight segment between two is not data.
    pub markers: bool,
    /// Small multiples: one panel per line on shared axes, that line in colour over the
    /// others in grey. For many lines, which overlaid would hide one another.
    pub panels: bool,
    /// What a gap in a line means (e.g. "no successes"): each line's gaps get a strip in
    /// its colour along the bottom, and the note goes in the legend and over the widest
    /// strip, so a missing window does not read as a line that merely stops.
    pub gap_note: Option<&'a str>,
}

/// Draw a chart (never panics on empty, NaN or infinite data: "no data" is written
/// instead of lines).
pub fn xy_chart(spec: &XyChart) -> Chart {
    draw::render(spec)
}

/// A run's short name: the scenario file's stem from the replay line (`v0.6` for
/// `simctl run scenarios/v0.6.ron ...`), else the scenario's own name.
pub fn run_label(r: &RunResult) -> String {
    r.replay
        .split_whitespace()
        .find(|w| w.ends_with(".ron"))
        .and_then(|f| std::path::Path::new(f).file_stem()?.to_str())
        .map_or_else(|| r.scenario.clone(), str::to_string)
}

/// Labels of several runs, with the seed added where two runs share a label.
pub(crate) fn run_labels(runs: &[RunResult]) -> Vec<String> {
    let labels: Vec<String> = runs.iter().map(run_label).collect();
    runs.iter()
        .zip(&labels)
        .map(|(r, l)| {
            if labels.iter().filter(|m| *m == l).count() > 1 {
                format!("{l} seed {}", r.seed)
            } else {
                l.clone()
            }
        })
        .collect()
}

const TIME: &str = "virtual time, s";
/// Queue depths below this are drawn at it on a log axis (an idle queue is 0).
const QUEUE_FLOOR: f64 = 0.01;

/// Time charts span 0 s to the longest run's end, so runs that stopped early or went
/// without successes for a while still read against the whole horizon.
fn span(runs: &[RunResult]) -> (f64, f64) {
    let end = runs
        .iter()
        .flat_map(|r| [r.simulated_s, r.series.t_s.last().copied().unwrap_or(0.0)])
        .fold(0.0, f64::max);
    (0.0, end)
}

fn shades(r: &RunResult) -> Vec<Shade> {
    let faults = r.faults.iter().map(|f| Shade {
        start: f.start_s,
        end: f.end_s,
        label: format!("{} {}", f.kind, f.target),
        action: false,
    });
    let actions = r.actions.iter().map(|a| Shade {
        start: a.start_s,
        end: a.end_s,
        label: format!("{} {}", a.kind, a.target),
        action: true,
    });
    faults.chain(actions).collect()
}

/// (t, y) points over the run's windows; `None` values are gaps.
fn over_time(r: &RunResult, ys: impl IntoIterator<Item = Option<f64>>) -> Vec<(f64, f64)> {
    r.series
        .t_s
        .iter()
        .zip(ys)
        .map(|(&t, y)| (t, y.unwrap_or(f64::NAN)))
        .collect()
}

fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Line {
    Line {
        label: label.into(),
        points,
        band: None,
    }
}

/// Latency where the window had successes: elsewhere a gap, never a zero.
fn latency<'a>(r: &'a RunResult, v: &'a [f64]) -> impl Iterator<Item = Option<f64>> + 'a {
    let succeeded = &r.series.succeeded;
    v.iter()
        .enumerate()
        .map(|(i, &ms)| (ms > 0.0 && succeeded.get(i).is_none_or(|&n| n > 0)).then_some(ms))
}

/// The gap note of latency charts: a window without successes has no latency.
const NO_SUCCESSES: &str = "no successes";

/// More runs than this are drawn as small multiples rather than overlaid.
const OVERLAID_RUNS: usize = 4;

/// Counts per window as per-second rates.
fn rate<'a>(r: &RunResult, counts: &'a [u64]) -> impl Iterator<Item = Option<f64>> + 'a {
    let w = r.series.window_s;
    counts.iter().map(move |&n| (w > 0.0).then(|| n as f64 / w))
}

/// Retry amplification of windows that had offered load (else it is 0/0).
fn amplification(r: &RunResult) -> impl Iterator<Item = Option<f64>> + '_ {
    let s = &r.series;
    s.retry_amplification
        .iter()
        .zip(&s.offered)
        .map(|(&a, &n)| (n > 0).then_some(a))
}

fn cdf(r: &RunResult, label: impl Into<String>) -> Line {
    // (fraction, ms) -> x = ms, y = fraction.
    let points = r
        .series
        .latency_cdf
        .iter()
        .map(|&(q, ms)| (ms, q))
        .collect();
    line(label, points)
}

/// Queue-depth lines: a log axis when the range is huge (a metastable queue of thousands
/// beside idle ones), with zeros raised to [`QUEUE_FLOOR`] so they stay on the chart.
fn queue_chart(
    name: &str,
    title: &str,
    mut lines: Vec<Line>,
    shades: Vec<Shade>,
    x_span: (f64, f64),
    panels: bool,
) -> Chart {
    let max = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    // Over four decades above the floor: a linear axis would flatten everything but the peak.
    let log = max / QUEUE_FLOOR > 1e4;
    if log {
        for l in &mut lines {
            // Only finite values: f64::max would turn a NaN gap into the floor.
            for p in l.points.iter_mut().filter(|p| p.1.is_finite()) {
                p.1 = p.1.max(QUEUE_FLOOR);
            }
        }
    }
    let y_label = if log {
        "mean queue depth, requests (log; below 0.01 drawn at 0.01)"
    } else {
        "mean queue depth, requests"
    };
    xy_chart(&XyChart {
        name,
        title,
        x_label: TIME,
        x_span: Some(x_span),
        y_label,
        lines,
        log_y: log,
        y_from_zero: true,
        shades,
        panels,
        ..XyChart::default()
    })
}

/// Charts of one run: `latency`, `load`, `amplification`, `latency_cdf`, `queue_depth`.
pub fn run_charts(r: &RunResult) -> Vec<Chart> {
    collect(|each| each_run_chart(r, each))
}

/// The charts `draw` hands to `each` one at a time, gathered.
fn collect(
    draw: impl FnOnce(&mut dyn FnMut(Chart) -> Result<(), Infallible>) -> Result<(), Infallible>,
) -> Vec<Chart> {
    let mut charts = Vec::new();
    let Ok(()) = draw(&mut |c| {
        charts.push(c);
        Ok(())
    });
    charts
}

/// [`run_charts`], each handed to `each` as soon as it is drawn: a long run's charts are
/// large (SVG text of every window), so a writer keeps only the one it writes.
pub fn each_run_chart<E>(
    r: &RunResult,
    each: &mut dyn FnMut(Chart) -> Result<(), E>,
) -> Result<(), E> {
    let s = &r.series;
    let who = format!("{} (seed {})", run_label(r), r.seed);
    let faults = shades(r);
    each(xy_chart(&XyChart {
        name: "latency",
        title: &format!("{who}: latency of successful requests"),
        x_label: TIME,
        x_span: Some(span(std::slice::from_ref(r))),
        y_label: "latency per window, ms (log scale)",
        lines: vec![
            line("p50", over_time(r, latency(r, &s.latency_p50_ms))),
            line("p99", over_time(r, latency(r, &s.latency_p99_ms))),
            line("p99.9", over_time(r, latency(r, &s.latency_p999_ms))),
        ],
        log_y: true,
        gap_note: Some(NO_SUCCESSES),
        shades: faults.clone(),
        ..XyChart::default()
    }))?;
    each(xy_chart(&XyChart {
        name: "load",
        title: &format!("{who}: offered load, goodput, degraded answers and failures"),
        x_label: TIME,
        x_span: Some(span(std::slice::from_ref(r))),
        y_label: "requests/s",
        lines: vec![
            line("offered", over_time(r, rate(r, &s.offered))),
            line(
                "goodput",
                over_time(r, s.goodput_rps.iter().map(|&g| Some(g))),
            ),
            line("degraded", over_time(r, rate(r, &s.degraded))),
            line("failed", over_time(r, rate(r, &s.failed))),
        ],
        y_from_zero: true,
        shades: faults.clone(),
        ..XyChart::default()
    }))?;
    each(xy_chart(&XyChart {
        name: "amplification",
        title: &format!("{who}: retry amplification"),
        x_label: TIME,
        x_span: Some(span(std::slice::from_ref(r))),
        y_label: "attempts / attempts without retries",
        lines: vec![line("retry amplification", over_time(r, amplification(r)))],
        y_from_zero: true,
        shades: faults.clone(),
        ..XyChart::default()
    }))?;
    each(xy_chart(&XyChart {
        name: "latency_cdf",
        title: &format!("{who}: latency distribution of successful requests"),
        x_label: "latency, ms (log scale)",
        y_label: "percentile (tail-stretched scale)",
        lines: vec![cdf(r, "all successful requests")],
        log_x: true,
        quantile_y: true,
        ..XyChart::default()
    }))?;
    let queues = s
        .services
        .iter()
        .map(|svc| {
            let depth = svc.queue_depth_mean.iter().map(|&q| Some(q));
            line(svc.name.clone(), over_time(r, depth))
        })
        .collect();
    each(queue_chart(
        "queue_depth",
        &format!("{who}: queue depth per service"),
        queues,
        faults,
        span(std::slice::from_ref(r)),
        false,
    ))
}

/// The same five charts for several runs, one line per run (p99 latency, goodput, retry
/// amplification, latency distribution, queue depth summed over all services), and a
/// sixth, consumer lag, when a run has a broker; more than
/// four runs go into small multiples, one panel per run. Fault windows are the first run's.
pub fn compare_charts(runs: &[RunResult]) -> Vec<Chart> {
    collect(|each| each_compare_chart(runs, each))
}

/// [`compare_charts`], each handed to `each` as soon as it is drawn (as [`each_run_chart`]).
pub fn each_compare_chart<E>(
    runs: &[RunResult],
    each: &mut dyn FnMut(Chart) -> Result<(), E>,
) -> Result<(), E> {
    let labels = run_labels(runs);
    let panels = runs.len() > OVERLAID_RUNS;
    let faults = runs.first().map(shades).unwrap_or_default();
    let per_run = |f: &dyn Fn(&RunResult) -> Vec<(f64, f64)>| -> Vec<Line> {
        runs.iter()
            .zip(&labels)
            .map(|(r, l)| line(l.clone(), f(r)))
            .collect()
    };
    let over_time_chart = |name, title, y_label, lines, log_y, gap_note| {
        xy_chart(&XyChart {
            name,
            title,
            x_label: TIME,
            x_span: Some(span(runs)),
            y_label,
            lines,
            log_y,
            y_from_zero: true,
            shades: faults.clone(),
            panels,
            gap_note,
            ..XyChart::default()
        })
    };
    let queue_sum = |r: &RunResult| {
        let total = (0..r.series.t_s.len()).map(|i| {
            let depths = r.series.services.iter();
            Some(
                depths
                    .filter_map(|s| s.queue_depth_mean.get(i))
                    .sum::<f64>(),
            )
        });
        over_time(r, total)
    };
    each(over_time_chart(
        "latency",
        "p99 latency of successful requests, by run",
        "p99 latency per window, ms (log scale)",
        per_run(&|r| over_time(r, latency(r, &r.series.latency_p99_ms))),
        true,
        Some(NO_SUCCESSES),
    ))?;
    each(over_time_chart(
        "load",
        "goodput, by run",
        "successful requests/s",
        per_run(&|r| over_time(r, r.series.goodput_rps.iter().map(|&g| Some(g)))),
        false,
        None,
    ))?;
    each(over_time_chart(
        "amplification",
        "retry amplification, by run",
        "attempts / attempts without retries",
        per_run(&|r| over_time(r, amplification(r))),
        false,
        None,
    ))?;
    each(xy_chart(&XyChart {
        name: "latency_cdf",
        title: "latency distribution of successful requests, by run",
        x_label: "latency, ms (log scale)",
        y_label: "percentile (tail-stretched scale)",
        lines: runs.iter().zip(&labels).map(|(r, l)| cdf(r, l)).collect(),
        log_x: true,
        quantile_y: true,
        panels,
        ..XyChart::default()
    }))?;
    each(queue_chart(
        "queue_depth",
        "queue depth summed over all services, by run",
        per_run(&queue_sum),
        faults.clone(),
        span(runs),
        panels,
    ))?;
    // Runs with a broker: how far its consumers are behind, the number a work queue fails on.
    if runs.iter().any(|r| !r.brokers.is_empty()) {
        each(over_time_chart(
            "consumer_lag",
            "consumer lag (oldest waiting message, most lagging group), by run",
            "seconds",
            per_run(&|r| over_time(r, consumer_lag(r))),
            false,
            None,
        ))?;
    }
    Ok(())
}

/// Per window, the largest consumer lag over every broker's groups (none without brokers).
fn consumer_lag(r: &RunResult) -> impl Iterator<Item = Option<f64>> + '_ {
    (0..r.series.t_s.len()).map(|i| {
        let groups = r.brokers.iter().flat_map(|b| &b.groups);
        groups
            .filter_map(|g| g.series.lag_s.get(i).copied())
            .reduce(f64::max)
    })
}

#[cfg(test)]
mod tests;
