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

/// Pixels of exactly `color` in a chart's PNG.
fn pixels_of(png_bytes: &[u8], color: plotters::style::RGBColor) -> usize {
    let mut reader = png::Decoder::new(png_bytes).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf[..info.buffer_size()]
        .chunks_exact(3)
        .filter(|p| *p == [color.0, color.1, color.2])
        .count()
}

#[test]
fn many_runs_go_into_panels_where_none_hides_another() {
    // Nine runs, the seventh and eighth identical (as the ladder's v0.7 and v0.8 are):
    // overlaid, the eighth is drawn exactly over the seventh.
    let mut runs: Vec<_> = (1..=9)
        .map(|i| testing::run(&format!("v0.{i}"), 300, i % 2 == 1))
        .collect();
    runs[7] = sim_models::RunResult {
        replay: runs[7].replay.clone(),
        ..runs[6].clone()
    };
    let seventh = draw::palette(6);
    for c in compare_charts(&runs) {
        // Its swatch is under 100 pixels (all that is left of it overlaid); its line
        // across a panel is over 200.
        let seen = pixels_of(&c.png, seventh);
        assert!(seen > 200, "{}: v0.7 shows {seen} pixels", c.name);
        assert!(c.svg.contains("other panels"), "{}", c.name);
    }
    // Four runs stay overlaid, one legend entry each.
    for c in compare_charts(&runs[..4]) {
        assert!(!c.svg.contains("other panels"), "{}", c.name);
    }
}

#[test]
fn the_load_chart_draws_degraded_answers() {
    let mut r = testing::run("v1.0", 300, false);
    r.series.degraded = r
        .series
        .t_s
        .iter()
        .map(|&t| if t > 150.0 { 40 } else { 0 })
        .collect();
    let load = &run_charts(&r)[1];
    assert!(load.svg.contains("\ndegraded\n"), "a legend entry");
    // Its line: 150 windows at 40/s, well apart from the others.
    assert!(pixels_of(&load.png, draw::palette(2)) > 400);
}

#[test]
fn latency_charts_say_where_no_request_succeeded() {
    let mut r = testing::run("v0.1", 300, false);
    let none = 100..160;
    for i in none.clone() {
        r.series.succeeded[i] = 0;
        r.series.goodput_rps[i] = 0.0;
    }
    // A window without successes is a gap, not a latency of zero or of whatever was left.
    let points = over_time(&r, latency(&r, &r.series.latency_p99_ms));
    assert!(none.clone().all(|i| points[i].1.is_nan()));
    assert!(points[99].1 > 0.0 && points[160].1 > 0.0);
    let charts = run_charts(&r);
    let compared = compare_charts(&[r.clone(), testing::run("v0.2", 300, false)]);
    for c in [&charts[0], &compared[0]] {
        assert!(c.svg.contains(NO_SUCCESSES), "{}: the note", c.name);
    }
    // No note where every window had successes.
    let fine = testing::run("v0.2", 300, false);
    assert!(!run_charts(&fine)[0].svg.contains(NO_SUCCESSES));
}

#[test]
fn markers_and_strokes_keep_many_lines_apart() {
    let lines: Vec<Line> = (0..6)
        .map(|k| Line {
            label: format!("line {k}"),
            points: (0..8).map(|i| (f64::from(i), f64::from(i * k))).collect(),
            band: None,
        })
        .collect();
    let spec = XyChart {
        name: "sweep",
        title: "six lines",
        lines,
        ..XyChart::default()
    };
    let plain = xy_chart(&spec);
    let marked = xy_chart(&XyChart {
        markers: true,
        ..spec.clone()
    });
    // A marker on each of the 48 points and on each of the 6 legend swatches.
    let polygons = |c: &Chart| c.svg.matches("<polygon").count();
    assert_eq!(polygons(&marked) - polygons(&plain), 48 + 6);
    // Lines 5 and 6 are dashed: drawn as many short strokes, not one polyline each.
    let strokes = plain.svg.matches("<polyline").count();
    assert!(strokes > 6 + 20, "{strokes} polylines");
}

#[test]
fn compare_charts_add_consumer_lag_when_a_run_has_a_broker() {
    let plain = testing::run("v0.1", 60, false);
    let mut queued = testing::run("v0.2", 60, false);
    let windows = queued.series.t_s.len();
    queued.brokers.push(sim_models::result::BrokerResult {
        name: "jobs".into(),
        groups: vec![sim_models::result::BrokerGroupResult {
            series: sim_models::result::BrokerGroupSeries {
                lag_s: (0..windows).map(|i| i as f64 * 0.5).collect(),
                ..Default::default()
            },
            ..Default::default()
        }],
        ..Default::default()
    });
    let without = compare_charts(&[plain.clone(), plain.clone()]);
    assert!(without.iter().all(|c| c.name != "consumer_lag"));
    let with = compare_charts(&[plain, queued]);
    let lag = with
        .iter()
        .find(|c| c.name == "consumer_lag")
        .expect("a lag chart");
    assert_drawn(lag);
}
