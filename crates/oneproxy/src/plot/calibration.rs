//! The calibration figure of `evaluate nas`: how often the flow's stated uncertainty holds.
//!
//! The x axis is a nominal level, the y axis how often the truth fell inside at that level. The
//! predictive intervals (on the architectures the flow did not measure) are a curve over their
//! levels; the estimate of the remaining regret, whose bound is stated at one level, is a
//! point. On the diagonal a statement means what it says: above it, the flow is more cautious
//! than it claims; below it, surer than it should be.

use super::palette::{self, hex};
use super::{svg_with_title, text_width};
use std::fmt::Write;

/// What the figure shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration<'a> {
    /// Title.
    pub title: &'a str,
    /// The predictive intervals: (nominal level, observed share) in increasing level.
    pub intervals: &'a [(f64, f64)],
    /// The bound of the remaining regret: (its level, the share of runs whose true regret it held).
    pub bound: Option<(f64, f64)>,
}

const SIDE: f64 = 360.0;

/// Draw the figure as SVG.
pub fn calibration_svg(c: &Calibration) -> String {
    let (left, top) = (60.0, 46.0);
    let width = (left + SIDE + 250.0).max(text_width(c.title, 14) + 30.0).ceil();
    let height = top + SIDE + 56.0;
    let x = |v: f64| left + SIDE * v.clamp(0.0, 1.0);
    let y = |v: f64| top + SIDE * (1.0 - v.clamp(0.0, 1.0));
    let mut s = svg_with_title(width, height, c.title);
    for k in 0..=5 {
        let v = k as f64 / 5.0;
        let _ = write!(
            s,
            r#"<line x1="{left}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="{g}"/><line x1="{xx:.1}" x2="{xx:.1}" y1="{top}" y2="{:.1}" stroke="{g}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{p}%</text><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{p}%</text>"#,
            left + SIDE,
            top + SIDE,
            left - 6.0,
            y(v) + 4.0,
            top + SIDE + 16.0,
            g = hex(palette::GRID),
            yy = y(v),
            xx = x(v),
            p = k * 20
        );
    }
    let _ = write!(
        s,
        r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" text-anchor="middle">nominal level</text><text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">observed: the truth inside</text>"#,
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0),
        hex(palette::DARK_GREY),
        left + SIDE / 2.0,
        top + SIDE + 34.0,
        top + SIDE / 2.0
    );
    if !c.intervals.is_empty() {
        let points: Vec<String> = std::iter::once((0.0, 0.0))
            .chain(c.intervals.iter().copied())
            .chain(std::iter::once((1.0, 1.0)))
            .map(|(n, o)| format!("{:.1},{:.1}", x(n), y(o)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>"#,
            points.join(" "),
            hex(palette::BLUE)
        );
        for &(n, o) in c.intervals {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{}"><title>central {:.0}% intervals hold {:.1}% of the true latencies</title></circle>"#,
                x(n),
                y(o),
                hex(palette::BLUE),
                n * 100.0,
                o * 100.0
            );
        }
    }
    if let Some((n, o)) = c.bound {
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="9" height="9" fill="{}"><title>the {:.0}% bound on the remaining regret holds {:.1}% of the true regrets</title></rect>"#,
            x(n) - 4.5,
            y(o) - 4.5,
            hex(palette::VERMILLION),
            n * 100.0,
            o * 100.0
        );
    }
    let lx = left + SIDE + 20.0;
    let _ = write!(
        s,
        r#"<line x1="{lx}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2"/><text x="{:.1}" y="{:.1}">latency intervals, unmeasured archs</text><rect x="{:.1}" y="{:.1}" width="9" height="9" fill="{}"/><text x="{:.1}" y="{:.1}">bound on the remaining regret</text><line x1="{lx}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{}" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}">says what it means</text>"#,
        lx + 18.0,
        top + 10.0,
        top + 10.0,
        hex(palette::BLUE),
        lx + 24.0,
        top + 14.0,
        lx + 4.5,
        top + 26.0,
        hex(palette::VERMILLION),
        lx + 24.0,
        top + 34.0,
        lx + 18.0,
        top + 50.0,
        top + 50.0,
        hex(palette::DARK_GREY),
        lx + 24.0,
        top + 54.0
    );
    s.push_str("</svg>");
    s
}

/// Draw the figure to `path` (.svg, .png or .pdf), through `out`.
pub fn calibration(c: &Calibration, path: &std::path::Path, out: &crate::output::Outputs) -> crate::error::Result<()> {
    super::save(&calibration_svg(c), path, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_the_bound_and_the_diagonal_are_drawn_where_their_values_say() {
        let c = Calibration {
            title: "calibration <nb201>",
            intervals: &[(0.2, 0.45), (0.5, 0.72), (0.8, 0.88)],
            bound: Some((0.8, 0.786)),
        };
        let svg = calibration_svg(&c);
        roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("central 80% intervals hold 88.0% of the true latencies"));
        assert!(svg.contains("the 80% bound on the remaining regret holds 78.6% of the true regrets"));
        assert!(svg.contains("calibration &lt;nb201&gt;"));
        // The curve runs from the origin to the top right corner through the three levels.
        let line = svg.split("<polyline points=\"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(line.split(' ').count(), 5);
        // Without an estimate, no bound is drawn (only the legend's swatch).
        let none = calibration_svg(&Calibration { bound: None, ..c });
        assert_eq!(none.matches("<rect x=").count(), 1);
    }
}
