//! The Pareto plot: accuracy against latency for one target, with the true front, the front the
//! proxy predicted (as measured on the target), the final measured set, and the picks at the
//! latency constraints.
//!
//! The thousands of dominated architectures are drawn as one SVG path of dots, thinned to one
//! dot per 3-pixel cell (dots are 3 pixels wide, so the cloud looks the same), which keeps a plot
//! of the 15,625 NB201 architectures far below [`super::MAX_SVG_BYTES`]; fronts and picks stay
//! individual vector marks.

use super::{register_font, save};
use crate::error::{Error, Result};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt::Write;
use std::path::Path;

/// Cell size (pixels) of the dominated cloud's thinning, and the width of its dots.
pub const THIN_CELLS: i32 = 3;

const SIZE: (u32, u32) = (900, 600);
const CLOUD_MARK: &str = "oneproxy-cloud-goes-here";

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
    /// Title (name the target, the proxy and the number of measurements).
    pub title: &'a str,
    /// Every architecture (grey dots, thinned).
    pub cloud: Series<'a>,
    /// The reference front (a blue staircase): the target's true front, where known.
    pub front: Option<Series<'a>>,
    /// What the proxy predicted to be the front, at its latencies measured on the target.
    pub predicted: Option<Series<'a>>,
    /// The final measured set (red crosses).
    pub chosen: Option<Series<'a>>,
    /// Latency constraints (dashed lines, labelled) and their picks.
    pub constraints: &'a [Constraint],
    /// The latency axis.
    pub latency_axis: AxisScale,
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

/// The ranges shown, whether the x axis is logarithmic, and how many points fall outside.
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    log: bool,
    hidden: usize,
    total: usize,
}

impl Frame {
    fn of(p: &ParetoPlot) -> Result<Frame> {
        let series = [Some(p.cloud), p.front, p.predicted, p.chosen];
        let finite = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite();
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
        // The latency range of what is shown (and of the picks and the constraints near it).
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
        let cs = p.constraints.iter().map(|c| c.ms).filter(|c| c.is_finite() && *c > 0.0 && *c <= hi * 2.0);
        let (lo, hi) = cs.chain(picks).filter(|x| !log || *x > 0.0).fold((lo, hi), |(a, b), x| (a.min(x), b.max(x)));
        let x = if log {
            let pad = (hi / lo).powf(0.03).max(1.05);
            (lo / pad, hi * pad)
        } else {
            let pad = ((hi - lo) * 0.03).max(1e-9);
            (lo - pad, hi + pad)
        };
        let cloud = || p.cloud.points.iter().copied().filter(finite);
        let total = cloud().count();
        let hidden = cloud().filter(|&(px, py)| py < y.0 || (log && px <= 0.0)).count();
        Ok(Frame { x, y, log, hidden, total })
    }
}

/// Draw the plot as an SVG document.
pub fn pareto_svg(p: &ParetoPlot) -> Result<String> {
    register_font();
    let frame = Frame::of(p)?;
    let mut svg = String::new();
    let cloud;
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(perr)?;
        let (main, foot) = root.split_vertically(SIZE.1 - 22);
        let axis = if frame.log { "latency on the target (ms, log scale)" } else { "latency on the target (ms)" };
        let builder = |area| {
            let mut b = ChartBuilder::on(area);
            b.caption(p.title, ("sans-serif", 18)).margin(12).x_label_area_size(44).y_label_area_size(58);
            b
        };
        cloud = if frame.log {
            let mut chart = builder(&main)
                .build_cartesian_2d((frame.x.0..frame.x.1).log_scale(), frame.y.0..frame.y.1)
                .map_err(perr)?;
            draw_series(&mut chart, p, &frame, axis)?
        } else {
            let mut chart =
                builder(&main).build_cartesian_2d(frame.x.0..frame.x.1, frame.y.0..frame.y.1).map_err(perr)?;
            draw_series(&mut chart, p, &frame, axis)?
        };
        footnote(&foot, p, &frame)?;
        root.present().map_err(perr)?;
    }
    Ok(splice_cloud(svg, &cloud))
}

fn footnote<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &ParetoPlot, f: &Frame) -> Result<()> {
    let mut note = format!("{} architectures as grey dots, thinned to one per {THIN_CELLS} px", f.total);
    if f.hidden > 0 {
        let _ = write!(
            note,
            "; {} of them below {:.1} % accuracy{} not shown",
            f.hidden,
            f.y.0,
            if f.log { " (or at 0 ms)" } else { "" }
        );
    }
    let cut = p.constraints.iter().filter(|c| c.ms > f.x.1).count();
    if cut > 0 {
        let _ = write!(note, "; {cut} constraint(s) beyond the axis");
    }
    area.draw(&Text::new(note, (14, 2), ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)))).map_err(perr)
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

/// Draw the axes and every series; returns the pixel positions of the thinned cloud (spliced in
/// as one path).
fn draw_series<'a, DB, X>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    p: &ParetoPlot,
    f: &Frame,
    axis: &str,
) -> Result<Vec<(i32, i32)>>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_desc(axis)
        .y_desc("accuracy (%)")
        .axis_desc_style(("sans-serif", 15))
        .label_style(("sans-serif", 13))
        .x_label_formatter(&|v| fmt_ms(*v))
        .draw()
        .map_err(perr)?;
    let grey = RGBColor(185, 185, 185);
    let visible = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && y >= f.y.0 && (!f.log || x > 0.0);
    // A placeholder text where the cloud goes, under everything else.
    let first = p.cloud.points.iter().copied().find(visible).unwrap_or((f.x.1, f.y.1));
    chart.draw_series(std::iter::once(Text::new(CLOUD_MARK, first, ("sans-serif", 1)))).map_err(perr)?;
    let pixels = thin(p.cloud.points.iter().filter(|q| visible(q)).map(|&q| chart.backend_coord(&q)), THIN_CELLS);
    chart
        .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
        .map_err(perr)?
        .label(p.cloud.label)
        .legend(move |(x, y)| Circle::new((x, y), 2, grey.filled()));
    if let Some(front) = p.front {
        let blue = RGBColor(31, 90, 180);
        chart
            .draw_series(LineSeries::new(staircase(front.points.iter().copied().filter(visible)), blue.stroke_width(2)))
            .map_err(perr)?
            .label(front.label)
            .legend(move |(x, y)| PathElement::new(vec![(x - 9, y), (x + 9, y)], blue.stroke_width(2)));
    }
    if let Some(pred) = p.predicted {
        let green = RGBColor(20, 140, 70);
        chart
            .draw_series(pred.points.iter().copied().filter(visible).map(|q| Circle::new(q, 4, green.stroke_width(1))))
            .map_err(perr)?
            .label(pred.label)
            .legend(move |(x, y)| Circle::new((x, y), 4, green.stroke_width(1)));
    }
    if let Some(c) = p.chosen {
        chart
            .draw_series(c.points.iter().copied().filter(visible).map(|q| Cross::new(q, 4, RED.stroke_width(2))))
            .map_err(perr)?
            .label(c.label)
            .legend(|(x, y)| Cross::new((x, y), 4, RED.stroke_width(2)));
    }
    let orange = RGBColor(215, 120, 0);
    let mut first_line = true;
    for c in p.constraints.iter().filter(|c| c.ms.is_finite() && c.ms > 0.0 && c.ms >= f.x.0 && c.ms <= f.x.1) {
        let line = DashedLineSeries::new(vec![(c.ms, f.y.0), (c.ms, f.y.1)], 6, 4, orange.stroke_width(1));
        let drawn = chart.draw_series(line).map_err(perr)?;
        if first_line {
            drawn
                .label("latency constraint")
                .legend(move |(x, y)| PathElement::new(vec![(x - 9, y), (x + 9, y)], orange.stroke_width(1)));
        }
        let label = Text::new(format!("≤ {} ms", fmt_ms(c.ms)), (3, 2), ("sans-serif", 12).into_font().color(&orange));
        chart.draw_series(std::iter::once(EmptyElement::at((c.ms, f.y.1)) + label)).map_err(perr)?;
        first_line = false;
    }
    let picks: Vec<(f64, f64)> = p.constraints.iter().filter_map(|c| c.pick).filter(visible).collect();
    if !picks.is_empty() {
        chart
            .draw_series(picks.iter().map(|&q| TriangleMarker::new(q, 7, orange.filled())))
            .map_err(perr)?
            .label("pick within a constraint")
            .legend(move |(x, y)| TriangleMarker::new((x, y), 6, orange.filled()));
    }
    // The legend goes in the corner that hides the least: front marks count far more than dots.
    let labels: Vec<&str> = [Some(p.cloud), p.front, p.predicted, p.chosen].iter().flatten().map(|s| s.label).collect();
    let entries = labels.len()
        + usize::from(p.constraints.iter().any(|c| c.ms >= f.x.0 && c.ms <= f.x.1))
        + usize::from(!picks.is_empty());
    let legend_w = labels.iter().map(|l| l.chars().count()).max().unwrap_or(10) as i32 * 8 + 50;
    let legend_h = entries as i32 * 19 + 12;
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let weighted = [p.front, p.predicted, p.chosen]
        .into_iter()
        .flatten()
        .flat_map(|s| s.points.iter().copied().filter(visible).map(|q| (chart.backend_coord(&q), 50)))
        .chain(pixels.iter().map(|&q| (q, 1)))
        .chain(picks.iter().map(|q| (chart.backend_coord(q), 50)))
        // The constraint labels along the top edge.
        .chain(p.constraints.iter().filter(|c| c.ms >= f.x.0 && c.ms <= f.x.1).flat_map(|c| {
            let (x, y) = chart.backend_coord(&(c.ms, f.y.1));
            [((x + 4, y + 8), 50), ((x + 40, y + 8), 50)]
        }));
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
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(160, 160, 160))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(perr)?;
    Ok(pixels)
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
fn splice_cloud(svg: String, pixels: &[(i32, i32)]) -> String {
    let Some(mark) = svg.find(CLOUD_MARK) else { return svg };
    let (Some(start), Some(end)) =
        (svg[..mark].rfind("<text"), svg[mark..].find("</text>").map(|e| mark + e + "</text>".len()))
    else {
        return svg;
    };
    let mut path = String::with_capacity(12 * pixels.len() + 120);
    path.push_str(r##"<path fill="none" stroke="#b9b9b9" stroke-width="3" stroke-linecap="round" d=""##);
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
            latency_axis: AxisScale::Auto,
        };
        let svg = pareto_svg(&plot).unwrap();
        assert!(svg.len() < super::super::MAX_SVG_BYTES, "{} bytes", svg.len());
        assert!(!svg.contains(CLOUD_MARK));
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
            latency_axis: AxisScale::Auto,
        };
        assert!(pareto_svg(&p).unwrap_err().to_string().contains("nothing to plot"));
    }
}
