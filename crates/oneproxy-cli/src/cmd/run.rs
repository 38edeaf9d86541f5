//! `oneproxy run`: the main job. Monotonicity analysis, then the one-proxy NAS flow for every
//! target, a summary table, and a report folder (JSON + SVG).

use crate::args::{RunArgs, SampleSetArg};
use crate::report::{fmt3, print, print_json, TextTable};
use anyhow::{bail, Context};
use oneproxy::nas::target_candidates;
use oneproxy::stats::{correlation_matrix, Metric};
use oneproxy::{Manifest, SpaceId};
use serde::Serialize;
use std::path::Path;

#[derive(Serialize)]
struct Report<'a> {
    manifest: Manifest,
    space: &'a str,
    accuracy: &'a str,
    proxy: &'a str,
    recommended_proxy: Option<oneproxy::stats::ProxyRecommendation>,
    sample_set: &'a str,
    samples: usize,
    threshold: f64,
    targets: &'a [super::nas::Row],
    #[serde(flatten)]
    summary: super::nas::Summary,
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    let space: SpaceId = args.data.space.into();
    let table = super::load_table(&args.data)?;
    let acc = super::nas::accuracy_table(space, &args.accuracy)?;
    // Devices with a full table rank every architecture: they are the monotonicity panel.
    let measured = table.measured_device_names();
    let full: Vec<String> = measured
        .iter()
        .filter(|d| table.device_index(d).is_ok_and(|i| table.measured_count(i) == table.len()))
        .cloned()
        .collect();
    let panel = if full.len() >= 2 { full } else { measured.clone() };
    let matrix = correlation_matrix(&table, &panel, Metric::Spearman)?;
    let rec = matrix.recommended_proxy();
    let proxy = match (&args.proxy, &rec) {
        (Some(p), _) => p.clone(),
        (None, Some(r)) => r.device.clone(),
        (None, None) => bail!("need at least two devices to choose a proxy"),
    };
    let targets: Vec<String> = if args.targets.is_empty() {
        measured.iter().filter(|d| **d != proxy).cloned().collect()
    } else {
        args.targets.clone()
    };
    let proxy_args = crate::args::ProxyArgs { proxy: proxy.clone(), pool: args.pool.clone() };
    let mut pools = Vec::new();
    let mut kept = Vec::new();
    for t in &targets {
        let col = table.device_index(t)?;
        if target_candidates(&table, col, &acc).len() < args.samples.max(3) {
            eprintln!("skipping target '{t}': too few architectures with both a measurement and an accuracy");
            continue;
        }
        pools.push(super::proxy_candidates(&table, &proxy_args, t)?);
        kept.push(t.clone());
    }
    if kept.is_empty() {
        bail!("no target device with enough measured architectures");
    }
    let params = super::flow_params(&args.flow, &args.options, args.seed)?;
    let rows = super::nas::run_flow(&table, &acc, &kept, &pools, args.sample_set, args.samples, 1, args.seed, &params)?;
    let set = if args.sample_set == SampleSetArg::Help10 { "help10" } else { "random" };
    let mut inputs = table.inputs().to_vec();
    inputs.extend(acc.input().cloned());
    let report = Report {
        manifest: Manifest::new(space, Some(args.seed), inputs),
        space: space.name(),
        accuracy: acc.name(),
        proxy: &proxy,
        recommended_proxy: rec.clone(),
        sample_set: set,
        samples: args.samples,
        threshold: args.flow.threshold,
        summary: super::nas::Summary::of(&rows),
        targets: &rows,
    };
    write_report(&args.out, &report, &matrix, &rows, &table, &acc, &args.flow.constraints)?;
    if args.json {
        return print_json(&report);
    }
    let mut t = TextTable::new(["target", "spearman", "action", "measured", "hv_ratio", "fastest", "mid", "most accurate"]);
    for r in &rows {
        let x = &r.result;
        let pick = |q: f64| {
            let c = &x.chosen;
            c.get(((c.len() - 1) as f64 * q).round() as usize)
                .map_or("-".into(), |p| format!("{:.2}% @{:.2}ms", p.accuracy, p.latency))
        };
        t.row([x.target.clone(), fmt3(x.spearman_samples), x.action.clone(), x.measurements.to_string(), format!("{:.4}", x.hv_ratio), pick(0.0), pick(0.5), pick(1.0)]);
    }
    let s = &report.summary;
    print(&format!(
        "oneproxy: space {space}, accuracy {}, proxy {proxy}{}, {} {set} samples per target\n\n{}\nmean hv_ratio {:.4} over {} targets; report written to {}/\n",
        acc.name(),
        rec.as_ref().filter(|r| r.device == proxy).map_or(String::new(), |r| format!(" (recommended: mean Spearman {:.3})", r.mean)),
        args.samples,
        t.render(),
        s.mean_hv_ratio,
        rows.len(),
        args.out.display()
    ))
}

/// Write the report folder next to its final place, then swap it in, so that a failure never
/// leaves a half-written report.
fn write_report(
    out: &Path,
    report: &Report,
    matrix: &oneproxy::stats::CorrelationMatrix,
    rows: &[super::nas::Row],
    table: &oneproxy::LatencyTable,
    acc: &oneproxy::AccuracyTable,
    constraints: &[f64],
) -> anyhow::Result<()> {
    // Built aside and swapped in whole; an existing folder is replaced only if oneproxy wrote it.
    // Dropping `dir` on an error removes the temporary folder.
    let dir = oneproxy::output::ReportDir::create(out).context("--out")?;
    let json = serde_json::to_vec_pretty(report)?;
    dir.write("report.json", &json)?;
    #[cfg(feature = "plot")]
    {
        oneproxy::plot::heatmap(matrix, "Spearman correlation of latencies", &dir.file("heatmap.svg")?)?;
        let space = table.space().space();
        for r in rows {
            let col = table.device_index(&r.result.target)?;
            let cands = target_candidates(table, col, acc);
            let all: Vec<(f64, f64)> =
                cands.iter().map(|a| (table.latency(a, col).unwrap_or(f64::NAN), acc.get(a).unwrap_or(f64::NAN))).collect();
            let lat: Vec<f64> = all.iter().map(|p| p.0).collect();
            let accs: Vec<f64> = all.iter().map(|p| p.1).collect();
            let front: Vec<(f64, f64)> = oneproxy::search::pareto_front(&lat, &accs)?.into_iter().map(|i| all[i]).collect();
            let chosen: Vec<(f64, f64)> = r.result.chosen.iter().map(|c| (c.latency, c.accuracy)).collect();
            let file = dir.file(&format!("pareto-{}.svg", sanitize(&r.result.target)))?;
            let title = format!("{}: {} (hv_ratio {:.4})", r.result.target, r.result.action, r.result.hv_ratio);
            oneproxy::plot::pareto(
                &file,
                &title,
                oneproxy::plot::Series { label: "all architectures", points: &all },
                oneproxy::plot::Series { label: "true Pareto front", points: &front },
                Some(oneproxy::plot::Series { label: "oneproxy's choice (measured)", points: &chosen }),
                constraints,
            )?;
            let _ = space;
        }
    }
    #[cfg(not(feature = "plot"))]
    let _ = (matrix, rows, table, acc, constraints);
    dir.commit().context("--out")?;
    Ok(())
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}
