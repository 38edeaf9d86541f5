//! One module per subcommand. Each turns its arguments into library calls and renders the result.

mod adapt;
mod devices;
mod evaluate;
mod export;
mod fleet;
mod measure;
mod monotonicity;
pub mod nas;
mod oracle;
mod plan;
mod predict;
mod run;
mod search;

use crate::args::{AdaptOptions, Cli, Command, DataArgs, EvaluateCommand, FlowArgs, ProxyArgs};
use anyhow::{bail, Context};
use oneproxy::predictor::{AdaptParams, Combination, LambdaChoice, ProxySelection, Validation};
use oneproxy::workflow::{Design, NasConfig, SampleSet};
use oneproxy::{Arch, LatencyTable, SearchSpace, SpaceId};
use std::path::Path;

pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Devices(a) => devices::run(a),
        Command::Monotonicity(a) => monotonicity::run(a),
        Command::Adapt(a) => adapt::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Evaluate(EvaluateCommand::Adapt(a)) => evaluate::run_adapt(a),
        Command::Evaluate(EvaluateCommand::Nas(a)) => evaluate::run_nas(a),
        Command::Evaluate(EvaluateCommand::Fleet(a)) => evaluate::run_fleet(a),
        Command::Nas(a) => nas::run(*a),
        Command::Search(a) => search::run(a),
        Command::Run(a) => run::run(a),
        Command::Export(a) => export::run(a),
        Command::Measure(a) => measure::run(a),
        Command::Fleet(a) => fleet::run(a),
    }
}

/// The execution that `--prune-dead` asks for, refused (naming the flag and the space) where the
/// space has nothing to prune.
pub fn execution(prune_dead: bool, space: SpaceId) -> anyhow::Result<oneproxy::network::Execution> {
    use oneproxy::network::Execution;
    let exec = if prune_dead { Execution::PruneDead } else { Execution::AsWritten };
    space.check_execution(exec).context("--prune-dead")?;
    Ok(exec)
}

/// The model builder of the builder flags: the user's command (its private folders in `dir`,
/// else in the system's temporary folder), or oneproxy's export of the space's network, refused
/// for a space that has none.
#[cfg(feature = "onnx")]
pub fn model_builder(
    b: &crate::args::BuilderArgs,
    space: SpaceId,
    seed: u64,
    exec: oneproxy::network::Execution,
    dir: Option<&std::path::Path>,
) -> anyhow::Result<Box<dyn oneproxy::measure::builder::ModelBuilder>> {
    let command = match &b.builder_cmd {
        None => None,
        Some(cmd) => {
            let limit = measure::seconds(b.builder_timeout, "--builder-timeout")?;
            let c = oneproxy::measure::builder::CommandBuilder::new(cmd, space)?.timeout(limit)?;
            Some(match dir {
                Some(d) => c.in_dir(d),
                None => c,
            })
        }
    };
    Ok(oneproxy::measure::builder::model_builder(space, command, seed, exec)?)
}

/// The bundled table of the space plus the user's `--latency` files; their plausibility
/// warnings go to stderr.
pub fn load_table(data: &DataArgs) -> anyhow::Result<LatencyTable> {
    let space = data.space()?;
    let table = LatencyTable::bundled_with(space, &data.latency)
        .with_context(|| format!("loading latency data for space {space}"))?;
    print_warnings(table.warnings());
    if table.devices().is_empty() && data.space_file.is_some() {
        bail!("space {space} (declared in a space file) has no bundled data: pass its latencies with --latency");
    }
    if table.devices().is_empty() {
        bail!(
            "space {space} has no bundled latency data: measure architectures with `oneproxy measure --space {space}` \
             (or another runtime) and pass the CSV with --latency"
        );
    }
    Ok(table)
}

/// Library parameters from the adaptation flags; `combination` unless `--combine` says.
pub fn adapt_params(o: &AdaptOptions, combination: Combination) -> anyhow::Result<AdaptParams> {
    let defaults = AdaptParams::default();
    let lambda = match o.lambda.as_deref() {
        None | Some("auto") => defaults.lambda,
        Some(text) => {
            let v: f64 = text
                .parse()
                .ok()
                .filter(|v: &f64| *v >= 0.0 && v.is_finite())
                .with_context(|| format!("--lambda must be 'auto' or a number >= 0, got '{text}'"))?;
            LambdaChoice::Fixed(v)
        }
    };
    let validation = match o.folds {
        None => defaults.validation,
        Some(0) => Validation::LeaveOneOut,
        Some(k) => Validation::KFold(k),
    };
    let combination = o.combine.unwrap_or(combination);
    Ok(AdaptParams { penalty: o.norm, form: o.form, lambda, validation, ensemble: o.ensemble, combination })
}

/// The accuracy table named by `--accuracy` / `--accuracy-file` (default: cifar100).
pub fn accuracy_table(space: SpaceId, a: &crate::args::AccuracyArgs) -> anyhow::Result<oneproxy::AccuracyTable> {
    use oneproxy::data::AccuracySource;
    let source = match &a.accuracy_file {
        Some(f) => AccuracySource::File(f.clone()),
        None => a.accuracy.clone().map_or_else(AccuracySource::default, AccuracySource::Bundled),
    };
    let table = source.load(space).map_err(|e| match (&source, e) {
        (AccuracySource::Bundled(_), oneproxy::Error::InvalidParameter(m)) if m.contains("no bundled accuracies") => {
            anyhow::anyhow!(
                "space {space} has no bundled accuracies; give --accuracy-file FILE (columns arch,accuracy)"
            )
        }
        (_, e) => e.into(),
    })?;
    print_warnings(table.warnings());
    Ok(table)
}

/// The proxy selection of `--proxy` and `--pool`.
pub fn proxy_selection(p: &ProxyArgs) -> anyhow::Result<ProxySelection> {
    if p.proxy == "auto" {
        Ok(ProxySelection::Auto { pool: (!p.pool.is_empty()).then(|| p.pool.clone()) })
    } else {
        if !p.pool.is_empty() {
            bail!("--pool only applies with --proxy auto");
        }
        Ok(ProxySelection::Device(p.proxy.clone()))
    }
}

/// The sample set of `--sample-set` with `k` samples.
pub fn sample_set(space: SpaceId, set: &str, k: usize) -> anyhow::Result<SampleSet> {
    Ok(SampleSet::named(set, k, space)?)
}

/// The flow's design from its flags; `by_hand` when a person fills every request, whose
/// sequential rounds are then [`Design::BY_HAND`]'s unless the flags say otherwise.
pub fn flow_design(flow: &FlowArgs, by_hand: bool) -> anyhow::Result<Design> {
    let (batch, stop) = match (by_hand, Design::BY_HAND) {
        (true, Design::Sequential { batch, stop }) => (flow.round_size.or(Some(batch)), flow.stop.or(Some(stop))),
        _ => (flow.round_size, flow.stop),
    };
    Ok(Design::named(&flow.design, batch, stop)?)
}

/// The flow's sample set of `--sample-set` with `k` samples, or as many as `design` starts
/// with by default ([`Design::default_samples`]).
pub fn flow_sample_set(space: SpaceId, set: &str, k: Option<usize>, design: Design) -> anyhow::Result<SampleSet> {
    sample_set(space, set, k.unwrap_or(design.default_samples()))
}

/// Settings of the one-proxy NAS flow from its flags.
pub fn nas_config(
    flow: &FlowArgs,
    options: &AdaptOptions,
    proxy: ProxySelection,
    samples: SampleSet,
    design: Design,
    seed: u64,
) -> anyhow::Result<NasConfig> {
    let config = NasConfig {
        proxy,
        samples,
        threshold: flow.threshold,
        max_samples: flow.max_samples,
        max_measurements: None,
        layers: flow.layers,
        constraints: flow.constraints.clone(),
        adapt: adapt_params(options, NasConfig::default().adapt.combination)?,
        seed,
        design,
        reuse: !flow.always_adapt,
        max_failures: NasConfig::default().max_failures,
        remeasure: NasConfig::default().remeasure,
        stop_regret: flow.stop_regret,
        confident_at: None,
        min_checks: flow.min_checks,
    };
    config.check()?;
    Ok(config)
}

/// Read a CSV with an `arch` column (other columns ignored).
pub fn read_arch_list(path: &Path, space: &dyn SearchSpace) -> anyhow::Result<Vec<Arch>> {
    let bytes = oneproxy::data::input::read(path)?;
    let lines = oneproxy::data::LineIndex::new(&bytes);
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(bytes.as_slice());
    let header = reader.headers().with_context(|| format!("{}: reading the header", path.display()))?.clone();
    let col =
        header.iter().position(|h| h == "arch").with_context(|| format!("{}: no 'arch' column", path.display()))?;
    let mut out = Vec::new();
    for rec in reader.records() {
        let rec = rec.with_context(|| format!("{}: malformed CSV", path.display()))?;
        out.push(space.parse_at(&rec[col], oneproxy::error::Origin::File { path: path.into(), line: lines.of(&rec) })?);
    }
    if out.is_empty() {
        bail!("{}: no architectures", path.display());
    }
    Ok(out)
}

/// Plausibility warnings of loaded data, one line each on stderr.
pub fn print_warnings(warnings: &[oneproxy::data::Warning]) {
    for w in warnings {
        note!("warning: {w}");
    }
}

/// A latency CSV in the user format, `arch,<device>` then one row per architecture, written by
/// the csv crate (so any architecture string is quoted as needed); `device` must pass
/// [`oneproxy::data::validate_device_name`], so that the file reads back.
pub fn latency_csv(device: &str, rows: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<String> {
    oneproxy::data::validate_device_name(device)?;
    let header = ["arch".to_string(), device.to_string()];
    Ok(oneproxy::data::csv_text(std::iter::once(header).chain(rows.into_iter().map(|(a, v)| [a, v]))))
}

/// A latency in ms with `decimals` decimals in the usual range (0.1 ms to 1e9 ms), and in
/// scientific notation outside it, so that no positive latency prints as 0.000.
pub fn fmt_latency(v: f64, decimals: usize) -> String {
    if (0.1..1e9).contains(&v) {
        format!("{v:.decimals$}")
    } else {
        format!("{v:.decimals$e}")
    }
}

/// Write text to a file (through `outputs`: atomically, never onto an input or over a file
/// oneproxy did not write) or to stdout.
pub fn emit(text: &str, out: Option<&Path>, outputs: &oneproxy::output::Outputs) -> anyhow::Result<()> {
    match out {
        Some(p) => {
            outputs.write(p, text.as_bytes())?;
            note!("wrote {}", p.display());
            Ok(())
        }
        None => crate::report::print(text),
    }
}

/// Draw a Pareto plot (feature `plot`).
#[cfg(feature = "plot")]
fn plot_pareto(
    path: &Path,
    title: &str,
    points: &[impl PointLike],
    front: &[impl PointLike],
    picks: &[(f64, Option<(f64, f64)>)],
    figure: crate::args::FigureArgs,
    outputs: &oneproxy::output::Outputs,
) -> anyhow::Result<()> {
    use oneproxy::plot::{pareto, Constraint, ParetoPlot, Series};
    let all: Vec<(f64, f64)> = points.iter().map(|p| p.xy()).collect();
    let fr: Vec<(f64, f64)> = front.iter().map(|p| p.xy()).collect();
    let constraints: Vec<Constraint> = picks.iter().map(|&(ms, pick)| Constraint { ms, pick }).collect();
    pareto(
        path,
        &ParetoPlot {
            title,
            cloud: Series { label: "evaluated architectures", points: &all },
            front: Some(Series { label: "Pareto front", points: &fr }),
            predicted: None,
            chosen: None,
            constraints: &constraints,
            budgets: (&[], ""),
            latency_axis: latency_axis(figure.log_latency),
            spreads: &[],
        },
        outputs,
    )?;
    note!("wrote {}", path.display());
    Ok(())
}

#[cfg(not(feature = "plot"))]
fn plot_pareto(
    _: &Path,
    _: &str,
    _: &[impl PointLike],
    _: &[impl PointLike],
    _: &[(f64, Option<(f64, f64)>)],
    _: crate::args::FigureArgs,
    _: &oneproxy::output::Outputs,
) -> anyhow::Result<()> {
    anyhow::bail!("this oneproxy was built without the `plot` feature")
}

/// The plot library's latency axis for the command-line choice.
#[cfg(feature = "plot")]
pub fn latency_axis(a: crate::args::LogLatencyArg) -> oneproxy::plot::AxisScale {
    use crate::args::LogLatencyArg;
    match a {
        LogLatencyArg::Auto => oneproxy::plot::AxisScale::Auto,
        LogLatencyArg::On => oneproxy::plot::AxisScale::Log,
        LogLatencyArg::Off => oneproxy::plot::AxisScale::Linear,
    }
}

/// The latency a proxy device measured for an architecture (by its canonical string), where the
/// table has it: the front CSVs' `proxy_latency_ms`.
pub fn proxy_latency<'t>(table: &'t oneproxy::LatencyTable, proxy: &str) -> impl Fn(&str) -> Option<f64> + 't {
    let col = table.device_index(proxy).ok();
    let space = table.space().space();
    move |arch| table.latency(&space.parse(arch).ok()?, col?)
}

/// The plot library's heatmap scale for the command-line choice.
#[cfg(feature = "plot")]
pub fn heatmap_scale(a: crate::args::HeatmapScaleArg) -> oneproxy::plot::HeatmapScale {
    match a {
        crate::args::HeatmapScaleArg::Data => oneproxy::plot::HeatmapScale::Data,
        crate::args::HeatmapScaleArg::Full => oneproxy::plot::HeatmapScale::Full,
    }
}

/// A heatmap's matrix in the chosen device order, and a note saying which order it is.
pub fn heatmap_order(
    m: &oneproxy::stats::CorrelationMatrix,
    order: crate::args::HeatmapOrderArg,
) -> (oneproxy::stats::CorrelationMatrix, &'static str) {
    match order {
        crate::args::HeatmapOrderArg::Cluster => {
            (m.clustered(), "devices ordered by hierarchical clustering (average linkage on 1 − ρ)")
        }
        crate::args::HeatmapOrderArg::Alpha => (m.alphabetical(), "devices in alphabetical order"),
    }
}

/// Something with a (latency, accuracy) position.
pub trait PointLike {
    /// (latency, accuracy).
    fn xy(&self) -> (f64, f64);
}
