//! The overview figure of a run, written as SVG directly: the whole result at one glance.
//!
//! Left, one row per target, sorted worst first: oneproxy's regret (blue circle) beside the
//! random baseline's at the same number of measurements (orange triangle), joined by a line, on
//! a log axis (regrets span three decades). A target where oneproxy did worse than random is
//! shaded and its name set in bold. Right, regret against the measurements each target cost,
//! for both, with the means as dashed lines: what the measurements bought.

use super::palette::{self, hex};
use super::{escape_xml, save, text_width, FONT_FAMILY};
use crate::error::Result;
use std::fmt::Write;
use std::path::Path;

/// One target of the overview.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverviewTarget<'a> {
    /// Its name.
    pub name: &'a str,
    /// oneproxy's regret (accuracy points).
    pub regret: f64,
    /// The random baseline's regret at the same number of measurements, if scored.
    pub random: Option<f64>,
    /// Target measurements made.
    pub measurements: f64,
    /// Whether the target is marked as failing (e.g. worse than random).
    pub failing: bool,
}

/// What the overview shows.
#[derive(Debug, Clone, Copy)]
pub struct Overview<'a> {
    /// Title line.
    pub title: &'a str,
    /// The targets, in any order (the figure sorts them).
    pub targets: &'a [OverviewTarget<'a>],
}

const ROW: f64 = 17.0;
const TOP: f64 = 56.0;
const PANEL_W: f64 = 330.0;
const GAP: f64 = 90.0;

/// A log axis over whole decades that holds every positive value; zeros go to its floor.
#[derive(Debug, Clone, Copy, PartialEq)]
struct LogAxis {
    lo: f64,
    hi: f64,
}

impl LogAxis {
    fn over(values: impl Iterator<Item = f64>) -> LogAxis {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite() && *v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            return LogAxis { lo: 0.01, hi: 1.0 };
        }
        let (lo, hi) = (10f64.powf(lo.log10().floor()), 10f64.powf(hi.log10().ceil()));
        LogAxis { lo, hi: if hi <= lo { lo * 10.0 } else { hi } }
    }

    /// Where `v` falls, 0..=1 (zero and below at 0).
    fn at(&self, v: f64) -> f64 {
        let v = if v.is_finite() { v.max(self.lo) } else { self.lo };
        ((v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())).clamp(0.0, 1.0)
    }

    fn decades(&self) -> Vec<f64> {
        let (a, b) = (self.lo.log10().round() as i32, self.hi.log10().round() as i32);
        (a..=b).map(|e| 10f64.powi(e)).collect()
    }
}

fn fmt_tick(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A circle (oneproxy) or a triangle (random) centred on `(x, y)`.
fn mark(s: &mut String, random: bool, x: f64, y: f64) {
    if random {
        let (c, r) = (hex(palette::ORANGE), 5.0);
        let _ = write!(
            s,
            r#"<path d="M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z" fill="{c}" stroke="black" stroke-width="0.6"/>"#,
            y - r,
            x + r * 0.87,
            y + r * 0.5,
            x - r * 0.87,
            y + r * 0.5
        );
    } else {
        let _ = write!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="4.2" fill="{}"/>"#, hex(palette::BLUE));
    }
}

/// Draw the overview as an SVG document.
pub fn overview_svg(o: &Overview) -> String {
    let mut rows: Vec<&OverviewTarget> = o.targets.iter().collect();
    // Worst first; ties by name, so the order is stable.
    rows.sort_by(|a, b| b.regret.total_cmp(&a.regret).then(a.name.cmp(b.name)));
    let n = rows.len();
    let axis = LogAxis::over(rows.iter().flat_map(|t| [Some(t.regret), t.random]).flatten());
    let zeros = rows.iter().flat_map(|t| [Some(t.regret), t.random]).flatten().filter(|v| *v < axis.lo).count();
    let label_w = rows.iter().map(|t| text_width(t.name, 12)).fold(40.0, f64::max);
    let left = (label_w + 16.0).ceil();
    let plot_h = (n as f64 * ROW).max(220.0);
    let (lx0, rx0) = (left, left + PANEL_W + GAP);
    let width = (rx0 + PANEL_W + 80.0).ceil();
    let height = (TOP + plot_h + 96.0).ceil();
    let grey = hex(palette::GRID);
    let dark = hex(palette::DARK_GREY);
    let mut s = String::with_capacity(4096 + 600 * n);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT_FAMILY}, sans-serif">"#
    );
    let _ = write!(s, r#"<rect width="{width}" height="{height}" fill="white"/>"#);
    let _ = write!(s, r#"<text x="10" y="22" font-size="16">{}</text>"#, escape_xml(o.title));
    let _ = write!(
        s,
        r#"<g font-size="13"><text x="{lx0}" y="{}">Regret per target (worst first)</text><text x="{rx0}" y="{}">Regret against measurements</text></g>"#,
        TOP - 12.0,
        TOP - 12.0
    );
    let x_of = |x0: f64, v: f64| x0 + axis.at(v) * PANEL_W;
    // Left panel: grid, failing bands, dumbbells, labels.
    let _ = write!(s, r#"<g stroke="{grey}">"#);
    for d in axis.decades() {
        let x = x_of(lx0, d);
        let _ = write!(s, r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}"/>"#, TOP + plot_h);
    }
    s.push_str("</g>");
    for (k, t) in rows.iter().enumerate() {
        let y = TOP + (k as f64 + 0.5) * ROW;
        if t.failing {
            let _ = write!(
                s,
                r#"<rect x="4" y="{:.1}" width="{:.1}" height="{ROW}" fill="{}" fill-opacity="0.18"/>"#,
                y - ROW / 2.0,
                lx0 + PANEL_W - 4.0,
                hex(palette::VERMILLION)
            );
        }
        let weight = if t.failing { r#" font-weight="bold""# } else { "" };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end"{weight}>{}</text>"#,
            lx0 - 8.0,
            y + 4.0,
            escape_xml(t.name)
        );
        let xa = x_of(lx0, t.regret);
        if let Some(r) = t.random {
            let xb = x_of(lx0, r);
            let _ = write!(
                s,
                r#"<line x1="{xa:.1}" y1="{y:.1}" x2="{xb:.1}" y2="{y:.1}" stroke="{dark}" stroke-width="1"/>"#
            );
            mark(&mut s, true, xb, y);
        }
        mark(&mut s, false, xa, y);
    }
    // Right panel: measurements (linear, from 0) against regret (the same log axis, upwards).
    let m_max = rows.iter().map(|t| t.measurements).filter(|m| m.is_finite()).fold(1.0, f64::max);
    let m_hi = nice_ceiling(m_max * 1.05);
    let px = |m: f64| rx0 + (m / m_hi).clamp(0.0, 1.0) * PANEL_W;
    let py = |v: f64| TOP + plot_h - axis.at(v) * plot_h;
    let _ = write!(s, r#"<g stroke="{grey}">"#);
    for d in axis.decades() {
        let y = py(d);
        let _ = write!(s, r#"<line x1="{rx0}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/>"#, rx0 + PANEL_W);
    }
    s.push_str("</g>");
    let mean = |f: &dyn Fn(&OverviewTarget) -> Option<f64>| {
        let v: Vec<f64> = rows.iter().filter_map(|t| f(t)).filter(|v| v.is_finite()).collect();
        (!v.is_empty() && v.len() == n).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    for (value, colour, random) in
        [(mean(&|t| Some(t.regret)), palette::BLUE, false), (mean(&|t| t.random), palette::ORANGE, true)]
    {
        let Some(v) = value else { continue };
        let y = py(v);
        let _ = write!(
            s,
            r#"<line x1="{rx0}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" stroke-width="1.2" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" font-size="11" fill="{dark}">mean {}</text>"#,
            rx0 + PANEL_W,
            hex(colour),
            rx0 + PANEL_W + 3.0,
            y + if random { -3.0 } else { 11.0 },
            fmt_tick((v * 1000.0).round() / 1000.0)
        );
    }
    for t in &rows {
        let x = px(t.measurements);
        if let Some(r) = t.random {
            mark(&mut s, true, x, py(r));
        }
        mark(&mut s, false, x, py(t.regret));
        if t.failing {
            let y = py(t.regret);
            let _ = write!(
                s,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="8" fill="none" stroke="{}" stroke-width="1.5"/><text x="{:.1}" y="{:.1}" font-size="11" font-weight="bold">{}</text>"#,
                hex(palette::VERMILLION),
                x + 10.0,
                y + 4.0,
                escape_xml(t.name)
            );
        }
    }
    // Axes: frames, ticks, titles.
    let base = TOP + plot_h;
    let _ = write!(
        s,
        r#"<g fill="none" stroke="{dark}"><rect x="{lx0}" y="{TOP}" width="{PANEL_W}" height="{plot_h}"/><rect x="{rx0}" y="{TOP}" width="{PANEL_W}" height="{plot_h}"/></g>"#
    );
    let _ = write!(s, r#"<g font-size="11" text-anchor="middle">"#);
    for d in axis.decades() {
        let _ = write!(s, r#"<text x="{:.1}" y="{:.1}">{}</text>"#, x_of(lx0, d), base + 15.0, fmt_tick(d));
        let _ =
            write!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#, rx0 - 5.0, py(d) + 4.0, fmt_tick(d));
    }
    for k in 0..=4 {
        let m = m_hi * k as f64 / 4.0;
        let _ = write!(s, r#"<text x="{:.1}" y="{:.1}">{}</text>"#, px(m), base + 15.0, fmt_tick(m));
    }
    s.push_str("</g>");
    let _ = write!(
        s,
        r#"<g font-size="12" text-anchor="middle"><text x="{:.1}" y="{:.1}">regret (accuracy points, log scale)</text><text x="{:.1}" y="{:.1}">measurements on the target</text></g>"#,
        lx0 + PANEL_W / 2.0,
        base + 32.0,
        rx0 + PANEL_W / 2.0,
        base + 32.0
    );
    let (ty, tx) = (TOP + plot_h / 2.0, rx0 - 44.0);
    let _ = write!(
        s,
        r#"<text x="{tx}" y="{ty}" font-size="12" text-anchor="middle" transform="rotate(-90 {tx} {ty})">regret (points, log scale)</text>"#
    );
    // Legend and notes under the panels.
    let ly = base + 54.0;
    mark(&mut s, false, lx0 + 6.0, ly - 4.0);
    let _ = write!(s, r#"<text x="{:.1}" y="{ly}" font-size="12">oneproxy</text>"#, lx0 + 16.0);
    mark(&mut s, true, lx0 + 96.0, ly - 4.0);
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{ly}" font-size="12">random architectures, as many measurements</text>"#,
        lx0 + 106.0
    );
    let _ = write!(
        s,
        r#"<rect x="{:.1}" y="{:.1}" width="14" height="11" fill="{}" fill-opacity="0.18"/><text x="{:.1}" y="{ly}" font-size="12">shaded, bold: worse than random</text>"#,
        rx0 + 60.0,
        ly - 10.0,
        hex(palette::VERMILLION),
        rx0 + 80.0
    );
    let mut note = format!("{n} targets; lower is better");
    if zeros > 0 {
        let _ = write!(note, "; {zeros} regret(s) below {} drawn at the axis", fmt_tick(axis.lo));
    }
    let _ = write!(s, r#"<text x="10" y="{:.1}" font-size="11" fill="{dark}">{}</text>"#, ly + 22.0, escape_xml(&note));
    s.push_str("</svg>\n");
    s
}

/// The smallest of 1, 2, 4, 6 or 8 times a power of ten at or above `v` (quarters of it are
/// round numbers too).
fn nice_ceiling(v: f64) -> f64 {
    let p = 10f64.powf(v.max(1e-9).log10().floor());
    [1.0, 2.0, 4.0, 6.0, 8.0, 10.0].iter().map(|k| k * p).find(|c| *c >= v).unwrap_or(10.0 * p)
}

/// Draw the overview to `path` (.svg, .png or .pdf).
pub fn overview(o: &Overview, path: &Path, out: &crate::output::Outputs) -> Result<()> {
    save(&overview_svg(o), path, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, regret: f64, random: f64, m: f64) -> OverviewTarget<'_> {
        OverviewTarget { name, regret, random: Some(random), measurements: m, failing: regret > random }
    }

    #[test]
    fn rows_are_sorted_worst_first_and_failing_ones_marked() {
        let targets = [t("good", 0.05, 4.0, 30.0), t("bad<1>", 8.5, 5.0, 14.0), t("zero", 0.0, 5.5, 40.0)];
        let svg = overview_svg(&Overview { title: "Regret & random", targets: &targets });
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let labels: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text") && n.attribute("text-anchor") == Some("end"))
            .filter_map(|n| n.text())
            .filter(|t| t.chars().any(char::is_alphabetic))
            .collect();
        assert_eq!(labels, ["bad<1>", "good", "zero"]);
        assert!(svg.contains("Regret &amp; random") && svg.contains("bad&lt;1&gt;"));
        // The failing target: a shaded band, a bold label, and ringed in the right panel.
        assert_eq!(svg.matches(r#"fill-opacity="0.18""#).count(), 2, "one band and the legend swatch");
        assert!(svg.contains(r#"font-weight="bold">bad&lt;1&gt;</text>"#));
        assert!(svg.contains("1 regret(s) below 0.01 drawn at the axis"));
        assert!(svg.contains("mean 4.833") && svg.contains("mean 2.85"));
        super::super::svg_to_png(&svg, 1.0, Path::new("o.png")).unwrap();
    }

    #[test]
    fn the_log_axis_covers_whole_decades() {
        let a = LogAxis::over([0.004, 8.47, 0.0, f64::NAN].into_iter());
        assert_eq!((a.lo, a.hi), (0.001, 10.0));
        assert_eq!(a.decades().len(), 5);
        assert_eq!(a.at(0.0), 0.0);
        assert!((a.at(0.1) - 0.5).abs() < 1e-12);
        assert_eq!(nice_ceiling(65.0), 80.0);
        assert_eq!(nice_ceiling(41.0), 60.0);
    }
}
