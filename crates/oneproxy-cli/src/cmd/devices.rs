//! `oneproxy devices`: which devices a space has, how many architectures each measured.

use crate::args::DevicesArgs;
use crate::report::{print, print_json, TextTable};
use oneproxy::data::Warning;
use oneproxy::{Manifest, SpaceId};
use serde::Serialize;

#[derive(Serialize)]
struct DeviceRow {
    name: String,
    archs_measured: usize,
    source: String,
    /// Latencies from a simulator or estimator, not a measurement (never a default proxy).
    simulated: bool,
}

#[derive(Serialize)]
struct Output<'a> {
    manifest: Manifest,
    space: String,
    architectures: usize,
    devices: Vec<DeviceRow>,
    warnings: &'a [Warning],
}

pub fn run(args: DevicesArgs) -> anyhow::Result<()> {
    let table = super::load_table(&args.data)?;
    let space: SpaceId = args.data.space()?;
    let devices: Vec<DeviceRow> = table
        .devices()
        .iter()
        .enumerate()
        .map(|(i, d)| DeviceRow {
            name: d.name.clone(),
            archs_measured: table.measured_count(i),
            source: d.source.to_string(),
            simulated: table.simulated(i),
        })
        .collect();
    if args.json {
        return print_json(&Output {
            manifest: Manifest::new(space, None, table.inputs().to_vec()),
            space: space.name().into(),
            architectures: table.len(),
            devices,
            warnings: table.warnings(),
        });
    }
    let mut t = TextTable::new(["device", "archs", "source"]);
    for d in &devices {
        let source = if d.simulated { format!("{} (simulated, not measured)", d.source) } else { d.source.clone() };
        t.row([d.name.clone(), d.archs_measured.to_string(), source]);
    }
    print(&format!("space {space}: {} architectures, {} devices\n\n{}", table.len(), devices.len(), t.render()))
}
