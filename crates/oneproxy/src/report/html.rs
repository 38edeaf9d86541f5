//! `report.html`: one self-contained page for a report folder (no network, no external scripts,
//! styles or fonts; the figures are inlined SVG and the only script sorts the table and opens a
//! plot when its row links to it).
//!
//! It renders the typed report documents ([`super::document`]) through a [`Page`], what the
//! page shows of a report: per target, the scoring columns (`regret`, `pareto_recall`, ...)
//! appear when some target has a value, and a run's means and baselines are listed in the
//! summary. Every string from the report (device names, paths) is escaped.

use super::document::{NasBody, Report, RunBody};
use crate::data::Manifest;
use crate::workflow::evaluate::{MethodScore, Spread};
use crate::workflow::nas::NasOutcome;
use crate::workflow::run::{ProxyReason, Skipped};
use crate::workflow::score::Score;
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
    /// The overview: regret per target against random, and against measurements (a `run`).
    pub overview: Option<Figure<'a>>,
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
table.sum{border-collapse:collapse;font-size:.88em;font-variant-numeric:tabular-nums;display:block;overflow-x:auto;max-width:100%}
table.sum th,table.sum td{padding:3px 7px;border-bottom:1px solid #e5e5e5;text-align:right;white-space:nowrap}
table.sum th:first-child,table.sum td:first-child{text-align:left}
table.sum th{cursor:pointer;background:#f4f4f4;user-select:none;white-space:normal;vertical-align:bottom;max-width:7.5em;font-weight:600}
table.sum tr.fail td{background:#fbe3cf}.flag{display:inline-block;margin-left:6px;padding:0 5px;border-radius:3px;background:#d55e00;color:#fff;font-size:.8em}
p.lead{font-size:1.1em;margin:10px 0}p.fail{border-left:4px solid #d55e00;background:#fdf0e6;padding:6px 10px}
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

fn fixed(v: Option<f64>, digits: usize) -> String {
    v.filter(|x| x.is_finite()).map_or("–".into(), |x| format!("{x:.digits$}"))
}

/// A method's regret in points: `mean ± std` over several trials, the mean alone over one (a
/// spread of one value says nothing); `None` when there is no finite mean.
fn method_stat(m: &MethodScore, trials: usize) -> Option<String> {
    let Spread { mean, std } = m.regret;
    match (mean.is_finite(), std.is_finite() && trials > 1) {
        (true, true) => Some(format!("{mean:.2} ± {std:.2} points")),
        (true, false) => Some(format!("{mean:.2} points")),
        _ => None,
    }
}

/// One target of the page: what the flow did and, for a scored run, how well.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// What the flow did.
    pub outcome: &'a NasOutcome,
    /// Its score against the target's table (`None` for a real device).
    pub score: Option<&'a Score>,
}

/// What the page shows of a report, built from a typed document (`From` a run's or a target's
/// report).
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// Provenance.
    pub manifest: &'a Manifest,
    /// The search space.
    pub space: &'a str,
    /// The accuracy source.
    pub accuracy: Option<&'a str>,
    /// The proxy and why it is the one.
    pub proxy: &'a str,
    /// Why (a run); a target's report gives the samples' Spearman instead.
    pub proxy_reason: Option<&'a ProxyReason>,
    /// Samples per target and the sample set's name, when named.
    pub samples: Option<(usize, Option<&'a str>)>,
    /// The reuse threshold.
    pub threshold: Option<f64>,
    /// What measured the target, and its log (a target's report).
    pub oracle: Option<&'a str>,
    /// The measurement log.
    pub measurements_file: Option<&'a str>,
    /// Means over the targets, by name (the words after `mean_`), in name order.
    pub means: Vec<(&'static str, Option<f64>)>,
    /// The baselines' scores, by name, in name order.
    pub baselines: Vec<(&'static str, Option<&'a MethodScore>)>,
    /// Trials the scores are over (a spread is shown over more than one).
    pub trials: usize,
    /// One target at the top level (a target's report) rather than a list.
    pub single: bool,
    /// The targets.
    pub rows: Vec<Row<'a>>,
    /// Targets left out, and why.
    pub skipped: &'a [Skipped],
}

impl<'a> From<&'a Report<RunBody>> for Page<'a> {
    fn from(r: &'a Report<RunBody>) -> Self {
        let run = &r.body.run;
        let m = &run.summary;
        // In name order, as the JSON object lists them.
        let means = vec![
            ("accuracy gap", m.mean_accuracy_gap),
            ("hv ratio", Some(m.mean_hv_ratio)),
            ("measurements", Some(m.mean_measurements)),
            ("pareto recall", Some(m.mean_pareto_recall)),
            ("random regret", m.mean_random_regret),
            ("regret", Some(m.mean_regret)),
            ("estimated regret", m.mean_estimated_regret),
            ("estimate coverage", m.estimate_coverage),
        ];
        let baselines = run.baselines.as_ref().map_or(Vec::new(), |b| {
            vec![("always-adapt", b.always_adapt.as_ref()), ("flops", b.flops.as_ref()), ("random", b.random.as_ref())]
        });
        Page {
            manifest: &r.manifest,
            space: &r.space,
            accuracy: r.accuracy.as_deref(),
            proxy: &run.proxy,
            proxy_reason: Some(&run.proxy_reason),
            samples: Some((r.body.samples, Some(&r.body.sample_set))),
            threshold: Some(r.body.threshold),
            oracle: None,
            measurements_file: None,
            means,
            baselines,
            trials: 1,
            single: false,
            rows: run.targets.iter().map(|t| Row { outcome: &t.outcome, score: Some(&t.score) }).collect(),
            skipped: &run.skipped,
        }
    }
}

impl<'a> From<&'a Report<NasBody>> for Page<'a> {
    fn from(r: &'a Report<NasBody>) -> Self {
        let o = &r.body.outcome;
        Page {
            manifest: &r.manifest,
            space: &r.space,
            accuracy: r.accuracy.as_deref(),
            proxy: &o.proxy,
            proxy_reason: None,
            samples: Some((o.samples, None)),
            threshold: None,
            oracle: Some(&r.body.oracle),
            measurements_file: Some(&r.body.measurements_file),
            means: Vec::new(),
            baselines: Vec::new(),
            trials: 1,
            single: true,
            rows: vec![Row { outcome: o, score: None }],
            skipped: &[],
        }
    }
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
    /// An architecture's accuracy at its latency, sorted by accuracy.
    fn chosen(c: &crate::workflow::nas::Chosen) -> Cell {
        Cell {
            html: format!("{} @ {}", fixed(Some(c.accuracy), 2), fixed(Some(c.latency), 2)),
            key: fixed(Some(c.accuracy), 4),
        }
    }
}

/// One column: its title and how to fill it from a target.
type Column<'a> = (String, Box<dyn Fn(&Row) -> Cell + 'a>);

/// A score's column: its key, title, digits and value.
type ScoreColumn = (&'static str, &'static str, usize, fn(&Score) -> Option<f64>);

/// The scoring columns, shown when some target has a (finite) value: the primary score and its
/// baseline first, units in the titles.
const SCORE_COLUMNS: [ScoreColumn; 5] = [
    ("regret", "regret (points)", 3, |s| Some(s.regret)),
    ("random_regret", "random, same count (points)", 2, |s| s.random_regret),
    ("regret_max", "regret max (points)", 2, |s| Some(s.regret_max)),
    ("pareto_recall", "Pareto recall", 2, |s| Some(s.pareto_recall)),
    ("hv_ratio", "hv ratio", 3, |s| Some(s.hv_ratio)),
];

/// Whether a row is a failing target (worse than random at the same count).
fn failing(r: &Row) -> bool {
    r.score.is_some_and(Score::worse_than_random)
}

fn columns<'a>(rows: &[Row<'a>], proxy: &str) -> Vec<Column<'a>> {
    let finite = |v: Option<f64>| v.is_some_and(f64::is_finite);
    let mut cols: Vec<Column> = Vec::new();
    cols.push((
        "target".into(),
        Box::new(|r: &Row| {
            let t = &r.outcome.target;
            let flag = if failing(r) { r#"<span class="flag">worse than random</span>"# } else { "" };
            Cell { html: format!(r##"<a href="#{}">{}</a>{flag}"##, escape(&anchor(t)), escape(t)), key: escape(t) }
        }),
    ));
    if rows.iter().any(|r| r.outcome.proxy != proxy) {
        cols.push(("proxy".into(), Box::new(|r: &Row| Cell::text(&r.outcome.proxy))));
    }
    cols.push(("decision".into(), Box::new(|r: &Row| Cell::text(r.outcome.decision.name()))));
    cols.push(("measurements".into(), Box::new(|r: &Row| Cell::number(Some(r.outcome.measurements as f64), 0))));
    for (_, title, digits, value) in SCORE_COLUMNS {
        if rows.iter().any(|r| finite(r.score.and_then(value))) {
            cols.push((title.into(), Box::new(move |r: &Row| Cell::number(r.score.and_then(value), digits))));
        }
    }
    // What the flow believes it left: on a real device the only score there is.
    if rows.iter().any(|r| r.outcome.remaining_regret.is_some()) {
        cols.push((
            "estimated regret, 80% bound (points)".into(),
            Box::new(|r: &Row| Cell::number(r.outcome.remaining_regret.map(|e| e.bound), 2)),
        ));
    }
    // Targets that report on a coarse step have their budgets read on it.
    if rows.iter().any(|r| r.outcome.reporting_step.is_some()) {
        cols.push((
            "reports in steps of (ms)".into(),
            Box::new(|r: &Row| match r.outcome.reporting_step {
                // Its shortest form: 1, 0.1, 0.01.
                Some(step) => Cell { html: format!("{step}"), key: step.to_string() },
                None => Cell::number(None, 0),
            }),
        ));
    }
    cols.push(("sample Spearman".into(), Box::new(|r: &Row| Cell::number(Some(r.outcome.spearman_samples), 2))));
    if rows.iter().any(|r| finite(r.outcome.cv_spearman)) {
        cols.push(("cv Spearman".into(), Box::new(|r: &Row| Cell::number(r.outcome.cv_spearman, 2))));
    }
    // Picks at the constraints (from the first row: every target has the same constraints).
    let constraints: Vec<f64> =
        rows.first().map(|r| r.outcome.picks.iter().map(|p| p.constraint).collect()).unwrap_or_default();
    for (k, c) in constraints.into_iter().enumerate() {
        cols.push((
            format!("pick ≤ {c} ms (% @ ms)"),
            Box::new(move |r: &Row| match r.outcome.picks.get(k).and_then(|p| p.pick.as_ref()) {
                Some(p) => Cell::chosen(p),
                None => Cell { html: "nothing fits".into(), key: String::new() },
            }),
        ));
    }
    cols.push(("final set (archs)".into(), Box::new(|r: &Row| Cell::number(Some(r.outcome.chosen.len() as f64), 0))));
    cols.push((
        "most accurate (% @ ms)".into(),
        Box::new(|r: &Row| r.outcome.chosen.last().map_or_else(|| Cell::number(None, 0), Cell::chosen)),
    ));
    cols
}

fn proxy_reason(page: &Page) -> String {
    let proxy = escape(page.proxy);
    match page.proxy_reason {
        Some(ProxyReason::Recommended(r)) => format!(
            "<b>{proxy}</b>, recommended by the monotonicity analysis: the highest mean Spearman correlation of its latencies with the other devices' ({} mean, {} at worst, over {} devices), so its ranking of architectures is the one most devices share",
            fixed(Some(r.mean), 3),
            fixed(Some(r.min), 3),
            fixed(Some(r.compared as f64), 0)
        ),
        Some(ProxyReason::LowestRegret(r)) => format!(
            "<b>{proxy}</b>: the lowest mean regret ({} points with {} measurements per target) when each measured bundled device served as the proxy of the other {} (shipped ranking, <code>scripts/proxy_ranking.sh</code>); simulated devices are never a default",
            fixed(Some(r.mean_regret), 3),
            fixed(Some(r.mean_measurements), 1),
            fixed(Some(r.targets as f64), 0)
        ),
        Some(ProxyReason::Given) => format!("<b>{proxy}</b>, named with <code>--proxy</code>"),
        Some(ProxyReason::Pool) => format!("<b>{proxy}</b>: per target, the pool member whose latencies rank the target's samples best (see the proxy column)"),
        None => match page.rows.first().filter(|_| page.single).map(|r| r.outcome) {
            Some(o) if o.spearman_samples.is_finite() => format!(
                "<b>{proxy}</b>: its latencies rank the target's samples with Spearman {:.3}{}",
                o.spearman_samples,
                runner_ups(o)
            ),
            _ => format!("<b>{proxy}</b>"),
        },
    }
}

/// The runner-up proxies of a pool run and any tie, in words ("" for a named proxy).
fn runner_ups(o: &NasOutcome) -> String {
    let others: Vec<String> = o
        .proxy_ranking
        .iter()
        .skip(1)
        .map(|r| format!("{} {}", escape(&r.proxy), fixed(Some(r.spearman), 3)))
        .collect();
    if others.is_empty() {
        return String::new();
    }
    let tie = o.proxy_tie.as_ref().map_or(String::new(), |t| {
        format!("; a tie between {}, broken by {}", escape(&t.tied.join(", ")), t.broken_by.describe())
    });
    format!(" (runner-ups: {}{tie})", others.join(", "))
}

fn header(out: &mut String, page: &Page) {
    let m = page.manifest;
    let mut rows: Vec<(&str, String)> = vec![("space", escape(page.space))];
    if let Some(s) = page.accuracy {
        rows.push(("accuracy source", escape(s)));
    }
    rows.push(("proxy", proxy_reason(page)));
    if let Some((n, set)) = page.samples {
        let set = set.map_or(String::new(), |s| format!(" ({})", escape(s)));
        rows.push(("samples per target", format!("{n}{set}")));
    }
    if let Some(t) = page.threshold {
        rows.push(("reuse threshold", format!("Spearman ≥ {t}")));
    }
    if let Some(s) = page.oracle {
        rows.push(("measured by", escape(s)));
    }
    if let Some(s) = page.measurements_file {
        rows.push(("measurement log", format!("<code>{}</code>", escape(s))));
    }
    if let Some(seed) = m.seed {
        rows.push(("seed", seed.to_string()));
    }
    rows.push(("version", format!("oneproxy {}", escape(&m.version))));
    rows.push(("latency unit", escape(&m.units)));
    let inputs: Vec<String> = m
        .inputs
        .iter()
        .map(|i| {
            format!(
                r#"<code>{}</code> <span class="muted" title="SHA-256 {}">sha256 {}…</span>"#,
                escape(&i.name),
                escape(&i.sha256),
                escape(&i.sha256.chars().take(12).collect::<String>())
            )
        })
        .collect();
    if !inputs.is_empty() {
        rows.push(("inputs", inputs.join("<br>")));
    }
    out.push_str(r#"<dl class="head">"#);
    for (k, v) in rows {
        let _ = write!(out, "<dt>{k}</dt><dd>{v}</dd>");
    }
    out.push_str("</dl>");
}

/// The story in two sentences, before anything else: the primary score with its unit and
/// its baseline beside it, then the targets where oneproxy did worse than that baseline.
fn headline(out: &mut String, page: &Page) {
    let mean = |name: &str| page.means.iter().find(|(k, _)| *k == name).and_then(|(_, v)| *v).filter(|v| v.is_finite());
    if let Some(regret) = mean("regret") {
        let random = mean("random regret")
            .map_or(String::new(), |r| format!(", against <b>{r:.2} points</b> for as many random architectures"));
        let count =
            mean("measurements").map_or(String::new(), |m| format!(", with <b>{m:.1} measurements</b> per target"));
        let _ = write!(
            out,
            r#"<p class="lead">Over {} target{}, oneproxy's mean regret is <b>{regret:.2} accuracy points</b>{random}{count} (lower is better).</p>"#,
            page.rows.len(),
            if page.rows.len() == 1 { "" } else { "s" }
        );
    }
    let bad: Vec<String> = page
        .rows
        .iter()
        .filter_map(|r| r.score.filter(|s| s.worse_than_random()).map(|s| (r, s)))
        .map(|(r, s)| {
            format!(
                r##"<a href="#{}">{}</a> ({:.2} against {:.2} points)"##,
                escape(&anchor(&r.outcome.target)),
                escape(&r.outcome.target),
                s.regret,
                s.random_regret.unwrap_or(f64::NAN)
            )
        })
        .collect();
    if !bad.is_empty() {
        let _ = write!(
            out,
            r#"<p class="fail"><b>{} did worse than random</b> at the same number of measurements: {}. {} marked in the table.</p>"#,
            if bad.len() == 1 { "1 target".to_string() } else { format!("{} targets", bad.len()) },
            bad.join(", "),
            if bad.len() == 1 { "Its row is" } else { "Their rows are" }
        );
    }
}

fn summary(out: &mut String, page: &Page) {
    let cols = columns(&page.rows, page.proxy);
    out.push_str(r#"<h2 id="summary">Summary</h2>"#);
    if page.rows.iter().any(|r| r.score.is_some()) {
        out.push_str(r#"<p class="muted">Regret: the best true accuracy within a latency budget minus the best measured pick within it, averaged over 50 budgets (the 2 %…100 % quantiles of the target's latencies), in accuracy points.</p>"#);
    }
    // The secondary means, and the baselines the headline does not already give.
    let headline = ["regret", "random regret", "measurements"];
    let mut also: Vec<String> = page
        .means
        .iter()
        .filter(|(k, _)| !headline.contains(k))
        .filter_map(|(k, v)| v.filter(|v| v.is_finite()).map(|v| format!("mean {} {v:.3}", escape(k))))
        .collect();
    let has_random = page.means.iter().any(|(k, v)| *k == "random regret" && v.is_some());
    also.extend(page.baselines.iter().filter(|(name, _)| *name != "random" || !has_random).filter_map(|(name, m)| {
        m.and_then(|m| method_stat(m, page.trials)).map(|v| format!("baseline {}: regret {v}", escape(name)))
    }));
    if !also.is_empty() {
        let _ = write!(out, r#"<p class="muted">Also: {}.</p>"#, also.join("; "));
    }
    out.push_str(r#"<p class="muted">Click a column title to sort; click a target to open its Pareto plot.</p><table class="sum"><thead><tr>"#);
    for (title, _) in &cols {
        let _ = write!(out, "<th>{}</th>", escape(title));
    }
    out.push_str("</tr></thead><tbody>");
    for r in &page.rows {
        out.push_str(if failing(r) { r#"<tr class="fail">"# } else { "<tr>" });
        for (_, cell) in &cols {
            let c = cell(r);
            let _ = write!(out, r#"<td data-v="{}">{}</td>"#, c.key, c.html);
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    if !page.skipped.is_empty() {
        out.push_str("<p>Skipped targets:</p><ul>");
        for s in page.skipped {
            let _ = write!(out, "<li><b>{}</b>: {}</li>", escape(&s.target), escape(&s.reason));
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

const READ_OVERVIEW: &str = "Left: per target, oneproxy's regret (blue circle) beside the regret of as many uniformly random architectures (orange triangle), worst target first, on a log scale; a shaded row with its name in bold is a target where oneproxy did worse than random. Right: the same regrets against the number of measurements each target cost, with the means as dashed lines: what the measurements bought. Lower is better everywhere.";

const READ_HEATMAP: &str = "Each cell is the Spearman rank correlation between two devices' latencies over the architectures both measured: 1 means they rank every architecture alike, so one can stand in for the other when searching. The colour bar says which scale the figure uses: by default a sequential scale over the range the correlations span (lightest: the lowest correlation in the figure, dark blue: the highest), or the fixed diverging scale from −1 (red) through 0 (white) to 1 (dark blue), the same in every report. Devices are ordered by hierarchical clustering (average linkage on 1 − ρ), so devices that behave alike (a vendor's GPUs, one batch size) form dark blocks along the diagonal; a device whose row is pale everywhere is a poor proxy and a hard target. The outlined row and column are the proxy. Devices that measured only part of the space are compared on the architectures they share with each other device (hover a cell for the count); grey cells are undefined.";

/// What the marks of every Pareto plot mean (after what the grey dots and the true front are).
const READ_PARETO_MARKS: &str = "Vermillion crosses are the final set oneproxy reports (the measured, non-dominated architectures). Purple dashed lines are the latency constraints given, if any, and orange triangles the pick within each. The panel at the right zooms on the top of the front, where the series differ by tenths of a point (its window is outlined in the main panel). The latency axis is logarithmic when the latencies span more than two decades.";

const READ_PARETO: &str = "Each plot is one target, titled with its regret and the random baseline's: accuracy against the latency measured on that target. Grey dots are the architectures (thinned where they overlap, so the file stays small; the footnote gives the count and what lies below the accuracy axis). The blue staircase is the target's true Pareto front, known here because the target's whole table exists. Sky-blue hollow circles are what the proxy (reused, or adapted with the target's samples) predicted to be the front, placed at their latencies as measured on the target: the closer they hug the blue line, the better the proxy. Grey dotted lines are three of the latency budgets the regret is read at: tight, mid and loose, the 10 %, 50 % and 90 % quantiles of the target's latencies (the regret averages 50 such budgets).";
const READ_PARETO_MEASURED: &str = "Accuracy against the latency measured on the target. Grey dots are every architecture measured on it (the samples, and those measured for the adaptation). Sky-blue hollow circles are the architectures the proxy (reused, or adapted with the target's samples) predicted to be on the front, placed at their latencies as measured on the target.";

/// A figure's section: its title, how to read it, the inline SVG and a link to its file.
fn section(out: &mut String, id: &str, title: &str, read: &str, fig: &Figure) {
    let _ = write!(
        out,
        r#"<h2 id="{id}">{title}</h2><p class="read"><b>How to read this.</b> {read}</p><figure>{}<figcaption class="muted"><a href="{}">{}</a></figcaption></figure>"#,
        inline_svg(fig.svg),
        escape(fig.file),
        escape(fig.file)
    );
}

fn figures(out: &mut String, rows: &[Row], figs: &Figures, has_truth: bool) {
    if let Some(o) = &figs.overview {
        section(out, "overview", "Overview: regret per target", READ_OVERVIEW, o);
    }
    if let Some(h) = &figs.heatmap {
        section(out, "heatmap", "Latency monotonicity across devices", READ_HEATMAP, h);
    }
    if figs.pareto.is_empty() {
        return;
    }
    let read = if has_truth { READ_PARETO } else { READ_PARETO_MEASURED };
    let _ = write!(
        out,
        r#"<h2 id="pareto">Pareto fronts, one per target</h2><p class="read"><b>How to read this.</b> {read} {READ_PARETO_MARKS}</p><div class="grid">"#
    );
    let single = figs.pareto.len() == 1;
    for (target, fig) in &figs.pareto {
        let row = rows.iter().find(|r| r.outcome.target == *target);
        let what = row.map_or(String::new(), |r| {
            let score = r.score.map_or(String::new(), |s| {
                let random = s.random_regret.map_or(String::new(), |v| format!(" (random {v:.2})"));
                format!("regret {:.3} points{random}, ", s.regret)
            });
            let flag = if failing(r) { r#" <span class="flag">worse than random</span>"# } else { "" };
            format!(
                " — {score}{}, {} measurements{flag}",
                escape(r.outcome.decision.name()),
                fixed(Some(r.outcome.measurements as f64), 0)
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

/// The whole page of a report (`page` from a typed document: `(&report).into()`).
pub fn render(page: &Page, figs: &Figures) -> String {
    let title = match page.rows.as_slice() {
        [one] if page.single => format!("oneproxy report: {} ({})", one.outcome.target, page.space),
        rows => format!("oneproxy report: {}, {} targets", page.space, rows.len()),
    };
    let mut out = String::with_capacity(figs.pareto.iter().map(|p| p.1.svg.len()).sum::<usize>() + 64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><h1>{}</h1>",
        escape(&title),
        escape(&title)
    );
    headline(&mut out, page);
    header(&mut out, page);
    summary(&mut out, page);
    // Scored runs have the target's true front in their plots.
    figures(&mut out, &page.rows, figs, page.rows.iter().any(|r| r.score.is_some()));
    let _ = writeln!(out, "<script>{SCRIPT}</script></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::manifest::InputFile;
    use crate::stats::ProxyRecommendation;
    use crate::workflow::nas::{Chosen, Decision, Pick};

    fn manifest() -> Manifest {
        let mut m = Manifest::new(crate::SpaceId::Nb201, Some(7), Vec::new());
        m.inputs.push(InputFile { name: "/data/<evil>.csv".into(), sha256: "abcdef0123456789".into() });
        m
    }

    fn outcome(
        target: &str,
        decision: Decision,
        cv: Option<f64>,
        measurements: usize,
        chosen: Vec<Chosen>,
    ) -> NasOutcome {
        let pick = chosen.last().cloned();
        NasOutcome {
            target: target.into(),
            decision,
            proxy: "fpga".into(),
            spearman_samples: 0.95,
            proxy_ranking: Vec::new(),
            proxy_tie: None,
            refitted: false,
            kept_proxy: false,
            cv_spearman: cv,
            samples: 10,
            measurements,
            remeasurements: 0,
            candidates_measured: 0,
            chosen,
            picks: vec![Pick { constraint: 5.0, pick }],
            measured: Vec::new(),
            failed: Vec::new(),
            warnings: Vec::new(),
            remaining_regret: None,
            reporting_step: None,
            prediction: None,
        }
    }

    fn score(hv_ratio: f64, regret: f64) -> Score {
        Score {
            regret,
            regret_max: f64::NAN,
            pareto_recall: f64::NAN,
            random_regret: None,
            hv_ratio,
            constraints: Vec::new(),
            scored_on: 10,
        }
    }

    struct Fixture {
        manifest: Manifest,
        reason: ProxyReason,
        outcomes: Vec<NasOutcome>,
        scores: Vec<Score>,
        skipped: Vec<Skipped>,
        baselines: Option<MethodScore>,
    }

    impl Fixture {
        fn new(regret: f64) -> Self {
            let a = Chosen { arch: "a".into(), accuracy: 70.0, latency: 3.0, predicted_latency: None };
            Fixture {
                manifest: manifest(),
                reason: ProxyReason::Recommended(ProxyRecommendation {
                    device: "fpga".into(),
                    mean: 0.878,
                    min: 0.754,
                    compared: 26,
                }),
                outcomes: vec![
                    outcome("b<&>", Decision::Reuse, None, 42, vec![a]),
                    outcome("a", Decision::Adapt, Some(0.93), 61, Vec::new()),
                ],
                scores: vec![score(0.99, regret), score(0.9, regret)],
                skipped: vec![Skipped { target: "x".into(), reason: "too few".into() }],
                baselines: None,
            }
        }

        fn page(&self) -> Page<'_> {
            Page {
                manifest: &self.manifest,
                space: "nb201",
                accuracy: Some("cifar100"),
                proxy: "fpga",
                proxy_reason: Some(&self.reason),
                samples: Some((10, Some("random"))),
                threshold: Some(0.9),
                oracle: None,
                measurements_file: None,
                means: vec![("hv ratio", Some(0.945)), ("regret", Some(0.12))],
                baselines: vec![("random", self.baselines.as_ref())],
                trials: 2,
                single: false,
                rows: self.outcomes.iter().zip(&self.scores).map(|(o, s)| Row { outcome: o, score: Some(s) }).collect(),
                skipped: &self.skipped,
            }
        }
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn escapes_every_user_string_and_links_rows_to_plots() {
        let svg = r#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>"#;
        let figs = Figures {
            overview: None,
            heatmap: Some(Figure { file: "heatmap.svg", svg }),
            pareto: vec![("b<&>".into(), Figure { file: "pareto-b___.svg", svg })],
        };
        let fx = Fixture::new(f64::NAN);
        let html = render(&fx.page(), &figs);
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
        let why = ProxyReason::LowestRegret(crate::data::bundled::RankedProxy {
            proxy: "raspi4".into(),
            mean_regret: 0.097,
            mean_measurements: 34.8,
            targets: 26,
        });
        let page = Page { proxy: "raspi4", proxy_reason: Some(&why), ..fx.page() };
        let text = proxy_reason(&page);
        assert!(text.contains("lowest mean regret (0.097 points") && text.contains("other 26"), "{text}");
        assert!(
            html.contains("<th>pick ≤ 5 ms (% @ ms)</th>")
                && html.contains("70.00 @ 3.00")
                && html.contains("nothing fits")
        );
        // A score no target has (not finite anywhere) is no column.
        assert!(html.contains("<th>hv ratio</th>") && !html.contains("<th>regret (points)</th>"));
        assert!(html.contains("<th>cv Spearman</th>"));
        assert!(html.contains("Skipped targets") && html.contains("too few"));
        assert!(html.contains("blue staircase"), "scored runs explain the true front");
        assert!(html.contains("mean hv ratio 0.945") && !html.contains("baseline random"), "{html}");
        assert!(!html.contains("worse than random"), "no target is failing");
        // Self-contained: no external resource, one inline script.
        for bad in ["src=\"http", "href=\"http", "<link", "@import", "<script src"] {
            assert!(!html.contains(bad), "{bad}");
        }
        assert_eq!(html.matches("<script>").count(), 1);
    }

    #[test]
    fn scores_become_columns_and_baselines_read_mean_and_std() {
        let mut fx = Fixture::new(0.1);
        let spread = Spread { mean: 0.3, std: 0.05 };
        fx.baselines = Some(MethodScore { regret: spread, measurements: spread });
        let html = render(&fx.page(), &Figures::default());
        assert!(html.contains("<th>regret (points)</th>") && html.contains(r#"data-v="0.1""#));
        assert!(html.contains("mean regret is <b>0.12 accuracy points</b>"), "{html}");
        assert!(html.contains("baseline random: regret 0.30 ± 0.05 points"));
        // One trial has no spread to show.
        let page = Page { trials: 1, ..fx.page() };
        assert!(render(&page, &Figures::default()).contains("baseline random: regret 0.30 points."));
    }

    #[test]
    fn the_primary_score_comes_first_and_failing_targets_are_marked() {
        let mut fx = Fixture::new(0.4);
        fx.scores[0].random_regret = Some(5.0);
        fx.scores[1].random_regret = Some(0.3);
        let mut page = fx.page();
        page.means = vec![
            ("hv ratio", Some(0.9)),
            ("measurements", Some(33.4643)),
            ("random regret", Some(2.65)),
            ("regret", Some(0.4)),
        ];
        let html = render(&page, &Figures::default());
        let lead = html.find(r#"<p class="lead">"#).expect("a headline");
        assert!(lead < html.find(r#"<dl class="head">"#).unwrap(), "the score comes before the provenance");
        assert!(html.contains(
            "oneproxy's mean regret is <b>0.40 accuracy points</b>, against <b>2.65 points</b> for as many random architectures, with <b>33.5 measurements</b> per target"
        ));
        // Each number once: the headline's are not repeated, and no baseline repeats random.
        assert_eq!(html.matches("2.65").count(), 1);
        assert!(!html.contains("33.4643") && !html.contains("± 0.0"));
        // Target "a" (0.4 against 0.3) is failing; "b<&>" is not.
        assert!(
            html.contains(r#"<b>1 target did worse than random</b>"#) && html.contains("(0.40 against 0.30 points)")
        );
        assert_eq!(html.matches(r#"<tr class="fail">"#).count(), 1);
        let fail_row = &html[html.find(r#"<tr class="fail">"#).unwrap()..];
        assert!(fail_row.contains(r##"<a href="#pareto-a">a</a><span class="flag">"##));
        // Headers carry their units.
        assert!(html.contains("<th>regret (points)</th><th>random, same count (points)</th>"));
    }

    #[test]
    fn a_reporting_step_is_a_column_only_when_a_target_has_one() {
        let mut fx = Fixture::new(0.1);
        assert!(!render(&fx.page(), &Figures::default()).contains("reports in steps of"));
        fx.outcomes[1].reporting_step = Some(1.0);
        let html = render(&fx.page(), &Figures::default());
        assert!(html.contains("<th>reports in steps of (ms)</th>"), "{html}");
        assert!(html.contains(r#"data-v="1">1</td>"#), "{html}");
    }

    #[test]
    fn a_nas_report_is_one_row() {
        let mut m = manifest();
        m.inputs.clear();
        let mut o = outcome("pixel3", Decision::Adapt, None, 80, Vec::new());
        o.spearman_samples = 0.7;
        o.picks.clear();
        let report = Report {
            manifest: m,
            space: "nb201".into(),
            accuracy: Some("cifar100".into()),
            body: NasBody { oracle: "table".into(), measurements_file: "t.csv".into(), outcome: o },
        };
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>"#;
        let html = render(
            &(&report).into(),
            &Figures { pareto: vec![("pixel3".into(), Figure { file: "pareto.svg", svg })], ..Default::default() },
        );
        assert!(html.contains("oneproxy report: pixel3 (nb201)"));
        assert!(
            !html.contains("true front") && !html.contains("staircase") && !html.contains("budgets the regret"),
            "a measured target has no true front and no regret to explain"
        );
        assert!(html.contains("rank the target's samples with Spearman 0.700"));
        assert_eq!(html.matches("<tr>").count(), 2, "a header and one row");
        assert!(html.contains("<code>t.csv</code>"));
    }
}
