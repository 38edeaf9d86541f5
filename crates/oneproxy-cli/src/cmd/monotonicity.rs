//! `oneproxy monotonicity`: the device correlation matrix and the recommended proxy.

use crate::args::MonotonicityArgs;
use crate::report::{print, print_json, TextTable};
use oneproxy::data::Warning;
use oneproxy::predictor::{recommend_default, DefaultProxy};
use oneproxy::stats::{correlation_matrix_with, Correlation, CorrelationMatrix};
use oneproxy::{Manifest, SpaceId};
use serde::Serialize;

#[derive(Serialize)]
struct Output<'a> {
    manifest: Manifest,
    space: &'a str,
    metric: &'a str,
    devices: &'a [String],
    /// Numbers, or a reason in words where undefined.
    matrix: Vec<Vec<Correlation>>,
    /// Architectures measured on both devices of each pair.
    overlaps: &'a [Vec<usize>],
    min_overlap: usize,
    /// The proxy every front end recommends, with the criterion that chose it.
    recommended_proxy: Option<DefaultProxy>,
    /// Devices sharing too few architectures with every other one to be compared at all.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    not_comparable: Vec<String>,
    warnings: &'a [Warning],
}

pub fn run(args: MonotonicityArgs) -> anyhow::Result<()> {
    let outputs = oneproxy::output::Outputs::new(args.force).inputs(&args.data.latency);
    if let Some(path) = &args.plot {
        anyhow::Context::context(outputs.check(path), "--plot")?;
    }
    let table = super::load_table(&args.data)?;
    let space: SpaceId = args.data.space()?;
    let m = correlation_matrix_with(&table, &args.devices, args.metric, args.min_overlap)?;
    let rec = recommend_default(&m, space, &[]);
    if let Some(path) = &args.plot {
        let figure = (args.heatmap_order, args.heatmap_scale);
        plot(&m, space, rec.as_ref().map(|r| r.device.as_str()), figure, path, &outputs)?;
    }
    if args.json {
        return print_json(&Output {
            manifest: Manifest::new(space, None, table.inputs().to_vec()),
            space: space.name(),
            metric: m.metric.name(),
            devices: &m.devices,
            matrix: m.cells(),
            overlaps: &m.overlaps,
            min_overlap: m.min_overlap,
            recommended_proxy: rec,
            not_comparable: m.unrankable(),
            warnings: table.warnings(),
        });
    }
    print(&render(&m, space, rec.as_ref()))
}

fn render(m: &CorrelationMatrix, space: SpaceId, rec: Option<&DefaultProxy>) -> String {
    // Columns are numbered to keep the table narrow; the numbers refer to the rows. A cell over
    // fewer architectures than the best-measured device has gets its overlap in brackets, so the
    // common case (full tables) stays a plain grid of correlations.
    let full = (0..m.devices.len()).map(|i| m.overlaps[i][i]).max().unwrap_or(0);
    let mut header = vec!["device".to_string(), "archs".to_string()];
    header.extend((1..=m.devices.len()).map(|i| format!("{i:>2}")));
    let mut t = TextTable::new(header);
    for (i, d) in m.devices.iter().enumerate() {
        let mut row = vec![format!("{:>2} {d}", i + 1), m.overlaps[i][i].to_string()];
        row.extend((0..m.devices.len()).map(|j| {
            let v = m.matrix[i][j];
            let value = if v.is_finite() { format!("{v:.2}") } else { "-".into() };
            let k = m.overlaps[i][j];
            if i != j && k < full {
                format!("{value} [{k}]")
            } else {
                value
            }
        }));
        t.row(row);
    }
    let mut out = format!(
        "{} correlation of latencies, space {space}\n\
         [n]: architectures measured on both, where fewer than {full}; '-': undefined (fewer than {} in common, or constant)\n\n{}",
        m.metric.name(),
        m.min_overlap,
        t.render()
    );
    let unrankable = m.unrankable();
    if !unrankable.is_empty() {
        out.push_str(&format!(
            "\nnot comparable (fewer than {} architectures in common with every other device): {}\n",
            m.min_overlap,
            unrankable.join(", ")
        ));
    }
    match rec {
        Some(r) => out.push_str(&format!("\nrecommended proxy: {} ({})\n", r.device, r.describe())),
        None if m.devices.len() > 1 => out.push_str("\nno recommended proxy: no correlation is defined\n"),
        None => {}
    }
    out
}

#[cfg(feature = "plot")]
fn plot(
    m: &CorrelationMatrix,
    space: SpaceId,
    proxy: Option<&str>,
    (order, scale): (crate::args::HeatmapOrderArg, crate::args::HeatmapScaleArg),
    path: &std::path::Path,
    outputs: &oneproxy::output::Outputs,
) -> anyhow::Result<()> {
    let name = m.metric.name();
    let title = format!("{}{} correlation of latencies ({space})", name[..1].to_uppercase(), &name[1..]);
    let (m, note) = super::heatmap_order(m, order);
    let style = oneproxy::plot::HeatmapStyle {
        title: &title,
        highlight: proxy,
        note: Some(note),
        scale: super::heatmap_scale(scale),
    };
    oneproxy::plot::heatmap(&m, &style, path, outputs)?;
    note!("wrote {}", path.display());
    Ok(())
}

#[cfg(not(feature = "plot"))]
fn plot(
    _: &CorrelationMatrix,
    _: SpaceId,
    _: Option<&str>,
    _: (crate::args::HeatmapOrderArg, crate::args::HeatmapScaleArg),
    _: &std::path::Path,
    _: &oneproxy::output::Outputs,
) -> anyhow::Result<()> {
    anyhow::bail!("this oneproxy was built without the `plot` feature")
}
