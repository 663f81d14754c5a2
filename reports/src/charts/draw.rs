//! One x/y chart, drawn by the same code into an RGB buffer (for PNG) and into SVG text.
//!
//! Axes are always linear plotters coordinates over *transformed* values (log10, or the
//! quantile tail -log10(1 - q)) with tick positions and labels chosen here: one code path
//! for every scale, and ticks at 1, 10, 100 or p90, p99, p99.9 rather than wherever
//! plotters' linear key points happen to fall.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::FontTransform;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Chart, Line, XyChart};

pub(crate) const WIDTH: u32 = 1200;
pub(crate) const HEIGHT: u32 = 800;
/// The legend column on the right: a legend inside the plot would hide data.
const LEGEND_W: u32 = 230;
const FONT: &str = "sans-serif";

/// matplotlib's tab10: ten hues that stay distinguishable for the ladder's nine runs.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// Fault windows: a light translucent red, so lines drawn over it keep their colour.
const SHADE: RGBAColor = RGBAColor(220, 60, 60, 0.13);
const SHADE_TEXT: RGBColor = RGBColor(150, 40, 40);
/// Actions rules took: green, so that what was done reads apart from what went wrong.
const ACTION_SHADE: RGBAColor = RGBAColor(40, 160, 80, 0.13);
const ACTION_TEXT: RGBColor = RGBColor(30, 110, 55);
const GRID: RGBColor = RGBColor(225, 225, 225);
const MUTED: RGBColor = RGBColor(110, 110, 110);
/// The other lines behind the highlighted one in a panel.
const CONTEXT: RGBColor = RGBColor(200, 200, 200);

/// The bundled DejaVu Sans, so text renders on machines without system fonts (and the
/// same glyphs everywhere: part of "same input, same bytes").
static FONT_BYTES: &[u8] = include_bytes!("../../fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // plotters asks ab_glyph for the family by name; "sans-serif" is what the SVG
        // backend writes too, so viewers substitute a similar face.
        let ok = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok();
        debug_assert!(ok, "the bundled font parses");
    });
}

pub(crate) fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// How data values map to axis positions.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scale {
    Linear,
    Log,
    /// A fraction q in [0, 1) at -log10(1 - q): p90 at 1, p99 at 2, p99.9 at 3.
    Quantile,
}

impl Scale {
    /// The axis position of a value, or None where this scale cannot show it (NaN,
    /// infinities, non-positive values on a log axis, q >= 1).
    fn fwd(self, v: f64) -> Option<f64> {
        let t = match self {
            _ if !v.is_finite() => return None,
            Scale::Linear => v,
            Scale::Log if v > 0.0 => v.log10(),
            Scale::Quantile if (0.0..1.0).contains(&v) => -(1.0 - v).log10(),
            _ => return None,
        };
        t.is_finite().then_some(t)
    }
}

/// One axis: its range and ticks in transformed space, and how to label a tick.
#[derive(Clone)]
struct Axis {
    scale: Scale,
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    minor: Vec<f64>,
    /// Decimals of linear tick labels (from the tick step).
    decimals: usize,
}

impl Axis {
    /// An axis covering `values` (already transformed), or a default range without any.
    /// `zero`: a linear axis starts at zero; `headroom`: room above the data (y axes).
    fn fit(scale: Scale, values: &[f64], zero: bool, headroom: bool) -> Axis {
        let (mut lo, mut hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        if !lo.is_finite() || !hi.is_finite() {
            (lo, hi) = match scale {
                Scale::Linear => (0.0, 1.0),
                Scale::Log => (0.0, 1.0),
                Scale::Quantile => (0.0, 3.0),
            };
        }
        match scale {
            Scale::Linear => {
                if zero {
                    lo = lo.min(0.0);
                    hi = hi.max(0.0);
                }
                if hi - lo < 1e-12 {
                    let pad = (hi.abs() * 0.1).max(1.0);
                    (lo, hi) = if zero && lo == 0.0 {
                        (0.0, pad)
                    } else {
                        (lo - pad, hi + pad)
                    };
                }
                if headroom {
                    // Room for the fault labels drawn along the top.
                    let span = hi - lo;
                    hi += 0.08 * span;
                    if !(zero && lo == 0.0) {
                        lo -= 0.03 * span;
                    }
                }
                let step = nice_step((hi - lo) / if headroom { 8.0 } else { 10.0 });
                let first = (lo / step).ceil() as i64;
                let last = (hi / step).floor() as i64;
                // ~10 ticks; the guard is for ranges near f64::MAX, where `as` saturates.
                let ticks = if last - first <= 50 {
                    (first..=last).map(|k| k as f64 * step).collect()
                } else {
                    Vec::new()
                };
                let decimals = (-step.log10().floor()).clamp(0.0, 9.0) as usize;
                Axis {
                    scale,
                    lo,
                    hi,
                    ticks,
                    minor: Vec::new(),
                    decimals,
                }
            }
            Scale::Log => {
                // Whole decades: ticks at powers of ten, never at 10^0.5.
                lo = lo.floor();
                hi = hi.ceil();
                if hi <= lo {
                    hi = lo + 1.0;
                }
                // Keep data at a whole decade (a floor, a ceiling) off the axis lines, and
                // room at the top of a y axis for fault labels.
                let decades = hi - lo;
                let top = if headroom { 0.05 } else { 0.02 };
                (lo, hi) = (lo - 0.02 * decades, hi + top * decades);
                let (first, last) = (lo.ceil() as i64, hi.floor() as i64);
                let every = (decades as i64 + 7) / 8; // at most ~8 labelled decades
                let mut ticks = Vec::new();
                let mut minor = Vec::new();
                for k in first - 1..=last {
                    let kf = k as f64;
                    if k >= first && (k - first) % every == 0 {
                        ticks.push(kf);
                    }
                    for m in 2..=9 {
                        let t = kf + f64::from(m).log10();
                        if t > lo && t < hi {
                            // Few decades: label 2 and 5 too, or the axis has 2 labels.
                            if decades <= 2.0 && (m == 2 || m == 5) {
                                ticks.push(t);
                            } else {
                                minor.push(t);
                            }
                        }
                    }
                }
                Axis {
                    scale,
                    lo,
                    hi,
                    ticks,
                    minor,
                    decimals: 0,
                }
            }
            Scale::Quantile => {
                lo = lo.min(0.0).floor();
                hi = hi.max(2.0) + 0.15;
                let mut ticks = vec![0.0, 2f64.log10()]; // p0, p50
                ticks.extend((1..=hi.floor() as i64).map(|k| k as f64));
                Axis {
                    scale,
                    lo,
                    hi,
                    ticks,
                    minor: Vec::new(),
                    decimals: 0,
                }
            }
        }
    }

    /// The same axis with at most `max` labelled ticks (every k-th), for a small panel;
    /// percentile ticks stay (every one is a percentile a reader looks for).
    fn thinned(&self, max: usize) -> Axis {
        let every = match self.scale {
            Scale::Quantile => 1,
            _ => self.ticks.len().div_ceil(max.max(1)).max(1),
        };
        Axis {
            ticks: self.ticks.iter().step_by(every).copied().collect(),
            ..self.clone()
        }
    }

    fn label(&self, t: f64) -> String {
        match self.scale {
            Scale::Linear => number(t, self.decimals),
            Scale::Log => {
                let v = 10f64.powf(t);
                // Decimals enough for the leading digit: 0.002, 0.05, 20, 5000.
                number(v, (-t.floor()).max(0.0) as usize)
            }
            Scale::Quantile => {
                let pct = 100.0 - 10f64.powf(2.0 - t);
                let decimals = (t.round() - 2.0).max(0.0) as usize;
                format!("p{pct:.decimals$}")
            }
        }
    }

    fn coord(&self) -> Ticked {
        Ticked {
            lo: self.lo,
            hi: self.hi,
            ticks: self.ticks.clone(),
            minor: self.minor.clone(),
        }
    }
}

/// A linear plotters coordinate with our ticks (labelled) and minor grid lines (plotters'
/// `WithKeyPoints` would do, but its f64 version cannot take a label formatter).
#[derive(Clone)]
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        // `fit` guarantees hi > lo.
        let frac = (v - self.lo) / (self.hi - self.lo);
        limit.0 + (f64::from(limit.1 - limit.0) * frac).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// 1, 2 or 5 times a power of ten, near `raw`.
fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    p * if m < 1.5 {
        1.0
    } else if m < 3.5 {
        2.0
    } else if m < 7.5 {
        5.0
    } else {
        10.0
    }
}

/// A tick label: fixed decimals, thousands separated by commas.
pub(crate) fn number(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// Runs of consecutive drawable points: a gap (NaN, 0 on a log axis) breaks the line
/// rather than bridging windows that had no data.
fn segments<P, T>(points: &[P], map: impl Fn(&P) -> Option<T>) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = Vec::new();
    let mut run = Vec::new();
    for p in points {
        match map(p) {
            Some(t) => run.push(t),
            None if !run.is_empty() => out.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

type Segs = (Vec<Vec<(f64, f64)>>, Vec<Vec<(f64, f64, f64)>>);

/// Lines after the fourth are told apart by their stroke too, not by colour alone:
/// dashed, then dotted (dash, gap in pixels).
fn dash(i: usize) -> Option<(u32, u32)> {
    match i / 4 {
        0 => None,
        1 => Some((12, 6)),
        _ => Some((3, 4)),
    }
}

/// The point marker of line `i`: circle, square, triangle, diamond, cross, then again;
/// each a polygon in pixels around the point (one element type for every shape).
fn marker(i: usize) -> Vec<(i32, i32)> {
    match i % 5 {
        0 => (0..12)
            .map(|k| {
                let a = f64::from(k) * std::f64::consts::PI / 6.0;
                (
                    (4.5 * a.cos()).round() as i32,
                    (4.5 * a.sin()).round() as i32,
                )
            })
            .collect(),
        1 => vec![(-4, -4), (4, -4), (4, 4), (-4, 4)],
        2 => vec![(0, -5), (5, 4), (-5, 4)],
        3 => vec![(0, -5), (5, 0), (0, 5), (-5, 0)],
        _ => vec![
            (-5, -3),
            (-3, -5),
            (0, -2),
            (3, -5),
            (5, -3),
            (2, 0),
            (5, 3),
            (3, 5),
            (0, 2),
            (-3, 5),
            (-5, 3),
            (-2, 0),
        ],
    }
}

/// What every panel of a chart shares: the scales, the lines transformed and split at
/// gaps, where each line has gaps, and the axes.
struct Frame {
    xs: Scale,
    segs: Vec<Segs>,
    /// Per line, the x ranges (transformed) its gaps leave empty: from the last point
    /// drawn before a gap to the first one after it. Only when the chart says what a gap
    /// means (`gap_note`).
    gaps: Vec<Vec<(f64, f64)>>,
    x_axis: Axis,
    y_axis: Axis,
    empty: bool,
}

impl Frame {
    fn new(spec: &XyChart) -> Frame {
        let xs = if spec.log_x {
            Scale::Log
        } else {
            Scale::Linear
        };
        let ys = if spec.quantile_y {
            Scale::Quantile
        } else if spec.log_y {
            Scale::Log
        } else {
            Scale::Linear
        };
        let segs: Vec<Segs> = spec
            .lines
            .iter()
            .map(|l: &Line| {
                let line = segments(&l.points, |&(x, y)| Some((xs.fwd(x)?, ys.fwd(y)?)));
                let band = l.band.as_deref().map_or_else(Vec::new, |b| {
                    segments(b, |&(x, lo, hi)| {
                        Some((xs.fwd(x)?, ys.fwd(lo)?, ys.fwd(hi)?))
                    })
                });
                (line, band)
            })
            .collect();
        let gaps = spec
            .lines
            .iter()
            .map(|l| match spec.gap_note {
                Some(_) => gap_ranges(&l.points, xs, ys),
                None => Vec::new(),
            })
            .collect();
        let all_x: Vec<f64> = segs
            .iter()
            .flat_map(|(l, b)| {
                let lx = l.iter().flatten().map(|p| p.0);
                lx.chain(b.iter().flatten().map(|p| p.0))
            })
            .collect();
        let all_y: Vec<f64> = segs
            .iter()
            .flat_map(|(l, b)| {
                let ly = l.iter().flatten().map(|p| p.1);
                ly.chain(b.iter().flatten().flat_map(|p| [p.1, p.2]))
            })
            .collect();
        let span = spec
            .x_span
            .iter()
            .flat_map(|&(a, b)| [xs.fwd(a), xs.fwd(b)]);
        let x_values: Vec<f64> = all_x.iter().copied().chain(span.flatten()).collect();
        Frame {
            xs,
            segs,
            gaps,
            x_axis: Axis::fit(xs, &x_values, false, false),
            y_axis: Axis::fit(ys, &all_y, spec.y_from_zero, true),
            empty: all_y.is_empty(),
        }
    }
}

/// The x ranges a line leaves empty where its points cannot be drawn (see [`Frame::gaps`]).
fn gap_ranges(points: &[(f64, f64)], xs: Scale, ys: Scale) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut last_drawn: Option<f64> = None;
    let mut open: Option<(f64, f64)> = None; // (start, last gap x so far)
    for &(x, y) in points {
        let Some(tx) = xs.fwd(x) else { continue };
        if ys.fwd(y).is_some() {
            if let Some((start, _)) = open.take() {
                out.push((start, tx));
            }
            last_drawn = Some(tx);
        } else {
            let start = open.map_or(last_drawn.unwrap_or(tx), |o| o.0);
            open = Some((start, tx));
        }
    }
    out.extend(open);
    out
}

/// Render a chart to PNG bytes and SVG text.
pub(crate) fn render(spec: &XyChart) -> Chart {
    register_font();
    let frame = Frame::new(spec);
    let mut rgb = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (WIDTH, HEIGHT)).into_drawing_area();
        let drawn = draw(&root, spec, &frame).and_then(|()| root.present());
        check_drawn(spec, &drawn);
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let drawn = draw(&root, spec, &frame).and_then(|()| root.present());
        check_drawn(spec, &drawn);
    }
    Chart {
        name: spec.name.to_string(),
        title: spec.title.to_string(),
        png: super::bitmap::encode(&rgb, WIDTH, HEIGHT),
        svg,
    }
}

/// Drawing in memory fails only without the font (a text error). A chart missing some text
/// beats no charts at all, so a release build carries on; the unit tests (often built in
/// release mode, hence not `debug_assert`) insist.
fn check_drawn<E: std::fmt::Debug>(spec: &XyChart, drawn: &Result<(), E>) {
    if cfg!(test) {
        assert!(drawn.is_ok(), "chart {}: {drawn:?}", spec.name);
    }
}

type Drawn<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &XyChart,
    frame: &Frame,
) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let body = root
        .margin(12, 4, 4, 4)
        .titled(spec.title, (FONT, 28).into_font().color(&BLACK))?;
    let (plot, legend) = body.split_horizontally(WIDTH - LEGEND_W);
    let panels = spec.panels && spec.lines.len() > 1;
    let faults = if panels {
        draw_panels(&plot, spec, frame)?
    } else {
        draw_plot(&plot, spec, frame, None)?
    };
    if frame.empty {
        let (w, h) = plot.dim_in_pixel();
        let style = (FONT, 32)
            .into_font()
            .color(&MUTED)
            .pos(Pos::new(HPos::Center, VPos::Center));
        plot.draw_text("no data", &style, (w as i32 / 2, h as i32 / 2))?;
    }
    draw_legend(&legend, spec, frame, faults, panels)
}

/// Small multiples: one panel per line on the same axes, that line in colour over the
/// others in grey, so no line hides another. Returns whether fault windows were shaded.
fn draw_panels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    spec: &XyChart,
    frame: &Frame,
) -> Result<bool, DrawingAreaErrorKind<DB::ErrorType>> {
    let n = spec.lines.len();
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let (w, h) = area.dim_in_pixel();
    // The axis descriptions once, for all panels.
    let (left, rest) = area.split_horizontally(30);
    let (grid, bottom) = rest.split_vertically(h.saturating_sub(36));
    let desc = (FONT, 20).into_font().color(&BLACK);
    let y_desc = desc
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Center, VPos::Top));
    left.draw_text(spec.y_label, &y_desc, (0, (h as i32 - 36) / 2))?;
    let x_desc = desc.pos(Pos::new(HPos::Center, VPos::Center));
    bottom.draw_text(spec.x_label, &x_desc, ((w as i32 - 30) / 2, 18))?;
    let title = (FONT, 16)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let mut faults = false;
    for (i, cell) in grid.split_evenly((rows, cols)).iter().enumerate().take(n) {
        let (head, body) = cell.split_vertically(24);
        let (cw, _) = head.dim_in_pixel();
        head.draw(&PathElement::new(
            vec![(62, 13), (84, 13)],
            palette(i).stroke_width(3),
        ))?;
        let label = fit_text(&head, &spec.lines[i].label, &title, cw as i32 - 100)?;
        head.draw_text(&label, &title, (90, 13))?;
        faults |= draw_plot(&body, spec, frame, Some(i))?;
    }
    Ok(faults)
}

/// One plot: mesh, fault windows, bands, lines, markers and gap strips. With `highlight`,
/// a small panel in which that line is drawn over the others in grey. Returns whether
/// fault windows were shaded.
fn draw_plot<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    spec: &XyChart,
    frame: &Frame,
    highlight: Option<usize>,
) -> Result<bool, DrawingAreaErrorKind<DB::ErrorType>> {
    let small = highlight.is_some();
    let (x_axis, y_axis) = if small {
        (frame.x_axis.thinned(5), frame.y_axis.thinned(6))
    } else {
        (frame.x_axis.clone(), frame.y_axis.clone())
    };
    // Margins (left, right, top, bottom) and the label areas under and left of the plot.
    let (l, r, t, b, under, left) = if small {
        (4, 14, 4, 4, 24, 58)
    } else {
        (10, 20, 10, 10, 64, 100)
    };
    let mut chart = ChartBuilder::on(area)
        .margin_left(l)
        .margin_right(r)
        .margin_top(t)
        .margin_bottom(b)
        .x_label_area_size(under)
        .y_label_area_size(left)
        .build_cartesian_2d(x_axis.coord(), y_axis.coord())?;
    let x_fmt = |v: &f64| x_axis.label(*v);
    let y_fmt = |v: &f64| y_axis.label(*v);
    let mut mesh = chart.configure_mesh();
    mesh.label_style((FONT, if small { 12 } else { 16 }))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .bold_line_style(GRID)
        .light_line_style(RGBColor(242, 242, 242))
        .axis_style(MUTED);
    if !small {
        mesh.x_desc(spec.x_label)
            .y_desc(spec.y_label)
            .axis_desc_style((FONT, 20));
    }
    mesh.draw()?;

    // Fault windows first, under the data, clipped to the x range.
    let xs = frame.xs;
    let (y0, y1) = (y_axis.lo, y_axis.hi);
    let clip = |action: bool| -> Vec<(f64, f64, &str)> {
        spec.shades
            .iter()
            .filter(|s| s.action == action)
            .filter_map(|s| {
                let a = xs.fwd(s.start)?.max(x_axis.lo);
                let b = xs.fwd(s.end)?.min(x_axis.hi);
                (b > a).then_some((a, b, s.label.as_str()))
            })
            .collect()
    };
    let (faults, actions) = (clip(false), clip(true));
    chart.draw_series(
        faults
            .iter()
            .map(|&(a, b, _)| Rectangle::new([(a, y0), (b, y1)], SHADE.filled())),
    )?;
    chart.draw_series(
        actions
            .iter()
            .map(|&(a, b, _)| Rectangle::new([(a, y0), (b, y1)], ACTION_SHADE.filled())),
    )?;
    // Each fault's label at the top of its window and each action's at the bottom, unless
    // it would run into the next one of its kind.
    let size = if small { 12 } else { 14 };
    let right_edge = chart.backend_coord(&(x_axis.hi, y1)).0;
    for (spans, y, color, dy) in [
        (&faults, y1, SHADE_TEXT, 4),
        (&actions, y0, ACTION_TEXT, -(size + 4)),
    ] {
        let label_style = (FONT, size).into_font().color(&color);
        for (i, &(a, _, label)) in spans.iter().enumerate() {
            let left = chart.backend_coord(&(a, y)).0;
            let room = spans
                .get(i + 1)
                .map_or(right_edge, |n| chart.backend_coord(&(n.0, y)).0)
                - left;
            let (w, _) = area.estimate_text_size(label, &label_style)?;
            if !label.is_empty() && (w as i32) + 8 < room {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((a, y)) + Text::new(label.to_string(), (4, dy), &label_style),
                ))?;
            }
        }
    }
    let shades = [faults, actions].concat();

    // The highlighted line last, over the others.
    let order: Vec<usize> = match highlight {
        Some(h) => (0..frame.segs.len())
            .filter(|&i| i != h)
            .chain([h])
            .collect(),
        None => (0..frame.segs.len()).collect(),
    };
    for i in order {
        let (lines, bands) = &frame.segs[i];
        if highlight.is_some_and(|h| h != i) {
            for seg in lines {
                chart.draw_series(LineSeries::new(
                    seg.iter().copied(),
                    CONTEXT.stroke_width(1),
                ))?;
            }
            continue;
        }
        let color = palette(i);
        for band in bands {
            let polygon: Vec<(f64, f64)> = band
                .iter()
                .map(|p| (p.0, p.1))
                .chain(band.iter().rev().map(|p| (p.0, p.2)))
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(polygon, color.mix(0.18))))?;
        }
        // One pixel in a small panel: plotters joins wide polylines with mitres, which
        // shoot far out of the plot where a noisy line doubles back within a pixel.
        let stroke = color.stroke_width(if small { 1 } else { 2 });
        for seg in lines {
            match (seg.as_slice(), dash(i).filter(|_| !small)) {
                // A lone point would be invisible as a line.
                ([p], _) if !spec.markers => {
                    chart.draw_series(std::iter::once(Circle::new(*p, 3, color.filled())))?;
                }
                ([_], _) => {}
                (_, None) => {
                    chart.draw_series(LineSeries::new(seg.iter().copied(), stroke))?;
                }
                (_, Some((d, g))) => {
                    chart.draw_series(DashedLineSeries::new(seg.iter().copied(), d, g, stroke))?;
                }
            }
            if spec.markers {
                chart.draw_series(
                    seg.iter()
                        .map(|&p| EmptyElement::at(p) + Polygon::new(marker(i), color.filled())),
                )?;
            }
        }
    }

    // Gaps: a thin strip along the bottom where a line has no value, one row per distinct
    // set of gaps (in the line's colour, grey when several lines share it), and the note
    // once over the widest strip if it fits.
    if let Some(note) = spec.gap_note {
        let (_, ph) = chart.plotting_area().dim_in_pixel();
        let px = (y1 - y0) / f64::from(ph.max(1));
        let mut rows: Vec<(&[(f64, f64)], RGBColor)> = Vec::new();
        for (i, gaps) in frame.gaps.iter().enumerate() {
            if gaps.is_empty() || highlight.is_some_and(|h| h != i) {
                continue;
            }
            match rows.iter_mut().find(|r| r.0 == gaps.as_slice()) {
                Some(shared) => shared.1 = MUTED,
                None => rows.push((gaps, palette(i))),
            }
        }
        let mut widest: Option<(i32, f64)> = None; // (pixels, x)
        let top = y0 + px * (6.0 * rows.len() as f64);
        for (row, (gaps, color)) in rows.iter().enumerate() {
            let lo = y0 + px * (1.0 + 6.0 * row as f64);
            let hi = lo + 4.0 * px;
            for &(a, b) in *gaps {
                let (a, b) = (a.max(x_axis.lo), b.min(x_axis.hi));
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(a, lo), (b, hi)],
                    color.filled(),
                )))?;
                let w = chart.backend_coord(&(b, y0)).0 - chart.backend_coord(&(a, y0)).0;
                if widest.is_none_or(|(best, _)| w > best) {
                    widest = Some((w, a));
                }
            }
        }
        let style = (FONT, if small { 12 } else { 14 })
            .into_font()
            .color(&MUTED);
        if let Some((w, x)) = widest {
            let (tw, th) = area.estimate_text_size(note, &style)?;
            if (tw as i32) + 8 < w {
                chart.draw_series(std::iter::once(
                    EmptyElement::at((x, top))
                        + Text::new(note.to_string(), (4, -(th as i32) - 3), &style),
                ))?;
            }
        }
    }
    Ok(!shades.is_empty())
}

/// What a legend row shows.
enum Key {
    Line(usize),
    /// The grey of the other lines in a panel.
    Others,
    Fault,
    Action,
    Gap,
    Text,
}

/// The legend column: a swatch and a label per line (in panels: the grey of the others),
/// then the fault-window and gap swatches.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    spec: &XyChart,
    frame: &Frame,
    faults: bool,
    panels: bool,
) -> Drawn<DB> {
    let style = (FONT, 17)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    let row = 28;
    let (_, height) = area.dim_in_pixel();
    let fits = ((height as i32 - 60) / row).max(1) as usize;
    let mut y = 30;
    let mut entries: Vec<(Key, String)> = if panels {
        vec![(Key::Others, "other panels".to_string())]
    } else {
        spec.lines
            .iter()
            .enumerate()
            .map(|(i, l)| (Key::Line(i), l.label.clone()))
            .collect()
    };
    let gaps = spec
        .gap_note
        .filter(|_| frame.gaps.iter().any(|g| !g.is_empty()));
    let actions = faults && spec.shades.iter().any(|s| s.action);
    let faults = faults && spec.shades.iter().any(|s| !s.action);
    let tail = usize::from(faults) + usize::from(actions) + usize::from(gaps.is_some());
    if entries.len() + tail > fits {
        let more = entries.len() + tail - fits + 1;
        entries.truncate(fits.saturating_sub(1 + tail));
        entries.push((Key::Text, format!("(+{more} more)")));
    }
    if faults {
        entries.push((Key::Fault, "fault window".to_string()));
    }
    if actions {
        entries.push((Key::Action, "action (rule)".to_string()));
    }
    if let Some(note) = gaps {
        entries.push((Key::Gap, note.to_string()));
    }
    for (key, label) in entries {
        match key {
            Key::Line(i) => {
                let stroke = palette(i).stroke_width(3);
                let ends = vec![(8, y), (40, y)];
                match dash(i) {
                    None => area.draw(&PathElement::new(ends, stroke))?,
                    Some((d, g)) => area.draw(&DashedPathElement::new(ends, d, g, stroke))?,
                }
                if spec.markers {
                    let shape = Polygon::new(marker(i), palette(i).filled());
                    area.draw(&(EmptyElement::at((24, y)) + shape))?;
                }
            }
            Key::Others => area.draw(&PathElement::new(
                vec![(8, y), (40, y)],
                CONTEXT.stroke_width(2),
            ))?,
            Key::Fault => area.draw(&Rectangle::new([(8, y - 9), (40, y + 9)], SHADE.filled()))?,
            Key::Action => area.draw(&Rectangle::new(
                [(8, y - 9), (40, y + 9)],
                ACTION_SHADE.filled(),
            ))?,
            Key::Gap => area.draw(&Rectangle::new([(8, y - 2), (40, y + 2)], MUTED.filled()))?,
            Key::Text => {}
        }
        let text = fit_text(area, &label, &style, LEGEND_W as i32 - 60)?;
        area.draw_text(&text, &style, (48, y))?;
        y += row;
    }
    Ok(())
}

/// `text`, cut with an ellipsis until it is at most `width` pixels wide.
fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    width: i32,
) -> Result<String, DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chars: Vec<char> = text.chars().collect();
    let mut out = text.to_string();
    while (area.estimate_text_size(&out, style)?.0 as i32) > width && !chars.is_empty() {
        chars.pop();
        out = chars.iter().collect::<String>() + "…";
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_skip_what_they_cannot_show() {
        assert_eq!(Scale::Log.fwd(0.0), None);
        assert_eq!(Scale::Log.fwd(f64::NAN), None);
        assert_eq!(Scale::Linear.fwd(f64::INFINITY), None);
        assert_eq!(Scale::Quantile.fwd(1.0), None);
        assert!((Scale::Quantile.fwd(0.99).unwrap() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn gaps_span_from_the_last_point_drawn_to_the_next() {
        let nan = f64::NAN;
        let points = [
            (1.0, nan),
            (2.0, 5.0),
            (3.0, nan),
            (4.0, 0.0),
            (5.0, 6.0),
            (6.0, nan),
        ];
        // On a log axis 0 cannot be drawn either; a leading gap starts at its own point.
        let log = gap_ranges(&points, Scale::Linear, Scale::Log);
        assert_eq!(log, [(1.0, 2.0), (2.0, 5.0), (5.0, 6.0)]);
        let linear = gap_ranges(&points, Scale::Linear, Scale::Linear);
        assert_eq!(linear, [(1.0, 2.0), (2.0, 4.0), (5.0, 6.0)]);
        assert!(gap_ranges(&[(1.0, 1.0)], Scale::Linear, Scale::Linear).is_empty());
    }

    #[test]
    fn tick_labels_read_as_numbers() {
        let log = Axis::fit(Scale::Log, &[-1.5, 3.2], false, true);
        let labels: Vec<String> = log.ticks.iter().map(|&t| log.label(t)).collect();
        assert_eq!(labels, ["0.01", "0.1", "1", "10", "100", "1,000", "10,000"]);
        let q = Axis::fit(Scale::Quantile, &[0.0, 4.9], false, true);
        let labels: Vec<String> = q.ticks.iter().map(|&t| q.label(t)).collect();
        assert_eq!(
            labels,
            ["p0", "p50", "p90", "p99", "p99.9", "p99.99", "p99.999"]
        );
        let lin = Axis::fit(Scale::Linear, &[0.0, 600.0], false, false);
        assert_eq!(lin.label(lin.ticks[1]), "50");
        assert_eq!(number(-1234.5, 1), "-1,234.5");
        assert_eq!(number(-0.0001, 2), "0.00");
    }
}
