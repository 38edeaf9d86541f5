//! Plots (feature `plot`): the device correlation heatmap and Pareto fronts, as SVG or PNG
//! (chosen by the file extension). PNG text is drawn with the bundled DejaVu Sans font so that
//! output does not depend on the machine's fonts.

use crate::error::{Error, Result};
use crate::stats::CorrelationMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in and known to be valid; a failure would only lose PNG text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Plot { path: path.to_path_buf(), reason: e.to_string() }
}


/// Which image format a path asks for.
fn is_png(path: &Path) -> Result<bool> {
    match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()) {
        Some(e) if e == "svg" => Ok(false),
        Some(e) if e == "png" => Ok(true),
        _ => Err(plot_err(path, "the plot file must end in .svg or .png")),
    }
}

fn temp_path(path: &Path) -> std::path::PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.tmp.{}", std::process::id(), if is_png(path).unwrap_or(false) { "png" } else { "svg" }))
}

/// Draw into a temporary file with the backend the extension asks for, then move it into place.
/// (A macro because the drawing function is generic over the backend type.)
macro_rules! render {
    ($path:expr, $size:expr, |$area:ident| $draw:expr) => {{
        let path: &Path = $path;
        let tmp = temp_path(path);
        let result = if is_png(path)? {
            let root = BitMapBackend::new(&tmp, $size).into_drawing_area();
            let $area = &root;
            $draw.and_then(|_| root.present().map_err(|e| plot_err(path, e)))
        } else {
            let root = SVGBackend::new(&tmp, $size).into_drawing_area();
            let $area = &root;
            $draw.and_then(|_| root.present().map_err(|e| plot_err(path, e)))
        };
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(match e {
                Error::Plot { reason, .. } => plot_err(path, reason),
                other => other,
            });
        }
        finish(&tmp, path)?;
    }};
}

fn finish(tmp: &Path, path: &Path) -> Result<()> {
    std::fs::rename(tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        Error::io(path, e)
    })
}

/// Heatmap of a correlation matrix, labelled with device names and values.
pub fn heatmap(m: &CorrelationMatrix, title: &str, path: &Path) -> Result<()> {
    register_font();
    let n = m.devices.len().max(1);
    let cell = if n > 20 { 34 } else { 56 };
    let side = (n as u32) * cell + 170;
    let size = (side + 60, side + 40);
    render!(path, size, |area| draw_heatmap(area, m, title, cell));
    Ok(())
}

fn draw_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    m: &CorrelationMatrix,
    title: &str,
    cell: u32,
) -> Result<()> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| Error::Plot { path: "heatmap".into(), reason: e.to_string() };
    area.fill(&WHITE).map_err(err)?;
    let n = m.devices.len();
    let (x0, y0) = (150i32, 50i32);
    let c = cell as i32;
    area.draw(&Text::new(title.to_string(), (10, 12), ("sans-serif", 18).into_font())).map_err(err)?;
    let lo = m.matrix.iter().flatten().filter(|v| v.is_finite()).cloned().fold(1.0f64, f64::min).min(0.5);
    let label_font = ("sans-serif", if n > 20 { 11 } else { 13 }).into_font();
    let value_font = ("sans-serif", if n > 20 { 9 } else { 12 }).into_font();
    for (i, name) in m.devices.iter().enumerate() {
        let y = y0 + i as i32 * c + c / 2 - 6;
        area.draw(&Text::new(name.clone(), (8, y), label_font.clone())).map_err(err)?;
        let x = x0 + i as i32 * c + c / 2 - 4;
        let style = label_font.clone().transform(FontTransform::Rotate90);
        area.draw(&Text::new(name.clone(), (x, y0 + n as i32 * c + 6), style)).map_err(err)?;
        for j in 0..n {
            let v = m.matrix[i][j];
            let t = if v.is_finite() { ((v - lo) / (1.0 - lo)).clamp(0.0, 1.0) } else { 0.0 };
            let color = if v.is_finite() { ViridisRGB::get_color(t) } else { RGBColor(200, 200, 200) };
            let (cx, cy) = (x0 + j as i32 * c, y0 + i as i32 * c);
            area.draw(&Rectangle::new([(cx, cy), (cx + c, cy + c)], color.filled())).map_err(err)?;
            let text = if v.is_finite() { format!("{:.2}", v).trim_start_matches('0').to_string() } else { "-".into() };
            let fg = if t > 0.6 { BLACK } else { WHITE };
            area.draw(&Text::new(text, (cx + 3, cy + c / 2 - 5), value_font.clone().color(&fg))).map_err(err)?;
        }
    }
    // Colour scale.
    let sx = x0 + n as i32 * c + 20;
    for k in 0..100 {
        let t = 1.0 - k as f64 / 99.0;
        let y = y0 + (k * n as i32 * c) / 100;
        area.draw(&Rectangle::new([(sx, y), (sx + 16, y + (n as i32 * c) / 100 + 1)], ViridisRGB::get_color(t).filled()))
            .map_err(err)?;
    }
    area.draw(&Text::new("1.00", (sx + 20, y0), value_font.clone())).map_err(err)?;
    area.draw(&Text::new(format!("{lo:.2}"), (sx + 20, y0 + n as i32 * c - 10), value_font)).map_err(err)?;
    Ok(())
}

/// A point series of a Pareto plot.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// (latency ms, accuracy %) points.
    pub points: &'a [(f64, f64)],
}

/// Accuracy against latency: every architecture (grey), the true front (line), and the chosen
/// set (red), with vertical lines at the latency constraints.
pub fn pareto(
    path: &Path,
    title: &str,
    all: Series,
    front: Series,
    chosen: Option<Series>,
    constraints: &[f64],
) -> Result<()> {
    register_font();
    let size = (900, 600);
    render!(path, size, |area| draw_pareto(area, title, all, front, chosen, constraints));
    Ok(())
}

fn draw_pareto<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    all: Series,
    front: Series,
    chosen: Option<Series>,
    constraints: &[f64],
) -> Result<()> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| Error::Plot { path: "pareto".into(), reason: e.to_string() };
    area.fill(&WHITE).map_err(err)?;
    let pts = all.points.iter().chain(front.points).chain(chosen.iter().flat_map(|c| c.points.iter()));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in pts.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        return Err(Error::Plot { path: "pareto".into(), reason: "nothing to plot".into() });
    }
    let pad = |a: f64, b: f64| ((b - a) * 0.03).max(1e-9);
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))
        .map_err(err)?;
    chart.configure_mesh().x_desc("latency (ms)").y_desc("accuracy (%)").draw().map_err(err)?;
    chart
        .draw_series(all.points.iter().map(|&(x, y)| Circle::new((x, y), 1, RGBColor(170, 170, 170).filled())))
        .map_err(err)?
        .label(all.label)
        .legend(|(x, y)| Circle::new((x, y), 3, RGBColor(170, 170, 170).filled()));
    // A front is a staircase: the best accuracy reachable stays flat until the next point.
    let mut steps = Vec::with_capacity(2 * front.points.len());
    for (k, &(x, y)) in front.points.iter().enumerate() {
        if k > 0 {
            steps.push((x, front.points[k - 1].1));
        }
        steps.push((x, y));
    }
    chart
        .draw_series(LineSeries::new(steps, BLUE.stroke_width(2)))
        .map_err(err)?
        .label(front.label)
        .legend(|(x, y)| PathElement::new(vec![(x - 8, y), (x + 8, y)], BLUE.stroke_width(2)));
    if let Some(c) = chosen {
        chart
            .draw_series(c.points.iter().map(|&(x, y)| Cross::new((x, y), 4, RED.stroke_width(2))))
            .map_err(err)?
            .label(c.label)
            .legend(|(x, y)| Cross::new((x, y), 4, RED.stroke_width(2)));
    }
    for &c in constraints.iter().filter(|c| c.is_finite() && **c >= x0 - px && **c <= x1 + px) {
        chart
            .draw_series(LineSeries::new(vec![(c, y0 - py), (c, y1 + py)], RGBColor(230, 140, 0).stroke_width(1)))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}
