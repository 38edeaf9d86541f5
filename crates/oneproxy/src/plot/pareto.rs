//! The Pareto plot: accuracy against latency for one target, with the true front, the front the
//! proxy predicted (as measured on the target), the final measured set, the latency budgets the
//! regret is scored at, and the picks at the latency constraints. Beside it a second panel zooms
//! on the top of the front, where the series differ by a few tenths of a point and the full view
//! draws them on top of each other.
//!
//! The thousands of dominated architectures are drawn as one SVG path of dots, thinned to one
//! dot per 3-pixel cell (dots are 3 pixels wide, so the cloud looks the same), which keeps a plot
//! of the 15,625 NB201 architectures far below [`super::MAX_SVG_BYTES`]; fronts and picks stay
//! individual vector marks. Colours come from [`super::palette`], and every series has its own
//! shape as well.

use super::palette::{self, rgb};
use super::{register_font, save};
use crate::error::{Error, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt::Write;
use std::path::Path;

/// Cell size (pixels) of the dominated cloud's thinning, and the width of its dots.
pub const THIN_CELLS: i32 = 3;

/// The whole figure, and the width of the main panel (the zoom takes the rest).
const SIZE: (u32, u32) = (1240, 600);
const MAIN_W: u32 = 860;
const CLOUD_MARK: &str = "oneproxy-cloud-goes-here";
/// Stand-in stroke colours of the budget and constraint lines: drawn as one solid line each,
/// then given their colour and dash pattern in the SVG (plotters would draw every dash as an
/// element of its own, some 50 KB a plot).
const BUDGET_STROKE: RGBColor = RGBColor(1, 2, 3);
const CONSTRAINT_STROKE: RGBColor = RGBColor(1, 2, 4);

/// A point series of a Pareto plot.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// (latency ms, accuracy %) points.
    pub points: &'a [(f64, f64)],
}

/// A latency constraint and the pick within it, if any.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraint {
    /// The constraint (ms).
    pub ms: f64,
    /// (latency ms, accuracy %) of the pick.
    pub pick: Option<(f64, f64)>,
}

/// The range of latencies one measured architecture gave (its runs, or its repeats), drawn as a
/// horizontal error bar at its accuracy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Lowest and highest latency (ms).
    pub ms: (f64, f64),
    /// Its accuracy (%).
    pub accuracy: f64,
}

/// A named latency budget (a dotted line): where a score is read, e.g. the regret's quantiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget<'a> {
    /// Its name, written beside the line (`tight`, `mid`, ...).
    pub name: &'a str,
    /// The budget (ms).
    pub ms: f64,
}

/// The latency axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AxisScale {
    /// Logarithmic when the latencies span more than two decades (a factor of 100).
    #[default]
    Auto,
    /// Always logarithmic.
    Log,
    /// Always linear.
    Linear,
}

/// Everything a Pareto plot shows.
#[derive(Debug, Clone, Copy)]
pub struct ParetoPlot<'a> {
    /// Title (name the target, its score, the proxy and the number of measurements).
    pub title: &'a str,
    /// Every architecture (grey dots, thinned).
    pub cloud: Series<'a>,
    /// The reference front (a blue staircase): the target's true front, where known.
    pub front: Option<Series<'a>>,
    /// What the proxy predicted to be the front, at its latencies measured on the target
    /// (sky-blue hollow circles).
    pub predicted: Option<Series<'a>>,
    /// The final measured set (vermillion crosses).
    pub chosen: Option<Series<'a>>,
    /// Latency constraints (dashed lines, labelled) and their picks (orange triangles).
    pub constraints: &'a [Constraint],
    /// Named latency budgets (dotted lines), and their legend entry.
    pub budgets: (&'a [Budget<'a>], &'a str),
    /// The latency axis.
    pub latency_axis: AxisScale,
    /// Error bars of measured points that have a spread (none: nothing drawn).
    pub spreads: &'a [Spread],
}

fn perr(e: impl std::fmt::Display) -> Error {
    Error::Plot { path: "pareto".into(), reason: e.to_string() }
}

/// One point per `cell`-pixel cell, in input order, of the pixel positions given.
pub fn thin(pixels: impl IntoIterator<Item = (i32, i32)>, cell: i32) -> Vec<(i32, i32)> {
    let mut seen = std::collections::HashSet::new();
    pixels.into_iter().filter(|&(x, y)| seen.insert((x.div_euclid(cell), y.div_euclid(cell)))).collect()
}

/// The q-quantile (0..=1) of finite values (nearest rank), if any.
fn quantile(values: impl Iterator<Item = f64>, q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[((v.len() - 1) as f64 * q).round() as usize])
}

fn finite(&(x, y): &(f64, f64)) -> bool {
    x.is_finite() && y.is_finite()
}

/// A window onto the data: the ranges shown and whether the x axis is logarithmic.
#[derive(Debug, Clone, Copy, PartialEq)]
struct View {
    x: (f64, f64),
    y: (f64, f64),
    log: bool,
}

impl View {
    /// Whether a point lies in the window (and can go on its axis).
    fn holds(&self, &(x, y): &(f64, f64)) -> bool {
        finite(&(x, y)) && y >= self.y.0 && y <= self.y.1 && x >= self.x.0 && x <= self.x.1 && (!self.log || x > 0.0)
    }

    /// The latency range `lo..hi` padded, on a log or linear axis.
    fn pad_x(lo: f64, hi: f64, log: bool) -> (f64, f64) {
        if log {
            let pad = (hi / lo).powf(0.03).max(1.05);
            (lo / pad, hi * pad)
        } else {
            let pad = ((hi - lo) * 0.03).max(hi.abs() * 0.05).max(1e-9);
            (lo - pad, hi + pad)
        }
    }
}

/// The main view, the zoom on the front (when there is a front to zoom on), and how many
/// points of the cloud fall outside the main view.
struct Frame {
    main: View,
    zoom: Option<View>,
    hidden: usize,
    total: usize,
}

impl Frame {
    fn of(p: &ParetoPlot) -> Result<Frame> {
        let series = [Some(p.cloud), p.front, p.predicted, p.chosen];
        let all = || series.iter().flatten().flat_map(|s| s.points.iter().copied()).filter(finite);
        // The useful region: from the 5th percentile of accuracy up (the very fast, very
        // inaccurate tail is counted in a note instead).
        let y_top = all().map(|q| q.1).fold(f64::NEG_INFINITY, f64::max);
        let y_low = if p.cloud.points.len() >= 40 {
            quantile(p.cloud.points.iter().filter(|q| finite(q)).map(|q| q.1), 0.05).unwrap_or(y_top)
        } else {
            all().map(|q| q.1).fold(f64::INFINITY, f64::min)
        };
        if !y_top.is_finite() {
            return Err(perr("nothing to plot"));
        }
        let pad = ((y_top - y_low) * 0.04).max(0.5);
        let y = (y_low - pad, y_top + pad);
        // The latency range of what is shown (and of the picks, constraints and budgets near it).
        let shown = || all().filter(|q| q.1 >= y.0).map(|q| q.0);
        let positive =
            shown().filter(|x| *x > 0.0).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        let (lo, hi) = positive;
        let log = match p.latency_axis {
            AxisScale::Log => true,
            AxisScale::Linear => false,
            AxisScale::Auto => lo.is_finite() && hi / lo > 100.0,
        };
        if log && !lo.is_finite() {
            return Err(perr("nothing to plot (no point with a positive latency for the log axis)"));
        }
        let (lo, hi) = if log {
            (lo, hi)
        } else {
            shown().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)))
        };
        if !lo.is_finite() {
            return Err(perr("nothing to plot"));
        }
        let picks = p.constraints.iter().filter_map(|c| c.pick).filter(|q| q.1 >= y.0).map(|q| q.0);
        let lines = p.constraints.iter().map(|c| c.ms).chain(p.budgets.0.iter().map(|b| b.ms));
        let cs = lines.filter(|c| c.is_finite() && *c > 0.0 && *c <= hi * 2.0);
        let (lo, hi) = cs.chain(picks).filter(|x| !log || *x > 0.0).fold((lo, hi), |(a, b), x| (a.min(x), b.max(x)));
        let main = View { x: View::pad_x(lo, hi, log), y, log };
        let cloud = || p.cloud.points.iter().copied().filter(finite);
        let total = cloud().count();
        let hidden = cloud().filter(|&(px, py)| py < y.0 || (log && px <= 0.0)).count();
        Ok(Frame { main, zoom: zoom(p, &main), hidden, total })
    }
}

/// The window on the top of the front: accuracy from the 80th percentile of the cloud (or the
/// middle of the front's marks, for a small cloud) up, latency over the front's marks there.
/// `None` when there are fewer than two marks, or the window would show nearly all of `main`.
fn zoom(p: &ParetoPlot, main: &View) -> Option<View> {
    let marks: Vec<(f64, f64)> = [p.front, p.predicted, p.chosen]
        .into_iter()
        .flatten()
        .flat_map(|s| s.points.iter().copied())
        .filter(|q| main.holds(q))
        .collect();
    if marks.len() < 2 {
        return None;
    }
    let (m_lo, m_hi) = marks.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), q| (a.min(q.1), b.max(q.1)));
    let cloud_hi = p.cloud.points.iter().filter(|q| main.holds(q)).map(|q| q.1);
    let y_top = m_hi.max(cloud_hi.clone().fold(f64::NEG_INFINITY, f64::max));
    let y_lo = if p.cloud.points.len() >= 40 {
        quantile(p.cloud.points.iter().filter(|q| main.holds(q)).map(|q| q.1), 0.8)?
    } else {
        m_lo + (m_hi - m_lo) / 2.0
    };
    let y_lo = y_lo.min(y_top - 0.5);
    let top: Vec<f64> = marks.iter().filter(|q| q.1 >= y_lo).map(|q| q.0).collect();
    let (lo, hi) = top.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    if !lo.is_finite() {
        return None;
    }
    let log = main.log && hi / lo > 100.0;
    let (lo, hi) = if hi - lo < 1e-9 { (lo * 0.9, hi * 1.1) } else { (lo, hi) };
    let pad = ((y_top - y_lo) * 0.05).max(0.05);
    let view = View { x: View::pad_x(lo, hi, log), y: (y_lo - pad, y_top + pad), log };
    let shrink = (view.y.1 - view.y.0) / (main.y.1 - main.y.0);
    (shrink < 0.6).then_some(view)
}

/// Draw the plot as an SVG document.
pub fn pareto_svg(p: &ParetoPlot) -> Result<String> {
    register_font();
    let frame = Frame::of(p)?;
    let mut svg = String::new();
    let mut clouds = Vec::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(perr)?;
        let (top, foot) = root.split_vertically(SIZE.1 - 22);
        match &frame.zoom {
            Some(z) => {
                let (main, side) = top.split_horizontally(MAIN_W);
                clouds.push(panel(&main, p, &frame.main, p.title, Role::Main(Some(*z)))?);
                let caption = format!("zoom on the top of the front (accuracy ≥ {:.1} %)", z.y.0);
                clouds.push(panel(&side, p, z, &caption, Role::Zoom)?);
            }
            None => clouds.push(panel(&top, p, &frame.main, p.title, Role::Main(None))?),
        }
        footnote(&foot, p, &frame)?;
        root.present().map_err(perr)?;
    }
    for (k, pixels) in clouds.iter().enumerate() {
        svg = splice_cloud(svg, &format!("{CLOUD_MARK}-{k}"), pixels);
    }
    let dashed = |c: palette::Rgb, dash: &str| format!(r#"stroke="{}" stroke-dasharray="{dash}""#, palette::hex(c));
    Ok(svg
        .replace(r##"stroke="#010203""##, &dashed(palette::DARK_GREY, "2 3"))
        .replace(r##"stroke="#010204""##, &dashed(palette::PURPLE, "6 4")))
}

/// Which panel is drawn: the main one (with the zoomed window, if any) or the zoom.
#[derive(Debug, Clone, Copy)]
enum Role {
    Main(Option<View>),
    Zoom,
}

/// One panel: the main view (with the legend, and the zoomed window outlined) or the zoom.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &ParetoPlot,
    view: &View,
    caption: &str,
    role: Role,
) -> Result<Vec<(i32, i32)>> {
    let (is_main, zoomed) = match role {
        Role::Main(z) => (true, z),
        Role::Zoom => (false, None),
    };
    let axis = if view.log { "latency on the target (ms, log scale)" } else { "latency on the target (ms)" };
    let mut b = ChartBuilder::on(area);
    b.caption(caption, ("sans-serif", if is_main { 18 } else { 14 }));
    b.margin(12).x_label_area_size(44).y_label_area_size(58);
    let opts = Panel { view: *view, axis, legend: is_main, zoomed };
    if view.log {
        let mut chart = b.build_cartesian_2d((view.x.0..view.x.1).log_scale(), view.y.0..view.y.1).map_err(perr)?;
        draw_series(&mut chart, p, &opts)
    } else {
        let mut chart = b.build_cartesian_2d(view.x.0..view.x.1, view.y.0..view.y.1).map_err(perr)?;
        draw_series(&mut chart, p, &opts)
    }
}

/// What one panel draws.
struct Panel<'a> {
    view: View,
    axis: &'a str,
    legend: bool,
    /// The zoomed window, outlined on the main panel.
    zoomed: Option<View>,
}

fn footnote<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &ParetoPlot, f: &Frame) -> Result<()> {
    let mut note = format!("{} architectures as grey dots, thinned to one per {THIN_CELLS} px", f.total);
    if f.hidden > 0 {
        let _ = write!(
            note,
            "; {} of them below {:.1} % accuracy{} not shown",
            f.hidden,
            f.main.y.0,
            if f.main.log { " (or at 0 ms)" } else { "" }
        );
    }
    let cut = p.constraints.iter().filter(|c| c.ms > f.main.x.1).count();
    if cut > 0 {
        let _ = write!(note, "; {cut} constraint(s) beyond the axis");
    }
    area.draw(&Text::new(note, (14, 2), ("sans-serif", 13).into_font().color(&rgb(palette::DARK_GREY)))).map_err(perr)
}

/// Latency tick label: no trailing zeros, small values in scientific notation.
fn fmt_ms(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() < 0.01 {
        format!("{v:.0e}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Horizontal error bars with end caps, clipped to the view; bars outside it are left out.
fn draw_spreads<'a, DB, X>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    spreads: &[Spread],
    v: &View,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
{
    let style = rgb(palette::DARK_GREY).stroke_width(1);
    for s in spreads {
        let (lo, hi) = (s.ms.0.max(v.x.0), s.ms.1.min(v.x.1));
        if !(lo.is_finite() && hi.is_finite() && lo <= hi && s.accuracy >= v.y.0 && s.accuracy <= v.y.1) {
            continue;
        }
        let bar = PathElement::new(vec![(lo, s.accuracy), (hi, s.accuracy)], style);
        chart.draw_series(std::iter::once(bar)).map_err(perr)?;
        let cap = |x: f64| EmptyElement::at((x, s.accuracy)) + PathElement::new(vec![(0, -3), (0, 3)], style);
        chart.draw_series([cap(lo), cap(hi)]).map_err(perr)?;
    }
    Ok(())
}

/// Draw the axes and every series; returns the pixel positions of the thinned cloud (spliced in
/// as one path).
fn draw_series<'a, DB, X>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    p: &ParetoPlot,
    o: &Panel,
) -> Result<Vec<(i32, i32)>>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let v = o.view;
    chart
        .configure_mesh()
        .max_light_lines(0)
        .bold_line_style(rgb(palette::GRID))
        .x_desc(o.axis)
        .y_desc("accuracy (%)")
        .axis_desc_style(("sans-serif", 15))
        .label_style(("sans-serif", 13))
        .x_label_formatter(&|x| fmt_ms(*x))
        .draw()
        .map_err(perr)?;
    let grey = rgb(palette::CLOUD_GREY);
    let visible = |q: &(f64, f64)| v.holds(q);
    // A placeholder text where the cloud goes, under everything else.
    let mark = format!("{CLOUD_MARK}-{}", usize::from(!o.legend));
    let first = p.cloud.points.iter().copied().find(visible).unwrap_or((v.x.1, v.y.1));
    chart.draw_series(std::iter::once(Text::new(mark, first, ("sans-serif", 1)))).map_err(perr)?;
    let pixels = thin(p.cloud.points.iter().filter(|q| visible(q)).map(|&q| chart.backend_coord(&q)), THIN_CELLS);
    chart
        .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
        .map_err(perr)?
        .label(p.cloud.label)
        .legend(move |(x, y)| Circle::new((x, y), 2, grey.filled()));
    let in_x = |ms: f64| ms.is_finite() && ms > 0.0 && ms >= v.x.0 && ms <= v.x.1;
    // Budgets first, under the data: dotted, named at the bottom.
    let dark = rgb(palette::DARK_GREY);
    let (budgets, budget_label) = p.budgets;
    let mut labelled = false;
    for b in budgets.iter().filter(|b| in_x(b.ms)) {
        let line = PathElement::new(vec![(b.ms, v.y.0), (b.ms, v.y.1)], BUDGET_STROKE.stroke_width(1));
        let drawn = chart.draw_series(std::iter::once(line)).map_err(perr)?;
        if !labelled {
            drawn
                .label(budget_label)
                .legend(move |(x, y)| PathElement::new(vec![(x - 9, y), (x + 9, y)], BUDGET_STROKE.stroke_width(1)));
            labelled = true;
        }
        let name = Text::new(b.name.to_string(), (3, -16), ("sans-serif", 12).into_font().color(&dark));
        chart.draw_series(std::iter::once(EmptyElement::at((b.ms, v.y.0)) + name)).map_err(perr)?;
    }
    if let Some(front) = p.front {
        let blue = rgb(palette::BLUE);
        let steps =
            staircase(front.points.iter().copied().filter(|q| finite(q) && q.1 >= v.y.0 && (!v.log || q.0 > 0.0)));
        let drawn = chart
            .draw_series(clip_segments(&steps, &v).into_iter().map(|s| PathElement::new(s, blue.stroke_width(2))))
            .map_err(perr)?;
        drawn
            .label(front.label)
            .legend(move |(x, y)| PathElement::new(vec![(x - 9, y), (x + 9, y)], blue.stroke_width(2)));
    }
    draw_spreads(chart, p.spreads, &v)?;
    if let Some(pred) = p.predicted {
        let sky = rgb(palette::SKY_BLUE);
        chart
            .draw_series(pred.points.iter().copied().filter(visible).map(|q| Circle::new(q, 5, sky.stroke_width(2))))
            .map_err(perr)?
            .label(pred.label)
            .legend(move |(x, y)| Circle::new((x, y), 5, sky.stroke_width(2)));
    }
    if let Some(c) = p.chosen {
        let red = rgb(palette::VERMILLION);
        chart
            .draw_series(c.points.iter().copied().filter(visible).map(|q| Cross::new(q, 4, red.stroke_width(2))))
            .map_err(perr)?
            .label(c.label)
            .legend(move |(x, y)| Cross::new((x, y), 4, red.stroke_width(2)));
    }
    let purple = rgb(palette::PURPLE);
    let mut first_line = true;
    for c in p.constraints.iter().filter(|c| in_x(c.ms)) {
        let line = PathElement::new(vec![(c.ms, v.y.0), (c.ms, v.y.1)], CONSTRAINT_STROKE.stroke_width(2));
        let drawn = chart.draw_series(std::iter::once(line)).map_err(perr)?;
        if first_line {
            drawn.label("latency constraint").legend(move |(x, y)| {
                PathElement::new(vec![(x - 9, y), (x + 9, y)], CONSTRAINT_STROKE.stroke_width(2))
            });
        }
        let label = Text::new(format!("≤ {} ms", fmt_ms(c.ms)), (3, 2), ("sans-serif", 12).into_font().color(&purple));
        chart.draw_series(std::iter::once(EmptyElement::at((c.ms, v.y.1)) + label)).map_err(perr)?;
        first_line = false;
    }
    let orange = rgb(palette::ORANGE);
    let picks: Vec<(f64, f64)> = p.constraints.iter().filter_map(|c| c.pick).filter(visible).collect();
    if !picks.is_empty() {
        chart
            .draw_series(picks.iter().map(|&q| TriangleMarker::new(q, 8, orange.filled())))
            .map_err(perr)?
            .label("pick within a constraint")
            .legend(move |(x, y)| TriangleMarker::new((x, y), 6, orange.filled()));
    }
    if let Some(z) = o.zoomed {
        // The zoomed window, outlined (clipped to this view).
        let (x0, x1) = (z.x.0.max(v.x.0), z.x.1.min(v.x.1));
        let (y0, y1) = (z.y.0.max(v.y.0), z.y.1.min(v.y.1));
        let outline = vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)];
        chart.draw_series(std::iter::once(PathElement::new(outline, dark.stroke_width(1)))).map_err(perr)?;
    }
    if o.legend {
        legend(chart, p, &v, &pixels, &picks)?;
    }
    Ok(pixels)
}

/// The legend goes in the corner that hides the least: front marks count far more than dots.
fn legend<'a, DB, X>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    p: &ParetoPlot,
    v: &View,
    pixels: &[(i32, i32)],
    picks: &[(f64, f64)],
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let visible = |q: &(f64, f64)| v.holds(q);
    let in_x = |ms: f64| ms.is_finite() && ms > 0.0 && ms >= v.x.0 && ms <= v.x.1;
    let mut labels: Vec<&str> =
        [Some(p.cloud), p.front, p.predicted, p.chosen].iter().flatten().map(|s| s.label).collect();
    if p.budgets.0.iter().any(|b| in_x(b.ms)) {
        labels.push(p.budgets.1);
    }
    let entries = labels.len() + usize::from(p.constraints.iter().any(|c| in_x(c.ms))) + usize::from(!picks.is_empty());
    let legend_w = labels.iter().map(|l| l.chars().count()).max().unwrap_or(10) as i32 * 8 + 50;
    let legend_h = entries as i32 * 19 + 12;
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let weighted = [p.front, p.predicted, p.chosen]
        .into_iter()
        .flatten()
        .flat_map(|s| s.points.iter().copied().filter(visible).map(|q| (chart.backend_coord(&q), 50)))
        .chain(pixels.iter().map(|&q| (q, 1)))
        .chain(picks.iter().map(|q| (chart.backend_coord(q), 50)))
        // The constraint labels along the top edge, the budget names along the bottom.
        .chain(p.constraints.iter().filter(|c| in_x(c.ms)).flat_map(|c| {
            let (x, y) = chart.backend_coord(&(c.ms, v.y.1));
            [((x + 4, y + 8), 50), ((x + 40, y + 8), 50)]
        }))
        .chain(p.budgets.0.iter().filter(|b| in_x(b.ms)).flat_map(|b| {
            let (x, y) = chart.backend_coord(&(b.ms, v.y.0));
            [((x + 4, y - 10), 50), ((x + 30, y - 10), 50)]
        }))
        .collect::<Vec<_>>();
    let corners = [
        (SeriesLabelPosition::UpperLeft, xr.start, yr.start),
        (SeriesLabelPosition::UpperRight, xr.end - legend_w, yr.start),
        (SeriesLabelPosition::LowerRight, xr.end - legend_w, yr.end - legend_h),
        (SeriesLabelPosition::LowerLeft, xr.start, yr.end - legend_h),
    ];
    let mut cost = [0usize; 4];
    for ((x, y), w) in weighted {
        for (k, &(_, cx, cy)) in corners.iter().enumerate() {
            if x >= cx - 6 && x <= cx + legend_w + 6 && y >= cy - 6 && y <= cy + legend_h + 6 {
                cost[k] += w;
            }
        }
    }
    let best = (0..4).min_by_key(|&k| cost[k]).unwrap_or(0);
    chart
        .configure_series_labels()
        .position(corners[best].0.clone())
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(perr)
}

/// The parts of a staircase (axis-parallel segments) inside a view, clipped to it, as lines.
fn clip_segments(steps: &[(f64, f64)], v: &View) -> Vec<Vec<(f64, f64)>> {
    let clamp = |a: f64, (lo, hi): (f64, f64)| a.clamp(lo, hi);
    let inside = |a: f64, (lo, hi): (f64, f64)| a >= lo && a <= hi;
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    for w in steps.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        let (xs, ys) = ((x0.min(x1), x0.max(x1)), (y0.min(y1), y0.max(y1)));
        // Axis-parallel: it is in the view when its span overlaps the view on both axes.
        if xs.1 < v.x.0 || xs.0 > v.x.1 || ys.1 < v.y.0 || ys.0 > v.y.1 {
            continue;
        }
        if (x0 == x1 && !inside(x0, v.x)) || (y0 == y1 && !inside(y0, v.y)) {
            continue;
        }
        let (from, to) = ((clamp(x0, v.x), clamp(y0, v.y)), (clamp(x1, v.x), clamp(y1, v.y)));
        // A segment that goes on from where the last one ended extends its line.
        match out.last_mut() {
            Some(line) if line.last() == Some(&from) => line.push(to),
            _ => out.push(vec![from, to]),
        }
    }
    out
}

/// A front as a staircase: the best accuracy reachable stays flat until the next point.
fn staircase(points: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = points.collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut steps = Vec::with_capacity(2 * pts.len());
    for (k, &(x, y)) in pts.iter().enumerate() {
        if k > 0 {
            steps.push((x, pts[k - 1].1));
        }
        steps.push((x, y));
    }
    steps
}

/// Replace the placeholder text with the cloud: one path of round dots (`M x y h0.5` each).
fn splice_cloud(svg: String, mark: &str, pixels: &[(i32, i32)]) -> String {
    let Some(mark) = svg.find(mark) else { return svg };
    let (Some(start), Some(end)) =
        (svg[..mark].rfind("<text"), svg[mark..].find("</text>").map(|e| mark + e + "</text>".len()))
    else {
        return svg;
    };
    let mut path = String::with_capacity(12 * pixels.len() + 120);
    path.push_str(&format!(
        r#"<path fill="none" stroke="{}" stroke-width="3" stroke-linecap="round" d=""#,
        palette::hex(palette::CLOUD_GREY)
    ));
    for (x, y) in pixels {
        let _ = write!(path, "M{x} {y}h.5");
    }
    path.push_str(r#""/>"#);
    format!("{}{}{}", &svg[..start], if pixels.is_empty() { "" } else { &path }, &svg[end..])
}

/// Draw the plot to `path` (.svg, .png or .pdf).
pub fn pareto(path: &Path, p: &ParetoPlot, out: &crate::output::Outputs) -> Result<()> {
    let svg = pareto_svg(p).map_err(|e| match e {
        Error::Plot { reason, .. } => Error::Plot { path: path.to_path_buf(), reason },
        other => other,
    })?;
    save(&svg, path, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(n: usize) -> Vec<(f64, f64)> {
        // A deterministic spread over three decades of latency.
        (0..n)
            .map(|i| {
                (10f64.powf((i * 7919 % n) as f64 / n as f64 * 3.0), 40.0 + 30.0 * ((i * 104729 % n) as f64 / n as f64))
            })
            .collect()
    }

    #[test]
    fn thinning_keeps_one_point_per_cell() {
        let px = vec![(0, 0), (1, 2), (3, 0), (2, 2), (-1, 0), (5, 5)];
        assert_eq!(thin(px, 3), vec![(0, 0), (3, 0), (-1, 0), (5, 5)]);
    }

    #[test]
    fn many_points_stay_small_and_parse() {
        let all = cloud(15_625);
        let front = vec![(1.0, 45.0), (10.0, 60.0), (900.0, 70.0)];
        let picks = [Constraint { ms: 10.0, pick: Some((10.0, 60.0)) }, Constraint { ms: 1e6, pick: None }];
        let plot = ParetoPlot {
            title: "t <1> & 2",
            cloud: Series { label: "all", points: &all },
            front: Some(Series { label: "true front", points: &front }),
            predicted: Some(Series { label: "predicted", points: &front[1..] }),
            chosen: Some(Series { label: "chosen", points: &front[..2] }),
            constraints: &picks,
            budgets: (&[Budget { name: "mid", ms: 30.0 }], "latency budgets"),
            latency_axis: AxisScale::Auto,
            spreads: &[],
        };
        let svg = pareto_svg(&plot).unwrap();
        assert!(svg.len() < super::super::MAX_SVG_BYTES, "{} bytes", svg.len());
        assert!(!svg.contains(CLOUD_MARK));
        assert!(svg.contains("\nmid\n") && svg.contains("latency budgets"), "budgets are drawn and named");
        // One dashed line per budget and constraint (and legend entry), each a single element.
        assert_eq!(svg.matches(r#"stroke-dasharray="2 3""#).count(), 2, "the budget and its legend entry");
        assert_eq!(svg.matches(r#"stroke-dasharray="6 4""#).count(), 2, "the constraint and its legend entry");
        assert!(!svg.contains("#010203") && !svg.contains("#010204"));
        // Okabe-Ito colours only: no pure red or green, every series in its own colour.
        for c in palette::SERIES[..3].iter().map(|c| palette::hex(*c).to_uppercase()) {
            assert!(svg.to_uppercase().contains(&c), "{c}");
        }
        assert!(!svg.to_uppercase().contains("#FF0000") && !svg.contains("#148C46"));
        // No minor grid: one grid line per labelled tick at most.
        let grid = svg.matches(&palette::hex(palette::GRID).to_uppercase()).count()
            + svg.matches(&palette::hex(palette::GRID)).count();
        assert!(grid < 40, "{grid} grid lines");
        assert!(svg.contains("log scale"), "three decades switch to a log axis");
        assert!(
            svg.contains("≤ 10 ms") && svg.contains("latency constraint") && svg.contains("pick within a constraint")
        );
        assert!(svg.contains("1 constraint(s) beyond the axis"));
        assert!(svg.contains("t &lt;1&gt; &amp; 2"), "plotters escapes the title");
        let dots = svg.matches("h.5").count();
        assert!(dots > 500 && dots < 15_625, "{dots} dots");
        // The 5th percentile of accuracy cuts the axis; the rest is counted.
        assert!(svg.contains("not shown"));
        super::super::svg_to_png(&svg, 1.0, Path::new("p.png")).unwrap();
        let linear = pareto_svg(&ParetoPlot { latency_axis: AxisScale::Linear, ..plot }).unwrap();
        assert!(!linear.contains("log scale"));
    }

    /// A measured point with a spread gets a bar over its range; without spreads the plot is
    /// what it was.
    #[test]
    fn a_spread_is_drawn_as_an_error_bar_and_nothing_without_one() {
        let all = cloud(200);
        let chosen = vec![(2.0, 60.0), (5.0, 65.0)];
        let plot = ParetoPlot {
            title: "t",
            cloud: Series { label: "all", points: &all },
            front: None,
            predicted: None,
            chosen: Some(Series { label: "chosen", points: &chosen }),
            constraints: &[],
            budgets: (&[], ""),
            latency_axis: AxisScale::Linear,
            spreads: &[],
        };
        let plain = pareto_svg(&plot).unwrap();
        let grey = |svg: &str| svg.to_uppercase().matches(&palette::hex(palette::DARK_GREY).to_uppercase()).count();
        let bars = [Spread { ms: (1.5, 3.0), accuracy: 60.0 }];
        let with = pareto_svg(&ParetoPlot { spreads: &bars, ..plot }).unwrap();
        assert_eq!(grey(&with), grey(&plain) + 3, "a bar and its two caps");
        let outside = [Spread { ms: (1e5, 2e5), accuracy: 60.0 }];
        assert_eq!(pareto_svg(&ParetoPlot { spreads: &outside, ..plot }).unwrap(), plain, "out of view: left out");
    }

    #[test]
    fn the_top_of_the_front_gets_a_zoomed_panel() {
        let all = cloud(2000);
        let front = vec![(1.0, 41.0), (3.0, 55.0), (20.0, 68.0), (40.0, 69.5), (200.0, 69.9)];
        let plot = ParetoPlot {
            title: "t",
            cloud: Series { label: "all", points: &all },
            front: Some(Series { label: "true front", points: &front }),
            predicted: None,
            chosen: Some(Series { label: "chosen", points: &front[2..] }),
            constraints: &[],
            budgets: (&[], ""),
            latency_axis: AxisScale::Auto,
            spreads: &[],
        };
        let frame = Frame::of(&plot).unwrap();
        let z = frame.zoom.expect("a zoom");
        // The window holds the top of the front and is much shorter than the main view.
        assert!(z.y.0 > 60.0 && z.y.1 >= 69.9 && z.x.0 <= 20.0 && z.x.1 >= 200.0, "{z:?}");
        assert!((z.y.1 - z.y.0) < 0.6 * (frame.main.y.1 - frame.main.y.0));
        let svg = pareto_svg(&plot).unwrap();
        assert!(svg.contains("zoom on the top of the front"));
        assert_eq!(svg.matches(r#"stroke-linecap="round" d="M"#).count(), 2, "a cloud per panel");
        // Staircase segments are clipped to the window.
        let v = View { x: (10.0, 50.0), y: (60.0, 70.0), log: false };
        let segs = clip_segments(&staircase(front.iter().copied()), &v);
        assert!(segs.iter().flatten().all(|q| v.holds(q)), "{segs:?}");
        assert!(!segs.is_empty());
        // Within the main view the whole staircase is one line.
        let main = View { x: (0.0, 1000.0), y: (0.0, 100.0), log: false };
        assert_eq!(clip_segments(&staircase(front.iter().copied()), &main).len(), 1);
    }

    #[test]
    fn nothing_to_plot_is_an_error() {
        let none: Vec<(f64, f64)> = vec![(f64::NAN, 1.0), (f64::INFINITY, 2.0)];
        let p = ParetoPlot {
            title: "t",
            cloud: Series { label: "all", points: &none },
            front: None,
            predicted: None,
            chosen: None,
            constraints: &[],
            budgets: (&[], ""),
            latency_axis: AxisScale::Auto,
            spreads: &[],
        };
        assert!(pareto_svg(&p).unwrap_err().to_string().contains("nothing to plot"));
    }
}
