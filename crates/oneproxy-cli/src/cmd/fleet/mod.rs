//! `oneproxy fleet`: real targets named in a fleet file, each measured through its own oracle
//! (the ones of `nas`), run as a fleet: every device the flow finishes joins the proxy pool of
//! the next ([`oneproxy::workflow::run_fleet`]).
//!
//! The `--out` folder is the fleet's: `devices/<name>/measurements.csv` keeps each device's
//! measurements as they arrive (read first, so that rerunning the same command resumes an
//! interrupted fleet without measuring anything twice), and `report/` is the report folder,
//! replaced whole at the end: an index page with who proxied whom, and each device's `nas`
//! files and page.

mod file;

use crate::args::{FleetArgs, ProxyArgs};
use crate::report::{print, print_json, TextTable};
use anyhow::Context;
use file::FleetFile;
use oneproxy::report::{FleetBody, FleetMember, NasBody, Report};
use oneproxy::workflow::{FleetConfig, FlowEvent, MeasurementLog, ProxySource, Recorded, Remeasure, TargetOracle};
use oneproxy::Manifest;

/// The report folder's name inside the fleet's folder.
const REPORT: &str = "report";

pub fn run(args: FleetArgs) -> anyhow::Result<()> {
    let file = FleetFile::read(&args.file)?;
    let s = &file.settings;
    let space = s.data.space()?;
    let mut data = s.data.clone();
    data.latency.extend(file.devices.iter().flat_map(|d| d.latency.iter().cloned()));
    let table = super::load_table(&data)?;
    let acc = super::accuracy_table(space, &s.accuracy)?;
    // As `nas --manual`: a person fills one value per row, and every round is a request.
    let manual = file.devices.iter().any(|d| matches!(d.oracle.source, super::oracle::Source::Manual { .. }));
    let design = super::flow_design(&s.flow, manual)?;
    let samples = super::flow_sample_set(space, &s.sample_set, s.samples, design)?;
    let proxy = super::proxy_selection(&ProxyArgs { proxy: "auto".into(), pool: s.pool.clone() })?;
    let mut nas = super::nas_config(&s.flow, &s.options, proxy, samples, design, s.seed)?;
    nas.max_measurements = s.max_measurements;
    nas.max_failures = s.max_failures;
    nas.remeasure = match s.remeasure {
        Remeasure::Auto if manual => Remeasure::Never,
        r => r,
    };
    let config = FleetConfig { nas, concurrency: s.concurrency, join: s.join, join_regret: s.join_regret };
    config.check().with_context(|| args.file.display().to_string())?;
    let names: Vec<String> = file.devices.iter().map(|d| d.name.clone()).collect();
    // A device of the loaded data is measured through its oracle, never also a proxy column.
    let pool = table.without_devices(&names);
    let initial_pool = oneproxy::predictor::proxies::resolve_pool(&pool, &config.nas.proxy, "")
        .with_context(|| format!("{}: the initial pool", args.file.display()))?;

    let work = oneproxy::output::WorkDir::claim(&args.out, "fleet").context("--out")?;
    let report_path = work.path().join(REPORT);
    oneproxy::output::Outputs::new(false)
        .inputs(&data.latency)
        .inputs(s.accuracy.accuracy_file.iter())
        .input(&args.file)
        .check_folder(&report_path)
        .context("--out")?;
    let report_dir = oneproxy::output::ReportDir::create(&report_path).context("--out")?;

    let mut oracles = Vec::with_capacity(file.devices.len());
    let mut kinds = Vec::with_capacity(file.devices.len());
    let mut log_paths = Vec::with_capacity(file.devices.len());
    for d in &file.devices {
        let dir = work.path().join("devices").join(&d.name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join("measurements.csv");
        let log = MeasurementLog::open(&path, &d.name, space, "fleet")?;
        super::print_warnings(log.warnings());
        if log.measured() + log.failed() > 0 {
            note!("resuming '{}': {} measurements already in {}", d.name, log.measured(), path.display());
        }
        let (inner, kind) =
            d.oracle.build(&d.name, space, s.seed, &table).with_context(|| format!("device '{}'", d.name))?;
        oracles.push(Recorded::new(inner, log).with_context(|| path.display().to_string())?);
        kinds.push(kind);
        log_paths.push(path);
    }
    let events = |i: usize, e: FlowEvent| match &e {
        FlowEvent::Measured { .. } | FlowEvent::Remeasured { .. } => {}
        _ => note!("{}: {e}", names[i]),
    };
    let mut handles: Vec<&mut (dyn TargetOracle + Send)> =
        oracles.iter_mut().map(|o| o as &mut (dyn TargetOracle + Send)).collect();
    let outcome = oneproxy::workflow::run_fleet(&pool, &acc, &mut handles, &config, &events)
        .with_context(|| format!("the measurements so far are in {}", work.path().join("devices").display()))?;

    let mut inputs = table.inputs().to_vec();
    inputs.extend(acc.input().cloned());
    let manifest = Manifest::new(space, Some(s.seed), inputs);
    let mut members = Vec::with_capacity(outcome.devices.len());
    for ((device, kind), (path, oracle)) in outcome.devices.into_iter().zip(&kinds).zip(log_paths.iter().zip(&oracles))
    {
        let prefix = format!("{}.", oneproxy::report::html::name_part(&device.outcome.target));
        let body = NasBody {
            oracle: kind.to_string(),
            measurements_file: path.display().to_string(),
            outcome: device.outcome.clone(),
        };
        let page = Report::new(manifest.clone(), space, Some(acc.name()), body);
        super::nas::write_target(&report_dir, &prefix, &page, (&table, &acc), &oracle.log().to_csv(), args.figure)?;
        members.push(FleetMember {
            oracle: kind.to_string(),
            measurements_file: path.display().to_string(),
            page: format!("{prefix}report.html"),
            device,
        });
    }
    let body = FleetBody {
        fleet_file: args.file.display().to_string(),
        concurrency: config.concurrency,
        join: config.join,
        join_regret: config.join_regret,
        initial_pool,
        devices: members,
    };
    let report = Report::new(manifest, space, Some(acc.name()), body);
    report_dir.write("report.json", &serde_json::to_vec_pretty(&report)?)?;
    write_index(&report_dir, &report)?;
    let path = report_dir.commit()?;
    note!("wrote {}/", path.display());
    if args.json {
        return print_json(&report);
    }
    print(&render(&report.body))
}

/// The index page, with the fleet figure (feature `plot`).
fn write_index(dir: &oneproxy::output::ReportDir, report: &Report<FleetBody>) -> anyhow::Result<()> {
    #[cfg(feature = "plot")]
    {
        let bars: Vec<oneproxy::plot::FleetBar> = report
            .body
            .devices
            .iter()
            .map(|d| oneproxy::plot::FleetBar {
                name: &d.device.outcome.target,
                measurements: d.device.outcome.measurements,
                proxy: &d.device.outcome.proxy,
                member: match &d.device.proxy_source {
                    ProxySource::Fleet { arrival, .. } => Some(*arrival),
                    ProxySource::Pool => None,
                },
            })
            .collect();
        let title = format!("a fleet of {}: measurements by arrival, and who proxied whom", bars.len());
        let svg = oneproxy::plot::fleet_svg(&title, &bars);
        dir.write("fleet.svg", svg.as_bytes())?;
        let rows: Vec<(&str, oneproxy::workflow::Span)> =
            report.body.devices.iter().map(|d| (d.device.outcome.target.as_str(), d.device.span)).collect();
        let timeline =
            oneproxy::plot::timeline_svg(&format!("a fleet of {}: its life, device by device", rows.len()), &rows);
        dir.write("timeline.svg", timeline.as_bytes())?;
        let page =
            oneproxy::report::fleet::index_html(report, Some(("fleet.svg", &svg)), Some(("timeline.svg", &timeline)));
        dir.write("report.html", page.as_bytes())?;
    }
    #[cfg(not(feature = "plot"))]
    dir.write("report.html", oneproxy::report::fleet::index_html(report, None, None).as_bytes())?;
    Ok(())
}

/// The fleet for people: one row per device in arrival order.
fn render(b: &FleetBody) -> String {
    let mut t = TextTable::new(["arrival", "device", "oracle", "proxy", "decision", "measured", "front"]);
    for d in &b.devices {
        let o = &d.device.outcome;
        let proxy = match &d.device.proxy_source {
            ProxySource::Fleet { arrival, .. } => format!("{} (fleet, #{arrival})", o.proxy),
            ProxySource::Pool => o.proxy.clone(),
        };
        t.row([
            d.device.arrival.to_string(),
            o.target.clone(),
            d.oracle.clone(),
            proxy,
            o.decision.name().to_string(),
            o.measurements.to_string(),
            o.chosen.len().to_string(),
        ]);
    }
    let total: usize = b.devices.iter().map(|d| d.device.outcome.measurements).sum();
    format!(
        "a fleet of {} devices, {} at a time{}; initial pool: {}\n\n{}\n{total} measurements in all\n",
        b.devices.len(),
        b.concurrency,
        joining(b),
        b.initial_pool.join(", "),
        t.render()
    )
}

/// How the fleet's devices joined, in words.
fn joining(b: &FleetBody) -> String {
    match (b.join, b.join_regret) {
        (false, _) => ", nobody joining the pool".into(),
        (true, None) => ", each joining the pool of the next when it ends".into(),
        (true, Some(r)) => {
            format!(", each joining the pool of the next when it ends or once confident within {r} points")
        }
    }
}
