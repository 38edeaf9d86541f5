//! The fleet figure, written as SVG directly: one bar per device in arrival order, as tall as
//! the measurements its flow made, and who proxied whom. A device proxied by a fleet member is
//! joined to that member's bar by an arc above the bars; a device proxied from the initial pool
//! has its proxy's name above its bar instead. The bars are coloured by where the proxy came
//! from, so a fleet that learns shows blue arcs and shorter bars to the right.

use super::palette::{self, hex};
use super::{escape_xml, svg_with_title, text_width, tick_step};
use crate::workflow::Span;
use std::fmt::Write;

/// One device of the figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FleetBar<'a> {
    /// Its name.
    pub name: &'a str,
    /// Measurements its flow made.
    pub measurements: usize,
    /// The proxy's name.
    pub proxy: &'a str,
    /// The arrival index of the fleet member that proxied it, if one did.
    pub member: Option<usize>,
}

const BAR_W: f64 = 34.0;
const GAP: f64 = 22.0;
const PLOT_H: f64 = 200.0;

/// Draw the fleet figure; `bars` in arrival order.
pub fn fleet_svg(title: &str, bars: &[FleetBar]) -> String {
    let n = bars.len().max(1);
    let most = bars.iter().map(|b| b.measurements).max().unwrap_or(0).max(1) as f64;
    // Ticks at round steps, about five of them.
    let step = tick_step(most, 6.0);
    let top_value = (most / step).ceil() * step;
    let longest = bars.iter().map(|b| text_width(b.name, 11)).fold(40.0, f64::max);
    let arcs_h = 24.0 + 14.0 * (bars.iter().filter(|b| b.member.is_some()).count().min(6) as f64);
    let (left, top) = (48.0, 40.0 + arcs_h + 16.0);
    let width = (left + n as f64 * (BAR_W + GAP) + 20.0).max(text_width(title, 14) + 30.0).ceil();
    let height = (top + PLOT_H + longest * 0.75 + 40.0).ceil();
    let y = |v: f64| top + PLOT_H * (1.0 - v / top_value);
    let x = |i: usize| left + GAP / 2.0 + i as f64 * (BAR_W + GAP);
    let mut s = svg_with_title(width, height, title);
    let mut v = 0.0;
    while v <= top_value + 1e-9 {
        let _ = write!(
            s,
            r#"<line x1="{left}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="{}"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v}</text>"#,
            width - 10.0,
            hex(palette::GRID),
            left - 6.0,
            y(v) + 4.0,
            yy = y(v)
        );
        v += step;
    }
    let _ = write!(
        s,
        r#"<text transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle">measurements</text>"#,
        top + PLOT_H / 2.0
    );
    for (i, b) in bars.iter().enumerate() {
        let colour = if b.member.is_some() { palette::BLUE } else { palette::CLOUD_GREY };
        let (x0, y0) = (x(i), y(b.measurements as f64));
        let _ = write!(
            s,
            r#"<rect x="{x0:.1}" y="{y0:.1}" width="{BAR_W}" height="{:.1}" fill="{}"><title>{}: {} measurements, proxy {}</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            top + PLOT_H - y0,
            hex(colour),
            escape_xml(b.name),
            b.measurements,
            escape_xml(b.proxy),
            x0 + BAR_W / 2.0,
            y0 - 4.0,
            b.measurements
        );
        let _ = write!(
            s,
            r#"<text transform="translate({:.1} {:.1}) rotate(45)">{}</text>"#,
            x0 + BAR_W / 2.0 - 4.0,
            top + PLOT_H + 14.0,
            escape_xml(b.name)
        );
        match b.member {
            Some(m) if m < i => {
                let (xa, xb) = (x(m) + BAR_W / 2.0, x0 + BAR_W / 2.0);
                let lift = 18.0 + 10.0 * ((i - m) as f64).min(6.0);
                let base = top - 8.0;
                let _ = write!(
                    s,
                    r#"<path d="M{xa:.1} {base:.1} C{xa:.1} {:.1} {xb:.1} {:.1} {xb:.1} {base:.1}" fill="none" stroke="{}" stroke-width="1.6"/><path d="M{:.1} {:.1}L{xb:.1} {base:.1}L{:.1} {:.1}" fill="none" stroke="{}" stroke-width="1.6"/>"#,
                    base - lift,
                    base - lift,
                    hex(palette::BLUE),
                    xb - 4.0,
                    base - 7.0,
                    xb + 4.0,
                    base - 7.0,
                    hex(palette::BLUE)
                );
            }
            _ => {
                let _ = write!(
                    s,
                    r#"<text transform="translate({:.1} {:.1}) rotate(-45)" fill="{}">{}</text>"#,
                    x0 + BAR_W / 2.0,
                    top - 8.0,
                    hex(palette::DARK_GREY),
                    escape_xml(b.proxy)
                );
            }
        }
    }
    let legend_y = height - 10.0;
    let _ = write!(
        s,
        r#"<rect x="10" y="{:.1}" width="10" height="10" fill="{}"/><text x="24" y="{legend_y:.1}">proxied by a fleet member (arc from it)</text><rect x="260" y="{:.1}" width="10" height="10" fill="{}"/><text x="274" y="{legend_y:.1}">proxied from the initial pool (named above)</text></svg>"#,
        legend_y - 9.0,
        hex(palette::BLUE),
        legend_y - 9.0,
        hex(palette::CLOUD_GREY)
    );
    s
}

/// Height of one device's row in the timeline.
const ROW_H: f64 = 18.0;

/// Draw the fleet's timeline: one row per device in arrival order, a bar from the slot its
/// first measurement takes to its last ([`Span`]), split into its initial samples, the other
/// architectures it measured and its re-measurements. A fleet that learns shows later rows
/// shorter; each next device starts where a running one ends.
pub fn timeline_svg(title: &str, rows: &[(&str, Span)]) -> String {
    let last = rows.iter().map(|(_, s)| s.end()).max().unwrap_or(0).max(1) as f64;
    let longest = rows.iter().map(|(n, _)| text_width(n, 11)).fold(40.0, f64::max);
    let (left, top, plot_w) = (longest + 20.0, 44.0, 640.0);
    let width = (left + plot_w + 30.0).max(text_width(title, 14) + 30.0).ceil();
    let height = (top + rows.len() as f64 * ROW_H + 64.0).ceil();
    let x = |slot: f64| left + plot_w * slot / last;
    let step = tick_step(last, 8.0);
    let bottom = top + rows.len() as f64 * ROW_H;
    let mut s = svg_with_title(width, height, title);
    let mut v = 0.0;
    while v <= last + 1e-9 {
        let _ = write!(
            s,
            r#"<line x1="{xx:.1}" x2="{xx:.1}" y1="{top}" y2="{bottom:.1}" stroke="{}"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{v}</text>"#,
            hex(palette::GRID),
            bottom + 14.0,
            xx = x(v)
        );
        v += step;
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">measurement slots (running devices measure side by side)</text>"#,
        left + plot_w / 2.0,
        bottom + 30.0
    );
    let parts = [
        (palette::CLOUD_GREY, "initial samples"),
        (palette::BLUE, "measured by the flow"),
        (palette::ORANGE, "re-measured"),
    ];
    for (i, (name, span)) in rows.iter().enumerate() {
        let y = top + i as f64 * ROW_H;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 6.0,
            y + ROW_H * 0.7,
            escape_xml(name)
        );
        let mut at = span.start;
        for (count, (colour, what)) in [span.samples, span.candidates, span.remeasurements].into_iter().zip(parts) {
            if count == 0 {
                continue;
            }
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {count} {what}, slots {} to {}</title></rect>"#,
                x(at as f64),
                y + 3.0,
                (x((at + count) as f64) - x(at as f64)).max(0.5),
                ROW_H - 6.0,
                hex(colour),
                escape_xml(name),
                at,
                at + count
            );
            at += count;
        }
    }
    let legend_y = height - 10.0;
    let mut lx = 10.0;
    for (colour, what) in parts {
        let _ = write!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{legend_y:.1}">{what}</text>"#,
            legend_y - 9.0,
            hex(colour),
            lx + 14.0
        );
        lx += 30.0 + text_width(what, 11);
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_draws_each_part_of_a_device_where_its_slots_fall() {
        let a = Span { start: 0, samples: 6, candidates: 20, remeasurements: 3 };
        let b = Span { start: 29, samples: 6, candidates: 4, remeasurements: 0 };
        let svg = timeline_svg("fleet", &[("a", a), ("b&", b)]);
        roxmltree::Document::parse(&svg).unwrap();
        // Five parts drawn (b has no re-measurement), three legend swatches.
        assert_eq!(svg.matches("<rect x=").count(), 5 + 3);
        assert!(svg.contains("b&amp;: 4 measured by the flow, slots 35 to 39"), "{svg}");
        assert!(svg.contains("a: 3 re-measured, slots 26 to 29"));
    }

    #[test]
    fn a_member_proxy_is_an_arc_and_a_pool_proxy_a_name() {
        let bars = [
            FleetBar { name: "a", measurements: 30, proxy: "pixel3", member: None },
            FleetBar { name: "b<", measurements: 12, proxy: "fleet-a", member: Some(0) },
        ];
        let svg = fleet_svg("fleet", &bars);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<path d=\"M").count(), 2, "one arc and its arrow head");
        assert!(svg.contains(">pixel3</text>") && svg.contains("b&lt;"));
        roxmltree::Document::parse(&svg).unwrap();
    }
}
