use super::*;
use crate::testing;

const NAMES: [&str; 5] = [
    "latency",
    "load",
    "amplification",
    "latency_cdf",
    "queue_depth",
];

/// A chart a reader can use: a 1200 x 800 PNG with text, lines and shading in it (not a
/// blank canvas), and an SVG with its title as text.
fn assert_drawn(c: &Chart) {
    let check = check_png(&c.png).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    assert_eq!((check.width, check.height), (1200, 800), "{}", c.name);
    assert!(
        check.colors > 50,
        "{}: only {} colours",
        c.name,
        check.colors
    );
    assert!(check.ink > 0.02, "{}: only {:.3} ink", c.name, check.ink);
    assert!(c.svg.starts_with("<svg"), "{}", c.name);
    assert!(
        c.svg.contains("<text") && c.svg.contains(&c.title),
        "{}: title not in the SVG",
        c.name
    );
}

#[test]
fn run_charts_are_drawn() {
    let charts = run_charts(&testing::run("v0.6", 600, false));
    let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, NAMES);
    for c in &charts {
        assert_drawn(c);
    }
    // Legends and fault labels are text too.
    assert!(charts[0].svg.contains("p99.9") && charts[0].svg.contains("fault window"));
    assert!(charts[0].svg.contains("slowdown x100 db"));
    // The queue of thousands beside idle ones goes on a log axis, zeros at the floor.
    assert!(charts[4].svg.contains("below 0.01 drawn at 0.01"));
}

#[test]
fn compare_charts_have_one_line_per_run() {
    let ladder: Vec<_> = (1..=9)
        .map(|i| testing::run(&format!("v0.{i}"), 300, i % 2 == 1))
        .collect();
    let charts = compare_charts(&ladder);
    let names: Vec<&str> = charts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, NAMES);
    for c in &charts {
        assert_drawn(c);
        for i in 1..=9 {
            assert!(c.svg.contains(&format!("\nv0.{i}\n")), "{}: v0.{i}", c.name);
        }
    }
}

#[test]
fn same_input_same_bytes() {
    let runs = [
        testing::run("v0.1", 120, true),
        testing::run("v0.2", 120, false),
    ];
    assert_eq!(run_charts(&runs[0]), run_charts(&runs[0]));
    assert_eq!(compare_charts(&runs), compare_charts(&runs));
}

#[test]
fn empty_and_broken_data_draw_without_panicking() {
    let empty = testing::run("v0.1", 0, false);
    for c in run_charts(&empty)
        .iter()
        .chain(&compare_charts(std::slice::from_ref(&empty)))
    {
        assert_drawn(c);
        assert!(c.svg.contains("no data"), "{}", c.name);
    }
    for c in compare_charts(&[]) {
        assert_drawn(&c);
    }
    assert!(check_png(b"not a png").is_err());
    // NaN, infinities, zeros on log axes, one-point lines, flat lines.
    let mut odd = testing::run("v0.1", 3, false);
    odd.series.latency_p50_ms = vec![f64::NAN, 0.0, f64::INFINITY];
    odd.series.goodput_rps = vec![5.0, 5.0, 5.0];
    odd.series.window_s = 0.0;
    odd.series.latency_cdf = vec![(0.5, 1.0), (1.0, 2.0), (0.9, f64::NAN)];
    odd.series.retry_amplification = vec![-f64::MAX, f64::MAX, 1.0];
    for c in run_charts(&odd) {
        assert_drawn(&c);
    }
}

#[test]
fn xy_chart_draws_bands_and_log_axes() {
    let points: Vec<(f64, f64)> = (1..=20).map(|i| (f64::from(i), f64::from(i * i))).collect();
    let band = points.iter().map(|&(x, y)| (x, y * 0.8, y * 1.2)).collect();
    let chart = xy_chart(&XyChart {
        name: "sweep",
        title: "goodput vs retry budget",
        x_label: "retry budget, %",
        y_label: "goodput, requests/s",
        lines: vec![Line {
            label: "mean, 95% CI".to_string(),
            points,
            band: Some(band),
        }],
        log_x: true,
        log_y: true,
        ..XyChart::default()
    });
    assert_drawn(&chart);
    assert!(chart.svg.contains("<polygon"));
}

#[test]
fn labels_are_file_stems() {
    let r = testing::run("v0.6", 10, false);
    assert_eq!(run_label(&r), "v0.6");
    let twice = [r.clone(), sim_models::RunResult { seed: 7, ..r }];
    assert_eq!(run_labels(&twice), ["v0.6 seed 42", "v0.6 seed 7"]);
}

/// Writes the charts of saved runs to /tmp/charts for a person to look at:
/// `CHARTS_FROM=/tmp/v01.json,/tmp/v06.json cargo test -p reports --release -- --ignored`
#[test]
#[ignore = "writes files; run by hand to look at the charts"]
#[allow(clippy::disallowed_methods)] // test-only IO, outside the library
fn write_charts_for_viewing() {
    let out = std::path::Path::new("/tmp/charts");
    std::fs::create_dir_all(out).unwrap();
    let runs: Vec<sim_models::RunResult> = match std::env::var("CHARTS_FROM") {
        Ok(files) => files
            .split(',')
            .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
            .collect(),
        Err(_) => vec![
            testing::run("v0.1", 600, true),
            testing::run("v0.6", 600, false),
        ],
    };
    let mut all: Vec<(String, Chart)> = Vec::new();
    for r in &runs {
        all.extend(run_charts(r).into_iter().map(|c| (run_label(r), c)));
    }
    all.extend(
        compare_charts(&runs)
            .into_iter()
            .map(|c| ("compare".into(), c)),
    );
    let empty = testing::run("v0.1", 0, false);
    all.extend(run_charts(&empty).into_iter().map(|c| ("empty".into(), c)));
    for (prefix, c) in all {
        std::fs::write(out.join(format!("{prefix}_{}.png", c.name)), &c.png).unwrap();
        std::fs::write(out.join(format!("{prefix}_{}.svg", c.name)), &c.svg).unwrap();
    }
    let md = crate::report_md(&runs, &compare_charts(&runs));
    std::fs::write(out.join("report.md"), md).unwrap();
}
