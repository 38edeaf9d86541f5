//! `oneproxy monotonicity`: the device correlation matrix and the recommended proxy.

use crate::args::MonotonicityArgs;
use crate::report::{fmt3, print, print_json, TextTable};
use oneproxy::stats::{correlation_matrix, CorrelationMatrix, ProxyRecommendation};
use oneproxy::{Manifest, SpaceId};
use serde::Serialize;

#[derive(Serialize)]
struct Output<'a> {
    manifest: Manifest,
    space: &'a str,
    metric: &'a str,
    devices: &'a [String],
    matrix: &'a [Vec<f64>],
    pairs_measured: &'a [Vec<usize>],
    recommended_proxy: Option<ProxyRecommendation>,
}

pub fn run(args: MonotonicityArgs) -> anyhow::Result<()> {
    let table = super::load_table(&args.data)?;
    let space: SpaceId = args.data.space.into();
    let m = correlation_matrix(&table, &args.devices, args.metric.into())?;
    let rec = m.recommended_proxy();
    if let Some(path) = &args.plot {
        plot(&m, space, path)?;
    }
    if args.json {
        return print_json(&Output {
            manifest: Manifest::new(space, None, table.inputs().to_vec()),
            space: space.name(),
            metric: m.metric.name(),
            devices: &m.devices,
            matrix: &m.matrix,
            pairs_measured: &m.pairs_measured,
            recommended_proxy: rec,
        });
    }
    print(&render(&m, space, rec.as_ref()))
}

fn render(m: &CorrelationMatrix, space: SpaceId, rec: Option<&ProxyRecommendation>) -> String {
    // Columns are numbered to keep the table narrow; the numbers refer to the rows.
    let mut header = vec!["device".to_string()];
    header.extend((1..=m.devices.len()).map(|i| format!("{i:>2}")));
    let mut t = TextTable::new(header);
    for (i, d) in m.devices.iter().enumerate() {
        let mut row = vec![format!("{:>2} {d}", i + 1)];
        row.extend(m.matrix[i].iter().map(|&v| if v.is_finite() { format!("{:.2}", v) } else { "-".into() }));
        t.row(row);
    }
    let mut out = format!("{} correlation of latencies, space {space}\n\n{}", m.metric.name(), t.render());
    if let Some(r) = rec {
        out.push_str(&format!(
            "\nrecommended proxy: {} (mean {} and min {} to the other devices)\n",
            r.device,
            fmt3(r.mean),
            fmt3(r.min)
        ));
    }
    out
}

#[cfg(feature = "plot")]
fn plot(m: &CorrelationMatrix, space: SpaceId, path: &std::path::Path) -> anyhow::Result<()> {
    let title = format!("{} correlation of latencies ({space})", m.metric.name());
    oneproxy::plot::heatmap(m, &title, path)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

#[cfg(not(feature = "plot"))]
fn plot(_: &CorrelationMatrix, _: SpaceId, _: &std::path::Path) -> anyhow::Result<()> {
    anyhow::bail!("this oneproxy was built without the `plot` feature")
}
