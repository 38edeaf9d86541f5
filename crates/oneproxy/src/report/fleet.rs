//! The index page of a fleet's report folder: who proxied whom, in a table and (feature `plot`)
//! in the fleet figure, with each device's measurements and a link to its own page (the same
//! page `oneproxy nas` writes for one target).

use super::document::{FleetBody, Report};
use super::html::escape;
use crate::workflow::fleet::ProxySource;
use std::fmt::Write;

/// Styles of the index: a plain table, as the other pages.
const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:72em}table{border-collapse:collapse}\
td,th{border-bottom:1px solid #ddd;padding:.3em .7em;text-align:left}td.n{text-align:right}\
.note{color:#555}";

/// The index page; `figure` is the fleet figure's (file, SVG) and `timeline` the timeline's,
/// each inlined when there is one.
pub fn index_html(report: &Report<FleetBody>, figure: Option<(&str, &str)>, timeline: Option<(&str, &str)>) -> String {
    let b = &report.body;
    let title = format!("oneproxy fleet: {} devices ({})", b.devices.len(), report.space);
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{STYLE}</style></head><body><h1>{t}</h1>",
        t = escape(&title)
    );
    let total: usize = b.devices.iter().map(|d| d.device.outcome.measurements).sum();
    let from_fleet = b.devices.iter().filter(|d| matches!(d.device.proxy_source, ProxySource::Fleet { .. })).count();
    let _ = write!(
        out,
        "<p>Fleet file {}: devices in arrival order, {} at a time; {}. {total} measurements in all; \
         {from_fleet} of {} devices were proxied by a fleet member. Initial pool: {}.</p>",
        escape(&b.fleet_file),
        b.concurrency,
        match (b.join, b.join_regret) {
            (false, _) => "nobody joined the pool".to_string(),
            (true, None) =>
                "each device joined the pool of the devices that started after it when it ended".to_string(),
            (true, Some(r)) => format!(
                "each device joined the pool of the devices that started after it when it ended, or once its \
                 estimate was within {r} points"
            ),
        },
        b.devices.len(),
        escape(&b.initial_pool.join(", "))
    );
    out.push_str(
        "<table><tr><th>arrival</th><th>start (slot)</th><th>device</th><th>oracle</th><th>proxy</th><th>from</th>\
         <th>decision</th><th>measurements</th><th>front</th><th>measurements file</th></tr>",
    );
    for d in &b.devices {
        let o = &d.device.outcome;
        let from = match &d.device.proxy_source {
            ProxySource::Pool => "initial pool".to_string(),
            ProxySource::Fleet { target, arrival } => {
                let early = d.device.confident_members.contains(&crate::workflow::fleet::member_name(target));
                format!(
                    "fleet member {} (#{arrival}{})",
                    escape(target),
                    if early { ", joined when confident" } else { "" }
                )
            }
        };
        let _ = write!(
            out,
            "<tr><td class=n>{}</td><td class=n>{}</td><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{from}</td>\
             <td>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td></tr>",
            d.device.arrival,
            d.device.span.start,
            escape(&d.page),
            escape(&o.target),
            escape(&d.oracle),
            escape(&o.proxy),
            o.decision.name(),
            o.measurements,
            o.chosen.len(),
            escape(&d.measurements_file)
        );
    }
    out.push_str("</table>");
    if let Some((file, svg)) = figure {
        let _ = write!(
            out,
            "<h2>Who proxied whom, and the measurements each device made</h2><p class=note>Bars in arrival \
             order; an arc joins a device to the fleet member that proxied it (<a href=\"{}\">SVG</a>).</p>{svg}",
            escape(file)
        );
    }
    if let Some((file, svg)) = timeline {
        let _ = write!(
            out,
            "<h2>The fleet's life</h2><p class=note>Each device's measurements on the fleet's clock, counted \
             in measurement slots: running devices measure side by side, and each next one starts when one \
             of them ends (<a href=\"{}\">SVG</a>).</p>{svg}",
            escape(file)
        );
    }
    out.push_str("</body></html>\n");
    out
}
