//! `report.html`: one self-contained page for a report folder (no network, no external scripts,
//! styles or fonts; the figures are inlined SVG and the only script sorts the table and opens a
//! plot when its row links to it).
//!
//! It reads the report's own JSON (`report.json` as a [`serde_json::Value`]), so fields added to
//! the report later appear with little change: per target, `regret`, `pareto_recall` and
//! `baselines` become columns when present; top-level `mean_*` numbers and `baselines` are
//! listed in the summary. Every string from the report (device names, paths) is escaped.

use serde_json::Value;
use std::fmt::Write;

/// An inlined figure and the file it was also written to (linked for download).
#[derive(Debug, Clone, Copy)]
pub struct Figure<'a> {
    /// File name inside the report folder.
    pub file: &'a str,
    /// The SVG document.
    pub svg: &'a str,
}

/// The figures of a report.
#[derive(Debug, Clone, Default)]
pub struct Figures<'a> {
    /// The correlation heatmap (a `run`).
    pub heatmap: Option<Figure<'a>>,
    /// One Pareto plot per target, by target name.
    pub pareto: Vec<(String, Figure<'a>)>,
}

/// Escape text for HTML (and SVG/XML) content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The id of a target's Pareto plot, and (with `.svg`) its file name in a report folder.
pub fn anchor(target: &str) -> String {
    format!("pareto-{}", name_part(target))
}

/// A target name as a part of an id or a file name: letters, digits, `-` and `_` kept, any other
/// character as `.` and six hex digits. The width is fixed and `.` only starts an escape, so two
/// names never give the same part (`a.b` and `a_b`, or `a.b` and `a` followed by U+02EB).
pub fn name_part(target: &str) -> String {
    let mut out = String::new();
    for c in target.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            out.push(c);
        } else {
            let _ = write!(out, ".{:06x}", c as u32);
        }
    }
    out
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0 auto;max-width:1280px;padding:0 18px 40px;color:#222;line-height:1.4}
h1{font-size:1.5em;margin:18px 0 6px}h2{font-size:1.2em;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
dl.head{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:8px 0}dl.head dt{color:#666}dl.head dd{margin:0}
table.sum{border-collapse:collapse;font-size:.9em;font-variant-numeric:tabular-nums}
table.sum th,table.sum td{padding:3px 8px;border-bottom:1px solid #e5e5e5;text-align:right;white-space:nowrap}
table.sum th:first-child,table.sum td:first-child{text-align:left}
table.sum th{cursor:pointer;background:#f4f4f4;user-select:none}
table.sum th[aria-sort=ascending]::after{content:" \25B2"}table.sum th[aria-sort=descending]::after{content:" \25BC"}
table.sum tr:hover td{background:#f7fbff}
.read{background:#f8f8f2;border-left:3px solid #c9c38a;padding:6px 10px;font-size:.92em;max-width:900px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:10px}
details{border:1px solid #ddd;border-radius:4px;padding:4px 8px}details[open]{grid-column:1/-1}
details summary{cursor:pointer}
figure{margin:6px 0}svg{max-width:100%;height:auto}
.muted{color:#666;font-size:.9em}code{font-size:.92em}
"#;

/// Sorting by any column (numbers as numbers, the rest as text; blanks last) and opening the
/// plot a row links to. No console output, no network.
const SCRIPT: &str = r#"
(function () {
  function key(td) { var v = td.getAttribute('data-v'); var n = parseFloat(v); return v === '' ? null : (isNaN(n) ? v : n); }
  document.querySelectorAll('table.sum').forEach(function (table) {
    var heads = table.querySelectorAll('th');
    heads.forEach(function (th, col) {
      th.addEventListener('click', function () {
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          if (x === null || y === null) { return x === y ? 0 : (x === null ? 1 : -1); }
          var c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id && document.getElementById(id);
    if (el && el.tagName === 'DETAILS') { el.open = true; el.scrollIntoView(); }
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
  document.documentElement.setAttribute('data-ready', '1');
})();
"#;

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

fn fixed(v: Option<f64>, digits: usize) -> String {
    v.filter(|x| x.is_finite()).map_or("–".into(), |x| format!("{x:.digits$}"))
}

/// A statistic as text: a number, `mean ± std`, or an object's `regret`.
fn stat(v: &Value) -> (String, Option<f64>) {
    match v {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            (fixed(Some(x), 4), Some(x))
        }
        Value::Object(o) => match (num(o.get("mean")), o.get("std").and_then(Value::as_f64)) {
            (Some(m), Some(s)) => (format!("{m:.4} ± {s:.4}"), Some(m)),
            (Some(m), None) => (format!("{m:.4}"), Some(m)),
            _ => match o.get("regret").or_else(|| o.get("mean_regret")) {
                Some(r) => stat(r),
                None => (escape(&compact(v)), None),
            },
        },
        Value::Null => ("–".into(), None),
        other => (escape(&compact(other)), None),
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn str_of<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

/// A table cell with its sort key.
struct Cell {
    html: String,
    key: String,
}

impl Cell {
    fn text(s: &str) -> Cell {
        Cell { html: escape(s), key: escape(s) }
    }
    fn number(x: Option<f64>, digits: usize) -> Cell {
        Cell { html: fixed(x, digits), key: x.filter(|x| x.is_finite()).map_or(String::new(), |x| x.to_string()) }
    }
}

/// One column: its title and how to fill it from a target's JSON.
type Column<'a> = (String, Box<dyn Fn(&Value) -> Cell + 'a>);

fn columns<'a>(rows: &[&'a Value], proxy: Option<&str>) -> Vec<Column<'a>> {
    let any = |k: &str| rows.iter().any(|r| r.get(k).is_some_and(|v| !v.is_null()));
    let mut cols: Vec<Column> = Vec::new();
    cols.push((
        "target".into(),
        Box::new(|r: &Value| {
            let t = str_of(r, "target").unwrap_or("?");
            Cell { html: format!(r##"<a href="#{}">{}</a>"##, escape(&anchor(t)), escape(t)), key: escape(t) }
        }),
    ));
    if rows.iter().any(|r| str_of(r, "proxy") != proxy) {
        cols.push(("proxy".into(), Box::new(|r: &Value| Cell::text(str_of(r, "proxy").unwrap_or("")))));
    }
    cols.push(("decision".into(), Box::new(|r: &Value| Cell::text(str_of(r, "action").unwrap_or("")))));
    cols.push(("sample Spearman".into(), Box::new(|r: &Value| Cell::number(num(r.get("spearman_samples")), 3))));
    if any("cv_spearman") {
        cols.push(("cv Spearman".into(), Box::new(|r: &Value| Cell::number(num(r.get("cv_spearman")), 3))));
    }
    cols.push(("measurements".into(), Box::new(|r: &Value| Cell::number(num(r.get("measurements")), 0))));
    for (k, title, digits) in [
        ("regret", "regret", 4),
        ("random_regret", "random at same count", 4),
        ("regret_max", "regret max", 4),
        ("pareto_recall", "Pareto recall", 3),
        ("hv_ratio", "hv_ratio", 4),
    ] {
        if any(k) {
            cols.push((title.into(), Box::new(move |r: &Value| Cell::number(num(r.get(k)), digits))));
        }
    }
    // Baselines, one column each, in the order of the first row that has them.
    let names: Vec<String> = rows
        .iter()
        .find_map(|r| r.get("baselines").and_then(Value::as_object))
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    for name in names {
        let title = format!("baseline {name}");
        cols.push((
            title,
            Box::new(move |r: &Value| match r.get("baselines").and_then(|b| b.get(&name)) {
                Some(v) => {
                    let (html, key) = stat(v);
                    Cell { html, key: key.map_or(String::new(), |x| x.to_string()) }
                }
                None => Cell::number(None, 0),
            }),
        ));
    }
    // Picks at the constraints (from the first row: every target has the same constraints).
    let constraints: Vec<f64> = rows
        .first()
        .and_then(|r| r.get("picks"))
        .and_then(Value::as_array)
        .map(|p| p.iter().filter_map(|c| num(c.get("constraint"))).collect())
        .unwrap_or_default();
    for (k, c) in constraints.into_iter().enumerate() {
        cols.push((
            format!("pick ≤ {c} ms"),
            Box::new(move |r: &Value| {
                let pick = r.get("picks").and_then(|p| p.get(k)).and_then(|p| p.get("pick")).filter(|p| !p.is_null());
                match pick {
                    Some(p) => Cell {
                        html: format!(
                            "{} % @ {} ms",
                            fixed(num(p.get("accuracy")), 2),
                            fixed(num(p.get("latency")), 3)
                        ),
                        key: fixed(num(p.get("accuracy")), 4),
                    },
                    None => Cell { html: "nothing fits".into(), key: String::new() },
                }
            }),
        ));
    }
    cols.push((
        "final set".into(),
        Box::new(|r: &Value| Cell::number(r.get("chosen").and_then(Value::as_array).map(|c| c.len() as f64), 0)),
    ));
    cols.push((
        "most accurate".into(),
        Box::new(|r: &Value| {
            let best = r.get("chosen").and_then(Value::as_array).and_then(|c| c.last());
            match best {
                Some(b) => Cell {
                    html: format!("{} % @ {} ms", fixed(num(b.get("accuracy")), 2), fixed(num(b.get("latency")), 3)),
                    key: fixed(num(b.get("accuracy")), 4),
                },
                None => Cell::number(None, 0),
            }
        }),
    ));
    cols
}

fn proxy_reason(report: &Value) -> String {
    let proxy = str_of(report, "proxy").unwrap_or("?");
    let reason = report.get("proxy_reason");
    match reason.and_then(|r| str_of(r, "kind")) {
        Some("recommended") => {
            let r = reason.expect("has a kind");
            format!(
                "<b>{}</b>, recommended by the monotonicity analysis: the highest mean Spearman correlation of its latencies with the other devices' ({} mean, {} at worst, over {} devices), so its ranking of architectures is the one most devices share",
                escape(proxy),
                fixed(num(r.get("mean")), 3),
                fixed(num(r.get("min")), 3),
                fixed(num(r.get("compared")), 0)
            )
        }
        Some("lowest-regret") => {
            let r = reason.expect("has a kind");
            format!(
                "<b>{}</b>: the lowest mean regret ({} points with {} measurements per target) when each measured bundled device served as the proxy of the other {} (shipped ranking, <code>scripts/proxy_ranking.sh</code>); simulated devices are never a default",
                escape(proxy),
                fixed(num(r.get("mean_regret")), 3),
                fixed(num(r.get("mean_measurements")), 1),
                fixed(num(r.get("targets")), 0)
            )
        }
        Some("given") => format!("<b>{}</b>, named with <code>--proxy</code>", escape(proxy)),
        Some("pool") => format!("<b>{}</b>: per target, the pool member whose latencies rank the target's samples best (see the proxy column)", escape(proxy)),
        _ => match num(report.get("spearman_samples")) {
            Some(s) => format!("<b>{}</b>: its latencies rank the target's samples with Spearman {s:.3}", escape(proxy)),
            None => format!("<b>{}</b>", escape(proxy)),
        },
    }
}

fn header(out: &mut String, report: &Value) {
    let m = report.get("manifest");
    let mut rows: Vec<(&str, String)> = Vec::new();
    let text = |k: &str| str_of(report, k).map(escape);
    if let Some(s) = text("space") {
        rows.push(("space", s));
    }
    if let Some(s) = text("accuracy") {
        rows.push(("accuracy source", s));
    }
    rows.push(("proxy", proxy_reason(report)));
    if let Some(n) = num(report.get("samples")) {
        let set = text("sample_set").map_or(String::new(), |s| format!(" ({s})"));
        rows.push(("samples per target", format!("{n}{set}")));
    }
    if let Some(t) = num(report.get("threshold")) {
        rows.push(("reuse threshold", format!("Spearman ≥ {t}")));
    }
    if let Some(s) = text("oracle") {
        rows.push(("measured by", s));
    }
    if let Some(s) = text("measurements_file") {
        rows.push(("measurement log", format!("<code>{s}</code>")));
    }
    if let Some(seed) = m.and_then(|m| m.get("seed")).filter(|s| !s.is_null()) {
        rows.push(("seed", escape(&compact(seed))));
    }
    if let Some(v) = m.and_then(|m| str_of(m, "version")) {
        rows.push(("version", format!("oneproxy {}", escape(v))));
    }
    if let Some(u) = m.and_then(|m| str_of(m, "units")) {
        rows.push(("latency unit", escape(u)));
    }
    let inputs: Vec<String> = m
        .and_then(|m| m.get("inputs"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|i| {
                    let sha = str_of(i, "sha256").unwrap_or("");
                    format!(
                        r#"<code>{}</code> <span class="muted" title="SHA-256 {}">sha256 {}…</span>"#,
                        escape(str_of(i, "name").unwrap_or("?")),
                        escape(sha),
                        escape(&sha.chars().take(12).collect::<String>())
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if !inputs.is_empty() {
        rows.push(("inputs", inputs.join("<br>")));
    }
    out.push_str(r#"<dl class="head">"#);
    for (k, v) in rows {
        let _ = write!(out, "<dt>{k}</dt><dd>{v}</dd>");
    }
    out.push_str("</dl>");
}

fn summary(out: &mut String, report: &Value, rows: &[&Value]) {
    let proxy = str_of(report, "proxy");
    let cols = columns(rows, proxy);
    out.push_str(r#"<h2 id="summary">Summary</h2>"#);
    // Means and baselines over the targets, whatever the report carries.
    let mut means: Vec<String> = Vec::new();
    if let Some(o) = report.as_object() {
        for (k, v) in o.iter().filter(|(k, _)| k.starts_with("mean_")) {
            means.push(format!("{} <b>{}</b>", escape(&k["mean_".len()..].replace('_', " ")), stat(v).0));
        }
        if let Some(b) = o.get("baselines").and_then(Value::as_object) {
            for (name, v) in b {
                means.push(format!("baseline {} <b>{}</b>", escape(name), stat(v).0));
            }
        }
    }
    if !means.is_empty() {
        let _ = write!(out, "<p>Over {} target(s), mean: {}.</p>", rows.len(), means.join("; "));
    }
    out.push_str(r#"<p class="muted">Click a column title to sort; click a target to open its Pareto plot.</p><table class="sum"><thead><tr>"#);
    for (title, _) in &cols {
        let _ = write!(out, "<th>{}</th>", escape(title));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for (_, cell) in &cols {
            let c = cell(r);
            let _ = write!(out, r#"<td data-v="{}">{}</td>"#, c.key, c.html);
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    if let Some(skipped) = report.get("skipped").and_then(Value::as_array).filter(|s| !s.is_empty()) {
        out.push_str("<p>Skipped targets:</p><ul>");
        for s in skipped {
            let _ = write!(
                out,
                "<li><b>{}</b>: {}</li>",
                escape(str_of(s, "target").unwrap_or("?")),
                escape(str_of(s, "reason").unwrap_or(""))
            );
        }
        out.push_str("</ul>");
    }
}

/// The SVG document as an inline element (any XML prolog dropped).
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => svg[i..].trim_end(),
        None => "",
    }
}

const READ_HEATMAP: &str = "Each cell is the Spearman rank correlation between two devices' latencies over the architectures both measured: 1 means they rank every architecture alike, so one can stand in for the other when searching. The colour scale is fixed from −1 (red) through 0 (white) to 1 (dark blue) in every report, so two heatmaps compare by eye. Devices are ordered by hierarchical clustering (average linkage on 1 − ρ), so devices that behave alike (a vendor's GPUs, one batch size) form dark blocks along the diagonal; a device whose row is pale everywhere is a poor proxy and a hard target. The outlined row and column are the proxy. Devices that measured only part of the space are compared on the architectures they share with each other device (hover a cell for the count); grey cells are undefined.";

const READ_PARETO: &str = "Each plot is one target: accuracy against the latency measured on that target. Grey dots are the architectures (thinned where they overlap, so the file stays small; the footnote gives the count and what lies below the accuracy axis). The blue staircase is the target's true Pareto front, known here because the target's whole table exists; a real device has none. Green circles are what the proxy (reused, or adapted with the target's samples) predicted to be the front, placed at their latencies as measured on the target: the closer they hug the blue line, the better the proxy. Red crosses are the final set oneproxy reports (the measured, non-dominated architectures); orange dashed lines are the latency constraints and the orange triangles the pick within each. The latency axis is logarithmic when the latencies span more than two decades.";
const READ_PARETO_MEASURED: &str = "Accuracy against the latency measured on the target. Grey dots are every architecture measured on it (the samples, and those measured for the adaptation); a real device has no true front to compare with. Green circles are what the proxy (reused, or adapted with the target's samples) predicted to be the front, placed at their latencies as measured on the target: the closer they hug the blue line, the better the proxy. Red crosses are the final set oneproxy reports (the measured, non-dominated architectures); orange dashed lines are the latency constraints and the orange triangles the pick within each. The latency axis is logarithmic when the latencies span more than two decades.";

fn figures(out: &mut String, rows: &[&Value], figs: &Figures, has_truth: bool) {
    if let Some(h) = figs.heatmap {
        let _ = write!(
            out,
            r#"<h2 id="heatmap">Latency monotonicity across devices</h2><p class="read"><b>How to read this.</b> {READ_HEATMAP}</p><figure>{}<figcaption class="muted"><a href="{}">{}</a></figcaption></figure>"#,
            inline_svg(h.svg),
            escape(h.file),
            escape(h.file)
        );
    }
    if figs.pareto.is_empty() {
        return;
    }
    let read = if has_truth { READ_PARETO } else { READ_PARETO_MEASURED };
    let _ = write!(
        out,
        r#"<h2 id="pareto">Pareto fronts, one per target</h2><p class="read"><b>How to read this.</b> {read}</p><div class="grid">"#
    );
    let single = figs.pareto.len() == 1;
    for (target, fig) in &figs.pareto {
        let row = rows.iter().find(|r| str_of(r, "target") == Some(target.as_str()));
        let what = row.map_or(String::new(), |r| {
            format!(
                " — {}, {} measurements",
                escape(str_of(r, "action").unwrap_or("?")),
                fixed(num(r.get("measurements")), 0)
            )
        });
        let _ = write!(
            out,
            r##"<details id="{}"{}><summary><b>{}</b>{what}</summary><figure>{}<figcaption class="muted"><a href="{}">{}</a> · <a href="#summary">back to the table</a></figcaption></figure></details>"##,
            escape(&anchor(target)),
            if single { " open" } else { "" },
            escape(target),
            inline_svg(fig.svg),
            escape(fig.file),
            escape(fig.file)
        );
    }
    out.push_str("</div>");
}

/// The whole page.
pub fn render(report: &Value, figs: &Figures) -> String {
    // A `run` report lists targets; a `nas` report is one target at the top level.
    let rows: Vec<&Value> = match report.get("targets").and_then(Value::as_array) {
        Some(t) => t.iter().collect(),
        None if report.get("target").is_some() => vec![report],
        None => Vec::new(),
    };
    let space = str_of(report, "space").unwrap_or("");
    let title = match rows.as_slice() {
        [one] if report.get("targets").is_none() => {
            format!("oneproxy report: {} ({space})", str_of(one, "target").unwrap_or("?"))
        }
        _ => format!("oneproxy report: {space}, {} targets", rows.len()),
    };
    let mut out = String::with_capacity(figs.pareto.iter().map(|p| p.1.svg.len()).sum::<usize>() + 64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>",
        escape(&title),
        escape(&title)
    );
    header(&mut out, report);
    summary(&mut out, report, &rows);
    // Scored runs (they carry hv_ratio) have the target's true front in their plots.
    figures(&mut out, &rows, figs, rows.iter().any(|r| r.get("hv_ratio").is_some()));
    let _ = writeln!(out, "<script>{SCRIPT}</script></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run_json(extra: Value) -> Value {
        let mut v = json!({
            "manifest": {"tool": "oneproxy", "version": "0.1.0", "space": "nb201", "seed": 7, "units": "ms per image",
                         "inputs": [{"name": "/data/<evil>.csv", "sha256": "abcdef0123456789"}]},
            "space": "nb201", "accuracy": "cifar100", "sample_set": "random", "samples": 10, "threshold": 0.9,
            "proxy": "fpga", "proxy_reason": {"kind": "recommended", "device": "fpga", "mean": 0.878, "min": 0.754, "compared": 26},
            "targets": [
                {"target": "b<&>", "action": "reuse", "proxy": "fpga", "spearman_samples": 0.95, "cv_spearman": null, "measurements": 42,
                 "chosen": [{"arch": "a", "accuracy": 70.0, "latency": 3.0}], "picks": [{"constraint": 5.0, "pick": {"arch": "a", "accuracy": 70.0, "latency": 3.0}}],
                 "hv_ratio": 0.99},
                {"target": "a", "action": "adapt", "proxy": "fpga", "spearman_samples": 0.5, "cv_spearman": 0.93, "measurements": 61,
                 "chosen": [], "picks": [{"constraint": 5.0, "pick": null}], "hv_ratio": 0.9}
            ],
            "skipped": [{"target": "x", "reason": "too few"}],
            "mean_hv_ratio": 0.945
        });
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn escapes_every_user_string_and_links_rows_to_plots() {
        let svg = r#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>"#;
        let figs = Figures {
            heatmap: Some(Figure { file: "heatmap.svg", svg }),
            pareto: vec![("b<&>".into(), Figure { file: "pareto-b___.svg", svg })],
        };
        let html = render(&run_json(json!({})), &figs);
        assert!(!html.contains("<evil>") && html.contains("/data/&lt;evil&gt;.csv"));
        assert!(!html.contains("b<&>") && html.contains("b&lt;&amp;&gt;"));
        assert!(!html.contains("<?xml"), "the prolog is dropped from inline SVG");
        let id = anchor("b<&>");
        assert_eq!(id, "pareto-b.00003c.000026.00003e");
        // Names that a lossy cleaning would merge stay apart.
        assert_ne!(anchor("a.b"), anchor("a_b"));
        assert_ne!(anchor("a.b"), anchor("a\u{2eb}"));
        assert!(
            html.contains(&format!(r##"<a href="#{id}">"##)) && html.contains(&format!(r#"<details id="{id}" open>"#))
        );
        assert!(html.contains("recommended by the monotonicity analysis") && html.contains("0.878"));
        let why = serde_json::json!({"proxy": "raspi4", "proxy_reason": {"kind": "lowest-regret", "proxy": "raspi4", "mean_regret": 0.097, "mean_measurements": 34.8, "targets": 26}});
        let text = proxy_reason(&why);
        assert!(text.contains("lowest mean regret (0.097 points") && text.contains("other 26"), "{text}");
        assert!(
            html.contains("<th>pick ≤ 5 ms</th>")
                && html.contains("70.00 % @ 3.000 ms")
                && html.contains("nothing fits")
        );
        assert!(html.contains("<th>hv_ratio</th>") && !html.contains("<th>regret</th>"));
        assert!(html.contains("<th>cv Spearman</th>"));
        assert!(html.contains("Skipped targets") && html.contains("too few"));
        assert!(html.contains("blue staircase"), "scored runs explain the true front");
        assert!(html.contains("hv ratio <b>0.9450</b>"));
        // Self-contained: no external resource, one inline script.
        for bad in ["src=\"http", "href=\"http", "<link", "@import", "<script src"] {
            assert!(!html.contains(bad), "{bad}");
        }
        assert_eq!(html.matches("<script>").count(), 1);
    }

    #[test]
    fn new_scoring_fields_become_columns() {
        let mut v = run_json(json!({"mean_regret": 0.12, "baselines": {"random": {"mean": 0.3, "std": 0.05}}}));
        for t in v["targets"].as_array_mut().unwrap() {
            t["regret"] = json!(0.1);
            t["baselines"] = json!({"random": {"regret": {"mean": 0.25, "std": 0.02}}, "flops": 0.4});
        }
        let html = render(&v, &Figures::default());
        assert!(html.contains("<th>regret</th>"));
        assert!(html.contains("<th>baseline random</th>") && html.contains("<th>baseline flops</th>"));
        assert!(html.contains("0.2500 ± 0.0200") && html.contains(r#"data-v="0.25""#));
        assert!(html.contains("regret <b>0.1200</b>") && html.contains("baseline random <b>0.3000 ± 0.0500</b>"));
    }

    #[test]
    fn a_nas_report_is_one_row() {
        let v = json!({"manifest": {"version": "0.1.0", "inputs": []}, "space": "nb201", "accuracy": "cifar100", "oracle": "table",
                       "measurements_file": "t.csv", "target": "pixel3", "action": "adapt", "proxy": "fpga", "spearman_samples": 0.7,
                       "measurements": 80, "chosen": [], "picks": []});
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>"#;
        let html = render(
            &v,
            &Figures { pareto: vec![("pixel3".into(), Figure { file: "pareto.svg", svg })], ..Default::default() },
        );
        assert!(html.contains("oneproxy report: pixel3 (nb201)"));
        assert!(
            html.contains("no true front to compare with") && !html.contains("blue staircase"),
            "a measured target has no truth drawn"
        );
        assert!(html.contains("rank the target&#39;s samples") || html.contains("rank the target's samples"));
        assert_eq!(html.matches("<tr>").count(), 2, "a header and one row");
        assert!(html.contains("<code>t.csv</code>"));
    }
}
