//! The correlation heatmap, written as SVG directly: by default a sequential colour scale over the
//! range the data spans (latency rankings mostly agree, so a -1..1 scale would spend half its
//! colours on values that never occur), or on request the fixed diverging scale from -1 to 1 (the
//! same in every figure, so figures compare); a colour bar with a title and ticks, column labels
//! at 45 degrees, the proxy outlined, and cell values written in where they stay readable.
//! Rows and columns are drawn in the matrix's order: reorder it first (clustered or alphabetical,
//! see [`CorrelationMatrix::clustered`]).

use super::{escape_xml, save, text_width, FONT_FAMILY};
use crate::error::Result;
use crate::stats::CorrelationMatrix;
use std::fmt::Write;
use std::path::Path;

/// Above this many devices the cells carry no numbers (they would be unreadable at one-column
/// paper width); each cell still names its value in a tooltip.
pub const ANNOTATE_MAX_DEVICES: usize = 16;

/// ColorBrewer's RdBu, from -1 (dark red) through 0 (white) to 1 (dark blue), at steps of 0.2.
const RDBU: [(u8, u8, u8); 11] = [
    (0x67, 0x00, 0x1f),
    (0xb2, 0x18, 0x2b),
    (0xd6, 0x60, 0x4d),
    (0xf4, 0xa5, 0x82),
    (0xfd, 0xdb, 0xc7),
    (0xf7, 0xf7, 0xf7),
    (0xd1, 0xe5, 0xf0),
    (0x92, 0xc5, 0xde),
    (0x43, 0x93, 0xc3),
    (0x21, 0x66, 0xac),
    (0x05, 0x30, 0x61),
];

/// ColorBrewer's YlGnBu, light (low) to dark blue (high): sequential, and legible to readers
/// with a colour-vision deficiency.
const YLGNBU: [(u8, u8, u8); 9] = [
    (0xff, 0xff, 0xd9),
    (0xed, 0xf8, 0xb1),
    (0xc7, 0xe9, 0xb4),
    (0x7f, 0xcd, 0xbb),
    (0x41, 0xb6, 0xc4),
    (0x1d, 0x91, 0xc0),
    (0x22, 0x5e, 0xa8),
    (0x25, 0x34, 0x94),
    (0x08, 0x1d, 0x58),
];

/// The colour at `t` (0..=1, clamped) along a list of stops.
fn ramp(stops: &[(u8, u8, u8)], t: f64) -> String {
    let t = t.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let k = (t.floor() as usize).min(stops.len() - 2);
    let f = t - k as f64;
    let (a, b) = (stops[k], stops[k + 1]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Colour of a correlation on the fixed scale [-1, 1] (values outside are clamped).
pub(crate) fn colour(v: f64) -> String {
    ramp(&RDBU, (v + 1.0) / 2.0)
}

/// The heatmap's colour scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeatmapScale {
    /// Sequential, over the range of the finite values (the default).
    #[default]
    Data,
    /// Diverging, fixed from -1 to 1 in every figure.
    Full,
}

/// A colour scale with its bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Which scale.
    pub kind: HeatmapScale,
    /// The value drawn at the bottom of the colour bar.
    pub lo: f64,
    /// The value drawn at its top.
    pub hi: f64,
}

impl Scale {
    /// The scale of `kind` for the finite values of `m`; a data scale rounds its bounds out to
    /// 0.05 and spans at least 0.1.
    pub fn of(m: &CorrelationMatrix, kind: HeatmapScale) -> Scale {
        if kind == HeatmapScale::Full {
            return Scale { kind, lo: -1.0, hi: 1.0 };
        }
        let values = m.matrix.iter().flatten().copied().filter(|v| v.is_finite());
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        if !lo.is_finite() {
            return Scale { kind, lo: 0.0, hi: 1.0 };
        }
        let lo = ((lo * 20.0 + 1e-9).floor() / 20.0).max(-1.0);
        let hi = ((hi * 20.0 - 1e-9).ceil() / 20.0).min(1.0);
        let lo = if hi - lo < 0.1 { hi - 0.1 } else { lo };
        Scale { kind, lo, hi }
    }

    /// Where `v` falls on the scale, 0..=1.
    fn at(&self, v: f64) -> f64 {
        ((v - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0)
    }

    /// The fill of a value.
    pub fn colour(&self, v: f64) -> String {
        match self.kind {
            HeatmapScale::Full => colour(v),
            HeatmapScale::Data => ramp(&YLGNBU, self.at(v)),
        }
    }

    /// Whether a cell's number is written in white (on a dark fill).
    fn dark(&self, v: f64) -> bool {
        match self.kind {
            HeatmapScale::Full => v.abs() > 0.55,
            HeatmapScale::Data => self.at(v) > 0.6,
        }
    }

    fn stops(&self) -> usize {
        match self.kind {
            HeatmapScale::Full => RDBU.len(),
            HeatmapScale::Data => YLGNBU.len(),
        }
    }

    /// The colour bar's title after the metric's name.
    fn describe(&self) -> String {
        match self.kind {
            HeatmapScale::Full => "fixed scale −1 to 1".into(),
            HeatmapScale::Data => format!("scale over the data, {} to {}", signed(self.lo), signed(self.hi)),
        }
    }
}

/// A tick value with a true minus sign.
fn signed(v: f64) -> String {
    let v = if v.abs() < 1e-9 { 0.0 } else { v };
    if v < 0.0 {
        format!("−{:.2}", -v)
    } else {
        format!("{v:.2}")
    }
}

/// What to write on the heatmap besides the matrix.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeatmapStyle<'a> {
    /// Title line.
    pub title: &'a str,
    /// Device to outline (the proxy), if it is in the matrix.
    pub highlight: Option<&'a str>,
    /// A note under the figure (e.g. the device order).
    pub note: Option<&'a str>,
    /// The colour scale.
    pub scale: HeatmapScale,
}

/// Draw the heatmap as an SVG document.
pub fn heatmap_svg(m: &CorrelationMatrix, style: &HeatmapStyle) -> String {
    let n = m.devices.len();
    let scale = Scale::of(m, style.scale);
    let cell: f64 = match n {
        0..=10 => 40.0,
        11..=16 => 32.0,
        _ => 22.0,
    };
    let annotate = n <= ANNOTATE_MAX_DEVICES;
    let (label_size, value_size) = (12u32, if n <= 10 { 11u32 } else { 10 });
    let label_w = m.devices.iter().map(|d| text_width(d, label_size)).fold(0.0, f64::max);
    let left = (label_w + 12.0).ceil();
    let top = 34.0;
    let grid = n as f64 * cell;
    // Column labels hang at 45 degrees below the grid.
    let below = (label_w * std::f64::consts::FRAC_1_SQRT_2 + 10.0).ceil();
    let bar_x = left + grid + 18.0;
    let bar_h = grid.max(120.0);
    let title_w = text_width(style.title, 15);
    let width = (bar_x + 14.0 + 44.0 + 22.0).max(title_w + 20.0).ceil();
    let notes: Vec<String> = style
        .highlight
        .filter(|h| m.devices.iter().any(|d| d == h))
        .map(|h| format!("outlined: the proxy, {h}"))
        .into_iter()
        .chain(style.note.map(str::to_string))
        .collect();
    let height = (top + grid.max(bar_h) + below + 18.0 * notes.len() as f64 + 6.0).ceil();

    let mut s = String::with_capacity(64 * n * n + 4096);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT_FAMILY}, sans-serif">"#
    );
    let _ = write!(s, r#"<rect width="{width}" height="{height}" fill="white"/>"#);
    let _ = write!(s, r#"<text x="10" y="22" font-size="15">{}</text>"#, escape_xml(style.title));
    // Cells: the fill is the value; a tooltip names the pair.
    let _ = write!(s, r#"<g font-size="{value_size}" text-anchor="middle">"#);
    for i in 0..n {
        for j in 0..n {
            let v = m.matrix[i][j];
            let (x, y) = (left + j as f64 * cell, top + i as f64 * cell);
            let fill = if v.is_finite() { scale.colour(v) } else { "#d9d9d9".into() };
            let value = if v.is_finite() { format!("{v:.2}") } else { "undefined".into() };
            let _ = write!(
                s,
                r#"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}"><title>{} / {}: {value} ({} archs)</title></rect>"#,
                escape_xml(&m.devices[i]),
                escape_xml(&m.devices[j]),
                m.overlaps[i][j]
            );
            if annotate {
                let text = if v.is_finite() { format!("{v:.2}") } else { "–".into() };
                let fg = if v.is_finite() && scale.dark(v) { "white" } else { "black" };
                let _ = write!(
                    s,
                    r#"<text x="{}" y="{}" fill="{fg}">{text}</text>"#,
                    x + cell / 2.0,
                    y + cell / 2.0 + value_size as f64 * 0.36
                );
            }
        }
    }
    s.push_str("</g>");
    // Row labels (right-aligned) and column labels (45 degrees, hanging below).
    let hi = style.highlight;
    let _ = write!(s, r#"<g font-size="{label_size}">"#);
    for (i, d) in m.devices.iter().enumerate() {
        let bold = if hi == Some(d.as_str()) { r#" font-weight="bold""# } else { "" };
        let name = escape_xml(d);
        let y = top + i as f64 * cell + cell / 2.0 + label_size as f64 * 0.36;
        let _ = write!(s, r#"<text x="{}" y="{y}" text-anchor="end"{bold}>{name}</text>"#, left - 6.0);
        let (cx, cy) = (left + i as f64 * cell + cell / 2.0 + label_size as f64 * 0.3, top + grid + 6.0);
        let _ = write!(
            s,
            r#"<text x="{cx}" y="{cy}" text-anchor="end" transform="rotate(-45 {cx} {cy})"{bold}>{name}</text>"#
        );
    }
    s.push_str("</g>");
    if let Some(p) = hi.and_then(|h| m.devices.iter().position(|d| d == h)) {
        let at = p as f64 * cell;
        let _ = write!(
            s,
            r#"<g fill="none" stroke="black" stroke-width="2"><rect x="{left}" y="{}" width="{grid}" height="{cell}"/><rect x="{}" y="{top}" width="{cell}" height="{grid}"/></g>"#,
            top + at,
            left + at
        );
    }
    // Colour bar: the scale, five ticks, and what it shows.
    s.push_str(r#"<defs><linearGradient id="oneproxy-heat" x1="0" y1="1" x2="0" y2="0">"#);
    let stops = scale.stops();
    for k in 0..stops {
        let t = k as f64 / (stops - 1) as f64;
        let _ =
            write!(s, r#"<stop offset="{t}" stop-color="{}"/>"#, scale.colour(scale.lo + (scale.hi - scale.lo) * t));
    }
    s.push_str("</linearGradient></defs>");
    let _ = write!(
        s,
        r##"<rect x="{bar_x}" y="{top}" width="14" height="{bar_h}" fill="url(#oneproxy-heat)" stroke="#555" stroke-width="0.5"/>"##
    );
    let _ = write!(s, r##"<g font-size="11" stroke="#555">"##);
    for k in 0..=4 {
        let v = scale.hi - (scale.hi - scale.lo) * k as f64 / 4.0;
        let y = top + bar_h * k as f64 / 4.0;
        let _ = write!(
            s,
            r#"<line x1="{}" y1="{y}" x2="{}" y2="{y}"/><text x="{}" y="{}" stroke="none">{}</text>"#,
            bar_x + 14.0,
            bar_x + 18.0,
            bar_x + 21.0,
            y + 4.0,
            signed(v)
        );
    }
    s.push_str("</g>");
    let (tx, ty) = (bar_x + 14.0 + 50.0, top + bar_h / 2.0);
    let _ = write!(
        s,
        r#"<text x="{tx}" y="{ty}" font-size="12" text-anchor="middle" transform="rotate(-90 {tx} {ty})">{} correlation ({})</text>"#,
        capitalised(m.metric.name()),
        scale.describe()
    );
    for (k, note) in notes.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="10" y="{}" font-size="12">{}</text>"#,
            top + grid.max(bar_h) + below + 14.0 + 18.0 * k as f64,
            escape_xml(note)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

/// Draw the heatmap to `path` (.svg, .png or .pdf).
pub fn heatmap(m: &CorrelationMatrix, style: &HeatmapStyle, path: &Path, out: &crate::output::Outputs) -> Result<()> {
    save(&heatmap_svg(m, style), path, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Metric;

    fn matrix(n: usize) -> CorrelationMatrix {
        CorrelationMatrix {
            metric: Metric::Spearman,
            devices: (0..n).map(|i| format!("dev<{i}>")).collect(),
            matrix: (0..n)
                .map(|i| {
                    (0..n)
                        .map(|j| {
                            if i == j {
                                1.0
                            } else if i + j == 3 {
                                f64::NAN
                            } else {
                                0.5 - 0.1 * j as f64
                            }
                        })
                        .collect()
                })
                .collect(),
            overlaps: vec![vec![50; n]; n],
            min_overlap: 10,
        }
    }

    #[test]
    fn fixed_scale_ends_and_middle() {
        assert_eq!(colour(-1.0), "#67001f");
        assert_eq!(colour(0.0), "#f7f7f7");
        assert_eq!(colour(1.0), "#053061");
        assert_eq!(colour(7.0), colour(1.0));
        assert_eq!(colour(0.8), "#2166ac");
    }

    #[test]
    fn small_matrix_is_annotated_escaped_and_outlined() {
        let m = matrix(4);
        let svg = heatmap_svg(
            &m,
            &HeatmapStyle {
                title: "a & b",
                highlight: Some("dev<2>"),
                note: Some("order: clustered"),
                scale: HeatmapScale::Full,
            },
        );
        assert!(svg.contains("a &amp; b"));
        assert!(svg.contains("dev&lt;2&gt;") && !svg.contains("dev<2>"));
        assert!(svg.contains(">0.50</text>"), "cells carry their values");
        assert!(svg.contains(">–</text>"), "undefined cells are marked");
        assert!(svg.contains("outlined: the proxy, dev&lt;2&gt;"));
        assert!(svg.contains("order: clustered"));
        assert!(svg.contains("rotate(-45"));
        assert!(svg.contains("Spearman correlation (fixed scale −1 to 1)"));
        assert!(svg.contains(">−1.00</text>") && svg.contains(">0.00</text>"));
        assert_eq!(svg.matches(r#"stroke-width="2""#).count(), 1);
        // It parses, and renders (the PNG path checks the text with the bundled font).
        super::super::svg_to_png(&svg, 1.0, Path::new("h.png")).unwrap();
    }

    #[test]
    fn the_default_scale_spans_the_data_and_full_spans_minus_one_to_one() {
        let m = matrix(4);
        // Off-diagonal values 0.5 - 0.1 j: 0.2..0.5, and 1 on the diagonal.
        let s = Scale::of(&m, HeatmapScale::Data);
        assert_eq!((s.lo, s.hi), (0.2, 1.0));
        assert_eq!(s.colour(0.2), "#ffffd9", "the lowest value takes the lightest colour");
        assert_eq!(s.colour(1.0), "#081d58");
        assert_eq!(Scale::of(&m, HeatmapScale::Full), Scale { kind: HeatmapScale::Full, lo: -1.0, hi: 1.0 });
        let mut flat = matrix(2);
        flat.matrix = vec![vec![1.0, 0.97], vec![0.97, 1.0]];
        let s = Scale::of(&flat, HeatmapScale::Data);
        assert!((s.lo - 0.9).abs() < 1e-12 && s.hi == 1.0, "{s:?}");
        let svg = heatmap_svg(&m, &HeatmapStyle { title: "t", ..Default::default() });
        assert!(svg.contains("Spearman correlation (scale over the data, 0.20 to 1.00)"), "{svg}");
        assert!(svg.contains(">0.20</text>") && !svg.contains(">−1.00</text>"));
        assert!(!svg.contains("--"), "no command-line text in a figure");
    }

    #[test]
    fn large_matrix_drops_cell_numbers() {
        let m = matrix(ANNOTATE_MAX_DEVICES + 1);
        let svg = heatmap_svg(
            &m,
            &HeatmapStyle { title: "t", highlight: Some("not there"), note: None, ..Default::default() },
        );
        assert!(!svg.contains(r#"fill="black">"#) && !svg.contains(r#"fill="white">"#), "no cell numbers");
        assert!(svg.contains("<title>dev&lt;0&gt; / dev&lt;1&gt;: 0.40 (50 archs)</title>"));
        assert!(!svg.contains("outlined"));
    }
}
